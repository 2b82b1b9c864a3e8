#pragma once
// /metrics, /healthz and /readyz for every `mcn run` role, with one rule for who may ask:
// bound to loopback, anyone on the host; bound anywhere else, start-up refuses without
// run.http_token_ref and every request needs `Authorization: Bearer <token>`.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mcn/app/config.h"

namespace httplib {
class Server;
}

namespace mcn::app {

class Metrics;
class HistoryApi;

// 127.0.0.0/8, ::1 or "localhost".
bool isLoopback(std::string_view bind);

// A problem with serving [run] http_bind on `port` (0: not served): beyond loopback without a
// token reference. Empty when fine. Shared with `mcn config check`.
std::string httpBindProblem(const RunConfig& run, int port);

// What /healthz and /readyz answer: 200 with "ok"/"ready", else 503 with the reason.
struct Check {
  bool ok = true;
  std::string why;  // when not ok, e.g. "capture failed", "Redis unreachable"
};

class HttpEndpoints {
 public:
  // healthz: alive (every loop turned recently; restarting would help if not);
  // readyz: doing its work (capturing, or connected to what it consumes).
  HttpEndpoints(Metrics& metrics, std::function<Check()> healthz, std::function<Check()> readyz);
  ~HttpEndpoints();

  // Before anything else is opened: resolves the token when bound beyond loopback. Returns an
  // error text, empty on success; port 0 serves nothing.
  std::string prepare(const RunConfig& run, int port);
  // Binds and serves on its own thread. Returns an error text, empty on success.
  std::string start();
  // Before start(): serve GET /api/calls and /api/calls/<call_id> from the call history
  // (history_api.h), under the same rule for who may ask. Must outlive the server.
  void setHistory(HistoryApi* api) { history_ = api; }
  void stop();
  // More routes (the call-back API), added by start(); before start().
  void setExtraRoutes(std::function<void(httplib::Server&)> fn) { extra_ = std::move(fn); }
  // Paths that carry their own credential (the web console's session cookie or signed link)
  // and so are served without the bearer token; before start().
  void setPublicPaths(std::function<bool(std::string_view path)> fn) { public_ = std::move(fn); }
  // Request threads (keep-alive connections each hold one; a browser opens several); before
  // start(). Default 2.
  void setThreads(size_t n) { threads_ = n; }
  // More routes again (the operator console's JSON, ops_api.h), each added by start() in order;
  // before start().
  void addRoutes(std::function<void(httplib::Server&)> fn) { more_.push_back(std::move(fn)); }
  // Before start(): GET /api/calls/<call_id>/ladder (ladder_api.h), registered before
  // /api/calls/<call_id>.
  void setLadder(std::function<void(httplib::Server&)> fn) { ladder_ = std::move(fn); }
  int port() const { return port_; }

 private:
  Metrics& metrics_;
  std::function<Check()> healthz_, readyz_;
  std::function<void(httplib::Server&)> extra_;
  std::function<bool(std::string_view)> public_;
  size_t threads_ = 2;
  std::vector<std::function<void(httplib::Server&)>> more_;
  std::function<void(httplib::Server&)> ladder_;
  std::string token_;
  std::string bind_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  HistoryApi* history_ = nullptr;
  int port_ = 0;
};

}  // namespace mcn::app
