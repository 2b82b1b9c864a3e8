#pragma once
// Where the pipeline's missed calls go (app/src/pipeline.h): the local notification service
// (merge windows, channels, delivery: local_notifier.h) or the scale-out probe's Redis stream
// (StreamPublisherSink below). Single-threaded: replay calls it on its one thread, `mcn run` on
// its notifier thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "mcn/calls/call_record.h"
#include "mcn/notifier/clock.h"

namespace mcn::notifier {

class MissedCallSink {
 public:
  virtual ~MissedCallSink() = default;
  // One missed call, decided at `now_us` on the pipeline's clock (packet time in replay).
  virtual void onMissedCall(const calls::MissedCall& call, int64_t now_us) = 0;
  // The pipeline's clock moved: close due windows, drive sends without waiting.
  virtual void advanceTo(int64_t now_us) = 0;
  // Live mode: drive network work, waiting on its sockets at most max_wait_ms.
  virtual void poll(int max_wait_ms) = 0;
  // Notifications (or calls) held, waiting or in flight.
  virtual size_t pending() const = 0;
  // Nothing pending and no timer open: a clock re-anchoring cannot fire or hold anything.
  virtual bool idle() const = 0;
  // End of input or shutdown: send everything held, waiting at most deadline_ms of wall time.
  // False if something was left (dead-lettered, or left in the buffer).
  virtual bool finish(int64_t now_us, int64_t deadline_ms) = 0;
  virtual void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const = 0;
};

class StreamPublisher;

// The scale-out probe's sink: every missed call is published to <prefix>:missed. Never waits on
// Redis: calls are buffered (bounded) and sent in batches of 256, or at once when poll() runs
// (the live notifier thread polls every turn); while Redis is away a send is only tried when
// the reconnect backoff allows.
class StreamPublisherSink final : public MissedCallSink {
 public:
  // Called when Redis becomes unreachable with calls waiting (down = true, the error) and when
  // it is reachable again (down = false).
  using StateHook = std::function<void(bool down, std::string_view error)>;

  // `wall`: the clock finish() measures its deadline on (the publisher's).
  StreamPublisherSink(StreamPublisher& publisher, const Clock& wall, StateHook hook = nullptr);

  void onMissedCall(const calls::MissedCall& call, int64_t now_us) override;
  void advanceTo(int64_t) override {}
  void poll(int max_wait_ms) override;
  size_t pending() const override;
  bool idle() const override { return pending() == 0; }
  // Keeps resending until deadline_ms of wall time passed; false if calls were left unsent.
  bool finish(int64_t now_us, int64_t deadline_ms) override;
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const override;

 private:
  void noticeState();
  StreamPublisher& publisher_;
  const Clock& wall_;
  StateHook hook_;
  bool down_ = false;
};

}  // namespace mcn::notifier
