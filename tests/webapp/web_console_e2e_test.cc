// `mcn run` with [web] enabled (app/src/web_backend.cc): each [web] key does what README "Web
// console" says, seen from outside: the link a person receives through their own channel (a
// jsonl channel here: the file is what they read), the cookies their browser gets, the answers
// over the limits. Loopback 127.0.5.2 (the web helper's addresses); no root. The directory
// sign-in against a real slapd on 127.0.7.1 (tests/support/slapd.h).

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "../app/cli_run.h"
#include "../support/slapd.h"
#include "../web/page_reads.h"

namespace mcn::app {
namespace {

namespace fs = std::filesystem;
using clitest::kMcn;
using clitest::kPcaps;

constexpr const char* kAddr = "127.0.5.2";
const std::string kKey = "web-console-e2e-signin-key-0123";

int freePort(int type) {
  int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  ::inet_pton(AF_INET, kAddr, &a.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return 0;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string cookieOf(const httplib::Result& r, const std::string& name) {
  for (auto [it, end] = r->headers.equal_range("Set-Cookie"); it != end; ++it) {
    if (it->second.rfind(name + "=", 0) == 0) return it->second;
  }
  return {};
}

std::string valueOf(const std::string& set_cookie) {
  auto eq = set_cookie.find('=');
  return set_cookie.substr(eq + 1, set_cookie.find(';') - eq - 1);
}

using web::test::hiddenCsrf;

class WebConsoleRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mcn_web_e2e_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "subscribers.toml")
        << "[[person]]\nid = \"e1014\"\nname = \"Zhang Wei\"\nnumbers = [\"1014\"]\n"
        << "[person.preferences]\nlanguage = \"en\"\n"
        << "[[person.channel]]\nid = \"log\"\nkind = \"jsonl\"\ntarget = \""
        << (dir_ / "e1014.jsonl").string() << "\"\n"
        << "[[person]]\nid = \"e1015\"\nname = \"Wu Fang\"\nnumbers = [\"1015\"]\n"
        << "[[person.channel]]\nid = \"log\"\nkind = \"jsonl\"\ntarget = \""
        << (dir_ / "e1015.jsonl").string() << "\"\n";
  }
  void TearDown() override {
    stop();
    fs::remove_all(dir_);
  }

  // Starts `mcn run` with `web` as its [web] table; false when it did not become ready.
  bool start(const std::string& web, const char* key_env = kKey.c_str()) {
    http_ = freePort(SOCK_STREAM);
    const int hep = freePort(SOCK_DGRAM);
    std::ofstream(dir_ / "mcn.toml") << "[run]\nhttp_bind = \"" << kAddr << "\"\nsubscribers = \""
                                     << (dir_ / "subscribers.toml").string() << "\"\n\n"
                                     << slurp(kPcaps + "/fixtures.toml") << "\n[web]\n"
                                     << web << "\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open((dir_ / "run.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(log, 1);
      ::dup2(log, 2);
      if (::chdir(dir_.c_str()) != 0) ::_exit(126);
      if (key_env != nullptr) {
        ::setenv("MCN_WEB_E2E_KEY", key_env, 1);
      } else {
        ::unsetenv("MCN_WEB_E2E_KEY");
      }
      std::string cfg = (dir_ / "mcn.toml").string();
      std::string hep_addr = std::string(kAddr) + ":" + std::to_string(hep);
      std::string port = std::to_string(http_);
      ::execl(kMcn.c_str(), kMcn.c_str(), "run", "--hep", hep_addr.c_str(), "--config", cfg.c_str(),
              "--http-port", port.c_str(), nullptr);
      ::_exit(127);
    }
    httplib::Client cli(kAddr, http_);
    cli.set_connection_timeout(1);
    for (int i = 0; i < 100; ++i) {
      auto res = cli.Get("/readyz");
      if (res && res->status == 200) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    pid_ = -1;
  }
  httplib::Client client() {
    httplib::Client c(kAddr, http_);
    c.set_follow_location(false);
    return c;
  }
  std::string web(const std::string& extra) {
    return "enabled = true\nbase_url = \"http://" + std::string(kAddr) + "/\"\n" +
           "signin_key_ref = \"env:MCN_WEB_E2E_KEY\"\n" + extra;
  }
  // Asks for a sign-in link for `person`: the status of the form's POST.
  int askLink(const std::string& person) {
    auto c = client();
    auto form = c.Get("/signin");
    if (!form) return -1;
    std::string pre = valueOf(cookieOf(form, "mcn_form"));
    auto r = c.Post("/signin", httplib::Headers{{"Cookie", "mcn_form=" + pre}},
                    httplib::Params{{"csrf", hiddenCsrf(form->body)}, {"person", person}});
    return r ? r->status : -1;
  }
  // The links that reached `person`'s channel so far (the jsonl file they read).
  std::vector<std::string> linksOf(const std::string& person, size_t at_least) {
    std::vector<std::string> out;
    for (int i = 0; i < 50; ++i) {
      out.clear();
      std::istringstream in(slurp(dir_ / (person + ".jsonl")));
      std::string line;
      while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) continue;
        std::string text = j.value("text", "");
        auto at = text.find("http");
        if (at != std::string::npos) out.push_back(text.substr(at));
      }
      if (out.size() >= at_least) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return out;
  }
  // Confirm page then its POST; the response to the POST.
  httplib::Result redeem(const std::string& path) {
    auto c = client();
    auto confirm = c.Get(path);
    std::string pre = valueOf(cookieOf(confirm, "mcn_form"));
    return c.Post(path, httplib::Headers{{"Cookie", "mcn_form=" + pre}},
                  httplib::Params{{"csrf", hiddenCsrf(confirm->body)}});
  }

  fs::path dir_;
  pid_t pid_ = -1;
  int http_ = 0;
  int exit_ = -1;
};

TEST_F(WebConsoleRun, EnabledFalseServesNoConsole) {
  ASSERT_TRUE(start("enabled = false\n")) << slurp(dir_ / "run.log");
  EXPECT_EQ(client().Get("/signin")->status, 404);
  EXPECT_EQ(client().Get("/me")->status, 404);
}

TEST_F(WebConsoleRun, BaseUrlTtlAndSessionTtlShapeTheLinkAndTheCookie) {
  ASSERT_TRUE(
      start("enabled = true\nbase_url = \"https://mcn.example.test/console/\"\n"
            "signin_key_ref = \"env:MCN_WEB_E2E_KEY\"\nsignin_link_ttl_ms = 120000\n"
            "session_ttl_ms = 600000\n"))
      << slurp(dir_ / "run.log");
  const int64_t asked_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  ASSERT_EQ(askLink("e1014"), 200);
  auto links = linksOf("e1014", 1);
  ASSERT_EQ(links.size(), 1u) << slurp(dir_ / "run.log");
  const std::string prefix = "https://mcn.example.test/console/signin/link/";
  ASSERT_EQ(links[0].rfind(prefix, 0), 0u) << links[0];
  EXPECT_TRUE(linksOf("e1015", 0).empty());  // only the person asked for
  // The token's payload (callback_link.h: base64url "v1\n<person>\n<aud>\n<expires ms>\n...").
  std::string token = links[0].substr(prefix.size());
  std::string b64 = token.substr(0, token.find('.'));
  for (char& ch : b64) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
  while (b64.size() % 4 != 0) b64 += '=';
  std::string payload(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(payload.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  ASSERT_GT(n, 0);
  std::istringstream fields(payload);
  std::string v, person, aud, expires;
  std::getline(fields, v);
  std::getline(fields, person);
  std::getline(fields, aud);
  std::getline(fields, expires);
  EXPECT_EQ(person, "e1014");
  EXPECT_NEAR(static_cast<double>(std::stoll(expires) - asked_ms), 120000.0, 5000.0);
  // The console behind an https proxy: Secure cookies, Max-Age from session_ttl_ms.
  auto in = redeem("/signin/link/" + token);
  ASSERT_EQ(in->status, 303);
  std::string session = cookieOf(in, "mcn_session");
  EXPECT_NE(session.find("Max-Age=600;"), std::string::npos) << session;
  EXPECT_NE(session.find("; Secure"), std::string::npos) << session;
  EXPECT_NE(session.find("HttpOnly"), std::string::npos) << session;
  auto me = client().Get("/me", httplib::Headers{{"Cookie", "mcn_session=" + valueOf(session)}});
  ASSERT_EQ(me->status, 200);
  EXPECT_NE(me->body.find("Zhang Wei (e1014)"), std::string::npos);
  // The console's counters on /metrics (README): the one link queued, nothing else.
  std::string metrics;
  for (int i = 0; i < 30; ++i) {
    metrics = client().Get("/metrics")->body;
    if (metrics.find("mcn_web_messages_queued_total 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const char* line :
       {"mcn_web_messages_queued_total 1", "mcn_web_messages_refused_total 0",
        "mcn_web_messages_undeliverable_total 0", "mcn_web_preferences_saved_total 0",
        "mcn_web_preferences_refused_total 0", "mcn_web_preferences_failed_total 0",
        "mcn_notify_messages_sent_total 1", "mcn_notify_messages_delivered_total 1"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << "\n" << metrics;
  }
}

TEST_F(WebConsoleRun, SignInLimitsPerPersonAndOverall) {
  ASSERT_TRUE(start(web("signin_per_person_per_hour = 1\nsignin_global_per_minute = 2\n")))
      << slurp(dir_ / "run.log");
  EXPECT_EQ(askLink("e1014"), 200);
  EXPECT_EQ(askLink("e1014"), 429);  // per person: 1 an hour
  EXPECT_EQ(askLink("e1015"), 200);
  ASSERT_EQ(linksOf("e1015", 1).size(), 1u);
  stop();
  ASSERT_TRUE(start(web("signin_per_person_per_hour = 5\nsignin_global_per_minute = 2\n")));
  EXPECT_EQ(askLink("e1014"), 200);
  EXPECT_EQ(askLink("e1015"), 200);
  EXPECT_EQ(askLink("e1015"), 429);           // overall: 2 a minute
  EXPECT_EQ(linksOf("e1014", 2).size(), 2u);  // one from the first run, one from this
}

TEST_F(WebConsoleRun, MaxSessionsEndsTheOldestSession) {
  ASSERT_TRUE(start(web("max_sessions = 1\n"))) << slurp(dir_ / "run.log");
  ASSERT_EQ(askLink("e1014"), 200);
  ASSERT_EQ(askLink("e1015"), 200);
  auto a = linksOf("e1014", 1), b = linksOf("e1015", 1);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  const std::string base = "http://" + std::string(kAddr) + "/";
  auto first = redeem("/" + a[0].substr(base.size()));
  auto second = redeem("/" + b[0].substr(base.size()));
  ASSERT_EQ(first->status, 303);
  ASSERT_EQ(second->status, 303);
  auto me = [&](const httplib::Result& r) {
    return client()
        .Get("/me",
             httplib::Headers{{"Cookie", "mcn_session=" + valueOf(cookieOf(r, "mcn_session"))}})
        ->status;
  };
  EXPECT_EQ(me(first), 303);  // ended to make room: back to /signin
  EXPECT_EQ(me(second), 200);
}

TEST_F(WebConsoleRun, AnUnreadableSigninKeyStopsTheStartNamingTheReference) {
  EXPECT_FALSE(start(web(""), nullptr));
  EXPECT_EQ(exit_, 2);
  std::string log = slurp(dir_ / "run.log");
  EXPECT_NE(log.find("web.signin_key_ref"), std::string::npos) << log;
  EXPECT_NE(log.find("MCN_WEB_E2E_KEY"), std::string::npos) << log;
  // Too short a key is refused too, and never printed.
  EXPECT_FALSE(start(web(""), "short-key"));
  EXPECT_EQ(exit_, 2);
  log = slurp(dir_ / "run.log");
  EXPECT_NE(log.find("at least 16 bytes"), std::string::npos) << log;
  EXPECT_EQ(log.find("short-key"), std::string::npos) << log;
}

TEST_F(WebConsoleRun, OperatorTokenOpensTheOpsPagesWhoseSearchReadsTheCallHistory) {
  const fs::path token = dir_ / "ops.token";
  std::ofstream(token) << "operators-e2e-token-0123456789\n";
  ASSERT_TRUE(start(web("operator_token_ref = \"file:" + token.string() + "\"\n")))
      << slurp(dir_ / "run.log");
  auto c = client();
  // The HTTP layer lets the console's own credential through (no bearer token asked).
  auto form = c.Get("/ops/signin");
  ASSERT_EQ(form->status, 200);
  std::string pre = valueOf(cookieOf(form, "mcn_form"));
  auto post = [&](const std::string& tok) {
    return c.Post(
        "/ops/signin", httplib::Headers{{"Cookie", "mcn_form=" + pre}},
        httplib::Params{{"csrf", hiddenCsrf(form->body)}, {"name", "Ops Wang"}, {"token", tok}});
  };
  EXPECT_EQ(post("operators-e2e-token-012345678X")->status, 403);
  auto in = post("operators-e2e-token-0123456789");  // the file's line, without its newline
  ASSERT_EQ(in->status, 303);
  httplib::Headers h{{"Cookie", "mcn_session=" + valueOf(cookieOf(in, "mcn_session"))}};
  auto page = c.Get("/ops?number=1014", h);
  ASSERT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("No call matches."), std::string::npos) << page->body;
  // The history's own check of a parameter, shown on the page.
  auto bad = c.Get("/ops?outcome=sideways", h);
  EXPECT_NE(bad->body.find("outcome"), std::string::npos);
  EXPECT_NE(bad->body.find("(400)"), std::string::npos) << bad->body;
  std::string log = slurp(dir_ / "run.log");
  EXPECT_NE(log.find("operator Ops Wang signed in"), std::string::npos) << log;
  EXPECT_EQ(log.find("operators-e2e-token"), std::string::npos) << log;
  stop();
  // Too short a token stops the start, naming the reference, never the token.
  std::ofstream(token) << "short";
  EXPECT_FALSE(start(web("operator_token_ref = \"file:" + token.string() + "\"\n")));
  EXPECT_EQ(exit_, 2);
  log = slurp(dir_ / "run.log");
  EXPECT_NE(log.find("web.operator_token_ref: the token must be at least 16 bytes"),
            std::string::npos)
      << log;
}

TEST_F(WebConsoleRun, DirectoryAccountsSignStaffAndOperatorsIn) {
  mcn::test::Slapd slapd;
  ASSERT_EQ(slapd.start(), "");
  // bob's employeeNumber names an mcn person.
  std::ofstream(dir_ / "subscribers.toml", std::ios::app)
      << "[[person]]\nid = \"p-bob\"\nname = \"Bob Li\"\nnumbers = [\"1016\"]\n"
      << "[[person.channel]]\nid = \"log\"\nkind = \"jsonl\"\ntarget = \""
      << (dir_ / "p-bob.jsonl").string() << "\"\n";
  const fs::path reader = dir_ / "reader.password";
  std::ofstream(reader) << "reader-secret\n";
  // Search-then-bind over ldap:// + StartTLS: every key of README "Web console".
  ASSERT_TRUE(start(web("ldap_url = \"" + slapd.ldapUrl() + "\"\nldap_ca_file = \"" +
                        slapd.caFile() + "\"\nldap_bind_dn = \"" + mcn::test::Slapd::kReader +
                        "\"\nldap_bind_password_ref = \"file:" + reader.string() +
                        "\"\nldap_base = \"" + mcn::test::Slapd::kSuffix +
                        "\"\nldap_filter = \"(&(objectClass=inetOrgPerson)(uid={user}))\"\n"
                        "ldap_person_attribute = \"employeeNumber\"\nldap_operator_group = \"" +
                        mcn::test::Slapd::kOperators + "\"\nldap_timeout_ms = 3000\n")))
      << slurp(dir_ / "run.log");
  auto c = client();
  auto signin = [&](const std::string& form_path, const std::string& action,
                    const std::string& user, const std::string& password) {
    auto form = c.Get(form_path);
    std::string pre = valueOf(cookieOf(form, "mcn_form"));
    return c.Post(
        action, httplib::Headers{{"Cookie", "mcn_form=" + pre}},
        httplib::Params{{"csrf", hiddenCsrf(form->body)}, {"user", user}, {"password", password}});
  };
  auto wrong = signin("/signin", "/signin/ldap", "bob", "not-bobs");
  EXPECT_EQ(wrong->status, 403);
  EXPECT_EQ(cookieOf(wrong, "mcn_session"), "");
  auto in = signin("/signin", "/signin/ldap", "bob", "bob-secret");
  ASSERT_EQ(in->status, 303) << in->body;
  auto me = c.Get(
      "/me", httplib::Headers{{"Cookie", "mcn_session=" + valueOf(cookieOf(in, "mcn_session"))}});
  ASSERT_EQ(me->status, 200);
  EXPECT_NE(me->body.find("Bob Li (p-bob)"), std::string::npos) << me->body;
  // carol's password is right, but mcn has no person p-carol.
  auto carol = signin("/signin", "/signin/ldap", "carol", "carol-secret");
  EXPECT_EQ(carol->status, 403);
  EXPECT_NE(carol->body.find("no mcn person for this account"), std::string::npos);
  // Operators: a member of the group gets /ops; bob does not.
  EXPECT_EQ(signin("/ops/signin", "/ops/signin/ldap", "bob", "bob-secret")->status, 403);
  auto ops = signin("/ops/signin", "/ops/signin/ldap", "alice", "alice-secret");
  ASSERT_EQ(ops->status, 303) << ops->body;
  auto page = c.Get(
      "/ops", httplib::Headers{{"Cookie", "mcn_session=" + valueOf(cookieOf(ops, "mcn_session"))}});
  EXPECT_EQ(page->status, 200);

  // /metrics shows the counters as the notifier thread last gathered them: wait for the four.
  std::string metrics;
  for (int i = 0; i < 30; ++i) {
    metrics = c.Get("/metrics")->body;
    if (metrics.find("mcn_web_ldap_binds_ok_total 4") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const char* line : {"mcn_web_ldap_binds_ok_total 4", "mcn_web_ldap_binds_failed_total 1",
                           "mcn_web_ldap_refused_total 0", "mcn_web_ldap_errors_total 0"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << "\n" << metrics;
  }
  // Every sign-in logged with who, from where and how; no password ever.
  std::string log = slurp(dir_ / "run.log");
  EXPECT_NE(log.find("p-bob signed in from 127.0.0.1 with directory account \"bob\""),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("operator alice signed in from 127.0.0.1 with directory account"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("directory sign-in of \"bob\" from 127.0.0.1 failed"), std::string::npos)
      << log;
  for (const char* secret : {"bob-secret", "not-bobs", "alice-secret", "reader-secret"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret;
  }
}

}  // namespace
}  // namespace mcn::app
