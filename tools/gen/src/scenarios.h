#pragma once
// The scenario library. Each call flow is a function that appends the SIP messages of one call
// (all hops, all legs) to a Scene on an explicit millisecond timeline; the fixtures call them
// with fixed parameters and the mix with random ones. Topology (RFC 3261 proxying, IMS-looking):
//
//   caller UE --hop 1--> P-CSCF/proxy --hop 2--> callee device(s) | voicemail | MGCF
//
// hop 1 carries the dialled Request-URI and To; hop 2 the device's Contact as Request-URI plus
// P-Called-Party-ID (RFC 3455); every INVITE carries P-Asserted-Identity (RFC 3325) and
// P-Charging-Vector icid-value.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "scene.h"

namespace mcn::gen {

// The nodes a call flow uses (indexes into the Scene's node table).
struct Cast {
  uint16_t a = 0;      // caller UE
  uint16_t p = 0;      // P-CSCF / proxy (forks, forwards, B2BUA)
  uint16_t b1 = 0;     // called desk phone
  uint16_t b2 = 0;     // second device of the same number (soft client)
  uint16_t c = 0;      // device of the other number (parallel ring, forward target)
  uint16_t vm = 0;     // voicemail server
  uint16_t mgcf = 0;   // breakout to the PSTN / mobile network
  uint16_t scscf = 0;  // S-CSCF (only seen in Via)
  uint16_t x = 0;      // a UE that only answers keep-alives
};

// The fixtures' cast: documentation addresses, see pcaps/README.md.
Cast standardCast(Scene& s);

struct CallParams {
  int64_t t0 = 0;  // ms after the scene start
  std::string call_id;
  std::string call_id2;  // second leg (B2BUA)
  std::string icid;
  std::string caller_display = "Li Wei";
  std::string caller = "+8613900101230";
  std::string from_uri;          // default sip:<caller>@ims.example.com;user=phone
  std::vector<std::string> pai;  // default: the sip and the tel form of the caller
  bool no_pai = false;
  std::string privacy;                              // Privacy header value, empty: none
  std::string to_uri = "sip:1013@ims.example.com";  // dialled (hop 1 Request-URI and To)
  std::string callee = "+862583001013";             // E.164 of the called number
  bool pcpid = true;                                // hop 2 carries P-Called-Party-ID
  std::string contact_user;             // callee device's Contact user, default the callee number
  std::string other = "+862583001014";  // second number: parallel ring / forward target
  int64_t ring_after = 820;             // INVITE -> first 180 at hop 2
  int64_t ring_for = 5000;              // first 180 -> answer / CANCEL / final response
  int64_t talk = 30000;                 // answer -> BYE
  int final_code = 486;                 // callFinal / callRejected
  std::string final_phrase = "Busy Here";
};

// One call each. Comments in scenarios.cc give every message's offset.
void callAnswered(Scene& s, const Cast& c, const CallParams& p);
void callCancelled(Scene& s, const Cast& c, const CallParams& p);
void callFinal(Scene& s, const Cast& c,
               const CallParams& p);  // callee's final error, rang if ring_after >= 0
void callRejected(Scene& s, const Cast& c,
                  const CallParams& p);  // the proxy answers hop 1 itself (404 ...)
void callProxy408(Scene& s, const Cast& c, const CallParams& p);
void callForkAnswered(Scene& s, const Cast& c, const CallParams& p);
void callParallelRing(Scene& s, const Cast& c, const CallParams& p);
void callForkAbandoned(Scene& s, const Cast& c, const CallParams& p);
void callBusyToVoicemail(Scene& s, const Cast& c, const CallParams& p);
void callB2buaNoAnswer(Scene& s, const Cast& c, const CallParams& p);
void callForwardUnconditional(Scene& s, const Cast& c, const CallParams& p);
void callAuthAnswered(Scene& s, const Cast& c, const CallParams& p);
void callRedirect(Scene& s, const Cast& c, const CallParams& p);
void callOkCrossingCancel(Scene& s, const Cast& c, const CallParams& p);
void callResponseFirst(Scene& s, const Cast& c, const CallParams& p);
void callRingTimeout(Scene& s, const Cast& c, const CallParams& p);
void callStillRinging(Scene& s, const Cast& c, const CallParams& p);

// Non-call traffic (what most packets on an IMS core are).
void keepAlive(Scene& s, uint16_t from, uint16_t to, int64_t t_ms, const std::string& id);
void registration(Scene& s, uint16_t ue, uint16_t pcscf, const std::string& number, int64_t t_ms,
                  const std::string& id);
void regEvent(Scene& s, uint16_t ue, uint16_t pcscf, const std::string& number, int64_t t_ms,
              const std::string& id);

// Named fixtures for `mcn-gen scenario NAME`.
struct Scenario {
  const char* name;
  const char* what;
  std::function<void(Scene&)> build;
};
const std::vector<Scenario>& scenarios();

}  // namespace mcn::gen
