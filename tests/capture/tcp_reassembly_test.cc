// SIP over TCP stream reassembly through the FrameDecoder: what a user replaying a capture of
// SIP over TCP sees (messages, their times, their addresses) and the counters that explain what
// was dropped. Every expected byte count below is worked out from the literal messages.

#include <gtest/gtest.h>

#include <string>

#include "decoder_harness.h"
#include "tcp_test_frames.h"

namespace mcn::capture::test {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;  // µs
constexpr int64_t kSecond = 1'000'000;

const std::string kSdp =
    "v=0\r\n"
    "o=- 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8\r\n";  // 5 + 44 + 5 + 22 + 7 + 27 = 110 bytes

const std::string kInv = sipMessage("INVITE sip:+862583001013@ims.example.net SIP/2.0", "r1", kSdp);
const std::string kTrying = sipMessage("SIP/2.0 100 Trying", "r1", "");
const std::string kRing = sipMessage("SIP/2.0 180 Ringing", "r1", "", /*compact=*/true);
const std::string kOk = sipMessage("SIP/2.0 200 OK", "r1", kSdp);

// Counters other than those every stream moves (segments, streams) unless a test names them.
Counts reassemblyCounts(const Harness& h) {
  Counts c = h.nonZero();
  c.erase("tcp.segments");
  c.erase("tcp.streams");
  return c;
}

TEST(TcpReassembly, TheTestMessagesHaveTheLengthsTheTestsAssume) {
  ASSERT_EQ(kSdp.size(), 110u);
  ASSERT_EQ(kInv.size(), 265u);  // headers end at 155
  ASSERT_EQ(kInv.find("\r\n\r\n") + 4, 155u);
  ASSERT_EQ(kTrying.size(), 123u);
  ASSERT_EQ(kRing.size(), 111u);
  ASSERT_EQ(kOk.size(), 231u);
}

TEST(TcpReassembly, MessageAcrossThreeSegmentsKeepsTheTimeOfItsLastByte) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  // Cut inside the start line, inside a header and inside the body.
  ASSERT_FALSE(h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 20)), kT0 + 100));
  ASSERT_FALSE(h.decode(kDltEn10mb, c.data(20, kInv.substr(20, 100)), kT0 + 200));
  ASSERT_TRUE(h.decode(kDltEn10mb, c.data(120, kInv.substr(120)), kT0 + 300));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInv);
  EXPECT_EQ(h.out[0].ts_us, kT0 + 300);
  EXPECT_EQ(h.out[0].transport, Transport::kTcp);
  EXPECT_EQ(h.out[0].src.toString(), "192.0.2.10:40000");
  EXPECT_EQ(h.out[0].dst.toString(), "198.51.100.20:5060");
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 4}, {"tcp.streams", 1}, {"tcp.sip", 1}}));
}

TEST(TcpReassembly, SeveralMessagesShareSegmentsAndOneSpansTwo) {
  Harness h;
  TcpDirection s;  // the proxy's responses, pipelined
  std::string all = kTrying + kRing + kOk;
  size_t cut = kTrying.size() + kRing.size() + 40;  // 40 bytes into the 200 OK
  h.decode(kDltEn10mb, s.syn(), kT0);
  ASSERT_TRUE(h.decode(kDltEn10mb, s.data(0, all.substr(0, cut)), kT0 + 10));
  ASSERT_EQ(h.out.size(), 2u);
  ASSERT_TRUE(h.decode(kDltEn10mb, s.data(static_cast<uint32_t>(cut), all.substr(cut)), kT0 + 20));
  ASSERT_EQ(h.out.size(), 3u);
  EXPECT_EQ(h.out[0].bytes, kTrying);
  EXPECT_EQ(h.out[1].bytes, kRing);  // framed by the compact "l:"
  EXPECT_EQ(h.out[2].bytes, kOk);
  EXPECT_EQ(h.out[0].ts_us, kT0 + 10);
  EXPECT_EQ(h.out[1].ts_us, kT0 + 10);
  EXPECT_EQ(h.out[2].ts_us, kT0 + 20);
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.sip", 3}}));
}

TEST(TcpReassembly, CrlfKeepAlivesBetweenAndSplitAcrossSegments) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  // RFC 5626 §3.5.1: a double-CRLF ping alone, then one whose CRLFs straddle a message.
  std::string seq = "\r\n\r\n" + kTrying + "\r\n" + "\r\n" + kRing;
  uint32_t a = 4;
  uint32_t b = a + static_cast<uint32_t>(kTrying.size()) + 2;  // ends after the first CRLF
  h.decode(kDltEn10mb, c.data(0, seq.substr(0, a)), kT0 + 1);
  h.decode(kDltEn10mb, c.data(a, seq.substr(a, b - a)), kT0 + 2);
  h.decode(kDltEn10mb, c.data(b, seq.substr(b)), kT0 + 3);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, kTrying);
  EXPECT_EQ(h.out[1].bytes, kRing);
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.sip", 2}, {"tcp.keepalive", 1}}));
}

TEST(TcpReassembly, OutOfOrderSegmentsAreHeldUntilTheHoleFills) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  // Third, first, then second third of the INVITE.
  ASSERT_FALSE(h.decode(kDltEn10mb, c.data(120, kInv.substr(120)), kT0 + 100));
  ASSERT_FALSE(h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 60)), kT0 + 200));
  ASSERT_TRUE(h.decode(kDltEn10mb, c.data(60, kInv.substr(60, 60)), kT0 + 300));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInv);
  EXPECT_EQ(h.out[0].ts_us, kT0 + 300);  // complete when the hole filled, not at the last byte's
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.sip", 1}, {"tcp.out_of_order", 1}}));
}

TEST(TcpReassembly, RetransmittedAndOverlappingSegmentsAreIgnoredAndCounted) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 100)), kT0 + 1);
  h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 100)), kT0 + 2);    // retransmitted whole
  h.decode(kDltEn10mb, c.data(50, kInv.substr(50, 100)), kT0 + 3);  // 50 old + 50 new bytes
  h.decode(kDltEn10mb, c.data(150, kInv.substr(150)), kT0 + 4);
  h.decode(kDltEn10mb, c.data(150, kInv.substr(150)), kT0 + 5);  // after delivery
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInv);
  EXPECT_EQ(reassemblyCounts(h),
            (Counts{{"tcp.sip", 1}, {"tcp.retransmissions", 2}, {"tcp.overlap_bytes", 50}}));
}

TEST(TcpReassembly, TheFirstCopyOfAByteWins) {
  // A later overlapping segment with different bytes (an evasion attempt, or a bug) does not
  // rewrite what was already received, whether delivered or held out of order.
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, c.data(100, kInv.substr(100, 50)), kT0 + 1);  // held: 100..149
  std::string forged = kInv.substr(0, 150);
  for (size_t i = 90; i < 150; ++i) forged[i] = 'X';  // 90..99 new, 100..149 held already
  h.decode(kDltEn10mb, c.data(0, forged.substr(0, 150)), kT0 + 2);
  h.decode(kDltEn10mb, c.data(150, kInv.substr(150)), kT0 + 3);
  ASSERT_EQ(h.out.size(), 1u);
  std::string want = kInv;
  for (size_t i = 90; i < 100; ++i) want[i] = 'X';
  EXPECT_EQ(h.out[0].bytes, want);
  EXPECT_EQ(h.count("tcp.overlap_bytes"), 50u);
}

TEST(TcpReassembly, StartLineCutAfterFewBytesStillFrames) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  for (uint32_t i = 0; i < kRing.size(); i += 3) {  // three bytes a segment
    h.decode(kDltEn10mb, c.data(i, kRing.substr(i, 3)), kT0 + i);
  }
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kRing);
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.sip", 1}}));
}

TEST(TcpReassembly, SequenceNumbersWrapModulo2To32) {
  Harness h;
  TcpDirection c;
  c.isn = 0xffffff80u;  // the INVITE's bytes cross 2^32 at offset 127
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, c.data(100, kInv.substr(100)), kT0 + 1);  // after the wrap, first
  h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 100)), kT0 + 2);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInv);
}

TEST(TcpReassembly, EachDirectionAndEachVlanIsItsOwnStream) {
  Harness h;
  TcpDirection a;
  a.vlans = {{0x8100, 100}};
  TcpDirection b = a;
  b.vlans = {{0x8100, 200}};  // same addresses, ports and ISN on another VLAN
  TcpDirection back = a.reversed(5000);
  for (auto* d : {&a, &b, &back}) h.decode(kDltEn10mb, d->syn(), kT0);
  h.decode(kDltEn10mb, a.data(0, kInv.substr(0, 70)), kT0 + 1);
  h.decode(kDltEn10mb, b.data(0, kOk.substr(0, 70)), kT0 + 2);
  h.decode(kDltEn10mb, back.data(0, kTrying), kT0 + 3);
  h.decode(kDltEn10mb, b.data(70, kOk.substr(70)), kT0 + 4);
  h.decode(kDltEn10mb, a.data(70, kInv.substr(70)), kT0 + 5);
  ASSERT_EQ(h.out.size(), 3u);
  EXPECT_EQ(h.out[0].bytes, kTrying);
  EXPECT_EQ(h.out[0].src.toString(), "198.51.100.20:5060");
  EXPECT_EQ(h.out[1].bytes, kOk);
  EXPECT_EQ(h.out[1].vlan[0], 200);
  EXPECT_EQ(h.out[2].bytes, kInv);
  EXPECT_EQ(h.out[2].vlan[0], 100);
  EXPECT_EQ(h.count("tcp.streams"), 3u);
}

TEST(TcpReassembly, Ipv6Stream) {
  Harness h;
  TcpDirection c;
  c.v6 = true;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 33)), kT0 + 1);
  h.decode(kDltEn10mb, c.data(33, kInv.substr(33)), kT0 + 2);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInv);
  EXPECT_EQ(h.out[0].src.toString(), "[2001:db8::a]:40000");
}

// ---- streams picked up in the middle -------------------------------------------------------

TEST(TcpReassembly, MidStreamPickupSkipsToTheFirstStartLine) {
  Harness h;
  TcpDirection c;  // no SYN in the capture
  // The capture starts with the last 30 bytes of an SDP body, then a whole 180.
  std::string seg = kSdp.substr(kSdp.size() - 30) + kRing;
  ASSERT_TRUE(h.decode(kDltEn10mb, c.data(5000, seg), kT0));
  h.decode(kDltEn10mb, c.data(5000 + static_cast<uint32_t>(seg.size()), kOk.substr(0, 90)),
           kT0 + 1);
  h.decode(kDltEn10mb, c.data(5090 + static_cast<uint32_t>(seg.size()), kOk.substr(90)), kT0 + 2);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, kRing);
  EXPECT_EQ(h.out[1].bytes, kOk);
  EXPECT_EQ(
      reassemblyCounts(h),
      (Counts{{"tcp.sip", 2}, {"tcp.midstream", 1}, {"tcp.resync", 1}, {"tcp.skipped_bytes", 30}}));
}

TEST(TcpReassembly, MidStreamContinuationOpensNothing) {
  Harness h;
  TcpDirection c;
  // The second half of a message whose first half was before the capture: not SIP as far as
  // anyone can tell, and no stream is opened for it.
  EXPECT_FALSE(h.decode(kDltEn10mb, c.data(7000, kInv.substr(200)), kT0));
  EXPECT_FALSE(h.decode(kDltEn10mb, c.data(7000, "\r\n\r\n"), kT0 + 1));  // keep-alive
  EXPECT_EQ(h.nonZero(), (Counts{{"tcp.segments", 2}, {"tcp.not_sip", 1}, {"tcp.keepalive", 1}}));
  // The next message starts a segment and is picked up.
  uint32_t next = 7000 + static_cast<uint32_t>(kInv.size() - 200);
  ASSERT_TRUE(h.decode(kDltEn10mb, c.data(next, kTrying), kT0 + 2));
  EXPECT_EQ(h.out[0].bytes, kTrying);
  EXPECT_EQ(h.count("tcp.midstream"), 1u);
  EXPECT_EQ(h.count("tcp.resync"), 0u);  // picked up right at a start line: nothing lost
}

TEST(TcpReassembly, MidStreamSegmentsFromBeforeThePickupAreOld) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.data(1000, kTrying), kT0);
  h.decode(kDltEn10mb, c.data(900, kRing), kT0 + 1);  // sent earlier, arrives later: old
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.count("tcp.retransmissions"), 1u);
}

// ---- gaps ----------------------------------------------------------------------------------

TEST(TcpReassembly, HoleNotFilledInTimeIsSkippedAndTheStreamResynchronises) {
  Harness h;
  TcpDirection c;
  TcpDirection other = c;
  other.sport = 40001;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, other.syn(), kT0);
  uint32_t inv_end = static_cast<uint32_t>(kInv.size());
  // The INVITE's middle (bytes 100..149) never arrives; the 180 after it does.
  h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 100)), kT0 + 1);
  h.decode(kDltEn10mb, c.data(150, kInv.substr(150)), kT0 + 2);
  h.decode(kDltEn10mb, c.data(inv_end, kRing), kT0 + 3);
  EXPECT_TRUE(h.out.empty());
  // The hole is known from the first segment held behind it (kT0 + 2). 1 µs short of 2 s later
  // nothing moves; at 2 s a bare ACK of another stream carries the time past the gap timeout.
  h.decode(kDltEn10mb, other.ack(0), kT0 + 2 + 2 * kSecond - 1);
  EXPECT_TRUE(h.out.empty());
  ASSERT_TRUE(h.decode(kDltEn10mb, other.ack(0), kT0 + 2 + 2 * kSecond));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kRing);
  EXPECT_EQ(h.out[0].ts_us, kT0 + 3);  // when its bytes arrived, not when the hole was given up
  // Skipped after the hole: the INVITE's tail (bytes 150..end).
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.sip", 1},
                                         {"tcp.out_of_order", 2},
                                         {"tcp.gaps", 1},
                                         {"tcp.unreassembled", 1},
                                         {"tcp.resync", 1},
                                         {"tcp.skipped_bytes", kInv.size() - 150}}));
}

TEST(TcpReassembly, HoleIsSkippedOnceTooMuchWaitsBehindIt) {
  DecoderConfig cfg;
  cfg.tcp.max_stream_bytes = 600;
  Harness h(cfg);
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  // Bytes 0..9 are lost. Behind the hole: the INVITE's tail and two 180s (255 + 2 * 111 = 477
  // bytes, 573 with the 96 bytes a held piece is charged), then one more 180 (+ 207 > 600).
  std::string behind = kInv.substr(10) + kRing + kRing;
  ASSERT_EQ(behind.size(), 477u);
  h.decode(kDltEn10mb, c.data(10, behind), kT0 + 1);
  EXPECT_TRUE(h.out.empty());
  h.decode(kDltEn10mb, c.data(10 + static_cast<uint32_t>(behind.size()), kRing), kT0 + 2);
  // Well within the gap timeout, the byte bound gave up the hole.
  ASSERT_EQ(h.out.size(), 3u);
  for (const auto& m : h.out) EXPECT_EQ(m.bytes, kRing);
  EXPECT_EQ(h.count("tcp.gaps"), 1u);
  EXPECT_EQ(h.count("tcp.unreassembled"), 0u);  // nothing was in progress before the hole
}

TEST(TcpReassembly, UnframeableBytesAreSkippedToTheNextStartLine) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  std::string bad = "INFO sip:a@b SIP/2.0\r\nContent-Length: lots\r\n\r\nxyz";
  std::string garbage = "not sip at all\r\n";
  std::string seg = bad + garbage + kTrying;
  h.decode(kDltEn10mb, c.data(0, seg), kT0 + 1);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kTrying);
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.sip", 1},
                                         {"tcp.bad_content_length", 1},
                                         {"tcp.resync", 1},
                                         {"tcp.skipped_bytes", bad.size() + garbage.size()}}));
}

TEST(TcpReassembly, MissingContentLengthIsReadAsNoBody) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  std::string bye = "BYE sip:a@b SIP/2.0\r\nCall-ID: o1\r\nCSeq: 2 BYE\r\n\r\n";
  std::string with_body = "MESSAGE sip:a@b SIP/2.0\r\nCall-ID: o2\r\n\r\nhello\r\n";
  std::string seg = bye + kTrying + with_body + kRing;
  h.decode(kDltEn10mb, c.data(0, seg), kT0 + 1);
  // The body nobody announced ("hello\r\n") is skipped as unframeable; the 180 after it is found.
  ASSERT_EQ(h.out.size(), 3u);  // BYE, 100, 180 (MESSAGE goes to the pre-filter)
  EXPECT_EQ(h.out[0].bytes, bye);
  EXPECT_EQ(h.out[1].bytes, kTrying);
  EXPECT_EQ(h.out[2].bytes, kRing);
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.sip", 4},
                                         {"tcp.no_content_length", 2},
                                         {"prefilter.message", 1},
                                         {"tcp.resync", 1},
                                         {"tcp.skipped_bytes", 7}}));
}

// ---- closing -------------------------------------------------------------------------------

TEST(TcpReassembly, FinClosesTheDirectionAndCountsAPartialMessage) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, c.data(0, kTrying + kInv.substr(0, 80)), kT0 + 1);
  h.decode(kDltEn10mb, c.fin(static_cast<uint32_t>(kTrying.size()) + 80), kT0 + 2);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(reassemblyCounts(h),
            (Counts{{"tcp.sip", 1}, {"tcp.closed", 1}, {"tcp.unreassembled", 1}}));
  // The port pair is free again: a new connection is a new stream.
  TcpDirection again = c;
  again.isn = 777;
  h.decode(kDltEn10mb, again.syn(), kT0 + 3);
  h.decode(kDltEn10mb, again.data(0, kRing), kT0 + 4);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.count("tcp.streams"), 2u);
}

TEST(TcpReassembly, FinArrivingBeforeTheLastDataWaitsForIt) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  uint32_t half = 100;
  h.decode(kDltEn10mb, c.fin(static_cast<uint32_t>(kInv.size())), kT0 + 1);
  h.decode(kDltEn10mb, c.data(half, kInv.substr(half)), kT0 + 2);
  EXPECT_TRUE(h.out.empty());
  h.decode(kDltEn10mb, c.data(0, kInv.substr(0, half)), kT0 + 3);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInv);
  EXPECT_EQ(h.count("tcp.closed"), 1u);
  EXPECT_EQ(h.count("tcp.unreassembled"), 0u);
}

TEST(TcpReassembly, FinCarryingTheLastBytes) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, c.data(0, kOk.substr(0, 50)), kT0 + 1);
  ASSERT_TRUE(h.decode(kDltEn10mb, c.fin(50, kOk.substr(50)), kT0 + 2));
  EXPECT_EQ(h.out[0].bytes, kOk);
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.sip", 1}, {"tcp.closed", 1}}));
}

TEST(TcpReassembly, RstClosesBothDirections) {
  Harness h;
  TcpDirection c;
  TcpDirection s = c.reversed(9000);
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, s.syn(), kT0);
  h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 40)), kT0 + 1);
  h.decode(kDltEn10mb, s.data(0, kOk.substr(0, 40)), kT0 + 2);
  h.decode(kDltEn10mb, s.rst(40), kT0 + 3);
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.closed", 2}, {"tcp.unreassembled", 2}}));
  // Late bytes of the INVITE belong to no stream and hold no start line: nothing is opened.
  h.decode(kDltEn10mb, c.data(40, kInv.substr(40)), kT0 + 4);
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.count("tcp.not_sip"), 1u);
}

TEST(TcpReassembly, ClosingSkipsHolesAndDeliversWhatFollowsThem) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  // 0..9 lost; a whole 180 at 10; then FIN. The hole cannot be filled any more.
  h.decode(kDltEn10mb, c.data(10, kRing), kT0 + 1);
  h.decode(kDltEn10mb, c.rst(10 + static_cast<uint32_t>(kRing.size())), kT0 + 2);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kRing);
  EXPECT_EQ(h.count("tcp.gaps"), 1u);
}

// End of a replay: the capture stops while a 180 waits behind a hole and another stream holds
// half an INVITE. finish() delivers the 180 and counts the half INVITE; nothing is lost without
// a trace.
TEST(TcpReassembly, FinishDeliversWhatWaitsBehindAHoleAndCountsPartials) {
  Harness h;
  TcpDirection c;
  TcpDirection other = c;
  other.sport = 40001;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, other.syn(), kT0);
  h.decode(kDltEn10mb, c.data(10, kRing), kT0 + 1);                  // 0..9 never seen
  h.decode(kDltEn10mb, other.data(0, kInv.substr(0, 60)), kT0 + 2);  // rest never seen
  EXPECT_TRUE(h.out.empty());
  h.finish();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kRing);
  EXPECT_EQ(h.out[0].ts_us, kT0 + 1);
  EXPECT_EQ(h.count("tcp.gaps"), 1u);
  EXPECT_EQ(h.count("tcp.unreassembled"), 1u);
}

// Stream timeouts run on packet time carried by any frame, not only TCP: on a capture where the
// SIP is over TCP but the rest is UDP, an idle half message still expires.
TEST(TcpReassembly, AnyFrameMovesTheStreamClock) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 40)), kT0 + kSecond);
  Bytes rtp = ethernet(kIpv4Type, ipv4(Ipv4{}, udp(49170, 49170, std::string(160, '\x80'))));
  h.decode(kDltEn10mb, rtp, kT0 + 61 * kSecond);
  EXPECT_EQ(h.count("tcp.expired"), 1u);
  EXPECT_EQ(h.count("tcp.unreassembled"), 1u);
}

// Found by fuzzing: a request line whose CR is followed by a byte other than LF satisfies the
// hunt for a start line but not the framer, and the stream used to loop forever between the
// two. It must wait for more bytes, then carry on with the next message.
TEST(TcpReassembly, StartLineWithAStrayByteAfterCrDoesNotLoop) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  const std::string odd = "TE sip:1013@ims.example.com SIP/2.0\r\xdaVia: SIP/2.0/UDP x";
  h.decode(kDltEn10mb, c.data(0, odd), kT0 + 1);  // returns: no newline yet, nothing framed
  EXPECT_TRUE(h.out.empty());
  h.decode(kDltEn10mb, c.data(static_cast<uint32_t>(odd.size()), "\r\n\r\n" + kRing), kT0 + 2);
  ASSERT_FALSE(h.out.empty());
  EXPECT_EQ(h.out.back().bytes, kRing);
}

// Issue 14 item 4: start lines with a missing or doubled space are SIP to looksLikeSip, so the
// framer's test of an incomplete start line must let every prefix of them wait for more bytes
// (one byte a segment here), or a stream would call them not SIP, or hunt past them.
TEST(TcpReassembly, LenientStartLinesFrameOneByteASegment) {
  for (std::string start :
       {"INVITE  sip:1013@ims.example.net  SIP/2.0 ", "INVITE sip:1013@ims.example.netSIP/2.0",
        "SIP/2.0180 Ringing", "SIP/2.0  180Ringing", "SIP/2.0\t200"}) {
    Harness h;
    TcpDirection c;
    h.decode(kDltEn10mb, c.syn(), kT0);
    const std::string msg = sipMessage(start, "len1", "");
    for (uint32_t i = 0; i < msg.size(); ++i) {
      h.decode(kDltEn10mb, c.data(i, msg.substr(i, 1)), kT0 + i);
    }
    ASSERT_EQ(h.out.size(), 1u) << start;
    EXPECT_EQ(h.out[0].bytes, msg);
    EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.sip", 1}})) << start;
  }
}

// The same after bytes that are not SIP: the hunt for the next start line keeps the last line
// while it may still become a start line, and stops at it.
TEST(TcpReassembly, HuntStopsAtALenientStartLineArrivingByteByByte) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  const std::string junk = "a=sendrecv\r\n";
  const std::string msg = sipMessage("SIP/2.0  486 Busy Here", "len2", "");
  const std::string all = kTrying + junk + msg;
  h.decode(kDltEn10mb, c.data(0, kTrying + junk), kT0);
  for (size_t i = kTrying.size() + junk.size(); i < all.size(); ++i) {
    h.decode(kDltEn10mb, c.data(static_cast<uint32_t>(i), all.substr(i, 1)), kT0 + 1);
  }
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[1].bytes, msg);
  EXPECT_EQ(reassemblyCounts(h),
            (Counts{{"tcp.sip", 2}, {"tcp.resync", 1}, {"tcp.skipped_bytes", junk.size()}}));
}

TEST(TcpReassembly, SynWithAnotherIsnOnKnownPortsIsANewConnection) {
  Harness h;
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, c.syn(), kT0 + 1);  // retransmitted SYN: same connection
  h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 30)), kT0 + 2);
  TcpDirection reuse = c;
  reuse.isn = 123456;
  h.decode(kDltEn10mb, reuse.syn(), kT0 + 3);
  h.decode(kDltEn10mb, reuse.data(0, kTrying), kT0 + 4);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kTrying);
  EXPECT_EQ(reassemblyCounts(h),
            (Counts{{"tcp.sip", 1}, {"tcp.closed", 1}, {"tcp.unreassembled", 1}}));
  EXPECT_EQ(h.count("tcp.streams"), 2u);
}

TEST(TcpReassembly, IdleStreamExpiresOnPacketTime) {
  Harness h;
  TcpDirection c;
  TcpDirection other = c;
  other.sport = 40001;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, c.data(0, kInv.substr(0, 40)), kT0 + kSecond);
  h.decode(kDltEn10mb, other.ack(0),
           kT0 + 61 * kSecond - 1);  // 60 s after its last payload, less 1 µs
  EXPECT_EQ(h.count("tcp.expired"), 0u);
  h.decode(kDltEn10mb, other.ack(0), kT0 + 61 * kSecond);
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.expired", 1}, {"tcp.unreassembled", 1}}));
  // Its late rest opens nothing (no start line).
  h.decode(kDltEn10mb, c.data(40, kInv.substr(40)), kT0 + 62 * kSecond);
  EXPECT_TRUE(h.out.empty());
}

TEST(TcpReassembly, TimeoutsAreConfigurable) {
  DecoderConfig cfg;
  cfg.tcp.idle_timeout_ms = 5000;
  cfg.tcp.gap_timeout_ms = 100;
  Harness h(cfg);
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  h.decode(kDltEn10mb, c.data(10, kRing), kT0);  // 0..9 missing
  h.decode(kDltEn10mb, c.ack(0), kT0 + 100'000);
  ASSERT_EQ(h.out.size(), 1u);
  h.decode(kDltEn10mb, c.data(10 + static_cast<uint32_t>(kRing.size()), kInv.substr(0, 9)),
           kT0 + 200'000);
  h.decode(kDltEn10mb, c.ack(0), kT0 + 5'200'000);
  EXPECT_EQ(h.count("tcp.expired"), 1u);
}

// ---- caps ----------------------------------------------------------------------------------

TEST(TcpReassembly, StreamTableFullRefusesNewStreams) {
  DecoderConfig cfg;
  cfg.tcp.max_streams = 2;
  Harness h(cfg);
  TcpDirection d[3];
  for (int i = 0; i < 3; ++i) {
    d[i].sport = static_cast<uint16_t>(41000 + i);
    h.decode(kDltEn10mb, d[i].syn(), kT0);
  }
  h.decode(kDltEn10mb, d[2].data(0, kTrying), kT0 + 1);  // refused again: still no room
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.count("tcp.streams_table_full"), 2u);
  EXPECT_EQ(h.count("tcp.streams"), 2u);
  h.decode(kDltEn10mb, d[0].fin(0), kT0 + 2);  // frees a place
  h.decode(kDltEn10mb, d[2].data(0, kTrying), kT0 + 3);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.count("tcp.midstream"), 1u);  // its SYN was refused, so it is picked up mid-stream
}

TEST(TcpReassembly, MessageLongerThanTheStreamCapIsSkippedWholeAndTheStreamStaysInStep) {
  DecoderConfig cfg;
  cfg.tcp.max_stream_bytes = 1024;
  Harness h(cfg);
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  std::string big = sipMessage("MESSAGE sip:a@b SIP/2.0", "big", std::string(3000, 'z'));
  std::string conv = big + kRing;
  for (uint32_t off = 0; off < conv.size(); off += 500) {
    h.decode(kDltEn10mb, c.data(off, conv.substr(off, 500)), kT0 + off);
  }
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kRing);
  EXPECT_EQ(reassemblyCounts(h), (Counts{{"tcp.sip", 1}, {"tcp.stream_bytes_cap", 1}}));
}

TEST(TcpReassembly, HeadersLongerThanTheStreamCapAreDropped) {
  DecoderConfig cfg;
  cfg.tcp.max_stream_bytes = 256;
  Harness h(cfg);
  TcpDirection c;
  h.decode(kDltEn10mb, c.syn(), kT0);
  std::string huge = "INVITE sip:a@b SIP/2.0\r\nX-Junk: " + std::string(300, 'j') + "\r\n";
  h.decode(kDltEn10mb, c.data(0, huge), kT0 + 1);  // no end of headers in sight
  uint32_t off = static_cast<uint32_t>(huge.size());
  h.decode(kDltEn10mb, c.data(off, "Content-Length: 0\r\n\r\n"), kT0 + 2);
  off += 21;
  h.decode(kDltEn10mb, c.data(off, kRing), kT0 + 3);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kRing);
  EXPECT_EQ(h.count("tcp.stream_bytes_cap"), 1u);
  EXPECT_EQ(h.count("tcp.resync"), 1u);
}

}  // namespace
}  // namespace mcn::capture::test
