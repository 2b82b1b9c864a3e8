// What the operator ladder costs `mcn run`'s workers (issue 16: the data path's cost per SIP
// message; issue 18: "keep the messages of recent calls, bounded"). RecentMessages::add for a
// stream of calls of 7 messages of ~500 bytes each, at the steady state where every new call
// evicts the oldest (the default bounds: 20,000 messages, 16 MiB, one worker), plus the link()
// of each decided call. The payload is moved in, as the worker does: the cost measured is the
// bookkeeping (hash map, eviction order), not a copy. BM_PayloadOnly builds and frees the same
// payloads without the ladder: the difference per message is what the ladder adds.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "../../app/src/recent_messages.h"

namespace {

using mcn::app::RecentMessages;
using mcn::capture::SipPayload;

void BM_LadderAdd(benchmark::State& state) {
  const size_t max_messages = static_cast<size_t>(state.range(0));
  RecentMessages recent(max_messages, 16u << 20);
  std::string body(500, 'x');
  uint64_t call = 0;
  std::vector<std::string> ids(1);
  int64_t messages = 0;
  for (auto _ : state) {
    // One call: 7 messages under one Call-ID, then linked as the tracker's record does.
    ids[0] = "a84b4c76e66710-" + std::to_string(call++) + "@198.18.0.10";
    for (int m = 0; m < 7; ++m) {
      SipPayload p;
      p.ts_us = static_cast<int64_t>(call) * 1000 + m;
      p.bytes = body;  // the capture's own allocation (also in BM_PayloadOnly)
      recent.add(ids[0], std::move(p));
    }
    recent.link(ids);
    messages += 7;
  }
  state.counters["msgs"] =
      benchmark::Counter(static_cast<double>(messages), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LadderAdd)->Arg(20000)->Arg(200000);

void BM_PayloadOnly(benchmark::State& state) {
  std::string body(500, 'x');
  uint64_t call = 0;
  std::string id;
  int64_t messages = 0;
  for (auto _ : state) {
    id = "a84b4c76e66710-" + std::to_string(call++) + "@198.18.0.10";
    for (int m = 0; m < 7; ++m) {
      SipPayload p;
      p.ts_us = static_cast<int64_t>(call) * 1000 + m;
      p.bytes = body;
      benchmark::DoNotOptimize(p.bytes.data());
      benchmark::DoNotOptimize(id.data());
    }
    messages += 7;
  }
  state.counters["msgs"] =
      benchmark::Counter(static_cast<double>(messages), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PayloadOnly);

}  // namespace
