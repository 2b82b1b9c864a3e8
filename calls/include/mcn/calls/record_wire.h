#pragma once
// A CallRecord between processes (the Redis stream `<prefix>:missed`, see notifier/stream_bus.h):
// the output contract's JSON (record_json.h) plus the few values the contract rounds or hides, so
// that recordFromWireJson(recordToWireJson(r)) == r for every record whose display name is valid
// UTF-8 (invalid bytes are replaced on the way out, as in every other writer).
//
// The extra keys: "started_at_us" and "ended_at_us" (the contract's times are cut to
// milliseconds), and for a withheld caller "caller_raw" and "caller_name_raw" (the contract
// writes null there; the merger needs the raw values only to count them, but exact is simpler to
// reason about than almost).

#include <optional>
#include <string>
#include <string_view>

#include "mcn/calls/call_record.h"

namespace mcn::calls {

std::string recordToWireJson(const CallRecord& r);

// Reads the wire form, and the plain contract form too (times then have millisecond precision).
// nullopt with `error` set for anything that is not a record: not JSON, a missing or mistyped
// field, an unknown outcome or transport, a time that is not ISO-8601 UTC. Never throws.
std::optional<CallRecord> recordFromWireJson(std::string_view json, std::string* error = nullptr);

// "2026-11-22T06:21:35.053Z" -> microseconds since the epoch; nullopt if malformed.
std::optional<int64_t> parseIsoTime(std::string_view s);

}  // namespace mcn::calls
