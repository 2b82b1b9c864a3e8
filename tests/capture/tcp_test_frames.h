#pragma once
// TCP segments with real sequence numbers and flags, for the stream reassembly tests. One
// TcpDirection builds the frames of one direction of a connection, by byte offset from its first
// payload byte (ISN + 1), so tests read as "bytes 0..99 arrive, then 200..299".

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "frame_builder.h"

namespace mcn::capture::test {

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

inline Bytes tcpHeader(uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags,
                       std::string_view payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, seq);
  put32(b, 1);  // ack: not read by the decoder
  put8(b, 5 << 4);
  put8(b, flags);
  put16(b, 65535);
  put16(b, 0);
  put16(b, 0);
  append(b, payload);
  return b;
}

struct TcpDirection {
  V4 src{192, 0, 2, 10};
  V4 dst{198, 51, 100, 20};
  uint16_t sport = 40000;
  uint16_t dport = 5060;
  uint32_t isn = 1000;
  std::vector<Tag> vlans;  // outermost first
  bool v6 = false;

  TcpDirection reversed(uint32_t other_isn) const {
    TcpDirection r = *this;
    r.src = dst;
    r.dst = src;
    r.sport = dport;
    r.dport = sport;
    r.isn = other_isn;
    return r;
  }

  Bytes frame(uint32_t seq, uint8_t flags, std::string_view payload) const {
    Bytes seg = tcpHeader(sport, dport, seq, flags, payload);
    if (v6) {
      Ipv6 ip;
      ip.next = 6;
      ip.src[15] = src[3];
      ip.dst[15] = dst[3];
      return tagged(ethernet(kIpv6Type, ipv6(ip, seg)));
    }
    Ipv4 ip;
    ip.protocol = 6;
    ip.src = src;
    ip.dst = dst;
    return tagged(ethernet(kIpv4Type, ipv4(ip, seg)));
  }
  // Inserts the VLAN tags after the two MAC addresses.
  Bytes tagged(Bytes frame) const {
    Bytes tags;
    for (const Tag& t : vlans) {
      put16(tags, t.tpid);
      put16(tags, static_cast<uint16_t>((t.pcp << 13) | t.vid));
    }
    frame.insert(frame.begin() + 12, tags.begin(), tags.end());
    return frame;
  }
  Bytes syn() const { return frame(isn, kTcpSyn, {}); }
  // Payload starting `offset` bytes after the SYN.
  Bytes data(uint32_t offset, std::string_view payload, uint8_t flags = kTcpPsh | kTcpAck) const {
    return frame(isn + 1 + offset, flags, payload);
  }
  Bytes fin(uint32_t offset, std::string_view payload = {}) const {
    return frame(isn + 1 + offset, kTcpFin | kTcpAck, payload);
  }
  Bytes rst(uint32_t offset) const { return frame(isn + 1 + offset, kTcpRst | kTcpAck, {}); }
  Bytes ack(uint32_t offset) const { return frame(isn + 1 + offset, kTcpAck, {}); }
};

// A request with a body of `body` bytes (Content-Length counted here).
inline std::string sipMessage(std::string_view start_line, std::string_view call_id,
                              std::string_view body, bool compact = false) {
  std::string m(start_line);
  m += "\r\nVia: SIP/2.0/TCP 192.0.2.10:40000;branch=z9hG4bK-";
  m += call_id;
  m += "\r\nCall-ID: ";
  m += call_id;
  m += "\r\nCSeq: 1 INVITE\r\n";
  m += compact ? "l: " : "Content-Length: ";
  m += std::to_string(body.size());
  m += "\r\n\r\n";
  m += body;
  return m;
}

}  // namespace mcn::capture::test
