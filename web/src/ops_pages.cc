// The operator side of the web console (issue 18 item 3): sign-in with the operators' token, and
// one page of live figures, call search, dead letters and people import, each part rendered on
// the server from the JSON API it mirrors (OpsSeams), so the page works without script; only the
// live figures are refreshed by a small script of the console's own (/ops/live.js).

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <array>
#include <nlohmann/json.hpp>

#include "mcn/web/console.h"
#include "mcn/web/html.h"
#include "mcn/web/i18n.h"
#include "page.h"

namespace mcn::web {
namespace {

using json = nlohmann::json;

enum class O {
  kSignInTitle,
  kName,
  kToken,
  kSignIn,
  kBadToken,
  kTooMany,
  kOff,
  kTitle,
  kLive,
  kLiveNote,
  kFigure,
  kValue,
  kSearch,
  kNumber,
  kPerson,
  kCallId,
  kOutcome,
  kAny,
  kMissed,
  kFind,
  kNoCalls,
  kWhen,
  kCaller,
  kCallee,
  kRing,
  kMore,
  kDead,
  kNoDead,
  kChannel,
  kReason,
  kState,
  kRetry,
  kDiscard,
  kAction,
  kImport,
  kImportHelp,
  kImportButton,
  kNotHere,
  kOnProbes,
  kRecords,
  kNotifications,
  kLadder,
  kBack,
  kSignedInAs,
  kSignOut,
  kFormToken,
  kDone,
  kLdapIntro,
  kNotOperator,
  kLdapBad,
  kLdapRefused,
  kLdapDown,
  kCount
};

constexpr std::array<std::array<std::string_view, 2>, static_cast<size_t>(O::kCount)> kText{{
    {"Operator sign-in", "运维登录"},
    {"Your name (for the change log)", "您的姓名（记入变更日志）"},
    {"Operator token", "运维令牌"},
    {"Sign in", "登录"},
    {"That token is not right.", "令牌不正确。"},
    {"Too many failed sign-ins: wait a minute.", "登录失败次数过多：请等一分钟。"},
    {"The operator pages are off: set web.operator_token_ref (or web.ldap_operator_group).",
     "运维页面未开启：请设置 web.operator_token_ref（或 web.ldap_operator_group）。"},
    {"Missed-call notifier: operations", "未接来电通知：运维"},
    {"Live figures", "实时数据"},
    {"Refreshed every 5 seconds.", "每 5 秒刷新。"},
    {"Figure", "指标"},
    {"Value", "数值"},
    {"Call search", "呼叫查询"},
    {"Number", "号码"},
    {"Person", "人员"},
    {"Call-ID (any leg)", "Call-ID（任一呼叫段）"},
    {"Outcome", "结果"},
    {"any", "任意"},
    {"missed", "未接"},
    {"Search", "查询"},
    {"No call matches.", "没有匹配的呼叫。"},
    {"When (UTC)", "时间（UTC）"},
    {"Caller", "主叫"},
    {"Called", "被叫"},
    {"Ring", "振铃"},
    {"Next page", "下一页"},
    {"Dead letters", "死信"},
    {"No dead letters.", "没有死信。"},
    {"Channel", "渠道"},
    {"Reason", "原因"},
    {"State", "状态"},
    {"Retry", "重试"},
    {"Discard", "丢弃"},
    {"Action", "操作"},
    {"People directory: import", "人员目录：导入"},
    {"CSV as in subscribers/README.md: every line is checked first; one mistake and nothing is "
     "imported.",
     "CSV 格式见 subscribers/README.md：先逐行检查，有一处错误则全部不导入。"},
    {"Import", "导入"},
    {"Not served by this mcn process.", "本 mcn 进程不提供此项。"},
    {"not here: counted by the probes (their /api/ops/stats)",
     "不在此处：由探针统计（见其 /api/ops/stats）"},
    {"Call records", "呼叫记录"},
    {"Notifications", "通知"},
    {"SIP messages (mcn explain)", "SIP 消息（mcn explain）"},
    {"Back to the operator page", "返回运维页面"},
    {"Signed in as", "当前用户"},
    {"Sign out", "退出登录"},
    {"The form's security token is missing or wrong: reload the page and try again.",
     "表单的安全令牌缺失或错误：请刷新页面后重试。"},
    {"Done:", "完成："},
    {"For accounts in the operators' directory group.", "仅限运维目录组中的账号。"},
    {"This directory account is not in the operators' group.", "此目录账号不在运维组中。"},
    {"Wrong user name or password.", "用户名或密码错误。"},
    {"Enter your user name (at most 256 characters, no control characters) and your password.",
     "请输入用户名（最多 256 个字符，不含控制字符）和密码。"},
    {"The directory cannot be reached now: try again later, or use the operator token.",
     "目前无法连接目录服务：请稍后重试，或使用运维令牌。"},
}};

std::string_view tr(Lang l, O t) { return kText[static_cast<size_t>(t)][l == Lang::kZh ? 1 : 0]; }

std::string h(std::string_view s) { return htmlEscape(s); }

// The live figures in the reader's language: a figure this process does not count says so in
// their words (the API's JSON says it in English).
void localizeFigures(json& j, Lang l) {
  if (!j.is_object()) return;
  for (auto& [k, v] : j.items()) {
    if (v.is_string() && v.get_ref<const std::string&>() == kFiguresOnProbes) {
      v = std::string(tr(l, O::kOnProbes));
    }
  }
}

// A JSON value as a cell's text ("" for null).
std::string cell(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string field(const json& o, const char* k) {
  return o.is_object() && o.contains(k) ? cell(o[k]) : std::string();
}

// A JSON document flattened to (dotted path, value) pairs, objects and arrays alike, at most
// `max` of them: the live figures and a record's fields, whatever the API adds later.
void flatten(const json& v, const std::string& path,
             std::vector<std::pair<std::string, std::string>>& out, size_t max) {
  if (out.size() >= max) return;
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      flatten(it.value(), path.empty() ? it.key() : path + "." + it.key(), out, max);
    }
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) {
      // An array of objects with an id-like member: that names the entry, not its index.
      std::string name = std::to_string(i);
      if (v[i].is_object()) {
        for (const char* k : {"channel", "name", "id", "kind"}) {
          if (v[i].contains(k) && v[i][k].is_string()) {
            name = v[i][k].get<std::string>();
            break;
          }
        }
      }
      flatten(v[i], path + "[" + name + "]", out, max);
    }
  } else {
    out.emplace_back(path, cell(v));
  }
}

// The API's {"error": "..."} (or the body itself) for a message on the page.
std::string apiError(const JsonAnswer& a) {
  auto j = json::parse(a.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return fmt::format("{} ({})", j["error"].get<std::string>(), a.status);
  }
  return fmt::format("HTTP {}", a.status);
}

// The first array member of an object (the list an API answers with), or an empty array.
json firstArray(const json& j, std::initializer_list<const char*> names) {
  if (j.is_array()) return j;
  if (!j.is_object()) return json::array();
  for (const char* n : names) {
    if (j.contains(n) && j[n].is_array()) return j[n];
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_array()) return it.value();
  }
  return json::array();
}

// The live figures' script: fetches /ops/stats.json every 5 s and rewrites the table's rows with
// textContent (never markup from the answer). Served from the binary; the CSP allows only it.
constexpr std::string_view kLiveJs = R"js("use strict";
(function () {
  var body = document.getElementById("live-body");
  var when = document.getElementById("live-when");
  if (!body) return;
  function flatten(v, path, out) {
    if (out.length >= 200) return;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      Object.keys(v).forEach(function (k) { flatten(v[k], path ? path + "." + k : k, out); });
    } else if (Array.isArray(v)) {
      v.forEach(function (e, i) {
        var name = String(i);
        if (e !== null && typeof e === "object") {
          var ks = ["channel", "name", "id", "kind"];
          for (var j = 0; j < ks.length; j++) {
            if (typeof e[ks[j]] === "string") { name = e[ks[j]]; break; }
          }
        }
        flatten(e, path + "[" + name + "]", out);
      });
    } else {
      out.push([path, v === null ? "" : (typeof v === "string" ? v : JSON.stringify(v))]);
    }
  }
  function refresh() {
    fetch("/ops/stats.json", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (j) {
        var rows = [];
        flatten(j, "", rows);
        while (body.firstChild) body.removeChild(body.firstChild);
        rows.forEach(function (kv) {
          var tr = document.createElement("tr");
          var th = document.createElement("th");
          th.scope = "row";
          th.textContent = kv[0];
          var td = document.createElement("td");
          td.textContent = kv[1];
          tr.appendChild(th);
          tr.appendChild(td);
          body.appendChild(tr);
        });
        if (when) when.textContent = new Date().toISOString().substring(11, 19) + " UTC";
      })
      .catch(function (e) { if (when) when.textContent = String(e); });
  }
  setInterval(refresh, 5000);
})();
)js";

constexpr size_t kMaxFigures = 200;

// The redirect after an action: /ops with what was done ("retry 00000000000000aa", "discard
// 1733581234567-0"), which the page shows only if it is of those words (letters, digits, spaces,
// dashes).
std::string doneLocation(std::string_view what, std::string_view anchor) {
  std::string out = "/ops?done=";
  for (char c : what) {
    if (c == ' ') {
      out += "%20";
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
      out += c;
    }
  }
  return out + "#" + std::string(anchor);
}

}  // namespace

void WebConsole::addOpsRoutes(httplib::Server& server) {
  server.Get("/ops/signin", [this](const auto& req, auto& res) { opsSigninForm(req, res); });
  server.Post("/ops/signin", [this](const auto& req, auto& res) { opsSigninPost(req, res); });
  server.Post("/ops/signin/ldap", [this](const auto& req, auto& res) { opsLdapPost(req, res); });
  server.Get("/ops", [this](const auto& req, auto& res) { opsHome(req, res); });
  server.Get("/ops/call", [this](const auto& req, auto& res) { opsCall(req, res); });
  server.Get("/ops/stats.json", [this](const auto& req, auto& res) { opsStats(req, res); });
  server.Get("/ops/live.js", [](const auto&, auto& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(std::string(kLiveJs), "text/javascript; charset=utf-8");
  });
  // A dead-letter file's ids are hex; a [streams] notifier's are stream entry ids (digits-digits).
  server.Post(R"(/ops/dead-letters/([0-9a-f-]{1,64})/(retry|discard))",
              [this](const auto& req, auto& res) { opsDeadLetterPost(req, res); });
  server.Post("/ops/people/import",
              [this](const auto& req, auto& res) { opsImportPost(req, res); });
}

std::optional<Session> WebConsole::opsSession(const httplib::Request& req, httplib::Response& res,
                                              bool post) {
  auto s = session(req);
  if (!s || s->role != Role::kOperator) {
    if (post) {
      Lang l = requestLang(req, "");
      refusePage(res, l, 403, tr(l, O::kSignInTitle), tr(l, O::kFormToken));
    } else {
      seeOther(res, "/ops/signin");
    }
    return std::nullopt;
  }
  if (post && !csrfMatches(s->csrf, req.get_param_value("csrf"))) {
    Lang l = requestLang(req, "");
    refusePage(res, l, 403, tr(l, O::kTitle), tr(l, O::kFormToken));
    return std::nullopt;
  }
  return s;
}

void WebConsole::opsSigninForm(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  Lang l = requestLang(req, "");
  if (!opsOn()) {
    refusePage(res, l, 404, tr(l, O::kSignInTitle), tr(l, O::kOff));
    return;
  }
  // One token for both forms: the cookie holds one.
  std::string token = randomHex();
  res.set_header("Set-Cookie", formCookie(token, 1800, opt_.tls));
  std::string body;
  if (!seams_.ops.token.empty()) {
    std::string fields = fmt::format(
        "<p><label for=\"name\">{}</label><br><input id=\"name\" name=\"name\" "
        "maxlength=\"64\" autocomplete=\"username\" required autofocus></p><p><label "
        "for=\"token\">{}</label><br><input id=\"token\" name=\"token\" type=\"password\" "
        "autocomplete=\"current-password\" required></p>",
        h(tr(l, O::kName)), h(tr(l, O::kToken)));
    body = formWithToken(token, "/ops/signin", fields, tr(l, O::kSignIn));
  }
  if (seams_.ldap && seams_.ldap_operators) {
    body += ldapForm(l, token, "/ops/signin/ldap", "<p>" + h(tr(l, O::kLdapIntro)) + "</p>");
  }
  res.set_content(page(l, tr(l, O::kSignInTitle), body), "text/html; charset=utf-8");
}

bool WebConsole::opsFailuresExhausted(int64_t now) {
  if (now / 60000 != ops_fail_minute_) {
    ops_fail_minute_ = now / 60000;
    ops_failures_ = 0;
  }
  return ops_failures_ >= kOpsFailuresPerMinute;
}

void WebConsole::opsLdapPost(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  Lang l = requestLang(req, "");
  auto refuse = [&](int status, O why) {
    refusePage(res, l, status, tr(l, O::kSignInTitle), tr(l, why), "/ops/signin",
               tr(l, O::kSignIn));
  };
  if (!seams_.ldap || !seams_.ldap_operators) return refuse(404, O::kOff);
  if (!preSessionTokenOk(req)) {
    spdlog::warn("web: operator directory sign-in from {} refused: form token missing or wrong",
                 clientOf(req));
    return refuse(403, O::kFormToken);
  }
  const std::string user = req.get_param_value("user");
  const std::string from = clientOf(req);
  const int64_t now = seams_.now_ms();
  {
    // The operators' failure limit (all clients), as for the token; and the per-user limits.
    std::lock_guard lock(mu_);
    if (opsFailuresExhausted(now)) return refuse(429, O::kTooMany);
  }
  if (!links_.allowPasswordAttempt(user, now)) {
    spdlog::warn("web: operator directory sign-in of {} from {} refused: too many attempts",
                 printableUser(user), from);
    return refuse(429, O::kTooMany);
  }
  auto r = seams_.ldap(user, req.get_param_value("password"));
  auto failed = [&](int status, O why, std::string_view what) {
    {
      std::lock_guard lock(mu_);
      ++ops_failures_;
    }
    spdlog::warn("web: operator directory sign-in of {} from {} refused: {}", printableUser(user),
                 from, what);
    refuse(status, why);
  };
  switch (r.outcome) {
    case LdapAuthenticator::Outcome::kOk:
      break;
    case LdapAuthenticator::Outcome::kRefused:
      return failed(400, O::kLdapRefused, r.error);
    case LdapAuthenticator::Outcome::kBadCredentials:
      return failed(403, O::kLdapBad, r.error);
    case LdapAuthenticator::Outcome::kError:
      spdlog::error("web: the directory failed an operator sign-in: {}", r.error);
      return refuse(503, O::kLdapDown);
  }
  if (!r.is_operator) {
    return failed(403, O::kNotOperator, "not in the operators' group " + r.user_dn);
  }
  if (beginSession(res, "operator:" + user, Role::kOperator, now, "/ops")) {
    spdlog::info("web: operator {} signed in from {} with directory account {}", user, from,
                 r.user_dn);
  }
}

void WebConsole::opsSigninPost(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  Lang l = requestLang(req, "");
  auto refuse = [&](int status, O why) {
    refusePage(res, l, status, tr(l, O::kSignInTitle), tr(l, why), "/ops/signin",
               tr(l, O::kSignIn));
  };
  if (seams_.ops.token.empty()) return refuse(404, O::kOff);
  if (!preSessionTokenOk(req)) return refuse(403, O::kFormToken);
  std::string name = req.get_param_value("name");
  bool name_ok = !name.empty() && name.size() <= 64;
  for (unsigned char c : name) name_ok = name_ok && c >= 0x20 && c != 0x7f;
  const int64_t now = seams_.now_ms();
  {
    std::lock_guard lock(mu_);
    // Counted before the comparison, so a guesser learns nothing more once the limit is hit.
    if (opsFailuresExhausted(now)) return refuse(429, O::kTooMany);
    if (!csrfMatches(seams_.ops.token, req.get_param_value("token")) || !name_ok) {
      ++ops_failures_;
      spdlog::warn("web: operator sign-in refused from {}", clientOf(req));
      return refuse(403, O::kBadToken);
    }
  }
  if (beginSession(res, "operator:" + name, Role::kOperator, now, "/ops")) {
    spdlog::info("web: operator {} signed in from {}", name, clientOf(req));
  }
}

void WebConsole::opsStats(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  auto s = session(req);
  if (!s || s->role != Role::kOperator) {
    res.status = 401;
    res.set_content("{\"error\":\"sign in at /ops/signin\"}", "application/json");
    return;
  }
  if (!seams_.ops.stats) {
    res.status = 501;
    res.set_content("{\"error\":\"no live figures in this process\"}", "application/json");
    return;
  }
  JsonAnswer a = seams_.ops.stats();
  res.status = a.status;
  auto j = json::parse(a.body, nullptr, false);
  if (a.status == 200 && j.is_object()) {
    localizeFigures(j, requestLang(req, ""));
    res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
    return;
  }
  res.set_content(a.body, "application/json");
}

void WebConsole::opsHome(const httplib::Request& req, httplib::Response& res) {
  noStore(res, /*scripts=*/true);
  auto s = opsSession(req, res, false);
  if (!s) return;
  Lang l = requestLang(req, "");
  const std::string name = s->person.substr(s->person.find(':') + 1);
  std::string body;
  // What the last action did (set by this console's own redirects); shown only in its own form,
  // so a crafted link cannot put words on the page.
  const std::string done = req.get_param_value("done");
  bool done_ok = !done.empty() && done.size() <= 80;
  for (char c : done)
    done_ok = done_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' || c == '-');
  if (done_ok) {
    body +=
        fmt::format("<p role=\"status\" class=\"notice\">{} {}</p>", h(tr(l, O::kDone)), h(done));
  }
  body += fmt::format(
      "<p>{} <b>{}</b></p><form method=\"post\" action=\"/signout\"><input type=\"hidden\" "
      "name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form>"
      "<nav><a href=\"#live\">{}</a> · <a href=\"#search\">{}</a> · <a href=\"#dead\">{}</a> · "
      "<a href=\"#import\">{}</a></nav>",
      h(tr(l, O::kSignedInAs)), h(name), s->csrf, h(tr(l, O::kSignOut)), h(tr(l, O::kLive)),
      h(tr(l, O::kSearch)), h(tr(l, O::kDead)), h(tr(l, O::kImport)));

  // Live figures: rendered now, refreshed by /ops/live.js.
  body += fmt::format("<h2 id=\"live\">{}</h2>", h(tr(l, O::kLive)));
  if (!seams_.ops.stats) {
    body += "<p>" + h(tr(l, O::kNotHere)) + "</p>";
  } else {
    JsonAnswer a = seams_.ops.stats();
    std::vector<std::pair<std::string, std::string>> rows;
    auto j = json::parse(a.body, nullptr, false);
    localizeFigures(j, l);
    if (a.status == 200 && !j.is_discarded()) flatten(j, "", rows, kMaxFigures);
    body += fmt::format(
        "<p>{} <span id=\"live-when\" aria-live=\"polite\"></span></p>"
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>"
        "<tbody id=\"live-body\">",
        h(tr(l, O::kLiveNote)), h(tr(l, O::kFigure)), h(tr(l, O::kValue)));
    for (const auto& [k, v] : rows) {
      body += fmt::format("<tr><th scope=\"row\">{}</th><td>{}</td></tr>", h(k), h(v));
    }
    body += "</tbody></table>";
    if (a.status != 200) body += alertLine(apiError(a));
  }

  // Call search: the form's fields are /api/calls' parameters.
  const std::string number = req.get_param_value("number"), person = req.get_param_value("person"),
                    call_id = req.get_param_value("call_id"),
                    outcome = req.get_param_value("outcome");
  auto opt = [&](std::string_view value, std::string_view label) {
    return fmt::format("<option value=\"{}\"{}>{}</option>", h(value),
                       outcome == value ? " selected" : "", h(label));
  };
  body += fmt::format(
      "<h2 id=\"search\">{0}</h2><form method=\"get\" action=\"/ops#search\" role=\"search\">"
      "<p><label for=\"number\">{1}</label><br><input id=\"number\" name=\"number\" value=\"{2}\" "
      "maxlength=\"64\"></p><p><label for=\"person\">{3}</label><br><input id=\"person\" "
      "name=\"person\" value=\"{4}\" maxlength=\"256\"></p><p><label "
      "for=\"call_id\">{5}</label><br>"
      "<input id=\"call_id\" name=\"call_id\" value=\"{6}\" maxlength=\"256\"></p>"
      "<p><label for=\"outcome\">{7}</label><br><select id=\"outcome\" name=\"outcome\">",
      h(tr(l, O::kSearch)), h(tr(l, O::kNumber)), h(number), h(tr(l, O::kPerson)), h(person),
      h(tr(l, O::kCallId)), h(call_id), h(tr(l, O::kOutcome)));
  body += opt("", tr(l, O::kAny)) + opt("missed", tr(l, O::kMissed));
  for (std::string_view o : {"answered", "answered_elsewhere", "cancelled", "busy", "no_answer",
                             "declined", "forwarded", "redirected", "failed"}) {
    body += opt(o, outcomeWords(l, o));
  }
  body += fmt::format("</select></p><p><button type=\"submit\">{}</button></p></form>",
                      h(tr(l, O::kFind)));
  const bool searched = req.has_param("number") || req.has_param("person") ||
                        req.has_param("call_id") || req.has_param("outcome") ||
                        req.has_param("cursor");
  if (searched && !seams_.ops.search) {
    body += "<p>" + h(tr(l, O::kNotHere)) + "</p>";
  } else if (searched) {
    Params params;
    for (const char* k : {"number", "person", "call_id", "outcome", "cursor"}) {
      std::string v = req.get_param_value(k);
      if (!v.empty()) params.emplace_back(k, std::move(v));
    }
    params.emplace_back("limit", "50");
    JsonAnswer a = seams_.ops.search(params);
    auto j = json::parse(a.body, nullptr, false);
    if (a.status != 200 || j.is_discarded()) {
      body += alertLine(apiError(a));
    } else {
      json calls = firstArray(j, {"calls"});
      if (calls.empty()) {
        body += "<p role=\"status\">" + h(tr(l, O::kNoCalls)) + "</p>";
      } else {
        body += fmt::format(
            "<table id=\"results\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>"
            "<th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>"
            "<th scope=\"col\">{}</th><th scope=\"col\">Call-ID</th></tr></thead><tbody>",
            h(tr(l, O::kWhen)), h(tr(l, O::kCaller)), h(tr(l, O::kCallee)), h(tr(l, O::kOutcome)),
            h(tr(l, O::kRing)), h(tr(l, O::kPerson)));
        for (const auto& c : calls) {
          std::string caller = field(c, "caller");
          if (!field(c, "caller_name").empty()) caller = field(c, "caller_name") + " " + caller;
          const std::string id = field(c, "call_id");
          body += fmt::format(
              "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td>"
              "<td><a href=\"/ops/call?id={}\">{}</a></td></tr>",
              h(field(c, "started_at")), h(caller), h(field(c, "callee")),
              h(outcomeWords(l, field(c, "outcome"))), h(field(c, "ring_ms")),
              h(field(c, "person")), h(httplib::detail::encode_query_param(id)), h(id));
        }
        body += "</tbody></table>";
        if (j.contains("next_cursor") && j["next_cursor"].is_string()) {
          std::string more = "/ops?cursor=" + httplib::detail::encode_query_param(
                                                  j["next_cursor"].get<std::string>());
          for (const char* k : {"number", "person", "call_id", "outcome"}) {
            if (!req.get_param_value(k).empty()) {
              more += fmt::format("&{}={}", k,
                                  httplib::detail::encode_query_param(req.get_param_value(k)));
            }
          }
          body += fmt::format("<p><a href=\"{}#search\">{}</a></p>", h(more), h(tr(l, O::kMore)));
        }
      }
    }
  }

  // Dead letters, each with retry and discard.
  body += fmt::format("<h2 id=\"dead\">{}</h2>", h(tr(l, O::kDead)));
  if (!seams_.ops.dead_letters) {
    body += "<p>" + h(tr(l, O::kNotHere)) + "</p>";
  } else {
    // The newest 50, retried and discarded ones too (with who did it), so the page tells what
    // happened to a letter that went away.
    JsonAnswer a = seams_.ops.dead_letters({{"limit", "50"}, {"state", "all"}});
    auto j = json::parse(a.body, nullptr, false);
    json letters = a.status == 200 && !j.is_discarded() ? firstArray(j, {"dead_letters", "letters"})
                                                        : json::array();
    if (a.status != 200) {
      body += alertLine(apiError(a));
    } else if (letters.empty()) {
      body += "<p>" + h(tr(l, O::kNoDead)) + "</p>";
    } else {
      body += fmt::format(
          "<table id=\"dead-letters\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>"
          "<th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>"
          "<th scope=\"col\">{}</th></tr></thead><tbody>",
          h(tr(l, O::kWhen)), h(tr(l, O::kPerson)), h(tr(l, O::kChannel)), h(tr(l, O::kReason)),
          h(tr(l, O::kState)), h(tr(l, O::kAction)));
      for (const auto& d : letters) {
        const std::string id = field(d, "id");
        std::string person = field(d, "person_name").empty()
                                 ? field(d, "person")
                                 : field(d, "person_name") + " (" + field(d, "person") + ")";
        std::string reason = field(d, "reason");
        if (!field(d, "error").empty()) reason += ": " + field(d, "error");
        std::string actions;
        if (field(d, "state") == "dead") {
          auto button = [&](std::string_view action, O label, bool enabled) {
            return fmt::format(
                "<form method=\"post\" action=\"/ops/dead-letters/{0}/{1}\" class=\"inline\">"
                "<input type=\"hidden\" name=\"csrf\" value=\"{2}\"><button type=\"submit\" "
                "aria-label=\"{3} {0}\"{4}>{3}</button></form>",
                h(id), action, s->csrf, h(tr(l, label)), enabled ? "" : " disabled");
          };
          actions = button("retry", O::kRetry, d.value("can_retry", true)) +
                    button("discard", O::kDiscard, true);
        }
        std::string state = field(d, "state");
        if (d.contains("done") && d["done"].is_object()) {
          state += fmt::format(" ({} {})", field(d["done"], "by"), field(d["done"], "at"));
        }
        body += fmt::format(
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            h(field(d, "at")), h(person), h(field(d, "channel_kind")), h(field(d, "channel")),
            h(reason), h(state), actions);
      }
      body += "</tbody></table>";
    }
  }

  // People import.
  body += fmt::format("<h2 id=\"import\">{}</h2>", h(tr(l, O::kImport)));
  if (!seams_.ops.import_people) {
    body += "<p>" + h(tr(l, O::kNotHere)) + "</p>";
  } else {
    body += fmt::format(
        "<form method=\"post\" action=\"/ops/people/import\"><input type=\"hidden\" name=\"csrf\" "
        "value=\"{}\"><p><label for=\"csv\">CSV</label><br><textarea id=\"csv\" name=\"csv\" "
        "rows=\"8\" cols=\"60\" aria-describedby=\"csv-help\" required></textarea><br><small "
        "id=\"csv-help\">{}</small></p><p><button type=\"submit\">{}</button></p></form>",
        s->csrf, h(tr(l, O::kImportHelp)), h(tr(l, O::kImportButton)));
  }
  res.set_content(page(l, tr(l, O::kTitle), body, "<script src=\"/ops/live.js\" defer></script>"),
                  "text/html; charset=utf-8");
}

void WebConsole::opsCall(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  auto s = opsSession(req, res, false);
  if (!s) return;
  Lang l = requestLang(req, "");
  const std::string id = req.get_param_value("id");
  if (id.empty() || id.size() > 256) {
    refusePage(res, l, 400, tr(l, O::kTitle), "id: the Call-ID, 1 to 256 bytes");
    return;
  }
  std::string body =
      fmt::format("<p><a href=\"/ops#search\">{}</a></p><p>Call-ID <code>{}</code></p>",
                  h(tr(l, O::kBack)), h(id));
  if (!seams_.ops.call) {
    body += "<p>" + h(tr(l, O::kNotHere)) + "</p>";
  } else {
    JsonAnswer a = seams_.ops.call(id);
    auto j = json::parse(a.body, nullptr, false);
    if (a.status != 200 || j.is_discarded()) {
      res.status = a.status == 200 ? 502 : a.status;
      body += alertLine(apiError(a));
    } else {
      body += fmt::format("<h2>{}</h2>", h(tr(l, O::kRecords)));
      for (const auto& r : firstArray(j, {"records"})) {
        std::vector<std::pair<std::string, std::string>> rows;
        flatten(r, "", rows, kMaxFigures);
        body += "<table class=\"record\"><tbody>";
        for (const auto& [k, v] : rows) {
          body +=
              fmt::format("<tr><th scope=\"row\">{}</th><td>{}</td></tr>", h(k),
                          h(k == "outcome" ? std::string(outcomeWords(l, v)) + " (" + v + ")" : v));
        }
        body += "</tbody></table>";
      }
      json notes = firstArray(j, {"notifications"});
      body += fmt::format("<h2>{}</h2>", h(tr(l, O::kNotifications)));
      if (notes.empty()) body += "<p>-</p>";
      for (const auto& n : notes) {
        body +=
            fmt::format("<p>{} · {} {} · {} · {} ({})</p>", h(field(n, "person_name")),
                        h(field(n, "channel_kind")), h(field(n, "channel")), h(field(n, "status")),
                        h(field(n, "attempts")), h(field(n, "last_error")));
      }
    }
  }
  body += fmt::format("<h2>{}</h2>", h(tr(l, O::kLadder)));
  if (!seams_.ops.ladder) {
    body += "<p>" + h(tr(l, O::kNotHere)) + "</p>";
  } else {
    JsonAnswer a = seams_.ops.ladder(id);
    if (a.status == 200) {
      body += "<pre id=\"ladder\">" + h(a.body) + "</pre>";
    } else {
      body += "<p id=\"ladder\">" + h(apiError(a)) + "</p>";
    }
  }
  res.set_content(page(l, tr(l, O::kTitle), body), "text/html; charset=utf-8");
}

void WebConsole::opsDeadLetterPost(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  auto s = opsSession(req, res, true);
  if (!s) return;
  Lang l = requestLang(req, "");
  if (!seams_.ops.act_on_dead_letter) {
    refusePage(res, l, 501, tr(l, O::kDead), tr(l, O::kNotHere));
    return;
  }
  const std::string id = req.matches[1].str(), action = req.matches[2].str();
  const std::string who = s->person.substr(s->person.find(':') + 1);
  JsonAnswer a = seams_.ops.act_on_dead_letter(id, action, who, clientOf(req));
  spdlog::info("web: operator {} from {}: {} dead letter {}: {}", who, clientOf(req), action, id,
               a.status);
  if (a.status / 100 != 2) {
    refusePage(res, l, a.status, tr(l, O::kDead), apiError(a), "/ops#dead", tr(l, O::kBack));
    return;
  }
  seeOther(res, doneLocation(action + " " + id, "dead"));
}

void WebConsole::opsImportPost(const httplib::Request& req, httplib::Response& res) {
  noStore(res);
  auto s = opsSession(req, res, true);
  if (!s) return;
  Lang l = requestLang(req, "");
  if (!seams_.ops.import_people) {
    refusePage(res, l, 501, tr(l, O::kImport), tr(l, O::kNotHere));
    return;
  }
  const std::string who = s->person.substr(s->person.find(':') + 1);
  const std::string csv = req.get_param_value("csv");
  JsonAnswer a = seams_.ops.import_people(csv);
  spdlog::info("web: operator {} from {}: people import of {} bytes: {}", who, clientOf(req),
               csv.size(), a.status);
  if (a.status / 100 != 2) {
    // The loader's line-numbered messages, as the API gives them.
    auto j = json::parse(a.body, nullptr, false);
    std::string list;
    if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
      for (const auto& e : j["errors"]) list += "<li>" + h(cell(e)) + "</li>";
    }
    res.status = a.status;
    res.set_content(page(l, tr(l, O::kImport),
                         alertLine(apiError(a)) + (list.empty() ? "" : "<ul>" + list + "</ul>") +
                             "<p><a href=\"/ops#import\">" + h(tr(l, O::kBack)) + "</a></p>"),
                    "text/html; charset=utf-8");
    return;
  }
  auto j = json::parse(a.body, nullptr, false);
  std::string what = "import";
  if (j.is_object()) {
    for (const char* k : {"imported", "people", "count"}) {
      if (j.contains(k) && j[k].is_number()) what = fmt::format("import {}", j[k].dump());
    }
  }
  seeOther(res, doneLocation(what, "import"));
}

}  // namespace mcn::web
