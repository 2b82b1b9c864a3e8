#pragma once
// Runs the real mcn binary as an operator does (tests/app/*cli_test.cc): its exit code, what it
// wrote on stdout and on stderr.

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mcn::clitest {

inline const std::string kMcn = std::string(MCN_BINARY_DIR) + "/mcn";
inline const std::string kPcaps = std::string(MCN_SOURCE_DIR) + "/pcaps";

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// `mcn ARGS` through the shell (ARGS may hold redirections); stderr through a file of its own.
inline CliResult runMcn(const std::string& args) {
  namespace fs = std::filesystem;
  const fs::path err_file = fs::temp_directory_path() / ("mcn_cli_err_" + std::to_string(getpid()));
  const std::string cmd = kMcn + " " + args + " 2>" + err_file.string();
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  return r;
}

inline int lineCount(const std::string& s) {
  int n = 0;
  for (char c : s) n += (c == '\n');
  return n;
}

}  // namespace mcn::clitest
