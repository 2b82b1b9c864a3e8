#pragma once
// The scale-out notifier's delivery of windows taken from Redis (`mcn run --role notifier`):
// each closed window is rendered and delivered through the local notification service, and the
// stream acknowledges a window only once every notification it produced is confirmed or
// dead-lettered. Dead letters go to the <prefix>:dead stream (the local file while Redis is away
// long enough to fill its queue).

#include <deque>
#include <map>
#include <string>

#include "mcn/notifier/clock.h"
#include "mcn/notifier/local_notifier.h"
#include "mcn/notifier/stream_bus.h"

namespace mcn::notifier {

// Rendering and delivering closed windows, and the bookkeeping that lets the stream acknowledge
// a window only once every notification it produced is confirmed or dead-lettered. All
// notifications of one window share its idempotency key (person + Call-IDs), which is how the
// delivery callbacks find their window again.
class StreamWindowDelivery {
 public:
  StreamWindowDelivery(LocalNotifier& stage, StreamNotifier*& bus, const Clock& clock)
      : stage_(stage), bus_(bus), clock_(clock) {
    stage_.setProducedHook([this](const Notification& n) {
      if (current_.empty()) return;
      ++outstanding_[current_];
      by_key_[n.idempotency_key].push_back(current_);
    });
    stage_.setDeliveredHook([this](const Notification& n) { settle(n); });
    stage_.setDeadLetterHook([this](const Notification& n, std::string_view reason,
                                    std::string_view error, int attempts, int64_t at_us) {
      if (stopping_) return true;  // shutdown: left pending in Redis for another notifier
      // False while Redis has been away long enough to fill the queue: the local file takes it.
      const bool queued =
          bus_ != nullptr && bus_->deadLetter(deadLetterJson(n, reason, error, attempts, at_us));
      settle(n);
      return queued;
    });
  }

  void onWindow(ClosedWindow&& w) {
    current_ = w.entry_id;
    std::vector<std::pair<int64_t, calls::MissedCall>> arrivals;
    for (size_t i = 0; i < w.calls.size(); ++i) {
      arrivals.emplace_back(w.arrived_us[i], std::move(w.calls[i]));
    }
    stage_.renderWindow(arrivals, clock_.nowUs());
    current_.clear();
    // Nothing to send (every call filtered by the person's preferences): done now.
    if (outstanding_.find(w.entry_id) == outstanding_.end() && bus_ != nullptr) {
      bus_->windowDone(w.entry_id);
    }
  }

  // Shutdown: whatever the delivery engine still holds when it is destroyed stays pending in
  // Redis (another notifier takes it over), so its "shutdown" dead letters are dropped here;
  // the hooks no longer point at this object.
  void stop() {
    stopping_ = true;
    stage_.setProducedHook(nullptr);
    stage_.setDeliveredHook(nullptr);
    stage_.setDeadLetterHook(
        [](const Notification&, std::string_view, std::string_view, int, int64_t) { return true; });
  }

 private:
  void settle(const Notification& n) {
    auto it = by_key_.find(n.idempotency_key);
    if (it == by_key_.end() || it->second.empty()) return;
    std::string entry = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) by_key_.erase(it);
    auto o = outstanding_.find(entry);
    if (o == outstanding_.end()) return;
    if (--o->second == 0) {
      outstanding_.erase(o);
      if (bus_ != nullptr) bus_->windowDone(entry);
    }
  }

  LocalNotifier& stage_;
  StreamNotifier*& bus_;
  const Clock& clock_;
  std::string current_;
  std::map<std::string, size_t> outstanding_;              // entry id -> notifications left
  std::map<std::string, std::deque<std::string>> by_key_;  // idempotency key -> entry ids
  bool stopping_ = false;
};

}  // namespace mcn::notifier
