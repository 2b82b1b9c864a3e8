// The header-text helpers SipParser reads Diversion, History-Info, P-Charging-Vector, the
// correlation header and phone-context with (sipparse/src/sip_text.h). Expected values follow
// RFC 3261 §25.1 (quoted-string, quoted-pair, generic-param) and §7.3.1 (folding) by hand.

#include "../../sipparse/src/sip_text.h"

#include <gtest/gtest.h>

#include <string>

namespace mcn::sipparse::text {
namespace {

TEST(SipText, FindParamByNameInAnyCaseWithSpacesAroundIt) {
  const ParamValue icid = findParam("icid-value=ab12.1;orig-ioi=ims.example", "ICID-Value");
  EXPECT_TRUE(icid.found);
  EXPECT_EQ(icid.value, "ab12.1");
  const ParamValue ioi = findParam(" a = 1 ; orig-ioi = ims.example ", "orig-ioi");
  EXPECT_TRUE(ioi.found);
  EXPECT_EQ(ioi.value, "ims.example");
  EXPECT_FALSE(findParam("icid-value=ab12.1", "icid").found);  // a prefix is another name
  EXPECT_FALSE(findParam("", "icid-value").found);
}

TEST(SipText, FindParamWithoutValueAndEmptyPieces) {
  const ParamValue lr = findParam(";;lr;user=phone", "lr");
  EXPECT_TRUE(lr.found);
  EXPECT_EQ(lr.value, "");
  const ParamValue user = findParam(";;lr;user=phone", "user");
  EXPECT_TRUE(user.found);
  EXPECT_EQ(user.value, "phone");
}

TEST(SipText, FindParamDoesNotSplitInsideAQuotedString) {
  // the ';' and the "b=" inside the quotes belong to a's value
  const std::string params = R"(a="x;b=1";b=2)";
  const ParamValue a = findParam(params, "a");
  EXPECT_TRUE(a.found);
  EXPECT_EQ(a.value, R"("x;b=1")");
  const ParamValue b = findParam(params, "b");
  EXPECT_TRUE(b.found);
  EXPECT_EQ(b.value, "2");
}

TEST(SipText, UnquoteIntoTakesOffQuotesAndEscapes) {
  std::string out = "left over from before";
  unquoteInto(R"("Li Lei")", out);
  EXPECT_EQ(out, "Li Lei");
  unquoteInto(R"( "Wang, \"Boss\"" )", out);
  EXPECT_EQ(out, R"(Wang, "Boss")");
  unquoteInto(R"("a\\b")", out);
  EXPECT_EQ(out, R"(a\b)");
  unquoteInto(R"("no closing quote)", out);  // everything after the opening quote
  EXPECT_EQ(out, "no closing quote");
  unquoteInto(R"("abc" trailing)", out);  // ends at the closing quote
  EXPECT_EQ(out, "abc");
  unquoteInto(R"("")", out);
  EXPECT_EQ(out, "");
}

TEST(SipText, UnquoteIntoKeepsTokensAndUnfoldsLines) {
  std::string out;
  unquoteInto("  corr-1  ", out);
  EXPECT_EQ(out, "corr-1");
  unquoteInto(R"(a\b)", out);  // a backslash outside quotes is an ordinary character
  EXPECT_EQ(out, R"(a\b)");
  unquoteInto("first\r\n  second", out);  // a folded line is one SP
  EXPECT_EQ(out, "first second");
  unquoteInto("\"Li\r\n\tLei\"", out);
  EXPECT_EQ(out, "Li Lei");
  unquoteInto("\"", out);  // a lone quote is not a quoted-string
  EXPECT_EQ(out, "\"");
}

}  // namespace
}  // namespace mcn::sipparse::text
