#include "web_backend.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "history_api.h"
#include "http_endpoints.h"
#include "mcn/notifier/credentials.h"
#include "mcn/notifier/local_notifier.h"
#include "mcn/subscribers/redis_store.h"
#include "mcn/subscribers/toml_store.h"
#include "mcn/subscribers/validate.h"
#include "reload.h"

namespace mcn::app {
namespace {

int64_t unixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What changed, for the log: "quiet_hours 22:00-07:30 hold -> none, min_ring 0 -> 5s".
std::string preferenceChanges(const subscribers::Preferences& a,
                              const subscribers::Preferences& b) {
  using subscribers::formatClockMinutes;
  using subscribers::formatDurationMs;
  std::string out;
  auto add = [&](std::string_view key, const std::string& from, const std::string& to) {
    if (from == to) return;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {} -> {}", key, from, to);
  };
  auto quiet = [](const subscribers::Preferences& p) {
    if (!p.quiet_hours) return std::string("none");
    return fmt::format("{}-{} {}", formatClockMinutes(p.quiet_hours->start_minute),
                       formatClockMinutes(p.quiet_hours->end_minute),
                       p.quiet_hours->action == subscribers::QuietAction::kHold ? "hold" : "drop");
  };
  auto outcomes = [](const subscribers::Preferences& p) {
    if (p.use_missed_flag) return std::string("missed");
    std::string s;
    for (int i = 0; i < common::kOutcomeCount; ++i) {
      if (!p.outcomes[static_cast<size_t>(i)]) continue;
      if (!s.empty()) s += "+";
      s += common::outcomeName(static_cast<common::Outcome>(i));
    }
    return s;
  };
  add("outcomes", outcomes(a), outcomes(b));
  add("internal_calls", fmt::format("{}", a.internal_calls), fmt::format("{}", b.internal_calls));
  add("external_calls", fmt::format("{}", a.external_calls), fmt::format("{}", b.external_calls));
  add("withheld_callers", fmt::format("{}", a.withheld_callers),
      fmt::format("{}", b.withheld_callers));
  add("min_ring", formatDurationMs(a.min_ring_ms), formatDurationMs(b.min_ring_ms));
  add("merge_window", formatDurationMs(a.merge_window_ms), formatDurationMs(b.merge_window_ms));
  add("quiet_hours", quiet(a), quiet(b));
  add("time_zone", a.time_zone, b.time_zone);
  add("language", a.language, b.language);
  return out.empty() ? std::string("nothing") : out;
}

}  // namespace

WebBackend::WebBackend(const Config& cfg, std::string subscribers_path, DirectoryFn directory,
                       SavedFn saved)
    : cfg_(cfg),
      subscribers_path_(subscribers_path.empty() ? cfg.run.subscribers
                                                 : std::move(subscribers_path)),
      directory_(std::move(directory)),
      saved_(std::move(saved)) {}

WebBackend::~WebBackend() = default;

std::string WebBackend::start() {
  const auto& w = cfg_.web;
  notifier::CredentialStore store;
  std::string err;
  auto key = store.resolve(w.signin_key_ref, &err);
  if (!key) return "web.signin_key_ref: " + err;
  if (key->size() < 16) return "web.signin_key_ref: the key must be at least 16 bytes";
  links_ = std::make_unique<web::SignInLinks>(
      *key, web::SignInLimits{w.signin_link_ttl_ms, w.signin_per_person_per_hour,
                              w.signin_global_per_minute});
  web::ConsoleOptions opt;
  opt.base_url = w.base_url;
  // Served over TLS by a reverse proxy in front (README "Web console"): the cookies get Secure.
  opt.tls = w.base_url.rfind("https://", 0) == 0;
  opt.session_ttl_ms = w.session_ttl_ms;
  opt.max_sessions = static_cast<size_t>(w.max_sessions);

  web::ConsoleSeams seams;
  seams.now_ms = unixMs;
  seams.person_exists = [this](const std::string& id) {
    auto d = directory_();
    return d && d->findById(id) != nullptr;
  };
  seams.language = [this](const std::string& id) {
    auto d = directory_();
    const subscribers::Person* p = d ? d->findById(id) : nullptr;
    return p != nullptr ? p->prefs.language : std::string();
  };
  seams.person = [this](const std::string& id) -> std::optional<subscribers::Person> {
    auto d = directory_();
    const subscribers::Person* p = d ? d->findById(id) : nullptr;
    if (p == nullptr) return std::nullopt;
    return *p;
  };
  seams.send_link = [this](const std::string& person, const std::string& url) {
    auto d = directory_();
    const subscribers::Person* p = d ? d->findById(person) : nullptr;
    const bool zh = p == nullptr || p->prefs.language != "en";
    spdlog::info("web: sign-in link for {} sent through their channel", person);
    return queueMessage(
        person, "", zh ? "未接来电控制台登录" : "Sign in to the missed-call console",
        (zh ? "打开此链接登录（一次有效）：" : "Open this link to sign in (once): ") + url);
  };
  seams.missed_calls = [this](const std::string& person) { return missedCalls(person); };
  seams.send_message = [this](const std::string& person, const std::string& channel,
                              const std::string& title, const std::string& text) {
    spdlog::info("web: {} asked for a test notification through their channel {}", person, channel);
    return queueMessage(person, channel, title, text);
  };
  seams.save_person = [this](const subscribers::Person& p, const std::string& who) {
    return savePerson(p, who);
  };
  if (!w.operator_token_ref.empty()) {
    auto token = store.resolve(w.operator_token_ref, &err);
    if (!token) return "web.operator_token_ref: " + err;
    if (token->size() < 16) return "web.operator_token_ref: the token must be at least 16 bytes";
    ops_.token = *token;
  }
  seams.ops = std::move(ops_);
  seams.redeem_shared = std::move(redeem_shared_);
  if (!w.ldap.url.empty()) {
    std::string bind_password;
    if (!w.ldap.bind_password_ref.empty()) {
      auto pw = store.resolve(w.ldap.bind_password_ref, &err);
      if (!pw) return "web.ldap_bind_password_ref: " + err;
      bind_password = *pw;
    }
    try {
      ldap_ = std::make_unique<web::LdapAuthenticator>(w.ldap, std::move(bind_password));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    if (!w.ldap.ca_file.empty() && ::access(w.ldap.ca_file.c_str(), R_OK) != 0) {
      return "web.ldap_ca_file: cannot read " + w.ldap.ca_file;
    }
    seams.ldap = [this](const std::string& user, const std::string& password) {
      return ldap_->authenticate(user, password);
    };
    seams.ldap_operators = !w.ldap.operator_group.empty();
    spdlog::info("web: sign-in with a directory account at {}{}", w.ldap.url,
                 w.ldap.operator_group.empty() ? "" : ", operators in " + w.ldap.operator_group);
  }
  console_ = std::make_unique<web::WebConsole>(*links_, std::move(opt), std::move(seams));
  return {};
}

void WebBackend::addRoutes(httplib::Server& server) {
  if (console_) console_->addRoutes(server);
}

bool WebBackend::isConsolePath(std::string_view path) {
  for (std::string_view p : {"/signin", "/me", "/signout", "/ops"}) {
    if (path == p || (path.starts_with(p) && path.size() > p.size() && path[p.size()] == '/')) {
      return true;
    }
  }
  return false;
}

bool WebBackend::queueMessage(const std::string& person, const std::string& channel,
                              const std::string& title, const std::string& text) {
  std::lock_guard lock(queue_mu_);
  if (queue_.size() >= kMaxQueued) {
    ++refused_;
    return false;
  }
  queue_.push_back({person, channel, title, text});
  ++queued_;
  waiting_.store(true, std::memory_order_relaxed);
  return true;
}

void WebBackend::drainMessages(notifier::LocalNotifier* local) {
  std::deque<Message> batch;
  {
    std::lock_guard lock(queue_mu_);
    batch.swap(queue_);
    waiting_.store(false, std::memory_order_relaxed);
  }
  for (const auto& m : batch) {
    std::string error = "no local notifier in this process";
    if (local == nullptr || !local->sendMessage(m.person, m.channel, m.title, m.text, &error)) {
      ++undeliverable_;
      spdlog::warn("web: a message for {} could not be sent: {}", m.person, error);
    }
  }
}

std::vector<web::MissedCallView> WebBackend::missedCalls(const std::string& person) {
  std::vector<web::MissedCallView> out;
  if (!cfg_.history.enabled) return out;
  std::lock_guard lock(history_mu_);
  std::string error;
  if (!history_) {
    history_ = history::HistoryStore::open(cfg_.history.path, true, error);
    if (!history_) {
      spdlog::warn("web: call history unreadable: {}", error);
      return out;
    }
  }
  history::Query q;
  q.person = person;
  q.outcome = "missed";
  q.limit = kMaxCallsShown;
  history::Page page;
  if (!history_->search(q, page, error)) {
    spdlog::warn("web: call history search failed: {}", error);
    return out;
  }
  for (const auto& row : page.rows) {
    auto j = nlohmann::json::parse(row.record_json, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    // The contract's nulls (no caller name, withheld, no reason) read as "": json::value() throws
    // on a null, and a throw here was a 500 for the whole page.
    auto str = [&j](const char* key) {
      auto it = j.find(key);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    web::MissedCallView v;
    int64_t us = 0;
    if (parseApiTime(str("started_at"), us)) v.started_ms = us / 1000;
    v.caller_name = str("caller_name");
    v.caller_number = str("caller");
    auto withheld = j.find("caller_withheld");
    if (withheld != j.end() && withheld->is_boolean() && withheld->get<bool>()) {
      v.caller_number = "withheld";
    }
    v.my_number = str("callee");
    v.outcome = str("outcome");
    auto ring = j.find("ring_ms");
    v.ring_ms = ring != j.end() && ring->is_number_integer() ? ring->get<int64_t>() : 0;
    // Where I was told: my notifications that covered this call, and how each ended.
    history::CallDetail d;
    if (history_->detail(str("call_id"), d, error)) {
      for (const auto& n : d.notifications) {
        if (n.person_id != person) continue;
        if (!v.told.empty()) v.told += ", ";
        v.told += n.status == "delivered" ? n.channel : n.channel + " (" + n.status + ")";
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::string WebBackend::savePerson(const subscribers::Person& changed, const std::string& who) {
  std::lock_guard lock(save_mu_);
  try {
    subscribers::validatePerson(changed);
    if (!cfg_.run.redis.empty() && subscribers_path_.empty()) {
      subscribers::RedisStore store(redisSubscriberOptionsOf(cfg_));
      auto before = store.get(changed.id);
      if (!before) {
        ++save_refused_;
        return "no such person in the subscribers store";
      }
      subscribers::Person p = *before;
      p.prefs = changed.prefs;  // only the preferences: numbers and channels are the admin's
      uint64_t version = store.put(p);
      ++saved_count_;
      spdlog::info("web: preferences of {} changed by {} (Redis, version {}): {}", changed.id, who,
                   version, preferenceChanges(before->prefs, p.prefs));
      return {};
    }
    if (subscribers_path_.empty()) {
      ++save_refused_;
      return "no subscribers store to save to";
    }
    if (subscribers::isCsvFile(subscribers_path_)) {
      ++save_refused_;
      return "the subscribers file is CSV: preferences are changed there";
    }
    sipparse::DialPlan plan(cfg_.parser.dial_plan);
    // The file as it is now (an administrator may have edited it), this person's preferences
    // replaced, checked whole, written atomically (temporary file + rename), then read back.
    auto people = subscribers::loadPeopleFile(subscribers_path_, plan);
    subscribers::Preferences before;
    bool found = false;
    for (auto& p : people) {
      if (p.id != changed.id) continue;
      before = p.prefs;
      p.prefs = changed.prefs;
      found = true;
    }
    if (!found) {
      ++save_refused_;
      return "no such person in the subscribers file";
    }
    subscribers::validateUnique(people);
    subscribers::saveTomlFile(subscribers_path_, people);
    auto dir = loadSubscribersOf(cfg_, subscribers_path_);
    ++saved_count_;
    spdlog::info("web: preferences of {} changed by {} ({} rewritten): {}", changed.id, who,
                 subscribers_path_, preferenceChanges(before, changed.prefs));
    if (saved_) saved_(std::move(dir));
    return {};
  } catch (const std::exception& e) {
    ++save_failed_;
    spdlog::error("web: preferences of {} (by {}) not saved: {}", changed.id, who, e.what());
    return e.what();
  }
}

void WebBackend::forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const {
  fn("web.messages.queued", queued_.load());
  fn("web.messages.refused", refused_.load());
  fn("web.messages.undeliverable", undeliverable_.load());
  fn("web.preferences.saved", saved_count_.load());
  fn("web.preferences.refused", save_refused_.load());
  fn("web.preferences.failed", save_failed_.load());
  fn("web.ldap.binds_ok", ldap_ ? ldap_->bindsOk() : 0);
  fn("web.ldap.binds_failed", ldap_ ? ldap_->bindsFailed() : 0);
  fn("web.ldap.refused", ldap_ ? ldap_->refused() : 0);
  fn("web.ldap.errors", ldap_ ? ldap_->errors() : 0);
}

void DirectoryHandoff::put(std::shared_ptr<const subscribers::Directory> d) {
  std::lock_guard lock(mu_);
  dir_ = std::move(d);
  waiting_ = true;
}

std::shared_ptr<const subscribers::Directory> DirectoryHandoff::take() {
  if (!waiting_.exchange(false)) return nullptr;
  std::lock_guard lock(mu_);
  return std::move(dir_);
}

std::unique_ptr<WebBackend> startWebConsole(const Config& cfg, HttpEndpoints& http, WebWiring w,
                                            std::string& error) {
  if (http.port() == 0) {
    error = "web.enabled: the console is served on the HTTP port: set run.http_port";
    return nullptr;
  }
  auto web = std::make_unique<WebBackend>(cfg, std::move(w.subscribers_path),
                                          std::move(w.directory), std::move(w.saved));
  // The operator pages read this process's own JSON APIs (web::OpsSeams): the history's search
  // and calls here (opened after this: looked up at request time), the rest from the role.
  if (cfg.history.enabled && w.history) {
    auto history = w.history;
    auto answer = [](const ApiReply& r) { return web::JsonAnswer{r.status, r.body}; };
    if (!w.ops.search) {
      w.ops.search = [history, answer](const web::Params& p) {
        HistoryApi* api = history();
        return api != nullptr ? answer(api->search(p))
                              : web::JsonAnswer{503, R"({"error":"starting"})"};
      };
    }
    if (!w.ops.call) {
      w.ops.call = [history, answer](const std::string& id) {
        HistoryApi* api = history();
        return api != nullptr ? answer(api->call(id))
                              : web::JsonAnswer{503, R"({"error":"starting"})"};
      };
    }
  }
  web->setOps(std::move(w.ops));
  web->setRedeemShared(std::move(w.redeem_shared));
  if (error = web->start(); !error.empty()) return nullptr;
  http.setPublicPaths(&WebBackend::isConsolePath);
  http.addRoutes([p = web.get()](httplib::Server& s) { p->addRoutes(s); });
  spdlog::info("web console at {} (served on the HTTP port)", cfg.web.base_url);
  return web;
}

}  // namespace mcn::app
