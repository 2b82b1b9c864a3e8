#include "sip_framer.h"

#include <cstring>

#include "mcn/capture/decoder.h"

namespace mcn::capture::detail {
namespace {

constexpr bool isWs(char c) { return c == ' ' || c == '\t'; }

constexpr bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool isDigit(char c) { return c >= '0' && c <= '9'; }

// RFC 3261 §25.1 token characters (as looksLikeSip).
constexpr bool isTokenChar(char c) {
  return isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '!' || c == '%' || c == '*' ||
         c == '_' || c == '+' || c == '`' || c == '\'' || c == '~';
}

// Does d[i..] match a prefix of "SIP/2.0" (letters case-insensitive, RFC 3261 §7.1)? Advances i
// past what matched; returns false on a mismatch.
bool versionPrefix(std::string_view d, size_t& i) {
  constexpr std::string_view kVersion = "sip/2.0";
  for (char want : kVersion) {
    if (i == d.size()) return true;
    char c = d[i];
    if (isAlpha(want) ? (c | 0x20) != want : c != want) return false;
    ++i;
  }
  return true;
}

// Status-Line prefix: "SIP/2.0" *WS 3DIGIT (WS / ALPHA / CR), the lenient form looksLikeSip
// accepts (RFC 3261 §7.2; issue 14 item 4). Every prefix of a line looksLikeSip accepts must pass,
// or a stream hunting for a start line stalls on it (capture/README.md, TCP).
bool couldBeStatusLine(std::string_view d) {
  size_t i = 0;
  if (!versionPrefix(d, i)) return false;
  while (i < d.size() && isWs(d[i])) ++i;
  for (int k = 0; k < 3; ++k) {
    if (i == d.size()) return true;
    char c = d[i++];
    if (k == 0 ? (c < '1' || c > '6') : !isDigit(c)) return false;
  }
  return i == d.size() || isWs(d[i]) || isAlpha(d[i]) || d[i] == '\r';
}

// Does the URI end in the version ("sip:1013@hostSIP/2.0", the lenient form)? `rest` is the URI
// after its scheme's colon.
bool endsInVersion(std::string_view rest) {
  constexpr std::string_view kVersion = "sip/2.0";
  if (rest.size() <= kVersion.size()) return false;
  size_t i = rest.size() - kVersion.size();
  return versionPrefix(rest, i) && i == rest.size();
}

// Request-Line prefix: Method 1*WS scheme ":" URI-rest 1*WS SIP-Version *WS CR, or the URI
// running into the version (RFC 3261 §7.1, lenient as looksLikeSip; issue 14 item 4).
bool couldBeRequestLine(std::string_view d) {
  size_t i = 0;
  while (i < d.size() && isTokenChar(d[i])) ++i;
  if (i == d.size()) return true;
  if (i == 0 || !isWs(d[i])) return false;
  while (i < d.size() && isWs(d[i])) ++i;
  if (i == d.size()) return true;
  if (!isAlpha(d[i++])) return false;
  while (i < d.size() &&
         (isAlpha(d[i]) || isDigit(d[i]) || d[i] == '+' || d[i] == '-' || d[i] == '.')) {
    ++i;
  }
  if (i == d.size()) return true;
  if (d[i++] != ':') return false;
  size_t uri_rest = i;
  while (i < d.size() && static_cast<unsigned char>(d[i]) > 0x20 && d[i] != 0x7f) ++i;
  if (i == d.size()) return true;
  if (i == uri_rest) return false;
  const bool ran_into = endsInVersion(d.substr(uri_rest, i - uri_rest));
  while (i < d.size() && isWs(d[i])) ++i;
  if (i == d.size()) return true;
  if (d[i] == '\r') return ran_into && i + 1 == d.size();
  if (!versionPrefix(d, i)) return false;
  if (i == d.size()) return true;
  while (i < d.size() && isWs(d[i])) ++i;
  return i == d.size() || (d[i] == '\r' && i + 1 == d.size());
}

constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// If `line` is a Content-Length header (long form or the compact "l", RFC 3261 §7.3.3; names are
// case-insensitive, §7.3.1), returns true and sets `value` to what follows the colon.
bool contentLengthHeader(std::string_view line, std::string_view& value) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && isWs(name.back())) name.remove_suffix(1);  // "Content-Length : 5"
  if (!equalsNoCase(name, "content-length") && !equalsNoCase(name, "l")) return false;
  value = line.substr(colon + 1);
  return true;
}

}  // namespace

bool couldBecomeSipStartLine(std::string_view line) {
  if (line.empty()) return true;
  if ((line[0] | 0x20) == 's' && couldBeStatusLine(line)) return true;
  return couldBeRequestLine(line);
}

bool parseContentLength(std::string_view value, uint64_t& out) {
  size_t i = 0;
  while (i < value.size() && isWs(value[i])) ++i;
  size_t digits = 0;
  uint64_t v = 0;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9') {
    // 10 digits are far more than any real body; more would risk overflow.
    if (++digits > 10) return false;
    v = v * 10 + static_cast<uint64_t>(value[i] - '0');
    ++i;
  }
  while (i < value.size() && isWs(value[i])) ++i;
  if (digits == 0 || i != value.size()) return false;
  out = v;
  return true;
}

Framed frameSipMessage(std::string_view& rest) {
  size_t start = 0;
  while (start < rest.size() && (rest[start] == '\r' || rest[start] == '\n')) ++start;
  rest.remove_prefix(start);
  if (rest.empty()) return {FrameStatus::kEnd, {}};
  if (std::memchr(rest.data(), '\n', rest.size()) == nullptr) {
    // The start line itself is not complete: on a stream the rest may be in the next segment.
    // looksLikeSip() accepts a request line whose CR is followed by anything; a stream hunting
    // for a start line stops there, so framing must agree and wait rather than call it not SIP
    // (the two disagreeing made the stream loop forever; found by fuzzing).
    return {couldBecomeSipStartLine(rest) || looksLikeSip(rest) ? FrameStatus::kIncomplete
                                                                : FrameStatus::kNotSip,
            {}};
  }
  if (!looksLikeSip(rest)) return {FrameStatus::kNotSip, {}};

  // Walk the header lines. A line ends in LF (CRLF on the wire; a bare LF is tolerated as
  // sofia-sip does). The empty line ends the headers.
  const char* base = rest.data();
  size_t pos = 0;
  bool first = true;
  bool have_cl = false;
  uint64_t content_length = 0;
  for (;;) {
    const void* nl = std::memchr(base + pos, '\n', rest.size() - pos);
    if (nl == nullptr) return {FrameStatus::kIncomplete, {}};
    size_t eol = static_cast<size_t>(static_cast<const char*>(nl) - base);
    std::string_view line = rest.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = eol + 1;
    if (first) {
      first = false;  // the start line, already checked by looksLikeSip
      continue;
    }
    if (line.empty()) break;
    if (isWs(line.front())) continue;  // folded continuation of the previous header
    std::string_view value;
    if (!have_cl && contentLengthHeader(line, value)) {
      if (!parseContentLength(value, content_length)) return {FrameStatus::kBadContentLength, {}};
      have_cl = true;
    }
  }

  if (!have_cl) {
    Framed out{FrameStatus::kNoContentLength, rest.substr(0, pos)};
    rest.remove_prefix(pos);
    return out;
  }
  if (content_length > rest.size() - pos) {
    return {FrameStatus::kIncomplete, {}, pos + content_length};
  }
  size_t end = pos + static_cast<size_t>(content_length);
  Framed out{FrameStatus::kMessage, rest.substr(0, end)};
  rest.remove_prefix(end);
  return out;
}

}  // namespace mcn::capture::detail
