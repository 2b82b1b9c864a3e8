// `mcn subscribers ...` run as an operator runs it: exit codes, one clear line per problem,
// nothing changed by a refused command, credentials kept off the command line.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "mcn/subscribers/toml_store.h"
#include "test_support.h"

namespace mcn::subscribers {
namespace {

const std::string kMcn = std::string(MCN_BINARY_DIR) + "/mcn";
const std::string kSrc = MCN_SOURCE_DIR;
const std::string kConfig = " --config " + kSrc + "/pcaps/fixtures.toml";

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CliResult runMcn(const std::string& args, const test::TempDir& dir) {
  const std::string err_file = dir.file("stderr.txt");
  const std::string cmd = kMcn + " " + args + " 2>" + err_file;
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = test::readFile(err_file);
  return r;
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(SubscribersCli, AddListShowRemoveOnATomlFile) {
  test::TempDir dir;
  const std::string f = " --file " + dir.file("subs.toml") + kConfig;
  CliResult r = runMcn(
      "subscribers add --id e1 --name 'Zhang Wei' --number 1013 "
      "--number sip:zw@ims.example.com --channel console" +
          f,
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "added e1\n");
  r = runMcn(
      "subscribers add --id e2 --number '025 8300 1014' --channel email:li.na@example.com "
      "--secret-ref env:MCN_SMTP_PASSWORD --language en" +
          f,
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = runMcn("subscribers list" + f, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "e1\tZhang Wei\t+862583001013,sip:zw@ims.example.com\tconsole:console\n"
            "e2\t\t+862583001014\temail:email\n");

  r = runMcn("subscribers show e2" + f, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<Person> shown = loadTomlText(r.out, "show", test::fixturesPlan());
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_EQ(shown[0].channels.at(0).target, "li.na@example.com");
  EXPECT_EQ(shown[0].channels.at(0).secret_ref, "env:MCN_SMTP_PASSWORD");
  EXPECT_EQ(shown[0].prefs.language, "en");

  r = runMcn("subscribers remove e1" + f, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "removed e1\n");
  r = runMcn("subscribers list" + f, dir);
  EXPECT_EQ(r.out, "e2\t\t+862583001014\temail:email\n");
}

TEST(SubscribersCli, NumberOfAnotherPersonIsRefusedAndTheFileKept) {
  test::TempDir dir;
  const std::string path = dir.file("subs.toml");
  const std::string f = " --file " + path + kConfig;
  ASSERT_EQ(
      runMcn("subscribers add --id e1 --name 'Zhang Wei' --number 1013 --channel console" + f, dir)
          .exit_code,
      0);
  const std::string before = test::readFile(path);
  CliResult r = runMcn(
      "subscribers add --id e2 --number +862583001014 --number 025-8300-1013 --channel console" + f,
      dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "mcn: person e2: number +862583001013 already belongs to e1 (Zhang Wei)\n");
  EXPECT_EQ(test::readFile(path), before);
  // An existing id needs --replace.
  r = runMcn("subscribers add --id e1 --number 1015 --channel console" + f, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "mcn: person e1: already exists (use --replace)\n");
  r = runMcn("subscribers add --id e1 --number 1015 --channel console --replace" + f, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "replaced e1\n");
}

TEST(SubscribersCli, RobotUrlWithItsKeyIsRefusedOnTheCommandLine) {
  test::TempDir dir;
  const std::string f = " --file " + dir.file("subs.toml") + kConfig;
  CliResult r = runMcn(
      "subscribers add --id e1 --number 1013 --channel "
      "'wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K3Y-693a91f6'" +
          f,
      dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.find("K3Y-693a91f6"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("wecom:env:NAME"), std::string::npos) << r.err;
  // A secret given where its reference belongs is refused too.
  r = runMcn(
      "subscribers add --id e1 --number 1013 --channel dingtalk:env:MCN_DT_URL "
      "--secret-ref SEC693a91f6" +
          f,
      dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "mcn: person e1: channel[0].secret_ref: expected \"env:NAME\" or "
            "\"file:/absolute/path\", not the credential itself\n");
  r = runMcn(
      "subscribers add --id e1 --number 1013 --channel dingtalk:env:MCN_DT_URL "
      "--secret-ref env:MCN_DT_SECRET" +
          f,
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<Person> people = loadTomlFile(dir.file("subs.toml"), test::fixturesPlan());
  EXPECT_EQ(people.at(0).channels.at(0).target_ref, "env:MCN_DT_URL");
  EXPECT_EQ(people.at(0).channels.at(0).secret_ref, "env:MCN_DT_SECRET");
}

TEST(SubscribersCli, BadCsvImportNamesEveryRowAndChangesNothing) {
  test::TempDir dir;
  const std::string path = dir.file("subs.toml");
  const std::string f = " --file " + path + kConfig;
  ASSERT_EQ(
      runMcn("subscribers add --id e1 --name A --number 1013 --channel console" + f, dir).exit_code,
      0);
  const std::string before = test::readFile(path);
  const std::string bad = dir.write("bad.csv",
                                    "id,name,numbers,channel_kind\n"
                                    "e2,B,1014,console\n"
                                    "e3,C,abc,console\n"
                                    "e4,D,1015,pager\n");
  CliResult r = runMcn("subscribers import " + bad + f, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(
      r.err,
      "mcn: " + bad +
          ":row 3: column numbers: \"abc\" is not a telephone number (write a "
          "softphone identity as sip:user@host)\n"
          "mcn: " +
          bad +
          ":row 4: column channel_kind: unknown kind \"pager\" (one of console, "
          "jsonl, webhook, wecom, dingtalk, feishu, sms_aliyun, sms_http, email, sip_message)\n");
  EXPECT_EQ(test::readFile(path), before);
  // A good file whose row takes a number someone in the store already has: nothing imported.
  const std::string clash = dir.write("clash.csv",
                                      "id,name,numbers,channel_kind\n"
                                      "e2,B,1014,console\n"
                                      "e3,C,025 8300 1013,console\n");
  r = runMcn("subscribers import " + clash + f, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "mcn: person e3: number +862583001013 already belongs to e1 (A)\n");
  EXPECT_EQ(test::readFile(path), before);
}

TEST(SubscribersCli, ExampleCsvAndTomlImportToTheSamePeople) {
  test::TempDir dir;
  const std::string a = " --file " + dir.file("a.toml") + kConfig;
  const std::string b = " --file " + dir.file("b.toml") + kConfig;
  CliResult r = runMcn("subscribers import " + kSrc + "/deploy/subscribers.csv" + a, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "imported 5 people (5 added, 0 replaced)\n");
  r = runMcn("subscribers import " + kSrc + "/deploy/subscribers.toml" + b, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const CliResult ea = runMcn("subscribers export" + a, dir);
  const CliResult eb = runMcn("subscribers export" + b, dir);
  ASSERT_EQ(ea.exit_code, 0) << ea.err;
  EXPECT_EQ(ea.out, eb.out);
  const CliResult csv = runMcn("subscribers export --format csv" + a, dir);
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(lines(csv.out), 6);  // header + 5 people
}

TEST(SubscribersCli, UsageMistakesAreOneLineExit2) {
  test::TempDir dir;
  CliResult r = runMcn("subscribers list", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "mcn: subscribers: give exactly one of --file F or --redis URL\n");
  r = runMcn("subscribers show e9 --file " + kSrc + "/deploy/subscribers.toml" + kConfig, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "mcn: person e9: not found\n");
  r = runMcn("subscribers export --format xml --file x.toml", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  r = runMcn(
      "subscribers add --id e1 --number alice --channel console --file " + dir.file("s.toml"), dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "mcn: --number alice: \"alice\" is not a telephone number (write a softphone "
            "identity as sip:user@host)\n");
  r = runMcn("subscribers list --file /nonexistent/s.toml", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "mcn: /nonexistent/s.toml: cannot read (No such file or directory)\n");
  r = runMcn("subscribers list --redis redis://:pw@127.0.0.1:1", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
}

TEST(SubscribersCli, RedisStore) {
  ASSERT_TRUE(test::RedisServer::available())
      << "redis-server not installed (deploy/install-deps.sh)";
  test::TempDir dir;
  test::RedisServer server;
  ASSERT_TRUE(server.start());
  const std::string s = " --redis " + server.url() + kConfig;
  CliResult r = runMcn("subscribers add --id e1 --name A --number 1013 --channel console" + s, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "added e1 (version 1)\n");
  r = runMcn("subscribers add --id e2 --name B --number 8300-1013 --channel console" + s, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "mcn: person e2: number +862583001013 already belongs to e1\n");
  r = runMcn("subscribers import " + kSrc + "/deploy/subscribers.toml" + s, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "imported 5 people (version 2)\n");
  r = runMcn("subscribers list" + s, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out), 6);
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "e1\tA\t+862583001013\tconsole:console");
  r = runMcn("subscribers remove e1" + s, dir);
  EXPECT_EQ(r.out, "removed e1 (version 3)\n");
  r = runMcn("subscribers remove e1" + s, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "mcn: person e1: not found\n");
  const int port = server.port();
  server.stop();
  r = runMcn("subscribers list --redis redis://127.0.0.1:" + std::to_string(port), dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mcn: redis 127.0.0.1:" + std::to_string(port) +
                       ": cannot connect (Connection refused)\n");
}

}  // namespace
}  // namespace mcn::subscribers
