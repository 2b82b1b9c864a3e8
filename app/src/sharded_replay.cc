#include "sharded_replay.h"

#include <sched.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "mcn/app/replay.h"

namespace mcn::app {
namespace {

// Payloads between two ticks (see the header). Large enough that the hand-offs cost little
// (one lock per batch), small enough that a tick's records stay few.
constexpr uint32_t kDefaultTick = 2048;
constexpr size_t kQueueDepth = 8;  // batches (or record chunks) in flight per worker

// A bounded queue of batches. Replay may wait (nothing is lost by a slow worker), and the
// hand-off is per batch of thousands of payloads, so a lock costs nothing measurable here;
// the live daemon's per-payload hand-off uses its lock-free rings.
template <typename T>
class BatchQueue {
 public:
  void push(T&& v) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < kQueueDepth; });
    q_.push_back(std::move(v));
    not_empty_.notify_one();
  }
  T pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty(); });
    T v = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return v;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> q_;
};

struct Item {
  capture::SipPayload payload;
  uint64_t seq;
  int64_t clock;
};

struct Batch {
  std::vector<Item> items;
  int64_t clock = INT64_MIN;  // the tick: fire timers up to it after the items
  bool last = false;
  int64_t end_us = 0;  // last: decide every open call at this instant
};

// (time, class, a, b): see the header.
struct Key {
  int64_t t;
  uint8_t cls;
  uint64_t a;
  uint64_t b;
  bool operator<(const Key& o) const {
    return std::tie(t, cls, a, b) < std::tie(o.t, o.cls, o.a, o.b);
  }
};

struct Keyed {
  Key key;
  calls::CallRecord rec;
};

struct Chunk {
  std::vector<Keyed> recs;
  bool last = false;
};

}  // namespace

struct ShardedPipeline::Worker {
  Worker(const sipparse::ParserConfig& parser, const calls::TrackerConfig& tracker)
      : stage(parser, tracker, nullptr, [this](calls::CallRecord&& r) { onRecord(std::move(r)); }) {
  }

  void onRecord(calls::CallRecord&& r) {
    const calls::CallTracker::Decision& d = stage.decision();
    Key k{};
    switch (d.by) {
      case calls::DecidedBy::kTimer:
        k = Key{d.at_us, 0, d.serial, 0};
        break;
      case calls::DecidedBy::kEndOfInput:
        k = Key{std::numeric_limits<int64_t>::max(), 2, d.serial, 0};
        break;
      case calls::DecidedBy::kEvicted:
        k = Key{cur_clock, 1, cur_seq, 0};
        break;
    }
    // The i-th record of one decision (one per called number), or of one message.
    std::vector<Keyed>& recs = chunk.recs;
    if (!recs.empty() && recs.back().key.t == k.t && recs.back().key.cls == k.cls &&
        recs.back().key.a == k.a) {
      k.b = recs.back().key.b + 1;
    }
    recs.push_back(Keyed{k, std::move(r)});
  }

  void run() {
    for (;;) {
      Batch b = in.pop();
      for (Item& it : b.items) {
        cur_seq = it.seq;
        cur_clock = it.clock;
        stage.advanceTo(it.clock);  // timer records first (class 0), as one tracker would
        stage.setSequence(it.seq);
        stage.onPayload(it.payload);
      }
      stage.advanceTo(b.clock);
      if (b.last) {
        cur_seq = std::numeric_limits<uint64_t>::max();
        stage.finish(b.end_us);
      }
      chunk.last = b.last;
      out.push(std::move(chunk));
      chunk = Chunk();
      if (b.last) return;
    }
  }

  SipStage stage;
  uint64_t cur_seq = 0;
  int64_t cur_clock = 0;
  Chunk chunk;
  Batch batch;  // the reader's, filling
  BatchQueue<Batch> in;
  BatchQueue<Chunk> out;
  std::thread thread;
};

struct ShardedPipeline::Merger {
  std::thread thread;
};

ShardedPipeline::ShardedPipeline(const capture::DecoderConfig& decoder,
                                 const sipparse::ParserConfig& parser,
                                 const calls::TrackerConfig& tracker, uint32_t workers,
                                 uint32_t tick,
                                 std::function<void(const calls::CallRecord&)> on_record)
    : tick_(tick == 0 ? kDefaultTick : tick),
      on_record_(std::move(on_record)),
      router_(std::make_unique<ShardRouter>(std::max<uint32_t>(workers, 2),
                                            parser.correlation_header, tracker.leg_join)),
      merger_(std::make_unique<Merger>()),
      frames_(decoder, router_.get(),
              [this](uint32_t shard, capture::SipPayload&& p) { onPayload(shard, std::move(p)); }) {
  const uint32_t n = router_->workers();
  for (uint32_t i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(parser, tracker));
  for (auto& w : workers_) w->thread = std::thread([w = w.get()] { w->run(); });
  // Tick by tick: every worker's chunk of the tick, sorted by key, in that order.
  merger_->thread = std::thread([this] {
    std::vector<Keyed> all;
    for (bool last = false; !last;) {
      all.clear();
      for (auto& w : workers_) {
        Chunk c = w->out.pop();
        last = c.last;  // every worker ends at the same tick
        for (Keyed& k : c.recs) all.push_back(std::move(k));
      }
      std::sort(all.begin(), all.end(),
                [](const Keyed& a, const Keyed& b) { return a.key < b.key; });
      for (const Keyed& k : all) {
        ++records_;
        if (k.rec.missed) ++missed_;
        if (on_record_) on_record_(k.rec);
      }
    }
  });
}

ShardedPipeline::~ShardedPipeline() {
  // Destroyed without finish() (an exception on the reading side): stop the threads first.
  if (!finished_) finish();
}

void ShardedPipeline::onPayload(uint32_t shard, capture::SipPayload&& p) {
  if (p.ts_us > clock_) clock_ = p.ts_us;
  workers_[shard]->batch.items.push_back(Item{std::move(p), ++seq_, clock_});
  if (++pending_ >= tick_) flush(false);
}

void ShardedPipeline::flush(bool last) {
  pending_ = 0;
  for (auto& w : workers_) {
    Batch b = std::move(w->batch);
    w->batch = Batch();
    w->batch.items.reserve(tick_ / workers_.size() + 16);
    b.clock = clock_;
    b.last = last;
    b.end_us = last_ts_;
    w->in.push(std::move(b));
  }
}

void ShardedPipeline::finish() {
  if (finished_) return;
  finished_ = true;
  frames_.finish();  // TCP/SCTP reassembly's last messages
  flush(true);
  for (auto& w : workers_) w->thread.join();
  merger_->thread.join();
}

uint64_t ShardedPipeline::sipMessages() const {
  uint64_t n = 0;
  for (const auto& w : workers_) n += w->stage.messages();
  return n;
}

void ShardedPipeline::forEachCounter(const CounterFn& fn) const {
  frames_.forEachCounter(fn);
  // Names in the first worker's order (every worker's parser and tracker give the same list;
  // the tally gives only non-zero ones, so those of other workers come after).
  std::vector<std::string> order;
  std::map<std::string, uint64_t, std::less<>> sum;
  for (const auto& w : workers_) {
    w->stage.forEachCounter([&](std::string_view k, uint64_t v) {
      auto [it, fresh] = sum.try_emplace(std::string(k), 0);
      if (fresh) order.emplace_back(k);
      it->second += v;
    });
  }
  for (const auto& k : order) fn(k, sum[k]);
}

uint32_t defaultReplayThreads(int64_t bytes) {
  cpu_set_t set;
  CPU_ZERO(&set);
  int cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
  cores = std::clamp(cores, 1, 8);
  if (bytes >= 0) {
    constexpr int64_t kPerThread = int64_t{16} << 20;
    cores = static_cast<int>(std::min<int64_t>(cores, 1 + bytes / kPerThread));
  }
  return static_cast<uint32_t>(cores);
}

}  // namespace mcn::app
