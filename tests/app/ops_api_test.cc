// The operator console's JSON (app/src/ops_api.h) over real loopback HTTP: the live figures
// computed from counters over the daemon's window, the dead-letter list with retry (a real
// webhook receiver gets the ORIGINAL idempotency key again) and discard (logged with who), the
// people CSV import all or nothing; every bad request a 4xx that says why and changes nothing.

#include "../../app/src/ops_api.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "../../app/src/http_endpoints.h"
#include "../../app/src/metrics.h"
#include "../../app/src/people_store.h"
#include "../support/free_port.h"
#include "mcn/app/config.h"
#include "mcn/notifier/local_notifier.h"
#include "mcn/subscribers/toml_store.h"

namespace mcn::app {
namespace {

namespace fs = std::filesystem;
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

struct Served {
  Metrics metrics;
  HttpEndpoints http{metrics, [] { return Check{}; }, [] { return Check{}; }};
  int port = 0;
  std::string start(OpsApi& api, RunConfig run = {}) {
    if (run.http_bind == "127.0.0.1") run.http_bind = kAddr;
    http.addRoutes([&api](httplib::Server& s) { api.addRoutes(s); });
    // Free where it binds: a port free on 127.0.6.1 may be another test's on another loopback
    // address, which a wildcard bind (0.0.0.0) collides with.
    port = test::freeTcpPort(run.http_bind.c_str());
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
  // Without a dead-letter file or a store (a probe), those say so.
  r = c.Get("/api/ops/dead-letters", {{"Authorization", "Bearer ops-s3cret"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501);
  r = c.Post("/api/ops/people/import", {{"Authorization", "Bearer ops-s3cret"}}, "id\n",
             "text/csv");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501);
}

// --- dead letters: a real notifier, a real receiver

class DeadLetters : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mcn_ops_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    receiver_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      seen_.push_back(req.get_header_value("webhook-id"));
      res.status = accept_ ? 204 : 400;  // 400: "rejected", dead-lettered at once
    });
    rport_ = receiver_.bind_to_any_port(kAddr);
    ASSERT_GT(rport_, 0);
    rthread_ = std::thread([this] { receiver_.listen_after_bind(); });
    for (int i = 0; i < 500 && !receiver_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // bounded wait for the listener
    }
    ASSERT_TRUE(receiver_.is_running());

    subscribers::Person p;
    p.id = "e1013";
    p.name = "Zhang Wei";
    p.numbers = {"+862583001013"};
    subscribers::Channel ch;
    ch.id = "hook";
    ch.kind = subscribers::ChannelKind::kWebhook;
    ch.target = fmt::format("http://{}:{}/hook", kAddr, rport_);
    ::setenv("MCN_OPS_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
    ch.secret_ref = "env:MCN_OPS_WEBHOOK_SECRET";
    p.channels = {ch};
    p.prefs.merge_window_ms = 0;
    cfg_.dead_letter_path = (dir_ / "dead.jsonl").string();
    cfg_.delivery.max_attempts = 1;
    local_ = std::make_unique<notifier::LocalNotifier>(cfg_, subscribers::Directory::build({p}, 1),
                                                       nullptr, nullptr);
    store_ = std::make_unique<notifier::DeadLetterStore>(cfg_.dead_letter_path);
  }
  void TearDown() override {
    local_.reset();
    receiver_.stop();
    if (rthread_.joinable()) rthread_.join();
    fs::remove_all(dir_);
  }

  // A missed call to 1013, delivered until it is done (here: rejected, dead-lettered).
  void missedCall(const std::string& call_id, int64_t at_us) {
    calls::CallRecord r;
    r.call_id = call_id;
    r.call_ids = {call_id};
    r.caller = "+8613900101230";
    r.callee = "+862583001013";
    r.outcome = calls::Outcome::kCancelled;
    r.missed = true;
    r.started_at_us = at_us;
    r.ended_at_us = at_us + 5 * kSec;
    r.ring_ms = 5000;
    local_->onMissedCall(r, at_us + 5 * kSec);
    local_->advanceTo(at_us + 6 * kSec);
    drive([&] { return local_->pending() == 0; });
  }
  // The notifier thread's turn, until `done` (bounded: 10 s).
  template <typename F>
  bool drive(F done) {
    for (int i = 0; i < 10000; ++i) {
      if (done()) return true;
      retry_.serve(local_.get());
      local_->poll(1);
    }
    return done();
  }
  size_t seen() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }
  std::string seenKey(size_t i) {
    std::lock_guard lock(mu_);
    return seen_.at(i);
  }
  json list(httplib::Client& c, const std::string& q = "") {
    auto r = c.Get("/api/ops/dead-letters" + q);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body);
  }
  // POSTs on another thread while this one is the notifier thread.
  httplib::Result post(httplib::Client& c, const std::string& path,
                       const httplib::Headers& h = {}) {
    auto f = std::async(std::launch::async, [&] { return c.Post(path, h, "", "text/plain"); });
    drive([&] { return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready; });
    return f.get();
  }

  fs::path dir_;
  httplib::Server receiver_;
  int rport_ = 0;
  std::thread rthread_;
  std::mutex mu_;
  std::vector<std::string> seen_;
  bool accept_ = false;  // under mu_ in the handler: set before any request that depends on it
  notifier::NotifyConfig cfg_;
  std::unique_ptr<notifier::LocalNotifier> local_;
  std::unique_ptr<notifier::DeadLetterStore> store_;
  RetryHandoff retry_;
};

TEST_F(DeadLetters, RetryResendsWithTheOriginalKeyAndOnlyOnce) {
  missedCall("a@pbx", 1'795'000'000 * kSec);
  ASSERT_EQ(seen(), 1u);
  const std::string key = seenKey(0);
  ASSERT_EQ(key.size(), 32u);

  OpsStats stats;
  OpsApi::Seams seams;
  seams.dead_letters = store_.get();
  seams.retry = &retry_;
  OpsApi api(stats, seams);
  Served s;
  ASSERT_EQ(s.start(api), "");
  auto c = s.client();
  json l = list(c);
  ASSERT_EQ(l["dead_letters"].size(), 1u) << l.dump();
  const json& e = l["dead_letters"][0];
  EXPECT_EQ(e["state"], "dead");
  EXPECT_EQ(e["reason"], "rejected");
  EXPECT_EQ(e["person"], "e1013");
  EXPECT_EQ(e["channel"], "hook");
  EXPECT_EQ(e["idempotency_key"], key);
  EXPECT_EQ(e["calls"][0]["call_id"], "a@pbx");
  EXPECT_TRUE(e["can_retry"].get<bool>());
  const std::string id = e["id"];

  {
    std::lock_guard lock(mu_);
    accept_ = true;  // the receiver was fixed
  }
  auto r = post(c, "/api/ops/dead-letters/" + id + "/retry", {{"X-Mcn-Operator", "alice"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(json::parse(r->body)["idempotency_key"], key);
  ASSERT_TRUE(drive([&] { return seen() == 2 && local_->pending() == 0; }));
  EXPECT_EQ(seenKey(1), key) << "a retry carries the original idempotency key";

  // Listed as done, by whom; a second click is refused and sends nothing.
  EXPECT_EQ(list(c)["dead_letters"].size(), 0u);
  l = list(c, "?state=all");
  ASSERT_EQ(l["dead_letters"].size(), 1u);
  EXPECT_EQ(l["dead_letters"][0]["state"], "retried");
  EXPECT_EQ(l["dead_letters"][0]["done"]["by"], "alice");
  // The client's address (the kernel picks the loopback source: 127.0.0.1 or ours).
  EXPECT_TRUE(l["dead_letters"][0]["done"]["from"].get<std::string>().starts_with("127."))
      << l.dump();
  r = post(c, "/api/ops/dead-letters/" + id + "/retry");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_NE(r->body.find("retried already, by alice"), std::string::npos) << r->body;
  r = post(c, "/api/ops/dead-letters/" + id + "/discard");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  for (int i = 0; i < 50; ++i) {  // give a wrong second send every chance to show
    retry_.serve(local_.get());
    local_->poll(2);
  }
  EXPECT_EQ(seen(), 2u);
  // The action is on disk beside the file: a restarted mcn lists the same.
  notifier::DeadLetterStore again(cfg_.dead_letter_path);
  std::string err;
  auto found = again.find(id, err);
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->done);
  EXPECT_EQ(found->done->action, "retry");
}

TEST_F(DeadLetters, DiscardIsLoggedWithWhoAndSendsNothing) {
  missedCall("b@pbx", 1'795'000'000 * kSec);
  missedCall("c@pbx", 1'795'000'100 * kSec);
  ASSERT_EQ(seen(), 2u);
  OpsStats stats;
  OpsApi::Seams seams;
  seams.dead_letters = store_.get();
  seams.retry = &retry_;
  OpsApi api(stats, seams);
  Served s;
  ASSERT_EQ(s.start(api), "");
  auto c = s.client();
  json l = list(c);
  ASSERT_EQ(l["dead_letters"].size(), 2u);
  EXPECT_EQ(l["dead_letters"][0]["calls"][0]["call_id"], "c@pbx") << "newest first";
  EXPECT_EQ(list(c, "?limit=1&skip=1")["dead_letters"][0]["calls"][0]["call_id"], "b@pbx");
  const std::string id = l["dead_letters"][0]["id"];
  // A name typed in the operator console may be UTF-8 ("王芳"): kept as typed.
  auto r = post(c, "/api/ops/dead-letters/" + id + "/discard",
                {{"X-Mcn-Operator", "bob \xe7\x8e\x8b\xe8\x8a\xb3"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  l = list(c);
  ASSERT_EQ(l["dead_letters"].size(), 1u);
  EXPECT_EQ(l["dead_letters"][0]["calls"][0]["call_id"], "b@pbx");
  std::ifstream actions(cfg_.dead_letter_path + ".actions");
  std::string line;
  ASSERT_TRUE(std::getline(actions, line));
  auto a = json::parse(line);
  EXPECT_EQ(a["id"], id);
  EXPECT_EQ(a["action"], "discard");
  EXPECT_EQ(a["by"], "bob \xe7\x8e\x8b\xe8\x8a\xb3");
  EXPECT_EQ(seen(), 2u) << "a discard sends nothing";
}

TEST_F(DeadLetters, BadRequestsSayWhyAndChangeNothing) {
  missedCall("d@pbx", 1'795'000'000 * kSec);
  OpsStats stats;
  OpsApi::Seams seams;
  seams.dead_letters = store_.get();
  seams.retry = &retry_;
  OpsApi api(stats, seams);
  Served s;
  ASSERT_EQ(s.start(api), "");
  auto c = s.client();
  const std::string id = list(c)["dead_letters"][0]["id"];
  struct Case {
    std::string path;
    httplib::Headers headers;
    int status;
    std::string says;
  };
  const std::vector<Case> posts = {
      {"/api/ops/dead-letters/xyz/retry", {}, 400, "16 lower-case hex"},
      {"/api/ops/dead-letters/0123456789ABCDEF/retry", {}, 400, "16 lower-case hex"},
      {"/api/ops/dead-letters/0123456789abcdef/retry", {}, 404, "no dead letter"},
      {"/api/ops/dead-letters/" + id + "/discard",
       {{"X-Mcn-Operator", std::string(65, 'a')}},
       400,
       "X-Mcn-Operator"},
      {"/api/ops/dead-letters/" + id + "/discard",
       {{"X-Mcn-Operator",
         "b\x7f"
         "b"}},  // a control character (UTF-8 names are fine: the console's)
       400,
       "X-Mcn-Operator"},
  };
  for (const auto& p : posts) {
    auto r = post(c, p.path, p.headers);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, p.status) << p.path << ": " << r->body;
    EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find(p.says), std::string::npos)
        << r->body;
  }
  for (const char* q : {"?limit=0", "?limit=201", "?limit=x", "?skip=-1", "?state=gone",
                        "?limit=1&limit=2", "?sort=id"}) {
    auto r = c.Get(std::string("/api/ops/dead-letters") + q);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << q;
    EXPECT_TRUE(json::parse(r->body).contains("error"));
  }
  EXPECT_FALSE(fs::exists(cfg_.dead_letter_path + ".actions")) << "nothing was marked";
  json l = list(c);
  ASSERT_EQ(l["dead_letters"].size(), 1u);
  EXPECT_EQ(l["dead_letters"][0]["state"], "dead");
  EXPECT_EQ(seen(), 1u);
}

TEST_F(DeadLetters, APersonNoLongerSubscribedIsA409AndStaysDead) {
  missedCall("e@pbx", 1'795'000'000 * kSec);
  local_->setDirectory(subscribers::Directory::build({}, 2));
  OpsStats stats;
  OpsApi::Seams seams;
  seams.dead_letters = store_.get();
  seams.retry = &retry_;
  OpsApi api(stats, seams);
  Served s;
  ASSERT_EQ(s.start(api), "");
  auto c = s.client();
  const std::string id = list(c)["dead_letters"][0]["id"];
  auto r = post(c, "/api/ops/dead-letters/" + id + "/retry");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_NE(r->body.find("no longer in the subscribers directory"), std::string::npos) << r->body;
  EXPECT_EQ(list(c)["dead_letters"][0]["state"], "dead");
}

TEST(DeadLetterStore, TornAndHostileLinesAreCountedNotFatal) {
  fs::path dir = fs::temp_directory_path() / ("mcn_ops_dl_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "dead.jsonl").string();
  {
    std::ofstream f(path, std::ios::binary);
    f << "not json\n" << std::string(notifier::DeadLetterStore::kMaxLineBytes + 10, '{') << "\n";
    f << R"({"reason":"max_attempts","notification":{"person":"p"}})"
      << "\n";
    f << R"({"reason":"half a line)";  // being written: not yet a dead letter
  }
  notifier::DeadLetterStore store(path);
  notifier::DeadLetterPage page;
  std::string err;
  ASSERT_TRUE(store.list(0, 50, false, page, err)) << err;
  EXPECT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.unreadable, 2u);  // "not json", and the line beyond the bound
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_NE(page.entries[0].line.find("max_attempts"), std::string::npos);
  // No re-send copy: a retry says so.
  EXPECT_FALSE(notifier::deadLetterNotification(page.entries[0].line, err));
  EXPECT_NE(err.find("re-send it by hand"), std::string::npos);
  {
    std::ofstream f(path, std::ios::app);
    f << R"(","notification":{"person":"q"}})"
      << "\n";  // the half line completed
  }
  ASSERT_TRUE(store.list(0, 50, false, page, err)) << err;
  EXPECT_EQ(page.entries.size(), 2u);
  fs::remove_all(dir);
}

// --- people import

class PeopleImport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mcn_ops_people_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "people.toml").string();
    cfg_ = loadConfigFile(std::string(MCN_SOURCE_DIR) + "/pcaps/fixtures.toml");
    plan_ = std::make_unique<sipparse::DialPlan>(cfg_.parser.dial_plan);
    std::ofstream(path_) << "[[person]]\nid = \"e1\"\nname = \"Li Lei\"\nnumbers = [\"1011\"]\n"
                            "[[person.channel]]\nid = \"c\"\nkind = \"console\"\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string fileText() {
    std::ifstream f(path_);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  fs::path dir_;
  std::string path_;
  Config cfg_;
  std::unique_ptr<sipparse::DialPlan> plan_;
};

TEST_F(PeopleImport, ACsvIsImportedWhole) {
  FilePeopleStore store(path_, *plan_);
  OpsStats stats;
  OpsApi::Seams seams;
  seams.import_people = [&](const std::string& csv) { return importPeopleCsv(csv, store, *plan_); };
  OpsApi api(stats, seams);
  Served s;
  ASSERT_EQ(s.start(api), "");
  auto c = s.client();
  auto r = c.Post(
      "/api/ops/people/import",
      "id,name,numbers,channel_kind\ne2,Han Meimei,1012,console\ne3,Wang Fang,1013;1014,console\n",
      "text/csv; charset=utf-8");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["imported"], 2);
  auto people = subscribers::loadTomlFile(path_, *plan_);
  ASSERT_EQ(people.size(), 3u);
  EXPECT_EQ(people[2].id, "e3");
  EXPECT_EQ(people[2].numbers.size(), 2u);
  EXPECT_EQ(people[2].numbers[0], "+862583001013") << "numbers normalised by the dial plan";
}

TEST_F(PeopleImport, BadCsvIsRefusedWithEveryBadLineAndNothingWritten) {
  FilePeopleStore store(path_, *plan_);
  OpsStats stats;
  OpsApi::Seams seams;
  seams.import_people = [&](const std::string& csv) { return importPeopleCsv(csv, store, *plan_); };
  OpsApi api(stats, seams);
  Served s;
  ASSERT_EQ(s.start(api), "");
  auto c = s.client();
  const std::string before = fileText();
  // Row 3 has no id, row 4 a number that is no number; row 2 is fine but nothing is imported.
  auto r = c.Post("/api/ops/people/import",
                  "id,name,numbers,channel_kind\ne2,Han Meimei,1012,console\n,Nobody,1015,console\n"
                  "e4,Bad,not-a-number,console\n",
                  "text/csv");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 400) << r->body;
  auto j = json::parse(r->body);
  ASSERT_GE(j["lines"].size(), 2u) << r->body;
  EXPECT_NE(j["lines"][0].get<std::string>().find("row 3"), std::string::npos) << r->body;
  EXPECT_NE(j["lines"][1].get<std::string>().find("row 4"), std::string::npos) << r->body;
  EXPECT_EQ(fileText(), before);
  // A number another stored person owns: the whole import is refused too.
  r = c.Post("/api/ops/people/import", "id,name,numbers,channel_kind\ne5,Dup,1011,console\n",
             "text/csv");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(fileText(), before);
  // Not CSV, empty, too big.
  r = c.Post("/api/ops/people/import", R"({"id":"e6"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  r = c.Post("/api/ops/people/import", "", "text/csv");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = c.Post("/api/ops/people/import", std::string(OpsApi::kMaxImportBytes + 1, 'x'), "text/csv");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(fileText(), before);
}

TEST_F(PeopleImport, ACsvSubscribersFileIsNeverRewrittenNorOffered) {
  // An HR export as the subscribers file, its extension in any case: read, never rewritten.
  const std::string text = "id,name,numbers,channel_kind\ne1,Li Lei,1011,console\n";
  const std::string csv = (dir_ / "hr-export.Csv").string();
  std::ofstream(csv) << text;
  ApiReply r =
      importPeopleInto(cfg_, csv, false, "id,name,numbers,channel_kind\ne2,Han,1012,console\n");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("does not rewrite"), std::string::npos) << r.body;
  std::ifstream f(csv);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), text);
  // The console offers the import only where it can write.
  EXPECT_FALSE(peopleImportable(cfg_, csv, false));
  EXPECT_TRUE(peopleImportable(cfg_, csv, true)) << "Redis is the store then, not the file";
  EXPECT_TRUE(peopleImportable(cfg_, path_, false));
  Config none = cfg_;
  none.run.subscribers.clear();
  EXPECT_FALSE(peopleImportable(none, "", false));
  none.run.subscribers = path_;
  EXPECT_TRUE(peopleImportable(none, "", false)) << "[run] subscribers when no --subscribers";
}

TEST(OpsSeamsOver, TheConsoleReadsTheApiAndSaysStartingUntilItIsOpen) {
  OpsStats stats;
  OpsApi::Seams seams;
  seams.levels = [] { return OpsLevels{}; };
  std::unique_ptr<OpsApi> api;
  web::OpsSeams ops = opsSeamsOver([&] { return api.get(); }, false, true);
  EXPECT_FALSE(ops.dead_letters) << "not served here: the page says so";
  EXPECT_FALSE(ops.act_on_dead_letter);
  ASSERT_TRUE(ops.stats);
  ASSERT_TRUE(ops.import_people);
  EXPECT_EQ(ops.stats().status, 503);
  EXPECT_EQ(ops.import_people("id\n").status, 503);
  api = std::make_unique<OpsApi>(stats, seams);
  EXPECT_EQ(ops.stats().status, 200);
  EXPECT_EQ(ops.import_people("id\n").status, 501) << "the API has no store to import into";
  web::OpsSeams with_dead = opsSeamsOver([&] { return api.get(); }, true, false);
  ASSERT_TRUE(with_dead.dead_letters);
  EXPECT_FALSE(with_dead.import_people);
  EXPECT_EQ(with_dead.dead_letters({}).status, 501) << "no dead-letter store in this API";
}

}  // namespace
}  // namespace mcn::app
