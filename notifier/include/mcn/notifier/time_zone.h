#pragma once
// Local time in a person's IANA time zone, for quiet hours and the times in messages.
//
// Why not the C library: localtime_r only knows the process-wide TZ, and switching it with
// setenv("TZ")+tzset would race with every other thread that formats local time (spdlog does), and
// libstdc++ 12 has no std::chrono::zoned_time. So this uses Howard Hinnant's date/tz (the design
// std::chrono's time zones came from; Debian's libdate-tz is built with USE_OS_TZDB=1, i.e. it
// reads the system's TZif files under /usr/share/zoneinfo). Debian's date 3.0.1 ignores the POSIX
// TZ rule in a TZif footer (RFC 8536 §3.3), so beyond a zone's last stored transition (2037 in a
// "fat" file) the footer rule is applied with the same library's Posix::time_zone (date/ptz.h).
// Zones are looked up once, cached and immutable; lookups on the data path take no lock.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mcn::notifier {

struct LocalTime {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int32_t utc_offset_s = 0;  // east of UTC positive
  int minuteOfDay() const { return hour * 60 + minute; }
};

class TimeZone {
 public:
  // The zone named `name` ("Asia/Shanghai") from the system tz database, cached per name
  // (failures too). nullptr if the name is not a zone (or tries to leave the zone directory).
  // Thread-safe.
  static std::shared_ptr<const TimeZone> find(std::string_view name);
  static std::shared_ptr<const TimeZone> utc();

  const std::string& name() const { return name_; }
  int32_t utcOffsetAt(int64_t utc_s) const;
  LocalTime toLocal(int64_t utc_us) const;
  // The UTC instant (microseconds) of the local wall time `minute_of_day` on the given local
  // date. In a DST gap or overlap the answer is one of the plausible instants (good enough for
  // the end of quiet hours, which are never set in the middle of a changeover).
  int64_t fromLocal(int year, int month, int day, int minute_of_day) const;

  // A POSIX TZ rule ("GMT0BST,M3.5.0/1,M10.5.0", the TZif footer), parsed by date's
  // Posix::time_zone; public for tests. parseRule() is false for a string POSIX does not allow.
  class Rule {
   public:
    int32_t offsetAt(int64_t utc_s) const;  // UTC offset, east positive

   private:
    friend class TimeZone;
    std::shared_ptr<const void> impl_;  // const Posix::time_zone, kept out of this header
  };
  static bool parseRule(std::string_view tz, Rule& out);

  struct Impl;  // date::time_zone and the footer rule; defined in time_zone.cc

 private:
  std::string name_;
  std::shared_ptr<const Impl> impl_;  // null: UTC
};

// Civil calendar helpers (proleptic Gregorian), days since 1970-01-01.
int64_t daysFromCivil(int y, int m, int d);
void civilFromDays(int64_t z, int& y, int& m, int& d);

}  // namespace mcn::notifier
