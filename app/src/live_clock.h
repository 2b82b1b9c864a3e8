#pragma once
// The live daemon's time line. Packet timestamps are the kernel's receive time (CLOCK_REALTIME,
// wall time), but timers must not follow the wall clock: an NTP step or a VM resume that moves it
// by an hour would fire every ring timeout and merge window at once (forward) or hold them for an
// hour (backward). So each live thread reads a LiveClock:
//
//   now = wall time at the anchor + CLOCK_MONOTONIC elapsed since the anchor
//
// which never jumps, and it converts each packet timestamp onto the same line (fromWall: minus
// the step measured since the anchor), so a call's deadlines and the clock that fires them stay
// consistent across a step. Re-anchoring (taking the stepped wall time as the truth again, so
// record times and webhook timestamps are right) is done only when the caller has no timer
// pending (no open call, no open window, nothing to deliver): then the jump cannot fire or delay
// anything. Single-threaded: one per thread.

#include <cstdint>

#include "mcn/notifier/clock.h"

namespace mcn::app {

// The seam: wall and monotonic clocks, both in microseconds.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual int64_t wallUs() const = 0;  // CLOCK_REALTIME, since the Unix epoch
  virtual int64_t monoUs() const = 0;  // CLOCK_MONOTONIC, arbitrary origin
};

const TimeSource& systemTimeSource();

class LiveClock final : public notifier::Clock {
 public:
  // A step smaller than `step_threshold_us` is ordinary NTP slewing or scheduling jitter and is
  // left alone.
  explicit LiveClock(const TimeSource& src = systemTimeSource(),
                     int64_t step_threshold_us = 1'000'000);

  int64_t nowUs() const override;  // anchored wall time; moves only with the monotonic clock
  // How far the wall clock has moved away from nowUs() since the anchor (0 without a step).
  int64_t wallStepUs() const;
  // A kernel (wall) timestamp on this clock's line. Without a step it is returned unchanged.
  int64_t fromWall(int64_t wall_us) const;
  // Call only when nothing is pending: if the wall clock stepped by more than the threshold,
  // re-anchor on it and return true (counted in reanchors()).
  bool reanchorIfIdle();
  uint64_t reanchors() const { return reanchors_; }

 private:
  void anchor();
  const TimeSource& src_;
  int64_t threshold_us_;
  int64_t anchor_wall_us_ = 0;
  int64_t anchor_mono_us_ = 0;
  uint64_t reanchors_ = 0;
};

}  // namespace mcn::app
