#include "mcn/notifier/missed_call_sink.h"

#include "mcn/notifier/stream_bus.h"

namespace mcn::notifier {

namespace {
constexpr size_t kBatch = 256;  // calls sent per round trip while Redis answers
}

StreamPublisherSink::StreamPublisherSink(StreamPublisher& publisher, const Clock& wall,
                                         StateHook hook)
    : publisher_(publisher), wall_(wall), hook_(std::move(hook)) {}

void StreamPublisherSink::onMissedCall(const calls::MissedCall& call, int64_t) {
  publisher_.publish(call);
  // Batches while Redis answers; while it is away, pump() only retries when the backoff allows,
  // so the data path does not wait on it.
  if (publisher_.buffered() >= kBatch || !publisher_.connected()) publisher_.pump();
  noticeState();
}

void StreamPublisherSink::poll(int) {
  publisher_.pump();  // at most one connect attempt per backoff step
  noticeState();
}

size_t StreamPublisherSink::pending() const { return publisher_.buffered(); }

bool StreamPublisherSink::finish(int64_t, int64_t deadline_ms) {
  return publisher_.flush(wall_.nowUs() + deadline_ms * 1000);
}

void StreamPublisherSink::forEachCounter(
    const std::function<void(std::string_view, uint64_t)>& fn) const {
  publisher_.forEachCounter(fn);
}

void StreamPublisherSink::noticeState() {
  const bool down = !publisher_.connected() && publisher_.buffered() > 0;
  if (down == down_) return;
  down_ = down;
  if (hook_) hook_(down, down ? std::string_view(publisher_.lastError()) : std::string_view());
}

}  // namespace mcn::notifier
