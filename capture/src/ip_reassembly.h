#pragma once
// IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5) fragment reassembly behind the Reassembler seam.
//
// Key: (src, dst, protocol for IPv4, id, VLAN stack, tunnel digest); see FragmentKey.
//
// Overlap policy, "agree or discard": where a fragment overlaps bytes already held, the bytes must
// be equal. If they are, the fragment is accepted and only its new bytes are kept (one that brings
// none is a duplicate, counted `ip.frag_duplicates`: SPAN copies and retransmitted fragments). If
// any overlapping byte differs, or two fragments disagree on where the datagram ends, the whole
// datagram is discarded (`ip.frag_overlaps`), for IPv4 as RFC 5722 §4 (with erratum 3089: exact
// duplicates are ignored) requires for IPv6. Why not a "first"/"last"/BSD target policy: targets
// disagree about conflicting overlaps (Novak, "Target-Based Fragmentation Reassembly", 2005;
// Shankar and Paxson, "Active Mapping", 2003), and Linux since 4.19 drops any datagram with an
// overlap (IPv4 too), so the bytes we would pick are bytes a Linux P-CSCF never delivered. A
// passive observer that only reassembles what every policy agrees on cannot be shown a SIP
// message the target did not get. Agreeing overlaps (the same datagram re-fragmented on a
// different path) reassemble on every target, so they reassemble here too.
//
// Other rules: a fragment with more-fragments set whose length is not a multiple of 8, or an empty
// one, is malformed and dropped (RFC 8200 §4.5; `ip.frag_malformed`); a fragment reaching past
// 65535 bytes of IP packet discards its datagram (`ip.frag_too_big`, the "ping of death").
//
// Bounds: at most `max_datagrams` incomplete datagrams and `max_bytes` held. Held bytes count
// each kept fragment's payload plus kFragmentOverhead, and kDatagramOverhead per datagram, so
// a flood of tiny fragments is bounded as well as one of large ones. When a new fragment does not
// fit, the datagrams seen first are dropped to make room (`ip.frag_table_full` /
// `ip.frag_memory_cap`, one per datagram dropped): a genuine datagram completes within
// milliseconds, so a flood has to replace the whole table in that time to hurt it, whereas
// refusing new fragments would lose every genuine datagram until the flood times out. A fragment
// that does not fit even into an empty table is refused (`ip.frag_memory_cap`).
//
// Timeout: a datagram still incomplete `timeout_us` after its first fragment (packet time) is
// dropped (`ip.frag_timeouts`). Datagrams sit in a list in first-seen order, so expiry looks at
// the head only: O(1) per call when nothing expires, no table scan.

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reassembler.h"

namespace mcn::capture::detail {

struct ReassemblyLimits {
  int64_t timeout_us = 30'000'000;  // Linux ipfrag_time; RFC 791 §3.2 suggests 15 s at least
  size_t max_datagrams = 8192;
  size_t max_bytes = size_t{16} << 20;
};

class IpReassembler final : public Reassembler {
 public:
  // Approximate heap cost of the bookkeeping, charged against max_bytes.
  static constexpr size_t kFragmentOverhead = 48;
  static constexpr size_t kDatagramOverhead = 256;

  explicit IpReassembler(ReassemblyLimits limits, uint64_t hash_seed = 0);
  ~IpReassembler() override;

  std::optional<Datagram> addFragment(const Fragment& fragment, Counters& counters) override;
  void expire(int64_t now_us, Counters& counters) override;

  size_t datagramsHeld() const { return index_.size(); }
  size_t bytesHeld() const { return bytes_held_; }
  size_t peakBytesHeld() const { return peak_bytes_held_; }

 private:
  struct Piece {
    uint32_t offset = 0;
    std::vector<uint8_t> bytes;
    uint32_t end() const { return offset + static_cast<uint32_t>(bytes.size()); }
  };
  struct Entry {
    FragmentKey key;
    int64_t first_ts_us = 0;
    uint8_t protocol = 0;  // from the offset-zero fragment
    bool have_first = false;
    std::optional<uint32_t> total;  // known once the fragment without more-fragments arrived
    uint32_t max_end = 0;
    uint32_t covered = 0;       // bytes held; pieces never overlap
    std::vector<Piece> pieces;  // sorted by offset
    size_t held = 0;            // charged against max_bytes
  };
  using Order = std::list<Entry>;
  struct KeyHash {
    uint64_t seed;
    size_t operator()(const FragmentKey& k) const;
  };

  void drop(Order::iterator it);
  // Makes room for `need` more bytes and, if `new_datagram`, one more datagram, dropping the
  // oldest datagrams other than `keep`. False if impossible.
  bool makeRoom(size_t need, bool new_datagram, const Entry* keep, Counters& counters);

  ReassemblyLimits limits_;
  Order order_;  // oldest first
  std::unordered_map<FragmentKey, Order::iterator, KeyHash> index_;
  size_t bytes_held_ = 0;
  size_t peak_bytes_held_ = 0;
  std::vector<std::pair<uint32_t, uint32_t>> gaps_;  // scratch: [lo, hi) a fragment fills
};

}  // namespace mcn::capture::detail
