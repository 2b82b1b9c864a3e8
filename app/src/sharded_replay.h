#pragma once
// `mcn replay --threads N` (N > 1): the reading thread decodes frames (FrameStage) and routes each
// SIP payload with the live daemon's ShardRouter (live_shard.h) to one of N parse+track workers
// (SipStage, packet time); a merging thread puts the workers' records back into the order one
// SipStage fed every payload would have produced them, and hands them on. Records, their order
// and the counters are those of `--threads 1` (tests/app/sharded_replay_test.cc).
//
// Why the order can be rebuilt (a deterministic merge, not a sort of the output: the output of
// --threads 1 is in the order calls are decided, which no record field gives):
//  - every payload gets its index in the whole input (`seq`) and the latest packet time seen so
//    far in the whole input (`clock`). A worker fires its timers up to `clock` before each of its
//    payloads, as the single tracker would have by then (it saw every payload), and the reader
//    sends every worker a tick with the current clock every 2048 payloads (`tick`) and at the end,
//    so a worker without traffic still fires its timers;
//  - calls get serials ordered by the seq of the message that created them
//    (CallTracker::setSequence), so ties between timers and the end-of-input order (both by
//    serial) are those of one tracker;
//  - one tracker emits, at payload e, first the timers due by clock(e) in (due, serial) order,
//    then what the message decided (evictions, ...). So a record decided by a timer is keyed
//    (due, 0, serial, i), one decided by a message (clock(e), 1, e, i), one decided at the end of
//    input (+inf, 2, serial, i), i counting the records of one decision or message. Sorting by
//    that key gives the single-thread order: a timer record precedes message e's records exactly
//    when due <= clock(e);
//  - each worker's records between two ticks are sorted by that key and lie between the ticks'
//    bounds, so the merger sorts tick by tick: memory is bounded by the records of one tick's
//    payloads.
// Limits (same records as --threads 1 only if): the legs of a call reach one worker (the
// router's known limits, live_shard.h); calls.max_calls and the lingering bound are per worker
// (an eviction happens later than with one tracker); with capture timestamps going backwards, a
// payload that fails to parse still moves the other workers' clock.

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "pipeline.h"

namespace mcn::app {

class ShardedPipeline {
 public:
  ShardedPipeline(const capture::DecoderConfig& decoder, const sipparse::ParserConfig& parser,
                  const calls::TrackerConfig& tracker, uint32_t workers, uint32_t tick,
                  std::function<void(const calls::CallRecord&)> on_record);
  ~ShardedPipeline();
  ShardedPipeline(const ShardedPipeline&) = delete;
  ShardedPipeline& operator=(const ShardedPipeline&) = delete;

  void onFrame(const capture::Frame& f) {
    if (f.ts_us > last_ts_) last_ts_ = f.ts_us;
    frames_.onFrame(f);
  }
  // End of input: flush reassembly, decide every open call, wait for every record to be handed
  // on. Call once, before the counters are read.
  void finish();

  uint64_t frames() const { return frames_.frames(); }
  uint64_t sipMessages() const;
  uint64_t records() const { return records_; }
  uint64_t missed() const { return missed_; }
  // Decoder, then the workers' parser, tracker and tally counters added up.
  void forEachCounter(const CounterFn& fn) const;

  struct Worker;
  struct Merger;

 private:
  void onPayload(uint32_t shard, capture::SipPayload&& p);
  void flush(bool last);

  int64_t last_ts_ = 0;
  int64_t clock_ = INT64_MIN;  // latest payload time so far
  uint64_t seq_ = 0;
  uint32_t pending_ = 0;
  uint32_t tick_;  // payloads between ticks (0 given: kDefaultTick)
  uint64_t records_ = 0, missed_ = 0;
  bool finished_ = false;
  std::function<void(const calls::CallRecord&)> on_record_;
  std::unique_ptr<ShardRouter> router_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Merger> merger_;
  FrameStage frames_;
};

}  // namespace mcn::app
