#include "mcn/web/console.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <array>

#include "mcn/notifier/time_zone.h"
#include "mcn/subscribers/validate.h"
#include "mcn/web/html.h"
#include "mcn/web/i18n.h"
#include "page.h"

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
  kMyNumbers,
  kMyChannels,
  kChannel,
  kKind,
  kSendTest,
  kTestTitle,
  kTestText,
  kTestSent,
  kTestFailed,
  kNoSuchChannel,
  kPreferences,
  kWhich,
  kWhichMissed,
  kWhichOutcomes,
  kOutcomesLegend,
  kCallsLegend,
  kInternal,
  kExternal,
  kWithheld,
  kMinRing,
  kMergeWindow,
  kQuietHours,
  kQuietOn,
  kQuietStart,
  kQuietEnd,
  kQuietAction,
  kHold,
  kDrop,
  kLanguage,
  kTimeZone,
  kSave,
  kSaved,
  kNotSaved,
  kFixBelow,
  kDurationHint,
  kTimeHint,
  kLdapTitle,
  kUserLabel,
  kPasswordLabel,
  kLdapButton,
  kLdapBad,
  kLdapRefused,
  kLdapNoPerson,
  kLdapDown,
  kTooMany,
  kLinkUnchecked,
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
    {"My numbers", "我的号码"},
    {"My channels", "我的通知渠道"},
    {"Channel", "渠道"},
    {"Kind", "类型"},
    {"Send me a test notification", "给我发送测试通知"},
    {"Test notification", "测试通知"},
    {"This is a test notification from the missed-call notifier.",
     "这是未接来电通知系统的测试通知。"},
    {"A test notification is on its way through", "测试通知已发出，渠道："},
    {"The test notification could not be sent now; try again later.",
     "测试通知暂时无法发送，请稍后重试。"},
    {"That is not one of your channels.", "这不是您的通知渠道。"},
    {"My preferences", "我的偏好设置"},
    {"Tell me about", "通知我"},
    {"every call marked missed", "所有标记为未接的来电"},
    {"only these outcomes:", "仅以下结果："},
    {"Outcomes", "结果"},
    {"Calls", "来电"},
    {"from colleagues (internal)", "同事来电（内部）"},
    {"from outside (external)", "外部来电"},
    {"from withheld numbers", "隐藏号码来电"},
    {"Minimum ring time", "最短振铃时间"},
    {"Merge window", "合并窗口"},
    {"Quiet hours", "免打扰时段"},
    {"Have quiet hours", "启用免打扰时段"},
    {"Quiet hours start", "免打扰开始"},
    {"Quiet hours end", "免打扰结束"},
    {"During quiet hours", "免打扰期间"},
    {"hold the notification until they end", "暂存通知，结束后发送"},
    {"drop the notification", "不发送通知"},
    {"Language", "语言"},
    {"Time zone", "时区"},
    {"Save preferences", "保存偏好设置"},
    {"Your preferences are saved.", "您的偏好设置已保存。"},
    {"Your preferences could not be saved:", "偏好设置无法保存："},
    {"Nothing was saved: correct the fields marked below.", "未保存：请更正下面标出的字段。"},
    {"e.g. 0, 30s, 2m, 1h", "例如 0、30s、2m、1h"},
    {"HH:MM, e.g. 22:00", "HH:MM，例如 22:00"},
    {"Sign in with your directory account", "使用目录账号登录"},
    {"User name", "用户名"},
    {"Password", "密码"},
    {"Sign in with password", "用密码登录"},
    {"Wrong user name or password.", "用户名或密码错误。"},
    {"Enter your user name (at most 256 characters, no control characters) and your password.",
     "请输入用户名（最多 256 个字符，不含控制字符）和密码。"},
    {"Your directory account is right, but there is no mcn person for this account: ask your "
     "administrator.",
     "目录账号正确，但没有与此账号对应的 mcn 人员：请联系管理员。"},
    {"The directory cannot be reached now: try again later, or ask for a sign-in link.",
     "目前无法连接目录服务：请稍后重试，或申请登录链接。"},
    {"Too many sign-in attempts: try again later.", "登录尝试次数过多：请稍后重试。"},
    {"This sign-in link cannot be checked now: try it again in a minute.",
     "目前无法核验此登录链接：请稍后再试。"},
}};

std::string_view tr(Lang l, T t) { return kText[static_cast<size_t>(t)][l == Lang::kZh ? 1 : 0]; }

}  // namespace

std::string printableUser(std::string_view user) {
  std::string out = "\"";
  for (size_t i = 0; i < user.size() && i < 64; ++i) {
    const unsigned char c = static_cast<unsigned char>(user[i]);
    out += c < 0x20 || c == 0x7f || c == '"' ? '?' : static_cast<char>(c);
  }
  if (user.size() > 64) out += "...";
  return out + "\"";
}

std::string ldapForm(Lang l, std::string_view token, std::string_view action,
                     std::string_view intro) {
  // ids apart from the link form's, so each label names its own input.
  std::string fields = fmt::format(
      "<p><label for=\"ldap-user\">{}</label><br><input id=\"ldap-user\" name=\"user\" "
      "maxlength=\"256\" autocomplete=\"username\" required></p><p><label "
      "for=\"ldap-password\">{}</label><br><input id=\"ldap-password\" name=\"password\" "
      "type=\"password\" autocomplete=\"current-password\" required></p>",
      htmlEscape(tr(l, T::kUserLabel)), htmlEscape(tr(l, T::kPasswordLabel)));
  return fmt::format("<h2>{}</h2>{}", htmlEscape(tr(l, T::kLdapTitle)), intro) +
         formWithToken(token, action, fields, tr(l, T::kLdapButton));
}

WebConsole::WebConsole(SignInLinks& links, ConsoleOptions options, ConsoleSeams seams)
    : links_(links),
      opt_(std::move(options)),
      seams_(std::move(seams)),
      sessions_(opt_.session_ttl_ms, opt_.max_sessions) {}

void WebConsole::addRoutes(httplib::Server& server) {
  server.Get("/signin", [this](const auto& req, auto& res) { signinForm(req, res); });
  server.Post("/signin", [this](const auto& req, auto& res) { signinPost(req, res); });
  server.Post("/signin/ldap", [this](const auto& req, auto& res) { ldapPost(req, res); });
  server.Get(R"(/signin/link/([A-Za-z0-9_.-]{1,2048}))",
             [this](const auto& req, auto& res) { linkConfirm(req, res); });
  server.Post(R"(/signin/link/([A-Za-z0-9_.-]{1,2048}))",
              [this](const auto& req, auto& res) { linkPost(req, res); });
  server.Get("/me", [this](const auto& req, auto& res) { me(req, res); });
  server.Post("/me/test", [this](const auto& req, auto& res) { testPost(req, res); });
  server.Post("/me/preferences", [this](const auto& req, auto& res) { preferencesPost(req, res); });
  server.Post("/signout", [this](const auto& req, auto& res) { signout(req, res); });
  addOpsRoutes(server);
}

void WebConsole::signinForm(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  Lang l = requestLang(req, "");
  std::string fields = fmt::format(
      "<p><label for=\"person\">{}</label><br><input id=\"person\" name=\"person\" "
      "autocomplete=\"username\" required autofocus></p>",
      htmlEscape(tr(l, T::kPersonLabel)));
  // One token for both forms: the cookie holds one.
  std::string token = randomHex();
  res.set_header("Set-Cookie", formCookie(token, 1800, opt_.tls));
  std::string body = formWithToken(token, "/signin", fields, tr(l, T::kSendLink));
  if (seams_.ldap) body += ldapForm(l, token, "/signin/ldap", "");
  res.set_content(page(l, tr(l, T::kSignInTitle), body), "text/html; charset=utf-8");
}

void WebConsole::ldapPost(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  Lang l = requestLang(req, "");
  auto answer = [&](int status, T what) {
    refusePage(res, l, status, tr(l, T::kLdapTitle), tr(l, what), "/signin",
               tr(l, T::kSignInTitle));
  };
  if (!seams_.ldap) return answer(404, T::kLdapDown);
  if (!preSessionTokenOk(req)) {
    spdlog::warn("web: directory sign-in from {} refused: form token missing or wrong",
                 clientOf(req));
    return answer(403, T::kFormToken);
  }
  const std::string user = req.get_param_value("user");
  const std::string from = clientOf(req);
  const int64_t now = seams_.now_ms();
  if (!links_.allowPasswordAttempt(user, now)) {
    spdlog::warn("web: directory sign-in of {} from {} refused: too many attempts",
                 printableUser(user), from);
    return answer(429, T::kTooMany);
  }
  auto r = seams_.ldap(user, req.get_param_value("password"));
  switch (r.outcome) {
    case LdapAuthenticator::Outcome::kOk:
      break;
    case LdapAuthenticator::Outcome::kRefused:
      spdlog::warn("web: directory sign-in of {} from {} refused: {}", printableUser(user), from,
                   r.error);
      return answer(400, T::kLdapRefused);
    case LdapAuthenticator::Outcome::kBadCredentials:
      spdlog::warn("web: directory sign-in of {} from {} failed: {}", printableUser(user), from,
                   r.error);
      return answer(403, T::kLdapBad);
    case LdapAuthenticator::Outcome::kError:
      spdlog::error("web: directory sign-in of {} from {} failed: {}", printableUser(user), from,
                    r.error);
      return answer(503, T::kLdapDown);
  }
  if (r.person_id.empty() || !seams_.person_exists(r.person_id)) {
    spdlog::warn("web: directory account {} ({}) from {}: no mcn person {}", printableUser(user),
                 r.user_dn, from,
                 r.person_id.empty() ? "(no person attribute)" : printableUser(r.person_id));
    return answer(403, T::kLdapNoPerson);
  }
  if (beginSession(res, r.person_id, Role::kStaff, now, "/me")) {
    spdlog::info("web: {} signed in from {} with directory account {} ({})", r.person_id, from,
                 printableUser(user), r.user_dn);
  }
}

void WebConsole::signinPost(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  Lang l = requestLang(req, "");
  if (!preSessionTokenOk(req)) {
    refusePage(res, l, 403, tr(l, T::kSignInTitle), tr(l, T::kFormToken));
    return;
  }
  std::string person = req.get_param_value("person");
  // The answer is the same whether or not the person exists: the form does not tell who works
  // here. Only the rate limit speaks (it applies to any name typed).
  if (!person.empty() && person.size() <= 256 && seams_.person_exists(person)) {
    auto issued = links_.issue(person, seams_.now_ms());
    if (issued.token.empty()) {
      refusePage(res, l, 429, tr(l, T::kSignInTitle), issued.why);
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
    case sipua::LinkVerdict::kFull:
      return T::kLinkUnchecked;
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
    refusePage(res, l, linkStatus(c.verdict), tr(l, T::kConfirmTitle),
               tr(l, linkProblem(c.verdict)), "/signin", tr(l, T::kSignInTitle));
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
    refusePage(res, l, 403, tr(l, T::kConfirmTitle), tr(l, T::kFormToken));
    return;
  }
  int64_t now = seams_.now_ms();
  sipua::CallbackLinks::Checked c;
  if (seams_.redeem_shared) {
    // Several processes serve the console: used once among all of them. Marked used here only
    // after the shared record took it (a record out of reach leaves the link usable later).
    c = links_.check(req.matches[1].str(), now);
    if (c.verdict == sipua::LinkVerdict::kOk) {
      c.verdict = seams_.redeem_shared(c.claims.nonce, c.claims.expires_ms);
    }
    if (c.verdict == sipua::LinkVerdict::kOk) c = links_.redeem(req.matches[1].str(), now);
  } else {
    c = links_.redeem(req.matches[1].str(), now);
  }
  if (c.verdict != sipua::LinkVerdict::kOk) {
    Lang l = requestLang(req, "");
    refusePage(res, l, linkStatus(c.verdict), tr(l, T::kConfirmTitle),
               tr(l, linkProblem(c.verdict)));
    return;
  }
  beginSession(res, c.claims.person, Role::kStaff, now, "/me");
}

bool WebConsole::beginSession(httplib::Response& res, const std::string& who, Role role,
                              int64_t now, std::string_view home) {
  std::optional<Session> s;
  {
    std::lock_guard lock(mu_);
    s = sessions_.create(who, role, now);
  }
  if (!s) {
    res.status = 503;
    res.set_content("no session could be made\n", "text/plain");
    return false;
  }
  res.set_header("Set-Cookie", sessionCookie(s->id, opt_.session_ttl_ms / 1000, opt_.tls));
  res.set_header("Set-Cookie", formCookie("", 0, opt_.tls));  // the pre-session token is spent
  seeOther(res, home);
  return true;
}

std::optional<Session> WebConsole::session(const httplib::Request& req) {
  std::lock_guard lock(mu_);
  return sessions_.find(cookieValue(req.get_header_value("Cookie"), kSessionCookie),
                        seams_.now_ms());
}

namespace {

// "2026-12-07 07:27" in the person's zone ("UTC" when it is unknown).
std::string localTime(int64_t ms, const std::string& zone) {
  auto tz = notifier::TimeZone::find(zone);
  if (!tz) return utcTime(ms);
  auto t = tz->toLocal(ms * 1000);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour,
                     t.minute, t.second);
}

// One labelled text input with its inline message (aria-describedby names the message).
std::string textField(const std::string& name, std::string_view label, const std::string& value,
                      std::string_view hint,
                      const std::vector<subscribers::FieldProblem>& problems) {
  std::string err;
  for (const auto& p : problems) {
    if (p.field == name) err = p.message;
  }
  return fmt::format(
      "<p><label for=\"{0}\">{1}</label><br><input id=\"{0}\" name=\"{0}\" value=\"{2}\" "
      "aria-describedby=\"{0}-hint{3}\"{4}> <small id=\"{0}-hint\">{5}</small>{6}</p>",
      name, htmlEscape(label), htmlEscape(value), err.empty() ? "" : " " + name + "-error",
      err.empty() ? "" : " aria-invalid=\"true\"", htmlEscape(hint),
      err.empty() ? ""
                  : fmt::format("<br><strong class=\"error\" id=\"{}-error\">{}</strong>", name,
                                htmlEscape(err)));
}

std::string checkbox(const std::string& id, const std::string& name, const std::string& value,
                     std::string_view label, bool checked) {
  return fmt::format(
      "<label for=\"{0}\"><input type=\"checkbox\" id=\"{0}\" name=\"{1}\" value=\"{2}\"{3}> "
      "{4}</label><br>",
      id, name, htmlEscape(value), checked ? " checked" : "", htmlEscape(label));
}

std::string radio(const std::string& id, const std::string& name, const std::string& value,
                  std::string_view label, bool checked) {
  return fmt::format(
      "<label for=\"{0}\"><input type=\"radio\" id=\"{0}\" name=\"{1}\" value=\"{2}\"{3}> "
      "{4}</label><br>",
      id, name, htmlEscape(value), checked ? " checked" : "", htmlEscape(label));
}

std::string problemFor(const std::vector<subscribers::FieldProblem>& problems,
                       const std::string& field) {
  for (const auto& p : problems) {
    if (p.field == field) {
      return fmt::format("<strong class=\"error\" id=\"{}-error\">{}</strong><br>", field,
                         htmlEscape(p.message));
    }
  }
  return "";
}

}  // namespace

void WebConsole::me(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  auto s = session(req);
  if (!s || s->role != Role::kStaff) {
    seeOther(res, "/signin");
    return;
  }
  std::string notice;
  Lang l = requestLang(req, seams_.language(s->person));
  if (req.has_param("saved")) notice = std::string(tr(l, T::kSaved));
  if (req.has_param("sent")) {
    notice = fmt::format("{} {}", tr(l, T::kTestSent), req.get_param_value("sent"));
  }
  renderMe(req, res, *s, nullptr, {}, notice);
}

void WebConsole::renderMe(const httplib::Request& req, httplib::Response& res, const Session& s,
                          const std::multimap<std::string, std::string>* posted,
                          const std::vector<subscribers::FieldProblem>& problems,
                          const std::string& notice) {
  Lang l = requestLang(req, seams_.language(s.person));
  std::optional<subscribers::Person> person;
  if (seams_.person) person = seams_.person(s.person);
  const std::string zone = person ? person->prefs.time_zone : std::string("UTC");
  // Only the session's own person: no parameter names whose calls are shown.
  auto calls = seams_.missed_calls(s.person);
  std::string who = person && !person->name.empty()
                        ? fmt::format("{} ({})", htmlEscape(person->name), htmlEscape(s.person))
                        : htmlEscape(s.person);
  std::string body;
  if (!notice.empty()) {
    body += fmt::format("<p role=\"status\" class=\"notice\">{}</p>", htmlEscape(notice));
  }
  body += fmt::format(
      "<p>{} <b>{}</b></p><form method=\"post\" action=\"/signout\"><input type=\"hidden\" "
      "name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form>",
      htmlEscape(tr(l, T::kSignedInAs)), who, s.csrf, htmlEscape(tr(l, T::kSignOut)));
  if (person) {
    body += fmt::format(
        "<nav><a href=\"#calls\">{}</a> · <a href=\"#numbers\">{}</a> · <a "
        "href=\"#channels\">{}</a> · <a href=\"#preferences\">{}</a></nav>",
        htmlEscape(tr(l, T::kMyCalls)), htmlEscape(tr(l, T::kMyNumbers)),
        htmlEscape(tr(l, T::kMyChannels)), htmlEscape(tr(l, T::kPreferences)));
  }
  body += fmt::format("<h2 id=\"calls\">{}</h2>", htmlEscape(tr(l, T::kMyCalls)));
  if (calls.empty()) {
    body += "<p>" + htmlEscape(tr(l, T::kNone)) + "</p>";
  } else {
    body += fmt::format(
        "<table><thead><tr><th scope=\"col\">{} ({})</th><th scope=\"col\">{}</th><th "
        "scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th "
        "scope=\"col\">{}</th></tr></thead><tbody>",
        htmlEscape(tr(l, T::kWhen)), htmlEscape(person ? zone : std::string("UTC")),
        htmlEscape(tr(l, T::kCaller)), htmlEscape(tr(l, T::kMyNumber)),
        htmlEscape(tr(l, T::kOutcome)), htmlEscape(tr(l, T::kRing)), htmlEscape(tr(l, T::kTold)));
    for (const auto& c : calls) {
      std::string caller = c.caller_name.empty()
                               ? htmlEscape(c.caller_number)
                               : fmt::format("{} &lt;{}&gt;", htmlEscape(c.caller_name),
                                             htmlEscape(c.caller_number));
      body += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1f} s</td><td>{}</td></tr>",
          person ? localTime(c.started_ms, zone) : utcTime(c.started_ms), caller,
          htmlEscape(c.my_number), htmlEscape(outcomeWords(l, c.outcome)),
          static_cast<double>(c.ring_ms) / 1000.0,
          c.told.empty() ? htmlEscape(tr(l, T::kNotTold)) : htmlEscape(c.told));
    }
    body += "</tbody></table>";
  }
  if (person) {
    body += fmt::format("<h2 id=\"numbers\">{}</h2><ul>", htmlEscape(tr(l, T::kMyNumbers)));
    for (const auto& n : person->numbers) body += "<li>" + htmlEscape(n) + "</li>";
    body += "</ul>";
    body += fmt::format(
        "<h2 id=\"channels\">{}</h2><table><thead><tr><th scope=\"col\">{}</th><th "
        "scope=\"col\">{}</th><th scope=\"col\"><span class=\"sr\">{}</span></th></tr></thead>"
        "<tbody>",
        htmlEscape(tr(l, T::kMyChannels)), htmlEscape(tr(l, T::kChannel)),
        htmlEscape(tr(l, T::kKind)), htmlEscape(tr(l, T::kSendTest)));
    for (const auto& c : person->channels) {
      // The target is not shown: a robot URL carries its key.
      body += fmt::format(
          "<tr><td>{0}</td><td>{1}</td><td><form method=\"post\" action=\"/me/test\"><input "
          "type=\"hidden\" name=\"csrf\" value=\"{2}\"><input type=\"hidden\" name=\"channel\" "
          "value=\"{0}\"><button type=\"submit\" aria-label=\"{3}: {0}\">{3}</button></form>"
          "</td></tr>",
          htmlEscape(c.id), subscribers::channelKindName(c.kind), s.csrf,
          htmlEscape(tr(l, T::kSendTest)));
    }
    body += "</tbody></table>";

    // The form shows what was posted when it was refused, else the stored preferences.
    const subscribers::Preferences& pr = person->prefs;
    auto val = [&](const char* name, std::string stored) {
      if (posted == nullptr) return stored;
      auto it = posted->find(name);
      return it == posted->end() ? std::string() : it->second;
    };
    auto ticked = [&](const char* name, bool stored) {
      return posted == nullptr ? stored : posted->count(name) > 0;
    };
    const bool by_outcome =
        posted == nullptr ? !pr.use_missed_flag : val("which", "") == "outcomes";
    std::string form =
        fmt::format("<h2 id=\"preferences\">{}</h2>", htmlEscape(tr(l, T::kPreferences)));
    if (!problems.empty()) {
      form += alertLine(tr(l, T::kFixBelow));
    }
    form += fmt::format(
        "<form method=\"post\" action=\"/me/preferences\"><input type=\"hidden\" name=\"csrf\" "
        "value=\"{}\"><fieldset><legend>{}</legend>{}",
        s.csrf, htmlEscape(tr(l, T::kWhich)), problemFor(problems, "which"));
    form += radio("which-missed", "which", "missed", tr(l, T::kWhichMissed), !by_outcome);
    form += radio("which-outcomes", "which", "outcomes", tr(l, T::kWhichOutcomes), by_outcome);
    form += fmt::format("</fieldset><fieldset><legend>{}</legend>{}",
                        htmlEscape(tr(l, T::kOutcomesLegend)), problemFor(problems, "outcomes"));
    for (int i = 0; i < common::kOutcomeCount; ++i) {
      const std::string name = common::outcomeName(static_cast<common::Outcome>(i));
      bool on = false;
      if (posted == nullptr) {
        on = !pr.use_missed_flag && pr.outcomes[static_cast<size_t>(i)];
      } else {
        auto [lo, hi] = posted->equal_range("outcomes");
        for (auto it = lo; it != hi; ++it) on = on || it->second == name;
      }
      form += checkbox("outcome-" + name, "outcomes", name, outcomeWords(l, name), on);
    }
    form +=
        fmt::format("</fieldset><fieldset><legend>{}</legend>", htmlEscape(tr(l, T::kCallsLegend)));
    form += checkbox("internal_calls", "internal_calls", "on", tr(l, T::kInternal),
                     ticked("internal_calls", pr.internal_calls));
    form += checkbox("external_calls", "external_calls", "on", tr(l, T::kExternal),
                     ticked("external_calls", pr.external_calls));
    form += checkbox("withheld_callers", "withheld_callers", "on", tr(l, T::kWithheld),
                     ticked("withheld_callers", pr.withheld_callers));
    form += "</fieldset>";
    form += textField("min_ring", tr(l, T::kMinRing),
                      val("min_ring", subscribers::formatDurationMs(pr.min_ring_ms)),
                      tr(l, T::kDurationHint), problems);
    form += textField("merge_window", tr(l, T::kMergeWindow),
                      val("merge_window", subscribers::formatDurationMs(pr.merge_window_ms)),
                      tr(l, T::kDurationHint), problems);
    const subscribers::QuietHours q = pr.quiet_hours.value_or(subscribers::QuietHours{1320, 450});
    form += fmt::format("<fieldset><legend>{}</legend>{}", htmlEscape(tr(l, T::kQuietHours)),
                        problemFor(problems, "quiet_hours"));
    form += checkbox("quiet_hours", "quiet_hours", "on", tr(l, T::kQuietOn),
                     ticked("quiet_hours", pr.quiet_hours.has_value()));
    form += textField("quiet_start", tr(l, T::kQuietStart),
                      val("quiet_start", subscribers::formatClockMinutes(q.start_minute)),
                      tr(l, T::kTimeHint), problems);
    form += textField("quiet_end", tr(l, T::kQuietEnd),
                      val("quiet_end", subscribers::formatClockMinutes(q.end_minute)),
                      tr(l, T::kTimeHint), problems);
    const std::string action =
        val("quiet_action", q.action == subscribers::QuietAction::kDrop ? "drop" : "hold");
    form += fmt::format(
        "<p><label for=\"quiet_action\">{}</label><br><select id=\"quiet_action\" "
        "name=\"quiet_action\"><option value=\"hold\"{}>{}</option><option value=\"drop\"{}>{}"
        "</option></select>{}</p></fieldset>",
        htmlEscape(tr(l, T::kQuietAction)), action == "hold" ? " selected" : "",
        htmlEscape(tr(l, T::kHold)), action == "drop" ? " selected" : "",
        htmlEscape(tr(l, T::kDrop)), problemFor(problems, "quiet_action"));
    const std::string lang = val("language", pr.language);
    form += fmt::format(
        "<p><label for=\"language\">{}</label><br><select id=\"language\" name=\"language\">"
        "<option value=\"zh\"{}>中文</option><option value=\"en\"{}>English</option></select>"
        "{}</p>",
        htmlEscape(tr(l, T::kLanguage)), lang == "zh" ? " selected" : "",
        lang == "en" ? " selected" : "", problemFor(problems, "language"));
    form += textField("time_zone", tr(l, T::kTimeZone), val("time_zone", pr.time_zone),
                      "Asia/Shanghai, Europe/London", problems);
    form += fmt::format("<p><button type=\"submit\">{}</button></p></form>",
                        htmlEscape(tr(l, T::kSave)));
    body += form;
  }
  res.set_content(page(l, tr(l, T::kMyCalls), body), "text/html; charset=utf-8");
}

void WebConsole::testPost(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  auto s = session(req);
  // Only a staff session acts on /me: an operator's is not a person's.
  if (!s || s->role != Role::kStaff || !csrfMatches(s->csrf, req.get_param_value("csrf"))) {
    Lang l = requestLang(req, "");
    refusePage(res, l, 403, tr(l, T::kSendTest), tr(l, T::kFormToken));
    return;
  }
  Lang l = requestLang(req, seams_.language(s->person));
  const std::string channel = req.get_param_value("channel");
  std::optional<subscribers::Person> person;
  if (seams_.person) person = seams_.person(s->person);
  bool mine = false;
  if (person) {
    for (const auto& c : person->channels) mine = mine || c.id == channel;
  }
  if (!mine) {
    res.status = 400;
    renderMe(req, res, *s, nullptr, {}, std::string(tr(l, T::kNoSuchChannel)));
    res.status = 400;
    return;
  }
  if (!seams_.send_message ||
      !seams_.send_message(s->person, channel, std::string(tr(l, T::kTestTitle)),
                           std::string(tr(l, T::kTestText)))) {
    renderMe(req, res, *s, nullptr, {}, std::string(tr(l, T::kTestFailed)));
    res.status = 503;
    return;
  }
  seeOther(res, "/me?sent=" + httplib::detail::encode_query_param(channel) + "#channels");
}

void WebConsole::preferencesPost(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  auto s = session(req);
  // Only a staff session acts on /me: an operator's is not a person's.
  if (!s || s->role != Role::kStaff || !csrfMatches(s->csrf, req.get_param_value("csrf"))) {
    Lang l = requestLang(req, "");
    refusePage(res, l, 403, tr(l, T::kPreferences), tr(l, T::kFormToken));
    return;
  }
  Lang l = requestLang(req, seams_.language(s->person));
  std::optional<subscribers::Person> person;
  if (seams_.person) person = seams_.person(s->person);
  if (!person || !seams_.save_person) {
    refusePage(res, l, 404, tr(l, T::kPreferences), tr(l, T::kNotSaved));
    return;
  }
  std::multimap<std::string, std::string> posted(req.params.begin(), req.params.end());
  posted.erase("csrf");
  subscribers::Person changed = *person;
  auto problems = subscribers::applyPreferencesForm(posted, changed);
  if (!problems.empty()) {
    renderMe(req, res, *s, &posted, problems, "");
    res.status = 400;
    return;
  }
  std::string error = seams_.save_person(changed, s->person + " from " + clientOf(req));
  if (!error.empty()) {
    renderMe(req, res, *s, &posted, {}, fmt::format("{} {}", tr(l, T::kNotSaved), error));
    res.status = 503;
    return;
  }
  seeOther(res, "/me?saved=1#preferences");
}

void WebConsole::signout(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  std::string id = cookieValue(req.get_header_value("Cookie"), kSessionCookie);
  std::lock_guard lock(mu_);
  auto s = sessions_.find(id, seams_.now_ms());
  if (!s || !csrfMatches(s->csrf, req.get_param_value("csrf"))) {
    Lang l = requestLang(req, "");
    refusePage(res, l, 403, tr(l, T::kSignOut), tr(l, T::kFormToken));
    return;
  }
  sessions_.end(id);
  res.set_header("Set-Cookie", sessionCookie("", 0, opt_.tls));
  seeOther(res, s->role == Role::kOperator ? "/ops/signin" : "/signin");
}

}  // namespace mcn::web
