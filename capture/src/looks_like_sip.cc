// The cheap SIP recogniser used on every UDP datagram and TCP segment. No allocation, one pass
// over the start line at most.

#include <array>
#include <cstdint>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "mcn/capture/decoder.h"

namespace mcn::capture {
namespace {

// RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
constexpr bool isTokenCharSlow(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '!' || c == '%' || c == '*' || c == '_' || c == '+' || c == '`' ||
         c == '\'' || c == '~';
}
// One table lookup per byte: this runs on every UDP datagram.
constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = isTokenCharSlow(static_cast<unsigned char>(c));
  return t;
}();
constexpr bool isTokenChar(unsigned char c) { return kTokenChar[c]; }

constexpr bool isAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }

constexpr bool isWs(unsigned char c) { return c == ' ' || c == '\t'; }

// RFC 3261 §7.1: the SIP-Version string is case-insensitive (implementations send upper case).
bool isSipVersionAt(std::string_view d, size_t i) {
  if (d.size() < i + 7) return false;
  return (d[i] | 0x20) == 's' && (d[i + 1] | 0x20) == 'i' && (d[i + 2] | 0x20) == 'p' &&
         d[i + 3] == '/' && d[i + 4] == '2' && d[i + 5] == '.' && d[i + 6] == '0';
}

// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF (RFC 3261 §7.2). Leniently (issue
// 14 item 4, what sipparse's lenient path rewrites): any run of SP/HTAB, or none, between the
// version and the code ("SIP/2.0180 Ringing", "SIP/2.0  180 Ringing"), and a reason phrase that
// starts right after the code ("180Ringing"). The code stays exactly three digits, 100..699: a
// fourth digit is not a code.
bool isStatusLine(std::string_view d) {
  if (!isSipVersionAt(d, 0)) return false;
  size_t i = 7;
  while (i < d.size() && isWs(static_cast<unsigned char>(d[i]))) ++i;
  if (d.size() < i + 4) return false;
  auto c0 = static_cast<unsigned char>(d[i]);
  if (c0 < '1' || c0 > '6' || !isDigit(static_cast<unsigned char>(d[i + 1])) ||
      !isDigit(static_cast<unsigned char>(d[i + 2]))) {
    return false;
  }
  auto after = static_cast<unsigned char>(d[i + 3]);
  return isWs(after) || isAlpha(after) || after == '\r' || after == '\n';
}

// Request-Line = Method SP Request-URI SP SIP-Version CRLF (RFC 3261 §7.1). The Request-URI is a
// SIP/SIPS URI or an absoluteURI, so it starts with a scheme and a colon (RFC 3986 §3.1).
// Leniently (issue 14 item 4): a run of SP/HTAB where a SP belongs, SP/HTAB before the line end,
// and a URI running into the version ("sip:1013@hostSIP/2.0"). The anchors stay: a scheme, a
// non-empty URI and the line ending in SIP/2.0, which HTTP, RTSP and MSRP lines never do.
bool isRequestLine(std::string_view d) {
  size_t i = 0;
  while (i < d.size() && isTokenChar(static_cast<unsigned char>(d[i]))) ++i;
  if (i == 0 || i >= d.size() || !isWs(static_cast<unsigned char>(d[i]))) return false;
  while (i < d.size() && isWs(static_cast<unsigned char>(d[i]))) ++i;
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
  // The rest of the URI: visible characters up to the next SP (16 bytes a step while the
  // datagram has them; bytes from 0x80 are negative as signed and count as visible, as below).
#if defined(__SSE2__)
  while (d.size() - i >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d.data() + i));
    const __m128i stop = _mm_or_si128(
        _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(-1)), _mm_cmplt_epi8(v, _mm_set1_epi8(0x21))),
        _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (mask != 0) {
      i += static_cast<size_t>(__builtin_ctz(mask));
      break;
    }
    i += 16;
  }
#endif
  while (i < d.size()) {
    auto c = static_cast<unsigned char>(d[i]);
    if (c <= 0x20 || c == 0x7f) break;
    ++i;
  }
  if (i == uri_rest) return false;
  const size_t uri_end = i;
  while (i < d.size() && isWs(static_cast<unsigned char>(d[i]))) ++i;
  if (i >= d.size()) return false;
  if (d[i] == '\r' || d[i] == '\n') {
    // The URI ran into the version: something, then SIP/2.0, then the line end (maybe after SP).
    return uri_end - uri_rest > 7 && isSipVersionAt(d, uri_end - 7);
  }
  if (!isSipVersionAt(d, i)) return false;
  i += 7;
  while (i < d.size() && isWs(static_cast<unsigned char>(d[i]))) ++i;
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
