#include "channels/common.h"

#include <curl/curl.h>
#include <date/date.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cerrno>
#include <charconv>
#include <chrono>

#include "mcn/calls/record_json.h"
#include "mcn/notifier/credentials.h"

namespace mcn::notifier::channels {

namespace {

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // HMAC() with an empty key: OpenSSL wants a non-null pointer even for length 0.
  static const unsigned char kEmpty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  const unsigned char* m =
      message.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(message.data());
  if (HMAC(md, k, static_cast<int>(key.size()), m, message.size(), out, &len) == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

// Whole seconds of a UTC instant in µs, rounded down (before 1970 too).
date::sys_seconds utcSeconds(int64_t us) {
  return date::floor<std::chrono::seconds>(
      date::sys_time<std::chrono::microseconds>{std::chrono::microseconds{us}});
}

}  // namespace

std::string hmacSha256(std::string_view key, std::string_view message) {
  return hmac(EVP_sha256(), key, message);
}

std::string hmacSha1(std::string_view key, std::string_view message) {
  return hmac(EVP_sha1(), key, message);
}

std::string base64Encode(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) return std::nullopt;
  }
  std::string out(3 * text.size() / 4 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string percentEncode(std::string_view s) {
  // libcurl escapes every byte but RFC 3986 §2.3's unreserved ALPHA / DIGIT / "-" / "." / "_" /
  // "~", with upper-case hex (§2.1): exactly what the Aliyun and DingTalk signatures need. The
  // handle argument is unused since curl 7.82.
  char* e = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  if (e == nullptr) return {};  // out of memory: an empty signature fails at the vendor
  std::string out(e);
  curl_free(e);
  return out;
}

std::string formEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c == ' ') {
      out += '+';
    } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '*') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

std::string isoTimeSeconds(int64_t us) { return date::format("%FT%TZ", utcSeconds(us)); }

std::string rfc5322Date(int64_t us) {
  // RFC 5322 §3.3 date-time; date is built with ONLY_C_LOCALE, so %a and %b are English.
  return date::format("%a, %d %b %Y %T +0000", utcSeconds(us));
}

std::string truncateUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026
  if (max_bytes < kEllipsis.size()) return {};
  size_t cut = max_bytes - kEllipsis.size();
  // Step back over continuation bytes (10xxxxxx) to the start of a sequence.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  std::string out(s.substr(0, cut));
  out += kEllipsis;
  return out;
}

nlohmann::ordered_json callJson(const calls::CallRecord& r) {
  // The contract's object, from its one writer; notifications are rare, the re-parse is cheap.
  return nlohmann::ordered_json::parse(calls::recordToJson(r));
}

nlohmann::ordered_json notificationJson(const Notification& n, bool channel_detail) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["person"] = n.person_id;
  j["person_name"] = n.person_name;
  if (channel_detail) {
    ordered_json c;
    c["id"] = n.channel.id;
    c["kind"] = deliveryKindName(n.channel.kind);
    c["target"] = redactUrl(n.channel.target);
    c["secret_ref"] = n.channel.secret_ref;
    c["options"] = ordered_json::object();
    for (const auto& [k, v] : n.channel.options) {
      // A header value or a *token* option may hold a literal credential: not in this file.
      bool sensitive = k.starts_with("header.") || k.find("secret") != std::string::npos ||
                       k.find("token") != std::string::npos ||
                       k.find("password") != std::string::npos;
      c["options"][k] = sensitive ? std::string("***") : v;
    }
    j["channel"] = std::move(c);
  } else {
    j["channel"] = n.channel.id;
  }
  j["idempotency_key"] = n.idempotency_key;
  j["title"] = n.title;
  j["text"] = n.text;
  j["created_at"] = calls::isoTime(n.created_at_us);
  j["calls"] = ordered_json::array();
  for (const auto& c : n.calls) j["calls"].push_back(callJson(c));
  return j;
}

std::string dumpJson(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string titledText(const Notification& n, bool markdown) {
  if (n.title.empty()) return n.text;
  if (markdown) return "**" + n.title + "**\n" + n.text;
  return n.title + "\n" + n.text;
}

std::optional<std::string> placeholderValue(std::string_view name, const Notification& n,
                                            const BuildContext& ctx) {
  if (name == "to") return n.channel.target;
  if (name == "text") return n.text;
  if (name == "title") return n.title;
  if (name == "person") return n.person_id;
  if (name == "person_name") return n.person_name;
  if (name == "count") return std::to_string(n.calls.size());
  if (name == "caller") {
    if (n.calls.empty()) return std::string();
    const auto& c = n.calls.front();
    if (c.caller_withheld || c.caller.empty()) return std::string("withheld");
    return c.caller;
  }
  if (name == "idempotency_key") return n.idempotency_key;
  if (name == "timestamp") return std::to_string(ctx.now_us / 1000000);
  if (name == "timestamp_ms") return std::to_string(ctx.now_us / 1000);
  if (name == "secret") return std::string(ctx.secret);
  return std::nullopt;
}

bool expandTemplate(std::string_view tmpl, const Notification& n, const BuildContext& ctx,
                    TemplateEncoding enc, std::string& out, std::string& error) {
  // Mustache-style {{name}}: single braces stay literal, so JSON bodies need no escaping.
  out.clear();
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find("{{", i);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    out.append(tmpl.substr(i, open - i));
    size_t close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) {
      error = "unclosed {{ in template";
      return false;
    }
    std::string_view name = tmpl.substr(open + 2, close - open - 2);
    auto value = placeholderValue(name, n, ctx);
    if (!value) {
      error = "unknown placeholder {{" + std::string(name) + "}} in template";
      return false;
    }
    switch (enc) {
      case TemplateEncoding::kRaw:
        out += *value;
        break;
      case TemplateEncoding::kUrl:
        out += percentEncode(*value);
        break;
      case TemplateEncoding::kForm:
        out += formEncode(*value);
        break;
      case TemplateEncoding::kJson: {
        // The template holds the quotes; the value is escaped as a JSON string's contents.
        std::string quoted = dumpJson(nlohmann::ordered_json(*value));
        out.append(quoted, 1, quoted.size() - 2);
        break;
      }
    }
    i = close + 2;
  }
  return true;
}

namespace {

Judgement transportJudgement(const InboundResponse& r) {
  Judgement j;
  j.verdict = Verdict::kRetry;
  switch (r.transport) {
    case TransportStatus::kTimeout:
      j.reason = "timeout";
      break;
    case TransportStatus::kConnect:
      j.reason = "connect failed";
      break;
    case TransportStatus::kTls:
      j.reason = "tls failed";
      break;
    case TransportStatus::kTlsRequired:
      j.reason = "tls required but not offered";
      break;
    case TransportStatus::kAuth:
      j.reason = "authentication failed";
      break;
    default:
      j.reason = "transport error";
      break;
  }
  if (!r.transport_error.empty()) j.reason += ": " + r.transport_error;
  return j;
}

}  // namespace

Judgement judgeHttpStatus(const InboundResponse& r) {
  if (r.transport != TransportStatus::kOk) return transportJudgement(r);
  Judgement j;
  if (r.status >= 200 && r.status < 300) {
    j.verdict = Verdict::kDelivered;
    return j;
  }
  j.reason = fmt::format("http {}", r.status);
  // RFC 9110 §15.5: a 4xx says the request is wrong, except timeouts (408), too early (425,
  // RFC 8470) and too many requests (429, RFC 6585 §4).
  bool permanent =
      r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 425 && r.status != 429;
  j.verdict = permanent ? Verdict::kPermanent : Verdict::kRetry;
  return j;
}

Judgement judgeRobotBody(const InboundResponse& r, std::initializer_list<const char*> fields,
                         std::initializer_list<int64_t> rate_limit_codes) {
  Judgement j = judgeHttpStatus(r);
  if (j.verdict != Verdict::kDelivered) {
    // An IM robot's 4xx is a gateway hiccup as often as a bad request: retry within the bound.
    if (j.verdict == Verdict::kPermanent) j.verdict = Verdict::kRetry;
    return j;
  }
  nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Judgement{Verdict::kRetry, "answer is not a JSON object", -1};
  }
  for (const char* f : fields) {
    auto it = body.find(f);
    if (it == body.end() || !it->is_number_integer()) continue;
    int64_t code = it->get<int64_t>();
    if (code == 0) return Judgement{Verdict::kDelivered, {}, -1};
    std::string msg;
    for (const char* m : {"errmsg", "msg", "StatusMessage"}) {
      if (auto mi = body.find(m); mi != body.end() && mi->is_string()) {
        msg = mi->get<std::string>();
        break;
      }
    }
    Judgement bad{Verdict::kRetry, fmt::format("{} {}", f, code), -1};
    if (!msg.empty()) bad.reason += ": " + truncateUtf8(msg, 200);
    for (int64_t rl : rate_limit_codes) {
      // The robot says we are too fast: its window is a minute.
      if (rl == code) bad.min_retry_delay_ms = 60000;
    }
    return bad;
  }
  return Judgement{Verdict::kRetry, "answer carries no result code", -1};
}

const std::string* option(const Notification& n, const std::string& key) {
  auto it = n.channel.options.find(key);
  if (it == n.channel.options.end() || it->second.empty()) return nullptr;
  return &it->second;
}

}  // namespace mcn::notifier::channels
