#pragma once
// The production store: Redis through the one client (mcn/redis/client.h, hidden in src/).
//
// Keys (prefix "mcn:" by default):
//   <prefix>person:<id>          JSON of one Person (stored numbers, channels, preferences)
//   <prefix>number:<index key>   -> id; the index a number belongs to (numberIndexKey)
//   <prefix>subscribers:version  INCR on every change
//   channel <prefix>subscribers:changed   PUBLISHed the new version on every change
// Every change is one Lua script (atomic on the server): it refuses a number another person holds
// or an id that (does not) exist, then rewrites the person, their index entries, the version and
// publishes. The index therefore never points to a missing person and a number is never given to
// two people, whatever other writers do.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mcn/subscribers/directory.h"
#include "mcn/subscribers/error.h"
#include "mcn/subscribers/source.h"

namespace mcn::subscribers {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // the credential itself (resolved from a reference); never logged
  // Redis Sentinel (mcn/redis/client.h): when set, host and port come from these.
  std::vector<std::string> sentinels;
  std::string sentinel_master;
  std::string sentinel_password;
  std::string prefix = "mcn:";
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 5000;
};

// "redis://host[:port][/db]". A password inside the URL is refused (it would sit on a command line
// or in a config file); pass it through a reference instead. Throws SubscriberError.
RedisOptions parseRedisUrl(std::string_view url);

// Resolve "env:NAME" or "file:/path" (first line, trailing newline dropped). Throws
// SubscriberError naming the reference, never the value.
std::string resolveSecretRef(std::string_view ref);

// Administrative access (CLI, tests): blocking calls, one connection, not thread-safe. Never used
// on the data path. Every method throws SubscriberError: bad input and conflicts as one clear
// line; connection problems as "redis host:port: ..." (check isConnectionError()).
class RedisStore {
 public:
  explicit RedisStore(RedisOptions opts);  // connects (AUTH, SELECT)
  ~RedisStore();
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  std::vector<Person> list();  // every person, sorted by id (SCAN, not KEYS)
  std::optional<Person> get(std::string_view id);
  std::optional<std::string> ownerOf(std::string_view index_key);  // the index entry
  uint64_t version();

  // Each returns the new version. The person is validated first (validatePerson).
  uint64_t add(const Person& p);         // refused if the id exists or a number is someone else's
  uint64_t put(const Person& p);         // add or replace
  uint64_t remove(std::string_view id);  // refused if the id does not exist
  // Several puts and removals as one change (import): all applied or none.
  uint64_t apply(const std::vector<Person>& puts, const std::vector<std::string>& removals);

  // True if the last error was a connection problem (exit code 1 rather than 2 in the CLI).
  bool lastErrorWasConnection() const { return last_error_connection_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool last_error_connection_ = false;
};

struct RefreshOptions {
  int poll_interval_ms = 30000;  // version check when no pub/sub message came (safety net)
  int backoff_initial_ms = 200;  // reconnect delay after a failure, doubled up to the max
  int backoff_max_ms = 30000;
  // Where "lost"/"back" lines go (once per outage each); default spdlog warn/info.
  std::function<void(std::string_view line)> log;
};

// Keeps an in-memory snapshot of the Redis directory current. start() loads a first snapshot and
// starts one background thread that SUBSCRIBEs to the change channel, reloads on every message
// whose version differs from the snapshot's, checks the version every poll interval, and on any
// connection loss logs once, retries with exponential backoff and keeps serving the last good
// snapshot. current() only reads an atomic shared_ptr: it never waits on Redis.
//
// Counters: subscribers.version (of the current snapshot), subscribers.people,
// subscribers.reloads (snapshots swapped in, the first included), subscribers.redis_errors
// (failed connects, commands and unusable snapshots).
class RedisDirectorySource final : public DirectorySource {
 public:
  RedisDirectorySource(RedisOptions opts, RefreshOptions refresh = {});
  ~RedisDirectorySource() override;  // stops the thread
  RedisDirectorySource(const RedisDirectorySource&) = delete;
  RedisDirectorySource& operator=(const RedisDirectorySource&) = delete;

  // Tries to load the first snapshot (true on success), then starts the refresher. On false the
  // empty directory is served until Redis answers.
  bool start();
  void stop();

  std::shared_ptr<const Directory> current() const override { return current_.load(); }
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const override;

 private:
  struct Conn;
  void run();
  bool connect();
  void disconnect();
  bool reloadIfChanged(bool force);
  void noteError(std::string_view what);
  void waitMs(int ms);

  RedisOptions opts_;
  RefreshOptions refresh_;
  // Not std::atomic<std::shared_ptr>: libstdc++ 12's load() releases its internal lock bit with
  // relaxed order, a data race ThreadSanitizer reports (tools/test.sh tsan). A mutex held for a
  // pointer copy is as good here: current() still never waits on Redis.
  class Snapshot {
   public:
    explicit Snapshot(std::shared_ptr<const Directory> d) : d_(std::move(d)) {}
    std::shared_ptr<const Directory> load() const {
      std::lock_guard lock(mu_);
      return d_;
    }
    void store(std::shared_ptr<const Directory> d) {
      std::lock_guard lock(mu_);
      d_.swap(d);
    }

   private:
    mutable std::mutex mu_;
    std::shared_ptr<const Directory> d_;
  };
  Snapshot current_;
  std::unique_ptr<Conn> conn_;  // refresher thread only (and start() before it runs)
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int wake_fd_ = -1;  // eventfd: stop() interrupts a wait at once
  bool down_logged_ = false;
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> redis_errors_{0};
};

}  // namespace mcn::subscribers
