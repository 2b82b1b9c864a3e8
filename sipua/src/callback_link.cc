#include "mcn/sipua/callback_link.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace mcn::sipua {

namespace {
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kMaxToken = 2048;
}  // namespace

std::string_view linkVerdictName(LinkVerdict v) {
  switch (v) {
    case LinkVerdict::kOk:
      return "ok";
    case LinkVerdict::kMalformed:
      return "malformed";
    case LinkVerdict::kForged:
      return "forged";
    case LinkVerdict::kExpired:
      return "expired";
    case LinkVerdict::kUsed:
      return "used";
    case LinkVerdict::kFull:
      return "full";
  }
  return "malformed";
}

std::string base64url(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

bool unbase64url(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    auto pos = kAlphabet.find(c);
    if (pos == std::string_view::npos) return false;
    acc = (acc << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero: one token has one spelling.
  return (acc & ((1u << bits) - 1)) == 0;
}

CallbackLinks::CallbackLinks(std::string key, int64_t ttl_ms, std::string_view purpose)
    : key_(std::move(key)), ttl_ms_(ttl_ms), purpose_(purpose) {
  if (key_.size() < 16) throw std::invalid_argument("call-back link key: at least 16 bytes");
}

std::string CallbackLinks::sign(std::string_view payload_b64) const {
  std::string msg = fmt::format("mcn-{}-v1.{}", purpose_, payload_b64);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  return base64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string CallbackLinks::issue(std::string_view person, std::string_view caller,
                                 int64_t now_ms) const {
  if (person.empty() || caller.empty() || person.find('\n') != std::string_view::npos ||
      caller.find('\n') != std::string_view::npos) {
    return {};
  }
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return {};
  std::string hex;
  for (unsigned char b : nonce) hex += fmt::format("{:02x}", b);
  std::string payload = fmt::format("v1\n{}\n{}\n{}\n{}", person, caller, now_ms + ttl_ms_, hex);
  std::string b64 = base64url(payload);
  return b64 + "." + sign(b64);
}

CallbackLinks::Checked CallbackLinks::check(std::string_view token, int64_t now_ms) const {
  Checked out;
  auto dot = token.find('.');
  if (token.size() > kMaxToken || dot == std::string_view::npos) return out;
  std::string_view b64 = token.substr(0, dot), mac = token.substr(dot + 1);
  std::string expect = sign(b64);
  if (mac.size() != expect.size() || CRYPTO_memcmp(mac.data(), expect.data(), mac.size()) != 0) {
    out.verdict = LinkVerdict::kForged;
    return out;
  }
  std::string payload;
  if (!unbase64url(b64, payload)) return out;
  // Signed by us, so well formed unless the key was reused by something else.
  std::vector<std::string_view> f;
  std::string_view rest = payload;
  for (size_t nl; (nl = rest.find('\n')) != std::string_view::npos; rest.remove_prefix(nl + 1)) {
    f.push_back(rest.substr(0, nl));
  }
  f.push_back(rest);
  if (f.size() != 5 || f[0] != "v1") return out;
  int64_t exp = 0;
  for (char c : f[3]) {
    if (c < '0' || c > '9' || exp > (INT64_MAX - 9) / 10) return out;
    exp = exp * 10 + (c - '0');
  }
  out.claims = {std::string(f[1]), std::string(f[2]), exp, std::string(f[4])};
  if (now_ms >= exp) {
    out.verdict = LinkVerdict::kExpired;
  } else if (used_.contains(f[4])) {
    out.verdict = LinkVerdict::kUsed;
  } else {
    out.verdict = LinkVerdict::kOk;
  }
  return out;
}

CallbackLinks::Checked CallbackLinks::redeem(std::string_view token, int64_t now_ms) {
  // Expired tokens are refused by their expiry alone: forget them.
  for (auto it = used_.begin(); it != used_.end();) {
    it = it->second <= now_ms ? used_.erase(it) : std::next(it);
  }
  Checked c = check(token, now_ms);
  if (c.verdict != LinkVerdict::kOk) return c;
  if (used_.size() >= kMaxRemembered) {
    c.verdict = LinkVerdict::kFull;
    return c;
  }
  used_.emplace(c.claims.nonce, c.claims.expires_ms);
  return c;
}

bool RateLimits::allow(std::string_view person, int64_t now_ms, std::string* why) {
  constexpr int64_t kMinute = 60'000, kHour = 3'600'000;
  while (!all_.empty() && all_.front() <= now_ms - kMinute) all_.pop_front();
  for (auto it = person_.begin(); it != person_.end();) {
    auto& q = it->second;
    while (!q.empty() && q.front() <= now_ms - kHour) q.pop_front();
    it = q.empty() ? person_.erase(it) : std::next(it);
  }
  if (global_ > 0 && all_.size() >= static_cast<size_t>(global_)) {
    if (why) *why = fmt::format("more than {} call-backs in a minute", global_);
    return false;
  }
  auto it = person_.find(person);
  if (per_person_ > 0 && it != person_.end() &&
      it->second.size() >= static_cast<size_t>(per_person_)) {
    if (why) *why = fmt::format("more than {} call-backs in an hour for {}", per_person_, person);
    return false;
  }
  all_.push_back(now_ms);
  if (it == person_.end()) it = person_.emplace(std::string(person), std::deque<int64_t>{}).first;
  it->second.push_back(now_ms);
  return true;
}

}  // namespace mcn::sipua
