// `mcn replay --threads N` runs a reading thread, N workers and a merging thread
// (app/src/sharded_replay.h). Here so the ThreadSanitizer build (tools/test.sh: tsan runs the app
// tests) sees those threads at work; tests/golden/replay_threads_test.cc checks every fixture.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "mcn/app/config.h"
#include "mcn/app/replay.h"

namespace fs = std::filesystem;

namespace {

TEST(ReplayThreads, RealStackRecordingsMergedGiveTheBytesOfOneThread) {
  const fs::path pcaps = fs::path(MCN_SOURCE_DIR) / "pcaps";
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(pcaps)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("sipp_", 0) == 0 && e.path().extension() == ".pcap") {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 10u);
  const mcn::app::Config cfg = mcn::app::loadConfigFile((pcaps / "fixtures.toml").string());
  auto run = [&](uint32_t threads, uint32_t tick, mcn::app::ReplayResult& res) {
    std::ostringstream calls;
    mcn::app::ReplayOutputs out;
    out.calls = &calls;
    out.threads = threads;
    out.tick = tick;
    res = mcn::app::runReplay(files, cfg, out);
    return calls.str();
  };
  mcn::app::ReplayResult one_res, res;
  const std::string one = run(1, 0, one_res);
  EXPECT_GE(one_res.records, 20u);
  for (uint32_t threads : {2u, 3u}) {
    EXPECT_EQ(run(threads, 4, res), one) << threads << " threads";
    EXPECT_EQ(res.threads, threads);
    EXPECT_EQ(res.counters, one_res.counters) << threads << " threads";
  }
}

}  // namespace
