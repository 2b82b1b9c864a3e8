// deploy/subscribers.toml is the README's demo: it must load with the fixtures' dial plan and
// cover the demo capture's missed calls so that merging shows (a person reached on two numbers).

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "mcn/subscribers/csv_import.h"
#include "mcn/subscribers/toml_store.h"
#include "test_support.h"

namespace mcn::subscribers {
namespace {

const std::string kSrc = MCN_SOURCE_DIR;

TEST(DeployExample, CoversTheDemoCapturesMissedCalls) {
  auto dir =
      Directory::build(loadTomlFile(kSrc + "/deploy/subscribers.toml", test::fixturesPlan()), 1);
  ASSERT_GE(dir->people().size(), 4u);
  ASSERT_LE(dir->people().size(), 6u);
  // The expected records of the capture (checked against tshark, see pcaps/README.md).
  std::ifstream in(kSrc + "/pcaps/office_morning.expected.jsonl");
  std::map<std::string, std::set<std::string>> numbers_missed;  // person -> callees
  std::set<std::string> unknown;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.at("missed").get<bool>()) continue;
    const std::string callee = j.at("callee");
    if (const Person* p = dir->findByNumber(callee)) {
      numbers_missed[p->id].insert(callee);
    } else {
      unknown.insert(callee);
    }
  }
  EXPECT_EQ(numbers_missed["e1012"],
            (std::set<std::string>{"+862583001012", "+8613881448167"}));  // forwarded to mobile
  EXPECT_EQ(numbers_missed["e1014"], (std::set<std::string>{"+862583001014", "+862583001017"}));
  EXPECT_EQ(numbers_missed.size(), 5u);
  EXPECT_EQ(unknown, (std::set<std::string>{"+862583001002", "+862583001011", "+862583001016"}));
  bool english = false;
  for (const Person& p : dir->people()) {
    english = english || p.prefs.language == "en";
    ASSERT_FALSE(p.channels.empty());
    EXPECT_EQ(p.channels[0].kind, ChannelKind::kConsole) << p.id;
  }
  EXPECT_TRUE(english);
}

TEST(DeployExample, CsvExampleIsTheSamePeople) {
  EXPECT_EQ(loadCsvFile(kSrc + "/deploy/subscribers.csv", test::fixturesPlan()),
            loadTomlFile(kSrc + "/deploy/subscribers.toml", test::fixturesPlan()));
}

}  // namespace
}  // namespace mcn::subscribers
