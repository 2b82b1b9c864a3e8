#include "mcn/sipua/message.h"

#include <fmt/format.h>

#include <algorithm>

namespace mcn::sipua {

namespace {

// `text` with each invalid UTF-8 sequence (stray continuation, overlong, surrogate, beyond
// U+10FFFF, truncated) replaced by U+FFFD.
std::string validUtf8(std::string_view text) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    auto b = static_cast<unsigned char>(text[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      out.push_back(text[i++]);
      continue;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2, cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3, cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4, cp = b & 0x07;
    }
    bool ok = len != 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) {
      auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
               (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))) {
      ok = false;
    }
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out.append(kReplacement);
      ++i;  // resynchronise on the next byte
    }
  }
  return out;
}

size_t digits(size_t n) {
  size_t d = 1;
  while (n >= 10) n /= 10, ++d;
  return d;
}

// Cuts valid UTF-8 `text` into chunks of at most `budget` bytes (budget >= 4).
std::vector<std::string_view> chunks(std::string_view text, size_t budget) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    if (text.size() <= budget) {
      out.push_back(text);
      break;
    }
    size_t cut = budget;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    // Prefer a line end, else a space, in the second half: the break goes with the earlier part.
    for (char sep : {'\n', ' '}) {
      size_t soft = text.substr(0, cut).rfind(sep);
      if (soft != std::string_view::npos && soft + 1 > cut / 2) {
        cut = soft + 1;
        break;
      }
    }
    out.push_back(text.substr(0, cut));
    text.remove_prefix(cut);
  }
  return out;
}

}  // namespace

std::vector<std::string> splitMessageBody(std::string_view text, size_t max_bytes) {
  max_bytes = std::max<size_t>(max_bytes, 32);
  std::string body = validUtf8(text);
  if (body.size() <= max_bytes) return {body};
  // The prefix "(i/n) " is at most 2 * digits(n) + 4 bytes; grow the assumed width until the count
  // fits it.
  for (size_t d = 1;; ++d) {
    size_t prefix = 2 * d + 4;
    auto parts = chunks(body, max_bytes - prefix);
    if (digits(parts.size()) > d) continue;
    std::vector<std::string> out;
    out.reserve(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) {
      out.push_back(fmt::format("({}/{}) {}", i + 1, parts.size(), parts[i]));
    }
    return out;
  }
}

std::string_view messageOutcomeName(MessageOutcome o) {
  switch (o) {
    case MessageOutcome::kDelivered:
      return "delivered";
    case MessageOutcome::kRetry:
      return "retry";
    case MessageOutcome::kDeadLetter:
      return "dead_letter";
  }
  return "dead_letter";
}

MessageVerdict judgeMessageResponse(int status, std::optional<int64_t> retry_after_s) {
  MessageVerdict v;
  if (status >= 200 && status < 300) {
    v.outcome = MessageOutcome::kDelivered;
  } else if (status == 408 || status == 480 || (status >= 500 && status < 600)) {
    v.outcome = MessageOutcome::kRetry;
    if (retry_after_s && *retry_after_s >= 0) {
      // Capped at a day: a peer's huge value must not overflow or park the message for ever.
      v.retry_after_ms = std::min<int64_t>(*retry_after_s, 86400) * 1000;
    }
  }
  return v;
}

}  // namespace mcn::sipua
