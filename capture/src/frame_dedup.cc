#include "frame_dedup.h"

#include <algorithm>
#include <bit>

namespace mcn::capture::detail {

namespace {

constexpr uint64_t kS0 = 0xa0761d6478bd642full;
constexpr uint64_t kS1 = 0xe7037ed1a0b428dbull;
constexpr uint64_t kS2 = 0x8ebc6af09c88c6e3ull;
constexpr uint64_t kS3 = 0x589965cc75374cc3ull;

inline uint64_t r8(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t r4(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Separate the two families, so an IPv4 and an IPv6 packet never share a digest by construction.
constexpr uint64_t kSeedV4 = 0x3a6f1c2d5e8b9a07ull;
constexpr uint64_t kSeedV6 = 0x91c4e7b2d3f5a608ull;

}  // namespace

uint64_t hashBytes(const uint8_t* p, size_t len, uint64_t seed) {
  seed ^= hashMix(seed ^ kS0, kS1);
  uint64_t a = 0;
  uint64_t b = 0;
  if (len <= 16) {
    if (len >= 4) {
      const size_t mid = (len >> 3) << 2;
      a = (r4(p) << 32) | r4(p + mid);
      b = (r4(p + len - 4) << 32) | r4(p + len - 4 - mid);
    } else if (len > 0) {
      a = (uint64_t{p[0]} << 16) | (uint64_t{p[len >> 1]} << 8) | p[len - 1];
    }
  } else {
    size_t i = len;
    if (i > 48) {
      // Three independent lanes of 16 bytes (as wyhash does): the multiplies overlap in the
      // pipeline instead of each waiting for the last, ~2.5x faster on a 500-byte SIP packet.
      uint64_t see1 = seed;
      uint64_t see2 = seed;
      do {
        seed = hashMix(r8(p) ^ kS1, r8(p + 8) ^ seed);
        see1 = hashMix(r8(p + 16) ^ kS2, r8(p + 24) ^ see1);
        see2 = hashMix(r8(p + 32) ^ kS3, r8(p + 40) ^ see2);
        p += 48;
        i -= 48;
      } while (i > 48);
      seed ^= see1 ^ see2;
    }
    // One 128-bit multiply folds 16 bytes into the state.
    while (i > 16) {
      seed = hashMix(r8(p) ^ kS1, r8(p + 8) ^ seed);
      p += 16;
      i -= 16;
    }
    // The last 16 bytes (overlapping the previous block when len is not a multiple of 16).
    a = r8(p + i - 16);
    b = r8(p + i - 8);
  }
  a ^= kS1;
  b ^= seed;
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  a = static_cast<uint64_t>(r);
  b = static_cast<uint64_t>(r >> 64);
  return hashMix(a ^ kS0 ^ len, b ^ kS2);
}

uint64_t ipv4Digest(std::span<const uint8_t> p, size_t ihl) {
  // RFC 791 §3.1: total length, identification, flags + fragment offset, protocol, addresses.
  uint8_t h[15];
  std::memcpy(h, p.data() + 2, 6);
  h[6] = p[9];
  std::memcpy(h + 7, p.data() + 12, 8);
  uint64_t seed = hashBytes(h, sizeof h, kSeedV4);
  return hashBytes(p.data() + ihl, p.size() - ihl, seed);
}

uint64_t ipv6Digest(std::span<const uint8_t> p) {
  // RFC 8200 §3: payload length, next header, addresses; not the traffic class, flow label or
  // hop limit.
  uint8_t h[35];
  std::memcpy(h, p.data() + 4, 3);
  std::memcpy(h + 3, p.data() + 8, 32);
  uint64_t seed = hashBytes(h, sizeof h, kSeedV6);
  return hashBytes(p.data() + 40, p.size() - 40, seed);
}

FrameDedup::FrameDedup(int64_t window_us, size_t sets) : window_us_(window_us) {
  if (window_us_ <= 0) return;
  size_t n = std::bit_ceil(std::max<size_t>(sets, 1));
  set_mask_ = n - 1;
  sets_.resize(n);
}

bool FrameDedup::isDuplicate(uint64_t digest, int64_t ts_us) {
  if (window_us_ <= 0) return false;
  // The low bits pick the set; the digest is well mixed, so they are as good as any.
  Slot* set = sets_[digest & set_mask_].ways.data();
  Slot* victim = &set[0];
  for (size_t w = 0; w < kWays; ++w) {
    Slot& s = set[w];
    if (s.ts_us != kUnused && s.digest == digest) {
      int64_t age = ts_us - s.ts_us;
      if (age <= window_us_ && age >= -window_us_) return true;
      victim = &s;  // the same packet, long ago (a retransmission): take its place
      break;
    }
    // Otherwise replace an empty way, else the one first seen longest ago.
    if (victim->ts_us != kUnused && (s.ts_us == kUnused || s.ts_us < victim->ts_us)) victim = &s;
  }
  victim->digest = digest;
  victim->ts_us = ts_us;
  return false;
}

}  // namespace mcn::capture::detail
