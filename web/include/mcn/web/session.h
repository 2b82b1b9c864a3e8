#pragma once
// Web console sessions (issue 18 item 1): an opaque random id in a cookie (HttpOnly,
// SameSite=Strict, Secure when served over TLS) names a session held here, in memory; each
// session carries its own CSRF token, which every POST form must echo back. Time and randomness
// are passed in (Envoy-style seams), so expiry is tested without sleeping.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mcn::web {

enum class Role { kStaff, kOperator };

struct Session {
  std::string id;    // cookie value: 32 random bytes, hex
  std::string csrf;  // form token: 32 random bytes, hex
  std::string person;
  Role role = Role::kStaff;
  int64_t expires_ms = 0;
};

// Fills `n` random bytes; false when the source failed (then no session is made).
using RandomBytes = std::function<bool(unsigned char* out, size_t n)>;
// OpenSSL's RAND_bytes.
RandomBytes systemRandom();

class SessionStore {
 public:
  // `ttl_ms`: idle lifetime, renewed by find(). `max_sessions`: the cap; beyond it the session
  // nearest expiry is ended (counted in evicted()) rather than the table growing without bound.
  SessionStore(int64_t ttl_ms, size_t max_sessions, RandomBytes random = systemRandom());

  // Nothing when the random source failed or person is empty.
  std::optional<Session> create(std::string_view person, Role role, int64_t now_ms);
  // The live session for a cookie value (expiry renewed), or nothing.
  std::optional<Session> find(std::string_view id, int64_t now_ms);
  // Sign out. True when there was such a session.
  bool end(std::string_view id);

  size_t size() const { return sessions_.size(); }
  uint64_t evicted() const { return evicted_; }

 private:
  std::string randomHex();
  void dropExpired(int64_t now_ms);

  int64_t ttl_ms_;
  size_t max_;
  RandomBytes random_;
  std::map<std::string, Session, std::less<>> sessions_;
  uint64_t evicted_ = 0;
};

// Constant-time comparison of the session's CSRF token and the one the form sent; false when
// either is empty (a POST without the token is refused).
bool csrfMatches(std::string_view expected, std::string_view sent);

// The Set-Cookie value for a session id (`max_age_s` 0 ends the cookie: sign-out).
std::string sessionCookie(std::string_view id, int64_t max_age_s, bool tls);
// The value of cookie `name` in a Cookie request header (RFC 6265 §5.4), or empty.
std::string cookieValue(std::string_view cookie_header, std::string_view name);

inline constexpr std::string_view kSessionCookie = "mcn_session";

}  // namespace mcn::web
