// The web console's sign-in and /me over real HTTP on loopback (web/include/mcn/web/console.h):
// what a person's browser sends and sees. The directory, history and delivery are the tests' own
// (ConsoleSeams); time is a variable, nothing sleeps.
#include "mcn/web/console.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "console_server.h"

namespace mcn::web {
namespace {

constexpr int64_t kT0 = 1'796'000'000'000;
const std::string kKey = "0123456789abcdef-console-key";

class ConsoleTest : public test::ConsoleServer {
 protected:
  void SetUp() override {
    ConsoleSeams seams;
    seams.now_ms = [this] { return now_.load(); };
    seams.person_exists = [](const std::string& p) { return p == "e1024" || p == "e2048"; };
    seams.language = [this](const std::string& p) {
      std::lock_guard lock(mu_);
      return lang_[p];
    };
    seams.send_link = [this](const std::string& p, const std::string& url) {
      std::lock_guard lock(mu_);
      sent_.emplace_back(p, url);
      return true;
    };
    seams.missed_calls = [this](const std::string& p) {
      std::lock_guard lock(mu_);
      asked_.push_back(p);
      std::vector<MissedCallView> v;
      if (p == "e1024") {
        v.push_back({kT0 - 60'000, "Li <b>Lei</b>", "+8613900101230", "+862583001013", "no answer",
                     21'500, "wecom-office"});
        v.push_back({kT0 - 3'600'000, "", "+8613900109999", "+862583001013", "busy", 0, ""});
      } else {
        v.push_back({kT0, "Secret", "+8613911111111", "+862583002048", "no answer", 3000, ""});
      }
      return v;
    };
    seams.person = [this](const std::string& p) -> std::optional<subscribers::Person> {
      std::lock_guard lock(mu_);
      auto it = people_.find(p);
      if (it == people_.end()) return std::nullopt;
      return it->second;
    };
    seams.send_message = [this](const std::string& p, const std::string& channel,
                                const std::string&, const std::string& text) {
      std::lock_guard lock(mu_);
      messages_.push_back(p + "/" + channel + ": " + text);
      return true;
    };
    seams.save_person = [this](const subscribers::Person& p, const std::string& who) {
      std::lock_guard lock(mu_);
      people_[p.id] = p;
      saved_by_.push_back(who);
      return std::string();
    };
    for (const char* id : {"e1024", "e2048"}) {
      subscribers::Person p;
      p.id = id;
      p.name = id == std::string("e1024") ? "Li Lei" : "Han Meimei";
      p.numbers = {id == std::string("e1024") ? "+862583001013" : "+862583002048"};
      subscribers::Channel c;
      c.id = id == std::string("e1024") ? "wecom-office" : "han-hook";
      c.kind = subscribers::ChannelKind::kWeCom;
      c.target_ref = "env:X";
      p.channels = {c};
      p.prefs.language = "en";
      people_[id] = p;
    }
    // The record every process serving the console shares (the streams' Redis): the verdict the
    // test sets.
    seams.redeem_shared = [this](const std::string& nonce, int64_t) {
      std::lock_guard lock(mu_);
      shared_asked_.push_back(nonce);
      return shared_.load();
    };
    ConsoleOptions opt;
    opt.base_url = "http://127.0.0.1/";
    serve(std::make_unique<WebConsole>(links_, opt, std::move(seams)));
  }
  static std::string setCookieLine(const httplib::Result& r, std::string_view name) {
    for (auto [it, end] = r->headers.equal_range("Set-Cookie"); it != end; ++it) {
      if (it->second.rfind(std::string(name) + "=", 0) == 0) return it->second;
    }
    return {};
  }
  std::string lastLinkPath() {
    std::lock_guard lock(mu_);
    if (sent_.empty()) return {};
    return sent_.back().second.substr(std::string("http://127.0.0.1").size());
  }
  size_t linksSent() {
    std::lock_guard lock(mu_);
    return sent_.size();
  }
  std::vector<std::string> sharedAsked() {
    std::lock_guard lock(mu_);
    return shared_asked_;
  }

  // The whole sign-in as a browser does it; returns the session cookie value.
  std::string signIn(const std::string& person) {
    auto c = client();
    auto form = c.Get("/signin");
    std::string pre = cookieFrom(form, kFormCookie);
    httplib::Headers h{{"Cookie", std::string(kFormCookie) + "=" + pre}};
    auto sent =
        c.Post("/signin", h, httplib::Params{{"csrf", hiddenCsrf(form->body)}, {"person", person}});
    EXPECT_EQ(sent->status, 200);
    std::string link = lastLinkPath();
    auto confirm = c.Get(link);
    EXPECT_EQ(confirm->status, 200);
    std::string pre2 = cookieFrom(confirm, kFormCookie);
    httplib::Headers h2{{"Cookie", std::string(kFormCookie) + "=" + pre2}};
    auto in = c.Post(link, h2, httplib::Params{{"csrf", hiddenCsrf(confirm->body)}});
    EXPECT_EQ(in->status, 303);
    return cookieFrom(in, kSessionCookie);
  }

  std::atomic<int64_t> now_{kT0};
  std::mutex mu_;
  std::map<std::string, std::string> lang_;
  std::vector<std::pair<std::string, std::string>> sent_;
  std::vector<std::string> asked_;
  std::map<std::string, subscribers::Person> people_;
  std::vector<std::string> messages_;
  std::vector<std::string> saved_by_;
  SignInLinks links_{kKey, SignInLimits{}};
  std::atomic<sipua::LinkVerdict> shared_{sipua::LinkVerdict::kOk};  // set by the test body
  std::vector<std::string> shared_asked_;
};

TEST_F(ConsoleTest, ALinkIsUsedOnceAmongEveryProcessServingTheConsole) {
  auto c = client();
  auto form = c.Get("/signin");
  c.Post("/signin", {{"Cookie", std::string(kFormCookie) + "=" + cookieFrom(form, kFormCookie)}},
         httplib::Params{{"csrf", hiddenCsrf(form->body)}, {"person", "e1024"}});
  const std::string link = lastLinkPath();
  ASSERT_FALSE(link.empty());
  auto post = [&] {
    auto confirm = c.Get(link);
    return c.Post(link,
                  {{"Cookie", std::string(kFormCookie) + "=" + cookieFrom(confirm, kFormCookie)}},
                  httplib::Params{{"csrf", hiddenCsrf(confirm->body)}});
  };
  // The shared record out of reach: no session, and the link is not used up.
  shared_ = sipua::LinkVerdict::kFull;
  auto down = post();
  EXPECT_EQ(down->status, 503);
  EXPECT_NE(down->body.find("cannot be checked now"), std::string::npos);
  EXPECT_EQ(cookieFrom(down, kSessionCookie), "");
  // Another process redeemed it: used.
  shared_ = sipua::LinkVerdict::kUsed;
  auto used = post();
  EXPECT_EQ(used->status, 410);
  EXPECT_EQ(cookieFrom(used, kSessionCookie), "");
  // First use anywhere: signed in; the same nonce was asked about each time.
  shared_ = sipua::LinkVerdict::kOk;
  auto in = post();
  EXPECT_EQ(in->status, 303);
  EXPECT_NE(cookieFrom(in, kSessionCookie), "");
  const std::vector<std::string> asked = sharedAsked();
  ASSERT_EQ(asked.size(), 3u);
  EXPECT_EQ(asked[0], asked[2]);
  // Used here now: this process says so itself (its confirm page already), without asking.
  EXPECT_EQ(c.Get(link)->status, 410);
  EXPECT_EQ(sharedAsked().size(), 3u);
}

TEST_F(ConsoleTest, SignInByLinkThenSeeMyMissedCallsNewestFirst) {
  auto c = client();
  auto form = c.Get("/signin");
  ASSERT_EQ(form->status, 200);
  EXPECT_NE(form->body.find("<label for=\"person\">"), std::string::npos);
  EXPECT_NE(form->body.find("name=\"viewport\""), std::string::npos);
  std::string pre = cookieFrom(form, kFormCookie);
  ASSERT_EQ(pre, hiddenCsrf(form->body));
  EXPECT_NE(setCookieLine(form, kFormCookie).find("HttpOnly; SameSite=Strict"), std::string::npos);

  httplib::Headers h{{"Cookie", std::string(kFormCookie) + "=" + pre}};
  auto sent = c.Post("/signin", h, httplib::Params{{"csrf", pre}, {"person", "e1024"}});
  ASSERT_EQ(sent->status, 200);
  ASSERT_EQ(linksSent(), 1u);
  std::string link = lastLinkPath();
  ASSERT_EQ(link.rfind("/signin/link/", 0), 0u) << link;

  // A scanner fetching the link twice uses nothing up and signs no one in.
  for (int i = 0; i < 2; ++i) {
    auto confirm = c.Get(link);
    ASSERT_EQ(confirm->status, 200);
    EXPECT_NE(confirm->body.find("e1024"), std::string::npos);
    EXPECT_EQ(cookieFrom(confirm, kSessionCookie), "");
  }
  auto confirm = c.Get(link);
  std::string pre2 = cookieFrom(confirm, kFormCookie);
  httplib::Headers h2{{"Cookie", std::string(kFormCookie) + "=" + pre2}};
  auto in = c.Post(link, h2, httplib::Params{{"csrf", hiddenCsrf(confirm->body)}});
  ASSERT_EQ(in->status, 303);
  EXPECT_EQ(in->get_header_value("Location"), "/me");
  std::string sid = cookieFrom(in, kSessionCookie);
  ASSERT_EQ(sid.size(), 64u);
  std::string line = setCookieLine(in, kSessionCookie);
  EXPECT_NE(line.find("HttpOnly"), std::string::npos);
  EXPECT_NE(line.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(line.find("Secure"), std::string::npos);  // plain HTTP here

  auto me = c.Get("/me", httplib::Headers{{"Cookie", std::string(kSessionCookie) + "=" + sid}});
  ASSERT_EQ(me->status, 200);
  auto first = me->body.find("+8613900101230"), second = me->body.find("+8613900109999");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_NE(me->body.find("no answer"), std::string::npos);
  EXPECT_NE(me->body.find("wecom-office"), std::string::npos);
  EXPECT_NE(me->body.find("21.5 s"), std::string::npos);
  EXPECT_NE(me->body.find("not told"), std::string::npos);
  // A caller's name is text, never markup.
  EXPECT_NE(me->body.find("Li &lt;b&gt;Lei&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(me->body.find("<b>Lei"), std::string::npos);

  // The link is single use.
  auto again = c.Post(link, h2, httplib::Params{{"csrf", hiddenCsrf(confirm->body)}});
  EXPECT_EQ(again->status, 410);
  EXPECT_NE(again->body.find("used already"), std::string::npos);
}

TEST_F(ConsoleTest, PostsWithoutTheFormTokenAreRefusedAndChangeNothing) {
  auto c = client();
  auto form = c.Get("/signin");
  std::string pre = cookieFrom(form, kFormCookie);
  // No token, a wrong token, a token without its cookie: no link sent.
  httplib::Headers h{{"Cookie", std::string(kFormCookie) + "=" + pre}};
  EXPECT_EQ(c.Post("/signin", h, httplib::Params{{"person", "e1024"}})->status, 403);
  EXPECT_EQ(c.Post("/signin", h, httplib::Params{{"csrf", pre + "0"}, {"person", "e1024"}})->status,
            403);
  auto r = c.Post("/signin", httplib::Params{{"csrf", pre}, {"person", "e1024"}});
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("security token is missing or wrong"), std::string::npos);
  EXPECT_EQ(linksSent(), 0u);

  EXPECT_EQ(c.Post("/signin", h, httplib::Params{{"csrf", pre}, {"person", "e1024"}})->status, 200);
  std::string link = lastLinkPath();
  // The link's POST without the token signs no one in and leaves the link usable.
  auto bare = c.Post(link, httplib::Params{});
  EXPECT_EQ(bare->status, 403);
  EXPECT_EQ(cookieFrom(bare, kSessionCookie), "");
  auto confirm = c.Get(link);
  EXPECT_EQ(confirm->status, 200);

  // Signed in: sign-out without the session's token keeps the session.
  std::string sid = signIn("e1024");
  httplib::Headers hs{{"Cookie", std::string(kSessionCookie) + "=" + sid}};
  auto me = c.Get("/me", hs);
  ASSERT_EQ(me->status, 200);
  EXPECT_EQ(c.Post("/signout", hs, httplib::Params{})->status, 403);
  EXPECT_EQ(c.Post("/signout", hs, httplib::Params{{"csrf", pre}})->status, 403);
  EXPECT_EQ(c.Get("/me", hs)->status, 200);
  auto out = c.Post("/signout", hs, httplib::Params{{"csrf", hiddenCsrf(me->body)}});
  EXPECT_EQ(out->status, 303);
  EXPECT_EQ(c.Get("/me", hs)->status, 303);
}

TEST_F(ConsoleTest, UnknownPersonGetsTheSameAnswerAndNoLink) {
  auto c = client();
  auto form = c.Get("/signin");
  std::string pre = cookieFrom(form, kFormCookie);
  httplib::Headers h{{"Cookie", std::string(kFormCookie) + "=" + pre}};
  auto known = c.Post("/signin", h, httplib::Params{{"csrf", pre}, {"person", "e1024"}});
  auto unknown = c.Post("/signin", h, httplib::Params{{"csrf", pre}, {"person", "nobody"}});
  EXPECT_EQ(known->status, unknown->status);
  EXPECT_EQ(known->body, unknown->body);
  EXPECT_EQ(linksSent(), 1u);
}

TEST_F(ConsoleTest, SignInLinksAreRateLimited) {
  auto c = client();
  auto form = c.Get("/signin");
  std::string pre = cookieFrom(form, kFormCookie);
  httplib::Headers h{{"Cookie", std::string(kFormCookie) + "=" + pre}};
  for (int i = 0; i < SignInLimits{}.per_person_per_hour; ++i) {
    EXPECT_EQ(c.Post("/signin", h, httplib::Params{{"csrf", pre}, {"person", "e1024"}})->status,
              200);
  }
  auto r = c.Post("/signin", h, httplib::Params{{"csrf", pre}, {"person", "e1024"}});
  EXPECT_EQ(r->status, 429);
  EXPECT_NE(r->body.find("too many sign-in links"), std::string::npos);
  EXPECT_EQ(linksSent(), static_cast<size_t>(SignInLimits{}.per_person_per_hour));
}

TEST_F(ConsoleTest, StaffSeeOnlyTheirOwnCalls) {
  std::string sid = signIn("e1024");
  auto c = client();
  httplib::Headers hs{{"Cookie", std::string(kSessionCookie) + "=" + sid}};
  // Asking for another person's data by any parameter still shows one's own.
  auto me = c.Get("/me?person=e2048", hs);
  ASSERT_EQ(me->status, 200);
  EXPECT_EQ(me->body.find("Secret"), std::string::npos);
  EXPECT_EQ(me->body.find("+8613911111111"), std::string::npos);
  {
    std::lock_guard lock(mu_);
    ASSERT_FALSE(asked_.empty());
    for (const auto& p : asked_) EXPECT_EQ(p, "e1024");
  }
  // No session, a made-up one: sent to sign in, nothing shown.
  for (const std::string& cookie : {std::string(), std::string(kSessionCookie) + "=" + sid + "0",
                                    std::string(kSessionCookie) + "=" + std::string(64, 'a')}) {
    auto r = c.Get("/me", httplib::Headers{{"Cookie", cookie}});
    EXPECT_EQ(r->status, 303);
    EXPECT_EQ(r->get_header_value("Location"), "/signin");
    EXPECT_EQ(r->body.find("+86"), std::string::npos);
  }
}

TEST_F(ConsoleTest, SessionEndsAfterIdling) {
  std::string sid = signIn("e1024");
  auto c = client();
  httplib::Headers hs{{"Cookie", std::string(kSessionCookie) + "=" + sid}};
  EXPECT_EQ(c.Get("/me", hs)->status, 200);
  now_ += ConsoleOptions{}.session_ttl_ms;
  EXPECT_EQ(c.Get("/me", hs)->status, 303);
}

TEST_F(ConsoleTest, ChineseByPreferenceOrBrowser) {
  auto c = client();
  auto zh = c.Get("/signin", httplib::Headers{{"Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8"}});
  EXPECT_NE(zh->body.find("lang=\"zh\""), std::string::npos);
  EXPECT_NE(zh->body.find("发送登录链接给我"), std::string::npos);
  auto en = c.Get("/signin", httplib::Headers{{"Accept-Language", "en-GB"}});
  EXPECT_NE(en->body.find("Send me a sign-in link"), std::string::npos);

  {
    std::lock_guard lock(mu_);
    lang_["e1024"] = "zh";
  }
  std::string sid = signIn("e1024");
  auto me = c.Get("/me", httplib::Headers{{"Cookie", std::string(kSessionCookie) + "=" + sid},
                                          {"Accept-Language", "en"}});
  EXPECT_NE(me->body.find("我的未接来电"), std::string::npos);
}

TEST_F(ConsoleTest, ExpiredOrForgedLinkSaysSo) {
  auto c = client();
  EXPECT_EQ(c.Get("/signin/link/abc.def")->status, 403);
  auto issued = links_.issue("e1024", kT0);
  now_ += SignInLimits{}.link_ttl_ms;
  auto r = c.Get("/signin/link/" + issued.token);
  EXPECT_EQ(r->status, 410);
  EXPECT_NE(r->body.find("has expired"), std::string::npos);
}

}  // namespace
}  // namespace mcn::web

namespace mcn::web {
namespace {

// A form post as the /me page's preferences form sends it, with `changes` over the defaults.
httplib::Params prefsForm(const std::string& csrf,
                          std::vector<std::pair<std::string, std::string>> changes) {
  std::map<std::string, std::string> f{
      {"csrf", csrf},           {"which", "missed"},        {"internal_calls", "on"},
      {"external_calls", "on"}, {"withheld_callers", "on"}, {"min_ring", "0"},
      {"merge_window", "1m"},   {"quiet_start", "22:00"},   {"quiet_end", "07:30"},
      {"quiet_action", "hold"}, {"language", "en"},         {"time_zone", "Asia/Shanghai"}};
  for (auto& [k, v] : changes) f[k] = v;
  return httplib::Params(f.begin(), f.end());
}

TEST_F(ConsoleTest, MePageShowsMyNumbersChannelsAndPreferencesOnly) {
  std::string sid = signIn("e1024");
  auto c = client();
  httplib::Headers hs{{"Cookie", std::string(kSessionCookie) + "=" + sid}};
  auto me = c.Get("/me?person=e2048", hs);
  ASSERT_EQ(me->status, 200);
  EXPECT_NE(me->body.find("Li Lei (e1024)"), std::string::npos);
  EXPECT_NE(me->body.find("<li>+862583001013</li>"), std::string::npos);
  EXPECT_NE(me->body.find("wecom-office"), std::string::npos);
  EXPECT_NE(me->body.find("<label for=\"quiet_start\">"), std::string::npos);
  // Not the other person's, whatever the URL says; no channel target (a robot URL is a key).
  EXPECT_EQ(me->body.find("han-hook"), std::string::npos);
  EXPECT_EQ(me->body.find("+862583002048"), std::string::npos);
  EXPECT_EQ(me->body.find("env:X"), std::string::npos);
}

TEST_F(ConsoleTest, TestNotificationOnlyThroughMyOwnChannelAndWithTheToken) {
  std::string sid = signIn("e1024");
  auto c = client();
  httplib::Headers hs{{"Cookie", std::string(kSessionCookie) + "=" + sid}};
  std::string csrf = hiddenCsrf(c.Get("/me", hs)->body);
  EXPECT_EQ(c.Post("/me/test", hs, httplib::Params{{"channel", "wecom-office"}})->status, 403);
  auto other = c.Post("/me/test", hs, httplib::Params{{"csrf", csrf}, {"channel", "han-hook"}});
  EXPECT_EQ(other->status, 400);
  EXPECT_NE(other->body.find("not one of your channels"), std::string::npos);
  {
    std::lock_guard lock(mu_);
    EXPECT_TRUE(messages_.empty());
  }
  auto ok = c.Post("/me/test", hs, httplib::Params{{"csrf", csrf}, {"channel", "wecom-office"}});
  EXPECT_EQ(ok->status, 303);
  EXPECT_EQ(ok->get_header_value("Location"), "/me?sent=wecom-office#channels");
  std::lock_guard lock(mu_);
  ASSERT_EQ(messages_.size(), 1u);
  EXPECT_EQ(messages_[0].rfind("e1024/wecom-office: This is a test notification", 0), 0u);
}

TEST_F(ConsoleTest, PreferencesMistakesAreShownInlineAndNothingIsSaved) {
  std::string sid = signIn("e1024");
  auto c = client();
  httplib::Headers hs{{"Cookie", std::string(kSessionCookie) + "=" + sid}};
  std::string csrf = hiddenCsrf(c.Get("/me", hs)->body);
  auto bad = c.Post("/me/preferences", hs,
                    prefsForm(csrf, {{"quiet_hours", "on"},
                                     {"quiet_start", "24:00"},
                                     {"merge_window", "2d"},
                                     {"time_zone", "<b>x"}}));
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("id=\"quiet_start-error\">expected a time &quot;HH:MM&quot; "
                           "(00:00..23:59)</strong>"),
            std::string::npos)
      << bad->body;
  EXPECT_NE(bad->body.find("id=\"merge_window-error\">expected a duration"), std::string::npos);
  EXPECT_NE(bad->body.find("unknown time zone &quot;&lt;b&gt;x&quot;"), std::string::npos);
  // The form keeps what was typed, escaped.
  EXPECT_NE(bad->body.find("value=\"24:00\""), std::string::npos);
  EXPECT_EQ(bad->body.find("<b>x"), std::string::npos);
  // Without the token: refused before anything is read.
  EXPECT_EQ(c.Post("/me/preferences", hs, prefsForm("", {}))->status, 403);
  std::lock_guard lock(mu_);
  EXPECT_TRUE(saved_by_.empty());
  EXPECT_FALSE(people_["e1024"].prefs.quiet_hours.has_value());
}

TEST_F(ConsoleTest, PreferencesSavedForTheSignedInPersonWithWhoDidIt) {
  std::string sid = signIn("e1024");
  auto c = client();
  httplib::Headers hs{{"Cookie", std::string(kSessionCookie) + "=" + sid}};
  std::string csrf = hiddenCsrf(c.Get("/me", hs)->body);
  // A person field in the form names nobody: the session's person is changed.
  auto ok = c.Post("/me/preferences", hs,
                   prefsForm(csrf, {{"quiet_hours", "on"},
                                    {"quiet_action", "drop"},
                                    {"min_ring", "5s"},
                                    {"person", "e2048"}}));
  EXPECT_EQ(ok->status, 303);
  EXPECT_EQ(ok->get_header_value("Location"), "/me?saved=1#preferences");
  {
    std::lock_guard lock(mu_);
    ASSERT_EQ(saved_by_.size(), 1u);
    EXPECT_EQ(saved_by_[0], "e1024 from 127.0.0.1");
    const auto& q = people_["e1024"].prefs.quiet_hours;
    ASSERT_TRUE(q.has_value());
    EXPECT_EQ(q->start_minute, 22 * 60);
    EXPECT_EQ(q->action, subscribers::QuietAction::kDrop);
    EXPECT_EQ(people_["e1024"].prefs.min_ring_ms, 5000);
    EXPECT_EQ(people_["e1024"].prefs.time_zone, "Asia/Shanghai");
    EXPECT_FALSE(people_["e2048"].prefs.quiet_hours.has_value());
  }
  auto me = c.Get("/me?saved=1", hs);
  EXPECT_NE(me->body.find("Your preferences are saved."), std::string::npos);
  EXPECT_NE(me->body.find("<option value=\"drop\" selected>"), std::string::npos);
  EXPECT_NE(me->body.find("id=\"min_ring\" name=\"min_ring\" value=\"5s\""), std::string::npos);
}

}  // namespace
}  // namespace mcn::web
