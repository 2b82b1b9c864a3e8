#pragma once
// Real frames around SIP payloads, written to a pcap file: link layer (Ethernet with any VLAN
// stack, Linux cooked v1/v2, BSD null, raw IP), IPv4 (header checksum, optional options,
// fragmentation) or IPv6 (fragment header), UDP with a correct checksum, or TCP with one SIP
// message per segment. Corruptions for the bad-input fixtures are applied here, after the honest
// frame is built, so a lying length field lies about an otherwise valid frame.

#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcn::gen {

enum class Link { kEthernet, kSll, kSll2, kNull, kRaw };

// Remote-SPAN and provider encapsulations around the IP packet (Ethernet links only). Tunnels
// that carry Ethernet (gretap, erspan2/3, vxlan) put the --vlan tags on the inner frame; the
// others on the outer one. Outer addresses: 198.18.0.1 -> 198.18.0.2 (RFC 2544 benchmarking
// range), 2001:db8:ffff::1 -> ::2 for ip6ip.
enum class Encap {
  kNone,
  kGre,        // GRE (RFC 2784) with a key (RFC 2890), protocol IPv4/IPv6
  kGretap,     // GRE transparent Ethernet bridging (0x6558)
  kErspan2,    // GRE 0x88be + sequence number + ERSPAN type II header
  kErspan3,    // GRE 0x22eb + sequence number + ERSPAN type III header with platform subheader
  kVxlan,      // UDP 4789 + VXLAN (RFC 7348), VNI 5001
  kMpls,       // two MPLS labels (RFC 3032), bottom of stack on the second
  kPppoe,      // PPPoE session (RFC 2516) + PPP IPv4/IPv6
  kIpip,       // outer IPv4, protocol 4 (or 41 for an IPv6 inner packet)
  kIp6ip,      // outer IPv6, next header 4 (or 41)
  kGrePpp,     // enhanced GRE (RFC 2637) call 0x4242 with sequence and acknowledgement numbers,
               // PPP with address/control and a 2-byte protocol (0x0021 / 0x0057)
  kGrePppPfc,  // the same without address/control (ACFC) and a 1-byte protocol (PFC), no ack
  kGtpu,       // UDP 2152 + GTP-U G-PDU (TS 29.281), TEID 0x1000a, sequence number and a PDU
               // session container extension header (0x85), outer IPv4
  kGtpu6,      // the same over an outer IPv6 header
  kEsp,        // ESP transport mode (RFC 4303, the Gm interface of TS 33.203), NULL encryption,
               // SPI 0x1000, 12-byte ICV (HMAC-SHA1-96): the packet's own IP header, protocol 50
  kEsp16,      // ESP tunnel mode, NULL encryption, SPI 0x2000, 16-byte ICV (HMAC-SHA-256-128)
};

// SIP over SCTP (RFC 4168): DATA chunks, the same with the U (unordered) flag, or I-DATA
// (RFC 8260) chunks.
enum class SctpMode { kOff, kData, kUnordered, kIData };

struct VlanTag {
  uint16_t tpid = 0x8100;
  uint16_t vid = 0;
};

struct WireOptions {
  Link link = Link::kEthernet;
  std::vector<VlanTag> vlans;  // outermost first
  bool ipv6 = false;
  bool tcp = false;
  bool ip_options = false;  // IPv4: add a Router Alert option (IHL 6)
  int fragment_mtu = 0;     // > 0: fragment IP packets larger than this
  Encap encap = Encap::kNone;
  // SIP over SCTP: one user message per SIP message, cut into chunks of at most sctp_chunk bytes
  // of user data (0: never), two chunks to a packet after a SACK. sctp_shuffle: the packets of a
  // fragmented message are sent last first, and the one with its first fragments once more.
  SctpMode sctp = SctpMode::kOff;
  int sctp_chunk = 0;
  bool sctp_shuffle = false;
};

// A host on the wire. Addresses are documentation ranges only.
struct Node {
  std::string name;
  std::array<uint8_t, 4> v4{};
  std::array<uint8_t, 16> v6{};
  uint16_t port = 5060;
  std::string ip4_text, ip6_text;  // cached for SIP rendering
};

// Lies told by a frame (bad-input fixtures); -1 = honest.
struct Corruption {
  int ip_total_len = -1;  // IPv4 total length / IPv6 payload length field
  int ihl = -1;           // IPv4 header length in 32-bit words
  int udp_len = -1;       // UDP length field
};

class FrameWriter {
 public:
  // path "-" writes to stdout.
  FrameWriter(const std::string& path, WireOptions opt);
  ~FrameWriter();
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  // One SIP message (or raw bytes) from src to dst at ts_us: one frame, or several if fragmented,
  // preceded by a TCP handshake the first time two nodes talk over TCP.
  // payload_sum: checksumAdd(0, payload) if the caller computed it already (the mix does, on
  // its scene-building threads), else -1. The payload always starts at an even UDP offset.
  // mirror_of_us >= 0: this is a SPAN copy of the same message sent from src to dst at that
  // time, so it reuses that packet's IP identification (a mirror copies the packet, it does not
  // send a new one).
  void send(int64_t ts_us, const Node& src, const Node& dst, std::string_view payload,
            const Corruption& corrupt = {}, int64_t payload_sum = -1, int64_t mirror_of_us = -1);

  uint64_t frames() const { return frames_; }
  uint64_t bytes() const { return bytes_; }
  void flush();

 private:
  struct TcpConn {
    bool a_is_client = true;  // a = lower node name in the key
    uint16_t client_port = 0;
    uint32_t seq_a = 0, seq_b = 0;
  };

  void emitIp(int64_t ts_us, const Node& src, const Node& dst, uint16_t sport, uint16_t dport,
              uint8_t proto, std::string_view l4, const Corruption& c);
  size_t linkHeader(uint8_t* out, const Node& src, const Node& dst, uint16_t ethertype) const;
  void dump(int64_t ts_us, const uint8_t* data, size_t len);
  void sendUdpFast(int64_t ts_us, const Node& src, const Node& dst, std::string_view payload,
                   const Corruption& c, int64_t payload_sum);
  void emitFrame(int64_t ts_us, const Node& src, const Node& dst, uint16_t ethertype,
                 const uint8_t* ip, size_t ip_len);
  void emitEncapsulated(int64_t ts_us, const Node& src, const Node& dst, uint16_t ethertype,
                        const uint8_t* ip, size_t ip_len);
  void emitEspTransport(int64_t ts_us, const Node& src, const Node& dst, uint16_t ethertype,
                        const uint8_t* ip, size_t ip_len);
  static void espTrailer(std::vector<uint8_t>& t, uint8_t next, size_t icv, size_t payload_start);
  void sendTcp(int64_t ts_us, const Node& src, const Node& dst, std::string_view payload,
               const Corruption& c);
  void sendSctp(int64_t ts_us, const Node& src, const Node& dst, std::string_view payload,
                const Corruption& c);
  void tcpSegment(int64_t ts_us, const Node& src, const Node& dst, uint16_t sport, uint16_t dport,
                  uint32_t seq, uint32_t ack, uint8_t flags, std::string_view data,
                  const Corruption& c);

  WireOptions opt_;
  FILE* file_ = nullptr;
  bool own_file_ = false;
  void* pcap_ = nullptr;    // pcap_t*
  void* dumper_ = nullptr;  // pcap_dumper_t*
  std::vector<uint8_t> frame_;
  std::string l4_;
  std::vector<uint8_t> ip_;
  uint32_t ip_id_ = 0x1000;
  uint32_t nextIpId() { return forced_id_ >= 0 ? static_cast<uint32_t>(forced_id_) : ip_id_++; }
  int64_t forced_id_ = -1;  // the IP id a mirror copy reuses
  struct Sent {
    int64_t ts_us = -1;
    const Node* src = nullptr;
    const Node* dst = nullptr;
    size_t size = 0;
    uint32_t ip_id = 0;
  };
  std::array<Sent, 256> recent_{};  // the last sends, where a mirror copy finds its original
  size_t recent_next_ = 0;
  std::vector<uint8_t> inner_;  // --encap: the inner frame being wrapped
  uint32_t outer_id_ = 0x4000;  // --encap: IPv4 id of the outer header
  uint32_t tunnel_seq_ = 0;     // --encap: GRE / GTP-U / ESP sequence number
  std::map<std::pair<std::string, std::string>, TcpConn> tcp_;
  struct SctpDir {
    uint32_t vtag = 0;  // the receiver's verification tag
    uint32_t next_tsn = 0;
    uint16_t next_ssn = 0;
    uint32_t next_mid = 0;
  };
  std::map<std::pair<std::string, std::string>, SctpDir> sctp_;  // (src, dst) names
  uint64_t frames_ = 0;
  uint64_t bytes_ = 0;
};

// Internet checksum helpers (RFC 1071), exposed for tests.
uint32_t checksumAdd(uint32_t sum, const uint8_t* data, size_t len);
uint16_t checksumFinish(uint32_t sum);

}  // namespace mcn::gen
