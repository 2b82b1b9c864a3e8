#pragma once
// A decided call's outcome for one called number (DESIGN.md "Call outcome rules"; decided by
// calls/, filtered on by subscribers' preferences, shown by notifier/).

#include <cstdint>
#include <optional>
#include <string_view>

namespace mcn::common {

enum class Outcome : uint8_t {
  kAnswered,
  kAnsweredElsewhere,
  kForwarded,
  kCancelled,
  kBusy,
  kNoAnswer,
  kDeclined,
  kRedirected,
  kFailed,
  kIncomplete,
};
inline constexpr int kOutcomeCount = 10;

// "answered", "answered_elsewhere", "forwarded", ... (the output contract's spelling)
const char* outcomeName(Outcome o);
std::optional<Outcome> outcomeFromName(std::string_view name);

}  // namespace mcn::common
