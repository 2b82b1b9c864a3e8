// The call-back link token (sipua/include/mcn/sipua/callback_link.h) and the rate limits. Time
// is passed in; nothing here sleeps.
#include "mcn/sipua/callback_link.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mcn::sipua {
namespace {

constexpr int64_t kDay = 24 * 3600 * 1000;
constexpr int64_t kT0 = 1'796'000'000'000;  // some Unix ms
const std::string kKey = "0123456789abcdef-link-key";

TEST(CallbackLink, IssuedTokenChecksAndNamesPersonAndCaller) {
  CallbackLinks links(kKey, kDay);
  std::string t = links.issue("e1024", "+8613900101230", kT0);
  ASSERT_FALSE(t.empty());
  auto c = links.check(t, kT0 + 1000);
  EXPECT_EQ(c.verdict, LinkVerdict::kOk);
  EXPECT_EQ(c.claims.person, "e1024");
  EXPECT_EQ(c.claims.caller, "+8613900101230");
  EXPECT_EQ(c.claims.expires_ms, kT0 + kDay);
  // URL-safe as it stands: no padding, no '+' or '/'.
  EXPECT_EQ(t.find_first_of("+/= "), std::string::npos) << t;
}

TEST(CallbackLink, TwoTokensForTheSameCallDiffer) {
  CallbackLinks links(kKey, kDay);
  EXPECT_NE(links.issue("e1", "1013", kT0), links.issue("e1", "1013", kT0));
}

TEST(CallbackLink, SingleUse) {
  CallbackLinks links(kKey, kDay);
  std::string t = links.issue("e1", "1013", kT0);
  EXPECT_EQ(links.check(t, kT0).verdict, LinkVerdict::kOk);
  EXPECT_EQ(links.check(t, kT0).verdict, LinkVerdict::kOk) << "check (the GET) uses nothing up";
  EXPECT_EQ(links.redeem(t, kT0 + 1).verdict, LinkVerdict::kOk);
  EXPECT_EQ(links.redeem(t, kT0 + 2).verdict, LinkVerdict::kUsed);
  EXPECT_EQ(links.check(t, kT0 + 3).verdict, LinkVerdict::kUsed);
  // Another link for the same person and caller still works.
  EXPECT_EQ(links.redeem(links.issue("e1", "1013", kT0), kT0 + 4).verdict, LinkVerdict::kOk);
}

TEST(CallbackLink, ExpiresAfterTheTtl) {
  CallbackLinks links(kKey, kDay);
  std::string t = links.issue("e1", "1013", kT0);
  EXPECT_EQ(links.redeem(t, kT0 + kDay - 1).verdict, LinkVerdict::kOk);
  std::string u = links.issue("e1", "1013", kT0);
  EXPECT_EQ(links.redeem(u, kT0 + kDay).verdict, LinkVerdict::kExpired);
  // A used token is forgotten once expired, and stays refused by its expiry.
  EXPECT_EQ(links.redeem(t, kT0 + kDay + 1).verdict, LinkVerdict::kExpired);
  EXPECT_EQ(links.remembered(), 0u);
}

TEST(CallbackLink, AnotherKeyOrAnEditIsForged) {
  CallbackLinks links(kKey, kDay);
  CallbackLinks other("another-key-of-16+bytes", kDay);
  std::string t = other.issue("e1", "1013", kT0);
  EXPECT_EQ(links.check(t, kT0).verdict, LinkVerdict::kForged);

  // Re-binding a good token to another person: payload edited, signature kept.
  std::string good = links.issue("e1", "1013", kT0);
  std::string payload;
  ASSERT_TRUE(unbase64url(good.substr(0, good.find('.')), payload));
  std::string edited = payload;
  edited.replace(edited.find("e1"), 2, "e2");
  std::string forged = base64url(edited) + good.substr(good.find('.'));
  EXPECT_EQ(links.redeem(forged, kT0).verdict, LinkVerdict::kForged);
  // Later expiry, same way.
  std::string later = payload;
  later.replace(later.find(std::to_string(kT0 + kDay)), 13, std::to_string(kT0 + 9 * kDay));
  EXPECT_EQ(links.redeem(base64url(later) + good.substr(good.find('.')), kT0).verdict,
            LinkVerdict::kForged);
  // One flipped character of the signature.
  std::string flipped = good;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(links.redeem(flipped, kT0).verdict, LinkVerdict::kForged);
  EXPECT_EQ(links.redeem(good, kT0).verdict, LinkVerdict::kOk);
}

TEST(CallbackLink, ATokenMadeForAnotherPurposeIsForgedUnderTheSameKey) {
  // The web console's sign-in links are this module with purpose "signin": a sign-in link must
  // never place a call back, nor a call-back link sign anyone in.
  CallbackLinks callback(kKey, kDay);
  CallbackLinks signin(kKey, kDay, "signin");
  std::string s = signin.issue("e1", "web", kT0);
  std::string c = callback.issue("e1", "1013", kT0);
  EXPECT_EQ(callback.redeem(s, kT0).verdict, LinkVerdict::kForged);
  EXPECT_EQ(signin.redeem(c, kT0).verdict, LinkVerdict::kForged);
  EXPECT_EQ(signin.redeem(s, kT0).verdict, LinkVerdict::kOk);
  EXPECT_EQ(callback.redeem(c, kT0).verdict, LinkVerdict::kOk);
}

TEST(CallbackLink, GarbageIsMalformedNotACrash) {
  CallbackLinks links(kKey, kDay);
  for (const std::string& t : std::vector<std::string>{"", ".", "abc", "a.b.c", "....",
                                                       std::string(3000, 'A') + ".x", "é.é"}) {
    auto v = links.redeem(t, kT0).verdict;
    EXPECT_TRUE(v == LinkVerdict::kMalformed || v == LinkVerdict::kForged) << t;
  }
}

TEST(CallbackLink, RefusesShortKeysAndUnrepresentableClaims) {
  EXPECT_THROW(CallbackLinks("short", kDay), std::invalid_argument);
  CallbackLinks links(kKey, kDay);
  EXPECT_EQ(links.issue("e1\n", "1013", kT0), "");
  EXPECT_EQ(links.issue("e1", "10\n13", kT0), "");
  EXPECT_EQ(links.issue("", "1013", kT0), "");
}

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    std::string back;
    ASSERT_TRUE(unbase64url(base64url(bytes), back)) << i;
    EXPECT_EQ(back, bytes);
    bytes.push_back(static_cast<char>(i * 37 + 200));
  }
  std::string out;
  EXPECT_FALSE(unbase64url("A", out));     // impossible length
  EXPECT_FALSE(unbase64url("AB+/", out));  // standard, not URL-safe, alphabet
  EXPECT_FALSE(unbase64url("AB", out));    // leftover bits not zero: a second spelling of "\0"
  EXPECT_TRUE(unbase64url("AA", out));
}

TEST(RateLimits, PerPersonPerHour) {
  RateLimits limits(2, 0);
  std::string why;
  EXPECT_TRUE(limits.allow("e1", kT0, &why));
  EXPECT_TRUE(limits.allow("e1", kT0 + 1000, &why));
  EXPECT_FALSE(limits.allow("e1", kT0 + 2000, &why));
  EXPECT_NE(why.find("e1"), std::string::npos) << why;
  EXPECT_TRUE(limits.allow("e2", kT0 + 2000, &why)) << "another person has their own budget";
  EXPECT_FALSE(limits.allow("e1", kT0 + 3'600'000 - 1, &why));
  EXPECT_TRUE(limits.allow("e1", kT0 + 3'600'000, &why)) << "the first one left the window";
}

TEST(RateLimits, GlobalPerMinute) {
  RateLimits limits(0, 3);
  std::string why;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limits.allow("p" + std::to_string(i), kT0 + i, &why));
  EXPECT_FALSE(limits.allow("p9", kT0 + 10, &why));
  EXPECT_NE(why.find("minute"), std::string::npos) << why;
  EXPECT_TRUE(limits.allow("p9", kT0 + 60'000, &why));
}

}  // namespace
}  // namespace mcn::sipua
