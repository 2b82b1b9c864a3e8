#include "run.h"

#include <grp.h>
#include <httplib.h>
#include <pwd.h>
#if defined(__SANITIZE_THREAD__) && !defined(AE_TSAN_ANNOTATE_RELEASE)
// ThreadSanitizer does not see standalone fences; the queue annotates its fences for TSan only
// where __has_feature exists (clang). Under GCC (tools/test.sh tsan) do what it does there.
namespace moodycamel {
inline int ae_tsan_global;
}
extern "C" void AnnotateHappensBefore(const char*, int, void*);
extern "C" void AnnotateHappensAfter(const char*, int, void*);
#define AE_TSAN_ANNOTATE_RELEASE() \
  AnnotateHappensBefore(__FILE__, __LINE__, (void*)(&::moodycamel::ae_tsan_global))
#define AE_TSAN_ANNOTATE_ACQUIRE() \
  AnnotateHappensAfter(__FILE__, __LINE__, (void*)(&::moodycamel::ae_tsan_global))
#endif
#include <readerwriterqueue/readerwriterqueue.h>
#include <signal.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "live_clock.h"
#include "live_shard.h"
#include "log_mask.h"
#include "mcn/app/replay.h"
#include "mcn/calls/record_json.h"
#include "mcn/calls/tracker.h"
#include "mcn/capture/decoder.h"
#include "mcn/capture/hep_listener.h"
#include "mcn/capture/pcap_live.h"
#include "mcn/notifier/credentials.h"
#include "mcn/sipparse/dial_plan.h"
#include "mcn/sipparse/parser.h"
#include "mcn/subscribers/directory.h"
#include "mcn/subscribers/redis_store.h"
#include "mcn/subscribers/toml_store.h"
#include "metrics.h"
#include "notify_stage.h"
#include "roles.h"

namespace mcn::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitStartup = 2;
constexpr int64_t kPublishEveryUs = 250'000;  // counters copied to /metrics this often

int64_t wallUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

int64_t monoUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (a path, or '@' for the
// abstract namespace). A no-op outside systemd.
void sdNotify(const char* state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(path);
  if (len >= sizeof(addr.sun_path)) {
    ::close(fd);
    return;
  }
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  auto alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  (void)::sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
                 alen);
  ::close(fd);
}

bool isLoopback(const std::string& bind) {
  return bind == "127.0.0.1" || bind == "::1" || bind == "localhost" || bind.rfind("127.", 0) == 0;
}

// Compares without an early exit, so response time does not reveal how much of a guess is right.
bool sameSecret(std::string_view a, std::string_view b) {
  if (b.empty()) return a.empty();
  unsigned diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i % b.size()]);
  }
  return diff == 0;
}

std::vector<std::pair<std::string, uint64_t>> collect(
    const std::function<void(const std::function<void(std::string_view, uint64_t)>&)>& each) {
  std::vector<std::pair<std::string, uint64_t>> v;
  each([&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); });
  return v;
}

// Drops root for the configured user once every capture is open (DESIGN.md: least privilege).
// Returns an error text, empty on success.
std::string dropPrivileges(const RunConfig& run) {
  if (run.user.empty()) return {};
  if (::geteuid() != 0) return {};  // already unprivileged (CAP_NET_RAW deployment)
  errno = 0;
  passwd* pw = ::getpwnam(run.user.c_str());
  if (pw == nullptr) return "run.user: no such user: " + run.user;
  gid_t gid = pw->pw_gid;
  if (!run.group.empty()) {
    group* gr = ::getgrnam(run.group.c_str());
    if (gr == nullptr) return "run.group: no such group: " + run.group;
    gid = gr->gr_gid;
  }
  if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(pw->pw_uid) != 0) {
    return "cannot switch to user " + run.user + ": " + std::strerror(errno);
  }
  if (::setuid(0) == 0) return "privileges were not dropped (setuid(0) still succeeds)";
  return {};
}

// "human" or "json" (run.log_format); defined with the JSON formatter below.
void applyLogFormat(spdlog::logger& logger, const std::string& format, bool mask_numbers);

using PayloadRing = moodycamel::ReaderWriterQueue<capture::SipPayload>;
using MissedRing = moodycamel::ReaderWriterQueue<calls::MissedCall>;

// Serialises JSON Lines written by several workers.
class SharedOutput {
 public:
  bool open(const std::string& path) {
    if (path.empty()) return true;
    if (path == "-") {
      stream_ = &std::cout;
      return true;
    }
    file_ = std::make_unique<std::ofstream>(path, std::ios::out | std::ios::trunc);
    stream_ = file_.get();
    return static_cast<bool>(*file_);
  }
  std::ostream* stream() { return stream_; }
  void line(const std::string& s) {
    if (stream_ == nullptr) return;
    std::lock_guard lock(mu_);
    *stream_ << s << '\n';
    stream_->flush();
  }

 private:
  std::mutex mu_;
  std::unique_ptr<std::ofstream> file_;
  std::ostream* stream_ = nullptr;
};

// Flushes each line: a notification written is one an operator (or a test) can see at once.
class LineFlushingStream : public std::streambuf {
 public:
  explicit LineFlushingStream(std::ostream& out) : out_(out) {}

 protected:
  int overflow(int c) override {
    if (c == EOF) return 0;
    out_.put(static_cast<char>(c));
    if (c == '\n') out_.flush();
    return c;
  }

 private:
  std::ostream& out_;
};

// ---- HEP input (issue 15 item 6): a live frame source is a capture interface or a HEP
// listener (capture/hep_listener.h), whose frames are whole HEP packets (LinkType::kHep) that the
// same FrameDecoder decodes. Everything HEP-specific in the daemon is in this struct, in
// Daemon::run where the sources are opened, and in reload's restart check.
struct LiveSource {
  std::string name;  // the interface, or "hep:ADDR:PORT"
  std::unique_ptr<capture::PcapLiveSource> pcap;
  std::unique_ptr<capture::HepListener> hep;

  int dispatch(const std::function<void(const capture::Frame&)>& fn) {
    return pcap ? pcap->dispatch(fn) : hep->dispatch(fn);
  }
  const std::string& error() const { return pcap ? pcap->error() : hep->error(); }
  void stats(std::vector<std::pair<std::string, uint64_t>>& v,
             const capture::FrameDecoder& decoder) const {
    if (pcap) {
      auto st = pcap->stats();
      v.emplace_back("pcap.received", st.received);
      v.emplace_back("pcap.kernel_dropped", st.kernel_dropped);
      v.emplace_back("pcap.if_dropped", st.if_dropped);
      return;
    }
    auto st = hep->stats();
    v.emplace_back("hep.listener.datagrams", st.datagrams);
    v.emplace_back("hep.listener.tcp_accepted", st.tcp_accepted);
    v.emplace_back("hep.listener.tcp_refused", st.tcp_refused);
    v.emplace_back("hep.listener.tcp_packets", st.tcp_packets);
    v.emplace_back("hep.listener.tcp_resync", st.tcp_resyncs);
    v.emplace_back("hep.listener.tcp_skipped_bytes", st.tcp_skipped_bytes);
    decoder.forEachHepCaptureId(
        [&](uint32_t id, uint64_t n) { v.emplace_back(fmt::format("hep.capture_id.{}", id), n); });
  }
};
// ---- end of HEP input

class Daemon {
 public:
  Daemon(Config cfg, RunOptions opts) : cfg_(std::move(cfg)), opts_(std::move(opts)) {}

  int run();

 private:
  void captureLoop(size_t i);
  void workerLoop(size_t w);
  void notifierLoop();
  void reload();
  bool checkHttpToken(std::string& error);
  bool startHttp(std::string& error);
  std::shared_ptr<const subscribers::Directory> loadDirectory(const Config& cfg);

  Config cfg_;
  RunOptions opts_;
  Metrics metrics_;
  std::vector<LiveSource> sources_;
  // rings_[i * workers + w]: interface i to worker w.
  std::vector<std::unique_ptr<PayloadRing>> rings_;
  // Shared by the capture threads: legs of one call (icid, correlation header) meet on a worker.
  std::unique_ptr<ShardRouter> router_;
  std::vector<std::unique_ptr<std::atomic<uint64_t>>> ring_drops_;
  std::vector<std::unique_ptr<MissedRing>> missed_rings_;
  std::vector<std::unique_ptr<std::atomic<uint64_t>>> missed_drops_;
  std::vector<CounterBoard*> capture_boards_, worker_boards_;
  CounterBoard* notifier_board_ = nullptr;
  std::vector<std::unique_ptr<std::atomic<uint64_t>>> open_calls_;
  std::atomic<uint64_t> pending_deliveries_{0};
  std::atomic<uint64_t> reloads_{0}, reload_failures_{0};

  std::atomic<bool> stop_capture_{false};
  std::atomic<size_t> captures_done_{0};
  std::atomic<size_t> workers_done_{0};
  std::atomic<bool> capture_failed_{false};
  std::atomic<bool> ready_{false};
  std::atomic<bool> deliveries_complete_{true};
  // Heartbeats (monotonic µs) for /healthz and the systemd watchdog.
  std::vector<std::unique_ptr<std::atomic<int64_t>>> beats_;

  // SIGHUP: what can change live, validated whole and published as one snapshot; each thread
  // picks it up between two messages when the generation moves. cfg_ itself never changes once
  // the threads run.
  struct LiveSettings {
    sipparse::ParserConfig parser;  // the dial plan
    NotifyConfig notify;
    std::shared_ptr<const subscribers::Directory> directory;  // null: keep (Redis, or none)
    int64_t shutdown_timeout_ms = 0;
  };
  std::shared_ptr<const LiveSettings> liveSettings(uint64_t& generation);
  std::mutex reload_mu_;
  std::shared_ptr<const LiveSettings> live_;  // under reload_mu_
  std::atomic<uint64_t> live_generation_{0};
  std::shared_ptr<const subscribers::Directory> directory_;  // the notifier's, once threads run
  // [run] redis: a snapshot kept current by its own thread (pub/sub); the notifier picks up a
  // new pointer between two missed calls. Never waited on.
  std::unique_ptr<subscribers::RedisDirectorySource> redis_;
  // --role probe: missed calls go to Redis Streams instead of a local NotifyStage (roles.h).
  std::unique_ptr<notifier::Clock> stream_clock_;
  std::unique_ptr<notifier::StreamPublisher> publisher_;

  SharedOutput calls_out_, notify_out_;
  std::unique_ptr<httplib::Server> http_;
  std::string http_token_;
  std::thread http_thread_;
};

std::shared_ptr<const subscribers::Directory> Daemon::loadDirectory(const Config& cfg) {
  return loadSubscribersOf(cfg, opts_.subscribers);
}

void Daemon::captureLoop(size_t i) {
  auto& src = sources_[i];
  const auto workers = static_cast<uint32_t>(cfg_.run.workers);
  CounterBoard& board = *capture_boards_[i];
  uint64_t frames = 0;
  capture::FrameDecoder decoder(cfg_.decoder, [&](capture::SipPayload&& p) {
    uint32_t w = router_->route(p.bytes);
    if (!rings_[i * workers + w]->try_enqueue(std::move(p))) {
      ring_drops_[i * workers + w]->fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::function<void(const capture::Frame&)> on_frame = [&](const capture::Frame& f) {
    ++frames;
    decoder.decode(f.link_type, f.ts_us, f.data, f.wire_len);
  };
  auto publish = [&] {
    auto v = collect([&](const auto& fn) { decoder.forEachCounter(fn); });
    v.emplace_back("capture.frames", frames);
    src.stats(v, decoder);
    board.publish(std::move(v));
  };
  int64_t last_publish = 0;
  while (!stop_capture_.load(std::memory_order_relaxed)) {
    if (src.dispatch(on_frame) < 0) {
      spdlog::error("capture on {} failed: {}", src.name, src.error());
      capture_failed_ = true;
      break;
    }
    int64_t now = monoUs();
    beats_[i]->store(now, std::memory_order_relaxed);
    if (now - last_publish >= kPublishEveryUs) {
      publish();
      last_publish = now;
    }
  }
  // What the kernel holds already was on the wire before the stop: take it (bounded).
  for (int k = 0; k < 64 && !capture_failed_; ++k) {
    if (src.dispatch(on_frame) <= 0) break;
  }
  decoder.finish();
  publish();
  captures_done_.fetch_add(1);
}

void Daemon::workerLoop(size_t w) {
  const size_t workers = static_cast<size_t>(cfg_.run.workers);
  const size_t ifaces = sources_.size();
  CounterBoard& board = *worker_boards_[w];
  auto parser = std::make_unique<sipparse::SipParser>(cfg_.parser);
  uint64_t live_gen = 0;
  // Counters of parsers a reload replaced, so /metrics never goes backwards.
  std::map<std::string, uint64_t, std::less<>> retired;
  // Timers and packet times on one monotonic line (live_clock.h): a wall-clock step neither
  // fires ring timeouts early nor holds them.
  LiveClock clock;
  uint64_t sip_messages = 0;
  std::array<uint64_t, 16> by_method{};
  std::array<uint64_t, 700> by_status{};
  calls::CallTracker tracker(cfg_.tracker, [&](calls::CallRecord&& rec) {
    if (calls_out_.stream() != nullptr) calls_out_.line(calls::recordToJson(rec));
    if (!rec.missed) return;
    if (!missed_rings_[w]->try_enqueue(std::move(rec))) {
      missed_drops_[w]->fetch_add(1, std::memory_order_relaxed);
    }
  });
  auto publish = [&] {
    auto v = collect([&](const auto& fn) {
      parser->forEachCounter([&](std::string_view k, uint64_t n) {
        auto it = retired.find(k);
        fn(k, n + (it == retired.end() ? 0 : it->second));
      });
      tracker.forEachCounter(fn);
    });
    v.emplace_back("sip.messages", sip_messages);
    for (size_t m = 0; m < by_method.size(); ++m) {
      if (by_method[m] != 0) {
        v.emplace_back(
            fmt::format("sip.method.{}", sipparse::methodName(static_cast<sipparse::Method>(m))),
            by_method[m]);
      }
    }
    for (size_t s = 0; s < by_status.size(); ++s) {
      if (by_status[s] != 0) v.emplace_back(fmt::format("sip.status.{}", s), by_status[s]);
    }
    board.publish(std::move(v));
    open_calls_[w]->store(tracker.openCalls(), std::memory_order_relaxed);
  };
  auto drain = [&] {
    size_t n = 0;
    capture::SipPayload p;
    for (size_t i = 0; i < ifaces; ++i) {
      auto& ring = *rings_[i * workers + w];
      // Bounded per interface per turn so one busy interface cannot starve the timers.
      for (int k = 0; k < 4096 && ring.try_dequeue(p); ++k, ++n) {
        p.ts_us = clock.fromWall(p.ts_us);
        std::optional<sipparse::SipEvent> ev = parser->parse(p);
        if (!ev) continue;
        ++sip_messages;
        if (ev->is_request) {
          ++by_method[static_cast<size_t>(ev->method)];
        } else if (ev->status >= 100 && ev->status < 700) {
          ++by_status[static_cast<size_t>(ev->status)];
        }
        tracker.onEvent(*ev);
      }
    }
    return n;
  };
  int64_t last_publish = 0;
  for (;;) {
    if (live_generation_.load(std::memory_order_acquire) != live_gen) {
      // SIGHUP: a new dial plan from the next message on (validated by reload()).
      if (auto s = liveSettings(live_gen)) {
        parser->forEachCounter(
            [&](std::string_view k, uint64_t n) { retired[std::string(k)] += n; });
        parser = std::make_unique<sipparse::SipParser>(s->parser);
      }
    }
    bool captures_done = captures_done_.load() == ifaces;  // read before draining
    size_t n = drain();
    // Live timers (grace, ring timeout, linger) and packet times on the LiveClock's line.
    tracker.advanceTo(clock.nowUs());
    if (tracker.openCalls() == 0 && clock.reanchorIfIdle()) {
      spdlog::info("worker {}: the wall clock stepped; re-anchored with no call open", w);
    }
    int64_t now = monoUs();
    beats_[ifaces + w]->store(now, std::memory_order_relaxed);
    if (now - last_publish >= kPublishEveryUs) {
      publish();
      last_publish = now;
    }
    if (n == 0) {
      if (captures_done) break;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }
  // Shutdown: decide every open call now. Those with a final response get their outcome (the
  // grace period is cut short); those still ringing are `incomplete`, as at the end of a replay.
  tracker.finish(clock.nowUs());
  publish();
  workers_done_.fetch_add(1);
}

void Daemon::notifierLoop() {
  const size_t workers = static_cast<size_t>(cfg_.run.workers);
  const size_t beat = sources_.size() + workers;
  LineFlushingStream console_buf(std::cout);
  std::ostream console(&console_buf);
  // Merge windows and delivery timers (live_clock.h). Declared before the stage: the stage's
  // delivery engine reads it while being destroyed.
  LiveClock clock;
  std::unique_ptr<NotifyStage> stage;
  std::shared_ptr<const subscribers::Directory> redis_dir;
  uint64_t live_gen = 0;
  int64_t shutdown_timeout_ms = cfg_.run.shutdown_timeout_ms;
  if (redis_) {
    redis_dir = redis_->current();
    directory_ = redis_dir ? redis_dir : subscribers::Directory::build({}, 0);
  }
  // Without subscribers there is nothing to notify; a reload that adds them starts the stage.
  auto startStage = [&](const NotifyConfig& notify_cfg) {
    stage = std::make_unique<NotifyStage>(notify_cfg, directory_, &console, notify_out_.stream(),
                                          &clock);
    stage->setDeliveredHook([this, &clock](const notifier::Notification& n) {
      if (notify_out_.stream() != nullptr) notify_out_.stream()->flush();
      int64_t last = 0;
      for (const auto& c : n.calls) last = std::max(last, c.ended_at_us);
      if (last > 0) {
        metrics_.deliveryLatency().observe(static_cast<double>(clock.nowUs() - last) / 1000.0);
      }
    });
  };
  if (directory_ && !publisher_) startStage(cfg_.notify);
  uint64_t missed_in = 0;
  bool stream_down = false;  // --role probe: logged once per outage
  auto publish = [&] {
    std::vector<std::pair<std::string, uint64_t>> v;
    if (stage) v = collect([&](const auto& fn) { stage->forEachCounter(fn); });
    if (redis_)
      redis_->forEachCounter(
          [&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); });
    if (publisher_)
      publisher_->forEachCounter(
          [&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); });
    v.emplace_back("live.missed_calls", missed_in);
    notifier_board_->publish(std::move(v));
    pending_deliveries_.store(stage ? stage->pending() : 0, std::memory_order_relaxed);
  };
  int64_t last_publish = 0;
  for (;;) {
    if (live_generation_.load(std::memory_order_acquire) != live_gen) {
      if (auto s = liveSettings(live_gen)) {
        shutdown_timeout_ms = s->shutdown_timeout_ms;
        if (s->directory) directory_ = s->directory;
        if (!stage && directory_ && !publisher_) {
          startStage(s->notify);
        } else if (stage) {
          if (s->directory) stage->setDirectory(s->directory);
          stage->reconfigure(s->notify);
        }
      }
    }
    if (redis_ && stage) {
      auto cur = redis_->current();
      if (cur && cur != redis_dir) {
        redis_dir = cur;
        stage->setDirectory(std::move(cur));
      }
    }
    bool workers_done = workers_done_.load() == workers;
    size_t n = 0;
    calls::MissedCall rec;
    for (size_t w = 0; w < workers; ++w) {
      while (missed_rings_[w]->try_dequeue(rec)) {
        ++n;
        ++missed_in;
        if (publisher_) {
          publisher_->publish(rec);
        } else if (stage) {
          stage->onMissedCall(rec, clock.nowUs());
        }
      }
    }
    if (stage) {
      stage->advanceTo(clock.nowUs());
      if (stage->idle() && clock.reanchorIfIdle()) {
        spdlog::info("notifier: the wall clock stepped; re-anchored with nothing pending");
      }
    }
    if (publisher_) {
      publisher_->pump();  // at most one connect attempt per backoff step
      bool down = !publisher_->connected() && publisher_->buffered() > 0;
      if (down != stream_down) {
        stream_down = down;
        if (down) {
          spdlog::warn("Redis unreachable ({}): buffering missed calls, retrying with backoff",
                       publisher_->lastError());
        } else {
          spdlog::info("Redis reachable again: buffered missed calls sent");
        }
      }
    }
    int64_t now = monoUs();
    beats_[beat]->store(now, std::memory_order_relaxed);
    if (now - last_publish >= kPublishEveryUs) {
      publish();
      last_publish = now;
    }
    if (n == 0 && workers_done) break;
    if (stage && stage->pending() > 0) {
      stage->poll(n == 0 ? 1 : 0);  // waits on the transfers' sockets, at most 1 ms
    } else if (n == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }
  if (stage) {
    bool ok = stage->finish(clock.nowUs(), shutdown_timeout_ms);
    deliveries_complete_ = ok;
    if (!ok) spdlog::warn("notifications still pending at the shutdown deadline: dead-lettered");
  }
  if (publisher_) {
    bool ok = publisher_->flush(wallUs() + shutdown_timeout_ms * 1000);
    deliveries_complete_ = ok;
    if (!ok) {
      spdlog::warn("{} missed call(s) not published: Redis unreachable until the deadline",
                   publisher_->buffered());
    }
  }
  publish();
}

std::shared_ptr<const Daemon::LiveSettings> Daemon::liveSettings(uint64_t& generation) {
  std::lock_guard lock(reload_mu_);
  generation = live_generation_.load(std::memory_order_acquire);
  return live_;
}

// Settings fixed for the life of the process (threads, rings, sockets, captures, privileges, the
// call tracker's timers): names of those that differ, for a "needs a restart" warning.
std::vector<std::string> restartOnlyChanges(const Config& a, const Config& b, bool http_port_cli) {
  std::vector<std::string> out;
  auto check = [&](bool same, const char* key) {
    if (!same) out.emplace_back(key);
  };
  const auto &ra = a.run, &rb = b.run;
  check(ra.interfaces == rb.interfaces, "run.interfaces");
  check(ra.snaplen == rb.snaplen, "run.snaplen");
  check(ra.buffer_bytes == rb.buffer_bytes, "run.buffer_bytes");
  check(ra.promisc == rb.promisc, "run.promisc");
  check(ra.immediate == rb.immediate, "run.immediate");
  check(ra.timeout_ms == rb.timeout_ms, "run.timeout_ms");
  check(ra.filter == rb.filter, "run.filter");
  check(ra.user == rb.user, "run.user");
  check(ra.group == rb.group, "run.group");
  check(ra.redis == rb.redis, "run.redis");
  check(ra.redis_password_ref == rb.redis_password_ref, "run.redis_password_ref");
  check(ra.http_bind == rb.http_bind, "run.http_bind");
  check(http_port_cli || ra.http_port == rb.http_port, "run.http_port");
  check(ra.http_token_ref == rb.http_token_ref, "run.http_token_ref");
  check(ra.workers == rb.workers, "run.workers");
  check(ra.ring_size == rb.ring_size, "run.ring_size");
  // Whole structs compared (defaulted operator==), so a new field cannot escape the warning.
  check(a.decoder == b.decoder, "[capture]");
  check(a.hep == b.hep, "[hep]");
  check(a.tracker == b.tracker, "[calls]");
  // Call-ID sharding reads it in the capture threads.
  check(a.parser.correlation_header == b.parser.correlation_header, "calls.correlation_header");
  return out;
}

// SIGHUP. The file is read and validated whole (syntax, every key, the dial plan, the
// subscribers file) before anything changes: a bad file changes nothing, is logged with its
// file:line:col and key, and counted in mcn_reload_failures_total. What can change live is
// published as one snapshot (LiveSettings); calls in flight keep their state.
void Daemon::reload() {
  ++reloads_;
  const std::string origin = opts_.config_path.empty() ? "(built-in defaults)" : opts_.config_path;
  try {
    Config fresh = opts_.config_path.empty() ? defaultConfig() : loadConfigFile(opts_.config_path);
    if (!opts_.interfaces.empty()) fresh.run.interfaces = opts_.interfaces;
    if (!opts_.hep.empty()) fresh.hep.listeners = opts_.hep;
    // The key was resolved at start; a changed reference is reported as [hep] needing a restart.
    fresh.decoder.hep.auth_key = cfg_.decoder.hep.auth_key;
    checkParserConfig(fresh);  // throws on a plan only the parser rejects
    if (fresh.run.redis.empty() != cfg_.run.redis.empty() && opts_.subscribers.empty()) {
      throw ConfigError(origin +
                        ": run.redis / run.subscribers: switching the subscriber store needs "
                        "a restart");
    }
    std::shared_ptr<const subscribers::Directory> dir;
    if (!redis_) dir = loadDirectory(fresh);  // throws on a bad or missing file
    spdlog::level::level_enum level = spdlog::level::from_str(fresh.run.log_level);

    // Everything is valid: from here on nothing throws.
    for (const auto& key : restartOnlyChanges(cfg_, fresh, opts_.http_port >= 0)) {
      spdlog::warn("SIGHUP: {} changed in {}: needs a restart; keeping the running value", key,
                   origin);
    }
    auto settings = std::make_shared<LiveSettings>();
    settings->parser = cfg_.parser;
    settings->parser.dial_plan = fresh.parser.dial_plan;
    settings->notify = fresh.notify;
    settings->directory = dir;
    settings->shutdown_timeout_ms = fresh.run.shutdown_timeout_ms;
    {
      std::lock_guard lock(reload_mu_);
      live_ = std::move(settings);
      live_generation_.fetch_add(1, std::memory_order_release);
    }
    if (auto logger = spdlog::get("mcn")) {
      applyLogFormat(*logger, fresh.run.log_format, fresh.run.log_mask_numbers);
      logger->set_level(level);
    }
    spdlog::info(
        "SIGHUP: configuration reloaded from {}{}; dial plan, [notify] and logging applied; "
        "calls in flight kept",
        origin,
        dir ? fmt::format(", subscribers reloaded ({} people)", dir->people().size())
            : std::string(redis_ ? ", subscribers from Redis" : ", no subscribers"));
  } catch (const std::exception& e) {
    ++reload_failures_;
    spdlog::error("SIGHUP: reload failed, nothing changed (previous configuration kept): {}",
                  e.what());
  }
}

// Before anything is opened: /metrics beyond loopback needs a bearer token.
bool Daemon::checkHttpToken(std::string& error) {
  const auto& run = cfg_.run;
  int port = opts_.http_port >= 0 ? opts_.http_port : run.http_port;
  if (port == 0 || isLoopback(run.http_bind)) return true;
  if (run.http_token_ref.empty()) {
    error = "run.http_bind " + run.http_bind +
            " is not loopback: set run.http_token_ref (env:NAME or file:/path)";
    return false;
  }
  notifier::CredentialStore store;
  std::string err;
  auto token = store.resolve(run.http_token_ref, &err);
  if (!token || token->empty()) {
    error = "run.http_token_ref: " + (err.empty() ? std::string("empty token") : err);
    return false;
  }
  http_token_ = *token;
  return true;
}

bool Daemon::startHttp(std::string& error) {
  const auto& run = cfg_.run;
  int port = opts_.http_port >= 0 ? opts_.http_port : run.http_port;
  if (port == 0) return true;
  http_ = std::make_unique<httplib::Server>();
  http_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (http_token_.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (sameSecret(req.get_header_value("Authorization"), "Bearer " + http_token_)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer");
    res.set_content("unauthorized\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    // Alive: every thread went round its loop in the last 5 s.
    int64_t now = monoUs();
    bool ok = true;
    for (const auto& b : beats_) {
      int64_t t = b->load(std::memory_order_relaxed);
      ok = ok && (t == 0 || now - t < 5'000'000 || stop_capture_.load());
    }
    ok = ok && !capture_failed_.load();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "unhealthy\n", "text/plain");
  });
  http_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool ok = ready_.load() && !stop_capture_.load() && !capture_failed_.load();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ready\n" : "not ready\n", "text/plain");
  });
  if (!http_->bind_to_port(run.http_bind, port)) {
    error = fmt::format("cannot listen on {}:{} for /metrics", run.http_bind, port);
    return false;
  }
  http_thread_ = std::thread([this] { http_->listen_after_bind(); });
  spdlog::info("metrics on http://{}:{}/metrics", run.http_bind, port);
  return true;
}

int Daemon::run() {
  auto& run = cfg_.run;
  if (!opts_.interfaces.empty()) run.interfaces = opts_.interfaces;
  if (!opts_.hep.empty()) cfg_.hep.listeners = opts_.hep;
  if (run.interfaces.empty() && cfg_.hep.listeners.empty()) {
    spdlog::error(
        "no capture interface: give -i IFACE, --hep ADDR:PORT, [run] interfaces or [hep] "
        "listeners");
    return kExitStartup;
  }
  const size_t workers = static_cast<size_t>(run.workers);

  // Signals are taken synchronously by the main thread (sigtimedwait); every thread started
  // below inherits the blocked mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string error;
  if (!checkHttpToken(error)) {
    spdlog::error("{}", error);
    return kExitStartup;
  }
  try {
    if (opts_.role == "probe") {
      stream_clock_ = notifier::systemClock();
      publisher_ =
          std::make_unique<notifier::StreamPublisher>(resolveStreamConfig(cfg_), *stream_clock_);
    }
    directory_ = loadDirectory(cfg_);
    if (!run.redis.empty() && opts_.subscribers.empty()) {
      subscribers::RedisOptions ro = subscribers::parseRedisUrl(run.redis);
      if (!run.redis_password_ref.empty()) {
        ro.password = subscribers::resolveSecretRef(run.redis_password_ref);
      }
      redis_ = std::make_unique<subscribers::RedisDirectorySource>(ro);
      if (!redis_->start()) {
        spdlog::warn(
            "Redis {} unreachable: starting with no subscribers; retrying in the "
            "background",
            run.redis);
      }
    }
    if (!calls_out_.open(opts_.calls_out))
      throw std::runtime_error("cannot write " + opts_.calls_out);
    if (!notify_out_.open(opts_.notify_out)) {
      throw std::runtime_error("cannot write " + opts_.notify_out);
    }
    for (const auto& iface : run.interfaces) {
      capture::LiveOptions lo;
      lo.interface = iface;
      lo.snaplen = run.snaplen;
      lo.buffer_bytes = static_cast<int>(run.buffer_bytes);
      lo.promisc = run.promisc;
      lo.immediate = run.immediate;
      lo.timeout_ms = run.timeout_ms;
      lo.filter = run.filter;
      LiveSource& src = sources_.emplace_back();
      src.name = iface;
      src.pcap = std::make_unique<capture::PcapLiveSource>(lo);
      spdlog::info("capturing on {} (link type {}, snaplen {}, {}promiscuous)", iface,
                   src.pcap->linkType(), std::max(run.snaplen, 65535), run.promisc ? "" : "not ");
    }
    resolveHepAuthKey(cfg_);  // throws naming the reference, never the key
    for (const auto& addr : cfg_.hep.listeners) {
      capture::HepListenerOptions ho;
      ho.address = addr;
      ho.max_connections = static_cast<size_t>(cfg_.hep.max_connections);
      LiveSource& src = sources_.emplace_back();
      src.hep = std::make_unique<capture::HepListener>(ho);
      src.name = "hep:" + src.hep->name();
      const bool loopback =
          src.hep->name().rfind("127.", 0) == 0 || src.hep->name().rfind("[::1]", 0) == 0;
      spdlog::info(
          "HEP listener on {} (UDP and TCP{})", src.hep->name(),
          cfg_.decoder.hep.auth_key.empty() ? ", no authentication key" : ", key required");
      if (!loopback && cfg_.decoder.hep.auth_key.empty()) {
        spdlog::warn(
            "HEP listener {} is not on loopback and has no hep.auth_key_ref: any host that "
            "reaches it can inject calls",
            src.hep->name());
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitStartup;
  }
  if (!startHttp(error)) {
    spdlog::error("{}", error);
    return kExitStartup;
  }
  // Everything privileged is open now.
  error = dropPrivileges(run);
  if (!error.empty()) {
    spdlog::error("{}", error);
    if (http_) http_->stop();
    if (http_thread_.joinable()) http_thread_.join();
    return kExitStartup;
  }
  if (!run.user.empty()) spdlog::info("running as user {}", run.user);
  if (::geteuid() == 0 && run.user.empty()) {
    spdlog::warn("running as root: set [run] user, or run unprivileged with CAP_NET_RAW");
  }

  router_ = std::make_unique<ShardRouter>(static_cast<uint32_t>(workers),
                                          cfg_.parser.correlation_header, cfg_.tracker.leg_join);
  for (size_t i = 0; i < sources_.size(); ++i) {
    capture_boards_.push_back(&metrics_.addBoard({{"interface", sources_[i].name}}));
    for (size_t w = 0; w < workers; ++w) {
      rings_.push_back(std::make_unique<PayloadRing>(static_cast<size_t>(run.ring_size)));
      ring_drops_.push_back(std::make_unique<std::atomic<uint64_t>>(0));
    }
  }
  for (size_t w = 0; w < workers; ++w) {
    worker_boards_.push_back(&metrics_.addBoard({{"worker", std::to_string(w)}}));
    missed_rings_.push_back(std::make_unique<MissedRing>(static_cast<size_t>(run.ring_size)));
    missed_drops_.push_back(std::make_unique<std::atomic<uint64_t>>(0));
    open_calls_.push_back(std::make_unique<std::atomic<uint64_t>>(0));
  }
  notifier_board_ = &metrics_.addBoard({});
  for (size_t k = 0; k < sources_.size() + workers + 1; ++k) {
    beats_.push_back(std::make_unique<std::atomic<int64_t>>(0));
  }
  metrics_.addGauges([this, workers](std::vector<GaugeSample>& out) {
    for (size_t i = 0; i < sources_.size(); ++i) {
      for (size_t w = 0; w < workers; ++w) {
        Labels l = {
            {"ring", "capture"}, {"interface", sources_[i].name}, {"worker", std::to_string(w)}};
        out.push_back({"mcn_ring_depth", "entries waiting in a single-producer ring", l,
                       static_cast<double>(rings_[i * workers + w]->size_approx())});
        out.push_back({"mcn_ring_drops_total", "entries dropped because a ring was full", l,
                       static_cast<double>(ring_drops_[i * workers + w]->load()), true});
      }
    }
    for (size_t w = 0; w < workers; ++w) {
      Labels l = {{"ring", "missed"}, {"worker", std::to_string(w)}};
      out.push_back({"mcn_ring_depth", "entries waiting in a single-producer ring", l,
                     static_cast<double>(missed_rings_[w]->size_approx())});
      out.push_back({"mcn_ring_drops_total", "entries dropped because a ring was full", l,
                     static_cast<double>(missed_drops_[w]->load()), true});
      out.push_back({"mcn_calls_open",
                     "calls not decided yet",
                     {{"worker", std::to_string(w)}},
                     static_cast<double>(open_calls_[w]->load())});
    }
    out.push_back({"mcn_delivery_pending",
                   "notifications waiting or in flight",
                   {},
                   static_cast<double>(pending_deliveries_.load())});
    out.push_back(
        {"mcn_reloads_total", "SIGHUP reloads", {}, static_cast<double>(reloads_.load()), true});
    out.push_back({"mcn_reload_failures_total",
                   "SIGHUP reloads that failed (nothing changed)",
                   {},
                   static_cast<double>(reload_failures_.load()),
                   true});
    out.push_back(
        {"mcn_ready", "1 while capturing", {}, ready_.load() && !stop_capture_.load() ? 1.0 : 0.0});
  });

  std::vector<std::thread> captures, worker_threads;
  std::thread notifier([this] { notifierLoop(); });
  for (size_t w = 0; w < workers; ++w) worker_threads.emplace_back([this, w] { workerLoop(w); });
  for (size_t i = 0; i < sources_.size(); ++i) captures.emplace_back([this, i] { captureLoop(i); });
  ready_ = true;
  sdNotify("READY=1\nSTATUS=capturing");
  spdlog::info("mcn run: ready ({} interface(s), {} worker(s))", sources_.size(), workers);

  // Watchdog: ping at half the interval systemd gave us, only while every thread is alive.
  int64_t watchdog_us = 0;
  if (const char* w = std::getenv("WATCHDOG_USEC")) watchdog_us = std::atoll(w);
  int64_t last_ping = 0;
  for (;;) {
    timespec wait{0, 200'000'000};
    int sig = sigtimedwait(&sigs, nullptr, &wait);
    if (sig == SIGHUP) {
      sdNotify("RELOADING=1");
      reload();
      sdNotify("READY=1");
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: stopping capture, deciding open calls, flushing notifications",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    if (capture_failed_) break;
    int64_t now = monoUs();
    if (watchdog_us > 0 && now - last_ping >= watchdog_us / 2) {
      bool alive = true;
      for (const auto& b : beats_) {
        int64_t t = b->load();
        alive = alive && (t == 0 || now - t < watchdog_us);
      }
      if (alive) sdNotify("WATCHDOG=1");
      last_ping = now;
    }
  }
  sdNotify("STOPPING=1");
  stop_capture_ = true;
  // The shutdown is bounded: capture stops within its timeout, workers then drain their rings,
  // the notifier waits at most shutdown_timeout_ms; systemd's TimeoutStopSec covers the rest.
  for (auto& t : captures) t.join();
  spdlog::debug("capture stopped");
  for (auto& t : worker_threads) t.join();
  spdlog::debug("workers stopped");
  notifier.join();
  spdlog::debug("notifier stopped");
  if (http_) http_->stop();
  if (http_thread_.joinable()) http_thread_.join();
  std::cout.flush();
  spdlog::info("mcn run: stopped");
  return (capture_failed_ || !deliveries_complete_) ? kExitRuntime : kExitOk;
}

// JSON Lines logs: {"ts":"...Z","level":"info","msg":"..."}, the message escaped by
// nlohmann::json (error texts may quote paths or carry control characters).
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch());
    nlohmann::json j;
    j["ts"] = calls::isoTime(us.count());
    j["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                             spdlog::level::to_string_view(msg.level).size());
    j["msg"] = std::string(msg.payload.data(), msg.payload.size());
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// Masks telephone numbers in whatever the inner formatter wrote (run.log_mask_numbers).
class MaskingFormatter final : public spdlog::formatter {
 public:
  explicit MaskingFormatter(std::unique_ptr<spdlog::formatter> inner) : inner_(std::move(inner)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    spdlog::memory_buf_t raw;
    inner_->format(msg, raw);
    std::string masked = maskNumbers(std::string_view(raw.data(), raw.size()));
    dest.append(masked.data(), masked.data() + masked.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<MaskingFormatter>(inner_->clone());
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
};

void applyLogFormat(spdlog::logger& logger, const std::string& format, bool mask_numbers) {
  std::unique_ptr<spdlog::formatter> f;
  if (format == "json") {
    f = std::make_unique<JsonFormatter>();
  } else {
    f = std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ mcn[%P] %l: %v",
                                                    spdlog::pattern_time_type::utc);
  }
  if (mask_numbers) f = std::make_unique<MaskingFormatter>(std::move(f));
  logger.set_formatter(std::move(f));
}

}  // namespace

void setupLogging(const RunConfig& run) {
  auto logger = spdlog::stderr_logger_mt("mcn");
  applyLogFormat(*logger, run.log_format, run.log_mask_numbers);
  logger->set_level(spdlog::level::from_str(run.log_level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

int runDaemon(const RunOptions& opts) {
  Config cfg;
  try {
    cfg = opts.config_path.empty() ? defaultConfig() : loadConfigFile(opts.config_path);
  } catch (const std::exception& e) {
    std::cerr << "mcn: " << e.what() << '\n';
    return kExitStartup;
  }
  if (spdlog::get("mcn") == nullptr) setupLogging(cfg.run);
  Daemon d(std::move(cfg), opts);
  return d.run();
}

// Shared by the start, SIGHUP and `mcn config check`: the dial plan as the parser takes it.
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
  if (run.http_port != 0 && !isLoopback(run.http_bind) && run.http_token_ref.empty()) {
    out.push_back(fmt::format(
        "{}: run.http_bind: {} is not loopback: set run.http_token_ref (env:NAME or file:/path)",
        cfg.source, run.http_bind));
  }
  // A file: reference must be readable now (by whoever checks: run it as the service's user to
  // be sure); env: references come from the service's environment (secrets.env), not ours.
  notifier::CredentialStore store;
  for (const auto& [key, ref] :
       {std::pair<std::string_view, const std::string&>{"run.http_token_ref", run.http_token_ref},
        {"run.redis_password_ref", run.redis_password_ref},
        {"streams.password_ref", cfg.streams.password_ref}}) {
    if (ref.rfind("file:", 0) != 0) continue;
    std::string err;
    if (!store.resolve(ref, &err)) out.push_back(fmt::format("{}: {}: {}", cfg.source, key, err));
  }
  return out;
}

}  // namespace mcn::app
