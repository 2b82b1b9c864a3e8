#include "mcn/calls/call_record.h"
#include "mcn/calls/tracker.h"

namespace mcn::calls {
TrackerConfig::TrackerConfig() {
  // DESIGN.md "missed by default": forwarded (not unconditional, see
  // forwarded_unconditional_missed), cancelled, busy and no_answer.
  missed[static_cast<size_t>(Outcome::kForwarded)] = true;
  missed[static_cast<size_t>(Outcome::kCancelled)] = true;
  missed[static_cast<size_t>(Outcome::kBusy)] = true;
  missed[static_cast<size_t>(Outcome::kNoAnswer)] = true;
}

}  // namespace mcn::calls
