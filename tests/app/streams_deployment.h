#pragma once
// A [streams] deployment for end-to-end tests (README "Scale-out with Redis Streams"): one real
// redis-server on a free loopback port, a directory of its own with mcn.toml (the fixtures' dial
// plan, [streams] on that Redis, and the test's own tables), notifiers (`mcn run --role
// notifier`, each in its own working directory n1, n2 with its own history store, on a free HTTP
// port of 127.0.0.1) and the probe (`mcn replay --role probe` of fixtures). Shared by
// tests/app/shared_history_e2e_test.cc and tests/webapp/web_streams_e2e_test.cc.

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../subscribers/test_support.h"
#include "../support/child_process.h"
#include "../support/free_port.h"
#include "cli_run.h"

namespace mcn::app::test {

class StreamsDeployment {
 public:
  static constexpr int kNotifiers = 2;

  static std::string slurp(const std::filesystem::path& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  // `name`: the directory's (under the temporary directory, with the pid). `extra_toml`: more
  // tables for mcn.toml (not [run], [streams], [dial_plan] or [calls], which it has).
  // `persistent`: Redis keeps its data in the directory (an append-only file synced at every
  // write), so restartRedis() finds it again. False when redis-server is missing or did not
  // answer (a failed assertion says which).
  bool open(const std::string& name, const std::string& extra_toml = "", bool persistent = false) {
    if (!subscribers::test::RedisServer::available()) {
      ADD_FAILURE() << "redis-server not installed";
      return false;
    }
    dir_ = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (persistent) {
      redis_args_ = {"--appendonly", "yes", "--appendfsync", "always", "--dir", dir_.string()};
    }
    if (!redis_.start(0, redis_args_)) {
      ADD_FAILURE() << "redis-server did not answer PING";
      return false;
    }
    for (int k = 0; k < kNotifiers; ++k) std::filesystem::create_directories(cwd(k));
    std::ofstream(config()) << slurp(clitest::kPcaps + "/fixtures.toml") << "\n[run]\n"
                            << "shutdown_timeout_ms = 2000\n"
                            << "[streams]\nredis = \"" << redis_.url() << "\"\n"
                            << "backoff_max_ms = 200\n"
                            << extra_toml << "\n";
    return true;
  }
  ~StreamsDeployment() {
    for (auto& n : notifiers_) n.kill();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path config() const { return dir_ / "mcn.toml"; }
  std::filesystem::path subscribers() const { return dir_ / "subscribers.toml"; }
  std::filesystem::path cwd(int k) const { return dir_ / ("n" + std::to_string(k + 1)); }
  std::string log(int k) const { return slurp(cwd(k) / "run.log"); }
  subscribers::test::RedisServer& redis() { return redis_; }
  // Redis back on its port after redis().stop(), with its data when opened `persistent`.
  bool restartRedis() { return redis_.start(redis_.port(), redis_args_); }
  mcn::test::ChildProcess& notifier(int k) { return notifiers_[k]; }
  int httpPort(int k) const { return http_[k]; }

  // Notifier k with --subscribers subscribers() on a free port; true once its /readyz says 200.
  bool startNotifier(int k, std::vector<std::pair<std::string, std::string>> env = {}) {
    http_[k] = mcn::test::freeTcpPort("127.0.0.1");
    if (http_[k] == 0) return false;
    if (!notifiers_[k].start(
            {clitest::kMcn, "run", "--role", "notifier", "--config", config().string(),
             "--subscribers", subscribers().string(), "--http-port", std::to_string(http_[k])},
            {.output = (cwd(k) / "run.log").string(),
             .cwd = cwd(k).string(),
             .env = std::move(env)})) {
      return false;
    }
    auto c = client(k);
    for (int i = 0; i < 100; ++i) {
      auto r = c->Get("/readyz");
      if (r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // A client of notifier k (redirects not followed: a browser's steps are the test's).
  std::unique_ptr<httplib::Client> client(int k) const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", http_[k]);
    c->set_connection_timeout(1);
    c->set_follow_location(false);
    return c;
  }
  // The probe: the fixtures' records to the shared history, their missed calls to the notifiers.
  clitest::CliResult probe(const std::vector<std::string>& fixtures) {
    std::string args = "replay";
    for (const auto& f : fixtures) args += " " + clitest::kPcaps + "/" + f;
    return clitest::runMcn(args + " --role probe --config " + config().string());
  }

 private:
  std::filesystem::path dir_;
  subscribers::test::RedisServer redis_;
  std::vector<std::string> redis_args_;
  mcn::test::ChildProcess notifiers_[kNotifiers];
  int http_[kNotifiers] = {0, 0};
};

}  // namespace mcn::app::test
