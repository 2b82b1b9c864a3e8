#pragma once
// The web console's pages on mcn run's HTTP server (issue 18): staff sign-in by a one-time link,
// /me (my missed calls), sign-out. Server-rendered HTML, one embedded style sheet (no CDN), English
// and Chinese. What the console needs from the rest of mcn comes in through ConsoleSeams, so the
// pages are tested over real HTTP with a directory, a history and a delivery of the tests' own.
//
//   GET  /signin                 form: your person id
//   POST /signin                 sends a link through your own notification channel
//   POST /signin/ldap            (web.ldap_url set) user name and password of the directory
//                                account: an LDAP bind over TLS, a session for the mapped person
//   GET  /signin/link/<token>    confirm page (link scanners fetch every URL: nothing used up)
//   POST /signin/link/<token>    redeems the link once, starts a session, 303 to /me
//   GET  /me                     my missed calls (newest first), my numbers, my channels, my
//                                preferences form
//   POST /me/test                "send me a test notification" through one of my channels
//   POST /me/preferences         saves my preferences (the subscriber loader's checks, inline
//                                messages on a mistake, nothing saved then)
//   POST /signout                ends the session
//
//   GET  /ops/signin              operators: name (for the change log) and the operators' token
//   POST /ops/signin              checks the token (rate-limited), starts an operator session
//   POST /ops/signin/ldap         (web.ldap_operator_group set) a directory account in the
//                                 operators' group starts an operator session
//   GET  /ops                     live figures (refreshed by /ops/live.js), call search, dead
//                                 letters with retry and discard, people import from CSV
//   GET  /ops/call/<call_id>      a call's records, notifications and message ladder
//   GET  /ops/stats.json          the live figures for /ops/live.js
//   POST /ops/dead-letters/<id>/retry|discard, POST /ops/people/import
//
// Staff see and change only their own data: every /me page works on the session's person, never
// on a person named in the request.
//
// Every POST carries a CSRF token: the session's own once signed in; before that a random value
// held in an HttpOnly SameSite=Strict cookie and echoed by the form (double submit), so no other
// site can sign a person in as someone else.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mcn/subscribers/directory.h"
#include "mcn/subscribers/preferences_form.h"
#include "mcn/web/ldap_auth.h"
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
  std::string outcome;    // an outcome name ("no_answer", shown in words) or words already
  int64_t ring_ms = 0;
  std::string told;  // where I was told ("wecom-office"), "" if not
};

// One answer of `mcn run`'s JSON APIs (status and JSON body), as the operator pages get it.
struct JsonAnswer {
  int status = 200;
  std::string body;
};
using Params = std::vector<std::pair<std::string, std::string>>;

// The operator pages' view of mcn run: each seam answers as its JSON API does (README "Web
// console"). An unset seam: that part is not served by this process, and the page says so.
// The value of a live figure this process does not count (a notifier's "capture", "sip", "calls"):
// the JSON says it in English, the operator page in the reader's language.
inline constexpr const char* kFiguresOnProbes =
    "not here: counted by the probes (their /api/ops/stats)";

struct OpsSeams {
  // The operators' shared secret (web.operator_token_ref, resolved); empty: no operator pages.
  std::string token;
  std::function<JsonAnswer()> stats;                             // GET /api/ops/stats
  std::function<JsonAnswer(const Params&)> search;               // GET /api/calls
  std::function<JsonAnswer(const std::string& call_id)> call;    // GET /api/calls/<id>
  std::function<JsonAnswer(const std::string& call_id)> ladder;  // .../<id>/ladder?format=text
  std::function<JsonAnswer(const Params&)> dead_letters;         // GET /api/ops/dead-letters
  // POST /api/ops/dead-letters/<id>/<action> ("retry" | "discard"); `who` (the operator's name)
  // and `from` (their address) for the log.
  std::function<JsonAnswer(const std::string& id, const std::string& action, const std::string& who,
                           const std::string& from)>
      act_on_dead_letter;
  // POST /api/ops/people/import (text/csv).
  std::function<JsonAnswer(const std::string& csv)> import_people;
};

struct ConsoleSeams {
  std::function<int64_t()> now_ms;                          // Unix ms
  std::function<bool(const std::string&)> person_exists;    // in the subscribers directory
  std::function<std::string(const std::string&)> language;  // the person's preference, or ""
  // Sends the sign-in link through the person's own notification channel; false if it could not.
  std::function<bool(const std::string& person, const std::string& url)> send_link;
  // The person's missed calls, newest first (bounded by the callee).
  std::function<std::vector<MissedCallView>(const std::string&)> missed_calls;
  // The person as the subscribers directory holds them now (numbers, channels, preferences);
  // nothing when unknown. Unset: /me shows calls only.
  std::function<std::optional<subscribers::Person>(const std::string&)> person;
  // One message through one of the person's own channels (the test notification); false when it
  // could not be queued.
  std::function<bool(const std::string& person, const std::string& channel,
                     const std::string& title, const std::string& text)>
      send_message;
  // Writes `changed` (new preferences) to the subscribers store; "" when saved, else why not.
  // `who`: the signed-in person and their address, for the change log.
  std::function<std::string(const subscribers::Person& changed, const std::string& who)>
      save_person;
  OpsSeams ops;
  // Several processes serve the console (the notifiers of a [streams] deployment): a link this
  // process redeemed is then marked used where all of them look, until it expires (`nonce`,
  // `expires_ms` Unix ms). kOk: first use; kUsed: another process redeemed it; kFull: that record
  // cannot be reached now (no session then). Unset: this process's memory is the only record.
  std::function<sipua::LinkVerdict(const std::string& nonce, int64_t expires_ms)> redeem_shared;
  // Sign-in with a directory account (web/include/mcn/web/ldap_auth.h); unset: no such form.
  std::function<LdapAuthenticator::Result(const std::string& user, const std::string& password)>
      ldap;
  // Operators may sign in with a directory account too (web.ldap_operator_group is set).
  bool ldap_operators = false;
};

class WebConsole {
 public:
  WebConsole(SignInLinks& links, ConsoleOptions options, ConsoleSeams seams);
  void addRoutes(httplib::Server& server);

 private:
  void signinForm(const httplib::Request& req, httplib::Response& res);
  void signinPost(const httplib::Request& req, httplib::Response& res);
  void ldapPost(const httplib::Request& req, httplib::Response& res);
  void linkConfirm(const httplib::Request& req, httplib::Response& res);
  void linkPost(const httplib::Request& req, httplib::Response& res);
  void me(const httplib::Request& req, httplib::Response& res);
  void testPost(const httplib::Request& req, httplib::Response& res);
  void preferencesPost(const httplib::Request& req, httplib::Response& res);
  void signout(const httplib::Request& req, httplib::Response& res);

  // The operator pages (ops_pages.cc).
  void addOpsRoutes(httplib::Server& server);
  void opsSigninForm(const httplib::Request& req, httplib::Response& res);
  void opsSigninPost(const httplib::Request& req, httplib::Response& res);
  void opsLdapPost(const httplib::Request& req, httplib::Response& res);
  // Under mu_: true when this minute's operator sign-in failures (all clients, token or directory)
  // reached kOpsFailuresPerMinute; a new minute starts a new count.
  bool opsFailuresExhausted(int64_t now);
  bool opsOn() const { return !seams_.ops.token.empty() || (seams_.ldap && seams_.ldap_operators); }
  void opsHome(const httplib::Request& req, httplib::Response& res);
  void opsCall(const httplib::Request& req, httplib::Response& res);
  void opsStats(const httplib::Request& req, httplib::Response& res);
  void opsDeadLetterPost(const httplib::Request& req, httplib::Response& res);
  void opsImportPost(const httplib::Request& req, httplib::Response& res);
  // The operator session of this request, or nothing (then `res` already redirects to sign-in,
  // or refuses a POST whose CSRF token is missing or wrong).
  std::optional<Session> opsSession(const httplib::Request& req, httplib::Response& res, bool post);

  std::optional<Session> session(const httplib::Request& req);
  // Signs `who` in as `role`: a new session's cookie, the spent pre-session token's cookie
  // cleared, and a redirect to `home`. False (503) when no session could be made.
  bool beginSession(httplib::Response& res, const std::string& who, Role role, int64_t now,
                    std::string_view home);
  // The /me page; `posted`/`problems`: a preferences form refused, shown as posted with its
  // messages; `notice`: a line at the top (saved, test sent).
  void renderMe(const httplib::Request& req, httplib::Response& res, const Session& s,
                const std::multimap<std::string, std::string>* posted,
                const std::vector<subscribers::FieldProblem>& problems, const std::string& notice);

  SignInLinks& links_;
  ConsoleOptions opt_;
  ConsoleSeams seams_;
  std::mutex mu_;  // sessions_ (the HTTP pool's threads)
  SessionStore sessions_;
  // Operator sign-in failures in the current minute (all clients): at most kOpsFailuresPerMinute.
  int64_t ops_fail_minute_ = 0;
  int ops_failures_ = 0;

 public:
  static constexpr int kOpsFailuresPerMinute = 10;
};

// The pre-session CSRF cookie's name.
inline constexpr std::string_view kFormCookie = "mcn_form";

}  // namespace mcn::web
