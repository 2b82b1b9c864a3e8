#include "mcn/notifier/stream_window_delivery.h"

#include <utility>
#include <vector>

namespace mcn::notifier {

StreamWindowDelivery::StreamWindowDelivery(LocalNotifier& stage, const Clock& clock)
    : stage_(stage), clock_(clock) {
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

void StreamWindowDelivery::onWindow(ClosedWindow&& w) {
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

void StreamWindowDelivery::stop() {
  stopping_ = true;
  stage_.setProducedHook(nullptr);
  stage_.setDeliveredHook(nullptr);
  stage_.setDeadLetterHook(
      [](const Notification&, std::string_view, std::string_view, int, int64_t) { return true; });
}

void StreamWindowDelivery::settle(const Notification& n) {
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

}  // namespace mcn::notifier
