#include "run.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "callback_api.h"
#include "history_api.h"
#include "http_endpoints.h"
#include "ladder_api.h"
#include "live_clock.h"
#include "mcn/calls/record_json.h"
#include "mcn/capture/hep_listener.h"
#include "mcn/capture/pcap_live.h"
#include "mcn/common/spsc_queue.h"
#include "mcn/history/writer.h"
#include "mcn/notifier/local_notifier.h"
#include "mcn/notifier/missed_call_sink.h"
#include "mcn/notifier/stream_bus.h"
#include "metrics.h"
#include "ops_api.h"
#include "people_store.h"
#include "pipeline.h"
#include "process.h"
#include "recent_messages.h"
#include "reload.h"
#include "roles.h"
#include "sip_message_transport.h"
#include "web_backend.h"

namespace mcn::app {
namespace {

constexpr int64_t kPublishEveryUs = 250'000;  // counters copied to /metrics this often
// Decided missed calls a worker->notifier ring may hold, whatever run.ring_size (see workerLoop).
constexpr size_t kMissedRingMax = 65536;

std::vector<std::pair<std::string, uint64_t>> collect(
    const std::function<void(const CounterFn&)>& each) {
  std::vector<std::pair<std::string, uint64_t>> v;
  each([&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); });
  return v;
}

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

// A capture interface (libpcap) as a live source.
class PcapInterface final : public LiveSource {
 public:
  PcapInterface(const capture::LiveOptions& o, std::string socket)
      : label_(o.interface),
        socket_(std::move(socket)),
        src_(o),
        on_frame_([this](const capture::Frame& f) { stage_->onFrame(f); }) {}
  const std::string& label() const override { return label_; }
  std::string socket() const override { return socket_; }
  int poll(FrameStage& stage) override {
    stage_ = &stage;
    return src_.dispatch(on_frame_);
  }
  std::string error() const override { return src_.error(); }
  void forEachCounter(const CounterFn& fn) const override {
    auto st = src_.stats();
    fn("pcap.received", st.received);
    fn("pcap.kernel_dropped", st.kernel_dropped);
    fn("pcap.if_dropped", st.if_dropped);
  }
  int linkType() const { return src_.linkType(); }

 private:
  std::string label_;
  std::string socket_;
  capture::PcapLiveSource src_;
  FrameStage* stage_ = nullptr;
  std::function<void(const capture::Frame&)> on_frame_;  // built once, not per poll
};

// A HEP listener (capture/hep_listener.h; issue 15 item 6) as a live source: its frames are whole
// HEP packets (LinkType::kHep) that the stage's FrameDecoder decodes like any link layer, so the
// agents' SIP goes through the same leg router and workers as mirrored SIP.
class HepSource final : public LiveSource {
 public:
  explicit HepSource(const capture::HepListenerOptions& o)
      : src_(o),
        label_("hep:" + src_.name()),
        on_frame_([this](const capture::Frame& f) { stage_->onFrame(f); }) {}
  const std::string& label() const override { return label_; }
  int poll(FrameStage& stage) override {
    stage_ = &stage;
    return src_.dispatch(on_frame_);
  }
  std::string error() const override { return src_.error(); }
  void forEachCounter(const CounterFn& fn) const override {
    auto st = src_.stats();
    fn("hep.listener.datagrams", st.datagrams);
    fn("hep.listener.tcp_accepted", st.tcp_accepted);
    fn("hep.listener.tcp_refused", st.tcp_refused);
    fn("hep.listener.tcp_packets", st.tcp_packets);
    fn("hep.listener.tcp_resync", st.tcp_resyncs);
    fn("hep.listener.tcp_skipped_bytes", st.tcp_skipped_bytes);
  }
  const std::string& address() const { return src_.name(); }

 private:
  capture::HepListener src_;
  std::string label_;
  FrameStage* stage_ = nullptr;
  std::function<void(const capture::Frame&)> on_frame_;
};

// `mcn run` in the roles that capture: the pipeline (pipeline.h) spread over threads.
//
//   capture thread per interface: PcapLiveSource -> FrameStage (decode, leg router)
//     --SPSC ring per (interface, worker)--> worker: SipStage (parseInto, tracker, live clock)
//     --SPSC ring per worker--> notifier thread: MissedCallSink (local notifier, or the probe's
//     Redis stream)
//   HTTP (/metrics, /healthz, /readyz, /api/calls), main (signals, sd_notify, watchdog, SIGHUP
//   reload)
//   history writer (history/writer.h): records from each worker and notification steps from
//   the notifier thread, each over its own SPSC ring (full = history.dropped), into SQLite
class Daemon {
 public:
  Daemon(Config cfg, RunOptions opts) : cfg_(std::move(cfg)), opts_(std::move(opts)) {}

  int run();

 private:
  std::string open();  // everything privileged; an error text, empty on success
  void addMetrics();
  void captureLoop(size_t i);
  void workerLoop(size_t w);
  void notifierLoop();
  void reload();
  Check health() const;
  Check readiness() const;
  bool alive(int64_t now, int64_t max_age_us) const;

  Config cfg_;
  RunOptions opts_;
  Metrics metrics_;
  HttpEndpoints http_{metrics_, [this] { return health(); }, [this] { return readiness(); }};
  // One capture thread each; rings_ has a row per source.
  std::vector<std::unique_ptr<LiveSource>> sources_;
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

  // SIGHUP: what can change live, picked up by each thread between two messages. cfg_ itself
  // never changes once the threads run.
  LiveSettingsChannel live_;
  std::shared_ptr<const subscribers::Directory> directory_;  // the notifier's, once threads run
  // [run] redis: a snapshot kept current by its own thread (pub/sub); the notifier picks up a
  // new pointer between two missed calls. Never waited on.
  std::unique_ptr<subscribers::RedisDirectorySource> redis_;
  // --role probe: missed calls go to Redis Streams instead of the local notifier (roles.h).
  std::unique_ptr<notifier::Clock> stream_clock_;
  std::unique_ptr<notifier::StreamPublisher> publisher_;
  notifier::StreamConfig stream_cfg_;  // resolved (password read) at open()
  // Without [streams]: the durable outbox, shared by the workers (callIn) and the local
  // notifier; what it still owed at open, for the local notifier's start.
  std::unique_ptr<notifier::Clock> outbox_clock_;
  std::shared_ptr<notifier::Outbox> outbox_;
  notifier::OutboxRecovered outbox_owed_;

  SharedOutput calls_out_, notify_out_;

  // [history]: the call history store. One producer ring per worker, one for the notifier.
  std::unique_ptr<history::HistoryWriter> history_;
  std::vector<history::HistoryProducer*> history_workers_;
  history::HistoryProducer* history_notifier_ = nullptr;
  std::unique_ptr<HistoryApi> history_api_;
  // Who a called number belongs to, for the writer thread: the notifier's directory, swapped
  // under the lock when it changes (rarely), read by the writer (off the data path).
  std::mutex history_dir_mu_;
  std::shared_ptr<const subscribers::Directory> history_dir_;
  void shareDirectory(std::shared_ptr<const subscribers::Directory> d) {
    std::lock_guard lock(history_dir_mu_);
    history_dir_ = std::move(d);
  }
  void openHistory();
  // [sipua] enabled: the call-back API and its SIP user agent (management side only). Reads the
  // directory through api_directory() from HTTP threads.
  std::shared_ptr<const subscribers::Directory> apiDirectory() const {
    if (redis_) return redis_->current();
    std::lock_guard lock(api_dir_mu_);
    return api_dir_;
  }
  void setApiDirectory(std::shared_ptr<const subscribers::Directory> d) {
    std::lock_guard lock(api_dir_mu_);
    api_dir_ = std::move(d);
  }
  mutable std::mutex api_dir_mu_;
  std::shared_ptr<const subscribers::Directory> api_dir_;
  std::unique_ptr<CallbackApi> callback_;
  // [web] enabled: the console (web_backend.h). A subscribers file it rewrote, read back, waits
  // here for the notifier thread (which owns the local notifier's directory).
  std::unique_ptr<WebBackend> web_;
  DirectoryHandoff web_dir_;
  // The sip_message channel's carrier over callback_'s user agent (null without [sipua]).
  std::unique_ptr<SipMessageTransport> sip_transport_;

  // The operator console's JSON (ops_api.h): figures sampled by the main thread, the dead-letter
  // file of the local notifier, retries handed to the notifier thread, the people import.
  OpsStats ops_stats_;
  // GET /api/calls/<call_id>/ladder: each worker's recent messages (null when [run]
  // ladder_messages or ladder_bytes is 0).
  std::vector<std::unique_ptr<RecentMessages>> recent_;
  std::unique_ptr<LadderApi> ladder_api_;
  std::unique_ptr<notifier::DeadLetterStore> dead_store_;
  RetryHandoff retry_;
  std::unique_ptr<OpsApi> ops_api_;
  void openOps();
  OpsLevels opsLevels() const;
  ApiReply importPeople(const std::string& csv);
};

OpsLevels Daemon::opsLevels() const {
  OpsLevels l;
  for (const auto& c : open_calls_) l.open_calls += c->load(std::memory_order_relaxed);
  l.deliveries_pending = pending_deliveries_.load(std::memory_order_relaxed);
  l.redis_configured = redis_ != nullptr;
  l.streams_configured = publisher_ != nullptr;
  const bool failed = capture_failed_.load();
  for (const auto& src : sources_) {
    std::string name = src->label();
    if (!src->socket().empty()) name += "#" + src->socket();
    l.sources.push_back({std::move(name), !failed});
  }
  return l;
}

ApiReply Daemon::importPeople(const std::string& csv) {
  return importPeopleInto(cfg_, opts_.subscribers, redis_ != nullptr, csv);
}

void Daemon::openOps() {
  OpsApi::Seams seams;
  seams.levels = [this] { return opsLevels(); };
  // The dead-letter file is the local notifier's (a probe has none; a notifier role writes to
  // the <prefix>:dead stream).
  if (!publisher_) {
    dead_store_ = std::make_unique<notifier::DeadLetterStore>(cfg_.notify.dead_letter_path);
    seams.dead_letters = dead_store_.get();
    seams.retry = &retry_;
  }
  // importPeopleInto answers itself when there is no store to write (501) or it is CSV (409).
  if (!publisher_) {
    seams.import_people = [this](const std::string& csv) { return importPeople(csv); };
  }
  ops_api_ = std::make_unique<OpsApi>(ops_stats_, std::move(seams));
  http_.addRoutes([this](httplib::Server& s) { ops_api_->addRoutes(s); });
}

void Daemon::captureLoop(size_t i) {
  auto& src = *sources_[i];
  const auto workers = static_cast<uint32_t>(cfg_.run.workers);
  CounterBoard& board = *capture_boards_[i];
  FrameStage stage(cfg_.decoder, router_.get(), [&](uint32_t w, capture::SipPayload&& p) {
    if (!rings_[i * workers + w]->try_enqueue(std::move(p))) {
      ring_drops_[i * workers + w]->fetch_add(1, std::memory_order_relaxed);
    }
  });
  auto publish = [&] {
    auto v = collect([&](const auto& fn) { stage.forEachCounter(fn); });
    v.emplace_back("capture.frames", stage.frames());
    src.forEachCounter([&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); });
    board.publish(std::move(v));
  };
  int64_t last_publish = 0;
  while (!stop_capture_.load(std::memory_order_relaxed)) {
    if (src.poll(stage) < 0) {
      spdlog::error("capture on {} failed: {}", src.label(), src.error());
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
    if (src.poll(stage) <= 0) break;
  }
  stage.finish();
  publish();
  captures_done_.fetch_add(1);
}

void Daemon::workerLoop(size_t w) {
  const size_t workers = static_cast<size_t>(cfg_.run.workers);
  const size_t ifaces = sources_.size();
  CounterBoard& board = *worker_boards_[w];
  uint64_t live_gen = 0;
  // Timers and packet times on one monotonic line (live_clock.h): a wall-clock step neither
  // fires ring timeouts early nor holds them.
  LiveClock clock;
  RecentMessages* recent = recent_.empty() ? nullptr : recent_[w].get();
  SipStage stage(cfg_.parser, cfg_.tracker, &clock, [&](calls::CallRecord&& rec) {
    if (recent != nullptr) recent->link(rec.call_ids);
    // Durable before anything else sees it (the outbox, outbox.h): a kill from here on loses
    // nothing but the last outbox_fsync_ms on a power loss.
    if (rec.missed && outbox_) outbox_->callIn(rec, clock.nowUs());
    if (calls_out_.stream() != nullptr) calls_out_.line(calls::recordToJson(rec));
    // Never waits: a full history ring is a counted drop (history.dropped).
    if (!history_workers_.empty()) history_workers_[w]->push(history::CallEntry{rec, {}});
    if (!rec.missed) return;
    // A decided missed call waits for the notifier rather than being dropped: a full ring grows
    // (enqueue allocates another block) up to kMissedRingMax calls even when run.ring_size is
    // small. Only beyond that is it a counted drop: owed at the next start by the outbox (no
    // [streams]), lost on a probe.
    MissedRing& ring = *missed_rings_[w];
    const size_t cap = std::max(kMissedRingMax, static_cast<size_t>(cfg_.run.ring_size));
    if (ring.size_approx() >= cap || !ring.enqueue(std::move(rec))) {
      missed_drops_[w]->fetch_add(1, std::memory_order_relaxed);
    }
  });
  auto publish = [&] {
    auto v = collect([&](const auto& fn) { stage.forEachCounter(fn); });
    v.emplace_back("sip.messages", stage.messages());
    if (recent != nullptr) {
      recent->forEachCounter(
          [&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); });
    }
    board.publish(std::move(v));
    open_calls_[w]->store(stage.openCalls(), std::memory_order_relaxed);
  };
  auto drain = [&] {
    size_t n = 0;
    capture::SipPayload p;
    for (size_t i = 0; i < ifaces; ++i) {
      auto& ring = *rings_[i * workers + w];
      // Bounded per interface per turn so one busy interface cannot starve the timers.
      for (int k = 0; k < 4096 && ring.try_dequeue(p); ++k, ++n) {
        if (recent == nullptr) {
          stage.onPayload(p);
          continue;
        }
        // Kept for the ladder with its capture time (the stage moves it onto the live line).
        const int64_t wall = p.ts_us;
        if (stage.onPayload(p)) {
          p.ts_us = wall;
          recent->add(stage.event().call_id, std::move(p));
        }
      }
    }
    return n;
  };
  int64_t last_publish = 0;
  for (;;) {
    // SIGHUP: a new dial plan from the next message on (validated by reload()).
    if (auto s = live_.poll(live_gen)) stage.setParserConfig(s->parser);
    bool captures_done = captures_done_.load() == ifaces;  // read before draining
    size_t n = drain();
    if (stage.tick()) {
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
  stage.finish(clock.nowUs());
  publish();
  workers_done_.fetch_add(1);
}

void Daemon::notifierLoop() {
  const size_t workers = static_cast<size_t>(cfg_.run.workers);
  const size_t beat = sources_.size() + workers;
  LineFlushingStream console_buf(std::cout);
  std::ostream console(&console_buf);
  // Merge windows and delivery timers (live_clock.h). Declared before the sinks: the local
  // notifier's delivery engine reads it while being destroyed.
  LiveClock clock;
  std::unique_ptr<notifier::LocalNotifier> local;
  std::unique_ptr<notifier::StreamPublisherSink> stream;
  notifier::MissedCallSink* sink = nullptr;
  std::shared_ptr<const subscribers::Directory> redis_dir;
  uint64_t live_gen = 0;
  int64_t shutdown_timeout_ms = cfg_.run.shutdown_timeout_ms;
  if (redis_) {
    redis_dir = redis_->current();
    directory_ = redis_dir ? redis_dir : subscribers::Directory::build({}, 0);
  }
  if (publisher_) {
    stream = std::make_unique<notifier::StreamPublisherSink>(
        *publisher_, *stream_clock_, [](bool down, std::string_view error) {
          if (down) {
            spdlog::warn("Redis unreachable ({}): buffering missed calls, retrying with backoff",
                         error);
          } else {
            spdlog::info("Redis reachable again: buffered missed calls sent");
          }
        });
    sink = stream.get();
  }
  // Without subscribers there is nothing to notify; a reload that adds them starts the local
  // notifier.
  auto startLocal = [&](const NotifyConfig& notify_cfg) {
    local = std::make_unique<notifier::LocalNotifier>(notify_cfg, directory_, &console,
                                                      notify_out_.stream(), &clock);
    if (sip_transport_) {
      local->setTransport(notifier::OutboundRequest::Protocol::kSip, sip_transport_.get());
      // SUBSCRIBE/NOTIFY: each notification also goes to the person's live subscriptions.
      local->setProducedHook(
          [this, once = std::make_shared<NotifyOnce>()](const notifier::Notification& n) {
            if (once->first(n.idempotency_key)) {
              callback_->userAgent()->notifySubscribers(n.person_id, missedCallEventJson(n));
            }
          });
    }
    if (history_notifier_ != nullptr) {
      local->setHistoryHook(
          [this, &clock](const notifier::Notification& n, const notifier::DeliveryStep* step) {
            history_notifier_->push(historyEvent(n, step, clock.nowUs()));
          });
    }
    // The durable outbox (opened in open(), before the threads): what a killed run owed is
    // resumed before the first new call; the workers journal the calls they decide.
    if (outbox_) {
      local->useOutbox(outbox_, std::move(outbox_owed_), clock.nowUs(), true);
      outbox_owed_ = {};
    }
    if (callback_) {
      local->setLinkMaker([this](const std::string& person, const std::string& caller) {
        return callback_->linkFor(person, caller);
      });
    }
    local->setDeliveredHook([this, &clock](const notifier::Notification& n) {
      if (notify_out_.stream() != nullptr) notify_out_.stream()->flush();
      int64_t last = 0;
      for (const auto& c : n.calls) last = std::max(last, c.ended_at_us);
      if (last > 0) {
        metrics_.deliveryLatency().observe(static_cast<double>(clock.nowUs() - last) / 1000.0);
      }
    });
    sink = local.get();
  };
  if (directory_ && !publisher_) startLocal(cfg_.notify);
  std::shared_ptr<const subscribers::Directory> shared_dir = directory_;
  shareDirectory(directory_);
  uint64_t missed_in = 0;
  auto publish = [&] {
    std::vector<std::pair<std::string, uint64_t>> v;
    if (sink != nullptr) v = collect([&](const auto& fn) { sink->forEachCounter(fn); });
    if (redis_) {
      redis_->forEachCounter(
          [&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); });
    }
    if (callback_) {
      callback_->forEachCounter(
          [&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); });
    }
    if (web_) {
      web_->forEachCounter(
          [&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); });
    }
    v.emplace_back("live.missed_calls", missed_in);
    if (history_) {
      history_->forEachCounter(
          [&](std::string_view k, uint64_t n) { v.emplace_back(std::string(k), n); });
    }
    notifier_board_->publish(std::move(v));
    pending_deliveries_.store(local ? local->pending() : 0, std::memory_order_relaxed);
  };
  int64_t last_publish = 0;
  for (;;) {
    if (auto s = live_.poll(live_gen)) {
      shutdown_timeout_ms = s->shutdown_timeout_ms;
      if (dead_store_) dead_store_->setPath(s->notify.dead_letter_path);
      if (s->directory) {
        directory_ = s->directory;
        setApiDirectory(s->directory);
      }
      if (!local && directory_ && !publisher_) {
        startLocal(s->notify);
      } else if (local) {
        if (s->directory) local->setDirectory(s->directory);
        local->reconfigure(s->notify);
      }
    }
    if (redis_ && local) {
      auto cur = redis_->current();
      if (cur && cur != redis_dir) {
        redis_dir = cur;
        local->setDirectory(std::move(cur));
      }
    }
    // The web console rewrote the subscribers file (a person's preferences): read back.
    if (auto d = web_dir_.take()) {
      directory_ = d;
      if (local) local->setDirectory(std::move(d));
    }
    if (web_ && web_->messagesWaiting()) web_->drainMessages(local.get());
    if (directory_ != shared_dir || (redis_dir && redis_dir != shared_dir)) {
      shared_dir = redis_dir ? redis_dir : directory_;
      shareDirectory(shared_dir);
    }
    // The operator console's retries of dead letters (ops_api.h): delivery is this thread's.
    retry_.serve(local.get());
    bool workers_done = workers_done_.load() == workers;
    size_t n = 0;
    calls::MissedCall rec;
    for (size_t w = 0; w < workers; ++w) {
      while (missed_rings_[w]->try_dequeue(rec)) {
        ++n;
        ++missed_in;
        if (sink != nullptr) sink->onMissedCall(rec, clock.nowUs());
      }
    }
    if (sink != nullptr) {
      sink->advanceTo(clock.nowUs());
      if (sink->idle() && clock.reanchorIfIdle()) {
        spdlog::info("notifier: the wall clock stepped; re-anchored with nothing pending");
      }
    }
    int64_t now = monoUs();
    beats_[beat]->store(now, std::memory_order_relaxed);
    if (now - last_publish >= kPublishEveryUs) {
      publish();
      last_publish = now;
    }
    if (n == 0 && workers_done) break;
    if (stream) {
      stream->poll(0);  // at most one connect attempt per backoff step
      if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
    } else if (local && local->pending() > 0) {
      local->poll(n == 0 ? 1 : 0);  // waits on the transfers' sockets, at most 1 ms
    } else if (n == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }
  if (sink != nullptr) {
    bool ok = sink->finish(clock.nowUs(), shutdown_timeout_ms);
    deliveries_complete_ = ok;
    if (!ok && local) {
      spdlog::warn("notifications still pending at the shutdown deadline: dead-lettered");
    } else if (!ok) {
      spdlog::warn("{} missed call(s) not published: Redis unreachable until the deadline",
                   stream->pending());
    }
  }
  publish();
}

void Daemon::reload() {
  ++reloads_;
  const std::string origin = opts_.config_path.empty() ? "(built-in defaults)" : opts_.config_path;
  try {
    std::vector<std::string> restart;
    auto settings = readReload(cfg_, opts_.config_path, opts_.interfaces, opts_.hep,
                               opts_.subscribers, opts_.http_port >= 0, redis_ != nullptr, restart);
    // Everything is valid: from here on nothing throws.
    for (const auto& key : restart) {
      spdlog::warn("SIGHUP: {} changed in {}: needs a restart; keeping the running value", key,
                   origin);
    }
    const auto& dir = settings->directory;
    std::string subscribers =
        dir ? fmt::format(", subscribers reloaded ({} people)", dir->people().size())
            : std::string(redis_ ? ", subscribers from Redis" : ", no subscribers");
    if (auto logger = spdlog::get("mcn")) applyLogSettings(*logger, settings->run);
    live_.publish(std::move(settings));
    spdlog::info(
        "SIGHUP: configuration reloaded from {}{}; dial plan, [notify] and logging applied; "
        "calls in flight kept",
        origin, subscribers);
  } catch (const std::exception& e) {
    ++reload_failures_;
    spdlog::error("SIGHUP: reload failed, nothing changed (previous configuration kept): {}",
                  e.what());
  }
}

bool Daemon::alive(int64_t now, int64_t max_age_us) const {
  for (const auto& b : beats_) {
    int64_t t = b->load(std::memory_order_relaxed);
    if (t != 0 && now - t >= max_age_us) return false;
  }
  return true;
}

Check Daemon::health() const {
  if (capture_failed_.load()) return {false, "capture failed"};
  // Alive: every thread went round its loop in the last 5 s.
  if (!stop_capture_.load() && !alive(monoUs(), 5'000'000)) return {false, "a thread stalled"};
  return {};
}

Check Daemon::readiness() const {
  if (!ready_.load()) return {false, "starting"};
  if (stop_capture_.load()) return {false, "stopping"};
  if (capture_failed_.load()) return {false, "capture failed"};
  return {};
}

std::string Daemon::open() {
  auto& run = cfg_.run;
  try {
    if (opts_.role == "probe") {
      stream_clock_ = notifier::systemClock();
      stream_cfg_ = resolveStreamConfig(cfg_);  // before the privileges go (a file: reference)
      publisher_ = std::make_unique<notifier::StreamPublisher>(stream_cfg_, *stream_clock_);
    }
    directory_ = loadSubscribersOf(cfg_, opts_.subscribers);
    setApiDirectory(directory_);
    if (opts_.subscribers.empty()) redis_ = redisSubscribersOf(cfg_);
    if (redis_ && !redis_->start()) {
      spdlog::warn("Redis {} unreachable: starting with no subscribers; retrying in the background",
                   run.redis);
    }
    if (!publisher_ && !cfg_.notify.outbox_path.empty() && (directory_ || redis_)) {
      outbox_clock_ = notifier::systemClock();
      outbox_ = std::make_shared<notifier::Outbox>(cfg_.notify.outbox_path,
                                                   cfg_.notify.outbox_fsync_ms, *outbox_clock_);
      std::string error;
      if (outbox_->open(outbox_owed_, &error)) {
        spdlog::info("outbox {}: missed calls are journaled (fdatasync every {} ms)",
                     cfg_.notify.outbox_path, cfg_.notify.outbox_fsync_ms);
      } else {
        spdlog::error(
            "outbox: {}; notifications go on from memory, but a crash loses the calls decided "
            "meanwhile (notify.outbox_unprotected counts them)",
            error);
      }
    }
    if (!calls_out_.open(opts_.calls_out)) return "cannot write " + opts_.calls_out;
    if (!notify_out_.open(opts_.notify_out)) return "cannot write " + opts_.notify_out;
    for (const auto& iface : run.interfaces) {
      capture::LiveOptions lo;
      lo.interface = iface;
      lo.snaplen = run.snaplen;
      lo.buffer_bytes = static_cast<int>(run.buffer_bytes);
      lo.promisc = run.promisc;
      lo.immediate = run.immediate;
      lo.timeout_ms = run.timeout_ms;
      lo.filter = run.filter;
      // Several sockets on one interface share its frames in a PACKET_FANOUT group, one id per
      // interface of this process (a group is per network namespace, so per process and index).
      const int threads = run.capture_threads;
      if (threads > 1) {
        lo.fanout_group = static_cast<uint16_t>(
            1 + ((static_cast<unsigned>(getpid()) * 64 + sources_.size()) % 65535));
      }
      for (int t = 0; t < threads; ++t) {
        auto src = std::make_unique<PcapInterface>(lo, threads > 1 ? std::to_string(t) : "");
        if (t == 0) {
          spdlog::info("capturing on {} (link type {}, snaplen {}, {}promiscuous{})", iface,
                       src->linkType(), std::max(run.snaplen, 65535), run.promisc ? "" : "not ",
                       threads > 1 ? fmt::format(", {} threads in PACKET_FANOUT group {}", threads,
                                                 lo.fanout_group)
                                   : "");
        }
        sources_.push_back(std::move(src));
      }
    }
    resolveHepAuthKey(cfg_);  // throws naming the reference, never the key
    for (const auto& addr : cfg_.hep.listeners) {
      capture::HepListenerOptions ho;
      ho.address = addr;
      ho.max_connections = static_cast<size_t>(cfg_.hep.max_connections);
      auto src = std::make_unique<HepSource>(ho);
      const std::string& name = src->address();
      const bool loopback = name.rfind("127.", 0) == 0 || name.rfind("[::1]", 0) == 0;
      spdlog::info(
          "HEP listener on {} (UDP and TCP{})", name,
          cfg_.decoder.hep.auth_key.empty() ? ", no authentication key" : ", key required");
      if (!loopback && cfg_.decoder.hep.auth_key.empty()) {
        spdlog::warn(
            "HEP listener {} is not on loopback and has no hep.auth_key_ref: any host that "
            "reaches it can inject calls",
            name);
      }
      sources_.push_back(std::move(src));
    }
    size_t http_threads = 2;
    if (cfg_.sipua.enabled) {
      callback_ = std::make_unique<CallbackApi>(cfg_, [this] { return apiDirectory(); });
      if (std::string err = callback_->start(); !err.empty()) return err;
      sip_transport_ = std::make_unique<SipMessageTransport>(
          *callback_->userAgent(), static_cast<int>(cfg_.notify.delivery.total_timeout_ms));
    }
    if (cfg_.web.enabled) {
      WebWiring w;
      w.subscribers_path = opts_.subscribers;
      w.directory = [this] { return apiDirectory(); };
      w.saved = [this](std::shared_ptr<const subscribers::Directory> d) {
        setApiDirectory(d);
        web_dir_.put(std::move(d));
      };
      w.history = [this] { return history_api_.get(); };
      // The other parts are opened after this (openOps, the ladder): looked up at request time.
      // The dead-letter file and the import are the local notifier's.
      w.ops =
          opsSeamsOver([this] { return ops_api_.get(); }, !publisher_,
                       !publisher_ && peopleImportable(cfg_, opts_.subscribers, redis_ != nullptr));
      w.ops.ladder = [this](const std::string& id) {
        if (!ladder_api_) {
          return web::JsonAnswer{501,
                                 R"j({"error":"no messages held ([run] ladder_messages 0)"})j"};
        }
        const ApiReply r = ladder_api_->ladder(id, {{"format", "text"}});
        return web::JsonAnswer{r.status, r.body};
      };
      std::string err;
      web_ = startWebConsole(cfg_, http_, std::move(w), err);
      if (!web_) return err;
      http_threads = WebBackend::kHttpThreads;
    }
    // Each open call-back event stream holds a request thread for as long as it lasts.
    if (callback_) http_threads += static_cast<size_t>(CallbackApi::kMaxEventStreams);
    http_.setThreads(http_threads);
    http_.setExtraRoutes([this](httplib::Server& s) {
      if (callback_) callback_->addRoutes(s);
    });
  } catch (const std::exception& e) {
    return e.what();
  }
  if (cfg_.history.enabled) {
    // The read side opens at the first request (the writer creates the file after start-up).
    history_api_ = std::make_unique<HistoryApi>(cfg_.history.path, cfg_.parser.dial_plan);
    http_.setHistory(history_api_.get());
  }
  if (run.ladder_messages > 0 && run.ladder_bytes > 0) {
    const auto w = static_cast<int64_t>(std::max(1, run.workers));
    std::vector<const RecentMessages*> stores;
    for (int64_t i = 0; i < w; ++i) {
      recent_.push_back(std::make_unique<RecentMessages>(
          static_cast<size_t>(std::max<int64_t>(1, run.ladder_messages / w)),
          static_cast<size_t>(std::max<int64_t>(1, run.ladder_bytes / w))));
      stores.push_back(recent_.back().get());
    }
    ladder_api_ = std::make_unique<LadderApi>(cfg_, std::move(stores), history_api_.get());
    http_.setLadder([this](httplib::Server& s) { ladder_api_->addRoutes(s); });
  }
  openOps();
  return http_.start();
}

// After the privileges are dropped: the store's files belong to the service user. A store that
// cannot be opened is logged and counted (history.open_failed) and mcn runs on without it.
void Daemon::openHistory() {
  if (!cfg_.history.enabled) return;
  auto person = [this](std::string_view number) {
    std::shared_ptr<const subscribers::Directory> d;
    {
      std::lock_guard lock(history_dir_mu_);
      d = history_dir_;
    }
    const subscribers::Person* p = d ? d->findByNumber(number) : nullptr;
    return p != nullptr ? p->id : std::string();
  };
  // --role probe: the records go to the shared history (<prefix>:history) and this probe's
  // store is a replica of it, like every notifier's (history/stream.h).
  if (publisher_) {
    history_ = std::make_unique<history::HistoryWriter>(
        cfg_.history, historyStreamConfig(cfg_, stream_cfg_), /*purge=*/true,
        history::HistoryWriter::NowFn{}, person);
  } else {
    history_ = std::make_unique<history::HistoryWriter>(cfg_.history, /*purge=*/true,
                                                        history::HistoryWriter::NowFn{}, person);
  }
  // Producers even without a store: what is lost is counted (history.dropped).
  for (int w = 0; w < cfg_.run.workers; ++w) history_workers_.push_back(&history_->addProducer());
  history_notifier_ = &history_->addProducer();
  if (!history_->ok()) {
    spdlog::error("call history off (history.open_failed): {}", history_->error());
    return;
  }
  history_->start();
  spdlog::info("call history in {} (kept {} days){}", cfg_.history.path,
               cfg_.history.retention_days,
               history_->streaming() ? ", shared through " + cfg_.streams.stream.prefix + ":history"
                                     : std::string());
}

void Daemon::addMetrics() {
  const auto& run = cfg_.run;
  const size_t workers = static_cast<size_t>(run.workers);
  for (size_t i = 0; i < sources_.size(); ++i) {
    Labels l = {{"interface", sources_[i]->label()}};
    if (!sources_[i]->socket().empty()) l.emplace_back("socket", sources_[i]->socket());
    capture_boards_.push_back(&metrics_.addBoard(std::move(l)));
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
        Labels l = {{"ring", "capture"}, {"interface", sources_[i]->label()}};
        if (!sources_[i]->socket().empty()) l.emplace_back("socket", sources_[i]->socket());
        l.emplace_back("worker", std::to_string(w));
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
  Signals signals;  // before any thread starts: every thread inherits the blocked mask

  // Before anything is opened: /metrics beyond loopback needs a bearer token.
  std::string error = http_.prepare(run, opts_.http_port >= 0 ? opts_.http_port : run.http_port);
  if (error.empty()) error = open();
  // Everything privileged is open now.
  if (error.empty()) error = dropPrivileges(run);
  if (!error.empty()) {
    spdlog::error("{}", error);
    http_.stop();
    return kExitStartup;
  }
  if (!run.user.empty()) spdlog::info("running as user {}", run.user);
  if (::geteuid() == 0 && run.user.empty()) {
    spdlog::warn(run.interfaces.empty()
                     ? "running as root: set [run] user"
                     : "running as root: set [run] user, or run unprivileged with CAP_NET_RAW");
  }

  router_ = std::make_unique<ShardRouter>(static_cast<uint32_t>(workers),
                                          cfg_.parser.correlation_header, cfg_.tracker.leg_join);
  addMetrics();
  openHistory();
  std::vector<std::thread> captures, worker_threads;
  std::thread notifier([this] { notifierLoop(); });
  for (size_t w = 0; w < workers; ++w) worker_threads.emplace_back([this, w] { workerLoop(w); });
  for (size_t i = 0; i < sources_.size(); ++i) captures.emplace_back([this, i] { captureLoop(i); });
  ready_ = true;
  sdNotify("READY=1\nSTATUS=capturing");
  // Sources: every capture socket (run.capture_threads per interface) and HEP listener.
  spdlog::info("mcn run: ready ({} source(s), {} worker(s))", sources_.size(), workers);

  // Watchdog: ping at half the interval systemd gave us, only while every thread is alive.
  const int64_t watchdog_us = watchdogUs();
  int64_t last_ping = 0;
  int64_t last_ops_sample = 0;
  for (;;) {
    // The operator console's rates (ops_stats.h): every counter's total about once a second.
    if (const int64_t t = monoUs(); t - last_ops_sample >= 1'000'000) {
      ops_stats_.record(t, metrics_.totals());
      last_ops_sample = t;
    }
    int sig = signals.wait(200);
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
      if (alive(now, watchdog_us)) sdNotify("WATCHDOG=1");
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
  if (history_) history_->stop();  // what the rings hold is written first
  http_.stop();
  if (callback_) callback_->stop();
  std::cout.flush();
  spdlog::info("mcn run: stopped");
  return (capture_failed_ || !deliveries_complete_) ? kExitRuntime : kExitOk;
}

}  // namespace

int runDaemon(const RunOptions& opts) {
  Config cfg;
  try {
    cfg = opts.config_path.empty() ? defaultConfig() : loadConfigFile(opts.config_path);
  } catch (const std::exception& e) {
    std::cerr << "mcn: " << e.what() << '\n';
    return kExitStartup;
  }
  if (spdlog::get("mcn") == nullptr) setupLogging(cfg.run);
  if (opts.role == "notifier") return runStreamNotifier(cfg, opts);
  Daemon d(std::move(cfg), opts);
  return d.run();
}

}  // namespace mcn::app
