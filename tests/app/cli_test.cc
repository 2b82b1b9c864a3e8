// Runs the real mcn binary the way an operator does and checks what they would see: exit codes,
// one clear error line, JSON Lines on stdout.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;
const std::string kMcn = std::string(MCN_BINARY_DIR) + "/mcn";
const std::string kPcaps = std::string(MCN_SOURCE_DIR) + "/pcaps";

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CliResult runMcn(const std::string& args) {
  fs::path err_file = fs::temp_directory_path() / ("mcn_cli_err_" + std::to_string(getpid()));
  std::string cmd = kMcn + " " + args + " 2>" + err_file.string();
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  return r;
}

int lineCount(const std::string& s) {
  int n = 0;
  for (char c : s) n += (c == '\n');
  return n;
}

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
