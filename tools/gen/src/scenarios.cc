#include "scenarios.h"

#include <fmt/format.h>

namespace mcn::gen {

namespace {

const std::string kCompletedElsewhere = "Reason: SIP;cause=200;text=\"Call completed elsewhere\"";

std::string nameAddr(const std::string& display, const std::string& uri) {
  return display.empty() ? "<" + uri + ">" : "\"" + display + "\" <" + uri + ">";
}
std::string sipPhone(const std::string& number) {
  return "sip:" + number + "@" + kDomain + ";user=phone";
}
std::string pcpid(const std::string& number) {
  return "P-Called-Party-ID: <" + sipPhone(number) + ">";
}

Leg& callerLeg(Scene& s, const Cast& c, const CallParams& p, const std::string& call_id) {
  const std::string from_uri = p.from_uri.empty() ? sipPhone(p.caller) : p.from_uri;
  Leg& l = s.newLeg(call_id, nameAddr(p.caller_display, from_uri), "<" + p.to_uri + ">", c.a,
                    "sip:" + p.caller + "@" + s.hostPort(c.a));
  if (!p.no_pai) {
    if (p.pai.empty()) {
      l.invite_headers.push_back("P-Asserted-Identity: " +
                                 nameAddr(p.caller_display, sipPhone(p.caller)));
      l.invite_headers.push_back("P-Asserted-Identity: <tel:" + p.caller + ">");
    } else {
      for (const auto& v : p.pai) l.invite_headers.push_back("P-Asserted-Identity: " + v);
    }
  }
  if (!p.privacy.empty()) l.invite_headers.push_back("Privacy: " + p.privacy);
  if (!p.icid.empty()) {
    l.invite_headers.push_back("P-Charging-Vector: icid-value=" + p.icid +
                               ";icid-generated-at=" + s.host(c.p));
  }
  return l;
}

std::string devContact(Scene& s, const CallParams& p, uint16_t dev, const std::string& number) {
  return "sip:" + (p.contact_user.empty() ? number : p.contact_user) + "@" + s.hostPort(dev);
}

struct Hops {
  Txn* h1;
  Txn* h2;
};

// hop 1 at t, 100 Trying at t+1, hop 2 to the callee's device at t+2.
Hops begin2(Scene& s, const Cast& c, const CallParams& p, Leg& leg, uint16_t dev, int64_t t) {
  Txn& h1 = s.invite(s.at(t), leg, c.a, c.p, p.to_uri, nullptr);
  s.respond(s.at(t + 1), h1, Resp{100, "Trying"});
  std::vector<std::string> extra;
  if (p.pcpid) extra.push_back(pcpid(p.callee));
  Txn& h2 = s.invite(s.at(t + 2), leg, c.p, dev, devContact(s, p, dev, p.callee), &h1, extra);
  return {&h1, &h2};
}

// A response at the device's hop at t and relayed to the caller at t+1.
void relay(Scene& s, int64_t t, Txn& down, Txn& up, const Resp& r) {
  s.respond(s.at(t), down, r);
  s.respond(s.at(t + 1), up, r);
}

Resp ringing(const std::string& tag, const std::string& contact) {
  return Resp{180, "Ringing", tag, contact};
}
Resp answer(Scene& s, const std::string& tag, const std::string& contact, uint16_t node) {
  return Resp{200, "OK", tag, contact, s.sdp(node, 50000)};
}

// A non-2xx final response at hop 2 and hop 1, each ACKed by its client (hop by hop).
void fail2(Scene& s, Hops h, int64_t t, int code, const std::string& phrase,
           const std::string& tag) {
  s.respond(s.at(t), *h.h2, Resp{code, phrase, tag});
  s.ackNon2xx(s.at(t + 1), *h.h2, tag);
  s.respond(s.at(t + 2), *h.h1, Resp{code, phrase, tag});
  s.ackNon2xx(s.at(t + 3), *h.h1, tag);
}

void ack2(Scene& s, Dialog& d, int64_t t, uint16_t a, uint16_t p, uint16_t b, uint32_t cseq) {
  Txn& x = s.inDialog(s.at(t), "ACK", d, true, a, p, nullptr, cseq);
  s.inDialog(s.at(t + 1), "ACK", d, true, p, b, &x, cseq);
}

// BYE over both hops at t, t+1; 200 OK back at t+50, t+51.
void bye2(Scene& s, Dialog& d, int64_t t, bool from_caller, uint16_t from, uint16_t p,
          uint16_t to) {
  const uint32_t cseq = from_caller ? ++d.leg->cseq : ++d.callee_cseq;
  Txn& x = s.inDialog(s.at(t), "BYE", d, from_caller, from, p, nullptr, cseq);
  Txn& y = s.inDialog(s.at(t + 1), "BYE", d, from_caller, p, to, &x, cseq);
  s.respond(s.at(t + 50), y, Resp{200, "OK"});
  s.respond(s.at(t + 51), x, Resp{200, "OK"});
}

// The caller gives up at t (hop 1 CANCEL), the proxy cancels every device branch; 487s back.
void abandon(Scene& s, Txn& h1, const std::vector<Txn*>& branches,
             const std::vector<std::string>& tags, int64_t t) {
  Txn& c1 = s.cancel(s.at(t), h1);
  s.respond(s.at(t + 1), c1, Resp{200, "OK", tags.front()});
  for (size_t i = 0; i < branches.size(); ++i) {
    Txn& cx = s.cancel(s.at(t + 2 + static_cast<int64_t>(i)), *branches[i]);
    const int64_t r = t + 40 + 20 * static_cast<int64_t>(i);
    s.respond(s.at(r + 10), cx, Resp{200, "OK", tags[i]});
    s.respond(s.at(r + 11), *branches[i], Resp{487, "Request Terminated", tags[i]});
    s.ackNon2xx(s.at(r + 12), *branches[i], tags[i]);
  }
  const int64_t last = t + 40 + 20 * static_cast<int64_t>(branches.size() - 1) + 13;
  s.respond(s.at(last), h1, Resp{487, "Request Terminated", tags.front()});
  s.ackNon2xx(s.at(last + 47), h1, tags.front());
}

}  // namespace

Cast standardCast(Scene& s) {
  Cast c;
  c.a = s.addNode("ue-a", "192.0.2.10");
  c.p = s.addNode("pcscf", "198.51.100.10");
  c.scscf = s.addNode("scscf", "198.51.100.20");
  c.vm = s.addNode("vm", "198.51.100.40");
  c.mgcf = s.addNode("mgcf", "198.51.100.50");
  c.b1 = s.addNode("ue-b1", "203.0.113.21");
  c.b2 = s.addNode("ue-b2", "203.0.113.22");
  c.c = s.addNode("ue-c", "203.0.113.23");
  c.x = s.addNode("ue-x", "203.0.113.30");
  return c;
}

// 0 INVITE h1, 1 100, 2 INVITE h2, R 180 (h2, h1 +1), R+ring_for 200 (h2, h1 +1),
// +70 ACK (h1, h2 +1), +talk BYE from the caller, 200 OK 50 ms later.
void callAnswered(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Hops h = begin2(s, c, p, leg, c.b1, p.t0);
  const std::string tag = s.newTag(), contact = devContact(s, p, c.b1, p.callee);
  const int64_t r = p.t0 + p.ring_after, ans = r + p.ring_for;
  relay(s, r, *h.h2, *h.h1, ringing(tag, contact));
  relay(s, ans, *h.h2, *h.h1, answer(s, tag, contact, c.b1));
  Dialog d{&leg, tag, contact};
  ack2(s, d, ans + 70, c.a, c.p, c.b1, leg.cseq);
  bye2(s, d, ans + 70 + p.talk, true, c.a, c.p, c.b1);
}

// Rings at R, the caller CANCELs at R+ring_for (the CANCEL precedes the 487).
void callCancelled(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Hops h = begin2(s, c, p, leg, c.b1, p.t0);
  const std::string tag = s.newTag(), contact = devContact(s, p, c.b1, p.callee);
  const int64_t r = p.t0 + p.ring_after;
  relay(s, r, *h.h2, *h.h1, ringing(tag, contact));
  abandon(s, *h.h1, {h.h2}, {tag}, r + p.ring_for);
}

// The device answers final_code: at R+ring_for after ringing from R (ring_after >= 0), or at
// t0+ring_for without ringing.
void callFinal(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Hops h = begin2(s, c, p, leg, c.b1, p.t0);
  const std::string tag = s.newTag(), contact = devContact(s, p, c.b1, p.callee);
  int64_t fin = p.t0 + p.ring_for;
  if (p.ring_after >= 0) {
    relay(s, p.t0 + p.ring_after, *h.h2, *h.h1, ringing(tag, contact));
    fin = p.t0 + p.ring_after + p.ring_for;
  }
  fail2(s, h, fin, p.final_code, p.final_phrase, tag);
}

// The proxy itself answers hop 1 with final_code at t0+ring_for (no hop 2).
void callRejected(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Txn& h1 = s.invite(s.at(p.t0), leg, c.a, c.p, p.to_uri, nullptr);
  s.respond(s.at(p.t0 + 1), h1, Resp{100, "Trying"});
  const std::string ptag = s.newTag();
  s.respond(s.at(p.t0 + p.ring_for), h1, Resp{p.final_code, p.final_phrase, ptag});
  s.ackNon2xx(s.at(p.t0 + p.ring_for + 1), h1, ptag);
}

// The device never answers: the proxy retransmits hop 2 (Timer A: +0.5, 1.5, 3.5, 7.5, 15.5,
// 31.5 s) and when Timer B fires (64*T1 = 32 s after hop 2) answers hop 1 with 408.
void callProxy408(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Hops h = begin2(s, c, p, leg, c.b1, p.t0);
  int64_t t = p.t0 + 2, interval = 500;
  for (int k = 0; k < 6; ++k) {
    t += interval;
    s.resend(s.at(t), *h.h2);
    interval *= 2;
  }
  const std::string ptag = s.newTag();
  s.respond(s.at(p.t0 + 2 + 32000), *h.h1, Resp{408, "Request Timeout", ptag});
  s.ackNon2xx(s.at(p.t0 + 2 + 32048), *h.h1, ptag);
}

// Two devices of the same number ring (R, R+50); the second answers at R+ring_for; the proxy
// CANCELs the first with Reason cause=200 (RFC 3326). The callee hangs up after talk.
void callForkAnswered(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Txn& h1 = s.invite(s.at(p.t0), leg, c.a, c.p, p.to_uri, nullptr);
  s.respond(s.at(p.t0 + 1), h1, Resp{100, "Trying"});
  std::vector<std::string> extra;
  if (p.pcpid) extra.push_back(pcpid(p.callee));
  Txn& ha = s.invite(s.at(p.t0 + 2), leg, c.p, c.b1, devContact(s, p, c.b1, p.callee), &h1, extra);
  Txn& hb = s.invite(s.at(p.t0 + 3), leg, c.p, c.b2, devContact(s, p, c.b2, p.callee), &h1, extra);
  const std::string ta = s.newTag(), tb = s.newTag();
  const std::string ca = devContact(s, p, c.b1, p.callee), cb = devContact(s, p, c.b2, p.callee);
  const int64_t r = p.t0 + p.ring_after, ans = r + p.ring_for;
  relay(s, r, ha, h1, ringing(ta, ca));
  relay(s, r + 50, hb, h1, ringing(tb, cb));
  relay(s, ans, hb, h1, answer(s, tb, cb, c.b2));
  Txn& cx = s.cancel(s.at(ans + 2), ha, kCompletedElsewhere);
  s.respond(s.at(ans + 40), cx, Resp{200, "OK", ta});
  s.respond(s.at(ans + 41), ha, Resp{487, "Request Terminated", ta});
  s.ackNon2xx(s.at(ans + 42), ha, ta);
  Dialog d{&leg, tb, cb};
  ack2(s, d, ans + 100, c.a, c.p, c.b2, leg.cseq);
  bye2(s, d, ans + 100 + p.talk, false, c.b2, c.p, c.a);
}

// The proxy rings the called number (device b1) and another number (`other`, device c) in
// parallel; `other` answers at R+ring_for; b1's branch is CANCELled with Reason cause=200.
void callParallelRing(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Txn& h1 = s.invite(s.at(p.t0), leg, c.a, c.p, p.to_uri, nullptr);
  s.respond(s.at(p.t0 + 1), h1, Resp{100, "Trying"});
  Txn& ha = s.invite(s.at(p.t0 + 2), leg, c.p, c.b1, devContact(s, p, c.b1, p.callee), &h1,
                     {pcpid(p.callee)});
  const std::string cc = "sip:" + p.other + "@" + s.hostPort(c.c);
  Txn& hb = s.invite(s.at(p.t0 + 3), leg, c.p, c.c, cc, &h1, {pcpid(p.other)});
  const std::string ta = s.newTag(), tb = s.newTag();
  const std::string ca = devContact(s, p, c.b1, p.callee);
  const int64_t r = p.t0 + p.ring_after, ans = r + p.ring_for;
  relay(s, r, ha, h1, ringing(ta, ca));
  relay(s, r + 40, hb, h1, ringing(tb, cc));
  relay(s, ans, hb, h1, answer(s, tb, cc, c.c));
  Txn& cx = s.cancel(s.at(ans + 2), ha, kCompletedElsewhere);
  s.respond(s.at(ans + 40), cx, Resp{200, "OK", ta});
  s.respond(s.at(ans + 41), ha, Resp{487, "Request Terminated", ta});
  s.ackNon2xx(s.at(ans + 42), ha, ta);
  Dialog d{&leg, tb, cc};
  ack2(s, d, ans + 100, c.a, c.p, c.c, leg.cseq);
  bye2(s, d, ans + 100 + p.talk, true, c.a, c.p, c.c);
}

// Two devices of the same number ring (R, R+50); the caller gives up at R+ring_for.
void callForkAbandoned(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Txn& h1 = s.invite(s.at(p.t0), leg, c.a, c.p, p.to_uri, nullptr);
  s.respond(s.at(p.t0 + 1), h1, Resp{100, "Trying"});
  std::vector<std::string> extra;
  if (p.pcpid) extra.push_back(pcpid(p.callee));
  Txn& ha = s.invite(s.at(p.t0 + 2), leg, c.p, c.b1, devContact(s, p, c.b1, p.callee), &h1, extra);
  Txn& hb = s.invite(s.at(p.t0 + 3), leg, c.p, c.b2, devContact(s, p, c.b2, p.callee), &h1, extra);
  const std::string ta = s.newTag(), tb = s.newTag();
  const int64_t r = p.t0 + p.ring_after;
  relay(s, r, ha, h1, ringing(ta, devContact(s, p, c.b1, p.callee)));
  relay(s, r + 50, hb, h1, ringing(tb, devContact(s, p, c.b2, p.callee)));
  abandon(s, h1, {&ha, &hb}, {ta, tb}, r + p.ring_for);
}

// The device answers 486 at t0+ring_for; the proxy forwards (same Call-ID, new branch) to the
// voicemail number `other` with Diversion reason=user-busy (RFC 5806); voicemail answers 47 ms
// later; the caller hangs up after talk.
void callBusyToVoicemail(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Hops h = begin2(s, c, p, leg, c.b1, p.t0);
  const std::string tb = s.newTag(), tv = s.newTag(), tp = s.newTag();
  const int64_t busy = p.t0 + p.ring_for;
  s.respond(s.at(busy), *h.h2, Resp{486, "Busy Here", tb});
  s.ackNon2xx(s.at(busy + 1), *h.h2, tb);
  const std::string vc = "sip:" + p.other + "@" + s.hostPort(c.vm);
  Txn& hv =
      s.invite(s.at(busy + 3), leg, c.p, c.vm, vc, h.h1,
               {"Diversion: <" + sipPhone(p.callee) + ">;reason=user-busy;counter=1;privacy=off"});
  s.respond(s.at(busy + 4), *h.h1, Resp{181, "Call Is Being Forwarded", tp});
  relay(s, busy + 50, hv, *h.h1, answer(s, tv, vc, c.vm));
  Dialog d{&leg, tv, vc};
  ack2(s, d, busy + 100, c.a, c.p, c.vm, leg.cseq);
  bye2(s, d, busy + 100 + p.talk, true, c.a, c.p, c.vm);
}

// B2BUA call forwarding on no answer (an MMTel AS): the device rings from R; at R+ring_for the
// B2BUA CANCELs it and starts a new leg (call_id2, same icid) to `other` through the MGCF with
// History-Info (RFC 7044, cause=408 per RFC 4458). That number rings (183) 2 s later; the caller
// gives up 10 s after that; nobody answered.
void callB2buaNoAnswer(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Hops h = begin2(s, c, p, leg, c.b1, p.t0);
  const std::string tb = s.newTag(), tp = s.newTag(), tm = s.newTag();
  const std::string cb = devContact(s, p, c.b1, p.callee);
  const int64_t r = p.t0 + p.ring_after, fw = r + p.ring_for;
  relay(s, r, *h.h2, *h.h1, ringing(tb, cb));
  Txn& cx = s.cancel(s.at(fw), *h.h2);
  s.respond(s.at(fw + 38), cx, Resp{200, "OK", tb});
  s.respond(s.at(fw + 39), *h.h2, Resp{487, "Request Terminated", tb});
  s.ackNon2xx(s.at(fw + 40), *h.h2, tb);
  s.respond(s.at(fw + 41), *h.h1, Resp{181, "Call Is Being Forwarded", tp});

  CallParams q = p;
  Leg& y = callerLeg(s, c, q, p.call_id2);
  y.to = "<" + sipPhone(p.other) + ">";
  y.contact_uri = "sip:" + p.caller + "@" + s.hostPort(c.p);
  y.origin = c.p;
  const std::string hi = "History-Info: <" + sipPhone(p.callee) + ">;index=1, <sip:" + p.other +
                         "@" + kDomain + ";user=phone;cause=408>;index=1.1";
  Txn& hy = s.invite(s.at(fw + 42), y, c.p, c.mgcf,
                     "sip:" + p.other + "@" + s.hostPort(c.mgcf) + ";user=phone", nullptr, {hi});
  s.respond(s.at(fw + 43), hy, Resp{100, "Trying"});
  Resp progress{183, "Session Progress", tm, "sip:" + p.other + "@" + s.hostPort(c.mgcf),
                s.sdp(c.mgcf, 30000)};
  s.respond(s.at(fw + 2000), hy, progress);
  progress.tag = tp;
  s.respond(s.at(fw + 2001), *h.h1, progress);

  const int64_t gu = fw + 2000 + 10000;
  Txn& c1 = s.cancel(s.at(gu), *h.h1);
  s.respond(s.at(gu + 1), c1, Resp{200, "OK", tp});
  Txn& cy = s.cancel(s.at(gu + 2), hy);
  s.respond(s.at(gu + 40), cy, Resp{200, "OK", tm});
  s.respond(s.at(gu + 41), hy, Resp{487, "Request Terminated", tm});
  s.ackNon2xx(s.at(gu + 42), hy, tm);
  s.respond(s.at(gu + 43), *h.h1, Resp{487, "Request Terminated", tp});
  s.ackNon2xx(s.at(gu + 90), *h.h1, tp);
}

// Call forwarding unconditional set on the phone: it answers 302 (Contact: `other`) at t0+40;
// the proxy recurses at t0+43 with Diversion reason=unconditional to `other` (device c), which
// rings at t0+ring_after and answers ring_for later.
void callForwardUnconditional(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Hops h = begin2(s, c, p, leg, c.b1, p.t0);
  const std::string tb = s.newTag(), tc = s.newTag(), tp = s.newTag();
  s.respond(s.at(p.t0 + 40), *h.h2, Resp{302, "Moved Temporarily", tb, sipPhone(p.other)});
  s.ackNon2xx(s.at(p.t0 + 41), *h.h2, tb);
  const std::string cc = "sip:" + p.other + "@" + s.hostPort(c.c);
  Txn& hc = s.invite(
      s.at(p.t0 + 43), leg, c.p, c.c, cc, h.h1,
      {pcpid(p.other), "Diversion: <" + sipPhone(p.callee) + ">;reason=unconditional;counter=1"});
  s.respond(s.at(p.t0 + 44), *h.h1, Resp{181, "Call Is Being Forwarded", tp});
  const int64_t r = p.t0 + p.ring_after, ans = r + p.ring_for;
  relay(s, r, hc, *h.h1, ringing(tc, cc));
  relay(s, ans, hc, *h.h1, answer(s, tc, cc, c.c));
  Dialog d{&leg, tc, cc};
  ack2(s, d, ans + 50, c.a, c.p, c.c, leg.cseq);
  bye2(s, d, ans + 50 + p.talk, true, c.a, c.p, c.c);
}

// The proxy challenges the first INVITE (407, RFC 3261 §22.3); the caller retries at t0+40 with
// CSeq 2 and credentials; then rings at t0+ring_after and is answered ring_for later.
void callAuthAnswered(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Txn& h0 = s.invite(s.at(p.t0), leg, c.a, c.p, p.to_uri, nullptr);
  const std::string tp = s.newTag(), nonce = s.rng().hex(32);
  s.respond(s.at(p.t0 + 1), h0,
            Resp{407,
                 "Proxy Authentication Required",
                 tp,
                 {},
                 {},
                 {"Proxy-Authenticate: Digest realm=\"" + std::string(kDomain) + "\", nonce=\"" +
                  nonce + "\", algorithm=MD5, qop=\"auth\""}});
  s.ackNon2xx(s.at(p.t0 + 2), h0, tp);
  leg.cseq = 2;
  const std::string auth = "Proxy-Authorization: Digest username=\"" + p.caller + "@" + kDomain +
                           "\", realm=\"" + kDomain + "\", nonce=\"" + nonce + "\", uri=\"" +
                           p.to_uri + "\", response=\"" + s.rng().hex(32) +
                           "\", algorithm=MD5, cnonce=\"" + s.rng().hex(8) +
                           "\", qop=auth, nc=00000001";
  Txn& h1 = s.invite(s.at(p.t0 + 40), leg, c.a, c.p, p.to_uri, nullptr, {auth});
  s.respond(s.at(p.t0 + 41), h1, Resp{100, "Trying"});
  Txn& h2 = s.invite(s.at(p.t0 + 42), leg, c.p, c.b1, devContact(s, p, c.b1, p.callee), &h1,
                     {pcpid(p.callee)});
  const std::string tb = s.newTag(), cb = devContact(s, p, c.b1, p.callee);
  const int64_t r = p.t0 + p.ring_after, ans = r + p.ring_for;
  relay(s, r, h2, h1, ringing(tb, cb));
  relay(s, ans, h2, h1, answer(s, tb, cb, c.b1));
  Dialog d{&leg, tb, cb};
  ack2(s, d, ans + 50, c.a, c.p, c.b1, leg.cseq);
  bye2(s, d, ans + 50 + p.talk, true, c.a, c.p, c.b1);
}

// The phone answers 302 (Contact: `other`) at t0+ring_for; the proxy does not recurse and passes
// it to the caller, who does not follow it.
void callRedirect(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Hops h = begin2(s, c, p, leg, c.b1, p.t0);
  const std::string tb = s.newTag();
  const Resp moved{302, "Moved Temporarily", tb, sipPhone(p.other)};
  const int64_t t = p.t0 + p.ring_for;
  s.respond(s.at(t), *h.h2, moved);
  s.ackNon2xx(s.at(t + 1), *h.h2, tb);
  s.respond(s.at(t + 2), *h.h1, moved);
  s.ackNon2xx(s.at(t + 3), *h.h1, tb);
}

// The device answers at R+ring_for while the caller's CANCEL is on its way (1 ms later); the
// 200 OK wins (RFC 3261 §9.2), the caller ACKs and hangs up at once.
void callOkCrossingCancel(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Hops h = begin2(s, c, p, leg, c.b1, p.t0);
  const std::string tb = s.newTag(), cb = devContact(s, p, c.b1, p.callee);
  const int64_t r = p.t0 + p.ring_after, ans = r + p.ring_for;
  relay(s, r, *h.h2, *h.h1, ringing(tb, cb));
  const Resp ok = answer(s, tb, cb, c.b1);
  s.respond(s.at(ans), *h.h2, ok);
  Txn& cx = s.cancel(s.at(ans + 1), *h.h1);
  s.respond(s.at(ans + 2), *h.h1, ok);
  s.respond(s.at(ans + 3), cx, Resp{200, "OK", tb});
  Dialog d{&leg, tb, cb};
  ack2(s, d, ans + 50, c.a, c.p, c.b1, leg.cseq);
  bye2(s, d, ans + 52, true, c.a, c.p, c.b1);
}

// Capture order is not causal order: the mirror stamps the proxy's side first. 100 Trying at t0
// before the INVITE at t0+1; the relayed 180 at R before the device's 180 at R+1; the relayed
// 200 at A before the device's 200 at A+1. The callee hangs up.
void callResponseFirst(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Txn& h1 = s.invite(s.at(p.t0 + 1), leg, c.a, c.p, p.to_uri, nullptr);
  s.respond(s.at(p.t0), h1, Resp{100, "Trying"});
  Txn& h2 = s.invite(s.at(p.t0 + 2), leg, c.p, c.b1, devContact(s, p, c.b1, p.callee), &h1,
                     {pcpid(p.callee)});
  const std::string tb = s.newTag(), cb = devContact(s, p, c.b1, p.callee);
  const int64_t r = p.t0 + p.ring_after, ans = r + p.ring_for;
  const Resp ring = ringing(tb, cb);
  s.respond(s.at(r), h1, ring);
  s.respond(s.at(r + 1), h2, ring);
  const Resp ok = answer(s, tb, cb, c.b1);
  s.respond(s.at(ans), h1, ok);
  s.respond(s.at(ans + 1), h2, ok);
  Dialog d{&leg, tb, cb};
  ack2(s, d, ans + 50, c.a, c.p, c.b1, leg.cseq);
  bye2(s, d, ans + 51 + p.talk, false, c.b1, c.p, c.a);
}

// Only the terminating hop is mirrored (P-CSCF -> device, Via: P-CSCF, S-CSCF). The device rings
// at t0+ring_after and nothing else happens to the call.
void callRingTimeout(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  leg.to = "<" + sipPhone(p.callee) + ">";
  Txn upstream;
  upstream.cseq = leg.cseq;
  upstream.vias = {{c.scscf, s.newBranch()}};
  Txn& h = s.invite(s.at(p.t0), leg, c.p, c.b1, devContact(s, p, c.b1, p.callee), &upstream,
                    {pcpid(p.callee)});
  const std::string tb = s.newTag();
  s.respond(s.at(p.t0 + p.ring_after), h, ringing(tb, devContact(s, p, c.b1, p.callee)));
}

// Rings at R (hop 2, relayed at R+1); nothing more.
void callStillRinging(Scene& s, const Cast& c, const CallParams& p) {
  Leg& leg = callerLeg(s, c, p, p.call_id);
  Hops h = begin2(s, c, p, leg, c.b1, p.t0);
  const std::string tb = s.newTag();
  relay(s, p.t0 + p.ring_after, *h.h2, *h.h1, ringing(tb, devContact(s, p, c.b1, p.callee)));
}

// The non-call messages are most of the packets, so they are rendered directly into their
// payloads (no Leg/Txn bookkeeping): the mix must write millions per second.
namespace {

// A response to `req` (a request rendered by these helpers): status line, then the request's
// Via, From, To (+tag), Call-ID and CSeq lines, then `extra` and an empty body.
std::string responseTo(const std::string& req, std::string_view status, std::string_view to_tag,
                       std::string_view extra) {
  std::string r;
  r.reserve(req.size());
  r.append("SIP/2.0 ").append(status).append("\r\n");
  size_t pos = req.find("\r\n") + 2;
  while (pos < req.size()) {
    const size_t end = req.find("\r\n", pos);
    if (end == pos) break;
    std::string_view line(req.data() + pos, end - pos);
    if (line.starts_with("Via:") || line.starts_with("From:") || line.starts_with("Call-ID:") ||
        line.starts_with("CSeq:")) {
      r.append(line).append("\r\n");
    } else if (line.starts_with("To:")) {
      r.append(line);
      if (!to_tag.empty()) r.append(";tag=").append(to_tag);
      r.append("\r\n");
    }
    pos = end + 2;
  }
  r.append(extra).append("Content-Length: 0\r\n\r\n");
  return r;
}

void appendAor(std::string& s, const std::string& number) {
  s.append("<sip:").append(number).append("@").append(kDomain).append(">");
}

}  // namespace

// OPTIONS keep-alive from the P-CSCF, answered 30 ms later. Both built in one pass: these are
// about 40% of the mix's packets.
void keepAlive(Scene& s, uint16_t from, uint16_t to, int64_t t_ms, const std::string& id) {
  std::string via, target;
  via.reserve(80);
  target.reserve(32);
  s.appendNewVia(via, from);
  s.appendHostPort(target, to);
  std::string from_line;
  from_line.reserve(60);
  from_line.append("From: <sip:pcscf@").append(kDomain).append(">;tag=");
  s.rng().appendHex(from_line, 10);
  from_line.append("\r\n");
  std::string q;
  q.reserve(400);
  q.append("OPTIONS sip:").append(target).append(" SIP/2.0\r\n").append(via);
  q.append("Max-Forwards: 70\r\n").append(from_line);
  q.append("To: <sip:").append(target).append(">\r\nCall-ID: ").append(id);
  q.append("\r\nCSeq: 1 OPTIONS\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n");
  std::string r;
  r.reserve(400);
  r.append("SIP/2.0 200 OK\r\n").append(via).append(from_line);
  r.append("To: <sip:").append(target).append(">;tag=");
  s.rng().appendHex(r, 10);
  r.append("\r\nCall-ID: ").append(id).append("\r\nCSeq: 1 OPTIONS\r\n");
  r.append("Allow: INVITE, ACK, CANCEL, BYE, UPDATE, PRACK, OPTIONS\r\nContent-Length: 0\r\n\r\n");
  s.raw(s.at(t_ms), from, to, std::move(q));
  s.raw(s.at(t_ms + 30), to, from, std::move(r));
}

// IMS registration: REGISTER, 401 with a challenge, REGISTER with credentials, 200 OK.
void registration(Scene& s, uint16_t ue, uint16_t pcscf, const std::string& number, int64_t t_ms,
                  const std::string& id) {
  std::string contact = "Contact: <sip:" + number + "@";
  s.appendHostPort(contact, ue);
  contact.append(">;expires=600000;+sip.instance=\"<urn:gsma:imei:35");
  s.rng().appendHex(contact, 12);
  contact.append(">\"\r\n");
  std::string from_tag = s.rng().hex(10);
  const std::string nonce = s.rng().hex(32);
  auto reg = [&](int cseq) {
    std::string q;
    q.reserve(900);
    q.append("REGISTER sip:").append(kDomain).append(" SIP/2.0\r\n");
    s.appendNewVia(q, ue);
    q.append("Max-Forwards: 70\r\nFrom: ");
    appendAor(q, number);
    q.append(";tag=").append(from_tag).append("\r\nTo: ");
    appendAor(q, number);
    q.append("\r\nCall-ID: ")
        .append(id)
        .append(cseq == 1 ? "\r\nCSeq: 1 REGISTER\r\n" : "\r\nCSeq: 2 REGISTER\r\n");
    q.append(contact).append("Expires: 600000\r\nAuthorization: Digest username=\"");
    q.append(number).append("@").append(kDomain).append("\", realm=\"").append(kDomain);
    q.append("\", uri=\"sip:").append(kDomain).append("\", nonce=\"");
    if (cseq == 1) {
      q.append("\", response=\"\"\r\n");
    } else {
      q.append(nonce).append("\", algorithm=AKAv1-MD5, response=\"");
      s.rng().appendHex(q, 32);
      q.append("\", qop=auth, nc=00000001, cnonce=\"");
      s.rng().appendHex(q, 8);
      q.append("\"\r\n");
    }
    q.append("Supported: path, sec-agree\r\nContent-Length: 0\r\n\r\n");
    return q;
  };
  std::string r1 = reg(1);
  std::string a1 =
      responseTo(r1, "401 Unauthorized", s.rng().hex(10),
                 "WWW-Authenticate: Digest realm=\"" + std::string(kDomain) + "\", nonce=\"" +
                     nonce + "\", algorithm=AKAv1-MD5, qop=\"auth\"\r\n");
  std::string r2 = reg(2);
  std::string extra = contact + "P-Associated-URI: <sip:" + number + "@" + kDomain +
                      ">, <tel:" + number + ">\r\nService-Route: <sip:orig@" + s.host(pcscf) +
                      ";lr>\r\n";
  std::string a2 = responseTo(r2, "200 OK", s.rng().hex(10), extra);
  s.raw(s.at(t_ms), ue, pcscf, std::move(r1));
  s.raw(s.at(t_ms + 6), pcscf, ue, std::move(a1));
  s.raw(s.at(t_ms + 40), ue, pcscf, std::move(r2));
  s.raw(s.at(t_ms + 47), pcscf, ue, std::move(a2));
}

// reg-event subscription (RFC 3680): SUBSCRIBE, 200, NOTIFY with reginfo, 200.
void regEvent(Scene& s, uint16_t ue, uint16_t pcscf, const std::string& number, int64_t t_ms,
              const std::string& id) {
  std::string contact_uri = "sip:" + number + "@";
  s.appendHostPort(contact_uri, ue);
  const std::string ftag = s.rng().hex(10), ntag = s.rng().hex(10);
  std::string q;
  q.reserve(700);
  q.append("SUBSCRIBE sip:").append(number).append("@").append(kDomain).append(" SIP/2.0\r\n");
  s.appendNewVia(q, ue);
  q.append("Max-Forwards: 70\r\nFrom: ");
  appendAor(q, number);
  q.append(";tag=").append(ftag).append("\r\nTo: ");
  appendAor(q, number);
  q.append("\r\nCall-ID: ").append(id).append("\r\nCSeq: 1 SUBSCRIBE\r\n");
  q.append("Event: reg\r\nExpires: 600000\r\nAccept: application/reginfo+xml\r\nContact: <");
  q.append(contact_uri).append(">\r\nContent-Length: 0\r\n\r\n");
  std::string pc = "Contact: <sip:";
  s.appendHostPort(pc, pcscf);
  pc.append(">\r\n");
  std::string a = responseTo(q, "200 OK", ntag, pc + "Expires: 600000\r\n");
  std::string body =
      "<?xml version=\"1.0\"?>\r\n<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" "
      "version=\"0\" state=\"full\">\r\n<registration aor=\"sip:" +
      number + "@" + kDomain +
      "\" id=\"r1\" state=\"active\">\r\n<contact id=\"c1\" state=\"active\" "
      "event=\"registered\"><uri>" +
      contact_uri + "</uri></contact>\r\n</registration>\r\n</reginfo>\r\n";
  std::string n;
  n.reserve(1000);
  n.append("NOTIFY ").append(contact_uri).append(" SIP/2.0\r\n");
  s.appendNewVia(n, pcscf);
  n.append("Max-Forwards: 70\r\nFrom: ");
  appendAor(n, number);
  n.append(";tag=").append(ntag).append("\r\nTo: ");
  appendAor(n, number);
  n.append(";tag=").append(ftag).append("\r\nCall-ID: ").append(id);
  n.append("\r\nCSeq: 1 NOTIFY\r\nEvent: reg\r\nSubscription-State: active;expires=600000\r\n");
  n.append(pc).append("Content-Type: application/reginfo+xml\r\nContent-Length: ");
  n.append(std::to_string(body.size())).append("\r\n\r\n").append(body);
  std::string na = responseTo(n, "200 OK", {}, {});
  // responseTo copied the To with its tag already.
  s.raw(s.at(t_ms), ue, pcscf, std::move(q));
  s.raw(s.at(t_ms + 4), pcscf, ue, std::move(a));
  s.raw(s.at(t_ms + 9), pcscf, ue, std::move(n));
  s.raw(s.at(t_ms + 15), ue, pcscf, std::move(na));
}

}  // namespace mcn::gen
