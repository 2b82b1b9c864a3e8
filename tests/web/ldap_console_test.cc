// The directory sign-in forms of the web console over real HTTP (tests/web/console_server.h),
// with a real LdapAuthenticator against a real slapd (tests/support/slapd.h): staff sign in with
// their directory account and see /me; an account without an mcn person, a wrong password, a
// POST without the CSRF token and too many attempts get no session; operators in the directory
// group get /ops, others not, and the operators' token still works beside it.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <memory>
#include <string>

#include "console_server.h"
#include "mcn/web/console.h"
#include "mcn/web/ldap_auth.h"
#include "slapd_config.h"

namespace mcn::web {
namespace {

using mcn::test::Slapd;

constexpr int64_t kT0 = 1'796'000'020'000;
const std::string kToken = "operators-token-4711-abcdef";

class LdapConsoleTest : public test::ConsoleServer {
 protected:
  void start(int per_person_per_hour = 5) {
    std::string error;
    Slapd& slapd = mcn::test::sharedSlapd(&error);
    ASSERT_EQ(error, "") << "slapd is needed (deploy/install-deps.sh)";
    ldap_ = std::make_unique<LdapAuthenticator>(mcn::test::templateLdapConfig(slapd), "");
    links_ = std::make_unique<SignInLinks>("0123456789abcdef-signin-key",
                                           SignInLimits{15 * 60000, per_person_per_hour, 60});
    ConsoleSeams seams;
    seams.now_ms = [this] { return now_.load(); };
    // carol's employeeNumber p-carol is nobody mcn knows.
    seams.person_exists = [](const std::string& p) {
      return p == "p-alice" || p == "p-bob" || p == "p-eve";
    };
    seams.language = [](const std::string&) { return std::string(); };
    seams.send_link = [](const std::string&, const std::string&) { return true; };
    seams.missed_calls = [](const std::string&) { return std::vector<MissedCallView>{}; };
    seams.ops.token = kToken;
    seams.ldap = [this](const std::string& user, const std::string& password) {
      ++ldap_calls_;
      return ldap_->authenticate(user, password);
    };
    seams.ldap_operators = true;
    serve(std::make_unique<WebConsole>(*links_, ConsoleOptions{"http://127.0.0.1/"},
                                       std::move(seams)));
  }

  struct Posted {
    int status = 0;
    std::string body, session, location;
  };
  // GET `form_path`, then POST its form (the token of the page, its cookie) to `action`.
  Posted post(const std::string& form_path, const std::string& action, const std::string& user,
              const std::string& password, bool with_csrf = true) {
    auto c = client();
    auto form = c.Get(form_path);
    EXPECT_TRUE(form && form->status == 200);
    if (!form) return {};
    const std::string pre = cookieFrom(form, kFormCookie);
    httplib::Headers h{{"Cookie", std::string(kFormCookie) + "=" + pre}};
    httplib::Params p{{"user", user}, {"password", password}};
    if (with_csrf) p.emplace("csrf", hiddenCsrf(form->body));
    auto r = c.Post(action, h, p);
    EXPECT_TRUE(r);
    if (!r) return {};
    return {r->status, r->body, cookieFrom(r, kSessionCookie), r->get_header_value("Location")};
  }

  std::string getWith(const std::string& path, const std::string& session, int* status) {
    auto c = client();
    auto r = c.Get(path, {{"Cookie", std::string(kSessionCookie) + "=" + session}});
    *status = r ? r->status : 0;
    return r ? r->body : "";
  }

  std::unique_ptr<LdapAuthenticator> ldap_;
  std::unique_ptr<SignInLinks> links_;
  std::atomic<int64_t> now_{kT0};
  std::atomic<int> ldap_calls_{0};
};

TEST_F(LdapConsoleTest, SignInFormHasBothFormsWithLabelsInBothLanguages) {
  start();
  auto c = client();
  auto en = c.Get("/signin");
  ASSERT_TRUE(en && en->status == 200);
  EXPECT_NE(en->body.find("action=\"/signin\""), std::string::npos);
  EXPECT_NE(en->body.find("action=\"/signin/ldap\""), std::string::npos);
  EXPECT_NE(en->body.find("<h2>Sign in with your directory account</h2>"), std::string::npos);
  EXPECT_NE(en->body.find("<label for=\"ldap-user\">User name</label>"), std::string::npos);
  EXPECT_NE(en->body.find("id=\"ldap-user\""), std::string::npos);
  EXPECT_NE(en->body.find("<label for=\"ldap-password\">Password</label>"), std::string::npos);
  EXPECT_NE(en->body.find("id=\"ldap-password\" name=\"password\" type=\"password\""),
            std::string::npos);
  auto zh = c.Get("/signin", {{"Accept-Language", "zh-CN,zh;q=0.9"}});
  ASSERT_TRUE(zh);
  EXPECT_NE(zh->body.find("使用目录账号登录"), std::string::npos);
  EXPECT_NE(zh->body.find(">用户名</label>"), std::string::npos);
  EXPECT_NE(zh->body.find(">密码</label>"), std::string::npos);
}

TEST_F(LdapConsoleTest, RightPasswordSignsInAndShowsMe) {
  start();
  auto in = post("/signin", "/signin/ldap", "bob", "bob-secret");
  EXPECT_EQ(in.status, 303) << in.body;
  EXPECT_EQ(in.location, "/me");
  ASSERT_FALSE(in.session.empty());
  int status = 0;
  std::string me = getWith("/me", in.session, &status);
  EXPECT_EQ(status, 200);
  EXPECT_NE(me.find("p-bob"), std::string::npos);
  EXPECT_EQ(ldap_->bindsOk(), 1u);
}

TEST_F(LdapConsoleTest, WrongPasswordEmptyPasswordAndNoPersonGetNoSession) {
  start();
  auto wrong = post("/signin", "/signin/ldap", "bob", "alice-secret");
  EXPECT_EQ(wrong.status, 403);
  EXPECT_TRUE(wrong.session.empty());
  EXPECT_NE(wrong.body.find("Wrong user name or password."), std::string::npos);

  auto empty = post("/signin", "/signin/ldap", "bob", "");
  EXPECT_EQ(empty.status, 400);
  EXPECT_TRUE(empty.session.empty());

  // The directory knows carol and her password, mcn has no person p-carol.
  auto carol = post("/signin", "/signin/ldap", "carol", "carol-secret");
  EXPECT_EQ(carol.status, 403);
  EXPECT_TRUE(carol.session.empty());
  EXPECT_NE(carol.body.find("there is no mcn person for this account"), std::string::npos);
  // dave has no employeeNumber at all.
  auto dave = post("/signin", "/signin/ldap", "dave", "dave-secret");
  EXPECT_EQ(dave.status, 403);
  EXPECT_TRUE(dave.session.empty());

  EXPECT_EQ(ldap_->bindsFailed(), 1u);
  EXPECT_EQ(ldap_->refused(), 1u);
  EXPECT_EQ(ldap_->bindsOk(), 2u);  // carol's and dave's passwords were right
}

TEST_F(LdapConsoleTest, PostWithoutCsrfTokenIsRefusedBeforeTheDirectory) {
  start();
  auto r = post("/signin", "/signin/ldap", "bob", "bob-secret", /*with_csrf=*/false);
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.session.empty());
  EXPECT_EQ(ldap_calls_.load(), 0);
  auto ops = post("/ops/signin", "/ops/signin/ldap", "alice", "alice-secret", false);
  EXPECT_EQ(ops.status, 403);
  EXPECT_TRUE(ops.session.empty());
  EXPECT_EQ(ldap_calls_.load(), 0);
}

TEST_F(LdapConsoleTest, AttemptsPerUserAreLimited) {
  start(/*per_person_per_hour=*/3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(post("/signin", "/signin/ldap", "bob", "guess" + std::to_string(i)).status, 403);
  }
  // The fourth attempt within the hour, even with the right password (and in other letter
  // case), never reaches the directory.
  auto limited = post("/signin", "/signin/ldap", "BOB", "bob-secret");
  EXPECT_EQ(limited.status, 429);
  EXPECT_TRUE(limited.session.empty());
  EXPECT_EQ(ldap_calls_.load(), 3);
  // Another user is not held back by bob's guesses.
  EXPECT_EQ(post("/signin", "/signin/ldap", "alice", "alice-secret").status, 303);
  // An hour later bob may try again.
  now_ += 3600 * 1000 + 1;
  EXPECT_EQ(post("/signin", "/signin/ldap", "bob", "bob-secret").status, 303);
}

TEST_F(LdapConsoleTest, OperatorsGroupMembersGetTheOperatorPages) {
  start();
  auto c = client();
  auto form = c.Get("/ops/signin");
  ASSERT_TRUE(form && form->status == 200);
  EXPECT_NE(form->body.find("action=\"/ops/signin\""), std::string::npos);
  EXPECT_NE(form->body.find("action=\"/ops/signin/ldap\""), std::string::npos);

  auto bob = post("/ops/signin", "/ops/signin/ldap", "bob", "bob-secret");
  EXPECT_EQ(bob.status, 403);
  EXPECT_TRUE(bob.session.empty());
  EXPECT_NE(bob.body.find("is not in the operators"), std::string::npos) << bob.body;

  auto alice = post("/ops/signin", "/ops/signin/ldap", "alice", "alice-secret");
  EXPECT_EQ(alice.status, 303) << alice.body;
  EXPECT_EQ(alice.location, "/ops");
  ASSERT_FALSE(alice.session.empty());
  int status = 0;
  std::string ops = getWith("/ops", alice.session, &status);
  EXPECT_EQ(status, 200);
  EXPECT_NE(ops.find("<b>alice</b>"), std::string::npos);
  // A staff session from the staff form is no operator session.
  auto staff = post("/signin", "/signin/ldap", "alice", "alice-secret");
  ASSERT_EQ(staff.status, 303);
  getWith("/ops", staff.session, &status);
  EXPECT_EQ(status, 303);

  // The token still signs operators in beside the directory.
  auto form2 = c.Get("/ops/signin");
  httplib::Headers h{{"Cookie", std::string(kFormCookie) + "=" + cookieFrom(form2, kFormCookie)}};
  auto byToken = c.Post(
      "/ops/signin", h,
      httplib::Params{{"csrf", hiddenCsrf(form2->body)}, {"name", "oncall"}, {"token", kToken}});
  ASSERT_TRUE(byToken);
  EXPECT_EQ(byToken->status, 303);
  EXPECT_FALSE(cookieFrom(byToken, kSessionCookie).empty());
}

}  // namespace
}  // namespace mcn::web
