#include "channels/channels.h"
#include "channels/common.h"
#include "mcn/notifier/credentials.h"

namespace mcn::notifier::channels {

namespace {
constexpr int64_t kErrFrequencyLimited = 11232;
}  // namespace

std::string feishuSign(std::string_view secret, int64_t ts_s) {
  return base64Encode(hmacSha256(std::to_string(ts_s) + "\n" + std::string(secret), ""));
}

bool FeishuChannel::build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
                          std::string&) const {
  nlohmann::ordered_json body;
  if (!ctx.secret.empty()) {
    // 签名校验: timestamp in seconds; unlike DingTalk the string timestamp + "\n" + secret is
    // the HMAC *key* and the message is empty.
    int64_t ts = ctx.now_us / 1000000;
    body["timestamp"] = std::to_string(ts);
    body["sign"] = feishuSign(ctx.secret, ts);
  }
  body["msg_type"] = "text";
  body["content"]["text"] = titledText(n, false);
  out = OutboundRequest{};
  out.url = n.channel.target;
  out.log_target = redactUrl(n.channel.target);
  out.headers = {{"Content-Type", "application/json"}};
  out.body = dumpJson(body);
  return true;
}

Judgement FeishuChannel::judge(const Notification&, const InboundResponse& r) const {
  // Current bots answer {"code":0,...}; older ones {"StatusCode":0,...}.
  return judgeRobotBody(r, {"code", "StatusCode"}, {kErrFrequencyLimited});
}

}  // namespace mcn::notifier::channels
