#include "fast_path.h"

#include <array>
#include <cstring>

#include "mcn/sipparse/sip_event.h"

namespace mcn::sipparse::fast {

namespace {

// Character classes, one table lookup each.
enum : uint8_t {
  kAlnum = 1,
  kToken = 2,    // RFC 3261 §25.1 token
  kUser = 4,     // sip: user part: unreserved / "&=+$,;?/" (§25.1 user-unreserved)
  kTelNum = 8,   // tel: number as sofia takes it: unreserved / "&=+$,"
  kUriParam = 16,  // URI parameters: unreserved / ";=,:&+$"
  kUriHeader = 32,  // URI headers: unreserved / "&=+$,;:?/"
  kHost = 64,    // hostname / IPv4: alnum "-" "."
};

constexpr std::array<uint8_t, 256> makeTable() {
  std::array<uint8_t, 256> t{};
  auto add = [&t](const char* s, uint8_t bits) {
    for (; *s != 0; ++s) t[static_cast<unsigned char>(*s)] |= bits;
  };
  for (int c = 0; c < 256; ++c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) t[c] = kAlnum | kToken | kUser | kTelNum | kUriParam | kUriHeader | kHost;
  }
  // RFC 3261 §25.1 token is alphanum / "-.!%*_+`'~"; sofia's own token scanners are stricter
  // in places (a method with "`" is refused), and declining is always safe: no "`" or "'".
  add("-.!%*_+~", kToken);
  const char* mark = "-_.!~*'()";  // RFC 3261 §25.1 mark; unreserved = alphanum / mark
  add(mark, kUser | kTelNum | kUriParam | kUriHeader);
  add("&=+$,;?/", kUser);
  add("&=+$,", kTelNum);
  add(";=,:&+$", kUriParam);
  add("&=+$,;:?/", kUriHeader);
  add("-.", kHost);
  return t;
}
constexpr std::array<uint8_t, 256> kClass = makeTable();

inline bool is(char c, uint8_t bits) { return (kClass[static_cast<unsigned char>(c)] & bits) != 0; }

bool all(std::string_view s, uint8_t bits) {
  for (const char c : s) {
    if (!is(c, bits)) return false;
  }
  return true;
}

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

inline bool isSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view trimSpace(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && isSpace(s[b])) ++b;
  while (e > b && isSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool parseDigits(std::string_view s, size_t max_digits, uint64_t& out) {
  if (s.empty() || s.size() > max_digits) return false;
  uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

// host = hostname / IPv4address / "[" IPv6 "]", then [":" port] (RFC 3261 §25.1). Returns the
// length consumed, 0 if there is no valid host.
size_t hostPort(std::string_view s) {
  size_t i = 0;
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close < 2) return 0;
    for (size_t k = 1; k < close; ++k) {
      const char c = s[k];
      const bool ok = (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f') || c == ':' ||
                      c == '.';
      if (!ok) return 0;
    }
    i = close + 1;
  } else {
    while (i < s.size() && is(s[i], kHost)) ++i;
    if (i == 0) return 0;
  }
  if (i < s.size() && s[i] == ':') {
    const size_t p = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == p || i - p > 5) return 0;
  }
  return i;
}

// The rest of a URI after the host (sip) or number (tel): [";" params] ["?" headers].
bool uriTail(std::string_view s) {
  if (s.empty()) return true;
  size_t q = s.find('?');
  if (s[0] == ';') {
    if (!all(s.substr(1, q == std::string_view::npos ? std::string_view::npos : q - 1), kUriParam))
      return false;
  } else if (s[0] != '?') {
    return false;
  }
  if (q == std::string_view::npos) return true;
  return all(s.substr(q + 1), kUriHeader);
}

// One header parameter list after a name-addr or Via value: *(";" name ["=" value]) with no
// whitespace, values tokens (or, with ipv6_values, a bracketed IPv6 address). Calls
// fn(name, value, has_value) per parameter; false on anything else.
template <class Fn>
bool headerParams(std::string_view s, bool ipv6_values, Fn&& fn) {
  while (!s.empty()) {
    if (s[0] != ';') return false;
    s.remove_prefix(1);
    size_t end = s.find(';');
    const std::string_view p = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view{} : s.substr(end);
    const size_t eq = p.find('=');
    const std::string_view name = p.substr(0, eq);
    if (name.empty() || !all(name, kToken)) return false;
    if (eq == std::string_view::npos) {
      if (!fn(name, std::string_view{}, false)) return false;
      continue;
    }
    const std::string_view value = p.substr(eq + 1);
    if (value.empty()) return false;
    if (value[0] == '[') {
      // an IPv6 reference as in Via received=/maddr= (RFC 3261 §20.42); only where allowed
      if (!ipv6_values || value.size() < 3 || value.back() != ']') return false;
      for (const char c : value.substr(1, value.size() - 2)) {
        const bool ok = (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f') ||
                        c == ':' || c == '.';
        if (!ok) return false;
      }
    } else if (!all(value, kToken)) {
      return false;
    }
    if (!fn(name, value, true)) return false;
  }
  return true;
}

// `["display"|display] <uri>` followed by `rest` (returned). Quoted display names without
// \-escapes; unquoted ones of token characters and SP/HT (RFC 3261 §25.1 display-name).
bool nameAddr(std::string_view v, NameAddrParts& out, std::string_view& rest) {
  size_t lt;
  if (!v.empty() && v[0] == '"') {
    size_t i = 1;
    for (; i < v.size() && v[i] != '"'; ++i) {
      const auto c = static_cast<unsigned char>(v[i]);
      if (c == '\\' || c < 0x20 || c == 0x7f) return false;
    }
    if (i >= v.size()) return false;
    out.display = v.substr(0, i + 1);
    ++i;
    while (i < v.size() && isSpace(v[i])) ++i;
    if (i >= v.size() || v[i] != '<') return false;
    lt = i;
  } else {
    lt = v.find('<');
    if (lt == std::string_view::npos) return false;  // addr-spec: left to sofia (§20.10)
    for (size_t i = 0; i < lt; ++i) {
      if (!is(v[i], kToken) && !isSpace(v[i])) return false;
    }
    out.display = trimSpace(v.substr(0, lt));
  }
  const size_t gt = v.find('>', lt + 1);
  if (gt == std::string_view::npos) return false;
  out.uri = v.substr(lt + 1, gt - lt - 1);
  if (!uriInSubset(out.uri)) return false;
  rest = v.substr(gt + 1);
  return true;
}

// From / To: name-addr *(";" params); the tag parameter (RFC 3261 §20.20, §20.39).
bool fromTo(std::string_view v, NameAddrParts& out) {
  std::string_view rest;
  out = {};
  if (!nameAddr(v, out, rest)) return false;
  bool tag = false;
  return headerParams(rest, /*ipv6_values=*/false, [&](std::string_view name, std::string_view value, bool has_value) {
    if (!ieq(name, "tag")) return true;
    if (tag || !has_value) return false;
    tag = true;
    out.tag = value;
    return true;
  });
}

// Splits a comma-separated header value whose elements hold no quoted commas. Each element is
// trimmed of SP/HT; an empty one declines.
template <class Fn>
bool listElements(std::string_view v, Fn&& fn) {
  for (;;) {
    const size_t comma = v.find(',');
    const std::string_view el = trimSpace(v.substr(0, comma));
    if (el.empty() || !fn(el)) return false;
    if (comma == std::string_view::npos) return true;
    v.remove_prefix(comma + 1);
  }
}

// P-Asserted-Identity (RFC 3325 §9.1): name-addr values, comma separated, no parameters.
bool pai(std::string_view v, Scan& out) {
  // A quoted display name may hold a comma: split on commas outside quotes.
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= v.size(); ++i) {
    if (i < v.size()) {
      if (v[i] == '"') quoted = !quoted;
      if (quoted || v[i] != ',') continue;
    }
    const std::string_view el = trimSpace(v.substr(start, i - start));
    start = i + 1;
    NameAddrParts n;
    std::string_view rest;
    if (el.empty() || !nameAddr(el, n, rest) || !rest.empty()) return false;
    out.pai.push_back(n);
  }
  return !quoted;
}

// Via (RFC 3261 §20.42): "SIP/2.0/" transport SP sent-by *(";" via-params), comma separated.
bool via(std::string_view v, Scan& out) {
  return listElements(v, [&](std::string_view el) {
    constexpr std::string_view kProto = "SIP/2.0/";
    if (el.substr(0, kProto.size()) != kProto) return false;
    size_t i = kProto.size();
    const size_t t = i;
    while (i < el.size() && is(el[i], kToken)) ++i;
    if (i == t || i >= el.size() || !isSpace(el[i])) return false;
    while (i < el.size() && isSpace(el[i])) ++i;
    const size_t hp = hostPort(el.substr(i));
    if (hp == 0) return false;
    const bool top = out.via_count == 0;
    ++out.via_count;
    bool branch = false;
    return headerParams(el.substr(i + hp), /*ipv6_values=*/true,
                        [&](std::string_view name, std::string_view value, bool has_value) {
                          if (!ieq(name, "branch")) return true;
                          if (branch || !has_value) return false;
                          branch = true;
                          if (top) {
                            out.via_branch = value;
                            out.has_via_branch = true;
                          }
                          return true;
                        });
  });
}

// Reason (RFC 3326 §2): protocol *(";" reason-params); text is a quoted-string that may hold
// commas and semicolons.
bool reason(std::string_view v, Scan& out) {
  size_t i = 0;
  for (;;) {
    while (i < v.size() && isSpace(v[i])) ++i;
    ReasonParts r;
    const size_t p = i;
    while (i < v.size() && is(v[i], kToken)) ++i;
    if (i == p) return false;
    r.protocol = v.substr(p, i - p);
    while (i < v.size() && v[i] == ';') {
      ++i;
      const size_t n = i;
      while (i < v.size() && is(v[i], kToken)) ++i;
      const std::string_view name = v.substr(n, i - n);
      if (name.empty() || i >= v.size() || v[i] != '=') return false;
      const size_t val = ++i;
      if (i < v.size() && v[i] == '"') {
        ++i;
        while (i < v.size() && v[i] != '"') {
          const auto c = static_cast<unsigned char>(v[i]);
          if (c == '\\' || c < 0x20 || c == 0x7f) return false;
          ++i;
        }
        if (i >= v.size()) return false;
        ++i;
      } else {
        while (i < v.size() && is(v[i], kToken)) ++i;
        if (i == val) return false;
      }
      const std::string_view value = v.substr(val, i - val);
      if (ieq(name, "cause")) {
        if (r.has_cause) return false;
        r.has_cause = true;
        r.cause = value;
      } else if (ieq(name, "text")) {
        if (r.has_text) return false;
        r.has_text = true;
        r.text = value;
      }
    }
    out.reasons.push_back(r);
    while (i < v.size() && isSpace(v[i])) ++i;
    if (i == v.size()) return true;
    if (v[i] != ',') return false;
    ++i;
  }
}

enum class Known : uint8_t { kOther, kVia, kFrom, kTo, kCallId, kCseq, kContentLength, kReason, kPai };

// The header names sofia's parser class (parser.cc) decodes, in full and compact form (RFC 3261
// §7.3.3); case-insensitive (§7.3.5).
Known classify(std::string_view n) {
  if (n.size() == 1) {
    switch (lower(n[0])) {
      case 'v':
        return Known::kVia;
      case 'f':
        return Known::kFrom;
      case 't':
        return Known::kTo;
      case 'i':
        return Known::kCallId;
      case 'l':
        return Known::kContentLength;
      default:
        return Known::kOther;
    }
  }
  switch (lower(n[0])) {
    case 'v':
      return ieq(n, "Via") ? Known::kVia : Known::kOther;
    case 'f':
      return ieq(n, "From") ? Known::kFrom : Known::kOther;
    case 't':
      return ieq(n, "To") ? Known::kTo : Known::kOther;
    case 'c':
      if (ieq(n, "Call-ID")) return Known::kCallId;
      if (ieq(n, "CSeq")) return Known::kCseq;
      if (ieq(n, "Content-Length")) return Known::kContentLength;
      return Known::kOther;
    case 'r':
      return ieq(n, "Reason") ? Known::kReason : Known::kOther;
    case 'p':
      return ieq(n, "P-Asserted-Identity") ? Known::kPai : Known::kOther;
    default:
      return Known::kOther;
  }
}

// Method names the fast path takes: the methods mcn knows by name (RFC 3261 §7.1 allows any
// token). Anything else goes to sofia, whose method scanner has its own rules: it refused a
// response whose CSeq method was "NOTIF", a prefix of NOTIFY, where a plain token rule accepted
// it (found by fuzz_sip_differential; kept in its regressions).
bool plainMethod(std::string_view m) { return methodFromName(m) != Method::kOther; }

bool startLine(std::string_view line, Scan& out) {
  constexpr std::string_view kVersion = "SIP/2.0";
  if (line.size() > kVersion.size() && line.substr(0, kVersion.size()) == kVersion &&
      line[kVersion.size()] == ' ') {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2)
    const std::string_view rest = line.substr(kVersion.size() + 1);
    if (rest.size() < 5 || rest[3] != ' ') return false;
    uint64_t code = 0;
    if (!parseDigits(rest.substr(0, 3), 3, code) || code < 100 || code > 699) return false;
    out.is_request = false;
    out.status = static_cast<int>(code);
    out.phrase = rest.substr(4);
    // sofia keeps the phrase as written; leading/trailing blanks are its business
    if (out.phrase.empty() || isSpace(out.phrase.front()) || isSpace(out.phrase.back()))
      return false;
    for (const char c : out.phrase) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) return false;
    }
    return true;
  }
  // Request-Line = Method SP Request-URI SP SIP-Version (§7.1)
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1) != kVersion) return false;
  out.is_request = true;
  out.method = line.substr(0, sp1);
  if (!plainMethod(out.method)) return false;
  out.request_uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
  return uriInSubset(out.request_uri);
}

}  // namespace

void Scan::clear() {
  is_request = false;
  method = request_uri = phrase = call_id = cseq_method = via_branch = {};
  status = 0;
  cseq = 0;
  from = to = {};
  has_via_branch = false;
  via_count = 0;
  pai.clear();
  reasons.clear();
  others.clear();
}

bool uriInSubset(std::string_view uri) {
  if (uri.substr(0, 4) == "tel:") {
    const std::string_view rest = uri.substr(4);
    size_t i = 0;
    while (i < rest.size() && is(rest[i], kTelNum)) ++i;
    if (i == 0) return false;
    return uriTail(rest.substr(i));
  }
  std::string_view rest;
  if (uri.substr(0, 4) == "sip:") {
    rest = uri.substr(4);
  } else if (uri.substr(0, 5) == "sips:") {
    rest = uri.substr(5);
  } else {
    return false;
  }
  // sofia takes everything before the first '@' as the user part (url.c _url_d)
  const size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    if (at == 0 || !all(rest.substr(0, at), kUser)) return false;
    rest.remove_prefix(at + 1);
  }
  const size_t hp = hostPort(rest);
  if (hp == 0) return false;
  return uriTail(rest.substr(hp));
}

bool scanMessage(std::string_view msg, Scan& out) {
  out.clear();
  if (msg.empty() || std::memchr(msg.data(), '\0', msg.size()) != nullptr) {
    // A NUL ends sofia's strings early; rare enough to leave to it. (Checked over the whole
    // message: cheaper than finding the head's end first, and a body NUL is just as rare in
    // signalling that passed the capture layer's SIP test.)
    return false;
  }
  bool have_from = false, have_to = false, have_call_id = false, have_cseq = false;
  bool have_length = false;
  uint64_t content_length = 0;

  size_t pos = 0;
  bool first = true;
  for (;;) {
    const size_t lf = msg.find('\n', pos);
    if (lf == std::string_view::npos || lf == pos || msg[lf - 1] != '\r') return false;
    const std::string_view line = msg.substr(pos, lf - 1 - pos);
    pos = lf + 1;
    if (line.find('\r') != std::string_view::npos) return false;
    if (first) {
      first = false;
      if (!startLine(line, out)) return false;
      continue;
    }
    if (line.empty()) break;  // end of the head
    // A line starting with SP/HT continues the previous field (§7.3.1): left to sofia.
    if (isSpace(line[0])) return false;
    size_t n = 0;
    while (n < line.size() && is(line[n], kToken)) ++n;
    if (n == 0) return false;
    const std::string_view name = line.substr(0, n);
    size_t c = n;
    while (c < line.size() && isSpace(line[c])) ++c;
    if (c >= line.size() || line[c] != ':') return false;
    const std::string_view value = trimSpace(line.substr(c + 1));
    switch (classify(name)) {
      case Known::kOther:
        out.others.push_back({name, value});
        break;
      case Known::kVia:
        if (!via(value, out)) return false;
        break;
      case Known::kFrom:
        if (have_from || !fromTo(value, out.from)) return false;
        have_from = true;
        break;
      case Known::kTo:
        if (have_to || !fromTo(value, out.to)) return false;
        have_to = true;
        break;
      case Known::kCallId:
        if (have_call_id || value.empty()) return false;
        for (const char ch : value) {
          if (ch <= ' ' || ch == 0x7f) return false;
        }
        have_call_id = true;
        out.call_id = value;
        break;
      case Known::kCseq: {
        // CSeq = 1*DIGIT LWS Method (§20.16)
        if (have_cseq) return false;
        size_t d = 0;
        while (d < value.size() && value[d] >= '0' && value[d] <= '9') ++d;
        uint64_t seq = 0;
        if (!parseDigits(value.substr(0, d), 9, seq)) return false;
        size_t m = d;
        while (m < value.size() && isSpace(value[m])) ++m;
        if (m == d || m == value.size() || !plainMethod(value.substr(m))) return false;
        have_cseq = true;
        out.cseq = static_cast<uint32_t>(seq);
        out.cseq_method = value.substr(m);
        break;
      }
      case Known::kContentLength:
        if (have_length || !parseDigits(value, 9, content_length)) return false;
        have_length = true;
        break;
      case Known::kReason:
        if (!reason(value, out)) return false;
        break;
      case Known::kPai:
        if (!pai(value, out)) return false;
        break;
    }
  }
  // Missing essentials are sofia's to count (sip.missing_*); a body that does not match
  // Content-Length exactly is truncated or trailed by something (§18.3).
  if (!have_from || !have_to || !have_call_id || !have_cseq || !have_length) return false;
  // sofia refuses a request whose CSeq method is not its method (RFC 3261 §8.1.1.5)
  if (out.is_request && out.cseq_method != out.method) return false;
  return msg.size() - pos == content_length;
}

}  // namespace mcn::sipparse::fast
