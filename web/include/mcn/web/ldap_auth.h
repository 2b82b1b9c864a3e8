#pragma once
// Sign-in with a directory account (issue 18 item 4): an LDAP simple bind over TLS (libldap).
// Each attempt opens a fresh connection, bounded by timeout_ms at every step (TCP connect, TLS
// handshake, each operation), so an HTTP thread never hangs on a dead server.
//
// Refused before any network I/O: an empty password (RFC 4513 §5.1.2: a simple bind with a name
// and no password is an "unauthenticated" bind that servers answer with success), a user name
// that is empty, longer than 256 bytes or holds control characters. The user name is escaped per
// RFC 4514 §2.4 in a DN template and per RFC 4515 §3 in a search filter, so "*)(uid=*" is only
// ever a name. The password is never logged.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "mcn/web/config.h"

namespace mcn::web {

class LdapAuthenticator {
 public:
  // `bind_password`: the service account's password (bind_password_ref resolved), or "".
  // Throws std::invalid_argument when `cfg` cannot work (ldapConfigProblem says why).
  LdapAuthenticator(LdapConfig cfg, std::string bind_password);

  enum class Outcome {
    kOk,              // the password is right
    kRefused,         // refused before any network I/O (empty password, bad user name)
    kBadCredentials,  // wrong password or no such user (the same answer for both)
    kError,           // TLS, timeout, server down or misconfigured: nobody could sign in
  };
  struct Result {
    bool ok = false;
    Outcome outcome = Outcome::kError;
    // The mcn person id: person_attribute's value, or the user name; empty when the entry has
    // no such attribute.
    std::string person_id;
    bool is_operator = false;  // listed in operator_group
    std::string user_dn;       // the entry bound as (for the log)
    std::string error;         // why not, in words (never the password)
  };
  Result authenticate(std::string_view user, std::string_view password);

  // web.ldap.binds_ok, web.ldap.binds_failed (wrong password, unknown user), web.ldap.refused
  // (before any network I/O), web.ldap.errors (TLS, timeout, server).
  uint64_t bindsOk() const { return ok_.load(); }
  uint64_t bindsFailed() const { return failed_.load(); }
  uint64_t refused() const { return refused_.load(); }
  uint64_t errors() const { return errors_.load(); }

  const LdapConfig& config() const { return cfg_; }

  static constexpr size_t kMaxUser = 256;
  static constexpr size_t kMaxPassword = 1024;

 private:
  LdapConfig cfg_;
  std::string bind_password_;
  std::atomic<uint64_t> ok_{0}, failed_{0}, refused_{0}, errors_{0};
};

// Why `cfg` cannot work ("" when it can): the URL's scheme, the template's or filter's {user},
// search-then-bind's keys. Shared with the config loader's messages.
std::string ldapConfigProblem(const LdapConfig& cfg);

// RFC 4514 §2.4: an attribute value inside a DN string.
std::string escapeDnValue(std::string_view v);
// RFC 4515 §3: an assertion value inside a search filter.
std::string escapeFilterValue(std::string_view v);

}  // namespace mcn::web
