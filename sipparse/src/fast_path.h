#pragma once
// The fast path of SipParser: one pass over the message head that splits header lines and reads
// only the fields SipEvent needs, without sofia-sip's msg_extract (which builds a header object
// for every field and costs ~3 us per INVITE). It accepts a strict, common subset of RFC 3261
// syntax on which sofia-sip's result is known and declines everything else, so the caller parses
// that message with sofia instead:
//   - CRLF line ends, no folded lines (§7.3.1), no NUL in the head, exactly one SP between the
//     parts of the start line, version "SIP/2.0";
//   - Content-Length present, and exactly the bytes after the empty line (§18.3, §20.14);
//   - From/To/P-Asserted-Identity in name-addr form `["display"|token display] <uri>` (§20.10),
//     quoted display names without \-escapes, header parameters without whitespace or quotes;
//   - URIs sip:/sips:/tel: without %-escapes, passwords, paths or fragments (sofia prints such a
//     URI back unchanged; escapes it would decode, RFC 3986 §2.1);
//   - Via values `SIP/2.0/transport host[:port]*(;param)` (§20.42) without quotes or comments;
//   - at most one From, To, Call-ID, CSeq and Content-Length (a second one is a sofia error).
// Declining is never wrong, only slower: tests/sipparse/fast_path_differential_test.cc and the
// fuzz_sip_differential fuzzer check that an accepted message gives the same SipEvent and the
// same counters as the sofia path. Internal to sipparse/.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "mcn/sipparse/sip_event.h"

namespace mcn::sipparse::fast {

// Hash of a URI's text, for SipParser's URI memo (parser.cc): multiply-xorshift over 8-byte
// words. The memo needs only a fair spread of its slot index (a collision costs a miss, never a
// wrong number); this is a third of std::hash's instructions on a 40-byte URI.
inline uint64_t uriHash(std::string_view uri) {
  constexpr uint64_t kMul = 0xbf58476d1ce4e5b9ULL;
  const char* p = uri.data();
  const size_t n = uri.size();
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
  auto mix = [&h](uint64_t w) {
    h = (h ^ w) * kMul;
    h ^= h >> 31;
  };
  auto load64 = [](const char* q) {
    uint64_t v;
    std::memcpy(&v, q, 8);
    return v;
  };
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) mix(load64(p + i));
    if (i < n) mix(load64(p + n - 8));  // the last bytes, overlapping the previous word
  } else {
    uint64_t w = 0;
    for (size_t i = 0; i < n; ++i) w |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    mix(w);
  }
  h ^= h >> 29;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 32);
}

// Where the scan prefetches the memo slot of each URI as soon as it has read the URI: the memo
// is larger than the L2 cache, and the rest of the head is scanned meanwhile. base == nullptr:
// no prefetch.
struct MemoPrefetch {
  const char* base = nullptr;
  size_t mask = 0;        // slot index = hash & mask
  size_t slot_bytes = 0;  // two cache lines are fetched
};

// A name-addr as written: views into the message.
struct NameAddrParts {
  std::string_view display;  // raw display name (quotes kept), empty if none
  std::string_view uri;      // between < and >
  std::string_view tag;      // tag parameter value (From/To); empty if absent
  uint64_t uri_hash = 0;     // uriHash(uri)
};

// One Reason value (RFC 3326 §2), raw.
struct ReasonParts {
  std::string_view protocol;
  std::string_view cause;  // raw parameter value; empty if absent
  std::string_view text;   // raw (quoted) parameter value
  bool has_cause = false;
  bool has_text = false;
};

// The header fields SipParser reads besides the ones the scan decodes itself (parser.cc
// readField); every other field is only checked for well-formed syntax and then skipped.
enum class Extra : uint8_t {
  kNone,             // only the correlation header
  kDiversion,        // RFC 5806
  kHistoryInfo,      // RFC 7044
  kPrivacy,          // RFC 3323
  kPCalledPartyId,   // RFC 3455
  kPChargingVector,  // RFC 7315
  kReplaces,         // RFC 3891
};

struct HeaderField {
  std::string_view name;
  std::string_view value;  // trimmed
  Extra kind = Extra::kNone;
  bool correlation = false;  // the name is the configured correlation header
  bool origin = false;       // the name is the configured origin marker header
};

// What the scan found. Views into the message; the vectors keep their capacity between
// messages, so a warmed-up Scan allocates nothing.
struct Scan {
  bool is_request = false;
  std::string_view method;  // requests
  std::string_view request_uri;
  uint64_t request_uri_hash = 0;  // uriHash(request_uri)
  int status = 0;                 // responses
  std::string_view phrase;

  std::string_view call_id;
  uint32_t cseq = 0;
  std::string_view cseq_method;
  Method method_id = Method::kOther;       // methodFromName(method), requests
  Method cseq_method_id = Method::kOther;  // methodFromName(cseq_method)
  NameAddrParts from;
  NameAddrParts to;
  std::string_view via_branch;
  bool has_via_branch = false;
  int via_count = 0;

  std::vector<NameAddrParts> pai;    // every P-Asserted-Identity value, in order
  std::vector<ReasonParts> reasons;  // every Reason value, in order
  std::vector<HeaderField> others;   // every Extra field and correlation header, in order

  MemoPrefetch prefetch;  // set by the owner; kept by clear()

  void clear();
};

// Scans `msg` (one whole message). false: the message is outside the subset above (or
// malformed), or it has more than `max_fields` header fields; nothing may be concluded from it,
// parse it with sofia-sip. true: so is it unless every URI in `out` (request_uri, from.uri,
// to.uri, each pai uri) passes scannedUriInSubset. The scan only finds a URI's bounds, as most
// URIs repeat: SipParser checks only the ones its URI memo has not seen pass.
// `correlation_header` (may be empty) is a header name to keep in `others` besides the Extra
// fields.
// `origin_header` likewise (ParserConfig::origin_header).
bool scanMessage(std::string_view msg, Scan& out, std::string_view correlation_header = {},
                 size_t max_fields = SIZE_MAX, std::string_view origin_header = {});

// Is `uri`, one of the URIs scanMessage put in a Scan (a view into the message, followed there
// by its delimiter), in the URI subset above?
bool scannedUriInSubset(std::string_view uri);

// The same for any text (a copy with a delimiter is checked). For tests.
bool uriInSubset(std::string_view uri);

}  // namespace mcn::sipparse::fast
