#include <fmt/format.h>

#include <map>
#include <set>

#include "channels/channels.h"
#include "channels/common.h"
#include "mcn/notifier/credentials.h"

namespace mcn::notifier::channels {

namespace {

constexpr const char* kDefaultEndpoint = "https://dysmsapi.aliyuncs.com/";
constexpr const char* kDefaultTemplateParam = R"({"caller":"{{caller}}","count":"{{count}}"})";

// A request-unique SignatureNonce in UUID v4 form (RFC 9562 §5.4) from the injected Random.
std::string nonce(Random* random) {
  uint64_t hi = random != nullptr ? random->next() : 0;
  uint64_t lo = random != nullptr ? random->next() : 0;
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                     hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

// Errors that the same request will meet again: fix the configuration instead of retrying.
const std::set<std::string, std::less<>> kPermanentCodes = {
    "isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL",        "isv.SMS_SIGNATURE_ILLEGAL",
    "isv.INVALID_PARAMETERS",    "isv.TEMPLATE_MISSING_PARAMETERS", "isv.TEMPLATE_PARAMS_ILLEGAL",
    "isv.ACCOUNT_NOT_EXISTS",    "InvalidAccessKeyId.NotFound",     "SignatureDoesNotMatch",
};

}  // namespace

std::string aliyunCanonicalQuery(const std::map<std::string, std::string>& params) {
  std::string canonical;
  for (const auto& [k, v] : params) {  // std::map: byte order of the names
    if (!canonical.empty()) canonical += '&';
    canonical += percentEncode(k) + "=" + percentEncode(v);
  }
  return canonical;
}

std::string aliyunRpcSignature(const std::map<std::string, std::string>& params,
                               std::string_view access_key_secret) {
  std::string string_to_sign =
      "GET&" + percentEncode("/") + "&" + percentEncode(aliyunCanonicalQuery(params));
  return base64Encode(hmacSha1(std::string(access_key_secret) + "&", string_to_sign));
}

// RPC signature v1 (Alibaba Cloud "Signature method"): sort every parameter but Signature by
// name, percent-encode names and values (RFC 3986 unreserved kept, space as %20), join as a
// query string; StringToSign = "GET&%2F&" + percentEncode(that string); Signature =
// base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).
bool AliyunSmsChannel::build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
                             std::string& error) const {
  const std::string* key_id = option(n, "access_key_id");
  const std::string* sign_name = option(n, "sign_name");
  const std::string* template_code = option(n, "template_code");
  if (key_id == nullptr || sign_name == nullptr || template_code == nullptr) {
    error = "sms_aliyun needs options access_key_id, sign_name and template_code";
    return false;
  }
  const std::string* tp = option(n, "template_param");
  std::string template_param;
  if (!expandTemplate(tp != nullptr ? std::string_view(*tp) : kDefaultTemplateParam, n, ctx,
                      TemplateEncoding::kJson, template_param, error)) {
    return false;
  }
  const std::string* region = option(n, "region_id");
  std::map<std::string, std::string> params = {
      {"AccessKeyId", *key_id},
      {"Action", "SendSms"},
      {"Format", "JSON"},
      {"OutId", n.idempotency_key},
      {"PhoneNumbers", n.channel.target},
      {"RegionId", region != nullptr ? *region : std::string("cn-hangzhou")},
      {"SignName", *sign_name},
      {"SignatureMethod", "HMAC-SHA1"},
      {"SignatureNonce", nonce(ctx.random)},
      {"SignatureVersion", "1.0"},
      {"TemplateCode", *template_code},
      {"TemplateParam", template_param},
      {"Timestamp", isoTimeSeconds(ctx.now_us)},
      {"Version", "2017-05-25"},
  };
  std::string canonical = aliyunCanonicalQuery(params);
  std::string signature = aliyunRpcSignature(params, ctx.secret);
  const std::string* endpoint = option(n, "endpoint");
  std::string url = endpoint != nullptr ? *endpoint : std::string(kDefaultEndpoint);
  if (url.find("://") != std::string::npos &&
      url.find('/', url.find("://") + 3) == std::string::npos) {
    url += '/';
  }
  out = OutboundRequest{};
  out.method = "GET";
  out.url = url + "?Signature=" + percentEncode(signature) + "&" + canonical;
  out.log_target = redactUrl(url) + " to " + n.channel.target;
  return true;
}

Judgement AliyunSmsChannel::judge(const Notification&, const InboundResponse& r) const {
  Judgement http = judgeHttpStatus(r);
  if (r.transport != TransportStatus::kOk) return http;
  nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
  auto code = body.is_object() ? body.find("Code") : body.end();
  if (!body.is_object() || code == body.end() || !code->is_string()) {
    // No Aliyun answer at all (a proxy's error page): the HTTP status decides retry or not.
    if (http.verdict == Verdict::kDelivered) http = {Verdict::kRetry, "answer has no Code", -1};
    return http;
  }
  std::string c = code->get<std::string>();
  if (c == "OK" && http.verdict == Verdict::kDelivered) return {Verdict::kDelivered, {}, -1};
  Judgement j{Verdict::kRetry, "Code " + c, -1};
  if (auto m = body.find("Message"); m != body.end() && m->is_string()) {
    j.reason += ": " + truncateUtf8(m->get<std::string>(), 200);
  }
  if (kPermanentCodes.count(c) != 0) j.verdict = Verdict::kPermanent;
  if (c == "isv.BUSINESS_LIMIT_CONTROL") j.min_retry_delay_ms = 60000;
  return j;
}

std::string AliyunSmsChannel::rateKey(const Notification& n) const {
  return "sms_aliyun:" + n.channel.target;  // carrier flow control is per phone number
}

}  // namespace mcn::notifier::channels
