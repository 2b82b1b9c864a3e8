#include "roles.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "history_api.h"
#include "http_endpoints.h"
#include "mcn/history/writer.h"
#include "mcn/notifier/local_notifier.h"
#include "mcn/notifier/stream_window_delivery.h"
#include "mcn/subscribers/redis_store.h"
#include "metrics.h"
#include "ops_api.h"
#include "process.h"
#include "reload.h"
#include "shared_links.h"
#include "stream_dead_letters.h"
#include "web_backend.h"

namespace mcn::app {

Role parseRole(const std::string& name) {
  if (name == "all") return Role::kAll;
  if (name == "probe") return Role::kProbe;
  if (name == "notifier") return Role::kNotifier;
  throw std::runtime_error("--role: expected probe, notifier or all, not \"" + name + "\"");
}

notifier::StreamConfig resolveStreamConfig(const Config& cfg) {
  notifier::StreamConfig sc = cfg.streams.stream;
  const std::string& url = !cfg.streams.redis.empty() ? cfg.streams.redis : cfg.run.redis;
  if (url.empty() && cfg.streams.sentinels.empty()) {
    throw std::runtime_error(
        "streams.redis: the probe and notifier roles need Redis (set [streams] redis or [run] "
        "redis)");
  }
  subscribers::RedisOptions ro =
      url.empty() ? subscribers::RedisOptions{} : subscribers::parseRedisUrl(url);
  sc.host = ro.host;
  sc.port = ro.port;
  sc.db = ro.db;
  const std::string& ref =
      !cfg.streams.password_ref.empty() ? cfg.streams.password_ref : cfg.run.redis_password_ref;
  if (!ref.empty()) sc.password = subscribers::resolveSecretRef(ref);
  sc.sentinels = cfg.streams.sentinels;
  sc.sentinel_master = cfg.streams.sentinel_master;
  if (!cfg.streams.sentinel_password_ref.empty()) {
    sc.sentinel_password = subscribers::resolveSecretRef(cfg.streams.sentinel_password_ref);
  }
  return sc;
}

history::HistoryStreamConfig historyStreamConfig(const Config& cfg,
                                                 const notifier::StreamConfig& resolved) {
  history::HistoryStreamConfig h;
  h.redis = notifier::streamClientOptions(resolved);
  h.key = resolved.prefix + ":history";
  h.maxlen = cfg.history.stream_maxlen;
  h.dedupe_ttl_s = resolved.dedupe_ttl_s;
  h.buffer_max = resolved.buffer_max;
  h.batch = resolved.batch;
  h.block_ms = 500;  // how long a stop may wait for the follower's read
  h.flush_timeout_ms = std::min<int64_t>(cfg.run.shutdown_timeout_ms, 2000);
  return h;
}

int runStreamNotifier(const Config& cfg, const RunOptions& opts) {
  notifier::StreamConfig sc;
  std::shared_ptr<const subscribers::Directory> directory;
  std::unique_ptr<subscribers::RedisDirectorySource> redis_dir;
  try {
    sc = resolveStreamConfig(cfg);
    directory = loadSubscribersOf(cfg, opts.subscribers);
    if (!directory) {
      redis_dir = redisSubscribersOf(cfg);
      if (!redis_dir) {
        throw std::runtime_error(
            "the notifier role needs subscribers ([run] subscribers or redis)");
      }
      if (!redis_dir->start()) spdlog::warn("Redis {} unreachable: retrying", cfg.run.redis);
      directory = redis_dir->current();
    }
    if (!directory) directory = subscribers::Directory::build({}, 0);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitStartup;
  }

  Signals signals;  // SIGHUP re-reads a subscribers file (the Redis store refreshes itself)

  // The shared call history (history/stream.h): this notifier's notification steps go to
  // <prefix>:history, and its replica of the whole stream answers /api/calls. A store that
  // cannot be opened is logged and counted (history.open_failed); the notifier runs on.
  std::unique_ptr<history::HistoryWriter> hist;
  history::HistoryProducer* hist_steps = nullptr;
  std::unique_ptr<HistoryApi> history_api;
  if (cfg.history.enabled) {
    hist = std::make_unique<history::HistoryWriter>(cfg.history, historyStreamConfig(cfg, sc),
                                                    /*purge=*/true);
    hist_steps = &hist->addProducer();
    if (hist->ok()) {
      hist->start();
      spdlog::info("call history in {} (kept {} days), shared through {}:history", cfg.history.path,
                   cfg.history.retention_days, sc.prefix);
    } else {
      spdlog::error("call history off (history.open_failed): {}", hist->error());
    }
    history_api = std::make_unique<HistoryApi>(cfg.history.path, cfg.parser.dial_plan);
  }

  // The directory as the HTTP threads see it (the web console, the people import): the Redis
  // store's snapshot, else the file's as the loop last loaded it.
  std::mutex api_dir_mu;
  std::shared_ptr<const subscribers::Directory> api_dir = directory;
  auto api_directory = [&]() -> std::shared_ptr<const subscribers::Directory> {
    if (redis_dir) return redis_dir->current();
    std::lock_guard lock(api_dir_mu);
    return api_dir;
  };
  auto set_api_directory = [&](std::shared_ptr<const subscribers::Directory> d) {
    std::lock_guard lock(api_dir_mu);
    api_dir = std::move(d);
  };

  // The operator console's JSON (ops_api.h) on this role: its own figures (deliveries, Redis;
  // frames and SIP are the probes'), the dead letters of <prefix>:dead (claimed in Redis, so two
  // notifiers never act on one twice), retries handed to the loop below (this thread alone drives
  // `stage`), the people import into the store this process may write.
  OpsStats ops_stats;
  RetryHandoff retry;
  std::atomic<uint64_t> pending_deliveries{0};
  StreamDeadLetters dead_letters(notifier::streamClientOptions(sc), sc.prefix);
  OpsApi::Seams ops_seams;
  ops_seams.levels = [&] {
    OpsLevels l;
    l.deliveries_pending = pending_deliveries.load(std::memory_order_relaxed);
    l.redis_configured = redis_dir != nullptr;
    l.streams_configured = true;
    l.capture_here = false;
    return l;
  };
  ops_seams.stream_dead_letters = &dead_letters;
  ops_seams.retry = &retry;
  // importPeopleInto answers itself for a store it cannot write (501, or 409 for CSV).
  ops_seams.import_people = [&cfg, &opts, &redis_dir](const std::string& csv) {
    return importPeopleInto(cfg, opts.subscribers, redis_dir != nullptr, csv);
  };
  OpsApi ops_api(ops_stats, std::move(ops_seams));
  // Every notifier serves the console: a sign-in link is used once among them all.
  SharedLinkRecord links(notifier::streamClientOptions(sc), sc.prefix);
  DirectoryHandoff web_dir;  // a subscribers file the console rewrote, for the loop
  std::unique_ptr<WebBackend> web;

  // /healthz: the loop below turned in the last 5 s; /readyz: connected to the streams.
  std::atomic<int64_t> beat{0};
  std::atomic<bool> connected{false}, stopping{false};
  Metrics metrics;
  CounterBoard& board = metrics.addBoard({{"role", "notifier"}});
  HttpEndpoints http(
      metrics,
      [&]() -> Check {
        const int64_t t = beat.load();
        if (t != 0 && !stopping.load() && monoUs() - t >= 5'000'000) {
          return {false, "the notifier loop stalled"};
        }
        return {};
      },
      [&]() -> Check {
        if (stopping.load()) return {false, "stopping"};
        if (!connected.load()) return {false, "Redis streams unreachable"};
        return {};
      });
  // GET /api/calls and /api/calls/<id> under the same rule as /metrics.
  if (history_api) http.setHistory(history_api.get());
  http.addRoutes([&](httplib::Server& srv) { ops_api.addRoutes(srv); });
  std::string error =
      http.prepare(cfg.run, opts.http_port >= 0 ? opts.http_port : cfg.run.http_port);
  if (error.empty() && cfg.web.enabled) {
    // The console (web_backend.h): the same wiring as role all; sign-in links and test messages
    // go out through `stage` (the loop drains them), /me and /ops search read the replica.
    WebWiring w;
    w.subscribers_path = opts.subscribers;
    w.directory = api_directory;
    w.saved = [&](std::shared_ptr<const subscribers::Directory> d) {
      set_api_directory(d);
      web_dir.put(std::move(d));
    };
    w.history = [&] { return history_api.get(); };
    w.redeem_shared = [&links](const std::string& nonce, int64_t expires_ms) {
      return links.redeem(nonce, expires_ms,
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
    };
    w.ops = opsSeamsOver([&ops_api] { return &ops_api; }, true,
                         peopleImportable(cfg, opts.subscribers, redis_dir != nullptr));
    w.ops.ladder = [](const std::string&) {
      return web::JsonAnswer{
          501,
          R"j({"error":"the messages are held by the probes: their /api/calls/<id>/ladder"})j"};
    };
    web = startWebConsole(cfg, http, std::move(w), error);
    http.setThreads(WebBackend::kHttpThreads);
  }
  if (error.empty()) error = http.start();
  if (!error.empty()) {
    spdlog::error("{}", error);
    return kExitStartup;
  }

  auto clock = notifier::systemClock();
  std::ostream* console = &std::cout;
  notifier::LocalNotifier stage(cfg.notify, directory, console, nullptr);
  if (hist_steps != nullptr) {
    stage.setHistoryHook([&](const notifier::Notification& n, const notifier::DeliveryStep* step) {
      hist_steps->push(historyEvent(n, step, clock->nowUs()));
    });
  }
  notifier::StreamWindowDelivery windows(stage, *clock);
  notifier::StreamNotifier bus(sc, directory, *clock,
                               [&](notifier::ClosedWindow&& w) { windows.onWindow(std::move(w)); });
  windows.attach(bus);
  spdlog::info("mcn run --role notifier: consumer {} in group {} on {}", bus.consumer(), sc.group,
               bus.redisAddress());

  auto publish = [&] {
    std::vector<std::pair<std::string, uint64_t>> v;
    auto add = [&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); };
    bus.forEachCounter(add);
    stage.forEachCounter(add);
    if (hist) hist->forEachCounter(add);
    if (redis_dir) redis_dir->forEachCounter(add);
    if (web) web->forEachCounter(add);
    board.publish(std::move(v));
    pending_deliveries.store(stage.pending(), std::memory_order_relaxed);
    ops_stats.record(monoUs(), metrics.totals());
  };
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  int64_t last_publish = 0;
  bool was_connected = true;
  for (;;) {
    beat.store(monoUs());
    connected.store(bus.connected());
    int sig = signals.wait(0);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP && !redis_dir) {
      try {
        directory = loadSubscribersOf(cfg, opts.subscribers);
        stage.setDirectory(directory);
        bus.setDirectory(directory);
        set_api_directory(directory);
        spdlog::info("SIGHUP: subscribers reloaded ({} people)", directory->people().size());
      } catch (const std::exception& e) {
        spdlog::error("SIGHUP: reload failed, keeping the previous subscribers: {}", e.what());
      }
    }
    if (redis_dir) {
      auto cur = redis_dir->current();
      if (cur && cur != directory) {
        directory = cur;
        stage.setDirectory(cur);
        bus.setDirectory(cur);
      }
    }
    // The web console rewrote the subscribers file (a person's preferences): read back.
    if (auto d = web_dir.take()) {
      directory = d;
      stage.setDirectory(d);
      bus.setDirectory(std::move(d));
    }
    if (web && web->messagesWaiting()) web->drainMessages(&stage);
    retry.serve(&stage);  // the operator console's retries of dead letters
    bool busy = stage.pending() > 0;
    bus.step(busy ? 0 : 100);
    if (bus.connected() != was_connected) {
      was_connected = bus.connected();
      if (was_connected) {
        spdlog::info("Redis {} reachable again", bus.redisAddress());
      } else {
        spdlog::warn("Redis {} unreachable ({}): reconnecting with backoff", bus.redisAddress(),
                     bus.lastError());
      }
    }
    if (stage.pending() > 0) stage.poll(busy ? 5 : 0);
    if (now_ms() - last_publish >= 1000) {
      publish();
      last_publish = now_ms();
    }
  }
  // Shutdown: no new entries; finish what is in flight within the bound, acknowledge it; what
  // is left stays pending in Redis for the other notifiers.
  stopping = true;
  bus.stopReading();
  int64_t deadline = now_ms() + cfg.run.shutdown_timeout_ms;
  while (stage.pending() > 0 && now_ms() < deadline) {
    stage.poll(10);
    bus.flushQueued();
  }
  for (int i = 0; i < 20 && !bus.flushQueued(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  bool complete = stage.pending() == 0;
  if (!complete) {
    spdlog::warn("{} notification(s) still pending: left in Redis for another notifier",
                 stage.pending());
  }
  windows.stop();
  // The last steps (the shutdown's) reach the stream before the writer stops.
  stage.setHistoryHook(nullptr);
  if (hist) hist->stop();
  publish();
  // One summary line for the operator (and the scale-out test): every stream and delivery
  // counter that is not zero.
  std::string line;
  auto add = [&line](std::string_view k, uint64_t n) {
    if (n != 0) line += fmt::format(" {}={}", k, n);
  };
  bus.forEachCounter(add);
  stage.forEachCounter(add);
  if (hist) hist->forEachCounter(add);
  spdlog::info("mcn run --role notifier: stopped;{}", line);
  http.stop();
  return complete ? 0 : kExitRuntime;
}

}  // namespace mcn::app
