#pragma once
// [sipua]: mcn as a SIP user agent on the management network (README "Call back"). Disabled by
// default; the capture side never sends anything whatever these say.

#include <cstdint>
#include <string>

namespace mcn::sipua {

struct UaConfig {
  bool enabled = false;
  // Where mcn's own SIP stack listens (UDP and TCP on the same port); never a mirror interface.
  std::string listen = "sip:127.0.0.1:5070";
  // Every request goes there (the softswitch, P-CSCF or S-CSCF); empty: straight to the URI.
  std::string outbound_proxy;
  // Host part for bare numbers: "1013" -> sip:1013@<domain>. Empty: the outbound proxy's host.
  std::string domain;
  // From of the calls mcn places.
  std::string identity = "sip:mcn@localhost";
  // P-Asserted-Identity (RFC 3325 §9.1) on mcn's INVITE to the device, when mcn sits in the
  // softswitch's trust domain; empty: none. The number is then called by the device itself (REFER),
  // with the device's own identity.
  std::string asserted_identity;
  bool register_ = false;         // REGISTER identity (key "register")
  std::string registrar;          // empty: the outbound proxy / identity's domain
  int register_expires_s = 3600;  // asked for; sofia refreshes before it runs out
  std::string auth_user;          // digest user name; empty: no credentials
  std::string auth_password_ref;  // env:NAME or file:/path
  // Header on every call mcn originates, so mcn recognises its own calls on the mirror.
  std::string marker_header = "X-MCN-Origin";
  int ring_timeout_ms = 30000;     // the person's device rings this long, then CANCEL: no_answer
  int connect_timeout_ms = 60000;  // after the REFER: the final NOTIFY sipfrag must come by then
  int max_active = 16;             // call-backs in progress at once; more are refused (429)

  bool operator==(const UaConfig&) const = default;
};

// [callback]: the API and the signed call-back link (README "Call back").
struct CallbackConfig {
  // Key of the link's HMAC-SHA256 (env:NAME or file:/path); empty: no links.
  std::string link_key_ref;
  // Base URL the link starts with ("https://mcn.example/"); the token is appended as
  // "callback/link/<token>". Empty: notifications carry no link.
  std::string link_base_url;
  int64_t link_ttl_ms = 24 * 3600 * 1000;
  int per_person_per_hour = 10;  // call-backs placed for one person, API and links together
  int global_per_minute = 60;    // all call-backs

  bool operator==(const CallbackConfig&) const = default;
};

}  // namespace mcn::sipua
