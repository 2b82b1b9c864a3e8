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

#include <cstdint>
#include <string_view>
#include <vector>

namespace mcn::sipparse::fast {

// A name-addr as written: views into the message.
struct NameAddrParts {
  std::string_view display;  // raw display name (quotes kept), empty if none
  std::string_view uri;      // between < and >
  std::string_view tag;      // tag parameter value (From/To); empty if absent
};

// One Reason value (RFC 3326 §2), raw.
struct ReasonParts {
  std::string_view protocol;
  std::string_view cause;  // raw parameter value; empty if absent
  std::string_view text;   // raw (quoted) parameter value
  bool has_cause = false;
  bool has_text = false;
};

struct HeaderField {
  std::string_view name;
  std::string_view value;  // trimmed
};

// What the scan found. Views into the message; the vectors keep their capacity between
// messages, so a warmed-up Scan allocates nothing.
struct Scan {
  bool is_request = false;
  std::string_view method;  // requests
  std::string_view request_uri;
  int status = 0;  // responses
  std::string_view phrase;

  std::string_view call_id;
  uint32_t cseq = 0;
  std::string_view cseq_method;
  NameAddrParts from;
  NameAddrParts to;
  std::string_view via_branch;
  bool has_via_branch = false;
  int via_count = 0;

  std::vector<NameAddrParts> pai;     // every P-Asserted-Identity value, in order
  std::vector<ReasonParts> reasons;   // every Reason value, in order
  std::vector<HeaderField> others;    // every other header field, in order

  void clear();
};

// Scans `msg` (one whole message). false: the message is outside the subset above (or
// malformed); nothing may be concluded from it, parse it with sofia-sip.
bool scanMessage(std::string_view msg, Scan& out);

// Exposed for tests: is `uri` in the subset sofia prints back unchanged?
bool uriInSubset(std::string_view uri);

}  // namespace mcn::sipparse::fast
