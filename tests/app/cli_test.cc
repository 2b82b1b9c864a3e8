// Runs the real mcn binary the way an operator does and checks what they would see: exit codes,
// one clear error line, JSON Lines on stdout.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "cli_run.h"

namespace {

namespace fs = std::filesystem;
using mcn::clitest::CliResult;
using mcn::clitest::kMcn;
using mcn::clitest::kPcaps;
using mcn::clitest::lineCount;
using mcn::clitest::runMcn;

TEST(Cli, NoArgumentsIsUsageError) {
  CliResult r = runMcn("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
}

TEST(Cli, UnknownOptionIsOneLineExit2) {
  CliResult r = runMcn("replay " + kPcaps + "/answered.pcap --bogus");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
}

TEST(Cli, MissingCaptureIsOneLineExit2) {
  CliResult r = runMcn("replay /nonexistent/x.pcap");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/x.pcap"), std::string::npos) << r.err;
}

TEST(Cli, BrokenConfigIsOneLineExit2) {
  fs::path cfg = fs::temp_directory_path() / ("mcn_cli_cfg_" + std::to_string(getpid()) + ".toml");
  { std::ofstream(cfg) << "[calls]\nring_timeout_ms = \"long\"\n"; }
  CliResult r = runMcn("replay " + kPcaps + "/answered.pcap --config " + cfg.string());
  fs::remove(cfg);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "mcn: " + cfg.string() + ":2:19: calls.ring_timeout_ms: expected an integer\n");
}

TEST(Cli, NotACaptureIsExit2) {
  CliResult r = runMcn("replay " + kPcaps + "/fixtures.toml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
}

TEST(Cli, ReplayFromStdinWritesJsonLines) {
  CliResult r = runMcn("replay - --config " + kPcaps + "/fixtures.toml --calls-out - -q < " +
                       kPcaps + "/cancelled.pcap");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(lineCount(r.out), 1) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("outcome"), "cancelled");
  EXPECT_EQ(j.at("missed"), true);
}

TEST(Cli, SummaryOnStderrCountsMethodsAndOutcomes) {
  CliResult r =
      runMcn("replay " + kPcaps + "/cancelled.pcap --config " + kPcaps + "/fixtures.toml");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("sip.method.INVITE="), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sip.method.CANCEL="), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("calls.outcome.cancelled=1"), std::string::npos) << r.err;
  // With no output option the missed calls go to standard output.
  EXPECT_EQ(lineCount(r.out), 1) << r.out;
}

// ---------------------------------------------------------------------------------------------
// mcn --version, mcn config check, mcn config defaults (issue 20).

fs::path writeTemp(const std::string& name, const std::string& text) {
  fs::path p = fs::temp_directory_path() / ("mcn_cli_" + std::to_string(getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Cli, VersionNamesTheGitCommit) {
  CliResult r = runMcn("--version");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // "mcn 0.1.0+g669a99e", "mcn 0.2.0-3-g669a99e-dirty", or a bare tag "mcn 0.2.0".
  std::smatch m;
  ASSERT_TRUE(std::regex_match(
      r.out, m,
      std::regex(R"(mcn ([0-9]+\.[0-9]+\.[0-9]+)(?:[-+].*?g([0-9a-f]{7,40}))?(-dirty)?\n)")))
      << r.out;
  if (!fs::exists(fs::path(MCN_SOURCE_DIR) / ".git")) return;  // a tarball: the project version
  if (!m[2].matched) {
    // Only a build configured exactly at a tag has no commit in its version.
    std::string at_tag =
        "git -C " + std::string(MCN_SOURCE_DIR) + " describe --tags --exact-match >/dev/null 2>&1";
    EXPECT_EQ(std::system(at_tag.c_str()), 0) << "no commit in " << r.out;
    return;
  }
  // The commit is one of this repository's (the build's tree may have moved on since).
  std::string cmd = "git -C " + std::string(MCN_SOURCE_DIR) + " cat-file -e " + m[2].str() +
                    "^{commit} 2>/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << r.out;
}

TEST(Cli, ConfigCheckGoodFileIsOk) {
  fs::path cfg = writeTemp("good.toml", "[calls]\ngrace_ms = 100\n");
  CliResult r = runMcn("config check " + cfg.string());
  fs::remove(cfg);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, cfg.string() + ": ok\n");
  EXPECT_EQ(r.err, "");
}

TEST(Cli, ConfigCheckReportsEveryErrorWithFileLineColumn) {
  // Four mistakes in three tables: all are reported (table by table, a table's unknown keys
  // first), like `kamailio -c`.
  fs::path cfg = writeTemp("bad.toml",
                           "[capture]\n"
                           "max_vlan_depth = 9\n"
                           "sip_portz = [5060]\n"
                           "[calls]\n"
                           "grace_ms = \"2s\"\n"
                           "[run]\n"
                           "log_level = \"loud\"\n");
  CliResult r = runMcn("config check " + cfg.string());
  fs::remove(cfg);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  const std::string f = cfg.string();
  EXPECT_EQ(r.err, f + ":3:13: capture.sip_portz: unknown key\n" + f +
                       ":2:18: capture.max_vlan_depth: must be between 0 and 8\n" + f +
                       ":5:12: calls.grace_ms: expected an integer\n" + f +
                       ":7:13: run.log_level: expected trace, debug, info, warn or error\n" + f +
                       ": 4 errors\n");
}

TEST(Cli, ConfigCheckLoadsTheSubscribersFileAsRunWould) {
  fs::path people = writeTemp("people.toml", "[[person]]\nid = \"p1\"\nnumbers = 5\n");
  fs::path cfg = writeTemp("subs.toml", "[run]\nsubscribers = \"" + people.string() + "\"\n");
  CliResult r = runMcn("config check " + cfg.string());
  fs::path missing = writeTemp("missing.toml", "[run]\nsubscribers = \"/nonexistent/p.toml\"\n");
  CliResult r2 = runMcn("config check " + missing.string());
  fs::remove(cfg);
  fs::remove(people);
  fs::remove(missing);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind(people.string() + ":3:", 0), 0u) << r.err;
  EXPECT_EQ(r2.exit_code, 2);
  EXPECT_NE(r2.err.find("/nonexistent/p.toml"), std::string::npos) << r2.err;
}

TEST(Cli, ConfigCheckRefusesMetricsBeyondLoopbackWithoutToken) {
  fs::path cfg = writeTemp("bind.toml", "[run]\nhttp_bind = \"0.0.0.0\"\n");
  CliResult r = runMcn("config check " + cfg.string());
  fs::remove(cfg);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("run.http_bind: 0.0.0.0 is not loopback: set run.http_token_ref"),
            std::string::npos)
      << r.err;
}

TEST(Cli, ConfigCheckSyntaxErrorIsOneError) {
  fs::path cfg = writeTemp("syntax.toml", "[calls\n");
  CliResult r = runMcn("config check " + cfg.string());
  fs::remove(cfg);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind(cfg.string() + ":1:", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(": 1 error\n"), std::string::npos) << r.err;
}

TEST(Cli, ConfigDefaultsPrintsTheDocumentedFileWhichChecksOk) {
  CliResult r = runMcn("config defaults");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, readFile(fs::path(MCN_SOURCE_DIR) / "deploy/mcn.toml"));
  fs::path cfg = writeTemp("defaults.toml", r.out);
  CliResult c = runMcn("config check - < " + cfg.string());
  fs::remove(cfg);
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out, "(stdin): ok\n");
}

}  // namespace

namespace {

// A copy cut and appended (pcaps/README.md, damaged_record): the operator sees the call after
// the damage, a warning naming the file and what was skipped, and the counters.
TEST(Cli, DamagedRecordInTheMiddleIsSkippedWithAWarning) {
  CliResult r = runMcn("replay " + kPcaps + "/damaged_record.pcap --config " + kPcaps +
                       "/fixtures.toml --calls-out -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lineCount(r.out), 2) << r.out;
  EXPECT_NE(r.out.find("busy_486-1@192.0.2.10"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("replay.resync=1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("replay.skipped_bytes=478"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("warning: " + kPcaps + "/damaged_record.pcap: damaged: skipped 478 bytes"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("truncated"), std::string::npos) << r.err;
}

// mergecap of an Ethernet and a Linux-cooked capture: both calls, no warning.
TEST(Cli, PcapngWithTwoLinkTypesReplaysBothCalls) {
  CliResult r = runMcn("replay " + kPcaps + "/pcapng_two_links.pcapng --config " + kPcaps +
                       "/fixtures.toml --calls-out -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lineCount(r.out), 2) << r.out;
  EXPECT_NE(r.out.find("answered-1@192.0.2.10"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cancelled-1@192.0.2.10"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
}

}  // namespace
