#include "channels/channels.h"
#include "channels/common.h"
#include "mcn/notifier/credentials.h"

namespace mcn::notifier::channels {

bool HttpSmsChannel::build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
                           std::string& error) const {
  const std::string* url_tmpl = option(n, "url");
  if (url_tmpl == nullptr) {
    error = "sms_http needs option url";
    return false;
  }
  const std::string* method = option(n, "method");
  std::string m = method != nullptr ? *method : std::string("POST");
  if (m != "POST" && m != "GET") {
    error = "sms_http method must be POST or GET";
    return false;
  }
  out = OutboundRequest{};
  out.method = m;
  if (!expandTemplate(*url_tmpl, n, ctx, TemplateEncoding::kUrl, out.url, error)) return false;
  // The URL template may embed {secret}: log the template, never the expansion.
  out.log_target = redactUrl(*url_tmpl) + " to " + n.channel.target;
  const std::string* ct = option(n, "content_type");
  std::string content_type = ct != nullptr ? *ct : std::string("application/json");
  if (m == "POST") {
    TemplateEncoding enc = TemplateEncoding::kRaw;
    if (content_type.find("json") != std::string::npos) {
      enc = TemplateEncoding::kJson;
    } else if (content_type.find("x-www-form-urlencoded") != std::string::npos) {
      enc = TemplateEncoding::kForm;
    }
    const std::string* body = option(n, "body");
    if (body != nullptr && !expandTemplate(*body, n, ctx, enc, out.body, error)) return false;
    out.headers.push_back({"Content-Type", content_type});
  }
  for (const auto& [k, v] : n.channel.options) {
    if (!k.starts_with("header.") || k.size() == 7) continue;
    HttpHeader h{k.substr(7), {}};
    if (!expandTemplate(v, n, ctx, TemplateEncoding::kRaw, h.value, error)) return false;
    // A CR or LF in a header value would let a caller's display name inject headers.
    if (h.value.find_first_of("\r\n") != std::string::npos) {
      error = "sms_http header " + h.name + " would contain a line break";
      return false;
    }
    out.headers.push_back(std::move(h));
  }
  return true;
}

Judgement HttpSmsChannel::judge(const Notification& n, const InboundResponse& r) const {
  Judgement j = judgeHttpStatus(r);
  const std::string* marker = option(n, "success_contains");
  if (j.verdict == Verdict::kDelivered && marker != nullptr &&
      r.body.find(*marker) == std::string::npos) {
    return {Verdict::kRetry, "answer lacks the configured success marker", -1};
  }
  return j;
}

std::string HttpSmsChannel::rateKey(const Notification& n) const {
  return "sms_http:" + n.channel.target;
}

}  // namespace mcn::notifier::channels
