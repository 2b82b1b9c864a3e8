// SipParser on real-looking IMS signalling. Every expected value below was read off the message
// text by hand. As a cross-check, the INVITE, the 486 and the CANCEL were written byte for byte
// into Ethernet/IPv4/UDP frames of a pcap (198.51.100.20:5060 -> 203.0.113.9:5060) and dissected
// with tshark 4.0.17, which agrees on: sip.Method INVITE / CANCEL, sip.Status-Code 486,
// sip.r-uri.user +862583001013, sip.Call-ID 3c26700e7d5b-1d2e@192.0.2.40, sip.CSeq.seq 101,
// sip.from.user +8613900101230, sip.from.tag a73kszlfl, sip.to.tag callee-77 (486),
// To address tel:+86-25-8300-1013, sip.Via.branch z9hG4bK-scscf-01,z9hG4bK-pcscf-01,z9hG4bK-ue-01
// (three values, first one on top), sip.pai.user +8613900101230 and PAI address
// tel:+86-139-0010-1230, sip.Privacy id, and sip.Reason "Q.850;cause=16;text="Normal call
// clearing"", "Q.850;cause=17" and "SIP;cause=200;text="Call completed elsewhere"".

#include "mcn/sipparse/parser.h"

#include <gtest/gtest.h>

#include <string>

#include "sip_test_util.h"

namespace mcn::sipparse {
namespace {

using test_util::counter;
using test_util::crlf;
using test_util::imsConfig;
using test_util::payloadOf;

const char* const kSdp =
    "v=0\n"
    "o=- 2890844526 2890844526 IN IP4 192.0.2.40\n"
    "s=-\n"
    "c=IN IP4 192.0.2.40\n"
    "t=0 0\n"
    "m=audio 40000 RTP/AVP 96 8 101\n"
    "a=rtpmap:96 AMR-WB/16000\n"
    "a=rtpmap:8 PCMA/8000\n"
    "a=rtpmap:101 telephone-event/16000\n";

// headers (without Content-Length) + Content-Length + empty line + body, all CRLF
std::string message(std::string_view headers, std::string_view body = {},
                    std::string_view length_name = "Content-Length") {
  const std::string b = crlf(body);
  return crlf(headers) + std::string(length_name) + ": " + std::to_string(b.size()) + "\r\n\r\n" +
         b;
}

// The terminating S-CSCF's view of a call from a mobile to a desk line that was diverted twice.
// Compact forms (v f t i m c l), a folded Diversion, two PAI headers, History-Info with both
// cause encodings, Q.850 Reason, quoted icid-value and the configured X-CID.
const char* const kInviteHeaders =
    "INVITE sip:+862583001013@ims.example.com;user=phone SIP/2.0\n"
    "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-scscf-01,SIP/2.0/UDP "
    "198.51.100.10:5060;branch=z9hG4bK-pcscf-01\n"
    "v: SIP/2.0/UDP 192.0.2.40:5060;rport;branch=z9hG4bK-ue-01\n"
    "Max-Forwards: 68\n"
    "Record-Route: <sip:198.51.100.20;lr>\n"
    "f: \"Zhang San\" <sip:+8613900101230@ims.example.com;user=phone>;tag=a73kszlfl\n"
    "t: <tel:+86-25-8300-1013>\n"
    "i: 3c26700e7d5b-1d2e@192.0.2.40\n"
    "CSeq: 101 INVITE\n"
    "m: <sip:+8613900101230@192.0.2.40:5060>\n"
    "P-Asserted-Identity: \"Zhang San\" <sip:+8613900101230@ims.example.com;user=phone>\n"
    "P-Asserted-Identity: <tel:+86-139-0010-1230>\n"
    "P-Called-Party-ID: <sip:02583001013@ims.example.com;user=phone>\n"
    "Privacy: id\n"
    "Diversion: "
    "<sip:+862583001020@ims.example.com;user=phone>;reason=no-answer;counter=1;privacy=off,\n"
    " \"Li Si\" <tel:+862583001030>;reason=\"user-busy\";counter=2\n"
    "Diversion: <sip:1040@ims.example.com>;reason=unconditional\n"
    "History-Info: "
    "<sip:+862583001013@ims.example.com;user=phone?Reason=SIP%3Bcause%3D486%3Btext%3D%22Busy%"
    "20Here%22>;index=1,"
    "<sip:voicemail@vm.ims.example.com;cause=486>;index=1.1\n"
    "Reason: Q.850;cause=16;text=\"Normal call clearing\"\n"
    "P-Charging-Vector: "
    "icid-value=\"ab12cd34ef56.1.1\";icid-generated-at=198.51.100.10;orig-ioi=ims.example.com\n"
    "X-CID: corr-7781\n"
    "c: application/sdp\n";

TEST(SipParser, ImsInviteCarriesEveryField) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(payloadOf(message(kInviteHeaders, kSdp, "l")));
  ASSERT_TRUE(ev.has_value());

  EXPECT_EQ(ev->ts_us, 1'795'328'495'053'000);
  EXPECT_EQ(ev->src.port, 5060);
  EXPECT_EQ(ev->dst.addr[3], 9);
  EXPECT_EQ(ev->transport, capture::Transport::kUdp);

  EXPECT_TRUE(ev->is_request);
  EXPECT_EQ(ev->method, Method::kInvite);
  EXPECT_EQ(ev->method_name, "INVITE");
  EXPECT_EQ(ev->request_uri.uri, "sip:+862583001013@ims.example.com;user=phone");
  EXPECT_EQ(ev->request_uri.user, "+862583001013");
  EXPECT_EQ(ev->request_uri.number, "+862583001013");
  EXPECT_EQ(ev->status, 0);

  EXPECT_EQ(ev->call_id, "3c26700e7d5b-1d2e@192.0.2.40");
  EXPECT_EQ(ev->cseq, 101u);
  EXPECT_EQ(ev->cseq_method, Method::kInvite);

  EXPECT_EQ(ev->from.display, "Zhang San");
  EXPECT_EQ(ev->from.uri, "sip:+8613900101230@ims.example.com;user=phone");
  EXPECT_EQ(ev->from.user, "+8613900101230");
  EXPECT_EQ(ev->from.number, "+8613900101230");
  EXPECT_EQ(ev->from.tag, "a73kszlfl");

  EXPECT_EQ(ev->to.display, "");
  EXPECT_EQ(ev->to.uri, "tel:+86-25-8300-1013");
  EXPECT_EQ(ev->to.user, "+86-25-8300-1013");
  EXPECT_EQ(ev->to.number, "+862583001013");
  EXPECT_EQ(ev->to.tag, "");

  EXPECT_EQ(ev->via_count, 3);  // two in the first header, one compact
  EXPECT_EQ(ev->via_branch, "z9hG4bK-scscf-01");

  ASSERT_EQ(ev->pai.size(), 2u);
  EXPECT_EQ(ev->pai[0].display, "Zhang San");
  EXPECT_EQ(ev->pai[0].uri, "sip:+8613900101230@ims.example.com;user=phone");
  EXPECT_EQ(ev->pai[0].number, "+8613900101230");
  EXPECT_EQ(ev->pai[1].uri, "tel:+86-139-0010-1230");
  EXPECT_EQ(ev->pai[1].user, "+86-139-0010-1230");
  EXPECT_EQ(ev->pai[1].number, "+8613900101230");

  ASSERT_TRUE(ev->p_called_party_id.has_value());
  EXPECT_EQ(ev->p_called_party_id->uri, "sip:02583001013@ims.example.com;user=phone");
  EXPECT_EQ(ev->p_called_party_id->user, "02583001013");
  EXPECT_EQ(ev->p_called_party_id->number, "+862583001013");

  EXPECT_EQ(ev->privacy, std::vector<std::string>{"id"});

  ASSERT_EQ(ev->diversion.size(), 3u);
  EXPECT_EQ(ev->diversion[0].target.uri, "sip:+862583001020@ims.example.com;user=phone");
  EXPECT_EQ(ev->diversion[0].target.number, "+862583001020");
  EXPECT_EQ(ev->diversion[0].reason, "no-answer");
  EXPECT_EQ(ev->diversion[0].counter, 1);
  EXPECT_EQ(ev->diversion[1].target.display, "Li Si");
  EXPECT_EQ(ev->diversion[1].target.number, "+862583001030");
  EXPECT_EQ(ev->diversion[1].reason, "user-busy");  // quoted in the message
  EXPECT_EQ(ev->diversion[1].counter, 2);
  EXPECT_EQ(ev->diversion[2].target.uri, "sip:1040@ims.example.com");
  EXPECT_EQ(ev->diversion[2].target.number, "+862583001040");  // extension rule
  EXPECT_EQ(ev->diversion[2].reason, "unconditional");
  EXPECT_EQ(ev->diversion[2].counter, 0);
  EXPECT_EQ(ev->diversion[2].index, "");

  ASSERT_EQ(ev->history_info.size(), 2u);
  EXPECT_EQ(ev->history_info[0].target.number, "+862583001013");
  EXPECT_EQ(ev->history_info[0].index, "1");
  EXPECT_EQ(ev->history_info[0].cause, 486);  // from the escaped Reason header
  EXPECT_EQ(ev->history_info[0].reason, "user-busy");
  EXPECT_EQ(ev->history_info[1].target.uri, "sip:voicemail@vm.ims.example.com;cause=486");
  EXPECT_EQ(ev->history_info[1].target.user, "voicemail");
  EXPECT_EQ(ev->history_info[1].target.number, "");
  EXPECT_EQ(ev->history_info[1].index, "1.1");
  EXPECT_EQ(ev->history_info[1].cause, 486);  // RFC 4458 URI parameter

  ASSERT_EQ(ev->reasons.size(), 1u);
  EXPECT_EQ(ev->reasons[0].protocol, "Q.850");
  EXPECT_EQ(ev->reasons[0].cause, 16);
  EXPECT_EQ(ev->reasons[0].text, "Normal call clearing");

  EXPECT_EQ(ev->icid, "ab12cd34ef56.1.1");
  EXPECT_EQ(ev->correlation, "corr-7781");

  EXPECT_EQ(counter(parser, "sip.parsed"), 1u);
  EXPECT_EQ(counter(parser, "sip.requests"), 1u);
  EXPECT_EQ(counter(parser, "sip.responses"), 0u);
  EXPECT_EQ(counter(parser, "sip.bad_header"), 0u);
}

const char* const kDialog =
    "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-scscf-01\n"
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK-pcscf-01\n"
    "From: \"Zhang San\" <sip:+8613900101230@ims.example.com;user=phone>;tag=a73kszlfl\n"
    "To: <tel:+86-25-8300-1013>;tag=callee-77\n"
    "Call-ID: 3c26700e7d5b-1d2e@192.0.2.40\n"
    "CSeq: 101 INVITE\n";

TEST(SipParser, ResponsesCarryStatusPhraseAndToTag) {
  SipParser parser(imsConfig());
  struct Case {
    const char* start;
    int status;
    const char* phrase;
  };
  for (const Case& c : {Case{"SIP/2.0 180 Ringing\n", 180, "Ringing"},
                        Case{"SIP/2.0 486 Busy Here\n", 486, "Busy Here"},
                        Case{"SIP/2.0 487 Request Terminated\n", 487, "Request Terminated"}}) {
    const auto ev = parser.parse(payloadOf(message(std::string(c.start) + kDialog)));
    ASSERT_TRUE(ev.has_value()) << c.start;
    EXPECT_FALSE(ev->is_request);
    EXPECT_EQ(ev->status, c.status);
    EXPECT_EQ(ev->phrase, c.phrase);
    EXPECT_EQ(ev->method_name, "");
    EXPECT_EQ(ev->cseq_method, Method::kInvite);
    EXPECT_EQ(ev->to.tag, "callee-77");
    EXPECT_EQ(ev->to.number, "+862583001013");
    EXPECT_EQ(ev->via_count, 2);
    EXPECT_EQ(ev->via_branch, "z9hG4bK-scscf-01");
  }
  EXPECT_EQ(counter(parser, "sip.responses"), 3u);
  EXPECT_EQ(counter(parser, "sip.requests"), 0u);
}

TEST(SipParser, BusyWithQ850Reason) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(payloadOf(
      message(std::string("SIP/2.0 486 Busy Here\n") + kDialog + "Reason: Q.850;cause=17\n")));
  ASSERT_TRUE(ev.has_value());
  ASSERT_EQ(ev->reasons.size(), 1u);
  EXPECT_EQ(ev->reasons[0].protocol, "Q.850");
  EXPECT_EQ(ev->reasons[0].cause, 17);
  EXPECT_EQ(ev->reasons[0].text, "");
}

TEST(SipParser, AnsweredWithSdp) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(payloadOf(message(std::string("SIP/2.0 200 OK\n") + kDialog +
                                                     "Contact: <sip:+862583001013@203.0.113.9>\n"
                                                     "Content-Type: application/sdp\n",
                                                 kSdp)));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->status, 200);
  EXPECT_EQ(ev->phrase, "OK");
}

// Header names in odd case; CANCEL from a forking proxy after another branch answered.
TEST(SipParser, CancelAnsweredElsewhereWithOddCaseNames) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(payloadOf(
      message("CANCEL sip:+862583001013@ims.example.com;user=phone SIP/2.0\n"
              "vIA: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-scscf-01\n"
              "max-forwards: 70\n"
              "FROM: \"Zhang San\" <sip:+8613900101230@ims.example.com;user=phone>;tag=a73kszlfl\n"
              "tO: <tel:+86-25-8300-1013>\n"
              "CALL-ID: 3c26700e7d5b-1d2e@192.0.2.40\n"
              "cseq: 101 CANCEL\n"
              "REASON: SIP;cause=200;text=\"Call completed elsewhere\"\n"
              "p-asserted-IDENTITY: <sip:+8613900101230@ims.example.com>\n"
              "x-cid: corr-7781\n",
              {}, "content-LENGTH")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->method, Method::kCancel);
  EXPECT_EQ(ev->cseq_method, Method::kCancel);
  EXPECT_EQ(ev->call_id, "3c26700e7d5b-1d2e@192.0.2.40");
  EXPECT_EQ(ev->from.tag, "a73kszlfl");
  EXPECT_EQ(ev->via_branch, "z9hG4bK-scscf-01");
  ASSERT_EQ(ev->reasons.size(), 1u);
  EXPECT_EQ(ev->reasons[0].protocol, "SIP");
  EXPECT_EQ(ev->reasons[0].cause, 200);
  EXPECT_EQ(ev->reasons[0].text, "Call completed elsewhere");
  ASSERT_EQ(ev->pai.size(), 1u);
  EXPECT_EQ(ev->pai[0].number, "+8613900101230");
  EXPECT_EQ(ev->correlation, "corr-7781");
}

TEST(SipParser, SeveralReasonValuesInOneHeader) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(
      payloadOf(message(std::string("BYE sip:+8613900101230@192.0.2.40:5060 SIP/2.0\n") + kDialog +
                        "Reason: SIP;cause=487;text=\"Request Terminated\", Q.850;cause=31\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->method, Method::kBye);
  ASSERT_EQ(ev->reasons.size(), 2u);
  EXPECT_EQ(ev->reasons[0].protocol, "SIP");
  EXPECT_EQ(ev->reasons[0].cause, 487);
  EXPECT_EQ(ev->reasons[0].text, "Request Terminated");
  EXPECT_EQ(ev->reasons[1].protocol, "Q.850");
  EXPECT_EQ(ev->reasons[1].cause, 31);
}

// Line folding (RFC 3261 §7.3.1): a header may continue on lines starting with SP or HTAB.
TEST(SipParser, FoldedHeadersAreJoined) {
  SipParser parser(imsConfig());
  const auto ev =
      parser.parse(payloadOf(message("INVITE sip:1013@ims.example.com SIP/2.0\n"
                                     "Via: SIP/2.0/UDP 198.51.100.20:5060\n"
                                     "\t;branch=z9hG4bK-fold\n"
                                     "From: \"Zhang\n"
                                     "  San\" <sip:+8613900101230@ims.example.com>\n"
                                     "   ;tag=f1\n"
                                     "To: <sip:1013@ims.example.com>\n"
                                     "Call-ID: fold-1@192.0.2.40\n"
                                     "CSeq: 7\n"
                                     "  INVITE\n"
                                     "P-Called-Party-ID:\n"
                                     " <sip:1013@ims.example.com>\n"
                                     "Privacy: header;\n"
                                     "   id\n"
                                     "X-CID: corr\n"
                                     "  -7781\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->via_branch, "z9hG4bK-fold");
  EXPECT_EQ(ev->from.display, "Zhang San");
  EXPECT_EQ(ev->from.tag, "f1");
  EXPECT_EQ(ev->cseq, 7u);
  EXPECT_EQ(ev->cseq_method, Method::kInvite);
  ASSERT_TRUE(ev->p_called_party_id.has_value());
  EXPECT_EQ(ev->p_called_party_id->number, "+862583001013");
  EXPECT_EQ(ev->privacy, (std::vector<std::string>{"header", "id"}));
  EXPECT_EQ(ev->correlation, "corr -7781");  // folding is one SP (RFC 3261 §7.3.1)
  EXPECT_EQ(ev->request_uri.number, "+862583001013");
}

TEST(SipParser, PaiAsCommaListAndQuotedCommasDoNotSplit) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(payloadOf(
      message(std::string("INVITE sip:1013@ims.example.com SIP/2.0\n") + kDialog +
              "P-Asserted-Identity: \"Wang, \\\"Boss\\\"\" <sip:+8613900101230@ims.example.com>, "
              "<tel:+8613900101230>\n"
              "Diversion: \"Desk, 2nd floor\" <sip:1050@ims.example.com>;reason=deflection,"
              "<sip:1060@ims.example.com>;reason=\"time-of-day\"\n"
              "History-Info: \"Team, A\" <sip:1070@ims.example.com>;index=1,"
              "<sip:1080@ims.example.com>;index=1.1\n")));
  ASSERT_TRUE(ev.has_value());
  ASSERT_EQ(ev->pai.size(), 2u);
  EXPECT_EQ(ev->pai[0].display, "Wang, \"Boss\"");
  EXPECT_EQ(ev->pai[1].uri, "tel:+8613900101230");
  ASSERT_EQ(ev->diversion.size(), 2u);
  EXPECT_EQ(ev->diversion[0].target.display, "Desk, 2nd floor");
  EXPECT_EQ(ev->diversion[0].target.number, "+862583001050");
  EXPECT_EQ(ev->diversion[0].reason, "deflection");
  EXPECT_EQ(ev->diversion[1].target.number, "+862583001060");
  EXPECT_EQ(ev->diversion[1].reason, "time-of-day");
  ASSERT_EQ(ev->history_info.size(), 2u);
  EXPECT_EQ(ev->history_info[0].target.display, "Team, A");
  EXPECT_EQ(ev->history_info[0].cause, 0);
  EXPECT_EQ(ev->history_info[0].reason, "");
  EXPECT_EQ(ev->history_info[1].index, "1.1");
  EXPECT_EQ(ev->history_info[1].target.number, "+862583001080");
}

TEST(SipParser, PrivacyFromSeveralHeadersIsLowerCased) {
  SipParser parser(imsConfig());
  const auto ev =
      parser.parse(payloadOf(message(std::string("INVITE sip:1013@ims.example.com SIP/2.0\n") +
                                     kDialog + "Privacy: Header;ID\nPRIVACY: user\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->privacy, (std::vector<std::string>{"header", "id", "user"}));
}

TEST(SipParser, UnquotedIcidValueKeepsItsEqualsSigns) {
  SipParser parser(imsConfig());
  // the RFC 7315 §5.6 example value is base64-like and contains '='
  const auto ev = parser.parse(payloadOf(message(
      std::string("INVITE sip:1013@ims.example.com SIP/2.0\n") + kDialog +
      "P-Charging-Vector: icid-value=AyretyU0dm+6O2IrT5tAFrbHLso=023551024;orig-ioi=home1.net\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->icid, "AyretyU0dm+6O2IrT5tAFrbHLso=023551024");
}

// RFC 3891 §6.1 / RFC 5359 §2.9: a colleague picking up a ringing call sends the caller an
// INVITE naming the early dialog (Call-ID, the ringing phone's To tag, the caller's From tag).
TEST(SipParser, ReplacesNamesTheDialogTakenOver) {
  for (const bool fast : {true, false}) {
    ParserConfig cfg = imsConfig();
    cfg.fast_path = fast;
    SipParser parser(cfg);
    SipEvent ev;  // one event for both messages, as the replay loop does
    ASSERT_TRUE(parser.parseInto(
        payloadOf(
            message(std::string("INVITE sip:+8613900101230@127.0.2.20:5070 SIP/2.0\n") + kDialog +
                    "Replaces: 1-2345@127.0.2.20;to-tag=1013ring;from-tag=\"caller-1\";early-only\n"
                    "Replaces: other@x;to-tag=y\n")),
        ev));
    ASSERT_TRUE(ev.replaces.has_value());
    EXPECT_EQ(ev.replaces->call_id, "1-2345@127.0.2.20");
    EXPECT_EQ(ev.replaces->to_tag, "1013ring");
    EXPECT_EQ(ev.replaces->from_tag, "caller-1");
    EXPECT_TRUE(ev.replaces->early_only);

    // No Replaces left over from the message before; one without a Call-ID names no dialog.
    ASSERT_TRUE(parser.parseInto(
        payloadOf(message(std::string("INVITE sip:1013@ims.example.com SIP/2.0\n") + kDialog +
                          "Replaces: ;to-tag=x;from-tag=y\n")),
        ev));
    EXPECT_FALSE(ev.replaces.has_value());
  }
}

// A HEP agent's capture id rides with the message; the next message, from a wire capture, has
// none (one event reused, as the replay loop does), on both parse paths.
TEST(SipParser, CaptureIdComesFromThePayloadOnly) {
  for (const bool fast : {true, false}) {
    ParserConfig cfg = imsConfig();
    cfg.fast_path = fast;
    SipParser parser(cfg);
    SipEvent ev;
    capture::SipPayload hep =
        payloadOf(message(std::string("INVITE sip:1013@ims.example.com SIP/2.0\n") + kDialog));
    hep.has_capture_id = true;
    hep.capture_id = 2001;
    ASSERT_TRUE(parser.parseInto(hep, ev));
    EXPECT_EQ(ev.capture_id, std::optional<uint32_t>(2001));
    ASSERT_TRUE(parser.parseInto(
        payloadOf(message(std::string("INVITE sip:1013@ims.example.com SIP/2.0\n") + kDialog)),
        ev));
    EXPECT_FALSE(ev.capture_id.has_value());
  }
}

TEST(SipParser, HistoryInfoReasonMayCarryOtherEscapedHeaders) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(payloadOf(message(
      std::string("INVITE sip:1013@ims.example.com SIP/2.0\n") + kDialog +
      "History-Info: <sip:1013@ims.example.com?Privacy=history&Reason=SIP%3Bcause%3D408>;index=1,"
      "<sip:1020@ims.example.com?Reason=Q.850%3Bcause%3D19>;index=1.1,"
      "<tel:+862583001030;cause=302>;index=1.2\n")));
  ASSERT_TRUE(ev.has_value());
  ASSERT_EQ(ev->history_info.size(), 3u);
  EXPECT_EQ(ev->history_info[0].cause, 408);
  EXPECT_EQ(ev->history_info[0].reason, "no-answer");
  EXPECT_EQ(ev->history_info[1].cause, 0);  // Q.850 causes are not SIP status codes
  EXPECT_EQ(ev->history_info[2].cause, 302);
  EXPECT_EQ(ev->history_info[2].reason, "unconditional");
  EXPECT_EQ(ev->history_info[2].target.number, "+862583001030");
}

TEST(SipParser, CorrelationHeaderOnlyWhenConfigured) {
  ParserConfig cfg = imsConfig();
  cfg.correlation_header.clear();
  SipParser parser(cfg);
  const auto ev = parser.parse(payloadOf(message(
      std::string("INVITE sip:1013@ims.example.com SIP/2.0\n") + kDialog + "X-CID: corr-7781\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->correlation, "");
}

TEST(SipParser, BadCorrelationHeaderNamesAreRejected) {
  ParserConfig cfg = imsConfig();
  cfg.correlation_header = "X CID";
  EXPECT_THROW(SipParser{cfg}, std::invalid_argument);
  cfg.correlation_header = "Call-ID";  // decoded by sofia, never seen as an unknown header
  EXPECT_THROW(SipParser{cfg}, std::invalid_argument);
  cfg.correlation_header = "X-CID";
  cfg.dial_plan.rewrite.push_back({"(", "x"});
  EXPECT_THROW(SipParser{cfg}, std::invalid_argument);
}

// The origin marker mcn puts on its own calls ([sipua] marker_header) is read by the fast path
// and by sofia alike (a folded line sends the message to sofia).
TEST(SipParser, OriginMarkerOnBothPaths) {
  for (bool fast : {true, false}) {
    for (const char* fold : {"", "Subject: a\n b\n"}) {
      ParserConfig cfg = imsConfig();
      cfg.fast_path = fast;
      SipParser parser(cfg);
      const auto ev = parser.parse(payloadOf(
          message(std::string("INVITE sip:1013@ims.example.com SIP/2.0\n") + kDialog + fold +
                  "x-mcn-origin:  callback;id=0123456789abcdef \nX-MCN-Origin: second\n")));
      ASSERT_TRUE(ev.has_value()) << fast << fold;
      EXPECT_EQ(ev->origin, "callback;id=0123456789abcdef") << fast << fold;
    }
  }
  ParserConfig cfg = imsConfig();
  cfg.origin_header.clear();
  SipParser off(cfg);
  const auto ev =
      off.parse(payloadOf(message(std::string("INVITE sip:1013@ims.example.com SIP/2.0\n") +
                                  kDialog + "X-MCN-Origin: callback\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->origin, "");
  cfg.origin_header = "X MCN";
  EXPECT_THROW(SipParser{cfg}, std::invalid_argument);
}

// Without angle brackets, parameters after the URI belong to the header (RFC 3261 §20.10).
TEST(SipParser, BareAddrSpecsWithoutAngleBrackets) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(
      payloadOf(message("INVITE tel:+86-25-8300-1013 SIP/2.0\n"
                        "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-bare\n"
                        "From: sip:+8613900101230@ims.example.com;tag=b1\n"
                        "To: tel:+86-25-8300-1013\n"
                        "Call-ID: bare-1\n"
                        "CSeq: 3 INVITE\n"
                        "Diversion: sip:1020@ims.example.com;reason=no-answer;counter=1\n"
                        "P-Called-Party-ID: sip:1013@[2001:db8::9]:5060\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->request_uri.uri, "tel:+86-25-8300-1013");
  EXPECT_EQ(ev->request_uri.number, "+862583001013");
  EXPECT_EQ(ev->from.uri, "sip:+8613900101230@ims.example.com");
  EXPECT_EQ(ev->from.tag, "b1");
  EXPECT_EQ(ev->to.number, "+862583001013");
  ASSERT_EQ(ev->diversion.size(), 1u);
  EXPECT_EQ(ev->diversion[0].target.uri, "sip:1020@ims.example.com");
  EXPECT_EQ(ev->diversion[0].target.number, "+862583001020");
  EXPECT_EQ(ev->diversion[0].reason, "no-answer");
  EXPECT_EQ(ev->diversion[0].counter, 1);
  ASSERT_TRUE(ev->p_called_party_id.has_value());
  EXPECT_EQ(ev->p_called_party_id->uri, "sip:1013@[2001:db8::9]:5060");
  EXPECT_EQ(ev->p_called_party_id->number, "+862583001013");
}

TEST(SipParser, AnonymousCallerHasNoNumber) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(
      payloadOf(message("INVITE sip:1013@ims.example.com SIP/2.0\n"
                        "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-anon\n"
                        "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=x1\n"
                        "To: <sip:1013@ims.example.com>\n"
                        "Call-ID: anon-1\n"
                        "CSeq: 1 INVITE\n"
                        "Privacy: id\n")));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->from.display, "Anonymous");
  EXPECT_EQ(ev->from.user, "anonymous");
  EXPECT_EQ(ev->from.number, "");
  EXPECT_TRUE(ev->pai.empty());
  EXPECT_FALSE(ev->p_called_party_id.has_value());
  EXPECT_EQ(ev->icid, "");
}

TEST(SipParser, ExtensionMethodsAreOther) {
  SipParser parser(imsConfig());
  const auto ev = parser.parse(
      payloadOf(message(std::string("FOO sip:1013@ims.example.com SIP/2.0\n") + kDialog)));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->method, Method::kOther);
  EXPECT_EQ(ev->method_name, "FOO");
}

TEST(SipEvent, MethodNamesRoundTripAndAreCaseSensitive) {
  for (const Method m :
       {Method::kInvite, Method::kAck, Method::kBye, Method::kCancel, Method::kPrack,
        Method::kUpdate, Method::kInfo, Method::kOptions, Method::kRegister, Method::kSubscribe,
        Method::kNotify, Method::kPublish, Method::kMessage, Method::kRefer}) {
    EXPECT_EQ(methodFromName(methodName(m)), m) << methodName(m);
  }
  EXPECT_STREQ(methodName(Method::kInvite), "INVITE");
  EXPECT_EQ(methodFromName("invite"), Method::kOther);  // RFC 3261 §7.1
  EXPECT_EQ(methodFromName(""), Method::kOther);
  // Only the whole name: every prefix, every longer token and every one-byte change of a
  // known name is another (extension) method.
  for (int i = 0; i < static_cast<int>(Method::kOther); ++i) {
    const std::string name = methodName(static_cast<Method>(i));
    for (size_t n = 0; n < name.size(); ++n) {
      EXPECT_EQ(methodFromName(name.substr(0, n)), Method::kOther) << name.substr(0, n);
    }
    EXPECT_EQ(methodFromName(name + "S"), Method::kOther) << name;
    for (size_t k = 0; k < name.size(); ++k) {
      for (const char c : {'A', 'E', 'Z', 'a', '-'}) {
        std::string changed = name;
        changed[k] = c;
        if (changed == name) continue;
        EXPECT_EQ(methodFromName(changed), Method::kOther) << changed;
      }
    }
  }
}

TEST(SipParser, CountersHaveStableNamesInAFixedOrder) {
  SipParser parser(imsConfig());
  std::vector<std::string> names;
  parser.forEachCounter([&](std::string_view n, uint64_t v) {
    names.emplace_back(n);
    EXPECT_EQ(v, 0u) << n;
  });
  EXPECT_EQ(names, (std::vector<std::string>{
                       "sip.parsed", "sip.requests", "sip.responses", "sip.keepalive",
                       "sip.too_large", "sip.malformed", "sip.truncated", "sip.missing_call_id",
                       "sip.missing_cseq", "sip.missing_from_to", "sip.bad_header",
                       "sip.list_truncated", "sip.too_many_headers", "sip.lenient"}));
}

}  // namespace
}  // namespace mcn::sipparse
