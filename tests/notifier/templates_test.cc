// What a person reads. Expected messages are written by hand from the default templates: 王芳
// (Wang Fang) missed two calls from 张伟 (08:42 on her desk line; 08:45 ringing her desk line and
// extension 1013 at once), then a withheld call at 09:01 that found her busy. Times are
// Asia/Shanghai (UTC+8): 2026-11-22T00:42:00Z = 08:42 local.

#include "mcn/notifier/templates.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace mcn::notifier {
namespace {

constexpr int64_t kUs = 1000000;
constexpr int64_t k0842 = 1795308120 * kUs;
constexpr int64_t k0845 = 1795308300 * kUs;
constexpr int64_t k0901 = 1795309260 * kUs;

calls::CallRecord rec(std::string call_id, std::string caller, std::string name, std::string callee,
                      int64_t at, calls::Outcome o) {
  calls::CallRecord r;
  r.call_id = std::move(call_id);
  r.caller = std::move(caller);
  r.caller_name = std::move(name);
  r.caller_withheld = r.caller.empty();
  r.callee = std::move(callee);
  r.started_at_us = at;
  r.ended_at_us = at + 5 * kUs;
  r.outcome = o;
  r.missed = true;
  return r;
}

std::vector<std::vector<calls::CallRecord>> morning() {
  using calls::Outcome;
  return {
      {rec("c1@x", "+8613900101230", "张伟", "+862583001013", k0842, Outcome::kCancelled)},
      {rec("c2@x", "+8613900101230", "", "1013", k0845, Outcome::kCancelled),
       rec("c2@x", "+8613900101230", "张伟", "+862583001013", k0845, Outcome::kCancelled)},
      {rec("c3@x", "", "", "+862583001013", k0901, Outcome::kBusy)},
  };
}

class TemplatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tz_ = TimeZone::find("Asia/Shanghai");
    ASSERT_NE(tz_, nullptr);
  }
  RenderedMessage render(const Templates& t, std::string_view lang, MessageFormat f,
                         const std::string& person = "王芳") {
    return t.render(buildMessageModel(person, morning()), *tz_, lang, f);
  }
  std::shared_ptr<const TimeZone> tz_;
};

TEST_F(TemplatesTest, ChinesePlainSaysWhoWhichNumbersWhenHowOftenWhatHappened) {
  const auto m = render(Templates(), "zh", MessageFormat::kPlain);
  EXPECT_EQ(m.title, "未接来电 (3)");
  EXPECT_EQ(m.text,
            "王芳，您有 3 个未接来电（2026-11-22）：\n"
            "张伟 (+8613900101230) 于 08:42、08:45 呼叫 +862583001013、1013，共 2 次，对方已挂断\n"
            "未显示号码 于 09:01 呼叫 +862583001013，共 1 次，忙线");
}

TEST_F(TemplatesTest, EnglishPlain) {
  const auto m = render(Templates(), "en", MessageFormat::kPlain, "Wang Fang");
  EXPECT_EQ(m.title, "Missed calls (3)");
  EXPECT_EQ(
      m.text,
      "Wang Fang, you missed 3 call(s) on 2026-11-22:\n"
      "张伟 (+8613900101230) called +862583001013, 1013 at 08:42, 08:45 (2x): caller hung up\n"
      "withheld called +862583001013 at 09:01 (1x): busy");
}

TEST_F(TemplatesTest, MarkdownForWeComAndDingTalk) {
  const auto m = render(Templates(), "zh", MessageFormat::kMarkdown);
  EXPECT_EQ(m.title, "未接来电 (3)");
  EXPECT_EQ(
      m.text,
      "#### 未接来电 (3)\n王芳，您有 3 个未接来电（2026-11-22）：\n\n"
      "- **张伟 (+8613900101230)** 于 08:42、08:45 呼叫 +862583001013、1013，共 2 次，对方已挂断\n"
      "- **未显示号码** 于 09:01 呼叫 +862583001013，共 1 次，忙线");
}

TEST_F(TemplatesTest, FeishuTextCarriesItsTitleInTheText) {
  const auto m = render(Templates(), "en", MessageFormat::kFeishuText, "Wang Fang");
  EXPECT_EQ(m.text.rfind("Missed calls (3)\nWang Fang, you missed 3 call(s) on 2026-11-22:\n", 0),
            0u)
      << m.text;
}

TEST_F(TemplatesTest, SmsIsOneShortLine) {
  const auto zh = render(Templates(), "zh", MessageFormat::kSms);
  EXPECT_EQ(zh.text, "未接来电3次（+862583001013、1013），最近：未显示号码 09:01，忙线");
  const auto en = render(Templates(), "en", MessageFormat::kSms);
  EXPECT_EQ(en.text, "3 missed call(s) to +862583001013, 1013, last: withheld at 09:01, busy");

  // A multi-line override still goes out as one line, cut to sms_max_chars code points.
  const Templates t({{"zh.sms.body", "{#calls}{who}\n{/calls}"}, {"sms_max_chars", "12"}});
  const auto cut = t.render(buildMessageModel("王芳", morning()), *tz_, "zh", MessageFormat::kSms);
  // "张伟 (+8613900101230) 未显示号码" -> first 11 code points + "…"
  EXPECT_EQ(cut.text, "张伟 (+861390…");
}

TEST_F(TemplatesTest, OneCallFromAKnownCallerWithoutName) {
  const std::vector<std::vector<calls::CallRecord>> calls = {
      {rec("c9@x", "+8613900101230", "", "+862583001013", k0842, calls::Outcome::kNoAnswer)}};
  const auto m =
      Templates().render(buildMessageModel("王芳", calls), *tz_, "zh", MessageFormat::kPlain);
  EXPECT_EQ(m.title, "未接来电 (1)");
  EXPECT_EQ(m.text,
            "王芳，您有 1 个未接来电（2026-11-22）：\n"
            "+8613900101230 于 08:42 呼叫 +862583001013，共 1 次，未接听");
}

TEST_F(TemplatesTest, OutcomesInPlainWords) {
  const Templates t;
  MessageCall c;
  const std::vector<std::pair<calls::Outcome, std::pair<std::string, std::string>>> want = {
      {calls::Outcome::kBusy, {"忙线", "busy"}},
      {calls::Outcome::kNoAnswer, {"未接听", "no answer"}},
      {calls::Outcome::kCancelled, {"对方已挂断", "caller hung up"}},
      {calls::Outcome::kDeclined, {"已拒接", "declined"}},
      {calls::Outcome::kForwarded, {"已转接", "forwarded"}},
  };
  for (const auto& [o, words] : want) {
    c.outcome = o;
    EXPECT_EQ(t.outcomeText(c, "zh"), words.first);
    EXPECT_EQ(t.outcomeText(c, "en"), words.second);
  }
}

TEST_F(TemplatesTest, ForwardedSaysWhyAndWhereAndRecognisesVoicemail) {
  Templates t;
  t.setVoicemailNumbers({"+862583009000"});
  MessageCall c;
  c.outcome = calls::Outcome::kForwarded;
  c.reason = "user-busy";
  c.forwarded_to = "+862583009000";
  EXPECT_EQ(t.outcomeText(c, "zh"), "忙线，已转语音信箱");
  EXPECT_EQ(t.outcomeText(c, "en"), "busy, went to voicemail");
  c.reason = "no-answer";
  c.forwarded_to = "+8613800000001";
  EXPECT_EQ(t.outcomeText(c, "zh"), "未接听，已转接至 +8613800000001");
  EXPECT_EQ(t.outcomeText(c, "en"), "no answer, forwarded to +8613800000001");
  c.reason = "unknown";
  c.forwarded_to.reset();
  EXPECT_EQ(t.outcomeText(c, "en"), "forwarded");
}

TEST_F(TemplatesTest, DisplayNamesCannotInjectLines) {
  const std::vector<std::vector<calls::CallRecord>> calls = {
      {rec("c9@x", "+8613900101230", "Eve\nFAKE: you won", "+862583001013", k0842,
           calls::Outcome::kBusy)}};
  const Templates t(std::map<std::string, std::string>{{"en.plain.body", "{#calls}{who}{/calls}"}});
  const auto m = t.render(buildMessageModel("W", calls), *tz_, "en", MessageFormat::kPlain);
  EXPECT_EQ(m.text, "Eve FAKE: you won (+8613900101230)");
}

TEST_F(TemplatesTest, OverridesReplaceOnlyWhatTheyName) {
  const Templates t({{"zh.plain.title", "{{未接}} {count} 个 / {callers} 人"},
                     {"zh.plain.body", "{caller}|{caller_name}|{time}|{my_numbers}"}});
  const auto m = render(t, "zh", MessageFormat::kPlain);
  EXPECT_EQ(m.title, "{未接} 3 个 / 2 人");
  // Outside the section the caller fields are the most recent call's; my_numbers all of them.
  EXPECT_EQ(m.text, "未显示号码||09:01|+862583001013、1013");
  // The markdown template was not overridden.
  EXPECT_EQ(render(t, "zh", MessageFormat::kMarkdown).text.rfind("#### 未接来电 (3)", 0), 0u);
}

TEST_F(TemplatesTest, ANewLanguageFallsBackToItsPlainTemplateAndEnglishWords) {
  const Templates t({{"de.plain.title", "Verpasst ({count})"},
                     {"de.plain.body", "{#calls}{who}: {outcome}; {/calls}"},
                     {"de.word.busy", "besetzt"}});
  const auto m = render(t, "de", MessageFormat::kMarkdown);
  EXPECT_EQ(m.title, "Verpasst (3)");
  EXPECT_EQ(m.text, "张伟 (+8613900101230): caller hung up; withheld: besetzt; ");
}

TEST_F(TemplatesTest, UnknownLanguagesFallBack) {
  const Templates t;
  EXPECT_EQ(render(t, "en-GB", MessageFormat::kPlain).title, "Missed calls (3)");
  EXPECT_EQ(render(t, "fr", MessageFormat::kPlain).title, "未接来电 (3)");
}

TEST(TemplatesValidation, UnknownPlaceholderIsNamed) {
  try {
    Templates t(
        std::map<std::string, std::string>{{"en.sms.body", "{count} calls from {calller}"}});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("{calller}"), std::string::npos) << what;
    EXPECT_NE(what.find("en.sms.body"), std::string::npos) << what;
  }
}

TEST(TemplatesValidation, MalformedTemplatesAndKeysAreRejected) {
  using M = std::map<std::string, std::string>;
  EXPECT_THROW(Templates(M{{"zh.plain.body", "{#calls}{who}"}}), std::invalid_argument);
  EXPECT_THROW(Templates(M{{"zh.plain.body", "{who}{/calls}"}}), std::invalid_argument);
  EXPECT_THROW(Templates(M{{"zh.plain.body", "{#calls}{#calls}{/calls}{/calls}"}}),
               std::invalid_argument);
  EXPECT_THROW(Templates(M{{"zh.plain.body", "{#people}{/people}"}}), std::invalid_argument);
  EXPECT_THROW(Templates(M{{"zh.plain.body", "open {who"}}), std::invalid_argument);
  EXPECT_THROW(Templates(M{{"zh.html.body", "x"}}), std::invalid_argument);
  EXPECT_THROW(Templates(M{{"zh.plain.subject", "x"}}), std::invalid_argument);
  EXPECT_THROW(Templates(M{{"zh.word.hello", "x"}}), std::invalid_argument);
  EXPECT_THROW(Templates(M{{"de.sms.body", "x"}}), std::invalid_argument);  // no de.plain
  EXPECT_THROW(Templates(M{{"de.word.busy", "besetzt"}}), std::invalid_argument);
  EXPECT_THROW(Templates(M{{"sms_max_chars", "0"}}), std::invalid_argument);
  EXPECT_THROW(Templates(M{{"title", "x"}}), std::invalid_argument);
}

TEST(TemplatesFormats, ChannelKindsMapToRenderings) {
  using K = subscribers::ChannelKind;
  EXPECT_EQ(formatFor(K::kConsole), MessageFormat::kPlain);
  EXPECT_EQ(formatFor(K::kJsonl), MessageFormat::kPlain);
  EXPECT_EQ(formatFor(K::kEmail), MessageFormat::kPlain);
  EXPECT_EQ(formatFor(K::kWebhook), MessageFormat::kPlain);
  EXPECT_EQ(formatFor(K::kWeCom), MessageFormat::kMarkdown);
  EXPECT_EQ(formatFor(K::kDingTalk), MessageFormat::kMarkdown);
  EXPECT_EQ(formatFor(K::kFeishu), MessageFormat::kFeishuText);
  EXPECT_EQ(formatFor(K::kSmsAliyun), MessageFormat::kSms);
  EXPECT_EQ(formatFor(K::kSmsHttp), MessageFormat::kSms);
}

}  // namespace
}  // namespace mcn::notifier

namespace mcn::notifier {
namespace {

// {callback_link}: each caller's own link in the section (callers in order of their first call),
// the latest caller's outside; nothing
// for a withheld caller (there is nobody to call back) or without a link maker.
TEST(TemplatesCallbackLink, PerCallerAndNoneForWithheld) {
  auto tz = TimeZone::find("Asia/Shanghai");
  ASSERT_NE(tz, nullptr);
  const Templates t(std::map<std::string, std::string>{
      {"en.plain.body", "{#calls}{caller}:[{callback_link}] {/calls}last:[{callback_link}]"}});
  using calls::Outcome;
  std::vector<std::vector<calls::CallRecord>> calls = {
      {rec("c1@x", "+8613900101230", "", "1013", k0842, Outcome::kCancelled)},
      {rec("c3@x", "", "", "1013", k0901, Outcome::kBusy)},
      {rec("c4@x", "1014", "", "1013", k0845, Outcome::kBusy)}};
  MessageModel m = buildMessageModel("Wang Fang", calls);
  EXPECT_EQ(t.render(m, *tz, "en", MessageFormat::kPlain).text,
            "+8613900101230:[] 1014:[] withheld:[] last:[]");
  for (CallerSummary& s : m.callers) s.callback_link = "https://mcn.example/l/" + s.caller;
  m.all.callback_link = "https://mcn.example/l/latest";
  EXPECT_EQ(t.render(m, *tz, "en", MessageFormat::kPlain).text,
            "+8613900101230:[https://mcn.example/l/+8613900101230] "
            "1014:[https://mcn.example/l/1014] withheld:[] last:[]")
      << "the latest call is the withheld one: no link outside the section";
}

}  // namespace
}  // namespace mcn::notifier
