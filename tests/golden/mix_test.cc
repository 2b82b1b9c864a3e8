// End to end on a realistic IMS mix: mcn-gen writes a capture of registration, presence and
// keep-alive noise plus calls of every outcome (forks, B2BUA legs, retransmissions, duplicated
// SPAN frames) and says, independently of mcn, which records each call should produce. The replay
// must agree outcome by outcome.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mcn/app/config.h"
#include "mcn/app/replay.h"

namespace fs = std::filesystem;

namespace {

TEST(Mix, OutcomesMatchTheGeneratorsIntent) {
  const fs::path dir = fs::temp_directory_path() / ("mcn_mix_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path pcap = dir / "mix.pcap";
  const fs::path summary = dir / "summary.json";
  const std::string cmd = std::string(MCN_BINARY_DIR) +
                          "/mcn-gen mix --calls 1500 --seed 424242 --dup-ratio 0.2 "
                          "--retrans-ratio 0.2 --threads 1 --summary-json " +
                          summary.string() + " -o " + pcap.string() + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  nlohmann::json want;
  std::ifstream(summary) >> want;
  mcn::app::Config cfg =
      mcn::app::loadConfigFile(std::string(MCN_SOURCE_DIR) + "/pcaps/fixtures.toml");
  std::ostringstream calls;
  auto res = mcn::app::runReplay({pcap.string()}, cfg, {&calls, nullptr});
  fs::remove_all(dir);

  ASSERT_EQ(want.at("calls").get<uint64_t>(), 1500u);
  EXPECT_EQ(res.records, want.at("records").get<uint64_t>());
  EXPECT_EQ(res.missed, want.at("missed").get<uint64_t>());
  for (auto& [outcome, n] : want.at("outcomes").items()) {
    EXPECT_EQ(res.counters.at("calls.outcome." + outcome), n.get<uint64_t>()) << outcome;
  }
  EXPECT_EQ(res.counters.at("calls.evicted"), 0u);
  EXPECT_EQ(res.frames, want.at("frames").get<uint64_t>());
}

}  // namespace
