#pragma once
// The delivery engine: at-least-once delivery of Notifications through the channels of
// channel.h over one libcurl multi handle (connection reuse, connect and total timeouts).
//
//  - Retries: exponential backoff with full jitter, delay = uniform in
//    [0, min(cap, base * 2^(attempts-1))] from the injected Random; an HTTP Retry-After
//    (delta-seconds or HTTP-date, RFC 9110 §10.2.3) and a vendor's own "too fast" error raise the
//    delay to at least what they ask for (capped by retry_after_max_ms).
//  - Bounded attempts, then the dead-letter sink with the reason; a full queue also goes to the
//    dead-letter sink (reason queue_full): nothing is dropped silently.
//  - Per-target rate limits (robot URL, phone number, SMTP server): a message over the limit is
//    delayed to the first instant the limit allows, never dropped. Limits are sliding windows
//    ("at most N in any 60 s"), which is what the vendors enforce: a token bucket refilled
//    continuously would let a 21st WeCom message through 3 s after a burst of 20.
//  - Every scheduling decision reads the injected Clock; the engine never sleeps: poll() waits on
//    curl for at most max_wait_ms. On a ManualClock, backoff and limits are tested exactly.
// Single-threaded: call everything from the notifier thread.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mcn/notifier/channel.h"
#include "mcn/notifier/clock.h"
#include "mcn/notifier/credentials.h"
#include "mcn/notifier/notification.h"
#include "mcn/subscribers/directory.h"

namespace mcn::notifier {

struct RateLimit {
  int per_minute = 0;  // at most this many sends in any 60 s; 0 = no limit
  int per_second = 0;  // at most this many sends in any 1 s; 0 = no limit

  bool operator==(const RateLimit&) const = default;
};

// WeCom and DingTalk robots: 20 a minute each; Feishu bots: 100 a minute and 5 a second.
std::map<subscribers::ChannelKind, RateLimit> defaultRateLimits();

struct DeliveryConfig {
  int max_attempts = 8;                  // attempts per notification before dead-lettering
  int64_t backoff_base_ms = 1000;        // first retry within [0, base]
  int64_t backoff_cap_ms = 300000;       // the exponential ceiling stops growing here
  int64_t retry_after_max_ms = 3600000;  // a server cannot push a retry further than this
  int64_t connect_timeout_ms = 5000;
  int64_t total_timeout_ms = 20000;  // whole transfer, answer included
  size_t max_queue = 10000;          // notifications pending (waiting + in flight)
  size_t max_in_flight = 64;
  size_t max_response_bytes = 64 * 1024;  // answer bodies are cut here (only codes are read)
  long max_host_connections = 8;          // per host, reused across notifications
  std::map<subscribers::ChannelKind, RateLimit> rate_limits = defaultRateLimits();
  std::string user_agent = "mcn";

  bool operator==(const DeliveryConfig&) const = default;
};

// Sliding-window limiter keyed by target. reserve() books the earliest instant >= now at which
// one more send keeps every window within its limit (and not before an earlier booking of the
// same key, so a target's messages keep their order).
class SlidingWindowLimiter {
 public:
  int64_t reserve(const std::string& key, const RateLimit& limit, int64_t now_us);
  size_t keys() const { return keys_.size(); }

 private:
  struct Windows {
    std::deque<int64_t> minute;  // last per_minute bookings, oldest first
    std::deque<int64_t> second;  // last per_second bookings
  };
  void prune(int64_t now_us);
  std::map<std::string, Windows, std::less<>> keys_;
  uint64_t calls_ = 0;
};

// Where notifications go when delivery gives up. Reasons: "max_attempts", "rejected" (the
// vendor said the request itself is wrong), "bad_config" (the request could not be built),
// "no_channel", "queue_full", "shutdown" (still pending when the engine was destroyed).
class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  virtual void write(const Notification& n, std::string_view reason, std::string_view last_error,
                     int attempts, int64_t at_us) = 0;
};

// One JSON object a line: {"reason":..., "error":..., "attempts":..., "at":"<UTC ISO-8601>",
// "notification":{...}}; the channel target is redacted (robot keys are credentials), the
// secret_ref kept so the entry can be re-sent. Created 0600; appended, flushed per line.
class JsonlDeadLetterFile final : public DeadLetterSink {
 public:
  explicit JsonlDeadLetterFile(const std::string& path);  // throws std::runtime_error
  ~JsonlDeadLetterFile() override;
  JsonlDeadLetterFile(const JsonlDeadLetterFile&) = delete;
  JsonlDeadLetterFile& operator=(const JsonlDeadLetterFile&) = delete;
  void write(const Notification& n, std::string_view reason, std::string_view last_error,
             int attempts, int64_t at_us) override;
  uint64_t writeErrors() const { return write_errors_; }

 private:
  int fd_ = -1;
  std::string path_;
  uint64_t write_errors_ = 0;
  uint64_t unlogged_ = 0;
  int64_t last_log_us_ = INT64_MIN / 2;
};

std::string deadLetterJson(const Notification& n, std::string_view reason,
                           std::string_view last_error, int attempts, int64_t at_us);

// Console and JSONL channels are written in-process by this callback (false + error: retried
// like a failed send).
using LocalWriter = std::function<bool(const Notification& n, std::string& error)>;
// Called once per delivered notification (e.g. for --notify-out).
using DeliveredCallback = std::function<void(const Notification& n)>;

// One step of a notification's delivery, for the call history (history/): each finished attempt
// (ok or its error), then the end: delivered, or dead-lettered with the reason.
struct DeliveryStep {
  enum class Kind : uint8_t { kAttempt, kDelivered, kDeadLettered };
  Kind kind = Kind::kAttempt;
  bool ok = false;          // kAttempt
  std::string_view error;   // kAttempt: the attempt's error; kDeadLettered: the last error
  std::string_view reason;  // kDeadLettered
  int64_t at_us = 0;
};
using StepCallback = std::function<void(const Notification& n, const DeliveryStep& step)>;

// The engine's one seam for a transport other than curl (OutboundRequest::Protocol::kSip: mcn's
// SIP user agent). Backoff, Retry-After, limits, dead letters and the outbox stay the engine's;
// the transport only carries one request and reports how it ended.
class RequestTransport {
 public:
  using Done = std::function<void(InboundResponse)>;
  virtual ~RequestTransport() = default;
  // Starts `req` and returns at once. true: `done` runs exactly once, from any thread, with the
  // answer (or transport != kOk). false: nothing was started, `error` says why (a failed attempt,
  // retried), and `done` never runs.
  virtual bool start(const OutboundRequest& req, Done done, std::string& error) = 0;
};

class Delivery {
 public:
  Delivery(DeliveryConfig cfg, const Clock& clock, Random& random, CredentialStore& credentials,
           DeadLetterSink& dead_letters);
  // Notifications still pending go to the dead-letter sink with reason "shutdown".
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  void setLocalWriter(LocalWriter writer);
  void setDeliveredCallback(DeliveredCallback cb);
  // Observes every attempt and the end of every notification; delivery goes on regardless.
  void setStepCallback(StepCallback cb);
  // SIGHUP: attempts, backoff, timeouts, queue bound and rate limits for what is scheduled from
  // now on; pending notifications are kept (max_host_connections and max_in_flight stay).
  void setConfig(DeliveryConfig cfg);
  // Requests of `protocol` go to `transport` (which must outlive the engine's last poll(); null
  // removes it). A request for a protocol without a transport is dead-lettered as bad_config.
  // Only kSip is taken; HTTP and SMTP always use curl.
  void setTransport(OutboundRequest::Protocol protocol, RequestTransport* transport);

  // Queues for an attempt at the clock's now. false: not queued, the notification went to the
  // dead-letter sink instead (queue_full, or no_channel for a kind nothing can send). An empty
  // idempotency key is replaced by a random one so retries still carry one key.
  bool submit(Notification n);

  // Starts what is due, drives transfers, handles finished ones; waits on curl's sockets for at
  // most max_wait_ms (0 = do not wait).
  void poll(int max_wait_ms);

  // Polls until nothing is pending (true) or the clock reaches deadline_us (false). On a
  // ManualClock it also returns false once nothing is in flight and nothing is due, since that
  // clock only moves when told to.
  bool flush(int64_t deadline_us);

  size_t pending() const;  // waiting + in flight
  size_t inFlight() const;
  std::optional<int64_t> nextDueUs() const;  // earliest scheduled attempt not yet started

  // Stable names, fixed order, zero values included: delivery.submitted, delivery.succeeded,
  // delivery.failed_attempts, delivery.retried, delivery.dead_lettered, delivery.rate_limited,
  // delivery.queue_full, then delivery.<kind>.ok and delivery.<kind>.failed for every channel
  // kind (webhook, wecom, dingtalk, feishu, sms_aliyun, sms_http, email, console, jsonl,
  // sip_message), then
  // delivery.<kind>.dead_lettered for every kind.
  // submitted = succeeded + dead_lettered + pending(); <kind>.ok + <kind>.failed = attempts;
  // the <kind>.dead_lettered add up to dead_lettered.
  void forEachCounter(const std::function<void(std::string_view name, uint64_t value)>& fn) const;
  uint64_t counter(std::string_view name) const;  // 0 for an unknown name

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::notifier
