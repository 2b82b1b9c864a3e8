// Retries on a ManualClock: exponential backoff with full jitter, Retry-After, timeouts, and the
// at-least-once promise seen from the receiver (exactly one accepted message per notification
// once duplicates are dropped by webhook-id).

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <map>
#include <set>

#include "test_servers.h"

namespace mcn::notifier::testing {
namespace {

using subscribers::ChannelKind;

constexpr const char* kSecret = "whsec_bWNuLXRlc3Qtd2ViaG9vay1zaWduaW5nLWtleS0wMQ==";
constexpr const char* kKey = "mcn-test-webhook-signing-key-01";  // base64-decoded kSecret
constexpr int64_t kMs = 1000;

Notification hook(const TestHttpServer& srv, const std::string& key) {
  ::setenv("MCN_TEST_RETRY_SECRET", kSecret, 1);
  auto n = sampleNotification(ChannelKind::kWebhook, srv.url("/hook"), key);
  n.channel.secret_ref = "env:MCN_TEST_RETRY_SECRET";
  return n;
}

// A receiver that checks every signature, processes every valid message (then may still answer
// with an error, as a receiver that crashes after its commit would) and dedupes by webhook-id.
struct DedupingReceiver {
  std::mutex mu;
  std::map<std::string, int> attempts;      // per webhook-id
  std::map<std::string, int> accepted_2xx;  // answers that told the sender "done"
  std::set<std::string> processed;          // after dedupe
  int bad_signatures = 0;

  Reply handle(const Received& r) {
    std::lock_guard<std::mutex> lock(mu);
    std::string id = r.header("webhook-id");
    std::string expect =
        "v1," + testHmacSha256B64(kKey, id + "." + r.header("webhook-timestamp") + "." + r.body);
    if (r.header("webhook-signature") != expect) {
      ++bad_signatures;
      return Reply{401, ""};
    }
    processed.insert(id);
    int n = ++attempts[id];
    if (n == 1) return Reply{500, "boom"};
    if (n == 2) return Reply{429, "slow down", "text/plain", {{"Retry-After", "2"}}};
    ++accepted_2xx[id];
    return Reply{200, "{}"};
  }
};

TEST(DeliveryRetry, FailingReceiverEndsWithExactlyOneAcceptedMessagePerNotification) {
  DedupingReceiver rx;
  TestHttpServer srv([&](const Received& r, size_t) { return rx.handle(r); });
  Engine e;  // Random always 0: full jitter draws the lower bound, so Retry-After alone decides
  for (const char* k : {"k-a", "k-b", "k-c"}) e.delivery.submit(hook(srv, k));

  // t0: 500 (no wait: jitter 0), then at once the second attempt, 429 with Retry-After: 2.
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 6u);
  EXPECT_EQ(e.delivery.nextDueUs(), kT0Us + 2 * kSecond);

  e.clock.set(kT0Us + 2 * kSecond - 1 * kMs);  // Retry-After is a minimum
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 6u);

  e.clock.set(kT0Us + 2 * kSecond);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 9u);

  std::lock_guard<std::mutex> lock(rx.mu);
  EXPECT_EQ(rx.bad_signatures, 0);  // re-signed with each attempt's timestamp
  EXPECT_EQ(rx.processed, (std::set<std::string>{"k-a", "k-b", "k-c"}));
  for (const char* k : {"k-a", "k-b", "k-c"}) {
    EXPECT_EQ(rx.attempts[k], 3) << k;
    EXPECT_EQ(rx.accepted_2xx[k], 1) << k;
  }
  EXPECT_EQ(e.counter("delivery.submitted"), 3u);
  EXPECT_EQ(e.counter("delivery.succeeded"), 3u);
  EXPECT_EQ(e.counter("delivery.failed_attempts"), 6u);
  EXPECT_EQ(e.counter("delivery.retried"), 6u);
  EXPECT_EQ(e.counter("delivery.webhook.failed"), 6u);
  EXPECT_EQ(e.counter("delivery.webhook.ok"), 3u);
  EXPECT_EQ(e.counter("delivery.dead_lettered"), 0u);
}

TEST(DeliveryRetry, BackoffCeilingDoublesUpToTheCapThenDeadLetters) {
  TestHttpServer srv([](const Received&, size_t) { return Reply{503, "down"}; });
  DeliveryConfig cfg;
  cfg.backoff_base_ms = 1000;
  cfg.backoff_cap_ms = 8000;
  cfg.max_attempts = 6;
  // The largest draw maps onto the top of [0, ceiling]: each retry lands exactly on the ceiling.
  Engine e(cfg, {std::numeric_limits<uint64_t>::max()});
  e.delivery.submit(hook(srv, "k-backoff"));
  ASSERT_TRUE(e.idle());
  ASSERT_EQ(srv.count(), 1u);

  int64_t t = kT0Us;
  // Ceilings min(cap, base * 2^k): 1 s, 2 s, 4 s, 8 s, 8 s (capped).
  for (int64_t ceiling_ms : {1000, 2000, 4000, 8000, 8000}) {
    size_t before = srv.count();
    e.clock.set(t + ceiling_ms * kMs - 1 * kMs);
    ASSERT_TRUE(e.idle());
    EXPECT_EQ(srv.count(), before) << "retried before the " << ceiling_ms << " ms ceiling";
    t += ceiling_ms * kMs;
    e.clock.set(t);
    ASSERT_TRUE(e.idle());
    EXPECT_EQ(srv.count(), before + 1) << "no retry at the " << ceiling_ms << " ms ceiling";
  }
  EXPECT_EQ(e.delivery.pending(), 0u);
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "max_attempts");
  EXPECT_EQ(e.dead.entries[0].attempts, 6);
  EXPECT_EQ(e.dead.entries[0].error, "http 503");
  EXPECT_EQ(e.counter("delivery.retried"), 5u);
  EXPECT_EQ(e.counter("delivery.dead_lettered"), 1u);
}

TEST(DeliveryRetry, JitterIsDrawnWithinTheCeiling) {
  TestHttpServer srv([](const Received&, size_t i) {
    return i == 0 ? Reply{500, ""} : Reply{200, ""};
  });
  DeliveryConfig cfg;
  cfg.backoff_base_ms = 1000;
  // Half the 64-bit range -> half of [0, 1000] (floor(1001 / 2) = 500 ms).
  Engine e(cfg, {uint64_t{1} << 63});
  e.delivery.submit(hook(srv, "k-jitter"));
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(e.delivery.nextDueUs(), kT0Us + 500 * kMs);
  e.clock.set(kT0Us + 499 * kMs);
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 1u);
  e.clock.set(kT0Us + 500 * kMs);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 2u);
}

TEST(DeliveryRetry, RetryAfterAsHttpDateIsMeasuredOnTheInjectedClock) {
  TestHttpServer srv([](const Received&, size_t i) {
    // kT0 + 3 s: date -u -d @1700000003 '+%a, %d %b %Y %H:%M:%S GMT'
    if (i == 0)
      return Reply{503, "", "text/plain", {{"Retry-After", "Tue, 14 Nov 2023 22:13:23 GMT"}}};
    return Reply{200, ""};
  });
  Engine e;
  e.delivery.submit(hook(srv, "k-date"));
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(e.delivery.nextDueUs(), kT0Us + 3 * kSecond);
  e.clock.set(kT0Us + 3 * kSecond);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 2u);
}

TEST(DeliveryRetry, RetryAfterIsCappedByConfiguration) {
  TestHttpServer srv([](const Received&, size_t) {
    return Reply{429, "", "text/plain", {{"Retry-After", "86400"}}};
  });
  DeliveryConfig cfg;
  cfg.retry_after_max_ms = 10000;
  Engine e(cfg);
  e.delivery.submit(hook(srv, "k-cap"));
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(e.delivery.nextDueUs(), kT0Us + 10 * kSecond);
}

TEST(DeliveryRetry, HangingServerHitsTheTimeoutAndIsRetried) {
  HangingListener hang;
  DeliveryConfig cfg;
  cfg.connect_timeout_ms = 200;
  cfg.total_timeout_ms = 200;  // the only real time this file spends: two 200 ms timeouts
  cfg.max_attempts = 2;
  Engine e(cfg);
  ::setenv("MCN_TEST_RETRY_SECRET", kSecret, 1);
  auto n = sampleNotification(ChannelKind::kWebhook,
                              "http://127.0.0.1:" + std::to_string(hang.port()) + "/hook");
  n.channel.secret_ref = "env:MCN_TEST_RETRY_SECRET";
  e.delivery.submit(n);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(e.counter("delivery.failed_attempts"), 2u);
  EXPECT_EQ(e.counter("delivery.retried"), 1u);
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "max_attempts");
  EXPECT_TRUE(e.dead.entries[0].error.starts_with("timeout")) << e.dead.entries[0].error;
}

TEST(DeliveryRetry, ConnectionRefusedIsRetried) {
  int port;
  {
    HangingListener gone;  // bind a free port, then close it: nothing listens there
    port = gone.port();
  }
  DeliveryConfig cfg;
  cfg.max_attempts = 3;
  Engine e(cfg);
  ::setenv("MCN_TEST_RETRY_SECRET", kSecret, 1);
  auto n =
      sampleNotification(ChannelKind::kWebhook, "http://127.0.0.1:" + std::to_string(port) + "/");
  n.channel.secret_ref = "env:MCN_TEST_RETRY_SECRET";
  e.delivery.submit(n);
  ASSERT_TRUE(e.run());
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].attempts, 3);
  EXPECT_TRUE(e.dead.entries[0].error.starts_with("connect failed")) << e.dead.entries[0].error;
}

}  // namespace
}  // namespace mcn::notifier::testing

namespace mcn::notifier::testing {
namespace {

// The call history's view (DeliveryStep, delivery.h): every attempt with its error, then how it
// ended, in order, once each.
TEST(DeliverySteps, EveryAttemptThenTheEndAreReported) {
  int answers = 0;
  TestHttpServer srv([&](const Received&, size_t) {
    return ++answers == 1 ? Reply{503, "busy"} : Reply{200, "{}"};
  });
  DeliveryConfig cfg;
  cfg.max_attempts = 2;
  Engine e(cfg);
  std::vector<std::string> steps;
  e.delivery.setStepCallback([&](const Notification& n, const DeliveryStep& s) {
    switch (s.kind) {
      case DeliveryStep::Kind::kAttempt:
        steps.push_back(n.idempotency_key + (s.ok ? " ok" : " failed: " + std::string(s.error)));
        break;
      case DeliveryStep::Kind::kDelivered:
        steps.push_back(n.idempotency_key + " delivered after " + std::to_string(n.attempts));
        break;
      case DeliveryStep::Kind::kDeadLettered:
        steps.push_back(n.idempotency_key + " dead: " + std::string(s.reason));
        break;
    }
  });
  e.delivery.submit(hook(srv, "k-1"));
  ASSERT_TRUE(e.run());
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].rfind("k-1 failed: ", 0), 0u) << steps[0];
  EXPECT_NE(steps[0].find("503"), std::string::npos) << steps[0];
  EXPECT_EQ(steps[1], "k-1 ok");
  EXPECT_EQ(steps[2], "k-1 delivered after 2");

  // Refused twice: two failed attempts, then dead-lettered with the reason.
  TestHttpServer bad([&](const Received&, size_t) { return Reply{503, "down"}; });
  steps.clear();
  e.delivery.submit(hook(bad, "k-2"));
  e.run();
  for (int i = 0; i < 50 && e.delivery.pending() > 0; ++i) {
    if (auto due = e.delivery.nextDueUs()) e.clock.set(*due);
    e.run();
  }
  ASSERT_EQ(steps.size(), 3u) << ::testing::PrintToString(steps);
  EXPECT_EQ(steps[0].rfind("k-2 failed: ", 0), 0u);
  EXPECT_EQ(steps[1].rfind("k-2 failed: ", 0), 0u);
  EXPECT_EQ(steps[2], "k-2 dead: max_attempts");
}

}  // namespace
}  // namespace mcn::notifier::testing
