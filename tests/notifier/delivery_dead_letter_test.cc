// The dead-letter file, the bounded queue, shutdown, local (console/JSONL) writers and the
// counters' accounting identity.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_servers.h"

namespace mcn::notifier::testing {
namespace {

using subscribers::ChannelKind;

std::vector<nlohmann::json> readJsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

class DeliveryDeadLetter : public ::testing::Test {
 protected:
  std::string path_ = (std::filesystem::temp_directory_path() /
                       ("mcn_test_dead_" + std::to_string(::getpid()) + ".jsonl"))
                          .string();
  void SetUp() override { std::filesystem::remove(path_); }
  void TearDown() override { std::filesystem::remove(path_); }
};

TEST_F(DeliveryDeadLetter, MaxAttemptsWritesTheReasonAndARedactedNotification) {
  TestHttpServer srv([](const Received&, size_t) {
    return Reply{200, R"({"errcode":93000,"errmsg":"invalid webhook url"})"};
  });
  ManualClock clock(kT0Us);
  ScriptedRandom random({0});
  CredentialStore creds;
  JsonlDeadLetterFile file(path_);
  DeliveryConfig cfg;
  cfg.max_attempts = 2;
  {
    Delivery d(cfg, clock, random, creds, file);
    auto n = sampleNotification(ChannelKind::kWeCom,
                                srv.url("/cgi-bin/webhook/send?key=SECRET-ROBOT-KEY"));
    n.channel.options = {{"msgtype", "text"}, {"header.X-Token", "SECRET-HEADER-VALUE"}};
    d.submit(n);
    ASSERT_TRUE(driveUntil(d, [&] { return d.pending() == 0; }));
    EXPECT_EQ(d.counter("delivery.dead_lettered"), 1u);
  }
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // people, numbers and texts: owner only

  auto lines = readJsonl(path_);
  ASSERT_EQ(lines.size(), 1u);
  const auto& j = lines[0];
  EXPECT_EQ(j["reason"], "max_attempts");
  EXPECT_EQ(j["attempts"], 2);
  EXPECT_EQ(j["error"], "errcode 93000: invalid webhook url");
  EXPECT_EQ(j["at"], "2023-11-14T22:13:20.000Z");
  const auto& n = j["notification"];
  EXPECT_EQ(n["person"], "e1024");
  EXPECT_EQ(n["idempotency_key"], "k-7f3a9c");
  EXPECT_EQ(n["text"], "韩梅梅 +8613900101230 呼叫 +862583001013, 无人接听");
  EXPECT_EQ(n["calls"][0]["call_id"], "c1@pbx.example");
  EXPECT_EQ(n["channel"]["kind"], "wecom");
  EXPECT_EQ(n["channel"]["target"],
            "http://127.0.0.1:" + std::to_string(srv.port()) + "/cgi-bin/webhook/send?***");
  EXPECT_EQ(n["channel"]["options"]["msgtype"], "text");
  EXPECT_EQ(n["channel"]["options"]["header.X-Token"], "***");
  // The robot key is a credential: it is nowhere in the file.
  std::ifstream raw(path_);
  std::string all((std::istreambuf_iterator<char>(raw)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all.find("SECRET-ROBOT-KEY"), std::string::npos);
  EXPECT_EQ(all.find("SECRET-HEADER-VALUE"), std::string::npos);
}

TEST_F(DeliveryDeadLetter, FullQueueGoesToTheDeadLetterFileNotSilentlyLost) {
  ManualClock clock(kT0Us);
  ScriptedRandom random({0});
  CredentialStore creds;
  MemoryDeadLetters dead;
  DeliveryConfig cfg;
  cfg.max_queue = 2;
  Delivery d(cfg, clock, random, creds, dead);
  EXPECT_TRUE(d.submit(sampleNotification(ChannelKind::kWeCom, "http://127.0.0.1:9/a", "k-1")));
  EXPECT_TRUE(d.submit(sampleNotification(ChannelKind::kWeCom, "http://127.0.0.1:9/a", "k-2")));
  EXPECT_FALSE(d.submit(sampleNotification(ChannelKind::kWeCom, "http://127.0.0.1:9/a", "k-3")));
  EXPECT_EQ(d.pending(), 2u);
  EXPECT_EQ(d.counter("delivery.queue_full"), 1u);
  EXPECT_EQ(d.counter("delivery.dead_lettered"), 1u);
  ASSERT_EQ(dead.entries.size(), 1u);
  EXPECT_EQ(dead.entries[0].reason, "queue_full");
  EXPECT_EQ(dead.entries[0].n.idempotency_key, "k-3");
  EXPECT_EQ(dead.entries[0].attempts, 0);
}

TEST_F(DeliveryDeadLetter, PendingAtShutdownIsDeadLettered) {
  ManualClock clock(kT0Us);
  ScriptedRandom random({0});
  CredentialStore creds;
  MemoryDeadLetters dead;
  {
    Delivery d(DeliveryConfig{}, clock, random, creds, dead);
    d.submit(sampleNotification(ChannelKind::kWeCom, "http://127.0.0.1:9/a", "k-left"));
  }
  ASSERT_EQ(dead.entries.size(), 1u);
  EXPECT_EQ(dead.entries[0].reason, "shutdown");
  EXPECT_EQ(dead.entries[0].n.idempotency_key, "k-left");
}

TEST_F(DeliveryDeadLetter, LocalChannelsGoThroughTheWriterWithTheSameRetries) {
  Engine e;
  int calls = 0;
  std::vector<std::string> written;
  e.delivery.setLocalWriter([&](const Notification& n, std::string& error) {
    if (++calls == 1) {
      error = "disk full";
      return false;
    }
    written.push_back(n.idempotency_key);
    return true;
  });
  std::vector<std::string> delivered;
  e.delivery.setDeliveredCallback(
      [&](const Notification& n) { delivered.push_back(n.idempotency_key); });
  e.delivery.submit(sampleNotification(ChannelKind::kConsole, "", "k-console"));
  ASSERT_TRUE(e.run());
  EXPECT_EQ(written, std::vector<std::string>{"k-console"});
  EXPECT_EQ(delivered, std::vector<std::string>{"k-console"});
  EXPECT_EQ(e.counter("delivery.console.failed"), 1u);
  EXPECT_EQ(e.counter("delivery.console.ok"), 1u);
}

TEST_F(DeliveryDeadLetter, LocalChannelWithoutWriterIsNoChannel) {
  Engine e;
  EXPECT_FALSE(e.delivery.submit(sampleNotification(ChannelKind::kJsonl, "/tmp/x.jsonl", "k-j")));
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "no_channel");
}

TEST_F(DeliveryDeadLetter, CountersAddUpAndAreListedInAFixedOrder) {
  TestHttpServer srv([](const Received& r, size_t) {
    return r.param("key") == "bad" ? Reply{200, R"({"errcode":1,"errmsg":"x"})"}
                                   : Reply{200, R"({"errcode":0})"};
  });
  DeliveryConfig cfg;
  cfg.max_attempts = 2;
  Engine e(cfg);
  e.delivery.submit(sampleNotification(ChannelKind::kWeCom, srv.url("/s?key=good"), "k-1"));
  e.delivery.submit(sampleNotification(ChannelKind::kWeCom, srv.url("/s?key=bad"), "k-2"));
  e.delivery.submit(sampleNotification(ChannelKind::kWeCom, srv.url("/s?key=good"), "k-3"));
  ASSERT_TRUE(e.run());
  EXPECT_EQ(
      e.counter("delivery.submitted"),
      e.counter("delivery.succeeded") + e.counter("delivery.dead_lettered") + e.delivery.pending());
  EXPECT_EQ(e.counter("delivery.succeeded"), 2u);
  EXPECT_EQ(e.counter("delivery.dead_lettered"), 1u);
  EXPECT_EQ(e.counter("delivery.wecom.ok") + e.counter("delivery.wecom.failed"), 4u);  // attempts
  EXPECT_EQ(e.counter("delivery.wecom.dead_lettered"), 1u);  // per channel, for /metrics
  EXPECT_EQ(e.counter("delivery.webhook.dead_lettered"), 0u);

  std::vector<std::string> names;
  e.delivery.forEachCounter([&](std::string_view n, uint64_t) { names.emplace_back(n); });
  std::vector<std::string> expect = {
      "delivery.submitted",
      "delivery.succeeded",
      "delivery.failed_attempts",
      "delivery.retried",
      "delivery.dead_lettered",
      "delivery.rate_limited",
      "delivery.queue_full",
      "delivery.webhook.ok",
      "delivery.webhook.failed",
      "delivery.wecom.ok",
      "delivery.wecom.failed",
      "delivery.dingtalk.ok",
      "delivery.dingtalk.failed",
      "delivery.feishu.ok",
      "delivery.feishu.failed",
      "delivery.sms_aliyun.ok",
      "delivery.sms_aliyun.failed",
      "delivery.sms_http.ok",
      "delivery.sms_http.failed",
      "delivery.email.ok",
      "delivery.email.failed",
      "delivery.console.ok",
      "delivery.console.failed",
      "delivery.jsonl.ok",
      "delivery.jsonl.failed",
      "delivery.sip_message.ok",
      "delivery.sip_message.failed",
      "delivery.webhook.dead_lettered",
      "delivery.wecom.dead_lettered",
      "delivery.dingtalk.dead_lettered",
      "delivery.feishu.dead_lettered",
      "delivery.sms_aliyun.dead_lettered",
      "delivery.sms_http.dead_lettered",
      "delivery.email.dead_lettered",
      "delivery.console.dead_lettered",
      "delivery.jsonl.dead_lettered",
      "delivery.sip_message.dead_lettered",
  };
  EXPECT_EQ(names, expect);
}

TEST_F(DeliveryDeadLetter, FlushOnAManualClockReturnsWhenOnlyFutureWorkIsLeft) {
  TestHttpServer srv([](const Received&, size_t i) {
    return i == 0 ? Reply{503, "", "text/plain", {{"Retry-After", "30"}}} : Reply{200, ""};
  });
  ::setenv("MCN_TEST_FLUSH_SECRET", "whsec_bWNuLXRlc3Qtd2ViaG9vay1zaWduaW5nLWtleS0wMQ==", 1);
  Engine e;
  auto n = sampleNotification(ChannelKind::kWebhook, srv.url("/h"));
  n.channel.secret_ref = "env:MCN_TEST_FLUSH_SECRET";
  e.delivery.submit(n);
  EXPECT_FALSE(e.delivery.flush(kT0Us + 3600 * kSecond));  // the retry is 30 s away
  EXPECT_EQ(srv.count(), 1u);
  e.clock.set(kT0Us + 30 * kSecond);
  EXPECT_TRUE(e.delivery.flush(kT0Us + 3600 * kSecond));
  EXPECT_EQ(srv.count(), 2u);
}

}  // namespace
}  // namespace mcn::notifier::testing
