// GET /api/calls/<call_id>/ladder (app/src/ladder_api.h) over real loopback HTTP, fed like
// `mcn run`'s workers feed it: each parsed message kept with its Call-ID (recent_messages.h), the
// legs linked when the call is decided. The verdicts are the fixtures' intended outcomes
// (pcaps/*.expected.jsonl); a call whose messages were evicted is a 410 that says so.

#include "../../app/src/ladder_api.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "../../app/src/http_endpoints.h"
#include "../../app/src/metrics.h"
#include "../../app/src/pipeline.h"
#include "../support/free_port.h"
#include "mcn/app/config.h"
#include "mcn/history/store.h"

namespace mcn::app {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
const fs::path kPcaps = fs::path(MCN_SOURCE_DIR) / "pcaps";
constexpr const char* kAddr = "127.0.6.2";

// The worker's path (run.cc workerLoop) over a capture file, on packet time.
std::vector<calls::CallRecord> feed(const std::string& pcap, const Config& cfg,
                                    RecentMessages& recent) {
  std::vector<calls::CallRecord> records;
  SipStage sip(cfg.parser, cfg.tracker, nullptr, [&](calls::CallRecord&& r) {
    recent.link(r.call_ids);
    records.push_back(std::move(r));
  });
  FrameStage frames(cfg.decoder, nullptr, [&](uint32_t, capture::SipPayload&& p) {
    if (sip.onPayload(p)) recent.add(sip.event().call_id, std::move(p));
  });
  FileFrameSource src({pcap});
  capture::Frame f;
  while (src.next(f)) frames.onFrame(f);
  frames.finish();
  sip.finish(sip.now());
  return records;
}

std::map<std::string, uint64_t> counters(const RecentMessages& r) {
  std::map<std::string, uint64_t> m;
  r.forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
  return m;
}

struct Served {
  Metrics metrics;
  HttpEndpoints http{metrics, [] { return Check{}; }, [] { return Check{}; }};
  int port = 0;
  explicit Served(LadderApi& api) {
    http.setLadder([&api](httplib::Server& s) { api.addRoutes(s); });
    port = test::freeTcpPort(kAddr);
  }
  std::string start(HistoryApi* history = nullptr) {
    if (history != nullptr) http.setHistory(history);
    RunConfig run;
    run.http_bind = kAddr;
    std::string e = http.prepare(run, port);
    return e.empty() ? http.start() : e;
  }
  httplib::Client client() const {
    httplib::Client c(kAddr, port);
    c.set_connection_timeout(2, 0);
    return c;
  }
};

json expectedRecord(const std::string& name, size_t i) {
  std::ifstream f(kPcaps / (name + ".expected.jsonl"));
  std::string line;
  for (size_t k = 0; std::getline(f, line); ++k) {
    if (k == i) return json::parse(line);
  }
  return {};
}

TEST(Ladder, ACallByEitherLegWithItsVerdicts) {
  const Config cfg = loadConfigFile((kPcaps / "fixtures.toml").string());
  RecentMessages recent(1000, 1 << 20);
  feed((kPcaps / "b2bua_forward_no_answer.pcap").string(), cfg, recent);
  LadderApi api(cfg, {&recent}, nullptr);
  Served s(api);
  // Registered before /api/calls/<call_id>: the ladder route must win.
  HistoryApi history("/nonexistent-mcn-dir/h.sqlite", cfg.parser.dial_plan);
  ASSERT_EQ(s.start(&history), "");
  auto c = s.client();
  const json want0 = expectedRecord("b2bua_forward_no_answer", 0);
  const json want1 = expectedRecord("b2bua_forward_no_answer", 1);
  ASSERT_EQ(want0["legs"], 2);
  for (const std::string& leg :
       {want0["call_ids"][0].get<std::string>(), want0["call_ids"][1].get<std::string>()}) {
    auto r = c.Get("/api/calls/" + leg + "/ladder");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << leg << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    auto j = json::parse(r->body);
    ASSERT_EQ(j["calls"].size(), 1u) << r->body.substr(0, 400);
    const json& call = j["calls"][0];
    EXPECT_EQ(call["call_ids"], want0["call_ids"]) << "both legs, whichever was asked for";
    const json& m = call["messages"];
    ASSERT_FALSE(m.empty());
    EXPECT_EQ(m[0]["method"], "INVITE");
    std::set<int> legs;
    for (const auto& msg : m) legs.insert(msg["leg"].get<int>());
    EXPECT_EQ(legs.size(), 2u) << "messages of both legs on the ladder";
    ASSERT_EQ(call["numbers"].size(), 2u);
    EXPECT_EQ(call["numbers"][0]["callee"], want0["callee"]);
    EXPECT_EQ(call["numbers"][0]["outcome"], want0["outcome"]);  // forwarded
    EXPECT_EQ(call["numbers"][1]["outcome"], want1["outcome"]);  // cancelled
    EXPECT_EQ(call["numbers"][0]["record"]["started_at"], want0["started_at"])
        << "capture times, as in the fixture";
  }
  // The text of `mcn explain`.
  auto r = c.Get("/api/calls/" + want0["call_id"].get<std::string>() + "/ladder?format=text");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_NE(r->body.find("Ladder (UTC"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("forwarded by rule"), std::string::npos) << r->body;
}

TEST(Ladder, EvictedIs410WhenTheHistoryKnowsTheCall) {
  const Config cfg = loadConfigFile((kPcaps / "fixtures.toml").string());
  // Room for about one call of office_morning: the earlier ones are evicted whole.
  RecentMessages recent(12, 1 << 20);
  auto records = feed((kPcaps / "office_morning.pcap").string(), cfg, recent);
  ASSERT_GT(records.size(), 3u);
  const auto m = counters(recent);
  EXPECT_GT(m.at("ladder.evicted_calls"), 0u);
  EXPECT_GT(m.at("ladder.evicted_messages"), m.at("ladder.evicted_calls"));
  EXPECT_LE(m.at("ladder.messages"), 12u);

  fs::path dir = fs::temp_directory_path() / ("mcn_ladder_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "h.sqlite").string();
  {
    std::string err;
    auto st = history::HistoryStore::open(path, false, err);
    ASSERT_NE(st, nullptr) << err;
    std::vector<history::CallEntry> entries;
    for (const auto& r : records) entries.push_back(history::CallEntry{r, {}});
    ASSERT_TRUE(st->write(entries, {}, err)) << err;
  }
  HistoryApi history(path, cfg.parser.dial_plan);
  LadderApi api(cfg, {&recent}, &history);
  Served s(api);
  ASSERT_EQ(s.start(&history), "");
  auto c = s.client();
  const std::string first = expectedRecord("office_morning", 0)["call_id"];
  auto r = c.Get("/api/calls/" + first + "/ladder");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 410) << r->body;
  EXPECT_NE(r->body.find("no longer held"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("ladder_messages = 20000"), std::string::npos) << r->body;
  // The record is still there for the call search.
  r = c.Get("/api/calls/" + first);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Never seen at all: 404.
  r = c.Get("/api/calls/never-seen@nowhere/ladder");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  fs::remove_all(dir);
}

TEST(Ladder, BadRequestsSayWhy) {
  const Config cfg = loadConfigFile((kPcaps / "fixtures.toml").string());
  RecentMessages recent(1000, 1 << 20);
  feed((kPcaps / "cancelled.pcap").string(), cfg, recent);
  LadderApi api(cfg, {&recent}, nullptr);
  const std::string id = expectedRecord("cancelled", 0)["call_id"];
  EXPECT_EQ(api.ladder(id, {}).status, 200);
  EXPECT_EQ(api.ladder(id, {{"format", "xml"}}).status, 400);
  EXPECT_EQ(api.ladder(id, {{"fmt", "text"}}).status, 400);
  EXPECT_EQ(api.ladder(id, {{"format", "text"}, {"format", "json"}}).status, 400);
  EXPECT_EQ(api.ladder(std::string("a\x01", 2), {}).status, 400);
  EXPECT_EQ(api.ladder(std::string(300, 'x'), {}).status, 400);
}

TEST(RecentMessages, BoundsRefuseAndEvictWholeLegs) {
  RecentMessages r(4, 100);
  auto msg = [](size_t n) {
    capture::SipPayload p;
    p.bytes.assign(n, 'x');
    return p;
  };
  r.add("a", msg(10));
  r.add("a", msg(10));
  r.add("b", msg(10));
  r.add("c", msg(200));  // bigger than the whole bound: refused, nothing evicted
  auto m = counters(r);
  EXPECT_EQ(m.at("ladder.refused_messages"), 1u);
  EXPECT_EQ(m.at("ladder.messages"), 3u);
  r.add("b", msg(10));
  r.add("d", msg(10));  // a fifth message: leg a (the oldest) goes, both its messages
  m = counters(r);
  EXPECT_EQ(m.at("ladder.evicted_calls"), 1u);
  EXPECT_EQ(m.at("ladder.evicted_messages"), 2u);
  EXPECT_EQ(m.at("ladder.messages"), 3u);
  EXPECT_EQ(m.at("ladder.bytes"), 30u);
  std::vector<capture::SipPayload> out;
  std::vector<std::string> legs;
  EXPECT_FALSE(r.collect("a", out, legs));
  EXPECT_TRUE(r.collect("b", out, legs));
  EXPECT_EQ(out.size(), 2u);
  r.add("e", msg(90));  // bytes: b, the oldest, goes (d and e fit in 100)
  m = counters(r);
  EXPECT_EQ(m.at("ladder.evicted_calls"), 2u);
  EXPECT_LE(m.at("ladder.bytes"), 100u);
  // Thousands of legs come and go: the order queue stays bounded with them.
  for (int i = 0; i < 10000; ++i) r.add("x" + std::to_string(i), msg(1));
  EXPECT_LE(counters(r).at("ladder.messages"), 4u);
}

}  // namespace
}  // namespace mcn::app
