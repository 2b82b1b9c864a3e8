#pragma once
// [web]: the web console on mcn run's HTTP server (README "Web console"). Off by default.

#include <cstdint>
#include <string>

namespace mcn::web {

// web.ldap_*: staff (and operators) sign in with their directory account by an LDAP simple bind
// over TLS (web/include/mcn/web/ldap_auth.h). Off while `url` is empty.
struct LdapConfig {
  // ldaps://host:port, or ldap://host:port which then requires StartTLS (RFC 4513 §3): the
  // password never crosses the network in the clear.
  std::string url;
  std::string ca_file;  // CA certificates (PEM) the server's certificate must chain to; empty:
                        // the system's trust store. The certificate is always verified.
  // Either a DN template ("uid={user},ou=people,dc=example,dc=net", the name escaped per
  // RFC 4514 §2.4) ...
  std::string user_dn;
  // ... or search-then-bind: a service account finds the user's entry under `base` with
  // `filter` ({user} escaped per RFC 4515 §3), then the user's own bind checks the password.
  std::string bind_dn;
  std::string bind_password_ref;  // env:NAME or file:/path
  std::string base;
  std::string filter = "(uid={user})";
  // The attribute whose value is the mcn person id (e.g. employeeNumber); empty: the user name
  // is the person id.
  std::string person_attribute;
  // A group's DN: its members (member / uniqueMember, or the user's memberOf) may sign in to
  // /ops. Empty: operators use the token only.
  std::string operator_group;
  int64_t timeout_ms = 5000;  // connect, TLS handshake and each operation

  bool operator==(const LdapConfig&) const = default;
};

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
  LdapConfig ldap;

  bool operator==(const WebConfig&) const = default;
};

}  // namespace mcn::web
