// Every way a subscriber's number is written reaches the same stored form as the calls' numbers
// (same dial plan); SIP identities without a number meet calls/'s raw user.

#include "mcn/subscribers/numbers.h"

#include <gtest/gtest.h>

#include "mcn/capture/sip_payload.h"
#include "mcn/sipparse/parser.h"
#include "mcn/subscribers/directory.h"
#include "test_support.h"

namespace mcn::subscribers {
namespace {

using test::fixturesPlan;

std::string norm(std::string_view written) {
  std::string stored, why;
  if (!normaliseSubscriberNumber(written, fixturesPlan(), stored, why)) return "ERROR: " + why;
  return stored;
}

TEST(SubscriberNumber, EveryFormOfADeskLineIsOneNumber) {
  // +86 25 8300 1013 written the ways an office writes it.
  for (const char* w :
       {"1013",              // short extension (rewrite)
        "+86 25 8300 1013",  // E.164 with spaces
        "+86-25-8300-1013",  // visual separators
        "(025) 8300.1013",   // national with trunk 0
        "025-8300-1013",
        "8300 1013",          // local 8 digits
        "0086 25 8300 1013",  // international prefix 00
        "  1013  ",           // stray spaces
        "tel:+86-25-8300-1013", "tel:8300-1013;phone-context=+86-25", "sip:1013@ims.example.com",
        "sip:02583001013@ims.example.com;user=phone",
        "sip:+862583001013@ims.example.com;user=phone", "<sip:+862583001013@ims.example.com>",
        "Zhang Wei <sip:1013@ims.example.com>;tag=1"}) {
    EXPECT_EQ(norm(w), "+862583001013") << w;
  }
}

TEST(SubscriberNumber, MobileAndServiceCodes) {
  EXPECT_EQ(norm("+86 139 0010 1230"), "+8613900101230");
  EXPECT_EQ(norm("008613900101230"), "+8613900101230");
  EXPECT_EQ(norm("9999"), "+862583009999");
  EXPECT_EQ(norm("*21#"), "*21#");  // a service code stays as dialled
}

TEST(SubscriberNumber, SipIdentityWithoutNumberKeepsUserAndLowerCasesSchemeAndHost) {
  EXPECT_EQ(norm("sip:zhangwei@IMS.Example.com"), "sip:zhangwei@ims.example.com");
  EXPECT_EQ(norm("SIP:ZhangWei@ims.example.com;transport=tcp"), "sip:ZhangWei@ims.example.com");
  EXPECT_EQ(norm("<sips:alice@ims.example.com:5061>"), "sips:alice@ims.example.com:5061");
  EXPECT_EQ(norm("sip:alice;foo=bar@ims.example.com"), "sip:alice@ims.example.com");
}

TEST(SubscriberNumber, NonNumbersAreRefusedWithTheReason) {
  EXPECT_EQ(norm("alice"),
            "ERROR: \"alice\" is not a telephone number (write a softphone identity as "
            "sip:user@host)");
  EXPECT_EQ(norm("---"),
            "ERROR: \"---\" is not a telephone number (write a softphone identity as "
            "sip:user@host)");
  EXPECT_EQ(norm("tel:abc"), "ERROR: \"tel:abc\" is not a telephone number");
  EXPECT_EQ(norm("sip:ims.example.com"),
            "ERROR: \"sip:ims.example.com\" has no user part (expected sip:user@host)");
  EXPECT_EQ(norm(""), "ERROR: empty");
  EXPECT_EQ(norm("123456789012345678901234567890123"),  // 33 digits: longer than any number
            "ERROR: \"123456789012345678901234567890123\" is not a telephone number (write a "
            "softphone identity as sip:user@host)");
}

TEST(SubscriberNumber, StoredFormsAreRecognised) {
  EXPECT_TRUE(isStoredNumber("+862583001013"));
  EXPECT_TRUE(isStoredNumber("1013"));
  EXPECT_TRUE(isStoredNumber("*21#"));
  EXPECT_TRUE(isStoredNumber("sip:alice@ims.example.com"));
  EXPECT_FALSE(isStoredNumber("+86 25 8300 1013"));
  EXPECT_FALSE(isStoredNumber("alice"));
  EXPECT_FALSE(isStoredNumber("sip:@h"));
  EXPECT_FALSE(isStoredNumber("sip:alice"));
  EXPECT_FALSE(isStoredNumber(""));
}

// The key a subscriber is stored under equals what sipparse gives calls/ for the same URI:
// `number` when the URI holds one, else the raw `user` (calls/RULES.md "target").
TEST(SubscriberNumber, MeetsTheParsersNumberOrRawUser) {
  sipparse::ParserConfig cfg;
  cfg.dial_plan = test::fixturesPlanConfig();
  sipparse::SipParser parser(cfg);
  for (const char* to : {"sip:alice@ims.example.com", "sip:1013@ims.example.com",
                         "tel:+86-25-8300-1013", "sip:02583001013@ims.example.com;user=phone"}) {
    capture::SipPayload pl;
    pl.bytes = std::string("INVITE ") + to +
               " SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n"
               "From: <sip:bob@ims.example.com>;tag=a\r\n"
               "To: <" +
               to +
               ">\r\n"
               "Call-ID: c1@test\r\n"
               "CSeq: 1 INVITE\r\n"
               "Max-Forwards: 70\r\n"
               "Content-Length: 0\r\n\r\n";
    std::optional<sipparse::SipEvent> ev = parser.parse(pl);
    ASSERT_TRUE(ev.has_value()) << to;
    const std::string calls_key = ev->to.number.empty() ? ev->to.user : ev->to.number;
    EXPECT_EQ(numberIndexKey(norm(to)), calls_key) << to;
  }
}

}  // namespace
}  // namespace mcn::subscribers
