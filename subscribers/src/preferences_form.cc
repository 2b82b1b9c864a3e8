#include "mcn/subscribers/preferences_form.h"

#include <tuple>

#include "checks.h"
#include "mcn/subscribers/error.h"
#include "mcn/subscribers/validate.h"

namespace mcn::subscribers {

using namespace detail;

namespace {

const std::string* field(const std::multimap<std::string, std::string>& f, const char* name) {
  auto it = f.find(name);
  return it == f.end() ? nullptr : &it->second;
}

// "person e1014: preferences.quiet_hours: start and end ..." -> {"quiet_hours", "start and ..."}.
FieldProblem fromValidation(std::string_view what) {
  FieldProblem p{"", std::string(what)};
  auto a = what.find(": ");
  if (a == std::string_view::npos) return p;
  auto b = what.find(": ", a + 2);
  if (b == std::string_view::npos) return p;
  std::string_view f = what.substr(a + 2, b - a - 2);
  if (f.starts_with("preferences.")) f.remove_prefix(12);
  return {std::string(f), std::string(what.substr(b + 2))};
}

}  // namespace

std::vector<FieldProblem> applyPreferencesForm(const std::multimap<std::string, std::string>& f,
                                               Person& person) {
  std::vector<FieldProblem> out;
  auto bad = [&](const char* name, std::string why) { out.push_back({name, std::move(why)}); };
  Preferences pr = person.prefs;

  const std::string* which = field(f, "which");
  if (which == nullptr || *which == "missed") {
    pr.use_missed_flag = true;
  } else if (*which == "outcomes") {
    pr.use_missed_flag = false;
    pr.outcomes.fill(false);
    auto [lo, hi] = f.equal_range("outcomes");
    if (lo == hi) bad("outcomes", std::string(kEmptyOutcomes));
    for (auto it = lo; it != hi; ++it) {
      common::Outcome oc{};
      if (std::string e = checkOutcomeName(it->second, oc); !e.empty()) {
        bad("outcomes", e);
      } else {
        pr.outcomes[static_cast<size_t>(oc)] = true;
      }
    }
  } else {
    bad("which", "expected \"missed\" or \"outcomes\"");
  }
  pr.internal_calls = field(f, "internal_calls") != nullptr;
  pr.external_calls = field(f, "external_calls") != nullptr;
  pr.withheld_callers = field(f, "withheld_callers") != nullptr;
  using DurationField = std::tuple<const char*, int64_t*, int64_t>;
  for (auto [name, dest, max] :
       {DurationField{"min_ring", &pr.min_ring_ms, kMaxMinRingMs},
        DurationField{"merge_window", &pr.merge_window_ms, kMaxMergeWindowMs}}) {
    const std::string* v = field(f, name);
    if (v == nullptr) continue;  // unchanged
    if (std::string e = checkDurationText(*v, max, *dest); !e.empty()) bad(name, e);
  }
  if (field(f, "quiet_hours") != nullptr) {
    QuietHours q = pr.quiet_hours.value_or(QuietHours{});
    bool times_ok = true;
    using ClockField = std::pair<const char*, int*>;
    for (auto [name, dest] :
         {ClockField{"quiet_start", &q.start_minute}, ClockField{"quiet_end", &q.end_minute}}) {
      const std::string* v = field(f, name);
      std::string e = v == nullptr ? std::string("missing") : checkClockText(*v, *dest);
      if (!e.empty()) {
        bad(name, e);
        times_ok = false;
      }
    }
    if (const std::string* a = field(f, "quiet_action")) {
      if (std::string e = checkQuietAction(*a, q.action); !e.empty()) bad("quiet_action", e);
    }
    if (times_ok && q.start_minute == q.end_minute) {
      bad("quiet_hours", std::string(kEmptyQuietWindow));
    }
    pr.quiet_hours = q;
  } else {
    pr.quiet_hours.reset();
  }
  if (const std::string* tz = field(f, "time_zone")) {
    if (std::string e = checkTimeZone(*tz); !e.empty()) {
      bad("time_zone", e);
    } else {
      pr.time_zone = *tz;
    }
  }
  if (const std::string* lang = field(f, "language")) {
    if (std::string e = checkLanguage(*lang); !e.empty()) {
      bad("language", e);
    } else {
      pr.language = *lang;
    }
  }
  if (!out.empty()) return out;
  // The whole person, as every store checks it before writing.
  Person changed = person;
  changed.prefs = pr;
  try {
    validatePerson(changed);
  } catch (const SubscriberError& e) {
    return {fromValidation(e.what())};
  }
  person = std::move(changed);
  return {};
}

}  // namespace mcn::subscribers
