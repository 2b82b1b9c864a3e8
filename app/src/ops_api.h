#pragma once
// The operator side of the web console's JSON (issue 18 item 3), on `mcn run`'s HTTP server under
// the same rule for who may ask as /metrics (http_endpoints.h):
//
//   GET  /api/ops/stats                          live figures (ops_stats.h)
//   GET  /api/ops/dead-letters?limit=&skip=&state=dead|all
//   POST /api/ops/dead-letters/<id>/retry        through delivery again, original key
//   POST /api/ops/dead-letters/<id>/discard      marked done; logged with who
//   POST /api/ops/people/import                  text/csv, all or nothing (subscribers CSV rules)
//
// Who acted: the `X-Mcn-Operator` header (the console sets it to the signed-in operator), else
// "token" (whoever holds the bearer token, or anyone on loopback), with the client's address.
// Bad input is a 4xx with {"error": "..."} and changes nothing.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "history_api.h"
#include "mcn/app/config.h"
#include "mcn/notifier/dead_letter_store.h"
#include "mcn/notifier/notification.h"
#include "mcn/web/console.h"
#include "ops_stats.h"

namespace httplib {
class Server;
}

namespace mcn::notifier {
class LocalNotifier;
}

namespace mcn::app {

// HTTP thread -> notifier thread: a dead letter to re-send. The notifier thread alone drives the
// delivery engine, so the HTTP thread hands the notification over and waits (bounded) for the
// answer; one it stops waiting for is withdrawn, never sent behind its back.
class RetryHandoff {
 public:
  // HTTP thread. 202 resubmitted; 409 the person or channel is gone; 503 no notifier here, or
  // it did not take it within `wait_ms` (then nothing was sent).
  ApiReply resubmit(notifier::Notification n, int wait_ms);
  // Notifier thread, every turn: hands what waits to `local` (null: no local notifier).
  void serve(notifier::LocalNotifier* local);

 private:
  struct Request {
    notifier::Notification n;
    bool done = false;
    bool withdrawn = false;
    ApiReply reply;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Request>> queue_;
};

class PeopleStore;
class StreamDeadLetters;

// POST /api/ops/people/import behind the HTTP layer: the CSV read by the subscribers CSV loader
// (subscribers/csv_import.h, the rules of `mcn subscribers import`), then imported into `store`
// as a whole. 200 {"imported":N,"result":"..."}; 400 {"error","lines":["row N: column X: ..."]}
// with every bad line and nothing written; 503 when the store cannot be written.
ApiReply importPeopleCsv(const std::string& csv, PeopleStore& store,
                         const sipparse::DialPlan& plan);

// The import into this process's subscribers store, for every role that has one: Redis
// (`redis`: every process refreshes on its pub/sub), else the TOML file `path` (--subscribers,
// else [run] subscribers), reloaded as on SIGHUP. 501 without a store, 409 for a CSV file (mcn
// does not rewrite those).
ApiReply importPeopleInto(const Config& cfg, const std::string& path, bool redis,
                          const std::string& csv);

// Whether importPeopleInto can write: Redis, or a subscribers file that is not CSV.
bool peopleImportable(const Config& cfg, const std::string& path, bool redis);

class OpsApi {
 public:
  struct Seams {
    // GET /api/ops/stats: the levels at this instant.
    std::function<OpsLevels()> levels;
    // The dead-letter file's store; null: no dead letters served here (501).
    notifier::DeadLetterStore* dead_letters = nullptr;
    // Or (a [streams] notifier) the <prefix>:dead stream: the same JSON, ids are stream entry ids.
    StreamDeadLetters* stream_dead_letters = nullptr;
    RetryHandoff* retry = nullptr;
    int retry_wait_ms = 5000;
    // POST /api/ops/people/import: the people of a CSV, all or nothing. Returns 200 with what
    // was imported, 400 with every bad line, 503 when the store cannot be written; null: 501.
    std::function<ApiReply(const std::string& csv)> import_people;
    std::function<int64_t()> wall_us;  // the system clock; tests pass their own
  };
  OpsApi(OpsStats& stats, Seams seams);

  void addRoutes(httplib::Server& server);

  ApiReply stats();
  ApiReply listDeadLetters(const std::vector<std::pair<std::string, std::string>>& params);
  // `action`: "retry" | "discard".
  ApiReply actOnDeadLetter(const std::string& id, const std::string& action, const std::string& who,
                           const std::string& from);
  ApiReply importPeople(const std::string& content_type, const std::string& body);

  static constexpr size_t kMaxImportBytes = 4 << 20;

 private:
  ApiReply actOnStreamDeadLetter(const std::string& id, const std::string& action,
                                 const std::string& who, const std::string& from);

  OpsStats& stats_;
  Seams seams_;
  std::mutex act_mu_;  // one retry or discard at a time: two clicks never send twice
};

// The console's operator pages over this process's OpsApi (web::OpsSeams): the figures, and the
// dead letters and the people import where this process serves them (unset otherwise, so the
// page says "not here"). `api` is asked at each request (null while starting: 503). The call
// search and the ladder are the caller's.
web::OpsSeams opsSeamsOver(std::function<OpsApi*()> api, bool dead_letters, bool import_people);

}  // namespace mcn::app
