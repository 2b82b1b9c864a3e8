#include "http_endpoints.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "history_api.h"
#include "mcn/notifier/credentials.h"
#include "metrics.h"

namespace mcn::app {
namespace {

// Compares without an early exit, so response time does not reveal how much of a guess is right.
bool sameSecret(std::string_view a, std::string_view b) {
  if (b.empty()) return a.empty();
  unsigned diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i % b.size()]);
  }
  return diff == 0;
}

void answer(httplib::Response& res, const Check& c, std::string_view good, std::string_view bad) {
  res.status = c.ok ? 200 : 503;
  res.set_content(c.ok ? fmt::format("{}\n", good) : fmt::format("{}: {}\n", bad, c.why),
                  "text/plain");
}

}  // namespace

bool isLoopback(std::string_view bind) {
  return bind == "::1" || bind == "localhost" || bind.rfind("127.", 0) == 0;
}

std::string httpBindProblem(const RunConfig& run, int port) {
  if (port == 0 || isLoopback(run.http_bind) || !run.http_token_ref.empty()) return {};
  return fmt::format(
      "run.http_bind: {} is not loopback: set run.http_token_ref (env:NAME or "
      "file:/path)",
      run.http_bind);
}

HttpEndpoints::HttpEndpoints(Metrics& metrics, std::function<Check()> healthz,
                             std::function<Check()> readyz)
    : metrics_(metrics), healthz_(std::move(healthz)), readyz_(std::move(readyz)) {}

HttpEndpoints::~HttpEndpoints() { stop(); }

std::string HttpEndpoints::prepare(const RunConfig& run, int port) {
  bind_ = run.http_bind;
  port_ = port;
  if (port == 0) return {};
  if (!isLoopback(run.http_bind)) {
    if (run.http_token_ref.empty()) {
      return "run.http_bind " + run.http_bind +
             " is not loopback: set run.http_token_ref (env:NAME or file:/path)";
    }
    notifier::CredentialStore store;
    std::string err;
    auto token = store.resolve(run.http_token_ref, &err);
    if (!token || token->empty()) {
      return "run.http_token_ref: " + (err.empty() ? std::string("empty token") : err);
    }
    token_ = *token;
  }
  return {};
}

std::string HttpEndpoints::start() {
  if (port_ == 0) return {};
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [n = threads_] { return new httplib::ThreadPool(n); };
  // cpp-httplib writes a response's headers and its body separately: with Nagle on, the body
  // waits for the client's delayed ACK of the headers, 40 ms on Linux, on every request of a
  // kept-alive connection (a browser's) whatever the page costs (tests/bench/web_bench.sh).
  server_->set_tcp_nodelay(true);
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (token_.empty()) return httplib::Server::HandlerResponse::Unhandled;
    // A call-back link is opened by the person from a notification: its signed token is the
    // credential (callback_api.h).
    if (req.path.rfind("/callback/link/", 0) == 0 || (public_ && public_(req.path))) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (sameSecret(req.get_header_value("Authorization"), "Bearer " + token_)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer");
    res.set_content("unauthorized\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    answer(res, healthz_(), "ok", "unhealthy");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    answer(res, readyz_(), "ready", "not ready");
  });
  // Bounded bodies (the largest is a people CSV, ops_api.h): beyond, httplib answers 413.
  server_->set_payload_max_length(8u << 20);
  if (ladder_) ladder_(*server_);
  if (history_ != nullptr) {
    server_->Get("/api/calls", [this](const httplib::Request& req, httplib::Response& res) {
      std::vector<std::pair<std::string, std::string>> params(req.params.begin(), req.params.end());
      ApiReply r = history_->search(params);
      res.status = r.status;
      res.set_content(r.body, "application/json");
    });
    server_->Get(R"(/api/calls/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      ApiReply r = history_->call(req.matches[1].str());
      res.status = r.status;
      res.set_content(r.body, "application/json");
    });
  }
  if (extra_) extra_(*server_);
  for (const auto& fn : more_) fn(*server_);
  if (!server_->bind_to_port(bind_, port_)) {
    server_.reset();
    return fmt::format("cannot listen on {}:{} for /metrics", bind_, port_);
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("metrics on http://{}:{}/metrics", bind_, port_);
  return {};
}

void HttpEndpoints::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace mcn::app
