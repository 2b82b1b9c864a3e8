// HEP decoding (capture/hep.h): the specification's example packet, HEPv3 chunks, HEPv2, zlib
// payloads, the authentication key, HEP inside captures (UDP and TCP to the HEP port) and the
// live listener on loopback. Packets are built here byte by byte from the HEP3 specification's
// layout, not by mcn's own code.

#include "mcn/capture/hep.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <string>

#include "decoder_harness.h"
#include "frame_builder.h"
#include "mcn/capture/hep_listener.h"
#include "tcp_test_frames.h"

namespace mcn::capture::test {
namespace {

constexpr int kHepLink = static_cast<int>(LinkType::kHep);

// The example packet of the HEP3 specification (HEP3_Network_Protocol_Specification, "Example
// of a HEP3 packet"): an IPv4/UDP SIP message from 212.202.0.1:12010 to 82.116.0.211:5060 at
// 1313440459.123456, capture id 228, its payload shortened to "INVITE sip:bob". 113 bytes.
const Bytes kSpecExample = {
    0x48, 0x45, 0x50, 0x33, 0x00, 0x71,                                      // "HEP3", 113
    0x00, 0x00, 0x00, 0x01, 0x00, 0x07, 0x02,                                // family IPv4
    0x00, 0x00, 0x00, 0x02, 0x00, 0x07, 0x11,                                // protocol UDP
    0x00, 0x00, 0x00, 0x03, 0x00, 0x0a, 0xd4, 0xca, 0x00, 0x01,              // src address
    0x00, 0x00, 0x00, 0x04, 0x00, 0x0a, 0x52, 0x74, 0x00, 0xd3,              // dst address
    0x00, 0x00, 0x00, 0x07, 0x00, 0x08, 0x2e, 0xea,                          // src port 12010
    0x00, 0x00, 0x00, 0x08, 0x00, 0x08, 0x13, 0xc4,                          // dst port 5060
    0x00, 0x00, 0x00, 0x09, 0x00, 0x0a, 0x4e, 0x49, 0x82, 0xcb,              // seconds
    0x00, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0x00, 0x01, 0xe2, 0x40,              // microseconds
    0x00, 0x00, 0x00, 0x0b, 0x00, 0x07, 0x01,                                // SIP
    0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x00, 0x00, 0xe4,              // capture id 228
    0x00, 0x00, 0x00, 0x0f, 0x00, 0x14, 0x49, 0x4e, 0x56, 0x49, 0x54, 0x45,  // payload ...
    0x20, 0x73, 0x69, 0x70, 0x3a, 0x62, 0x6f, 0x62,
};

// A whole INVITE with bare LF line ends, as some agents' payloads come.
const std::string kInviteLf =
    "INVITE sip:1013@192.0.2.20 SIP/2.0\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-hep-1\n"
    "From: <sip:1001@192.0.2.10>;tag=a1\n"
    "To: <sip:1013@192.0.2.20>\n"
    "Call-ID: hep-call-1@192.0.2.10\n"
    "CSeq: 1 INVITE\n"
    "Content-Length: 0\n"
    "\n";

void chunk(Bytes& b, uint16_t type, const Bytes& value, uint16_t vendor = 0) {
  put16(b, vendor);
  put16(b, type);
  put16(b, static_cast<uint16_t>(6 + value.size()));
  append(b, value);
}
Bytes u8(uint8_t v) { return {v}; }
Bytes u16(uint16_t v) {
  Bytes b;
  put16(b, v);
  return b;
}
Bytes u32(uint32_t v) {
  Bytes b;
  put32(b, v);
  return b;
}

struct Hep3 {
  bool v6 = false;
  uint8_t proto = 17;
  uint8_t proto_type = 1;
  uint32_t sec = 1'700'000'100;
  uint32_t usec = 250'000;
  std::optional<uint32_t> capture_id = 2001;
  std::optional<std::string> key;
  std::string payload = kInviteLf;
  bool compress = false;
  Bytes extra;  // chunks put before the payload

  Bytes build() const {
    Bytes c;
    chunk(c, 0x01, u8(v6 ? 10 : 2));
    chunk(c, 0x02, u8(proto));
    if (v6) {
      Bytes s(16, 0), d(16, 0);
      s[0] = 0x20, s[1] = 0x01, s[2] = 0x0d, s[3] = 0xb8, s[15] = 1;
      d[0] = 0x20, d[1] = 0x01, d[2] = 0x0d, d[3] = 0xb8, d[15] = 2;
      chunk(c, 0x05, s);
      chunk(c, 0x06, d);
    } else {
      chunk(c, 0x03, {192, 0, 2, 10});
      chunk(c, 0x04, {192, 0, 2, 20});
    }
    chunk(c, 0x07, u16(5060));
    chunk(c, 0x08, u16(5062));
    chunk(c, 0x09, u32(sec));
    chunk(c, 0x0a, u32(usec));
    chunk(c, 0x0b, u8(proto_type));
    if (capture_id) chunk(c, 0x0c, u32(*capture_id));
    if (key) chunk(c, 0x0e, bytesOf(*key));
    append(c, extra);
    if (compress) {
      uLongf n = compressBound(payload.size());
      Bytes z(n);
      compress2(z.data(), &n, reinterpret_cast<const Bytef*>(payload.data()), payload.size(), 6);
      z.resize(n);
      chunk(c, 0x10, z);
    } else {
      chunk(c, 0x0f, bytesOf(payload));
    }
    Bytes b = bytesOf("HEP3");
    put16(b, static_cast<uint16_t>(6 + c.size()));
    append(b, c);
    return b;
  }
};

// HEPv2 as Kamailio's sipcapture hep.h lays it out: 8-byte header, addresses, then seconds,
// microseconds (sender byte order: little-endian) and a 16-bit capture id plus padding.
Bytes hep2(std::string_view payload, uint16_t capture_id = 7) {
  Bytes b = {2, 28, 2, 17};
  put16(b, 5060);
  put16(b, 5062);
  append(b, Bytes{192, 0, 2, 10});
  append(b, Bytes{192, 0, 2, 20});
  put32le(b, 1'700'000'200);
  put32le(b, 5);
  put8(b, static_cast<uint8_t>(capture_id & 0xff));
  put8(b, static_cast<uint8_t>(capture_id >> 8));
  put16(b, 0);
  append(b, payload);
  return b;
}

uint64_t drops(const Harness& h) {
  uint64_t n = 0;
  for (const char* c :
       {"hep.bad_version", "hep.truncated", "hep.bad_length", "hep.bad_chunk", "hep.no_address",
        "hep.no_payload", "hep.auth_failed", "hep.decompress_failed", "hep.too_big",
        "hep.other_proto_type", "hep.not_sip"}) {
    n += h.count(c);
  }
  return n;
}

TEST(Hep, SpecificationExamplePacket) {
  HepPacket p;
  std::string scratch;
  ASSERT_EQ(decodeHep(kSpecExample, HepConfig{}, p, scratch), HepStatus::kOk);
  EXPECT_EQ(p.version, 3);
  EXPECT_EQ(p.src.toString(), "212.202.0.1:12010");
  EXPECT_EQ(p.dst.toString(), "82.116.0.211:5060");
  EXPECT_EQ(p.ip_proto, 17);
  EXPECT_EQ(p.proto_type, 1);
  EXPECT_TRUE(p.has_time);
  EXPECT_EQ(p.ts_us, 1'313'440'459'123'456);
  EXPECT_TRUE(p.has_capture_id);
  EXPECT_EQ(p.capture_id, 228u);
  EXPECT_EQ(p.payload, "INVITE sip:bob");

  // Through the decoder: the shortened payload is not a whole SIP start line, so it is counted
  // and not handed on.
  Harness h;
  h.decode(kHepLink, kSpecExample);
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.count("hep.packets"), 1u);
  EXPECT_EQ(h.count("hep.not_sip"), 1u);
  uint64_t n228 = 0;
  h.decoder().forEachHepCaptureId([&](uint32_t id, uint64_t n) {
    if (id == 228) n228 = n;
  });
  EXPECT_EQ(n228, 1u);
}

TEST(Hep, MessageTakesTheAgentsAddressesTimeAndCaptureId) {
  Harness h;
  ASSERT_TRUE(h.decode(kHepLink, Hep3{}.build(), /*arrival*/ 1'700'000'999'000'000));
  ASSERT_EQ(h.out.size(), 1u);
  const SipPayload& m = h.out[0];
  EXPECT_EQ(m.src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(m.dst.toString(), "192.0.2.20:5062");
  EXPECT_EQ(m.ts_us, 1'700'000'100'250'000);  // the agent's stamp, not the arrival
  EXPECT_EQ(m.transport, Transport::kUdp);
  EXPECT_TRUE(m.has_capture_id);
  EXPECT_EQ(m.capture_id, 2001u);
  EXPECT_EQ(m.bytes, kInviteLf);  // LF-only line ends are handed on as they are
  EXPECT_EQ(h.count("hep.sip"), 1u);
  EXPECT_EQ(drops(h), 0u);
}

TEST(Hep, Ipv6AndTransports) {
  Harness h;
  Hep3 a;
  a.v6 = true;
  a.proto = 6;
  h.decode(kHepLink, a.build());
  Hep3 b;
  b.proto = 22;  // TLS by Kamailio's and Homer's convention
  h.decode(kHepLink, b.build());
  Hep3 c;
  c.proto = 132;
  h.decode(kHepLink, c.build());
  ASSERT_EQ(h.out.size(), 3u);
  EXPECT_EQ(h.out[0].src.toString(), "[2001:db8::1]:5060");
  EXPECT_EQ(h.out[0].dst.toString(), "[2001:db8::2]:5062");
  EXPECT_EQ(h.out[0].transport, Transport::kTcp);
  EXPECT_EQ(h.out[1].transport, Transport::kTcp);
  EXPECT_EQ(h.out[2].transport, Transport::kSctp);
}

TEST(Hep, VendorAndUnknownChunksAreSkipped) {
  Hep3 a;
  chunk(a.extra, 0x0011, bytesOf("correlation-id"));       // generic, not used
  chunk(a.extra, 0x0080, bytesOf("vendor data"), 0x0008);  // vendor chunk
  chunk(a.extra, 0x7777, Bytes(40, 0xee));                 // unknown generic type
  chunk(a.extra, 0x0003, {1, 2, 3, 4}, 0x0005);            // a vendor's own type 3: not an address
  Harness h;
  h.decode(kHepLink, a.build());
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].src.toString(), "192.0.2.10:5060");
}

TEST(Hep, CompressedPayload) {
  Hep3 a;
  a.compress = true;
  Harness h;
  h.decode(kHepLink, a.build());
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInviteLf);
  EXPECT_EQ(h.count("hep.compressed"), 1u);

  // Corrupt: the deflate data cut in half (every length field still consistent).
  Harness h2;
  Hep3 z;
  z.compress = true;
  z.payload = std::string(2000, 'x');
  uLongf n = compressBound(z.payload.size());
  Bytes deflated(n);
  compress2(deflated.data(), &n, reinterpret_cast<const Bytef*>(z.payload.data()), z.payload.size(),
            6);
  deflated.resize(n / 2);
  Hep3 cut = z;
  cut.compress = false;
  cut.payload.clear();
  Bytes pkt = cut.build();
  pkt.resize(pkt.size() - 6);  // drop the empty payload chunk
  chunk(pkt, 0x10, deflated);
  pkt[4] = static_cast<uint8_t>(pkt.size() >> 8);
  pkt[5] = static_cast<uint8_t>(pkt.size());
  h2.decode(kHepLink, pkt);
  EXPECT_TRUE(h2.out.empty());
  EXPECT_EQ(h2.count("hep.decompress_failed"), 1u);
}

TEST(Hep, DecompressionIsBounded) {
  // 1 MiB of one byte deflates to about 1 KiB: inflated only up to max_payload_bytes.
  Hep3 a;
  a.compress = true;
  a.payload = "INVITE sip:x@y SIP/2.0\r\n" + std::string(1 << 20, 'a');
  Harness h;
  h.decode(kHepLink, a.build());
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.count("hep.too_big"), 1u);
}

TEST(Hep, BadLengthsAreCountedNeverRead) {
  Harness h;
  Bytes good = Hep3{}.build();
  // A chunk length below its own header.
  Bytes a = good;
  a[6 + 4] = 0, a[6 + 5] = 3;
  h.decode(kHepLink, a);
  EXPECT_EQ(h.count("hep.bad_length"), 1u);
  // A total length above the bytes there.
  Bytes b = good;
  b[4] = 0xff, b[5] = 0xff;
  h.decode(kHepLink, b);
  EXPECT_EQ(h.count("hep.truncated"), 1u);
  // A chunk running past the total length.
  Bytes c = good;
  c[6 + 4] = 0x0f, c[6 + 5] = 0xff;
  h.decode(kHepLink, c);
  EXPECT_EQ(h.count("hep.truncated"), 2u);
  // An address chunk of the wrong size.
  Hep3 d;
  chunk(d.extra, 0x0003, {1, 2, 3});
  h.decode(kHepLink, d.build());
  EXPECT_EQ(h.count("hep.bad_chunk"), 1u);
  // Not HEP at all.
  h.decode(kHepLink, bytesOf("HEP4 and then some"));
  EXPECT_EQ(h.count("hep.bad_version"), 1u);
  // No payload chunk, no address.
  Hep3 e;
  e.payload.clear();
  h.decode(kHepLink, e.build());
  EXPECT_EQ(h.count("hep.no_payload"), 1u);
  EXPECT_TRUE(h.out.empty());
}

TEST(Hep, EveryTruncationIsCountedOnce) {
  const Bytes good = Hep3{}.build();
  Harness h;
  for (size_t n = 0; n < good.size(); ++n) {
    h.decode(kHepLink, Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
  }
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.count("hep.packets"), good.size());
  EXPECT_EQ(drops(h), good.size());
}

TEST(Hep, NonSipPayloadTypesAreCounted) {
  Hep3 a;
  a.proto_type = 5;  // RTCP
  a.payload = "\x80\xc8\x00\x06";
  Harness h;
  h.decode(kHepLink, a.build());
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.count("hep.other_proto_type"), 1u);
}

TEST(Hep, AuthenticationKey) {
  DecoderConfig cfg;
  cfg.hep.auth_key = "s3cret";
  Harness h(cfg);
  Hep3 good;
  good.key = "s3cret";
  h.decode(kHepLink, good.build());
  Hep3 nul = good;
  nul.key = std::string("s3cret\0", 7);  // a C agent counting the terminating NUL
  h.decode(kHepLink, nul.build());
  EXPECT_EQ(h.out.size(), 2u);
  Hep3 wrong;
  wrong.key = "s3creT";
  h.decode(kHepLink, wrong.build());
  Hep3 longer;
  longer.key = "s3cret!";
  h.decode(kHepLink, longer.build());
  h.decode(kHepLink, Hep3{}.build());   // no key
  h.decode(kHepLink, hep2(kInviteLf));  // HEPv2 cannot carry one
  EXPECT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.count("hep.auth_failed"), 4u);
}

TEST(Hep, Version2) {
  Harness h;
  h.decode(kHepLink, hep2(kInviteLf, 0x0102));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(h.out[0].dst.toString(), "192.0.2.20:5062");
  EXPECT_EQ(h.out[0].ts_us, 1'700'000'200'000'005);
  EXPECT_EQ(h.out[0].capture_id, 0x0102u);
  EXPECT_EQ(h.count("hep.v2"), 1u);
  // Cut inside the time header.
  Bytes cut = hep2(kInviteLf);
  cut.resize(24);  // 8-byte header, 8 of addresses, 8 of the 12-byte time header
  h.decode(kHepLink, cut);
  EXPECT_EQ(h.count("hep.truncated"), 1u);
}

Bytes hepUdpFrame(const Bytes& hep, uint16_t dport = 9060) {
  Ipv4 ip;
  ip.src = {198, 18, 30, 1};
  ip.dst = {198, 18, 30, 2};
  return ethernet(kIpv4Type, ipv4(ip, udp(40123, dport, hep)));
}

TEST(Hep, UdpToTheHepPortInACapture) {
  Harness h;
  h.decode(static_cast<int>(LinkType::kEthernet), hepUdpFrame(Hep3{}.build()));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].src.toString(), "192.0.2.10:5060");  // the inner message's, not 198.18.30.1
  EXPECT_EQ(h.out[0].capture_id, 2001u);
  // Not a HEP port: the datagram is plain UDP that is not SIP.
  h.decode(static_cast<int>(LinkType::kEthernet), hepUdpFrame(Hep3{}.build(), 9061));
  EXPECT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.count("udp.not_sip"), 1u);
  // Configured ports only.
  DecoderConfig cfg;
  cfg.hep.ports = {9061};
  Harness h2(cfg);
  h2.decode(static_cast<int>(LinkType::kEthernet), hepUdpFrame(Hep3{}.build(), 9061));
  EXPECT_EQ(h2.out.size(), 1u);
}

TEST(Hep, TcpStreamFramedByLengthWithResync) {
  TcpDirection d;
  d.dport = 9060;
  Hep3 a, b, c;
  b.payload.replace(b.payload.find("hep-call-1"), 10, "hep-call-2");
  c.payload.replace(c.payload.find("hep-call-1"), 10, "hep-call-3");
  const Bytes pa = a.build(), pb = b.build(), pc = c.build();
  std::string stream(pa.begin(), pa.end());
  stream += "garbage between packets";
  stream.append(pb.begin(), pb.end());
  Harness h;
  h.decode(static_cast<int>(LinkType::kEthernet), d.syn());
  // Three segments cutting packets in the middle.
  const size_t cut1 = 50, cut2 = stream.size() - 30;
  h.decode(static_cast<int>(LinkType::kEthernet), d.data(0, stream.substr(0, cut1)));
  h.decode(static_cast<int>(LinkType::kEthernet), d.data(cut1, stream.substr(cut1, cut2 - cut1)));
  EXPECT_EQ(h.out.size(), 1u);
  // A retransmission of bytes already taken changes nothing.
  h.decode(static_cast<int>(LinkType::kEthernet), d.data(0, stream.substr(0, cut1)));
  h.decode(static_cast<int>(LinkType::kEthernet), d.data(cut2, stream.substr(cut2)));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_NE(h.out[1].bytes.find("hep-call-2"), std::string::npos);
  EXPECT_EQ(h.count("hep.tcp_resync"), 1u);
  EXPECT_EQ(h.count("hep.tcp_skipped_bytes"), std::string("garbage between packets").size());
  // A gap: the bytes after it start mid-packet; the next whole packet is found again.
  const uint32_t next = static_cast<uint32_t>(stream.size());
  std::string after(pa.begin() + 20, pa.end());
  after.append(pc.begin(), pc.end());
  h.decode(static_cast<int>(LinkType::kEthernet), d.data(next + 100, after));
  ASSERT_EQ(h.out.size(), 3u);
  EXPECT_NE(h.out[2].bytes.find("hep-call-3"), std::string::npos);
  EXPECT_EQ(h.count("hep.tcp_gaps"), 1u);
}

TEST(Hep, StreamFramerRefusesImplausibleLengths) {
  HepStreamFramer f(1000);
  Bytes junk = bytesOf("HEP3");
  put16(junk, 4000);  // above the cap: not a packet start
  Bytes good = Hep3{}.build();
  append(junk, good);
  f.append(junk);
  auto p = f.next();
  ASSERT_EQ(p.size(), good.size());
  EXPECT_TRUE(std::equal(p.begin(), p.end(), good.begin()));
  EXPECT_TRUE(f.next().empty());
  EXPECT_EQ(f.resyncs(), 1u);
  EXPECT_EQ(f.skipped_bytes(), 6u);
}

TEST(HepListener, ParsesAddresses) {
  std::string host, err;
  uint16_t port = 0;
  ASSERT_TRUE(parseHepAddress("127.0.0.1", host, port, err));
  EXPECT_EQ(port, 9060);
  ASSERT_TRUE(parseHepAddress("[::1]:9999", host, port, err));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9999);
  ASSERT_TRUE(parseHepAddress(":9061", host, port, err));
  EXPECT_EQ(host, "127.0.0.1");
  ASSERT_TRUE(parseHepAddress("9062", host, port, err));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9062);
  EXPECT_FALSE(parseHepAddress("::1:9060", host, port, err));
  EXPECT_FALSE(parseHepAddress("localhost:9060", host, port, err));
  EXPECT_FALSE(parseHepAddress("127.0.0.1:70000", host, port, err));
}

// Real sockets on loopback (no privilege): one packet by UDP, two by TCP in one write with junk
// between them, all decoded by a FrameDecoder fed from dispatch().
TEST(HepListener, UdpAndTcpOnLoopback) {
  HepListenerOptions o;
  o.address = "127.0.0.1:0";
  HepListener l(o);
  ASSERT_NE(l.port(), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(l.port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  const Bytes one = Hep3{}.build();
  int u = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_EQ(::sendto(u, one.data(), one.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(one.size()));
  ::close(u);

  int t = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(t, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  Bytes stream = one;
  append(stream, bytesOf("\r\n\r\n"));
  Hep3 b;
  b.capture_id = 77;
  append(stream, b.build());
  ASSERT_EQ(::send(t, stream.data(), stream.size(), 0), static_cast<ssize_t>(stream.size()));
  ::close(t);

  Harness h;
  // Bounded by rounds, not time: each dispatch waits at most 100 ms for the next event.
  for (int round = 0; round < 50 && h.out.size() < 3; ++round) {
    ASSERT_GE(l.dispatch(
                  [&](const Frame& f) {
                    EXPECT_EQ(f.link_type, kHepLink);
                    h.decode(f.link_type, Bytes(f.data.begin(), f.data.end()), f.ts_us);
                  },
                  256, 100),
              0);
  }
  ASSERT_EQ(h.out.size(), 3u);
  EXPECT_EQ(h.out[2].capture_id, 77u);
  const HepListenerStats st = l.stats();
  EXPECT_EQ(st.datagrams, 1u);
  EXPECT_EQ(st.tcp_accepted, 1u);
  EXPECT_EQ(st.tcp_packets, 2u);
  EXPECT_EQ(st.tcp_resyncs, 1u);
  EXPECT_EQ(st.tcp_skipped_bytes, 4u);
}

}  // namespace
}  // namespace mcn::capture::test
