// Thousands of calls alive at once, as on a busy office network: each keeps its own record while
// the Call-ID and correlation-key tables grow, forget decided calls after the linger and take the
// same Call-IDs again later.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "call_builder.h"

namespace mcn::calls::testing {
namespace {

constexpr int kCalls = 4000;
constexpr int64_t kSpacingMs = 10;  // a new call every 10 ms: about 3,500 calls alive at once

std::string callId(int i) { return "a84b4c76e66710-" + std::to_string(i) + "@pc33.example.com"; }

// Call i starts at i*10 ms and rings 100 ms later. Even calls are answered at +1000 and released
// by a BYE at +5000, after their decision (answered at the 200 plus the 2 s grace): the BYE and
// its 200 arrive while the call lingers. Odd calls are cancelled at +1500 (487 at +1510). Every
// call carries an icid of its own, so the key table fills like the Call-ID table.
std::vector<SipEvent> busyHour() {
  std::vector<SipEvent> ev;
  for (int i = 0; i < kCalls; ++i) {
    const int64_t t = i * kSpacingMs;
    const std::string n = std::to_string(i);
    SipEvent inv = invite(at(t), callId(i), "f" + n, "z9hG4bK-" + n, 1, kB, kB);
    inv.icid = "icid-" + n;
    ev.push_back(inv);
    ev.push_back(response(at(t + 100), 180, inv, "t" + n));
    if (i % 2 == 0) {
      ev.push_back(response(at(t + 1000), 200, inv, "t" + n));
      const SipEvent bye = inDialog(at(t + 5000), Method::kBye, inv, "t" + n, 2, "z9hG4bK-b" + n);
      ev.push_back(bye);
      ev.push_back(response(at(t + 5010), 200, bye, "t" + n));
    } else {
      const SipEvent can = cancel(at(t + 1500), inv);
      ev.push_back(can);
      ev.push_back(response(at(t + 1505), 200, can));
      ev.push_back(response(at(t + 1510), 487, inv, "t" + n));
    }
  }
  std::stable_sort(ev.begin(), ev.end(),
                   [](const SipEvent& x, const SipEvent& y) { return x.ts_us < y.ts_us; });
  return ev;
}

CallRecord expectedFor(int i) {
  const int64_t t = i * kSpacingMs;
  CallRecord r = i % 2 == 0
                     ? expectedRecord(kB, Outcome::kAnswered, false, 200, "OK", t, t + 1000, 900)
                     : expectedRecord(kB, Outcome::kCancelled, true, 487, "Request Terminated", t,
                                      t + 1500, 1400);
  r.call_id = callId(i);
  r.call_ids = {callId(i)};
  r.correlation = "icid-" + std::to_string(i);
  return r;
}

TEST(ManyCalls, EveryCallOfABusyHourGetsItsOwnRecord) {
  Harness h;
  h.feed(busyHour());
  h.finish(at(kCalls * kSpacingMs + 100000));
  ASSERT_EQ(h.records.size(), static_cast<size_t>(kCalls));
  std::map<std::string, const CallRecord*> by_id;
  for (const CallRecord& r : h.records) by_id[r.call_id] = &r;
  ASSERT_EQ(by_id.size(), static_cast<size_t>(kCalls));  // no call twice
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_EQ(*by_id[callId(i)], expectedFor(i)) << i;
  }
  EXPECT_EQ(h.counter("calls.created"), static_cast<uint64_t>(kCalls));
  EXPECT_EQ(h.counter("calls.decided"), static_cast<uint64_t>(kCalls));
  // The BYE and its 200 of each answered call came while it lingered.
  EXPECT_EQ(h.counter("calls.late_messages"), static_cast<uint64_t>(kCalls));
  EXPECT_EQ(h.counter("calls.orphan_messages"), 0u);
  EXPECT_EQ(h.counter("calls.legs_correlated"), 0u);
  EXPECT_EQ(h.tracker().openCalls(), 0u);
}

TEST(ManyCalls, CallIdsAndKeysComeBackAsNewCallsAfterTheLinger) {
  // An hour later the first 500 Call-IDs and icids are used again (a restarted phone's counter):
  // they were forgotten with their calls, so each is a new call, not a late message of the old.
  Harness h;
  h.feed(busyHour());
  const int64_t later = 3600000;
  for (int i = 0; i < 500; ++i) {
    const std::string n = std::to_string(i);
    SipEvent inv = invite(at(later + i), callId(i), "g" + n, "z9hG4bK-x" + n, 1, kC, kC);
    inv.icid = "icid-" + n;
    h.feed(inv);
    h.feed(response(at(later + i + 40), 486, inv, "u" + n));
  }
  h.finish(at(later + 100000));
  ASSERT_EQ(h.records.size(), static_cast<size_t>(kCalls + 500));
  for (int i = 0; i < 500; ++i) {
    CallRecord want = expectedRecord(kC, Outcome::kBusy, true, 486, "Busy Here", later + i,
                                     later + i + 40, 0, callId(i));
    want.correlation = "icid-" + std::to_string(i);
    ASSERT_EQ(h.records[static_cast<size_t>(kCalls + i)], want) << i;
  }
  EXPECT_EQ(h.counter("calls.created"), static_cast<uint64_t>(kCalls + 500));
  EXPECT_EQ(h.counter("calls.reused_call_id"), 0u);
  EXPECT_EQ(h.counter("calls.legs_correlated"), 0u);
}

}  // namespace
}  // namespace mcn::calls::testing
