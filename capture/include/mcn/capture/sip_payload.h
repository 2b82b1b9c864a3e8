#pragma once
// The value handed from capture/ to sipparse/: one SIP message's bytes plus where and when it was
// seen. Owned (no view into a pcap buffer), so it can cross a thread ring.

#include <array>
#include <cstdint>
#include <string>

#include "mcn/common/transport.h"

namespace mcn::capture {

using common::Transport;
using common::transportName;

struct Endpoint {
  std::array<uint8_t, 16> addr{};  // IPv4 uses the first 4 bytes
  bool v6 = false;
  uint16_t port = 0;

  // "192.0.2.1:5060" or "[2001:db8::1]:5060"
  std::string toString() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

inline constexpr int kMaxVlanDepth = 8;

struct SipPayload {
  int64_t ts_us = 0;  // capture timestamp, microseconds since the Unix epoch (UTC)
  Endpoint src;
  Endpoint dst;
  Transport transport = Transport::kUdp;
  uint8_t vlan_depth = 0;                      // number of 802.1Q/ad tags, outermost first
  std::array<uint16_t, kMaxVlanDepth> vlan{};  // VLAN ids
  std::string bytes;                           // exactly one SIP message (start line .. body)
  // From a HEP packet (hep.h): the agent's capture id (chunk 0x0c, or the HEPv2 header), when it
  // sent one. Addresses, transport and ts_us are then the ones the agent reported.
  bool has_capture_id = false;
  uint32_t capture_id = 0;
};

}  // namespace mcn::capture
