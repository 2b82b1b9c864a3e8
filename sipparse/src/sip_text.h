#pragma once
// Small, allocation-free scanners for SIP header text that sofia-sip has no class for
// (Diversion, History-Info, P-Called-Party-ID, P-Charging-Vector, Privacy) and for URIs the dial
// plan reads. Everything works on string_views into the caller's buffer; only the functions that
// return std::string allocate. Internal to sipparse/.

#include <algorithm>
#include <string>
#include <string_view>

namespace mcn::sipparse::text {

inline bool isLws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
inline char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Inline: called for every name and parameter the generic scanners below look at.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}
// Strips SP, HTAB, CR and LF (a folded value keeps its CRLF inside; RFC 3261 §7.3.1).
inline std::string_view trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && isLws(s[b])) ++b;
  while (e > b && isLws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Calls fn(element) for every element of a comma-separated header value (RFC 3261 §7.3.1).
// Commas inside a quoted-string (with \-escapes) or inside <...> do not split. Empty elements are
// skipped. fn returns false to stop early.
template <class Fn>
void forEachListElement(std::string_view v, Fn&& fn) {
  size_t start = 0;
  bool in_quote = false;
  int angle = 0;
  for (size_t i = 0; i <= v.size(); ++i) {
    if (i < v.size()) {
      const char c = v[i];
      if (in_quote) {
        if (c == '\\') {
          ++i;  // quoted-pair: skip the escaped octet
        } else if (c == '"') {
          in_quote = false;
        }
        continue;
      }
      if (c == '"') {
        in_quote = true;
        continue;
      }
      if (c == '<') {
        ++angle;
        continue;
      }
      if (c == '>') {
        if (angle > 0) --angle;
        continue;
      }
      if (c != ',' || angle > 0) continue;
    }
    const std::string_view element = trim(v.substr(start, std::min(i, v.size()) - start));
    start = i + 1;
    if (!element.empty() && !fn(element)) return;
  }
}

// Calls fn(name, value) for every ";name[=value]" parameter in `params` (leading ';' optional).
// Semicolons inside quoted strings do not split. name and value are trimmed; value keeps its
// quotes (see unquote()). fn returns false to stop early.
template <class Fn>
void forEachParam(std::string_view params, Fn&& fn) {
  size_t start = 0;
  bool in_quote = false;
  for (size_t i = 0; i <= params.size(); ++i) {
    if (i < params.size()) {
      const char c = params[i];
      if (in_quote) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_quote = false;
        }
        continue;
      }
      if (c == '"') {
        in_quote = true;
        continue;
      }
      if (c != ';') continue;
    }
    const std::string_view p = trim(params.substr(start, std::min(i, params.size()) - start));
    start = i + 1;
    if (p.empty()) continue;
    const size_t eq = p.find('=');
    const std::string_view name = trim(p.substr(0, eq));
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : trim(p.substr(eq + 1));
    if (!name.empty() && !fn(name, value)) return;
  }
}

// Value of parameter `name` (case-insensitive); found=false if absent. A parameter without '='
// is found with an empty value.
struct ParamValue {
  bool found = false;
  std::string_view value;
};
ParamValue findParam(std::string_view params, std::string_view name);

// A quoted-string loses its quotes and \-escapes; a token sequence is trimmed. Folded whitespace
// (CRLF followed by SP/HTAB) becomes one SP in both cases (RFC 3261 §7.3.1).
std::string unquote(std::string_view s);
// The same into `out` (its capacity is reused: no allocation once it is large enough).
void unquoteInto(std::string_view s, std::string& out);

// %XX decoding (RFC 3986 §2.1). Invalid escapes are kept literally.
std::string percentDecode(std::string_view s);

// One element of a name-addr list: `"display" <uri>;params`, `display <uri>;params` or a bare
// addr-spec `uri;params` (whose parameters then belong to the header, RFC 3261 §20.10).
struct NameAddrView {
  std::string_view display;  // raw (maybe quoted); see unquote()
  std::string_view uri;      // between < and >, or the bare addr-spec
  std::string_view params;   // header parameters after the URI, starting at ';' (or empty)
};
bool splitNameAddr(std::string_view element, NameAddrView& out);

// The parts of a sip:, sips: or tel: URI as written (RFC 3261 §19.1.1, RFC 3966 §3).
struct UriView {
  std::string_view scheme;       // "sip", "sips", "tel", ...
  std::string_view user;         // sip: user part before any ';'; tel: the number
  std::string_view user_params;  // sip: ";..." inside the user part (telephone-subscriber params)
  std::string_view host;         // sip: hostport; tel: empty
  std::string_view params;       // URI parameters after the host (sip) or number (tel)
  std::string_view headers;      // after '?', unparsed
};
bool splitUri(std::string_view uri, UriView& out);

// The URI inside <...> if the text has angle brackets, else the trimmed text.
std::string_view stripAngles(std::string_view s);

// Parses a non-negative decimal integer; returns -1 when the text is not one or exceeds max.
long parseUnsigned(std::string_view s, long max);

}  // namespace mcn::sipparse::text
