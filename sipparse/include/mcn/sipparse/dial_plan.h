#pragma once
// Number normalisation: every form a number is written in on an IMS core (tel URIs with visual
// separators, sip URIs with user=phone, national and international dialling prefixes,
// phone-context, short extensions) reaches one canonical string, E.164 with '+' where possible.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mcn::sipparse {

struct RewriteRule {
  std::string match;    // ECMAScript regex matched against the whole digit string (after
                        // separators are removed and before prefix handling), e.g. "^(1\\d{3})$"
  std::string replace;  // replacement, $1.. refer to groups, e.g. "+86258300$1"

  bool operator==(const RewriteRule&) const = default;
};

struct DialPlanConfig {
  std::string country_code;                 // e.g. "86" (no '+'); empty: no E.164 conversion
  std::string national_prefix = "0";        // trunk prefix, e.g. "0" in 025-8300-1013
  std::string international_prefix = "00";  // e.g. "00" in 008613900101230
  std::string area_code;             // default area code for local subscriber numbers, e.g. "25"
  int local_number_length = 0;       // digits of a local number without area code (0: off)
  std::vector<RewriteRule> rewrite;  // applied first, in order, first match wins

  bool operator==(const DialPlanConfig&) const = default;
};

class DialPlan {
 public:
  explicit DialPlan(DialPlanConfig cfg);  // throws std::invalid_argument on a bad regex
  ~DialPlan();
  DialPlan(DialPlan&&) noexcept;
  DialPlan& operator=(DialPlan&&) noexcept;

  // Normalise the user part of a sip/sips URI or the number of a tel URI. `phone_context` is the
  // URI's phone-context parameter if any (else one in the user's own ";params" is used). Returns ""
  // when the user part is not a telephone number (letters, e.g. "alice"), in which case callers
  // fall back to the raw user. Steps, in order:
  //   1. strip visual separators - . ( ) SP (RFC 3966 §5.1.1); only '+' (leading), digits, '*'
  //      and '#' may remain, at most 32 of them, else "";
  //   2. the first rewrite rule whose regex matches the whole string replaces it (its output goes
  //      on through steps 3-7);
  //   3. a string with '*' or '#' is a service code: returned as is;
  //   4. "+..." is returned as is;
  //   5. a global phone-context ("+86-25") is prefixed; a domain context changes nothing;
  //   6. empty country_code: returned as is;
  //   7. international prefix -> "+", national prefix -> "+" country_code, a local number of
  //      local_number_length digits -> "+" country_code area_code; anything else as is.
  // user=phone is not required: a sip user part made of digits is treated as a number.
  std::string normalise(std::string_view user, std::string_view phone_context = {}) const;

  // Normalise a whole URI string ("tel:+86-25-8300-1013", "sip:02583001013@h;user=phone",
  // "<sip:1013@h>"). Same result rules as normalise().
  std::string normaliseUri(std::string_view uri) const;

  const DialPlanConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::sipparse
