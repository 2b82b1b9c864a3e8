// `mcn replay --threads N` (app/src/sharded_replay.h): whatever N, a replay writes the bytes
// `--threads 1` writes (the records, in the same order) and reports the same counters. Every
// fixture is replayed with ticks of a few payloads so the workers' clocks and the merge cross
// many ticks even in a 20-frame capture; the generated mixes with the default tick.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "fixtures.h"
#include "mcn/app/config.h"
#include "mcn/app/replay.h"

namespace fs = std::filesystem;

namespace {

using mcn::golden::fixtureConfig;
using mcn::golden::fixtureNames;
using mcn::golden::kPcaps;

struct Replayed {
  std::string calls;
  std::string events;
  mcn::app::ReplayResult res;
};

Replayed replay(const std::vector<std::string>& files, const mcn::app::Config& cfg,
                uint32_t threads, uint32_t tick = 0) {
  std::ostringstream calls, events;
  mcn::app::ReplayOutputs out;
  out.calls = &calls;
  out.events = &events;
  out.threads = threads;
  out.tick = tick;
  Replayed r;
  r.res = mcn::app::runReplay(files, cfg, out);
  r.calls = calls.str();
  r.events = events.str();
  return r;
}

// The first line where two outputs part, for the failure message.
std::string firstDifference(const std::string& got, const std::string& want) {
  std::istringstream a(got), b(want);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool ea = !std::getline(a, la);
    const bool eb = !std::getline(b, lb);
    if (ea && eb) return "same";
    if (ea != eb || la != lb) {
      return "line " + std::to_string(line) + ":\n  got:  " + (ea ? "<end>" : la) +
             "\n  want: " + (eb ? "<end>" : lb);
    }
  }
}

void expectSameAsOneThread(const Replayed& one, const Replayed& got, const std::string& what) {
  EXPECT_TRUE(got.calls == one.calls) << what << ": " << firstDifference(got.calls, one.calls);
  EXPECT_TRUE(got.events == one.events) << what << ": " << firstDifference(got.events, one.events);
  EXPECT_EQ(got.res.records, one.res.records) << what;
  EXPECT_EQ(got.res.missed, one.res.missed) << what;
  EXPECT_EQ(got.res.frames, one.res.frames) << what;
  EXPECT_EQ(got.res.sip_messages, one.res.sip_messages) << what;
  // Every counter, by name: the workers' parser, tracker and tally counters add up to one's.
  for (const auto& [name, v] : one.res.counters) {
    auto it = got.res.counters.find(name);
    if (it == got.res.counters.end()) {
      ADD_FAILURE() << what << ": no counter " << name;
    } else {
      EXPECT_EQ(it->second, v) << what << ": " << name;
    }
  }
  for (const auto& [name, v] : got.res.counters) {
    EXPECT_TRUE(one.res.counters.count(name) != 0) << what << ": extra counter " << name;
  }
}

class ReplayThreads : public ::testing::TestWithParam<std::string> {};

TEST_P(ReplayThreads, AnyNumberOfThreadsWritesTheBytesOfOne) {
  const std::string file = GetParam();
  const mcn::app::Config cfg = fixtureConfig(file);
  const std::vector<std::string> files{(kPcaps / file).string()};
  const Replayed one = replay(files, cfg, 1);
  ASSERT_FALSE(one.calls.empty()) << file;
  for (uint32_t threads : {2u, 4u, 7u}) {
    for (uint32_t tick : {1u, 3u, 0u}) {
      const Replayed got = replay(files, cfg, threads, tick);
      EXPECT_EQ(got.res.threads, threads);
      expectSameAsOneThread(
          one, got,
          file + " --threads " + std::to_string(threads) + " tick " + std::to_string(tick));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReplayThreads, ::testing::ValuesIn(fixtureNames()),
                         mcn::golden::fixtureParamName);

// The generator's IMS mixes (B2BUA and MGCF legs joined by icid, forks, retransmissions, SPAN
// duplicates, registration noise, calls decided by ring timeouts and grace timers while other
// calls' packets pass), and an INVITE flood decided at the end of input.
class ReplayThreadsGenerated : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mcn_replay_threads_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string gen(const std::string& name, const std::string& args) {
    const fs::path pcap = dir_ / (name + ".pcap");
    const std::string cmd =
        std::string(MCN_BINARY_DIR) + "/mcn-gen " + args + " -o " + pcap.string() + " 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return pcap.string();
  }
  fs::path dir_;
};

TEST_F(ReplayThreadsGenerated, MixesGiveTheBytesOfOneThread) {
  const mcn::app::Config cfg = mcn::app::loadConfigFile((kPcaps / "fixtures.toml").string());
  const std::string mix = gen("mix", "mix --calls 3000 --seed 1 --threads 1");
  const std::string dup = gen("dup",
                              "mix --calls 1500 --seed 97 --dup-ratio 0.2 --retrans-ratio 0.2 "
                              "--threads 1");
  for (const std::string& pcap : {mix, dup}) {
    const Replayed one = replay({pcap}, cfg, 1);
    EXPECT_GE(one.res.records, 1500u);
    EXPECT_GT(one.res.counters.at("calls.outcome.no_answer"), 0u) << "ring timeouts fire";
    for (uint32_t threads : {2u, 4u, 7u}) {
      for (uint32_t tick : {0u, 5u}) {
        expectSameAsOneThread(
            one, replay({pcap}, cfg, threads, tick),
            pcap + " --threads " + std::to_string(threads) + " tick " + std::to_string(tick));
      }
    }
  }
  // Two captures merged by timestamp, as with `mcn replay A B`.
  const Replayed one = replay({mix, dup}, cfg, 1);
  expectSameAsOneThread(one, replay({mix, dup}, cfg, 3), "mix + dup --threads 3");
}

TEST_F(ReplayThreadsGenerated, AFloodDecidedAtTheEndGivesTheBytesOfOneThread) {
  const mcn::app::Config cfg = mcn::app::loadConfigFile((kPcaps / "fixtures.toml").string());
  const std::string flood = gen("flood", "flood --invites 5000 --rate 1000 --seed 3");
  const Replayed one = replay({flood}, cfg, 1);
  EXPECT_EQ(one.res.records, 5000u);
  EXPECT_EQ(one.res.counters.at("calls.outcome.incomplete"), 5000u);
  for (uint32_t threads : {2u, 4u, 7u}) {
    expectSameAsOneThread(one, replay({flood}, cfg, threads),
                          "flood --threads " + std::to_string(threads));
  }
}

TEST(ReplayThreadsDefault, OneThreadForASmallCaptureAndNeverMoreThanEight) {
  EXPECT_EQ(mcn::app::defaultReplayThreads(1 << 20), 1u);
  EXPECT_GE(mcn::app::defaultReplayThreads(-1), 1u);
  EXPECT_LE(mcn::app::defaultReplayThreads(int64_t{1} << 40), 8u);
}

}  // namespace
