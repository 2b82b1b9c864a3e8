#include "frame_writer.h"

#include <pcap/pcap.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

namespace mcn::gen {

namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoSctp = 132;
constexpr uint8_t kIpv6Frag = 44;
constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpPsh = 0x08, kTcpAck = 0x10;
constexpr size_t kSnaplen = 262144;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

// Locally administered MAC derived from the node's IPv4 address, so frames are reproducible.
std::array<uint8_t, 6> macOf(const Node& n) {
  return {0x02, 0x00, n.v4[0], n.v4[1], n.v4[2], n.v4[3]};
}

int dltOf(Link l) {
  switch (l) {
    case Link::kEthernet:
      return DLT_EN10MB;
    case Link::kSll:
      return DLT_LINUX_SLL;
    case Link::kSll2:
      return DLT_LINUX_SLL2;
    case Link::kNull:
      return DLT_NULL;
    case Link::kRaw:
      return DLT_RAW;
  }
  return DLT_EN10MB;
}

// CRC32c (Castagnoli), the SCTP checksum (RFC 9260 Appendix A), bit by bit: fixtures are small.
uint32_t crc32c(const uint8_t* p, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// FNV-1a of a node name: verification tags and initial TSNs that depend on nothing else.
uint32_t nameHash(const std::string& s) {
  uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

// Pseudo-header sum for UDP/TCP checksums (RFC 768, RFC 8200 §8.1).
uint32_t pseudoSum(const Node& src, const Node& dst, bool v6, uint8_t proto, size_t len) {
  uint32_t sum = 0;
  if (v6) {
    sum = checksumAdd(sum, src.v6.data(), 16);
    sum = checksumAdd(sum, dst.v6.data(), 16);
    uint8_t tail[8] = {};
    put32(tail, static_cast<uint32_t>(len));
    tail[7] = proto;
    sum = checksumAdd(sum, tail, 8);
  } else {
    sum = checksumAdd(sum, src.v4.data(), 4);
    sum = checksumAdd(sum, dst.v4.data(), 4);
    uint8_t tail[4] = {0, proto, static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
    sum = checksumAdd(sum, tail, 4);
  }
  return sum;
}

}  // namespace

uint32_t checksumAdd(uint32_t sum, const uint8_t* data, size_t len) {
  // RFC 1071 §2(B): the ones' complement sum is byte-order independent, so sum native 32-bit
  // words and swap the folded result once. Chained calls pass even lengths except the last.
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    uint64_t a, b;
    std::memcpy(&a, data + i, 8);
    std::memcpy(&b, data + i + 8, 8);
    acc += (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32);
  }
  for (; i + 4 <= len; i += 4) {
    uint32_t w;
    std::memcpy(&w, data + i, 4);
    acc += w;
  }
  if (i + 2 <= len) {
    uint16_t w;
    std::memcpy(&w, data + i, 2);
    acc += w;
    i += 2;
  }
  if (i < len) {
    const uint8_t tail[2] = {data[i], 0};
    uint16_t w;
    std::memcpy(&w, tail, 2);
    acc += w;
  }
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  auto folded = static_cast<uint16_t>(acc);
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<uint16_t>((folded >> 8) | (folded << 8));
  }
  return sum + folded;
}

uint16_t checksumFinish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

FrameWriter::FrameWriter(const std::string& path, WireOptions opt) : opt_(std::move(opt)) {
  if (path == "-") {
    file_ = stdout;
  } else {
    file_ = std::fopen(path.c_str(), "wb");
    if (!file_) throw std::runtime_error("cannot open " + path + " for writing");
    own_file_ = true;
  }
  // Large stdio buffer: the mix writes GBs at > 1M frames/s.
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  pcap_t* p =
      pcap_open_dead_with_tstamp_precision(dltOf(opt_.link), kSnaplen, PCAP_TSTAMP_PRECISION_MICRO);
  if (!p) throw std::runtime_error("pcap_open_dead failed");
  pcap_ = p;
  pcap_dumper_t* d = pcap_dump_fopen(p, file_);
  if (!d) throw std::runtime_error(std::string("pcap_dump_fopen: ") + pcap_geterr(p));
  dumper_ = d;
  frame_.reserve(70000);
  ip_.reserve(70000);
}

FrameWriter::~FrameWriter() {
  if (dumper_) pcap_dump_close(static_cast<pcap_dumper_t*>(dumper_));  // closes file_
  if (pcap_) pcap_close(static_cast<pcap_t*>(pcap_));
}

void FrameWriter::flush() { pcap_dump_flush(static_cast<pcap_dumper_t*>(dumper_)); }

void FrameWriter::send(int64_t ts_us, const Node& src, const Node& dst, std::string_view payload,
                       const Corruption& c, int64_t payload_sum, int64_t mirror_of_us) {
  forced_id_ = -1;
  if (mirror_of_us >= 0) {
    for (const Sent& s : recent_) {
      if (s.ts_us == mirror_of_us && s.src == &src && s.dst == &dst && s.size == payload.size()) {
        forced_id_ = s.ip_id;
      }
    }
  } else {
    recent_[recent_next_++ % recent_.size()] = Sent{ts_us, &src, &dst, payload.size(), ip_id_};
  }
  if (opt_.tcp) {
    sendTcp(ts_us, src, dst, payload, c);
    return;
  }
  if (opt_.sctp != SctpMode::kOff) {
    sendSctp(ts_us, src, dst, payload, c);
    return;
  }
  const size_t iph = opt_.ipv6 ? 40 : (opt_.ip_options ? 24 : 20);
  if (opt_.encap == Encap::kNone &&
      (opt_.fragment_mtu <= 0 || iph + 8 + payload.size() <= size_t(opt_.fragment_mtu))) {
    sendUdpFast(ts_us, src, dst, payload, c, payload_sum);
    return;
  }
  l4_.resize(8 + payload.size());
  auto* u = reinterpret_cast<uint8_t*>(l4_.data());
  const size_t len = l4_.size();
  put16(u, src.port);
  put16(u + 2, dst.port);
  put16(u + 4, static_cast<uint16_t>(len));
  put16(u + 6, 0);
  if (!payload.empty()) std::memcpy(u + 8, payload.data(), payload.size());
  uint32_t sum = pseudoSum(src, dst, opt_.ipv6, kProtoUdp, len);
  uint16_t ck = checksumFinish(checksumAdd(sum, u, len));
  put16(u + 6, ck == 0 ? 0xffff : ck);  // RFC 768: a computed 0 is sent as all ones
  if (c.udp_len >= 0) put16(u + 4, static_cast<uint16_t>(c.udp_len));
  emitIp(ts_us, src, dst, src.port, dst.port, kProtoUdp, l4_, c);
}

void FrameWriter::sendTcp(int64_t ts_us, const Node& src, const Node& dst, std::string_view payload,
                          const Corruption& c) {
  const bool src_is_a = src.name < dst.name;
  auto key = src_is_a ? std::make_pair(src.name, dst.name) : std::make_pair(dst.name, src.name);
  auto it = tcp_.find(key);
  if (it == tcp_.end()) {
    TcpConn conn;
    conn.a_is_client = src_is_a;
    conn.client_port = static_cast<uint16_t>(40000 + tcp_.size() * 7);
    conn.seq_a = 0x10000000u + static_cast<uint32_t>(tcp_.size()) * 0x01000193u;
    conn.seq_b = 0x20000000u + static_cast<uint32_t>(tcp_.size()) * 0x01000193u;
    it = tcp_.emplace(key, conn).first;
    // Handshake just before the first message (RFC 9293 §3.5).
    TcpConn& k = it->second;
    uint32_t& cs = src_is_a ? k.seq_a : k.seq_b;
    uint32_t& ss = src_is_a ? k.seq_b : k.seq_a;
    tcpSegment(ts_us - 3, src, dst, k.client_port, dst.port, cs, 0, kTcpSyn, {}, {});
    tcpSegment(ts_us - 2, dst, src, dst.port, k.client_port, ss, cs + 1, kTcpSyn | kTcpAck, {}, {});
    ++cs;
    ++ss;
    tcpSegment(ts_us - 1, src, dst, k.client_port, dst.port, cs, ss, kTcpAck, {}, {});
  }
  TcpConn& k = it->second;
  const bool src_is_client = (src_is_a == k.a_is_client);
  uint16_t sport = src_is_client ? k.client_port : src.port;
  uint16_t dport = src_is_client ? dst.port : k.client_port;
  uint32_t& my = src_is_a ? k.seq_a : k.seq_b;
  uint32_t& peer = src_is_a ? k.seq_b : k.seq_a;
  tcpSegment(ts_us, src, dst, sport, dport, my, peer, kTcpPsh | kTcpAck, payload, c);
  my += static_cast<uint32_t>(payload.size());
  (void)kTcpFin;
}

void FrameWriter::sendSctp(int64_t ts_us, const Node& src, const Node& dst,
                           std::string_view payload, const Corruption& c) {
  // One association per pair of nodes, between their SIP ports; no INIT handshake is written (a
  // capture may start at any time). The first direction's TSNs start just below 2^32 so they
  // wrap; every direction gets TSNs of its own (Wireshark, without the INIT, tells associations
  // on the same ports apart by TSN).
  auto dir = [&](const Node& a, const Node& b) -> SctpDir& {
    const size_t index = sctp_.size();
    auto [it, fresh] = sctp_.try_emplace({a.name, b.name});
    if (fresh) {
      it->second.vtag = nameHash(b.name) | 1u;
      it->second.next_tsn = 0xfffffffcu + 0x01000000u * static_cast<uint32_t>(index);
      // MIDs of their own too: Wireshark keys I-DATA reassembly by ports, stream and MID.
      it->second.next_mid = 1000u * static_cast<uint32_t>(index);
    }
    return it->second;
  };
  SctpDir& d = dir(src, dst);
  const SctpDir& back = dir(dst, src);
  const bool idata = opt_.sctp == SctpMode::kIData;
  const bool unordered = opt_.sctp == SctpMode::kUnordered;
  const size_t step = opt_.sctp_chunk > 0 ? size_t(opt_.sctp_chunk) : payload.size();
  const size_t n = std::max<size_t>(1, (payload.size() + step - 1) / step);
  const uint32_t mid = d.next_mid++;
  const uint16_t ssn = unordered ? 0 : d.next_ssn++;

  // The chunks of this message (RFC 9260 §3.3.1 DATA, RFC 8260 §2.1 I-DATA), each padded.
  std::vector<std::string> chunks;
  for (size_t i = 0; i < n; ++i) {
    const std::string_view part = payload.substr(i * step, step);
    const size_t hdr = idata ? 20 : 16;
    std::string ch(hdr + part.size(), '\0');
    auto* p = reinterpret_cast<uint8_t*>(ch.data());
    p[0] = idata ? 64 : 0;
    p[1] = static_cast<uint8_t>((unordered ? 0x04 : 0) | (i == 0 ? 0x02 : 0) |
                                (i + 1 == n ? 0x01 : 0));
    put16(p + 2, static_cast<uint16_t>(ch.size()));
    put32(p + 4, d.next_tsn++);
    put16(p + 8, 0);  // stream 0
    if (idata) {
      put16(p + 10, 0);  // reserved
      put32(p + 12, mid);
      put32(p + 16, i == 0 ? 0 : static_cast<uint32_t>(i));  // PPID 0 (SIP has none), then FSN
    } else {
      put16(p + 10, ssn);
      put32(p + 12, 0);  // PPID
    }
    std::memcpy(p + hdr, part.data(), part.size());
    ch.resize((ch.size() + 3) & ~size_t{3}, '\0');
    chunks.push_back(std::move(ch));
  }
  // Packets: a SACK for what the peer sent (cumulative TSN ack, a_rwnd, no gap blocks), then two
  // chunks at most.
  std::vector<std::string> packets;
  for (size_t i = 0; i < chunks.size(); i += 2) {
    std::string pk(12 + 16, '\0');
    auto* h = reinterpret_cast<uint8_t*>(pk.data());
    put16(h, src.port);
    put16(h + 2, dst.port);
    put32(h + 4, d.vtag);
    h[12] = 3;  // SACK
    put16(h + 14, 16);
    put32(h + 16, back.next_tsn - 1);
    put32(h + 20, 65536);
    pk += chunks[i];
    if (i + 1 < chunks.size()) pk += chunks[i + 1];
    packets.push_back(std::move(pk));
  }
  std::vector<size_t> order(packets.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (opt_.sctp_shuffle && packets.size() > 1) {
    std::reverse(order.begin(), order.end());
    order.push_back(0);  // the first packet again: a retransmission, or a second mirror copy
  }
  int64_t t = ts_us;
  for (size_t i : order) {
    std::string& pk = packets[i];
    auto* h = reinterpret_cast<uint8_t*>(pk.data());
    put32(h + 8, 0);
    const uint32_t crc = crc32c(h, pk.size());
    // RFC 9260 Appendix A: the CRC32c goes on the wire least significant byte first.
    h[8] = static_cast<uint8_t>(crc);
    h[9] = static_cast<uint8_t>(crc >> 8);
    h[10] = static_cast<uint8_t>(crc >> 16);
    h[11] = static_cast<uint8_t>(crc >> 24);
    emitIp(t, src, dst, src.port, dst.port, kProtoSctp, pk, c);
    t += 20;  // 20 us apart: the last packet of a message is seen well within its millisecond
  }
}

void FrameWriter::tcpSegment(int64_t ts_us, const Node& src, const Node& dst, uint16_t sport,
                             uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                             std::string_view data, const Corruption& c) {
  l4_.resize(20 + data.size());
  auto* t = reinterpret_cast<uint8_t*>(l4_.data());
  put16(t, sport);
  put16(t + 2, dport);
  put32(t + 4, seq);
  put32(t + 8, (flags & kTcpAck) ? ack : 0);
  t[12] = 5 << 4;
  t[13] = flags;
  put16(t + 14, 65535);
  put16(t + 16, 0);
  put16(t + 18, 0);
  if (!data.empty()) std::memcpy(t + 20, data.data(), data.size());
  uint32_t sum = pseudoSum(src, dst, opt_.ipv6, kProtoTcp, l4_.size());
  put16(t + 16, checksumFinish(checksumAdd(sum, t, l4_.size())));
  emitIp(ts_us, src, dst, sport, dport, kProtoTcp, l4_, c);
}

void FrameWriter::emitIp(int64_t ts_us, const Node& src, const Node& dst, uint16_t, uint16_t,
                         uint8_t proto, std::string_view l4, const Corruption& c) {
  const auto* data = reinterpret_cast<const uint8_t*>(l4.data());
  const size_t total = l4.size();
  const uint32_t id = nextIpId();
  if (!opt_.ipv6) {
    const size_t hlen = opt_.ip_options ? 24 : 20;
    size_t chunk = total;
    if (opt_.fragment_mtu > 0 && proto == kProtoUdp && hlen + total > size_t(opt_.fragment_mtu)) {
      chunk = (static_cast<size_t>(opt_.fragment_mtu) - hlen) & ~size_t{7};
    }
    for (size_t off = 0; off < total; off += chunk) {
      const size_t n = std::min(chunk, total - off);
      const bool more = off + n < total;
      ip_.assign(hlen, 0);
      uint8_t* h = ip_.data();
      h[0] = static_cast<uint8_t>(0x40 | (hlen / 4));
      put16(h + 2, static_cast<uint16_t>(hlen + n));
      put16(h + 4, static_cast<uint16_t>(id));
      put16(h + 6, static_cast<uint16_t>((more ? 0x2000 : 0) | (off / 8)));
      h[8] = 64;
      h[9] = proto;
      std::memcpy(h + 12, src.v4.data(), 4);
      std::memcpy(h + 16, dst.v4.data(), 4);
      if (opt_.ip_options) {
        // Router Alert (RFC 2113): harmless, and makes the IHL 6.
        h[20] = 0x94;
        h[21] = 0x04;
      }
      if (off == 0) {
        if (c.ip_total_len >= 0) put16(h + 2, static_cast<uint16_t>(c.ip_total_len));
        if (c.ihl >= 0) h[0] = static_cast<uint8_t>(0x40 | (c.ihl & 0x0f));
      }
      put16(h + 10, checksumFinish(checksumAdd(0, h, hlen)));
      ip_.insert(ip_.end(), data + off, data + off + n);
      emitFrame(ts_us, src, dst, kEtherIpv4, ip_.data(), ip_.size());
    }
    return;
  }
  size_t chunk = total;
  const bool frag = opt_.fragment_mtu > 0 && proto == kProtoUdp &&
                    40 + total > static_cast<size_t>(opt_.fragment_mtu);
  if (frag) chunk = (static_cast<size_t>(opt_.fragment_mtu) - 48) & ~size_t{7};
  for (size_t off = 0; off < total; off += chunk) {
    const size_t n = std::min(chunk, total - off);
    const bool more = off + n < total;
    ip_.assign(frag ? 48 : 40, 0);
    uint8_t* h = ip_.data();
    h[0] = 0x60;
    put16(h + 4, static_cast<uint16_t>(n + (frag ? 8 : 0)));
    h[6] = frag ? kIpv6Frag : proto;
    h[7] = 64;
    std::memcpy(h + 8, src.v6.data(), 16);
    std::memcpy(h + 24, dst.v6.data(), 16);
    if (frag) {
      h[40] = proto;
      put16(h + 42, static_cast<uint16_t>(off | (more ? 1 : 0)));
      put32(h + 44, id);
    }
    if (off == 0 && c.ip_total_len >= 0) put16(h + 4, static_cast<uint16_t>(c.ip_total_len));
    ip_.insert(ip_.end(), data + off, data + off + n);
    emitFrame(ts_us, src, dst, kEtherIpv6, ip_.data(), ip_.size());
  }
}

size_t FrameWriter::linkHeader(uint8_t* out, const Node& src, const Node& dst,
                               uint16_t ethertype) const {
  uint8_t* o = out;
  // Cooked captures are taken on the P-CSCF side: frames from infrastructure (198.51.100.0/24)
  // were sent by the host, the others received.
  const bool outgoing = src.v4[0] == 198 && src.v4[1] == 51;
  switch (opt_.link) {
    case Link::kEthernet: {
      auto d = macOf(dst), s = macOf(src);
      std::memcpy(o, d.data(), 6);
      std::memcpy(o + 6, s.data(), 6);
      o += 12;
      for (const VlanTag& t : opt_.vlans) {
        put16(o, t.tpid);
        put16(o + 2, t.vid & 0x0fff);
        o += 4;
      }
      put16(o, ethertype);
      o += 2;
      break;
    }
    case Link::kSll: {
      auto s = macOf(src);
      put16(o, outgoing ? 4 : 0);  // PACKET_OUTGOING / PACKET_HOST
      put16(o + 2, 1);             // ARPHRD_ETHER
      put16(o + 4, 6);
      std::memcpy(o + 6, s.data(), 6);
      o[12] = o[13] = 0;
      put16(o + 14, ethertype);
      o += 16;
      break;
    }
    case Link::kSll2: {
      auto s = macOf(src);
      put16(o, ethertype);
      put16(o + 2, 0);
      put32(o + 4, 2);  // interface index 2
      put16(o + 8, 1);  // ARPHRD_ETHER
      o[10] = outgoing ? 4 : 0;
      o[11] = 6;
      std::memcpy(o + 12, s.data(), 6);
      o[18] = o[19] = 0;
      o += 20;
      break;
    }
    case Link::kNull: {
      // Host byte order of the writer, like the file header (libpcap writes native order).
      const uint32_t af = ethertype == kEtherIpv6 ? 30 : 2;  // AF_INET6 (Darwin) / AF_INET
      std::memcpy(o, &af, 4);
      o += 4;
      break;
    }
    case Link::kRaw:
      break;
  }
  return static_cast<size_t>(o - out);
}

void FrameWriter::dump(int64_t ts_us, const uint8_t* data, size_t len) {
  pcap_pkthdr hdr{};
  hdr.ts.tv_sec = static_cast<time_t>(ts_us / 1000000);
  hdr.ts.tv_usec = static_cast<suseconds_t>(ts_us % 1000000);
  hdr.caplen = hdr.len = static_cast<bpf_u_int32>(len);
  pcap_dump(static_cast<u_char*>(dumper_), &hdr, data);
  ++frames_;
  bytes_ += len + 16;
}

void FrameWriter::emitFrame(int64_t ts_us, const Node& src, const Node& dst, uint16_t ethertype,
                            const uint8_t* ip, size_t ip_len) {
  if (opt_.encap != Encap::kNone) return emitEncapsulated(ts_us, src, dst, ethertype, ip, ip_len);
  frame_.resize(64 + ip_len);
  const size_t l = linkHeader(frame_.data(), src, dst, ethertype);
  std::memcpy(frame_.data() + l, ip, ip_len);
  dump(ts_us, frame_.data(), l + ip_len);
}

// The common case (UDP, no fragmentation) built in place with a single copy of the payload.
void FrameWriter::sendUdpFast(int64_t ts_us, const Node& src, const Node& dst,
                              std::string_view payload, const Corruption& c, int64_t payload_sum) {
  const bool v6 = opt_.ipv6;
  const size_t iph = v6 ? 40 : (opt_.ip_options ? 24 : 20);
  const size_t udp_len = 8 + payload.size();
  // Record header + link + IP + UDP headers in one small buffer; the payload is written from
  // where it is (pcap_dump is two fwrites too, so the file is the same).
  uint8_t hdr[16 + 64 + 48 + 8];
  uint8_t* f = hdr + 16;
  const size_t l = linkHeader(f, src, dst, v6 ? kEtherIpv6 : kEtherIpv4);
  uint8_t* h = f + l;
  uint8_t* u = h + iph;
  put16(u, src.port);
  put16(u + 2, dst.port);
  put16(u + 4, static_cast<uint16_t>(udp_len));
  put16(u + 6, 0);
  uint32_t sum = pseudoSum(src, dst, v6, kProtoUdp, udp_len);
  sum = checksumAdd(sum, u, 8);
  sum += payload_sum >= 0
             ? static_cast<uint32_t>(payload_sum)
             : checksumAdd(0, reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  const uint16_t ck = checksumFinish(sum);
  put16(u + 6, ck == 0 ? 0xffff : ck);  // RFC 768: a computed 0 is sent as all ones
  if (c.udp_len >= 0) put16(u + 4, static_cast<uint16_t>(c.udp_len));
  std::memset(h, 0, iph);
  if (v6) {
    h[0] = 0x60;
    put16(h + 4, static_cast<uint16_t>(c.ip_total_len >= 0 ? c.ip_total_len : udp_len));
    h[6] = kProtoUdp;
    h[7] = 64;
    std::memcpy(h + 8, src.v6.data(), 16);
    std::memcpy(h + 24, dst.v6.data(), 16);
  } else {
    h[0] = static_cast<uint8_t>(0x40 | (c.ihl >= 0 ? (c.ihl & 0x0f) : iph / 4));
    put16(h + 2, static_cast<uint16_t>(c.ip_total_len >= 0 ? c.ip_total_len : iph + udp_len));
    put16(h + 4, static_cast<uint16_t>(nextIpId()));
    h[8] = 64;
    h[9] = kProtoUdp;
    std::memcpy(h + 12, src.v4.data(), 4);
    std::memcpy(h + 16, dst.v4.data(), 4);
    if (opt_.ip_options) {
      h[20] = 0x94;  // Router Alert (RFC 2113): harmless, and makes the IHL 6
      h[21] = 0x04;
    }
    put16(h + 10, checksumFinish(checksumAdd(0, h, iph)));
  }
  const size_t head = l + iph + 8;
  const auto len = static_cast<uint32_t>(head + payload.size());
  // pcap record header (pcap-savefile(5)): host byte order, like the file header libpcap wrote.
  const uint32_t rec[4] = {static_cast<uint32_t>(ts_us / 1000000),
                           static_cast<uint32_t>(ts_us % 1000000), len, len};
  std::memcpy(hdr, rec, 16);
  // Only this thread writes to file_: skip stdio's per-call locking.
  fwrite_unlocked(hdr, 1, 16 + head, file_);
  fwrite_unlocked(payload.data(), 1, payload.size(), file_);
  ++frames_;
  bytes_ += len + 16;
}

}  // namespace mcn::gen

namespace mcn::gen {

// RFC 4303 §2.4: padding 1, 2, 3 ... so that the payload, the padding and the two trailer octets
// end on a 4-byte boundary, pad length, next header, then an ICV of `icv` bytes (NULL encryption:
// the bytes are what a MAC would look like, not a MAC; nothing checks it). `payload_start` is
// where the ESP payload begins in `t`.
void FrameWriter::espTrailer(std::vector<uint8_t>& t, uint8_t next, size_t icv,
                             size_t payload_start) {
  const size_t payload = t.size() - payload_start;
  const size_t pad = (4 - (payload + 2) % 4) % 4;
  for (size_t i = 1; i <= pad; ++i) t.push_back(static_cast<uint8_t>(i));
  t.push_back(static_cast<uint8_t>(pad));
  t.push_back(next);
  for (size_t i = 0; i < icv; ++i) t.push_back(static_cast<uint8_t>(0xa0 + i));
}

// --encap esp: transport mode. The packet keeps its IP header (protocol / next header 50, new
// length, IPv4 checksum); ESP wraps the transport header and the payload.
void FrameWriter::emitEspTransport(int64_t ts_us, const Node& src, const Node& dst,
                                   uint16_t ethertype, const uint8_t* ip, size_t ip_len) {
  const bool v6 = ethertype == kEtherIpv6;
  const size_t iph = v6 ? 40 : size_t{ip[0] & 0x0fu} * 4;
  const uint8_t next = v6 ? ip[6] : ip[9];
  std::vector<uint8_t> p(ip, ip + iph);
  const uint8_t spi[8] = {0, 0, 0x10, 0, 0, 0, 0, 0};
  p.insert(p.end(), spi, spi + 8);
  put32(p.data() + iph + 4, ++tunnel_seq_);
  p.insert(p.end(), ip + iph, ip + ip_len);
  espTrailer(p, next, 12, iph + 8);
  if (v6) {
    p[6] = 50;
    put16(p.data() + 4, static_cast<uint16_t>(p.size() - 40));
  } else {
    p[9] = 50;
    put16(p.data() + 2, static_cast<uint16_t>(p.size()));
    put16(p.data() + 10, 0);
    put16(p.data() + 10, checksumFinish(checksumAdd(0, p.data(), iph)));
  }
  frame_.resize(64 + p.size());
  const size_t l = linkHeader(frame_.data(), src, dst, ethertype);
  std::memcpy(frame_.data() + l, p.data(), p.size());
  dump(ts_us, frame_.data(), l + p.size());
}

// --encap: the IP packet (or an Ethernet frame around it) inside a tunnel, inside an Ethernet
// frame between two tunnel endpoints.
void FrameWriter::emitEncapsulated(int64_t ts_us, const Node& src, const Node& dst,
                                   uint16_t ethertype, const uint8_t* ip, size_t ip_len) {
  const bool carries_ethernet = opt_.encap == Encap::kGretap || opt_.encap == Encap::kErspan2 ||
                                opt_.encap == Encap::kErspan3 || opt_.encap == Encap::kVxlan;
  if (opt_.encap == Encap::kEsp) return emitEspTransport(ts_us, src, dst, ethertype, ip, ip_len);
  // What the tunnel carries.
  inner_.resize(64 + ip_len);
  size_t n = 0;
  if (carries_ethernet) n = linkHeader(inner_.data(), src, dst, ethertype);  // with the VLANs
  std::memcpy(inner_.data() + n, ip, ip_len);
  inner_.resize(n + ip_len);

  // Tunnel header, then outer IP, then the outer Ethernet header, built back to front.
  std::vector<uint8_t> t;
  auto add16 = [&](uint16_t v) {
    t.push_back(static_cast<uint8_t>(v >> 8));
    t.push_back(static_cast<uint8_t>(v));
  };
  auto add32 = [&](uint32_t v) {
    add16(static_cast<uint16_t>(v >> 16));
    add16(static_cast<uint16_t>(v));
  };
  uint8_t outer_proto = 0;  // IP protocol of the outer header; 0 = no outer IP (MPLS, PPPoE)
  uint16_t link_type = kEtherIpv4;
  switch (opt_.encap) {
    case Encap::kGre:
      add16(0x2000);  // K
      add16(ethertype);
      add32(100);  // key
      outer_proto = 47;
      break;
    case Encap::kGretap:
      add16(0x2000);
      add16(0x6558);
      add32(100);
      outer_proto = 47;
      break;
    case Encap::kErspan2:
      add16(0x1000);  // S
      add16(0x88be);
      add32(tunnel_seq_++);
      add16(0x1000);  // ver 1, VLAN 0
      add16(1);       // COS 0, En 0, T 0, session 1
      add32(0);       // reserved, index 0
      outer_proto = 47;
      break;
    case Encap::kErspan3:
      add16(0x1000);
      add16(0x22eb);
      add32(tunnel_seq_++);
      add16(0x2000);                                        // ver 2, VLAN 0
      add16(1);                                             // COS 0, BSO 0, T 0, session 1
      add32(static_cast<uint32_t>(ts_us / 100));            // timestamp, 100 us granularity (Gra 0)
      add16(0);                                             // SGT
      add16(static_cast<uint16_t>(0x8000 | (1 << 4) | 1));  // P 1, FT 0, HwID 1, D 0, Gra 0, O 1
      add32(0x0c000000);                                    // platform subheader: platform id 3
      add32(0);
      outer_proto = 47;
      break;
    case Encap::kVxlan: {
      // UDP source port from the inner flow, as RFC 7348 §5 suggests; checksum 0 (allowed).
      add16(static_cast<uint16_t>(49152 + ((src.v4[3] * 31u + dst.v4[3]) & 0x3fff)));
      add16(4789);
      add16(static_cast<uint16_t>(16 + inner_.size()));
      add16(0);
      add32(0x08000000);  // I flag
      add32(5001u << 8);  // VNI
      outer_proto = 17;
      break;
    }
    case Encap::kMpls:
      add32((1000u << 12) | 64u);          // transport label
      add32((2000u << 12) | 0x100u | 64);  // service label, bottom of stack
      link_type = 0x8847;
      break;
    case Encap::kPppoe: {
      add16(0x1100);  // ver 1 type 1, code 0 (session data)
      add16(0x0001);  // session id
      add16(static_cast<uint16_t>(2 + inner_.size()));
      add16(ethertype == kEtherIpv6 ? 0x0057 : 0x0021);
      link_type = 0x8864;
      break;
    }
    case Encap::kIpip:
      outer_proto = ethertype == kEtherIpv6 ? 41 : 4;
      break;
    case Encap::kGrePpp:
    case Encap::kGrePppPfc: {
      const bool full = opt_.encap == Encap::kGrePpp;
      const size_t ppp_len = (full ? 4 : 1) + inner_.size();
      add16(static_cast<uint16_t>(0x3001 | (full ? 0x0080 : 0)));  // K S [A] ver 1
      add16(0x880b);
      add16(static_cast<uint16_t>(ppp_len));  // payload length
      add16(0x4242);                          // call id
      add32(tunnel_seq_++);
      if (full) {
        add32(tunnel_seq_ > 1 ? tunnel_seq_ - 2 : 0);  // acknowledgement of the peer's packets
        add16(0xff03);                                 // RFC 1662 address and control
        add16(ethertype == kEtherIpv6 ? 0x0057 : 0x0021);
      } else {
        t.push_back(ethertype == kEtherIpv6 ? 0x57 : 0x21);
      }
      outer_proto = 47;
      break;
    }
    case Encap::kGtpu:
    case Encap::kGtpu6: {
      // TS 29.281 §5.1-5.2: E and S, sequence number, N-PDU 0, next extension 0x85 (PDU session
      // container, TS 38.415: UL PDU session information, QFI 5), 4 octets, then no more.
      add16(static_cast<uint16_t>(2152));
      add16(2152);
      add16(static_cast<uint16_t>(8 + 16 + inner_.size()));
      add16(0);
      add16(0x36ff);  // version 1, PT 1, E, S | G-PDU
      add16(static_cast<uint16_t>(8 + inner_.size()));
      add32(0x1000a);  // TEID
      add16(static_cast<uint16_t>(tunnel_seq_++));
      add16(0x0085);
      add32(0x01100500);  // length 1, PDU type 1 (UL), QFI 5, next type 0
      outer_proto = 17;
      if (opt_.encap == Encap::kGtpu6) link_type = kEtherIpv6;
      break;
    }
    case Encap::kEsp16: {
      add32(0x2000);  // SPI
      add32(++tunnel_seq_);
      t.insert(t.end(), inner_.begin(), inner_.end());
      inner_.clear();
      espTrailer(t, ethertype == kEtherIpv6 ? 41 : 4, 16, 8);
      outer_proto = 50;
      break;
    }
    case Encap::kIp6ip:
      outer_proto = ethertype == kEtherIpv6 ? 41 : 4;
      link_type = kEtherIpv6;
      break;
    case Encap::kEsp:  // emitEspTransport
    case Encap::kNone:
      break;
  }
  t.insert(t.end(), inner_.begin(), inner_.end());

  std::vector<uint8_t> o;
  if (outer_proto != 0 && link_type == kEtherIpv4) {
    o.assign(20, 0);
    o[0] = 0x45;
    put16(o.data() + 2, static_cast<uint16_t>(20 + t.size()));
    put16(o.data() + 4, static_cast<uint16_t>(outer_id_++));
    put16(o.data() + 6, 0x4000);  // DF
    o[8] = 64;
    o[9] = outer_proto;
    const uint8_t a[4] = {198, 18, 0, 1}, b[4] = {198, 18, 0, 2};
    std::memcpy(o.data() + 12, a, 4);
    std::memcpy(o.data() + 16, b, 4);
    put16(o.data() + 10, checksumFinish(checksumAdd(0, o.data(), 20)));
  } else if (outer_proto != 0) {
    o.assign(40, 0);
    o[0] = 0x60;
    put16(o.data() + 4, static_cast<uint16_t>(t.size()));
    o[6] = outer_proto;
    o[7] = 64;
    const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::memcpy(o.data() + 8, a, 16);
    std::memcpy(o.data() + 24, a, 15);
    o[39] = 2;
    if (outer_proto == 17) {
      // RFC 8200 §8.1: UDP over IPv6 needs its checksum (pseudo-header: addresses, upper-layer
      // length, next header).
      uint32_t sum = checksumAdd(0, o.data() + 8, 32);
      sum += static_cast<uint32_t>(t.size()) + 17;
      sum = checksumAdd(sum, t.data(), t.size());
      const uint16_t ck = checksumFinish(sum);
      put16(t.data() + 6, ck == 0 ? 0xffff : ck);
    }
  }
  o.insert(o.end(), t.begin(), t.end());

  // Outer Ethernet: the tunnel endpoints' MACs; the VLANs go here unless the inner frame has them.
  frame_.clear();
  const uint8_t dmac[6] = {0x02, 0x00, 198, 18, 0, 2}, smac[6] = {0x02, 0x00, 198, 18, 0, 1};
  frame_.insert(frame_.end(), dmac, dmac + 6);
  frame_.insert(frame_.end(), smac, smac + 6);
  if (!carries_ethernet) {
    for (const VlanTag& v : opt_.vlans) {
      uint8_t tag[4];
      put16(tag, v.tpid);
      put16(tag + 2, v.vid & 0x0fff);
      frame_.insert(frame_.end(), tag, tag + 4);
    }
  }
  uint8_t lt[2];
  put16(lt, link_type);
  frame_.insert(frame_.end(), lt, lt + 2);
  frame_.insert(frame_.end(), o.begin(), o.end());
  dump(ts_us, frame_.data(), frame_.size());
}

}  // namespace mcn::gen
