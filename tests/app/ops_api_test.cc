// The operator console's JSON (app/src/ops_api.h) over real loopback HTTP: the live figures
// computed from counters over the daemon's window; the token rule of /metrics.

#include "../../app/src/ops_api.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "../../app/src/http_endpoints.h"
#include "../../app/src/metrics.h"
#include "free_port.h"

namespace mcn::app {
namespace {

using json = nlohmann::json;
constexpr int64_t kSec = 1'000'000;
// This task's loopback addresses (tests of other helpers use others).
constexpr const char* kAddr = "127.0.6.1";

// --- the figures

TEST(OpsStats, RatesOverTheWindowFromTheCounters) {
  OpsStats stats(60 * kSec);
  OpsLevels levels;
  levels.open_calls = 7;
  levels.sources = {{"eth1", true}};
  // Before two samples there is no rate: null, not 0 (the page shows "-", not a calm zero).
  stats.record(0, {{"capture.frames", 1000}, {"calls.missed", 1}});
  auto j = json::parse(stats.render(levels, 0));
  EXPECT_TRUE(j["capture"]["frames_per_s"].is_null());
  stats.record(30 * kSec, {{"capture.frames", 4000},
                           {"sip.messages", 300},
                           {"calls.missed", 3},
                           {"calls.decided", 10},
                           {"pcap.kernel_dropped", 30},
                           {"delivery.webhook.ok", 5},
                           {"delivery.wecom.failed", 3},
                           {"delivery.wecom.ok", 0},
                           {"delivery.email.ok", 0}});
  j = json::parse(stats.render(levels, 1'795'000'000 * kSec));
  EXPECT_EQ(j["at"], "2026-11-18T11:06:40.000Z");
  EXPECT_DOUBLE_EQ(j["window_s"].get<double>(), 30.0);
  EXPECT_DOUBLE_EQ(j["capture"]["frames_per_s"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(j["capture"]["kernel_drops_per_s"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["sip"]["messages_per_s"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(j["calls"]["missed_per_min"].get<double>(), 4.0);
  EXPECT_DOUBLE_EQ(j["calls"]["decided_per_min"].get<double>(), 20.0);
  EXPECT_EQ(j["calls"]["open"], 7);
  EXPECT_EQ(j["deliveries"]["channels"]["webhook"]["ok"], 5);
  EXPECT_EQ(j["deliveries"]["channels"]["webhook"]["health"], "ok");
  EXPECT_EQ(j["deliveries"]["channels"]["wecom"]["failed"], 3);
  EXPECT_EQ(j["deliveries"]["channels"]["wecom"]["health"], "failing");
  EXPECT_FALSE(j["deliveries"]["channels"].contains("email")) << "a kind that never sent";
  EXPECT_TRUE(j["redis"]["subscribers"].is_null());
  EXPECT_EQ(j["sources"][0]["name"], "eth1");
  EXPECT_EQ(j["sources"][0]["health"], "ok");

  // Two minutes later the window holds only the last minute: the burst above is gone.
  stats.record(90 * kSec, {{"capture.frames", 4000}, {"delivery.webhook.ok", 5}});
  stats.record(150 * kSec, {{"capture.frames", 4600}, {"delivery.webhook.ok", 5}});
  j = json::parse(stats.render(levels, 0));
  EXPECT_DOUBLE_EQ(j["window_s"].get<double>(), 60.0);
  EXPECT_DOUBLE_EQ(j["capture"]["frames_per_s"].get<double>(), 10.0);
  EXPECT_EQ(j["deliveries"]["channels"]["webhook"]["health"], "idle");
  EXPECT_LE(stats.samples(), 12u);
}

TEST(OpsStats, ARestartedCounterIsNeverANegativeRate) {
  OpsStats stats(60 * kSec);
  stats.record(0, {{"capture.frames", 5000}});
  stats.record(10 * kSec, {{"capture.frames", 200}});
  auto j = json::parse(stats.render({}, 0));
  EXPECT_DOUBLE_EQ(j["capture"]["frames_per_s"].get<double>(), 20.0);
}

TEST(OpsStats, RedisHealthFromItsErrors) {
  OpsStats stats(60 * kSec);
  OpsLevels l;
  l.redis_configured = true;
  stats.record(0, {{"subscribers.version", 3}, {"subscribers.redis_errors", 1}});
  stats.record(10 * kSec, {{"subscribers.version", 3}, {"subscribers.redis_errors", 1}});
  EXPECT_EQ(json::parse(stats.render(l, 0))["redis"]["subscribers"]["health"], "ok");
  stats.record(20 * kSec, {{"subscribers.version", 3}, {"subscribers.redis_errors", 4}});
  auto j = json::parse(stats.render(l, 0));
  EXPECT_EQ(j["redis"]["subscribers"]["health"], "errors");
  EXPECT_EQ(j["redis"]["subscribers"]["errors_in_window"], 3);
}

// --- over HTTP

int freePort() { return test::freeTcpPort(kAddr); }

struct Served {
  Metrics metrics;
  HttpEndpoints http{metrics, [] { return Check{}; }, [] { return Check{}; }};
  int port = 0;
  std::string start(OpsApi& api, RunConfig run = {}) {
    if (run.http_bind == "127.0.0.1") run.http_bind = kAddr;
    http.addRoutes([&api](httplib::Server& s) { api.addRoutes(s); });
    port = freePort();
    std::string e = http.prepare(run, port);
    if (!e.empty()) return e;
    return http.start();
  }
  httplib::Client client() const {
    httplib::Client c(kAddr, port);
    c.set_connection_timeout(2, 0);
    c.set_read_timeout(10, 0);
    return c;
  }
};

TEST(OpsApiHttp, StatsBeyondLoopbackNeedTheToken) {
  OpsStats stats;
  stats.record(0, {{"capture.frames", 1}});
  stats.record(kSec, {{"capture.frames", 101}});
  OpsApi api(stats, {});
  Served s;
  ::setenv("MCN_OPS_TEST_TOKEN", "ops-s3cret", 1);
  RunConfig run;
  run.http_bind = "0.0.0.0";
  run.http_token_ref = "env:MCN_OPS_TEST_TOKEN";
  ASSERT_EQ(s.start(api, run), "");
  auto c = s.client();
  auto r = c.Get("/api/ops/stats");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c.Get("/api/ops/stats", {{"Authorization", "Bearer ops-s3cret"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
  EXPECT_DOUBLE_EQ(json::parse(r->body)["capture"]["frames_per_s"].get<double>(), 100.0);
}

}  // namespace
}  // namespace mcn::app
