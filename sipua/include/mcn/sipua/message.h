#pragma once
// The pure parts of the SIP MESSAGE channel (issue 19 item 6, README "SIP MESSAGE"): the body cut
// to RFC 3428's size and the verdict on a MESSAGE's final response. No sofia type here; sending is
// the user agent's job.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mcn::sipua {

// RFC 3428 §10: a MESSAGE that may travel over UDP (no congestion control) keeps its body under
// 1300 bytes.
inline constexpr size_t kMessageBodyMax = 1300;

// The header carrying the notification's idempotency key (one value per part: "<key>" for a single
// part, "<key>/<i>" for part i of several), so a client can drop a repeat of a retried MESSAGE.
inline constexpr const char* kMessageKeyHeader = "X-MCN-Idempotency-Key";

// The notification text as UTF-8 text/plain bodies of at most `max_bytes` each (values under 32
// count as 32). Invalid UTF-8 becomes U+FFFD, so every part is valid UTF-8 and no character is
// cut in two. One part when the text fits; else numbered parts "(1/3) ", "(2/3) ", ... whose
// prefix counts against the limit, each cut after the last line break in its second half, else
// the last space there, else anywhere between characters. An empty text gives one empty part.
std::vector<std::string> splitMessageBody(std::string_view text,
                                          size_t max_bytes = kMessageBodyMax);

// What the delivery engine does with a MESSAGE's final response (RFC 3428 §7, §8).
enum class MessageOutcome { kDelivered, kRetry, kDeadLetter };
// "delivered", "retry", "dead_letter".
std::string_view messageOutcomeName(MessageOutcome o);

struct MessageVerdict {
  MessageOutcome outcome = MessageOutcome::kDeadLetter;
  // From Retry-After (RFC 3261 §20.33) on a retried answer: wait at least this long. nullopt: the
  // engine's own backoff.
  std::optional<int64_t> retry_after_ms;
};

// 2xx (200 or 202 in practice): delivered. 408 (also sofia's own when no answer came within
// Timer F), 480 and 5xx: retry, honouring Retry-After (seconds). Every other status (3xx, other
// 4xx, 6xx, and anything outside 200..699): dead letter, no retry would change it.
MessageVerdict judgeMessageResponse(int status, std::optional<int64_t> retry_after_s);

}  // namespace mcn::sipua
