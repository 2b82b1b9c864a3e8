#pragma once
// Staff sign-in by a one-time link (issue 18 item 4): the link is sent through the person's own
// notification channel; opening it (GET) only shows a confirm page, because mail and chat link
// scanners fetch every URL; only the confirm page's POST redeems it and makes a session. Links are
// the signed single-use tokens of sipua/callback_link.h with purpose "signin", expire, and are
// rate-limited per person and overall. Time is passed in.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "mcn/sipua/callback_link.h"

namespace mcn::web {

struct SignInLimits {
  int64_t link_ttl_ms = 15 * 60 * 1000;
  int per_person_per_hour = 5;  // links asked for one person
  int global_per_minute = 60;   // links asked for anyone
};

class SignInLinks {
 public:
  // `key`: at least 16 bytes (std::invalid_argument otherwise).
  SignInLinks(std::string key, SignInLimits limits);

  struct Issued {
    std::string token;  // empty when refused
    std::string why;    // why refused, in words (rate limit, unrepresentable person)
  };
  // A link token for `person` (who must already be known to exist: the caller checks the
  // directory, and answers the same whether or not the person exists, so the form does not
  // reveal who works here).
  Issued issue(std::string_view person, int64_t now_ms);

  // The confirm page: is the token good, for whom. Uses nothing up.
  sipua::CallbackLinks::Checked check(std::string_view token, int64_t now_ms) const;
  // The confirm page's POST: single use; a second redeem answers kUsed.
  sipua::CallbackLinks::Checked redeem(std::string_view token, int64_t now_ms);

  // A password sign-in attempt (directory account) for `user`: the same limits as links (per
  // user name, ASCII case folded as directories match it, and overall), counted apart from them.
  // False when over a limit.
  bool allowPasswordAttempt(std::string_view user, int64_t now_ms);

 private:
  mutable std::mutex mu_;  // HTTP threads
  sipua::CallbackLinks links_;
  sipua::RateLimits limits_;
  sipua::RateLimits password_limits_;
};

}  // namespace mcn::web
