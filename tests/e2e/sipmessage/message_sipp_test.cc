// The SIP MESSAGE channel's sending half (issue 19 item 6) against real sipp UASes on loopback
// 127.0.4.0/24: a client answering 200, one answering 480 (Retry-After) and then 200 on the retry,
// and one that never answers (bounded by the request's timeout). mcn at 127.0.4.1:5070, sipp at
// 127.0.4.2:5060.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "mcn/sipua/message.h"
#include "mcn/sipua/user_agent.h"

extern char** environ;
extern "C" const char* __lsan_default_suppressions() { return "leak:libsofia-sip-ua.so\n"; }

namespace mcn::sipua {
namespace {

constexpr const char* kPeer = "sip:alice@127.0.4.2:5060";

// True while something holds UDP 127.0.4.2:5060 (sipp is listening).
bool peerBound() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(5060);
  ::inet_pton(AF_INET, "127.0.4.2", &a.sin_addr);
  bool busy = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno == EADDRINUSE;
  ::close(fd);
  return busy;
}

class Sipp {
 public:
  explicit Sipp(const std::string& scenario) {
    std::string sf = std::string(MCN_SOURCE_DIR) + "/tests/e2e/sipmessage/" + scenario;
    std::vector<std::string> args = {"sipp",          "-sf", sf,  "-i",       "127.0.4.2", "-p",
                                     "5060",          "-m",  "1", "-nostdin", "-timeout",  "15s",
                                     "-timeout_error"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid_, "sipp", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) pid_ = -1;
    for (int i = 0; i < 100 && pid_ > 0 && !peerBound(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~Sipp() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0 && peerBound(); }
  // sipp's exit status (0: every call passed its scenario), -1 if it ran past `limit_s`.
  int wait(int limit_s = 20) {
    for (int i = 0; i < limit_s * 20; ++i) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

class MessageSipp : public ::testing::Test {
 protected:
  void SetUp() override {
    UaConfig cfg;
    cfg.enabled = true;
    cfg.listen = "sip:127.0.4.1:5070";
    cfg.identity = "sip:mcn@127.0.4.1";
    cfg.domain = "127.0.4.2:5060";
    ua_ = std::make_unique<UserAgent>(cfg, "");
    ASSERT_EQ(ua_->start(), "");
  }
  void TearDown() override { ua_->stop(); }

  UserAgent::MessageResult send(const std::string& body, int timeout_ms = 10000) {
    auto p = std::make_shared<std::promise<UserAgent::MessageResult>>();
    auto f = p->get_future();
    std::string err = ua_->message({kPeer, body, "n-42", timeout_ms},
                                   [p](const UserAgent::MessageResult& r) { p->set_value(r); });
    EXPECT_EQ(err, "");
    if (!err.empty()) return {};
    EXPECT_EQ(f.wait_for(std::chrono::seconds(40)), std::future_status::ready);
    return f.get();
  }
  std::map<std::string, uint64_t> counters() {
    std::map<std::string, uint64_t> out;
    ua_->forEachCounter([&](std::string_view n, uint64_t v) { out[std::string(n)] = v; });
    return out;
  }

  std::unique_ptr<UserAgent> ua_;
};

const std::string kText = "Missed call from 1013 at 09:14 (rang 25 s). 未接来电";

TEST_F(MessageSipp, ClientAnswering200IsDelivered) {
  Sipp sipp("uas_message_200.xml");
  ASSERT_TRUE(sipp.started());
  auto r = send(kText);
  EXPECT_EQ(r.status, 200) << r.phrase;
  EXPECT_FALSE(r.call_id.empty());
  EXPECT_EQ(judgeMessageResponse(r.status, r.retry_after_s).outcome, MessageOutcome::kDelivered);
  EXPECT_EQ(sipp.wait(), 0) << "sipp saw a MESSAGE without the key, the type or the text";
  auto c = counters();
  EXPECT_EQ(c["sipua.messages.sent"], 1u);
  EXPECT_EQ(c["sipua.messages.delivered"], 1u);
  EXPECT_EQ(c["sipua.messages.failed"], 0u);
}

TEST_F(MessageSipp, Client480WithRetryAfterIsRetriedThenDelivered) {
  {
    Sipp offline("uas_message_480.xml");
    ASSERT_TRUE(offline.started());
    auto r = send(kText);
    EXPECT_EQ(r.status, 480) << r.phrase;
    ASSERT_TRUE(r.retry_after_s.has_value());
    EXPECT_EQ(*r.retry_after_s, 7);
    auto v = judgeMessageResponse(r.status, r.retry_after_s);
    EXPECT_EQ(v.outcome, MessageOutcome::kRetry);
    EXPECT_EQ(v.retry_after_ms, 7000);
    EXPECT_EQ(offline.wait(), 0);
  }
  Sipp back("uas_message_200.xml");  // the client is back; the retry carries the same key
  ASSERT_TRUE(back.started());
  auto r = send(kText);
  EXPECT_EQ(r.status, 200) << r.phrase;
  EXPECT_EQ(back.wait(), 0);
  auto c = counters();
  EXPECT_EQ(c["sipua.messages.sent"], 2u);
  EXPECT_EQ(c["sipua.messages.delivered"], 1u);
  EXPECT_EQ(c["sipua.messages.failed"], 1u);
}

TEST_F(MessageSipp, ClientNeverAnsweringIsA408WithinTheBound) {
  Sipp silent("uas_message_silent.xml");
  ASSERT_TRUE(silent.started());
  auto t0 = std::chrono::steady_clock::now();
  auto r = send(kText, 2000);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(r.phrase, "no answer within 2 s");
  EXPECT_GE(took, std::chrono::milliseconds(1900));
  EXPECT_LT(took, std::chrono::seconds(5)) << "bounded by the request's timeout, not Timer F";
  EXPECT_EQ(judgeMessageResponse(r.status, r.retry_after_s).outcome, MessageOutcome::kRetry);
  auto c = counters();
  EXPECT_EQ(c["sipua.messages.timeout"], 1u);
  EXPECT_EQ(c["sipua.messages.delivered"], 0u);
}

TEST_F(MessageSipp, RefusedBeforeAnySip) {
  auto never = [](const UserAgent::MessageResult&) { ADD_FAILURE() << "done ran"; };
  EXPECT_EQ(ua_->message({"10 13", "x", "k", 1000}, never), "recipient is not a number or SIP URI");
  EXPECT_EQ(ua_->message({kPeer, std::string(1301, 'x'), "k", 1000}, never),
            "body of 1301 bytes is over 1300");
  EXPECT_EQ(ua_->message({kPeer, "x", "k\r\nVia: evil", 1000}, never),
            "idempotency key holds a line break");
  EXPECT_EQ(counters()["sipua.messages.sent"], 0u);
}

}  // namespace
}  // namespace mcn::sipua
