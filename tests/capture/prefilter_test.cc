// The pre-filter drops registration, presence and keep-alive SIP before the full parse, and only
// that: anything that can decide a call, or that it cannot classify, is handed on.

#include "mcn/capture/prefilter.h"

#include <gtest/gtest.h>

#include <string>

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
