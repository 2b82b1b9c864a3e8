#pragma once
// What every console page shares (staff pages in console.cc, operator pages in ops_pages.cc): the
// page frame with its one embedded style sheet, the security headers, the pre-session form token,
// the language of a request and outcomes in words. Internal to web/.

#include <cstdint>
#include <string>
#include <string_view>

#include "mcn/web/i18n.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace mcn::web {

// A whole HTML page: <h1> `title`, then `body` (already HTML). `head`: more for <head> (a script
// element on the operator pages).
std::string page(Lang l, std::string_view title, std::string_view body, std::string_view head = {});

// `text` (escaped) as an error line that screen readers announce.
std::string alertLine(std::string_view text);

// A refusal answered with `status`: a page under `title` saying `why`, and a link back to `back`
// (`back_label`) when one is given.
void refusePage(httplib::Response& res, Lang l, int status, std::string_view title,
                std::string_view why, std::string_view back = {}, std::string_view back_label = {});

// 32 random bytes as hex; empty when the random source failed.
std::string randomHex();

// The pre-session form cookie's Set-Cookie value.
std::string formCookie(std::string_view value, int64_t max_age_s, bool tls);

// "2026-12-07 07:27:00 UTC".
std::string utcTime(int64_t ms);

// Headers of every console answer: not cached, no referrer, no sniffing, a CSP that allows no
// script at all, or (`scripts`) the console's own scripts and requests to itself only.
void noStore(httplib::Response& res, bool scripts = false);

void seeOther(httplib::Response& res, std::string_view where);

// The language for this request: the person's preference, else the browser's Accept-Language.
Lang requestLang(const httplib::Request& req, std::string_view preference);

// A form that posts to `action` with a new pre-session token, which is also set as a cookie.
std::string preSessionForm(httplib::Response& res, bool tls, std::string_view action,
                           std::string_view fields, std::string_view button);
// Two or more forms on one page share one token (the cookie holds one): set it once with
// formCookie, then build each form with formWithToken.
std::string formWithToken(std::string_view token, std::string_view action, std::string_view fields,
                          std::string_view button);
// The POST's token is the one its cookie holds (double submit).
bool preSessionTokenOk(const httplib::Request& req);

// The directory sign-in form (console.cc): user name, password, `token` for CSRF, under a heading;
// `intro`: HTML between the heading and the form.
std::string ldapForm(Lang l, std::string_view token, std::string_view action,
                     std::string_view intro);
// A user name as the log shows it: quoted, control characters as '?', at most 64 bytes.
std::string printableUser(std::string_view user);

// The client's address for the change log ("[::1]" for IPv6).
std::string clientOf(const httplib::Request& req);

// An outcome in words (DESIGN.md's outcome names); anything else is shown as given.
std::string_view outcomeWords(Lang l, std::string_view name);

}  // namespace mcn::web
