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
  // Takes over the notifier's produced, delivered and dead-letter hooks.
  StreamWindowDelivery(LocalNotifier& stage, const Clock& clock);
  // The stream the windows come from (constructed after this, with onWindow as its handler).
  void attach(StreamNotifier& bus) { bus_ = &bus; }

  void onWindow(ClosedWindow&& w);
  // Shutdown: whatever the delivery engine still holds when it is destroyed stays pending in
  // Redis (another notifier takes it over), so its "shutdown" dead letters are dropped here;
  // the hooks no longer point at this object.
  void stop();

 private:
  void settle(const Notification& n);

  LocalNotifier& stage_;
  const Clock& clock_;
  StreamNotifier* bus_ = nullptr;
  std::string current_;
  std::map<std::string, size_t> outstanding_;              // entry id -> notifications left
  std::map<std::string, std::deque<std::string>> by_key_;  // idempotency key -> entry ids
  bool stopping_ = false;
};

}  // namespace mcn::notifier
