#include <fmt/format.h>

#include "channels/channels.h"
#include "channels/common.h"

namespace mcn::notifier::channels {

bool SipMessageChannel::build(const Notification& n, const BuildContext&, OutboundRequest& out,
                              std::string& error) const {
  if (n.channel.target.empty()) {
    error = "sip_message needs the person's IMS identity as its target";
    return false;
  }
  // The key goes into a header: a line break would start a header of the caller's choosing.
  if (n.idempotency_key.find_first_of("\r\n") != std::string::npos) {
    error = "idempotency key holds a line break";
    return false;
  }
  out = OutboundRequest{};
  out.protocol = OutboundRequest::Protocol::kSip;
  out.method = "MESSAGE";
  out.url = n.channel.target;
  out.log_target = n.channel.target;
  out.headers = {{kKeyHeader, n.idempotency_key}};
  // RFC 3428 §9: text/plain, UTF-8 (the transport labels it); the title leads like an e-mail's
  // subject would.
  out.body = titledText(n, false);
  return true;
}

// RFC 3428 §7/§8 with RFC 3261's meanings: 2xx (200, or 202 from a store-and-forward server) is
// taken; 408 (also the transport's own when nothing answered in time), 480 (the client is offline)
// and 5xx are worth another try later, Retry-After honoured by the engine; every other final status
// (3xx, 403, 404, 415, 6xx ...) would be the same next time.
Judgement SipMessageChannel::judge(const Notification&, const InboundResponse& r) const {
  if (r.transport != TransportStatus::kOk) {
    return {Verdict::kRetry, r.transport_error.empty() ? "SIP transport error" : r.transport_error,
            -1};
  }
  std::string what = fmt::format("SIP {}{}{}", r.status, r.body.empty() ? "" : " ", r.body);
  if (r.status >= 200 && r.status < 300) return {Verdict::kDelivered, what, -1};
  if (r.status == 408 || r.status == 480 || (r.status >= 500 && r.status < 600)) {
    return {Verdict::kRetry, what, -1};
  }
  return {Verdict::kPermanent, what, -1};
}

}  // namespace mcn::notifier::channels
