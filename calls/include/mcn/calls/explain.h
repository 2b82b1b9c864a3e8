#pragma once
// Why a call got its records: the hop transactions as the outcome rules saw them and, per called
// number, each rule of calls/RULES.md tried in order with why it did or did not match. Produced
// by the rule code itself (outcome_rules.cc), so `mcn explain` can never disagree with a replay.
// Off by default: a tracker without TraceHooks evaluates each call once and builds nothing.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/calls/call_record.h"

namespace mcn::calls {

// One hop transaction (RULES.md: Call-ID, top Via branch, CSeq of an initial INVITE at one hop).
// Hop indices are positions in CallTrace::hops; -1 means none.
struct HopTrace {
  int leg = 0;              // index into CallTrace::call_ids
  uint64_t branch_key = 0;  // hopBranchKey() of its top Via branch
  uint32_t cseq = 0;
  int via_count = 0;
  std::string target;       // the number (or raw user) it is attributed to
  bool has_invite = false;  // its INVITE was seen
  bool retargeted = false;  // its INVITE carried Diversion or a History-Info entry with a cause
  bool voicemail = false;   // its Request-URI is a configured voicemail identity
  bool aggregate = false;   // a deeper hop of its leg went to another number: not attributed
  int aggregate_of = -1;    // ... that hop
  bool superseded = false;  // its 3xx/401/407 was followed by a new INVITE to the same number
  int superseded_by = -1;
  bool relayed = false;       // its 2xx only passed back another number's answer
  int relayed_from = -1;      // the hop whose 2xx it passed back
  bool proxy_cancel = false;  // its CANCEL came from the proxy (upstream hop ended uncancelled)
  bool expired = false;    // no final response by its deadline (ring timeout, 64*T1 after CANCEL)
  bool resolved = false;   // ended: final response, CANCEL, deadline or closed upstream
  int64_t first_us = 0;    // its earliest message (first copy)
  int final_status = 0;    // its own final response (0: none)
  std::string final_text;  // its Reason text, else the reason phrase
  int64_t final_us = 0;    // 0 if none
  int64_t cancel_us = 0;   // its own CANCEL, 0 if none
  std::string cancel_reason;  // what the CANCEL's Reason says: "" (nothing), "answered elsewhere",
                              // "declined", "no answer"
  // The status the rules read for it when it has none of its own (or only a plain CANCEL): the
  // one its nearest upstream hop got (the proxy ended the branch, RFC 3261 §16.7).
  int upstream = -1;                  // that upstream hop
  bool status_from_upstream = false;  // it ended with the upstream hop's final status
  bool cancel_from_upstream = false;  // the caller's CANCEL upstream ended it
  int effective_status = 0;           // the status rules 5-9 read (its own, else the upstream one)
};

// One rule of RULES.md "Outcome per called number", tried for one number.
struct RuleStep {
  int rule = 0;  // 1..10, RULES.md numbering
  Outcome outcome = Outcome::kIncomplete;
  bool matched = false;
  std::string why;  // why it matched, or why it did not
};

struct NumberTrace {
  std::string number;
  std::vector<int> own_hops;    // its non-aggregate, non-superseded hops
  std::vector<RuleStep> steps;  // the rules tried, in order; the last one matched
  std::string missed_why;       // why the record is missed or not (outcome and calls.* keys)
};

// How the tracker came to decide the call.
enum class DecidedBy : uint8_t {
  kTimer,       // every hop final (or past its deadline) and the grace / auth wait passed
  kEvicted,     // max_calls was reached: decided early (calls.evicted)
  kEndOfInput,  // replay ended: every open call is decided
};
const char* decidedByName(DecidedBy d);  // "timer", "evicted", "end_of_input"

struct CallTrace {
  std::vector<std::string> call_ids;  // as in the records: the leg seen first first
  std::string correlation;            // "" if none
  int64_t decided_us = 0;
  DecidedBy decided_by = DecidedBy::kTimer;
  std::vector<HopTrace> hops;
  std::vector<NumberTrace> numbers;  // same order as `records`
  std::vector<CallRecord> records;
};

// Set on a CallTracker to get traces. `want` sees each decided call's records (before they go
// to the sink) and says whether to trace it; the call is then evaluated a second time with the
// trace on, and `sink` gets the result. Both empty: no trace work at all.
struct TraceHooks {
  std::function<bool(const std::vector<CallRecord>&)> want;
  std::function<void(CallTrace&&)> sink;
};

// The key a message's top Via branch (and Via count, for a branchless RFC 2543 peer) gives its
// hop transaction; with the Call-ID and CSeq number it finds the message's hop in a CallTrace.
uint64_t hopBranchKey(std::string_view via_branch, int via_count);

}  // namespace mcn::calls
