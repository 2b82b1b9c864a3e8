#include "mcn/web/console.h"

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/rand.h>

#include <array>
#include <ctime>

#include "mcn/web/html.h"
#include "mcn/web/i18n.h"

namespace mcn::web {
namespace {

enum class T {
  kSignInTitle,
  kPersonLabel,
  kSendLink,
  kLinkSent,
  kConfirmTitle,
  kConfirmText,
  kConfirmButton,
  kLinkBad,
  kLinkUsed,
  kLinkExpired,
  kFormToken,
  kMyCalls,
  kWhen,
  kCaller,
  kMyNumber,
  kOutcome,
  kRing,
  kTold,
  kNotTold,
  kNone,
  kSignOut,
  kSignedInAs,
  kCount
};

// English, then Chinese.
constexpr std::array<std::array<std::string_view, 2>, static_cast<size_t>(T::kCount)> kText{{
    {"Sign in", "登录"},
    {"Your person id", "您的人员编号"},
    {"Send me a sign-in link", "发送登录链接给我"},
    {"If that person exists, a sign-in link is on its way through their notification channel.",
     "如果该人员存在，登录链接已通过其通知渠道发出。"},
    {"Confirm sign-in", "确认登录"},
    {"Sign in to the missed-call console as", "以此身份登录未接来电控制台："},
    {"Sign in", "登录"},
    {"This sign-in link is not valid.", "此登录链接无效。"},
    {"This sign-in link was used already.", "此登录链接已被使用。"},
    {"This sign-in link has expired.", "此登录链接已过期。"},
    {"The form's security token is missing or wrong: reload the page and try again.",
     "表单的安全令牌缺失或错误：请刷新页面后重试。"},
    {"My missed calls", "我的未接来电"},
    {"When", "时间"},
    {"Caller", "来电者"},
    {"My number", "我的号码"},
    {"Outcome", "结果"},
    {"Ring", "振铃"},
    {"Told", "已通知"},
    {"not told", "未通知"},
    {"No missed calls.", "没有未接来电。"},
    {"Sign out", "退出登录"},
    {"Signed in as", "当前用户"},
}};

std::string_view tr(Lang l, T t) { return kText[static_cast<size_t>(t)][l == Lang::kZh ? 1 : 0]; }

// The one style sheet, embedded: readable on a phone, visible keyboard focus.
constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;"
    "line-height:1.4}table{border-collapse:collapse;width:100%}th,td{text-align:left;"
    "padding:.3rem;border-bottom:1px solid #ccc}input,button{font-size:1rem;padding:.4rem}"
    ":focus{outline:3px solid #1a5fb4;outline-offset:2px}"
    "@media(max-width:40rem){table,thead,tbody,tr,th,td{display:block}thead{display:none}"
    "td{border:0}tr{border-bottom:1px solid #ccc;padding:.3rem 0}}";

std::string page(Lang l, std::string_view title, std::string_view body) {
  return fmt::format(
      "<!doctype html><html lang=\"{0}\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<meta name=\"robots\" content=\"noindex\"><title>{1}</title><style>{2}</style></head>"
      "<body><main><h1>{1}</h1>{3}</main></body></html>\n",
      langCode(l), htmlEscape(title), kStyle, body);
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

void noStore(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; "
                 "form-action 'self'; frame-ancestors 'none'");
}

void seeOther(httplib::Response& res, std::string_view where) {
  res.status = 303;
  res.set_header("Location", std::string(where));
}

}  // namespace

WebConsole::WebConsole(SignInLinks& links, ConsoleOptions options, ConsoleSeams seams)
    : links_(links),
      opt_(std::move(options)),
      seams_(std::move(seams)),
      sessions_(opt_.session_ttl_ms, opt_.max_sessions) {}

void WebConsole::addRoutes(httplib::Server& server) {
  server.Get("/signin", [this](const auto& req, auto& res) { signinForm(req, res); });
  server.Post("/signin", [this](const auto& req, auto& res) { signinPost(req, res); });
  server.Get(R"(/signin/link/([A-Za-z0-9_.-]{1,2048}))",
             [this](const auto& req, auto& res) { linkConfirm(req, res); });
  server.Post(R"(/signin/link/([A-Za-z0-9_.-]{1,2048}))",
              [this](const auto& req, auto& res) { linkPost(req, res); });
  server.Get("/me", [this](const auto& req, auto& res) { me(req, res); });
  server.Post("/signout", [this](const auto& req, auto& res) { signout(req, res); });
}

namespace {

Lang requestLang(const httplib::Request& req, std::string_view preference) {
  return pickLanguage(preference, req.get_header_value("Accept-Language"));
}

// A form that posts to `action` with the pre-session token, set as a cookie too.
std::string preSessionForm(httplib::Response& res, bool tls, std::string_view action,
                           std::string_view fields, std::string_view button) {
  std::string token = randomHex();
  res.set_header("Set-Cookie", formCookie(token, 1800, tls));
  return fmt::format(
      "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">"
      "{}<p><button type=\"submit\">{}</button></p></form>",
      htmlEscape(action), token, fields, htmlEscape(button));
}

bool preSessionTokenOk(const httplib::Request& req) {
  return csrfMatches(cookieValue(req.get_header_value("Cookie"), kFormCookie),
                     req.get_param_value("csrf"));
}

}  // namespace

void WebConsole::signinForm(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  Lang l = requestLang(req, "");
  std::string fields = fmt::format(
      "<p><label for=\"person\">{}</label><br><input id=\"person\" name=\"person\" "
      "autocomplete=\"username\" required autofocus></p>",
      htmlEscape(tr(l, T::kPersonLabel)));
  res.set_content(page(l, tr(l, T::kSignInTitle),
                       preSessionForm(res, opt_.tls, "/signin", fields, tr(l, T::kSendLink))),
                  "text/html; charset=utf-8");
}

void WebConsole::signinPost(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  Lang l = requestLang(req, "");
  if (!preSessionTokenOk(req)) {
    res.status = 403;
    res.set_content(page(l, tr(l, T::kSignInTitle),
                         "<p role=\"alert\">" + htmlEscape(tr(l, T::kFormToken)) + "</p>"),
                    "text/html; charset=utf-8");
    return;
  }
  std::string person = req.get_param_value("person");
  // The answer is the same whether or not the person exists: the form does not tell who works
  // here. Only the rate limit speaks (it applies to any name typed).
  if (!person.empty() && person.size() <= 256 && seams_.person_exists(person)) {
    auto issued = links_.issue(person, seams_.now_ms());
    if (issued.token.empty()) {
      res.status = 429;
      res.set_content(
          page(l, tr(l, T::kSignInTitle), "<p role=\"alert\">" + htmlEscape(issued.why) + "</p>"),
          "text/html; charset=utf-8");
      return;
    }
    seams_.send_link(person, opt_.base_url + "signin/link/" + issued.token);
  }
  res.set_content(page(l, tr(l, T::kSignInTitle),
                       "<p role=\"status\">" + htmlEscape(tr(l, T::kLinkSent)) + "</p>"),
                  "text/html; charset=utf-8");
}

namespace {

T linkProblem(sipua::LinkVerdict v) {
  switch (v) {
    case sipua::LinkVerdict::kUsed:
      return T::kLinkUsed;
    case sipua::LinkVerdict::kExpired:
      return T::kLinkExpired;
    default:
      return T::kLinkBad;
  }
}

int linkStatus(sipua::LinkVerdict v) {
  switch (v) {
    case sipua::LinkVerdict::kUsed:
    case sipua::LinkVerdict::kExpired:
      return 410;
    case sipua::LinkVerdict::kForged:
      return 403;
    case sipua::LinkVerdict::kFull:
      return 503;
    default:
      return 400;
  }
}

}  // namespace

void WebConsole::linkConfirm(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  auto c = links_.check(req.matches[1].str(), seams_.now_ms());
  Lang l = requestLang(
      req, c.verdict == sipua::LinkVerdict::kOk ? seams_.language(c.claims.person) : std::string());
  if (c.verdict != sipua::LinkVerdict::kOk) {
    res.status = linkStatus(c.verdict);
    res.set_content(
        page(l, tr(l, T::kConfirmTitle),
             "<p role=\"alert\">" + htmlEscape(tr(l, linkProblem(c.verdict))) +
                 "</p><p><a href=\"/signin\">" + htmlEscape(tr(l, T::kSignInTitle)) + "</a></p>"),
        "text/html; charset=utf-8");
    return;
  }
  std::string text = fmt::format("<p>{} <b>{}</b></p>", htmlEscape(tr(l, T::kConfirmText)),
                                 htmlEscape(c.claims.person));
  res.set_content(
      page(l, tr(l, T::kConfirmTitle),
           text + preSessionForm(res, opt_.tls, req.path, "", tr(l, T::kConfirmButton))),
      "text/html; charset=utf-8");
}

void WebConsole::linkPost(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  if (!preSessionTokenOk(req)) {
    Lang l = requestLang(req, "");
    res.status = 403;
    res.set_content(page(l, tr(l, T::kConfirmTitle),
                         "<p role=\"alert\">" + htmlEscape(tr(l, T::kFormToken)) + "</p>"),
                    "text/html; charset=utf-8");
    return;
  }
  int64_t now = seams_.now_ms();
  auto c = links_.redeem(req.matches[1].str(), now);
  if (c.verdict != sipua::LinkVerdict::kOk) {
    Lang l = requestLang(req, "");
    res.status = linkStatus(c.verdict);
    res.set_content(page(l, tr(l, T::kConfirmTitle),
                         "<p role=\"alert\">" + htmlEscape(tr(l, linkProblem(c.verdict))) + "</p>"),
                    "text/html; charset=utf-8");
    return;
  }
  std::optional<Session> s;
  {
    std::lock_guard lock(mu_);
    s = sessions_.create(c.claims.person, Role::kStaff, now);
  }
  if (!s) {
    res.status = 503;
    res.set_content("no session could be made\n", "text/plain");
    return;
  }
  res.set_header("Set-Cookie", sessionCookie(s->id, opt_.session_ttl_ms / 1000, opt_.tls));
  res.set_header("Set-Cookie", formCookie("", 0, opt_.tls));
  seeOther(res, "/me");
}

void WebConsole::me(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  std::optional<Session> s;
  {
    std::lock_guard lock(mu_);
    s = sessions_.find(cookieValue(req.get_header_value("Cookie"), kSessionCookie),
                       seams_.now_ms());
  }
  if (!s || s->role != Role::kStaff) {
    seeOther(res, "/signin");
    return;
  }
  Lang l = requestLang(req, seams_.language(s->person));
  // Only the session's own person: no parameter names whose calls are shown.
  auto calls = seams_.missed_calls(s->person);
  std::string body = fmt::format(
      "<p>{} <b>{}</b></p><form method=\"post\" action=\"/signout\"><input type=\"hidden\" "
      "name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form><h2>{}</h2>",
      htmlEscape(tr(l, T::kSignedInAs)), htmlEscape(s->person), s->csrf,
      htmlEscape(tr(l, T::kSignOut)), htmlEscape(tr(l, T::kMyCalls)));
  if (calls.empty()) {
    body += "<p>" + htmlEscape(tr(l, T::kNone)) + "</p>";
  } else {
    body += fmt::format(
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th "
        "scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th "
        "scope=\"col\">{}</th></tr></thead><tbody>",
        htmlEscape(tr(l, T::kWhen)), htmlEscape(tr(l, T::kCaller)), htmlEscape(tr(l, T::kMyNumber)),
        htmlEscape(tr(l, T::kOutcome)), htmlEscape(tr(l, T::kRing)), htmlEscape(tr(l, T::kTold)));
    for (const auto& c : calls) {
      std::string caller = c.caller_name.empty()
                               ? htmlEscape(c.caller_number)
                               : fmt::format("{} &lt;{}&gt;", htmlEscape(c.caller_name),
                                             htmlEscape(c.caller_number));
      body += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1f} s</td><td>{}</td></tr>",
          utcTime(c.started_ms), caller, htmlEscape(c.my_number), htmlEscape(c.outcome),
          static_cast<double>(c.ring_ms) / 1000.0,
          c.told.empty() ? htmlEscape(tr(l, T::kNotTold)) : htmlEscape(c.told));
    }
    body += "</tbody></table>";
  }
  res.set_content(page(l, tr(l, T::kMyCalls), body), "text/html; charset=utf-8");
}

void WebConsole::signout(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  std::string id = cookieValue(req.get_header_value("Cookie"), kSessionCookie);
  std::lock_guard lock(mu_);
  auto s = sessions_.find(id, seams_.now_ms());
  if (!s || !csrfMatches(s->csrf, req.get_param_value("csrf"))) {
    Lang l = requestLang(req, "");
    res.status = 403;
    res.set_content(page(l, tr(l, T::kSignOut),
                         "<p role=\"alert\">" + htmlEscape(tr(l, T::kFormToken)) + "</p>"),
                    "text/html; charset=utf-8");
    return;
  }
  sessions_.end(id);
  res.set_header("Set-Cookie", sessionCookie("", 0, opt_.tls));
  seeOther(res, "/signin");
}

}  // namespace mcn::web
