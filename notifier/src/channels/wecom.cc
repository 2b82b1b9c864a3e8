#include "channels/channels.h"
#include "channels/common.h"
#include "mcn/notifier/credentials.h"

namespace mcn::notifier::channels {

namespace {
// WeCom group robot limits: markdown content 4096 bytes, text content 2048 bytes (UTF-8).
constexpr size_t kMarkdownMax = 4096;
constexpr size_t kTextMax = 2048;
constexpr int64_t kErrFrequency = 45009;  // "api freq out of limit"
}  // namespace

bool WeComChannel::build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
                         std::string& error) const {
  const std::string* msgtype = option(n, "msgtype");
  bool markdown = msgtype == nullptr || *msgtype == "markdown";
  if (!markdown && *msgtype != "text") {
    error = "wecom msgtype must be markdown or text";
    return false;
  }
  nlohmann::ordered_json body;
  if (markdown) {
    body["msgtype"] = "markdown";
    body["markdown"]["content"] = truncateUtf8(titledText(n, true), kMarkdownMax);
  } else {
    body["msgtype"] = "text";
    body["text"]["content"] = truncateUtf8(titledText(n, false), kTextMax);
  }
  out = OutboundRequest{};
  out.url = n.channel.target;
  // The robot key may live in a secret file instead of the configured URL.
  if (!ctx.secret.empty()) {
    out.url += (out.url.find('?') == std::string::npos ? "?key=" : "&key=");
    out.url += percentEncode(ctx.secret);
  }
  out.log_target = redactUrl(n.channel.target);
  out.headers = {{"Content-Type", "application/json"}};
  out.body = dumpJson(body);
  return true;
}

Judgement WeComChannel::judge(const Notification&, const InboundResponse& r) const {
  return judgeRobotBody(r, {"errcode"}, {kErrFrequency});
}

}  // namespace mcn::notifier::channels
