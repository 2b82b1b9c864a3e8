#pragma once
// The seam where IP fragment reassembly slots in. The layer decoders never reassemble: when an
// IPv4 or IPv6 packet is a fragment they describe it as a Fragment and offer it here. A
// Reassembler that completes a datagram hands back its transport payload, which the decoder then
// feeds to the same UDP/TCP/SCTP dispatch an unfragmented packet takes, so adding reassembly
// touches neither the link, VLAN nor IP decoders.
//
// Today only CountingReassembler exists: it keeps nothing and returns nothing (the decoder already
// counts `ip.fragments`). A real implementation must bound its table and count what the bound
// refuses (Suricata's defrag habits), and pick a documented overlap policy (RFC 5722 says drop
// overlapping IPv6 fragments).

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "counters.h"
#include "mcn/capture/sip_payload.h"

namespace mcn::capture::detail {

// RFC 791 §3.2 identifies a datagram by (src, dst, protocol, id); RFC 8200 §4.5 by (src, dst, id).
// The VLAN stack is part of the key too, so two VLANs that reuse addresses never reassemble
// together. For IPv6, `protocol` is the Next Header of the fragment header.
struct FragmentKey {
  std::array<uint8_t, 16> src{};
  std::array<uint8_t, 16> dst{};
  bool v6 = false;
  uint8_t protocol = 0;
  uint32_t id = 0;
  uint8_t vlan_depth = 0;
  std::array<uint16_t, kMaxVlanDepth> vlan{};
  friend bool operator==(const FragmentKey&, const FragmentKey&) = default;
};

struct Fragment {
  FragmentKey key;
  int64_t ts_us = 0;
  uint32_t offset = 0;            // byte offset of `data` in the original payload
  bool more = false;              // MF (IPv4) or M (IPv6) flag
  std::span<const uint8_t> data;  // bytes after the IP header (after the fragment header for v6)
};

// A reassembled transport payload. `payload` is owned by the Reassembler and stays valid until its
// next call.
struct Datagram {
  uint8_t protocol = 0;
  std::span<const uint8_t> payload;
};

class Reassembler {
 public:
  virtual ~Reassembler() = default;
  // Offer one fragment; returns the whole datagram when this fragment completes one. Must not
  // throw; a table that is full drops and counts.
  virtual std::optional<Datagram> addFragment(const Fragment& fragment, Counters& counters) = 0;
};

// No reassembly yet: fragments are counted (by the decoder) and dropped.
class CountingReassembler final : public Reassembler {
 public:
  std::optional<Datagram> addFragment(const Fragment&, Counters&) override { return std::nullopt; }
};

}  // namespace mcn::capture::detail
