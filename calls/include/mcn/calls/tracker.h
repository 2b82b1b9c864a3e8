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
#include "mcn/calls/explain.h"
#include "mcn/sipparse/sip_event.h"

namespace mcn::calls {

// A ring or hunt group (`calls.groups`): a number that rings its members (in parallel or one
// after the other). Members are reached as branches or legs of the call to the group number.
struct GroupConfig {
  // Who is told when nobody of the group answered a call to the group number:
  // kMembers: every member reached (their own records), not the group number's record;
  // kOwner: only the group number's record (the person who has the group number among their
  // numbers in the subscribers directory), no member; kAll: both.
  enum class Notify : uint8_t { kMembers, kOwner, kAll };

  std::string number;                // normalised by the dial plan
  std::vector<std::string> members;  // normalised by the dial plan
  Notify notify = Notify::kMembers;

  bool operator==(const GroupConfig&) const = default;
};

struct TrackerConfig {
  int64_t grace_ms = 2000;  // wait after the caller-side INVITE transaction is final
  int64_t grace_after_3xx_ms = 8000;
  // A 401/407 the caller got keeps the call open this long for the INVITE retried with
  // credentials (RFC 3261 §22.2; a person typing a password, a phone fetching credentials); 64*T1.
  int64_t auth_retry_ms = 32000;
  int64_t ring_timeout_ms = 180000;  // no final response: no_answer
  int64_t linger_ms = 32000;  // a decided call's Call-IDs absorb late messages this long (64*T1);
                              // after it, an initial INVITE with the same Call-ID is a new call
  int64_t min_ring_ms_cancelled = 0;         // cancelled calls shorter than this are not missed
  std::array<bool, kOutcomeCount> missed{};  // which outcomes count as missed (index = Outcome)
  bool forwarded_unconditional_missed = false;
  size_t max_calls = 200000;  // open calls; beyond, the oldest is decided early (counted);
                              // also the bound of lingering decided calls
  // Voicemail identities (`calls.voicemail`): "user@host" (lower-case, from a sip URI) or a number
  // normalised by the dial plan. A hop whose Request-URI is one of them is the voicemail's, and
  // the number the call was for is `forwarded` (reason `voicemail`) whatever headers it carries.
  std::vector<std::string> voicemail;
  // Ring/hunt groups (`calls.groups`): a called group number gets a record (answered_elsewhere
  // naming the member who answered, else what the caller saw), and `notify` picks whose
  // unanswered records are missed.
  std::vector<GroupConfig> groups;
  int64_t duplicate_window_ms = 100;  // a repeat closer than this to the first copy is a duplicated
                                      // frame (calls.duplicates), else a retransmission
  // Legs joined without a shared key (calls/RULES.md "Legs joined without a key"): a Call-ID
  // whose initial INVITE has the caller and called number of an open call's leg, within
  // leg_join_window_ms of that leg's INVITE and before the call got any 18x or final response
  // (topology hiding, an SBC or a B2BUA masking the Call-ID, no P-Charging-Vector); or, carrying
  // Diversion/History-Info naming that number, within the window of its final response while the
  // caller's side is not final (a B2BUA's recursion or forward). calls.legs_joined_heuristic.
  bool leg_join = true;
  int64_t leg_join_window_ms = 2000;

  TrackerConfig();  // fills `missed` with DESIGN.md's defaults

  bool operator==(const TrackerConfig&) const = default;
};

// "user@host" of a sip/sips URI, lower-cased (hosts compare without case, RFC 3261 §19.1.4; the
// user is compared the same way, as voicemail identities are written by hand); empty for any
// other URI. The form of a `calls.voicemail` URI entry.
std::string sipUserHost(std::string_view uri);

class CallTracker {
 public:
  using Sink = std::function<void(CallRecord&&)>;

  CallTracker(TrackerConfig cfg, Sink sink);
  ~CallTracker();
  CallTracker(const CallTracker&) = delete;
  CallTracker& operator=(const CallTracker&) = delete;

  // Traces of decided calls for `mcn explain` (explain.h); without hooks (the default) the
  // tracker does no trace work.
  void setTraceHooks(TraceHooks hooks);

  // Feed one message. Also advances time to ev.ts_us (firing due timers first).
  void onEvent(const sipparse::SipEvent& ev);

  // Fire every timer due at or before now_us (live mode calls this from its clock).
  void advanceTo(int64_t now_us);

  // End of input (replay): decide every open call; those with no final response are
  // `incomplete` unless their ring timeout already passed at now_us.
  void finish(int64_t now_us);

  // Calls not decided yet (including those still waiting for their initial INVITE).
  size_t openCalls() const;

  // Sharded replay (app/src/sharded_replay.h): the global index of the message about to be fed.
  // Calls created from then on get serials ordered by it (then by creation within the message),
  // so the serials of calls spread over several trackers order them as one tracker fed every
  // message would: timer ties and the end-of-input order (both by serial) agree across workers.
  // Never called: serials count calls in creation order (the default).
  void setSequence(uint64_t seq);

  // The decision being delivered, valid inside the sink: its instant (a timer's due time, or now
  // for eviction and end of input), the call's serial and what decided it.
  struct Decision {
    int64_t at_us = 0;
    uint64_t serial = 0;
    DecidedBy by = DecidedBy::kTimer;
  };
  const Decision& decision() const;

  // Stable counter names in a fixed order, zero values included: calls.created, calls.decided,
  // calls.records, calls.missed, calls.retransmissions, calls.duplicates, calls.orphan_messages,
  // calls.late_messages, calls.ignored_messages, calls.evicted, calls.reused_call_id,
  // calls.legs_correlated, calls.ring_timeouts, calls.hops_dropped, calls.linger_dropped,
  // calls.late_auth_retries, calls.pickups, calls.pickups_unmatched,
  // calls.legs_joined_heuristic, then
  // calls.outcome.<name> for every Outcome in enum order (see calls/RULES.md "Counters").
  void forEachCounter(const std::function<void(std::string_view name, uint64_t value)>& fn) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::calls
