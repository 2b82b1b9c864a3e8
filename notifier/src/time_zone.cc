#include "mcn/notifier/time_zone.h"

#include <date/date.h>
#include <date/tz.h>

// date 3.0.1's ptz.h (Debian bookworm) does not compile as C++20: Posix::time_zone::name() says
// `hh_mm_ss` under using-directives for both date and std::chrono, which has its own since C++20.
// Unqualified lookup searches namespace Posix before those (they count as global), so this alias
// settles it without touching the header (fixed upstream after 3.0.1).
namespace Posix {
template <class Duration>
using hh_mm_ss = date::hh_mm_ss<Duration>;
}  // namespace Posix
#include <date/ptz.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>

namespace mcn::notifier {

using std::chrono::microseconds;
using std::chrono::seconds;

int64_t daysFromCivil(int y, int m, int d) {
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(m)},
                                 date::day{static_cast<unsigned>(d)}};
  return date::sys_days{ymd}.time_since_epoch().count();
}

void civilFromDays(int64_t z, int& y, int& m, int& d) {
  const date::year_month_day ymd{date::sys_days{date::days{z}}};
  y = static_cast<int>(ymd.year());
  m = static_cast<int>(static_cast<unsigned>(ymd.month()));
  d = static_cast<int>(static_cast<unsigned>(ymd.day()));
}

struct TimeZone::Impl {
  const date::time_zone* zone = nullptr;  // owned by date's tzdb singleton, never freed
  // RFC 8536 §3.2: after the last transition in the file, local time follows the footer rule.
  std::optional<Posix::time_zone> footer;
  date::sys_seconds footer_from{};  // the last transition
};

namespace {

// Where Debian's libdate-tz (USE_OS_TZDB) finds the database; the subscribers' checks name the
// same directory (subscribers/include/mcn/subscribers/validate.h).
constexpr const char* kZoneInfoDir = "/usr/share/zoneinfo";

bool validName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name[0] == '/') return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '/' || c == '_' || c == '-' || c == '+' || c == '.';
    if (!ok) return false;
  }
  // No "." or ".." path component: the name comes from a subscriber file.
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// The POSIX TZ string of a version 2+ TZif file: its last line, between the footer's two
// newlines (RFC 8536 §3.3). Empty if there is none (version 1, or an empty footer).
std::string footerOf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (b.size() < 6 || b.compare(0, 4, "TZif") != 0 || b[4] < '2') return {};
  if (b.back() != '\n') return {};
  const size_t open = b.rfind('\n', b.size() - 2);
  if (open == std::string::npos) return {};
  return b.substr(open + 1, b.size() - open - 2);
}

// ptz.h reads the numbers of a rule date (POSIX.1-2017 §8.3: Jn, n, Mm.w.d) without checking
// their ranges, and a month 13 then reaches date's calendar arithmetic; refuse those first.
bool ruleDatesInRange(std::string_view s) {
  auto num = [](std::string_view& v, int lo, int hi) {
    int n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || n < lo || n > hi) return false;
    v.remove_prefix(static_cast<size_t>(end - v.data()));
    return true;
  };
  size_t comma = s.find(',');
  while (comma != std::string_view::npos) {
    std::string_view d = s.substr(comma + 1);
    d = d.substr(0, std::min(d.find(','), d.find('/')));
    bool ok = false;
    if (d.starts_with('M')) {
      d.remove_prefix(1);
      ok = num(d, 1, 12) && d.starts_with('.') && (d.remove_prefix(1), num(d, 1, 5)) &&
           d.starts_with('.') && (d.remove_prefix(1), num(d, 0, 6)) && d.empty();
    } else if (d.starts_with('J')) {
      d.remove_prefix(1);
      ok = num(d, 1, 365) && d.empty();
    } else {
      ok = num(d, 0, 365) && d.empty();
    }
    if (!ok) return false;
    comma = s.find(',', comma + 1);
  }
  return true;
}

std::optional<Posix::time_zone> parsePosix(std::string_view s) {
  if (s.empty() || !ruleDatesInRange(s)) return std::nullopt;
  try {  // ptz.h reports a malformed rule by throwing; this runs once per zone, off the data path
    return Posix::time_zone{std::string(s)};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

int32_t TimeZone::Rule::offsetAt(int64_t utc_s) const {
  if (!impl_) return 0;
  const auto& tz = *static_cast<const Posix::time_zone*>(impl_.get());
  return static_cast<int32_t>(tz.get_info(date::sys_seconds{seconds{utc_s}}).offset.count());
}

bool TimeZone::parseRule(std::string_view s, Rule& out) {
  auto tz = parsePosix(s);
  if (!tz) return false;
  out.impl_ = std::make_shared<const Posix::time_zone>(std::move(*tz));
  return true;
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const std::shared_ptr<const TimeZone> kUtc = [] {
    auto tz = std::make_shared<TimeZone>();
    tz->name_ = "UTC";
    return tz;
  }();
  return kUtc;
}

std::shared_ptr<const TimeZone> TimeZone::find(std::string_view name) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const TimeZone>, std::less<>> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  std::shared_ptr<const TimeZone> tz;
  if (validName(name)) {
    auto impl = std::make_shared<Impl>();
    try {  // locate_zone throws for an unknown name (and get_tzdb without a database)
      impl->zone = date::locate_zone(name);
    } catch (const std::exception&) {
      impl->zone = nullptr;
    }
    if (impl->zone) {
      impl->footer = parsePosix(footerOf(std::string(kZoneInfoDir) + "/" + std::string(name)));
      // The period date reports for the far future starts at the file's last transition.
      impl->footer_from = impl->zone->get_info(date::sys_days{date::year{9999} / 1 / 1}).begin;
      auto t = std::make_shared<TimeZone>();
      t->name_ = std::string(name);
      t->impl_ = std::move(impl);
      tz = std::move(t);
    }
  }
  // A bound on the cache: names come from subscriber data, not from the network.
  if (cache.size() < 4096) cache.emplace(std::string(name), tz);
  return tz;
}

int32_t TimeZone::utcOffsetAt(int64_t utc_s) const {
  if (!impl_) return 0;
  const date::sys_seconds t{seconds{utc_s}};
  if (impl_->footer && t >= impl_->footer_from) {
    return static_cast<int32_t>(impl_->footer->get_info(t).offset.count());
  }
  return static_cast<int32_t>(impl_->zone->get_info(t).offset.count());
}

LocalTime TimeZone::toLocal(int64_t utc_us) const {
  const auto utc = date::floor<seconds>(date::sys_time<microseconds>{microseconds{utc_us}});
  LocalTime lt;
  lt.utc_offset_s = utcOffsetAt(utc.time_since_epoch().count());
  const auto local = utc + seconds{lt.utc_offset_s};
  const auto day = date::floor<date::days>(local);
  civilFromDays(day.time_since_epoch().count(), lt.year, lt.month, lt.day);
  const date::hh_mm_ss<seconds> hms{local - day};
  lt.hour = static_cast<int>(hms.hours().count());
  lt.minute = static_cast<int>(hms.minutes().count());
  lt.second = static_cast<int>(hms.seconds().count());
  return lt;
}

int64_t TimeZone::fromLocal(int year, int month, int day, int minute_of_day) const {
  const int64_t local = daysFromCivil(year, month, day) * 86400 + int64_t{minute_of_day} * 60;
  // Two fixed-point steps settle on an offset consistent with the result outside a changeover
  // (the same answer as date's to_sys with choose::earliest there, and it honours the footer).
  int64_t utc = local - utcOffsetAt(local);
  utc = local - utcOffsetAt(utc);
  return utc * 1000000;
}

}  // namespace mcn::notifier
