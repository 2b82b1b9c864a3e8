#pragma once
// An in-order send buffer in front of one RedisClient, for what mcn hands to Redis without
// waiting on it: the probe's missed calls (notifier/stream_bus.h) and the shared history's
// entries (history/stream.h). push() never waits; pump() sends the head in pipelined batches and
// an item leaves the buffer only once Redis answered for it, so a dropped connection resends the
// rest, in order, after the client's reconnect backoff.
//
// Counts what every such publisher reports: items refused at the bound (dropped), items that
// came while Redis was down (buffered) and of those, how many were sent later (resent). What an
// answer means (published, deduplicated) is the owner's, told through pump()'s callback.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <thread>
#include <utility>

#include "mcn/redis/client.h"

namespace mcn::redis {

template <class Payload>
class SendBuffer {
 public:
  SendBuffer(size_t max_items, int batch)
      : max_(max_items), batch_(static_cast<size_t>(std::max(batch, 1))) {}

  // false: max_items are waiting already; the payload is dropped (counted).
  // `link_down`: Redis was unreachable when it came (RedisClient::down()).
  bool push(Payload p, bool link_down) {
    if (items_.size() >= max_) {
      ++dropped_;
      return false;
    }
    if (link_down) ++buffered_;
    items_.push_back(Item{std::move(p), link_down});
    return true;
  }

  // Up to 8 batches: `append(link, payload)` queues one command per item on the link, then each
  // reply in order goes to `answered(payload, reply)` (never an error reply: that fails the link
  // and stops the turn). Returns how many items Redis answered for.
  template <class Append, class Answered>
  size_t pump(RedisClient& link, Append&& append, Answered&& answered) {
    size_t done = 0;
    for (int round = 0; round < 8 && !items_.empty(); ++round) {
      if (!link.ensure()) break;
      const size_t n = std::min(items_.size(), batch_);
      for (size_t i = 0; i < n; ++i) append(link, items_[i].payload);
      size_t got = 0;
      for (; got < n; ++got) {
        RedisReply r = link.read();
        if (!r.received()) break;
        if (r.isError()) {
          link.fail();
          break;
        }
        answered(items_[got].payload, r);
        if (items_[got].waited) ++resent_;
      }
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(got));
      done += got;
      if (got < n) break;
    }
    return done;
  }

  // Calls `pump_once()` until the buffer is empty (true) or `now_us()` passes deadline_us.
  template <class PumpOnce, class NowUs>
  bool flush(int64_t deadline_us, PumpOnce&& pump_once, NowUs&& now_us) {
    while (!items_.empty()) {
      pump_once();
      if (items_.empty()) break;
      if (now_us() >= deadline_us) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  uint64_t dropped() const { return dropped_; }
  uint64_t buffered() const { return buffered_; }
  uint64_t resent() const { return resent_; }

 private:
  struct Item {
    Payload payload;
    bool waited = false;  // came while Redis was down
  };
  const size_t max_;
  const size_t batch_;
  std::deque<Item> items_;
  uint64_t dropped_ = 0, buffered_ = 0, resent_ = 0;
};

}  // namespace mcn::redis
