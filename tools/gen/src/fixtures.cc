// Named fixtures for `mcn-gen scenario NAME`: fixed parameters, so each pcaps/<name>.pcap and its
// hand-written expected records can be reproduced. Timelines are in ms after the scene start
// (2026-11-22T06:21:35.053Z by default); see the call flow comments in scenarios.cc.

#include <fmt/format.h>

#include "scenarios.h"

namespace mcn::gen {

namespace {

CallParams base(const std::string& name, int n = 1) {
  CallParams p;
  p.call_id = fmt::format("{}-{}@192.0.2.10", name, n);
  p.icid = fmt::format("icid-{}-{}", name, n);
  return p;
}

void answered(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("answered");
  callAnswered(s, c, p);  // 180 at 820, 200 at 5820
}

void cancelled(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("cancelled");
  p.ring_for = 11180;  // 180 at 820, CANCEL at 12000
  callCancelled(s, c, p);
}

void busy486(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("busy_486");
  p.caller_display = "王芳";  // UTF-8 display name
  p.caller = "+8613900101231";
  p.ring_after = -1;
  p.ring_for = 300;
  callFinal(s, c, p);
}

void unavailable480(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("unavailable_480");
  p.ring_after = 700;
  p.ring_for = 20000;
  p.final_code = 480;
  p.final_phrase = "Temporarily Unavailable";
  callFinal(s, c, p);
}

void declined603(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("declined_603");
  p.ring_after = 800;
  p.ring_for = 4000;
  p.final_code = 603;
  p.final_phrase = "Decline";
  callFinal(s, c, p);
}

void failed404(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("failed_404");
  p.to_uri = "sip:1099@ims.example.com";
  p.callee = "+862583001099";
  p.ring_for = 30;
  p.final_code = 404;
  p.final_phrase = "Not Found";
  callRejected(s, c, p);
}

void proxyTimeout408(Scene& s) {
  Cast c = standardCast(s);
  callProxy408(s, c, base("proxy_timeout_408"));
}

void forkAnswered(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("fork_answered");
  p.ring_after = 600;
  p.ring_for = 6400;  // b2 answers at 7000
  p.talk = 20000;
  callForkAnswered(s, c, p);
}

void parallelRing(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("parallel_ring");
  p.ring_after = 500;
  p.ring_for = 8500;  // 1014 answers at 9000
  callParallelRing(s, c, p);
}

void forkAbandoned(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("fork_abandoned");
  p.ring_after = 600;
  p.ring_for = 14400;  // CANCEL at 15000
  callForkAbandoned(s, c, p);
}

void busyToVoicemail(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("busy_to_voicemail");
  p.other = "+862583009999";
  p.ring_for = 250;  // 486 at 250, voicemail INVITE at 253, its 200 at 303
  p.talk = 20000;
  callBusyToVoicemail(s, c, p);
}

void b2buaForward(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("b2bua_forward_no_answer");
  p.call_id2 = "b2bua_forward_no_answer-2@198.51.100.10";
  p.other = "+8613800138000";
  p.ring_after = 700;
  p.ring_for = 19300;  // CANCEL to the desk at 20000
  callB2buaNoAnswer(s, c, p);
}

void forwardUnconditional(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("forward_unconditional");
  p.ring_after = 600;
  p.ring_for = 6000;  // 1014 rings at 600, answers at 6600
  p.talk = 20000;
  callForwardUnconditional(s, c, p);
}

void authAnswered(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("auth_407_answered");
  p.ring_after = 800;
  p.ring_for = 4000;
  p.talk = 20000;
  callAuthAnswered(s, c, p);
}

void redirect302(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("redirect_302");
  p.ring_for = 50;
  callRedirect(s, c, p);
  // Capture time passes grace_after_3xx_ms (8 s) with no follow-up INVITE.
  keepAlive(s, c.p, c.x, 10053, "keepalive-1@198.51.100.10");
}

void okCrossingCancel(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("ok_crossing_cancel");
  p.ring_after = 800;
  p.ring_for = 5200;  // 200 at 6000, CANCEL at 6001
  callOkCrossingCancel(s, c, p);
}

void responseFirst(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("response_before_invite");
  p.ring_after = 800;
  p.ring_for = 4200;  // relayed 200 at 5000
  p.talk = 10000;
  callResponseFirst(s, c, p);
}

void callIdReuse(Scene& s) {
  Cast c = standardCast(s);
  CallParams a = base("callid_reuse", 1);
  a.ring_after = 500;
  a.ring_for = 3000;
  a.talk = 10000;
  callAnswered(s, c, a);
  CallParams b = a;  // same Call-ID one hour later, new icid, new tags and branches
  b.icid = "icid-callid_reuse-2";
  b.t0 = 3600000;
  b.ring_after = 600;
  b.ring_for = 8400;
  callCancelled(s, c, b);
}

void withheld(Scene& s) {
  Cast c = standardCast(s);
  CallParams a = base("withheld_caller", 1);
  a.privacy = "id";  // RFC 3323/3325: identity withheld, From still shows the number
  a.ring_after = 700;
  a.ring_for = 7300;
  callCancelled(s, c, a);
  CallParams b = base("withheld_caller", 2);
  b.t0 = 20000;
  b.caller_display = "Anonymous";  // RFC 3323 §4.1.1.3 anonymous From, no Privacy header
  b.from_uri = "sip:anonymous@anonymous.invalid";
  b.pai = {"<sip:+8613900101230@ims.example.com;user=phone>", "<tel:+8613900101230>"};
  b.ring_after = -1;
  b.ring_for = 300;
  callFinal(s, c, b);
}

void numberForms(Scene& s) {
  Cast c = standardCast(s);
  struct Form {
    const char* to;
    const char* from;
    const char* pai;
    const char* display;
  };
  const Form forms[] = {
      {"tel:+86-25-8300-1013", "sip:+8613900101230@ims.example.com;user=phone",
       "<tel:+86-139-0010-1230>", ""},
      {"sip:02583001013@ims.example.com;user=phone",
       "sip:008613900101230@ims.example.com;user=phone",
       "<sip:008613900101230@ims.example.com;user=phone>", ""},
      {"sip:1013@ims.example.com", "sip:+8613900101230@ims.example.com;user=phone",
       "<tel:+8613900101230>", "Li Wei"},
      {"tel:83001013;phone-context=+8625", "tel:+8613900101230", "<tel:+8613900101230>", ""},
  };
  int n = 0;
  for (const Form& f : forms) {
    CallParams p = base("number_forms", n + 1);
    p.t0 = 10000 * n;
    p.to_uri = f.to;
    p.from_uri = f.from;
    p.pai = {f.pai};
    p.caller_display = f.display;
    // The device registered a non-numeric Contact and hop 2 has no P-Called-Party-ID, so the
    // called number can only come from To.
    p.pcpid = false;
    p.contact_user = "desk1013";
    p.ring_after = -1;
    p.ring_for = 300;
    callFinal(s, c, p);
    ++n;
  }
}

void ringTimeout(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("ring_timeout");
  p.ring_after = 100;
  callRingTimeout(s, c, p);
  // Unrelated keep-alives carry capture time past the 180 s ring timeout.
  keepAlive(s, c.p, c.x, 60000, "keepalive-1@198.51.100.10");
  keepAlive(s, c.p, c.x, 120000, "keepalive-2@198.51.100.10");
  keepAlive(s, c.p, c.x, 185000, "keepalive-3@198.51.100.10");
}

void stillRinging(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("capture_ends_ringing");
  p.ring_after = 900;
  callStillRinging(s, c, p);
  keepAlive(s, c.p, c.x, 5000, "keepalive-1@198.51.100.10");
}

// An INVITE to 1099 from ue-x that would become a call if the frame carrying it were accepted.
std::string bogusInvite(Scene& s, const Cast& c, const std::string& call_id) {
  CallParams p;
  p.to_uri = "sip:1099@ims.example.com";
  p.caller = "+8613900109999";
  p.caller_display = "";
  Leg& l = s.newLeg(call_id, "<sip:" + p.caller + "@ims.example.com;user=phone>",
                    "<" + p.to_uri + ">", c.x, "sip:" + p.caller + "@" + s.hostPort(c.x));
  l.invite_headers.push_back("P-Asserted-Identity: <tel:" + p.caller + ">");
  s.invite(0, l, c.x, c.p, p.to_uri, nullptr);
  std::string text = std::move(s.packets().back().payload);
  s.packets().pop_back();
  return text;
}

void lyingLengths(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("lying_lengths");
  p.ring_for = 11180;
  callCancelled(s, c, p);
  const Corruption lies[] = {
      {1500, -1, -1},  // IPv4 total length beyond the frame
      {-1, 3, -1},     // IPv4 IHL 3 (< 5)
      {12, -1, -1},    // IPv4 total length shorter than its header
      {-1, -1, 1600},  // UDP length beyond the IP payload
      {-1, -1, 5},     // UDP length below the UDP header
      {-1, -1, 68},    // UDP length cuts the SIP message after 60 bytes
  };
  int n = 0;
  for (const Corruption& lie : lies) {
    ++n;
    std::string text = bogusInvite(s, c, fmt::format("lying-{}@203.0.113.30", n));
    s.raw(s.at(100 * n), c.x, c.p, std::move(text), lie);
  }
}

void garbageSip(Scene& s) {
  Cast c = standardCast(s);
  CallParams p = base("garbage_sip");
  p.ring_for = 11180;
  callCancelled(s, c, p);
  // Not SIP at all.
  std::string bin(200, '\0');
  for (size_t i = 0; i < bin.size(); ++i) bin[i] = static_cast<char>(s.rng().below(256));
  bin[0] = '\x00';
  bin[1] = '\x01';
  s.raw(s.at(100), c.x, c.p, bin);
  s.raw(s.at(200), c.x, c.p, "HELLO WORLD this is not SIP\r\n");
  // Looks like SIP, is not a valid message.
  s.raw(s.at(300), c.x, c.p, "INVITE sip:1099@ims.example.com SIP/2.0\r\n\r\n");
  std::string no_call_id = bogusInvite(s, c, "garbage-4@203.0.113.30");
  const auto cid = no_call_id.find("Call-ID: ");
  no_call_id.erase(cid, no_call_id.find("\r\n", cid) + 2 - cid);
  s.raw(s.at(400), c.x, c.p, no_call_id);
  s.raw(s.at(500), c.p, c.x,
        "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 203.0.113.30:5060;branch=z9hG4bKgarbage5\r\n"
        "From: <sip:+8613900109999@ims.example.com>;tag=g5\r\n"
        "To: <sip:1099@ims.example.com>;tag=g5b\r\nCall-ID: garbage-5@203.0.113.30\r\n"
        "CSeq: abc INVITE\r\nContent-Length: 0\r\n\r\n");
  // RFC 3261 §18.3: over UDP a Content-Length beyond the datagram makes the message invalid.
  std::string long_cl = bogusInvite(s, c, "garbage-6@203.0.113.30");
  const auto cl = long_cl.find("Content-Length: ");
  long_cl.replace(cl, long_cl.find("\r\n", cl) - cl, "Content-Length: 5000");
  s.raw(s.at(600), c.x, c.p, long_cl);
}

}  // namespace

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> kAll = {
      {"answered", "rings 5 s, answered, caller hangs up", answered},
      {"cancelled", "rings 11.18 s, caller CANCELs (487)", cancelled},
      {"busy_486", "486 Busy Here at once (UTF-8 caller name)", busy486},
      {"unavailable_480", "rings 20 s, 480 Temporarily Unavailable", unavailable480},
      {"proxy_timeout_408", "device silent, hop 2 retransmitted, proxy 408 after Timer B",
       proxyTimeout408},
      {"declined_603", "rings 4 s, 603 Decline", declined603},
      {"failed_404", "proxy answers 404 Not Found (unassigned extension)", failed404},
      {"fork_answered", "two devices of one number, one answers, other CANCELled cause=200",
       forkAnswered},
      {"parallel_ring", "1013 and 1014 ring in parallel, 1014 answers", parallelRing},
      {"fork_abandoned", "two devices of one number ring, caller gives up", forkAbandoned},
      {"busy_to_voicemail", "486 then forwarded (Diversion user-busy) to voicemail, answered",
       busyToVoicemail},
      {"b2bua_forward_no_answer",
       "B2BUA forwards on no answer to a new Call-ID (History-Info), nobody answers", b2buaForward},
      {"forward_unconditional", "302 from the phone, proxy recurses with Diversion unconditional",
       forwardUnconditional},
      {"auth_407_answered", "407 challenge, retried INVITE (CSeq 2), answered", authAnswered},
      {"redirect_302", "302 Moved Temporarily, not followed", redirect302},
      {"ok_crossing_cancel", "200 OK crosses the caller's CANCEL", okCrossingCancel},
      {"response_before_invite", "responses stamped before their requests", responseFirst},
      {"callid_reuse", "same Call-ID: answered, then cancelled one hour later", callIdReuse},
      {"withheld_caller", "Privacy: id; then an anonymous From", withheld},
      {"number_forms", "tel, user=phone, national, short extension, phone-context to 1013",
       numberForms},
      {"ring_timeout", "terminating hop only, rings > 180 s with no final response", ringTimeout},
      {"capture_ends_ringing", "capture ends while ringing", stillRinging},
      {"lying_lengths", "good call + frames with lying IPv4/UDP length fields", lyingLengths},
      {"garbage_sip", "good call + garbage and malformed SIP on port 5060", garbageSip},
  };
  return kAll;
}

}  // namespace mcn::gen
