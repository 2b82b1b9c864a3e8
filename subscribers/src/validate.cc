#include "mcn/subscribers/validate.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "checks.h"
#include "mcn/subscribers/error.h"
#include "mcn/subscribers/numbers.h"

namespace mcn::subscribers {

using namespace detail;

namespace {

[[noreturn]] void fail(const Person& p, std::string_view field, std::string_view why) {
  throw SubscriberError(
      fmt::format("person {}: {}: {}", p.id.empty() ? "(no id)" : p.id, field, why));
}

}  // namespace

void validatePerson(const Person& p) {
  if (std::string e = checkId(p.id); !e.empty()) fail(p, "id", e);
  if (std::string e = checkName(p.name); !e.empty()) fail(p, "name", e);
  if (p.numbers.empty()) fail(p, "numbers", "empty (a person needs at least one number)");
  if (p.numbers.size() > kMaxNumbersPerPerson) {
    fail(p, "numbers", fmt::format("more than {}", kMaxNumbersPerPerson));
  }
  std::set<std::string_view> keys;
  for (size_t i = 0; i < p.numbers.size(); ++i) {
    const std::string field = fmt::format("numbers[{}]", i);
    if (!isStoredNumber(p.numbers[i])) {
      fail(p, field,
           fmt::format("\"{}\" is not a normalised number or sip:user@host", p.numbers[i]));
    }
    if (!keys.insert(numberIndexKey(p.numbers[i])).second) {
      fail(p, field, fmt::format("{} is listed twice", p.numbers[i]));
    }
  }
  if (p.channels.empty()) fail(p, "channels", "none (a person needs at least one channel)");
  if (p.channels.size() > kMaxChannelsPerPerson) {
    fail(p, "channels", fmt::format("more than {}", kMaxChannelsPerPerson));
  }
  std::set<std::string_view> ids;
  for (size_t i = 0; i < p.channels.size(); ++i) {
    const Channel& c = p.channels[i];
    const std::string where = fmt::format("channel[{}]", i);
    if (std::string e = checkChannelId(c.id); !e.empty()) fail(p, where + ".id", e);
    if (!ids.insert(c.id).second) {
      fail(p, where + ".id", fmt::format("duplicate channel id \"{}\"", c.id));
    }
    if (!c.target.empty() && !c.target_ref.empty()) {
      fail(p, where + ".target_ref", "give target or target_ref, not both");
    }
    if (!c.target_ref.empty()) {
      if (std::string e = checkSecretRef(c.target_ref); !e.empty()) {
        fail(p, where + ".target_ref", e);
      }
    } else if (needsTarget(c.kind) && c.target.empty()) {
      fail(p, where + ".target", fmt::format("missing ({})", targetWhat(c.kind)));
    } else if (std::string e = checkTarget(c.kind, c.target); !e.empty()) {
      fail(p, where + ".target", e);
    }
    if (!c.secret_ref.empty()) {
      if (std::string e = checkSecretRef(c.secret_ref); !e.empty()) {
        fail(p, where + ".secret_ref", e);
      }
    }
    for (const auto& [k, v] : c.options) {
      if (std::string e = checkOptionKey(k); !e.empty()) fail(p, where + ".options." + k, e);
      if (std::string e = checkOptionValue(v); !e.empty()) fail(p, where + ".options." + k, e);
    }
  }
  const Preferences& pr = p.prefs;
  if (!pr.use_missed_flag) {
    bool any = false;
    for (bool b : pr.outcomes) any = any || b;
    if (!any) fail(p, "preferences.outcomes", "empty (nothing would ever be notified)");
  }
  if (pr.quiet_hours) {
    const QuietHours& q = *pr.quiet_hours;
    if (q.start_minute < 0 || q.start_minute >= 1440 || q.end_minute < 0 || q.end_minute >= 1440) {
      fail(p, "preferences.quiet_hours", "times must be within 00:00..23:59");
    }
    if (q.start_minute == q.end_minute) {
      fail(p, "preferences.quiet_hours", kEmptyQuietWindow);
    }
  }
  if (pr.min_ring_ms < 0 || pr.min_ring_ms > kMaxMinRingMs) {
    fail(p, "preferences.min_ring", "must be between 0 and 10m");
  }
  if (pr.merge_window_ms < 0 || pr.merge_window_ms > kMaxMergeWindowMs) {
    fail(p, "preferences.merge_window", "must be between 0 and 24h");
  }
  if (std::string e = checkTimeZone(pr.time_zone); !e.empty()) {
    fail(p, "preferences.time_zone", e);
  }
  if (std::string e = checkLanguage(pr.language); !e.empty()) fail(p, "preferences.language", e);
}

void validateUnique(const std::vector<Person>& people) {
  std::map<std::string_view, size_t, std::less<>> ids;
  std::map<std::string_view, size_t, std::less<>> numbers;
  for (size_t i = 0; i < people.size(); ++i) {
    const Person& p = people[i];
    if (auto [it, fresh] = ids.emplace(p.id, i); !fresh) {
      throw SubscriberError(fmt::format("person {}: id: listed twice", p.id));
    }
    for (const std::string& n : p.numbers) {
      auto [it, fresh] = numbers.emplace(numberIndexKey(n), i);
      if (!fresh && it->second != i) {
        const Person& o = people[it->second];
        throw SubscriberError(
            fmt::format("person {}: number {} already belongs to {} ({})", p.id, n, o.id, o.name));
      }
    }
  }
}

std::optional<int64_t> parseDurationMs(std::string_view s) {
  if (s == "0") return 0;
  size_t i = 0;
  int64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (v > 1'000'000'000) return std::nullopt;
    v = v * 10 + (s[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  const std::string_view unit = s.substr(i);
  if (unit == "ms") return v;
  if (unit == "s") return v * 1000;
  if (unit == "m") return v * 60'000;
  if (unit == "h") return v * 3'600'000;
  return std::nullopt;
}

std::string formatDurationMs(int64_t ms) {
  if (ms == 0) return "0";
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

std::optional<int> parseClockMinutes(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (size_t i : {0, 1, 3, 4}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

std::string formatClockMinutes(int minutes) {
  return fmt::format("{:02}:{:02}", minutes / 60, minutes % 60);
}

}  // namespace mcn::subscribers
