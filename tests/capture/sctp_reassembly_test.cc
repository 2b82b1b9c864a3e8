// SIP over SCTP split across DATA / I-DATA chunks (RFC 9260 §6.9, RFC 8260 §2.1): the reassembler
// on its own (order, reversed, shuffled with duplicates on random seeds, unordered chunks, I-DATA
// interleaving, TSN wrap-around, every bound and the timeout) and through the FrameDecoder
// (bundled chunks, lying chunk lengths, the association key, end of input).

#include "../../capture/src/sctp_reassembly.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "decoder_harness.h"
#include "encap_builder.h"

namespace mcn::capture::test {
namespace {

using detail::Counter;
using detail::Counters;
using detail::SctpAssocKey;
using detail::SctpChunkKind;
using detail::SctpFragment;
using detail::SctpReassembler;

constexpr int64_t kT0 = 1'700'000'000'000'000;

// An INVITE with a multipart SDP + ISUP body (RFC 3204), as an MGCF sends towards the IMS: the
// user message that does not fit one chunk.
std::string bigInvite(int n = 0, size_t pad = 3000) {
  std::string body =
      "--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n"
      "v=0\r\no=- 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 8 0\r\n" +
      std::string(pad, 'a') +
      "\r\n--unique-boundary-1\r\nContent-Type: application/ISUP;version=itu-t92+\r\n"
      "Content-Disposition: signal;handling=optional\r\n\r\n\x01\x10\x48\x00\x0a\x03\x02\x0a"
      "\r\n--unique-boundary-1--\r\n";
  std::string m =
      "INVITE sip:+862583001013@ims.example.net SIP/2.0\r\n"
      "Via: SIP/2.0/SCTP 192.0.2.10:5060;branch=z9hG4bK-" +
      std::to_string(n) +
      "\r\n"
      "From: <sip:+8613900101230@ims.example.net>;tag=a" +
      std::to_string(n) +
      "\r\nTo: <sip:+862583001013@ims.example.net>\r\n"
      "Call-ID: sctp-" +
      std::to_string(n) +
      "@192.0.2.10\r\nCSeq: 1 INVITE\r\n"
      "Content-Type: multipart/mixed;boundary=unique-boundary-1\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  return m;
}

SctpAssocKey assoc(uint32_t vtag = 0xabcdef01) {
  SctpAssocKey k;
  k.src.addr = {192, 0, 2, 10};
  k.src.port = 5060;
  k.dst.addr = {198, 51, 100, 20};
  k.dst.port = 5060;
  k.vtag = vtag;
  return k;
}

// `text` cut into `n` DATA fragments with TSNs from `tsn`. The fragments view a copy that lives
// as long as the test binary, so a temporary message can be passed.
std::vector<SctpFragment> dataFragments(const std::string& text, size_t n, uint32_t tsn,
                                        uint16_t stream = 0, uint16_t ssn = 0,
                                        bool unordered = false) {
  static std::deque<std::string> keep;
  const std::string& msg = keep.emplace_back(text);
  std::vector<SctpFragment> v;
  const size_t step = (msg.size() + n - 1) / n;
  for (size_t i = 0, off = 0; off < msg.size(); ++i, off += step) {
    SctpFragment f;
    f.assoc = assoc();
    f.ts_us = kT0;
    f.begin = i == 0;
    f.end = off + step >= msg.size();
    f.unordered = unordered;
    f.tsn = tsn + static_cast<uint32_t>(i);
    f.stream = stream;
    f.ssn_or_mid = unordered ? 0xbeef : ssn;  // an unordered chunk's SSN means nothing
    f.data = std::string_view(msg).substr(off, step);
    v.push_back(f);
  }
  return v;
}

// The same as I-DATA: MID `mid`, FSN 0.. (the B fragment's FSN field holds the PPID).
std::vector<SctpFragment> idataFragments(const std::string& msg, size_t n, uint32_t tsn,
                                         uint32_t mid, uint16_t stream = 0) {
  std::vector<SctpFragment> v = dataFragments(msg, n, tsn, stream);
  for (size_t i = 0; i < v.size(); ++i) {
    v[i].kind = SctpChunkKind::kIData;
    v[i].ssn_or_mid = mid;
    v[i].fsn = i == 0 ? 0x12345678 : static_cast<uint32_t>(i);  // PPID in the B fragment
  }
  return v;
}

struct Feed {
  explicit Feed(SctpReassemblyConfig cfg = {}) : r(cfg, c, 1) {}
  void add(SctpFragment f, int64_t ts = kT0) {
    f.ts_us = ts;
    if (auto m = r.addFragment(f)) out.emplace_back(*m);
  }
  void addAll(const std::vector<SctpFragment>& v, int64_t ts = kT0) {
    for (const auto& f : v) add(f, ts);
  }
  uint64_t n(Counter k) const { return c.get(k); }
  Counters c;
  SctpReassembler r;
  std::vector<std::string> out;
};

TEST(SctpReassembly, InOrderFragmentsMakeOneMessage) {
  Feed t;
  const std::string m = bigInvite();
  auto frags = dataFragments(m, 4, 100);
  for (size_t i = 0; i + 1 < frags.size(); ++i) {
    t.add(frags[i]);
    EXPECT_TRUE(t.out.empty());
  }
  t.add(frags.back());
  ASSERT_EQ(t.out.size(), 1u);
  EXPECT_EQ(t.out[0], m);
  EXPECT_EQ(t.n(Counter::kSctpReassembled), 1u);
  // Only the small record of the finished range is left.
  EXPECT_EQ(t.r.bytesHeld(), SctpReassembler::kMessageOverhead);
}

TEST(SctpReassembly, ReversedFragmentsMakeOneMessage) {
  Feed t;
  const std::string m = bigInvite();
  auto frags = dataFragments(m, 5, 7);
  std::reverse(frags.begin(), frags.end());
  t.addAll(frags);
  ASSERT_EQ(t.out.size(), 1u);
  EXPECT_EQ(t.out[0], m);
}

// Several ordered messages on several streams (DATA: each message takes consecutive TSNs), their
// fragments shuffled and some sent twice (retransmissions, mirror copies, also after the message
// is complete): every message comes out exactly once and whole, and every copy is counted.
TEST(SctpReassembly, ShuffledAndDuplicatedOnRandomSeeds) {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    Feed t;
    std::vector<std::string> msgs;
    std::vector<SctpFragment> all;
    uint32_t tsn = rng();  // anywhere, wrap-around included
    const int count = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < count; ++i) msgs.push_back(bigInvite(i, rng() % 4000));
    for (int i = 0; i < count; ++i) {
      const size_t n = 2 + rng() % 12;
      auto f = dataFragments(msgs[i], n, tsn, static_cast<uint16_t>(rng() % 3),
                             static_cast<uint16_t>(i));
      tsn += static_cast<uint32_t>(f.size());
      all.insert(all.end(), f.begin(), f.end());
    }
    const size_t originals = all.size();
    size_t dups = rng() % (originals + 1);
    for (size_t i = 0; i < dups; ++i) all.push_back(all[rng() % originals]);
    std::shuffle(all.begin(), all.end(), rng);
    t.addAll(all);
    std::vector<std::string> got = t.out, want = msgs;
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);
    EXPECT_EQ(t.n(Counter::kSctpFragDuplicates), dups);
    EXPECT_EQ(t.n(Counter::kSctpReassembled), msgs.size());
    t.r.flush();
    EXPECT_EQ(t.n(Counter::kSctpFragIncomplete), 0u);
  }
}

TEST(SctpReassembly, UnorderedChunksAreReassembledByTsnRunAlone) {
  // Two unordered messages on one stream, arriving interleaved; the SSN field is ignored.
  Feed t;
  const std::string a = bigInvite(1), b = bigInvite(2, 1500);
  auto fa = dataFragments(a, 3, 50, 1, 0, /*unordered=*/true);
  auto fb = dataFragments(b, 3, 53, 1, 0, /*unordered=*/true);
  t.addAll({fb[1], fa[0], fb[0], fa[2], fb[2], fa[1]});
  ASSERT_EQ(t.out.size(), 2u);
  EXPECT_EQ(t.out[0], b);
  EXPECT_EQ(t.out[1], a);
  // An ordered message with the same stream and TSNs elsewhere is another bucket entirely.
  auto fo = dataFragments(a, 2, 90, 1, 0);
  t.addAll(fo);
  EXPECT_EQ(t.out.size(), 3u);
}

TEST(SctpReassembly, IDataInterleavedMessagesByMidAndFsn) {
  // RFC 8260: fragments of two messages on one stream interleave, TSNs in arrival order.
  Feed t;
  const std::string a = bigInvite(1), b = bigInvite(2, 2000);
  auto fa = idataFragments(a, 4, 0, /*mid=*/10);
  auto fb = idataFragments(b, 3, 0, /*mid=*/11);
  std::vector<SctpFragment> seq = {fa[0], fb[0], fa[1], fb[1], fa[2], fb[2], fa[3]};
  uint32_t tsn = 500;
  for (auto& f : seq) f.tsn = tsn++;
  std::swap(seq[0], seq[3]);  // and some out of order
  t.addAll(seq);
  ASSERT_EQ(t.out.size(), 2u);
  EXPECT_EQ(t.out[0], b);
  EXPECT_EQ(t.out[1], a);
  // A non-first fragment claiming FSN 0 lies (RFC 8260 §2.1).
  auto bad = idataFragments(a, 2, 0, 12);
  bad[1].fsn = 0;
  t.add(bad[1]);
  EXPECT_EQ(t.n(Counter::kSctpFragMalformed), 1u);
}

TEST(SctpReassembly, InterleavedStreamsOfDataStayApart) {
  // Same SSN on two streams, same stream with two SSNs: four messages, none mixed with another.
  Feed t;
  std::vector<std::string> m = {bigInvite(1), bigInvite(2, 10), bigInvite(3, 20), bigInvite(4, 30)};
  auto f0 = dataFragments(m[0], 2, 10, 0, 5);
  auto f1 = dataFragments(m[1], 2, 12, 1, 5);
  auto f2 = dataFragments(m[2], 2, 14, 0, 6);
  auto f3 = dataFragments(m[3], 2, 16, 1, 6);
  t.addAll({f3[0], f0[0], f2[0], f1[0], f1[1], f2[1], f0[1], f3[1]});
  EXPECT_EQ(t.out, (std::vector<std::string>{m[1], m[2], m[0], m[3]}));
}

TEST(SctpReassembly, TsnWrapsAround) {
  Feed t;
  const std::string m = bigInvite();
  auto frags = dataFragments(m, 4, 0xfffffffeu);  // 0xfffffffe, 0xffffffff, 0, 1
  EXPECT_EQ(frags[2].tsn, 0u);
  std::reverse(frags.begin(), frags.end());
  t.addAll(frags);
  ASSERT_EQ(t.out.size(), 1u);
  EXPECT_EQ(t.out[0], m);
}

TEST(SctpReassembly, LateCopiesOfAFinishedMessageAreDuplicatesNotNewMessages) {
  Feed t;
  const std::string m = bigInvite();
  auto frags = dataFragments(m, 3, 1);
  t.addAll(frags);
  ASSERT_EQ(t.out.size(), 1u);
  // The sender retransmits the middle fragment 1 s later (its SACK was lost).
  t.add(frags[1], kT0 + 1'000'000);
  EXPECT_EQ(t.out.size(), 1u);
  EXPECT_EQ(t.n(Counter::kSctpFragDuplicates), 1u);
  // Nothing waits for the rest of a message that was already delivered.
  t.r.expire(kT0 + 120'000'000);
  EXPECT_EQ(t.n(Counter::kSctpFragTimeouts), 0u);
}

TEST(SctpReassembly, HolesWaitAndTimeOutOnPacketTime) {
  SctpReassemblyConfig cfg;
  cfg.timeout_ms = 30'000;
  Feed t(cfg);
  auto frags = dataFragments(bigInvite(), 3, 1);
  t.add(frags[0]);
  t.add(frags[2], kT0 + 29'000'000);  // the middle one is lost
  t.r.expire(kT0 + 30'000'000);
  EXPECT_EQ(t.n(Counter::kSctpFragTimeouts), 0u);
  t.r.expire(kT0 + 30'000'001);
  EXPECT_EQ(t.n(Counter::kSctpFragTimeouts), 1u);
  EXPECT_EQ(t.r.messagesHeld(), 0u);
  EXPECT_EQ(t.r.bytesHeld(), 0u);
  // The middle fragment arriving now starts a new wait; at end of input it is counted.
  t.add(frags[1], kT0 + 31'000'000);
  EXPECT_TRUE(t.out.empty());
  t.r.flush();
  EXPECT_EQ(t.n(Counter::kSctpFragIncomplete), 1u);
  EXPECT_EQ(t.r.bytesHeld(), 0u);
}

TEST(SctpReassembly, MessageLargerThanTheCapIsRefusedOnceAndItsRestDropped) {
  SctpReassemblyConfig cfg;
  cfg.max_message_bytes = 4096;
  Feed t(cfg);
  auto frags = dataFragments(bigInvite(0, 8000), 8, 1);
  t.addAll(frags);
  EXPECT_TRUE(t.out.empty());
  EXPECT_EQ(t.n(Counter::kSctpFragTooBig), 1u);
  EXPECT_EQ(t.r.bytesHeld(), t.r.messagesHeld() * SctpReassembler::kMessageOverhead);
  t.r.expire(kT0 + 100'000'000);
  EXPECT_EQ(t.n(Counter::kSctpFragTimeouts), 0u);  // its rest was dropped with it, not left over
  // A message under the cap still goes through.
  const std::string small = bigInvite(1, 100);
  t.addAll(dataFragments(small, 2, 100, 0, 1), kT0 + 100'000'000);
  ASSERT_EQ(t.out.size(), 1u);
  EXPECT_EQ(t.out[0], small);
}

TEST(SctpReassembly, MessagesInProgressPerAssociationAreCapped) {
  SctpReassemblyConfig cfg;
  cfg.max_messages_per_assoc = 3;
  Feed t(cfg);
  for (uint16_t ssn = 0; ssn < 5; ++ssn)
    t.add(dataFragments(bigInvite(ssn), 2, ssn * 2, 0, ssn)[0]);
  EXPECT_EQ(t.n(Counter::kSctpFragAssocFull), 2u);
  EXPECT_EQ(t.r.messagesHeld(), 3u);
  // Another association is not affected.
  auto other = dataFragments(bigInvite(9), 2, 0, 0, 0);
  for (auto& f : other) f.assoc.vtag = 0x1111;
  t.addAll(other);
  EXPECT_EQ(t.out.size(), 1u);
  // Completing one frees its place.
  t.add(dataFragments(bigInvite(0), 2, 0, 0, 0)[1]);
  EXPECT_EQ(t.out.size(), 2u);
  t.add(dataFragments(bigInvite(4), 2, 8, 0, 4)[0]);
  EXPECT_EQ(t.n(Counter::kSctpFragAssocFull), 2u);
}

TEST(SctpReassembly, TableFullAndMemoryCapDropTheOldest) {
  SctpReassemblyConfig cfg;
  cfg.max_messages = 4;
  Feed t(cfg);
  std::vector<std::vector<SctpFragment>> m;
  for (uint16_t i = 0; i < 6; ++i) {
    m.push_back(dataFragments(bigInvite(i), 2, i * 2, 0, i));
    for (auto& f : m.back()) f.assoc.vtag = i;  // six associations, so the per-association cap
    t.add(m.back()[0], kT0 + i);                // is not what refuses them
  }
  EXPECT_EQ(t.n(Counter::kSctpFragTableFull), 2u);
  EXPECT_EQ(t.r.messagesHeld(), 4u);
  t.add(m[0][1], kT0 + 10);  // the oldest was dropped: its end waits alone
  t.add(m[5][1], kT0 + 11);  // the newest completes
  ASSERT_EQ(t.out.size(), 1u);
  EXPECT_EQ(t.out[0], bigInvite(5));

  SctpReassemblyConfig small;
  small.max_bytes = 3 * SctpReassembler::kMessageOverhead + 2 * SctpReassembler::kFragmentOverhead +
                    bigInvite(0).size() + 200;  // room for about two first halves
  Feed u(small);
  for (uint16_t i = 0; i < 3; ++i) u.add(m[i][0], kT0 + i);
  EXPECT_EQ(u.n(Counter::kSctpFragMemoryCap), 1u);
  EXPECT_LE(u.r.peakBytesHeld(), small.max_bytes);
  // A fragment larger than the whole table is refused.
  std::string huge(small.max_bytes, 'x');
  auto hf = dataFragments("INVITE sip:a@b SIP/2.0\r\n" + huge, 1, 900);
  hf[0].end = false;
  u.add(hf[0]);
  EXPECT_EQ(u.n(Counter::kSctpFragMemoryCap), 2u);
  EXPECT_LE(u.r.peakBytesHeld(), small.max_bytes);
}

TEST(SctpReassembly, NonSipMessagesAreNotHeld) {
  Feed t;
  std::string diameter = "\x01\x00\x10\x00" + std::string(3000, 'd');
  auto frags = dataFragments(diameter, 3, 1);
  t.addAll(frags);
  EXPECT_TRUE(t.out.empty());
  EXPECT_EQ(t.n(Counter::kSctpNotSip), 1u);
  EXPECT_EQ(t.r.bytesHeld(), t.r.messagesHeld() * SctpReassembler::kMessageOverhead);
  // Its later fragments arriving first are held only until its B says what it is.
  Feed u;
  auto f2 = dataFragments(diameter, 3, 1);
  u.addAll({f2[2], f2[1], f2[0]});
  EXPECT_EQ(u.n(Counter::kSctpNotSip), 1u);
  EXPECT_EQ(u.r.bytesHeld(), u.r.messagesHeld() * SctpReassembler::kMessageOverhead);
  // And an empty DATA chunk is malformed (RFC 9260 §3.3.1).
  SctpFragment empty = frags[1];
  empty.data = {};
  t.add(empty);
  EXPECT_EQ(t.n(Counter::kSctpFragMalformed), 1u);
}

// ---- Through the FrameDecoder ---------------------------------------------------------------

Bytes dataChunk(std::string_view data, uint8_t flags, uint32_t tsn, uint16_t stream = 0,
                uint16_t ssn = 0) {
  Bytes b{0, flags};
  put16(b, static_cast<uint16_t>(16 + data.size()));
  put32(b, tsn);
  put16(b, stream);
  put16(b, ssn);
  put32(b, 0);  // PPID: SIP has none
  append(b, Bytes(data.begin(), data.end()));
  while (b.size() % 4) b.push_back(0);
  return b;
}

Bytes idataChunk(std::string_view data, uint8_t flags, uint32_t tsn, uint32_t mid, uint32_t fsn) {
  Bytes b{64, flags};
  put16(b, static_cast<uint16_t>(20 + data.size()));
  put32(b, tsn);
  put16(b, 0);  // stream
  put16(b, 0);  // reserved
  put32(b, mid);
  put32(b, fsn);  // PPID when B is set
  append(b, Bytes(data.begin(), data.end()));
  while (b.size() % 4) b.push_back(0);
  return b;
}

Bytes sctpPacket(uint32_t vtag, std::initializer_list<Bytes> chunks) {
  Bytes b;
  put16(b, 5060);
  put16(b, 5060);
  put32(b, vtag);
  put32(b, 0);  // CRC32c, not verified
  for (const Bytes& c : chunks) append(b, c);
  return b;
}

Bytes frame(const Bytes& sctp_packet, std::initializer_list<Tag> tags = {}) {
  Ipv4 ip;
  ip.protocol = 132;
  return ethernet(kIpv4Type, ipv4(ip, sctp_packet), tags);
}

TEST(SctpDecoder, FragmentsBundledWithSackAndOtherMessagesAreEmittedAtTheirLastChunk) {
  Harness h;
  const std::string m = bigInvite(0, 1000);
  const std::string_view v(m);
  const size_t third = m.size() / 3;
  Bytes sack{3, 0, 0, 16};
  sack.resize(16, 0);
  // Packet 1: a SACK and the first fragment. Packet 2: the last fragment bundled after an
  // unfragmented 180. Packet 3: the middle one, late.
  EXPECT_FALSE(h.decode(
      kDltEn10mb, frame(sctpPacket(7, {sack, dataChunk(v.substr(0, third), 0x02, 41)})), kT0));
  EXPECT_TRUE(h.decode(kDltEn10mb,
                       frame(sctpPacket(7, {dataChunk(kRinging, 0x03, 40, 1, 3),
                                            dataChunk(v.substr(2 * third), 0x01, 43)})),
                       kT0 + 1000));
  EXPECT_TRUE(h.decode(kDltEn10mb, frame(sctpPacket(7, {dataChunk(v.substr(third, third), 0, 42)})),
                       kT0 + 2000));
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, kRinging);
  EXPECT_EQ(h.out[1].bytes, m);
  EXPECT_EQ(h.out[1].ts_us, kT0 + 2000);
  EXPECT_EQ(h.out[1].transport, Transport::kSctp);
  EXPECT_EQ(h.out[1].src.toString(), "192.0.2.10:5060");
  EXPECT_EQ(h.out[1].dst.toString(), "198.51.100.20:5060");
  EXPECT_EQ(
      h.nonZero(),
      (Counts{
          {"sctp.packets", 3}, {"sctp.fragmented", 3}, {"sctp.reassembled", 1}, {"sctp.sip", 2}}));
}

TEST(SctpDecoder, IDataChunksAreReassembled) {
  Harness h;
  const std::string m = bigInvite(0, 500);
  const std::string_view v(m);
  const size_t half = m.size() / 2;
  EXPECT_FALSE(
      h.decode(kDltEn10mb, frame(sctpPacket(7, {idataChunk(v.substr(half), 0x01, 2, 5, 1)}))));
  EXPECT_TRUE(
      h.decode(kDltEn10mb, frame(sctpPacket(7, {idataChunk(v.substr(0, half), 0x02, 1, 5, 0)}))));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, m);
}

TEST(SctpDecoder, AssociationsAndVlansNeverMix) {
  Harness h;
  const std::string m = bigInvite(0, 500);
  const std::string_view v(m);
  const size_t half = m.size() / 2;
  // Same ports and TSNs: another verification tag, or another VLAN, is another association.
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(sctpPacket(7, {dataChunk(v.substr(0, half), 0x02, 1)}))));
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(sctpPacket(8, {dataChunk(v.substr(half), 0x01, 2)}))));
  EXPECT_FALSE(h.decode(
      kDltEn10mb, frame(sctpPacket(7, {dataChunk(v.substr(half), 0x01, 2)}), {{0x8100, 100}})));
  EXPECT_TRUE(h.out.empty());
  EXPECT_TRUE(h.decode(kDltEn10mb, frame(sctpPacket(7, {dataChunk(v.substr(half), 0x01, 2)}))));
  ASSERT_EQ(h.out.size(), 1u);
  // The two halves left without partners are counted at end of input.
  h.finish();
  EXPECT_EQ(h.count("sctp.frag_incomplete"), 2u);
}

TEST(SctpDecoder, LyingChunkLengthsAreCountedAndHoldNothing) {
  Harness h;
  const std::string m = bigInvite(0, 500);
  Bytes p = sctpPacket(7, {dataChunk(std::string_view(m).substr(0, 300), 0x02, 1)});
  p[12 + 2] = 0x10;  // chunk length 4096 + ..., past the packet
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(p)));
  Bytes q = sctpPacket(7, {dataChunk(std::string_view(m).substr(0, 300), 0x02, 1)});
  q[12 + 2] = 0;
  q[12 + 3] = 12;  // shorter than a DATA chunk header
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(q)));
  Bytes empty = sctpPacket(7, {dataChunk("", 0x02, 1)});  // no user data
  EXPECT_FALSE(h.decode(kDltEn10mb, frame(empty)));
  h.finish();
  EXPECT_EQ(h.nonZero(), (Counts{{"sctp.packets", 3},
                                 {"sctp.truncated", 2},
                                 {"sctp.fragmented", 1},
                                 {"sctp.frag_malformed", 1}}));
}

}  // namespace
}  // namespace mcn::capture::test
