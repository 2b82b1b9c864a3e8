#pragma once
// The output contract's JSON for a CallRecord (DESIGN.md "Output contract"), shared by every
// writer of records: --calls-out/--events-out, the live daemon, --notify-out and the channels'
// payloads. One implementation, so the contract cannot drift between them.

#include <cstdint>
#include <string>

#include "mcn/calls/call_record.h"

namespace mcn::calls {

// One JSON object, no newline, keys in the contract's order; withheld callers have null caller
// and caller_name; invalid UTF-8 in a display name is replaced, never thrown on.
std::string recordToJson(const CallRecord& r);

// UTC ISO-8601 with milliseconds, truncated: 2026-11-22T06:21:35.053Z
std::string isoTime(int64_t ts_us);
// The same, appended to `out`.
void appendIsoTime(std::string& out, int64_t ts_us);

}  // namespace mcn::calls
