#pragma once
// The lenient path of SipParser: SIP that sofia-sip refuses (or misreads) but a person, tshark
// and sngrep read without hesitation is rewritten into correct SIP in a scratch buffer, which
// the ordinary sofia path then parses. The rewrite touches only what it can read unambiguously
// (rules below and in sipparse/README.md, "Lenient path"); everything else is copied as written,
// so a message that is still wrong stays a counted drop. Internal to sipparse/.
//
// Rewrites (the message head only; the body is copied byte for byte, line ends are kept):
//   - IPv6 host without brackets in the Request-URI, the Via sent-by and the sip:/sips: URIs of
//     From, To, Contact, P-Asserted-Identity, P-Called-Party-ID, Diversion, History-Info
//     (RFC 3261 §25.1 wants "[" IPv6 "]"). The host is the run of HEXDIG ":" "." after the '@'
//     (or the scheme, or the transport) with at least two colons. If the whole run is an IPv6
//     address and the run without its last ":" 1*5DIGIT is not, the run is the host; if only the
//     shorter one is, the last group is the port; if both are (`2001:db8::1:5060`), or neither,
//     nobody can tell: left as written.
//   - Status-Line without a space between version and code or code and phrase (`SIP/2.0180
//     Ringing`, `SIP/2.0 180Ringing`; the code is exactly three digits, §7.2).
//   - Request-Line whose URI runs into the version (`sip:1013@hostSIP/2.0`, §7.1).
//   - Via without a space between transport and sent-by (`SIP/2.0/UDP198.51.100.20`): only for
//     the transports of RFC 3261 §20.42 / RFC 4168 / RFC 7118 (UDP, TCP, TLS, SCTP, TLS-SCTP, WS,
//     WSS) followed by a digit or an IPv6 group.
//   - CSeq without a space between number and method (`1INVITE`), or with a method of RFC 3261 /
//     the extension RFCs in another case (`1 invite`): written in upper case, for a request only
//     when the Request-Line names that method in upper case (§8.1.1.5: they must be the same).

#include <string>
#include <string_view>

namespace mcn::sipparse::lenient {

enum class Rewrite {
  kNone,       // nothing to rewrite: the message is as good or as bad as it was
  kRewritten,  // `out` holds the message with at least one rewrite
  kAmbiguous,  // a host in the Request-URI, Via, From or To cannot be read: keep the refusal
};

Rewrite rewrite(std::string_view msg, std::string& out);

// Is `m` one of the methods mcn knows (sip_event.h) in another case than upper case?
bool isKnownMethodInOtherCase(std::string_view m);

}  // namespace mcn::sipparse::lenient
