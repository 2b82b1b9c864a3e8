#include "mcn/app/replay.h"

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <queue>
#include <stdexcept>

#include "mcn/calls/record_json.h"
#include "mcn/calls/tracker.h"
#include "mcn/capture/decoder.h"
#include "mcn/capture/pcap_source.h"
#include "mcn/sipparse/parser.h"
#include "notify_stage.h"

namespace mcn::app {

namespace {

struct Input {
  std::string path;
  std::unique_ptr<capture::PcapFileSource> src;
  capture::Frame frame;
  size_t index = 0;
};

// Orders inputs by the timestamp of their pending frame; ties go to the earlier file so the
// merge is deterministic.
struct Later {
  bool operator()(const Input* a, const Input* b) const {
    if (a->frame.ts_us != b->frame.ts_us) return a->frame.ts_us > b->frame.ts_us;
    return a->index > b->index;
  }
};

}  // namespace

ReplayResult runReplay(const std::vector<std::string>& files, const Config& cfg,
                       const ReplayOutputs& out) {
  auto wall_start = std::chrono::steady_clock::now();
  ReplayResult res;

  // Open everything first so a wrong path fails before any output is written.
  std::vector<Input> inputs(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    inputs[i].path = files[i];
    inputs[i].index = i;
    inputs[i].src = std::make_unique<capture::PcapFileSource>(files[i]);
  }

  std::map<std::string, uint64_t> app_counters;
  uint64_t records = 0, missed = 0, sip_messages = 0;
  int64_t last_ts = 0;

  std::unique_ptr<NotifyStage> notify;
  if (out.subscribers) {
    notify = std::make_unique<NotifyStage>(cfg.notify, out.subscribers, out.console, out.notify);
  }

  calls::CallTracker tracker(cfg.tracker, [&](calls::CallRecord&& rec) {
    ++records;
    std::string line = calls::recordToJson(rec);
    if (out.calls != nullptr) *out.calls << line << '\n';
    if (rec.missed) {
      ++missed;
      if (out.events != nullptr) *out.events << line << '\n';
    }
    // The merger applies each person's preferences; it gets every missed record.
    if (notify && rec.missed) notify->onMissedCall(rec, last_ts);
    if (out.on_missed && rec.missed) out.on_missed(rec);
  });
  if (out.trace.sink) tracker.setTraceHooks(out.trace);
  sipparse::SipParser parser(cfg.parser);
  // Per-method and per-status tallies: small fixed arrays on the hot path, names built once at
  // the end.
  std::array<uint64_t, 16> by_method{};
  std::array<uint64_t, 700> by_status{};

  // One event for the whole replay: parseInto reuses its buffers, so an ordinary message costs
  // no allocation here.
  sipparse::SipEvent ev;
  capture::FrameDecoder decoder(cfg.decoder, [&](capture::SipPayload&& p) {
    if (!parser.parseInto(p, ev)) return;
    ++sip_messages;
    if (ev.is_request) {
      ++by_method[static_cast<size_t>(ev.method)];
    } else if (ev.status >= 100 && ev.status < 700) {
      ++by_status[static_cast<size_t>(ev.status)];
    }
    if (out.on_event) out.on_event(ev);
    tracker.onEvent(ev);
  });

  std::priority_queue<Input*, std::vector<Input*>, Later> ready;
  for (auto& in : inputs) {
    if (in.src->next(in.frame)) ready.push(&in);
  }
  uint64_t frames = 0;
  while (!ready.empty()) {
    Input* in = ready.top();
    ready.pop();
    ++frames;
    if (in->frame.ts_us > last_ts) last_ts = in->frame.ts_us;
    // Each frame with its own link type: a pcapng file's interfaces may differ.
    decoder.decode(in->frame.link_type, in->frame.ts_us, in->frame.data, in->frame.wire_len);
    if (notify) notify->advanceTo(last_ts);
    if (in->src->next(in->frame)) ready.push(in);
  }
  for (auto& in : inputs) {
    if (!in.src->error().empty()) {
      ++app_counters["replay.truncated_files"];
      res.errors.push_back(fmt::format("{}: {}", in.path, in.src->error()));
    }
    // Damaged stretches in the middle of a file were skipped, and reading went on after them.
    const capture::FileReadStats st = in.src->stats();
    app_counters["replay.resync"] += st.resyncs;
    app_counters["replay.skipped_bytes"] += st.skipped_bytes;
    app_counters["replay.bad_blocks"] += st.bad_blocks;
    if (st.resyncs != 0 || st.bad_blocks != 0) {
      res.errors.push_back(fmt::format(
          "{}: damaged: skipped {} bytes ({} resynchronisations, {} unusable pcapng blocks)",
          in.path, st.skipped_bytes, st.resyncs, st.bad_blocks));
    }
  }
  decoder.finish();
  tracker.finish(last_ts);
  if (notify) res.deliveries_complete = notify->finish(last_ts, cfg.notify.finish_timeout_ms);

  app_counters["replay.files"] = files.size();
  app_counters["replay.frames"] = frames;
  app_counters.try_emplace("replay.truncated_files", 0);
  for (size_t m = 0; m < by_method.size(); ++m) {
    if (by_method[m] != 0) {
      app_counters[fmt::format(
          "sip.method.{}", sipparse::methodName(static_cast<sipparse::Method>(m)))] = by_method[m];
    }
  }
  for (size_t s = 0; s < by_status.size(); ++s) {
    if (by_status[s] != 0) app_counters[fmt::format("sip.status.{}", s)] = by_status[s];
  }

  auto collect = [&](std::string_view name, uint64_t v) { res.counters[std::string(name)] = v; };
  decoder.forEachCounter(collect);
  // HEP input (issue 15 item 6): packets per agent capture id.
  decoder.forEachHepCaptureId(
      [&](uint32_t id, uint64_t n) { res.counters[fmt::format("hep.capture_id.{}", id)] = n; });
  parser.forEachCounter(collect);
  tracker.forEachCounter(collect);
  if (notify) {
    notify->forEachCounter(collect);
    res.notifications = res.counters["delivery.succeeded"];
  }
  for (auto& [k, v] : app_counters) res.counters[k] = v;

  res.frames = frames;
  res.sip_messages = sip_messages;
  res.records = records;
  res.missed = missed;
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
