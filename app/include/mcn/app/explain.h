#pragma once
// `mcn explain`: replays capture files like `mcn replay` and, for the calls selected by a
// Call-ID or a called number, prints the message ladder, the hop transactions as the outcome
// rules saw them and, per called number, the rule of calls/RULES.md that decided it and why
// each earlier rule did not match. The verdicts come from the tracker's own rule code
// (calls/explain.h), so they are the records `mcn replay` writes.

#include <ostream>
#include <string>
#include <vector>

#include "mcn/app/config.h"
#include "mcn/capture/sip_payload.h"

namespace mcn::app {

struct ExplainOptions {
  std::vector<std::string> files;  // read twice (records first, then the messages): no '-'
  std::string config_path;         // empty: built-in defaults
  std::string call_id;             // any leg's Call-ID (a record's call_ids)
  std::string callee;              // any dial-plan form of the called number, or a raw user
  bool json = false;               // one JSON object instead of text
};

// Exit code: 0 at least one call explained; 1 no such call (says how many calls were seen);
// 2 usage, configuration or unreadable file (one line on `err`).
int runExplain(const ExplainOptions& opts, std::ostream& out, std::ostream& err);

// The same for the call with `call_id` over SIP messages held in memory (`mcn run`'s recent
// calls, GET /api/calls/<call_id>/ladder), in capture order: the same ladder, hops and verdicts
// (the tracker decides again over just these messages; a call still ringing is decided as at the
// end of a replay). Exit codes as runExplain().
int explainPayloads(const std::vector<capture::SipPayload>& messages, const Config& cfg,
                    const std::string& call_id, bool json, std::ostream& out, std::ostream& err);

}  // namespace mcn::app
