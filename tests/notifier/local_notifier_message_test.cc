// LocalNotifier::sendMessage: one message to one person through their own channel (the web
// console's sign-in link, a test notification). It reaches the channel like a notification, but
// it is no missed call: not in --notify-out, not in the call history.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mcn/notifier/local_notifier.h"

namespace mcn::notifier {
namespace {

namespace fs = std::filesystem;

class SendMessageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mcn_sendmessage_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    subscribers::Person p;
    p.id = "e1014";
    p.name = "Zhang Wei";
    p.numbers = {"+862583001014"};
    subscribers::Channel log;
    log.id = "log";
    log.kind = subscribers::ChannelKind::kJsonl;
    log.target = (dir_ / "log.jsonl").string();
    subscribers::Channel other = log;
    other.id = "desk";
    other.target = (dir_ / "desk.jsonl").string();
    p.channels = {log, other};
    cfg_.dead_letter_path = (dir_ / "dead.jsonl").string();
    cfg_.outbox_path = "";
    notifier_ = std::make_unique<LocalNotifier>(cfg_, subscribers::Directory::build({p}, 1),
                                                &console_, &notify_out_, &clock_);
    notifier_->setHistoryHook(
        [this](const Notification&, const DeliveryStep*) { ++history_events_; });
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  std::map<std::string, uint64_t> counters() {
    std::map<std::string, uint64_t> m;
    notifier_->forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
    return m;
  }

  fs::path dir_;
  NotifyConfig cfg_;
  ManualClock clock_{1795308000LL * 1000000};
  std::ostringstream console_, notify_out_;
  std::unique_ptr<LocalNotifier> notifier_;
  int history_events_ = 0;
};

TEST_F(SendMessageTest, ReachesTheNamedChannelOnlyAndIsNoMissedCall) {
  std::string error;
  ASSERT_TRUE(
      notifier_->sendMessage("e1014", "desk", "Sign in", "https://mcn/signin/link/x", &error))
      << error;
  ASSERT_TRUE(notifier_->finish(clock_.nowUs(), 1000));
  std::string desk = slurp(dir_ / "desk.jsonl");
  ASSERT_FALSE(desk.empty());
  auto j = nlohmann::json::parse(desk);
  EXPECT_EQ(j["person"], "e1014");
  EXPECT_EQ(j["text"], "https://mcn/signin/link/x");
  EXPECT_TRUE(j["calls"].empty());
  EXPECT_TRUE(slurp(dir_ / "log.jsonl").empty());  // the other channel got nothing
  // Not a missed-call notification: nothing in --notify-out, nothing for the history.
  EXPECT_TRUE(notify_out_.str().empty()) << notify_out_.str();
  EXPECT_EQ(history_events_, 0);
  auto m = counters();
  EXPECT_EQ(m.at("notify.messages_sent"), 1u);
  EXPECT_EQ(m.at("notify.messages_delivered"), 1u);
}

TEST_F(SendMessageTest, NoChannelNamedGoesToTheFirst) {
  ASSERT_TRUE(notifier_->sendMessage("e1014", "", "Test", "a test", nullptr));
  ASSERT_TRUE(notifier_->finish(clock_.nowUs(), 1000));
  EXPECT_NE(slurp(dir_ / "log.jsonl").find("a test"), std::string::npos);
}

TEST_F(SendMessageTest, UnknownPersonOrChannelIsRefusedAndSendsNothing) {
  std::string error;
  EXPECT_FALSE(notifier_->sendMessage("e9999", "", "t", "x", &error));
  EXPECT_EQ(error, "no such person");
  EXPECT_FALSE(notifier_->sendMessage("e1014", "wecom", "t", "x", &error));
  EXPECT_EQ(error, "no such channel");
  ASSERT_TRUE(notifier_->finish(clock_.nowUs(), 1000));
  EXPECT_EQ(counters().at("notify.messages_sent"), 0u);
  EXPECT_FALSE(fs::exists(dir_ / "log.jsonl") && !slurp(dir_ / "log.jsonl").empty());
}

}  // namespace
}  // namespace mcn::notifier
