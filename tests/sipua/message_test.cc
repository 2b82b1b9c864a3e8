// The SIP MESSAGE channel's body cut (RFC 3428 §10: under 1300 bytes) and its verdict on a final
// response (issue 19 item 6). What a person reading the parts on a phone would notice: nothing
// lost, nothing garbled, the parts numbered in order.
#include "mcn/sipua/message.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace mcn::sipua {
namespace {

// Valid UTF-8 by the definition of RFC 3629 §4 (written independently of message.cc).
bool isUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// The parts without their "(i/n) " prefixes, joined; checks the numbering on the way.
std::string joined(const std::vector<std::string>& parts) {
  std::string all;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string prefix = "(" + std::to_string(i + 1) + "/" + std::to_string(parts.size()) + ") ";
    EXPECT_TRUE(parts[i].starts_with(prefix)) << i << ": " << parts[i].substr(0, 12);
    all += parts[i].substr(prefix.size());
  }
  return all;
}

TEST(SplitMessageBody, ShortTextIsOnePartAsIs) {
  std::string text = "Missed call from 025-8300-1013 at 09:14 (rang 25 s).";
  EXPECT_EQ(splitMessageBody(text), std::vector<std::string>{text});
  EXPECT_EQ(splitMessageBody(""), std::vector<std::string>{""});
  std::string exact(1300, 'x');
  EXPECT_EQ(splitMessageBody(exact).size(), 1u) << "1300 bytes is the limit, not over it";
}

TEST(SplitMessageBody, LongTextBecomesNumberedPartsUnderTheLimitLosingNothing) {
  std::string text;
  for (int i = 0; i < 80; ++i) text += "Missed call " + std::to_string(i) + " from 1013 at 09:14\n";
  ASSERT_GT(text.size(), 2600u);  // over two parts' room, well under three
  ASSERT_LT(text.size(), 3500u);
  auto parts = splitMessageBody(text);
  ASSERT_EQ(parts.size(), 3u);
  for (const auto& p : parts) EXPECT_LE(p.size(), 1300u);
  EXPECT_EQ(joined(parts), text);
  // Cut at line ends: no line is split across two parts.
  for (size_t i = 0; i + 1 < parts.size(); ++i) EXPECT_TRUE(parts[i].ends_with("\n")) << i;
}

TEST(SplitMessageBody, ChineseTextIsNeverCutInsideACharacter) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "未接来电";  // 12 bytes, no space anywhere
  auto parts = splitMessageBody(text);
  ASSERT_GE(parts.size(), 10u);
  for (const auto& p : parts) {
    EXPECT_LE(p.size(), 1300u);
    EXPECT_TRUE(isUtf8(p));
  }
  EXPECT_EQ(joined(parts), text);
}

TEST(SplitMessageBody, InvalidUtf8IsReplacedNotPassedOn) {
  // A stray continuation byte, a truncated sequence, an overlong '/', a UTF-16 surrogate.
  std::string text =
      "a\x80"
      "b\xE6\x9C"
      "c\xC0\xAF"
      "d\xED\xA0\x80"
      "e";
  auto parts = splitMessageBody(text);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_TRUE(isUtf8(parts[0]));
  EXPECT_EQ(parts[0].substr(0, 4), "a\xEF\xBF\xBD");
  EXPECT_NE(parts[0].find("b\xEF\xBF\xBD"), std::string::npos);
  EXPECT_TRUE(parts[0].ends_with("e"));
  EXPECT_EQ(parts[0].find('\xC0'), std::string::npos);
  EXPECT_EQ(parts[0].find('\xED'), std::string::npos);
}

TEST(SplitMessageBody, TwoDigitPartCountsStillFit) {
  std::string text(500, 'z');
  auto parts = splitMessageBody(text, 40);
  ASSERT_GE(parts.size(), 10u);
  for (const auto& p : parts) EXPECT_LE(p.size(), 40u) << p;
  EXPECT_EQ(joined(parts), text);
  size_t longest = 0;
  for (const auto& p : splitMessageBody(text, 1)) longest = std::max(longest, p.size());
  EXPECT_EQ(longest, 32u) << "a tiny limit counts as 32";
}

TEST(JudgeMessageResponse, TwoHundredsDeliverTemporaryFailuresRetryTheRestDeadLetter) {
  for (int s : {200, 202}) {
    EXPECT_EQ(judgeMessageResponse(s, std::nullopt).outcome, MessageOutcome::kDelivered) << s;
  }
  for (int s : {408, 480, 500, 503, 504}) {
    auto v = judgeMessageResponse(s, std::nullopt);
    EXPECT_EQ(v.outcome, MessageOutcome::kRetry) << s;
    EXPECT_FALSE(v.retry_after_ms.has_value()) << s;
  }
  for (int s : {0, 100, 180, 302, 400, 403, 404, 415, 486, 488, 603, 700}) {
    EXPECT_EQ(judgeMessageResponse(s, std::nullopt).outcome, MessageOutcome::kDeadLetter) << s;
  }
}

TEST(JudgeMessageResponse, RetryAfterIsHonouredAndBounded) {
  EXPECT_EQ(judgeMessageResponse(503, 120).retry_after_ms, 120000);
  EXPECT_EQ(judgeMessageResponse(480, 0).retry_after_ms, 0);
  EXPECT_EQ(judgeMessageResponse(503, int64_t{1} << 40).retry_after_ms, 86400000);
  EXPECT_FALSE(judgeMessageResponse(503, -5).retry_after_ms.has_value());
  EXPECT_FALSE(judgeMessageResponse(404, 60).retry_after_ms.has_value()) << "no retry, no wait";
}

TEST(MessageOutcome, NamesAreApi) {
  EXPECT_EQ(messageOutcomeName(MessageOutcome::kDelivered), "delivered");
  EXPECT_EQ(messageOutcomeName(MessageOutcome::kRetry), "retry");
  EXPECT_EQ(messageOutcomeName(MessageOutcome::kDeadLetter), "dead_letter");
}

}  // namespace
}  // namespace mcn::sipua
