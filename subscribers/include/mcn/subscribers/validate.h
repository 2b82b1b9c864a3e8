#pragma once
// Checks shared by every way a Person enters a store (TOML, CSV, CLI, Redis). The file loaders
// report positions themselves; these report "person <id>: <field>: <reason>".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/subscribers/directory.h"

namespace mcn::subscribers {

// Throws SubscriberError on the first problem: id syntax, numbers in stored form (see
// isStoredNumber), at least one channel with unique ids, per-kind targets, secret references
// ("env:NAME" or "file:/abs/path", never the credential), option keys that would hold a
// credential, time zone present under the zoneinfo directory, language, quiet hours, ranges.
void validatePerson(const Person& p);

// Throws SubscriberError naming both people when an id or a number (index key) repeats.
void validateUnique(const std::vector<Person>& people);

// Textual forms used by the TOML file, the CSV columns and the CLI.
// Durations: "0", "500ms", "60s", "2m", "1h" -> milliseconds.
std::optional<int64_t> parseDurationMs(std::string_view s);
std::string formatDurationMs(int64_t ms);  // largest exact unit: 60000 -> "1m", 1500 -> "1500ms"
// Clock times "HH:MM" (00:00..23:59) -> minutes after midnight.
std::optional<int> parseClockMinutes(std::string_view s);
std::string formatClockMinutes(int minutes);

// Where time zone names are looked up (tzdata).
inline constexpr const char* kZoneInfoDir = "/usr/share/zoneinfo";

}  // namespace mcn::subscribers
