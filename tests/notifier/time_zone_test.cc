// Local time from the system tz database (TZif, RFC 8536) through date/tz. Expected offsets are the
// published rules: Europe/London GMT/BST changes at 01:00 UTC on the last Sundays of March and
// October; China has no DST; Australia/Sydney is on AEDT (+11) from the first Sunday of October to
// the first Sunday of April. Epoch seconds from `date -u -d <ISO> +%s`.

#include "mcn/notifier/time_zone.h"

#include <gtest/gtest.h>

namespace mcn::notifier {
namespace {

constexpr int64_t kUs = 1000000;

TEST(TimeZone, LondonSwitchesToBstAt0100UtcOnTheLastSundayOfMarch2026) {
  const auto tz = TimeZone::find("Europe/London");
  ASSERT_NE(tz, nullptr);
  const int64_t change = 1774746000;  // 2026-03-29T01:00:00Z
  EXPECT_EQ(tz->utcOffsetAt(change - 1), 0);
  EXPECT_EQ(tz->utcOffsetAt(change), 3600);
  const int64_t back = 1792890000;  // 2026-10-25T01:00:00Z
  EXPECT_EQ(tz->utcOffsetAt(back - 1), 3600);
  EXPECT_EQ(tz->utcOffsetAt(back), 0);
}

TEST(TimeZone, ShanghaiIsUtcPlus8) {
  const auto tz = TimeZone::find("Asia/Shanghai");
  ASSERT_NE(tz, nullptr);
  const LocalTime lt = tz->toLocal(1795308120 * kUs);  // 2026-11-22T00:42:00Z
  EXPECT_EQ(lt.year, 2026);
  EXPECT_EQ(lt.month, 11);
  EXPECT_EQ(lt.day, 22);
  EXPECT_EQ(lt.hour, 8);
  EXPECT_EQ(lt.minute, 42);
  EXPECT_EQ(lt.utc_offset_s, 8 * 3600);
}

TEST(TimeZone, BeyondTheLastTransitionTheFooterRuleApplies) {
  // 2045 is after the last transition stored even in a "fat" TZif file (2037).
  const auto london = TimeZone::find("Europe/London");
  ASSERT_NE(london, nullptr);
  EXPECT_EQ(london->utcOffsetAt(2382523200), 3600);  // 2045-07-01T12:00Z, BST
  EXPECT_EQ(london->utcOffsetAt(2395742400), 0);     // 2045-12-01T12:00Z, GMT
  const auto sydney = TimeZone::find("Australia/Sydney");
  ASSERT_NE(sydney, nullptr);
  EXPECT_EQ(sydney->utcOffsetAt(2368051200), 11 * 3600);  // 2045-01-15T00:00Z, AEDT
  EXPECT_EQ(sydney->utcOffsetAt(2383689600), 10 * 3600);  // 2045-07-15T00:00Z, AEST
}

TEST(TimeZone, PosixRuleStrings) {
  // The rule alone (a TZif footer) gives the March 2026 London change.
  TimeZone::Rule r;
  ASSERT_TRUE(TimeZone::parseRule("GMT0BST,M3.5.0/1,M10.5.0", r));
  EXPECT_EQ(r.offsetAt(1774746000 - 1), 0);
  EXPECT_EQ(r.offsetAt(1774746000), 3600);
  EXPECT_EQ(r.offsetAt(1792890000 - 1), 3600);  // 2026-10-25T01:00Z: back to GMT at 02:00 BST
  EXPECT_EQ(r.offsetAt(1792890000), 0);

  ASSERT_TRUE(TimeZone::parseRule("CST-8", r));
  EXPECT_EQ(r.offsetAt(1774746000), 8 * 3600);
  ASSERT_TRUE(TimeZone::parseRule("<+0330>-3:30", r));
  EXPECT_EQ(r.offsetAt(1774746000), 3 * 3600 + 1800);
  ASSERT_TRUE(TimeZone::parseRule("<-03>3", r));
  EXPECT_EQ(r.offsetAt(1774746000), -3 * 3600);

  EXPECT_FALSE(TimeZone::parseRule("", r));
  EXPECT_FALSE(TimeZone::parseRule("GMT0BST,M13.5.0,M10.5.0", r));
  EXPECT_FALSE(TimeZone::parseRule("GMT0BST,M3.5.0", r));
}

TEST(TimeZone, FromLocalIsTheInverseOutsideAChangeover) {
  const auto tz = TimeZone::find("Europe/London");
  ASSERT_NE(tz, nullptr);
  // 07:00 BST on 2026-07-01 is 06:00Z.
  EXPECT_EQ(tz->fromLocal(2026, 7, 1, 7 * 60), 1782885600 * kUs);
  const auto sh = TimeZone::find("Asia/Shanghai");
  ASSERT_NE(sh, nullptr);
  // 07:00 CST on 2026-07-02 is 2026-07-01T23:00Z.
  EXPECT_EQ(sh->fromLocal(2026, 7, 2, 7 * 60), 1782946800 * kUs);
}

TEST(TimeZone, UnknownOrEscapingNamesAreRejected) {
  EXPECT_EQ(TimeZone::find("Mars/Olympus_Mons"), nullptr);
  EXPECT_EQ(TimeZone::find("../../etc/passwd"), nullptr);
  EXPECT_EQ(TimeZone::find("/etc/localtime"), nullptr);
  EXPECT_EQ(TimeZone::find(""), nullptr);
  EXPECT_NE(TimeZone::find("UTC"), nullptr);
}

}  // namespace
}  // namespace mcn::notifier
