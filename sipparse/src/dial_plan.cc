#include "mcn/sipparse/dial_plan.h"

#include <regex>
#include <stdexcept>
#include <utility>

#include "sip_text.h"

namespace mcn::sipparse {

namespace {

// E.164 allows 15 digits; prefixes, service codes and private plans add a few. Anything longer
// is not a telephone number, and the bound keeps user-supplied regexes cheap on hostile input.
constexpr size_t kMaxNumberLength = 32;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// RFC 3966 §5.1.1 visual separators (plus SP, which dialled strings from some UAs carry).
bool isVisualSeparator(char c) { return c == '-' || c == '.' || c == '(' || c == ')' || c == ' '; }

// Strips visual separators from a telephone-subscriber. Returns false if anything other than
// an optional leading '+', digits, '*' and '#' remains (e.g. "alice", "voicemail",
// "1-800-FLOWERS").
bool stripNumber(std::string_view in, std::string& out) {
  out.clear();
  bool plus = false;
  for (const char c : in) {
    if (isDigit(c) || c == '*' || c == '#') {
      out.push_back(c);
    } else if (c == '+' && !plus && out.empty()) {
      plus = true;
      out.push_back(c);
    } else if (!isVisualSeparator(c)) {
      return false;
    }
    if (out.size() > kMaxNumberLength) return false;
  }
  return !out.empty() && out != "+";
}

bool allDigits(std::string_view s) {
  for (const char c : s) {
    if (!isDigit(c)) return false;
  }
  return true;
}

void requireDigits(const std::string& value, const char* field) {
  if (!allDigits(value)) {
    throw std::invalid_argument(std::string("dial plan: ") + field +
                                " must be digits only, got \"" + value + "\"");
  }
}

}  // namespace

struct DialPlan::Impl {
  DialPlanConfig cfg;
  std::vector<std::regex> rules;  // compiled cfg.rewrite, same order
};

DialPlan::DialPlan(DialPlanConfig cfg) : impl_(std::make_unique<Impl>()) {
  requireDigits(cfg.country_code, "country_code");
  requireDigits(cfg.national_prefix, "national_prefix");
  requireDigits(cfg.international_prefix, "international_prefix");
  requireDigits(cfg.area_code, "area_code");
  if (cfg.local_number_length < 0 || cfg.local_number_length > static_cast<int>(kMaxNumberLength)) {
    throw std::invalid_argument("dial plan: local_number_length must be 0.." +
                                std::to_string(kMaxNumberLength));
  }
  impl_->rules.reserve(cfg.rewrite.size());
  for (const RewriteRule& rule : cfg.rewrite) {
    try {
      impl_->rules.emplace_back(rule.match, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      throw std::invalid_argument("dial plan: bad rewrite pattern \"" + rule.match +
                                  "\": " + e.what());
    }
  }
  impl_->cfg = std::move(cfg);
}

DialPlan::~DialPlan() = default;
DialPlan::DialPlan(DialPlan&&) noexcept = default;
DialPlan& DialPlan::operator=(DialPlan&&) noexcept = default;

const DialPlanConfig& DialPlan::config() const { return impl_->cfg; }

std::string DialPlan::normalise(std::string_view user, std::string_view phone_context) const {
  // A telephone-subscriber may carry its own parameters in the user part
  // ("1013;phone-context=+86-25", RFC 3966 §3 inside a sip URI, RFC 3261 §19.1.6).
  const size_t semi = user.find(';');
  if (semi != std::string_view::npos) {
    if (phone_context.empty()) {
      const text::ParamValue pc = text::findParam(user.substr(semi + 1), "phone-context");
      if (pc.found) phone_context = pc.value;
    }
    user = user.substr(0, semi);
  }
  std::string decoded;
  if (user.find('%') != std::string_view::npos) {
    decoded = text::percentDecode(user);
    user = decoded;
  }

  std::string s;
  s.reserve(user.size() + 4);
  if (!stripNumber(user, s)) return {};

  const DialPlanConfig& cfg = impl_->cfg;
  // Site rules see the separator-stripped string first; the first whole-string match wins and its
  // output goes through the generic steps below (so a rule may yield "0..." or "+...").
  for (size_t i = 0; i < impl_->rules.size(); ++i) {
    std::smatch m;
    bool matched = false;
    try {
      matched = std::regex_match(s, m, impl_->rules[i]);
    } catch (const std::regex_error&) {
      matched = false;  // complexity limit on a pathological pattern: treat as no match
    }
    if (!matched) continue;
    std::string replaced = m.format(cfg.rewrite[i].replace);
    if (!stripNumber(replaced, s)) return {};
    break;
  }

  // Service codes (*21#, #31#) are dialled strings, not numbers: no E.164 conversion.
  if (s.find_first_of("*#") != std::string::npos) return s;
  if (s.front() == '+') return s;

  // RFC 3966 §5.1.5: a global number context prefixes the local number; a domain name context
  // says nothing about digits, so the plan's own prefixes decide.
  if (!phone_context.empty()) {
    std::string ctx;
    if (stripNumber(text::trim(phone_context), ctx) && ctx.front() == '+' &&
        ctx.find_first_of("*#") == std::string::npos) {
      return ctx + s;
    }
  }

  if (cfg.country_code.empty()) return s;

  const std::string& intl = cfg.international_prefix;
  const std::string& nat = cfg.national_prefix;
  auto strip = [&](const std::string& prefix) {
    return !prefix.empty() && s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
  };
  // With overlapping prefixes ("00" vs "0") the longer one is the more specific.
  const bool intl_first = intl.size() >= nat.size();
  for (int pass = 0; pass < 2; ++pass) {
    const bool try_intl = (pass == 0) == intl_first;
    if (try_intl && strip(intl)) return "+" + s.substr(intl.size());
    if (!try_intl && strip(nat)) return "+" + cfg.country_code + s.substr(nat.size());
  }
  if (!cfg.area_code.empty() && cfg.local_number_length > 0 &&
      s.size() == static_cast<size_t>(cfg.local_number_length)) {
    return "+" + cfg.country_code + cfg.area_code + s;
  }
  return s;
}

std::string DialPlan::normaliseUri(std::string_view uri) const {
  text::UriView u;
  if (!text::splitUri(text::stripAngles(uri), u)) return {};
  const bool tel = text::iequals(u.scheme, "tel");
  if (!tel && !text::iequals(u.scheme, "sip") && !text::iequals(u.scheme, "sips")) return {};
  if (u.user.empty()) return {};
  std::string_view context;
  if (tel) {
    const text::ParamValue pc = text::findParam(u.params, "phone-context");
    if (pc.found) context = pc.value;
  } else {
    text::ParamValue pc = text::findParam(u.user_params, "phone-context");
    // Some cores put it among the URI parameters instead of the user part; accept both.
    if (!pc.found) pc = text::findParam(u.params, "phone-context");
    if (pc.found) context = pc.value;
  }
  return normalise(u.user, context);
}

}  // namespace mcn::sipparse
