#pragma once
// Prometheus text exposition (format 0.0.4) for `mcn run`. Components are single-threaded and
// count in plain integers; each thread publishes a copy of its counters to its CounterBoard now
// and then (and at exit), and the HTTP thread renders the latest copies. Nothing on the data
// path takes a lock another thread holds for long: publish() swaps a vector under a mutex.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcn::app {

using Labels = std::vector<std::pair<std::string, std::string>>;

// One thread's counters ("calls.outcome.busy" style names), with labels naming the thread's
// part (interface="eth1", worker="0").
class CounterBoard {
 public:
  explicit CounterBoard(Labels labels) : labels_(std::move(labels)) {}
  void publish(std::vector<std::pair<std::string, uint64_t>> values);
  std::vector<std::pair<std::string, uint64_t>> values() const;
  const Labels& labels() const { return labels_; }

 private:
  Labels labels_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, uint64_t>> values_;
};

// Delay from a call's final SIP message (its capture timestamp) to the delivery of the
// notification carrying it. Fixed buckets in milliseconds; lock-free observe().
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBucketsMs = {1,   2,   5,    10,   20,   50,    100,
                                                        250, 500, 1000, 2500, 5000, 10000, 60000};
  void observe(double ms);
  void render(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::array<std::atomic<uint64_t>, kBucketsMs.size() + 1> counts_{};  // last: above all
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

struct GaugeSample {
  std::string name;  // full metric name, e.g. mcn_ring_depth
  std::string help;
  Labels labels;
  double value = 0;
  bool counter = false;  // TYPE counter instead of gauge
};

class Metrics {
 public:
  // Boards are created before the threads start and live as long as Metrics.
  CounterBoard& addBoard(Labels labels);
  // Called at render time on the HTTP thread: values that are atomics or thread-safe reads.
  void addGauges(std::function<void(std::vector<GaugeSample>&)> fn);
  LatencyHistogram& deliveryLatency() { return latency_; }

  std::string render() const;
  // Every board's counters summed by name ("capture.frames" over all interfaces), plus the
  // gauges that are counters by their metric name (mcn_ring_drops_total): /api/ops/stats.
  std::map<std::string, uint64_t> totals() const;

  // "calls.outcome.busy" -> family "mcn_calls_outcome_total", label outcome="busy".
  static std::pair<std::string, Labels> familyOf(std::string_view counter);

 private:
  std::vector<std::unique_ptr<CounterBoard>> boards_;
  std::vector<std::function<void(std::vector<GaugeSample>&)>> gauges_;
  LatencyHistogram latency_;
};

}  // namespace mcn::app
