#include "lenient.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "mcn/sipparse/sip_event.h"
#include "sip_text.h"

namespace mcn::sipparse::lenient {

namespace {

constexpr std::string_view kVersion = "SIP/2.0";

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isHex(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool isSpace(char c) { return c == ' ' || c == '\t'; }
// RFC 3261 §25.1 token
bool isToken(char c) { return isAlpha(c) || isDigit(c) || std::strchr("-.!%*_+`'~", c) != nullptr; }
char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && text::iequals(s.substr(0, prefix.size()), prefix);
}

bool isIpv6(std::string_view s) {
  // INET6_ADDRSTRLEN: the longest text form (with an embedded IPv4 address) plus NUL
  char buf[INET6_ADDRSTRLEN];
  if (s.empty() || s.size() >= sizeof buf) return false;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  in6_addr a;
  return inet_pton(AF_INET6, buf, &a) == 1;
}

// port = 1*DIGIT (RFC 3261 §25.1), at most 65535
bool isPort(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  long v = 0;
  for (const char c : s) {
    if (!isDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  return v <= 65535;
}

enum class Host {
  kAsWritten,   // not an unbracketed IPv6 host: copied
  kBracketed,   // written with brackets into out
  kUnreadable,  // looks like one, but cannot be read unambiguously: copied
};

// The host[:port] starting at s[i] (after '@', the scheme or the Via transport). An unbracketed
// IPv6 address is written bracketed into `out` and i advances past it; otherwise nothing is
// written and i is unchanged.
Host fixHost(std::string_view s, size_t& i, std::string& out) {
  size_t j = i;
  size_t colons = 0;
  while (j < s.size() && (isHex(s[j]) || s[j] == ':' || s[j] == '.')) {
    if (s[j] == ':') ++colons;
    ++j;
  }
  // hostname or IPv4 address, with at most a port (or a bracketed reference): not ours
  if (colons < 2) return Host::kAsWritten;
  // the run goes on with host characters that are no IPv6 text: not an address
  if (j < s.size() && (isAlpha(s[j]) || isDigit(s[j]) || s[j] == '-' || s[j] == '_' ||
                       s[j] == '[' || s[j] == ']')) {
    return Host::kUnreadable;
  }
  const std::string_view run = s.substr(i, j - i);
  const size_t last = run.rfind(':');
  const std::string_view tail = run.substr(last + 1);
  const bool whole = isIpv6(run);
  const bool with_port = isPort(tail) && isIpv6(run.substr(0, last));
  if (whole == with_port) return Host::kUnreadable;  // both readings, or none
  out.push_back('[');
  if (whole) {
    out.append(run);
    out.push_back(']');
  } else {
    out.append(run.substr(0, last));
    out.append("]:");
    out.append(tail);
  }
  i = j;
  return Host::kBracketed;
}

// Every sip:/sips: URI of a header value (outside quoted strings) with its host fixed. A URI
// starts after '<', at the start of the value, or after SP/HT or ','. false: a host could not
// be read (everything is still copied).
bool fixUris(std::string_view v, std::string& out) {
  bool ok = true;
  bool in_quote = false;
  size_t i = 0;
  while (i < v.size()) {
    const char c = v[i];
    if (in_quote) {
      out.push_back(c);
      if (c == '\\' && i + 1 < v.size()) {
        out.push_back(v[++i]);
      } else if (c == '"') {
        in_quote = false;
      }
      ++i;
      continue;
    }
    if (c == '"') in_quote = true;
    const bool uri_start =
        (i == 0 || v[i - 1] == '<' || isSpace(v[i - 1]) || v[i - 1] == ',') &&
        (startsWithNoCase(v.substr(i), "sip:") || startsWithNoCase(v.substr(i), "sips:"));
    if (!uri_start) {
      out.push_back(c);
      ++i;
      continue;
    }
    const size_t scheme_end = v.find(':', i) + 1;
    // the URI runs to '>' (name-addr) or to what ends an addr-spec in a list
    size_t end = scheme_end;
    while (end < v.size() && v[end] != '>' && !isSpace(v[end]) && v[end] != ',' && v[end] != '"')
      ++end;
    const size_t at = v.substr(scheme_end, end - scheme_end).rfind('@');
    size_t host = at == std::string_view::npos ? scheme_end : scheme_end + at + 1;
    out.append(v.substr(i, host - i));
    if (fixHost(v, host, out) == Host::kUnreadable) ok = false;
    i = host;
  }
  return ok;
}

// Via (RFC 3261 §20.42): "SIP/2.0/" transport LWS sent-by *(";" via-params), comma separated.
// Sent-by hosts get fixHost; a missing space after a known transport is put back.
bool fixVia(std::string_view v, std::string& out) {
  static constexpr std::array<std::string_view, 7> kTransports{"TLS-SCTP", "SCTP", "TLS", "TCP",
                                                               "UDP",      "WSS",  "WS"};
  bool ok = true;
  size_t i = 0;
  while (i < v.size()) {
    // one via-parm
    size_t p = i;
    while (p < v.size() && isSpace(v[p])) ++p;
    if (!startsWithNoCase(v.substr(p), "SIP/2.0/")) {
      out.append(v.substr(i));  // another form: as written
      return ok;
    }
    p += 8;
    size_t t = p;
    for (const std::string_view name : kTransports) {
      if (startsWithNoCase(v.substr(p), name)) {
        t = p + name.size();
        break;
      }
    }
    if (t == p) {
      out.append(v.substr(i));
      return ok;
    }
    out.append(v.substr(i, t - i));
    size_t h = t;
    if (h < v.size() && isSpace(v[h])) {
      while (h < v.size() && isSpace(v[h])) ++h;
      out.append(v.substr(t, h - t));
    } else if (h < v.size() && isHex(v[h])) {
      // "UDP198.51.100.20" or "UDPfe80:..." (a hostname would be ambiguous: "UDPhost")
      size_t k = h;
      size_t colons = 0;
      while (k < v.size() && (isHex(v[k]) || v[k] == ':' || v[k] == '.')) colons += v[k++] == ':';
      if (!isDigit(v[h]) && colons < 2) {
        out.append(v.substr(h));
        return ok;
      }
      out.push_back(' ');
    }
    if (fixHost(v, h, out) == Host::kUnreadable) ok = false;
    // the rest of this via-parm, to the next comma outside quotes
    bool in_quote = false;
    size_t e = h;
    for (; e < v.size(); ++e) {
      if (in_quote) {
        if (v[e] == '\\') {
          ++e;
        } else if (v[e] == '"') {
          in_quote = false;
        }
      } else if (v[e] == '"') {
        in_quote = true;
      } else if (v[e] == ',') {
        break;
      }
    }
    e = std::min(e + 1, v.size());
    out.append(v.substr(h, e - h));
    i = e;
  }
  return ok;
}

// CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16). `request_method`: the Request-Line's method, empty
// for a response.
void fixCseq(std::string_view v, std::string_view request_method, std::string& out) {
  size_t i = 0;
  while (i < v.size() && isSpace(v[i])) ++i;
  size_t d = i;
  while (d < v.size() && isDigit(v[d])) ++d;
  size_t m = d;
  while (m < v.size() && isSpace(v[m])) ++m;
  size_t me = m;
  while (me < v.size() && isToken(v[me])) ++me;
  if (d == i || me == m) {
    out.append(v);
    return;
  }
  out.append(v.substr(0, d));
  out.push_back(' ');
  const std::string_view method = v.substr(m, me - m);
  bool to_upper = isKnownMethodInOtherCase(method);
  if (to_upper && !request_method.empty()) {
    // a request's CSeq names its own method (§8.1.1.5): upper case only if that is upper case
    to_upper = request_method.size() == method.size() && text::iequals(request_method, method) &&
               methodFromName(request_method) != Method::kOther;
  }
  for (const char c : method) out.push_back(to_upper ? upper(c) : c);
  out.append(v.substr(me));
}

enum class Kind { kOther, kVia, kMandatoryUri, kUri, kCseq };

Kind kindOf(std::string_view name) {
  if (text::iequals(name, "Via") || text::iequals(name, "v")) return Kind::kVia;
  if (text::iequals(name, "From") || text::iequals(name, "f") || text::iequals(name, "To") ||
      text::iequals(name, "t")) {
    return Kind::kMandatoryUri;
  }
  if (text::iequals(name, "CSeq")) return Kind::kCseq;
  for (const char* n :
       {"Contact", "m", "P-Asserted-Identity", "P-Called-Party-ID", "Diversion", "History-Info"}) {
    if (text::iequals(name, n)) return Kind::kUri;
  }
  return Kind::kOther;
}

// The start line (without its line end). Sets request_method for a request.
bool fixStartLine(std::string_view line, std::string& out, std::string_view& request_method) {
  if (startsWithNoCase(line, kVersion)) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2)
    size_t p = kVersion.size();
    while (p < line.size() && isSpace(line[p])) ++p;
    size_t d = p;
    while (d < line.size() && isDigit(line[d])) ++d;
    if (d - p != 3) {
      out.append(line);
      return true;
    }
    size_t r = d;
    while (r < line.size() && isSpace(line[r])) ++r;
    out.append(line.substr(0, kVersion.size()));
    out.push_back(' ');
    out.append(line.substr(p, 3));
    out.push_back(' ');
    out.append(line.substr(r));
    return true;
  }
  // Request-Line = Method SP Request-URI SP SIP-Version (§7.1)
  size_t m = 0;
  while (m < line.size() && isToken(line[m])) ++m;
  size_t u = m;
  while (u < line.size() && isSpace(line[u])) ++u;
  size_t ue = u;
  while (ue < line.size() && !isSpace(line[ue])) ++ue;
  size_t ve = line.size();
  while (ve > ue && isSpace(line[ve - 1])) --ve;
  size_t vb = ue;
  while (vb < ve && isSpace(line[vb])) ++vb;
  std::string_view uri = line.substr(u, ue - u);
  std::string_view version = line.substr(vb, ve - vb);
  if (version.empty() && uri.size() > kVersion.size() &&
      text::iequals(uri.substr(uri.size() - kVersion.size()), kVersion)) {
    // the URI runs into the version
    version = uri.substr(uri.size() - kVersion.size());
    uri.remove_suffix(kVersion.size());
  }
  if (m == 0 || u == m || uri.empty() || !text::iequals(version, kVersion)) {
    out.append(line);
    return true;
  }
  request_method = line.substr(0, m);
  out.append(request_method);
  out.push_back(' ');
  bool ok = true;
  if (startsWithNoCase(uri, "sip:") || startsWithNoCase(uri, "sips:")) {
    ok = fixUris(uri, out);
  } else {
    out.append(uri);
  }
  out.push_back(' ');
  out.append(version);
  return ok;
}

}  // namespace

bool isKnownMethodInOtherCase(std::string_view m) {
  if (m.empty() || m.size() > 16 || methodFromName(m) != Method::kOther) return false;
  char buf[16];
  for (size_t i = 0; i < m.size(); ++i) buf[i] = upper(m[i]);
  return methodFromName({buf, m.size()}) != Method::kOther;
}

Rewrite rewrite(std::string_view msg, std::string& out) {
  out.clear();
  out.reserve(msg.size() + 64);
  bool ok = true;
  std::string_view request_method;
  size_t pos = 0;
  bool first = true;
  while (pos < msg.size()) {
    const size_t nl = msg.find('\n', pos);
    if (nl == std::string_view::npos) break;  // no empty line: sofia counts it truncated
    size_t le = nl;
    if (le > pos && msg[le - 1] == '\r') --le;
    const std::string_view line = msg.substr(pos, le - pos);
    const std::string_view ending = msg.substr(le, nl + 1 - le);
    pos = nl + 1;
    if (first) {
      first = false;
      ok = fixStartLine(line, out, request_method) && ok;
      out.append(ending);
      continue;
    }
    if (line.empty()) {
      out.append(ending);
      break;  // the head ends here (RFC 3261 §7.5); the body follows as it is
    }
    size_t n = 0;
    while (n < line.size() && isToken(line[n])) ++n;
    size_t colon = n;
    while (colon < line.size() && isSpace(line[colon])) ++colon;
    // a folded continuation (§7.3.1) or not a header field: as written
    if (n == 0 || colon >= line.size() || line[colon] != ':') {
      out.append(line);
      out.append(ending);
      continue;
    }
    out.append(line.substr(0, colon + 1));
    const std::string_view value = line.substr(colon + 1);
    switch (kindOf(line.substr(0, n))) {
      case Kind::kVia:
        ok = fixVia(value, out) && ok;
        break;
      case Kind::kMandatoryUri:
        ok = fixUris(value, out) && ok;
        break;
      case Kind::kUri:
        fixUris(value, out);  // an unreadable one is kept as written (not a mandatory field)
        break;
      case Kind::kCseq:
        fixCseq(value, request_method, out);
        break;
      case Kind::kOther:
        out.append(value);
        break;
    }
    out.append(ending);
  }
  out.append(msg.substr(std::min(pos, msg.size())));
  if (!ok) return Rewrite::kAmbiguous;
  return out == msg ? Rewrite::kNone : Rewrite::kRewritten;
}

}  // namespace mcn::sipparse::lenient
