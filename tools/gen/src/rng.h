#pragma once
// Deterministic randomness. std::mt19937_64's sequence is fixed by the standard, but the
// std::*_distribution algorithms are not (libstdc++ and libc++ differ), so the few distributions
// the generator needs are written here: same seed -> same bytes on every platform.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace mcn::gen {

class Rng {
 public:
  explicit Rng(uint64_t seed) : eng_(seed) {}

  uint64_t next() { return eng_(); }

  // Uniform in [0, n) (n > 0). Lemire's multiply-shift; the tiny bias is irrelevant here and it
  // is the same everywhere.
  uint64_t below(uint64_t n) {
    __extension__ using U128 = unsigned __int128;
    return static_cast<uint64_t>((static_cast<U128>(eng_()) * n) >> 64);
  }
  // Uniform in [lo, hi] (inclusive).
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo + 1)));
  }
  // True with probability p (0..1), resolution 2^-53.
  bool chance(double p) { return static_cast<double>(eng_() >> 11) * 0x1.0p-53 < p; }
  // n lowercase hex digits.
  std::string hex(int n) {
    std::string s;
    appendHex(s, n);
    return s;
  }
  void appendHex(std::string& s, int n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    uint64_t bits = 0;
    int left = 0;
    for (int i = 0; i < n; ++i) {
      if (left == 0) {
        bits = eng_();
        left = 16;
      }
      s.push_back(kDigits[bits & 15]);
      bits >>= 4;
      --left;
    }
  }

 private:
  std::mt19937_64 eng_;
};

// FNV-1a, to derive a per-scenario seed from its name.
inline uint64_t hashName(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace mcn::gen
