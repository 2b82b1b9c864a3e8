// Sign-in links (web/include/mcn/web/signin.h): single use, expiring, rate-limited, and never
// interchangeable with call-back links. Time is passed in; nothing here sleeps.
#include "mcn/web/signin.h"

#include <gtest/gtest.h>

#include <string>

#include "mcn/sipua/callback_link.h"

namespace mcn::web {
namespace {

using sipua::LinkVerdict;

constexpr int64_t kT0 = 1'796'000'000'000;
constexpr int64_t kMinute = 60'000;
const std::string kKey = "0123456789abcdef-signin-key";

SignInLimits limits(int per_person, int global) {
  SignInLimits l;
  l.link_ttl_ms = 15 * kMinute;
  l.per_person_per_hour = per_person;
  l.global_per_minute = global;
  return l;
}

TEST(WebSignIn, LinkNamesThePersonAndSignsInOnce) {
  SignInLinks links(kKey, limits(5, 60));
  auto issued = links.issue("e1024", kT0);
  ASSERT_FALSE(issued.token.empty()) << issued.why;
  // The confirm page (GET) uses nothing up, however often a scanner fetches it.
  for (int i = 0; i < 3; ++i) {
    auto c = links.check(issued.token, kT0 + i);
    EXPECT_EQ(c.verdict, LinkVerdict::kOk);
    EXPECT_EQ(c.claims.person, "e1024");
  }
  auto r = links.redeem(issued.token, kT0 + 10);
  EXPECT_EQ(r.verdict, LinkVerdict::kOk);
  EXPECT_EQ(r.claims.person, "e1024");
  EXPECT_EQ(links.redeem(issued.token, kT0 + 11).verdict, LinkVerdict::kUsed);
  EXPECT_EQ(links.check(issued.token, kT0 + 12).verdict, LinkVerdict::kUsed);
}

TEST(WebSignIn, LinkExpires) {
  SignInLinks links(kKey, limits(5, 60));
  auto issued = links.issue("e1024", kT0);
  EXPECT_EQ(links.check(issued.token, kT0 + 15 * kMinute - 1).verdict, LinkVerdict::kOk);
  EXPECT_EQ(links.redeem(issued.token, kT0 + 15 * kMinute).verdict, LinkVerdict::kExpired);
}

TEST(WebSignIn, RateLimitedPerPersonAndOverall) {
  SignInLinks links(kKey, limits(2, 3));
  EXPECT_FALSE(links.issue("e1", kT0).token.empty());
  EXPECT_FALSE(links.issue("e1", kT0 + 1).token.empty());
  auto third = links.issue("e1", kT0 + 2);
  EXPECT_TRUE(third.token.empty());
  EXPECT_EQ(third.why, "too many sign-in links asked for; try again later");
  // Another person still may, until the overall limit.
  EXPECT_FALSE(links.issue("e2", kT0 + 3).token.empty());
  EXPECT_TRUE(links.issue("e3", kT0 + 4).token.empty());
  // A minute on, the overall window has room; e1's hour has not passed.
  EXPECT_FALSE(links.issue("e3", kT0 + kMinute + 5).token.empty());
  EXPECT_TRUE(links.issue("e1", kT0 + kMinute + 6).token.empty());
  EXPECT_FALSE(links.issue("e1", kT0 + 60 * kMinute + 7).token.empty());
}

TEST(WebSignIn, UnrepresentablePersonGetsNoLink) {
  SignInLinks links(kKey, limits(5, 60));
  auto issued = links.issue("e1\ne2", kT0);
  EXPECT_TRUE(issued.token.empty());
  EXPECT_EQ(issued.why, "this person cannot sign in by link");
}

TEST(WebSignIn, CallBackLinkUnderTheSameKeyDoesNotSignIn) {
  SignInLinks links(kKey, limits(5, 60));
  sipua::CallbackLinks callback(kKey, 15 * kMinute);
  std::string c = callback.issue("e1024", "web", kT0);
  EXPECT_EQ(links.check(c, kT0).verdict, LinkVerdict::kForged);
  EXPECT_EQ(links.redeem(c, kT0).verdict, LinkVerdict::kForged);
  EXPECT_EQ(links.redeem("not-a-token", kT0).verdict, LinkVerdict::kMalformed);
}

TEST(WebSignIn, ShortKeyIsRefusedAtStartUp) {
  EXPECT_THROW(SignInLinks("short", limits(5, 60)), std::invalid_argument);
}

}  // namespace
}  // namespace mcn::web
