// The /me preferences form (preferences_form.h): each bad value is refused with the reason the
// TOML loader gives for the same value in [person.preferences] (the expected reason is taken from
// the loader itself, not written twice), every bad field is named at once, and nothing changes.

#include "mcn/subscribers/preferences_form.h"

#include <gtest/gtest.h>

#include "mcn/subscribers/toml_store.h"
#include "test_support.h"

namespace mcn::subscribers {
namespace {

using Form = std::multimap<std::string, std::string>;

Person person() {
  Person p;
  p.id = "e1014";
  p.name = "Zhang Wei";
  p.numbers = {"+862583001014"};
  Channel c;
  c.id = "console";
  p.channels = {c};
  return p;
}

// What the loader says about `prefs_line` in a person's [person.preferences] (after the
// "file:line:col: person[0].preferences.<key>: " prefix).
std::string loaderReason(const std::string& prefs_line) {
  const std::string text = "[[person]]\nid = \"e1\"\nnumbers = [\"1013\"]\n[person.preferences]\n" +
                           prefs_line + "\n[[person.channel]]\nkind = \"console\"\n";
  try {
    loadTomlText(text, "subs.toml", test::fixturesPlan());
  } catch (const SubscriberError& e) {
    std::string w = e.what();
    auto at = w.find(": ", w.find("person[0]"));
    return at == std::string::npos ? w : w.substr(at + 2);
  }
  return "(no error)";
}

// A complete, valid form (what the page posts when nothing is changed but the fields below).
Form goodForm() {
  return {{"which", "missed"},
          {"internal_calls", "on"},
          {"external_calls", "on"},
          {"withheld_callers", "on"},
          {"min_ring", "3s"},
          {"merge_window", "2m"},
          {"quiet_hours", "on"},
          {"quiet_start", "22:00"},
          {"quiet_end", "07:30"},
          {"quiet_action", "hold"},
          {"time_zone", "Europe/London"},
          {"language", "en"}};
}

std::string problemOf(const std::vector<FieldProblem>& ps, const std::string& field) {
  for (const auto& p : ps) {
    if (p.field == field) return p.message;
  }
  return "(none)";
}

TEST(PreferencesForm, AGoodFormChangesEveryPreference) {
  Person p = person();
  Form f = goodForm();
  f.erase("withheld_callers");
  auto problems = applyPreferencesForm(f, p);
  ASSERT_TRUE(problems.empty()) << problems[0].field << ": " << problems[0].message;
  EXPECT_TRUE(p.prefs.use_missed_flag);
  EXPECT_TRUE(p.prefs.internal_calls);
  EXPECT_FALSE(p.prefs.withheld_callers);  // an unticked box
  EXPECT_EQ(p.prefs.min_ring_ms, 3000);
  EXPECT_EQ(p.prefs.merge_window_ms, 120000);
  ASSERT_TRUE(p.prefs.quiet_hours.has_value());
  EXPECT_EQ(p.prefs.quiet_hours->start_minute, 22 * 60);
  EXPECT_EQ(p.prefs.quiet_hours->end_minute, 7 * 60 + 30);
  EXPECT_EQ(p.prefs.quiet_hours->action, QuietAction::kHold);
  EXPECT_EQ(p.prefs.time_zone, "Europe/London");
  EXPECT_EQ(p.prefs.language, "en");
}

TEST(PreferencesForm, ChosenOutcomesAndNoQuietHours) {
  Person p = person();
  p.prefs.quiet_hours = QuietHours{60, 120, QuietAction::kDrop};
  Form f = goodForm();
  f.erase("which");
  f.erase("quiet_hours");
  f.insert({{"which", "outcomes"}, {"outcomes", "busy"}, {"outcomes", "no_answer"}});
  ASSERT_TRUE(applyPreferencesForm(f, p).empty());
  EXPECT_FALSE(p.prefs.use_missed_flag);
  EXPECT_TRUE(p.prefs.outcomes[static_cast<size_t>(common::Outcome::kBusy)]);
  EXPECT_TRUE(p.prefs.outcomes[static_cast<size_t>(common::Outcome::kNoAnswer)]);
  EXPECT_FALSE(p.prefs.outcomes[static_cast<size_t>(common::Outcome::kCancelled)]);
  EXPECT_FALSE(p.prefs.quiet_hours.has_value());  // the box unticked ends them
}

TEST(PreferencesForm, EveryBadFieldIsNamedWithTheLoadersReasonAndNothingChanges) {
  const Person before = person();
  Person p = before;
  Form f = goodForm();
  for (const char* k :
       {"min_ring", "merge_window", "quiet_start", "quiet_action", "time_zone", "language"}) {
    f.erase(k);
  }
  f.insert({{"min_ring", "11m"},
            {"merge_window", "soon"},
            {"quiet_start", "25:00"},
            {"quiet_action", "mute"},
            {"time_zone", "Mars/Olympus"},
            {"language", "fr"}});
  auto problems = applyPreferencesForm(f, p);
  EXPECT_EQ(p, before);
  EXPECT_EQ(problems.size(), 6u);
  EXPECT_EQ(problemOf(problems, "min_ring"), loaderReason("min_ring = \"11m\""));
  EXPECT_EQ(problemOf(problems, "min_ring"), "must be at most 10m");
  EXPECT_EQ(problemOf(problems, "merge_window"), loaderReason("merge_window = \"soon\""));
  EXPECT_EQ(problemOf(problems, "quiet_start"),
            loaderReason("quiet_hours = { start = \"25:00\", end = \"07:30\" }"));
  EXPECT_EQ(
      problemOf(problems, "quiet_action"),
      loaderReason("quiet_hours = { start = \"22:00\", end = \"07:30\", action = \"mute\" }"));
  EXPECT_EQ(problemOf(problems, "time_zone"), loaderReason("time_zone = \"Mars/Olympus\""));
  EXPECT_EQ(problemOf(problems, "language"), loaderReason("language = \"fr\""));
}

TEST(PreferencesForm, EmptyWindowsAndNoOutcomesAreTheLoadersMistakesToo) {
  Person p = person();
  Form f = goodForm();
  f.erase("quiet_end");
  f.insert({"quiet_end", "22:00"});
  auto problems = applyPreferencesForm(f, p);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].field, "quiet_hours");
  EXPECT_EQ(problems[0].message,
            loaderReason("quiet_hours = { start = \"22:00\", end = \"22:00\" }"));

  f = goodForm();
  f.erase("which");
  f.insert({{"which", "outcomes"}, {"outcomes", "ringing"}});
  problems = applyPreferencesForm(f, p);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, loaderReason("outcomes = [\"ringing\"]"));

  f = goodForm();
  f.erase("which");
  f.insert({"which", "outcomes"});
  problems = applyPreferencesForm(f, p);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].field, "outcomes");
  EXPECT_EQ(problems[0].message, loaderReason("outcomes = []"));
}

}  // namespace
}  // namespace mcn::subscribers
