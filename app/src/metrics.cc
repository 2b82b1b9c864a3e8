#include "metrics.h"

#include <fmt/format.h>

#include <map>
#include <optional>

namespace mcn::app {
namespace {

std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out.push_back(ok ? c : '_');
  }
  return out;
}

// Label values escape backslash, quote and newline (exposition format).
std::string escapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string labelText(const Labels& a, const Labels& b) {
  if (a.empty() && b.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto* set : {&a, &b}) {
    for (const auto& [k, v] : *set) {
      if (!first) out.push_back(',');
      first = false;
      out += fmt::format("{}=\"{}\"", k, escapeLabel(v));
    }
  }
  out.push_back('}');
  return out;
}

std::string number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v))) {
    return fmt::format("{}", static_cast<int64_t>(v));
  }
  return fmt::format("{}", v);
}

}  // namespace

void CounterBoard::publish(std::vector<std::pair<std::string, uint64_t>> values) {
  std::lock_guard lock(mu_);
  values_.swap(values);
}

std::vector<std::pair<std::string, uint64_t>> CounterBoard::values() const {
  std::lock_guard lock(mu_);
  return values_;
}

void LatencyHistogram::observe(double ms) {
  size_t i = 0;
  while (i < kBucketsMs.size() && ms > kBucketsMs[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<uint64_t>(ms < 0 ? 0 : ms * 1000), std::memory_order_relaxed);
}

void LatencyHistogram::render(std::string& out, std::string_view name,
                              std::string_view help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBucketsMs.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, number(kBucketsMs[i] / 1000.0),
                       cumulative);
  }
  cumulative += counts_[kBucketsMs.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n", name,
                     number(static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6));
  out += fmt::format("{}_count {}\n", name, count_.load(std::memory_order_relaxed));
}

CounterBoard& Metrics::addBoard(Labels labels) {
  boards_.push_back(std::make_unique<CounterBoard>(std::move(labels)));
  return *boards_.back();
}

void Metrics::addGauges(std::function<void(std::vector<GaugeSample>&)> fn) {
  gauges_.push_back(std::move(fn));
}

std::pair<std::string, Labels> Metrics::familyOf(std::string_view counter) {
  auto split = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (counter.substr(0, prefix.size()) != prefix) return std::nullopt;
    return counter.substr(prefix.size());
  };
  if (auto o = split("calls.outcome.")) {
    return {"mcn_calls_outcome_total", {{"outcome", std::string(*o)}}};
  }
  if (auto m = split("sip.method."))
    return {"mcn_sip_requests_by_method_total", {{"method", std::string(*m)}}};
  if (auto s = split("sip.status."))
    return {"mcn_sip_responses_by_status_total", {{"status", std::string(*s)}}};
  // Levels of the notifier's Redis streams (gauges, see isGauge below).
  if (auto l = split("stream.lag.")) return {"mcn_stream_lag", {{"stream", std::string(*l)}}};
  if (auto p = split("stream.pending."))
    return {"mcn_stream_pending", {{"stream", std::string(*p)}}};
  if (auto p = split("prefilter."))
    return {"mcn_prefilter_dropped_total", {{"method", std::string(*p)}}};
  // HEP packets per agent capture id (capture/hep.h).
  if (auto c = split("hep.capture_id."))
    return {"mcn_hep_packets_by_capture_id_total", {{"capture_id", std::string(*c)}}};
  if (auto d = split("delivery.")) {
    // delivery.<kind>.ok / delivery.<kind>.failed: notifications by channel and result.
    auto dot = d->rfind('.');
    if (dot != std::string_view::npos) {
      auto result = d->substr(dot + 1);
      if (result == "ok" || result == "failed") {
        return {"mcn_delivery_attempts_total",
                {{"channel", std::string(d->substr(0, dot))}, {"result", std::string(result)}}};
      }
      // delivery.<kind>.dead_lettered: notifications given up on, by channel.
      if (result == "dead_lettered") {
        return {"mcn_delivery_dead_letters_total", {{"channel", std::string(d->substr(0, dot))}}};
      }
    }
  }
  return {"mcn_" + sanitize(counter) + "_total", {}};
}

std::map<std::string, uint64_t> Metrics::totals() const {
  std::map<std::string, uint64_t> out;
  for (const auto& b : boards_) {
    for (const auto& [name, v] : b->values()) out[name] += v;
  }
  std::vector<GaugeSample> gauges;
  for (const auto& g : gauges_) g(gauges);
  for (const auto& g : gauges) {
    if (g.counter && g.value > 0) out[g.name] += static_cast<uint64_t>(g.value);
  }
  return out;
}

std::string Metrics::render() const {
  struct Sample {
    Labels labels;
    double value;
  };
  struct Family {
    std::string type;
    std::string help;
    std::vector<Sample> samples;
  };
  std::map<std::string, Family> families;
  // Component values that are levels, not counts.
  auto isGauge = [](std::string_view n) {
    return n == "subscribers.version" || n == "subscribers.people" || n == "stream.connected" ||
           n == "ladder.messages" || n == "ladder.bytes" || n == "history.stream.connected" ||
           n == "history.stream.buffer_depth" || n.starts_with("stream.lag.") ||
           n.starts_with("stream.pending.");
  };
  for (const auto& b : boards_) {
    for (const auto& [name, v] : b->values()) {
      auto [family, labels] = familyOf(name);
      if (isGauge(name) && labels.empty()) family = "mcn_" + sanitize(name);
      auto& f = families[family];
      f.type = isGauge(name) ? "gauge" : "counter";
      if (f.help.empty())
        f.help = (isGauge(name) ? "mcn level " : "mcn counter ") + std::string(name);
      Labels all = b->labels();
      all.insert(all.end(), labels.begin(), labels.end());
      f.samples.push_back({std::move(all), static_cast<double>(v)});
    }
  }
  std::vector<GaugeSample> gauges;
  for (const auto& g : gauges_) g(gauges);
  for (auto& g : gauges) {
    auto& f = families[g.name];
    f.type = g.counter ? "counter" : "gauge";
    f.help = g.help;
    f.samples.push_back({std::move(g.labels), g.value});
  }
  std::string out;
  for (const auto& [name, f] : families) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (const auto& s : f.samples) {
      out += fmt::format("{}{} {}\n", name, labelText(s.labels, {}), number(s.value));
    }
  }
  latency_.render(out, "mcn_notification_delay_seconds",
                  "delay from a missed call's final SIP message (capture time) to the delivery "
                  "of its notification");
  return out;
}

}  // namespace mcn::app
