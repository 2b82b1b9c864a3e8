// The pre-filter drops registration, presence and keep-alive SIP before the full parse, and only
// that: anything that can decide a call, or that it cannot classify, is handed on.

#include "mcn/capture/prefilter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "decoder_harness.h"

namespace mcn::capture::test {
namespace {

Bytes udpSip(std::string_view msg) {
  return ethernet(kIpv4Type, ipv4(Ipv4{}, udp(5060, 5060, msg)));
}

TEST(Prefilter, RequestsByMethod) {
  EXPECT_EQ(ignoredMethod("REGISTER sip:ims.example SIP/2.0\r\n"), IgnoredMethod::kRegister);
  EXPECT_EQ(ignoredMethod("OPTIONS sip:pcscf SIP/2.0\r\n"), IgnoredMethod::kOptions);
  EXPECT_EQ(ignoredMethod("SUBSCRIBE sip:a@b SIP/2.0\r\n"), IgnoredMethod::kSubscribe);
  EXPECT_EQ(ignoredMethod("NOTIFY sip:a@b SIP/2.0\r\n"), IgnoredMethod::kNotify);
  EXPECT_EQ(ignoredMethod("PUBLISH sip:a@b SIP/2.0\r\n"), IgnoredMethod::kPublish);
  EXPECT_EQ(ignoredMethod("MESSAGE sip:a@b SIP/2.0\r\n"), IgnoredMethod::kMessage);
  for (const char* keep :
       {"INVITE sip:a@b SIP/2.0\r\n", "CANCEL sip:a@b SIP/2.0\r\n", "ACK sip:a@b SIP/2.0\r\n",
        "BYE sip:a@b SIP/2.0\r\n", "PRACK sip:a@b SIP/2.0\r\n", "UPDATE sip:a@b SIP/2.0\r\n",
        "INFO sip:a@b SIP/2.0\r\n", "REFER sip:a@b SIP/2.0\r\n"}) {
    EXPECT_EQ(ignoredMethod(keep), IgnoredMethod::kNone) << keep;
  }
  // RFC 3261 §7.1: methods are case-sensitive; a longer token is another method.
  EXPECT_EQ(ignoredMethod("register sip:a@b SIP/2.0\r\n"), IgnoredMethod::kNone);
  EXPECT_EQ(ignoredMethod("REGISTERX sip:a@b SIP/2.0\r\n"), IgnoredMethod::kNone);
}

TEST(Prefilter, ResponsesByCSeqMethod) {
  EXPECT_EQ(ignoredMethod("SIP/2.0 200 OK\r\nVia: x\r\nCSeq: 7 REGISTER\r\n\r\n"),
            IgnoredMethod::kRegister);
  EXPECT_EQ(ignoredMethod("SIP/2.0 401 Unauthorized\r\ncseq :  12\tSUBSCRIBE\r\n\r\n"),
            IgnoredMethod::kSubscribe);
  EXPECT_EQ(ignoredMethod("SIP/2.0 200 OK\nCSEQ: 2 OPTIONS\n\n"), IgnoredMethod::kOptions);
  // Calls' responses are kept, whatever else the message holds.
  EXPECT_EQ(ignoredMethod("SIP/2.0 200 OK\r\nSubject: CSeq: 1 REGISTER\r\nCSeq: 1 INVITE\r\n\r\n"),
            IgnoredMethod::kNone);
  EXPECT_EQ(ignoredMethod("SIP/2.0 487 Request Terminated\r\nCSeq: 1 INVITE\r\n\r\n"),
            IgnoredMethod::kNone);
  // No CSeq in the headers (one in the body does not count): kept for the parser to judge.
  EXPECT_EQ(ignoredMethod("SIP/2.0 200 OK\r\nVia: x\r\n\r\nCSeq: 1 REGISTER\r\n"),
            IgnoredMethod::kNone);
  EXPECT_EQ(ignoredMethod("SIP/2.0 200 OK\r\nCSeq: 1"), IgnoredMethod::kNone);
  EXPECT_EQ(ignoredMethod("SIP/2.0 200 OK"), IgnoredMethod::kNone);
}

// The line starts are found 16 bytes at a time: the CSeq line must be found, and the blank line
// before a body must stop the search, wherever they fall against those blocks and the end.
TEST(Prefilter, ResponsesWhereverTheLinesFall) {
  for (size_t pad = 0; pad < 48; ++pad) {
    const std::string via = "Via: " + std::string(pad, 'v') + "\r\n";
    const std::string head = "SIP/2.0 200 OK\r\n" + via;
    EXPECT_EQ(ignoredMethod(head + "CSeq: 3 REGISTER\r\n\r\n"), IgnoredMethod::kRegister) << pad;
    EXPECT_EQ(ignoredMethod(head + "CSeq: 3 NOTIFY"), IgnoredMethod::kNotify) << pad;
    EXPECT_EQ(ignoredMethod(head + "CSeq: 3 INVITE\r\n\r\n"), IgnoredMethod::kNone) << pad;
    EXPECT_EQ(ignoredMethod(head + "\r\nCSeq: 3 REGISTER\r\n"), IgnoredMethod::kNone) << pad;
    EXPECT_EQ(ignoredMethod(head + "\nCSeq: 3 REGISTER\n"), IgnoredMethod::kNone) << pad;
    EXPECT_EQ(ignoredMethod(head), IgnoredMethod::kNone) << pad;
    EXPECT_EQ(ignoredMethod(head + "CSeq"), IgnoredMethod::kNone) << pad;
    // The message cut right after a line feed, or inside the name.
    EXPECT_EQ(ignoredMethod(head + "CSe"), IgnoredMethod::kNone) << pad;
  }
}

// Against a plain reading of the rule (split into lines, stop at the first empty one, the first
// line named CSeq decides), over seeded random responses built from header-like pieces.
IgnoredMethod referenceResponseMethod(std::string_view sip) {
  size_t start = sip.find('\n');
  while (start != std::string_view::npos && start + 1 < sip.size()) {
    std::string_view rest = sip.substr(start + 1);
    const size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    if (line.empty() || line == "\r" || line.front() == '\r') return IgnoredMethod::kNone;
    std::string lower;
    for (char c : line.substr(0, 4)) lower += static_cast<char>(c | 0x20);
    if (rest.size() > 5 && lower == "cseq") {
      size_t i = line.find_first_not_of(" \t", 4);
      if (i != std::string_view::npos && line[i] == ':') {
        i = line.find_first_not_of(" \t", i + 1);
        if (i == std::string_view::npos) i = line.size();
        while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i;
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        // The method token is read from the whole remaining text (a line may lack its LF).
        return ignoredMethod(std::string(rest.substr(i)));
      }
    }
    if (end == std::string_view::npos) return IgnoredMethod::kNone;
    start = start + 1 + end;
  }
  return IgnoredMethod::kNone;
}

TEST(Prefilter, ResponsesAgreeWithAPlainLineByLineReading) {
  const std::vector<std::string> pieces = {"Via: SIP/2.0/UDP 198.18.0.1;branch=z9hG4bK1\r\n",
                                           "CSeq: 1 REGISTER\r\n",
                                           "CSeq: 2 INVITE\r\n",
                                           "cseq:3 OPTIONS\r\n",
                                           "CSeq : 4\tNOTIFY\r\n",
                                           "CSeqX: 5 REGISTER\r\n",
                                           "CSeq 6 REGISTER\r\n",
                                           "\r\n",
                                           "\n",
                                           "To: <sip:a@b>\r\n",
                                           "X: CSeq: 7 OPTIONS\r\n",
                                           "CSeq: 8 REGISTER",
                                           "Call-ID: x\n",
                                           "\r",
                                           "C",
                                           "CSeq:",
                                           "CSeq: 9 SUBSCRIBE \r\n"};
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<size_t>(state >> 33);
  };
  for (int round = 0; round < 20000; ++round) {
    std::string msg = "SIP/2.0 200 OK\r\n";
    const size_t parts = next() % 8;
    for (size_t k = 0; k < parts; ++k) msg += pieces[next() % pieces.size()];
    if (next() % 3 == 0) msg.resize(next() % (msg.size() + 1));
    if (msg.size() <= 4) continue;
    ASSERT_EQ(ignoredMethod(msg), referenceResponseMethod(msg)) << msg;
  }
}

TEST(Prefilter, DecoderDropsAndCountsBeforeHandingOn) {
  Harness h;
  ASSERT_FALSE(
      h.decode(kDltEn10mb, udpSip("REGISTER sip:ims.example SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n")));
  ASSERT_FALSE(h.decode(kDltEn10mb, udpSip("SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\n\r\n")));
  ASSERT_FALSE(h.decode(kDltEn10mb, udpSip("OPTIONS sip:pcscf SIP/2.0\r\n\r\n")));
  ASSERT_TRUE(h.decode(kDltEn10mb,
                       udpSip("INVITE sip:1013@ims.example SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n")));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes.rfind("INVITE ", 0), 0u);
  // udp.sip counts every SIP datagram recognised, pre-filtered or not.
  EXPECT_EQ(h.nonZero(),
            (Counts{{"udp.sip", 4}, {"prefilter.register", 2}, {"prefilter.options", 1}}));
}

// Issue 14 item 4: the start lines looksLikeSip now accepts with a missing or doubled space are
// pre-filtered like any other: a method is followed by SP, and a response starts with "SIP/".
TEST(Prefilter, LenientStartLinesAreStillRecognised) {
  Harness h;
  ASSERT_FALSE(h.decode(kDltEn10mb,
                        udpSip("REGISTER  sip:ims.example SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n")));
  ASSERT_FALSE(h.decode(kDltEn10mb, udpSip("SIP/2.0200 OK\r\nCSeq: 1 REGISTER\r\n\r\n")));
  ASSERT_FALSE(h.decode(kDltEn10mb, udpSip("OPTIONS sip:pcscfSIP/2.0\r\n\r\n")));
  ASSERT_FALSE(h.decode(kDltEn10mb, udpSip("SIP/2.0  200 OK\r\nCSeq: 7 OPTIONS\r\n\r\n")));
  ASSERT_TRUE(h.decode(kDltEn10mb,
                       udpSip("INVITE\tsip:1013@ims.example SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n")));
  EXPECT_EQ(h.nonZero(),
            (Counts{{"udp.sip", 5}, {"prefilter.register", 2}, {"prefilter.options", 2}}));
}

TEST(Prefilter, CanBeTurnedOff) {
  DecoderConfig cfg;
  cfg.prefilter = false;
  Harness h(cfg);
  ASSERT_TRUE(h.decode(kDltEn10mb, udpSip("REGISTER sip:ims.example SIP/2.0\r\n\r\n")));
  EXPECT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.count("prefilter.register"), 0u);
}

}  // namespace
}  // namespace mcn::capture::test
