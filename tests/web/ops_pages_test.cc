// The web console's operator pages over real HTTP on loopback (web/src/ops_pages.cc): sign-in
// with the operators' token, the page's parts rendered from the JSON APIs' answers (OpsSeams, the
// tests' own here), the actions' CSRF tokens and who is logged, and that staff and operator
// sessions do not open each other's pages. Time is a variable, nothing sleeps.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "console_server.h"
#include "mcn/web/console.h"

namespace mcn::web {
namespace {

constexpr int64_t kT0 = 1'796'000'020'000;  // 20 s into a minute
const std::string kToken = "operators-token-4711-abcdef";

class OpsPagesTest : public test::ConsoleServer {
 protected:
  void start(bool with_token = true) {
    ConsoleSeams seams;
    seams.now_ms = [this] { return now_.load(); };
    seams.person_exists = [](const std::string& p) { return p == "e1024"; };
    seams.language = [](const std::string&) { return std::string("en"); };
    seams.send_link = [this](const std::string&, const std::string& url) {
      std::lock_guard lock(mu_);
      link_ = url.substr(std::string("http://127.0.0.1").size());
      return true;
    };
    seams.missed_calls = [](const std::string&) { return std::vector<MissedCallView>{}; };
    seams.save_person = [this](const subscribers::Person&, const std::string&) {
      ++saved_;
      return std::string();
    };
    if (with_token) seams.ops.token = kToken;
    seams.ops.stats = [] {
      return JsonAnswer{200, R"({"frames_per_s":1250.5,"open_calls":17,)"
                             R"("channels":[{"channel":"hook","ok":3,"dead":1}]})"};
    };
    seams.ops.search = [this](const Params& p) {
      std::lock_guard lock(mu_);
      searched_ = p;
      if (!p.empty() && p[0].first == "number" && p[0].second == "bad") {
        return JsonAnswer{400, R"({"error":"number: not a number"})"};
      }
      return JsonAnswer{200, R"({"calls":[{"call_id":"c1@x","caller":"+8613900101230",)"
                             R"("caller_name":"Li <b>Lei</b>","callee":"+862583001013",)"
                             R"("outcome":"no_answer","ring_ms":21500,"person":"e1024",)"
                             R"("started_at":"2026-12-07T06:21:35.053Z"}],"next_cursor":"9.1"})"};
    };
    seams.ops.call = [](const std::string& id) {
      if (id != "c1@x") return JsonAnswer{404, R"({"error":"no such call"})"};
      return JsonAnswer{200, R"({"records":[{"call_id":"c1@x","outcome":"no_answer",)"
                             R"("caller":"+8613900101230"}],"notifications":[{"person_name":)"
                             R"("Li Lei","channel":"hook","channel_kind":"webhook",)"
                             R"("status":"delivered","attempts":1,"last_error":""}]})"};
    };
    seams.ops.ladder = [](const std::string& id) {
      if (id == "c1@x") return JsonAnswer{200, "INVITE sip:<1013>@x\n  100 Trying\n"};
      return JsonAnswer{410, R"({"error":"its messages were evicted"})"};
    };
    seams.ops.dead_letters = [](const Params&) {
      return JsonAnswer{200, R"({"dead_letters":[{"id":"00000000000000aa","state":"dead",)"
                             R"("at":"2026-12-07T06:00:00Z","person":"e1024","person_name":)"
                             R"("Li Lei","channel":"hook","channel_kind":"webhook","reason":)"
                             R"("http 404","error":"","can_retry":true}]})"};
    };
    seams.ops.act_on_dead_letter = [this](const std::string& id, const std::string& action,
                                          const std::string& who, const std::string& from) {
      std::lock_guard lock(mu_);
      acted_.push_back(id + " " + action + " by " + who + " from " + from);
      return JsonAnswer{202, R"({"ok":true})"};
    };
    seams.ops.import_people = [this](const std::string& csv) {
      std::lock_guard lock(mu_);
      imported_.push_back(csv);
      if (csv.find("bad") != std::string::npos) {
        return JsonAnswer{400, R"({"error":"nothing imported","errors":["line 2: bad number"]})"};
      }
      return JsonAnswer{200, R"({"imported":2})"};
    };
    ConsoleOptions opt;
    opt.base_url = "http://127.0.0.1/";
    serve(std::make_unique<WebConsole>(links_, opt, std::move(seams)));
  }
  // The operator sign-in form posted with `token`; the answer.
  httplib::Result postSignin(const std::string& token, const std::string& name = "Alice") {
    auto c = client();
    auto form = c.Get("/ops/signin");
    httplib::Headers h{{"Cookie", std::string(kFormCookie) + "=" + cookieFrom(form, kFormCookie)}};
    return c.Post(
        "/ops/signin", h,
        httplib::Params{{"csrf", hiddenCsrf(form->body)}, {"name", name}, {"token", token}});
  }
  // Signed in as an operator: the session cookie header.
  httplib::Headers asOperator() {
    auto r = postSignin(kToken);
    EXPECT_EQ(r->status, 303);
    EXPECT_EQ(r->get_header_value("Location"), "/ops");
    return {{"Cookie", std::string(kSessionCookie) + "=" + cookieFrom(r, kSessionCookie)}};
  }
  httplib::Headers asStaff() {
    auto c = client();
    auto form = c.Get("/signin");
    httplib::Headers h{{"Cookie", std::string(kFormCookie) + "=" + cookieFrom(form, kFormCookie)}};
    c.Post("/signin", h, httplib::Params{{"csrf", hiddenCsrf(form->body)}, {"person", "e1024"}});
    std::string link;
    {
      std::lock_guard lock(mu_);
      link = link_;
    }
    auto confirm = c.Get(link);
    httplib::Headers h2{
        {"Cookie", std::string(kFormCookie) + "=" + cookieFrom(confirm, kFormCookie)}};
    auto in = c.Post(link, h2, httplib::Params{{"csrf", hiddenCsrf(confirm->body)}});
    EXPECT_EQ(in->status, 303);
    return {{"Cookie", std::string(kSessionCookie) + "=" + cookieFrom(in, kSessionCookie)}};
  }

  std::atomic<int64_t> now_{kT0};
  SignInLinks links_{"0123456789abcdef-console-key", SignInLimits{}};
  std::mutex mu_;
  std::string link_;
  Params searched_;
  std::vector<std::string> acted_, imported_;
  std::atomic<int> saved_{0};
};

TEST_F(OpsPagesTest, WithoutAnOperatorTokenThePagesAreOff) {
  start(/*with_token=*/false);
  auto c = client();
  auto form = c.Get("/ops/signin");
  EXPECT_EQ(form->status, 404);
  EXPECT_NE(form->body.find("web.operator_token_ref"), std::string::npos);
  // Not even an empty token signs in.
  EXPECT_EQ(postSignin("")->status, 404);
  EXPECT_EQ(c.Get("/ops")->get_header_value("Location"), "/ops/signin");
}

TEST_F(OpsPagesTest, AWrongTokenIsRefusedAndGuessingIsLimited) {
  start();
  auto wrong = postSignin("operators-token-4711-abcdeX");
  EXPECT_EQ(wrong->status, 403);
  EXPECT_EQ(cookieFrom(wrong, kSessionCookie), "");
  EXPECT_NE(wrong->body.find("That token is not right."), std::string::npos);
  EXPECT_EQ(postSignin("")->status, 403);
  for (int i = 2; i < WebConsole::kOpsFailuresPerMinute; ++i) postSignin("guess");
  // The limit reached: the right token waits for the next minute too.
  EXPECT_EQ(postSignin(kToken)->status, 429);
  now_ += 60'000;
  EXPECT_EQ(postSignin(kToken)->status, 303);
}

TEST_F(OpsPagesTest, ANameIsNeededForTheChangeLog) {
  start();
  EXPECT_EQ(postSignin(kToken, "")->status, 403);
  EXPECT_EQ(postSignin(kToken, std::string(65, 'a'))->status, 403);
  EXPECT_EQ(postSignin(kToken, "Alice\nInjected")->status, 403);
}

TEST_F(OpsPagesTest, ThePageShowsLiveFiguresAndLoadsOnlyItsOwnScript) {
  start();
  auto c = client();
  EXPECT_EQ(c.Get("/ops")->get_header_value("Location"), "/ops/signin");
  auto page = c.Get("/ops", asOperator());
  ASSERT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("Alice"), std::string::npos);
  EXPECT_NE(page->body.find("<th scope=\"row\">frames_per_s</th><td>1250.5</td>"),
            std::string::npos);
  EXPECT_NE(page->body.find("<th scope=\"row\">channels[hook].dead</th><td>1</td>"),
            std::string::npos);
  EXPECT_NE(page->body.find("<script src=\"/ops/live.js\" defer></script>"), std::string::npos);
  const std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline'; script"), std::string::npos);
  auto js = c.Get("/ops/live.js");
  EXPECT_EQ(js->status, 200);
  EXPECT_NE(js->body.find("/ops/stats.json"), std::string::npos);
  EXPECT_EQ(js->body.find("innerHTML"), std::string::npos);  // the answer's text is never markup
}

TEST_F(OpsPagesTest, TheFiguresAsJsonOnlyForAnOperatorSession) {
  start();
  auto c = client();
  EXPECT_EQ(c.Get("/ops/stats.json")->status, 401);
  EXPECT_EQ(c.Get("/ops/stats.json", asStaff())->status, 401);
  auto j = c.Get("/ops/stats.json", asOperator());
  EXPECT_EQ(j->status, 200);
  EXPECT_NE(j->body.find("\"open_calls\":17"), std::string::npos);
}

TEST_F(OpsPagesTest, SearchPassesTheFormsFieldsAndShowsTheCallsEscaped) {
  start();
  auto c = client();
  auto r = c.Get("/ops?number=1013&person=&call_id=&outcome=missed", asOperator());
  ASSERT_EQ(r->status, 200);
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(searched_, (Params{{"number", "1013"}, {"outcome", "missed"}, {"limit", "50"}}));
  }
  EXPECT_NE(r->body.find("Li &lt;b&gt;Lei&lt;/b&gt; +8613900101230"), std::string::npos);
  EXPECT_EQ(r->body.find("<b>Lei"), std::string::npos);
  EXPECT_NE(r->body.find("no answer"), std::string::npos);
  EXPECT_NE(r->body.find("href=\"/ops/call?id=c1%40x\""), std::string::npos);
  // The next page keeps the search's fields.
  EXPECT_NE(r->body.find("/ops?cursor=9.1&amp;number=1013&amp;outcome=missed#search"),
            std::string::npos);
  auto bad = c.Get("/ops?number=bad", asOperator());
  EXPECT_NE(bad->body.find("number: not a number (400)"), std::string::npos);
}

TEST_F(OpsPagesTest, ACallShowsItsRecordNotificationsAndLadder) {
  start();
  auto c = client();
  auto h = asOperator();
  auto r = c.Get("/ops/call?id=c1%40x", h);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("no answer (no_answer)"), std::string::npos);
  EXPECT_NE(r->body.find("Li Lei · webhook hook · delivered"), std::string::npos);
  EXPECT_NE(r->body.find("<pre id=\"ladder\">INVITE sip:&lt;1013&gt;@x"), std::string::npos);
  auto gone = c.Get("/ops/call?id=other", h);
  EXPECT_EQ(gone->status, 404);
  EXPECT_NE(gone->body.find("its messages were evicted (410)"), std::string::npos);
  EXPECT_EQ(c.Get("/ops/call", h)->status, 400);
}

TEST_F(OpsPagesTest, RetryAndDiscardNeedTheSessionsTokenAndNameWhoActed) {
  start();
  auto c = client();
  auto h = asOperator();
  auto page = c.Get("/ops", h);
  const std::string csrf = hiddenCsrf(page->body);
  EXPECT_NE(page->body.find("action=\"/ops/dead-letters/00000000000000aa/retry\""),
            std::string::npos);
  EXPECT_EQ(c.Post("/ops/dead-letters/00000000000000aa/retry", h, httplib::Params{})->status, 403);
  EXPECT_EQ(
      c.Post("/ops/dead-letters/00000000000000aa/retry", h, httplib::Params{{"csrf", "x" + csrf}})
          ->status,
      403);
  // Without a session, with the token of another: refused too.
  EXPECT_EQ(
      c.Post("/ops/dead-letters/00000000000000aa/discard", httplib::Params{{"csrf", csrf}})->status,
      403);
  {
    std::lock_guard lock(mu_);
    EXPECT_TRUE(acted_.empty());
  }
  auto ok = c.Post("/ops/dead-letters/00000000000000aa/retry", h, httplib::Params{{"csrf", csrf}});
  EXPECT_EQ(ok->status, 303);
  // The page it leads to says what was done.
  EXPECT_NE(
      c.Get("/ops?done=retry%2000000000000000aa", h)->body.find("Done: retry 00000000000000aa"),
      std::string::npos);
  EXPECT_EQ(ok->get_header_value("Location").rfind("/ops?done=retry", 0), 0u);
  std::lock_guard lock(mu_);
  EXPECT_EQ(acted_, std::vector<std::string>{"00000000000000aa retry by Alice from 127.0.0.1"});
}

TEST_F(OpsPagesTest, ADoneNoticeShowsOnlyTheConsolesOwnWords) {
  start();
  auto c = client();
  auto h = asOperator();
  EXPECT_NE(
      c.Get("/ops?done=retry%2000000000000000aa", h)->body.find("Done: retry 00000000000000aa"),
      std::string::npos);
  EXPECT_EQ(c.Get("/ops?done=Call+the+help+desk%3A+%2B1", h)->body.find("help desk"),
            std::string::npos);
}

TEST_F(OpsPagesTest, ImportHandsTheCsvOverAndShowsTheLoadersLineErrors) {
  start();
  auto c = client();
  auto h = asOperator();
  const std::string csrf = hiddenCsrf(c.Get("/ops", h)->body);
  auto ok = c.Post("/ops/people/import", h,
                   httplib::Params{{"csrf", csrf}, {"csv", "id,name,numbers\ne1,A,1001\n"}});
  EXPECT_EQ(ok->status, 303);
  EXPECT_EQ(ok->get_header_value("Location").rfind("/ops?done=import", 0), 0u);
  EXPECT_NE(ok->get_header_value("Location").find("2#import"), std::string::npos);
  auto bad = c.Post("/ops/people/import", h, httplib::Params{{"csrf", csrf}, {"csv", "bad"}});
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("<li>line 2: bad number</li>"), std::string::npos);
  std::lock_guard lock(mu_);
  ASSERT_EQ(imported_.size(), 2u);
  EXPECT_EQ(imported_[0], "id,name,numbers\ne1,A,1001\n");
}

TEST_F(OpsPagesTest, StaffAndOperatorSessionsDoNotOpenEachOthersPages) {
  start();
  auto c = client();
  auto staff = asStaff();
  EXPECT_EQ(c.Get("/ops", staff)->get_header_value("Location"), "/ops/signin");
  auto op = asOperator();
  EXPECT_EQ(c.Get("/me", op)->get_header_value("Location"), "/signin");
  // An operator who types a person's id as their name still cannot act as that person.
  auto named = postSignin(kToken, "e1024");
  httplib::Headers h{
      {"Cookie", std::string(kSessionCookie) + "=" + cookieFrom(named, kSessionCookie)}};
  const std::string csrf = hiddenCsrf(c.Get("/ops", h)->body);
  EXPECT_EQ(
      c.Post("/me/preferences", h, httplib::Params{{"csrf", csrf}, {"min_ring", "0"}})->status,
      403);
  EXPECT_EQ(c.Post("/me/test", h, httplib::Params{{"csrf", csrf}, {"channel", "x"}})->status, 403);
  EXPECT_EQ(saved_.load(), 0);
}

}  // namespace
}  // namespace mcn::web
