#include "live_clock.h"

#include <time.h>

namespace mcn::app {
namespace {

int64_t read(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

class SystemTimeSource final : public TimeSource {
 public:
  int64_t wallUs() const override { return read(CLOCK_REALTIME); }
  int64_t monoUs() const override { return read(CLOCK_MONOTONIC); }
};

}  // namespace

const TimeSource& systemTimeSource() {
  static const SystemTimeSource source;
  return source;
}

LiveClock::LiveClock(const TimeSource& src, int64_t step_threshold_us)
    : src_(src), threshold_us_(step_threshold_us) {
  anchor();
}

void LiveClock::anchor() {
  anchor_mono_us_ = src_.monoUs();
  anchor_wall_us_ = src_.wallUs();
}

int64_t LiveClock::nowUs() const { return anchor_wall_us_ + (src_.monoUs() - anchor_mono_us_); }

int64_t LiveClock::wallStepUs() const {
  int64_t step = src_.wallUs() - nowUs();
  // Below the threshold it is slewing or jitter between the two reads: no correction, so packet
  // times are passed through untouched in the normal case.
  return (step > -threshold_us_ && step < threshold_us_) ? 0 : step;
}

int64_t LiveClock::fromWall(int64_t wall_us) const { return wall_us - wallStepUs(); }

bool LiveClock::reanchorIfIdle() {
  if (wallStepUs() == 0) return false;
  anchor();
  ++reanchors_;
  return true;
}

}  // namespace mcn::app
