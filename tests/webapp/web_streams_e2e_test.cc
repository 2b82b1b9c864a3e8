// The web console on a [streams] deployment (README "Web console", "On a [streams] deployment"):
// `mcn run --role notifier` with [web] enabled, a probe (`mcn replay --role probe` of
// sipp_busy: +862584561234 calls 1015, busy) and one real redis-server on a free loopback port
// (tests/app/streams_deployment.h). Wu Fang (1015) is told through two webhooks on 127.0.0.1:
// "hook" (the test's receiver, the first channel: her sign-in links go there) and "pager" (a
// port nobody listens on). A sign-in link is used once among all the notifiers. Everything over
// HTTP as a browser does it: cookies, CSRF tokens, redirects not followed.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../app/streams_deployment.h"
#include "../web/page_reads.h"

namespace mcn::app {
namespace {

using json = nlohmann::json;

const std::string kSigninKey = "web-streams-e2e-signin-key-0123";
const std::string kOpsToken = "web-streams-e2e-operators-4711";
const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// A loopback webhook receiver: every POST it got (body and webhook-id), answered 200.
class Receiver {
 public:
  ~Receiver() { stop(); }
  bool start(int port) {
    // One request per connection: stop() does not wait out a keep-alive mcn's libcurl holds.
    server_.set_keep_alive_max_count(1);
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      got_.push_back({req.get_header_value("webhook-id"), json::parse(req.body, nullptr, false)});
      res.status = 200;
    });
    if (!server_.bind_to_port("127.0.0.1", port)) return false;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
    return true;
  }
  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  struct Got {
    std::string id;
    json body;
  };
  std::vector<Got> got() {
    std::lock_guard lock(mu_);
    return got_;
  }
  // Waits (bounded) until `n` requests arrived; what arrived.
  std::vector<Got> waitFor(size_t n) {
    for (int i = 0; i < 100 && got().size() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return got();
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Got> got_;
};

using web::test::cookieFrom;
using web::test::hiddenCsrf;

class WebStreams : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.open(std::string("mcn_web_streams_") +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                        "[notify]\nmax_attempts = 2\nbackoff_base_ms = 20\nbackoff_cap_ms = 50\n"
                        "connect_timeout_ms = 500\ntotal_timeout_ms = 2000\n"
                        "[web]\nenabled = true\nbase_url = \"http://127.0.0.1/\"\n"
                        "signin_key_ref = \"env:MCN_WS_KEY\"\n"
                        "operator_token_ref = \"env:MCN_WS_OPS\"\n",
                        /*persistent=*/true));
    hook_ = mcn::test::freeTcpPort("127.0.0.1");
    const int pager = mcn::test::freeTcpPort("127.0.0.1");
    ASSERT_NE(hook_, 0);
    ASSERT_NE(pager, 0);
    auto channel = [](const char* id, int port) {
      return "[[person.channel]]\nid = \"" + std::string(id) +
             "\"\nkind = \"webhook\"\ntarget = \"http://127.0.0.1:" + std::to_string(port) +
             "/hook\"\nsecret_ref = \"env:MCN_WS_SECRET\"\n";
    };
    std::ofstream(d_.subscribers())
        << "[[person]]\nid = \"e1015\"\nname = \"Wu Fang\"\nnumbers = [\"1015\"]\n"
        << "[person.preferences]\nmerge_window = \"0\"\nmin_ring = \"0\"\nlanguage = \"en\"\n"
        << channel("hook", hook_) << channel("pager", pager);
  }
  bool startNotifier(int k) {
    return d_.startNotifier(
        k, {{"MCN_WS_KEY", kSigninKey}, {"MCN_WS_OPS", kOpsToken}, {"MCN_WS_SECRET", kSecret}});
  }
  // An operator's session cookie on notifier k (signed in with the token, as `name`).
  std::string operatorCookie(int k, const std::string& name) {
    auto c = d_.client(k);
    auto form = c->Get("/ops/signin");
    if (!form) return {};
    auto r = c->Post(
        "/ops/signin", {{"Cookie", "mcn_form=" + cookieFrom(form, "mcn_form")}},
        httplib::Params{{"csrf", hiddenCsrf(form->body)}, {"name", name}, {"token", kOpsToken}});
    if (!r || r->status != 303) return {};
    return "mcn_session=" + cookieFrom(r, "mcn_session");
  }
  // The dead letters notifier k lists (GET /api/ops/dead-letters), waiting (bounded) for `n`.
  json deadLetters(int k, size_t n, const std::string& state = "dead") {
    json j;
    for (int i = 0; i < 100; ++i) {
      auto r = d_.client(k)->Get("/api/ops/dead-letters", httplib::Params{{"state", state}},
                                 httplib::Headers{});
      j = r && r->status == 200 ? json::parse(r->body) : json();
      if (j.is_object() && j["dead_letters"].size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return j;
  }

  test::StreamsDeployment d_;
  Receiver receiver_;
  int hook_ = 0;
};

TEST_F(WebStreams, StaffSignInThroughTheirWebhookAndSeeTheirMissedCallOnMe) {
  ASSERT_TRUE(receiver_.start(hook_));
  ASSERT_TRUE(startNotifier(0)) << d_.log(0);
  auto probe = d_.probe({"sipp_busy.pcap"});
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  // The missed call's notification on her hook.
  auto got = receiver_.waitFor(1);
  ASSERT_EQ(got.size(), 1u) << d_.log(0);
  EXPECT_EQ(got[0].body["type"], "call.missed");

  // She asks for a link on the notifier's console; it comes through her own first channel.
  auto c = d_.client(0);
  auto form = c->Get("/signin");
  ASSERT_EQ(form->status, 200);
  auto asked = c->Post("/signin", {{"Cookie", "mcn_form=" + cookieFrom(form, "mcn_form")}},
                       httplib::Params{{"csrf", hiddenCsrf(form->body)}, {"person", "e1015"}});
  ASSERT_TRUE(asked);
  EXPECT_EQ(asked->status, 200);
  got = receiver_.waitFor(2);
  ASSERT_EQ(got.size(), 2u) << d_.log(0);
  EXPECT_EQ(got[1].body["type"], "message");
  const std::string text = got[1].body["data"].value("text", "");
  const auto at = text.find("/signin/link/");
  ASSERT_NE(at, std::string::npos) << text;
  const std::string link = text.substr(at, text.find_first_of(" \n", at) - at);

  // The confirm page, then its POST: a session, and /me.
  auto confirm = c->Get(link);
  ASSERT_EQ(confirm->status, 200);
  auto in = c->Post(link, {{"Cookie", "mcn_form=" + cookieFrom(confirm, "mcn_form")}},
                    httplib::Params{{"csrf", hiddenCsrf(confirm->body)}});
  ASSERT_EQ(in->status, 303);
  const std::string session = "mcn_session=" + cookieFrom(in, "mcn_session");
  // The same link once more on another notifier (a proxy in front sends each request anywhere):
  // used already, no session.
  ASSERT_TRUE(startNotifier(1)) << d_.log(1);
  auto c1 = d_.client(1);
  auto confirm1 = c1->Get(link);
  ASSERT_EQ(confirm1->status, 200);
  auto twice = c1->Post(link, {{"Cookie", "mcn_form=" + cookieFrom(confirm1, "mcn_form")}},
                        httplib::Params{{"csrf", hiddenCsrf(confirm1->body)}});
  EXPECT_EQ(twice->status, 410);
  EXPECT_EQ(cookieFrom(twice, "mcn_session"), "");
  EXPECT_NE(twice->body.find("This sign-in link was used already."), std::string::npos);
  // Her missed call, from this notifier's replica of the shared history (the probe's record and
  // this notifier's steps reach it through Redis).
  std::string me;
  for (int i = 0; i < 100; ++i) {
    auto page = c->Get("/me", {{"Cookie", session}});
    ASSERT_EQ(page->status, 200);
    me = page->body;
    if (me.find("+862584561234") != std::string::npos && me.find("<td>hook") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(me.find("Wu Fang"), std::string::npos);
  EXPECT_NE(me.find("+862584561234"), std::string::npos) << me;
  EXPECT_NE(me.find("+862583001015"), std::string::npos);
  EXPECT_NE(me.find("<td>busy</td>"), std::string::npos);
  EXPECT_NE(me.find("<td>hook"), std::string::npos) << me;  // where she was told

  // She wants her alerts in Chinese, in UTC: the subscribers file is rewritten, and this
  // notifier's delivery renders her next missed call (sipp_topoh_busy, 1015 busy again) so.
  // (The second notifier would read the file on SIGHUP only: it stops first, so this one renders.)
  d_.notifier(1).signal(SIGTERM);
  ASSERT_EQ(d_.notifier(1).exitCode(), 0) << d_.log(1);
  const std::string csrf = hiddenCsrf(me);
  auto saved = c->Post("/me/preferences", {{"Cookie", session}},
                       httplib::Params{{"csrf", csrf},
                                       {"which", "missed"},
                                       {"internal_calls", "on"},
                                       {"external_calls", "on"},
                                       {"withheld_callers", "on"},
                                       {"min_ring", "0"},
                                       {"merge_window", "0"},
                                       {"quiet_start", "22:00"},
                                       {"quiet_end", "07:30"},
                                       {"quiet_action", "hold"},
                                       {"language", "zh"},
                                       {"time_zone", "UTC"}});
  ASSERT_TRUE(saved);
  ASSERT_LT(saved->status, 400) << saved->body;
  EXPECT_NE(test::StreamsDeployment::slurp(d_.subscribers()).find("time_zone = \"UTC\""),
            std::string::npos);
  auto next = d_.probe({"sipp_topoh_busy.pcap"});
  ASSERT_EQ(next.exit_code, 0) << next.err;
  got = receiver_.waitFor(3);
  ASSERT_EQ(got.size(), 3u) << d_.log(0) << d_.log(1);
  EXPECT_EQ(got[2].body["type"], "call.missed");
  EXPECT_NE(got[2].body["data"].value("title", "").find("未接来电"), std::string::npos)
      << got[2].body.dump();
  EXPECT_NE(got[2].body["data"].value("text", "").find("23:29"), std::string::npos);

  // The operator's view on this role: figures it has, the probes' ones said to be elsewhere, the
  // call from the replica, its ladder pointed at the probes.
  const std::string op = operatorCookie(0, "Li Lei");
  ASSERT_FALSE(op.empty());
  auto ops = c->Get("/ops", {{"Cookie", op}});
  ASSERT_EQ(ops->status, 200);
  EXPECT_NE(ops->body.find("<th scope=\"row\">capture</th><td>not here: counted by the probes"),
            std::string::npos)
      << ops->body;
  EXPECT_NE(ops->body.find("<th scope=\"row\">redis.streams.health</th><td>ok</td>"),
            std::string::npos);
  // In the reader's language, on the page and in the figures its script refreshes.
  auto zh = c->Get("/ops", {{"Cookie", op}, {"Accept-Language", "zh-CN,zh;q=0.9"}});
  ASSERT_EQ(zh->status, 200);
  EXPECT_NE(zh->body.find("<th scope=\"row\">capture</th><td>不在此处：由探针统计"),
            std::string::npos)
      << zh->body;
  auto zh_live = c->Get("/ops/stats.json", {{"Cookie", op}, {"Accept-Language", "zh-CN"}});
  ASSERT_EQ(zh_live->status, 200);
  EXPECT_EQ(json::parse(zh_live->body).value("sip", ""),
            "不在此处：由探针统计（见其 /api/ops/stats）");
  EXPECT_EQ(ops->body.find("frames_per_s"), std::string::npos);
  // Its own deliveries (sampled once a second).
  json stats;
  for (int i = 0; i < 60; ++i) {
    stats = json::parse(c->Get("/api/ops/stats")->body);
    if (stats["deliveries"]["channels"].contains("webhook")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(stats["sip"].is_string());
  EXPECT_TRUE(stats["capture"].is_string());
  EXPECT_EQ(stats["sources"], json::array());
  ASSERT_TRUE(stats["deliveries"]["channels"].contains("webhook")) << stats.dump();
  EXPECT_GE(stats["deliveries"]["channels"]["webhook"]["ok_total"], 2);  // the call, the link
  auto call = c->Get("/ops/call?id=1-12490-busy@127.0.0.20", {{"Cookie", op}});
  ASSERT_EQ(call->status, 200);
  EXPECT_NE(call->body.find("+862584561234"), std::string::npos);
  EXPECT_NE(call->body.find("the messages are held by the probes: their "
                            "/api/calls/&lt;id&gt;/ladder (501)"),
            std::string::npos)
      << call->body;
}

TEST_F(WebStreams, OperatorsRetryOrDiscardEachDeadLetterOfTheStreamOnce) {
  // Both of her webhooks down: the missed call's two notifications exhaust their two attempts
  // and go to mcn:dead.
  ASSERT_TRUE(startNotifier(0)) << d_.log(0);
  ASSERT_TRUE(startNotifier(1)) << d_.log(1);
  auto probe = d_.probe({"sipp_busy.pcap"});
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  json list = deadLetters(0, 2);
  ASSERT_EQ(list["dead_letters"].size(), 2u) << list.dump() << d_.log(0) << d_.log(1);
  EXPECT_EQ(list["total"], 2);
  std::string hook_id, pager_id;
  for (const auto& e : list["dead_letters"]) {
    EXPECT_EQ(e["state"], "dead");
    EXPECT_EQ(e["person"], "e1015");
    EXPECT_EQ(e["reason"], "max_attempts");
    EXPECT_EQ(e["can_retry"], true);
    EXPECT_EQ(e["calls"][0]["call_id"], "1-12490-busy@127.0.0.20");
    (e["channel"] == "hook" ? hook_id : pager_id) = e["id"].get<std::string>();
  }
  ASSERT_FALSE(hook_id.empty());
  ASSERT_FALSE(pager_id.empty());
  EXPECT_EQ(deadLetters(1, 2)["dead_letters"], list["dead_letters"]);  // the same on both

  // Her hook is up now. Li Lei retries it on the first notifier's /ops: delivered once.
  ASSERT_TRUE(receiver_.start(hook_));
  const std::string li = operatorCookie(0, "Li Lei"), han = operatorCookie(1, "Han Mei");
  ASSERT_FALSE(li.empty());
  ASSERT_FALSE(han.empty());
  auto c0 = d_.client(0), c1 = d_.client(1);
  auto page = c0->Get("/ops", {{"Cookie", li}});
  ASSERT_EQ(page->status, 200);
  ASSERT_NE(page->body.find("action=\"/ops/dead-letters/" + hook_id + "/retry\""),
            std::string::npos)
      << page->body;
  const std::string csrf0 = hiddenCsrf(page->body);
  auto retried = c0->Post("/ops/dead-letters/" + hook_id + "/retry", {{"Cookie", li}},
                          httplib::Params{{"csrf", csrf0}});
  ASSERT_EQ(retried->status, 303) << retried->body;
  EXPECT_NE(retried->get_header_value("Location").find("done=retry"), std::string::npos);
  EXPECT_NE(retried->get_header_value("Location").find(hook_id + "#dead"), std::string::npos);
  auto got = receiver_.waitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, list["dead_letters"][hook_id == list["dead_letters"][0]["id"] ? 0 : 1]
                           ["idempotency_key"]);  // the original key: the receiver can dedupe

  // Han Mei, on the other notifier, clicks retry on the same letter (her page was older): 409,
  // who did it and when; nothing sent again.
  auto page1 = c1->Get("/ops", {{"Cookie", han}});
  auto again = c1->Post("/ops/dead-letters/" + hook_id + "/retry", {{"Cookie", han}},
                        httplib::Params{{"csrf", hiddenCsrf(page1->body)}});
  ASSERT_EQ(again->status, 409);
  EXPECT_NE(again->body.find("was retried already, by Li Lei at 20"), std::string::npos)
      << again->body;
  // The JSON API the same (the notifier role serves it too).
  auto api_again = c1->Post("/api/ops/dead-letters/" + hook_id + "/discard", "", "text/plain");
  EXPECT_EQ(api_again->status, 409);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(receiver_.got().size(), 1u);

  // She discards the pager's; then only the state=all list shows them, each with who and when.
  auto discarded = c1->Post("/ops/dead-letters/" + pager_id + "/discard", {{"Cookie", han}},
                            httplib::Params{{"csrf", hiddenCsrf(page1->body)}});
  ASSERT_EQ(discarded->status, 303) << discarded->body;
  EXPECT_EQ(deadLetters(0, 0)["dead_letters"].size(), 0u);
  EXPECT_EQ(deadLetters(0, 0)["total"], 0);
  json all = deadLetters(0, 2, "all");
  ASSERT_EQ(all["dead_letters"].size(), 2u);
  for (const auto& e : all["dead_letters"]) {
    const bool hook = e["id"] == hook_id;
    EXPECT_EQ(e["state"], hook ? "retried" : "discarded");
    EXPECT_EQ(e["done"]["by"], hook ? "Li Lei" : "Han Mei");
    EXPECT_EQ(e["can_retry"], false);
  }
  EXPECT_NE(d_.log(0).find("retried by Li Lei from 127.0.0.1"), std::string::npos) << d_.log(0);
  EXPECT_NE(d_.log(1).find("discarded by Han Mei from 127.0.0.1"), std::string::npos);
  EXPECT_EQ(receiver_.got().size(), 1u);

  // Bad ids are refused before Redis is asked.
  EXPECT_EQ(c0->Post("/api/ops/dead-letters/17x-0/retry", "", "text/plain")->status, 400);
  EXPECT_EQ(c0->Post("/api/ops/dead-letters/1-2-3/retry", "", "text/plain")->status, 400);
  EXPECT_EQ(c0->Post("/api/ops/dead-letters/1-0/retry", "", "text/plain")->status, 404);
}

TEST_F(WebStreams, WithRedisDownNothingIsSentOrClaimedAndTheRetryWorksOnceItIsBack) {
  ASSERT_TRUE(startNotifier(0)) << d_.log(0);
  auto probe = d_.probe({"sipp_busy.pcap"});
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  json list = deadLetters(0, 2);
  ASSERT_EQ(list["dead_letters"].size(), 2u) << list.dump() << d_.log(0);
  ASSERT_TRUE(receiver_.start(hook_));
  // Her hook's letter (the receiver is up for it now; the pager never is).
  std::string id;
  for (const auto& e : list["dead_letters"]) {
    if (e["channel"] == "hook") id = e["id"];
  }
  ASSERT_FALSE(id.empty()) << list.dump();
  const std::string op = operatorCookie(0, "Li Lei");
  ASSERT_FALSE(op.empty());
  auto c = d_.client(0);
  auto page = c->Get("/ops", {{"Cookie", op}});
  const std::string csrf = hiddenCsrf(page->body);

  d_.redis().stop();
  auto listed = c->Get("/api/ops/dead-letters");
  ASSERT_EQ(listed->status, 503);
  EXPECT_NE(listed->body.find("unreachable"), std::string::npos) << listed->body;
  for (const char* action : {"retry", "discard"}) {
    auto r = c->Post("/ops/dead-letters/" + id + "/" + action, {{"Cookie", op}},
                     httplib::Params{{"csrf", csrf}});
    ASSERT_EQ(r->status, 503) << action;
    EXPECT_NE(r->body.find("nothing was changed"), std::string::npos) << r->body;
  }
  // The page says so in its dead-letter part, and still serves the rest.
  auto down = c->Get("/ops", {{"Cookie", op}});
  ASSERT_EQ(down->status, 200);
  EXPECT_NE(down->body.find("unreachable"), std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(receiver_.got().size(), 0u);  // nothing re-sent
  EXPECT_EQ(d_.log(0).find("retried by"), std::string::npos);
  EXPECT_EQ(d_.log(0).find("discarded by"), std::string::npos);

  // Redis back (with its data): both letters still dead, no claim left behind; the retry now
  // goes through, once.
  ASSERT_TRUE(d_.restartRedis());
  json back = deadLetters(0, 2);
  ASSERT_EQ(back["dead_letters"].size(), 2u) << back.dump();
  EXPECT_EQ(back["dead_letters"], list["dead_letters"]);
  EXPECT_EQ(deadLetters(0, 2, "all")["dead_letters"], list["dead_letters"]);
  auto retried = c->Post("/ops/dead-letters/" + id + "/retry", {{"Cookie", op}},
                         httplib::Params{{"csrf", csrf}});
  ASSERT_EQ(retried->status, 303) << retried->body;
  EXPECT_EQ(receiver_.waitFor(1).size(), 1u);
}

}  // namespace
}  // namespace mcn::app
