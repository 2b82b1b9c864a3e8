#include "mcn/web/session.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>

namespace mcn::web {

RandomBytes systemRandom() {
  return [](unsigned char* out, size_t n) { return RAND_bytes(out, static_cast<int>(n)) == 1; };
}

SessionStore::SessionStore(int64_t ttl_ms, size_t max_sessions, RandomBytes random)
    : ttl_ms_(ttl_ms), max_(std::max<size_t>(max_sessions, 1)), random_(std::move(random)) {}

std::string SessionStore::randomHex() {
  unsigned char b[32];
  if (!random_ || !random_(b, sizeof b)) return {};
  std::string hex;
  hex.reserve(2 * sizeof b);
  for (unsigned char c : b) hex += fmt::format("{:02x}", c);
  return hex;
}

void SessionStore::dropExpired(int64_t now_ms) {
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.expires_ms <= now_ms; });
}

std::optional<Session> SessionStore::create(std::string_view person, Role role, int64_t now_ms) {
  if (person.empty()) return std::nullopt;
  dropExpired(now_ms);
  Session s{randomHex(), randomHex(), std::string(person), role, now_ms + ttl_ms_};
  if (s.id.empty() || s.csrf.empty() || sessions_.contains(s.id)) return std::nullopt;
  if (sessions_.size() >= max_) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
      return a.second.expires_ms < b.second.expires_ms;
    });
    sessions_.erase(oldest);
    ++evicted_;
  }
  sessions_.emplace(s.id, s);
  return s;
}

std::optional<Session> SessionStore::find(std::string_view id, int64_t now_ms) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires_ms <= now_ms) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.expires_ms = now_ms + ttl_ms_;
  return it->second;
}

bool SessionStore::end(std::string_view id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  sessions_.erase(it);
  return true;
}

bool csrfMatches(std::string_view expected, std::string_view sent) {
  if (expected.empty() || sent.size() != expected.size()) return false;
  return CRYPTO_memcmp(expected.data(), sent.data(), expected.size()) == 0;
}

std::string sessionCookie(std::string_view id, int64_t max_age_s, bool tls) {
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", kSessionCookie, id,
                     max_age_s, tls ? "; Secure" : "");
}

std::string cookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    std::string_view v = pair.substr(eq + 1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return std::string(v);
  }
  return {};
}

}  // namespace mcn::web
