#pragma once
// The value handed from sipparse/ to calls/: the fields of one SIP message the tracker needs,
// owned and free of sofia-sip types. Numbers are kept raw (`user`) and normalised (`number`,
// per the dial plan; empty when the URI holds no telephone number).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/capture/sip_payload.h"

namespace mcn::sipparse {

enum class Method : uint8_t {
  kInvite,
  kAck,
  kBye,
  kCancel,
  kPrack,
  kUpdate,
  kInfo,
  kOptions,
  kRegister,
  kSubscribe,
  kNotify,
  kPublish,
  kMessage,
  kRefer,
  kOther
};
const char* methodName(Method m);
Method methodFromName(std::string_view name);

// A name-addr header value (From, To, P-Asserted-Identity, P-Called-Party-ID).
struct NameAddr {
  std::string display;  // display name, unquoted; empty if absent
  std::string uri;      // the URI as written, e.g. "sip:+8613900101230@ims.example;user=phone"
  std::string user;     // the URI's user part (or tel number) as written, e.g. "+86-25-8300-1013",
                        // without telephone-subscriber parameters (";phone-context=..." etc.)
  std::string number;   // normalised per the dial plan, e.g. "+862583001013"; may be empty
  std::string tag;      // tag parameter (From/To); empty if absent
};

// One Diversion (RFC 5806) or History-Info (RFC 7044) entry.
struct Redirection {
  NameAddr
      target;  // Diversion: the diverting (original) number; History-Info: the hi-targeted-to-uri
  std::string reason;  // Diversion reason= ("user-busy", "no-answer", "unconditional", ...),
                       // lower-cased. History-Info: `cause` in the same terms (486 "user-busy",
                       // 408 "no-answer", 302 "unconditional", 480/487 "deflection",
                       // 503 "unavailable", 404 "unknown"), else empty.
  int cause = 0;       // History-Info cause= URI parameter (RFC 4458), or the cause of a SIP
                  // Reason escaped in the URI (?Reason=SIP%3Bcause%3D486, RFC 7044); 0 if absent
  std::string index;  // History-Info index= ("1.1"); empty for Diversion
  int counter = 0;    // Diversion counter=, 0 if absent
};

// One Reason header value (RFC 3326).
struct ReasonValue {
  std::string protocol;  // "SIP", "Q.850", ...
  int cause = 0;
  std::string text;
};

// A Replaces header (RFC 3891 §6.1): the dialog an INVITE takes over. A colleague's phone picking
// up a ringing call (RFC 5359 §2.9) sends it to the caller naming the ringing early dialog.
struct ReplacesValue {
  std::string call_id;   // Call-ID of the dialog replaced, as written
  std::string to_tag;    // to-tag= (the tag of the replaced dialog's UAS side, the ringing phone)
  std::string from_tag;  // from-tag= (the replaced dialog's UAC side, the caller)
  bool early_only = false;

  bool operator==(const ReplacesValue&) const = default;
};

struct SipEvent {
  int64_t ts_us = 0;
  capture::Endpoint src;
  capture::Endpoint dst;
  capture::Transport transport = capture::Transport::kUdp;
  // The HEP agent's capture id when the message came in a HEP packet that carried one.
  std::optional<uint32_t> capture_id;

  bool is_request = false;
  Method method = Method::kOther;  // requests only
  std::string method_name;         // requests only, as written
  NameAddr request_uri;            // requests only (display and tag unused)
  int status = 0;                  // responses only
  std::string phrase;              // responses only: reason phrase

  std::string call_id;
  uint32_t cseq = 0;
  Method cseq_method = Method::kOther;

  NameAddr from;
  NameAddr to;
  std::string via_branch;  // top Via branch parameter
  int via_count = 0;       // number of Via values (all headers, all commas)

  std::vector<NameAddr> pai;                  // P-Asserted-Identity values, in order
  std::optional<NameAddr> p_called_party_id;  // RFC 3455
  std::vector<std::string> privacy;           // Privacy tokens, lower-cased ("id", "header", ...)
  std::vector<Redirection> diversion;         // in header order (most recent first, RFC 5806)
  std::vector<Redirection> history_info;      // in header order
  std::vector<ReasonValue> reasons;
  std::string icid;         // P-Charging-Vector icid-value; empty if absent
  std::string correlation;  // value of the configured correlation header; empty if absent
  // Value of the origin marker header mcn puts on calls it places itself ([sipua]
  // marker_header, e.g. "callback;id=..."); empty if absent.
  std::string origin;
  std::optional<ReplacesValue> replaces;  // Replaces (RFC 3891), the first one; absent if none
};

}  // namespace mcn::sipparse
