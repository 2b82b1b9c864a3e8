#pragma once
// Helpers shared by the channel implementations: crypto (OpenSSL, kept inside notifier/),
// encodings, the JSON rendering of calls, and the common parts of the success rules.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "mcn/calls/record_json.h"
#include "mcn/notifier/channel.h"

namespace mcn::notifier::channels {

std::string hmacSha256(std::string_view key, std::string_view message);  // raw 32 bytes
std::string hmacSha1(std::string_view key, std::string_view message);    // raw 20 bytes
std::string base64Encode(std::string_view raw);
std::optional<std::string> base64Decode(std::string_view text);  // nullopt: not base64

// RFC 3986 §2.3: everything but ALPHA / DIGIT / "-" / "." / "_" / "~" becomes %XX (upper case).
// This is also Aliyun's "percentEncode" (space as %20, '*' as %2A, '~' kept).
std::string percentEncode(std::string_view s);
// application/x-www-form-urlencoded (HTML §4.10.21.8): space as '+'.
std::string formEncode(std::string_view s);

// UTC "2026-11-22T06:21:35Z" (Aliyun). The contract's milliseconds form is calls::isoTime.
std::string isoTimeSeconds(int64_t us);
// RFC 5322 §3.3 date-time in UTC: "Sun, 22 Nov 2026 06:21:35 +0000".
std::string rfc5322Date(int64_t us);

// Cut to at most `max_bytes` without splitting a UTF-8 sequence; appends "…" when cut.
std::string truncateUtf8(std::string_view s, size_t max_bytes);

// One call as the output contract's object (DESIGN.md "Output contract", same fields as
// `mcn replay --calls-out`).
nlohmann::ordered_json callJson(const calls::CallRecord& r);
// The Notification as {"person","person_name","channel","idempotency_key","title","text",
// "created_at","calls":[...]}. With `channel_detail` (the dead-letter file), "channel" is an
// object {id, kind, target (redacted), secret_ref, options} so the entry can be re-sent.
nlohmann::ordered_json notificationJson(const Notification& n, bool channel_detail);
// dump() that never throws on invalid UTF-8 (a display name in a legacy charset).
std::string dumpJson(const nlohmann::ordered_json& j);

// Title line + body for channels without a separate title field.
std::string titledText(const Notification& n, bool markdown);

// Values for the template placeholders (channel.h), before any encoding.
std::optional<std::string> placeholderValue(std::string_view name, const Notification& n,
                                            const BuildContext& ctx);
enum class TemplateEncoding : uint8_t { kRaw, kUrl, kJson, kForm };
// {{name}} placeholders. false: `error` names the unknown placeholder or the unclosed {{.
bool expandTemplate(std::string_view tmpl, const Notification& n, const BuildContext& ctx,
                    TemplateEncoding enc, std::string& out, std::string& error);

// 2xx delivered; 408, 425, 429 and 5xx retried; other 4xx permanent (the request itself is
// wrong: retrying the same bytes cannot help). Transport failures are retried.
Judgement judgeHttpStatus(const InboundResponse& r);
// IM robots answer HTTP 200 even on failure: `field` (errcode / code) must be present and 0.
Judgement judgeRobotBody(const InboundResponse& r, std::initializer_list<const char*> fields,
                         std::initializer_list<int64_t> rate_limit_codes);

const std::string* option(const Notification& n, const std::string& key);

}  // namespace mcn::notifier::channels
