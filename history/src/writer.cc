#include "mcn/history/writer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <variant>

#include "mcn/common/spsc_queue.h"

namespace mcn::history {
namespace {

constexpr size_t kBatch = 4096;                        // entries per transaction at most
constexpr int64_t kPurgeEveryUs = 3600LL * 1'000'000;  // the retention delete, hourly
constexpr int64_t kDayUs = 86400LL * 1'000'000;

int64_t systemNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

using Entry = std::variant<CallEntry, NotificationEvent>;

struct HistoryProducer::Ring {
  explicit Ring(size_t capacity) : q(capacity) {}
  moodycamel::ReaderWriterQueue<Entry> q;
};

HistoryProducer::HistoryProducer(HistoryWriter& w, size_t capacity, bool blocking)
    : writer_(w), ring_(std::make_unique<Ring>(capacity)), blocking_(blocking) {}
HistoryProducer::~HistoryProducer() = default;

namespace {

template <typename T>
bool pushEntry(moodycamel::ReaderWriterQueue<Entry>& q, T&& e, bool blocking, bool writer_ok,
               const std::atomic<bool>& stopping, std::atomic<uint64_t>& queued,
               std::atomic<uint64_t>& dropped) {
  if (!writer_ok) {
    dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Entry entry(std::forward<T>(e));
  // try_emplace never allocates: the ring's capacity was reserved when it was made.
  while (!q.try_enqueue(std::move(entry))) {
    if (!blocking || stopping.load(std::memory_order_relaxed)) {
      dropped.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  queued.fetch_add(1, std::memory_order_release);
  return true;
}

}  // namespace

bool HistoryProducer::push(CallEntry&& e) {
  return pushEntry(ring_->q, std::move(e), blocking_, writer_.ok(), writer_.stop_, writer_.queued_,
                   writer_.dropped_);
}

bool HistoryProducer::push(NotificationEvent&& e) {
  return pushEntry(ring_->q, std::move(e), blocking_, writer_.ok(), writer_.stop_, writer_.queued_,
                   writer_.dropped_);
}

HistoryWriter::HistoryWriter(const HistoryConfig& cfg, bool purge, NowFn now, PersonFn person)
    : cfg_(cfg),
      purge_(purge),
      now_(now ? std::move(now) : NowFn(systemNowUs)),
      person_(std::move(person)) {
  // The caller says it (mcn run logs it, mcn replay stops with it).
  store_ = HistoryStore::open(cfg.path, /*read_only=*/false, error_);
  usable_ = store_ != nullptr;
}

HistoryWriter::HistoryWriter(const HistoryConfig& cfg, const HistoryStreamConfig& stream,
                             bool purge, NowFn now, PersonFn person)
    : cfg_(cfg),
      purge_(purge),
      now_(now ? std::move(now) : NowFn(systemNowUs)),
      person_(std::move(person)),
      stream_(std::make_unique<HistoryStreamConfig>(stream)) {
  // An empty path: publish only (`mcn replay --role probe`: a replay keeps no replica).
  if (!cfg.path.empty()) {
    // A replica is one process's: two followers on one file would both apply every entry.
    const std::string lock_path = cfg.path + ".lock";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      error_ = fmt::format(
          "history.path {}: {}", cfg.path,
          e == EWOULDBLOCK ? "in use by another mcn process (" + lock_path +
                                 " is locked): with [streams] each node needs a replica of its own"
                           : "cannot lock " + lock_path + ": " + std::strerror(e));
      return;
    }
    store_ = HistoryStore::open(cfg.path, /*read_only=*/false, error_);
    if (!store_) return;
    follower_ = std::make_unique<HistoryFollower>(stream, std::move(store_), cfg.retention_days,
                                                  purge, now_);
  }
  publisher_ = std::make_unique<HistoryStreamPublisher>(stream, now_);
  usable_ = true;
}

HistoryWriter::~HistoryWriter() {
  stop();
  follower_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

HistoryProducer& HistoryWriter::addProducer(bool blocking) {
  producers_.push_back(std::unique_ptr<HistoryProducer>(
      new HistoryProducer(*this, static_cast<size_t>(std::max(1, cfg_.queue_size)), blocking)));
  return *producers_.back();
}

void HistoryWriter::start() {
  if (!usable_ || thread_.joinable()) return;
  stop_ = false;
  if (follower_) follower_->start();
  thread_ = std::thread([this] { loop(); });
}

void HistoryWriter::flush() {
  uint64_t target = queued_.load(std::memory_order_acquire);
  while (thread_.joinable() && done_.load(std::memory_order_acquire) < target) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void HistoryWriter::stop() {
  if (thread_.joinable()) {
    stop_ = true;
    thread_.join();
  }
  if (follower_) follower_->stop();
}

void HistoryWriter::pumpStream() {
  publisher_->pump();
  size_t i = 0;
  publisher_->forEachCounter([&](std::string_view, uint64_t v) {
    if (i < std::size(pub_)) pub_[i++].store(v);
  });
  pub_reconnects_ = publisher_->reconnects();
  pub_errors_ = publisher_->redisErrors();
}

void HistoryWriter::loop() {
  if (!publisher_) maybePurge();  // streams mode: the follower's
  while (!stop_.load(std::memory_order_relaxed)) {
    size_t n = drainOnce();
    if (publisher_) {
      pumpStream();
    } else {
      maybePurge();
    }
    // Idle: the store may be up to this much behind; nothing on the data path waits for it.
    if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  while (drainOnce() > 0) {
  }
  if (publisher_) {
    if (!publisher_->flush(now_() + stream_->flush_timeout_ms * 1000)) {
      spdlog::warn("call history: {} entries not published to {}: Redis unreachable",
                   publisher_->buffered(), stream_->key);
    }
    pumpStream();
  }
}

size_t HistoryWriter::drainOnce() {
  std::vector<CallEntry> calls;
  std::vector<NotificationEvent> notes;
  size_t n = 0;
  Entry e;
  // Producers in registration order: the workers' records before the notifier's events about
  // them (a record is queued before its missed call reaches the notifier).
  for (auto& p : producers_) {
    while (n < kBatch && p->ring_->q.try_dequeue(e)) {
      ++n;
      if (auto* c = std::get_if<CallEntry>(&e)) {
        if (c->person_id.empty() && person_) c->person_id = person_(c->record.callee);
        // Streams mode: to the shared stream, in this order; the follower writes them back
        // here with every other node's.
        if (publisher_) {
          publisher_->publish(e);
        } else {
          calls.push_back(std::move(*c));
        }
      } else if (publisher_) {
        publisher_->publish(e);
      } else {
        notes.push_back(std::move(std::get<NotificationEvent>(e)));
      }
    }
  }
  if (n == 0) return 0;
  if (publisher_) {
    done_.fetch_add(n, std::memory_order_release);
    return n;
  }
  std::string err;
  if (store_->write(calls, notes, err)) {
    written_.fetch_add(n, std::memory_order_relaxed);
  } else {
    write_errors_.fetch_add(n, std::memory_order_relaxed);
    if (err != last_error_logged_) {
      spdlog::error("call history: {} entries not written: {}", n, err);
      last_error_logged_ = err;
    }
  }
  done_.fetch_add(n, std::memory_order_release);
  return n;
}

void HistoryWriter::maybePurge() {
  if (!purge_) return;
  int64_t now = now_();
  if (last_purge_us_ != 0 && now - last_purge_us_ < kPurgeEveryUs) return;
  last_purge_us_ = now;
  std::string err;
  int64_t n = store_->purgeBefore(now - static_cast<int64_t>(cfg_.retention_days) * kDayUs, err);
  if (n < 0) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("call history: retention delete failed: {}", err);
    return;
  }
  purged_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  if (n > 0)
    spdlog::info("call history: {} rows older than {} days deleted", n, cfg_.retention_days);
}

void HistoryWriter::forEachCounter(
    const std::function<void(std::string_view, uint64_t)>& fn) const {
  const HistoryFollower* f = follower_.get();
  fn("history.queued", queued_.load());
  fn("history.written", f != nullptr ? f->applied() : written_.load());
  fn("history.dropped", dropped_.load());
  fn("history.write_errors", f != nullptr ? f->writeErrors() : write_errors_.load());
  fn("history.purged", f != nullptr ? f->purged() : purged_.load());
  fn("history.open_failed", usable_ ? 0 : 1);
  if (!stream_) return;
  static constexpr const char* kPublisher[] = {
      "history.stream.published", "history.stream.deduped", "history.stream.buffered",
      "history.stream.dropped",   "history.stream.resent",  "history.stream.buffer_depth"};
  static_assert(std::size(kPublisher) == sizeof(pub_) / sizeof(pub_[0]));
  for (size_t i = 0; i < std::size(kPublisher); ++i) fn(kPublisher[i], pub_[i].load());
  fn("history.stream.gaps", f != nullptr ? f->gaps() : 0);
  fn("history.stream.bad_entries", f != nullptr ? f->badEntries() : 0);
  fn("history.stream.reconnects", pub_reconnects_.load() + (f != nullptr ? f->reconnects() : 0));
  fn("history.stream.redis_errors", pub_errors_.load() + (f != nullptr ? f->redisErrors() : 0));
  fn("history.stream.connected", f != nullptr && f->connected() ? 1 : 0);
}

}  // namespace mcn::history
