// `mcn explain` run as an engineer runs it against the real-stack captures of pcaps/ (kamailio 5.6
// and sipp: tools/record-sipp/README.md). The verdict expected for each capture comes from what
// the scenario did (that README's case table, checked there with tshark): which number, which
// outcome, which rule of calls/RULES.md, which message decided. The mcn-gen captures stand in
// where no real-stack capture of the kind exists yet (redirect_302, failed_404,
// b2bua_forward_no_answer: pcaps/README.md).

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_run.h"

namespace {

namespace fs = std::filesystem;
using mcn::clitest::CliResult;
using mcn::clitest::kPcaps;
using mcn::clitest::lineCount;
using mcn::clitest::runMcn;
const std::string kConfig = " --config " + kPcaps + "/fixtures.toml";

CliResult explain(const std::string& pcap, const std::string& select) {
  return runMcn("explain " + kPcaps + "/" + pcap + " " + select + kConfig);
}

// The text with every line break and indentation folded to one space, so an assertion does not
// depend on where a long line wrapped.
std::string unwrapped(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == '\n' || c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

#define EXPECT_HAS(text, needle)                                                                \
  EXPECT_NE(unwrapped(text).find(needle), std::string::npos) << "missing: " << (needle) << "\n" \
                                                             << (text)
#define EXPECT_LACKS(text, needle)                                                                 \
  EXPECT_EQ(unwrapped(text).find(needle), std::string::npos) << "unexpected: " << (needle) << "\n" \
                                                             << (text)

// Every line fits a 100-column terminal, except those holding one word longer than that.
void expectFits(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() <= 100) continue;
    const size_t first = line.find_first_not_of(' ');
    EXPECT_EQ(line.find(' ', first), std::string::npos) << "wider than 100 columns: " << line;
  }
}

// ---- one verdict per kind of call ----

TEST(Explain, AnsweredByRule1) {
  CliResult r = explain("sipp_answered.pcap", "--callee 1013");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001013: answered by rule 1, not missed");
  // Two hops to 1013 (the caller's INVITE to kamailio, kamailio's to the phone); the phone's 200
  // (hop 2) is the earliest 2xx.
  EXPECT_HAS(r.out, "rule 1 answered: YES, H2 got 200 \"OK\"");
  EXPECT_HAS(r.out, "missed: answered is not in calls.missed_outcomes: not missed");
  expectFits(r.out);
}

TEST(Explain, CancelledByTheCallersCancel) {
  CliResult r = explain("sipp_cancel.pcap", "--callee +862583001013");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001013: cancelled by rule 4, missed");
  EXPECT_HAS(r.out, "rule 1 answered: no");
  EXPECT_HAS(r.out, "rule 2 answered_elsewhere: no");
  EXPECT_HAS(r.out, "rule 3 forwarded: no, no hop's Diversion or History-Info names it");
  EXPECT_HAS(r.out, "rule 4 cancelled: YES, the caller's CANCEL on H1");
  EXPECT_HAS(r.out, "status 487, reason \"Request Terminated\"");
}

TEST(Explain, BusyByRule5) {
  CliResult r = explain("sipp_busy.pcap", "--callee 1015");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001015: busy by rule 5, missed");
  EXPECT_HAS(r.out, "rule 4 cancelled: no, no CANCEL on its hops");
  EXPECT_HAS(r.out, "rule 5 busy: YES, H2 got 486 \"Busy Here\"");
}

TEST(Explain, NoAnswerBy480) {
  CliResult r = explain("sipp_unavailable.pcap", "--callee 02583001016");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001016: no_answer by rule 6, missed");
  EXPECT_HAS(r.out, "rule 5 busy: no, no final status 486 or 600");
  EXPECT_HAS(r.out, "rule 6 no_answer: YES, H2 got 480 \"Temporarily Unavailable\"");
}

// kamailio's fr_inv_timer: a 408 to the caller, then its own CANCEL (no Reason) to the phone.
TEST(Explain, ProxyTimeoutIsNoAnswerNotCancelled) {
  CliResult r = explain("sipp_timeout.pcap", "--callee 1017");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001017: no_answer by rule 6, missed");
  EXPECT_HAS(r.out,
             "rule 4 cancelled: no, the CANCEL on H2 came from the proxy: upstream H1 got 408 "
             "\"Request Timeout\" and was not cancelled");
  EXPECT_HAS(r.out, "rule 6 no_answer: YES, H1 got 408 \"Request Timeout\"");
  EXPECT_HAS(r.out, "CANCEL from the proxy; reads 408 from upstream H1");
}

TEST(Explain, DeclinedBy603) {
  CliResult r = explain("sipp_declined.pcap", "--callee 1018");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001018: declined by rule 7, not missed");
  EXPECT_HAS(r.out, "rule 6 no_answer: no, no final status 408 or 480");
  EXPECT_HAS(r.out, "rule 7 declined: YES, H2 got 603 \"Decline\"");
  EXPECT_HAS(r.out, "missed: declined is not in calls.missed_outcomes: not missed");
}

// Parallel fork to 1020 and 1021; 1021 answers; kamailio CANCELs 1020 with cause=200.
TEST(Explain, ForkAnsweredElsewhere) {
  CliResult r = explain("sipp_fork.pcap", "--callee 1020");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "mcn explain: 1 call of 1 match --callee 1020 (+862583001020)");
  EXPECT_HAS(r.out, "+862583001020: answered_elsewhere by rule 2, not missed");
  EXPECT_HAS(r.out,
             "rule 2 answered_elsewhere: YES, the CANCEL on H2 carries a Reason saying answered "
             "elsewhere");
  EXPECT_HAS(r.out, "+862583001021: answered by rule 1, not missed");
  EXPECT_HAS(r.out, "rule 1 answered: YES, H3 got 200 \"OK\"");
  // The caller's hop forked: it counts for no number.
  EXPECT_HAS(r.out, "H1 L1 -> +862583001020: CSeq 1, Via 1");
  EXPECT_HAS(r.out, "aggregate: H3 went on to +862583001021, so it counts for no number");
  // The ladder shows the Reason the verdict rests on, on the CANCEL to 1020's phone.
  EXPECT_HAS(r.out, "127.0.0.10:5060 -> 127.0.0.11:5062 CANCEL sip:1020@127.0.0.11:5062");
  EXPECT_HAS(r.out, "Reason: SIP;cause=200;text=\"Call completed elsewhere\"");
  expectFits(r.out);
}

// 1030 busy (486); failure_route sends the call to 9999 with Diversion reason=user-busy.
TEST(Explain, BusyForwardedToVoicemailNumber) {
  CliResult r = explain("sipp_busy_voicemail.pcap", "--callee 1030");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001030: forwarded by rule 3, missed");
  EXPECT_HAS(r.out, "forwarded_to +862583009999");
  EXPECT_HAS(r.out,
             "rule 3 forwarded: YES, H3's INVITE carries Diversion or History-Info naming it as "
             "forwarded to +862583009999, reason user-busy; status and end from its own final "
             "response on H2");
  EXPECT_HAS(r.out, "Diversion: <sip:1030@127.0.0.10:5060>;reason=user-busy");
  EXPECT_HAS(r.out, "+862583009999: answered by rule 1, not missed");
}

// Issue 13 item 1: the voicemail's 200 must not read as 1031's answer.
TEST(Explain, BusyForwardedToVoicemailUri) {
  CliResult r = explain("sipp_busy_vm_uri.pcap", "--callee 1031");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001031: forwarded by rule 3, missed");
  EXPECT_HAS(r.out, "rule 1 answered: no, no 2xx on its hops (final statuses: H2 486");
  EXPECT_HAS(r.out,
             "rule 2 answered_elsewhere: no, no CANCEL or final response of its hops carries a "
             "Reason saying answered elsewhere (SIP cause 200, Q.850 cause 26); H3 (voicemail) "
             "answered, but that does not count for it: it was forwarded (rule 3)");
  EXPECT_HAS(r.out, "forwarded to voicemail, reason user-busy");
}

TEST(Explain, NoAnswerForwardedByHistoryInfo) {
  CliResult r = explain("sipp_noanswer_vm_uri.pcap", "--callee 1032");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001032: forwarded by rule 3, missed");
  EXPECT_HAS(r.out, "forwarded to voicemail, reason no-answer");
  EXPECT_HAS(r.out, "History-Info: <sip:voicemail@127.0.0.19:5062;cause=408>;index=1.1");
}

// No Diversion, no History-Info: only calls.voicemail (pcaps/fixtures.toml) names vm-box.
TEST(Explain, ConfiguredVoicemailIdentity) {
  CliResult r = explain("sipp_busy_vm_plain.pcap", "--callee 1033");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001033: forwarded by rule 3, missed");
  EXPECT_HAS(r.out,
             "goes to the voicemail identity vm-box (calls.voicemail) without Diversion or "
             "History-Info");
  EXPECT_HAS(r.out, "vm-box: answered by rule 1, not missed");
  EXPECT_HAS(r.out, "voicemail identity (calls.voicemail)");
}

// --callee accepts a raw user that is no number (the voicemail's Request-URI user).
TEST(Explain, CalleeThatIsNoNumber) {
  CliResult r = explain("sipp_busy_vm_plain.pcap", "--callee vm-box");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "vm-box: answered by rule 1, not missed");
}

TEST(Explain, RedirectedByRule8) {
  CliResult r = explain("redirect_302.pcap", "--callee 1013");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001013: redirected by rule 8, not missed");
  EXPECT_HAS(r.out, "rule 7 declined: no, no final status 603");
  EXPECT_HAS(r.out, "rule 8 redirected: YES,");
  EXPECT_HAS(r.out, "302 \"Moved Temporarily\"");
}

TEST(Explain, Failed404ByRule9) {
  CliResult r = explain("failed_404.pcap", "--callee 1099");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001099: failed by rule 9, not missed");
  EXPECT_HAS(r.out, "rule 8 redirected: no");
  EXPECT_HAS(r.out, "rule 9 failed: YES, H1 got 404");
}

// The caller gave up after kamailio's 407: failed, not missed.
TEST(Explain, ChallengeNeverRetriedIsFailed) {
  CliResult r = explain("sipp_auth_unretried.pcap", "--callee 1013");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001013: failed by rule 9, not missed");
  EXPECT_HAS(r.out, "rule 9 failed: YES, H1 got 407 \"Proxy Authentication Required\"");
}

// 407, then the INVITE retried with credentials (CSeq 2): the challenge is superseded and the
// retry decides.
TEST(Explain, AuthRetryAnswered) {
  CliResult r = explain("sipp_auth.pcap", "--callee 1013");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001013: answered by rule 1, not missed");
  EXPECT_HAS(r.out, "H1 L1 -> +862583001013: CSeq 1, Via 1");
  EXPECT_HAS(r.out, "final 407 \"Proxy Authentication Required\"; superseded by H2");
  EXPECT_HAS(r.out, "H2 L1 -> +862583001013: CSeq 2, Via 1");
  EXPECT_LACKS(r.out, "own hops H1");
}

TEST(Explain, SlowAuthRetryCancelled) {
  CliResult r = explain("sipp_auth_slow_cancel.pcap", "--callee 1013");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001013: cancelled by rule 4, missed");
  EXPECT_HAS(r.out, "superseded by H2");
  EXPECT_HAS(r.out, "rule 4 cancelled: YES, the caller's CANCEL on H2");
}

// The retry came 40 s after the 407: two calls on one Call-ID; each ladder holds only its own
// messages (frames 1-3, CSeq 1; frames 4-16, CSeq 2).
TEST(Explain, LateAuthRetryIsASecondCallWithItsOwnLadder) {
  CliResult r = runMcn("explain " + kPcaps +
                       "/sipp_auth_retry_40s.pcap --call-id 1-7022-auth_slow_cancel@127.0.0.20 "
                       "--json" +
                       kConfig);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.at("calls").size(), 2u) << r.out;
  const auto& first = j["calls"][0];
  const auto& second = j["calls"][1];
  EXPECT_EQ(first["numbers"][0]["outcome"], "failed");
  EXPECT_EQ(first["numbers"][0]["rule"], 9);
  EXPECT_EQ(second["numbers"][0]["outcome"], "cancelled");
  EXPECT_EQ(second["numbers"][0]["rule"], 4);
  ASSERT_EQ(first["messages"].size(), 3u) << first["messages"].dump();
  for (const auto& m : first["messages"]) EXPECT_EQ(m["cseq"], 1);
  ASSERT_EQ(second["messages"].size(), 13u) << second["messages"].dump();
  for (const auto& m : second["messages"]) EXPECT_EQ(m["cseq"], 2);
  // The failed call waited auth_retry_ms (32 s) for the retry: its timer decided it.
  EXPECT_EQ(first["decided_by"], "timer");
  EXPECT_EQ(first["decided_at"], "2026-12-06T21:10:44.646Z");
}

// A real-stack capture cut while the phone rings (frames 1-5 of sipp_answered.pcap: INVITE, 100,
// INVITE to the phone, 180, 180): the input ends before any final response.
TEST(Explain, CaptureEndsWhileRingingIsIncomplete) {
  std::ifstream in(kPcaps + "/sipp_answered.pcap", std::ios::binary);
  std::string pcap((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(pcap.size(), 24u);
  size_t off = 24;  // pcap file header; then 16-byte record headers (incl_len at +8)
  for (int rec = 0; rec < 5; ++rec) {
    ASSERT_LE(off + 16, pcap.size());
    uint32_t incl = 0;
    std::memcpy(&incl, pcap.data() + off + 8, 4);  // the file is little-endian, as is the host
    off += 16 + incl;
  }
  const fs::path cut =
      fs::temp_directory_path() / ("mcn_explain_ringing_" + std::to_string(getpid()) + ".pcap");
  std::ofstream(cut, std::ios::binary) << pcap.substr(0, off);
  CliResult r = runMcn("explain " + cut.string() + " --callee 1013" + kConfig);
  fs::remove(cut);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "+862583001013: incomplete by rule 10, not missed");
  EXPECT_HAS(r.out, "rule 4 cancelled: no, no CANCEL on its hops");
  EXPECT_HAS(r.out, "rule 10 incomplete: YES, H1, H2 never ended");
  EXPECT_LACKS(r.out, "rule 5 busy");  // rules 5-9 need every hop ended
  EXPECT_HAS(r.out, "(end_of_input)");
}

// Two Call-IDs joined by icid-value: either leg's Call-ID selects the whole call.
TEST(Explain, MultiLegCallByEitherCallId) {
  for (const char* id :
       {"b2bua_forward_no_answer-1@192.0.2.10", "b2bua_forward_no_answer-2@198.51.100.10"}) {
    CliResult r = explain("b2bua_forward_no_answer.pcap", std::string("--call-id ") + id);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_HAS(r.out, "L1 Call-ID b2bua_forward_no_answer-1@192.0.2.10");
    EXPECT_HAS(r.out, "L2 Call-ID b2bua_forward_no_answer-2@198.51.100.10");
    EXPECT_HAS(r.out, "correlation icid-b2bua_forward_no_answer-1");
    EXPECT_HAS(r.out, "+862583001013: forwarded by rule 3, missed");
    EXPECT_HAS(r.out, "forwarded to +8613800138000, reason no-answer");
    EXPECT_HAS(r.out, "+8613800138000: cancelled by rule 4, missed");
    EXPECT_HAS(r.out, "H3 L2 -> +8613800138000");
  }
}

// Every frame twice (a SPAN copy, dropped by frame dedup before SIP) and two retransmissions of
// each INVITE and final response (pcaps/README.md): 8 retransmissions in the ladder.
TEST(Explain, RetransmissionsAreMarkedInTheLadder) {
  CliResult r = explain("answered_dup_retrans.pcap", "--callee 1013");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t retrans = 0;
  for (size_t p = r.out.find("[retransmission]"); p != std::string::npos;
       p = r.out.find("[retransmission]", p + 1)) {
    ++retrans;
  }
  EXPECT_EQ(retrans, 8u) << r.out;
  EXPECT_LACKS(r.out, "[duplicate]");
  EXPECT_HAS(r.out, "+862583001013: answered by rule 1, not missed");
}

// ---- selection, JSON, errors ----

TEST(Explain, CalleeInAnyDialPlanForm) {
  for (const char* form :
       {"1020", "+862583001020", "025-8300-1020", "tel:+86-25-8300-1020", "sip:1020@pbx.example"}) {
    CliResult r = explain("sipp_fork.pcap", std::string("--callee ") + form);
    ASSERT_EQ(r.exit_code, 0) << form << ": " << r.err;
    EXPECT_HAS(r.out, "1 call of 1 match");
  }
}

TEST(Explain, SeveralFilesSeveralCalls) {
  CliResult r = runMcn("explain " + kPcaps + "/sipp_answered.pcap " + kPcaps + "/sipp_auth.pcap " +
                       kPcaps + "/sipp_tcp.pcap --callee 1013" + kConfig);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "mcn explain: 3 calls of 3 match --callee 1013 (+862583001013)");
  EXPECT_HAS(r.out, "=== Call 1 of 3");
  EXPECT_HAS(r.out, "=== Call 3 of 3");
}

TEST(Explain, JsonShape) {
  CliResult r = explain("sipp_fork.pcap", "--callee 1021 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["calls_seen"], 1);
  EXPECT_EQ(j["calls_matched"], 1);
  ASSERT_EQ(j["calls"].size(), 1u);
  const auto& c = j["calls"][0];
  EXPECT_EQ(c["call_ids"], nlohmann::json::array({"1-12728-fork@127.0.0.20"}));
  // Every SIP message of the capture (20 by tshark) belongs to this one call.
  EXPECT_EQ(c["messages"].size(), 20u);
  EXPECT_EQ(c["messages_left_out"], 0);
  EXPECT_EQ(c["hops"].size(), 3u);
  EXPECT_EQ(c["hops"][0]["aggregate_of"], 3);
  ASSERT_EQ(c["numbers"].size(), 2u);
  // The records are the replay's (pcaps/sipp_fork.expected.jsonl, written by hand).
  std::ifstream exp(kPcaps + "/sipp_fork.expected.jsonl");
  std::string line;
  for (size_t n = 0; n < 2 && std::getline(exp, line); ++n) {
    EXPECT_EQ(c["numbers"][n]["record"], nlohmann::json::parse(line));
  }
  const auto& answered = c["numbers"][1];
  EXPECT_EQ(answered["callee"], "+862583001021");
  EXPECT_EQ(answered["outcome"], "answered");
  EXPECT_EQ(answered["rule"], 1);
  EXPECT_EQ(answered["own_hops"], nlohmann::json::array({3}));
  ASSERT_EQ(answered["rules"].size(), 1u);
  EXPECT_EQ(answered["rules"][0]["matched"], true);
  const auto& elsewhere = c["numbers"][0];
  EXPECT_EQ(elsewhere["outcome"], "answered_elsewhere");
  ASSERT_EQ(elsewhere["rules"].size(), 2u);
  EXPECT_EQ(elsewhere["rules"][0]["outcome"], "answered");
  EXPECT_EQ(elsewhere["rules"][0]["matched"], false);
  bool reason_seen = false;
  for (const auto& m : c["messages"]) {
    for (const auto& h : m["headers"]) {
      if (h["name"] == "Reason") {
        reason_seen = true;
        EXPECT_EQ(m["method"], "CANCEL");
        EXPECT_EQ(m["hop"], 2);
      }
    }
  }
  EXPECT_TRUE(reason_seen);
}

TEST(Explain, NoSuchCallSaysHowManyCallsWereSeen) {
  CliResult r = explain("sipp_fork.pcap", "--callee 1013");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
  EXPECT_HAS(r.err, "no call to 1013 (+862583001013) among the 1 call (2 records)");

  r = explain("sipp_fork.pcap", "--call-id nope@example");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_HAS(r.err, "no call with Call-ID nope@example among the 1 call");
}

TEST(Explain, UnreadableFileIsOneLineExit2) {
  CliResult r = runMcn("explain /nonexistent/x.pcap --callee 1013");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
  EXPECT_HAS(r.err, "/nonexistent/x.pcap");
}

TEST(Explain, SelectorIsRequiredAndExclusive) {
  CliResult r = runMcn("explain " + kPcaps + "/sipp_fork.pcap");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
  r = runMcn("explain " + kPcaps + "/sipp_fork.pcap --callee 1020 --call-id x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
}

TEST(Explain, StandardInputIsRefused) {
  CliResult r = runMcn("explain - --callee 1020 < " + kPcaps + "/sipp_fork.pcap");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
  EXPECT_HAS(r.err, "standard input");
}

TEST(Explain, HelpNamesTheOptions) {
  CliResult r = runMcn("explain --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--call-id", "--callee", "--config", "--json"}) EXPECT_HAS(r.out, opt);
}

}  // namespace
