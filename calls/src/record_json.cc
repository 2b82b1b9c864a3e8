#include "mcn/calls/record_json.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <ctime>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string_view>

namespace mcn::calls {

namespace {

// The old way, kept for years outside 0000..9999 (a lying pcap), where gmtime and fmt's
// widths decide the text.
std::string isoTimeByGmtime(int64_t secs, int millis) {
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

void appendIsoTime(std::string& out, int64_t ts_us) {
  // Floor division so instants before 1970 (never expected, but a lying pcap may say so) format
  // consistently instead of producing negative milliseconds.
  const int64_t ms = ts_us >= 0 ? ts_us / 1000 : -((-ts_us + 999) / 1000);
  const int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const int millis = static_cast<int>(ms - secs * 1000);
  // Two per record: through gmtime_r and fmt's format-string parser this was 3 % of a replay.
  using namespace std::chrono;
  constexpr int64_t kDay = 86400;
  const int64_t days_since = secs >= 0 ? secs / kDay : -((-secs + kDay - 1) / kDay);
  // 0000-01-01 is day -719,528 and 9999-12-31 day 2,932,896 of the epoch.
  if (days_since < -719'528 || days_since > 2'932'896) {
    out.append(isoTimeByGmtime(secs, millis));
    return;
  }
  const year_month_day ymd{sys_days{days{days_since}}};
  const int y = static_cast<int>(ymd.year());
  const auto sod = static_cast<unsigned>(secs - days_since * kDay);
  char b[24];
  put2(b, static_cast<unsigned>(y / 100));
  put2(b + 2, static_cast<unsigned>(y % 100));
  b[4] = '-';
  put2(b + 5, static_cast<unsigned>(ymd.month()));
  b[7] = '-';
  put2(b + 8, static_cast<unsigned>(ymd.day()));
  b[10] = 'T';
  put2(b + 11, sod / 3600);
  b[13] = ':';
  put2(b + 14, sod / 60 % 60);
  b[16] = ':';
  put2(b + 17, sod % 60);
  b[19] = '.';
  b[20] = static_cast<char>('0' + millis / 100);
  put2(b + 21, static_cast<unsigned>(millis % 100));
  b[23] = 'Z';
  out.append(b, sizeof b);
}

std::string isoTime(int64_t ts_us) {
  std::string s;
  appendIsoTime(s, ts_us);
  return s;
}

namespace {

// call_ids is never empty in the output (DESIGN.md: every Call-ID of the call, call_id among
// them): a record built without it (a test, an old producer's stream entry) names its call_id.

// Appends `s` as a JSON string if it is printable ASCII (every Call-ID, number and nearly every
// display name), escaping '"' and '\\' as nlohmann::json does; false for anything else (control
// characters, UTF-8, invalid bytes), which the general serialiser below handles.
bool appendAscii(std::string& out, std::string_view s) {
  // Checked first, then appended in runs between the characters to escape (one append for
  // the usual string without any): a push_back per character was most of the record's cost.
  size_t escapes = 0;
  size_t i = 0;
#if defined(__SSE2__)
  // 16 bytes a step: any byte outside 0x20..0x7e, or '"' or '\\', sends the block to the loop
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    // as signed bytes: below 0x20 (bytes from 0x80 are negative) or 0x7f
    const __m128i odd = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                                  _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    if (_mm_movemask_epi8(odd) != 0) break;
  }
#endif
  for (const char c : s.substr(i)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
    escapes += static_cast<size_t>(c == '"' || c == '\\');
  }
  out.push_back('"');
  if (escapes == 0) {
    out.append(s);
  } else {
    size_t run = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '"' || s[i] == '\\') {
        out.append(s.data() + run, i - run);
        out.push_back('\\');
        run = i;
      }
    }
    out.append(s.data() + run, s.size() - run);
  }
  out.push_back('"');
  return true;
}

template <typename T>
void appendInt(std::string& out, T v) {
  char b[24];
  const auto [end, ec] = std::to_chars(b, b + sizeof b, v);
  out.append(b, end);
}

bool appendOrNull(std::string& out, bool present, std::string_view s) {
  if (!present) {
    out.append("null");
    return true;
  }
  return appendAscii(out, s);
}

// The same text as the nlohmann::ordered_json serialisation below, built directly: a replay
// writes one record per call, and the JSON object (a node per field) was most of its cost.
bool fastRecordToJson(const CallRecord& r, std::string& out) {
  out.reserve(448);
  out.append("{\"call_id\":");
  if (!appendAscii(out, r.call_id)) return false;
  out.append(",\"call_ids\":[");
  if (r.call_ids.empty() && !appendAscii(out, r.call_id)) return false;
  for (size_t i = 0; i < r.call_ids.size(); ++i) {
    if (i > 0) out.push_back(',');
    if (!appendAscii(out, r.call_ids[i])) return false;
  }
  out.append("],\"correlation\":");
  if (!appendOrNull(out, r.correlation.has_value(), r.correlation ? *r.correlation : ""))
    return false;
  out.append(",\"caller\":");
  if (!appendOrNull(out, !r.caller_withheld && !r.caller.empty(), r.caller)) return false;
  out.append(",\"caller_name\":");
  if (!appendOrNull(out, !r.caller_withheld && !r.caller_name.empty(), r.caller_name)) return false;
  out.append(r.caller_withheld ? ",\"caller_withheld\":true" : ",\"caller_withheld\":false");
  out.append(",\"callee\":");
  if (!appendAscii(out, r.callee)) return false;
  out.append(",\"outcome\":");
  if (!appendAscii(out, outcomeName(r.outcome))) return false;
  out.append(r.missed ? ",\"missed\":true" : ",\"missed\":false");
  out.append(",\"status\":");
  appendInt(out, r.status);
  out.append(",\"reason\":");
  if (!appendOrNull(out, !r.reason.empty(), r.reason)) return false;
  out.append(",\"forwarded_to\":");
  if (!appendOrNull(out, r.forwarded_to.has_value(), r.forwarded_to ? *r.forwarded_to : "")) {
    return false;
  }
  out.append(",\"started_at\":\"");
  appendIsoTime(out, r.started_at_us);
  out.append("\",\"ended_at\":\"");
  appendIsoTime(out, r.ended_at_us);
  out.append("\",\"ring_ms\":");
  appendInt(out, r.ring_ms);
  out.append(",\"legs\":");
  appendInt(out, r.legs);
  out.append(",\"transport\":");
  if (!appendAscii(out, capture::transportName(r.transport))) return false;
  if (!r.capture_ids.empty()) {
    out.append(",\"capture_ids\":[");
    for (size_t i = 0; i < r.capture_ids.size(); ++i) {
      if (i > 0) out.push_back(',');
      appendInt(out, r.capture_ids[i]);
    }
    out.push_back(']');
  }
  if (!r.origin.empty()) {
    out.append(",\"origin\":");
    if (!appendAscii(out, r.origin)) return false;
  }
  out.push_back('}');
  return true;
}

}  // namespace

std::string recordToJson(const CallRecord& r) {
  std::string fast;
  if (fastRecordToJson(r, fast)) return fast;
  using nlohmann::ordered_json;
  auto strOrNull = [](const std::string& s) -> ordered_json {
    return s.empty() ? ordered_json(nullptr) : ordered_json(s);
  };
  ordered_json j;
  j["call_id"] = r.call_id;
  j["call_ids"] = r.call_ids.empty() ? std::vector<std::string>{r.call_id} : r.call_ids;
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
  if (!r.capture_ids.empty()) j["capture_ids"] = r.capture_ids;
  if (!r.origin.empty()) j["origin"] = r.origin;  // optional: only on calls mcn placed
  // Replace invalid UTF-8 (a display name in a legacy charset) instead of throwing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mcn::calls
