#pragma once
// The SIP messages of the most recent calls, kept by each `mcn run` worker for
// GET /api/calls/<call_id>/ladder (issue 18: "the ladder when the messages are still held").
//
// Per worker, bounded by messages and bytes (the [run] ladder_messages and ladder_bytes split
// over the workers): a message that would go beyond evicts the OLDEST Call-ID whole (a ladder is
// all of a leg or none of it: ladder.evicted_calls, ladder.evicted_messages). One leg keeps at
// most kMaxPerCall messages (a long dialog's re-INVITEs and INFOs), later ones are counted
// (ladder.refused_messages), as is a message bigger than the whole byte bound.
// When a call is decided its legs' Call-IDs are linked, so a ladder asked for by any leg shows
// them all. A leg whose first messages were evicted and that saw more messages later is kept from
// those on (its ladder says the INVITE was not seen).
//
// Thread-safe: the worker adds under a mutex no one holds for long (an HTTP request copies one
// call's messages); the data path never waits on a reader for more than that copy.

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mcn/capture/sip_payload.h"

namespace mcn::app {

class RecentMessages {
 public:
  static constexpr size_t kMaxPerCall = 2000;  // explain's own bound on one ladder
  static constexpr size_t kTypicalLeg = 8;  // INVITE..ACK, BYE, 200: one allocation for most legs

  RecentMessages(size_t max_messages, size_t max_bytes);

  // A parsed message of `call_id` (its capture timestamp, not the live clock's).
  void add(std::string_view call_id, capture::SipPayload&& p);
  // A decided call's legs (CallRecord::call_ids).
  void link(const std::vector<std::string>& call_ids);
  // Appends the messages of `call_id` to `out` and its linked legs to `legs` (`call_id` first).
  // False if nothing of it is held.
  bool collect(const std::string& call_id, std::vector<capture::SipPayload>& out,
               std::vector<std::string>& legs) const;

  // ladder.messages, ladder.bytes (levels), ladder.evicted_calls, ladder.evicted_messages,
  // ladder.refused_messages.
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const;

 private:
  struct Leg {
    std::vector<capture::SipPayload> messages;
    std::vector<std::string> linked;  // the call's other legs
    size_t bytes = 0;
    uint64_t generation = 0;  // of its entry in order_
  };
  void evictOldest();  // under mu_

  const size_t max_messages_, max_bytes_;
  mutable std::mutex mu_;
  // Looked up by the parsed event's string_view without building a std::string per message.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Leg, Hash, std::equal_to<>> legs_;
  std::deque<std::pair<std::string, uint64_t>> order_;  // first message order; stale ones skipped
  uint64_t next_generation_ = 1;
  size_t messages_ = 0, bytes_ = 0;
  uint64_t evicted_calls_ = 0, evicted_messages_ = 0, refused_ = 0;
};

}  // namespace mcn::app
