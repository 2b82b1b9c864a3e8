// Web console sessions, CSRF tokens and cookies (web/include/mcn/web/session.h). Time and
// randomness are passed in; nothing here sleeps.
#include "mcn/web/session.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace mcn::web {
namespace {

constexpr int64_t kT0 = 1'796'000'000'000;
constexpr int64_t kHour = 3'600'000;

TEST(WebSession, CreatedSessionIsFoundByItsCookieValueWithItsOwnCsrfToken) {
  SessionStore store(kHour, 100);
  auto a = store.create("e1024", Role::kStaff, kT0);
  auto b = store.create("e1025", Role::kOperator, kT0);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->id.size(), 64u);
  EXPECT_NE(a->id, b->id);
  EXPECT_NE(a->csrf, b->csrf);
  EXPECT_NE(a->id, a->csrf);
  auto found = store.find(a->id, kT0 + 1000);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->person, "e1024");
  EXPECT_EQ(found->role, Role::kStaff);
  EXPECT_EQ(found->csrf, a->csrf);
  EXPECT_EQ(store.find(b->id, kT0)->role, Role::kOperator);
}

TEST(WebSession, UnknownOrGuessedIdFindsNothing) {
  SessionStore store(kHour, 100);
  auto a = store.create("e1024", Role::kStaff, kT0);
  ASSERT_TRUE(a);
  EXPECT_FALSE(store.find("", kT0));
  EXPECT_FALSE(store.find(a->csrf, kT0));  // the form token is not a session
  std::string near = a->id;
  near.back() = near.back() == '0' ? '1' : '0';
  EXPECT_FALSE(store.find(near, kT0));
}

TEST(WebSession, IdleSessionExpiresAndUseRenewsIt) {
  SessionStore store(kHour, 100);
  auto a = store.create("e1024", Role::kStaff, kT0);
  ASSERT_TRUE(a);
  EXPECT_TRUE(store.find(a->id, kT0 + kHour - 1));      // used just in time: renewed
  EXPECT_TRUE(store.find(a->id, kT0 + 2 * kHour - 2));  // so still alive an hour later
  EXPECT_FALSE(store.find(a->id, kT0 + 3 * kHour));     // idle an hour: gone
  EXPECT_EQ(store.size(), 0u);
}

TEST(WebSession, SignOutEndsTheSession) {
  SessionStore store(kHour, 100);
  auto a = store.create("e1024", Role::kStaff, kT0);
  ASSERT_TRUE(a);
  EXPECT_TRUE(store.end(a->id));
  EXPECT_FALSE(store.find(a->id, kT0));
  EXPECT_FALSE(store.end(a->id));
}

TEST(WebSession, TableIsBoundedAndEvictionIsCounted) {
  SessionStore store(kHour, 3);
  std::string first;
  for (int i = 0; i < 10; ++i) {
    auto s = store.create("p" + std::to_string(i), Role::kStaff, kT0 + i);
    ASSERT_TRUE(s);
    if (i == 0) first = s->id;
  }
  EXPECT_EQ(store.size(), 3u);
  EXPECT_EQ(store.evicted(), 7u);
  EXPECT_FALSE(store.find(first, kT0 + 20));  // the oldest went first
}

TEST(WebSession, NoSessionWhenRandomnessFailsOrPersonIsEmpty) {
  SessionStore broken(kHour, 10, [](unsigned char*, size_t) { return false; });
  EXPECT_FALSE(broken.create("e1024", Role::kStaff, kT0));
  EXPECT_EQ(broken.size(), 0u);
  SessionStore store(kHour, 10);
  EXPECT_FALSE(store.create("", Role::kStaff, kT0));
}

TEST(WebSession, RepeatedRandomnessNeverHandsOutTheSameIdTwice) {
  // A stuck generator makes the same id: the second sign-in is refused, not merged.
  SessionStore store(kHour, 10, [](unsigned char* out, size_t n) {
    std::memset(out, 7, n);
    return true;
  });
  EXPECT_TRUE(store.create("e1024", Role::kStaff, kT0));
  EXPECT_FALSE(store.create("e1025", Role::kStaff, kT0));
}

TEST(WebCsrf, OnlyTheExactTokenMatches) {
  EXPECT_TRUE(csrfMatches("abcdef0123", "abcdef0123"));
  EXPECT_FALSE(csrfMatches("abcdef0123", ""));
  EXPECT_FALSE(csrfMatches("abcdef0123", "abcdef012"));
  EXPECT_FALSE(csrfMatches("abcdef0123", "abcdef01234"));
  EXPECT_FALSE(csrfMatches("abcdef0123", "abcdef0124"));
  EXPECT_FALSE(csrfMatches("", ""));
}

TEST(WebCookie, SessionCookieIsHttpOnlyStrictAndSecureOnlyOverTls) {
  EXPECT_EQ(sessionCookie("abc", 3600, false),
            "mcn_session=abc; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict");
  EXPECT_EQ(sessionCookie("abc", 3600, true),
            "mcn_session=abc; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure");
  EXPECT_EQ(sessionCookie("", 0, false),
            "mcn_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
}

TEST(WebCookie, ValueIsReadFromTheCookieHeader) {
  EXPECT_EQ(cookieValue("mcn_session=abc", "mcn_session"), "abc");
  EXPECT_EQ(cookieValue("a=1; mcn_session=abc; b=2", "mcn_session"), "abc");
  EXPECT_EQ(cookieValue("a=1;mcn_session=\"abc\"", "mcn_session"), "abc");
  EXPECT_EQ(cookieValue("xmcn_session=abc; mcn_sessionx=def", "mcn_session"), "");
  EXPECT_EQ(cookieValue("", "mcn_session"), "");
  EXPECT_EQ(cookieValue("mcn_session", "mcn_session"), "");
  EXPECT_EQ(cookieValue(";;; =; mcn_session=", "mcn_session"), "");
}

}  // namespace
}  // namespace mcn::web
