// The cheap SIP recogniser used on every UDP datagram and TCP segment. No allocation, one pass
// over the start line at most.

#include <cstdint>
#include <string_view>

#include "mcn/capture/decoder.h"

namespace mcn::capture {
namespace {

// RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
constexpr bool isTokenChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '!' || c == '%' || c == '*' || c == '_' || c == '+' || c == '`' ||
         c == '\'' || c == '~';
}

constexpr bool isAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }

// RFC 3261 §7.1: the SIP-Version string is case-insensitive (implementations send upper case).
bool isSipVersionAt(std::string_view d, size_t i) {
  if (d.size() < i + 7) return false;
  return (d[i] | 0x20) == 's' && (d[i + 1] | 0x20) == 'i' && (d[i + 2] | 0x20) == 'p' &&
         d[i + 3] == '/' && d[i + 4] == '2' && d[i + 5] == '.' && d[i + 6] == '0';
}

// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF (RFC 3261 §7.2)
bool isStatusLine(std::string_view d) {
  if (d.size() < 12 || !isSipVersionAt(d, 0) || d[7] != ' ') return false;
  auto c0 = static_cast<unsigned char>(d[8]);
  return c0 >= '1' && c0 <= '6' && isDigit(static_cast<unsigned char>(d[9])) &&
         isDigit(static_cast<unsigned char>(d[10])) && d[11] == ' ';
}

// Request-Line = Method SP Request-URI SP SIP-Version CRLF (RFC 3261 §7.1). The Request-URI is a
// SIP/SIPS URI or an absoluteURI, so it starts with a scheme and a colon (RFC 3986 §3.1).
bool isRequestLine(std::string_view d) {
  size_t i = 0;
  while (i < d.size() && isTokenChar(static_cast<unsigned char>(d[i]))) ++i;
  if (i == 0 || i >= d.size() || d[i] != ' ') return false;
  ++i;
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
  if (i >= d.size() || !isAlpha(static_cast<unsigned char>(d[i]))) return false;
  ++i;
  while (i < d.size()) {
    auto c = static_cast<unsigned char>(d[i]);
    if (!(isAlpha(c) || isDigit(c) || c == '+' || c == '-' || c == '.')) break;
    ++i;
  }
  if (i >= d.size() || d[i] != ':') return false;
  ++i;
  size_t uri_rest = i;
  // The rest of the URI: visible characters up to the next SP.
  while (i < d.size()) {
    auto c = static_cast<unsigned char>(d[i]);
    if (c <= 0x20 || c == 0x7f) break;
    ++i;
  }
  if (i == uri_rest || i >= d.size() || d[i] != ' ') return false;
  ++i;
  if (!isSipVersionAt(d, i)) return false;
  i += 7;
  return i < d.size() && (d[i] == '\r' || d[i] == '\n');
}

}  // namespace

bool looksLikeSip(std::string_view data) {
  if (data.empty()) return false;
  // The first byte decides which form to try; RTP (0x80..), STUN (0x00/0x01), TLS (0x16) and other
  // binary payloads fail here.
  if ((data[0] | 0x20) == 's' && isStatusLine(data)) return true;
  return isRequestLine(data);
}

}  // namespace mcn::capture
