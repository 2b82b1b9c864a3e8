#pragma once
// The call-back API of `mcn run` ([sipua] enabled): README "Call back".
//
//   POST /api/callback            {"person", "device"?, "number"} or {"from", "to"}, each with
//                                 "multicall"? and "multicall_mode"?: 202 {"id", ...}
//   GET  /api/callback/<id>       the call back's state (calling_you, calling_them, connected,
//                                 busy, no_answer, failed) with the deciding SIP status
//   GET  /api/callback/<id>/events  the same as server-sent events, until a final state
//   GET  /callback/link/<token>   confirm page of a signed link (places nothing: link scanners)
//   POST /callback/link/<token>   redeems the link (single use) and places the call back
//
// The /api paths sit behind the HTTP layer's bearer token like /metrics; the link paths are
// exempt, the signed token being their credential. Every placed call back is logged.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "mcn/app/config.h"
#include "mcn/sipua/callback_link.h"
#include "mcn/sipua/user_agent.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib
namespace mcn::subscribers {
class Directory;
}

namespace mcn::app {

class CallbackApi {
 public:
  using DirectoryFn = std::function<std::shared_ptr<const subscribers::Directory>()>;
  using NowMs = std::function<int64_t()>;  // Unix ms; a seam for the tests

  CallbackApi(const Config& cfg, DirectoryFn directory, NowMs now = {});
  ~CallbackApi();

  // Resolves the credentials and the link key, starts the user agent. Error text, empty if fine.
  std::string start();
  void stop();
  void addRoutes(httplib::Server& server);

  // The running user agent (after a successful start()), for the sip_message channel.
  sipua::UserAgent* userAgent() { return ua_.get(); }

  // A signed link for `person` to call `caller` back; empty without [callback] link keys.
  std::string linkFor(const std::string& person, const std::string& caller);

  // Stable names: the user agent's (sipua.*) and callback.link.{issued,redeemed,refused},
  // callback.rate_limited, callback.events.{opened,refused}.
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const;

  struct Answer {
    int status = 200;
    std::string body;  // JSON
  };
  // The handlers without the HTTP server (tests call them directly).
  Answer place(const std::string& json_body);
  Answer state(const std::string& id) const;

  // Server-sent event streams open at once (each holds an HTTP thread: HttpEndpoints adds this
  // many to its pool); more answer 503. A stream ends at the final state, at the latest after
  // kMaxStreamMs.
  static constexpr int kMaxEventStreams = 4;
  static constexpr int kMaxStreamMs = 15 * 60 * 1000;
  static constexpr int kHeartbeatMs = 10000;

 private:
  Answer placeFor(const std::string& person, const std::string& device, const std::string& target,
                  const char* origin, bool limited_already = false,
                  std::vector<std::string> multicall = {},
                  sipua::MulticallMode mode = sipua::MulticallMode::kSequential);

  Config cfg_;
  DirectoryFn directory_;
  NowMs now_;
  std::unique_ptr<sipua::UserAgent> ua_;
  mutable std::mutex mu_;  // links_ and limits_ (HTTP threads)
  std::unique_ptr<sipua::CallbackLinks> links_;
  sipua::RateLimits limits_;
  void events(const httplib::Request& req, httplib::Response& res);

  std::atomic<uint64_t> issued_{0}, redeemed_{0}, link_refused_{0}, rate_limited_{0},
      streams_opened_{0}, streams_refused_{0};
  std::atomic<int> streams_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace mcn::app
