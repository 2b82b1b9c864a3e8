#include "mcn/common/outcome.h"

#include <array>
#include <cstddef>

namespace mcn::common {
namespace {

// Index = Outcome. The spelling is the output contract's (DESIGN.md), hence API.
constexpr std::array<const char*, kOutcomeCount> kOutcomeNames = {
    "answered",  "answered_elsewhere", "forwarded",  "cancelled", "busy",
    "no_answer", "declined",           "redirected", "failed",    "incomplete",
};

}  // namespace

const char* outcomeName(Outcome o) {
  const auto i = static_cast<size_t>(o);
  return i < kOutcomeNames.size() ? kOutcomeNames[i] : "unknown";
}

std::optional<Outcome> outcomeFromName(std::string_view name) {
  for (size_t i = 0; i < kOutcomeNames.size(); ++i) {
    if (name == kOutcomeNames[i]) return static_cast<Outcome>(i);
  }
  return std::nullopt;
}

}  // namespace mcn::common
