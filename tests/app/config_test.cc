#include "mcn/app/config.h"

#include <gtest/gtest.h>

namespace mcn::app {
namespace {

std::string errorOf(std::string_view text) {
  try {
    loadConfigText(text, "mcn.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsFollowDesign) {
  Config c = defaultConfig();
  EXPECT_EQ(c.tracker.grace_ms, 2000);
  EXPECT_EQ(c.tracker.ring_timeout_ms, 180000);
  auto missed = [&](calls::Outcome o) { return c.tracker.missed[static_cast<size_t>(o)]; };
  EXPECT_TRUE(missed(calls::Outcome::kCancelled));
  EXPECT_TRUE(missed(calls::Outcome::kBusy));
  EXPECT_TRUE(missed(calls::Outcome::kNoAnswer));
  EXPECT_TRUE(missed(calls::Outcome::kForwarded));
  EXPECT_FALSE(missed(calls::Outcome::kAnswered));
  EXPECT_FALSE(missed(calls::Outcome::kAnsweredElsewhere));
  EXPECT_FALSE(missed(calls::Outcome::kDeclined));
  EXPECT_FALSE(missed(calls::Outcome::kFailed));
  EXPECT_FALSE(missed(calls::Outcome::kIncomplete));
}

TEST(Config, ReadsEverySection) {
  Config c = loadConfigText(R"(
[capture]
sip_ports = [5060, 5070]
prefilter = false
[dial_plan]
country_code = "86"
area_code = "25"
local_number_length = 8
[[dial_plan.rewrite]]
match = "^(1\\d{3})$"
replace = "+86258300$1"
[calls]
grace_ms = 500
ring_timeout_ms = 60000
missed_outcomes = ["busy", "declined"]
correlation_header = "X-CID"
)",
                            "mcn.toml");
  EXPECT_EQ(c.decoder.sip_ports, (std::vector<uint16_t>{5060, 5070}));
  EXPECT_FALSE(c.decoder.prefilter);
  EXPECT_EQ(c.parser.dial_plan.country_code, "86");
  ASSERT_EQ(c.parser.dial_plan.rewrite.size(), 1u);
  EXPECT_EQ(c.parser.dial_plan.rewrite[0].replace, "+86258300$1");
  EXPECT_EQ(c.tracker.grace_ms, 500);
  EXPECT_EQ(c.tracker.ring_timeout_ms, 60000);
  EXPECT_TRUE(c.tracker.missed[static_cast<size_t>(calls::Outcome::kDeclined)]);
  EXPECT_FALSE(c.tracker.missed[static_cast<size_t>(calls::Outcome::kCancelled)]);
  EXPECT_EQ(c.parser.correlation_header, "X-CID");
}

// Positions point at the offending value (toml++ source regions), counted by hand.
TEST(Config, ReadsGtpuPortsAndEspNullSas) {
  Config d = defaultConfig();
  EXPECT_EQ(d.decoder.gtpu_ports, std::vector<uint16_t>{2152});
  EXPECT_TRUE(d.decoder.esp_null.empty());
  EXPECT_TRUE(d.decoder.esp_null_heuristic);
  Config c = loadConfigText(
      "[capture]\ngtpu_ports = [2152, 3386]\nesp_null_heuristic = false\n"
      "esp_null = [{spi = 0x1234, icv = 16}, {spi = 4660}]\n",
      "mcn.toml");
  EXPECT_EQ(c.decoder.gtpu_ports, (std::vector<uint16_t>{2152, 3386}));
  EXPECT_FALSE(c.decoder.esp_null_heuristic);
  ASSERT_EQ(c.decoder.esp_null.size(), 2u);
  EXPECT_EQ(c.decoder.esp_null[0], (capture::EspNullSa{0x1234, 16}));
  EXPECT_EQ(c.decoder.esp_null[1], (capture::EspNullSa{4660, 12}));  // icv defaults to 12
}

TEST(Config, ErrorsNameFileLineAndField) {
  EXPECT_EQ(errorOf("[calls]\ngrace_ms = \"two\"\n"),
            "mcn.toml:2:12: calls.grace_ms: expected an integer");
  EXPECT_EQ(errorOf("[calls]\n\ngrace_ms = -5\n"),
            "mcn.toml:3:12: calls.grace_ms: must be between 0 and 86400000");
  EXPECT_EQ(errorOf("[calls]\ngrace = 5\n"), "mcn.toml:2:9: calls.grace: unknown key");
  EXPECT_EQ(errorOf("[dialplan]\n"), "mcn.toml:1:1: dialplan: unknown key");
  EXPECT_EQ(errorOf("[dial_plan]\ncountry_code = \"+86\"\n"),
            "mcn.toml:2:16: dial_plan.country_code: expected a string of digits");
  EXPECT_EQ(errorOf("[calls]\nmissed_outcomes = [\"busy\", \"bored\"]\n"),
            "mcn.toml:2:28: calls.missed_outcomes: expected outcome names such as \"busy\"");
  EXPECT_EQ(errorOf("[capture]\nsip_ports = [5060, 70000]\n"),
            "mcn.toml:2:20: capture.sip_ports: expected port numbers 1..65535");
}

TEST(Config, SyntaxErrorNamesLine) {
  std::string e = errorOf("[calls]\ngrace_ms = = 3\n");
  EXPECT_EQ(e.rfind("mcn.toml:2:", 0), 0u) << e;
}

TEST(Config, BadRegexIsAConfigError) {
  std::string e = errorOf("[[dial_plan.rewrite]]\nmatch = \"^(1\\\\d{3}$\"\nreplace = \"x\"\n");
  // The unclosed group is in the value of `match` on line 2 (column 9).
  EXPECT_EQ(e.rfind("mcn.toml:2:9: dial_plan.rewrite.match: not a regular expression", 0), 0u)
      << e;
}

TEST(Config, MissingFileIsAConfigError) {
  EXPECT_THROW(loadConfigFile("/nonexistent/mcn.toml"), ConfigError);
}

}  // namespace
}  // namespace mcn::app
