#include "mcn/calls/record_json.h"

#include <fmt/format.h>

#include <ctime>
#include <nlohmann/json.hpp>

namespace mcn::calls {

std::string isoTime(int64_t ts_us) {
  // Floor division so instants before 1970 (never expected, but a lying pcap may say so) format
  // consistently instead of producing negative milliseconds.
  int64_t ms = ts_us >= 0 ? ts_us / 1000 : -((-ts_us + 999) / 1000);
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int millis = static_cast<int>(ms - secs * 1000);
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

std::string recordToJson(const CallRecord& r) {
  using nlohmann::ordered_json;
  auto strOrNull = [](const std::string& s) -> ordered_json {
    return s.empty() ? ordered_json(nullptr) : ordered_json(s);
  };
  ordered_json j;
  j["call_id"] = r.call_id;
  j["correlation"] = r.correlation ? ordered_json(*r.correlation) : ordered_json(nullptr);
  j["caller"] = r.caller_withheld ? ordered_json(nullptr) : strOrNull(r.caller);
  j["caller_name"] = r.caller_withheld ? ordered_json(nullptr) : strOrNull(r.caller_name);
  j["caller_withheld"] = r.caller_withheld;
  j["callee"] = r.callee;
  j["outcome"] = outcomeName(r.outcome);
  j["missed"] = r.missed;
  j["status"] = r.status;
  j["reason"] = strOrNull(r.reason);
  j["forwarded_to"] = r.forwarded_to ? ordered_json(*r.forwarded_to) : ordered_json(nullptr);
  j["started_at"] = isoTime(r.started_at_us);
  j["ended_at"] = isoTime(r.ended_at_us);
  j["ring_ms"] = r.ring_ms;
  j["legs"] = r.legs;
  j["transport"] = capture::transportName(r.transport);
  // Replace invalid UTF-8 (a display name in a legacy charset) instead of throwing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mcn::calls
