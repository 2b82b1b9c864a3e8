#pragma once
// mcn's SIP user agent (sofia-sip nua) on the management side. One thread runs sofia's su_root and
// makes every nua_* call; the rest of mcn hands requests to it through a queue and reads call-back
// states from a table it publishes (both thread-safe). Nothing here touches a capture interface.
//
// Call back (RFC 3725-style third-party call control, done by transfer): mcn INVITEs the person's
// device with a held SDP offer (a=inactive, no media through mcn); when the device answers, mcn
// REFERs it to the number (RFC 3515) and follows the NOTIFY sipfrag bodies: 1xx "calling them",
// 2xx "connected" (mcn then leaves with BYE), an error the matching final state.
//
// Multicall: the person's leg may ring several devices, one after another (each for
// ring_timeout_ms, until one answers) or all at once (the first 2xx wins; the others get a CANCEL
// with `Reason: SIP;cause=200;text="Call completed elsewhere"`, RFC 3326, so they do not show a
// missed call). The number is called once, by whichever device answered.
//
// A device that refuses the REFER (403, 405, 420, 489, 501) is connected by RFC 3725 §4.4 flow IV
// from its 5th message (the device already holds mcn's held session, standing in for the flow's
// "black hole" answer): mcn INVITEs the number without an offer, sends the number's offer to the
// device in a re-INVITE and ACKs the number with the device's answer. mcn then stays in both
// dialogs (its signalling only, never media) until one side hangs up, and hangs up the other.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/sipua/config.h"
#include "mcn/sipua/message.h"

namespace mcn::sipua {

enum class CallbackState { kCallingYou, kCallingThem, kConnected, kBusy, kNoAnswer, kFailed };

// "calling_you", "calling_them", "connected", "busy", "no_answer", "failed".
std::string_view callbackStateName(CallbackState s);
inline bool isFinal(CallbackState s) {
  return s != CallbackState::kCallingYou && s != CallbackState::kCallingThem;
}

enum class MulticallMode { kSequential, kParallel };

struct CallbackRequest {
  std::string person;          // subscriber id, for the log and rate limits
  std::string device;          // the person's device: a number or sip:/sips:/tel: URI, called first
  std::string target;          // the number to connect them with
  std::string origin = "api";  // "api" or "link": for the log
  // More devices for the person's leg, rung after `device` (sequential) or with it (parallel).
  std::vector<std::string> multicall{};
  MulticallMode mode = MulticallMode::kSequential;
};

// Most devices one call back may ring (`device` and `multicall` together).
inline constexpr size_t kMaxDevices = 8;

struct CallbackStatus {
  std::string id;
  std::string person, device, target;
  CallbackState state = CallbackState::kCallingYou;
  int sip_status = 0;   // the SIP status that decided the state (0 while none)
  std::string reason;   // e.g. "device busy", "REFER refused", "no final NOTIFY in 60 s"
  std::string leg;      // which leg a busy/no_answer/failed is about: "you" or "them"
  std::string call_id;  // Call-ID of mcn's call to the (first) device
  std::vector<std::string> devices;        // every device of the person's leg, in order (multicall)
  std::string mode;                        // "sequential" or "parallel"
  std::vector<std::string> ringing;        // the devices ringing now (calling_you)
  std::string answered_by;                 // the device that answered
  std::string via;                         // "refer" or "3pcc" (RFC 3725 flow IV) once chosen
  int64_t created_ms = 0, updated_ms = 0;  // Unix time
  uint64_t version = 0;                    // grows with every change (server-sent events)
};

// Turns a number or URI into a request URI: sip:/sips:/tel: kept, else "sip:<number>@<domain>".
// Empty when `s` holds characters no URI user part may (whitespace, <>, quotes, control bytes).
std::string toUri(std::string_view s, std::string_view domain);

// The event package of missed-call notifications (README "Subscriptions", RFC 6665 §7.2).
inline constexpr const char* kMissedCallEvent = "mcn-missed-call";

class UserAgent {
 public:
  // `password`: the resolved auth_password_ref (empty: none).
  UserAgent(UaConfig cfg, std::string password);
  ~UserAgent();
  UserAgent(const UserAgent&) = delete;
  UserAgent& operator=(const UserAgent&) = delete;

  // Starts the su_root thread and binds cfg.listen. Returns an error text, empty on success.
  std::string start();
  // Ends every dialog (nua_shutdown, bounded to 3 s) and joins the thread.
  void stop();

  struct Placed {
    std::string id;  // empty when refused
    int http_status = 202;
    std::string error;  // why refused
  };
  // Thread-safe: why `req` cannot be placed (device or number not a dialable URI); empty if fine.
  std::string check(const CallbackRequest& req) const;
  // Thread-safe: queues the call back and returns its id at once.
  Placed callback(const CallbackRequest& req);
  // Thread-safe: the latest state; nullopt for an unknown (or long forgotten) id.
  std::optional<CallbackStatus> status(std::string_view id) const;
  // Thread-safe: waits up to timeout_ms for a state newer than `seen` (CallbackStatus::version),
  // or for stop(); returns the latest state either way (nullopt: unknown id).
  std::optional<CallbackStatus> waitChange(std::string_view id, uint64_t seen,
                                           int timeout_ms) const;

  // One RFC 3428 MESSAGE (the sip_message channel, issue 19 item 6).
  struct MessageRequest {
    std::string to;               // the person's IMS identity: a number or sip:/sips:/tel: URI
    std::string body;             // UTF-8 text/plain, at most kMessageBodyMax bytes
    std::string idempotency_key;  // sent in kMessageKeyHeader; no CR/LF
    int timeout_ms = 10000;       // no final response by then: 408 "no answer within N s"
  };
  struct MessageResult {
    int status = 0;  // the final response; sofia's own 408/503 when the peer is unreachable
    std::string phrase;
    std::optional<int64_t> retry_after_s;  // the response's Retry-After
    std::string call_id;
  };
  // Thread-safe: queues the MESSAGE and returns at once; an error text (empty: queued) when it
  // cannot be sent at all (bad URI, body too long, not running, queue full), `done` then never
  // runs. Otherwise `done` runs exactly once, on the SIP thread (keep it short): with the final
  // response, a 408 after timeout_ms, or status 0 "mcn is stopping" at stop().
  std::string message(MessageRequest req, std::function<void(const MessageResult&)> done);

  // SUBSCRIBE/NOTIFY (issue 19 item 7): clients subscribe to kMissedCallEvent for their person
  // through the outbound proxy, which vouches for them by P-Asserted-Identity (RFC 3325); a
  // SUBSCRIBE from any other address is refused (403), as is one whose identity is nobody's (404).
  // Who an identity (a URI from P-Asserted-Identity) belongs to: the person id, empty for nobody.
  // Called on the SIP thread; set before start().
  using PersonOf = std::function<std::string(std::string_view identity)>;
  void setPersonResolver(PersonOf fn);
  // Thread-safe: a NOTIFY with `json` (application/json) on each live subscription of `person`;
  // nothing when there is none (the person's other channels are not affected).
  void notifySubscribers(std::string person, std::string json);

  // Bound on how many finished call-backs stay readable by id (oldest forgotten first).
  static constexpr size_t kKeepFinished = 1000;

  // Stable names: sipua.callbacks.requested, sipua.callbacks.refused, sipua.callbacks.connected,
  // sipua.callbacks.busy, sipua.callbacks.no_answer, sipua.callbacks.failed,
  // sipua.refer.refused, sipua.multicall.cancelled (devices CANCELled because another answered),
  // sipua.callbacks.bridged (connected by RFC 3725 flow IV), sipua.register.ok,
  // sipua.register.failed, sipua.incoming.rejected, sipua.messages.sent, sipua.messages.delivered
  // (2xx), sipua.messages.failed (any other final response, sofia's own included),
  // sipua.messages.timeout (none within timeout_ms), sipua.subscriptions.accepted,
  // sipua.subscriptions.refused, sipua.subscriptions.expired, sipua.subscriptions.ended (by the
  // client, or its NOTIFY answered 481), sipua.notify.sent, sipua.notify.failed (a NOTIFY answered
  // with an error).
  void forEachCounter(const std::function<void(std::string_view name, uint64_t value)>& fn) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::sipua
