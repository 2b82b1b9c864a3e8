#pragma once
// Every field of a SipEvent as one line of text, so two events compare as strings and a
// difference prints readably (differential tests and the fuzz_sip_differential fuzzer). No test
// framework here: the fuzzer includes it too.

#include <string>

#include "mcn/sipparse/sip_event.h"

namespace mcn::sipparse::test_util {

inline void appendNameAddr(std::string& out, const char* what, const NameAddr& n) {
  out += what;
  out += "{display=" + n.display + " uri=" + n.uri + " user=" + n.user + " number=" + n.number +
         " tag=" + n.tag + "} ";
}

inline std::string eventText(const SipEvent& ev) {
  std::string out;
  out += "ts=" + std::to_string(ev.ts_us) + " src=" + ev.src.toString() + " dst=" +
         ev.dst.toString() + " transport=" + capture::transportName(ev.transport);
  out += ev.is_request ? " request" : " response";
  out += " method=" + std::to_string(static_cast<int>(ev.method)) + " method_name=" + ev.method_name;
  appendNameAddr(out, " ruri", ev.request_uri);
  out += "status=" + std::to_string(ev.status) + " phrase=" + ev.phrase;
  out += " call_id=" + ev.call_id + " cseq=" + std::to_string(ev.cseq) + " " +
         std::to_string(static_cast<int>(ev.cseq_method)) + " ";
  appendNameAddr(out, "from", ev.from);
  appendNameAddr(out, "to", ev.to);
  out += "via_branch=" + ev.via_branch + " via_count=" + std::to_string(ev.via_count);
  for (const NameAddr& p : ev.pai) appendNameAddr(out, " pai", p);
  if (ev.p_called_party_id) appendNameAddr(out, " pcpid", *ev.p_called_party_id);
  for (const std::string& p : ev.privacy) out += " privacy=" + p;
  for (const auto* list : {&ev.diversion, &ev.history_info}) {
    for (const Redirection& r : *list) {
      appendNameAddr(out, list == &ev.diversion ? " diversion" : " history", r.target);
      out += "reason=" + r.reason + " cause=" + std::to_string(r.cause) + " index=" + r.index +
             " counter=" + std::to_string(r.counter);
    }
  }
  for (const ReasonValue& r : ev.reasons) {
    out += " reason{" + r.protocol + " " + std::to_string(r.cause) + " " + r.text + "}";
  }
  out += " icid=" + ev.icid + " correlation=" + ev.correlation;
  if (ev.replaces) {
    out += " replaces{" + ev.replaces->call_id + " to=" + ev.replaces->to_tag +
           " from=" + ev.replaces->from_tag + (ev.replaces->early_only ? " early-only}" : "}");
  }
  return out;
}

}  // namespace mcn::sipparse::test_util
