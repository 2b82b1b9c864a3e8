// Per-robot rate limits on a ManualClock: messages over the limit are delayed, never dropped.

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "test_servers.h"

namespace mcn::notifier::testing {
namespace {

using subscribers::ChannelKind;

constexpr const char* kOk = R"({"errcode":0,"errmsg":"ok"})";
constexpr int64_t kMs = 1000;

TEST(DeliveryRateLimit, TwentyFiveWeComMessagesToOneRobot) {
  TestHttpServer srv([](const Received&, size_t) { return Reply{200, kOk}; });
  Engine e;  // defaults: WeCom 20 a minute per robot
  for (int i = 0; i < 25; ++i) {
    auto n = sampleNotification(ChannelKind::kWeCom, srv.url("/cgi-bin/webhook/send?key=robot-a"),
                                "k-" + std::to_string(i));
    n.title.clear();
    n.text = "msg " + std::to_string(i);
    e.delivery.submit(n);
  }
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 20u);
  EXPECT_EQ(e.counter("delivery.rate_limited"), 5u);
  EXPECT_EQ(e.delivery.pending(), 5u);  // delayed, not dropped

  e.clock.set(kT0Us + 60 * kSecond - 1 * kMs);  // still inside the first minute
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 20u);

  e.clock.set(kT0Us + 60 * kSecond);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 25u);
  EXPECT_EQ(e.counter("delivery.succeeded"), 25u);
  EXPECT_EQ(e.counter("delivery.dead_lettered"), 0u);

  // The ones held back are the last five submitted (first come, first served per robot).
  auto got = srv.received();
  std::set<std::string> late, expect;
  for (size_t i = 20; i < 25; ++i) {
    late.insert(got[i].body);
    expect.insert(R"({"msgtype":"markdown","markdown":{"content":"msg )" + std::to_string(i) +
                  R"("}})");
  }
  EXPECT_EQ(late, expect);
}

TEST(DeliveryRateLimit, AnotherRobotIsNotHeldBack) {
  TestHttpServer srv([](const Received&, size_t) { return Reply{200, kOk}; });
  Engine e;
  for (int i = 0; i < 21; ++i) {
    e.delivery.submit(
        sampleNotification(ChannelKind::kWeCom, srv.url("/cgi-bin/webhook/send?key=robot-a")));
  }
  e.delivery.submit(
      sampleNotification(ChannelKind::kWeCom, srv.url("/cgi-bin/webhook/send?key=robot-b")));
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 21u);  // 20 for robot-a, 1 for robot-b
  size_t b = 0;
  for (const auto& r : srv.received()) b += r.param("key") == "robot-b" ? 1 : 0;
  EXPECT_EQ(b, 1u);
}

TEST(DeliveryRateLimit, FeishuFivePerSecondAndHundredPerMinute) {
  TestHttpServer srv([](const Received&, size_t) {
    return Reply{200, R"({"code":0,"msg":"success"})"};
  });
  Engine e;
  for (int i = 0; i < 12; ++i) {
    e.delivery.submit(
        sampleNotification(ChannelKind::kFeishu, srv.url("/open-apis/bot/v2/hook/x")));
  }
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 5u);
  e.clock.set(kT0Us + 1 * kSecond - 1 * kMs);
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 5u);
  e.clock.set(kT0Us + 1 * kSecond);
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 10u);
  e.clock.set(kT0Us + 2 * kSecond);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 12u);
}

TEST(DeliveryRateLimit, LimitsAreConfigurable) {
  TestHttpServer srv([](const Received&, size_t) { return Reply{200, kOk}; });
  DeliveryConfig cfg;
  cfg.rate_limits[ChannelKind::kWeCom] = RateLimit{2, 0};
  Engine e(cfg);
  for (int i = 0; i < 3; ++i) {
    e.delivery.submit(
        sampleNotification(ChannelKind::kWeCom, srv.url("/cgi-bin/webhook/send?key=r")));
  }
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 2u);
  EXPECT_EQ(e.delivery.nextDueUs(), kT0Us + 60 * kSecond);
}

TEST(DeliveryRateLimit, InFlightCapHoldsTheRestBack) {
  std::atomic<int> active{0}, peak{0};
  TestHttpServer srv([&](const Received&, size_t) {
    int now = ++active;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::yield();
    --active;
    return Reply{200, R"({"errcode":0})"};
  });
  DeliveryConfig cfg;
  cfg.max_in_flight = 2;
  Engine e(cfg);
  for (int i = 0; i < 6; ++i) {
    e.delivery.submit(
        sampleNotification(ChannelKind::kWeCom, srv.url("/s?key=" + std::to_string(i))));
  }
  EXPECT_EQ(e.delivery.pending(), 6u);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 6u);
  EXPECT_LE(peak.load(), 2);
  EXPECT_EQ(e.counter("delivery.succeeded"), 6u);
}

TEST(SlidingWindowLimiter, NoWindowEverHoldsMoreThanTheLimit) {
  // Bookings at irregular instants: every 60 s window must hold at most 3.
  SlidingWindowLimiter lim;
  RateLimit l{3, 0};
  std::vector<int64_t> slots;
  for (int64_t now : {0, 10, 20, 30, 65, 66, 67, 68, 200}) {
    slots.push_back(lim.reserve("k", l, now * kSecond));
  }
  // By hand: 0, 10, 20 pass; 30 waits for 0+60; 65 -> 70 (10+60); 66 -> 80 (20+60);
  // 67 -> 120 (60+60); 68 -> 130 (70+60); 200 passes.
  std::vector<int64_t> expect = {0, 10, 20, 60, 70, 80, 120, 130, 200};
  for (auto& s : expect) s *= kSecond;
  EXPECT_EQ(slots, expect);
}

}  // namespace
}  // namespace mcn::notifier::testing
