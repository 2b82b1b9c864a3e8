#pragma once
// A subscriber's number as written in a file, the CLI or an HR export -> the stored form that
// meets the calls' normalised numbers (same dial plan as the calls).

#include <string>
#include <string_view>

#include "mcn/sipparse/dial_plan.h"

namespace mcn::subscribers {

// Accepts every form the dial plan does ("1013", "+86 25 8300 1013", "025-8300-1013",
// "tel:+86-25-8300-1013", "sip:1013@ims;user=phone", "<sip:+862583001013@h>") and stores the
// normalised number. A sip/sips URI whose user part is not a number is stored as
// "sip:user@host" (scheme and host lower-cased, user as written, parameters dropped) and indexed
// under the user, the way calls/ reports a callee without a number. Anything else ("alice" without
// a scheme, "---", "sip:host") yields false and a reason.
bool normaliseSubscriberNumber(std::string_view written, const sipparse::DialPlan& plan,
                               std::string& stored, std::string& why);

// True for a stored number (normalised digits or a "sip:user@host" identity): what
// validatePerson() expects in Person::numbers.
bool isStoredNumber(std::string_view stored);

}  // namespace mcn::subscribers
