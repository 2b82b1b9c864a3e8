// GET /api/calls and /api/calls/<call_id> behind the HTTP layer (app/src/history_api.h): every
// hostile or malformed parameter is a 400 that says what is wrong and reads nothing; a number
// is found in the form the operator types it (the dial plan's short extension).

#include "../../app/src/history_api.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "../../app/src/http_endpoints.h"
#include "../../app/src/metrics.h"
#include "../support/free_port.h"
#include "mcn/app/config.h"
#include "mcn/history/store.h"

namespace mcn::app {
namespace {

namespace fs = std::filesystem;
using Params = std::vector<std::pair<std::string, std::string>>;

class HistoryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mcn_history_api_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "h.sqlite").string();
    std::string err;
    auto s = history::HistoryStore::open(path_, false, err);
    ASSERT_NE(s, nullptr) << err;
    history::CallEntry a;
    a.record.call_id = "leg-a";
    a.record.call_ids = {"leg-a", "leg-a2"};
    a.record.caller = "+8613900101230";
    a.record.callee = "+862583001015";
    a.record.outcome = calls::Outcome::kBusy;
    a.record.missed = true;
    a.record.started_at_us = 1'795'000'000LL * 1'000'000;
    ASSERT_TRUE(s->write({a}, {}, err)) << err;
    // The fixtures' dial plan: 1xxx is +86 25 8300 1xxx.
    cfg_ = loadConfigFile(std::string(MCN_SOURCE_DIR) + "/pcaps/fixtures.toml");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string path_;
  Config cfg_;
};

TEST_F(HistoryApiTest, FindsANumberInTheFormTheOperatorTypes) {
  HistoryApi api(path_, cfg_.parser.dial_plan);
  for (const char* n : {"1015", "+862583001015", "025-8300-1015"}) {
    ApiReply r = api.search({{"number", n}});
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = nlohmann::json::parse(r.body);
    ASSERT_EQ(j["calls"].size(), 1u) << n;
    EXPECT_EQ(j["calls"][0]["call_id"], "leg-a");
    EXPECT_EQ(j["calls"][0]["outcome"], "busy");
    EXPECT_TRUE(j["next_cursor"].is_null());
  }
  ApiReply none = api.search({{"number", "1016"}});
  EXPECT_EQ(nlohmann::json::parse(none.body)["calls"].size(), 0u);
}

TEST_F(HistoryApiTest, ACallByAnyLegAndA404ForAnUnknownOne) {
  HistoryApi api(path_, cfg_.parser.dial_plan);
  ApiReply r = api.call("leg-a2");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["records"][0]["call_ids"][1], "leg-a2");
  EXPECT_TRUE(j["notifications"].empty());
  EXPECT_EQ(api.call("nope").status, 404);
  EXPECT_EQ(api.call(std::string("a\x01", 2)).status, 400);
  EXPECT_EQ(api.call(std::string(300, 'x')).status, 400);
}

TEST_F(HistoryApiTest, HostileParametersAre400WithTheReason) {
  HistoryApi api(path_, cfg_.parser.dial_plan);
  struct Case {
    Params params;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{{"limit", "0"}}, "limit"},
      {{{"limit", "501"}}, "limit"},
      {{{"limit", "100000000000"}}, "limit"},
      {{{"limit", "-1"}}, "limit"},
      {{{"limit", "1e3"}}, "limit"},
      {{{"since", "yesterday"}}, "since"},
      {{{"since", "2026-02-30T00:00:00Z"}}, "since"},
      {{{"until", "2026-11-22T06:21:35"}}, "until"},  // no zone
      {{{"until", "2026-11-22T25:00:00Z"}}, "until"},
      {{{"since", "1969-12-31T23:59:59Z"}}, "since"},
      {{{"since", "2026-11-22T00:00:00Z"}, {"until", "2026-11-21T00:00:00Z"}}, "before"},
      {{{"outcome", "lost"}}, "outcome"},
      {{{"cursor", "1;DROP TABLE calls"}}, "cursor"},
      {{{"number", "1015"}, {"number", "1016"}}, "twice"},
      {{{"numbr", "1015"}}, "unknown parameter"},
      {{{"person", std::string(257, 'p')}}, "longer"},
      {{{"call_id", "a\nb"}}, "printable"},
      {{{"number", "\xe4\xb8\xad"}}, "printable"},
  };
  for (const auto& c : cases) {
    ApiReply r = api.search(c.params);
    EXPECT_EQ(r.status, 400) << c.params[0].first << "=" << c.params[0].second << ": " << r.body;
    auto j = nlohmann::json::parse(r.body);
    EXPECT_NE(j["error"].get<std::string>().find(c.says), std::string::npos) << r.body;
  }
  Params many;
  for (int i = 0; i < 17; ++i) many.emplace_back("p" + std::to_string(i), "x");
  EXPECT_EQ(api.search(many).status, 400);
  // The store is untouched and still answers.
  EXPECT_EQ(api.search({{"limit", "500"}}).status, 200);
}

TEST_F(HistoryApiTest, TimeRangeInAnyOffset) {
  HistoryApi api(path_, cfg_.parser.dial_plan);
  // The call started at 1795000000 s = 2026-11-18T11:06:40Z = 19:06:40+08:00.
  auto count = [&](Params p) {
    ApiReply r = api.search(p);
    EXPECT_EQ(r.status, 200) << r.body;
    return nlohmann::json::parse(r.body)["calls"].size();
  };
  EXPECT_EQ(count({{"since", "2026-11-18T19:06:40+08:00"}}), 1u);
  EXPECT_EQ(count({{"since", "2026-11-18T11:06:40.001Z"}}), 0u);
  EXPECT_EQ(count({{"until", "2026-11-18T11:06:40Z"}}), 0u);  // until is exclusive
  EXPECT_EQ(count({{"until", "2026-11-18T11:06:41Z"}}), 1u);
}

// Served beyond loopback, the call search needs the bearer token like /metrics: call records
// hold who called whom.
TEST_F(HistoryApiTest, BeyondLoopbackTheSearchNeedsTheToken) {
  HistoryApi api(path_, cfg_.parser.dial_plan);
  Metrics metrics;
  HttpEndpoints http(
      metrics, [] { return Check{}; }, [] { return Check{}; });
  http.setHistory(&api);
  ::setenv("MCN_HISTORY_TEST_TOKEN", "s3cret-token", 1);
  RunConfig run;
  run.http_bind = "0.0.0.0";
  run.http_token_ref = "env:MCN_HISTORY_TEST_TOKEN";
  // Free on every address (the bind is a wildcard one), not only on 127.0.0.1: another test's
  // server on 127.0.6.x holding the port made this bind fail under ctest -j.
  const int port = test::freeTcpPort("0.0.0.0");
  ASSERT_GT(port, 0);
  ASSERT_EQ(http.prepare(run, port), "");
  ASSERT_EQ(http.start(), "");
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  auto res = c.Get("/api/calls?number=1015");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->body.find("leg-a"), std::string::npos);
  res = c.Get("/api/calls/leg-a", {{"Authorization", "Bearer wrong-token!"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = c.Get("/api/calls?number=1015", {{"Authorization", "Bearer s3cret-token"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("leg-a"), std::string::npos);
  http.stop();
}

TEST(HistoryApiTime, ParsesRfc3339) {
  int64_t us = 0;
  ASSERT_TRUE(parseApiTime("2026-11-22T06:21:35.053Z", us));
  EXPECT_EQ(us, 1795328495053000);
  ASSERT_TRUE(parseApiTime("2026-11-22T14:21:35.053+08:00", us));
  EXPECT_EQ(us, 1795328495053000);
  ASSERT_TRUE(parseApiTime("2024-02-29T00:00:00Z", us));
  EXPECT_FALSE(parseApiTime("2026-02-29T00:00:00Z", us));
  EXPECT_FALSE(parseApiTime("2026-11-22 06:21:35Z", us));
  EXPECT_FALSE(parseApiTime("2026-11-22T06:21:35.Z", us));
  EXPECT_FALSE(parseApiTime("2026-11-22T06:21:35+8:00", us));
  EXPECT_FALSE(parseApiTime("2026-11-22T06:21:35Zjunk", us));
}

TEST(HistoryApiStore, AMissingStoreIs503NotACrash) {
  HistoryApi api("/nonexistent-mcn-dir/h.sqlite", sipparse::DialPlanConfig{});
  ApiReply r = api.search({});
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("/nonexistent-mcn-dir/h.sqlite"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace mcn::app
