#include "mcn/sipparse/dial_plan.h"

#include <algorithm>
#include <cstdint>
#include <regex>
#include <stdexcept>
#include <utility>

#include "dial_plan_split.h"
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
// Collected on the stack and stored once: `out` is only written on success.
bool stripNumber(std::string_view in, std::string& out) {
  char buf[kMaxNumberLength];
  size_t n = 0;
  bool plus = false;
  for (const char c : in) {
    if (isDigit(c) || c == '*' || c == '#') {
      if (n == kMaxNumberLength) return false;
      buf[n++] = c;
    } else if (c == '+' && !plus && n == 0) {
      plus = true;
      buf[n++] = c;
    } else if (!isVisualSeparator(c)) {
      return false;
    }
  }
  if (n == 0 || (n == 1 && buf[0] == '+')) return false;
  out.assign(buf, n);
  return true;
}

// A dialled service code ("*21#") rather than a number.
bool hasServiceChar(std::string_view s) {
  for (const char c : s) {
    if (c == '*' || c == '#') return true;
  }
  return false;
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

// A necessary condition for a rewrite pattern to match, read from the pattern, so that the
// strings it cannot match skip std::regex_match (about 3,000 instructions a call even on a
// 4-digit pattern). Only patterns that are a plain sequence of single-character atoms, each with
// an optional quantifier, get one: for those the strings that match are exactly the
// concatenations of runs, run i of lo_i..hi_i characters of atom i's class (ECMAScript
// backtracking explores every split), so a string that is too short or too long, or whose first
// or last characters are outside the classes of the leading or trailing fixed-count atoms,
// cannot match. Anything else in a pattern (alternation, a quantified group, a backreference,
// assertions, \w \s ...) leaves the rule unfiltered: the regex decides, as before.
class RuleFilter {
 public:
  // Unfiltered unless `pattern` is of the simple form.
  explicit RuleFilter(std::string_view pattern) { active_ = parse(pattern); }

  bool mayMatch(std::string_view s) const {
    if (!active_) return true;
    if (s.size() < min_len_ || s.size() > max_len_) return false;
    const size_t np = std::min(prefix_.size(), s.size());
    for (size_t i = 0; i < np; ++i) {
      if ((prefix_[i] & bit(s[i])) == 0) return false;
    }
    const size_t ns = std::min(suffix_.size(), s.size());
    for (size_t i = 0; i < ns; ++i) {
      if ((suffix_[i] & bit(s[s.size() - 1 - i])) == 0) return false;
    }
    return true;
  }

 private:
  // Classes are sets over what stripNumber leaves (digits, '+', '*', '#'); any other character
  // shares one "other" bit, so a class never excludes a character it might hold.
  using Class = uint16_t;
  static constexpr Class kDigits = 0x03ff;
  static constexpr Class kAny = 0xffff;
  static constexpr size_t kUnbounded = static_cast<size_t>(-1);

  static Class bit(char c) {
    if (isDigit(c)) return static_cast<Class>(1u << (c - '0'));
    switch (c) {
      case '+':
        return 1u << 10;
      case '*':
        return 1u << 11;
      case '#':
        return 1u << 12;
      default:
        return 1u << 15;
    }
  }

  struct Atom {
    Class cls;
    size_t lo;
    size_t hi;  // kUnbounded: no upper bound
  };

  // Escaped characters taken literally (ECMAScript IdentityEscape of syntax characters).
  static bool literalEscape(char c) {
    return std::string_view("+*#.-()[]{}^$|?\\/").find(c) != std::string_view::npos;
  }

  // "[...]" at p (after '['): digits, digit ranges, \d, '+', '*', '#' and escaped syntax
  // characters; no negation.
  static bool parseClass(std::string_view pat, size_t& i, Class& cls) {
    cls = 0;
    if (i < pat.size() && pat[i] == '^') return false;
    while (i < pat.size() && pat[i] != ']') {
      char c = pat[i];
      if (c == '\\') {
        if (i + 1 >= pat.size()) return false;
        const char d = pat[i + 1];
        i += 2;
        if (d == 'd') {
          cls |= kDigits;
          continue;
        }
        if (!literalEscape(d)) return false;
        cls |= bit(d);
        continue;
      }
      if (isDigit(c) && i + 2 < pat.size() && pat[i + 1] == '-' && pat[i + 2] != ']') {
        const char hi = pat[i + 2];
        if (!isDigit(hi) || hi < c) return false;
        for (char d = c; d <= hi; ++d) cls |= bit(d);
        i += 3;
        continue;
      }
      if (!isDigit(c) && c != '+' && c != '*' && c != '#') return false;
      cls |= bit(c);
      ++i;
    }
    if (i >= pat.size()) return false;
    ++i;  // ']'
    return true;
  }

  static bool parseCount(std::string_view pat, size_t& i, size_t& out) {
    const size_t start = i;
    size_t v = 0;
    while (i < pat.size() && isDigit(pat[i])) {
      v = v * 10 + static_cast<size_t>(pat[i] - '0');
      if (v > 1000) return false;
      ++i;
    }
    out = v;
    return i > start;
  }

  bool parse(std::string_view pat) {
    std::vector<Atom> atoms;
    size_t i = 0;
    if (!pat.empty() && pat[0] == '^') ++i;
    int depth = 0;
    while (i < pat.size()) {
      const char c = pat[i];
      if (c == '$') {
        if (i + 1 != pat.size()) return false;
        break;
      }
      if (c == '(') {
        if (i + 1 < pat.size() && pat[i + 1] == '?') {
          if (i + 2 >= pat.size() || pat[i + 2] != ':') return false;  // lookahead: no
          i += 3;
        } else {
          ++i;
        }
        ++depth;
        continue;
      }
      if (c == ')') {
        if (--depth < 0) return false;
        ++i;
        // a quantified group repeats a sequence: not a single-character atom
        if (i < pat.size() && std::string_view("?*+{").find(pat[i]) != std::string_view::npos)
          return false;
        continue;
      }
      Atom a{0, 1, 1};
      if (c == '\\') {
        if (i + 1 >= pat.size()) return false;
        const char d = pat[i + 1];
        if (d == 'd') {
          a.cls = kDigits;
        } else if (literalEscape(d)) {
          a.cls = bit(d);
        } else {
          return false;
        }
        i += 2;
      } else if (c == '[') {
        ++i;
        if (!parseClass(pat, i, a.cls)) return false;
      } else if (c == '.') {
        a.cls = kAny;
        ++i;
      } else if (std::string_view("^$\\.*+?()[]{}|").find(c) != std::string_view::npos) {
        return false;  // '|' and misplaced syntax characters
      } else {
        a.cls = bit(c);
        ++i;
      }
      if (i < pat.size()) {
        const char q = pat[i];
        if (q == '?' || q == '*' || q == '+') {
          a.lo = q == '+' ? 1 : 0;
          a.hi = q == '?' ? 1 : kUnbounded;
          ++i;
        } else if (q == '{') {
          ++i;
          if (!parseCount(pat, i, a.lo)) return false;
          a.hi = a.lo;
          if (i < pat.size() && pat[i] == ',') {
            ++i;
            a.hi = kUnbounded;
            if (i < pat.size() && pat[i] != '}' && !parseCount(pat, i, a.hi)) return false;
          }
          if (i >= pat.size() || pat[i] != '}' || a.hi < a.lo) return false;
          ++i;
        }
        if (a.lo != a.hi && i < pat.size() && pat[i] == '?') ++i;  // lazy: same strings
      }
      atoms.push_back(a);
    }
    if (depth != 0) return false;
    min_len_ = 0;
    max_len_ = 0;
    for (const Atom& a : atoms) {
      min_len_ += a.lo;
      max_len_ = (max_len_ == kUnbounded || a.hi == kUnbounded) ? kUnbounded : max_len_ + a.hi;
    }
    // Positions fixed from either end; strings are at most kMaxNumberLength long.
    for (const Atom& a : atoms) {
      if (a.lo != a.hi) break;
      for (size_t k = 0; k < a.lo && prefix_.size() <= kMaxNumberLength; ++k) {
        prefix_.push_back(a.cls);
      }
    }
    for (auto it = atoms.rbegin(); it != atoms.rend(); ++it) {
      if (it->lo != it->hi) break;
      for (size_t k = 0; k < it->lo && suffix_.size() <= kMaxNumberLength; ++k) {
        suffix_.push_back(it->cls);
      }
    }
    return true;
  }

  bool active_ = false;
  size_t min_len_ = 0;
  size_t max_len_ = kUnbounded;
  std::vector<Class> prefix_;  // class of s[0], s[1], ...
  std::vector<Class> suffix_;  // class of the last character, the one before, ...
};

}  // namespace

struct DialPlan::Impl {
  DialPlanConfig cfg;
  std::vector<std::regex> rules;    // compiled cfg.rewrite, same order
  std::vector<RuleFilter> filters;  // one per rule
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
      impl_->filters.emplace_back(rule.match);
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

  // No reserve: a number of up to 15 characters stays in the string's own buffer.
  std::string s;
  if (!stripNumber(user, s)) return {};

  const DialPlanConfig& cfg = impl_->cfg;
  // Site rules see the separator-stripped string first; the first whole-string match wins and its
  // output goes through the generic steps below (so a rule may yield "0..." or "+...").
  for (size_t i = 0; i < impl_->rules.size(); ++i) {
    if (!impl_->filters[i].mayMatch(s)) continue;
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
  if (hasServiceChar(s)) return s;
  if (s.front() == '+') return s;

  // RFC 3966 §5.1.5: a global number context prefixes the local number; a domain name context
  // says nothing about digits, so the plan's own prefixes decide.
  if (!phone_context.empty()) {
    std::string ctx;
    if (stripNumber(text::trim(phone_context), ctx) && ctx.front() == '+' && !hasServiceChar(ctx)) {
      ctx.append(s);
      return ctx;
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
    // rewritten in place: no temporaries
    if (try_intl && strip(intl)) {
      s.replace(0, intl.size(), 1, '+');
      return s;
    }
    if (!try_intl && strip(nat)) {
      s.replace(0, nat.size(), 1, '+').insert(1, cfg.country_code);
      return s;
    }
  }
  if (!cfg.area_code.empty() && cfg.local_number_length > 0 &&
      s.size() == static_cast<size_t>(cfg.local_number_length)) {
    s.insert(0, cfg.area_code).insert(0, cfg.country_code).insert(0, 1, '+');
  }
  return s;
}

std::string DialPlan::normaliseUri(std::string_view uri) const {
  text::UriView u;
  if (!text::splitUri(text::stripAngles(uri), u)) return {};
  return normaliseSplitUri(*this, u);
}

std::string normaliseSplitUri(const DialPlan& plan, const text::UriView& u) {
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
  return plan.normalise(u.user, context);
}

}  // namespace mcn::sipparse
