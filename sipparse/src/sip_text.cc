#include "sip_text.h"

#include <array>
#include <cstdint>

namespace mcn::sipparse::text {

ParamValue findParam(std::string_view params, std::string_view name) {
  ParamValue out;
  if (params.find('"') == std::string_view::npos) {
    // Without a quoted-string every ';' splits (a backslash escapes only inside quotes): the
    // same parameters as forEachParam, found with memchr rather than a byte-by-byte loop.
    for (;;) {
      const size_t semi = params.find(';');
      const std::string_view p = trim(params.substr(0, semi));
      const size_t eq = p.find('=');
      const std::string_view n = trim(p.substr(0, eq));
      if (!n.empty() && iequals(n, name)) {
        out.found = true;
        out.value = eq == std::string_view::npos ? std::string_view{} : trim(p.substr(eq + 1));
        return out;
      }
      if (semi == std::string_view::npos) return out;
      params.remove_prefix(semi + 1);
    }
  }
  forEachParam(params, [&](std::string_view n, std::string_view v) {
    if (!iequals(n, name)) return true;
    out.found = true;
    out.value = v;
    return false;
  });
  return out;
}

namespace {

// Appends s to out with every run of LWS containing a line break collapsed into one SP.
void appendUnfolded(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\r' || c == '\n') {
      while (i + 1 < s.size() && isLws(s[i + 1])) ++i;
      out.push_back(' ');
      continue;
    }
    out.push_back(c);
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string unquote(std::string_view s) {
  std::string out;
  unquoteInto(s, out);
  return out;
}

void unquoteInto(std::string_view s, std::string& out) {
  s = trim(s);
  // Most values hold neither a quoted-pair nor a folded line: they come out as one copy.
  const bool quoted = s.size() >= 2 && s.front() == '"';
  size_t plain = quoted ? 1 : 0;  // end of the run that needs no rewriting
  // One table lookup per byte: bit 1 ends the run of an unquoted value, bit 2 a quoted one's.
  static constexpr std::array<uint8_t, 256> kEnds = [] {
    std::array<uint8_t, 256> t{};
    t['\\'] = t['\r'] = t['\n'] = 3;
    t['"'] = 2;
    return t;
  }();
  const uint8_t stop = quoted ? 2 : 1;
  while (plain < s.size() && (kEnds[static_cast<unsigned char>(s[plain])] & stop) == 0) ++plain;
  if (!quoted && plain == s.size()) {
    out.assign(s);
    return;
  }
  if (quoted && (plain == s.size() || s[plain] == '"')) {
    out.assign(s.substr(1, plain - 1));
    return;
  }
  out.clear();
  if (quoted) {
    out.reserve(s.size());
    // quoted-string = DQUOTE *(qdtext / quoted-pair) DQUOTE (RFC 3261 §25.1); a missing closing
    // quote keeps everything after the opening one.
    for (size_t i = 1; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '\\' && i + 1 < s.size()) {
        out.push_back(s[++i]);
      } else if (c == '"') {
        break;
      } else if (c == '\r' || c == '\n') {
        while (i + 1 < s.size() && isLws(s[i + 1])) ++i;
        out.push_back(' ');
      } else {
        out.push_back(c);
      }
    }
    return;
  }
  out.reserve(s.size());
  appendUnfolded(out, s);
}

std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hexValue(s[i + 1]);
      const int lo = hexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool splitNameAddr(std::string_view element, NameAddrView& out) {
  out = NameAddrView{};
  std::string_view s = trim(element);
  if (s.empty()) return false;
  size_t pos = 0;
  if (s.front() == '"') {
    // quoted display name: find the closing quote, honouring quoted-pairs
    size_t i = 1;
    for (; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        break;
      }
    }
    if (i >= s.size()) return false;
    out.display = s.substr(0, i + 1);
    pos = i + 1;
    while (pos < s.size() && isLws(s[pos])) ++pos;
    if (pos >= s.size() || s[pos] != '<') return false;
  } else {
    const size_t lt = s.find('<');
    if (lt == std::string_view::npos) {
      // addr-spec without angle brackets: parameters after ';' are header parameters
      const size_t semi = s.find(';');
      out.uri = trim(s.substr(0, semi));
      if (semi != std::string_view::npos) out.params = s.substr(semi);
      return !out.uri.empty();
    }
    out.display = trim(s.substr(0, lt));
    pos = lt;
  }
  const size_t gt = s.find('>', pos + 1);
  if (gt == std::string_view::npos) return false;
  out.uri = trim(s.substr(pos + 1, gt - pos - 1));
  out.params = s.substr(gt + 1);
  return !out.uri.empty();
}

bool splitUri(std::string_view uri, UriView& out) {
  out = UriView{};
  uri = trim(uri);
  const size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i) {
    const char c = uri[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) return false;
  }
  out.scheme = uri.substr(0, colon);
  std::string_view rest = uri.substr(colon + 1);
  const size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    out.headers = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (iequals(out.scheme, "tel")) {
    const size_t semi = rest.find(';');
    out.user = rest.substr(0, semi);
    if (semi != std::string_view::npos) out.params = rest.substr(semi + 1);
    return !out.user.empty();
  }
  // sip/sips and anything else with a userinfo@host authority
  std::string_view hostpart = rest;
  const size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    hostpart = rest.substr(at + 1);
    const size_t semi = userinfo.find(';');
    if (semi != std::string_view::npos) {
      out.user_params = userinfo.substr(semi + 1);
      userinfo = userinfo.substr(0, semi);
    }
    out.user = userinfo.substr(0, userinfo.find(':'));  // drop a password
  }
  const size_t semi = hostpart.find(';');
  out.host = hostpart.substr(0, semi);
  if (semi != std::string_view::npos) out.params = hostpart.substr(semi + 1);
  return true;
}

std::string_view stripAngles(std::string_view s) {
  const size_t lt = s.find('<');
  if (lt == std::string_view::npos) return trim(s);
  const size_t gt = s.find('>', lt + 1);
  return trim(s.substr(lt + 1, (gt == std::string_view::npos ? s.size() : gt) - lt - 1));
}

long parseUnsigned(std::string_view s, long max) {
  s = trim(s);
  if (s.empty()) return -1;
  long v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
    if (v > max) return -1;
  }
  return v;
}

}  // namespace mcn::sipparse::text
