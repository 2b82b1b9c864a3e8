// `mcn explain` reads its verdicts from the tracker's own rule code (calls/explain.h). Over every
// fixture in pcaps/: asking for traces changes no record, each trace carries exactly the records
// the replay wrote, and each called number's rule steps read like calls/RULES.md: rules tried in
// ascending order, every one but the last unmatched, the last one the record's outcome.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.h"
#include "mcn/app/config.h"
#include "mcn/app/replay.h"
#include "mcn/calls/explain.h"
#include "mcn/calls/record_json.h"

namespace fs = std::filesystem;

namespace {

using mcn::golden::fixtureNames;
using mcn::golden::kPcaps;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ExplainTrace : public ::testing::TestWithParam<std::string> {};

TEST_P(ExplainTrace, TracesAgreeWithTheRecords) {
  const std::string file = GetParam();
  const mcn::app::Config cfg = mcn::golden::fixtureConfig(file);

  std::ostringstream calls;
  std::vector<mcn::calls::CallTrace> traces;
  mcn::app::ReplayOutputs out;
  out.calls = &calls;
  out.trace.want = [](const std::vector<mcn::calls::CallRecord>&) { return true; };
  out.trace.sink = [&](mcn::calls::CallTrace&& t) { traces.push_back(std::move(t)); };
  mcn::app::runReplay({(kPcaps / file).string()}, cfg, out);

  // Tracing changes nothing: the records are the hand-checked ones.
  const fs::path expected = kPcaps / (fs::path(file).stem().string() + ".expected.jsonl");
  std::vector<nlohmann::json> want, got;
  for (const auto& l : lines(readFile(expected))) want.push_back(nlohmann::json::parse(l));
  for (const auto& l : lines(calls.str())) got.push_back(nlohmann::json::parse(l));
  EXPECT_EQ(got, want) << file;

  // The traces hold the same records, call by call, in the order they were written.
  std::vector<std::string> traced;
  for (const auto& t : traces) {
    ASSERT_EQ(t.numbers.size(), t.records.size()) << file;
    for (size_t n = 0; n < t.records.size(); ++n) {
      const mcn::calls::CallRecord& r = t.records[n];
      const mcn::calls::NumberTrace& nt = t.numbers[n];
      traced.push_back(mcn::calls::recordToJson(r));
      EXPECT_EQ(nt.number, r.callee) << file;
      EXPECT_EQ(t.call_ids, r.call_ids) << file;
      ASSERT_FALSE(nt.steps.empty()) << file << " " << r.callee;
      int last_rule = 0;
      for (size_t s = 0; s < nt.steps.size(); ++s) {
        const mcn::calls::RuleStep& step = nt.steps[s];
        const bool last = s + 1 == nt.steps.size();
        EXPECT_GT(step.rule, last_rule) << file << " " << r.callee << ": rules out of order";
        last_rule = step.rule;
        // RULES.md numbers the rules in the order of the Outcome enum.
        EXPECT_EQ(static_cast<int>(step.outcome) + 1, step.rule) << file;
        EXPECT_EQ(step.matched, last) << file << " " << r.callee << " rule " << step.rule;
        EXPECT_FALSE(step.why.empty()) << file << " " << r.callee << " rule " << step.rule;
      }
      EXPECT_EQ(nt.steps.back().outcome, r.outcome) << file << " " << r.callee;
      // Rules 1-4 are always tried; 5-9 only once every hop of the number ended.
      EXPECT_GE(nt.steps.size(), std::min<size_t>(4, static_cast<size_t>(nt.steps.back().rule)))
          << file;
      EXPECT_FALSE(nt.missed_why.empty()) << file;
      EXPECT_NE(nt.missed_why.find(r.missed ? ": missed" : "not missed"), std::string::npos)
          << file << " " << r.callee << ": " << nt.missed_why;
      for (int h : nt.own_hops) {
        ASSERT_GE(h, 0);
        ASSERT_LT(static_cast<size_t>(h), t.hops.size());
        EXPECT_EQ(t.hops[h].target, r.callee) << file;
        // A configured group number's own hops are the aggregates the proxy forked to its
        // members (calls.groups); any other number's never are.
        const bool group = std::any_of(cfg.tracker.groups.begin(), cfg.tracker.groups.end(),
                                       [&](const auto& g) { return g.number == r.callee; });
        if (!group) {
          EXPECT_FALSE(t.hops[h].aggregate) << file;
        }
        EXPECT_FALSE(t.hops[h].superseded) << file;
      }
    }
    for (const auto& h : t.hops) {
      ASSERT_GE(h.leg, 0);
      ASSERT_LT(static_cast<size_t>(h.leg), t.call_ids.size()) << file;
    }
  }
  EXPECT_EQ(traced, lines(calls.str())) << file;
}

// Without hooks nothing is traced, and the tracker asks nothing: `want` is never called.
TEST(ExplainTraceOff, WantIsOnlyAskedWhenThereIsASink) {
  const mcn::app::Config cfg = mcn::golden::fixtureConfig("sipp_fork.pcap");
  int asked = 0;
  mcn::app::ReplayOutputs out;
  out.trace.want = [&](const std::vector<mcn::calls::CallRecord>&) {
    ++asked;
    return true;
  };
  mcn::app::runReplay({(kPcaps / "sipp_fork.pcap").string()}, cfg, out);
  EXPECT_EQ(asked, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ExplainTrace, ::testing::ValuesIn(fixtureNames()),
                         mcn::golden::fixtureParamName);

}  // namespace
