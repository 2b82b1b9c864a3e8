#pragma once
// [web]: the web console on mcn run's HTTP server (README "Web console"). Off by default.

#include <cstdint>
#include <string>

namespace mcn::web {

struct WebConfig {
  bool enabled = false;
  // The console's address as people's browsers reach it, ending in "/" (sign-in links are
  // <base_url>signin/link/<token>); an https:// address makes the cookies Secure.
  std::string base_url;
  std::string signin_key_ref;  // HMAC-SHA256 key for sign-in links: env:NAME or file:/path
  int64_t signin_link_ttl_ms = 15 * 60 * 1000;
  int signin_per_person_per_hour = 5;
  int signin_global_per_minute = 60;
  int64_t session_ttl_ms = 8 * 3600 * 1000;  // idle time before a session ends
  int max_sessions = 10000;
  // The operators' shared token for the /ops pages (env:NAME or file:/path, >= 16 bytes); empty:
  // no operator pages.
  std::string operator_token_ref;

  bool operator==(const WebConfig&) const = default;
};

}  // namespace mcn::web
