#pragma once
// Local time in a person's IANA time zone, for quiet hours and the times in messages.
//
// Why not the C library: localtime_r only knows the process-wide TZ, and switching it with
// setenv("TZ")+tzset would race with every other thread that formats local time (spdlog does), and
// libstdc++ 12 has no std::chrono::zoned_time. So this reads the system tz database itself: one
// TZif file per zone (RFC 8536, /usr/share/zoneinfo or $TZDIR), its transitions and, beyond the
// last one, the POSIX TZ rule of its footer (RFC 8536 §3.3). Zones are parsed once, cached and
// immutable, so lookups on the data path are a map lookup plus a binary search.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  // Parses a TZif file. nullptr if it cannot be read or is not TZif.
  static std::shared_ptr<const TimeZone> loadFile(const std::string& path, std::string name);
  // The zone named `name` ("Asia/Shanghai") from $TZDIR or /usr/share/zoneinfo, cached per name
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

  // POSIX TZ rule (the TZif footer); public for tests.
  struct Rule {
    struct Date {
      enum class Kind : uint8_t { kJulian1, kJulian0, kMonthWeekDay } kind = Kind::kMonthWeekDay;
      int month = 0, week = 0, weekday = 0, n = 0;
      int32_t time_s = 7200;  // default 02:00:00 local
    };
    int32_t std_offset_s = 0;  // UTC offset (east positive)
    bool has_dst = false;
    int32_t dst_offset_s = 0;
    Date start, end;
    int32_t offsetAt(int64_t utc_s) const;
  };
  static bool parseRule(std::string_view tz, Rule& out);

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // UTC seconds, ascending
  std::vector<uint8_t> type_of_;      // per transition, index into offsets_
  std::vector<int32_t> offsets_;      // per local time type
  bool has_rule_ = false;
  Rule rule_;
};

// Civil calendar helpers (proleptic Gregorian), days since 1970-01-01.
int64_t daysFromCivil(int y, int m, int d);
void civilFromDays(int64_t z, int& y, int& m, int& d);

}  // namespace mcn::notifier
