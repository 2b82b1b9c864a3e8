#pragma once
// Time and randomness are injected so windows, quiet hours, retries and backoff are tested
// without sleeping (STYLE.md, Envoy habit).

#include <cstdint>
#include <memory>

namespace mcn::notifier {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t nowUs() const = 0;  // microseconds since the Unix epoch (UTC)
};

class Random {
 public:
  virtual ~Random() = default;
  virtual uint64_t next() = 0;  // uniformly distributed 64-bit value
};

std::unique_ptr<Clock> systemClock();
std::unique_ptr<Random> systemRandom();

// Tests and replay: time only moves when told to.
class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t now_us = 0) : now_us_(now_us) {}
  int64_t nowUs() const override { return now_us_; }
  void set(int64_t now_us) { now_us_ = now_us; }
  void advance(int64_t delta_us) { now_us_ += delta_us; }

 private:
  int64_t now_us_;
};

}  // namespace mcn::notifier
