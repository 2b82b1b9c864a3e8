#pragma once
// Field checks shared by the TOML reader, the CSV reader and validatePerson(). Each returns ""
// when the value is fine, else the reason without any location (the caller adds file:line:col,
// row/column or the person id).

#include <string>
#include <string_view>

#include "mcn/subscribers/directory.h"

namespace mcn::subscribers::detail {

std::string checkId(std::string_view id);
std::string checkName(std::string_view name);
std::string checkChannelId(std::string_view id);
// "env:NAME" or "file:/absolute/path".
std::string checkSecretRef(std::string_view ref);
std::string checkTimeZone(std::string_view tz);
std::string checkLanguage(std::string_view lang);
// The inline target of a channel of `kind` (not called for a target_ref).
std::string checkTarget(ChannelKind kind, std::string_view target);
// True when the kind needs a target (everything but console).
bool needsTarget(ChannelKind kind);
// What the target is, for "missing" messages: "the WeCom robot URL".
const char* targetWhat(ChannelKind kind);
// Option keys must not hold credentials ("secret", "password", "token" anywhere in the name
// unless it ends in "_ref").
bool isCredentialKey(std::string_view key);
// Keys a channel table must not have because they would hold a credential inline.
bool isInlineSecretKey(std::string_view key);
std::string checkOptionKey(std::string_view key);
std::string checkOptionValue(std::string_view value);
// "one of console, jsonl, ..." / "one of answered, ..."
std::string kindList();
std::string outcomeList();
// Valid UTF-8, no control characters except tab.
bool isCleanUtf8(std::string_view s);

// The preferences' textual forms (the TOML file, the web console's form), "" when fine with the
// value in `out`, else the reason. A duration "60s", "500ms", "2m", "1h" or "0", at most `max`.
std::string checkDurationText(std::string_view s, int64_t max, int64_t& out);
// A clock time "HH:MM".
std::string checkClockText(std::string_view s, int& out);
// A quiet-hours action "hold" or "drop".
std::string checkQuietAction(std::string_view s, QuietAction& out);
// An outcome name ("busy", "no_answer" ...).
std::string checkOutcomeName(std::string_view s, common::Outcome& out);
inline constexpr std::string_view kEmptyOutcomes =
    "empty (nothing would ever be notified; remove the key to follow the missed flag)";
inline constexpr std::string_view kEmptyQuietWindow = "start and end are equal (an empty window)";

inline constexpr int64_t kMaxMergeWindowMs = 24LL * 3600 * 1000;
inline constexpr int64_t kMaxMinRingMs = 600LL * 1000;
inline constexpr size_t kMaxNumbersPerPerson = 32;
inline constexpr size_t kMaxChannelsPerPerson = 16;

}  // namespace mcn::subscribers::detail
