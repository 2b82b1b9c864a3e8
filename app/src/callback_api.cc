#include "callback_api.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "mcn/notifier/credentials.h"
#include "mcn/subscribers/directory.h"

namespace mcn::app {
namespace {

using nlohmann::json;

CallbackApi::Answer error(int status, std::string_view why) {
  return {status, json{{"error", why}}.dump()};
}

std::string html(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string page(std::string_view title, std::string_view body) {
  return fmt::format(
      "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"robots\" "
      "content=\"noindex\"><title>{0}</title></head><body><h1>{0}</h1>{1}</body></html>\n",
      html(title), body);
}

int linkHttpStatus(sipua::LinkVerdict v) {
  switch (v) {
    case sipua::LinkVerdict::kOk:
      return 200;
    case sipua::LinkVerdict::kMalformed:
      return 400;
    case sipua::LinkVerdict::kForged:
      return 403;
    case sipua::LinkVerdict::kExpired:
    case sipua::LinkVerdict::kUsed:
      return 410;
    case sipua::LinkVerdict::kFull:
      return 503;
  }
  return 400;
}

std::string linkProblem(sipua::LinkVerdict v) {
  switch (v) {
    case sipua::LinkVerdict::kExpired:
      return "This call-back link has expired.";
    case sipua::LinkVerdict::kUsed:
      return "This call-back link was used already.";
    case sipua::LinkVerdict::kForged:
      return "This call-back link is not valid.";
    case sipua::LinkVerdict::kFull:
      return "Too many call-back links in use; try later.";
    default:
      return "This is not a call-back link.";
  }
}

json statusJson(const sipua::CallbackStatus& s) {
  json j{{"id", s.id},
         {"person", s.person},
         {"device", s.device},
         {"number", s.target},
         {"state", sipua::callbackStateName(s.state)},
         {"final", sipua::isFinal(s.state)},
         {"sip_status", s.sip_status == 0 ? json() : json(s.sip_status)},
         {"reason", s.reason.empty() ? json() : json(s.reason)},
         {"leg", s.leg.empty() ? json() : json(s.leg)},
         {"call_id", s.call_id.empty() ? json() : json(s.call_id)},
         {"created_ms", s.created_ms},
         {"updated_ms", s.updated_ms}};
  return j;
}

}  // namespace

CallbackApi::CallbackApi(const Config& cfg, DirectoryFn directory, NowMs now)
    : cfg_(cfg),
      directory_(std::move(directory)),
      now_(now ? std::move(now) : NowMs([] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      })),
      limits_(cfg.callback.per_person_per_hour, cfg.callback.global_per_minute) {}

CallbackApi::~CallbackApi() { stop(); }

std::string CallbackApi::start() {
  notifier::CredentialStore store;
  std::string err, password;
  if (!cfg_.sipua.auth_password_ref.empty()) {
    auto p = store.resolve(cfg_.sipua.auth_password_ref, &err);
    if (!p) return "sipua.auth_password_ref: " + err;
    password = *p;
  }
  if (!cfg_.callback.link_key_ref.empty()) {
    auto k = store.resolve(cfg_.callback.link_key_ref, &err);
    if (!k) return "callback.link_key_ref: " + err;
    if (k->size() < 16) return "callback.link_key_ref: the key needs at least 16 bytes";
    links_ = std::make_unique<sipua::CallbackLinks>(*k, cfg_.callback.link_ttl_ms);
  }
  ua_ = std::make_unique<sipua::UserAgent>(cfg_.sipua, password);
  return ua_->start();
}

void CallbackApi::stop() {
  if (ua_) ua_->stop();
}

std::string CallbackApi::linkFor(const std::string& person, const std::string& caller) {
  if (!links_ || cfg_.callback.link_base_url.empty()) return {};
  std::lock_guard lock(mu_);
  std::string token = links_->issue(person, caller, now_());
  if (token.empty()) return {};
  ++issued_;
  return fmt::format("{}callback/link/{}", cfg_.callback.link_base_url, token);
}

CallbackApi::Answer CallbackApi::placeFor(const std::string& person, const std::string& device,
                                          const std::string& target, const char* origin,
                                          bool limited_already) {
  sipua::CallbackRequest req{person, device, target, origin};
  if (std::string why = ua_->check(req); !why.empty()) return error(400, why);
  if (!limited_already) {
    std::lock_guard lock(mu_);
    std::string why;
    if (!limits_.allow(person, now_(), &why)) {
      ++rate_limited_;
      spdlog::warn("call back for person {} refused: {}", person, why);
      return error(429, why);
    }
  }
  auto placed = ua_->callback(req);
  if (placed.id.empty()) return error(placed.http_status, placed.error);
  json j{{"id", placed.id},
         {"state", "calling_you"},
         {"status_url", fmt::format("/api/callback/{}", placed.id)}};
  return {202, j.dump()};
}

CallbackApi::Answer CallbackApi::place(const std::string& body) {
  if (!ua_) return error(503, "the SIP user agent is not running");
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error(400, "expected a JSON object");
  auto str = [&](const char* k) -> std::optional<std::string> {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return std::string();
    if (!it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto person = str("person"), device = str("device"), number = str("number"), from = str("from"),
       to = str("to");
  if (!person || !device || !number || !from || !to) {
    return error(400, "person, device, number, from and to are strings");
  }
  if (auto m = j.find("multicall"); m != j.end() && !(m->is_array() && m->empty())) {
    return error(501, "multicall is not supported yet");
  }
  auto dir = directory_ ? directory_() : nullptr;
  if (!dir) return error(503, "no subscriber directory");
  const subscribers::Person* p = nullptr;
  std::string dev, target;
  if (!person->empty()) {
    if (!from->empty() || !to->empty())
      return error(400, "give person/number or from/to, not both");
    if (number->empty()) return error(400, "number is missing");
    p = dir->findById(*person);
    if (p == nullptr) return error(404, "unknown person");
    if (p->numbers.empty()) return error(409, "the person has no number to call");
    dev = device->empty() ? p->numbers.front() : *device;
    if (std::find(p->numbers.begin(), p->numbers.end(), dev) == p->numbers.end()) {
      return error(403, "device is not one of the person's numbers");
    }
    target = *number;
  } else {
    if (from->empty() || to->empty()) return error(400, "give person and number, or from and to");
    // Only a subscriber's own number may be rung first: the API must not dial arbitrary pairs.
    p = dir->findByNumber(subscribers::numberIndexKey(*from));
    if (p == nullptr) return error(403, "from is not a subscriber's number");
    dev = *from;
    target = *to;
  }
  return placeFor(p->id, dev, target, "api");
}

CallbackApi::Answer CallbackApi::state(const std::string& id) const {
  if (!ua_) return error(503, "the SIP user agent is not running");
  auto s = ua_->status(id);
  if (!s) return error(404, "unknown call back");
  return {200, statusJson(*s).dump()};
}

void CallbackApi::addRoutes(httplib::Server& server) {
  server.Post("/api/callback", [this](const httplib::Request& req, httplib::Response& res) {
    auto a = place(req.body);
    res.status = a.status;
    res.set_content(a.body + "\n", "application/json");
  });
  server.Get(R"(/api/callback/([0-9a-f]{1,32}))",
             [this](const httplib::Request& req, httplib::Response& res) {
               auto a = state(req.matches[1]);
               res.status = a.status;
               res.set_content(a.body + "\n", "application/json");
             });
  server.Get(R"(/callback/link/([A-Za-z0-9_.-]{1,2048}))",
             [this](const httplib::Request& req, httplib::Response& res) {
               res.set_header("Cache-Control", "no-store");
               res.set_header("Referrer-Policy", "no-referrer");
               if (!links_) {
                 res.status = 404;
                 res.set_content(page("Call back", "<p>Links are not enabled.</p>"), "text/html");
                 return;
               }
               sipua::CallbackLinks::Checked c;
               {
                 std::lock_guard lock(mu_);
                 c = links_->check(req.matches[1].str(), now_());
               }
               if (c.verdict != sipua::LinkVerdict::kOk) {
                 res.status = linkHttpStatus(c.verdict);
                 res.set_content(page("Call back", "<p>" + html(linkProblem(c.verdict)) + "</p>"),
                                 "text/html");
                 return;
               }
               // Only the POST places the call: scanners and previews fetch links with GET.
               std::string body = fmt::format(
                   "<p>Call <b>{}</b> back? Your phone rings first; when you answer, mcn "
                   "connects you.</p><form method=\"post\"><button type=\"submit\">Call "
                   "back</button></form>",
                   html(c.claims.caller));
               res.set_content(page("Call back", body), "text/html");
             });
  server.Post(R"(/callback/link/([A-Za-z0-9_.-]{1,2048}))", [this](const httplib::Request& req,
                                                                   httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    sipua::CallbackLinks::Checked c;
    bool limited = false;
    std::string why;
    if (links_) {
      // A rate-limited POST leaves the link usable: the limits first, then it is used up.
      std::lock_guard lock(mu_);
      c = links_->check(req.matches[1].str(), now_());
      if (c.verdict == sipua::LinkVerdict::kOk) {
        limited = !limits_.allow(c.claims.person, now_(), &why);
        if (!limited) c = links_->redeem(req.matches[1].str(), now_());
      }
    }
    if (limited) {
      ++rate_limited_;
      spdlog::warn("call back link for person {} refused: {}", c.claims.person, why);
      res.status = 429;
      res.set_content(page("Call back", "<p>Not now: " + html(why) + "</p>"), "text/html");
      return;
    }
    if (!links_ || c.verdict != sipua::LinkVerdict::kOk) {
      ++link_refused_;
      res.status = links_ ? linkHttpStatus(c.verdict) : 404;
      res.set_content(page("Call back", "<p>" + html(linkProblem(c.verdict)) + "</p>"),
                      "text/html");
      return;
    }
    ++redeemed_;
    auto dir = directory_ ? directory_() : nullptr;
    const subscribers::Person* p = dir ? dir->findById(c.claims.person) : nullptr;
    Answer a = p == nullptr || p->numbers.empty()
                   ? error(404, "the person is not in the directory any more")
                   : placeFor(p->id, p->numbers.front(), c.claims.caller, "link",
                              /*limited_already=*/true);
    res.status = a.status;
    json j = json::parse(a.body, nullptr, false);
    std::string text = a.status == 202 ? fmt::format(
                                             "<p>Calling you now; answer to be connected to {}.</p>"
                                             "<p>Call back id: <code>{}</code></p>",
                                             html(c.claims.caller), html(j.value("id", "")))
                                       : fmt::format("<p>Call back not placed: {}</p>",
                                                     html(j.value("error", "")));
    res.set_content(page("Call back", text), "text/html");
  });
}

void CallbackApi::forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const {
  if (ua_) ua_->forEachCounter(fn);
  fn("callback.link.issued", issued_.load());
  fn("callback.link.redeemed", redeemed_.load());
  fn("callback.link.refused", link_refused_.load());
  fn("callback.rate_limited", rate_limited_.load());
}

}  // namespace mcn::app
