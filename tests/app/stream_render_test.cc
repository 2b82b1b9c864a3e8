// Rendering a merge window kept in Redis (scale-out notifier, LocalNotifier::renderWindow): each
// call is judged at the instant it reached Redis, as the single-process merger judges it at its
// arrival, and the whole window makes one message per channel with the usual idempotency key.
// Times written by hand: Asia/Shanghai is UTC+8 all year; 2026-11-20 is day 20777 after the
// epoch.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "mcn/app/config.h"
#include "mcn/notifier/local_notifier.h"
#include "mcn/notifier/idempotency.h"

namespace mcn::app {
namespace {

constexpr int64_t kDay = 20777LL * 86400 * 1000000;  // 2026-11-20T00:00:00Z
constexpr int64_t kHour = 3600LL * 1000000;

calls::MissedCall call(const std::string& id, int64_t ended) {
  calls::MissedCall c;
  c.call_id = id;
  c.caller = "+8613900116294";
  c.callee = "+862583001001";
  c.outcome = calls::Outcome::kNoAnswer;
  c.missed = true;
  c.status = 480;
  c.started_at_us = ended - 20'000'000;
  c.ended_at_us = ended;
  return c;
}

TEST(StreamRender, CallsAreJudgedAtTheirArrivalAndTheWindowIsOneMessage) {
  subscribers::Person p;
  p.id = "alice";
  p.name = "Alice";
  p.numbers = {"+862583001001"};
  p.channels.push_back(
      subscribers::Channel{"console", subscribers::ChannelKind::kConsole, "", "", "", {}});
  p.prefs.quiet_hours = subscribers::QuietHours{22 * 60, 7 * 60, subscribers::QuietAction::kDrop};
  auto dir = subscribers::Directory::build({p}, 1);
  std::ostringstream console;
  notifier::LocalNotifier stage(defaultConfig().notify, dir, &console, nullptr);
  int dead_letters = 0;  // and no dead-letter file in the working directory
  stage.setDeadLetterHook([&](const notifier::Notification&, std::string_view, std::string_view,
                              int, int64_t) {
    ++dead_letters;
    return true;
  });
  std::vector<notifier::Notification> produced;
  stage.setProducedHook([&](const notifier::Notification& n) { produced.push_back(n); });
  // 21:00:00 and 21:00:40 local (13:00 UTC): before the quiet hours, within Alice's 60 s window;
  // 23:00 local: inside the quiet hours.
  std::vector<std::pair<int64_t, calls::MissedCall>> window = {
      {kDay + 13 * kHour, call("c1", kDay + 13 * kHour)},
      {kDay + 13 * kHour + 40'000'000LL, call("c2", kDay + 13 * kHour + 40'000'000LL)},
      {kDay + 15 * kHour, call("c3", kDay + 15 * kHour)},
  };
  // Rendered at 23:30 local, inside the quiet hours: what arrived before them still counts.
  stage.renderWindow(window, kDay + 15 * kHour + 30 * 60'000'000LL);
  ASSERT_EQ(produced.size(), 1u);
  ASSERT_EQ(produced[0].calls.size(), 2u);
  EXPECT_EQ(produced[0].calls[0].call_id, "c1");
  EXPECT_EQ(produced[0].calls[1].call_id, "c2");
  EXPECT_EQ(produced[0].idempotency_key,
            notifier::idempotencyKey("alice", std::vector<std::string>{"c1", "c2"}));
  std::map<std::string, uint64_t> c;
  stage.forEachCounter([&](std::string_view k, uint64_t v) { c[std::string(k)] = v; });
  EXPECT_EQ(c["notifier.quiet_dropped"], 1u);
  EXPECT_EQ(c["notifier.accepted"], 2u);
  EXPECT_EQ(c["notifier.notifications"], 1u);
  // The same window again (another notifier after a crash): the same key, so the receiver
  // drops it.
  stage.renderWindow(window, kDay + 15 * kHour + 31 * 60'000'000LL);
  ASSERT_EQ(produced.size(), 2u);
  EXPECT_EQ(produced[1].idempotency_key, produced[0].idempotency_key);
  // Console deliveries are written in-process by poll(); bounded, no waiting involved.
  for (int i = 0; i < 100 && stage.pending() > 0; ++i) stage.poll(0);
  EXPECT_EQ(stage.pending(), 0u);
  EXPECT_EQ(dead_letters, 0);
  EXPECT_NE(console.str().find("Alice"), std::string::npos) << console.str();
}

// The scale-out notifier hands dead letters to Redis; when that queue is full (Redis away for
// long) its hook says no, and the dead letter goes to the local dead-letter file instead.
TEST(StreamRender, ADeadLetterTheHookDoesNotKeepGoesToTheFile) {
  // A loopback port nothing listens on: the connection is refused at once.
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  ::close(sock);

  subscribers::Person p;
  p.id = "alice";
  p.numbers = {"+862583001001"};
  p.channels.push_back(subscribers::Channel{"hook", subscribers::ChannelKind::kWebhook,
                                            "http://127.0.0.1:" + std::to_string(port) + "/h",
                                            "", "env:MCN_TEST_DL_SECRET", {}});
  setenv("MCN_TEST_DL_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
  NotifyConfig cfg = defaultConfig().notify;
  cfg.delivery.max_attempts = 1;
  const std::string path = ::testing::TempDir() + "stream_render_dead.jsonl";
  std::remove(path.c_str());
  cfg.dead_letter_path = path;
  std::ostringstream console;
  notifier::LocalNotifier stage(cfg, subscribers::Directory::build({p}, 1), &console, nullptr);
  int offered = 0;
  stage.setDeadLetterHook([&](const notifier::Notification&, std::string_view, std::string_view,
                              int, int64_t) {
    ++offered;
    return false;  // as when the queue for Redis is full
  });
  stage.renderWindow({{kDay + 13 * kHour, call("c1", kDay + 13 * kHour)}}, kDay + 13 * kHour);
  stage.finish(kDay + 13 * kHour, 5000);
  EXPECT_EQ(offered, 1);
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line)) << "no dead letter in " << path;
  EXPECT_NE(line.find("\"c1\""), std::string::npos) << line;
  EXPECT_NE(line.find("max_attempts"), std::string::npos) << line;
  EXPECT_FALSE(std::getline(in, line));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace mcn::app
