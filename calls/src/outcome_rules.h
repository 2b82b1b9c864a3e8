#pragma once
// calls/RULES.md "Outcome per called number" as a pure function of a call's state, so the rules
// live in one place and the tracker only decides *when* to apply them.

#include <memory>
#include <vector>

#include "call_state.h"
#include "mcn/calls/call_record.h"
#include "mcn/calls/explain.h"
#include "mcn/calls/tracker.h"

namespace mcn::calls::detail {

// One record per called number of `call`, ordered by started_at then callee. Hops that are
// neither final nor expired are "input ended first" (incomplete unless rules 1-4 decide).
// With `trace`, also says why (mcn explain): the hops as the rules saw them and each rule tried
// per number; without, no trace text is built.
// `scratch`: buffers kept by the caller from one call to the next (makeEvalScratch), so that
// deciding a call does not allocate them anew; without, evaluateCall uses its own.
struct EvalScratch;
struct EvalScratchDeleter {
  void operator()(EvalScratch* s) const;
};
using EvalScratchPtr = std::unique_ptr<EvalScratch, EvalScratchDeleter>;
EvalScratchPtr makeEvalScratch();

std::vector<CallRecord> evaluateCall(const Call& call, const TrackerConfig& cfg,
                                     CallTrace* trace = nullptr, EvalScratch* scratch = nullptr);

// A hop with no final response is over when a hop upstream of it (same leg and CSeq, fewer
// Vias) got one: the proxy has ended the branch (RFC 3261 §16.7, Timer B or C).
bool closedUpstream(const Call& call, const Hop& hop);

}  // namespace mcn::calls::detail
