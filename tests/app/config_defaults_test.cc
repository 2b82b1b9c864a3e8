// deploy/mcn.toml is the one documented default file (issue 20): `mcn config defaults` prints
// it (embedded at build time), loading it gives exactly the built-in defaults, every key the
// loader knows is in it, and its commented examples are themselves valid.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "mcn/app/config.h"

namespace mcn::app {
namespace {

std::string deployFile() {
  std::ifstream in(std::filesystem::path(MCN_SOURCE_DIR) / "deploy/mcn.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ConfigDefaults, EmbeddedTextIsDeployFile) {
  EXPECT_EQ(std::string(defaultConfigText()), deployFile())
      << "deploy/mcn.toml changed since the build was configured";
}

TEST(ConfigDefaults, LoadingTheFileGivesExactlyTheBuiltInDefaults) {
  Config loaded = loadConfigText(defaultConfigText(), "mcn.toml");
  Config builtin = defaultConfig();
  // Table by table first, so a failure names the table; then the whole (every field).
  EXPECT_TRUE(loaded.decoder == builtin.decoder) << "[capture]";
  EXPECT_TRUE(loaded.parser.dial_plan == builtin.parser.dial_plan) << "[dial_plan]";
  EXPECT_TRUE(loaded.parser == builtin.parser) << "[calls] correlation_header";
  EXPECT_TRUE(loaded.tracker == builtin.tracker) << "[calls]";
  EXPECT_TRUE(loaded.notify.merger == builtin.notify.merger) << "[notify] merge windows";
  EXPECT_TRUE(loaded.notify.delivery.rate_limits == builtin.notify.delivery.rate_limits)
      << "[notify.rate_limits]";
  EXPECT_TRUE(loaded.notify.delivery == builtin.notify.delivery) << "[notify] delivery";
  EXPECT_TRUE(loaded.notify == builtin.notify) << "[notify]";
  EXPECT_TRUE(loaded.run == builtin.run) << "[run]";
  EXPECT_TRUE(loaded.streams == builtin.streams) << "[streams]";
  EXPECT_TRUE(loaded.hep == builtin.hep) << "[hep]";
  EXPECT_EQ(loaded.source, "mcn.toml");
  loaded.source = builtin.source;
  EXPECT_TRUE(loaded == builtin);
}

TEST(ConfigDefaults, DifferentValueIsNotEqual) {
  // The comparison really looks at fields: one changed key makes the configurations differ.
  Config a = loadConfigText(defaultConfigText(), "mcn.toml");
  Config b = a;
  EXPECT_TRUE(a == b);
  b.streams.stream.batch += 1;
  EXPECT_FALSE(a == b);
}

// Keys written in the file, active or commented out ("# key = ..."), by table: the table is the
// last "[name]" / "[[name]]" header (commented or not) above them.
std::map<std::string, std::set<std::string>> documentedKeys(const std::string& text) {
  std::map<std::string, std::set<std::string>> out;
  std::string table;
  std::istringstream in(text);
  std::string line;
  const std::regex header(R"re(^(?:#\s*)?\[\[?([a-z0-9_.]+)\]\]?\s*(#.*)?$)re");
  const std::regex key(R"re(^(?:#\s*)?"?([a-z0-9_.]+)"?\s*=\s*(.*)$)re");
  const std::regex inline_keys(R"re(([a-z0-9_]+)\s*=)re");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, header)) {
      table = m[1];
      out[table];
      continue;
    }
    if (!std::regex_match(line, m, key)) continue;
    out[table].insert(m[1]);
    // An inline table: `wecom = { per_minute = 20, per_second = 0 }`.
    std::string rest = m[2];
    if (rest.rfind("{", 0) == 0) {
      for (auto it = std::sregex_iterator(rest.begin(), rest.end(), inline_keys);
           it != std::sregex_iterator(); ++it) {
        out[table + ".*"].insert((*it)[1]);
      }
    }
  }
  return out;
}

TEST(ConfigDefaults, EveryKnownKeyIsDocumented) {
  auto documented = documentedKeys(std::string(defaultConfigText()));
  std::vector<std::string> known = knownConfigKeys();
  ASSERT_GT(known.size(), 70u);
  for (const auto& k : known) {
    size_t dot = k.rfind('.');
    std::string table = k.substr(0, dot), leaf = k.substr(dot + 1);
    if (leaf == "*") {  // notify.templates.*: the table itself is shown
      EXPECT_TRUE(documented.count(table)) << k;
      continue;
    }
    EXPECT_TRUE(documented[table].count(leaf)) << k << " is not in deploy/mcn.toml";
  }
}

TEST(ConfigDefaults, CommentedExamplesAreValid) {
  // Uncomment every example key and table header: the result still loads.
  std::istringstream in{std::string(defaultConfigText())};
  std::string line, text;
  const std::regex example(R"re(^# ((?:\[|"?[a-z0-9_.]+"? = ).*)$)re");
  std::smatch m;
  int uncommented = 0;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, example)) {
      line = m[1];
      ++uncommented;
    }
    text += line + "\n";
  }
  EXPECT_GE(uncommented, 5);
  Config cfg;
  ASSERT_NO_THROW(cfg = loadConfigText(text, "examples.toml")) << text;
  ASSERT_EQ(cfg.parser.dial_plan.rewrite.size(), 1u);
  EXPECT_EQ(cfg.streams.stream.consumer, "probe-1");
  EXPECT_EQ(cfg.notify.template_overrides.count("en.plain.title"), 1u);
}

TEST(ConfigDefaults, EveryErrorIsCollected) {
  // One error per table, two in [run]: ConfigError carries all of them (table by table, in the
  // loader's order), what() the first.
  const std::string text =
      "[capture]\nprefilter = 1\n"
      "[dial_plan]\n[[dial_plan.rewrite]]\nmatch = \"(\"\n"
      "[calls]\nmissed_outcomes = [\"busy\", \"nope\"]\n"
      "[notify]\nbackoff_base_ms = 0\n"
      "[run]\nworkers = 0\nlog_format = \"xml\"\n"
      "[streams]\nprefix = \"a b\"\n";
  try {
    loadConfigText(text, "m.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    std::vector<std::string> want = {
        "m.toml:2:13: capture.prefilter: expected true or false",
        "m.toml:5:9: dial_plan.rewrite.match: not a regular expression: ",
        "m.toml:7:28: calls.missed_outcomes: expected outcome names such as \"busy\"",
        "m.toml:9:19: notify.backoff_base_ms: must be between 1 and 3600000",
        "m.toml:12:14: run.log_format: expected \"human\" or \"json\"",
        "m.toml:11:11: run.workers: must be between 1 and 64",
        "m.toml:14:10: streams.prefix: expected 1 to 64 printable characters without spaces",
    };
    ASSERT_EQ(e.errors().size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(e.errors()[i].rfind(want[i], 0), 0u) << e.errors()[i];
    }
    EXPECT_EQ(std::string(e.what()), e.errors().front());
  }
}

}  // namespace
}  // namespace mcn::app
