#include "mcn/app/replay.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "history_api.h"
#include "mcn/calls/record_json.h"
#include "mcn/history/writer.h"
#include "mcn/notifier/local_notifier.h"
#include "pipeline.h"
#include "sharded_replay.h"

namespace mcn::app {

ReplayResult runReplay(const std::vector<std::string>& files, const Config& cfg,
                       const ReplayOutputs& out) {
  auto wall_start = std::chrono::steady_clock::now();
  ReplayResult res;

  // Opens everything first so a wrong path fails before any output is written.
  FileFrameSource source(files);

  // The store next: an unwritable or damaged one stops the replay before any output.
  std::unique_ptr<history::HistoryWriter> hist;
  history::HistoryProducer* hp = nullptr;
  if (out.history_stream != nullptr) {
    history::HistoryConfig hc = cfg.history;
    hc.path.clear();  // publish only
    hist = std::make_unique<history::HistoryWriter>(hc, *out.history_stream, /*purge=*/false);
    hp = &hist->addProducer(/*blocking=*/true);
    hist->start();
  } else if (!out.history_path.empty()) {
    history::HistoryConfig hc = cfg.history;
    hc.path = out.history_path;
    history::HistoryWriter::PersonFn person;
    if (auto dir = out.subscribers) {
      person = [dir](std::string_view number) {
        const auto* p = dir->findByNumber(number);
        return p != nullptr ? p->id : std::string();
      };
    }
    hist = std::make_unique<history::HistoryWriter>(hc, /*purge=*/false,
                                                    history::HistoryWriter::NowFn{}, person);
    if (!hist->ok()) throw std::runtime_error(hist->error());
    // A file is not a live wire: the replay waits for room rather than dropping.
    hp = &hist->addProducer(/*blocking=*/true);
    hist->start();
  }

  // Every record, on whichever thread decides the order (the merging one with --threads): the
  // store (its one producer here), --calls-out and --events-out.
  auto writeRecord = [&out, hp](const calls::CallRecord& rec) {
    if (hp != nullptr) hp->push(history::CallEntry{rec, {}});
    if (out.calls == nullptr && out.events == nullptr) return;
    std::string line = calls::recordToJson(rec);
    if (out.calls != nullptr) *out.calls << line << '\n';
    if (rec.missed && out.events != nullptr) *out.events << line << '\n';
  };

  uint32_t threads = out.threads;
  if (threads == 0) {
    int64_t bytes = 0;
    for (const auto& f : files) {
      std::error_code ec;
      const auto n = f == "-" ? std::uintmax_t{0} : std::filesystem::file_size(f, ec);
      if (f == "-" || ec) {
        bytes = -1;
        break;
      }
      bytes += static_cast<int64_t>(n);
    }
    threads = defaultReplayThreads(bytes);
  }
  if (out.missed_sink != nullptr || out.subscribers || out.on_event || out.trace.sink) threads = 1;
  if (threads > 1) {
    ShardedPipeline pipeline(cfg.decoder, cfg.parser, cfg.tracker, threads, out.tick, writeRecord);
    capture::Frame frame;
    while (source.next(frame)) pipeline.onFrame(frame);
    std::map<std::string, uint64_t> app_counters;
    source.report(app_counters, res.errors);
    pipeline.finish();
    if (hist) {
      hist->stop();
      hist->forEachCounter(
          [&](std::string_view k, uint64_t v) { app_counters[std::string(k)] = v; });
    }
    app_counters["replay.files"] = files.size();
    app_counters["replay.frames"] = pipeline.frames();
    pipeline.forEachCounter(
        [&](std::string_view name, uint64_t v) { res.counters[std::string(name)] = v; });
    for (auto& [k, v] : app_counters) res.counters[k] = v;
    res.frames = pipeline.frames();
    res.sip_messages = pipeline.sipMessages();
    res.records = pipeline.records();
    res.missed = pipeline.missed();
    res.threads = threads;
    res.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    return res;
  }

  std::unique_ptr<notifier::LocalNotifier> notify;
  notifier::MissedCallSink* sink = out.missed_sink;
  if (sink == nullptr && out.subscribers) {
    notify = std::make_unique<notifier::LocalNotifier>(cfg.notify, out.subscribers, out.console,
                                                       out.notify);
    sink = notify.get();
    if (hp != nullptr) {
      notify->setHistoryHook(
          [hp](const notifier::Notification& n, const notifier::DeliveryStep* s) {
            hp->push(historyEvent(n, s, n.created_at_us));
          });
    }
  }
  Pipeline::Outputs po;
  if (out.calls != nullptr || out.events != nullptr || hp != nullptr) {
    po.on_record = writeRecord;
  }
  po.missed = sink;
  po.on_event = out.on_event;
  po.trace = out.trace;
  Pipeline pipeline(cfg.decoder, cfg.parser, cfg.tracker, std::move(po));

  capture::Frame frame;
  while (source.next(frame)) pipeline.onFrame(frame);

  std::map<std::string, uint64_t> app_counters;
  source.report(app_counters, res.errors);
  const bool delivered = pipeline.finish(cfg.notify.finish_timeout_ms);
  if (notify) res.deliveries_complete = delivered;

  app_counters["replay.files"] = files.size();
  app_counters["replay.frames"] = pipeline.frames();

  pipeline.forEachCounter(
      [&](std::string_view name, uint64_t v) { res.counters[std::string(name)] = v; });
  if (notify) res.notifications = res.counters["delivery.succeeded"];
  if (hist) {
    // Counters read: the notifier may go, and its last steps (shutdown dead letters) reach the
    // store before the writer stops.
    notify.reset();
    hist->stop();
    hist->forEachCounter([&](std::string_view k, uint64_t v) { app_counters[std::string(k)] = v; });
  }
  for (auto& [k, v] : app_counters) res.counters[k] = v;

  res.frames = pipeline.frames();
  res.sip_messages = pipeline.sipMessages();
  res.records = pipeline.records();
  res.missed = pipeline.missed();
  res.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return res;
}
void printSummary(const ReplayResult& r, std::ostream& os) {
  uint64_t prefiltered = 0;
  for (const auto& [k, v] : r.counters) {
    if (k.rfind("prefilter.", 0) == 0) prefiltered += v;
  }
  os << fmt::format(
      "mcn replay: {} frames, {} SIP messages parsed ({} pre-filtered), {} call records ({} "
      "missed) in {:.3f} s",
      r.frames, r.sip_messages, prefiltered, r.records, r.missed, r.seconds);
  if (r.seconds > 0) {
    os << fmt::format(" ({:.0f} frames/s)", static_cast<double>(r.frames) / r.seconds);
  }
  if (r.threads > 1) os << fmt::format(" on {} threads", r.threads);
  os << '\n';
  auto section = [&](std::string_view title, auto pred) {
    std::string line;
    for (const auto& [k, v] : r.counters) {
      if (v != 0 && pred(k)) line += fmt::format(" {}={}", k, v);
    }
    if (!line.empty()) os << "  " << title << ":" << line << '\n';
  };
  auto starts = [](const std::string& k, std::string_view p) { return k.rfind(p, 0) == 0; };
  section("requests", [&](const std::string& k) { return starts(k, "sip.method."); });
  section("responses", [&](const std::string& k) { return starts(k, "sip.status."); });
  section("outcomes", [&](const std::string& k) { return starts(k, "calls.outcome."); });
  section("notify", [&](const std::string& k) {
    return starts(k, "notifier.") || starts(k, "delivery.") || starts(k, "credentials.");
  });
  section("counters", [&](const std::string& k) {
    return !starts(k, "sip.method.") && !starts(k, "sip.status.") && !starts(k, "calls.outcome.") &&
           !starts(k, "notifier.") && !starts(k, "delivery.") && !starts(k, "credentials.");
  });
  if (!r.deliveries_complete) {
    os << "  warning: some notifications were not delivered in time and went to the dead-letter "
          "file\n";
  }
  for (const auto& e : r.errors) os << "  warning: " << e << '\n';
}

}  // namespace mcn::app
