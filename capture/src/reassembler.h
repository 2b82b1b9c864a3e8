#pragma once
// The seam where IP fragment reassembly slots in. The layer decoders never reassemble: when an
// IPv4 or IPv6 packet is a fragment they describe it as a Fragment and offer it here. A
// Reassembler that completes a datagram hands back its transport payload, which the decoder then
// feeds to the same UDP/TCP/SCTP (or tunnel) dispatch an unfragmented packet takes, so
// reassembly touches neither the link, VLAN nor IP decoders.
//
// The implementation is IpReassembler (ip_reassembly.h): bounded table, documented overlap
// policy, timeouts on packet time.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "counters.h"
#include "mcn/capture/sip_payload.h"

namespace mcn::capture::detail {

// RFC 791 §3.2 identifies a datagram by (src, dst, protocol, id); RFC 8200 §4.5 by (src, dst, id):
// for IPv6 `protocol` stays 0 here, because the Next Header of the fragments of one packet may
// differ and only the offset-zero one counts. The VLAN stack is part of the key too, so two VLANs
// that reuse addresses never reassemble together (Suricata's rule).
struct FragmentKey {
  std::array<uint8_t, 16> src{};
  std::array<uint8_t, 16> dst{};
  bool v6 = false;
  uint8_t protocol = 0;
  uint32_t id = 0;
  uint8_t vlan_depth = 0;
  std::array<uint16_t, kMaxVlanDepth> vlan{};
  // Digest of the tunnel headers the packet came out of (outer addresses, GRE key, VXLAN VNI),
  // 0 if none: two tunnels that reuse inner addresses never reassemble together either.
  uint64_t tunnel = 0;
  friend bool operator==(const FragmentKey&, const FragmentKey&) = default;
};

struct Fragment {
  FragmentKey key;
  int64_t ts_us = 0;
  uint8_t protocol = 0;           // IPv4 protocol / Next Header of the IPv6 fragment header
  uint32_t offset = 0;            // byte offset of `data` in the original payload
  bool more = false;              // MF (IPv4) or M (IPv6) flag
  std::span<const uint8_t> data;  // bytes after the IP header (after the fragment header for v6)
};

// A reassembled transport payload, owned by the caller: a tunnel inside it may carry fragments
// of its own, which go back into the same Reassembler while this payload is still being read.
struct Datagram {
  uint8_t protocol = 0;
  std::vector<uint8_t> payload;
};

class Reassembler {
 public:
  virtual ~Reassembler() = default;
  // Offer one fragment; returns the whole datagram when this fragment completes one. Must not
  // throw; a table that is full drops and counts.
  virtual std::optional<Datagram> addFragment(const Fragment& fragment, Counters& counters) = 0;
  // Packet time has reached now_us: drop what timed out (called by the decoder for every frame,
  // so the cost when nothing expires must be O(1)).
  virtual void expire(int64_t now_us, Counters& counters) = 0;
};

}  // namespace mcn::capture::detail
