// The call history writer (history/writer.h): call records per second from a producer ring
// into SQLite (WAL, one transaction per batch), on a fresh file in the temp directory. The
// producer is the blocking kind (replay's), so the figure is the writer's own pace, not how
// fast a full ring drops.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "mcn/history/writer.h"

namespace {

mcn::history::CallEntry entry(int64_t i) {
  mcn::history::CallEntry e;
  auto& r = e.record;
  r.call_id = "1-" + std::to_string(i) + "-bench@198.18.0.2";
  r.call_ids = {r.call_id, "b2b-" + std::to_string(i)};
  r.correlation = "icid-" + std::to_string(i);
  r.caller = "+86139" + std::to_string(10000000 + i % 90000000);
  r.caller_name = "Li Lei";
  r.callee = "+86258300" + std::to_string(1000 + i % 9000);
  r.outcome = i % 3 == 0 ? mcn::calls::Outcome::kAnswered : mcn::calls::Outcome::kCancelled;
  r.missed = i % 3 != 0;
  r.status = i % 3 == 0 ? 200 : 487;
  r.reason = "Request Terminated";
  r.started_at_us = 1'795'000'000'000'000 + i * 100'000;
  r.ended_at_us = r.started_at_us + 4'000'000;
  r.ring_ms = 3500;
  r.legs = 2;
  return e;
}

void BM_HistoryWriterInserts(benchmark::State& state) {
  namespace fs = std::filesystem;
  const auto n = static_cast<int64_t>(state.range(0));
  int64_t total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fs::path dir = fs::temp_directory_path() / ("mcn_bench_history_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    mcn::history::HistoryConfig cfg;
    cfg.path = (dir / "h.sqlite").string();
    std::vector<mcn::history::CallEntry> entries;
    entries.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) entries.push_back(entry(total + i));
    state.ResumeTiming();
    {
      mcn::history::HistoryWriter w(cfg, false);
      auto& p = w.addProducer(/*blocking=*/true);
      w.start();
      for (auto& e : entries) p.push(std::move(e));
      w.stop();  // everything written
    }
    state.PauseTiming();
    state.counters["db_bytes_per_call"] =
        static_cast<double>(fs::file_size(cfg.path) + (fs::exists(cfg.path + "-wal")
                                                           ? fs::file_size(cfg.path + "-wal")
                                                           : 0)) /
        static_cast<double>(n);
    fs::remove_all(dir);
    total += n;
    state.ResumeTiming();
  }
  state.SetItemsProcessed(total);
}
BENCHMARK(BM_HistoryWriterInserts)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
