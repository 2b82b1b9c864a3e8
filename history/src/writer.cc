#include "mcn/history/writer.h"

#include <spdlog/spdlog.h>

#include <chrono>
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
}

HistoryWriter::~HistoryWriter() { stop(); }

HistoryProducer& HistoryWriter::addProducer(bool blocking) {
  producers_.push_back(std::unique_ptr<HistoryProducer>(
      new HistoryProducer(*this, static_cast<size_t>(std::max(1, cfg_.queue_size)), blocking)));
  return *producers_.back();
}

void HistoryWriter::start() {
  if (!store_ || thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void HistoryWriter::flush() {
  uint64_t target = queued_.load(std::memory_order_acquire);
  while (thread_.joinable() && done_.load(std::memory_order_acquire) < target) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void HistoryWriter::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
}

void HistoryWriter::loop() {
  maybePurge();
  while (!stop_.load(std::memory_order_relaxed)) {
    size_t n = drainOnce();
    maybePurge();
    // Idle: the store may be up to this much behind; nothing on the data path waits for it.
    if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  while (drainOnce() > 0) {
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
        calls.push_back(std::move(*c));
      } else {
        notes.push_back(std::move(std::get<NotificationEvent>(e)));
      }
    }
  }
  if (n == 0) return 0;
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
  fn("history.queued", queued_.load());
  fn("history.written", written_.load());
  fn("history.dropped", dropped_.load());
  fn("history.write_errors", write_errors_.load());
  fn("history.purged", purged_.load());
  fn("history.open_failed", store_ ? 0 : 1);
}

}  // namespace mcn::history
