#pragma once
// The built-in network channels (see mcn/notifier/channel.h for the per-kind configuration).

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "mcn/notifier/channel.h"

namespace mcn::notifier::channels {

// The vendors' signatures, separate so they are checked against the vendors' published examples.
// Standard Webhooks: "v1," + base64(HMAC-SHA256(base64decode(secret minus "whsec_"),
// id + "." + ts + "." + body)); nullopt if the secret is not base64.
std::optional<std::string> standardWebhookSignature(std::string_view secret, std::string_view id,
                                                    int64_t ts_s, std::string_view body);
// DingTalk: base64(HMAC-SHA256(key = secret, message = ts_ms + "\n" + secret)), before
// URL-encoding.
std::string dingtalkSign(std::string_view secret, int64_t ts_ms);
// Feishu: base64(HMAC-SHA256(key = ts_s + "\n" + secret, message = "")).
std::string feishuSign(std::string_view secret, int64_t ts_s);
// Aliyun RPC v1: the canonicalised query string (sorted, percent-encoded) and
// base64(HMAC-SHA1(secret + "&", "GET&%2F&" + percentEncode(canonical))).
std::string aliyunCanonicalQuery(const std::map<std::string, std::string>& params);
std::string aliyunRpcSignature(const std::map<std::string, std::string>& params,
                               std::string_view access_key_secret);

using subscribers::ChannelKind;

// Standard Webhooks (https://www.standardwebhooks.com/, spec "Signature scheme").
class WebhookChannel final : public Channel {
 public:
  ChannelKind kind() const override { return ChannelKind::kWebhook; }
  bool requiresSecret() const override { return true; }
  bool build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
             std::string& error) const override;
  Judgement judge(const Notification& n, const InboundResponse& r) const override;
};

// WeCom (企业微信) group robot: POST JSON {"msgtype":"markdown","markdown":{"content":...}}.
class WeComChannel final : public Channel {
 public:
  ChannelKind kind() const override { return ChannelKind::kWeCom; }
  bool requiresSecret() const override { return false; }
  bool build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
             std::string& error) const override;
  Judgement judge(const Notification& n, const InboundResponse& r) const override;
  // The robot is the URL plus the key, which may come from secret_ref instead of the URL.
  std::string rateKey(const Notification& n) const override {
    return n.channel.target + "|" + n.channel.secret_ref;
  }
};

// DingTalk custom robot; with 加签 the URL gets timestamp (ms) and
// sign = urlencode(base64(HMAC-SHA256(secret, timestamp + "\n" + secret))).
class DingTalkChannel final : public Channel {
 public:
  ChannelKind kind() const override { return ChannelKind::kDingTalk; }
  bool requiresSecret() const override { return false; }
  bool build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
             std::string& error) const override;
  Judgement judge(const Notification& n, const InboundResponse& r) const override;
};

// Feishu / Lark custom bot; with 签名校验 the body gets timestamp (s) and
// sign = base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = "")).
class FeishuChannel final : public Channel {
 public:
  ChannelKind kind() const override { return ChannelKind::kFeishu; }
  bool requiresSecret() const override { return false; }
  bool build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
             std::string& error) const override;
  Judgement judge(const Notification& n, const InboundResponse& r) const override;
};

// Aliyun Dysmsapi SendSms (version 2017-05-25), RPC signature v1 (HMAC-SHA1).
class AliyunSmsChannel final : public Channel {
 public:
  ChannelKind kind() const override { return ChannelKind::kSmsAliyun; }
  bool requiresSecret() const override { return true; }
  bool build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
             std::string& error) const override;
  Judgement judge(const Notification& n, const InboundResponse& r) const override;
  std::string rateKey(const Notification& n) const override;
};

// A generic HTTP SMS gateway described by URL / body / header templates.
class HttpSmsChannel final : public Channel {
 public:
  ChannelKind kind() const override { return ChannelKind::kSmsHttp; }
  bool requiresSecret() const override { return false; }
  bool build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
             std::string& error) const override;
  Judgement judge(const Notification& n, const InboundResponse& r) const override;
  std::string rateKey(const Notification& n) const override;
};

// E-mail over SMTP through libcurl; TLS is required (implicit on smtps://, STARTTLS on smtp://).
class EmailChannel final : public Channel {
 public:
  ChannelKind kind() const override { return ChannelKind::kEmail; }
  bool requiresSecret() const override { return false; }
  bool build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
             std::string& error) const override;
  Judgement judge(const Notification& n, const InboundResponse& r) const override;
  std::string rateKey(const Notification& n) const override;
};

// RFC 3428 MESSAGE to the person's IMS identity, carried by the engine's SIP transport (mcn's user
// agent): the request names the URI, the text and the idempotency key; the transport splits and
// sends it.
class SipMessageChannel final : public Channel {
 public:
  // The header a client drops repeats by (the transport writes "<key>" or "<key>/<part>").
  static constexpr const char* kKeyHeader = "X-MCN-Idempotency-Key";
  ChannelKind kind() const override { return ChannelKind::kSipMessage; }
  bool requiresSecret() const override { return false; }
  bool build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
             std::string& error) const override;
  Judgement judge(const Notification& n, const InboundResponse& r) const override;
};

}  // namespace mcn::notifier::channels
