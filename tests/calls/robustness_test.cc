// What a SPAN port really delivers: duplicated frames, retransmissions, responses before their
// request, orphans, Call-ID reuse, clock skew between capture points, and more calls than fit.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "call_builder.h"

namespace mcn::calls::testing {
namespace {

std::vector<CallRecord> run(const std::vector<SipEvent>& events, int64_t finish_at,
                            TrackerConfig cfg = TrackerConfig()) {
  Harness h(std::move(cfg));
  h.feed(events);
  h.finish(finish_at);
  return h.records;
}

// Five calls with different outcomes, as clean single copies.
std::vector<SipEvent> mixedScenario() {
  std::vector<SipEvent> ev;
  // call-1: two hops, answered.
  const SipEvent a_up = invite(at(0), "call-1", "f1", "z9hG4bK-1u", 1, kB, kB);
  const SipEvent a_dn = invite(at(2), "call-1", "f1", "z9hG4bK-1d", 2, kB, kB);
  ev.insert(ev.end(), {a_up, response(at(1), 100, a_up), a_dn, response(at(90), 180, a_dn, "t1"),
                       response(at(91), 180, a_up, "t1"), response(at(2500), 200, a_dn, "t1"),
                       response(at(2501), 200, a_up, "t1"),
                       inDialog(at(2600), Method::kAck, a_up, "t1", 1, "z9hG4bK-1a")});
  // call-2: cancelled while ringing.
  const SipEvent b = invite(at(300), "call-2", "f2", "z9hG4bK-2", 1, kC, kC);
  const SipEvent b_can = cancel(at(4300), b);
  ev.insert(ev.end(), {b, response(at(400), 180, b, "t2"), b_can, response(at(4305), 200, b_can),
                       response(at(4310), 487, b, "t2")});
  // call-3: busy then voicemail on a new branch.
  const SipEvent c_up = invite(at(600), "call-3", "f3", "z9hG4bK-3u", 1, kPilot, kPilot);
  const SipEvent c_b = invite(at(602), "call-3", "f3", "z9hG4bK-3b", 2, kPilot, kPilot);
  SipEvent c_vm = invite(at(1700), "call-3", "f3", "z9hG4bK-3v", 2, kVM, kPilot);
  c_vm.diversion = {diversion(kPilot, "user-busy")};
  ev.insert(ev.end(), {c_up, c_b, response(at(1600), 486, c_b, "t3"), c_vm,
                       response(at(1800), 200, c_vm, "v3"), response(at(1801), 200, c_up, "v3")});
  // call-4: never answered (ring timeout).
  const SipEvent d = invite(at(900), "call-4", "f4", "z9hG4bK-4", 1, kB, kB);
  ev.insert(ev.end(), {d, response(at(950), 180, d, "t4")});
  // call-5: declined.
  const SipEvent e = invite(at(1000), "call-5", "f5", "z9hG4bK-5", 1, kC, kC);
  ev.insert(ev.end(), {e, response(at(1050), 183, e, "t5"), response(at(3000), 603, e, "t5")});
  std::stable_sort(ev.begin(), ev.end(),
                   [](const SipEvent& x, const SipEvent& y) { return x.ts_us < y.ts_us; });
  return ev;
}

bool isRetransmitted(const SipEvent& e) {
  if (e.is_request) return e.method == Method::kInvite || e.method == Method::kCancel;
  return e.status >= 200 && e.cseq_method == Method::kInvite;
}

// Every frame twice (SPAN ingress + egress, 0-5 us apart, sometimes the later copy first) and
// every INVITE, CANCEL and final response retransmitted 500 ms and 1.5 s later (RFC 3261 T1).
std::vector<SipEvent> noisy(const std::vector<SipEvent>& clean) {
  struct Arrival {
    int64_t key;
    size_t seq;
    SipEvent ev;
  };
  std::vector<Arrival> out;
  size_t seq = 0;
  const int64_t deltas[] = {0, 2, 5};
  for (size_t i = 0; i < clean.size(); ++i) {
    const SipEvent& e = clean[i];
    SipEvent copy = e;
    copy.ts_us += deltas[i % 3];
    if (i % 2 == 0) {
      out.push_back({e.ts_us, seq++, e});
      out.push_back({e.ts_us, seq++, copy});
    } else {
      out.push_back({e.ts_us, seq++, copy});
      out.push_back({e.ts_us, seq++, e});
    }
    if (isRetransmitted(e)) {
      for (int64_t later : {500, 1500}) {
        SipEvent r = e;
        r.ts_us += later * 1000;
        out.push_back({r.ts_us, seq++, r});
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Arrival& a, const Arrival& b) {
    return a.key != b.key ? a.key < b.key : a.seq < b.seq;
  });
  std::vector<SipEvent> events;
  for (auto& a : out) events.push_back(std::move(a.ev));
  return events;
}

TEST(Robustness, DuplicatesAndRetransmissionsGiveTheCleanRunsRecords) {
  const std::vector<SipEvent> clean = mixedScenario();
  Harness clean_run;
  clean_run.feed(clean);
  clean_run.finish(at(400000));
  Harness noisy_run;
  noisy_run.feed(noisy(clean));
  noisy_run.finish(at(400000));

  // The clean run is what the rules say (so the comparison is not between two empty lists).
  // Decision order: call-3 at 3.801 s, call-1 at 4.501 s, call-5 at 5 s, call-2 at 6.31 s,
  // call-4 at its ring timeout + grace.
  ASSERT_EQ(clean_run.records.size(), 6u);
  CallRecord pilot =
      expectedRecord(kPilot, Outcome::kForwarded, true, 486, "user-busy", 600, 1600, 0, "call-3");
  pilot.forwarded_to = kVM;
  EXPECT_EQ(clean_run.records[0], pilot);
  EXPECT_EQ(clean_run.records[1],
            expectedRecord(kVM, Outcome::kAnswered, false, 200, "OK", 1700, 1800, 0, "call-3"));
  EXPECT_EQ(clean_run.records[2],
            expectedRecord(kB, Outcome::kAnswered, false, 200, "OK", 0, 2500, 2410, "call-1"));
  EXPECT_EQ(clean_run.records[3], expectedRecord(kC, Outcome::kDeclined, false, 603, "Decline",
                                                 1000, 3000, 1950, "call-5"));
  EXPECT_EQ(clean_run.records[4], expectedRecord(kC, Outcome::kCancelled, true, 487,
                                                 "Request Terminated", 300, 4300, 3900, "call-2"));
  EXPECT_EQ(clean_run.records[5],
            expectedRecord(kB, Outcome::kNoAnswer, true, 0, "", 900, 180900, 179950, "call-4"));

  EXPECT_EQ(noisy_run.records, clean_run.records);
  EXPECT_EQ(clean_run.counter("calls.duplicates"), 0u);
  EXPECT_EQ(clean_run.counter("calls.retransmissions"), 0u);
  // By hand: each of the 24 clean messages has one copy (duplicates); the 16 INVITEs, CANCELs
  // and final responses are each retransmitted twice (retransmissions, ACKs never are).
  EXPECT_EQ(noisy_run.counter("calls.duplicates"), 24u);
  EXPECT_EQ(noisy_run.counter("calls.retransmissions"), 32u);
  EXPECT_EQ(noisy_run.counter("calls.late_messages"), 0u);
  EXPECT_EQ(noisy_run.counter("calls.created"), 5u);
  EXPECT_EQ(noisy_run.counter("calls.records"), 6u);
}

TEST(Robustness, ResponseSeenBeforeItsInvite) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  // The INVITE's capture point lags: its 180 arrives first, with a later timestamp.
  h.feed({response(at(100), 180, inv, "tb"), inv, response(at(3000), 200, inv, "tb")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kAnswered, false, 200, "OK", 0, 3000, 2900));
  EXPECT_EQ(h.counter("calls.created"), 1u);
  EXPECT_EQ(h.counter("calls.orphan_messages"), 0u);
}

TEST(Robustness, FinalResponseSeenBeforeItsInvite) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  h.feed({response(at(40), 486, inv, "tb"), inv});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 0, 40, 0));
}

TEST(Robustness, OrphanByeAndItsOkMakeNoRecordAndAreCounted) {
  Harness h;
  const SipEvent dialog = invite(at(0), "orphan-1", "ft", "z9hG4bK-x", 1, kB, kB);
  const SipEvent bye = inDialog(at(0), Method::kBye, dialog, "tb", 2, "z9hG4bK-bye");
  h.feed({bye, response(at(10), 200, bye, "tb")});
  EXPECT_EQ(h.tracker().openCalls(), 1u);  // held: its INVITE may still come (capture order)
  h.advanceTo(at(31999));
  EXPECT_EQ(h.counter("calls.orphan_messages"), 0u);
  h.advanceTo(at(32000));  // linger_ms after the first of them
  EXPECT_EQ(h.counter("calls.orphan_messages"), 2u);
  EXPECT_EQ(h.tracker().openCalls(), 0u);
  h.finish(at(40000));
  EXPECT_TRUE(h.records.empty());
  EXPECT_EQ(h.counter("calls.created"), 0u);
  EXPECT_EQ(h.counter("calls.decided"), 0u);
}

TEST(Robustness, OrphansAtFinishAreCounted) {
  Harness h;
  const SipEvent dialog = invite(at(0), "orphan-1", "ft", "z9hG4bK-x", 1, kB, kB);
  h.feed(response(at(5), 200, dialog, "tb"));
  h.finish(at(1000));
  EXPECT_TRUE(h.records.empty());
  EXPECT_EQ(h.counter("calls.orphan_messages"), 1u);
}

TEST(Robustness, CallIdReusedAnHourLaterIsTwoCalls) {
  Harness h;
  const SipEvent first = invite(at(0), "call-1", "ft-a", "z9hG4bK-1", 1, kB, kB);
  const SipEvent again = invite(at(3600000), "call-1", "ft-b", "z9hG4bK-1", 1, kB, kB);
  h.feed({first, response(at(3000), 200, first, "tb"), again,
          response(at(3600000 + 40), 486, again, "tc")});
  h.finish(at(3700000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kAnswered, false, 200, "OK", 0, 3000, 0));
  EXPECT_EQ(h.records[1],
            expectedRecord(kB, Outcome::kBusy, true, 486, "Busy Here", 3600000, 3600040, 0));
  EXPECT_EQ(h.counter("calls.created"), 2u);
  EXPECT_EQ(h.counter("calls.reused_call_id"), 0u);  // long forgotten: simply a new call
}

TEST(Robustness, CallIdReusedWhileLingeringByAnotherDialogIsANewCall) {
  Harness h;
  const SipEvent first = invite(at(0), "call-1", "ft-a", "z9hG4bK-1", 1, kB, kB);
  const SipEvent again = invite(at(10000), "call-1", "ft-b", "z9hG4bK-9", 1, kC, kC);
  h.feed(
      {first, response(at(3000), 200, first, "tb"), again, response(at(10040), 486, again, "tc")});
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[1],
            expectedRecord(kC, Outcome::kBusy, true, 486, "Busy Here", 10000, 10040, 0));
  EXPECT_EQ(h.counter("calls.reused_call_id"), 1u);
}

TEST(Robustness, ReInviteOfAnAnsweredCallIsNoNewCall) {
  Harness h;
  const SipEvent inv = invite(at(0), "call-1", "ft", "z9hG4bK-1", 1, kB, kB);
  const SipEvent hold = inDialog(at(10000), Method::kInvite, inv, "tb", 2, "z9hG4bK-h");
  const SipEvent unhold = inDialog(at(300000), Method::kInvite, inv, "tb", 3, "z9hG4bK-u");
  const SipEvent bye = inDialog(at(600000), Method::kBye, inv, "tb", 4, "z9hG4bK-b");
  h.feed({inv, response(at(2000), 200, inv, "tb"), hold, response(at(10050), 200, hold, "tb"),
          unhold, response(at(300050), 200, unhold, "tb"), bye,
          response(at(600010), 200, bye, "tb")});
  h.finish(at(700000));
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0], expectedRecord(kB, Outcome::kAnswered, false, 200, "OK", 0, 2000, 0));
  EXPECT_EQ(h.counter("calls.created"), 1u);
  // Inside the linger time: absorbed; long after it: held, then counted as orphans.
  EXPECT_EQ(h.counter("calls.late_messages"), 2u);
  EXPECT_EQ(h.counter("calls.orphan_messages"), 4u);
}

TEST(Robustness, MaxCallsEvictsTheOldestOpenCall) {
  TrackerConfig cfg;
  cfg.max_calls = 2;
  Harness h(cfg);
  const SipEvent a = invite(at(0), "call-a", "fa", "z9hG4bK-a", 1, kB, kB);
  const SipEvent b = invite(at(1000), "call-b", "fb", "z9hG4bK-b", 1, kC, kC);
  const SipEvent c = invite(at(2000), "call-c", "fc", "z9hG4bK-c", 1, kVM, kVM);
  // both ringing: neither is preferred for eviction, the older goes
  h.feed({a, response(at(100), 180, a, "ta"), b, response(at(1100), 180, b, "tb")});
  EXPECT_TRUE(h.records.empty());
  h.feed(c);
  ASSERT_EQ(h.records.size(), 1u);  // call-a decided early, when call-c needed its place
  EXPECT_EQ(h.records[0],
            expectedRecord(kB, Outcome::kIncomplete, false, 0, "", 0, 100, 0, "call-a"));
  EXPECT_EQ(h.counter("calls.evicted"), 1u);
  EXPECT_EQ(h.tracker().openCalls(), 2u);
  // A late message for the evicted call is absorbed, not a new call.
  h.feed(response(at(2500), 200, a, "ta"));
  h.finish(at(3000));
  ASSERT_EQ(h.records.size(), 3u);
  EXPECT_EQ(h.records[1].call_id, "call-b");
  EXPECT_EQ(h.records[2].call_id, "call-c");
  EXPECT_EQ(h.counter("calls.created"), 3u);
  EXPECT_EQ(h.counter("calls.late_messages"), 1u);
}

// Issue 7's flood: INVITEs with unique Call-IDs that nothing answers. With the table full they
// evict each other, not the ringing call that came before them, which still ends answered.
TEST(Robustness, UnansweredInvitesAreEvictedBeforeARingingCall) {
  TrackerConfig cfg;
  cfg.max_calls = 3;
  Harness h(cfg);
  const SipEvent g = invite(at(0), "genuine", "fg", "z9hG4bK-g", 1, kB, kB);
  h.feed({g, response(at(20), 100, g, ""), response(at(300), 180, g, "tg")});
  for (int i = 0; i < 5; ++i) {
    const std::string id = "flood-" + std::to_string(i);
    SipEvent flood = invite(at(1000 + i), id, "ff" + std::to_string(i),
                            "z9hG4bK-f" + std::to_string(i), 1, kC, kC);
    // A caller number each: the same caller and number within leg_join_window_ms would be read
    // as legs of one call (RULES.md "Legs joined without a key"), see LegJoin.AFloodIsBounded.
    flood.from = numberAddr("+86139001099" + std::to_string(10 + i), {}, flood.from.tag);
    h.feed(flood);
  }
  // genuine + flood-0 + flood-1 filled the table; flood-2, -3, -4 each pushed out the oldest
  // unanswered INVITE: flood-0, -1, -2
  ASSERT_EQ(h.records.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(h.records[static_cast<size_t>(i)].call_id, "flood-" + std::to_string(i));
    EXPECT_EQ(h.records[static_cast<size_t>(i)].outcome, Outcome::kIncomplete);
  }
  EXPECT_EQ(h.counter("calls.evicted"), 3u);
  EXPECT_EQ(h.tracker().openCalls(), 3u);
  h.feed(response(at(4000), 200, g, "tg"));
  h.finish(at(60000));
  ASSERT_EQ(h.records.size(), 6u);
  // the answered call is decided after its grace; the last two flood INVITEs at the end of
  // input, in the order they were created
  EXPECT_EQ(h.records[3].call_id, "genuine");
  EXPECT_EQ(h.records[3].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.records[3].status, 200);
  EXPECT_EQ(h.records[4].call_id, "flood-3");
  EXPECT_EQ(h.records[5].call_id, "flood-4");
  EXPECT_EQ(h.counter("calls.evicted"), 3u);
  EXPECT_EQ(h.counter("calls.late_messages"), 0u);
}

// A call heard later than a younger one is still decided in creation order at end of input.
TEST(Robustness, FinishDecidesInCreationOrderWhateverWasHeardFirst) {
  Harness h;
  const SipEvent a = invite(at(0), "call-a", "fa", "z9hG4bK-a", 1, kB, kB);
  const SipEvent b = invite(at(10), "call-b", "fb", "z9hG4bK-b", 1, kC, kC);
  const SipEvent c = invite(at(20), "call-c", "fc", "z9hG4bK-c", 1, kVM, kVM);
  h.feed({a, b, c, response(at(30), 180, c, "tc"), response(at(40), 180, a, "ta")});
  h.finish(at(1000));
  ASSERT_EQ(h.records.size(), 3u);
  EXPECT_EQ(h.records[0].call_id, "call-a");
  EXPECT_EQ(h.records[1].call_id, "call-b");
  EXPECT_EQ(h.records[2].call_id, "call-c");
}

TEST(Robustness, TimeNeverMovesBackwards) {
  Harness h;
  const SipEvent a = invite(at(0), "call-a", "fa", "z9hG4bK-a", 1, kB, kB);
  h.feed({a, response(at(100), 486, a, "ta")});
  h.advanceTo(at(50000));
  ASSERT_EQ(h.records.size(), 1u);
  h.advanceTo(at(10));  // ignored
  // A second capture point delivers an older call late: its record keeps its own timestamps.
  const SipEvent b = invite(at(20), "call-b", "fb", "z9hG4bK-b", 1, kC, kC);
  h.feed({b, response(at(30), 486, b, "tb")});
  EXPECT_EQ(h.records.size(), 1u);
  h.advanceTo(at(50000));  // its grace ended long ago: decided now
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[1],
            expectedRecord(kC, Outcome::kBusy, true, 486, "Busy Here", 20, 30, 0, "call-b"));
}

TEST(Robustness, ACallJoinedByAnInDialogMessageTimesOutByItsEarliestLeg) {
  // Call a (no key) rings from t=1 s. Call b, seen later but with an INVITE stamped t=0 (another
  // capture point), carries icid-x. An INFO of call a carrying icid-x makes them one call, and
  // only a 180 follows: b's hop still reaches its ring timeout at 180 s, not with a's at 181 s,
  // so the 200 that comes at 180.5 s finds it given up (calls.ring_timeouts counts both hops).
  // The tracker must not keep the due it had before the merge because the 180 changed nothing.
  Harness h;
  const SipEvent a = invite(at(1000), "call-a", "fa", "z9hG4bK-a", 1, kB, kB);
  SipEvent b = invite(at(0), "call-b", "fb", "z9hG4bK-b", 1, kC, kC);
  b.icid = "icid-x";
  SipEvent info = inDialog(at(1100), Method::kInfo, a, "ta", 2, "z9hG4bK-ai");
  info.icid = "icid-x";
  h.feed({a, b, info, response(at(1200), 180, a, "ta")});
  EXPECT_EQ(h.counter("calls.legs_correlated"), 1u);
  h.feed(response(at(180500), 200, b, "tb"));
  EXPECT_EQ(h.counter("calls.ring_timeouts"), 1u);  // b's hop, at 180 s
  h.finish(at(200000));
  EXPECT_EQ(h.counter("calls.ring_timeouts"), 2u);  // and a's, at 181 s
}

TEST(Robustness, SameInputSameRecordsSameOrder) {
  // Three calls decided at the same instant come out in the order they started, whatever
  // their numbers.
  std::vector<SipEvent> ev;
  const std::string callees[] = {kVM, kC, kB};
  for (int i = 0; i < 3; ++i) {
    const SipEvent inv = invite(at(i), "call-" + std::to_string(i), "f",
                                "z9hG4bK-" + std::to_string(i), 1, callees[i], callees[i]);
    ev.push_back(inv);
  }
  for (int i = 0; i < 3; ++i) ev.push_back(response(at(500), 486, ev[i], "t"));
  const auto first = run(ev, at(10000));
  const auto second = run(ev, at(10000));
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].call_id, "call-0");
  EXPECT_EQ(first[1].call_id, "call-1");
  EXPECT_EQ(first[2].call_id, "call-2");
  EXPECT_EQ(first, second);
}

TEST(Robustness, NonCallMethodsAreIgnored) {
  Harness h;
  SipEvent reg = invite(at(0), "reg-1", "fr", "z9hG4bK-r", 1, kB, kB);
  reg.method = Method::kRegister;
  reg.cseq_method = Method::kRegister;
  SipEvent opt = invite(at(1), "opt-1", "fo", "z9hG4bK-o", 1, kB, kB);
  opt.method = Method::kOptions;
  opt.cseq_method = Method::kOptions;
  h.feed({reg, response(at(5), 200, reg, "x"), opt});
  h.finish(at(100000));
  EXPECT_TRUE(h.records.empty());
  EXPECT_EQ(h.counter("calls.ignored_messages"), 3u);
  EXPECT_EQ(h.counter("calls.orphan_messages"), 0u);
}

TEST(Robustness, HopsPerCallAreBounded) {
  Harness h;
  const SipEvent up = invite(at(0), "call-1", "ft", "z9hG4bK-up", 1, kB, kB);
  h.feed(up);
  for (int i = 0; i < 100; ++i) {
    h.feed(invite(at(1 + i), "call-1", "ft", "z9hG4bK-f" + std::to_string(i), 2, kB, kB));
  }
  h.feed(response(at(3000), 486, up, "t"));
  h.finish(at(10000));
  EXPECT_EQ(h.counter("calls.hops_dropped"), 37u);  // 64 hop transactions kept per call
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].callee, kB);
}

}  // namespace
}  // namespace mcn::calls::testing
