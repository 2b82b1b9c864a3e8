#pragma once
// The shared call history of a [streams] deployment (README "Scale-out with Redis Streams",
// "Call history"): one Redis stream, <prefix>:history, that every producer of history entries
// appends to (probes their call records, notifiers their notification steps), and a SQLite
// replica on every node that follows it. Every node applies the same entries in the stream's
// order, so every node answers /api/calls with the same rows.
//
//   HistoryStreamPublisher  XADD MAXLEN ~ of the entries a node produces: a bounded buffer sent
//                           pipelined; Redis away = buffered, resent in order on reconnect.
//   HistoryFollower         XREAD BLOCK from the last id applied; each batch and the id it ends
//                           at are one SQLite transaction, so a restart resumes exactly.
// Redis through the one client (mcn/redis/client.h), with its reconnect backoff.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "mcn/history/store.h"
#include "mcn/redis/client.h"
#include "mcn/redis/send_buffer.h"

namespace mcn::history {

struct HistoryStreamConfig {
  redis::RedisClientOptions redis;  // the [streams] Redis (address, password, Sentinels)
  std::string key = "mcn:history";  // <prefix>:history
  size_t maxlen = 200000;           // XADD MAXLEN ~ (history.stream_maxlen)
  // An entry's dedupe key lives this long (streams.dedupe_ttl_s): within it, the same call record
  // from another probe, or an entry resent after its XADD's answer was lost, is not added again.
  int64_t dedupe_ttl_s = 86400;
  size_t buffer_max = 100000;  // entries held while Redis is unreachable (streams.buffer_max)
  int batch = 256;             // entries per pipelined XADD round (streams.batch)
  // XREAD COUNT: entries per read and per SQLite transaction of the follower (a transaction
  // costs about as much as a few hundred inserts: bigger batches catch up faster).
  int read_batch = 4096;
  int block_ms = 1000;              // the follower's XREAD BLOCK
  int64_t flush_timeout_ms = 2000;  // at stop: how long buffered entries are still resent
};

using StreamEntry = HistoryEntry;

// An entry's stream fields: ("call", record_wire.h JSON) + ("person", id), or ("note", JSON).
std::vector<std::pair<std::string, std::string>> entryFields(const StreamEntry& e);
// What makes an entry the same entry again, for its dedupe key <stream key>:dedupe:<identity>:
// a call record by its correlation id (else Call-ID) and callee, as the missed-call stream
// dedupes (notifier/stream_bus.h); a notification step by its idempotency key, step, channel and
// attempt count.
std::string entryIdentity(const StreamEntry& e);
// nullopt for anything else (unknown field, bad JSON, a missing or mistyped value); never throws.
std::optional<StreamEntry> entryFromFields(
    const std::vector<std::pair<std::string, std::string>>& fields);

// "1700000000000-3" < "1700000000000-12", as Redis orders stream ids. "" is before everything.
bool streamIdLess(std::string_view a, std::string_view b);

// Single-threaded (the history writer's thread).
class HistoryStreamPublisher {
 public:
  using NowUs = redis::RedisClient::NowUs;
  HistoryStreamPublisher(HistoryStreamConfig cfg, NowUs now = {});
  ~HistoryStreamPublisher();
  HistoryStreamPublisher(const HistoryStreamPublisher&) = delete;
  HistoryStreamPublisher& operator=(const HistoryStreamPublisher&) = delete;

  // Never waits: false when the buffer holds buffer_max entries (history.stream.dropped).
  bool publish(const StreamEntry& e);
  // Sends up to a few batches if Redis answers (or the backoff allows a reconnect); returns how
  // many entries Redis took.
  size_t pump();
  // pump() until the buffer is empty (true) or deadline_us passes on the clock (false).
  bool flush(int64_t deadline_us);
  size_t buffered() const { return buffer_.size(); }
  bool connected() const;

  // Stable names, fixed order: history.stream.published, history.stream.deduped (the same entry
  // was in the stream already: another probe's record of the call, or a resend),
  // history.stream.buffered (entries that came while Redis was down), history.stream.dropped,
  // history.stream.resent, history.stream.buffer_depth (now).
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const;
  uint64_t reconnects() const;
  uint64_t redisErrors() const;

 private:
  struct Item {
    std::string dedupe_key;
    std::vector<std::pair<std::string, std::string>> fields;  // entryFields()
  };
  HistoryStreamConfig cfg_;
  NowUs now_;
  std::unique_ptr<redis::RedisClient> link_;
  redis::SendBuffer<Item> buffer_;
  uint64_t published_ = 0, deduped_ = 0;
};

// Follows the stream into this node's store. step() is one turn (tests drive it directly);
// start() runs it on a thread of its own until stop(). The store is this object's: it is the
// only writer of the replica (retention deletes included).
class HistoryFollower {
 public:
  using NowUs = redis::RedisClient::NowUs;
  HistoryFollower(HistoryStreamConfig cfg, std::unique_ptr<HistoryStore> store, int retention_days,
                  bool purge, NowUs now = {});
  ~HistoryFollower();  // stop()
  HistoryFollower(const HistoryFollower&) = delete;
  HistoryFollower& operator=(const HistoryFollower&) = delete;

  // Reads what followed the last applied id (waiting at most block_ms; 0: no wait) and applies
  // it. Returns the entries read.
  size_t step(int block_ms);
  void start();
  void stop();
  // The last id applied ("" before the first).
  std::string position() const;
  bool connected() const { return connected_.load(); }

  // Safe from any thread. applied: entries written to this replica; gaps: times the stream had
  // been trimmed past this replica's position (or was reset), so its history lacks what went;
  // bad_entries: unreadable entries skipped; write_errors: batches the store refused (read
  // again); purged: rows deleted for the retention.
  uint64_t applied() const { return applied_.load(); }
  uint64_t gaps() const { return gaps_.load(); }
  uint64_t badEntries() const { return bad_.load(); }
  uint64_t writeErrors() const { return write_errors_.load(); }
  uint64_t purged() const { return purged_.load(); }
  uint64_t reconnects() const { return reconnects_.load(); }
  uint64_t redisErrors() const { return redis_errors_.load(); }

 private:
  void checkGap();
  void maybePurge();
  HistoryStreamConfig cfg_;
  std::unique_ptr<HistoryStore> store_;
  int retention_days_;
  bool purge_;
  NowUs now_;
  std::unique_ptr<redis::RedisClient> link_;
  std::string position_;  // under the thread; copied into position_copy_ for readers
  mutable std::mutex position_mu_;
  std::string position_copy_;
  bool check_gap_ = true;  // at the first read after each connect, and while behind
  std::string gap_upto_;   // the trimmed range already counted as a gap ends here
  uint64_t seen_reconnects_ = 0;
  int64_t last_purge_us_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false}, connected_{false};
  std::atomic<uint64_t> applied_{0}, gaps_{0}, bad_{0}, write_errors_{0}, purged_{0};
  std::atomic<uint64_t> reconnects_{0}, redis_errors_{0};
};

}  // namespace mcn::history
