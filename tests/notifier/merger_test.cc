// The merge stage on a fake clock: who is told, when, and in how many messages.
// 王芳 (e1013, Asia/Shanghai, zh) has a desk line +862583001013 and extension 1013; Li Lei (e1024,
// Europe/London, en) has +862583001024. Instants are UTC epoch seconds from
// `date -u -d <ISO> +%s`; local times follow from UTC+8 (Shanghai) and GMT/BST (London).

#include "mcn/notifier/merger.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "mcn/notifier/idempotency.h"

namespace mcn::notifier {
namespace {

using calls::Outcome;
using subscribers::ChannelKind;
using subscribers::QuietAction;

constexpr int64_t kUs = 1000000;
constexpr int64_t kSec = kUs;
// 2026-11-22 in Asia/Shanghai (UTC+8); London is on GMT then.
constexpr int64_t k0840 = 1795308000 * kUs;         // 08:40 Shanghai
constexpr int64_t k0842 = 1795308120 * kUs;         // 08:42 Shanghai
constexpr int64_t kMidnightUtc = 1795305600 * kUs;  // 2026-11-22T00:00Z

constexpr const char* kDesk = "+862583001013";
constexpr const char* kExt = "1013";
constexpr const char* kLiDesk = "+862583001024";
constexpr const char* kZhang = "+8613900101230";

subscribers::Channel channel(std::string id, ChannelKind kind, std::string target = "") {
  subscribers::Channel c;
  c.id = std::move(id);
  c.kind = kind;
  c.target = std::move(target);
  return c;
}

subscribers::Person wang() {
  subscribers::Person p;
  p.id = "e1013";
  p.name = "王芳";
  p.numbers = {kDesk, kExt};
  p.channels = {channel("console", ChannelKind::kConsole)};
  p.prefs.time_zone = "Asia/Shanghai";
  p.prefs.language = "zh";
  p.prefs.merge_window_ms = 60000;
  return p;
}

subscribers::Person li() {
  subscribers::Person p;
  p.id = "e1024";
  p.name = "Li Lei";
  p.numbers = {kLiDesk};
  p.channels = {channel("console", ChannelKind::kConsole)};
  p.prefs.time_zone = "Europe/London";
  p.prefs.language = "en";
  p.prefs.merge_window_ms = 60000;
  return p;
}

calls::CallRecord rec(std::string call_id, std::string caller, std::string callee,
                      int64_t started_at, Outcome o = Outcome::kCancelled) {
  calls::CallRecord r;
  r.call_id = std::move(call_id);
  r.caller = std::move(caller);
  r.caller_withheld = r.caller.empty();
  if (r.caller == kZhang) r.caller_name = "张伟";
  r.callee = std::move(callee);
  r.outcome = o;
  r.missed = true;
  r.started_at_us = started_at;
  r.ended_at_us = started_at + 10 * kSec;
  r.ring_ms = 9000;
  return r;
}

class MergerTest : public ::testing::Test {
 protected:
  void make(std::vector<subscribers::Person> people, MergerConfig cfg = {}) {
    merger_ = std::make_unique<Merger>(cfg, subscribers::Directory::build(std::move(people), 1),
                                       clock_, Templates(),
                                       [this](Notification&& n) { out_.push_back(std::move(n)); });
  }
  void callAt(int64_t now, const calls::CallRecord& r) {
    clock_.set(now);
    merger_->onMissedCall(r);
  }
  std::map<std::string, uint64_t> counters() const {
    std::map<std::string, uint64_t> c;
    merger_->forEachCounter([&](std::string_view n, uint64_t v) { c[std::string(n)] = v; });
    return c;
  }
  uint64_t counter(const std::string& name) const {
    const auto c = counters();
    auto it = c.find(name);
    EXPECT_NE(it, c.end()) << name;
    return it == c.end() ? 0 : it->second;
  }

  ManualClock clock_{k0842};
  std::vector<Notification> out_;
  std::unique_ptr<Merger> merger_;
};

TEST_F(MergerTest, WindowZeroNotifiesAtTheNextAdvance) {
  auto p = wang();
  p.prefs.merge_window_ms = 0;
  make({p});
  callAt(k0842, rec("c1@x", kZhang, kDesk, k0840));
  EXPECT_TRUE(out_.empty());
  merger_->advanceTo(k0842);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].person_id, "e1013");
  EXPECT_EQ(out_[0].title, "未接来电 (1)");
  EXPECT_EQ(out_[0].created_at_us, k0842);
  ASSERT_EQ(out_[0].calls.size(), 1u);
  EXPECT_EQ(out_[0].calls[0].call_id, "c1@x");
}

// The durable outbox's view (outbox.h): which records the merger kept, and when a window's
// records are the merger's no more (after its notifications reached the sink).
TEST_F(MergerTest, KeptRecordsAndTheClosedHook) {
  make({wang(), li()});
  std::vector<std::pair<size_t, std::vector<std::string>>> closed;  // (notifications then, ids)
  merger_->setClosedHook([&](const std::vector<calls::CallRecord>& records) {
    std::vector<std::string> ids;
    for (const auto& r : records) ids.push_back(r.call_id + " " + r.callee);
    closed.emplace_back(out_.size(), ids);
  });
  clock_.set(k0842);
  EXPECT_TRUE(merger_->onMissedCall(rec("c1@x", kZhang, kDesk, k0840)));
  EXPECT_TRUE(merger_->onMissedCall(rec("c1@x", kZhang, kExt, k0840)));    // same call, 2nd number
  EXPECT_FALSE(merger_->onMissedCall(rec("c1@x", kZhang, kDesk, k0840)));  // exact repeat
  EXPECT_FALSE(merger_->onMissedCall(rec("c9@x", kZhang, "+862583009999", k0840)));  // nobody's
  auto answered = rec("c2@x", kZhang, kLiDesk, k0840, Outcome::kAnswered);
  answered.missed = false;
  EXPECT_FALSE(merger_->onMissedCall(answered));  // preferences leave it out
  EXPECT_TRUE(closed.empty());
  merger_->advanceTo(k0842 + 60 * kSec);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].first, 1u) << "the hook runs after the window's notification was made";
  EXPECT_EQ(closed[0].second,
            (std::vector<std::string>{"c1@x " + std::string(kDesk), "c1@x " + std::string(kExt)}));
}

TEST_F(MergerTest, WindowZeroStillMergesTheRecordsOfOneCall) {
  auto p = wang();
  p.prefs.merge_window_ms = 0;
  make({p});
  callAt(k0842, rec("c1@x", kZhang, kDesk, k0840));
  callAt(k0842, rec("c1@x", kZhang, kExt, k0840));
  merger_->advanceTo(k0842);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].calls.size(), 2u);
  EXPECT_NE(out_[0].text.find("呼叫 +862583001013、1013，共 1 次"), std::string::npos)
      << out_[0].text;
}

TEST_F(MergerTest, CallsInsideOneWindowAreOneMessageWithACountPerCaller) {
  make({wang()});
  const int64_t t0 = k0842;
  // Started 08:40, 08:41 (张伟) and 08:42 (withheld, busy); they reach the merger over 50 s.
  callAt(t0, rec("c1@x", kZhang, kDesk, t0 - 120 * kSec));
  callAt(t0 + 20 * kSec, rec("c2@x", kZhang, kDesk, t0 - 60 * kSec));
  callAt(t0 + 50 * kSec, rec("c3@x", "", kDesk, t0, Outcome::kBusy));
  merger_->advanceTo(t0 + 60 * kSec - 1);
  EXPECT_TRUE(out_.empty());
  merger_->advanceTo(t0 + 60 * kSec);
  ASSERT_EQ(out_.size(), 1u);
  const Notification& n = out_[0];
  EXPECT_EQ(n.title, "未接来电 (3)");
  EXPECT_EQ(n.text,
            "王芳，您有 3 个未接来电（2026-11-22）：\n"
            "张伟 (+8613900101230) 于 08:40、08:41 呼叫 +862583001013，共 2 次，对方已挂断\n"
            "未显示号码 于 08:42 呼叫 +862583001013，共 1 次，忙线");
  ASSERT_EQ(n.calls.size(), 3u);
  EXPECT_EQ(n.calls[0].call_id, "c1@x");  // oldest first
  EXPECT_EQ(n.calls[2].call_id, "c3@x");
  EXPECT_EQ(counter("notifier.windows_opened"), 1u);
  EXPECT_EQ(counter("notifier.windows_closed"), 1u);
  EXPECT_EQ(counter("notifier.notifications"), 1u);
}

TEST_F(MergerTest, ACallRingingDeskLineAndExtensionIsOneEntryNamingBoth) {
  make({wang()});
  callAt(k0842, rec("c2@x", kZhang, kDesk, k0840));
  callAt(k0842 + kSec, rec("c2@x", kZhang, kExt, k0840));
  merger_->advanceTo(k0842 + 61 * kSec);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].title, "未接来电 (1)");
  EXPECT_EQ(out_[0].text,
            "王芳，您有 1 个未接来电（2026-11-22）：\n"
            "张伟 (+8613900101230) 于 08:40 呼叫 +862583001013、1013，共 1 次，对方已挂断");
  EXPECT_EQ(out_[0].calls.size(), 2u);  // both records go to the JSON output
  EXPECT_EQ(counter("notifier.same_call_merged"), 1u);
}

TEST_F(MergerTest, LegsJoinedByCorrelationAreOneEntry) {
  make({wang()});
  auto a = rec("leg-a@x", kZhang, kDesk, k0840);
  auto b = rec("leg-b@y", kZhang, kExt, k0840 + 2 * kSec);
  a.correlation = b.correlation = "icid-77";
  callAt(k0842, a);
  callAt(k0842, b);
  merger_->advanceTo(k0842 + 60 * kSec);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].title, "未接来电 (1)");
  EXPECT_EQ(out_[0].idempotency_key,
            idempotencyKey("e1013", std::vector<std::string>{"leg-a@x", "leg-b@y"}));
}

TEST_F(MergerTest, WindowBoundaries) {
  make({wang()});
  const int64_t t0 = k0842;
  callAt(t0, rec("c1@x", kZhang, kDesk, k0840));
  callAt(t0 + 60 * kSec - 1, rec("c2@x", kZhang, kDesk, k0840));  // last instant inside
  merger_->advanceTo(t0 + 60 * kSec);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].title, "未接来电 (2)");

  // The window closed at t0+60 s: a call at that instant opens the next one.
  callAt(t0 + 60 * kSec, rec("c3@x", kZhang, kDesk, k0840));
  EXPECT_EQ(counter("notifier.windows_opened"), 2u);
  // Nobody called advanceTo() at t0+120 s: the call after it still starts a new window and the
  // overdue one goes out first.
  callAt(t0 + 121 * kSec, rec("c4@x", kZhang, kDesk, k0840));
  ASSERT_EQ(out_.size(), 2u);
  ASSERT_EQ(out_[1].calls.size(), 1u);
  EXPECT_EQ(out_[1].calls[0].call_id, "c3@x");
  EXPECT_EQ(merger_->nextDeadlineUs(), t0 + 181 * kSec);
}

TEST_F(MergerTest, UnknownNumbersAreCountedNeverNotified) {
  make({wang()});
  callAt(k0842, rec("c1@x", kZhang, "+862583009999", k0840));
  merger_->flush();
  EXPECT_TRUE(out_.empty());
  EXPECT_EQ(counter("notifier.missed_in"), 1u);
  EXPECT_EQ(counter("notifier.unknown_number"), 1u);
  EXPECT_EQ(counter("notifier.windows_opened"), 0u);
}

// Feeds `records` to a person with `prefs` changed by `edit`; returns how many calls reached a
// message.
class FilterTest : public MergerTest {
 protected:
  template <class Edit>
  size_t notifiedCalls(Edit edit, const std::vector<calls::CallRecord>& records) {
    auto p = wang();
    edit(p.prefs);
    make({p, li()});
    for (const auto& r : records) callAt(k0842, r);
    merger_->flush();
    size_t n = 0;
    for (const auto& x : out_) n += x.calls.size();
    return n;
  }
};

TEST_F(FilterTest, MissedFlagDecidesByDefault) {
  auto answered = rec("a@x", kZhang, kDesk, k0840, Outcome::kAnswered);
  answered.missed = false;
  EXPECT_EQ(notifiedCalls([](auto&) {}, {answered, rec("b@x", kZhang, kDesk, k0840)}), 1u);
  EXPECT_EQ(counter("notifier.filtered_outcome"), 1u);
}

TEST_F(FilterTest, OutcomeListWhenTheMissedFlagIsNotUsed) {
  const auto edit = [](subscribers::Preferences& p) {
    p.use_missed_flag = false;
    p.outcomes.fill(false);
    p.outcomes[static_cast<size_t>(Outcome::kBusy)] = true;
  };
  EXPECT_EQ(notifiedCalls(edit, {rec("a@x", kZhang, kDesk, k0840, Outcome::kBusy),
                                 rec("b@x", kZhang, kDesk, k0840, Outcome::kCancelled)}),
            1u);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].calls[0].call_id, "a@x");
  EXPECT_EQ(counter("notifier.filtered_outcome"), 1u);
}

TEST_F(FilterTest, WithheldCallers) {
  EXPECT_EQ(notifiedCalls([](auto& p) { p.withheld_callers = false; },
                          {rec("a@x", "", kDesk, k0840), rec("b@x", kZhang, kDesk, k0840)}),
            1u);
  EXPECT_EQ(counter("notifier.filtered_withheld"), 1u);
}

TEST_F(FilterTest, InternalCallers) {
  // Li Lei's desk line belongs to a subscriber: internal.
  EXPECT_EQ(notifiedCalls([](auto& p) { p.internal_calls = false; },
                          {rec("a@x", kLiDesk, kDesk, k0840), rec("b@x", kZhang, kDesk, k0840)}),
            1u);
  EXPECT_EQ(out_[0].calls[0].call_id, "b@x");
  EXPECT_EQ(counter("notifier.filtered_internal"), 1u);
}

TEST_F(FilterTest, ExternalCallers) {
  EXPECT_EQ(notifiedCalls([](auto& p) { p.external_calls = false; },
                          {rec("a@x", kLiDesk, kDesk, k0840), rec("b@x", kZhang, kDesk, k0840),
                           rec("c@x", "", kDesk, k0840)}),
            2u);  // a withheld caller is neither internal nor external
  EXPECT_EQ(counter("notifier.filtered_external"), 1u);
}

TEST_F(FilterTest, MinimumRingTimeAppliesToCallsTheCallerGaveUpOn) {
  auto short_ring = rec("a@x", kZhang, kDesk, k0840);
  short_ring.ring_ms = 1500;
  auto long_ring = rec("b@x", kZhang, kDesk, k0840);
  long_ring.ring_ms = 3000;
  auto busy = rec("c@x", kZhang, kDesk, k0840, Outcome::kBusy);
  busy.ring_ms = 0;  // never rang, still worth knowing
  EXPECT_EQ(notifiedCalls([](auto& p) { p.min_ring_ms = 3000; }, {short_ring, long_ring, busy}),
            2u);
  EXPECT_EQ(counter("notifier.filtered_min_ring"), 1u);
}

subscribers::QuietHours quiet(int start_h, int end_h, QuietAction a) {
  subscribers::QuietHours q;
  q.start_minute = start_h * 60;
  q.end_minute = end_h * 60;
  q.action = a;
  return q;
}

TEST_F(MergerTest, QuietHoursHoldUntilTheirEndInEachPersonsZone) {
  auto w = wang();
  auto l = li();
  w.prefs.quiet_hours = l.prefs.quiet_hours = quiet(22, 7, QuietAction::kHold);
  make({w, l});
  // 2026-07-01T21:30Z: 05:30 on 07-02 in Shanghai, 22:30 BST in London: both inside 22:00-07:00.
  const int64_t t = 1782941400 * kUs;
  callAt(t, rec("w1@x", kZhang, kDesk, t - 30 * kSec));
  callAt(t, rec("l1@x", kZhang, kLiDesk, t - 30 * kSec));
  // 06:00 Shanghai: joins the held message rather than making a second one.
  callAt(1782943200 * kUs, rec("w2@x", kZhang, kDesk, 1782943200 * kUs - 30 * kSec));
  merger_->advanceTo(t + 3600 * kSec);
  EXPECT_TRUE(out_.empty());

  const int64_t shanghai7 = 1782946800 * kUs;  // 07:00 CST = 2026-07-01T23:00Z
  const int64_t london7 = 1782972000 * kUs;    // 07:00 BST = 2026-07-02T06:00Z
  EXPECT_EQ(merger_->nextDeadlineUs(), shanghai7);
  merger_->advanceTo(shanghai7 - 1);
  EXPECT_TRUE(out_.empty());
  merger_->advanceTo(shanghai7);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].person_id, "e1013");
  EXPECT_EQ(out_[0].calls.size(), 2u);
  EXPECT_EQ(out_[0].created_at_us, shanghai7);

  merger_->advanceTo(london7 - 1);
  EXPECT_EQ(out_.size(), 1u);
  merger_->advanceTo(london7);
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[1].person_id, "e1024");
  // Local time in London (BST): the call started 21:29:30Z = 22:29.
  EXPECT_EQ(out_[1].text,
            "Li Lei, you missed 1 call(s) on 2026-07-01:\n"
            "张伟 (+8613900101230) called +862583001024 at 22:29 (1x): caller hung up");
  EXPECT_EQ(counter("notifier.quiet_held"), 3u);
}

TEST_F(MergerTest, QuietHoursThatDoNotWrapMidnight) {
  auto w = wang();
  w.prefs.quiet_hours = quiet(12, 14, QuietAction::kHold);
  make({w});
  const int64_t t1230 = 1795321800 * kUs;  // 12:30 Shanghai
  const int64_t t1400 = 1795327200 * kUs;  // 14:00 Shanghai
  callAt(t1230, rec("c1@x", kZhang, kDesk, t1230));
  merger_->advanceTo(t1400 - 1);
  EXPECT_TRUE(out_.empty());
  merger_->advanceTo(t1400);
  EXPECT_EQ(out_.size(), 1u);
}

TEST_F(MergerTest, AWindowThatWouldCloseInsideQuietHoursIsHeld) {
  auto w = wang();
  w.prefs.quiet_hours = quiet(22, 7, QuietAction::kHold);
  make({w});
  const int64_t t215930 = 1795355970 * kUs;  // 21:59:30 Shanghai: before quiet hours
  callAt(t215930, rec("c1@x", kZhang, kDesk, t215930));
  merger_->advanceTo(t215930 + 60 * kSec);  // 22:00:30: would have closed here
  EXPECT_TRUE(out_.empty());
  const int64_t t0700 = 1795388400 * kUs;  // 07:00 on 11-23 Shanghai
  merger_->advanceTo(t0700);
  EXPECT_EQ(out_.size(), 1u);
  EXPECT_EQ(counter("notifier.quiet_held"), 1u);
}

TEST_F(MergerTest, AWindowClosedEarlyInsideQuietHoursIsHeldToo) {
  auto w = wang();
  w.prefs.quiet_hours = quiet(22, 7, QuietAction::kHold);
  MergerConfig cfg;
  cfg.max_calls_per_window = 2;
  make({w}, cfg);
  const int64_t t2300 = 1795359600 * kUs;
  for (int i = 0; i < 3; ++i) {
    callAt(t2300 + i * kSec, rec("c" + std::to_string(i) + "@x", kZhang, kDesk, t2300));
  }
  EXPECT_EQ(counter("notifier.windows_full"), 1u);
  const int64_t t0700 = 1795388400 * kUs;
  merger_->advanceTo(t0700 - 1);
  EXPECT_TRUE(out_.empty());
  merger_->advanceTo(t0700);
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0].calls.size(), 2u);
  EXPECT_EQ(out_[1].calls.size(), 1u);
}

TEST_F(MergerTest, QuietHoursDrop) {
  auto w = wang();
  w.prefs.quiet_hours = quiet(22, 7, QuietAction::kDrop);
  w.prefs.merge_window_ms = 3600000;
  make({w});
  const int64_t t2130 = 1795354200 * kUs;  // 21:30 Shanghai
  const int64_t t2200 = 1795356000 * kUs;
  const int64_t t2300 = 1795359600 * kUs;
  callAt(t2130, rec("c1@x", kZhang, kDesk, t2130));
  // The window would run to 22:30; it closes when the quiet hours start instead.
  merger_->advanceTo(t2200 - 1);
  EXPECT_TRUE(out_.empty());
  merger_->advanceTo(t2200);
  ASSERT_EQ(out_.size(), 1u);
  callAt(t2300, rec("c2@x", kZhang, kDesk, t2300));
  merger_->flush();
  EXPECT_EQ(out_.size(), 1u);
  EXPECT_EQ(counter("notifier.quiet_dropped"), 1u);
}

TEST_F(MergerTest, FanOutToEveryChannelWithOneIdempotencyKey) {
  auto w = wang();
  w.channels = {channel("console", ChannelKind::kConsole),
                channel("wecom-office", ChannelKind::kWeCom, "https://example.invalid/robot")};
  make({w});
  callAt(k0842, rec("xyz@y", kZhang, kDesk, k0840));
  callAt(k0842, rec("abc@x", kZhang, kDesk, k0840 + kSec));
  merger_->advanceTo(k0842 + 60 * kSec);
  ASSERT_EQ(out_.size(), 2u);
  // printf 'e1013\nabc@x\nxyz@y' | openssl dgst -sha256, first 32 hex digits
  EXPECT_EQ(out_[0].idempotency_key, "2b2fd6cf7b100189cc710b6e2403133f");
  EXPECT_EQ(out_[1].idempotency_key, "2b2fd6cf7b100189cc710b6e2403133f");
  EXPECT_EQ(out_[0].channel.id, "console");
  EXPECT_EQ(out_[1].channel.id, "wecom-office");
  EXPECT_EQ(out_[1].channel.target, "https://example.invalid/robot");
  EXPECT_EQ(out_[0].text.rfind("王芳，您有 2 个未接来电", 0), 0u) << out_[0].text;
  EXPECT_EQ(out_[1].text.rfind("#### 未接来电 (2)\n", 0), 0u) << out_[1].text;
  EXPECT_EQ(out_[0].calls, out_[1].calls);
  EXPECT_EQ(counter("notifier.notifications"), 2u);
  EXPECT_EQ(counter("notifier.windows_closed"), 1u);
}

TEST_F(MergerTest, WithheldCallerInEnglishAndLocalTimeInLondon) {
  make({li()});
  const int64_t t0915 = 1795338900 * kUs;  // 09:15Z = 09:15 GMT
  callAt(t0915, rec("c1@x", "", kLiDesk, t0915, Outcome::kNoAnswer));
  merger_->flush();
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].text,
            "Li Lei, you missed 1 call(s) on 2026-11-22:\n"
            "withheld called +862583001024 at 09:15 (1x): no answer");
}

TEST_F(MergerTest, FullWindowClosesEarlyRatherThanDropping) {
  MergerConfig cfg;
  cfg.max_calls_per_window = 2;
  make({wang()}, cfg);
  callAt(k0842, rec("c1@x", kZhang, kDesk, k0840));
  callAt(k0842 + kSec, rec("c2@x", kZhang, kDesk, k0840));
  ASSERT_EQ(out_.size(), 1u);  // closed at once, not at the end of the window
  EXPECT_EQ(out_[0].calls.size(), 2u);
  callAt(k0842 + 2 * kSec, rec("c3@x", kZhang, kDesk, k0840));
  merger_->advanceTo(k0842 + 62 * kSec);
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[1].calls.size(), 1u);
  EXPECT_EQ(counter("notifier.windows_full"), 1u);
}

TEST_F(MergerTest, TooManyOpenWindowsSendsTheSoonestDueEarly) {
  MergerConfig cfg;
  cfg.max_open_windows = 1;
  make({wang(), li()}, cfg);
  callAt(k0842, rec("c1@x", kZhang, kDesk, k0840));
  callAt(k0842 + kSec, rec("c2@x", kZhang, kLiDesk, k0840));
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].person_id, "e1013");
  EXPECT_EQ(merger_->openWindows(), 1u);
  EXPECT_EQ(counter("notifier.windows_evicted"), 1u);
  merger_->flush();
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[1].person_id, "e1024");
}

TEST_F(MergerTest, RedeliveredRecordsAreNotCountedTwiceButAReusedCallIdIs) {
  make({wang()});
  const auto r = rec("c1@x", kZhang, kDesk, k0840);
  callAt(k0842, r);
  callAt(k0842, r);
  callAt(k0842, rec("c1@x", kZhang, kDesk, k0840 + 40 * kSec));  // a new call, same Call-ID
  merger_->flush();
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].title, "未接来电 (2)");
  EXPECT_EQ(counter("notifier.duplicates"), 1u);
}

TEST_F(MergerTest, SnapshotChanges) {
  auto w = wang();
  auto l = li();
  make({w, l});
  callAt(k0842, rec("c1@x", kZhang, kDesk, k0840));
  callAt(k0842, rec("c2@x", kZhang, kLiDesk, k0840));
  // Li Lei unsubscribes and 王芳 switches to English before the window closes.
  w.prefs.language = "en";
  merger_->setDirectory(subscribers::Directory::build({w}, 2));
  merger_->advanceTo(k0842 + 60 * kSec);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].title, "Missed calls (1)");
  EXPECT_EQ(counter("notifier.person_gone"), 1u);
}

TEST_F(MergerTest, PersonWithoutChannelsAndUnknownZone) {
  auto w = wang();
  w.channels.clear();
  auto l = li();
  l.prefs.time_zone = "Mars/Olympus_Mons";
  make({w, l});
  callAt(k0842, rec("c1@x", kZhang, kDesk, k0840));
  callAt(k0842, rec("c2@x", kZhang, kLiDesk, kMidnightUtc + 3600 * kSec));
  merger_->flush();
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(counter("notifier.no_channel"), 1u);
  EXPECT_EQ(counter("notifier.bad_time_zone"), 1u);
  // Rendered in UTC.
  EXPECT_NE(out_[0].text.find("at 01:00"), std::string::npos) << out_[0].text;
}

TEST_F(MergerTest, FlushSendsHeldMessagesToo) {
  auto w = wang();
  w.prefs.quiet_hours = quiet(22, 7, QuietAction::kHold);
  make({w});
  const int64_t t2300 = 1795359600 * kUs;
  callAt(t2300, rec("c1@x", kZhang, kDesk, t2300));
  EXPECT_EQ(merger_->openWindows(), 1u);
  merger_->flush();
  EXPECT_EQ(out_.size(), 1u);
  EXPECT_EQ(merger_->openWindows(), 0u);
  EXPECT_EQ(merger_->nextDeadlineUs(), std::nullopt);
}

TEST_F(MergerTest, CountersHaveStableNamesInAFixedOrder) {
  make({wang()});
  std::vector<std::string> names;
  merger_->forEachCounter([&](std::string_view n, uint64_t v) {
    names.emplace_back(n);
    EXPECT_EQ(v, 0u) << n;
  });
  const std::vector<std::string> want = {
      "notifier.missed_in",         "notifier.unknown_number",    "notifier.filtered_outcome",
      "notifier.filtered_withheld", "notifier.filtered_internal", "notifier.filtered_external",
      "notifier.filtered_min_ring", "notifier.quiet_dropped",     "notifier.quiet_held",
      "notifier.accepted",          "notifier.same_call_merged",  "notifier.duplicates",
      "notifier.windows_opened",    "notifier.windows_closed",    "notifier.windows_full",
      "notifier.windows_evicted",   "notifier.person_gone",       "notifier.no_channel",
      "notifier.bad_time_zone",     "notifier.notifications"};
  EXPECT_EQ(names, want);
}

}  // namespace
}  // namespace mcn::notifier

namespace mcn::notifier {
namespace {

// The one deadline rule shared by the merger and the Redis Streams notifier (stream_bus.cc).
// 2026-11-22T00:00Z is kMidnightUtc; times in UTC.
TEST(WindowDeadline, MergeWindowThenQuietHoursHoldOrCut) {
  const auto utc = TimeZone::utc();
  subscribers::Preferences prefs;
  prefs.merge_window_ms = 60'000;
  const int64_t at_2159 = kMidnightUtc + (21 * 60 + 59) * 60 * kSec;
  WindowDeadline d = windowDeadline(prefs, *utc, at_2159);
  EXPECT_EQ(d.at_us, at_2159 + 60 * kSec);  // no quiet hours: the window
  EXPECT_FALSE(d.held);

  // Quiet 22:00-07:00 that hold: a window ending at 22:00:30 is held to 07:00 the next day.
  prefs.quiet_hours = subscribers::QuietHours{22 * 60, 7 * 60, subscribers::QuietAction::kHold};
  d = windowDeadline(prefs, *utc, at_2159 + 30 * kSec);
  EXPECT_EQ(d.at_us, kMidnightUtc + (24 + 7) * 3600 * kSec);
  EXPECT_TRUE(d.held);
  // One ending before 22:00 is not.
  d = windowDeadline(prefs, *utc, at_2159 - 60 * kSec);
  EXPECT_EQ(d.at_us, at_2159);
  EXPECT_FALSE(d.held);

  // Quiet hours that drop: the window is cut at 22:00 so it is sent before they begin.
  prefs.quiet_hours->action = subscribers::QuietAction::kDrop;
  d = windowDeadline(prefs, *utc, at_2159 + 30 * kSec);
  EXPECT_EQ(d.at_us, kMidnightUtc + 22 * 3600 * kSec);
  EXPECT_FALSE(d.held);
}

}  // namespace
}  // namespace mcn::notifier
