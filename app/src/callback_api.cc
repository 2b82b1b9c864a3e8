#include "callback_api.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "mcn/notifier/credentials.h"
#include "mcn/sipparse/dial_plan.h"
#include "mcn/subscribers/directory.h"
#include "mcn/web/html.h"

namespace mcn::app {
namespace {

using nlohmann::json;

CallbackApi::Answer error(int status, std::string_view why) {
  return {status, json{{"error", why}}.dump()};
}

// The confirm page's text: the web console's escaping (web/html.h).
std::string html(std::string_view s) { return web::htmlEscape(s); }

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
         {"devices", s.devices},
         {"mode", s.mode},
         {"ringing", s.ringing},
         {"answered_by", s.answered_by.empty() ? json() : json(s.answered_by)},
         {"via", s.via.empty() ? json() : json(s.via)},
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
  // A subscriber (README "Subscriptions") is whoever owns the asserted identity's number, written
  // in any form the dial plan knows ("sip:+8625...@ims", "tel:025-...", "sip:1013@pbx").
  auto plan = std::make_shared<sipparse::DialPlan>(cfg_.parser.dial_plan);
  ua_->setPersonResolver([plan, dir = directory_](std::string_view identity) -> std::string {
    auto d = dir();
    if (!d) return {};
    std::string number = plan->normaliseUri(identity);
    const subscribers::Person* p = nullptr;
    if (!number.empty()) p = d->findByNumber(number);
    if (p == nullptr) p = d->findByNumber(subscribers::numberIndexKey(identity));
    return p != nullptr ? p->id : std::string();
  });
  return ua_->start();
}

void CallbackApi::stop() {
  stopping_ = true;  // event streams end
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
                                          bool limited_already, std::vector<std::string> multicall,
                                          sipua::MulticallMode mode) {
  sipua::CallbackRequest req{person, device, target, origin, std::move(multicall), mode};
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
         {"status_url", fmt::format("/api/callback/{}", placed.id)},
         {"events_url", fmt::format("/api/callback/{}/events", placed.id)}};
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
  std::vector<std::string> multicall;
  if (auto m = j.find("multicall"); m != j.end() && !m->is_null()) {
    if (!m->is_array()) return error(400, "multicall is a list of numbers");
    for (const auto& e : *m) {
      if (!e.is_string() || e.get<std::string>().empty()) {
        return error(400, "multicall is a list of numbers");
      }
      multicall.push_back(e.get<std::string>());
    }
    if (multicall.size() + 1 > sipua::kMaxDevices) {
      return error(400, fmt::format("multicall rings at most {} devices", sipua::kMaxDevices));
    }
  }
  auto mode_s = str("multicall_mode");
  if (!mode_s) return error(400, "multicall_mode is \"sequential\" or \"parallel\"");
  sipua::MulticallMode mode = sipua::MulticallMode::kSequential;
  if (*mode_s == "parallel") {
    mode = sipua::MulticallMode::kParallel;
  } else if (!mode_s->empty() && *mode_s != "sequential") {
    return error(400, "multicall_mode is \"sequential\" or \"parallel\"");
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
  // Multicall rings subscribers' numbers only ("desk then mobile", "my team"), never arbitrary
  // ones: the same rule as for `from`.
  for (const auto& n : multicall) {
    if (dir->findByNumber(subscribers::numberIndexKey(n)) == nullptr) {
      return error(403, fmt::format("multicall entry {} is not a subscriber's number", n));
    }
  }
  return placeFor(p->id, dev, target, "api", false, std::move(multicall), mode);
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
  server.Get(R"(/api/callback/([0-9a-f]{1,32})/events)",
             [this](const httplib::Request& req, httplib::Response& res) { events(req, res); });
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

// Server-sent events (WHATWG HTML §9.2): one `event: state` per change, the same JSON as the GET,
// until a final state. Each stream holds an HTTP thread, hence the bound (kMaxEventStreams) and
// the lifetime cap; a comment line every kHeartbeatMs finds clients that went away.
void CallbackApi::events(const httplib::Request& req, httplib::Response& res) {
  std::string id = req.matches[1].str();
  if (!ua_) {
    res.status = 503;
    res.set_content(error(503, "the SIP user agent is not running").body + "\n",
                    "application/json");
    return;
  }
  if (!ua_->status(id)) {
    res.status = 404;
    res.set_content(error(404, "unknown call back").body + "\n", "application/json");
    return;
  }
  if (streams_.fetch_add(1) >= kMaxEventStreams) {
    streams_.fetch_sub(1);
    ++streams_refused_;
    res.status = 503;
    res.set_header("Retry-After", "1");
    res.set_content(error(503, fmt::format("{} event streams open already; poll /api/callback/{}",
                                           kMaxEventStreams, id))
                            .body +
                        "\n",
                    "application/json");
    return;
  }
  ++streams_opened_;
  res.set_header("Cache-Control", "no-store");
  struct Progress {
    bool first = true;
    uint64_t seen = 0;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now(),
                                          beat = started;
  };
  auto progress = std::make_shared<Progress>();
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, id, progress](size_t, httplib::DataSink& sink) {
        auto s = progress->first ? ua_->status(id) : ua_->waitChange(id, progress->seen, 1000);
        auto now = std::chrono::steady_clock::now();
        if (!s || stopping_) {  // forgotten (kKeepFinished) or mcn stopping
          sink.done();
          return true;
        }
        if (progress->first || s->version != progress->seen) {
          progress->first = false;
          progress->seen = s->version;
          progress->beat = now;
          std::string ev =
              fmt::format("id: {}\nevent: state\ndata: {}\n\n", s->version, statusJson(*s).dump());
          if (!sink.write(ev.data(), ev.size())) return false;
          if (sipua::isFinal(s->state)) sink.done();
          return true;
        }
        if (now - progress->started > std::chrono::milliseconds(kMaxStreamMs)) {
          sink.done();
          return true;
        }
        if (now - progress->beat > std::chrono::milliseconds(kHeartbeatMs)) {
          progress->beat = now;
          static constexpr std::string_view kBeat = ": still calling\n\n";
          return sink.write(kBeat.data(), kBeat.size());
        }
        return true;
      },
      [this](bool) { streams_.fetch_sub(1); });
}

void CallbackApi::forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const {
  if (ua_) ua_->forEachCounter(fn);
  fn("callback.link.issued", issued_.load());
  fn("callback.link.redeemed", redeemed_.load());
  fn("callback.link.refused", link_refused_.load());
  fn("callback.rate_limited", rate_limited_.load());
  fn("callback.events.opened", streams_opened_.load());
  fn("callback.events.refused", streams_refused_.load());
}

}  // namespace mcn::app
