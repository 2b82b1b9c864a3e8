#include "channels/channels.h"

namespace mcn::notifier {

std::unique_ptr<Channel> makeChannel(subscribers::ChannelKind kind) {
  using subscribers::ChannelKind;
  switch (kind) {
    case ChannelKind::kWebhook:
      return std::make_unique<channels::WebhookChannel>();
    case ChannelKind::kWeCom:
      return std::make_unique<channels::WeComChannel>();
    case ChannelKind::kDingTalk:
      return std::make_unique<channels::DingTalkChannel>();
    case ChannelKind::kFeishu:
      return std::make_unique<channels::FeishuChannel>();
    case ChannelKind::kSmsAliyun:
      return std::make_unique<channels::AliyunSmsChannel>();
    case ChannelKind::kSmsHttp:
      return std::make_unique<channels::HttpSmsChannel>();
    case ChannelKind::kEmail:
      return std::make_unique<channels::EmailChannel>();
    case ChannelKind::kSipMessage:
      return std::make_unique<channels::SipMessageChannel>();
    case ChannelKind::kConsole:
    case ChannelKind::kJsonl:
      return nullptr;
  }
  return nullptr;
}

const char* deliveryKindName(subscribers::ChannelKind kind) {
  using subscribers::ChannelKind;
  switch (kind) {
    case ChannelKind::kConsole:
      return "console";
    case ChannelKind::kJsonl:
      return "jsonl";
    case ChannelKind::kWebhook:
      return "webhook";
    case ChannelKind::kWeCom:
      return "wecom";
    case ChannelKind::kDingTalk:
      return "dingtalk";
    case ChannelKind::kFeishu:
      return "feishu";
    case ChannelKind::kSmsAliyun:
      return "sms_aliyun";
    case ChannelKind::kSmsHttp:
      return "sms_http";
    case ChannelKind::kEmail:
      return "email";
    case ChannelKind::kSipMessage:
      return "sip_message";
  }
  return "unknown";
}

}  // namespace mcn::notifier
