// End to end, the shared call history of a [streams] deployment (README "Scale-out with Redis
// Streams"): a probe (`mcn replay --role probe`) and two notifiers (`mcn run --role notifier`,
// each in its own working directory with its own store) on one real redis-server on a free
// loopback port. The operator asks EITHER notifier and gets the same calls, each with what was
// done about it, whichever notifier delivered it.
//
// Expectations from the fixtures' scenarios (pcaps/README.md "sipp_*"): sipp_topoh_two_calls,
// +8613900101230 dials 1015 through topoh twice 10.2 s apart, busy both times, two Call-IDs
// each; sipp_answered, +8613900101230 dials 1013, answered. 1015 is Wu Fang's, told at once
// (merge window 0) through a JSON Lines channel. The replay publishes both calls within a
// millisecond, so one Redis window may hold both (README "Rendering"): one notification covering
// both, or one each; either way each call is covered by exactly one, delivered.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "streams_deployment.h"

namespace mcn::app {
namespace {

using json = nlohmann::json;

class SharedHistoryEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.open("mcn_shared_history"));
    std::ofstream(d_.subscribers())
        << "[[person]]\nid = \"e1015\"\nname = \"Wu Fang\"\nnumbers = [\"1015\"]\n"
        << "[person.preferences]\nmerge_window = \"0\"\nmin_ring = \"0\"\n"
        << "[[person.channel]]\nid = \"log\"\nkind = \"jsonl\"\ntarget = \""
        << (d_.dir() / "told.jsonl").string() << "\"\n";
  }

  test::StreamsDeployment d_;
};

TEST_F(SharedHistoryEndToEnd, EveryNotifierAnswersWithTheSameCallsAndWhatWasDoneAboutThem) {
  std::unique_ptr<httplib::Client> cli[2];
  for (int k = 0; k < 2; ++k) {
    ASSERT_TRUE(d_.startNotifier(k)) << d_.log(k);
    cli[k] = d_.client(k);
  }

  // The probe: its records to the shared history, its missed calls to the notifiers.
  auto probe = d_.probe({"sipp_topoh_two_calls.pcap", "sipp_answered.pcap"});
  ASSERT_EQ(probe.exit_code, 0) << probe.err;

  auto get = [&](int k, const std::string& path, const httplib::Params& p = {}) {
    auto res = cli[k]->Get(path, p, httplib::Headers{});
    return res && res->status == 200 ? json::parse(res->body) : json();
  };
  // Both busy calls notified (their "delivered" step applied) on a notifier's replica.
  auto settled = [&](int k) {
    json calls = get(k, "/api/calls", {{"number", "1015"}})["calls"];
    if (calls.size() != 2) return false;
    for (const auto& c : calls) {
      json d = get(k, "/api/calls/" + c["call_id"].get<std::string>());
      if (d["notifications"].size() != 1 || d["notifications"][0]["status"] != "delivered") {
        return false;
      }
    }
    return get(k, "/api/calls")["calls"].size() == 3;
  };
  bool both = false;
  for (int i = 0; i < 200 && !both; ++i) {
    both = settled(0) && settled(1);
    if (!both) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(both) << get(0, "/api/calls").dump() << "\n"
                    << get(1, "/api/calls").dump() << "\n"
                    << d_.log(0) << d_.log(1);

  // "Who called 1015?", typed as the short extension, on either notifier.
  json calls[2] = {get(0, "/api/calls", {{"number", "1015"}}),
                   get(1, "/api/calls", {{"number", "1015"}})};
  EXPECT_EQ(calls[0], calls[1]);  // the same rows, cursors included
  for (const auto& c : calls[0]["calls"]) {
    EXPECT_EQ(c["caller"], "+8613900101230");
    EXPECT_EQ(c["callee"], "+862583001015");
    EXPECT_EQ(c["outcome"], "busy");
    EXPECT_EQ(c["missed"], true);
    EXPECT_EQ(c["call_ids"].size(), 2u);
    EXPECT_EQ(c["person"], "e1015");  // from the notification about it (the probe has no people)
  }
  // Each call's notification, as either notifier tells it: Wu Fang, her log channel, delivered
  // at the first attempt, the same steps on both whichever delivered it.
  std::set<std::string> keys;
  for (const auto& c : calls[0]["calls"]) {
    // Its other leg's Call-ID finds it too (what the far side's sngrep shows).
    const std::string leg = c["call_ids"][1];
    json d[2] = {get(0, "/api/calls/" + leg), get(1, "/api/calls/" + leg)};
    ASSERT_EQ(d[0]["notifications"].size(), 1u) << d[0].dump();
    EXPECT_EQ(d[0], d[1]);
    const json& n = d[0]["notifications"][0];
    EXPECT_EQ(n["person"], "e1015");
    EXPECT_EQ(n["channel"], "log");
    EXPECT_EQ(n["status"], "delivered");
    EXPECT_EQ(n["attempts"], 1);
    ASSERT_EQ(n["attempt_log"].size(), 1u);
    EXPECT_EQ(n["attempt_log"][0]["ok"], true);
    keys.insert(n["idempotency_key"].get<std::string>());
  }
  // The answered call is in the history too (all records, not only missed ones), on both.
  for (int k = 0; k < 2; ++k) {
    json answered = get(k, "/api/calls", {{"outcome", "answered"}})["calls"];
    ASSERT_EQ(answered.size(), 1u);
    EXPECT_EQ(answered[0]["callee"], "+862583001013");
  }
  // Told once per notification, by one notifier or the other.
  std::string told = test::StreamsDeployment::slurp(d_.dir() / "told.jsonl");
  EXPECT_EQ(std::count(told.begin(), told.end(), '\n'), static_cast<long>(keys.size())) << told;
  const uint64_t steps = 3 * keys.size();  // produced, attempt, delivered

  // Each notifier's counters: the whole stream applied, nothing lost; the steps of the windows
  // it delivered published by it.
  uint64_t published = 0;
  for (int k = 0; k < 2; ++k) {
    // 3 records and every step (the counters reach /metrics once a second).
    const std::string written =
        "\nmcn_history_written_total{role=\"notifier\"} " + std::to_string(3 + steps) + "\n";
    std::string m;
    for (int i = 0; i < 60 && m.find(written) == std::string::npos; ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      auto res = cli[k]->Get("/metrics");
      ASSERT_TRUE(res);
      m = res->body;
    }
    EXPECT_NE(m.find(written), std::string::npos) << m;
    EXPECT_NE(m.find("\nmcn_history_stream_gaps_total{role=\"notifier\"} 0\n"), std::string::npos);
    EXPECT_NE(m.find("\nmcn_history_stream_connected{role=\"notifier\"} 1\n"), std::string::npos);
    auto at = m.find("\nmcn_history_stream_published_total{role=\"notifier\"} ");
    ASSERT_NE(at, std::string::npos);
    published += std::stoull(m.substr(m.find('}', at) + 2));
  }
  EXPECT_EQ(published, steps);
  EXPECT_NE(probe.err.find("history.stream.published=3"), std::string::npos) << probe.err;

  for (int k = 0; k < 2; ++k) d_.notifier(k).signal(SIGTERM);
  for (int k = 0; k < 2; ++k) EXPECT_EQ(d_.notifier(k).exitCode(), 0) << d_.log(k);
}

}  // namespace
}  // namespace mcn::app
