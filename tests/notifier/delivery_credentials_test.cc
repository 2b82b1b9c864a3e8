// Credentials: env: and file: references, caching, the world-readable warning, and secrets
// never reaching a log line.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_servers.h"

namespace mcn::notifier::testing {
namespace {

using subscribers::ChannelKind;

std::string tempFile(const std::string& name, const std::string& content, mode_t mode) {
  auto p = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  std::ofstream(p) << content;
  ::chmod(p.c_str(), mode);
  return p.string();
}

TEST(Credentials, EnvironmentReference) {
  ::setenv("MCN_TEST_CRED_A", "s3cr3t-a", 1);
  ::unsetenv("MCN_TEST_CRED_MISSING");
  CredentialStore store;
  std::string err;
  EXPECT_EQ(store.resolve("env:MCN_TEST_CRED_A", &err), "s3cr3t-a");
  EXPECT_FALSE(store.resolve("env:MCN_TEST_CRED_MISSING", &err).has_value());
  EXPECT_EQ(err, "environment variable MCN_TEST_CRED_MISSING (secret reference) is not set");
}

TEST(Credentials, FileReferenceIsTrimmedAndWorldReadableIsCounted) {
  std::string tight = tempFile("mcn_cred_tight", "\n  tight-secret \t\n", 0600);
  std::string loose = tempFile("mcn_cred_loose", "loose-secret\n", 0644);
  CredentialStore store;
  std::string err;
  EXPECT_EQ(store.resolve("file:" + tight, &err), "tight-secret");
  auto count = [&] {
    uint64_t v = 0;
    store.forEachCounter([&](std::string_view n, uint64_t c) {
      if (n == "credentials.world_readable") v = c;
    });
    return v;
  };
  EXPECT_EQ(count(), 0u);
  EXPECT_EQ(store.resolve("file:" + loose, &err), "loose-secret");  // still used: a warning
  EXPECT_EQ(count(), 1u);
  std::filesystem::remove(tight);
  std::filesystem::remove(loose);
}

TEST(Credentials, ErrorsNeverEchoAPastedSecretOrTheFileContents) {
  CredentialStore store;
  std::string err;
  EXPECT_FALSE(store.resolve("hunter2-pasted-secret", &err).has_value());
  EXPECT_EQ(err.find("hunter2"), std::string::npos) << err;
  EXPECT_FALSE(store.resolve("file:relative/path", &err).has_value());
  EXPECT_FALSE(store.resolve("file:/nonexistent/mcn/secret", &err).has_value());
  EXPECT_NE(err.find("/nonexistent/mcn/secret"), std::string::npos);
}

TEST(Credentials, CachedUntilCleared) {
  ::setenv("MCN_TEST_CRED_ROT", "old", 1);
  CredentialStore store;
  std::string err;
  EXPECT_EQ(store.resolve("env:MCN_TEST_CRED_ROT", &err), "old");
  ::setenv("MCN_TEST_CRED_ROT", "new", 1);
  EXPECT_EQ(store.resolve("env:MCN_TEST_CRED_ROT", &err), "old");
  store.clear();
  EXPECT_EQ(store.resolve("env:MCN_TEST_CRED_ROT", &err), "new");
}

TEST(Credentials, RedactUrl) {
  EXPECT_EQ(redactUrl("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?***");
  EXPECT_EQ(redactUrl("https://oapi.dingtalk.com/robot/send?access_token=abc#frag"),
            "https://oapi.dingtalk.com/robot/send?***");
  EXPECT_EQ(
      redactUrl(
          "https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
      "https://open.feishu.cn/open-apis/bot/v2/hook/***");
  EXPECT_EQ(redactUrl("smtps://user:pass@mail.example.com:465"), "smtps://mail.example.com:465");
  EXPECT_EQ(redactUrl("+8613900101230"), "+8613900101230");
}

TEST(Credentials, SecretsNeverReachTheLog) {
  // Capture every log line the engine writes while a WeCom robot, a DingTalk robot (secret from
  // the environment) and a webhook fail until dead-lettered.
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_level(spdlog::level::trace);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  ::setenv("MCN_TEST_LOG_DING", "SECding-signing-secret", 1);
  ::setenv("MCN_TEST_LOG_HOOK", "whsec_bWNuLXRlc3Qtd2ViaG9vay1zaWduaW5nLWtleS0wMQ==", 1);
  TestHttpServer srv([](const Received&, size_t) {
    return Reply{500, R"({"errcode":-1,"errmsg":"system busy"})"};
  });
  {
    DeliveryConfig cfg;
    cfg.max_attempts = 2;
    Engine e(cfg);
    e.delivery.submit(sampleNotification(ChannelKind::kWeCom,
                                         srv.url("/cgi-bin/webhook/send?key=wecom-robot-key-XYZ")));
    auto d = sampleNotification(ChannelKind::kDingTalk,
                                srv.url("/robot/send?access_token=ding-tok-XYZ"));
    d.channel.secret_ref = "env:MCN_TEST_LOG_DING";
    e.delivery.submit(d);
    auto h = sampleNotification(ChannelKind::kWebhook, srv.url("/hook"));
    h.channel.secret_ref = "env:MCN_TEST_LOG_HOOK";
    e.delivery.submit(h);
    ASSERT_TRUE(e.run());
    EXPECT_EQ(e.dead.entries.size(), 3u);
  }
  spdlog::set_default_logger(previous);
  std::string text = log.str();
  EXPECT_NE(text.find("dead-lettered"), std::string::npos);  // the log did see the failures
  for (const char* secret : {"wecom-robot-key-XYZ", "ding-tok-XYZ", "SECding-signing-secret",
                             "bWNuLXRlc3Qtd2ViaG9vay1zaWduaW5nLWtleS0wMQ", "sign="}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " leaked into:\n" << text;
  }
}

}  // namespace
}  // namespace mcn::notifier::testing
