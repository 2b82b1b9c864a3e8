#include "mcn/capture/prefilter.h"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace mcn::capture {
namespace {

struct Name {
  std::string_view text;
  IgnoredMethod method;
};

// RFC 3261 §7.1: method names are case-sensitive, so an exact match is right.
constexpr std::array<Name, 6> kIgnored{{
    {"REGISTER", IgnoredMethod::kRegister},
    {"OPTIONS", IgnoredMethod::kOptions},
    {"SUBSCRIBE", IgnoredMethod::kSubscribe},
    {"NOTIFY", IgnoredMethod::kNotify},
    {"PUBLISH", IgnoredMethod::kPublish},
    {"MESSAGE", IgnoredMethod::kMessage},
}};

// A whole-token match at the start of `s`: the name followed by SP, tab, CR, LF or the end. The
// first byte picks the one candidate (the six names start with six different letters).
IgnoredMethod lookup(std::string_view s) {
  if (s.empty()) return IgnoredMethod::kNone;
  size_t i = 0;
  switch (s[0]) {
    case 'R':
      i = 0;
      break;
    case 'O':
      i = 1;
      break;
    case 'S':
      i = 2;
      break;
    case 'N':
      i = 3;
      break;
    case 'P':
      i = 4;
      break;
    case 'M':
      i = 5;
      break;
    default:
      return IgnoredMethod::kNone;
  }
  const Name& n = kIgnored[i];
  if (s.size() >= n.text.size() && s.compare(0, n.text.size(), n.text) == 0) {
    if (s.size() == n.text.size()) return n.method;
    char d = s[n.text.size()];
    if (d == ' ' || d == '\t' || d == '\r' || d == '\n') return n.method;
  }
  return IgnoredMethod::kNone;
}

// The 4 bytes at p are "cseq" in any case: OR-ing 0x20 into each byte folds A-Z onto a-z (and
// maps no other byte onto a lower-case letter), one 4-byte compare.
bool isCseqName(const char* p) {
  uint32_t v;
  uint32_t want;
  std::memcpy(&v, p, 4);
  std::memcpy(&want, "cseq", 4);
  return (v | 0x20202020U) == want;
}

// What the header line starting at `line` says about the search for CSeq (RFC 3261 §20.16; it
// has no compact form): kEnd at the blank line that ends the header section, kFound with the
// method after the sequence number, kNext for any other line.
enum class LineVerdict : uint8_t { kNext, kEnd, kFound };

LineVerdict checkLine(std::string_view sip, size_t line, IgnoredMethod& method) {
  if (sip[line] == '\r' || sip[line] == '\n') return LineVerdict::kEnd;
  if (sip.size() - line > 5 && isCseqName(sip.data() + line)) {
    size_t i = line + 4;
    while (i < sip.size() && (sip[i] == ' ' || sip[i] == '\t')) ++i;
    if (i < sip.size() && sip[i] == ':') {
      ++i;
      while (i < sip.size() && (sip[i] == ' ' || sip[i] == '\t')) ++i;
      while (i < sip.size() && sip[i] >= '0' && sip[i] <= '9') ++i;
      while (i < sip.size() && (sip[i] == ' ' || sip[i] == '\t')) ++i;
      method = lookup(sip.substr(i));
      return LineVerdict::kFound;
    }
  }
  return LineVerdict::kNext;
}

// Finds the CSeq header in the header section and returns the method after the sequence number.
// Most responses on an IMS core answer REGISTER, OPTIONS or NOTIFY and stop here, so the line
// starts are found 16 bytes at a time (one compare and a bit mask) rather than with one memchr
// call per header line, which cost as much as the rest of the pre-filter.
IgnoredMethod responseMethod(std::string_view sip) {
  const size_t n = sip.size();
  IgnoredMethod method = IgnoredMethod::kNone;
  // True once the line at `line` ends the search; `method` then holds the answer.
  auto decided = [&](size_t line) {
    const LineVerdict v = checkLine(sip, line, method);
    if (v == LineVerdict::kEnd) method = IgnoredMethod::kNone;
    return v != LineVerdict::kNext;
  };
  size_t i = 0;
#ifdef __SSE2__
  // Only lines starting with 'C', 'c' (CSeq, and Call-ID, Contact, Content-*), CR or LF (the
  // end of the head) can decide: checkLine says kNext for every other line. A block is one
  // compare for LF (most blocks hold none: a head's lines are ~50 bytes), and the byte after
  // each LF is looked at on its own.
  const __m128i lf = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sip.data() + i));
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, lf)));
    while (mask != 0) {
      const size_t line = i + static_cast<size_t>(std::countr_zero(mask)) + 1;
      mask &= mask - 1;
      if (line >= n) return IgnoredMethod::kNone;
      const char c = sip[line];
      if (((c | 0x20) == 'c' || c == '\r' || c == '\n') && decided(line)) return method;
    }
  }
#endif
  for (size_t pos = sip.find('\n', i); pos != std::string_view::npos && pos + 1 < n;
       pos = sip.find('\n', pos + 1)) {
    if (decided(pos + 1)) return method;
  }
  return IgnoredMethod::kNone;
}

}  // namespace

IgnoredMethod ignoredMethod(std::string_view sip) {
  if (sip.size() > 4 && (sip[0] | 0x20) == 's' && (sip[1] | 0x20) == 'i' &&
      (sip[2] | 0x20) == 'p' && sip[3] == '/') {
    return responseMethod(sip);
  }
  return lookup(sip);
}

}  // namespace mcn::capture
