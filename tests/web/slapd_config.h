#pragma once
// The authenticator's set-up for the test slapd (tests/support/slapd.h) that the LDAP suites
// share: a DN template over ldaps://, the person id in employeeNumber, operators in
// cn=mcn-operators. Tests change what they exercise from there.

#include "../support/slapd.h"
#include "mcn/web/ldap_auth.h"

namespace mcn::test {

inline web::LdapConfig templateLdapConfig(const Slapd& slapd) {
  web::LdapConfig c;
  c.url = slapd.ldapsUrl();
  c.ca_file = slapd.caFile();
  c.user_dn = slapd.userDnTemplate();
  c.person_attribute = "employeeNumber";
  c.operator_group = Slapd::kOperators;
  c.timeout_ms = 3000;
  return c;
}

}  // namespace mcn::test
