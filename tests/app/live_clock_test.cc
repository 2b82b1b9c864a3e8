// The live daemon's clock (app/src/live_clock.h) through its seam: a fake wall and monotonic
// clock. A worker's path is reproduced with the real parts: kernel (wall) timestamp -> fromWall
// -> SipParser -> CallTracker, timers driven by nowUs(). A wall-clock step of an hour, forward
// or back, neither fires a ring timeout early nor delays it: every call times out exactly
// ring_timeout_ms of monotonic time after its INVITE.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../../app/src/live_clock.h"
#include "mcn/calls/tracker.h"
#include "mcn/sipparse/parser.h"

namespace mcn::app {
namespace {

constexpr int64_t kSec = 1'000'000;
constexpr int64_t kHour = 3600 * kSec;

class FakeTime : public TimeSource {
 public:
  int64_t wallUs() const override { return wall; }
  int64_t monoUs() const override { return mono; }
  void elapse(int64_t us) {  // real time passes: both clocks move
    wall += us;
    mono += us;
  }
  int64_t wall = 1'795'000'000 * kSec;  // 2026-11-18T10:13:20Z
  int64_t mono = 42 * kSec;
};

std::string invite(const std::string& call_id) {
  return "INVITE sip:+862583001013@ims.example.net;user=phone SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-" + call_id + "\r\n"
         "From: <sip:+8613900101230@ims.example.net;user=phone>;tag=a1\r\n"
         "To: <sip:+862583001013@ims.example.net;user=phone>\r\n"
         "Call-ID: " + call_id + "\r\n"
         "CSeq: 1 INVITE\r\n"
         "Content-Length: 0\r\n\r\n";
}

std::string ringing(const std::string& call_id) {
  return "SIP/2.0 180 Ringing\r\n"
         "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-" + call_id + "\r\n"
         "From: <sip:+8613900101230@ims.example.net;user=phone>;tag=a1\r\n"
         "To: <sip:+862583001013@ims.example.net;user=phone>;tag=b1\r\n"
         "Call-ID: " + call_id + "\r\n"
         "CSeq: 1 INVITE\r\n"
         "Content-Length: 0\r\n\r\n";
}

// One worker: parser + tracker on a LiveClock, as in run.cc's workerLoop.
struct Worker {
  explicit Worker(const TimeSource& t) : time(t), clock(t), parser(sipparse::ParserConfig{}) {
    calls::TrackerConfig cfg;
    cfg.ring_timeout_ms = 180'000;
    cfg.grace_ms = 0;
    cfg.linger_ms = 0;
    tracker = std::make_unique<calls::CallTracker>(
        cfg, [this](calls::CallRecord&& r) { records.push_back(std::move(r)); });
  }
  // A message captured now: the kernel stamps it with the wall clock.
  void receive(const std::string& sip) {
    capture::SipPayload p;
    p.ts_us = clock.fromWall(time.wallUs());
    p.bytes = sip;
    auto ev = parser.parse(p);
    ASSERT_TRUE(ev.has_value()) << sip;
    tracker->onEvent(*ev);
  }
  void tick() { tracker->advanceTo(clock.nowUs()); }

  const TimeSource& time;
  LiveClock clock;
  sipparse::SipParser parser;
  std::unique_ptr<calls::CallTracker> tracker;
  std::vector<calls::CallRecord> records;
};

TEST(LiveClock, FollowsTheWallClockWithoutAStep) {
  FakeTime t;
  LiveClock c(t);
  EXPECT_EQ(c.nowUs(), t.wall);
  t.elapse(5 * kSec);
  EXPECT_EQ(c.nowUs(), t.wall);
  EXPECT_EQ(c.fromWall(t.wall - 300), t.wall - 300);  // packet times pass through unchanged
  t.wall += 200'000;                                  // slewing / jitter under the threshold
  EXPECT_EQ(c.wallStepUs(), 0);
  EXPECT_FALSE(c.reanchorIfIdle());
}

TEST(LiveClock, ForwardStepNeitherFiresEarlyNorDelays) {
  FakeTime t;
  Worker w(t);
  w.receive(invite("before-step@x"));
  w.receive(ringing("before-step@x"));
  t.elapse(60 * kSec);
  w.tick();
  t.wall += kHour;  // NTP steps the wall clock an hour ahead
  w.tick();
  EXPECT_TRUE(w.records.empty()) << "a ring timeout fired at the step";
  // A call that starts after the step carries a stamp an hour ahead on the wall clock.
  w.receive(invite("after-step@x"));
  w.receive(ringing("after-step@x"));
  t.elapse(120 * kSec - 1);  // 180 s - 1 µs after the first INVITE
  w.tick();
  EXPECT_TRUE(w.records.empty());
  t.elapse(1);  // 180 s of monotonic time: the first call times out, not an hour later
  w.tick();
  ASSERT_EQ(w.records.size(), 1u);
  EXPECT_EQ(w.records[0].call_id, "before-step@x");
  EXPECT_EQ(w.records[0].outcome, calls::Outcome::kNoAnswer);
  t.elapse(60 * kSec - 1);  // 180 s - 1 µs after the second INVITE
  w.tick();
  EXPECT_EQ(w.records.size(), 1u) << "the second call timed out early";
  t.elapse(1);
  w.tick();
  ASSERT_EQ(w.records.size(), 2u);
  EXPECT_EQ(w.records[1].call_id, "after-step@x");
  EXPECT_EQ(w.records[1].outcome, calls::Outcome::kNoAnswer);
  // The ring time of each is its monotonic duration, not the step.
  EXPECT_EQ(w.records[1].started_at_us - w.records[0].started_at_us, 60 * kSec);
}

TEST(LiveClock, BackwardStepDoesNotHoldTimers) {
  FakeTime t;
  Worker w(t);
  w.receive(invite("back@x"));
  w.receive(ringing("back@x"));
  t.elapse(10 * kSec);
  t.wall -= 2 * kHour;  // a VM resumes with its clock two hours behind
  w.receive(invite("back2@x"));
  w.receive(ringing("back2@x"));
  t.elapse(170 * kSec - 1);
  w.tick();
  EXPECT_TRUE(w.records.empty());
  t.elapse(1);
  w.tick();
  ASSERT_EQ(w.records.size(), 1u);  // 180 s after its INVITE, not two hours later
  EXPECT_EQ(w.records[0].call_id, "back@x");
  t.elapse(10 * kSec);
  w.tick();
  ASSERT_EQ(w.records.size(), 2u);
  EXPECT_EQ(w.records[1].call_id, "back2@x");
}

TEST(LiveClock, ReanchorsOnTheSteppedWallClockOnlyWhenAsked) {
  FakeTime t;
  LiveClock c(t);
  t.elapse(kSec);
  t.wall += kHour;
  EXPECT_EQ(c.wallStepUs(), kHour);
  EXPECT_EQ(c.nowUs(), t.wall - kHour);  // the step is not followed by itself
  EXPECT_EQ(c.fromWall(t.wall), t.wall - kHour);
  EXPECT_TRUE(c.reanchorIfIdle());  // the caller has nothing pending
  EXPECT_EQ(c.nowUs(), t.wall);     // record times and webhook timestamps are right again
  EXPECT_EQ(c.fromWall(t.wall), t.wall);
  EXPECT_EQ(c.reanchors(), 1u);
}

// What the clock protects against: driving the tracker from the wall clock itself fires a
// call's ring timeout the instant the wall clock steps forward (this is what run.cc did).
TEST(LiveClock, TheWallClockAloneWouldFireAtTheStep) {
  FakeTime t;
  sipparse::SipParser parser{sipparse::ParserConfig{}};
  calls::TrackerConfig cfg;
  cfg.grace_ms = 0;
  std::vector<calls::CallRecord> out;
  calls::CallTracker tracker(cfg, [&](calls::CallRecord&& r) { out.push_back(std::move(r)); });
  for (const auto& m : {invite("naive@x"), ringing("naive@x")}) {
    capture::SipPayload p;
    p.ts_us = t.wall;
    p.bytes = m;
    tracker.onEvent(*parser.parse(p));
  }
  t.elapse(60 * kSec);
  t.wall += kHour;
  tracker.advanceTo(t.wallUs());
  EXPECT_EQ(out.size(), 1u);  // fired 120 s early
}

}  // namespace
}  // namespace mcn::app
