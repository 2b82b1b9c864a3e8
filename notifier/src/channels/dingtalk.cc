#include "channels/channels.h"
#include "channels/common.h"
#include "mcn/notifier/credentials.h"

namespace mcn::notifier::channels {

namespace {
constexpr int64_t kErrSendTooFast = 130101;  // "send too fast": the robot is throttled
}  // namespace

std::string dingtalkSign(std::string_view secret, int64_t ts_ms) {
  std::string ts = std::to_string(ts_ms);
  return base64Encode(hmacSha256(secret, ts + "\n" + std::string(secret)));
}

bool DingTalkChannel::build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
                            std::string& error) const {
  const std::string* msgtype = option(n, "msgtype");
  bool markdown = msgtype == nullptr || *msgtype == "markdown";
  if (!markdown && *msgtype != "text") {
    error = "dingtalk msgtype must be markdown or text";
    return false;
  }
  nlohmann::ordered_json body;
  if (markdown) {
    body["msgtype"] = "markdown";
    // `title` is what the conversation list shows; the text carries the heading itself.
    body["markdown"]["title"] = n.title.empty() ? std::string("mcn") : n.title;
    body["markdown"]["text"] = titledText(n, true);
  } else {
    body["msgtype"] = "text";
    body["text"]["content"] = titledText(n, false);
  }
  out = OutboundRequest{};
  out.url = n.channel.target;
  if (!ctx.secret.empty()) {
    // 加签: timestamp in milliseconds, string to sign timestamp + "\n" + secret, keyed by the
    // secret, base64, then URL-encoded (the base64 alphabet's '+', '/', '=' must not reach the
    // query raw).
    int64_t ts_ms = ctx.now_us / 1000;
    out.url += (out.url.find('?') == std::string::npos ? "?" : "&");
    out.url += "timestamp=" + std::to_string(ts_ms) +
               "&sign=" + percentEncode(dingtalkSign(ctx.secret, ts_ms));
  }
  out.log_target = redactUrl(n.channel.target);
  out.headers = {{"Content-Type", "application/json"}};
  out.body = dumpJson(body);
  return true;
}

Judgement DingTalkChannel::judge(const Notification&, const InboundResponse& r) const {
  return judgeRobotBody(r, {"errcode"}, {kErrSendTooFast});
}

}  // namespace mcn::notifier::channels
