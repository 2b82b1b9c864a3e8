#pragma once
// The sip_message channel's carrier (README "SIP MESSAGE"): the delivery engine's RequestTransport
// over mcn's SIP user agent. The engine keeps backoff, Retry-After, dead letters and the outbox;
// this only sends one notification's MESSAGE(s) and reports how they ended.
//
// A text over 1300 bytes (RFC 3428 §10) goes as numbered parts "(1/3) ...", one after another,
// each with its own key "<key>/<i>". The attempt succeeds when every part got a 2xx; the first
// part refused ends it with that part's answer, and a retry sends the whole notification again
// (the parts a client already has carry the same keys, so it can drop them).

#include <deque>
#include <set>
#include <string>

#include "mcn/notifier/delivery.h"
#include "mcn/notifier/notification.h"
#include "mcn/sipua/user_agent.h"

namespace mcn::app {

class SipMessageTransport final : public notifier::RequestTransport {
 public:
  // `ua` must outlive every outstanding request (its stop() answers them with status 0).
  SipMessageTransport(sipua::UserAgent& ua, int timeout_ms) : ua_(ua), timeout_ms_(timeout_ms) {}
  bool start(const notifier::OutboundRequest& req, Done done, std::string& error) override;

 private:
  sipua::UserAgent& ua_;
  int timeout_ms_;
};

// The body of a NOTIFY of the mcn-missed-call event package (README "Subscriptions"):
// {"person","idempotency_key","title","text","created_at","calls":[{"call_id","caller",
// "caller_name","caller_withheld","callee","outcome","started_at","ring_ms"}]}.
std::string missedCallEventJson(const notifier::Notification& n);

// One NOTIFY per notification, not per channel: the merger makes one Notification per channel of
// the person, all with the same idempotency key. Remembers the last few keys (notifier thread).
class NotifyOnce {
 public:
  bool first(const std::string& key) {
    if (!seen_.insert(key).second) return false;
    order_.push_back(key);
    if (order_.size() > 1024) {
      seen_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }

 private:
  std::set<std::string> seen_;
  std::deque<std::string> order_;
};

}  // namespace mcn::app
