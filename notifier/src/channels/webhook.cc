#include "channels/channels.h"
#include "channels/common.h"
#include "mcn/notifier/credentials.h"

namespace mcn::notifier::channels {

// Standard Webhooks, "Signature scheme": the key is the secret after its "whsec_" prefix,
// base64-decoded; the signed content is "<webhook-id>.<webhook-timestamp>.<body>"; the header
// carries "v1,<base64 HMAC-SHA256>". webhook-id is the idempotency key, the same on every
// retry, so the receiver can drop duplicates of an at-least-once delivery.
std::optional<std::string> standardWebhookSignature(std::string_view secret, std::string_view id,
                                                    int64_t ts_s, std::string_view body) {
  if (secret.starts_with("whsec_")) secret.remove_prefix(6);
  auto key = base64Decode(secret);
  if (!key || key->empty()) return std::nullopt;
  std::string content;
  content.reserve(id.size() + body.size() + 24);
  content.append(id).append(".").append(std::to_string(ts_s)).append(".").append(body);
  return "v1," + base64Encode(hmacSha256(*key, content));
}

bool WebhookChannel::build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
                           std::string& error) const {
  nlohmann::ordered_json payload;
  // A message that covers no call (the web console's sign-in link, a test notification).
  payload["type"] = n.calls.empty() ? "message" : "call.missed";
  payload["timestamp"] = calls::isoTime(n.created_at_us);
  payload["data"] = notificationJson(n, false);
  std::string body = dumpJson(payload);
  int64_t ts = ctx.now_us / 1000000;
  auto signature = standardWebhookSignature(ctx.secret, n.idempotency_key, ts, body);
  if (!signature) {
    error = "webhook secret is not whsec_<base64>";
    return false;
  }
  out = OutboundRequest{};
  out.method = "POST";
  out.url = n.channel.target;
  out.log_target = redactUrl(n.channel.target);
  out.headers = {
      {"Content-Type", "application/json"},
      {"webhook-id", n.idempotency_key},
      {"webhook-timestamp", std::to_string(ts)},
      {"webhook-signature", *signature},
  };
  out.body = std::move(body);
  return true;
}

Judgement WebhookChannel::judge(const Notification&, const InboundResponse& r) const {
  return judgeHttpStatus(r);
}

}  // namespace mcn::notifier::channels
