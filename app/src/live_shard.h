#pragma once
// Sharding SIP messages across parse+track workers so every message of a call reaches the same
// worker's CallTracker: every message of a leg (one Call-ID, with its retransmissions), and every
// leg of a call joined by a correlation key (P-Charging-Vector icid-value, or the configured
// correlation header such as X-CID; RULES.md "legs"). Legs of one call carry different Call-IDs
// (a B2BUA forwarding to voicemail, the MGCF's leg to the PSTN) and, on a SPAN port copying the
// P-CSCF and the MGCF, often arrive on different capture interfaces, hence different capture
// threads: the router is shared by all of them.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mcn::app {

// The Call-ID header value (RFC 3261 §20.8; compact form "i", §7.3.3), surrounding whitespace
// removed; empty if absent. A cheap scan of the header section, not a parse.
std::string_view findCallId(std::string_view msg);

// Worker index in [0, workers) by Call-ID alone; messages without a Call-ID go to worker 0.
uint32_t shardOf(std::string_view msg, uint32_t workers);

// What the router reads of a message's header section in one scan.
struct ShardKeys {
  std::string_view call_id;
  std::string_view icid;         // P-Charging-Vector icid-value (RFC 7315 §5.6), unquoted
  std::string_view correlation;  // the configured correlation header's value, unquoted
  std::string_view replaces;     // Replaces (RFC 3891): the Call-ID of the dialog taken over
  std::string_view from_user;    // user part of the From URI (sip, sips or tel)
  // A request's P-Asserted-Identity user holding a digit (a tel URI preferred, RFC 3325 §9.1):
  // the caller as the tracker's leg join sees it, before From.
  std::string_view asserted_user;
};
ShardKeys findShardKeys(std::string_view msg, std::string_view correlation_header);

// Routes messages to workers, keeping the legs of a call together:
//  - a message with a correlation key goes to the key's worker (icid first, then the configured
//    header), and its Call-ID is remembered there;
//  - a message without one follows its Call-ID's remembered worker, else the Call-ID's hash
//    (and is remembered, so a leg that never carries a key stays whole);
//  - an INVITE with Replaces (a colleague picking up a ringing call) goes to the worker of the
//    Call-ID it replaces, and its own Call-ID stays pinned there whatever key its later
//    messages carry: the tracker of the ringing call must see whether the pickup was answered.
// The memory is a fixed table of 2^table_bits slots (8 bytes each, 8 MiB by default), written
// lock-free by any number of capture threads; a slot holds a 56-bit tag of the Call-ID's hash and
// the worker. A Call-ID takes the first free slot of the kProbe from its hash's (linear probing;
// slots are never freed), so two Call-IDs share a slot only once those kProbe are all taken (the
// table is nearly full: about a million Call-IDs since start) or when two capture threads write
// one free slot at once. A slot overwritten by another Call-ID only costs that call its key-less
// messages' affinity: they fall back to the Call-ID hash (or, with by_caller, the From user).
// `mcn replay --threads N` relies on no overwrite for its records to be those of one thread.
// Known limit: a key-less message of a leg seen before the leg's first keyed message (capture
// reordering) may go to another worker than the rest of its call.
//
// With `by_caller` (calls.leg_join: the tracker joins legs that share no key, by caller and
// callee; calls/RULES.md "Legs joined without a key") a Call-ID's first message picks the worker
// of its caller instead: the last 4 digits of the From user (the whole user if it has no digit),
// so 1001 and +862583001001 meet (a request's P-Asserted-Identity first, as the tracker's leg join
// reads the caller: an anonymous From on one leg and a number on another still meet); every later
// message of the Call-ID follows it, whatever key it carries. All legs of a call from one caller
// then meet, keyed or not (a leg with an icid and the leg an SBC stripped it from), at the price of
// keeping each caller on one worker. Known limits: legs whose callers so read differ in their last
// 4 digits (a B2BUA that rewrites From and sends no P-Asserted-Identity), or whose first message
// seen is a response (capture reordering: a response has no caller's PAI), are not joined in live
// mode with several workers.
class ShardRouter {
 public:
  ShardRouter(uint32_t workers, std::string correlation_header, bool by_caller = false,
              unsigned table_bits = 20);

  uint32_t route(std::string_view msg);
  uint32_t workers() const { return workers_; }

 private:
  static constexpr uint64_t kProbe = 8;
  // The slot for hash h, its entry in `entry` (0: a free slot, or the home slot to overwrite).
  std::atomic<uint64_t>& slotOf(uint64_t h, uint64_t& entry) const;

  uint32_t workers_;
  std::string correlation_header_;
  bool by_caller_ = false;
  uint64_t mask_ = 0;
  std::unique_ptr<std::atomic<uint64_t>[]> table_;
};

}  // namespace mcn::app
