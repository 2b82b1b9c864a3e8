#pragma once
// [web] enabled: the web console (web/console.h) on `mcn run`'s HTTP server, wired to the parts
// the daemon already has: the subscribers directory (who may sign in, their numbers, channels and
// preferences), the call history store (my missed calls and where I was told), the local
// notifier (the sign-in link and the test notification go through the person's own channel) and
// the subscribers store (preferences saved to Redis, or the TOML file rewritten atomically and
// reloaded). Every change is logged with who made it. Served by `mcn run` (role all: run.cc) and
// by `mcn run --role notifier` (roles.cc), both through startWebConsole below.
//
// Threads: the HTTP pool's threads call the console; messages to send are queued here (bounded)
// and handed to the local notifier by the thread that owns it (drainMessages): role all's
// notifier thread, the notifier role's loop.

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "mcn/app/config.h"
#include "mcn/history/store.h"
#include "mcn/subscribers/directory.h"
#include "mcn/web/console.h"
#include "mcn/web/ldap_auth.h"
#include "mcn/web/signin.h"

namespace httplib {
class Server;
}
namespace mcn::notifier {
class LocalNotifier;
}

namespace mcn::app {

class HistoryApi;
class HttpEndpoints;

class WebBackend {
 public:
  using DirectoryFn = std::function<std::shared_ptr<const subscribers::Directory>()>;
  // A directory read back from the subscribers file just rewritten: for the notifier and the API.
  using SavedFn = std::function<void(std::shared_ptr<const subscribers::Directory>)>;

  // `subscribers_path`: --subscribers when given (it wins over [run] subscribers, as at start).
  WebBackend(const Config& cfg, std::string subscribers_path, DirectoryFn directory, SavedFn saved);
  ~WebBackend();

  // Resolves web.signin_key_ref. An error text naming the reference (never the key), "" if fine.
  std::string start();
  // Before start(): what the operator pages show (the JSON APIs of this process); the token is
  // filled in by start() from web.operator_token_ref.
  void setOps(web::OpsSeams ops) { ops_ = std::move(ops); }
  // Before start(): several processes serve the console (web::ConsoleSeams::redeem_shared).
  void setRedeemShared(std::function<sipua::LinkVerdict(const std::string&, int64_t)> fn) {
    redeem_shared_ = std::move(fn);
  }
  void addRoutes(httplib::Server& server);
  // The paths the console serves: exempt from the HTTP layer's bearer token (a session cookie
  // or a signed link is their credential).
  static bool isConsolePath(std::string_view path);

  // Notifier thread: hands the queued messages to `local` (null: no local notifier in this
  // process, they are counted as undeliverable).
  void drainMessages(notifier::LocalNotifier* local);
  bool messagesWaiting() const { return waiting_.load(std::memory_order_relaxed); }

  // web.messages.{queued,refused,undeliverable}, web.preferences.{saved,refused,failed},
  // web.ldap.{binds_ok,binds_failed,refused,errors}.
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const;

  // The console's seams (tests call them directly).
  std::vector<web::MissedCallView> missedCalls(const std::string& person);
  std::string savePerson(const subscribers::Person& changed, const std::string& who);
  bool queueMessage(const std::string& person, const std::string& channel, const std::string& title,
                    const std::string& text);

  static constexpr size_t kMaxQueued = 256;
  static constexpr int kMaxCallsShown = 50;
  // HTTP request threads while the console is served: a browser keeps several connections open,
  // each holding one.
  static constexpr size_t kHttpThreads = 8;

 private:
  struct Message {
    std::string person, channel, title, text;
  };
  Config cfg_;
  std::string subscribers_path_;
  DirectoryFn directory_;
  SavedFn saved_;
  std::unique_ptr<web::SignInLinks> links_;
  std::unique_ptr<web::WebConsole> console_;
  std::unique_ptr<web::LdapAuthenticator> ldap_;  // web.ldap_url set
  web::OpsSeams ops_;
  std::function<sipua::LinkVerdict(const std::string&, int64_t)> redeem_shared_;

  std::mutex queue_mu_;
  std::deque<Message> queue_;
  std::atomic<bool> waiting_{false};

  std::mutex history_mu_;  // the read connection, opened at first use (the writer creates it)
  std::unique_ptr<history::HistoryStore> history_;

  std::mutex save_mu_;  // one read-modify-write of the subscribers file at a time

  std::atomic<uint64_t> queued_{0}, refused_{0}, undeliverable_{0};
  std::atomic<uint64_t> saved_count_{0}, save_refused_{0}, save_failed_{0};
};

// A subscribers directory the console read back after rewriting the file, waiting for the thread
// that owns the notifier's directory (mcn run's notifier thread, the notifier role's loop): the
// HTTP thread puts, that thread takes.
class DirectoryHandoff {
 public:
  void put(std::shared_ptr<const subscribers::Directory> d);
  // The directory waiting, or null.
  std::shared_ptr<const subscribers::Directory> take();

 private:
  std::mutex mu_;
  std::shared_ptr<const subscribers::Directory> dir_;  // under mu_
  std::atomic<bool> waiting_{false};
};

// What a role of `mcn run` gives the console (startWebConsole).
struct WebWiring {
  std::string subscribers_path;          // --subscribers ("" : [run] subscribers)
  WebBackend::DirectoryFn directory;     // the directory now (HTTP threads)
  WebBackend::SavedFn saved;             // a rewritten subscribers file, read back
  std::function<HistoryApi*()> history;  // the call history's API at request time, or null
  web::OpsSeams ops;                     // this role's figures, ladder, dead letters, import
  // Several processes serve the console: a sign-in link used once among them (else unset).
  std::function<sipua::LinkVerdict(const std::string& nonce, int64_t expires_ms)> redeem_shared;
};

// [web] enabled, on `http` before its start(): the console made and started, /ops search and
// call from the history (when `ops` has none), its routes added and its paths served without the
// bearer token. The one wiring of every role that serves the console (mcn run's roles all and
// notifier). Null and `error` when start-up must stop. The caller gives the HTTP layer
// WebBackend::kHttpThreads request threads (or more).
std::unique_ptr<WebBackend> startWebConsole(const Config& cfg, HttpEndpoints& http, WebWiring w,
                                            std::string& error);

}  // namespace mcn::app
