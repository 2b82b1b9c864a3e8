// Generic webhook (Standard Webhooks) end to end: a real HTTP receiver on loopback checks the
// headers, the exact body and the signature.

#include <gtest/gtest.h>

#include <cstdlib>

#include "test_servers.h"

namespace mcn::notifier::testing {
namespace {

using subscribers::ChannelKind;

// whsec_ + base64("mcn-test-webhook-signing-key-01"):
//   printf %s 'mcn-test-webhook-signing-key-01' | base64
constexpr const char* kWebhookSecret = "whsec_bWNuLXRlc3Qtd2ViaG9vay1zaWduaW5nLWtleS0wMQ==";

// Written by hand from DESIGN.md's output contract and the Standard Webhooks payload shape
// ({"type","timestamp","data"}); the call object has the fields of `mcn replay --calls-out`.
constexpr const char* kExpectedBody =
    R"({"type":"call.missed","timestamp":"2023-11-14T22:13:20.000Z","data":{"person":"e1024",)"
    R"j("person_name":"李雷","channel":"hook","idempotency_key":"k-7f3a9c","title":"未接来电 (1)",)j"
    R"("text":"韩梅梅 +8613900101230 呼叫 +862583001013, 无人接听",)"
    R"("created_at":"2023-11-14T22:13:20.000Z","calls":[{"call_id":"c1@pbx.example",)"
    R"("call_ids":["c1@pbx.example"],"correlation":null,"caller":"+8613900101230","caller_name":"韩梅梅",)"
    R"("caller_withheld":false,"callee":"+862583001013","outcome":"no_answer","missed":true,)"
    R"("status":480,"reason":null,"forwarded_to":null,"started_at":"2023-11-14T22:12:00.000Z",)"
    R"("ended_at":"2023-11-14T22:12:30.500Z","ring_ms":29000,"legs":1,"transport":"udp"}]}})";

TEST(ChannelWebhook, PostsStandardWebhookWithKnownSignature) {
  ::setenv("MCN_TEST_WEBHOOK_SECRET", kWebhookSecret, 1);
  TestHttpServer srv([](const Received&, size_t) { return Reply{204, ""}; });
  Engine e;
  auto n = sampleNotification(ChannelKind::kWebhook, srv.url("/hooks/mcn"));
  n.channel.secret_ref = "env:MCN_TEST_WEBHOOK_SECRET";
  ASSERT_TRUE(e.delivery.submit(n));
  ASSERT_TRUE(e.run());

  auto got = srv.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].path, "/hooks/mcn");
  EXPECT_EQ(got[0].header("Content-Type"), "application/json");
  EXPECT_EQ(got[0].header("webhook-id"), "k-7f3a9c");
  EXPECT_EQ(got[0].header("webhook-timestamp"), "1700000000");
  EXPECT_EQ(got[0].body, kExpectedBody);
  // B=$(cat body.json)  # kExpectedBody
  // printf '%s' "k-7f3a9c.1700000000.$B" |
  //   openssl dgst -sha256 -hmac 'mcn-test-webhook-signing-key-01' -binary | base64
  EXPECT_EQ(got[0].header("webhook-signature"), "v1,Vz62DEktyNBqWE15j6bBr+dsPkuyedJ+sS+A/4r5UJ8=");

  EXPECT_EQ(e.counter("delivery.succeeded"), 1u);
  EXPECT_EQ(e.counter("delivery.webhook.ok"), 1u);
  EXPECT_EQ(e.counter("delivery.failed_attempts"), 0u);
  EXPECT_TRUE(e.dead.entries.empty());
}

// A message that covers no call (the web console's sign-in link): type "message", no calls.
TEST(ChannelWebhook, AMessageWithoutCallsIsTypedMessage) {
  ::setenv("MCN_TEST_WEBHOOK_SECRET", kWebhookSecret, 1);
  TestHttpServer srv([](const Received&, size_t) { return Reply{204, ""}; });
  Engine e;
  auto n = sampleNotification(ChannelKind::kWebhook, srv.url("/hooks/mcn"));
  n.channel.secret_ref = "env:MCN_TEST_WEBHOOK_SECRET";
  n.calls.clear();
  n.text = "https://mcn.example/signin/link/t";
  ASSERT_TRUE(e.delivery.submit(n));
  ASSERT_TRUE(e.run());
  auto got = srv.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body.rfind(R"({"type":"message",)", 0), 0u) << got[0].body;
  EXPECT_NE(got[0].body.find(R"("text":"https://mcn.example/signin/link/t")"), std::string::npos);
  EXPECT_NE(got[0].body.find(R"("calls":[]})"), std::string::npos) << got[0].body;
}

TEST(ChannelWebhook, ClientErrorIsPermanentAndDeadLetteredAtOnce) {
  ::setenv("MCN_TEST_WEBHOOK_SECRET", kWebhookSecret, 1);
  TestHttpServer srv([](const Received&, size_t) { return Reply{410, "gone"}; });
  Engine e;
  auto n = sampleNotification(ChannelKind::kWebhook, srv.url("/gone"));
  n.channel.secret_ref = "env:MCN_TEST_WEBHOOK_SECRET";
  e.delivery.submit(n);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 1u);  // 410 says the request is wrong: no retry
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "rejected");
  EXPECT_EQ(e.dead.entries[0].error, "http 410");
  EXPECT_EQ(e.dead.entries[0].attempts, 1);
}

TEST(ChannelWebhook, MissingSecretReferenceIsAConfigurationError) {
  TestHttpServer srv([](const Received&, size_t) { return Reply{200, ""}; });
  Engine e;
  e.delivery.submit(sampleNotification(ChannelKind::kWebhook, srv.url("/h")));
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 0u);  // an unsigned webhook is never sent
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "bad_config");
}

TEST(ChannelWebhook, ReusesTheConnectionForTheNextNotification) {
  ::setenv("MCN_TEST_WEBHOOK_SECRET", kWebhookSecret, 1);
  TestHttpServer srv([](const Received&, size_t) { return Reply{200, "{}"}; });
  Engine e;
  for (const char* key : {"k-1", "k-2", "k-3"}) {
    auto n = sampleNotification(ChannelKind::kWebhook, srv.url("/h"), key);
    n.channel.secret_ref = "env:MCN_TEST_WEBHOOK_SECRET";
    e.delivery.submit(n);
    ASSERT_TRUE(e.run());
  }
  auto got = srv.received();
  ASSERT_EQ(got.size(), 3u);
  // Same client port: one TCP connection carried all three (libcurl multi connection cache).
  EXPECT_EQ(got[0].remote_port, got[1].remote_port);
  EXPECT_EQ(got[1].remote_port, got[2].remote_port);
}

}  // namespace
}  // namespace mcn::notifier::testing
