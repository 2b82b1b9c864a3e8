#pragma once
// Frame dedup: a SPAN port often delivers the same packet twice, microseconds apart (the switch
// mirrors it on ingress and again on egress, or at two hops of a routed path). FrameDedup
// remembers a digest of each recent IP packet and says whether an identical one was seen within
// the window.
//
// What the digest covers (ipv4Digest/ipv6Digest): the IP fields a packet keeps from one hop to
// the next, and every byte after the IP header. Left out, because the two copies of one packet may
// differ there: everything below IP (MAC addresses after a routed hop, the VLAN tag of the ingress
// and egress port, tunnel headers), TTL / Hop Limit (decremented by a router), the IPv4 header
// checksum (follows the TTL), TOS/Traffic Class (DSCP re-marking, ECN CE marking by a congested
// hop), the IPv6 flow label and IPv4 options (Record Route and Timestamp options change per hop).
// Kept: addresses, protocol, total length, IPv4 identification and fragment field, the IPv6
// extension headers and the whole transport header and payload (the UDP/TCP checksum covers
// no hop-variant field).
//
// Why the window is what separates a mirror copy from a genuine retransmission: the IPv4 ID does
// not (Linux sends DF datagrams of unconnected UDP sockets with ID 0), and a SIP retransmission
// is byte-identical. Mirror copies are microseconds to a few milliseconds apart; a UDP SIP
// retransmission comes T1 = 500 ms after the original at the earliest (RFC 3261 §17.1.1.2,
// §17.2.1), a TCP one after an RTO of at least 200 ms (Linux; RFC 6298 §2.4 says 1 s). The
// default window (5 ms) leaves a factor of 100 to the first and a factor of 1000 to the
// microsecond copies. A wrongly dropped copy would lose nothing anyway: it is identical to a
// packet that was decoded.
//
// Memory is fixed: a set-associative table of (digest, first-seen time); a full set forgets its
// oldest entry, which can only let a duplicate through, never drop a distinct packet (barring a
// 64-bit digest collision).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace mcn::capture::detail {

// A fast seeded 64-bit hash (the multiply-mix construction of wyhash), for table keys and
// digests. Not cryptographic.
uint64_t hashBytes(const uint8_t* data, size_t len, uint64_t seed);

inline uint64_t hashMix(uint64_t a, uint64_t b) {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// Digest of an IPv4 packet (header included, `ihl` its length) / an IPv6 packet (fixed header
// and everything after it). `packet` is trimmed to the IP length already.
uint64_t ipv4Digest(std::span<const uint8_t> packet, size_t ihl);
uint64_t ipv6Digest(std::span<const uint8_t> packet);

class FrameDedup {
 public:
  // window_us <= 0 turns dedup off (isDuplicate always false). `sets` is rounded up to a power
  // of two; each set holds kWays digests.
  explicit FrameDedup(int64_t window_us, size_t sets = 4096);

  // True if a packet with this digest was first seen within the window of ts_us (either side:
  // merged captures are not strictly time-ordered). Otherwise remembers it and returns false. A
  // duplicate does not refresh the time, so a third copy is measured from the first.
  bool isDuplicate(uint64_t digest, int64_t ts_us);

  bool enabled() const { return window_us_ > 0; }
  size_t memoryBytes() const { return sets_.size() * sizeof(Set); }

  static constexpr size_t kWays = 4;

 private:
  struct Slot {
    uint64_t digest = 0;
    int64_t ts_us = kUnused;
  };
  // A set is one cache line: a look-up reads one line, not two (a vector of 16-byte slots is
  // only 16-byte aligned, so most sets straddled two lines: ~2 first-level misses per frame).
  struct alignas(64) Set {
    std::array<Slot, kWays> ways;
  };
  static_assert(sizeof(Set) == 64);
  static constexpr int64_t kUnused = INT64_MIN;
  int64_t window_us_;
  size_t set_mask_ = 0;
  std::vector<Set> sets_;
};

}  // namespace mcn::capture::detail
