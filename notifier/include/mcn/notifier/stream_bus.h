#pragma once
// Scale-out over Redis Streams (DESIGN.md "Delivery": several probes, several notifiers, a
// killed process loses nothing). Redis through the one client (mcn/redis/client.h) in src/.
//
// Keys (prefix "mcn" by default; "{mcn}" puts them all in one Redis Cluster slot):
//   <prefix>:missed        stream, one entry per missed call (field "call": record_wire.h JSON)
//   <prefix>:dedupe:<h>    string with a TTL: h = SHA-256 of (icid-value else Call-ID, callee);
//                          set by the probe that publishes the call first
//   <prefix>:win:<person>  hash, the person's open merge window: missed entry id -> call JSON
//   <prefix>:windows       sorted set, person -> window deadline (µs since the epoch)
//   <prefix>:closed        stream, one entry per closed window (fields "person", "calls")
//   <prefix>:dead          stream, what exhausted its retries (field "dead": JSON)
// Consumer group <group> ("mcn-notifiers") on :missed and :closed.
//
// Guarantees (at-least-once from the stream's point of view, once at the receiver after it drops
// repeated idempotency keys):
//   - probe: SET NX EX of the dedupe key and XADD are one script, so a call two probes saw is
//     published once, and a publish whose answer was lost is deduplicated when resent;
//   - notifier: a missed entry is added to its window and XACKed in one script (idempotent by
//     entry id); a due window moves to :closed in one script; a closed entry is XACKed only
//     after every notification it produced was confirmed by its channel or dead-lettered.
//     Entries idle longer than claim_idle_ms (their notifier died) are taken over (XAUTOCLAIM);
//     a notifier keeps the entries it is still delivering fresh (XCLAIM JUSTID) so slow retries
//     are not stolen, and reads no new windows while it delivers max_in_flight of them. An
//     entry delivered max_deliveries times goes to :dead.
// Limits: MAXLEN ~ trimming drops the oldest entries even if unread (size maxlen above the
// backlog an outage may build); a window whose notifications half succeeded is re-rendered
// whole after a crash (the channels that had it see the same idempotency key again).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/calls/call_record.h"
#include "mcn/notifier/clock.h"
#include "mcn/subscribers/directory.h"

namespace mcn::notifier {

struct StreamConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // the credential itself (resolved from a reference); never logged
  // Redis Sentinel (mcn/redis/client.h): when set, host and port come from these.
  std::vector<std::string> sentinels;
  std::string sentinel_master;
  std::string sentinel_password;
  std::string prefix = "mcn";
  std::string group = "mcn-notifiers";
  std::string consumer;           // empty: <hostname>-<pid>
  size_t maxlen = 1000000;        // XADD MAXLEN ~ on every stream
  int64_t dedupe_ttl_s = 86400;   // how long a published call blocks the same call from others
  int64_t claim_idle_ms = 30000;  // pending entries idle this long are taken over
  size_t buffer_max = 100000;     // probe: calls held while Redis is unreachable
  int max_deliveries = 10;        // an entry delivered this often goes to :dead
  int batch = 256;                // entries per pipelined round trip
  size_t max_in_flight = 1000;    // closed windows being delivered before reading no more
  int connect_timeout_ms = 1000;
  int64_t backoff_initial_ms = 100;  // reconnect delay, doubled up to the max
  int64_t backoff_max_ms = 5000;

  bool operator==(const StreamConfig&) const = default;
};

// "<hostname>-<pid>"
std::string defaultConsumerName();

// The cross-probe dedupe key of a call: <prefix>:dedupe:<sha256 hex of key "\n" callee>, key
// being the icid-value (correlation) if any, else the Call-ID.
std::string streamDedupeKey(const StreamConfig& cfg, const calls::MissedCall& call);

}  // namespace mcn::notifier
namespace mcn::redis {
class RedisClient;
struct RedisClientOptions;
template <class Payload>
class SendBuffer;
}  // namespace mcn::redis
namespace mcn::notifier {

// The Redis connection of every stream link (address, password, Sentinels, timeouts, reconnect
// backoff), also the shared call history's (history/stream.h).
redis::RedisClientOptions streamClientOptions(const StreamConfig& cfg);

// The probe side. publish() never waits on Redis: it appends to a bounded in-memory buffer;
// pump() sends the buffer in order (pipelined EVALSHA of the dedupe+XADD script), reconnecting
// with backoff. A call is removed from the buffer only once Redis answered for it.
class StreamPublisher {
 public:
  StreamPublisher(StreamConfig cfg, const Clock& clock);
  ~StreamPublisher();
  StreamPublisher(const StreamPublisher&) = delete;
  StreamPublisher& operator=(const StreamPublisher&) = delete;

  // false: the buffer is full, the call is dropped (stream.dropped).
  bool publish(const calls::MissedCall& call);
  // Sends up to a few batches; returns how many calls Redis answered for.
  size_t pump();
  // pump() until the buffer is empty (true) or the wall clock passes deadline_us (false).
  bool flush(int64_t deadline_us);
  size_t buffered() const;
  bool connected() const;
  const std::string& lastError() const;  // last Redis error, for logs
  // "host:port" of the Redis in use (with Sentinels: the master found, or "master 'NAME'"
  // before the first connect), for logs.
  std::string redisAddress() const;

  // Stable names, fixed order: stream.published, stream.deduped, stream.buffered (calls that
  // waited for Redis), stream.dropped (refused at buffer_max), stream.resent (buffered calls sent
  // later), stream.buffer_depth (now), stream.reconnects, stream.redis_errors, stream.connected
  // (1 while the connection is up).
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const;

 private:
  struct Item {
    std::string dedupe_key;
    std::string json;
  };
  StreamConfig cfg_;
  const Clock& clock_;
  std::unique_ptr<redis::RedisClient> link_;
  std::unique_ptr<redis::SendBuffer<Item>> buffer_;  // mcn/redis/send_buffer.h
  uint64_t published_ = 0, deduped_ = 0;
};

// A window taken from :closed: render it, deliver, then windowDone(entry_id).
struct ClosedWindow {
  std::string entry_id;
  std::string person_id;
  std::vector<calls::MissedCall> calls;  // in arrival order (their :missed entry ids)
  std::vector<int64_t> arrived_us;       // per call: when it reached :missed (Redis time)
  uint64_t deliveries = 1;               // how often the group handed this entry out
};

// The notifier side, single-threaded (the notifier thread). step() does one turn of: reconnect,
// take over stale entries, read new ones, add missed calls to their person's window in Redis,
// move due windows to :closed, hand closed windows to the handler, keep in-flight ones fresh.
class StreamNotifier {
 public:
  using WindowHandler = std::function<void(ClosedWindow&&)>;

  StreamNotifier(StreamConfig cfg, std::shared_ptr<const subscribers::Directory> directory,
                 const Clock& clock, WindowHandler handler);
  ~StreamNotifier();
  StreamNotifier(const StreamNotifier&) = delete;
  StreamNotifier& operator=(const StreamNotifier&) = delete;

  void setDirectory(std::shared_ptr<const subscribers::Directory> directory);
  // Reads wait at most block_ms for new entries. Returns the entries handled.
  size_t step(int block_ms);
  // Stop taking new entries (shutdown); acks and dead letters still go out.
  void stopReading() { reading_ = false; }
  // Every notification of the closed entry was confirmed or dead-lettered: XACK it (queued
  // until Redis answers).
  void windowDone(const std::string& entry_id);
  // One dead letter (JSON) for :dead; queued until Redis answers. False when the queue is full
  // (buffer_max): the caller keeps it elsewhere (the local dead-letter file; stream.dead_local).
  bool deadLetter(std::string json);
  // Sends queued acks and dead letters now if connected; true when nothing is queued.
  bool flushQueued();
  size_t inFlight() const { return in_flight_.size(); }
  bool connected() const;
  const std::string& lastError() const;  // last Redis error, for logs
  // "host:port" of the Redis in use (with Sentinels: the master found, or "master 'NAME'"
  // before the first connect), for logs.
  std::string redisAddress() const;
  const std::string& consumer() const { return cfg_.consumer; }

  // Stable names, fixed order: stream.read, stream.windows_added, stream.windows_closed,
  // stream.acked, stream.claimed, stream.dead_lettered, stream.unknown_number,
  // stream.quiet_dropped, stream.bad_entries, stream.reconnects, stream.redis_errors; then levels:
  // stream.connected (1/0), stream.lag.missed, stream.lag.closed (entries the group has not
  // been handed yet: XINFO GROUPS "lag", Redis 7.0+), stream.pending.missed,
  // stream.pending.closed (handed out, not acknowledged), polled every kLagPollUs.
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const;

 private:
  struct Entry {
    std::string stream;  // "missed" or "closed"
    std::string id;
    std::vector<std::pair<std::string, std::string>> fields;
    uint64_t deliveries = 1;
  };
  void handle(std::vector<Entry>& entries);
  void claimStale(const std::string& stream);
  void keepAlive();
  void pollLag();
  std::string key(std::string_view name) const { return cfg_.prefix + ":" + std::string(name); }

  StreamConfig cfg_;
  std::shared_ptr<const subscribers::Directory> directory_;
  const Clock& clock_;
  WindowHandler handler_;
  std::unique_ptr<redis::RedisClient> link_;
  bool reading_ = true;
  std::vector<std::string> in_flight_;  // closed entries handed out, not yet done
  std::vector<std::string> acks_;       // closed entries done, XACK not yet answered
  std::deque<std::string> dead_;        // dead letters not yet in :dead
  int64_t last_claim_us_ = 0, last_keepalive_us_ = 0;
  uint64_t read_ = 0, windows_added_ = 0, windows_closed_ = 0, acked_ = 0, claimed_ = 0,
           dead_lettered_ = 0, dead_local_ = 0, unknown_ = 0, quiet_dropped_ = 0, bad_ = 0;
  static constexpr int64_t kLagPollUs = 5'000'000;  // one XINFO GROUPS per stream per 5 s
  int64_t last_lag_us_ = 0;
  uint64_t lag_missed_ = 0, lag_closed_ = 0, pending_missed_ = 0, pending_closed_ = 0;
};

}  // namespace mcn::notifier
