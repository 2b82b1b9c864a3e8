#include "ops_api.h"

#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "mcn/notifier/local_notifier.h"
#include "mcn/subscribers/csv_import.h"
#include "mcn/subscribers/toml_store.h"
#include "people_store.h"
#include "reload.h"
#include "stream_dead_letters.h"

namespace mcn::app {
namespace {

using json = nlohmann::ordered_json;

constexpr int kMaxLimit = 200;
constexpr int kDefaultLimit = 50;
constexpr size_t kMaxSkip = 1'000'000;
constexpr size_t kMaxWho = 64;

ApiReply fail(int status, std::string_view why) {
  return ApiReply{status,
                  json{{"error", why}}.dump(-1, ' ', false, json::error_handler_t::replace)};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// No control characters (the name goes to the log and the actions file); UTF-8 names allowed
// ("王芳", typed in the operator console).
bool printable(std::string_view v) {
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool number(std::string_view s, size_t max, size_t& out) {
  if (s.empty() || s.size() > 7) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<size_t>(c - '0');
  }
  return out <= max;
}

// One dead letter as the console lists it.
json entryJson(const notifier::DeadLetterEntry& e) {
  json out;
  out["id"] = e.id;
  out["state"] = !e.done ? "dead" : e.done->action == "retry" ? "retried" : "discarded";
  auto j = json::parse(e.line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) j = json::object();
  const json n = j.contains("notification") && j["notification"].is_object() ? j["notification"]
                                                                             : json::object();
  auto str = [](const json& o, const char* k) -> json {
    return o.contains(k) && o[k].is_string() ? o[k] : json(nullptr);
  };
  out["at"] = str(j, "at");
  out["reason"] = str(j, "reason");
  out["error"] = str(j, "error");
  out["attempts"] = j.contains("attempts") && j["attempts"].is_number() ? j["attempts"] : json(0);
  out["person"] = str(n, "person");
  out["person_name"] = str(n, "person_name");
  const json ch = n.contains("channel") && n["channel"].is_object() ? n["channel"] : json::object();
  out["channel"] = str(ch, "id");
  out["channel_kind"] = str(ch, "kind");
  out["idempotency_key"] = str(n, "idempotency_key");
  out["title"] = str(n, "title");
  out["text"] = str(n, "text");
  json calls = json::array();
  if (n.contains("calls") && n["calls"].is_array()) {
    for (const auto& c : n["calls"]) {
      if (!c.is_object()) continue;
      calls.push_back({{"call_id", str(c, "call_id")},
                       {"caller", str(c, "caller")},
                       {"callee", str(c, "callee")},
                       {"outcome", str(c, "outcome")},
                       {"started_at", str(c, "started_at")}});
    }
  }
  out["calls"] = std::move(calls);
  out["can_retry"] = !e.done && j.contains("resend") && j["resend"].is_string();
  if (e.done) {
    out["done"] = {
        {"action", e.done->action}, {"by", e.done->by}, {"from", e.done->from}, {"at", e.done->at}};
  } else {
    out["done"] = nullptr;
  }
  return out;
}

int64_t systemUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ApiReply importPeopleCsv(const std::string& csv, PeopleStore& store,
                         const sipparse::DialPlan& plan) {
  std::vector<subscribers::Person> people;
  try {
    // Parsed and validated as a whole before the store is touched.
    people = subscribers::loadCsvText(csv, "csv", plan);
  } catch (const subscribers::SubscriberError& e) {
    json lines = json::array();
    std::string_view msg = e.what();
    for (size_t nl; (nl = msg.find('\n')) != std::string_view::npos; msg.remove_prefix(nl + 1)) {
      lines.push_back(std::string(msg.substr(0, nl)));
    }
    lines.push_back(std::string(msg));
    return ApiReply{400, dump(json{{"error", "the CSV has errors; nothing was imported"},
                                   {"lines", std::move(lines)}})};
  }
  if (people.empty()) return fail(400, "the CSV has a header but no person; nothing was imported");
  try {
    std::string result = store.import(people);
    spdlog::info("people import: {}", result);
    return ApiReply{200, dump(json{{"imported", people.size()}, {"result", result}})};
  } catch (const subscribers::SubscriberError& e) {
    // The imported people clash with the stored ones (a number owned by two people): the
    // input's fault; a store that cannot be written: the store's.
    if (store.connectionFailed()) {
      return fail(503, std::string("the subscribers store cannot be written: ") + e.what());
    }
    return ApiReply{400, dump(json{{"error",
                                    "the import conflicts with the stored people; "
                                    "nothing was imported"},
                                   {"lines", json::array({e.what()})}})};
  } catch (const std::exception& e) {
    return fail(503, std::string("the subscribers store cannot be written: ") + e.what());
  }
}

ApiReply importPeopleInto(const Config& cfg, const std::string& path_in, bool redis,
                          const std::string& csv) {
  static std::mutex import_mu;  // one import at a time: each is a read-modify-write
  std::lock_guard lock(import_mu);
  try {
    const sipparse::DialPlan plan(cfg.parser.dial_plan);
    if (redis) {
      RedisPeopleStore store(redisSubscriberOptionsOf(cfg));
      return importPeopleCsv(csv, store, plan);  // every process refreshes on the pub/sub
    }
    const std::string& path = path_in.empty() ? cfg.run.subscribers : path_in;
    if (path.empty()) {
      return fail(501, "no subscribers store to import into (give [run] subscribers or redis)");
    }
    if (subscribers::isCsvFile(path)) {
      return fail(409, "the subscribers file " + path +
                           " is a CSV export, which mcn does not rewrite: import into a TOML file "
                           "or Redis with mcn subscribers");
    }
    FilePeopleStore store(path, plan);
    ApiReply r = importPeopleCsv(csv, store, plan);
    // The file changed: reloaded as on SIGHUP (the main thread; calls in flight kept).
    if (r.status == 200) ::kill(::getpid(), SIGHUP);
    return r;
  } catch (const std::exception& e) {
    return fail(503, std::string("the subscribers store: ") + e.what());
  }
}

bool peopleImportable(const Config& cfg, const std::string& path, bool redis) {
  const std::string& file = path.empty() ? cfg.run.subscribers : path;
  return redis || (!file.empty() && !subscribers::isCsvFile(file));
}

web::OpsSeams opsSeamsOver(std::function<OpsApi*()> api, bool dead_letters, bool import_people) {
  auto answer = [](const ApiReply& r) { return web::JsonAnswer{r.status, r.body}; };
  const web::JsonAnswer starting{503, R"({"error":"starting"})"};
  web::OpsSeams ops;
  ops.stats = [api, answer, starting] {
    OpsApi* a = api();
    return a ? answer(a->stats()) : starting;
  };
  if (dead_letters) {
    ops.dead_letters = [api, answer, starting](const web::Params& p) {
      OpsApi* a = api();
      return a ? answer(a->listDeadLetters(p)) : starting;
    };
    ops.act_on_dead_letter = [api, answer, starting](
                                 const std::string& id, const std::string& action,
                                 const std::string& who, const std::string& from) {
      OpsApi* a = api();
      return a ? answer(a->actOnDeadLetter(id, action, who, from)) : starting;
    };
  }
  if (import_people) {
    ops.import_people = [api, answer, starting](const std::string& csv) {
      OpsApi* a = api();
      return a ? answer(a->importPeople("text/csv", csv)) : starting;
    };
  }
  return ops;
}

// ---- RetryHandoff ----

ApiReply RetryHandoff::resubmit(notifier::Notification n, int wait_ms) {
  auto r = std::make_shared<Request>();
  r->n = std::move(n);
  std::unique_lock lock(mu_);
  queue_.push_back(r);
  if (!cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return r->done; })) {
    r->withdrawn = true;  // the notifier thread skips it: nothing sent behind the caller's back
    return fail(503, fmt::format("the notifier did not take the retry within {} ms; nothing was "
                                 "sent, try again",
                                 wait_ms));
  }
  return r->reply;
}

void RetryHandoff::serve(notifier::LocalNotifier* local) {
  std::deque<std::shared_ptr<Request>> batch;
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return;
    batch.swap(queue_);
  }
  for (auto& r : batch) {
    {
      std::lock_guard lock(mu_);
      if (r->withdrawn) continue;
    }
    ApiReply reply;
    if (local == nullptr) {
      reply = fail(503, "this process has no local notifier (no subscribers, or --role probe)");
    } else {
      std::string error;
      const std::string key = r->n.idempotency_key;
      if (local->resubmitDeadLetter(std::move(r->n), error)) {
        reply = ApiReply{202, dump(json{{"state", "retried"}, {"idempotency_key", key}})};
      } else {
        reply = fail(409, error);
      }
    }
    std::lock_guard lock(mu_);
    if (r->withdrawn) continue;  // too late: it was sent, and the caller was told it was not
    r->reply = std::move(reply);
    r->done = true;
  }
  cv_.notify_all();
}

// ---- OpsApi ----

OpsApi::OpsApi(OpsStats& stats, Seams seams) : stats_(stats), seams_(std::move(seams)) {
  if (!seams_.wall_us) seams_.wall_us = systemUs;
}

ApiReply OpsApi::stats() {
  OpsLevels l = seams_.levels ? seams_.levels() : OpsLevels{};
  return ApiReply{200, stats_.render(l, seams_.wall_us())};
}

ApiReply OpsApi::listDeadLetters(const std::vector<std::pair<std::string, std::string>>& params) {
  if (seams_.dead_letters == nullptr && seams_.stream_dead_letters == nullptr) {
    return fail(501,
                "no dead-letter file in this process (--role probe, or the Redis streams' "
                "<prefix>:dead)");
  }
  size_t limit = kDefaultLimit, skip = 0;
  bool all = false;
  std::map<std::string, std::string> seen;
  for (const auto& [k, v] : params) {
    if (k != "limit" && k != "skip" && k != "state") {
      return fail(
          400, fmt::format("unknown parameter \"{}\"; known: limit, skip, state", k.substr(0, 32)));
    }
    if (!seen.emplace(k, v).second) return fail(400, fmt::format("{} given twice", k));
    if (k == "limit" && (!number(v, kMaxLimit, limit) || limit == 0)) {
      return fail(400, fmt::format("limit: a number from 1 to {}", kMaxLimit));
    }
    if (k == "skip" && !number(v, kMaxSkip, skip)) {
      return fail(400, fmt::format("skip: a number from 0 to {}", kMaxSkip));
    }
    if (k == "state") {
      if (v != "dead" && v != "all") return fail(400, "state: \"dead\" or \"all\"");
      all = v == "all";
    }
  }
  notifier::DeadLetterPage page;
  std::string error;
  if (seams_.stream_dead_letters != nullptr) {
    auto r = seams_.stream_dead_letters->list(skip, limit, all, page, error);
    if (r != StreamDeadLetters::Result::kOk) {
      return fail(r == StreamDeadLetters::Result::kUnreachable ? 503 : 500, error);
    }
  } else if (!seams_.dead_letters->list(skip, limit, all, page, error)) {
    return fail(500, error);
  }
  json entries = json::array();
  for (const auto& e : page.entries) entries.push_back(entryJson(e));
  json out{{"dead_letters", std::move(entries)},
           {"total", page.total},
           {"skip", skip},
           {"not_indexed", page.not_indexed},
           {"unreadable", page.unreadable}};
  return ApiReply{200, dump(out)};
}

ApiReply OpsApi::actOnDeadLetter(const std::string& id, const std::string& action,
                                 const std::string& who_in, const std::string& from) {
  if (seams_.stream_dead_letters != nullptr) return actOnStreamDeadLetter(id, action, who_in, from);
  if (seams_.dead_letters == nullptr) {
    return fail(501,
                "no dead-letter file in this process (--role probe, or the Redis streams' "
                "<prefix>:dead)");
  }
  if (!notifier::DeadLetterStore::validId(id)) {
    return fail(400, "id: 16 lower-case hex digits, as GET /api/ops/dead-letters lists them");
  }
  if (who_in.size() > kMaxWho || !printable(who_in)) {
    return fail(400, fmt::format("X-Mcn-Operator: 1 to {} bytes, no control characters", kMaxWho));
  }
  const std::string who = who_in.empty() ? std::string("token") : who_in;
  std::lock_guard lock(act_mu_);
  std::string error;
  auto e = seams_.dead_letters->find(id, error);
  if (!e) {
    if (!error.empty()) return fail(500, error);
    return fail(404, fmt::format("no dead letter {} in {}", id, seams_.dead_letters->path()));
  }
  if (e->done) {
    return fail(409, fmt::format("dead letter {} was {} already, by {} at {}", id,
                                 e->done->action == "retry" ? "retried" : "discarded", e->done->by,
                                 e->done->at));
  }
  auto j = json::parse(e->line, nullptr, false);
  std::string key;
  std::string person;
  if (j.is_object() && j.contains("notification") && j["notification"].is_object()) {
    key = j["notification"].value("idempotency_key", "");
    person = j["notification"].value("person", "");
  }
  ApiReply reply;
  if (action == "retry") {
    auto n = notifier::deadLetterNotification(e->line, error);
    if (!n) return fail(422, error);
    if (seams_.retry == nullptr) return fail(503, "this process has no local notifier");
    reply = seams_.retry->resubmit(std::move(*n), seams_.retry_wait_ms);
    if (reply.status != 202) return reply;
  }
  notifier::DeadLetterAction act{action, who, from, {}};
  if (!seams_.dead_letters->markDone(id, act, key, error)) {
    if (action == "retry") {
      // Sent, but not marked: say so, the list would offer it again.
      spdlog::error("dead letter {} ({}) re-sent by {} from {}, but not marked: {}", id, key, who,
                    from, error);
      return fail(500, "re-sent, but could not be marked as retried: " + error);
    }
    return fail(500, error);
  }
  spdlog::info("dead letter {} (key {}, person {}) {} by {} from {}", id, key, person,
               action == "retry" ? "retried" : "discarded", who, from);
  json out{{"id", id},
           {"state", action == "retry" ? "retried" : "discarded"},
           {"idempotency_key", key},
           {"by", who}};
  return ApiReply{action == "retry" ? 202 : 200, dump(out)};
}

ApiReply OpsApi::actOnStreamDeadLetter(const std::string& id, const std::string& action,
                                       const std::string& who_in, const std::string& from) {
  StreamDeadLetters& dead = *seams_.stream_dead_letters;
  if (!StreamDeadLetters::validId(id)) {
    return fail(400,
                "id: a stream entry id (digits-digits), as GET /api/ops/dead-letters lists them");
  }
  if (who_in.size() > kMaxWho || !printable(who_in)) {
    return fail(400, fmt::format("X-Mcn-Operator: 1 to {} bytes, no control characters", kMaxWho));
  }
  const std::string who = who_in.empty() ? std::string("token") : who_in;
  auto refused = [](StreamDeadLetters::Result r, const std::string& error) {
    return fail(r == StreamDeadLetters::Result::kUnreachable ? 503 : 500, error);
  };
  std::string error;
  std::optional<notifier::DeadLetterEntry> e;
  if (auto r = dead.find(id, e, error); r != StreamDeadLetters::Result::kOk) {
    return refused(r, error);
  }
  if (!e) return fail(404, fmt::format("no dead letter {} in {}", id, dead.streamKey()));
  auto done = [&](const notifier::DeadLetterAction& a) {
    return fail(409, fmt::format("dead letter {} was {} already, by {} at {}", id,
                                 a.action == "retry" ? "retried" : "discarded", a.by, a.at));
  };
  if (e->done) return done(*e->done);
  auto j = json::parse(e->line, nullptr, false);
  std::string key, person;
  if (j.is_object() && j.contains("notification") && j["notification"].is_object()) {
    key = j["notification"].value("idempotency_key", "");
    person = j["notification"].value("person", "");
  }
  std::optional<notifier::Notification> n;
  if (action == "retry") {
    n = notifier::deadLetterNotification(e->line, error);
    if (!n) return fail(422, error);
    if (seams_.retry == nullptr) return fail(503, "this process has no local notifier");
  }
  // Claimed in Redis first: of two operators (on two notifiers) acting on one entry, one wins.
  notifier::DeadLetterAction act{action, who, from, {}}, prior;
  StreamDeadLetters::Claim claim{};
  if (auto r = dead.claim(id, act, claim, prior, error); r != StreamDeadLetters::Result::kOk) {
    return refused(r, error);
  }
  if (claim == StreamDeadLetters::Claim::kTaken) return done(prior);
  if (claim == StreamDeadLetters::Claim::kGone) {
    return fail(404, fmt::format("no dead letter {} in {} (trimmed)", id, dead.streamKey()));
  }
  if (action == "retry") {
    ApiReply reply = seams_.retry->resubmit(std::move(*n), seams_.retry_wait_ms);
    if (reply.status != 202) {
      // Not sent: the claim goes, so it can be retried again.
      std::string release_error;
      if (dead.release(id, release_error) != StreamDeadLetters::Result::kOk) {
        spdlog::error("dead letter {} ({}) not re-sent, and its claim not undone: {}", id, key,
                      release_error);
      }
      return reply;
    }
  }
  spdlog::info("dead letter {} of {} (key {}, person {}) {} by {} from {}", id, dead.streamKey(),
               key, person, action == "retry" ? "retried" : "discarded", who, from);
  json out{{"id", id},
           {"state", action == "retry" ? "retried" : "discarded"},
           {"idempotency_key", key},
           {"by", who}};
  return ApiReply{action == "retry" ? 202 : 200, dump(out)};
}

ApiReply OpsApi::importPeople(const std::string& content_type, const std::string& body) {
  if (!seams_.import_people) {
    return fail(501, "no subscribers store to import into (give [run] subscribers or redis)");
  }
  // "text/csv; charset=utf-8": the media type before any parameter.
  std::string type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type != "text/csv") {
    return fail(415, "Content-Type: send the CSV as text/csv (columns in subscribers/README.md)");
  }
  if (body.size() > kMaxImportBytes) {
    return fail(413, fmt::format("the CSV is larger than {} bytes", kMaxImportBytes));
  }
  if (body.empty()) return fail(400, "the CSV is empty");
  return seams_.import_people(body);
}

void OpsApi::addRoutes(httplib::Server& s) {
  s.Get("/api/ops/stats", [this](const httplib::Request&, httplib::Response& res) {
    ApiReply r = stats();
    res.status = r.status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(r.body, "application/json");
  });
  s.Get("/api/ops/dead-letters", [this](const httplib::Request& req, httplib::Response& res) {
    std::vector<std::pair<std::string, std::string>> params(req.params.begin(), req.params.end());
    ApiReply r = listDeadLetters(params);
    res.status = r.status;
    res.set_content(r.body, "application/json");
  });
  s.Post(R"(/api/ops/dead-letters/([^/]+)/(retry|discard))",
         [this](const httplib::Request& req, httplib::Response& res) {
           ApiReply r = actOnDeadLetter(req.matches[1].str(), req.matches[2].str(),
                                        req.get_header_value("X-Mcn-Operator"), req.remote_addr);
           res.status = r.status;
           res.set_content(r.body, "application/json");
         });
  s.Post("/api/ops/people/import", [this](const httplib::Request& req, httplib::Response& res) {
    ApiReply r = importPeople(req.get_header_value("Content-Type"), req.body);
    res.status = r.status;
    res.set_content(r.body, "application/json");
  });
}

}  // namespace mcn::app
