#pragma once
// GET /api/ops/stats (issue 18, operator pages): the live figures an operator's page polls,
// computed by the daemon from its own counters over a window it keeps, so every client sees the
// same rates and none has to keep history of its own.
//
// The main thread samples the totals of every counter (Metrics::totals()) about once a second;
// the window holds the samples of the last `window_us` (default 60 s, and one older, the
// baseline). A rate is (newest - baseline) / (their time apart). A counter that went down (a
// restarted component) counts from zero, never as a negative rate. Thread-safe: sampled on the
// main thread, rendered on the HTTP threads.

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mcn/web/console.h"

namespace mcn::app {

// Levels read at render time (not counters).
struct OpsLevels {
  uint64_t open_calls = 0;
  uint64_t deliveries_pending = 0;
  bool redis_configured = false;    // [run] redis (the subscribers store)
  bool streams_configured = false;  // --role probe: the missed-call stream
  // false (--role notifier): frames, SIP messages and calls are counted by the probes, so
  // "capture", "sip" and "calls" say where they are instead of showing zeros.
  bool capture_here = true;
  struct Source {
    std::string name;  // interface or "hep:ADDR"
    bool ok = true;    // false: the capture failed
  };
  std::vector<Source> sources;
};

// What "capture", "sip" and "calls" say on a notifier (the operator page shows it translated).
inline constexpr const char* kNotHere = web::kFiguresOnProbes;

class OpsStats {
 public:
  explicit OpsStats(int64_t window_us = 60'000'000);

  // Totals of every counter at `now_us` (a monotonic clock; tests pass their own). Samples
  // closer than a tenth of the window to the previous one replace it (bounded: at most ~12).
  void record(int64_t now_us, std::map<std::string, uint64_t> totals);
  // The JSON of GET /api/ops/stats. `wall_us`: the time printed as "at".
  std::string render(const OpsLevels& levels, int64_t wall_us) const;
  size_t samples() const;

 private:
  struct Sample {
    int64_t at_us = 0;
    std::map<std::string, uint64_t> totals;
  };
  int64_t window_us_;
  mutable std::mutex mu_;
  std::deque<Sample> samples_;  // oldest first
};

}  // namespace mcn::app
