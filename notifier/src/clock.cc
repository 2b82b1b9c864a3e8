#include "mcn/notifier/clock.h"

#include <chrono>
#include <random>

namespace mcn::notifier {

namespace {

class SystemClock final : public Clock {
 public:
  int64_t nowUs() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Jitter only (backoff), not secrets: a seeded Mersenne Twister is enough. Not thread-safe; one
// per thread that needs one.
class SystemRandom final : public Random {
 public:
  SystemRandom() : gen_(seed()) {}
  uint64_t next() override { return gen_(); }

 private:
  static uint64_t seed() {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  }
  std::mt19937_64 gen_;
};

}  // namespace

std::unique_ptr<Clock> systemClock() { return std::make_unique<SystemClock>(); }
std::unique_ptr<Random> systemRandom() { return std::make_unique<SystemRandom>(); }

}  // namespace mcn::notifier
