// Replays every fixture in pcaps/ and compares the records with its hand-checked
// <name>.expected.jsonl, and the counters named in <name>.counters.json (Zeek-style baselines).

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mcn/app/config.h"
#include "mcn/app/replay.h"
#include "fixtures.h"

namespace fs = std::filesystem;

namespace {

using mcn::golden::fixtureNames;
using mcn::golden::kPcaps;

std::string stem(const std::string& file) { return fs::path(file).stem().string(); }

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<nlohmann::json> parseLines(const std::string& text, const std::string& what) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << " line " << n << " is not JSON: " << e.what();
    }
  }
  return out;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, ReplayMatchesExpected) {
  const std::string file = GetParam();
  const fs::path expected_path = kPcaps / (stem(file) + ".expected.jsonl");
  ASSERT_TRUE(fs::exists(expected_path)) << file << " has no " << expected_path.filename();

  mcn::app::Config cfg = mcn::golden::fixtureConfig(file);

  std::ostringstream calls, events;
  mcn::app::ReplayResult res =
      mcn::app::runReplay({(kPcaps / file).string()}, cfg, {&calls, &events});

  auto expected = parseLines(readFile(expected_path), expected_path.filename().string());
  auto actual = parseLines(calls.str(), "mcn output");
  for (size_t i = 0; i < std::max(expected.size(), actual.size()); ++i) {
    std::string e = i < expected.size() ? expected[i].dump() : "(none)";
    std::string a = i < actual.size() ? actual[i].dump() : "(none)";
    if (i < expected.size() && i < actual.size() && expected[i] == actual[i]) continue;
    ADD_FAILURE() << file << " record " << i + 1 << "\n  expected: " << e << "\n  actual:   " << a;
  }

  // --events-out holds exactly the missed records, in the same order.
  std::vector<nlohmann::json> missed;
  for (const auto& r : actual) {
    if (r.value("missed", false)) missed.push_back(r);
  }
  EXPECT_EQ(parseLines(events.str(), "events"), missed) << file;

  const fs::path counters_path = kPcaps / (stem(file) + ".counters.json");
  if (fs::exists(counters_path)) {
    auto want = nlohmann::json::parse(readFile(counters_path));
    for (auto& [name, value] : want.items()) {
      auto it = res.counters.find(name);
      if (it == res.counters.end()) {
        ADD_FAILURE() << file << ": counter " << name << " does not exist";
        continue;
      }
      EXPECT_EQ(it->second, value.get<uint64_t>()) << file << ": counter " << name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Golden, ::testing::ValuesIn(fixtureNames()),
                         mcn::golden::fixtureParamName);

// The pre-filter is an optimisation: with it off (everything parsed) a capture full of
// registration and keep-alive traffic must give the same records, and with it on the dropped
// messages are counted rather than lost silently.
TEST(GoldenPrefilter, SameRecordsWithAndWithoutPrefilter) {
  mcn::app::Config cfg = mcn::app::loadConfigFile((kPcaps / "fixtures.toml").string());
  const std::string pcap = (kPcaps / "office_morning.pcap").string();
  std::ostringstream on, off;
  auto res_on = mcn::app::runReplay({pcap}, cfg, {&on, nullptr});
  cfg.decoder.prefilter = false;
  auto res_off = mcn::app::runReplay({pcap}, cfg, {&off, nullptr});
  EXPECT_EQ(on.str(), off.str());
  EXPECT_EQ(readFile(kPcaps / "office_morning.expected.jsonl"), on.str());
  // tshark -r office_morning.pcap -Y 'sip.Method == "REGISTER" || sip.CSeq.method == "REGISTER"'
  // counts 152 frames (requests and their responses); OPTIONS 314; SUBSCRIBE 34; NOTIFY 34.
  EXPECT_EQ(res_on.counters.at("prefilter.register"), 152u);
  EXPECT_EQ(res_on.counters.at("prefilter.options"), 314u);
  EXPECT_EQ(res_on.counters.at("prefilter.subscribe"), 34u);
  EXPECT_EQ(res_on.counters.at("prefilter.notify"), 34u);
  EXPECT_EQ(res_off.counters.at("prefilter.register"), 0u);
  EXPECT_EQ(res_off.counters.at("sip.parsed"),
            res_on.counters.at("sip.parsed") + 152 + 314 + 34 + 34);
}

// A golden suite that finds no fixture would pass while testing nothing.
TEST(GoldenSuite, HasFixturesForEveryOutcome) {
  auto names = fixtureNames();
  ASSERT_GE(names.size(), 20u);
  std::set<std::string> outcomes;
  for (const auto& f : names) {
    const fs::path p = kPcaps / (stem(f) + ".expected.jsonl");
    if (!fs::exists(p)) continue;
    for (const auto& r : parseLines(readFile(p), p.filename().string())) {
      outcomes.insert(r.at("outcome").get<std::string>());
    }
  }
  for (const char* o : {"answered", "answered_elsewhere", "forwarded", "cancelled", "busy",
                        "no_answer", "declined", "redirected", "failed", "incomplete"}) {
    EXPECT_TRUE(outcomes.count(o)) << "no fixture expects outcome " << o;
  }
}

}  // namespace
