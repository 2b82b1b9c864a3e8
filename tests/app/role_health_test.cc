// Every `mcn run` role answers /healthz and /readyz from its real state (issue 15): the
// notifier role, which consumes Redis Streams, is ready only while Redis answers, and stays
// alive (healthz 200) through an outage it rides out by reconnecting. A real redis-server on a
// free loopback port, the real mcn binary.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>

#include "../../app/src/http_endpoints.h"
#include "../../app/src/metrics.h"
#include "../subscribers/test_support.h"
#include "../support/child_process.h"

namespace mcn::app {
namespace {

namespace fs = std::filesystem;
using subscribers::test::freeLoopbackPort;
using subscribers::test::RedisServer;
using subscribers::test::waitFor;

struct Answer {
  int status = 0;
  std::string body;
};

Answer get(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  c.set_read_timeout(2, 0);
  auto res = c.Get(path);
  if (!res) return {};
  return {res->status, res->body};
}

TEST(HttpEndpoints, OneLoopbackRule) {
  for (const char* a : {"127.0.0.1", "127.0.0.53", "::1", "localhost"}) {
    EXPECT_TRUE(isLoopback(a)) << a;
  }
  for (const char* a : {"0.0.0.0", "::", "198.18.0.1", "10.127.0.1", ""}) {
    EXPECT_FALSE(isLoopback(a)) << a;
  }
  RunConfig run;
  run.http_bind = "0.0.0.0";
  EXPECT_NE(httpBindProblem(run, 9187).find("run.http_token_ref"), std::string::npos);
  EXPECT_EQ(httpBindProblem(run, 0), "");  // not served
  run.http_token_ref = "env:MCN_TOKEN";
  EXPECT_EQ(httpBindProblem(run, 9187), "");
}

TEST(HttpEndpoints, HealthAndReadinessAnswerWhatTheChecksSay) {
  Metrics metrics;
  // The checks run on the server's threads while the test changes them: under a lock.
  std::mutex mu;
  Check health, ready{false, "starting"};
  HttpEndpoints http(
      metrics,
      [&] {
        std::lock_guard lock(mu);
        return health;
      },
      [&] {
        std::lock_guard lock(mu);
        return ready;
      });
  RunConfig run;
  const int port = freeLoopbackPort();
  ASSERT_EQ(http.prepare(run, port), "");
  ASSERT_EQ(http.start(), "");
  Answer a = get(port, "/healthz");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "ok\n");
  a = get(port, "/readyz");
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.body, "not ready: starting\n");
  {
    std::lock_guard lock(mu);
    health = {false, "capture failed"};
    ready = {};
  }
  a = get(port, "/healthz");
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.body, "unhealthy: capture failed\n");
  EXPECT_EQ(get(port, "/readyz").status, 200);
  http.stop();
}

TEST(HttpEndpoints, BeyondLoopbackWithoutATokenIsRefusedBeforeBinding) {
  Metrics metrics;
  HttpEndpoints http(
      metrics, [] { return Check{}; }, [] { return Check{}; });
  RunConfig run;
  run.http_bind = "0.0.0.0";
  EXPECT_NE(http.prepare(run, freeLoopbackPort()).find("run.http_token_ref"), std::string::npos);
}

TEST(NotifierRole, ReadyOnlyWhileRedisAnswersAndAliveThroughAnOutage) {
  ASSERT_TRUE(RedisServer::available()) << "redis-server not installed (deploy/install-deps.sh)";
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  const fs::path dir = fs::temp_directory_path() / ("mcn_role_health_" + std::to_string(getpid()));
  fs::create_directories(dir);
  {
    std::ofstream(dir / "subscribers.toml") << "[[person]]\nid = \"p1\"\nname = \"P\"\n"
                                               "numbers = [\"+862583001001\"]\n"
                                               "[[person.channel]]\nkind = \"console\"\n";
  }
  const int http_port = freeLoopbackPort();
  {
    std::ofstream cfg(dir / "mcn.toml");
    cfg << "[run]\nsubscribers = \"" << (dir / "subscribers.toml").string() << "\"\n"
        << "http_port = " << http_port << "\n"
        << "[streams]\nredis = \"" << redis.url() << "\"\nbackoff_max_ms = 200\n";
  }
  const std::string mcn = std::string(MCN_BINARY_DIR) + "/mcn";
  const std::string cfg_path = (dir / "mcn.toml").string();
  test::ChildProcess notifier;
  // In its own working directory: its history replica (history.path) is relative.
  ASSERT_TRUE(notifier.start({mcn, "run", "--role", "notifier", "--config", cfg_path},
                             {.output = "/dev/null", .cwd = dir.string(), .env = {}}));
  const bool ready =
      waitFor([&] { return get(http_port, "/readyz").status == 200; }, std::chrono::seconds(15));
  EXPECT_TRUE(ready) << "the notifier never became ready";
  EXPECT_EQ(get(http_port, "/healthz").body, "ok\n");

  redis.stop();  // SIGKILL: the connection is lost
  const bool unready =
      waitFor([&] { return get(http_port, "/readyz").status == 503; }, std::chrono::seconds(15));
  EXPECT_TRUE(unready) << "still ready with Redis gone";
  EXPECT_EQ(get(http_port, "/readyz").body, "not ready: Redis streams unreachable\n");
  Answer alive = get(http_port, "/healthz");
  EXPECT_EQ(alive.status, 200) << alive.body;  // reconnecting with backoff, not stuck

  notifier.signal(SIGTERM);
  EXPECT_EQ(notifier.exitCode(), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mcn::app
