#pragma once
// What a start and a SIGHUP reload read and check beyond the configuration loader (shared with
// `mcn config check`), and how a reload reaches the running threads.
//
// SIGHUP: the file is read and validated whole (syntax, every key, the dial plan, the
// subscribers file) before anything changes: a bad file changes nothing, is logged with its
// file:line:col and key, and counted in mcn_reload_failures_total. What can change live (dial
// plan, [notify], subscribers, shutdown_timeout_ms, logging) is published as one LiveSettings
// snapshot, which each thread picks up between two messages; settings fixed at start-up are
// logged as needing a restart. Calls in flight keep their state.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mcn/app/config.h"
#include "mcn/subscribers/directory.h"
#include "mcn/subscribers/redis_store.h"

namespace mcn::app {

// The dial plan as the SIP parser takes it (throws ConfigError).
void checkParserConfig(const Config& cfg);
// The subscribers file, [run] subscribers unless `override_path` is set, normalised by the
// config's dial plan; nullptr when there is none (throws SubscriberError naming
// file:line:col). Each snapshot loaded gets the next version number of the process.
std::shared_ptr<const subscribers::Directory> loadSubscribersOf(const Config& cfg,
                                                                const std::string& override_path);
// [run] redis as a self-refreshing subscriber source (password from its reference), started;
// nullptr without [run] redis. Throws when the password reference cannot be read.
std::unique_ptr<subscribers::RedisDirectorySource> redisSubscribersOf(const Config& cfg);
// The connection options of [run] redis (passwords from their references; throws when one
// cannot be read). [run] redis must be set.
subscribers::RedisOptions redisSubscriberOptionsOf(const Config& cfg);
// All of the above, the /metrics token rule (bound beyond loopback needs run.http_token_ref) and
// file: credential references: every problem found, one line each.
std::vector<std::string> startupProblems(const Config& cfg);

// Settings fixed for the life of the process that differ between `running` and `fresh`, by key:
// restartKeysChanged() (config.h; the keys declared as needing a restart), without
// run.http_port when --http-port set it.
std::vector<std::string> restartOnlyChanges(const Config& running, const Config& fresh,
                                            bool http_port_from_cli);

// What SIGHUP changes live.
struct LiveSettings {
  sipparse::ParserConfig parser;  // the running parser settings with the new dial plan
  NotifyConfig notify;
  std::shared_ptr<const subscribers::Directory> directory;  // null: keep (Redis, or none)
  int64_t shutdown_timeout_ms = 0;
  RunConfig run;  // logging
};

// Reads and checks the configuration file again (`config_path` empty: the built-in defaults)
// against the running one. Throws (ConfigError, SubscriberError) with nothing changed; else the
// new live settings and the keys that need a restart.
std::shared_ptr<const LiveSettings> readReload(const Config& running,
                                               const std::string& config_path,
                                               const std::vector<std::string>& cli_interfaces,
                                               const std::vector<std::string>& cli_hep,
                                               const std::string& cli_subscribers,
                                               bool http_port_from_cli, bool subscribers_in_redis,
                                               std::vector<std::string>& restart_keys);

// One writer (the main thread), any number of readers that look between two messages.
class LiveSettingsChannel {
 public:
  void publish(std::shared_ptr<const LiveSettings> s);
  // The latest snapshot if it changed since `generation` (updated), else null. Lock-free when
  // nothing changed.
  std::shared_ptr<const LiveSettings> poll(uint64_t& generation);

 private:
  std::mutex mu_;
  std::shared_ptr<const LiveSettings> live_;  // under mu_
  std::atomic<uint64_t> generation_{0};
};

}  // namespace mcn::app
