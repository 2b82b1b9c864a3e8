// The TOML subscribers file: what a correct file gives, and the exact message an operator gets for
// each mistake (file:line:col: field: reason; positions counted by hand from the text below).

#include "mcn/subscribers/toml_store.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace mcn::subscribers {
namespace {

using test::fixturesPlan;

std::string errorOf(const std::string& text) {
  try {
    loadTomlText(text, "subs.toml", fixturesPlan());
  } catch (const SubscriberError& e) {
    return e.what();
  }
  return "(no error)";
}

// A valid person to put mistakes into; the mistakes' line numbers below count from here.
const std::string kHead =
    "[[person]]\n"             // 1
    "id = \"e1\"\n"            // 2
    "name = \"Zhang Wei\"\n"   // 3
    "numbers = [\"1013\"]\n";  // 4
const std::string kConsole =
    "[[person.channel]]\n"
    "kind = \"console\"\n";

TEST(TomlStore, FullPersonLoadsEveryField) {
  const std::string text = R"(
[[person]]
id = "e1013"
name = "张伟"
numbers = ["1013", "+86 25 8300 1013", "sip:zhangwei@ims.example.com", "+86 139 0010 1230"]
[person.preferences]
merge_window = "2m"
quiet_hours = { start = "22:00", end = "07:30", action = "drop" }
time_zone = "Europe/London"
language = "en"
outcomes = ["busy", "no_answer"]
internal_calls = false
external_calls = true
withheld_callers = false
min_ring = "3s"
[[person.channel]]
id = "wecom-office"
kind = "wecom"
target_ref = "env:MCN_WECOM_URL"
secret_ref = "env:MCN_WECOM_SECRET"
[[person.channel]]
kind = "sms_aliyun"
target = "+8613900101230"
secret_ref = "file:/etc/mcn/aliyun.secret"
[person.channel.options]
sign_name = "南京电力"
template_code = "SMS_123"
access_key_id = "LTAI5t"

[[person]]
id = "e1014"
numbers = ["1014"]
[person.preferences]
merge_window_ms = 0
[[person.channel]]
kind = "console"
)";
  std::vector<Person> people = loadTomlText(text, "subs.toml", fixturesPlan());
  ASSERT_EQ(people.size(), 2u);
  const Person& p = people[0];
  EXPECT_EQ(p.id, "e1013");
  EXPECT_EQ(p.name, "张伟");
  // "1013" and "+86 25 8300 1013" are one number: kept once.
  EXPECT_EQ(p.numbers, (std::vector<std::string>{"+862583001013", "sip:zhangwei@ims.example.com",
                                                 "+8613900101230"}));
  EXPECT_EQ(p.prefs.merge_window_ms, 120000);
  ASSERT_TRUE(p.prefs.quiet_hours.has_value());
  EXPECT_EQ(p.prefs.quiet_hours->start_minute, 22 * 60);
  EXPECT_EQ(p.prefs.quiet_hours->end_minute, 7 * 60 + 30);
  EXPECT_EQ(p.prefs.quiet_hours->action, QuietAction::kDrop);
  EXPECT_EQ(p.prefs.time_zone, "Europe/London");
  EXPECT_EQ(p.prefs.language, "en");
  EXPECT_FALSE(p.prefs.use_missed_flag);
  for (int i = 0; i < common::kOutcomeCount; ++i) {
    const auto o = static_cast<common::Outcome>(i);
    EXPECT_EQ(p.prefs.outcomes[i], o == common::Outcome::kBusy || o == common::Outcome::kNoAnswer)
        << common::outcomeName(o);
  }
  EXPECT_FALSE(p.prefs.internal_calls);
  EXPECT_TRUE(p.prefs.external_calls);
  EXPECT_FALSE(p.prefs.withheld_callers);
  EXPECT_EQ(p.prefs.min_ring_ms, 3000);
  ASSERT_EQ(p.channels.size(), 2u);
  EXPECT_EQ(p.channels[0].id, "wecom-office");
  EXPECT_EQ(p.channels[0].kind, ChannelKind::kWeCom);
  EXPECT_EQ(p.channels[0].target, "");
  EXPECT_EQ(p.channels[0].target_ref, "env:MCN_WECOM_URL");
  EXPECT_EQ(p.channels[0].secret_ref, "env:MCN_WECOM_SECRET");
  EXPECT_EQ(p.channels[1].id, "sms_aliyun");  // defaults to the kind
  EXPECT_EQ(p.channels[1].target, "+8613900101230");
  EXPECT_EQ(p.channels[1].options.at("sign_name"), "南京电力");
  EXPECT_EQ(p.channels[1].options.at("access_key_id"), "LTAI5t");

  const Person& q = people[1];
  EXPECT_EQ(q.name, "");
  EXPECT_EQ(q.prefs.merge_window_ms, 0);
  // Defaults of DESIGN.md's person model.
  EXPECT_TRUE(q.prefs.use_missed_flag);
  EXPECT_TRUE(q.prefs.internal_calls);
  EXPECT_FALSE(q.prefs.quiet_hours.has_value());
  EXPECT_EQ(q.prefs.time_zone, "Asia/Shanghai");
  EXPECT_EQ(q.prefs.language, "zh");
  EXPECT_EQ(q.prefs.min_ring_ms, 0);
}

TEST(TomlStore, SipMessageTakesAnImsIdentityOrANumber) {
  std::string text = kHead;
  int i = 0;
  for (const char* t :
       {"sip:zhang.wei@ims.example", "sips:zhang.wei@ims.example", "tel:+862583001013", "1013"}) {
    text += "[[person.channel]]\nid = \"ims" + std::to_string(++i) +
            "\"\nkind = \"sip_message\"\ntarget = \"" + t + "\"\n";
  }
  auto people = loadTomlText(text, "subs.toml", fixturesPlan());
  ASSERT_EQ(people.size(), 1u);
  ASSERT_EQ(people[0].channels.size(), 4u);
  EXPECT_EQ(people[0].channels[2].kind, ChannelKind::kSipMessage);
  EXPECT_EQ(people[0].channels[2].target, "tel:+862583001013");
}

TEST(TomlStore, EmptyFileHasNobody) {
  EXPECT_TRUE(loadTomlText("", "subs.toml", fixturesPlan()).empty());
  EXPECT_TRUE(loadTomlText("# no one yet\n", "subs.toml", fixturesPlan()).empty());
}

TEST(TomlStore, DuplicateNumberAcrossPeopleNamesBoth) {
  EXPECT_EQ(errorOf(kHead + kConsole +
                    "[[person]]\n"                               // 7
                    "id = \"e2\"\n"                              // 8
                    "numbers = [\"1014\", \"025 8300 1013\"]\n"  // 9: 2nd string at col 20
                    + kConsole),
            "subs.toml:9:20: person[1].numbers[1]: +862583001013 already belongs to person[0] "
            "e1 (Zhang Wei)");
}

TEST(TomlStore, DuplicateIdNamesTheFirst) {
  EXPECT_EQ(errorOf(kHead + kConsole +
                    "[[person]]\n"   // 7
                    "id = \"e1\"\n"  // 8: value at col 6
                    "numbers = [\"1014\"]\n" +
                    kConsole),
            "subs.toml:8:6: person[1].id: \"e1\" is also the id of person[0]");
}

struct ErrorCase {
  const char* what;
  std::string text;
  std::string error;

  friend void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.what; }
};

class TomlErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(TomlErrors, MessageNamesFileLineColumnAndField) {
  EXPECT_EQ(errorOf(GetParam().text), GetParam().error);
}

// Columns: toml++ places a value node at its first character; a table at its header's '['.
INSTANTIATE_TEST_SUITE_P(
    Each, TomlErrors,
    ::testing::Values(
        ErrorCase{"unknown top-level key", "title = \"x\"\n", "subs.toml:1:9: title: unknown key"},
        ErrorCase{"person as a plain table", "[person]\nid = \"e1\"\n",
                  "subs.toml:1:1: person: expected [[person]] tables"},
        ErrorCase{"misspelt key", kHead + "nmae = \"x\"\n" + kConsole,
                  "subs.toml:5:8: person[0].nmae: unknown key"},
        ErrorCase{"missing id", "[[person]]\nnumbers = [\"1013\"]\n" + kConsole,
                  "subs.toml:1:1: person[0].id: missing"},
        ErrorCase{"id not a string", "[[person]]\nid = 1013\n",
                  "subs.toml:2:6: person[0].id: expected a string"},
        ErrorCase{"id with a space", "[[person]]\nid = \"e 1\"\n",
                  "subs.toml:2:6: person[0].id: must be 1-64 characters of A-Z a-z 0-9 . _ - @"},
        ErrorCase{"id with a colon", "[[person]]\nid = \"e:1\"\n",
                  "subs.toml:2:6: person[0].id: must be 1-64 characters of A-Z a-z 0-9 . _ - @"},
        ErrorCase{"missing numbers", "[[person]]\nid = \"e1\"\n" + kConsole,
                  "subs.toml:1:1: person[0].numbers: missing"},
        ErrorCase{"numbers not an array", "[[person]]\nid = \"e1\"\nnumbers = \"1013\"\n",
                  "subs.toml:3:11: person[0].numbers: expected an array of strings"},
        ErrorCase{"no numbers", "[[person]]\nid = \"e1\"\nnumbers = []\n",
                  "subs.toml:3:11: person[0].numbers: empty (a person needs at least one number)"},
        ErrorCase{"number not a string", "[[person]]\nid = \"e1\"\nnumbers = [\"1013\", 1014]\n",
                  "subs.toml:3:20: person[0].numbers[1]: expected a string"},
        ErrorCase{"number that is a word",
                  "[[person]]\nid = \"e1\"\nnumbers = [\"1013\", \"abc\"]\n",
                  "subs.toml:3:20: person[0].numbers[1]: \"abc\" is not a telephone number "
                  "(write a softphone identity as sip:user@host)"},
        ErrorCase{"number of separators only", "[[person]]\nid = \"e1\"\nnumbers = [\"--\"]\n",
                  "subs.toml:3:12: person[0].numbers[0]: \"--\" is not a telephone number "
                  "(write a softphone identity as sip:user@host)"},
        ErrorCase{"sip URI without user",
                  "[[person]]\nid = \"e1\"\nnumbers = [\"sip:ims.example.com\"]\n",
                  "subs.toml:3:12: person[0].numbers[0]: \"sip:ims.example.com\" has no user "
                  "part (expected sip:user@host)"},
        ErrorCase{"no channel", kHead,
                  "subs.toml:1:1: person[0]: no channel (add a [[person.channel]] table)"},
        ErrorCase{"channel kind unknown", kHead + "[[person.channel]]\nkind = \"wechat\"\n",
                  "subs.toml:6:8: person[0].channel[0].kind: unknown kind \"wechat\" (one of "
                  "console, jsonl, webhook, wecom, dingtalk, feishu, sms_aliyun, sms_http, email, "
                  "sip_message)"},
        ErrorCase{"channel kind missing", kHead + "[[person.channel]]\nid = \"x\"\n",
                  "subs.toml:5:1: person[0].channel[0].kind: missing (one of console, jsonl, "
                  "webhook, wecom, dingtalk, feishu, sms_aliyun, sms_http, email, sip_message)"},
        ErrorCase{"secret inline", kHead + kConsole + "secret = \"SEC0123abcd\"\n",
                  "subs.toml:7:10: person[0].channel[0].secret: credentials are not written "
                  "inline; use secret_ref = \"env:NAME\" or \"file:/path\""},
        ErrorCase{"password inline", kHead + kConsole + "password = \"hunter2\"\n",
                  "subs.toml:7:12: person[0].channel[0].password: credentials are not written "
                  "inline; use secret_ref = \"env:NAME\" or \"file:/path\""},
        ErrorCase{"secret_ref holding the secret",
                  kHead + kConsole + "secret_ref = \"SEC0123abcd\"\n",
                  "subs.toml:7:14: person[0].channel[0].secret_ref: expected \"env:NAME\" or "
                  "\"file:/absolute/path\", not the credential itself"},
        ErrorCase{"secret_ref relative file",
                  kHead + kConsole + "secret_ref = \"file:secret.txt\"\n",
                  "subs.toml:7:14: person[0].channel[0].secret_ref: file: must name an absolute "
                  "path"},
        ErrorCase{"secret_ref bad env name", kHead + kConsole + "secret_ref = \"env:MY-KEY\"\n",
                  "subs.toml:7:14: person[0].channel[0].secret_ref: env: must name an "
                  "environment variable (letters, digits, _)"},
        ErrorCase{"credential option",
                  kHead + kConsole + "[person.channel.options]\napp_secret = \"x\"\n",
                  "subs.toml:8:14: person[0].channel[0].options.app_secret: credentials are not "
                  "written inline; use the channel's secret_ref = \"env:NAME\""},
        ErrorCase{"wecom without target", kHead + "[[person.channel]]\nkind = \"wecom\"\n",
                  "subs.toml:5:1: person[0].channel[0].target: missing (the WeCom robot URL, or "
                  "target_ref = \"env:NAME\")"},
        ErrorCase{"target and target_ref",
                  kHead +
                      "[[person.channel]]\nkind = \"webhook\"\ntarget = \"https://h.example/x\"\n"
                      "target_ref = \"env:URL\"\n",
                  "subs.toml:8:14: person[0].channel[0].target_ref: give target or target_ref, "
                  "not both"},
        ErrorCase{"webhook target not a URL",
                  kHead + "[[person.channel]]\nkind = \"webhook\"\ntarget = \"h.example/x\"\n",
                  "subs.toml:7:10: person[0].channel[0].target: expected an http:// or https:// "
                  "URL"},
        ErrorCase{"email target",
                  kHead + "[[person.channel]]\nkind = \"email\"\ntarget = \"zhang wei\"\n",
                  "subs.toml:7:10: person[0].channel[0].target: expected an e-mail address"},
        ErrorCase{"sms target",
                  kHead + "[[person.channel]]\nkind = \"sms_aliyun\"\ntarget = \"139-0010\"\n",
                  "subs.toml:7:10: person[0].channel[0].target: expected a phone number "
                  "(digits, optional leading +)"},
        ErrorCase{"sip_message target with a header's worth",
                  kHead + "[[person.channel]]\nkind = \"sip_message\"\n"
                          "target = \"1013@evil.example\"\n",
                  "subs.toml:7:10: person[0].channel[0].target: expected a sip:, sips: or tel: "
                  "URI or a number"},
        ErrorCase{"sip_message target with a space",
                  kHead + "[[person.channel]]\nkind = \"sip_message\"\n"
                          "target = \"sip:zhang wei@ims.example\"\n",
                  "subs.toml:7:10: person[0].channel[0].target: expected a sip:, sips: or tel: "
                  "URI or a number"},
        ErrorCase{"duplicate channel id", kHead + kConsole + kConsole,
                  "subs.toml:7:1: person[0].channel[1].id: duplicate channel id \"console\" "
                  "(give each channel its own id)"},
        ErrorCase{"preferences not a table", kHead + "preferences = 1\n" + kConsole,
                  "subs.toml:5:15: person[0].preferences: expected a table"},
        ErrorCase{"unknown preference",
                  kHead + "[person.preferences]\nmerge = \"60s\"\n" + kConsole,
                  "subs.toml:6:9: person[0].preferences.merge: unknown key"},
        ErrorCase{"bad duration",
                  kHead + "[person.preferences]\nmerge_window = \"1 minute\"\n" + kConsole,
                  "subs.toml:6:16: person[0].preferences.merge_window: expected a duration like "
                  "\"60s\", \"500ms\", \"2m\", \"1h\" or \"0\""},
        ErrorCase{"duration as a bare integer",
                  kHead + "[person.preferences]\nmerge_window = 60\n" + kConsole,
                  "subs.toml:6:16: person[0].preferences.merge_window: expected a duration like "
                  "\"60s\", \"500ms\", \"2m\", \"1h\" or \"0\""},
        ErrorCase{"too long a window",
                  kHead + "[person.preferences]\nmerge_window = \"25h\"\n" + kConsole,
                  "subs.toml:6:16: person[0].preferences.merge_window: must be at most 24h"},
        ErrorCase{"window given twice",
                  kHead +
                      "[person.preferences]\nmerge_window = \"60s\"\nmerge_window_ms = 60000\n" +
                      kConsole,
                  "subs.toml:7:19: person[0].preferences.merge_window_ms: give merge_window or "
                  "merge_window_ms, not both"},
        ErrorCase{"negative min ring",
                  kHead + "[person.preferences]\nmin_ring_ms = -1\n" + kConsole,
                  "subs.toml:6:15: person[0].preferences.min_ring_ms: must be between 0 and "
                  "600000"},
        ErrorCase{
            "quiet hours time",
            kHead + "[person.preferences]\nquiet_hours = { start = \"22:00\", end = \"7:30\" }\n" +
                kConsole,
            "subs.toml:6:40: person[0].preferences.quiet_hours.end: expected a time "
            "\"HH:MM\" (00:00..23:59)"},
        ErrorCase{
            "quiet hours 24:00",
            kHead + "[person.preferences]\nquiet_hours = { start = \"24:00\", end = \"07:30\" }\n" +
                kConsole,
            "subs.toml:6:25: person[0].preferences.quiet_hours.start: expected a time "
            "\"HH:MM\" (00:00..23:59)"},
        ErrorCase{
            "quiet hours empty",
            kHead + "[person.preferences]\nquiet_hours = { start = \"22:00\", end = \"22:00\" }\n" +
                kConsole,
            "subs.toml:6:15: person[0].preferences.quiet_hours: start and end are equal "
            "(an empty window)"},
        ErrorCase{"quiet hours action",
                  kHead +
                      "[person.preferences]\nquiet_hours = { start = \"22:00\", end = \"07:00\", "
                      "action = \"mute\" }\n" +
                      kConsole,
                  "subs.toml:6:58: person[0].preferences.quiet_hours.action: expected \"hold\" "
                  "or \"drop\""},
        ErrorCase{"quiet hours without end",
                  kHead + "[person.preferences]\nquiet_hours = { start = \"22:00\" }\n" + kConsole,
                  "subs.toml:6:15: person[0].preferences.quiet_hours.end: missing"},
        ErrorCase{"time zone",
                  kHead + "[person.preferences]\ntime_zone = \"Asia/Shangai\"\n" + kConsole,
                  "subs.toml:6:13: person[0].preferences.time_zone: unknown time zone "
                  "\"Asia/Shangai\" (not under /usr/share/zoneinfo)"},
        ErrorCase{"time zone escaping the tree",
                  kHead + "[person.preferences]\ntime_zone = \"../../etc/passwd\"\n" + kConsole,
                  "subs.toml:6:13: person[0].preferences.time_zone: unknown time zone "
                  "\"../../etc/passwd\" (not under /usr/share/zoneinfo)"},
        ErrorCase{"time zone directory",
                  kHead + "[person.preferences]\ntime_zone = \"Asia\"\n" + kConsole,
                  "subs.toml:6:13: person[0].preferences.time_zone: unknown time zone \"Asia\" "
                  "(not under /usr/share/zoneinfo)"},
        ErrorCase{"language", kHead + "[person.preferences]\nlanguage = \"fr\"\n" + kConsole,
                  "subs.toml:6:12: person[0].preferences.language: expected \"zh\" or \"en\""},
        ErrorCase{"unknown outcome",
                  kHead + "[person.preferences]\noutcomes = [\"busy\", \"missed\"]\n" + kConsole,
                  "subs.toml:6:21: person[0].preferences.outcomes[1]: unknown outcome \"missed\" "
                  "(one of answered, answered_elsewhere, forwarded, cancelled, busy, no_answer, "
                  "declined, redirected, failed, incomplete)"},
        ErrorCase{"no outcomes", kHead + "[person.preferences]\noutcomes = []\n" + kConsole,
                  "subs.toml:6:12: person[0].preferences.outcomes: empty (nothing would ever be "
                  "notified; remove the key to follow the missed flag)"},
        ErrorCase{"boolean as a word",
                  kHead + "[person.preferences]\ninternal_calls = \"yes\"\n" + kConsole,
                  "subs.toml:6:18: person[0].preferences.internal_calls: expected true or "
                  "false"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      std::string n = info.param.what;
      for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return n;
    });

TEST(TomlStore, SyntaxErrorNamesThePosition) {
  const std::string e = errorOf("[[person]]\nid = \"e1\nnumbers = []\n");
  EXPECT_EQ(e.rfind("subs.toml:2:", 0), 0u) << e;
  EXPECT_NE(e.find("TOML syntax"), std::string::npos) << e;
}

TEST(TomlStore, MissingFileNamesIt) {
  try {
    loadTomlFile("/nonexistent/subs.toml", fixturesPlan());
    FAIL();
  } catch (const SubscriberError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/subs.toml: cannot read (No such file or directory)");
  }
}

TEST(TomlStore, ExportThenLoadGivesTheSamePeople) {
  const std::string text = R"(
[[person]]
id = "e1013"
name = "张伟 \"Zhang\" \\ Wei"
numbers = ["1013", "sip:zhangwei@ims.example.com", "+86 139 0010 1230"]
[person.preferences]
merge_window = "90s"
quiet_hours = { start = "22:00", end = "07:30" }
time_zone = "America/New_York"
language = "en"
outcomes = ["busy", "forwarded", "cancelled"]
internal_calls = false
external_calls = false
withheld_callers = false
min_ring_ms = 1500
[[person.channel]]
kind = "console"
[[person.channel]]
id = "dt"
kind = "dingtalk"
target_ref = "file:/run/secrets/dingtalk_url"
secret_ref = "env:MCN_DT_SECRET"
[person.channel.options]
at_mobiles = "13900101230,13900101231"
[[person.channel]]
kind = "email"
target = "zhang.wei@example.com"

[[person]]
id = "e1014"
numbers = ["1014"]
[[person.channel]]
kind = "jsonl"
target = "/var/log/mcn/notify.jsonl"
)";
  const std::vector<Person> people = loadTomlText(text, "subs.toml", fixturesPlan());
  const std::string exported = exportToml(people);
  // Another dial plan: exported numbers are already normalised and must not change again.
  const sipparse::DialPlan plain(sipparse::DialPlanConfig{});
  const std::vector<Person> again = loadTomlText(exported, "export.toml", plain);
  EXPECT_EQ(again, people) << exported;
  EXPECT_EQ(again[0].prefs.min_ring_ms, 1500);
  EXPECT_EQ(again[0].name, "张伟 \"Zhang\" \\ Wei");
  EXPECT_EQ(exportToml(again), exported);
}

TEST(TomlStore, SaveReplacesTheFileAtomically) {
  test::TempDir dir;
  const std::string path = dir.write("subs.toml", "# old\n");
  std::vector<Person> people = loadTomlText(kHead + kConsole, "subs.toml", fixturesPlan());
  saveTomlFile(path, people);
  EXPECT_EQ(loadTomlFile(path, fixturesPlan()), people);
  EXPECT_EQ(
      std::distance(std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()),
                    std::filesystem::directory_iterator{}),
      1);  // no temporary file left behind
}

TEST(TomlStore, LoadPeopleFileChoosesByExtension) {
  test::TempDir dir;
  const std::string csv = dir.write("people.CSV", "id,numbers,channel_kind\ne1,1013,console\n");
  const std::string toml = dir.write("people.toml", kHead + kConsole);
  EXPECT_EQ(loadPeopleFile(csv, fixturesPlan()).at(0).numbers.at(0), "+862583001013");
  EXPECT_EQ(loadPeopleFile(toml, fixturesPlan()).at(0).numbers.at(0), "+862583001013");
}

TEST(TomlStore, CsvFileIsTheCsvExtensionInAnyCase) {
  EXPECT_TRUE(isCsvFile("/etc/mcn/people.csv"));
  EXPECT_TRUE(isCsvFile("PEOPLE.CSV"));
  EXPECT_TRUE(isCsvFile("hr-export.Csv"));
  EXPECT_TRUE(isCsvFile(".csv"));
  EXPECT_FALSE(isCsvFile("people.toml"));
  EXPECT_FALSE(isCsvFile("people.csv.toml"));
  EXPECT_FALSE(isCsvFile("csv"));
  EXPECT_FALSE(isCsvFile(""));
}

}  // namespace
}  // namespace mcn::subscribers
