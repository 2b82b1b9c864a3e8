// DialPlan: every spelling of one number on an IMS core reaches one canonical string. Expected
// values are worked out by hand from RFC 3966 and the plan below (Nanjing, China: country 86,
// area 25, 8-digit local numbers, 4-digit extensions 1xxx on the 8300 block).

#include "mcn/sipparse/dial_plan.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace mcn::sipparse {
namespace {

DialPlanConfig nanjingPlan() {
  DialPlanConfig cfg;
  cfg.country_code = "86";
  cfg.national_prefix = "0";
  cfg.international_prefix = "00";
  cfg.area_code = "25";
  cfg.local_number_length = 8;
  cfg.rewrite.push_back({R"(^(1\d{3})$)", "+86258300$1"});
  return cfg;
}

TEST(DialPlan, EveryFormOfOneDeskLineIsTheSameNumber) {
  const DialPlan plan(nanjingPlan());
  const std::string want = "+862583001013";
  EXPECT_EQ(plan.normaliseUri("tel:+86-25-8300-1013"), want);
  EXPECT_EQ(plan.normaliseUri("sip:02583001013@ims.example;user=phone"), want);
  EXPECT_EQ(plan.normaliseUri("sip:+862583001013@x"), want);
  EXPECT_EQ(plan.normaliseUri("sip:83001013@x"), want);
  EXPECT_EQ(plan.normaliseUri("<sip:1013@x>"), want);
  EXPECT_EQ(plan.normaliseUri("tel:83001013;phone-context=+86-25"), want);
  EXPECT_EQ(plan.normaliseUri("sips:+86.25.8300.1013@ims.example;user=phone"), want);
  EXPECT_EQ(plan.normaliseUri("\"Desk\" <tel:(025) 8300-1013>"), want);
  EXPECT_EQ(plan.normaliseUri("SIP:83001013@X"), want);  // scheme is case-insensitive
}

TEST(DialPlan, InternationalPrefixBecomesPlus) {
  const DialPlan plan(nanjingPlan());
  EXPECT_EQ(plan.normalise("008613900101230"), "+8613900101230");
  EXPECT_EQ(plan.normalise("00-44-20-7946-0000"), "+442079460000");
}

TEST(DialPlan, NationalPrefixGetsCountryCode) {
  const DialPlan plan(nanjingPlan());
  EXPECT_EQ(plan.normalise("02583001013"), "+862583001013");
  EXPECT_EQ(plan.normalise("010-6552-9988"), "+861065529988");
}

TEST(DialPlan, LocalNumberGetsAreaCodeOnlyAtTheConfiguredLength) {
  const DialPlan plan(nanjingPlan());
  EXPECT_EQ(plan.normalise("83001013"), "+862583001013");
  // 7 and 9 digits are not local numbers of this plan: kept as dialled
  EXPECT_EQ(plan.normalise("8300101"), "8300101");
  EXPECT_EQ(plan.normalise("830010139"), "830010139");
}

TEST(DialPlan, PlusNumbersOnlyLoseSeparators) {
  const DialPlan plan(nanjingPlan());
  EXPECT_EQ(plan.normalise("+1 (212) 555-0100"), "+12125550100");
  EXPECT_EQ(plan.normalise("+8613900101230"), "+8613900101230");
}

TEST(DialPlan, GlobalPhoneContextPrefixesTheLocalNumber) {
  DialPlanConfig cfg;  // no country code: only the context can make it E.164
  const DialPlan plan(cfg);
  EXPECT_EQ(plan.normalise("83001013", "+86-25"), "+862583001013");
  EXPECT_EQ(plan.normaliseUri("tel:8300-1013;phone-context=+86-25"), "+862583001013");
  // the context inside the user part of a sip URI (3GPP TS 24.229 style)
  EXPECT_EQ(plan.normaliseUri("sip:83001013;phone-context=+86-25@ims.example;user=phone"),
            "+862583001013");
}

TEST(DialPlan, DomainPhoneContextLeavesItToThePlan) {
  const DialPlan plan(nanjingPlan());
  EXPECT_EQ(plan.normaliseUri("tel:02583001013;phone-context=ims.example.com"), "+862583001013");
  EXPECT_EQ(plan.normaliseUri("sip:1013;phone-context=ims.example.com@ims.example.com;user=phone"),
            "+862583001013");
  DialPlanConfig bare;
  const DialPlan none(bare);
  EXPECT_EQ(none.normaliseUri("tel:8300-1013;phone-context=ims.example.com"), "83001013");
}

TEST(DialPlan, WithoutCountryCodeOnlySeparatorsGo) {
  DialPlanConfig cfg;
  cfg.area_code = "25";
  cfg.local_number_length = 8;
  const DialPlan plan(cfg);
  EXPECT_EQ(plan.normalise("025-8300-1013"), "02583001013");
  EXPECT_EQ(plan.normalise("8300 1013"), "83001013");
  EXPECT_EQ(plan.normalise("008613900101230"), "008613900101230");
}

TEST(DialPlan, NamesAreNotNumbers) {
  const DialPlan plan(nanjingPlan());
  EXPECT_EQ(plan.normaliseUri("sip:alice@ims.example"), "");
  EXPECT_EQ(plan.normaliseUri("sip:voicemail@ims.example"), "");
  EXPECT_EQ(plan.normaliseUri("sip:anonymous@anonymous.invalid"), "");
  EXPECT_EQ(plan.normalise("1-800-FLOWERS"), "");
  EXPECT_EQ(plan.normaliseUri("sip:ims.example"), "");  // no user part
  EXPECT_EQ(plan.normaliseUri("mailto:1013@x"), "");    // not a phone scheme
  EXPECT_EQ(plan.normaliseUri("not a uri"), "");
  EXPECT_EQ(plan.normalise(""), "");
  EXPECT_EQ(plan.normalise("+"), "");
  EXPECT_EQ(plan.normalise("86+10"), "");               // '+' only leads
  EXPECT_EQ(plan.normalise(std::string(40, '1')), "");  // longer than any dial string
}

TEST(DialPlan, ServiceCodesKeepStarAndHashWithoutConversion) {
  const DialPlan plan(nanjingPlan());
  EXPECT_EQ(plan.normalise("*21*1013#"), "*21*1013#");
  EXPECT_EQ(plan.normalise("#31#02583001013"), "#31#02583001013");
  EXPECT_EQ(plan.normaliseUri("sip:%2A72@ims.example"), "*72");  // escaped in a sip user part
}

TEST(DialPlan, EscapedPlusInUserPart) {
  const DialPlan plan(nanjingPlan());
  EXPECT_EQ(plan.normaliseUri("sip:%2B8613900101230@ims.example;user=phone"), "+8613900101230");
}

TEST(DialPlan, RewriteRulesRunFirstAndFirstMatchWins) {
  DialPlanConfig cfg = nanjingPlan();
  cfg.rewrite.clear();
  cfg.rewrite.push_back({R"(^9(\d+)$)", "$1"});             // outside-line digit 9, then plan rules
  cfg.rewrite.push_back({R"(^9(\d{3})$)", "+86258399$1"});  // never reached for 9xxx: rule 1 wins
  cfg.rewrite.push_back({R"(^(1\d{3})$)", "+86258300$1"});
  const DialPlan plan(cfg);
  EXPECT_EQ(plan.normalise("902583001013"), "+862583001013");  // 9 stripped, then national prefix
  EXPECT_EQ(plan.normalise("9123"), "123");                    // first rule, not the second
  EXPECT_EQ(plan.normalise("1013"), "+862583001013");
  EXPECT_EQ(plan.normalise("2013"), "2013");  // no rule, too short for a local number
  // rules see separator-stripped digits
  EXPECT_EQ(plan.normalise("10-13"), "+862583001013");
}

TEST(DialPlan, ARuleMustMatchTheWholeString) {
  DialPlanConfig cfg = nanjingPlan();
  cfg.rewrite = {{R"(1\d{3})", "+86258300$&"}};
  const DialPlan plan(cfg);
  EXPECT_EQ(plan.normalise("1013"), "+862583001013");
  EXPECT_EQ(plan.normalise("21013"), "21013");  // contains 1013 but is not 1xxx
}

// The plan skips a rule's regex when the pattern shows it cannot match (wrong length, a first
// or last digit outside its class). Each rule form here must rewrite exactly the strings the
// regex matches, whether the pattern is one the plan reads itself or not.
TEST(DialPlan, RuleFormsRewriteExactlyWhatTheyMatch) {
  DialPlanConfig cfg = nanjingPlan();
  cfg.rewrite.clear();
  cfg.rewrite.push_back({R"(^([78][0-9]{2,3})$)", "+8625830$1"});  // class, range count
  cfg.rewrite.push_back({R"(^0?(1\d{3})$)", "+86258300$1"});       // optional digit
  cfg.rewrite.push_back({R"(^\+?86(6\d{3})$)", "+86258301$1"});    // escaped, optional '+'
  cfg.rewrite.push_back({R"(^\*21\*(\d+)#$)", "$1"});              // service code -> number
  cfg.rewrite.push_back({R"(^..(5\d{3})$)", "+86258305$1"});       // any two characters
  cfg.rewrite.push_back({R"(^(2020|3030)$)", "+8625830$1"});       // alternation: regex only
  const DialPlan plan(cfg);
  EXPECT_EQ(plan.normalise("712"), "+8625830712");
  EXPECT_EQ(plan.normalise("8123"), "+86258308123");
  EXPECT_EQ(plan.normalise("71234"), "71234");  // one digit too many: no rule, not 8 digits
  EXPECT_EQ(plan.normalise("612"), "612");      // first digit outside [78]
  EXPECT_EQ(plan.normalise("01013"), "+862583001013");
  EXPECT_EQ(plan.normalise("1013"), "+862583001013");
  EXPECT_EQ(plan.normalise("001013"), "+1013");  // two zeros: no rule; international prefix
  EXPECT_EQ(plan.normalise("+866013"), "+862583016013");
  EXPECT_EQ(plan.normalise("866013"), "+862583016013");
  EXPECT_EQ(plan.normalise("*21*1013#"), "1013");       // the rule's output is not a service code
  EXPECT_EQ(plan.normalise("*21*1013*"), "*21*1013*");  // last character not '#': as dialled
  EXPECT_EQ(plan.normalise("*22*1013#"), "*22*1013#");
  EXPECT_EQ(plan.normalise("995013"), "+862583055013");
  EXPECT_EQ(plan.normalise("*#5013"), "+862583055013");
  EXPECT_EQ(plan.normalise("95013"), "95013");  // one character short of "..5xxx"
  EXPECT_EQ(plan.normalise("3030"), "+86258303030");
  EXPECT_EQ(plan.normalise("3031"), "3031");
}

TEST(DialPlan, BadPatternIsRejectedAtStartupNamingIt) {
  DialPlanConfig cfg = nanjingPlan();
  cfg.rewrite.push_back({"^(1\\d{3}$", "x"});
  try {
    const DialPlan plan(cfg);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("^(1\\d{3}$"), std::string::npos) << e.what();
  }
}

TEST(DialPlan, NonDigitPrefixesAreRejected) {
  DialPlanConfig cfg = nanjingPlan();
  cfg.country_code = "+86";
  EXPECT_THROW(DialPlan{cfg}, std::invalid_argument);
  cfg = nanjingPlan();
  cfg.local_number_length = -1;
  EXPECT_THROW(DialPlan{cfg}, std::invalid_argument);
}

TEST(DialPlan, MovedPlanKeepsItsRules) {
  DialPlan a(nanjingPlan());
  DialPlan b(std::move(a));
  EXPECT_EQ(b.normalise("1013"), "+862583001013");
  EXPECT_EQ(b.config().country_code, "86");
}

}  // namespace
}  // namespace mcn::sipparse
