#pragma once
// The web console's pages on mcn run's HTTP server (issue 18): staff sign-in by a one-time link,
// /me (my missed calls), sign-out. Server-rendered HTML, one embedded style sheet (no CDN), English
// and Chinese. What the console needs from the rest of mcn comes in through ConsoleSeams, so the
// pages are tested over real HTTP with a directory, a history and a delivery of the tests' own.
//
//   GET  /signin                 form: your person id
//   POST /signin                 sends a link through your own notification channel
//   GET  /signin/link/<token>    confirm page (link scanners fetch every URL: nothing used up)
//   POST /signin/link/<token>    redeems the link once, starts a session, 303 to /me
//   GET  /me                     my missed calls, newest first
//   POST /signout                ends the session
//
// Every POST carries a CSRF token: the session's own once signed in; before that a random value
// held in an HttpOnly SameSite=Strict cookie and echoed by the form (double submit), so no other
// site can sign a person in as someone else.

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "mcn/web/session.h"
#include "mcn/web/signin.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace mcn::web {

struct ConsoleOptions {
  // The console's address as the person's browser reaches it, ending in "/" (links are made
  // from it), e.g. "https://mcn.example.net/".
  std::string base_url;
  bool tls = false;  // cookies get Secure
  int64_t session_ttl_ms = 8 * 3600 * 1000;
  size_t max_sessions = 10000;
};

// One row of "my missed calls", in the person's words already (outcome, told).
struct MissedCallView {
  int64_t started_ms = 0;
  std::string caller_name;
  std::string caller_number;
  std::string my_number;  // which of my numbers was called
  std::string outcome;    // e.g. "no answer"
  int64_t ring_ms = 0;
  std::string told;  // where I was told ("wecom-office"), "" if not
};

struct ConsoleSeams {
  std::function<int64_t()> now_ms;                          // Unix ms
  std::function<bool(const std::string&)> person_exists;    // in the subscribers directory
  std::function<std::string(const std::string&)> language;  // the person's preference, or ""
  // Sends the sign-in link through the person's own notification channel; false if it could not.
  std::function<bool(const std::string& person, const std::string& url)> send_link;
  // The person's missed calls, newest first (bounded by the callee).
  std::function<std::vector<MissedCallView>(const std::string&)> missed_calls;
};

class WebConsole {
 public:
  WebConsole(SignInLinks& links, ConsoleOptions options, ConsoleSeams seams);
  void addRoutes(httplib::Server& server);

 private:
  void signinForm(const httplib::Request& req, httplib::Response& res);
  void signinPost(const httplib::Request& req, httplib::Response& res);
  void linkConfirm(const httplib::Request& req, httplib::Response& res);
  void linkPost(const httplib::Request& req, httplib::Response& res);
  void me(const httplib::Request& req, httplib::Response& res);
  void signout(const httplib::Request& req, httplib::Response& res);

  SignInLinks& links_;
  ConsoleOptions opt_;
  ConsoleSeams seams_;
  std::mutex mu_;  // sessions_ (the HTTP pool's threads)
  SessionStore sessions_;
};

// The pre-session CSRF cookie's name.
inline constexpr std::string_view kFormCookie = "mcn_form";

}  // namespace mcn::web
