#pragma once
// The embedded default store: a TOML file of [[person]] tables (see subscribers/README.md).

#include <string>
#include <string_view>
#include <vector>

#include "mcn/sipparse/dial_plan.h"
#include "mcn/subscribers/directory.h"
#include "mcn/subscribers/error.h"

namespace mcn::subscribers {

// Parse and validate everything (unknown keys are errors, numbers normalised by `plan`, no number
// shared by two people). Throws SubscriberError "file:line:col: person[2].numbers[1]: reason".
std::vector<Person> loadTomlFile(const std::string& path, const sipparse::DialPlan& plan);
std::vector<Person> loadTomlText(std::string_view text, const std::string& origin,
                                 const sipparse::DialPlan& plan);

// Canonical TOML for `people` (stored numbers, only non-default preferences). Loading it back
// with any dial plan gives the same people.
std::string exportToml(const std::vector<Person>& people);

// Write exportToml(people) to `path` atomically (temporary file in the same folder + rename).
// Comments of a hand-written file are not kept. Throws SubscriberError.
void saveTomlFile(const std::string& path, const std::vector<Person>& people);

// A subscribers file is CSV when its name ends in ".csv" in any case (a CSV export, which mcn
// reads but never rewrites); any other file is TOML.
bool isCsvFile(std::string_view path);

// By isCsvFile: loadCsvFile, else loadTomlFile.
std::vector<Person> loadPeopleFile(const std::string& path, const sipparse::DialPlan& plan);

}  // namespace mcn::subscribers
