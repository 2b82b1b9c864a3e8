#include "reload.h"

#include <fmt/format.h>

#include <string_view>
#include <utility>

#include "http_endpoints.h"
#include "mcn/notifier/credentials.h"
#include "mcn/sipparse/dial_plan.h"
#include "mcn/sipparse/parser.h"
#include "mcn/subscribers/toml_store.h"

namespace mcn::app {

void checkParserConfig(const Config& cfg) {
  try {
    sipparse::SipParser check(cfg.parser);
  } catch (const std::exception& e) {
    throw ConfigError(fmt::format("{}: dial_plan: {}", cfg.source, e.what()));
  }
}

std::shared_ptr<const subscribers::Directory> loadSubscribersOf(const Config& cfg,
                                                                const std::string& override_path) {
  const std::string& path = override_path.empty() ? cfg.run.subscribers : override_path;
  if (path.empty()) return nullptr;
  sipparse::DialPlan plan(cfg.parser.dial_plan);
  static std::atomic<uint64_t> version{0};
  return subscribers::Directory::build(subscribers::loadPeopleFile(path, plan), ++version);
}

subscribers::RedisOptions redisSubscriberOptionsOf(const Config& cfg) {
  subscribers::RedisOptions ro = subscribers::parseRedisUrl(cfg.run.redis);
  if (!cfg.run.redis_password_ref.empty()) {
    ro.password = subscribers::resolveSecretRef(cfg.run.redis_password_ref);
  }
  // With Sentinels the store follows the same master as the streams (run.redis gives the db).
  ro.sentinels = cfg.streams.sentinels;
  ro.sentinel_master = cfg.streams.sentinel_master;
  if (!cfg.streams.sentinel_password_ref.empty()) {
    ro.sentinel_password = subscribers::resolveSecretRef(cfg.streams.sentinel_password_ref);
  }
  return ro;
}

std::unique_ptr<subscribers::RedisDirectorySource> redisSubscribersOf(const Config& cfg) {
  if (cfg.run.redis.empty()) return nullptr;
  return std::make_unique<subscribers::RedisDirectorySource>(redisSubscriberOptionsOf(cfg));
}

std::vector<std::string> startupProblems(const Config& cfg) {
  std::vector<std::string> out;
  try {
    checkParserConfig(cfg);
  } catch (const std::exception& e) {
    out.emplace_back(e.what());
  }
  try {
    (void)loadSubscribersOf(cfg, {});
  } catch (const std::exception& e) {
    // The subscribers loader names the file, line and field itself.
    out.emplace_back(e.what());
  }
  const auto& run = cfg.run;
  if (std::string p = httpBindProblem(run, run.http_port); !p.empty()) {
    out.push_back(fmt::format("{}: {}", cfg.source, p));
  }
  // A file: reference must be readable now (by whoever checks: run it as the service's user to
  // be sure); env: references come from the service's environment (secrets.env), not ours.
  notifier::CredentialStore store;
  for (const auto& [key, ref] :
       {std::pair<std::string_view, const std::string&>{"run.http_token_ref", run.http_token_ref},
        {"run.redis_password_ref", run.redis_password_ref},
        {"streams.password_ref", cfg.streams.password_ref},
        {"streams.sentinel_password_ref", cfg.streams.sentinel_password_ref}}) {
    if (ref.rfind("file:", 0) != 0) continue;
    std::string err;
    if (!store.resolve(ref, &err)) out.push_back(fmt::format("{}: {}: {}", cfg.source, key, err));
  }
  return out;
}

// Settings fixed for the life of the process (threads, rings, sockets, captures, privileges, the
// call tracker's timers).
std::vector<std::string> restartOnlyChanges(const Config& a, const Config& b, bool http_port_cli) {
  std::vector<std::string> out = restartKeysChanged(a, b);
  // --http-port on the command line overrides the file: its value there does not matter.
  if (http_port_cli) std::erase(out, std::string("run.http_port"));
  return out;
}

std::shared_ptr<const LiveSettings> readReload(const Config& running,
                                               const std::string& config_path,
                                               const std::vector<std::string>& cli_interfaces,
                                               const std::vector<std::string>& cli_hep,
                                               const std::string& cli_subscribers,
                                               bool http_port_from_cli, bool subscribers_in_redis,
                                               std::vector<std::string>& restart_keys) {
  const std::string origin = config_path.empty() ? "(built-in defaults)" : config_path;
  Config fresh = config_path.empty() ? defaultConfig() : loadConfigFile(config_path);
  if (!cli_interfaces.empty()) fresh.run.interfaces = cli_interfaces;
  if (!cli_hep.empty()) fresh.hep.listeners = cli_hep;
  // The HEP key was resolved at start; a changed reference is reported as [hep] needing a restart.
  fresh.decoder.hep.auth_key = running.decoder.hep.auth_key;
  checkParserConfig(fresh);  // throws on a plan only the parser rejects
  if (fresh.run.redis.empty() != running.run.redis.empty() && cli_subscribers.empty()) {
    throw ConfigError(origin +
                      ": run.redis / run.subscribers: switching the subscriber store needs "
                      "a restart");
  }
  auto settings = std::make_shared<LiveSettings>();
  // Throws on a bad or missing file.
  if (!subscribers_in_redis) settings->directory = loadSubscribersOf(fresh, cli_subscribers);
  restart_keys = restartOnlyChanges(running, fresh, http_port_from_cli);
  settings->parser = running.parser;
  settings->parser.dial_plan = fresh.parser.dial_plan;
  settings->notify = fresh.notify;
  settings->shutdown_timeout_ms = fresh.run.shutdown_timeout_ms;
  settings->run = fresh.run;
  return settings;
}

void LiveSettingsChannel::publish(std::shared_ptr<const LiveSettings> s) {
  std::lock_guard lock(mu_);
  live_ = std::move(s);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const LiveSettings> LiveSettingsChannel::poll(uint64_t& generation) {
  if (generation_.load(std::memory_order_acquire) == generation) return nullptr;
  std::lock_guard lock(mu_);
  generation = generation_.load(std::memory_order_acquire);
  return live_;
}

}  // namespace mcn::app
