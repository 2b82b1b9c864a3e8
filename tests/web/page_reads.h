#pragma once
// What a browser reads off a web console answer, for the tests that drive the console over HTTP
// (tests/web, tests/webapp): a cookie's value from Set-Cookie, a form's hidden CSRF token.

#include <httplib.h>

#include <string>
#include <string_view>

#include "mcn/web/session.h"

namespace mcn::web::test {

// The value the answer sets for cookie `name`, or "".
inline std::string cookieFrom(const httplib::Result& r, std::string_view name) {
  for (auto [it, end] = r->headers.equal_range("Set-Cookie"); it != end; ++it) {
    std::string v = cookieValue(it->second.substr(0, it->second.find(';')), name);
    if (!v.empty()) return v;
  }
  return {};
}

// The first form's hidden CSRF token in a page, or "".
inline std::string hiddenCsrf(const std::string& body) {
  std::string k = "name=\"csrf\" value=\"";
  auto at = body.find(k);
  if (at == std::string::npos) return {};
  at += k.size();
  return body.substr(at, body.find('"', at) - at);
}

}  // namespace mcn::web::test
