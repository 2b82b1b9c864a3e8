#pragma once
// DialPlan::normaliseUri for a caller that has already split the URI (parser.cc splits it for
// the user part anyway; splitting twice was a fifth of a memo miss). Internal to sipparse/.

#include <string>

#include "mcn/sipparse/dial_plan.h"
#include "sip_text.h"

namespace mcn::sipparse {

// The number of a URI that text::splitUri accepted as `u`; the same as plan.normaliseUri(uri)
// for a uri without '<' (normaliseUri's stripAngles then only trims, as splitUri does itself).
std::string normaliseSplitUri(const DialPlan& plan, const text::UriView& u);

}  // namespace mcn::sipparse
