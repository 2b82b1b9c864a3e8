#include "mcn/calls/record_wire.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "mcn/calls/record_json.h"

namespace mcn::calls {

namespace {

using nlohmann::json;

using common::transportFromName;

}  // namespace

std::optional<int64_t> parseIsoTime(std::string_view s) {
  // Exactly the shape isoTime() writes: YYYY-MM-DDTHH:MM:SS.mmmZ
  if (s.size() != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != '.' || s[23] != 'Z') {
    return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len, int& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, sec, ms;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
      !num(17, 2, sec) || !num(20, 3, ms)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t secs = static_cast<int64_t>(::timegm(&tm));
  return secs * 1'000'000 + static_cast<int64_t>(ms) * 1000;
}

std::string recordToWireJson(const CallRecord& r) {
  // One writer of the contract: start from it and add what it rounds or hides.
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(recordToJson(r));
  j["started_at_us"] = r.started_at_us;
  j["ended_at_us"] = r.ended_at_us;
  if (r.caller_withheld) {
    j["caller_raw"] = r.caller;
    j["caller_name_raw"] = r.caller_name;
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<CallRecord> recordFromWireJson(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<CallRecord> {
    if (error != nullptr) *error = why;
    return std::nullopt;
  };
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("not a JSON object");
  CallRecord r;
  // Typed accessors that report the key instead of throwing.
  auto str = [&](const char* key, std::string& out, bool nullable) {
    auto it = j.find(key);
    if (it == j.end()) return false;
    if (it->is_null() && nullable) {
      out.clear();
      return true;
    }
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  auto optStr = [&](const char* key, std::optional<std::string>& out) {
    auto it = j.find(key);
    if (it == j.end()) return false;
    if (it->is_null()) {
      out.reset();
      return true;
    }
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  auto integer = [&](const char* key, int64_t& out) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return false;
    out = it->get<int64_t>();
    return true;
  };
  auto boolean = [&](const char* key, bool& out) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_boolean()) return false;
    out = it->get<bool>();
    return true;
  };
  if (!str("call_id", r.call_id, false)) return fail("call_id");
  // Records written before call_ids existed (a stream entry older than this process) name one
  // leg: theirs is [call_id].
  if (auto it = j.find("call_ids"); it == j.end()) {
    r.call_ids = {r.call_id};
  } else {
    if (!it->is_array() || it->empty()) return fail("call_ids");
    for (const auto& id : *it) {
      if (!id.is_string()) return fail("call_ids");
      r.call_ids.push_back(id.get<std::string>());
    }
  }
  if (!optStr("correlation", r.correlation)) return fail("correlation");
  if (!boolean("caller_withheld", r.caller_withheld)) return fail("caller_withheld");
  if (!str("caller", r.caller, true)) return fail("caller");
  if (!str("caller_name", r.caller_name, true)) return fail("caller_name");
  if (r.caller_withheld) {
    if (j.contains("caller_raw") && !str("caller_raw", r.caller, false)) return fail("caller_raw");
    if (j.contains("caller_name_raw") && !str("caller_name_raw", r.caller_name, false)) {
      return fail("caller_name_raw");
    }
  }
  if (!str("callee", r.callee, false)) return fail("callee");
  std::string s;
  if (!str("outcome", s, false)) return fail("outcome");
  auto o = outcomeFromName(s);
  if (!o) return fail("outcome");
  r.outcome = *o;
  if (!boolean("missed", r.missed)) return fail("missed");
  int64_t n = 0;
  if (!integer("status", n) || n < 0 || n > 999) return fail("status");
  r.status = static_cast<int>(n);
  if (!str("reason", r.reason, true)) return fail("reason");
  if (!optStr("forwarded_to", r.forwarded_to)) return fail("forwarded_to");
  if (j.contains("started_at_us")) {
    if (!integer("started_at_us", r.started_at_us)) return fail("started_at_us");
  } else {
    std::optional<int64_t> t;
    if (!str("started_at", s, false) || !(t = parseIsoTime(s))) return fail("started_at");
    r.started_at_us = *t;
  }
  if (j.contains("ended_at_us")) {
    if (!integer("ended_at_us", r.ended_at_us)) return fail("ended_at_us");
  } else {
    std::optional<int64_t> t;
    if (!str("ended_at", s, false) || !(t = parseIsoTime(s))) return fail("ended_at");
    r.ended_at_us = *t;
  }
  if (!integer("ring_ms", r.ring_ms)) return fail("ring_ms");
  if (!integer("legs", n) || n < 0 || n > 1'000'000) return fail("legs");
  r.legs = static_cast<int>(n);
  if (!str("transport", s, false)) return fail("transport");
  auto t = transportFromName(s);
  if (!t) return fail("transport");
  r.transport = *t;
  // Optional: a call mcn placed itself ("callback").
  if (j.contains("origin") && !str("origin", r.origin, false)) return fail("origin");
  // Optional (HEP input only); bounded like the tracker's set.
  if (auto it = j.find("capture_ids"); it != j.end()) {
    if (!it->is_array() || it->size() > 8) return fail("capture_ids");
    for (const auto& id : *it) {
      if (!id.is_number_unsigned() || id.get<uint64_t>() > UINT32_MAX) return fail("capture_ids");
      r.capture_ids.push_back(static_cast<uint32_t>(id.get<uint64_t>()));
    }
  }
  return r;
}

}  // namespace mcn::calls
