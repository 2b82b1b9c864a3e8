// The key declarations (app/src/config.cc declaredTables()) and deploy/mcn.toml document the same
// keys in the same order, so the file reads like the code and a new key lands in its table.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "mcn/app/config.h"

namespace mcn::app {
namespace {

TEST(ConfigDeclared, DeployFileListsTheKeysInDeclarationOrder) {
  // First line of each "table.key", active or commented out.
  std::map<std::string, int> line_of;
  std::istringstream in{std::string(defaultConfigText())};
  const std::regex header(R"re(^(?:#\s*)?\[\[?([a-z0-9_.]+)\]\]?.*$)re");
  const std::regex key(R"re(^(?:#\s*)?"?([a-z0-9_]+)"?\s*=.*$)re");
  std::string line, table;
  std::smatch m;
  for (int n = 1; std::getline(in, line); ++n) {
    if (std::regex_match(line, m, header)) {
      table = m[1];
      line_of.emplace(table, n);
    } else if (std::regex_match(line, m, key)) {
      line_of.emplace(table + "." + std::string(m[1]), n);
    }
  }
  int last = 0;
  std::string last_key;
  for (const std::string& k : knownConfigKeys()) {
    // "dial_plan.rewrite.match" is under [[dial_plan.rewrite]]; "notify.templates.*" is the
    // [notify.templates] table; "notify.rate_limits.*.per_minute" is inside the
    // [notify.rate_limits] table's inline tables: each is placed by its table.
    std::string placed = k;
    if (size_t star = placed.find(".*"); star != std::string::npos) placed.resize(star);
    if (placed.rfind("dial_plan.rewrite.", 0) == 0) placed = "dial_plan.rewrite";
    auto it = line_of.find(placed);
    ASSERT_NE(it, line_of.end()) << k << " is not in deploy/mcn.toml";
    EXPECT_GE(it->second, last) << k << " comes before " << last_key << " in deploy/mcn.toml";
    last = it->second;
    last_key = k;
  }
}

}  // namespace
}  // namespace mcn::app
