#include "fast_path.h"

#include <array>
#include <cstring>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "mcn/sipparse/sip_event.h"

namespace mcn::sipparse::fast {

namespace {

// How the scan reads a line. It first finds the line's CRLF, so every loop inside the line has
// a sentinel: the CR belongs to no character class below and is neither SP nor HT, so a class
// run (`while (is(*p, k)) ++p`) stops at the line end at the latest without a bounds check.
// The parsers of a header value get the value's trimmed end `e`; the bytes from `e` to the CR
// are SP/HT only, so a class run stops at `e` too (no class holds SP or HT), and only loops
// that skip SP/HT must compare with `e`.

// Character classes, one table lookup each.
enum : uint8_t {
  kToken = 1,       // RFC 3261 §25.1 token
  kUser = 2,        // sip: user part: unreserved / "&=+$,;?/" (§25.1 user-unreserved)
  kTelNum = 4,      // tel: number as sofia takes it: unreserved / "&=+$,"
  kUriParam = 8,    // URI parameters: unreserved / ";=,:&+$"
  kUriHeader = 16,  // URI headers: unreserved / "&=+$,;:?/"
  kHost = 32,       // hostname / IPv4: alnum "-" "."
  kIpv6 = 64,       // inside "[...]": HEXDIG ":" "."
  kSpace = 128,     // SP / HTAB
};

constexpr std::array<uint8_t, 256> makeTable() {
  std::array<uint8_t, 256> t{};
  auto add = [&t](const char* s, uint8_t bits) {
    for (; *s != 0; ++s) t[static_cast<unsigned char>(*s)] |= bits;
  };
  for (int c = 0; c < 256; ++c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) t[c] = kToken | kUser | kTelNum | kUriParam | kUriHeader | kHost;
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
  add("0123456789abcdefABCDEF:.", kIpv6);
  add(" \t", kSpace);
  return t;
}
constexpr std::array<uint8_t, 256> kClass = makeTable();

inline bool is(char c, uint8_t bits) { return (kClass[static_cast<unsigned char>(c)] & bits) != 0; }
inline bool isSpace(char c) { return c == ' ' || c == '\t'; }
inline bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Past a run of class `bits` starting at p (sentinel-bounded, see above). Four bytes a step:
// each is tested before the next is read, so the sentinel still stops it.
inline const char* skip(const char* p, uint8_t bits) {
  for (;; p += 4) {
    if (!is(p[0], bits)) return p;
    if (!is(p[1], bits)) return p + 1;
    if (!is(p[2], bits)) return p + 2;
    if (!is(p[3], bits)) return p + 3;
  }
}

// skip(p, kToken), 16 bytes a step while [p, lim) holds 16 (lim bounds the buffer, not the
// run): letters, digits, '-' and '.' (most of the token characters written: names, tags, Via
// branches) are compared in one block, and the first other byte is looked up in the table (the
// rarer "!%*_+~" continue the run). They are all token characters and the sentinel is not, so
// it stops where skip stops.
inline const char* skipToken(const char* p, const char* lim) {
#if defined(__SSE2__)
  const __m128i case_bit = _mm_set1_epi8(0x20);
  // x - 'a' < 26 unsigned, as a signed compare: x + (128 - 'a') < -128 + 26
  const __m128i from_a = _mm_set1_epi8(static_cast<char>(128 - 'a'));
  const __m128i from_0 = _mm_set1_epi8(static_cast<char>(128 - '0'));
  const __m128i letters = _mm_set1_epi8(static_cast<char>(-128 + 26));
  const __m128i digits = _mm_set1_epi8(static_cast<char>(-128 + 10));
  const __m128i dash = _mm_set1_epi8('-');
  const __m128i dot = _mm_set1_epi8('.');
  while (lim - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i letter = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(v, case_bit), from_a), letters);
    const __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, from_0), digits);
    const __m128i mark = _mm_or_si128(_mm_cmpeq_epi8(v, dash), _mm_cmpeq_epi8(v, dot));
    const unsigned other =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, digit), mark))) ^
        0xffffu;
    if (other == 0) {
      p += 16;
      continue;
    }
    p += __builtin_ctz(other);
    if (!is(*p, kToken)) return p;
    ++p;
  }
#else
  (void)lim;
#endif
  return skip(p, kToken);
}

inline const char* skipSpace(const char* p, const char* e) {
  while (p < e && isSpace(*p)) ++p;
  return p;
}

inline std::string_view view(const char* b, const char* e) {
  return {b, static_cast<size_t>(e - b)};
}

// Case-insensitive compare of a header-field name (already known to be token characters) with
// a lower-case name of the same length, a few bytes at a time. OR-ing 0x20 lower-cases A-Z; of
// the other token characters it changes only '_' (to DEL), which no name here contains.
inline uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint32_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
template <size_t N>
inline bool nameIs(const char* p, const char (&lower)[N]) {
  constexpr size_t n = N - 1;
  static_assert(n >= 4);
  if constexpr (n >= 8) {
    for (size_t i = 0; i + 8 <= n; i += 8) {
      if ((load64(p + i) | 0x2020202020202020ULL) != load64(lower + i)) return false;
    }
    if constexpr (n % 8 != 0) {
      return (load64(p + n - 8) | 0x2020202020202020ULL) == load64(lower + n - 8);
    }
    return true;
  } else {
    return (load32(p) | 0x20202020U) == load32(lower) &&
           (load32(p + n - 4) | 0x20202020U) == load32(lower + n - 4);
  }
}

// The parameter names the scan looks for, case-insensitively (RFC 3261 §7.3.5 for parameter
// names too): every byte is a letter, so OR-ing 0x20 folds exactly A-Z onto a-z.
inline bool isTagName(const char* p, size_t n) {
  return n == 3 && (p[0] | 0x20) == 't' && (p[1] | 0x20) == 'a' && (p[2] | 0x20) == 'g';
}
inline bool isBranchName(const char* p, size_t n) {
  return n == 6 && (load32(p) | 0x20202020U) == load32("bran") && (p[4] | 0x20) == 'c' &&
         (p[5] | 0x20) == 'h';
}

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
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

// The first CR, LF or NUL at or after p, or end. 16 bytes per step where SSE2 is available
// (x86-64 always): a head is mostly long lines of bytes the scan does not look at one by one.
// A step finds the bytes up to 13 (CR) with one unsigned minimum and one compare; those other
// than CR, LF and NUL (HT in a value, other controls) are rare and passed over one by one.
inline const char* findLineBreak(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, cr), v)));
    while (mask != 0) {
      const char* b = p + __builtin_ctz(mask);
      if (*b == '\r' || *b == '\n' || *b == '\0') return b;
      mask &= mask - 1;
    }
    p += 16;
  }
#endif
  for (; p < end; ++p) {
    if (*p == '\r' || *p == '\n' || *p == '\0') return p;
  }
  return end;
}

// No byte of [p, e) is a control character, SP or DEL (as `char`: on x86 bytes from 0x80 are
// negative, so they fail too); `end` bounds the buffer.
inline bool allVisible(const char* p, const char* e, const char* end) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i del = _mm_set1_epi8(0x7f);
  auto bad = [&](const char* q) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    // signed compare, as char is signed here
    const __m128i ok = _mm_andnot_si128(_mm_cmpeq_epi8(v, del), _mm_cmpgt_epi8(v, space));
    return static_cast<unsigned>(_mm_movemask_epi8(ok)) ^ 0xffffu;
  };
  const auto n = static_cast<size_t>(e - p);
  if (n >= 16) {
    for (; e - p >= 16; p += 16) {
      if (bad(p) != 0) return false;
    }
    return p == e || bad(e - 16) == 0;  // the rest, overlapping the last block
  }
  if (end - p >= 16) return (bad(p) & ((1u << n) - 1)) == 0;  // reads past e, inside the buffer
#else
  (void)end;
#endif
  for (; p < e; ++p) {
    if (*p <= ' ' || *p == 0x7f) return false;
  }
  return true;
}

// The CR of the CRLF that ends the line starting at p; nullptr if the line holds a bare CR or
// LF or a NUL (a NUL ends sofia's strings early), or has no line end.
inline const char* lineEnd(const char* p, const char* end) {
  const char* b = findLineBreak(p, end);
  if (end - b < 2 || b[0] != '\r' || b[1] != '\n') return nullptr;
  return b;
}

// host = hostname / IPv4address / "[" IPv6 "]", then [":" port] (RFC 3261 §25.1). Returns the
// end of the hostport, nullptr if there is no valid host.
const char* hostPort(const char* p) {
  if (*p == '[') {
    const char* h = ++p;
    p = skip(p, kIpv6);
    if (p == h || *p != ']') return nullptr;
    ++p;
  } else {
    const char* h = p;
    p = skip(p, kHost);
    if (p == h) return nullptr;
  }
  if (*p == ':') {
    const char* d = ++p;
    while (isDigit(*p)) ++p;
    if (p == d || p - d > 5) return nullptr;
  }
  return p;
}

// The rest of a URI after the host (sip) or number (tel): [";" params] ["?" headers]. Returns
// where it stops; the caller checks that the URI's delimiter is there.
inline const char* uriTail(const char* p) {
  if (*p == ';') p = skip(p + 1, kUriParam);
  if (*p == '?') p = skip(p + 1, kUriHeader);
  return p;
}

// A URI in the subset (see uriInSubset) starting at p, in a text ending at or after e. Returns
// where it stops (the caller checks that the URI's delimiter is there), nullptr if it is not one.
const char* uriEnd(const char* p, const char* e) {
  // A scheme prefix has no delimiter character ('>', SP), so a match lies inside the URI.
  if (e - p >= 4 && std::memcmp(p, "tel:", 4) == 0) {
    const char* n = p + 4;
    p = skip(n, kTelNum);
    if (p == n) return nullptr;
    return uriTail(p);
  }
  if (e - p >= 4 && std::memcmp(p, "sip:", 4) == 0) {
    p += 4;
  } else if (e - p >= 5 && std::memcmp(p, "sips:", 5) == 0) {
    p += 5;
  } else {
    return nullptr;
  }
  // sofia takes everything before the first '@' as the user part (url.c _url_d). '@' is in no
  // class: a user run that stops elsewhere means there is no user part, or an invalid one that
  // the host and tail classes stop at too.
  const char* u = skip(p, kUser);
  if (*u == '@') {
    if (u == p) return nullptr;
    p = u + 1;
  }
  p = hostPort(p);
  return p == nullptr ? nullptr : uriTail(p);
}

// The memo slot of a URI the scan has just read.
inline uint64_t hashAndPrefetch(std::string_view uri, const MemoPrefetch& pf) {
  const uint64_t h = uriHash(uri);
  if (pf.base != nullptr) {
    const char* slot = pf.base + (h & pf.mask) * pf.slot_bytes;
    __builtin_prefetch(slot);
    __builtin_prefetch(slot + 64);
  }
  return h;
}

// `["display"|display] <uri>` from p (not SP/HT) in a value ending at e. Quoted display names
// without \-escapes; unquoted ones of token characters and SP/HT (RFC 3261 §25.1 display-name).
// Returns the position after '>', nullptr if it is not one. `lim`: the end of the buffer.
const char* nameAddr(const char* p, const char* e, const char* lim, const MemoPrefetch& pf,
                     NameAddrParts& out) {
  const char* lt;
  if (*p == '"') {
    const char* q = p + 1;
#if defined(__SSE2__)
    // to the first byte the loop below must look at: '"', '\\', a control character or DEL
    // (the CR of the line at the latest)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i del = _mm_set1_epi8(0x7f);
    const __m128i ctl_max = _mm_set1_epi8(0x1f);
    while (lim - q >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      const __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl_max), v);  // v <= 0x1f unsigned
      const __m128i stop =
          _mm_or_si128(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, quote)),
                       _mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, del)));
      const auto mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
      if (mask != 0) {
        q += __builtin_ctz(mask);
        break;
      }
      q += 16;
    }
#endif
    for (;; ++q) {
      const auto c = static_cast<unsigned char>(*q);
      if (c == '"') break;
      if (c == '\\' || c < 0x20 || c == 0x7f) return nullptr;  // the CR stops it at the latest
    }
    out.display = view(p, q + 1);
    lt = skipSpace(q + 1, e);
  } else {
    lt = skip(p, kToken | kSpace);
    const char* d = lt;
    while (d > p && isSpace(d[-1])) --d;
    out.display = view(p, d);
  }
  if (lt >= e || *lt != '<') return nullptr;  // addr-spec: left to sofia (§20.10)
  const char* u = lt + 1;
  // Only the URI's bounds: the owner checks it (scannedUriInSubset).
  const auto* ue = static_cast<const char*>(std::memchr(u, '>', static_cast<size_t>(e - u)));
  if (ue == nullptr) return nullptr;
  out.uri = view(u, ue);
  out.uri_hash = hashAndPrefetch(out.uri, pf);
  return ue + 1;
}

// From / To: name-addr *(";" generic-param) with token values and no whitespace; the tag
// parameter (RFC 3261 §20.20, §20.39).
bool fromTo(const char* p, const char* e, const char* lim, const MemoPrefetch& pf,
            NameAddrParts& out) {
  out = {};
  p = nameAddr(p, e, lim, pf, out);
  if (p == nullptr) return false;
  bool tag = false;
  while (p < e) {
    if (*p != ';') return false;
    const char* n = ++p;
    p = skipToken(p, lim);
    if (p == n) return false;
    const std::string_view name = view(n, p);
    std::string_view value;
    bool has_value = false;
    if (*p == '=') {
      const char* v = ++p;
      p = skipToken(p, lim);
      if (p == v) return false;
      value = view(v, p);
      has_value = true;
    }
    if (isTagName(name.data(), name.size())) {
      if (tag || !has_value) return false;
      tag = true;
      out.tag = value;
    }
  }
  return true;
}

// P-Asserted-Identity (RFC 3325 §9.1): name-addr values, comma separated, no parameters.
bool pai(const char* p, const char* e, const char* lim, Scan& out) {
  for (;;) {
    p = skipSpace(p, e);
    NameAddrParts n;
    p = nameAddr(p, e, lim, out.prefetch, n);
    // A comma inside the URI (user part or parameters) is left to sofia: the list split here
    // was always on commas outside quotes only.
    if (p == nullptr || std::memchr(n.uri.data(), ',', n.uri.size()) != nullptr) return false;
    out.pai.push_back(n);
    p = skipSpace(p, e);
    if (p == e) return true;
    if (*p != ',') return false;
    ++p;
  }
}

// Via (RFC 3261 §20.42): "SIP/2.0/" transport LWS sent-by *(";" via-params), comma separated,
// parameter values tokens or (received=, maddr=) a bracketed IPv6 address, no whitespace inside
// the parameters.
bool via(const char* p, const char* e, const char* lim, Scan& out) {
  for (;;) {
    p = skipSpace(p, e);
    if (e - p < 8 || std::memcmp(p, "SIP/2.0/", 8) != 0) return false;
    const char* t = p + 8;
    p = skipToken(t, lim);
    if (p == t || p >= e || !isSpace(*p)) return false;
    p = hostPort(skipSpace(p, e));
    if (p == nullptr) return false;
    const bool top = out.via_count == 0;
    ++out.via_count;
    bool branch = false;
    while (p < e && *p == ';') {
      const char* n = ++p;
      p = skipToken(p, lim);
      if (p == n) return false;
      const std::string_view name = view(n, p);
      std::string_view value;
      bool has_value = false;
      if (*p == '=') {
        const char* v = ++p;
        if (*p == '[') {
          // an IPv6 reference as in Via received=/maddr= (RFC 3261 §20.42)
          const char* h = ++p;
          p = skip(p, kIpv6);
          if (p == h || *p != ']') return false;
          ++p;
        } else {
          p = skipToken(p, lim);
          if (p == v) return false;
        }
        value = view(v, p);
        has_value = true;
      }
      if (isBranchName(name.data(), name.size())) {
        if (branch || !has_value) return false;
        branch = true;
        if (top) {
          out.via_branch = value;
          out.has_via_branch = true;
        }
      }
    }
    p = skipSpace(p, e);
    if (p == e) return true;
    if (*p != ',') return false;
    ++p;
  }
}

// Reason (RFC 3326 §2): protocol *(";" reason-params); text is a quoted-string that may hold
// commas and semicolons. Rare: bounds-checked the plain way.
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

enum class Known : uint8_t {
  kOther,
  kVia,
  kFrom,
  kTo,
  kCallId,
  kCseq,
  kContentLength,
  kReason,
  kPai,
  // read by parser.cc (Extra); kept last
  kDiversion,
  kHistoryInfo,
  kPrivacy,
  kPCalledPartyId,
  kPChargingVector,
  kReplaces
};

// The header names sofia's parser class (parser.cc) decodes, in full and compact form (RFC 3261
// §7.3.3), and the Extra ones; case-insensitive (§7.3.5). `p` holds `n` token characters.
// Most fields of a message are none of these: the length alone settles most of them.
Known classify(const char* p, size_t n) {
  switch (n) {
    case 1:
      switch (p[0] | 0x20) {
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
    case 2:
      return (p[0] | 0x20) == 't' && (p[1] | 0x20) == 'o' ? Known::kTo : Known::kOther;
    case 3:
      return (p[0] | 0x20) == 'v' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'a' ? Known::kVia
                                                                                  : Known::kOther;
    case 4:
      if (nameIs(p, "from")) return Known::kFrom;
      if (nameIs(p, "cseq")) return Known::kCseq;
      return Known::kOther;
    case 6:
      return nameIs(p, "reason") ? Known::kReason : Known::kOther;
    case 7:
      if (nameIs(p, "call-id")) return Known::kCallId;
      if (nameIs(p, "privacy")) return Known::kPrivacy;
      return Known::kOther;
    case 8:
      return nameIs(p, "replaces") ? Known::kReplaces : Known::kOther;
    case 9:
      return nameIs(p, "diversion") ? Known::kDiversion : Known::kOther;
    case 12:
      return nameIs(p, "history-info") ? Known::kHistoryInfo : Known::kOther;
    case 14:
      return nameIs(p, "content-length") ? Known::kContentLength : Known::kOther;
    case 17:
      if (nameIs(p, "p-called-party-id")) return Known::kPCalledPartyId;
      if (nameIs(p, "p-charging-vector")) return Known::kPChargingVector;
      return Known::kOther;
    case 19:
      return nameIs(p, "p-asserted-identity") ? Known::kPai : Known::kOther;
    default:
      return Known::kOther;
  }
}

// Method names the fast path takes: the methods mcn knows by name (RFC 3261 §7.1 allows any
// token). Anything else goes to sofia, whose method scanner has its own rules: it refused a
// response whose CSeq method was "NOTIF", a prefix of NOTIFY, where a plain token rule accepted
// it (found by fuzz_sip_differential; kept in its regressions). So the request's and CSeq's
// methods are taken only if methodFromName knows them (Scan::method_id, cseq_method_id).

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
  out.method = line.substr(0, sp1);
  out.method_id = methodFromName(out.method);
  if (out.method_id == Method::kOther) return false;
  const char* u = line.data() + sp1 + 1;
  const char* const e = line.data() + line.size();
  // the URI runs to the next SP (checked by the owner, scannedUriInSubset), then the version
  // ends the line
  const auto* ue = static_cast<const char*>(std::memchr(u, ' ', static_cast<size_t>(e - u)));
  if (ue == nullptr || view(ue + 1, e) != kVersion) return false;
  out.is_request = true;
  out.request_uri = view(u, ue);
  out.request_uri_hash = hashAndPrefetch(out.request_uri, out.prefetch);
  return true;
}

}  // namespace

void Scan::clear() {
  is_request = false;
  method = request_uri = phrase = call_id = cseq_method = via_branch = {};
  method_id = cseq_method_id = Method::kOther;
  request_uri_hash = 0;
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
  // uriEnd reads at most to the first byte that is in none of its classes: a copy ending in
  // one (CR) gives it that sentinel. Tests only; the scan reads URIs in place.
  std::string copy(uri);
  copy.push_back('\r');
  const char* e = copy.data() + uri.size();
  return uriEnd(copy.data(), e) == e;
}

bool scannedUriInSubset(std::string_view uri) {
  // The byte after a scanned URI is its delimiter ('>' or SP), in no class: uriEnd stops there
  // at the latest.
  const char* e = uri.data() + uri.size();
  return uriEnd(uri.data(), e) == e;
}

bool scanMessage(std::string_view msg, Scan& out, std::string_view correlation_header,
                 size_t max_fields, std::string_view origin_header) {
  out.clear();
  const char* const begin = msg.data();
  const char* const end = begin + msg.size();
  bool have_from = false, have_to = false, have_call_id = false, have_cseq = false;
  bool have_length = false;
  uint64_t content_length = 0;
  size_t fields = 0;

  const char* cr = lineEnd(begin, end);
  if (cr == nullptr || !startLine(view(begin, cr), out)) return false;
  const char* p = cr + 2;
  for (;;) {
    cr = lineEnd(p, end);
    if (cr == nullptr) return false;
    if (cr == p) break;  // the empty line ends the head
    const char* const line = p;
    p = cr + 2;
    // A line starting with SP/HT continues the previous field (§7.3.1): left to sofia.
    if (isSpace(*line)) return false;
    if (++fields > max_fields) return false;
    const char* n = skip(line, kToken);
    if (n == line) return false;
    const char* c = n;
    while (isSpace(*c)) ++c;
    if (*c != ':') return false;
    const size_t name_len = static_cast<size_t>(n - line);
    const Known known = classify(line, name_len);
    const std::string_view name = view(line, n);
    // (SipParser refuses a correlation header the scan decodes itself)
    const bool correlation = (known == Known::kOther || known >= Known::kDiversion) &&
                             name_len == correlation_header.size() && ieq(name, correlation_header);
    const bool origin = known == Known::kOther && name_len == origin_header.size() &&
                        name_len > 0 && ieq(name, origin_header);
    // Most fields are none of these: their value is not looked at.
    if (known == Known::kOther && !correlation && !origin) continue;
    const char* v = c + 1;
    while (isSpace(*v)) ++v;
    const char* ve = cr;
    while (ve > v && isSpace(ve[-1])) --ve;
    Extra extra = Extra::kNone;
    switch (known) {
      case Known::kOther:
        break;
      case Known::kVia:
        if (!via(v, ve, end, out)) return false;
        continue;
      case Known::kFrom:
        if (have_from || !fromTo(v, ve, end, out.prefetch, out.from)) return false;
        have_from = true;
        continue;
      case Known::kTo:
        if (have_to || !fromTo(v, ve, end, out.prefetch, out.to)) return false;
        have_to = true;
        continue;
      case Known::kCallId:
        if (have_call_id || v == ve || !allVisible(v, ve, end)) return false;
        have_call_id = true;
        out.call_id = view(v, ve);
        continue;
      case Known::kCseq: {
        // CSeq = 1*DIGIT LWS Method (§20.16)
        if (have_cseq) return false;
        const char* d = v;
        while (d < ve && isDigit(*d)) ++d;
        uint64_t seq = 0;
        if (!parseDigits(view(v, d), 9, seq)) return false;
        const char* m = skipSpace(d, ve);
        if (m == d || m == ve) return false;
        out.cseq_method_id = methodFromName(view(m, ve));
        if (out.cseq_method_id == Method::kOther) return false;
        have_cseq = true;
        out.cseq = static_cast<uint32_t>(seq);
        out.cseq_method = view(m, ve);
        continue;
      }
      case Known::kContentLength:
        if (have_length || !parseDigits(view(v, ve), 9, content_length)) return false;
        have_length = true;
        continue;
      case Known::kReason:
        if (!reason(view(v, ve), out)) return false;
        continue;
      case Known::kPai:
        if (!pai(v, ve, end, out)) return false;
        continue;
      case Known::kDiversion:
        extra = Extra::kDiversion;
        break;
      case Known::kHistoryInfo:
        extra = Extra::kHistoryInfo;
        break;
      case Known::kPrivacy:
        extra = Extra::kPrivacy;
        break;
      case Known::kPCalledPartyId:
        extra = Extra::kPCalledPartyId;
        break;
      case Known::kPChargingVector:
        extra = Extra::kPChargingVector;
        break;
      case Known::kReplaces:
        extra = Extra::kReplaces;
        break;
    }
    out.others.push_back({name, view(v, ve), extra, correlation, origin});
  }
  // Missing essentials are sofia's to count (sip.missing_*); a body that does not match
  // Content-Length exactly is truncated or trailed by something (§18.3).
  if (!have_from || !have_to || !have_call_id || !have_cseq || !have_length) return false;
  // sofia refuses a request whose CSeq method is not its method (RFC 3261 §8.1.1.5)
  if (out.is_request && out.cseq_method_id != out.method_id) return false;
  const char* const body = cr + 2;
  if (static_cast<size_t>(end - body) != content_length) return false;
  // A NUL ends sofia's strings early; rare enough to leave to it. The head's lines were
  // checked on the way.
  return std::memchr(body, '\0', content_length) == nullptr;
}

}  // namespace mcn::sipparse::fast
