// CSV import in the shape of an HR/directory export: quoting, BOM, line endings, and every bad row
// named by row and column with nothing imported.

#include "mcn/subscribers/csv_import.h"

#include <gtest/gtest.h>

#include "mcn/subscribers/toml_store.h"
#include "test_support.h"

namespace mcn::subscribers {
namespace {

using test::fixturesPlan;

std::vector<Person> load(const std::string& text) {
  return loadCsvText(text, "hr.csv", fixturesPlan());
}

std::string errorOf(const std::string& text) {
  try {
    load(text);
  } catch (const SubscriberError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CsvImport, GoodFileGivesPeopleWithNormalisedNumbersAndChannels) {
  const std::string text =
      "id,name,numbers,language,merge_window,quiet_hours,outcomes,internal_calls,channel_kind,"
      "channel_target,channel_secret_ref,channel2_kind,channel2_target_ref\n"
      "e1013,\"Zhang, Wei\",1013;+86 139 0010 1230|sip:zhangwei@ims.example.com,en,30s,"
      "22:00-07:30 drop,busy;no_answer,no,console,,,wecom,env:MCN_WECOM_URL\n"
      "e1014,李娜,025-8300-1014,,,,,,email,li.na@example.com,env:MCN_SMTP_PASSWORD,,\n";
  std::vector<Person> people = load(text);
  ASSERT_EQ(people.size(), 2u);
  const Person& a = people[0];
  EXPECT_EQ(a.id, "e1013");
  EXPECT_EQ(a.name, "Zhang, Wei");
  EXPECT_EQ(a.numbers, (std::vector<std::string>{"+862583001013", "+8613900101230",
                                                 "sip:zhangwei@ims.example.com"}));
  EXPECT_EQ(a.prefs.language, "en");
  EXPECT_EQ(a.prefs.merge_window_ms, 30000);
  ASSERT_TRUE(a.prefs.quiet_hours.has_value());
  EXPECT_EQ(a.prefs.quiet_hours->start_minute, 1320);
  EXPECT_EQ(a.prefs.quiet_hours->end_minute, 450);
  EXPECT_EQ(a.prefs.quiet_hours->action, QuietAction::kDrop);
  EXPECT_FALSE(a.prefs.use_missed_flag);
  EXPECT_TRUE(a.prefs.outcomes[static_cast<size_t>(common::Outcome::kBusy)]);
  EXPECT_TRUE(a.prefs.outcomes[static_cast<size_t>(common::Outcome::kNoAnswer)]);
  EXPECT_FALSE(a.prefs.outcomes[static_cast<size_t>(common::Outcome::kCancelled)]);
  EXPECT_FALSE(a.prefs.internal_calls);
  ASSERT_EQ(a.channels.size(), 2u);
  EXPECT_EQ(a.channels[0].kind, ChannelKind::kConsole);
  EXPECT_EQ(a.channels[1].kind, ChannelKind::kWeCom);
  EXPECT_EQ(a.channels[1].id, "wecom");
  EXPECT_EQ(a.channels[1].target_ref, "env:MCN_WECOM_URL");
  const Person& b = people[1];
  EXPECT_EQ(b.name, "李娜");
  EXPECT_EQ(b.numbers, std::vector<std::string>{"+862583001014"});
  EXPECT_EQ(b.prefs.language, "zh");  // empty cell: default
  EXPECT_EQ(b.prefs.merge_window_ms, 60000);
  EXPECT_TRUE(b.prefs.use_missed_flag);
  ASSERT_EQ(b.channels.size(), 1u);
  EXPECT_EQ(b.channels[0].target, "li.na@example.com");
  EXPECT_EQ(b.channels[0].secret_ref, "env:MCN_SMTP_PASSWORD");
}

TEST(CsvImport, BomCrlfQuotesAndHeaderCaseAreAccepted) {
  const std::string text =
      "\xEF\xBB\xBF"
      "ID,Name,Numbers,Channel_Kind\r\n"
      "e1,\"Wei \"\"the boss\"\" Zhang\",\"1013; 1014\",console\r\n"
      "\r\n"
      "e2,\"Li, Na\",\"1015\",console\r\n";
  std::vector<Person> people = load(text);
  ASSERT_EQ(people.size(), 2u);
  EXPECT_EQ(people[0].id, "e1");  // the BOM is not part of the first column's name
  EXPECT_EQ(people[0].name, "Wei \"the boss\" Zhang");
  EXPECT_EQ(people[0].numbers, (std::vector<std::string>{"+862583001013", "+862583001014"}));
  EXPECT_EQ(people[1].name, "Li, Na");
}

TEST(CsvImport, EveryBadRowIsNamedAndNothingIsImported) {
  const std::string text =
      "id,name,numbers,channel_kind,channel_target\n"  // row 1
      "e1,A,1013,console,\n"                           // row 2: fine
      "e2,B,abc,console,\n"                            // row 3
      "e3,C,1014,wechat,\n"                            // row 4
      "e4,D,025 8300 1013,console,\n"                  // row 5: e1's number
      "e1,E,1015,console,\n"                           // row 6: e1's id
      "e6,F,1016,email,not-an-address\n"               // row 7
      "e7,G,1017,console\n"                            // row 8: a column short
      "e8,H,,console,\n"                               // row 9
      "e9,I,1019,,\n";                                 // row 10
  EXPECT_EQ(errorOf(text),
            "hr.csv:row 3: column numbers: \"abc\" is not a telephone number (write a softphone "
            "identity as sip:user@host)\n"
            "hr.csv:row 4: column channel_kind: unknown kind \"wechat\" (one of console, jsonl, "
            "webhook, wecom, dingtalk, feishu, sms_aliyun, sms_http, email, sip_message)\n"
            "hr.csv:row 5: column numbers: +862583001013 already belongs to e1 on row 2\n"
            "hr.csv:row 6: column id: \"e1\" is also on row 2\n"
            "hr.csv:row 7: column channel_target: expected an e-mail address\n"
            "hr.csv:row 8: expected 5 columns, found 4\n"
            "hr.csv:row 9: column numbers: empty (a person needs at least one number)\n"
            "hr.csv:row 10: column channel_kind: empty (every person needs a channel)");
}

TEST(CsvImport, RowNumbersCountLinesThroughBlankLinesAndQuotedNewlines) {
  const std::string text =
      "id,name,numbers,channel_kind\n"  // 1
      "e1,\"a\nb\",1013,console\n"      // 2-3
      "\n"                              // 4
      "e2,B,xyz,console\n";             // 5
  // A line break is not allowed in a name, but the record still spans lines 2-3.
  EXPECT_EQ(errorOf(text),
            "hr.csv:row 2: column name: not valid single-line UTF-8 text\n"
            "hr.csv:row 5: column numbers: \"xyz\" is not a telephone number (write a softphone "
            "identity as sip:user@host)");
}

struct CsvCase {
  const char* what;
  std::string text;
  std::string error;

  friend void PrintTo(const CsvCase& c, std::ostream* os) { *os << c.what; }
};

class CsvErrors : public ::testing::TestWithParam<CsvCase> {};

TEST_P(CsvErrors, MessageNamesRowAndColumn) {
  EXPECT_EQ(errorOf(GetParam().text), GetParam().error);
}

const std::string kHeader = "id,name,numbers,channel_kind,channel_target,channel_secret_ref\n";

INSTANTIATE_TEST_SUITE_P(
    Each, CsvErrors,
    ::testing::Values(
        CsvCase{"empty file", "", "hr.csv:row 1: expected a header row (id,name,numbers,...)"},
        CsvCase{"unknown column", "id,phone,numbers,channel_kind\n",
                "hr.csv:row 1: column phone: unknown column (see subscribers/README.md)"},
        CsvCase{"column twice", "id,numbers,numbers,channel_kind\n",
                "hr.csv:row 1: column numbers: appears twice"},
        CsvCase{"required column missing", "id,name,numbers\n",
                "hr.csv:row 1: column channel_kind: missing from the header"},
        CsvCase{"unclosed quote", kHeader + "e1,\"A,1013,console,,\n",
                "hr.csv:row 2: field 2: quoted field never closed"},
        CsvCase{"text after a quote", kHeader + "e1,\"A\"x,1013,console,,\n",
                "hr.csv:row 2: field 2: text after a closing quote"},
        CsvCase{"bad UTF-8", kHeader + "e1,\xff\xfe,1013,console,,\n",
                "hr.csv:row 2: column name: not valid single-line UTF-8 text"},
        CsvCase{"bad id", kHeader + "e 1,A,1013,console,,\n",
                "hr.csv:row 2: column id: must be 1-64 characters of A-Z a-z 0-9 . _ - @"},
        CsvCase{"empty id", kHeader + ",A,1013,console,,\n", "hr.csv:row 2: column id: empty"},
        CsvCase{"secret in the ref column", kHeader + "e1,A,1013,console,,s3cr3t\n",
                "hr.csv:row 2: column channel_secret_ref: expected \"env:NAME\" or "
                "\"file:/absolute/path\", not the credential itself"},
        CsvCase{"target of a missing kind",
                "id,numbers,channel_kind,channel2_kind,channel2_target\ne1,1013,console,,https://"
                "x.example\n",
                "hr.csv:row 2: column channel2_kind: empty while channel2_target is set"},
        CsvCase{"wecom without target", kHeader + "e1,A,1013,wecom,,\n",
                "hr.csv:row 2: column channel_target: empty (the WeCom robot URL, or a "
                "channel_target_ref column with env:NAME)"},
        CsvCase{"same kind twice",
                "id,numbers,channel_kind,channel2_kind\ne1,1013,console,console\n",
                "hr.csv:row 2: column channel2_id: duplicate channel id \"console\""},
        CsvCase{"credential option",
                "id,numbers,channel_kind,channel_options\ne1,1013,console,api_token=abc\n",
                "hr.csv:row 2: column channel_options: api_token: credentials are not written "
                "inline; use the channel's secret_ref = \"env:NAME\""},
        CsvCase{"quiet hours", "id,numbers,channel_kind,quiet_hours\ne1,1013,console,22-07\n",
                "hr.csv:row 2: column quiet_hours: expected HH:MM-HH:MM, optionally followed by "
                "hold or drop"},
        CsvCase{"boolean", "id,numbers,channel_kind,withheld_callers\ne1,1013,console,maybe\n",
                "hr.csv:row 2: column withheld_callers: expected true or false (yes/no, 1/0)"},
        CsvCase{"time zone", "id,numbers,channel_kind,time_zone\ne1,1013,console,Mars/Olympus\n",
                "hr.csv:row 2: column time_zone: unknown time zone \"Mars/Olympus\" (not under "
                "/usr/share/zoneinfo)"},
        CsvCase{"merge window", "id,numbers,channel_kind,merge_window\ne1,1013,console,soon\n",
                "hr.csv:row 2: column merge_window: expected a duration like 60s, 500ms, 2m, 1h "
                "or 0"},
        CsvCase{"outcome", "id,numbers,channel_kind,outcomes\ne1,1013,console,busy;rang\n",
                "hr.csv:row 2: column outcomes: unknown outcome \"rang\" (one of answered, "
                "answered_elsewhere, forwarded, cancelled, busy, no_answer, declined, "
                "redirected, failed, incomplete)"}),
    [](const ::testing::TestParamInfo<CsvCase>& info) {
      std::string n = info.param.what;
      for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return n;
    });

TEST(CsvImport, ManyBadRowsAreCappedWithACount) {
  std::string text = "id,numbers,channel_kind\n";
  for (int i = 0; i < 25; ++i) text += "e" + std::to_string(i) + ",nope,console\n";
  const std::string e = errorOf(text);
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 20);  // 20 rows + the count line
  EXPECT_NE(e.find("hr.csv:row 21: column numbers:"), std::string::npos);
  EXPECT_EQ(e.find("hr.csv:row 22:"), std::string::npos);
  EXPECT_TRUE(e.ends_with("\nhr.csv: 5 more bad rows")) << e;
}

TEST(CsvImport, ExportThenImportGivesTheSamePeople) {
  const std::string toml = R"(
[[person]]
id = "e1013"
name = "Zhang, \"Wei\""
numbers = ["1013", "sip:zhangwei@ims.example.com"]
[person.preferences]
merge_window = "0"
quiet_hours = { start = "12:00", end = "13:30", action = "hold" }
time_zone = "UTC"
language = "en"
outcomes = ["cancelled"]
external_calls = false
min_ring = "2s"
[[person.channel]]
kind = "console"
[[person.channel]]
id = "sms"
kind = "sms_aliyun"
target = "+8613900101230"
secret_ref = "env:ALIYUN_SECRET"
[person.channel.options]
sign_name = "南京电力"
template_code = "SMS_1"

[[person]]
id = "e1014"
name = "李娜"
numbers = ["1014"]
[[person.channel]]
kind = "webhook"
target = "https://hooks.example.com/mcn?a=1,b=2"
)";
  const std::vector<Person> people = loadTomlText(toml, "subs.toml", fixturesPlan());
  const std::string csv = exportCsv(people);
  EXPECT_EQ(loadCsvText(csv, "export.csv", sipparse::DialPlan(sipparse::DialPlanConfig{})), people)
      << csv;
  EXPECT_EQ(csv.substr(0, csv.find('\r')),
            "id,name,numbers,language,time_zone,merge_window,quiet_hours,outcomes,min_ring,"
            "internal_calls,external_calls,withheld_callers,channel_id,channel_kind,"
            "channel_target,channel_target_ref,channel_secret_ref,channel_options,channel2_id,"
            "channel2_kind,channel2_target,channel2_target_ref,channel2_secret_ref,"
            "channel2_options");
}

TEST(CsvImport, FileWithBomLoadsFromDisk) {
  test::TempDir dir;
  const std::string path =
      dir.write("hr.csv", "\xEF\xBB\xBFid,name,numbers,channel_kind\ne1,张伟,1013,console\n");
  std::vector<Person> people = loadCsvFile(path, fixturesPlan());
  ASSERT_EQ(people.size(), 1u);
  EXPECT_EQ(people[0].name, "张伟");
}

}  // namespace
}  // namespace mcn::subscribers
