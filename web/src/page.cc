#include "page.h"

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/rand.h>

#include <array>
#include <ctime>

#include "mcn/web/console.h"
#include "mcn/web/html.h"
#include "mcn/web/session.h"

namespace mcn::web {
namespace {

// The one style sheet, embedded: readable on a phone, visible keyboard focus.
constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;"
    "line-height:1.4}table{border-collapse:collapse;width:100%}th,td{text-align:left;"
    "padding:.3rem;border-bottom:1px solid "
    "#ccc}input,button,select,textarea{font-size:1rem;padding:.4rem}"
    ":focus{outline:3px solid #1a5fb4;outline-offset:2px}"
    ".error{color:#a51d2d}.notice{background:#e8f4e8;padding:.5rem}fieldset{margin:.5rem 0}"
    "form.inline{display:inline}pre{overflow-x:auto;font-size:.85rem}"
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}"
    "@media(max-width:40rem){table,thead,tbody,tr,th,td{display:block}thead{display:none}"
    "td{border:0}tr{border-bottom:1px solid #ccc;padding:.3rem 0}}";

}  // namespace

std::string page(Lang l, std::string_view title, std::string_view body, std::string_view head) {
  return fmt::format(
      "<!doctype html><html lang=\"{0}\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<meta name=\"robots\" content=\"noindex\"><title>{1}</title><style>{2}</style>{4}"
      "</head><body><main><h1>{1}</h1>{3}</main></body></html>\n",
      langCode(l), htmlEscape(title), kStyle, body, head);
}

std::string alertLine(std::string_view text) {
  return fmt::format("<p role=\"alert\" class=\"error\">{}</p>", htmlEscape(text));
}

void refusePage(httplib::Response& res, Lang l, int status, std::string_view title,
                std::string_view why, std::string_view back, std::string_view back_label) {
  std::string body = alertLine(why);
  if (!back.empty()) {
    body += fmt::format("<p><a href=\"{}\">{}</a></p>", htmlEscape(back), htmlEscape(back_label));
  }
  res.status = status;
  res.set_content(page(l, title, body), "text/html; charset=utf-8");
}

std::string randomHex() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) return {};
  std::string hex;
  for (unsigned char c : b) hex += fmt::format("{:02x}", c);
  return hex;
}

std::string formCookie(std::string_view value, int64_t max_age_s, bool tls) {
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", kFormCookie, value,
                     max_age_s, tls ? "; Secure" : "");
}

std::string utcTime(int64_t ms) {
  std::time_t t = ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

void noStore(httplib::Response& res, bool scripts) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Content-Security-Policy",
                 scripts ? "default-src 'none'; script-src 'self'; connect-src 'self'; "
                           "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
                         : "default-src 'none'; style-src 'unsafe-inline'; "
                           "form-action 'self'; frame-ancestors 'none'");
}

void seeOther(httplib::Response& res, std::string_view where) {
  res.status = 303;
  res.set_header("Location", std::string(where));
}

Lang requestLang(const httplib::Request& req, std::string_view preference) {
  return pickLanguage(preference, req.get_header_value("Accept-Language"));
}

// A form that posts to `action` with the pre-session token, set as a cookie too.
std::string preSessionForm(httplib::Response& res, bool tls, std::string_view action,
                           std::string_view fields, std::string_view button) {
  std::string token = randomHex();
  res.set_header("Set-Cookie", formCookie(token, 1800, tls));
  return formWithToken(token, action, fields, button);
}

std::string formWithToken(std::string_view token, std::string_view action, std::string_view fields,
                          std::string_view button) {
  return fmt::format(
      "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">"
      "{}<p><button type=\"submit\">{}</button></p></form>",
      htmlEscape(action), token, fields, htmlEscape(button));
}

bool preSessionTokenOk(const httplib::Request& req) {
  return csrfMatches(cookieValue(req.get_header_value("Cookie"), kFormCookie),
                     req.get_param_value("csrf"));
}

std::string clientOf(const httplib::Request& req) {
  return req.remote_addr.find(':') != std::string::npos ? "[" + req.remote_addr + "]"
                                                        : req.remote_addr;
}

// An outcome in words (DESIGN.md's outcome names); anything else is shown as given.
std::string_view outcomeWords(Lang l, std::string_view name) {
  static constexpr std::array<std::array<std::string_view, 3>, 10> kWords{{
      {"answered", "answered", "已接听"},
      {"answered_elsewhere", "answered elsewhere", "在别处接听"},
      {"forwarded", "forwarded", "已转接"},
      {"cancelled", "caller hung up", "对方已挂断"},
      {"busy", "busy", "忙线"},
      {"no_answer", "no answer", "无人接听"},
      {"declined", "declined", "已拒接"},
      {"redirected", "redirected", "已重定向"},
      {"failed", "failed", "呼叫失败"},
      {"incomplete", "incomplete", "未完成"},
  }};
  for (const auto& w : kWords) {
    if (w[0] == name) return l == Lang::kZh ? w[2] : w[1];
  }
  return name;
}

}  // namespace mcn::web
