#include "ops_stats.h"

#include <array>
#include <nlohmann/json.hpp>

#include "mcn/calls/record_json.h"

namespace mcn::app {
namespace {

using json = nlohmann::ordered_json;

uint64_t get(const std::map<std::string, uint64_t>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

// Growth of a counter from `old` to `now`; a counter that went down was restarted: it counts from
// zero.
uint64_t growth(uint64_t old, uint64_t now) { return now >= old ? now - old : now; }

double rounded(double v) { return static_cast<double>(static_cast<int64_t>(v * 100 + 0.5)) / 100; }

}  // namespace

OpsStats::OpsStats(int64_t window_us) : window_us_(window_us) {}

void OpsStats::record(int64_t now_us, std::map<std::string, uint64_t> totals) {
  std::lock_guard lock(mu_);
  if (!samples_.empty() && now_us < samples_.back().at_us) return;  // not monotonic: ignored
  // Two samples closer than a tenth of the window: the newer replaces the older (bounded).
  if (samples_.size() >= 2 && now_us - samples_[samples_.size() - 2].at_us < window_us_ / 10) {
    samples_.back() = Sample{now_us, std::move(totals)};
  } else {
    samples_.push_back(Sample{now_us, std::move(totals)});
  }
  // Keep one sample at or before the window's start: the baseline of every rate.
  while (samples_.size() >= 2 && samples_[1].at_us <= now_us - window_us_) samples_.pop_front();
}

size_t OpsStats::samples() const {
  std::lock_guard lock(mu_);
  return samples_.size();
}

std::string OpsStats::render(const OpsLevels& levels, int64_t wall_us) const {
  std::map<std::string, uint64_t> now_t, base_t;
  double span_s = 0;
  {
    std::lock_guard lock(mu_);
    if (!samples_.empty()) {
      now_t = samples_.back().totals;
      base_t = samples_.front().totals;
      span_s = static_cast<double>(samples_.back().at_us - samples_.front().at_us) / 1e6;
    }
  }
  auto delta = [&](const std::string& k) { return growth(get(base_t, k), get(now_t, k)); };
  // Per second over the window; null until two samples span some time.
  auto perSecond = [&](uint64_t d) -> json {
    if (span_s <= 0) return nullptr;
    return rounded(static_cast<double>(d) / span_s);
  };
  auto perMinute = [&](uint64_t d) -> json {
    if (span_s <= 0) return nullptr;
    return rounded(static_cast<double>(d) * 60 / span_s);
  };

  json j;
  j["at"] = calls::isoTime(wall_us);
  j["window_s"] = rounded(span_s);
  const uint64_t kdrops_now = get(now_t, "pcap.kernel_dropped") + get(now_t, "pcap.if_dropped");
  const uint64_t kdrops_base = get(base_t, "pcap.kernel_dropped") + get(base_t, "pcap.if_dropped");
  if (levels.capture_here) {
    j["capture"] = {{"frames_per_s", perSecond(delta("capture.frames"))},
                    {"frames", get(now_t, "capture.frames")},
                    {"kernel_drops_per_s", perSecond(growth(kdrops_base, kdrops_now))},
                    {"kernel_drops", kdrops_now},
                    {"ring_drops", get(now_t, "mcn_ring_drops_total")}};
    j["sip"] = {{"messages_per_s", perSecond(delta("sip.messages"))},
                {"messages", get(now_t, "sip.messages")}};
    j["calls"] = {{"open", levels.open_calls},
                  {"decided_per_min", perMinute(delta("calls.decided"))},
                  {"missed_per_min", perMinute(delta("calls.missed"))},
                  {"missed", get(now_t, "calls.missed")}};
  } else {
    // A notifier: not zeros, which would read as "no traffic".
    j["capture"] = kNotHere;
    j["sip"] = kNotHere;
    j["calls"] = kNotHere;
  }

  // delivery.<kind>.ok / .failed / .dead_lettered (notifier/delivery.h): kinds that ever did
  // something, each with what it did in the window and a health word.
  json channels = json::object();
  std::map<std::string, std::array<std::string, 3>> kinds;
  for (const auto& [name, v] : now_t) {
    if (name.rfind("delivery.", 0) != 0) continue;
    const std::string rest = name.substr(9);
    const auto dot = rest.find('.');
    if (dot == std::string::npos || rest.find('.', dot + 1) != std::string::npos) continue;
    const std::string kind = rest.substr(0, dot), result = rest.substr(dot + 1);
    if (result != "ok" && result != "failed" && result != "dead_lettered") continue;
    (void)v;
    kinds[kind];
  }
  for (const auto& [kind, unused] : kinds) {
    const std::string p = "delivery." + kind + ".";
    const uint64_t ok_t = get(now_t, p + "ok"), failed_t = get(now_t, p + "failed"),
                   dead_t = get(now_t, p + "dead_lettered");
    if (ok_t + failed_t + dead_t == 0) continue;
    const uint64_t ok = delta(p + "ok"), failed = delta(p + "failed"),
                   dead = delta(p + "dead_lettered");
    // The receivers' health as the operator reads it: every attempt in the window failed
    // ("failing"), some did ("degraded"), none did ("ok"), nothing was sent ("idle").
    const char* health = ok + failed + dead == 0 ? "idle"
                         : ok == 0               ? "failing"
                         : failed + dead > 0     ? "degraded"
                                                 : "ok";
    channels[kind] = {{"ok", ok},         {"failed", failed},         {"dead", dead},
                      {"ok_total", ok_t}, {"failed_total", failed_t}, {"dead_total", dead_t},
                      {"health", health}};
  }
  j["deliveries"] = {{"pending", levels.deliveries_pending},
                     {"ok_per_min", perMinute(delta("delivery.succeeded"))},
                     {"dead_per_min", perMinute(delta("delivery.dead_lettered"))},
                     {"channels", std::move(channels)}};

  json redis = json::object();
  if (levels.redis_configured) {
    const uint64_t errors = delta("subscribers.redis_errors");
    redis["subscribers"] = {{"health", errors > 0                               ? "errors"
                                       : get(now_t, "subscribers.version") == 0 ? "not_loaded"
                                                                                : "ok"},
                            {"errors_in_window", errors},
                            {"people", get(now_t, "subscribers.people")},
                            {"version", get(now_t, "subscribers.version")}};
  } else {
    redis["subscribers"] = nullptr;
  }
  if (levels.streams_configured) {
    redis["streams"] = {{"health", get(now_t, "stream.connected") != 0 ? "ok" : "unreachable"}};
  } else {
    redis["streams"] = nullptr;
  }
  j["redis"] = std::move(redis);
  json sources = json::array();
  for (const auto& s : levels.sources) {
    sources.push_back({{"name", s.name}, {"health", s.ok ? "ok" : "failed"}});
  }
  j["sources"] = std::move(sources);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace mcn::app
