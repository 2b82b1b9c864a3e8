// Sign-in with a directory account (web/include/mcn/web/ldap_auth.h) against a real slapd
// (tests/support/slapd.h) over ldaps:// and ldap:// + StartTLS, with certificates made at test
// time: the right password gives the person, everything else is refused, and neither a hung
// server nor an untrusted certificate gets a password.
#include "mcn/web/ldap_auth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "slapd_config.h"

namespace mcn::web {
namespace {

using Outcome = LdapAuthenticator::Outcome;
using mcn::test::Slapd;

class LdapAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    slapd_ = &mcn::test::sharedSlapd(&error);
    ASSERT_EQ(error, "") << "slapd is needed (deploy/install-deps.sh)";
  }

  static LdapConfig templateConfig() { return mcn::test::templateLdapConfig(*slapd_); }
  // Search-then-bind over ldap:// + StartTLS with the service account.
  static LdapConfig searchConfig() {
    LdapConfig c = templateConfig();
    c.url = slapd_->ldapUrl();
    c.user_dn.clear();
    c.bind_dn = Slapd::kReader;
    c.bind_password_ref = "env:UNUSED_HERE";
    c.base = Slapd::kSuffix;
    c.filter = "(&(objectClass=inetOrgPerson)(uid={user}))";
    return c;
  }

  static Slapd* slapd_;
};
Slapd* LdapAuth::slapd_ = nullptr;

TEST_F(LdapAuth, RightPasswordGivesThePersonOverLdaps) {
  LdapAuthenticator a(templateConfig(), "");
  auto r = a.authenticate("bob", "bob-secret");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.person_id, "p-bob");
  EXPECT_FALSE(r.is_operator);
  EXPECT_EQ(r.user_dn, "uid=bob,ou=people,dc=mcn,dc=test");
  EXPECT_EQ(a.bindsOk(), 1u);
  EXPECT_EQ(a.bindsFailed() + a.refused() + a.errors(), 0u);
}

TEST_F(LdapAuth, AttemptsFromManyHttpThreadsAtOnce) {
  // The HTTP pool's threads share one authenticator; each attempt has its own connection.
  LdapAuthenticator a(templateConfig(), "");
  std::vector<std::thread> threads;
  std::atomic<int> right{0}, wrong{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto r = a.authenticate("bob", i % 2 == 0 ? "bob-secret" : "nope");
      (r.ok && r.person_id == "p-bob" ? right : wrong)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(right.load(), 3);
  EXPECT_EQ(wrong.load(), 3);
  EXPECT_EQ(a.bindsOk(), 3u);
  EXPECT_EQ(a.bindsFailed(), 3u);
}

TEST_F(LdapAuth, SearchThenBindOverStartTls) {
  LdapAuthenticator a(searchConfig(), "reader-secret");
  auto r = a.authenticate("alice", "alice-secret");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.person_id, "p-alice");
  EXPECT_TRUE(r.is_operator);
  EXPECT_EQ(r.user_dn, "uid=alice,ou=people,dc=mcn,dc=test");
  // Wrong password and unknown user answer alike.
  auto wrong = a.authenticate("alice", "alice-secreT");
  auto unknown = a.authenticate("zed", "zed-secret");
  EXPECT_EQ(wrong.outcome, Outcome::kBadCredentials);
  EXPECT_EQ(unknown.outcome, Outcome::kBadCredentials);
  EXPECT_EQ(wrong.error, unknown.error);
  EXPECT_EQ(a.bindsOk(), 1u);
  EXPECT_EQ(a.bindsFailed(), 2u);
  EXPECT_EQ(a.errors(), 0u);
}

TEST_F(LdapAuth, AnonymousSearchThenBind) {
  // No service account: the search is anonymous, which this directory allows under ou=people
  // only; the person id is then read as the user.
  LdapConfig c = searchConfig();
  c.bind_dn.clear();
  c.bind_password_ref.clear();
  c.base = Slapd::kPeople;
  LdapAuthenticator a(c, "");
  auto bob = a.authenticate("bob", "bob-secret");
  EXPECT_TRUE(bob.ok) << bob.error;
  EXPECT_EQ(bob.person_id, "p-bob");
  EXPECT_EQ(bob.user_dn, "uid=bob,ou=people,dc=mcn,dc=test");
  EXPECT_EQ(a.authenticate("bob", "bob-secreT").outcome, Outcome::kBadCredentials);
  EXPECT_EQ(a.authenticate("zed", "zed-secret").outcome, Outcome::kBadCredentials);
  // A base an anonymous client may not see: the sign-in cannot work, which is an error for the
  // operator (the log says why), not "wrong password" for the person.
  c.base = Slapd::kSuffix;
  LdapAuthenticator hidden(c, "");
  auto r = hidden.authenticate("bob", "bob-secret");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.outcome, Outcome::kError);
  EXPECT_NE(r.error.find("search under dc=mcn,dc=test: Insufficient access"), std::string::npos)
      << r.error;
  EXPECT_EQ(hidden.errors(), 1u);
}

TEST_F(LdapAuth, WrongPasswordAndUnknownUserAreRefused) {
  LdapAuthenticator a(templateConfig(), "");
  auto wrong = a.authenticate("bob", "alice-secret");
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.outcome, Outcome::kBadCredentials);
  EXPECT_TRUE(wrong.person_id.empty());
  auto unknown = a.authenticate("nobody", "nobody-secret");
  EXPECT_FALSE(unknown.ok);
  EXPECT_EQ(unknown.outcome, Outcome::kBadCredentials);
  EXPECT_EQ(a.bindsFailed(), 2u);
  EXPECT_EQ(a.bindsOk(), 0u);
}

TEST_F(LdapAuth, EmptyPasswordIsRefusedBeforeTheServerCouldCallItAnonymous) {
  // First show that the server itself would take it: an unauthenticated bind (RFC 4513 §5.1.2)
  // of a real DN with no password succeeds at slapd. The authenticator must never send one.
  const std::string dn = "uid=bob," + std::string(Slapd::kPeople);
  const std::string cmd = "LDAPTLS_CACERT='" + slapd_->caFile() + "' ldapwhoami -x -H '" +
                          slapd_->ldapsUrl() + "' -D '" + dn + "' -w '' >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "slapd refused an unauthenticated bind itself";

  LdapAuthenticator a(templateConfig(), "");
  auto r = a.authenticate("bob", "");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.outcome, Outcome::kRefused);
  EXPECT_EQ(r.error, "an empty password is not accepted");
  EXPECT_EQ(a.refused(), 1u);
  EXPECT_EQ(a.bindsOk() + a.bindsFailed() + a.errors(), 0u);
}

TEST_F(LdapAuth, UserNamesWithControlsOrTooLongAreRefusedBeforeAnyNetwork) {
  // A server that would hang: a refusal before any I/O answers at once, not after the timeout.
  mcn::test::SilentListener hung;
  LdapConfig c = templateConfig();
  c.url = "ldaps://127.0.7.1:" + std::to_string(hung.port()) + "/";
  c.timeout_ms = 60000;
  LdapAuthenticator a(c, "");
  for (std::string user : {std::string("bob\n"), std::string("bo\0b", 4), std::string("\x7f"),
                           std::string(257, 'b'), std::string()}) {
    auto r = a.authenticate(user, "bob-secret");
    EXPECT_EQ(r.outcome, Outcome::kRefused) << user.size();
  }
  EXPECT_EQ(a.refused(), 5u);
  EXPECT_EQ(a.errors(), 0u);
}

TEST_F(LdapAuth, InjectionInTheUserNameIsOnlyAName) {
  LdapAuthenticator search(searchConfig(), "reader-secret");
  // Unescaped, "*)(uid=*" would make the filter match every entry (and "*" any uid).
  for (std::string user : {"*)(uid=*", "*", "alice)(|(uid=*", "al*"}) {
    auto r = search.authenticate(user, "alice-secret");
    EXPECT_EQ(r.outcome, Outcome::kBadCredentials) << user;
  }
  LdapAuthenticator tmpl(templateConfig(), "");
  for (std::string user : {"*)(uid=*", "alice,ou=people", "bob+cn=x", "alice\\"}) {
    auto r = tmpl.authenticate(user, "alice-secret");
    EXPECT_EQ(r.outcome, Outcome::kBadCredentials) << user << ": " << r.error;
  }
  EXPECT_EQ(search.bindsOk() + tmpl.bindsOk(), 0u);
}

TEST_F(LdapAuth, OperatorGroupMembersOnly) {
  LdapAuthenticator a(templateConfig(), "");
  auto alice = a.authenticate("alice", "alice-secret");
  auto bob = a.authenticate("bob", "bob-secret");
  ASSERT_TRUE(alice.ok && bob.ok);
  EXPECT_TRUE(alice.is_operator);
  EXPECT_FALSE(bob.is_operator);
  // groupOfUniqueNames: uniqueMember.
  LdapConfig c = templateConfig();
  c.operator_group = Slapd::kOperatorsUnique;
  LdapAuthenticator u(c, "");
  EXPECT_TRUE(u.authenticate("eve", "eve-secret").is_operator);
  EXPECT_FALSE(u.authenticate("alice", "alice-secret").is_operator);
  // A group the users cannot read: only the entry's own memberOf can tell (frank's says so,
  // alice's does not), in either spelling of the group's DN.
  c.operator_group = "CN=mcn-operators-h, dc=mcn,DC=test";
  LdapAuthenticator h(c, "");
  auto frank = h.authenticate("frank", "frank-secret");
  EXPECT_TRUE(frank.ok) << frank.error;
  EXPECT_EQ(frank.person_id, "p-frank");
  EXPECT_TRUE(frank.is_operator);
  EXPECT_FALSE(h.authenticate("alice", "alice-secret").is_operator);
  // No group configured: nobody is an operator by LDAP.
  c.operator_group.clear();
  LdapAuthenticator none(c, "");
  auto r = none.authenticate("alice", "alice-secret");
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.is_operator);
}

TEST_F(LdapAuth, PersonIdIsTheUserNameWithoutAttributeAndEmptyWhenTheEntryHasNone) {
  LdapConfig c = templateConfig();
  c.person_attribute.clear();
  LdapAuthenticator byName(c, "");
  EXPECT_EQ(byName.authenticate("bob", "bob-secret").person_id, "bob");
  LdapAuthenticator byAttr(templateConfig(), "");
  auto dave = byAttr.authenticate("dave", "dave-secret");
  EXPECT_TRUE(dave.ok) << dave.error;
  EXPECT_EQ(dave.person_id, "");
}

TEST_F(LdapAuth, ServerCertificateFromAnotherCaIsRefusedWithATlsError) {
  for (const std::string& url : {slapd_->ldapsUrl(), slapd_->ldapUrl()}) {
    LdapConfig c = templateConfig();
    c.url = url;
    c.ca_file = slapd_->otherCaFile();
    LdapAuthenticator a(c, "");
    auto r = a.authenticate("bob", "bob-secret");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
    EXPECT_EQ(r.error.find("bob-secret"), std::string::npos);
    EXPECT_EQ(a.errors(), 1u);
  }
}

TEST_F(LdapAuth, ServerCertificateForAnotherHostIsRefused) {
  // The trusted CA signed it, but for 127.0.7.1: at 127.0.7.3 it names the wrong host
  // (RFC 6125 §6); the same server at 127.0.7.1 is accepted.
  LdapConfig c = templateConfig();
  c.url = slapd_->ldapsUrlOtherHost();
  LdapAuthenticator a(c, "");
  auto r = a.authenticate("bob", "bob-secret");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.outcome, Outcome::kError);
  EXPECT_NE(r.error.find("TLS handshake failed"), std::string::npos) << r.error;
  EXPECT_TRUE(LdapAuthenticator(templateConfig(), "").authenticate("bob", "bob-secret").ok);
}

TEST_F(LdapAuth, HungServerIsRefusedWithinTheTimeout) {
  mcn::test::SilentListener hung;
  for (const char* scheme : {"ldaps", "ldap"}) {
    LdapConfig c = templateConfig();
    c.url = std::string(scheme) + "://127.0.7.1:" + std::to_string(hung.port()) + "/";
    c.timeout_ms = 300;
    LdapAuthenticator a(c, "");
    const auto t0 = std::chrono::steady_clock::now();
    auto r = a.authenticate("bob", "bob-secret");
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.outcome, Outcome::kError) << r.error;
    // A bound, not a measurement: the attempt ends near timeout_ms, never hangs.
    EXPECT_LT(took, std::chrono::milliseconds(2500)) << scheme << ": " << r.error;
    EXPECT_EQ(a.errors(), 1u);
  }
}

TEST_F(LdapAuth, PlainLdapWithoutStartTlsIsRefused) {
  Slapd plain;
  ASSERT_EQ(plain.start(/*tls=*/false), "");
  LdapConfig c = templateConfig();
  c.url = plain.ldapUrl();
  LdapAuthenticator a(c, "");
  auto r = a.authenticate("bob", "bob-secret");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.outcome, Outcome::kError);
  EXPECT_NE(r.error.find("StartTLS"), std::string::npos) << r.error;
  EXPECT_EQ(a.errors(), 1u);
  EXPECT_EQ(a.bindsOk() + a.bindsFailed(), 0u);
}

TEST(LdapEscape, DnAndFilterValues) {
  EXPECT_EQ(escapeDnValue("alice"), "alice");
  EXPECT_EQ(escapeDnValue("a,b+c\"d\\e<f>g;h=i"), "a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h\\=i");
  EXPECT_EQ(escapeDnValue(" #x "), "\\ #x\\ ");
  EXPECT_EQ(escapeDnValue("#x"), "\\#x");
  EXPECT_EQ(escapeDnValue(std::string("a\0b", 3)), "a\\00b");
  EXPECT_EQ(escapeFilterValue("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
  EXPECT_EQ(escapeFilterValue("a\\b"), "a\\5cb");
  EXPECT_EQ(escapeFilterValue(std::string("a\0b", 3)), "a\\00b");
  EXPECT_EQ(escapeFilterValue("李雷"), "李雷");
}

TEST(LdapConfigCheck, Problems) {
  LdapConfig c;
  EXPECT_EQ(ldapConfigProblem(c), "");  // off
  c.url = "http://x/";
  EXPECT_NE(ldapConfigProblem(c).find("expected ldaps://"), std::string::npos);
  c.url = "ldaps://x/";
  EXPECT_NE(ldapConfigProblem(c).find("either web.ldap_user_dn"), std::string::npos);
  c.user_dn = "uid=x,dc=y";
  EXPECT_EQ(ldapConfigProblem(c), "web.ldap_user_dn: the DN template needs {user}");
  c.user_dn = "uid={user},dc=y";
  EXPECT_EQ(ldapConfigProblem(c), "");
  c.user_dn.clear();
  c.base = "dc=y";
  c.filter = "uid={user}";
  EXPECT_NE(ldapConfigProblem(c).find("web.ldap_filter"), std::string::npos);
  c.filter = "(uid={user})";
  c.bind_dn = "cn=r,dc=y";
  EXPECT_NE(ldapConfigProblem(c).find("together"), std::string::npos);
  c.bind_password_ref = "env:X";
  EXPECT_EQ(ldapConfigProblem(c), "");
  EXPECT_THROW(LdapAuthenticator(LdapConfig{}, ""), std::invalid_argument);
}

}  // namespace
}  // namespace mcn::web
