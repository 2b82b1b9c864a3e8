#pragma once
// A person's preferences edited in a form (the web console's /me): the fields are read by the
// subscriber loader's own checks, with its wording (checks.h, validatePerson), so a value the form
// refuses is one the TOML file would refuse with the same reason.
//
// Fields, named as the TOML keys of [person.preferences]:
//   which = "missed" (follow the call's missed flag) | "outcomes" (the outcome names below)
//   outcomes        repeated, outcome names ("busy", "no_answer" ...)
//   internal_calls, external_calls, withheld_callers   present ("on") = true, absent = false
//   min_ring, merge_window                             durations ("0", "500ms", "60s", "2m", "1h")
//   quiet_hours = "on" to have quiet hours; quiet_start, quiet_end ("HH:MM"), quiet_action
//   time_zone (IANA name), language ("zh" or "en")

#include <map>
#include <string>
#include <vector>

#include "mcn/subscribers/directory.h"

namespace mcn::subscribers {

struct FieldProblem {
  std::string field;    // the form field, e.g. "min_ring", "quiet_start"
  std::string message;  // the loader's reason, e.g. "must be at most 10m"
};

// Reads `fields` over `person`'s preferences, then checks the whole person as every store does
// (validatePerson). Returns every problem found, one per field; `person` is changed only when
// there are none.
std::vector<FieldProblem> applyPreferencesForm(
    const std::multimap<std::string, std::string>& fields, Person& person);

}  // namespace mcn::subscribers
