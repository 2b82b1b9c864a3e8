#pragma once
// The web console's tests' own loopback server: a WebConsole's routes served on a free port of
// 127.0.0.1, a client that does not follow redirects, and what a browser reads off an answer
// (page_reads.h: a Set-Cookie value, a form's hidden CSRF token). Shared by console_test.cc and
// ops_pages_test.cc.

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "mcn/web/console.h"
#include "mcn/web/session.h"
#include "page_reads.h"

namespace mcn::web::test {

class ConsoleServer : public ::testing::Test {
 protected:
  // Serves `console` (kept alive here) until TearDown.
  void serve(std::unique_ptr<WebConsole> console) {
    console_ = std::move(console);
    console_->addRoutes(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_follow_location(false);
    return c;
  }

  // page_reads.h, for the fixtures' own code.
  static std::string cookieFrom(const httplib::Result& r, std::string_view name) {
    return test::cookieFrom(r, name);
  }
  static std::string hiddenCsrf(const std::string& body) { return test::hiddenCsrf(body); }

  std::unique_ptr<WebConsole> console_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace mcn::web::test
