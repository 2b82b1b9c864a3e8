#pragma once
// The history writer: one thread that owns the store's write connection. Each producer thread
// (a parse+track worker, the notifier thread, replay's one thread) gets its own single-producer
// ring (moodycamel ReaderWriterQueue, fixed capacity): try-push never waits and never allocates
// beyond the ring, and a full ring is a counted drop (history.dropped). The writer drains every
// ring into one transaction per batch and deletes what is older than the retention once an hour.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mcn/history/store.h"
#include "mcn/history/stream.h"

namespace mcn::history {

class HistoryWriter;

// One producer thread's ring. Obtained from HistoryWriter::addProducer() before start().
class HistoryProducer {
 public:
  ~HistoryProducer();
  // Never waits (blocking = false): false and history.dropped when the ring is full. A producer
  // made blocking (replay: a file, not a live wire) waits for room instead, so a replay fills
  // the store completely.
  bool push(CallEntry&& e);
  bool push(NotificationEvent&& e);

  struct Ring;

 private:
  friend class HistoryWriter;
  HistoryProducer(HistoryWriter& w, size_t capacity, bool blocking);
  HistoryWriter& writer_;
  std::unique_ptr<Ring> ring_;
  bool blocking_;
};

class HistoryWriter {
 public:
  using NowFn = std::function<int64_t()>;  // wall time, µs since the epoch (the seam for tests)
  // Who a called number belongs to, looked up on the writer thread (may be empty). Must be
  // safe to call from the writer thread while others replace the directory.
  using PersonFn = std::function<std::string(std::string_view number)>;

  // Opens the store now: on failure error() says why, the writer stays "failed" (every push is
  // dropped and counted, history.open_failed = 1) and mcn runs on without history.
  // `purge`: run the retention delete (at start and hourly); replay leaves it off.
  HistoryWriter(const HistoryConfig& cfg, bool purge, NowFn now = {}, PersonFn person = {});
  // Streams mode (stream.h): what the producers push is published to the shared history stream
  // instead of being written here (the writer thread pumps the publisher: a full buffer is
  // history.stream.dropped, Redis away = buffered and resent), and a follower thread applies the
  // stream, this node's entries included, to the store opened here (cfg.path; empty: publish
  // only, no store).
  HistoryWriter(const HistoryConfig& cfg, const HistoryStreamConfig& stream, bool purge,
                NowFn now = {}, PersonFn person = {});
  ~HistoryWriter();  // stop()
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  bool ok() const { return usable_; }
  bool streaming() const { return stream_ != nullptr; }
  const std::string& error() const { return error_; }

  // Before start(). Owned by the writer; valid until it is destroyed.
  HistoryProducer& addProducer(bool blocking = false);
  void start();
  // Waits until everything pushed before the call is written (tests, the end of a replay); in
  // streams mode, handed to the publisher.
  void flush();
  // Drains every ring, writes it and joins the thread. Streams mode: then resends what the
  // publisher holds for at most flush_timeout_ms, and stops the follower.
  void stop();

  // Stable names, fixed order: history.queued, history.written, history.dropped,
  // history.write_errors, history.purged, history.open_failed; in streams mode then
  // history.stream.published, history.stream.deduped, history.stream.buffered,
  // history.stream.dropped,
  // history.stream.resent, history.stream.buffer_depth (HistoryStreamPublisher),
  // history.stream.gaps, history.stream.bad_entries (HistoryFollower), history.stream.reconnects,
  // history.stream.redis_errors (both connections), history.stream.connected (the follower's).
  // history.written, write_errors and purged are then the follower's: what this replica holds.
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const;

 private:
  friend class HistoryProducer;
  void loop();
  size_t drainOnce();
  void maybePurge();
  void pumpStream();

  HistoryConfig cfg_;
  bool purge_;
  NowFn now_;
  PersonFn person_;
  std::unique_ptr<HistoryStore> store_;
  bool usable_ = false;
  std::string error_;
  // Streams mode.
  std::unique_ptr<HistoryStreamConfig> stream_;
  std::unique_ptr<HistoryStreamPublisher> publisher_;  // the writer thread's
  std::unique_ptr<HistoryFollower> follower_;
  int lock_fd_ = -1;                   // flock on <path>.lock while this replica is ours
  std::atomic<uint64_t> pub_[6] = {};  // the publisher's counters, copied by the writer thread
  std::atomic<uint64_t> pub_reconnects_{0}, pub_errors_{0};
  std::vector<std::unique_ptr<HistoryProducer>> producers_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> queued_{0}, written_{0}, dropped_{0}, write_errors_{0}, purged_{0};
  std::atomic<uint64_t> done_{0};  // entries taken off the rings and handled (written or not)
  int64_t last_purge_us_ = 0;
  std::string last_error_logged_;
};

}  // namespace mcn::history
