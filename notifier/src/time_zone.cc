#include "mcn/notifier/time_zone.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

namespace mcn::notifier {

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
int64_t daysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civilFromDays(int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yoe + era * 400 + (m <= 2));
}

namespace {

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool isLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int daysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

// 0 = Sunday; 1970-01-01 was a Thursday.
int weekdayOf(int64_t days) { return static_cast<int>(((days + 4) % 7 + 7) % 7); }

// --- POSIX TZ string (RFC 8536 §3.3, POSIX.1-2017 §8.3 with the RFC's hour range extension) ---

bool parseAbbrev(std::string_view& s) {
  if (!s.empty() && s[0] == '<') {
    const size_t close = s.find('>');
    if (close == std::string_view::npos || close < 4) return false;
    s.remove_prefix(close + 1);
    return true;
  }
  size_t n = 0;
  while (n < s.size() && ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z'))) ++n;
  if (n < 3) return false;
  s.remove_prefix(n);
  return true;
}

bool parseNumber(std::string_view& s, int max, int& out) {
  size_t n = 0;
  int v = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') {
    v = v * 10 + (s[n] - '0');
    if (v > max) return false;
    ++n;
  }
  if (n == 0) return false;
  s.remove_prefix(n);
  out = v;
  return true;
}

// [+-]hh[:mm[:ss]] in seconds, sign as written.
bool parseHms(std::string_view& s, int max_hours, int32_t& out) {
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  int h = 0, m = 0, sec = 0;
  if (!parseNumber(s, max_hours, h)) return false;
  if (!s.empty() && s[0] == ':') {
    s.remove_prefix(1);
    if (!parseNumber(s, 59, m)) return false;
    if (!s.empty() && s[0] == ':') {
      s.remove_prefix(1);
      if (!parseNumber(s, 59, sec)) return false;
    }
  }
  out = sign * (h * 3600 + m * 60 + sec);
  return true;
}

bool parseDate(std::string_view& s, TimeZone::Rule::Date& d) {
  using Kind = TimeZone::Rule::Date::Kind;
  if (s.empty()) return false;
  if (s[0] == 'M') {
    s.remove_prefix(1);
    d.kind = Kind::kMonthWeekDay;
    if (!parseNumber(s, 12, d.month) || d.month < 1) return false;
    if (s.empty() || s[0] != '.') return false;
    s.remove_prefix(1);
    if (!parseNumber(s, 5, d.week) || d.week < 1) return false;
    if (s.empty() || s[0] != '.') return false;
    s.remove_prefix(1);
    if (!parseNumber(s, 6, d.weekday)) return false;
  } else if (s[0] == 'J') {
    s.remove_prefix(1);
    d.kind = Kind::kJulian1;
    if (!parseNumber(s, 365, d.n) || d.n < 1) return false;
  } else {
    d.kind = Kind::kJulian0;
    if (!parseNumber(s, 365, d.n)) return false;
  }
  d.time_s = 7200;
  if (!s.empty() && s[0] == '/') {
    s.remove_prefix(1);
    if (!parseHms(s, 167, d.time_s)) return false;
  }
  return true;
}

// Days since the epoch of a rule date in `year`.
int64_t ruleDay(const TimeZone::Rule::Date& d, int year) {
  using Kind = TimeZone::Rule::Date::Kind;
  const int64_t jan1 = daysFromCivil(year, 1, 1);
  switch (d.kind) {
    case Kind::kJulian1:  // 1..365, February 29 never counted
      return jan1 + d.n - 1 + (isLeap(year) && d.n >= 60 ? 1 : 0);
    case Kind::kJulian0:  // 0..365, February 29 counted
      return jan1 + d.n;
    case Kind::kMonthWeekDay: {
      const int64_t first = daysFromCivil(year, d.month, 1);
      int64_t day = first + (d.weekday - weekdayOf(first) + 7) % 7 + (d.week - 1) * 7;
      while (day >= first + daysInMonth(year, d.month)) day -= 7;  // week 5 = the last one
      return day;
    }
  }
  return jan1;
}

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
int64_t be64(const unsigned char* p) {
  return static_cast<int64_t>((uint64_t{be32(p)} << 32) | uint64_t{be32(p + 4)});
}

struct Header {
  char version = 0;
  uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

bool readHeader(const std::string& b, size_t pos, Header& h) {
  if (b.size() < pos + 44 || b.compare(pos, 4, "TZif") != 0) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + pos);
  h.version = static_cast<char>(p[4]);
  h.isutcnt = be32(p + 20);
  h.isstdcnt = be32(p + 24);
  h.leapcnt = be32(p + 28);
  h.timecnt = be32(p + 32);
  h.typecnt = be32(p + 36);
  h.charcnt = be32(p + 40);
  // RFC 8536 §3.1: typecnt must not be zero; the rest are bounded by the file size below.
  return h.typecnt != 0 && h.typecnt <= 256 && h.timecnt <= 1u << 20 && h.leapcnt <= 1u << 16;
}

size_t dataSize(const Header& h, size_t time_size) {
  return h.timecnt * time_size + h.timecnt + h.typecnt * 6 + h.charcnt +
         h.leapcnt * (time_size + 4) + h.isstdcnt + h.isutcnt;
}

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

}  // namespace

int32_t TimeZone::Rule::offsetAt(int64_t utc_s) const {
  if (!has_dst) return std_offset_s;
  int y = 0, m = 0, d = 0;
  civilFromDays(floorDiv(utc_s + std_offset_s, 86400), y, m, d);
  // Start is given in local standard time, end in local daylight time (POSIX).
  const int64_t on = ruleDay(start, y) * 86400 + start.time_s - std_offset_s;
  const int64_t off = ruleDay(end, y) * 86400 + end.time_s - dst_offset_s;
  const bool dst = on < off ? (utc_s >= on && utc_s < off)    // northern hemisphere
                            : !(utc_s >= off && utc_s < on);  // southern: spans new year
  return dst ? dst_offset_s : std_offset_s;
}

bool TimeZone::parseRule(std::string_view s, Rule& out) {
  Rule r;
  if (!parseAbbrev(s)) return false;
  int32_t off = 0;
  if (!parseHms(s, 24, off)) return false;
  r.std_offset_s = -off;  // POSIX offsets are west-positive
  if (s.empty()) {
    out = r;
    return true;
  }
  if (!parseAbbrev(s)) return false;
  r.has_dst = true;
  r.dst_offset_s = r.std_offset_s + 3600;
  if (!s.empty() && s[0] != ',') {
    if (!parseHms(s, 24, off)) return false;
    r.dst_offset_s = -off;
  }
  if (s.empty()) {
    // No rule: implementation-defined in POSIX and never written by zic; keep standard time.
    r.has_dst = false;
    out = r;
    return true;
  }
  if (s[0] != ',') return false;
  s.remove_prefix(1);
  if (!parseDate(s, r.start)) return false;
  if (s.empty() || s[0] != ',') return false;
  s.remove_prefix(1);
  if (!parseDate(s, r.end)) return false;
  if (!s.empty()) return false;
  out = r;
  return true;
}

std::shared_ptr<const TimeZone> TimeZone::loadFile(const std::string& path, std::string name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (b.size() > (4u << 20)) return nullptr;

  Header h;
  if (!readHeader(b, 0, h)) return nullptr;
  size_t pos = 44;
  size_t time_size = 4;
  if (h.version >= '2') {
    // RFC 8536 §3: skip the version 1 block; the 64-bit block and the footer follow.
    pos += dataSize(h, 4);
    if (!readHeader(b, pos, h)) return nullptr;
    pos += 44;
    time_size = 8;
  }
  if (b.size() < pos + dataSize(h, time_size)) return nullptr;
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + pos);

  auto tz = std::make_shared<TimeZone>();
  tz->name_ = std::move(name);
  tz->transitions_.reserve(h.timecnt);
  for (uint32_t i = 0; i < h.timecnt; ++i) {
    tz->transitions_.push_back(time_size == 8 ? be64(p + i * 8)
                                              : static_cast<int32_t>(be32(p + i * 4)));
  }
  p += h.timecnt * time_size;
  for (uint32_t i = 0; i < h.timecnt; ++i) {
    if (p[i] >= h.typecnt) return nullptr;
    tz->type_of_.push_back(p[i]);
  }
  p += h.timecnt;
  for (uint32_t i = 0; i < h.typecnt; ++i) {
    tz->offsets_.push_back(static_cast<int32_t>(be32(p + i * 6)));
  }
  if (!std::is_sorted(tz->transitions_.begin(), tz->transitions_.end())) return nullptr;

  if (time_size == 8) {
    size_t foot = pos + dataSize(h, 8);
    if (foot < b.size() && b[foot] == '\n') {
      const size_t nl = b.find('\n', foot + 1);
      if (nl != std::string::npos && nl > foot + 1) {
        tz->has_rule_ = parseRule(std::string_view(b).substr(foot + 1, nl - foot - 1), tz->rule_);
      }
    }
  }
  return tz;
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const std::shared_ptr<const TimeZone> kUtc = [] {
    auto tz = std::make_shared<TimeZone>();
    tz->name_ = "UTC";
    tz->offsets_.push_back(0);
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
    const char* dir = std::getenv("TZDIR");
    std::string path = dir && *dir ? dir : "/usr/share/zoneinfo";
    path += '/';
    path += name;
    tz = loadFile(path, std::string(name));
  }
  // A bound on the cache: names come from subscriber data, not from the network.
  if (cache.size() < 4096) cache.emplace(std::string(name), tz);
  return tz;
}

int32_t TimeZone::utcOffsetAt(int64_t utc_s) const {
  if (transitions_.empty()) return has_rule_ ? rule_.offsetAt(utc_s) : offsets_.front();
  // RFC 8536 §3.2: before the first transition, time type 0; after the last one, the footer.
  if (utc_s < transitions_.front()) return offsets_.front();
  if (utc_s >= transitions_.back() && has_rule_) return rule_.offsetAt(utc_s);
  const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc_s);
  return offsets_[type_of_[static_cast<size_t>(it - transitions_.begin()) - 1]];
}

LocalTime TimeZone::toLocal(int64_t utc_us) const {
  const int64_t utc_s = floorDiv(utc_us, 1000000);
  LocalTime lt;
  lt.utc_offset_s = utcOffsetAt(utc_s);
  const int64_t local = utc_s + lt.utc_offset_s;
  const int64_t days = floorDiv(local, 86400);
  const int64_t secs = local - days * 86400;
  civilFromDays(days, lt.year, lt.month, lt.day);
  lt.hour = static_cast<int>(secs / 3600);
  lt.minute = static_cast<int>(secs % 3600 / 60);
  lt.second = static_cast<int>(secs % 60);
  return lt;
}

int64_t TimeZone::fromLocal(int year, int month, int day, int minute_of_day) const {
  const int64_t local = daysFromCivil(year, month, day) * 86400 + int64_t{minute_of_day} * 60;
  // Two fixed-point steps settle on an offset consistent with the result outside a changeover.
  int64_t utc = local - utcOffsetAt(local);
  utc = local - utcOffsetAt(utc);
  return utc * 1000000;
}

}  // namespace mcn::notifier
