#pragma once
// Builders for SipEvent values and a harness around CallTracker for the calls/ tests. Events are
// built directly (the parser is tested on its own); time is fake: microseconds from kT0.

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mcn/calls/call_record.h"
#include "mcn/calls/tracker.h"
#include "mcn/sipparse/sip_event.h"

namespace mcn::calls {

// Readable failure output for EXPECT_EQ on whole records.
inline void PrintTo(const CallRecord& r, std::ostream* os) {
  *os << "{call_id=" << r.call_id << " call_ids=";
  for (const auto& id : r.call_ids) *os << id << ",";
  *os << " corr=" << r.correlation.value_or("null") << " caller=" << r.caller
      << " caller_name=" << r.caller_name << " withheld=" << r.caller_withheld
      << " callee=" << r.callee << " outcome=" << outcomeName(r.outcome) << " missed=" << r.missed
      << " status=" << r.status << " reason=\"" << r.reason
      << "\" forwarded_to=" << r.forwarded_to.value_or("null") << " started=" << r.started_at_us
      << " ended=" << r.ended_at_us << " ring_ms=" << r.ring_ms << " legs=" << r.legs
      << " transport=" << static_cast<int>(r.transport) << "}";
}

namespace testing {

using sipparse::Method;
using sipparse::NameAddr;
using sipparse::ReasonValue;
using sipparse::Redirection;
using sipparse::SipEvent;

// 2026-11-18T10:13:20Z; any instant works, a realistic one keeps values readable.
inline constexpr int64_t kT0 = 1795000000000000;
// Fake time: `ms` milliseconds after kT0, in microseconds.
constexpr int64_t at(int64_t ms) { return kT0 + ms * 1000; }

inline const std::string kCaller = "+8613900101230";
inline const std::string kB = "+862583001013";
inline const std::string kC = "+862583001014";
inline const std::string kVM = "+862583009000";
inline const std::string kPilot = "+862583000000";

// A sip URI holding a telephone number, as the parser leaves it (number already normalised).
inline NameAddr numberAddr(const std::string& number, std::string display = {},
                           std::string tag = {}) {
  NameAddr a;
  a.display = std::move(display);
  a.uri = "sip:" + number + "@ims.example.net;user=phone";
  a.user = number;
  a.number = number;
  a.tag = std::move(tag);
  return a;
}

// A registered contact with no number in it (e.g. sip:ue-b@192.0.2.7).
inline NameAddr contactAddr(const std::string& user) {
  NameAddr a;
  a.uri = "sip:" + user + "@192.0.2.7:5060";
  a.user = user;
  return a;
}

inline std::string standardPhrase(int status) {
  switch (status) {
    case 100:
      return "Trying";
    case 180:
      return "Ringing";
    case 183:
      return "Session Progress";
    case 200:
      return "OK";
    case 302:
      return "Moved Temporarily";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 480:
      return "Temporarily Unavailable";
    case 486:
      return "Busy Here";
    case 487:
      return "Request Terminated";
    case 600:
      return "Busy Everywhere";
    case 603:
      return "Decline";
    default:
      return "Whatever";
  }
}

// An initial INVITE at one hop: INVITE(t, callId, fromTag, branch, viaCount, ruri, to).
inline SipEvent invite(int64_t t, const std::string& call_id, const std::string& from_tag,
                       const std::string& branch, int via_count, const std::string& ruri,
                       const std::string& to, uint32_t cseq = 1) {
  SipEvent e;
  e.ts_us = t;
  e.is_request = true;
  e.method = Method::kInvite;
  e.method_name = "INVITE";
  e.request_uri = numberAddr(ruri);
  e.call_id = call_id;
  e.cseq = cseq;
  e.cseq_method = Method::kInvite;
  e.from = numberAddr(kCaller, {}, from_tag);
  e.to = numberAddr(to);
  e.via_branch = branch;
  e.via_count = via_count;
  return e;
}

// A response to `req` in the same hop transaction (same Via branch and count, CSeq).
inline SipEvent response(int64_t t, int status, const SipEvent& req, const std::string& to_tag = {},
                         std::vector<ReasonValue> reasons = {}) {
  SipEvent e;
  e.ts_us = t;
  e.transport = req.transport;
  e.is_request = false;
  e.status = status;
  e.phrase = standardPhrase(status);
  e.call_id = req.call_id;
  e.cseq = req.cseq;
  e.cseq_method = req.method;
  e.from = req.from;
  e.to = req.to;
  e.to.tag = to_tag;
  e.via_branch = req.via_branch;
  e.via_count = req.via_count;
  e.reasons = std::move(reasons);
  e.icid = req.icid;
  e.correlation = req.correlation;
  return e;
}

// The CANCEL of `inv` at the same hop (RFC 3261 §9.1: same branch, CSeq number, To without tag).
inline SipEvent cancel(int64_t t, const SipEvent& inv, std::vector<ReasonValue> reasons = {}) {
  SipEvent e;
  e.ts_us = t;
  e.transport = inv.transport;
  e.is_request = true;
  e.method = Method::kCancel;
  e.method_name = "CANCEL";
  e.request_uri = inv.request_uri;
  e.call_id = inv.call_id;
  e.cseq = inv.cseq;
  e.cseq_method = Method::kCancel;
  e.from = inv.from;
  e.to = inv.to;
  e.to.tag.clear();
  e.via_branch = inv.via_branch;
  e.via_count = inv.via_count;
  e.reasons = std::move(reasons);
  e.icid = inv.icid;
  e.correlation = inv.correlation;
  return e;
}

// An in-dialog request of the dialog `inv` created (ACK, BYE, re-INVITE): To carries a tag.
inline SipEvent inDialog(int64_t t, Method m, const SipEvent& inv, const std::string& to_tag,
                         uint32_t cseq, const std::string& branch) {
  SipEvent e;
  e.ts_us = t;
  e.transport = inv.transport;
  e.is_request = true;
  e.method = m;
  e.method_name = m == Method::kAck ? "ACK" : m == Method::kBye ? "BYE" : "INVITE";
  e.request_uri = inv.request_uri;
  e.call_id = inv.call_id;
  e.cseq = cseq;
  e.cseq_method = m;
  e.from = inv.from;
  e.to = inv.to;
  e.to.tag = to_tag;
  e.via_branch = branch;
  e.via_count = inv.via_count;
  e.icid = inv.icid;
  return e;
}

inline ReasonValue sipReason(int cause, std::string text = {}) {
  return ReasonValue{"SIP", cause, std::move(text)};
}

inline Redirection diversion(const std::string& number, std::string reason) {
  Redirection r;
  r.target = numberAddr(number);
  r.reason = std::move(reason);
  r.counter = 1;
  return r;
}

inline Redirection historyInfo(const std::string& number, std::string index, int cause = 0) {
  Redirection r;
  r.target = numberAddr(number);
  r.index = std::move(index);
  r.cause = cause;
  return r;
}

// The record a user sees for the common scenario (caller kCaller, one leg, UDP); tests then
// adjust the fields their scenario changes.
inline CallRecord expectedRecord(const std::string& callee, Outcome outcome, bool missed,
                                 int status, std::string reason, int64_t started_ms,
                                 int64_t ended_ms, int64_t ring_ms,
                                 std::string call_id = "call-1") {
  CallRecord r;
  r.call_ids = {call_id};  // one leg; multi-leg tests set every leg's Call-ID
  r.call_id = std::move(call_id);
  r.caller = kCaller;
  r.callee = callee;
  r.outcome = outcome;
  r.missed = missed;
  r.status = status;
  r.reason = std::move(reason);
  r.started_at_us = at(started_ms);
  r.ended_at_us = at(ended_ms);
  r.ring_ms = ring_ms;
  return r;
}

class Harness {
 public:
  explicit Harness(TrackerConfig cfg = TrackerConfig())
      : tracker_(std::move(cfg), [this](CallRecord&& r) { records.push_back(std::move(r)); }) {}

  void feed(const SipEvent& e) { tracker_.onEvent(e); }
  void feed(const std::vector<SipEvent>& events) {
    for (const auto& e : events) tracker_.onEvent(e);
  }
  void advanceTo(int64_t t) { tracker_.advanceTo(t); }
  void finish(int64_t t) { tracker_.finish(t); }
  CallTracker& tracker() { return tracker_; }

  uint64_t counter(std::string_view name) const {
    std::optional<uint64_t> value;
    tracker_.forEachCounter([&](std::string_view n, uint64_t v) {
      if (n == name) value = v;
    });
    if (!value) ADD_FAILURE() << "no counter " << name;
    return value.value_or(0);
  }

  std::vector<CallRecord> records;

 private:
  CallTracker tracker_;
};

}  // namespace testing
}  // namespace mcn::calls
