// IM group robots (WeCom, DingTalk, Feishu) end to end against loopback receivers that check the
// exact body, the signature and answer like the vendors: HTTP 200 even on failure.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_servers.h"

namespace mcn::notifier::testing {
namespace {

using subscribers::ChannelKind;

constexpr const char* kOk = R"({"errcode":0,"errmsg":"ok"})";

// ---- WeCom ----

TEST(ChannelWeCom, MarkdownMessageInVendorFormat) {
  TestHttpServer srv([](const Received&, size_t) { return Reply{200, kOk}; });
  Engine e;
  e.delivery.submit(
      sampleNotification(ChannelKind::kWeCom, srv.url("/cgi-bin/webhook/send?key=robot-key-1")));
  ASSERT_TRUE(e.run());
  auto got = srv.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/cgi-bin/webhook/send?key=robot-key-1");
  EXPECT_EQ(got[0].header("Content-Type"), "application/json");
  EXPECT_EQ(got[0].body, R"({"msgtype":"markdown","markdown":{"content":"**未接来电 (1)**\n)"
                         R"(韩梅梅 +8613900101230 呼叫 +862583001013, 无人接听"}})");
  EXPECT_EQ(e.counter("delivery.wecom.ok"), 1u);
}

TEST(ChannelWeCom, TextMessageWhenConfigured) {
  TestHttpServer srv([](const Received&, size_t) { return Reply{200, kOk}; });
  Engine e;
  auto n = sampleNotification(ChannelKind::kWeCom, srv.url("/cgi-bin/webhook/send?key=k"));
  n.channel.options["msgtype"] = "text";
  e.delivery.submit(n);
  ASSERT_TRUE(e.run());
  auto got = srv.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, R"({"msgtype":"text","text":{"content":"未接来电 (1)\n)"
                         R"(韩梅梅 +8613900101230 呼叫 +862583001013, 无人接听"}})");
}

TEST(ChannelWeCom, RobotKeyFromASecretFile) {
  auto path = std::filesystem::temp_directory_path() / "mcn_test_wecom_key";
  {
    std::ofstream f(path);
    f << "  file-robot-key \n";  // surrounding whitespace is trimmed
  }
  ::chmod(path.c_str(), 0600);
  TestHttpServer srv([](const Received&, size_t) { return Reply{200, kOk}; });
  Engine e;
  auto n = sampleNotification(ChannelKind::kWeCom, srv.url("/cgi-bin/webhook/send"));
  n.channel.secret_ref = "file:" + path.string();
  e.delivery.submit(n);
  ASSERT_TRUE(e.run());
  auto got = srv.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].param("key"), "file-robot-key");
  std::filesystem::remove(path);
}

TEST(ChannelWeCom, ErrcodeInAnHttp200IsAFailureAndIsRetried) {
  // First answer: WeCom's "invalid webhook url" with HTTP 200; then success.
  TestHttpServer srv([](const Received&, size_t i) {
    if (i == 0) return Reply{200, R"({"errcode":93000,"errmsg":"invalid webhook url"})"};
    return Reply{200, kOk};
  });
  Engine e;  // Random 0: the full-jitter delay is 0, the retry is due at once
  e.delivery.submit(
      sampleNotification(ChannelKind::kWeCom, srv.url("/cgi-bin/webhook/send?key=x")));
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 2u);
  EXPECT_EQ(e.counter("delivery.failed_attempts"), 1u);
  EXPECT_EQ(e.counter("delivery.retried"), 1u);
  EXPECT_EQ(e.counter("delivery.wecom.failed"), 1u);
  EXPECT_EQ(e.counter("delivery.wecom.ok"), 1u);
  EXPECT_EQ(e.counter("delivery.succeeded"), 1u);
  EXPECT_TRUE(e.dead.entries.empty());
}

TEST(ChannelWeCom, PersistentErrcodeEndsInTheDeadLetterWithTheVendorMessage) {
  TestHttpServer srv([](const Received&, size_t) {
    return Reply{200, R"({"errcode":93000,"errmsg":"invalid webhook url"})"};
  });
  DeliveryConfig cfg;
  cfg.max_attempts = 3;
  Engine e(cfg);
  e.delivery.submit(
      sampleNotification(ChannelKind::kWeCom, srv.url("/cgi-bin/webhook/send?key=x")));
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 3u);
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "max_attempts");
  EXPECT_EQ(e.dead.entries[0].attempts, 3);
  EXPECT_EQ(e.dead.entries[0].error, "errcode 93000: invalid webhook url");
  EXPECT_EQ(e.counter("delivery.succeeded"), 0u);
}

TEST(ChannelWeCom, AnswerWithoutErrcodeIsNotSuccess) {
  TestHttpServer srv([](const Received&, size_t i) {
    return i == 0 ? Reply{200, "<html>proxy error</html>", "text/html"} : Reply{200, kOk};
  });
  Engine e;
  e.delivery.submit(
      sampleNotification(ChannelKind::kWeCom, srv.url("/cgi-bin/webhook/send?key=x")));
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 2u);
  EXPECT_EQ(e.counter("delivery.wecom.failed"), 1u);
}

// ---- DingTalk ----

TEST(ChannelDingTalk, SignedUrlAndMarkdownBody) {
  ::setenv("MCN_TEST_DINGTALK_SECRET", "SEC0123456789abcdef", 1);
  TestHttpServer srv([](const Received& r, size_t) {
    // The receiver checks the signature itself, with OpenSSL, from what it received.
    std::string ts = r.param("timestamp");
    std::string expect = testHmacSha256B64("SEC0123456789abcdef", ts + "\nSEC0123456789abcdef");
    if (r.param("sign") != expect)
      return Reply{200, R"({"errcode":310000,"errmsg":"sign not match"})"};
    return Reply{200, kOk};
  });
  Engine e;
  auto n = sampleNotification(ChannelKind::kDingTalk, srv.url("/robot/send?access_token=ding-tok"));
  n.channel.secret_ref = "env:MCN_TEST_DINGTALK_SECRET";
  e.delivery.submit(n);
  ASSERT_TRUE(e.run());
  auto got = srv.received();
  ASSERT_EQ(got.size(), 1u);
  // printf '1700000000000\nSEC0123456789abcdef' |
  //   openssl dgst -sha256 -hmac 'SEC0123456789abcdef' -binary | base64
  //   -> TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk=, then URL-encoded ('/' %2F, '=' %3D)
  EXPECT_EQ(got[0].target,
            "/robot/send?access_token=ding-tok&timestamp=1700000000000"
            "&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D");
  EXPECT_EQ(got[0].body,
            R"j({"msgtype":"markdown","markdown":{"title":"未接来电 (1)",)j"
            R"("text":"**未接来电 (1)**\n韩梅梅 +8613900101230 呼叫 +862583001013, 无人接听"}})");
  EXPECT_EQ(e.counter("delivery.dingtalk.ok"), 1u);
  EXPECT_EQ(e.counter("delivery.dingtalk.failed"), 0u);
}

TEST(ChannelDingTalk, SendTooFastWaitsAMinuteBeforeRetrying) {
  TestHttpServer srv([](const Received&, size_t i) {
    if (i == 0) return Reply{200, R"({"errcode":130101,"errmsg":"send too fast"})"};
    return Reply{200, kOk};
  });
  Engine e;
  e.delivery.submit(
      sampleNotification(ChannelKind::kDingTalk, srv.url("/robot/send?access_token=t")));
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 1u);
  EXPECT_EQ(e.delivery.nextDueUs(), kT0Us + 60 * kSecond);
  e.clock.set(kT0Us + 60 * kSecond);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 2u);
}

// ---- Feishu ----

TEST(ChannelFeishu, SignedBodyInVendorFormat) {
  ::setenv("MCN_TEST_FEISHU_SECRET", "feishu-test-secret", 1);
  TestHttpServer srv([](const Received&, size_t) {
    return Reply{200, R"({"code":0,"data":{},"msg":"success"})"};
  });
  Engine e;
  auto n = sampleNotification(
      ChannelKind::kFeishu, srv.url("/open-apis/bot/v2/hook/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"));
  n.channel.secret_ref = "env:MCN_TEST_FEISHU_SECRET";
  e.delivery.submit(n);
  ASSERT_TRUE(e.run());
  auto got = srv.received();
  ASSERT_EQ(got.size(), 1u);
  // printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\nfeishu-test-secret')" -binary |
  // base64
  EXPECT_EQ(got[0].body,
            R"({"timestamp":"1700000000","sign":"e3MJ8Q5llVxGJ8pVkGPBhexDAgjvYqpjPP1GkY9XceI=",)"
            R"("msg_type":"text","content":{"text":"未接来电 (1)\n)"
            R"(韩梅梅 +8613900101230 呼叫 +862583001013, 无人接听"}})");
  EXPECT_EQ(e.counter("delivery.feishu.ok"), 1u);
}

TEST(ChannelFeishu, OlderStatusCodeAnswerCountsAndCodeNonZeroFails) {
  TestHttpServer srv([](const Received&, size_t i) {
    if (i == 0) {
      return Reply{
          200,
          R"({"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"})"};
    }
    return Reply{200, R"({"Extra":null,"StatusCode":0,"StatusMessage":"success"})"};
  });
  Engine e;
  e.delivery.submit(sampleNotification(ChannelKind::kFeishu, srv.url("/open-apis/bot/v2/hook/x")));
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 2u);
  EXPECT_EQ(e.counter("delivery.feishu.failed"), 1u);
  EXPECT_EQ(e.counter("delivery.feishu.ok"), 1u);
}

}  // namespace
}  // namespace mcn::notifier::testing
