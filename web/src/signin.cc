#include "mcn/web/signin.h"

namespace mcn::web {

namespace {
// The second claim of a sign-in token: what it signs into (the purpose "signin" in the signed
// text already keeps these tokens apart from call-back links).
constexpr std::string_view kAudience = "web";
}  // namespace

SignInLinks::SignInLinks(std::string key, SignInLimits limits)
    : links_(std::move(key), limits.link_ttl_ms, "signin"),
      limits_(limits.per_person_per_hour, limits.global_per_minute),
      password_limits_(limits.per_person_per_hour, limits.global_per_minute) {}

SignInLinks::Issued SignInLinks::issue(std::string_view person, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Issued out;
  if (!limits_.allow(person, now_ms, &out.why)) {
    // RateLimits words its answers for call-backs; say it for sign-in links.
    out.why = "too many sign-in links asked for; try again later";
    return out;
  }
  out.token = links_.issue(person, kAudience, now_ms);
  if (out.token.empty()) out.why = "this person cannot sign in by link";
  return out;
}

sipua::CallbackLinks::Checked SignInLinks::check(std::string_view token, int64_t now_ms) const {
  std::lock_guard lock(mu_);
  return links_.check(token, now_ms);
}

sipua::CallbackLinks::Checked SignInLinks::redeem(std::string_view token, int64_t now_ms) {
  std::lock_guard lock(mu_);
  return links_.redeem(token, now_ms);
}

bool SignInLinks::allowPasswordAttempt(std::string_view user, int64_t now_ms) {
  std::string key(user.substr(0, 256));
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::lock_guard lock(mu_);
  std::string why;
  return password_limits_.allow(key, now_ms, &why);
}

}  // namespace mcn::web
