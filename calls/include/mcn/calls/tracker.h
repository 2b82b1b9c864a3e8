#pragma once
// Follows every call by Call-ID (and correlation key across legs) and decides each called
// number's outcome per DESIGN.md. Time is injected: the tracker only knows the instants it is
// given (packet time in replay, a Clock in live mode), so timers are tested without sleeping.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "mcn/calls/call_record.h"
#include "mcn/sipparse/sip_event.h"

namespace mcn::calls {

struct TrackerConfig {
  int64_t grace_ms = 2000;          // wait after the caller-side INVITE transaction is final
  int64_t grace_after_3xx_ms = 8000;
  int64_t ring_timeout_ms = 180000; // no final response: no_answer
  int64_t idle_timeout_ms = 7200000; // forget a decided call's Call-ID after this (reuse = new call)
  int64_t min_ring_ms_cancelled = 0; // cancelled calls shorter than this are not missed
  std::array<bool, kOutcomeCount> missed{};  // which outcomes count as missed (index = Outcome)
  bool forwarded_unconditional_missed = false;
  size_t max_calls = 200000;        // open calls; beyond, the oldest is decided early (counted)

  TrackerConfig();                  // fills `missed` with DESIGN.md's defaults
};

class CallTracker {
 public:
  using Sink = std::function<void(CallRecord&&)>;

  CallTracker(TrackerConfig cfg, Sink sink);
  ~CallTracker();
  CallTracker(const CallTracker&) = delete;
  CallTracker& operator=(const CallTracker&) = delete;

  // Feed one message. Also advances time to ev.ts_us (firing due timers first).
  void onEvent(const sipparse::SipEvent& ev);

  // Fire every timer due at or before now_us (live mode calls this from its clock).
  void advanceTo(int64_t now_us);

  // End of input (replay): decide every open call; those with no final response are
  // `incomplete` unless their ring timeout already passed at now_us.
  void finish(int64_t now_us);

  size_t openCalls() const;

  // Stable counter names in a fixed order, zero values included ("calls.created",
  // "calls.retransmissions", "calls.duplicates", "calls.evicted", ...).
  void forEachCounter(const std::function<void(std::string_view name, uint64_t value)>& fn) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::calls
