#pragma once
// The value the tracker emits: one decided (call, called number).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/capture/sip_payload.h"
#include "mcn/common/outcome.h"

namespace mcn::calls {

// The contract's outcome type, shared with subscribers/ and notifier/ (common/).
using common::kOutcomeCount;
using common::Outcome;
using common::outcomeFromName;
using common::outcomeName;

// Field meanings are those of calls/RULES.md "Field values"; "" stands for the contract's null.
struct CallRecord {
  std::string call_id;  // Call-ID of the leg where this number was first targeted
  // Every Call-ID of the call (all its legs), the leg whose INVITE was seen first first: any leg
  // can be looked up in Homer, sngrep or tshark. call_id is one of them.
  std::vector<std::string> call_ids;
  std::optional<std::string> correlation;  // icid-value or configured header value
  std::string caller;                      // normalised; raw user if not a number; "" if withheld
  std::string caller_name;                 // display name, "" if none or withheld
  bool caller_withheld = false;
  std::string callee;  // normalised called number
  Outcome outcome = Outcome::kIncomplete;
  bool missed = false;
  int status = 0;                           // the deciding final status (0 if none)
  std::string reason;                       // Reason text, forwarding reason or phrase; "" if none
  std::optional<std::string> forwarded_to;  // forwarded: the number the call went on to
  int64_t started_at_us = 0;                // first INVITE for this number (first copy)
  int64_t ended_at_us = 0;                  // deciding final response / CANCEL / timeout instant
  int64_t ring_ms = 0;                      // ended_at minus the first 180/183; 0 if none
  int legs = 1;                             // Call-IDs joined into this call
  capture::Transport transport = capture::Transport::kUdp;  // of the first INVITE
  // HEP input only: the capture ids of the agents that reported the call's messages, ascending
  // (at most 8); empty for calls seen on the wire (pcap, live interface).
  std::vector<uint32_t> capture_ids;
  std::string origin;  // "callback": a call mcn placed itself, never missed; "" otherwise

  friend bool operator==(const CallRecord&, const CallRecord&) = default;
};

// The missed ones are the same value; notifier/ consumes them.
using MissedCall = CallRecord;

}  // namespace mcn::calls
