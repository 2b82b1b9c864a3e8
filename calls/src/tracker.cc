#include "mcn/calls/tracker.h"

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "call_state.h"
#include "hash_index.h"
#include "mcn/calls/explain.h"
#include "outcome_rules.h"

namespace mcn::calls {

using detail::Call;
using detail::CorrelationKey;
using detail::HashIndex;
using detail::Hop;
using detail::kBeginning;
using detail::kNever;
using detail::kNil;
using detail::Leg;
using sipparse::Method;
using sipparse::SipEvent;

uint64_t hopBranchKey(std::string_view via_branch, int via_count) {
  // RFC 3261 §17.2.3: the top Via branch names the hop's transaction. Without one (RFC 2543
  // peers) the Via count at least keeps the hops of a leg apart.
  if (via_branch.empty()) return 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(via_count + 1);
  return detail::hash64(via_branch);
}

const char* decidedByName(DecidedBy d) {
  switch (d) {
    case DecidedBy::kTimer:
      return "timer";
    case DecidedBy::kEvicted:
      return "evicted";
    case DecidedBy::kEndOfInput:
      return "end_of_input";
  }
  return "timer";
}

namespace {

// Per-call bounds: a Call-ID forked to more branches than this is hostile or broken; the excess
// is counted (calls.hops_dropped) rather than grown without limit.
constexpr size_t kMaxHopsPerCall = 64;
constexpr size_t kMaxLegsPerCall = 16;
constexpr size_t kMaxKeysPerCall = 4;
constexpr size_t kMaxPickupsPerCall = 4;  // INVITEs with Replaces naming one call
constexpr size_t kMaxSeenPerCall = 32;    // message fingerprints kept for repeat detection
constexpr size_t kSpareCalls = 256;       // freed calls kept for reuse (recycleCall)
constexpr size_t kSpareHopsMax = 8;       // hop buffers up to this capacity are kept (spare_hops)
constexpr size_t kFirstSeen = 16;         // `seen` entries reserved at a call's first message

enum Counter : size_t {
  kCreated,
  kDecided,
  kRecords,
  kMissed,
  kRetransmissions,
  kDuplicates,
  kOrphanMessages,
  kLateMessages,
  kIgnoredMessages,
  kEvicted,
  kReusedCallId,
  kLegsCorrelated,
  kRingTimeouts,
  kHopsDropped,
  kLingerDropped,
  kLateAuthRetries,
  kPickups,
  kPickupsUnmatched,
  kLegsJoinedHeuristic,
  kCounterCount,
};

// Counter names are API (calls/RULES.md "Counters"): never reorder or rename.
constexpr const char* kCounterNames[kCounterCount] = {
    "calls.created",
    "calls.decided",
    "calls.records",
    "calls.missed",
    "calls.retransmissions",
    "calls.duplicates",
    "calls.orphan_messages",
    "calls.late_messages",
    "calls.ignored_messages",
    "calls.evicted",
    "calls.reused_call_id",
    "calls.legs_correlated",
    "calls.ring_timeouts",
    "calls.hops_dropped",
    "calls.linger_dropped",
    "calls.late_auth_retries",
    "calls.pickups",
    "calls.pickups_unmatched",
    "calls.legs_joined_heuristic",
};

// Methods that belong to an INVITE dialog. REGISTER, OPTIONS, SUBSCRIBE, NOTIFY, PUBLISH and
// MESSAGE (and their responses) never affect a call.
bool isDialogMethod(Method m) {
  switch (m) {
    case Method::kInvite:
    case Method::kAck:
    case Method::kBye:
    case Method::kCancel:
    case Method::kPrack:
    case Method::kUpdate:
    case Method::kInfo:
    case Method::kRefer:
      return true;
    default:
      return false;
  }
}

uint64_t branchKey(const SipEvent& ev) { return hopBranchKey(ev.via_branch, ev.via_count); }

uint8_t clampVia(int n) { return static_cast<uint8_t>(std::clamp(n, 0, 255)); }

// The caller of an initial INVITE as RULES.md "caller" reads it (the first P-Asserted-Identity
// holding a number, tel preferred, else From), or nullptr when there is none to join legs by: an
// anonymous From without an asserted identity says nothing about who called.
const std::string* joinCaller(const SipEvent& ev) {
  const sipparse::NameAddr* id = nullptr;
  bool id_is_tel = false;
  for (const auto& p : ev.pai) {
    if (p.number.empty()) continue;
    const bool tel =
        p.uri.size() >= 4 && (p.uri.compare(0, 4, "tel:") == 0 || p.uri.compare(0, 4, "TEL:") == 0);
    if (id == nullptr || (tel && !id_is_tel)) {
      id = &p;
      id_is_tel = tel;
    }
  }
  if (id == nullptr) {
    if (detail::isAnonymous(ev.from)) return nullptr;
    id = &ev.from;
  }
  const std::string& n = detail::numberOrUser(*id);
  return n.empty() ? nullptr : &n;
}

// |a - b| without overflow, whatever instants a capture (or a fuzzer) gives.
uint64_t timeGap(int64_t a, int64_t b) {
  return a > b ? static_cast<uint64_t>(a) - static_cast<uint64_t>(b)
               : static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
}

// Key of the leg-join index: the caller and the called number (To) of a leg.
uint64_t joinKey(std::string_view caller, std::string_view callee) {
  return detail::hashMore(detail::hash64(caller), detail::hash64(callee));
}

struct TimerEntry {
  int64_t due;
  uint64_t serial;  // the call's serial: ties break by age, independent of push history
  uint32_t slot;
  uint32_t gen;
};

// std::push_heap builds a max-heap; "greater" puts the earliest due on top.
struct LaterFirst {
  bool operator()(const TimerEntry& a, const TimerEntry& b) const {
    return a.due != b.due ? a.due > b.due : a.serial > b.serial;
  }
};

struct List {
  uint32_t head = kNil;
  uint32_t tail = kNil;
  size_t size = 0;
};

// What nextDue reads of a hop, besides its leg and CSeq (fixed for a hop). A message that
// changes none of it for its hop (a provisional response, a copy or retransmission no earlier
// than the first) leaves the call's due where it was, so apply does not compute it again.
struct DueInputs {
  int64_t first_ts;
  int64_t invite_ts;
  int64_t final_ts;
  int64_t cancel_ts;
  int16_t final_status;
  uint8_t via_count;
  bool has_invite;
  bool expired;

  static DueInputs of(const Hop& h) {
    return {h.first_ts,     h.invite_ts, h.final_ts,   h.cancel_ts,
            h.final_status, h.via_count, h.has_invite, h.expired};
  }
  bool operator==(const DueInputs&) const = default;
};

}  // namespace

struct CallTracker::Impl {
  Impl(TrackerConfig c, Sink s) : cfg(c), sink(std::move(s)) {}

  TrackerConfig cfg;
  Sink sink;
  TraceHooks trace;  // mcn explain; empty on every other path
  int64_t now = kBeginning;

  // Calls live in slots; a slot's generation invalidates timer entries of a freed call.
  std::vector<std::unique_ptr<Call>> slots;
  std::vector<uint32_t> gens;
  std::vector<uint32_t> free_slots;
  std::vector<std::unique_ptr<Call>> spare_calls;  // see recycleCall
  // Hop buffers of decided calls (a decided call keeps no hops), handed to the next new calls:
  // otherwise every call allocates its hops anew, the tracker's most frequent allocation.
  // At most kSpareCalls buffers of at most kSpareHopsMax hops.
  std::vector<std::vector<Hop>> spare_hops;
  // Call-ID -> (slot, leg index) and correlation key -> (slot, key index). The keys themselves
  // are kept by the calls (Leg::call_id, Call::keys).
  HashIndex by_call_id;
  HashIndex by_key;
  // joinKey(caller, To) of every open call's legs -> its calls (RULES.md "Legs joined without a
  // key"). Entries leave with their call's open state (dropJoinKeys); at most kMaxLegsPerCall per
  // call. Each key's entries form a list in the order they were added, walked newest first (the
  // order of the unordered_multimap this once was: libstdc++ puts a new entry before its
  // equals), and a second list, in the same order, of the entries whose call has no correlation
  // key (a call never loses its keys while open). A keyed INVITE can only join such a call, so
  // it walks only those: when many calls in flight share a join key (the same caller and callee,
  // as in a load test or an auto-dialler) and all carry an icid, it walks none, where it used to
  // read every one of them (most of the tracker's cache misses). Removal is O(1) (each call
  // keeps its entries' nodes) and keeps the order.
  struct JoinList {
    uint32_t head = kNil, tail = kNil;    // every entry
    uint32_t uhead = kNil, utail = kNil;  // entries whose call has no correlation key
  };
  struct JoinNode {
    uint32_t slot = kNil;
    uint32_t prev = kNil, next = kNil;
    uint32_t uprev = kNil, unext = kNil;
    bool unkeyed = false;
    JoinList* list = nullptr;  // unordered_map values stay put until erased
  };
  std::unordered_map<uint64_t, JoinList> join_index;
  std::vector<JoinNode> join_nodes;
  std::vector<uint32_t> free_join_nodes;
  // Undecided calls with an initial INVITE: `unheard` while no response of theirs was seen, in
  // the order they became open; `open` once one was, in the order that happened. A flood of
  // INVITEs that are never answered stays in `unheard`, which is evicted first (see newCall).
  List open;
  List unheard;
  List pending;                  // messages waiting for their initial INVITE, oldest first
  List lingering;                // decided calls absorbing late messages, oldest first
  std::vector<TimerEntry> heap;  // min-heap by due, lazily invalidated (Call::scheduled_due)
  uint64_t next_serial = 0;
  // setSequence: serial = sequence << 16 | calls created within that message so far.
  bool sequenced = false;
  uint64_t sequence = 0;
  uint64_t serials_in_sequence = 0;
  Decision decision;

  uint64_t newSerial() {
    if (!sequenced) return next_serial++;
    return (sequence << 16) | std::min<uint64_t>(serials_in_sequence++, 0xffff);
  }
  std::array<uint64_t, kCounterCount> counters{};
  std::array<uint64_t, kOutcomeCount> outcome_counts{};

  Call& call(uint32_t slot) { return *slots[slot]; }

  List& listOf(const Call& c) {
    switch (c.state) {
      case Call::State::kPending:
        return pending;
      case Call::State::kOpen:
        return c.heard ? open : unheard;
      case Call::State::kLingering:
        return lingering;
    }
    return open;
  }

  void link(uint32_t slot) {
    Call& c = call(slot);
    List& l = listOf(c);
    c.prev = l.tail;
    c.next = kNil;
    if (l.tail != kNil)
      call(l.tail).next = slot;
    else
      l.head = slot;
    l.tail = slot;
    ++l.size;
  }

  void unlink(uint32_t slot) {
    Call& c = call(slot);
    List& l = listOf(c);
    if (c.prev != kNil)
      call(c.prev).next = c.next;
    else
      l.head = c.next;
    if (c.next != kNil)
      call(c.next).prev = c.prev;
    else
      l.tail = c.prev;
    c.prev = c.next = kNil;
    --l.size;
  }

  // ---- slots ----

  uint32_t allocSlot() {
    uint32_t slot;
    if (!free_slots.empty()) {
      slot = free_slots.back();
      free_slots.pop_back();
    } else {
      slot = static_cast<uint32_t>(slots.size());
      slots.emplace_back();
      gens.push_back(0);
    }
    if (!spare_calls.empty()) {
      slots[slot] = std::move(spare_calls.back());
      spare_calls.pop_back();
    } else {
      slots[slot] = std::make_unique<Call>();
    }
    return slot;
  }

  // A freed call goes back to a small pool as a default Call that keeps its vectors' and
  // strings' buffers: a replay creates and frees a call per Call-ID, and those allocations were
  // most of what it still allocated. Every list in a Call is bounded (kMaxHopsPerCall, ...), so
  // the pool's memory is too.
  void recycleCall(std::unique_ptr<Call> p) {
    if (!p || spare_calls.size() >= kSpareCalls) return;
    Call& c = *p;
    std::vector<Leg> legs = std::move(c.legs);
    std::vector<Hop> hops = std::move(c.hops);
    std::vector<CorrelationKey> keys = std::move(c.keys);
    std::vector<detail::SeenMessage> seen = std::move(c.seen);
    std::string caller = std::move(c.caller);
    std::string caller_name = std::move(c.caller_name);
    legs.clear();
    hops.clear();
    keys.clear();
    seen.clear();
    caller.clear();
    caller_name.clear();
    c = Call();
    c.legs = std::move(legs);
    c.hops = std::move(hops);
    c.keys = std::move(keys);
    c.seen = std::move(seen);
    c.caller = std::move(caller);
    c.caller_name = std::move(caller_name);
    spare_calls.push_back(std::move(p));
  }

  HashIndex::Entry* findCallId(uint64_t hash, std::string_view call_id) {
    return by_call_id.find(hash, [&](const HashIndex::Entry& e) {
      return call(e.slot).legs[e.item].call_id == call_id;
    });
  }

  HashIndex::Entry* findKey(uint64_t hash, std::string_view key) {
    return by_key.find(
        hash, [&](const HashIndex::Entry& e) { return call(e.slot).keys[e.item].value == key; });
  }

  void freeCall(uint32_t slot) {
    Call& c = call(slot);
    dropJoinKeys(slot);
    unlink(slot);
    for (uint32_t i = 0; i < c.legs.size(); ++i) {
      if (auto* e = by_call_id.findExact(c.legs[i].id_hash, slot, i)) by_call_id.erase(e);
    }
    for (uint32_t i = 0; i < c.keys.size(); ++i) {
      if (auto* e = by_key.findExact(c.keys[i].hash, slot, i)) by_key.erase(e);
    }
    ++gens[slot];
    recycleCall(std::move(slots[slot]));
    free_slots.push_back(slot);
  }

  size_t undecided() const { return open.size + unheard.size; }

  // A new call (open or pending), making room first: pending entries are dropped as orphans,
  // then the oldest open call that no response was seen for is decided early, and only when
  // there is none the call heard from longest ago (DESIGN.md: every table has a bound). A
  // genuine call gets a 100 Trying or a provisional response within milliseconds (RFC 3261
  // §16.7 step 5 / §8.2.6.1), while INVITEs with unique Call-IDs that nobody answers (a flood,
  // a scan) never do: they make room for each other instead of pushing ringing calls out.
  uint32_t newCall(bool open_call) {
    const size_t cap = std::max<size_t>(cfg.max_calls, 1);
    while (undecided() + pending.size >= cap) {
      if (pending.size > 0) {
        dropPending(pending.head);
      } else {
        const uint32_t oldest = unheard.size > 0 ? unheard.head : open.head;
        expireHops(call(oldest), now);
        ++counters[kEvicted];
        decide(oldest, now, DecidedBy::kEvicted);
      }
    }
    const uint32_t slot = allocSlot();
    Call& c = call(slot);
    if (open_call) {
      c.state = Call::State::kOpen;
      c.serial = newSerial();
      ++counters[kCreated];
    } else {
      c.state = Call::State::kPending;
      c.expiry_us = now + cfg.linger_ms * 1000;
    }
    link(slot);
    return slot;
  }

  void promote(uint32_t slot) {
    Call& c = call(slot);
    unlink(slot);
    c.state = Call::State::kOpen;
    c.due_stale = true;  // its hops came while it had no timer
    c.serial = newSerial();
    c.expiry_us = kNever;
    c.pending_msgs = 0;
    link(slot);
    ++counters[kCreated];
  }

  // The call's first response: it moves from `unheard` to the end of `open`.
  void markHeard(uint32_t slot) {
    Call& c = call(slot);
    if (c.heard) return;
    if (c.state != Call::State::kOpen) {
      c.heard = true;  // pending or lingering: not in an open list
      return;
    }
    unlink(slot);
    c.heard = true;
    link(slot);
  }

  void dropPending(uint32_t slot) {
    counters[kOrphanMessages] += call(slot).pending_msgs;
    freeCall(slot);
  }

  // A Call-ID not in the index joins the call as a new leg; returns the leg's index.
  uint32_t addLeg(uint32_t slot, std::string_view call_id, uint64_t id_hash) {
    Call& c = call(slot);
    const auto index = static_cast<uint32_t>(c.legs.size());
    Leg& leg = c.legs.emplace_back();
    leg.call_id.assign(call_id);
    leg.id_hash = id_hash;
    by_call_id.insert(id_hash, slot, index);
    return index;
  }

  // `owned`: the index of a key the message's call was found by (already this call's, so not
  // looked up again), or n.
  void registerKeys(uint32_t slot, const std::string* keys, const uint64_t* hashes, size_t n,
                    size_t owned) {
    Call& c = call(slot);
    for (size_t i = 0; i < n; ++i) {
      if (c.keys.size() >= kMaxKeysPerCall) return;
      if (i == owned) continue;
      if (findKey(hashes[i], keys[i]) != nullptr) continue;  // this call's or another's
      by_key.insert(hashes[i], slot, static_cast<uint32_t>(c.keys.size()));
      c.keys.push_back(CorrelationKey{keys[i], hashes[i]});
      if (c.keys.size() == 1) joinKeysKeyed(slot);
    }
  }

  // Two calls turned out to be one (a leg's key arrived after its Call-ID was seen alone):
  // the younger joins the older, a pending one joins an open one.
  uint32_t merge(uint32_t a, uint32_t b, Counter joined = kLegsCorrelated) {
    Call& ca = call(a);
    Call& cb = call(b);
    const bool a_open = ca.state == Call::State::kOpen;
    const bool b_open = cb.state == Call::State::kOpen;
    uint32_t dst = b;
    if (a_open != b_open) {
      dst = a_open ? a : b;
    } else if (a_open) {
      dst = ca.serial < cb.serial ? a : b;
    }
    const uint32_t src = dst == a ? b : a;
    Call& d = call(dst);
    Call& s = call(src);
    if (d.legs.size() + s.legs.size() > kMaxLegsPerCall ||
        d.hops.size() + s.hops.size() > kMaxHopsPerCall) {
      return a;
    }
    d.due_stale = true;
    const auto offset = static_cast<uint8_t>(d.legs.size());
    for (uint32_t i = 0; i < s.legs.size(); ++i) {
      HashIndex::Entry* e = by_call_id.findExact(s.legs[i].id_hash, src, i);
      assert(e != nullptr);  // every leg has its entry
      e->slot = dst;
      e->item = static_cast<uint32_t>(d.legs.size());
      d.legs.push_back(std::move(s.legs[i]));
      ++counters[joined];
    }
    for (const Call::JoinRef& r : s.join_keys) addJoinKey(dst, r.key);
    dropJoinKeys(src);
    for (Hop& hop : s.hops) {
      hop.leg = static_cast<uint8_t>(hop.leg + offset);
      d.hops.push_back(std::move(hop));
    }
    for (uint32_t i = 0; i < s.keys.size(); ++i) {
      HashIndex::Entry* e = by_key.findExact(s.keys[i].hash, src, i);
      assert(e != nullptr);  // every key has its entry
      if (d.keys.size() < kMaxKeysPerCall) {
        e->slot = dst;
        e->item = static_cast<uint32_t>(d.keys.size());
        d.keys.push_back(std::move(s.keys[i]));
      } else {
        by_key.erase(e);
      }
    }
    if (!d.keys.empty()) joinKeysKeyed(dst);
    for (detail::Pickup& p : s.pickups) {
      if (d.pickups.size() < kMaxPickupsPerCall) d.pickups.push_back(std::move(p));
    }
    d.pending_msgs += s.pending_msgs;
    if (s.caller_rank > d.caller_rank ||
        (s.caller_rank == d.caller_rank && s.caller_ts < d.caller_ts)) {
      d.caller_rank = s.caller_rank;
      d.caller_ts = s.caller_ts;
      d.caller = std::move(s.caller);
      d.caller_name = std::move(s.caller_name);
    }
    d.withheld = d.withheld || s.withheld;
    for (uint32_t id : s.capture_ids) detail::addCaptureId(d.capture_ids, id);
    d.own_callback = d.own_callback || s.own_callback;
    const bool src_heard = s.heard;
    s.legs.clear();
    s.keys.clear();
    freeCall(src);
    if (src_heard) markHeard(dst);
    return dst;
  }

  // ---- legs joined without a key (RULES.md "Legs joined without a key") ----

  void addJoinKey(uint32_t slot, uint64_t key) {
    Call& c = call(slot);
    for (const Call::JoinRef& r : c.join_keys) {
      if (r.key == key) return;
    }
    if (c.join_keys.size() >= kMaxLegsPerCall) return;
    uint32_t n = kNil;
    if (!free_join_nodes.empty()) {
      n = free_join_nodes.back();
      free_join_nodes.pop_back();
    } else {
      n = static_cast<uint32_t>(join_nodes.size());
      join_nodes.emplace_back();
    }
    JoinList& l = join_index[key];
    JoinNode& node = join_nodes[n];
    node = JoinNode{};
    node.slot = slot;
    node.list = &l;
    node.prev = l.tail;
    if (l.tail != kNil)
      join_nodes[l.tail].next = n;
    else
      l.head = n;
    l.tail = n;
    if (c.keys.empty()) {
      node.unkeyed = true;
      node.uprev = l.utail;
      if (l.utail != kNil)
        join_nodes[l.utail].unext = n;
      else
        l.uhead = n;
      l.utail = n;
    }
    c.join_keys.push_back(Call::JoinRef{key, n});
  }

  void unlinkUnkeyed(uint32_t n) {
    JoinNode& node = join_nodes[n];
    if (!node.unkeyed) return;
    JoinList& l = *node.list;
    if (node.uprev != kNil)
      join_nodes[node.uprev].unext = node.unext;
    else
      l.uhead = node.unext;
    if (node.unext != kNil)
      join_nodes[node.unext].uprev = node.uprev;
    else
      l.utail = node.uprev;
    node.unkeyed = false;
    node.uprev = node.unext = kNil;
  }

  // The call got its first correlation key: a keyed INVITE no longer finds it.
  void joinKeysKeyed(uint32_t slot) {
    for (const Call::JoinRef& r : call(slot).join_keys) unlinkUnkeyed(r.node);
  }

  void dropJoinKeys(uint32_t slot) {
    Call& c = call(slot);
    for (const Call::JoinRef& r : c.join_keys) {
      unlinkUnkeyed(r.node);
      JoinNode& node = join_nodes[r.node];
      JoinList& l = *node.list;
      if (node.prev != kNil)
        join_nodes[node.prev].next = node.next;
      else
        l.head = node.next;
      if (node.next != kNil)
        join_nodes[node.next].prev = node.prev;
      else
        l.tail = node.prev;
      node = JoinNode{};
      free_join_nodes.push_back(r.node);
      if (l.head == kNil) join_index.erase(r.key);
    }
    c.join_keys.clear();
  }

  // Open calls under `key` that can take one more leg; with `keyed` (the new INVITE carries a
  // correlation key none of them has: they would have been found by it) only calls without any.
  template <typename Fn>
  void forEachJoinCandidate(uint64_t key, bool keyed, Fn&& fn) {
    const auto found = join_index.find(key);
    if (found == join_index.end()) return;
    const JoinList& l = found->second;
    for (uint32_t n = keyed ? l.utail : l.tail; n != kNil;) {
      const JoinNode& node = join_nodes[n];
      n = keyed ? node.uprev : node.prev;
      const Call& c = call(node.slot);
      if (c.state != Call::State::kOpen || c.legs.size() >= kMaxLegsPerCall) continue;
      assert(!keyed || c.keys.empty());
      fn(node.slot);
    }
  }

  // The open call a new Call-ID's initial INVITE `ev` belongs to although no key says so, or kNil.
  //  1. Same leg one hop on (topology hiding, an SBC, a B2BUA): a leg of the call has this caller
  //     and this To, its INVITE came within the window, and no hop of the call had any 18x or
  //     final response before `ev`: the upstream hop's progress follows the downstream one's,
  //     so a call that already rang or ended is never the other side of this INVITE.
  //  2. A forward or recursion on a new Call-ID (a B2BUA after a 302, busy or no answer):
  //     `ev` carries Diversion/History-Info naming the To of a leg of the call with this caller,
  //     that leg's INVITE, CANCEL or final response came within the window, and some hop of the
  //     call (the caller's side) had no final response yet.
  // Two different correlation keys say two calls: a keyed INVITE never joins a keyed call.
  // Among several candidates the one whose matching instant is closest to `ev` wins.
  uint32_t findJoin(const SipEvent& ev, bool keyed) {
    if (!cfg.leg_join || join_index.empty()) return kNil;
    const std::string* caller = joinCaller(ev);
    if (caller == nullptr) return kNil;
    const auto window = static_cast<uint64_t>(std::max<int64_t>(cfg.leg_join_window_ms, 0)) * 1000;
    const int64_t t = ev.ts_us;
    uint32_t best = kNil;
    uint64_t best_gap = UINT64_MAX;
    auto consider = [&](uint32_t slot, int64_t at) {
      const uint64_t gap = timeGap(t, at);
      if (gap <= window && gap < best_gap) {
        best = slot;
        best_gap = gap;
      }
    };
    const std::string& to = detail::numberOrUser(ev.to);
    forEachJoinCandidate(joinKey(*caller, to), keyed, [&](uint32_t slot) {
      const Call& c = call(slot);
      int64_t invite_at = kNever;
      uint64_t invite_gap = UINT64_MAX;
      for (const Hop& h : c.hops) {
        // The call progressed before this INVITE. A 401/407 is the proxy's own challenge, not
        // a response passed back from further on (the retried INVITE is what goes on).
        const bool challenge = h.final_status == 401 || h.final_status == 407;
        if (h.ring_ts < t || (h.final_ts < t && !challenge)) return;
        if (h.has_invite && c.legs[h.leg].to == to && timeGap(t, h.invite_ts) < invite_gap) {
          invite_at = h.invite_ts;
          invite_gap = timeGap(t, h.invite_ts);
        }
      }
      if (invite_at != kNever) consider(slot, invite_at);
    });
    if (best != kNil || !detail::hasRetargeting(ev)) return best;
    for (const detail::Forward& f : detail::extractForwards(ev)) {
      forEachJoinCandidate(joinKey(*caller, f.from), keyed, [&](uint32_t slot) {
        const Call& c = call(slot);
        bool caller_side_open = false;
        int64_t closest = kNever;
        uint64_t closest_gap = UINT64_MAX;
        for (const Hop& h : c.hops) {
          if (!h.hasFinal() || h.final_ts > t) caller_side_open = true;
          if (c.legs[h.leg].to != f.from) continue;
          for (int64_t at : {h.has_invite ? h.invite_ts : kNever, h.cancel_ts, h.final_ts}) {
            if (at != kNever && timeGap(t, at) < closest_gap) {
              closest = at;
              closest_gap = timeGap(t, at);
            }
          }
        }
        if (caller_side_open && closest != kNever) consider(slot, closest);
      });
    }
    return best;
  }

  // ---- timers ----

  void pushTimer(uint32_t slot) {
    const Call& c = call(slot);
    heap.push_back(TimerEntry{c.scheduled_due, c.serial, slot, gens[slot]});
    std::push_heap(heap.begin(), heap.end(), LaterFirst{});
  }

  // When the call next needs attention: the earliest deadline of an unanswered hop, or, once
  // every hop is final, the grace after the last final response, CANCEL or INVITE, and no
  // earlier than auth_retry_ms after a challenge the caller has not retried yet.
  int64_t nextDue(const Call& c) const {
    bool open_hop = false;
    int64_t min_deadline = kNever;
    int64_t last = kBeginning;
    int64_t last_final = kBeginning;
    int64_t challenge_due = kBeginning;
    bool last_3xx = false;
    for (const Hop& h : c.hops) {
      if (h.has_invite) last = std::max(last, h.invite_ts);
      if (h.cancel_ts != kNever) last = std::max(last, h.cancel_ts);
      if (h.hasFinal()) {
        last = std::max(last, h.final_ts);
        if (h.final_ts >= last_final) {
          last_final = h.final_ts;
          last_3xx = h.final_status / 100 == 3;
        }
        if ((h.final_status == 401 || h.final_status == 407) && detail::awaitingAuthRetry(c, h)) {
          challenge_due = std::max(challenge_due, h.final_ts + cfg.auth_retry_ms * 1000);
        }
      } else if (h.expired) {
        last = std::max(last, detail::hopDeadline(h, cfg));
      } else if (!detail::closedUpstream(c, h)) {
        open_hop = true;
        min_deadline = std::min(min_deadline, detail::hopDeadline(h, cfg));
      }
    }
    if (open_hop) return min_deadline;
    if (last == kBeginning) return now;
    const int64_t grace = last_3xx ? std::max(cfg.grace_ms, cfg.grace_after_3xx_ms) : cfg.grace_ms;
    return std::max(last + grace * 1000, challenge_due);
  }

  void reschedule(uint32_t slot) {
    Call& c = call(slot);
    if (c.state != Call::State::kOpen) return;
    c.due_stale = false;
    const int64_t due = nextDue(c);
    // Only an earlier due needs a new entry; a later one is found when the current one fires.
    if (due < c.scheduled_due) {
      c.scheduled_due = due;
      pushTimer(slot);
    }
  }

  void expireHops(Call& c, int64_t at) {
    for (Hop& h : c.hops) {
      if (!h.hasFinal() && !h.expired && detail::hopDeadline(h, cfg) <= at) {
        h.expired = true;
        if (h.cancel_ts == kNever) ++counters[kRingTimeouts];
      }
    }
  }

  void fire(uint32_t slot, int64_t at) {
    Call& c = call(slot);
    expireHops(c, at);
    const int64_t due = nextDue(c);
    if (due <= at) {
      decide(slot, at, DecidedBy::kTimer);
    } else {
      c.scheduled_due = due;
      pushTimer(slot);
    }
  }

  void compactHeapIfStale() {
    if (heap.size() <= 2 * undecided() + 1024) return;
    heap.clear();
    for (const List* l : {&open, &unheard}) {
      for (uint32_t s = l->head; s != kNil; s = call(s).next) {
        if (call(s).scheduled_due != kNever) pushTimer(s);
      }
    }
  }

  void advanceTo(int64_t t) {
    if (t > now) now = t;  // two capture points: time never moves backwards
    while (!heap.empty() && heap.front().due <= now) {
      const TimerEntry e = heap.front();
      std::pop_heap(heap.begin(), heap.end(), LaterFirst{});
      heap.pop_back();
      if (gens[e.slot] != e.gen || !slots[e.slot]) continue;
      Call& c = call(e.slot);
      if (c.state != Call::State::kOpen || c.scheduled_due != e.due) continue;
      c.scheduled_due = kNever;
      fire(e.slot, e.due);
    }
    while (pending.head != kNil && call(pending.head).expiry_us <= now) dropPending(pending.head);
    while (lingering.head != kNil && call(lingering.head).expiry_us <= now) {
      freeCall(lingering.head);
    }
    compactHeapIfStale();
  }

  // ---- decisions ----

  // Decide the call as of instant `at` (its timer's due time, or now for eviction and finish).
  void decide(uint32_t slot, int64_t at, DecidedBy by) {
    Call& c = call(slot);
    std::vector<CallRecord> records = detail::evaluateCall(c, cfg, nullptr, eval_scratch.get());
    // mcn explain: the same call evaluated again with the trace on, only for the calls it asks
    // for, so the rules run exactly as they did for the records.
    if (trace.sink && trace.want && trace.want(records)) {
      CallTrace t;
      detail::evaluateCall(c, cfg, &t);
      t.decided_us = at;
      t.decided_by = by;
      trace.sink(std::move(t));
    }
    ++counters[kDecided];
    dropJoinKeys(slot);
    for (const Hop& h : c.hops) {
      if ((h.final_status == 401 || h.final_status == 407) && detail::awaitingAuthRetry(c, h)) {
        uint32_t& cseq = c.legs[h.leg].challenged_cseq;
        cseq = std::max(cseq, h.cseq);
      }
    }

    // The decided call shrinks to a tombstone that maps its Call-IDs and keys and still tells
    // copies and retransmissions of its messages apart.
    unlink(slot);
    c.state = Call::State::kLingering;
    // Linger from the decision instant; never before the previous tombstone, so the list stays
    // in expiry order even when a late event decided a call in the past.
    c.expiry_us = at + cfg.linger_ms * 1000;
    if (lingering.tail != kNil) c.expiry_us = std::max(c.expiry_us, call(lingering.tail).expiry_us);
    c.scheduled_due = kNever;
    c.hops.clear();
    if (spare_hops.size() < kSpareCalls && c.hops.capacity() <= kSpareHopsMax) {
      spare_hops.push_back(std::move(c.hops));
    }
    c.hops.shrink_to_fit();
    c.pickups.clear();
    c.pickups.shrink_to_fit();
    c.caller.clear();
    c.caller.shrink_to_fit();
    c.caller_name.clear();
    c.caller_name.shrink_to_fit();
    link(slot);
    if (lingering.size > std::max<size_t>(cfg.max_calls, 1)) {
      freeCall(lingering.head);
      ++counters[kLingerDropped];
    }

    decision = Decision{at, c.serial, by};
    for (CallRecord& r : records) {
      ++counters[kRecords];
      if (r.missed) ++counters[kMissed];
      ++outcome_counts[static_cast<size_t>(r.outcome)];
      if (sink) sink(std::move(r));
    }
  }

  // ---- messages ----

  // The same message again: a copy of the last one within duplicate_window_ms (the SPAN port
  // saw the frame twice), else a retransmission (RFC 3261 §17: Timer A/G, 2xx until ACK).
  void countRepeat(Call& c, const SipEvent& ev, uint64_t branch_key, uint64_t to_tag_hash) {
    // The call is known; the branch keeps its legs' messages apart.
    uint64_t h =
        ev.is_request ? static_cast<uint64_t>(ev.method) + 1000 : static_cast<uint64_t>(ev.status);
    h = detail::hashMore(h, (uint64_t{ev.cseq} << 8) | static_cast<uint64_t>(ev.cseq_method));
    h = detail::hashMore(h, static_cast<uint64_t>(ev.via_count));
    h = detail::hashMore(h, branch_key);
    h = detail::hashMore(h, to_tag_hash);
    const auto fp = static_cast<uint32_t>(h ^ (h >> 32));
    if (c.base_us == kNever) c.base_us = ev.ts_us;
    const auto ms = static_cast<int32_t>(
        std::clamp<int64_t>((ev.ts_us - c.base_us) / 1000, INT32_MIN, INT32_MAX));
    for (detail::SeenMessage& m : c.seen) {
      if (m.fingerprint != fp) continue;
      if (std::abs(int64_t{ms} - m.ms) <= cfg.duplicate_window_ms) {
        ++counters[kDuplicates];
      } else {
        ++counters[kRetransmissions];
        m.ms = ms;
      }
      return;
    }
    if (c.seen.size() < kMaxSeenPerCall) {
      if (c.seen.capacity() == 0) c.seen.reserve(kFirstSeen);  // one allocation, not five
      c.seen.push_back({fp, ms});
    } else {
      c.seen[c.seen_next] = {fp, ms};
      c.seen_next = static_cast<uint8_t>((c.seen_next + 1) % kMaxSeenPerCall);
    }
  }

  // A new initial INVITE on a decided Call-ID (its leg `leg`) from another dialog (new From
  // tag): the Call-ID was reused, so the tombstone gives way to a new call.
  static bool isReuse(const Leg& leg, const SipEvent& ev) {
    if (ev.from.tag.empty()) return false;
    const uint32_t tag = detail::hash32(ev.from.tag);
    return leg.from_tag != 0 && leg.from_tag != tag;
  }

  // An initial INVITE retrying, with a higher CSeq (RFC 3261 §22.2), a 401/407 the decided call
  // was waiting on (auth_retry_ms passed first).
  static bool isLateAuthRetry(const Leg& leg, const SipEvent& ev) {
    return leg.challenged_cseq != 0 && ev.cseq > leg.challenged_cseq;
  }

  std::string key_scratch[2];                                       // onEvent's correlation keys
  detail::EvalScratchPtr eval_scratch = detail::makeEvalScratch();  // decide's

  void onEvent(const SipEvent& ev) {
    advanceTo(ev.ts_us);
    const Method m = ev.is_request ? ev.method : ev.cseq_method;
    if (!isDialogMethod(m) || ev.call_id.empty()) {
      ++counters[kIgnoredMessages];
      return;
    }
    const bool initial = ev.is_request && ev.method == Method::kInvite && ev.to.tag.empty();

    const uint64_t id_hash = detail::hash64(ev.call_id);
    uint32_t slot = kNil;
    uint32_t leg = kNil;
    if (const HashIndex::Entry* e = findCallId(id_hash, ev.call_id)) {
      slot = e->slot;
      leg = e->item;
      if (call(slot).state == Call::State::kLingering) {
        if (initial && isReuse(call(slot).legs[leg], ev)) {
          ++counters[kReusedCallId];
          freeCall(slot);
          slot = kNil;
        } else if (initial && isLateAuthRetry(call(slot).legs[leg], ev)) {
          // The call was decided `failed` on its challenge; the record is out. The retry that
          // finally came is the call the person's phone rang for: a new call, not a late message.
          ++counters[kLateAuthRetries];
          freeCall(slot);
          slot = kNil;
        } else {
          countRepeat(call(slot), ev, branchKey(ev), detail::hash64(ev.to.tag));
          ++counters[kLateMessages];
          return;
        }
      }
    }

    // Correlation keys, namespaced so an icid never matches a configured header's value.
    // Built in buffers kept across messages: no allocation per message.
    std::string* keys = key_scratch;
    uint64_t key_hashes[2];
    size_t nkeys = 0;
    if (!ev.icid.empty()) keys[nkeys++].assign("i:").append(ev.icid);
    if (!ev.correlation.empty()) keys[nkeys++].assign("c:").append(ev.correlation);
    uint32_t kslot = kNil;
    size_t kfound = nkeys;  // which key found kslot
    for (size_t i = 0; i < nkeys; ++i) {
      key_hashes[i] = detail::hash64(keys[i]);
      if (kslot != kNil) continue;
      if (const HashIndex::Entry* e = findKey(key_hashes[i], keys[i])) {
        kslot = e->slot;
        kfound = i;
      }
    }
    bool merged = false;  // the message joined two calls

    if (slot == kNil) {
      if (kslot != kNil) {
        Call& k = call(kslot);
        if (k.state == Call::State::kLingering) {
          ++counters[kLateMessages];
          return;
        }
        if (k.legs.size() >= kMaxLegsPerCall) {
          ++counters[kHopsDropped];
          return;
        }
        slot = kslot;
        leg = addLeg(slot, ev.call_id, id_hash);
        ++counters[kLegsCorrelated];
      } else if (const uint32_t j = initial ? findJoin(ev, nkeys > 0) : kNil; j != kNil) {
        slot = j;
        leg = addLeg(slot, ev.call_id, id_hash);
        ++counters[kLegsJoinedHeuristic];
      } else {
        slot = newCall(initial);
        leg = addLeg(slot, ev.call_id, id_hash);
      }
    } else if (kslot != kNil && kslot != slot && call(kslot).state != Call::State::kLingering) {
      slot = merge(slot, kslot);
      leg = findCallId(id_hash, ev.call_id)->item;  // the leg may have moved to the other call
      merged = true;
    } else if (initial && kslot == kNil && call(slot).state == Call::State::kPending) {
      // Messages of this Call-ID came before its INVITE (capture order is not causal): they
      // join the call the INVITE joins.
      if (const uint32_t j = findJoin(ev, nkeys > 0); j != kNil) {
        slot = merge(slot, j, kLegsJoinedHeuristic);
        leg = findCallId(id_hash, ev.call_id)->item;
        merged = true;
      }
    }
    // The key that found kslot is that call's already. After a merge it may have been dropped
    // (the merged call had its bound of keys), so it is looked up as any other then.
    registerKeys(slot, keys, key_hashes, nkeys, slot == kslot && !merged ? kfound : nkeys);
    apply(slot, leg, ev, initial);
  }

  void apply(uint32_t slot, uint32_t leg_index, const SipEvent& ev, bool initial) {
    Call& c = call(slot);
    const uint64_t key = branchKey(ev);
    const uint64_t to_tag_hash = detail::hash64(ev.to.tag);
    countRepeat(c, ev, key, to_tag_hash);
    if (ev.capture_id) detail::addCaptureId(c.capture_ids, *ev.capture_id);
    if (!ev.is_request) markHeard(slot);
    if (c.state == Call::State::kPending) {
      ++c.pending_msgs;
      if (initial) promote(slot);
    }
    const bool is_cancel = ev.is_request && ev.method == Method::kCancel;
    const bool is_hop_response =
        !ev.is_request && (ev.cseq_method == Method::kInvite || ev.cseq_method == Method::kCancel);
    // In-dialog requests (ACK, BYE, re-INVITE, PRACK, UPDATE, ...) and their responses never
    // change an outcome.
    if (!initial && !is_cancel && !is_hop_response) return;

    Leg& leg = c.legs[leg_index];
    // INVITE, CANCEL and their responses all carry the caller's From and the callee's To.
    if (leg.to.empty()) leg.to = detail::numberOrUser(ev.to);
    if (initial && cfg.leg_join && c.state == Call::State::kOpen) {
      if (const std::string* caller = joinCaller(ev)) {
        addJoinKey(slot, joinKey(*caller, detail::numberOrUser(ev.to)));
      }
    }
    if (leg.from_tag == 0 && !ev.from.tag.empty()) leg.from_tag = detail::hash32(ev.from.tag);

    Hop* hop = nullptr;
    for (Hop& h : c.hops) {
      if (h.leg == leg_index && h.branch_key == key && h.cseq == ev.cseq) {
        hop = &h;
        break;
      }
    }
    if (hop == nullptr) {
      if (c.hops.size() >= kMaxHopsPerCall) {
        ++counters[kHopsDropped];
        return;
      }
      if (c.hops.capacity() == 0 && !spare_hops.empty()) {
        c.hops = std::move(spare_hops.back());
        spare_hops.pop_back();
      }
      hop = &c.hops.emplace_back();
      hop->branch_key = key;
      hop->cseq = ev.cseq;
      hop->leg = static_cast<uint8_t>(leg_index);
      hop->via_count = clampVia(ev.via_count);
      c.due_stale = true;
    }
    const DueInputs before = DueInputs::of(*hop);
    hop->first_ts = std::min(hop->first_ts, ev.ts_us);
    hop->last_ts = std::max(hop->last_ts, ev.ts_us);

    if (initial) {
      onInvite(c, *hop, ev);
    } else if (is_cancel) {
      onCancel(*hop, ev);
    } else if (ev.cseq_method == Method::kInvite) {
      onInviteResponse(*hop, ev, to_tag_hash);
    }
    if (initial && ev.replaces && leg.replaces.empty()) {
      notePickup(slot, leg_index, ev);
    } else if (!leg.replaces.empty() && !ev.is_request && ev.status / 100 == 2 &&
               ev.cseq_method == Method::kInvite) {
      pickupAnswered(leg.replaces, ev.call_id, ev.ts_us);
    }
    // Otherwise only this hop changed (pickups are not read by nextDue). Skipping is exact:
    // while due_stale is false, the call's hops are as its last reschedule or fire saw them,
    // which left scheduled_due at most nextDue; with the same hops nextDue is the same, or,
    // where it reads the clock (no hop has an instant), `now`, no earlier than then. Either
    // way reschedule would not push.
    if (c.due_stale || !(DueInputs::of(*hop) == before)) reschedule(slot);
  }

  // An initial INVITE with Replaces (RFC 3891): a phone takes over a dialog, e.g. a colleague
  // picking up a ringing call (RFC 5359 §2.9: it sends the caller an INVITE naming the early
  // dialog; the caller answers it and CANCELs the ringing phone). The replaced call learns who
  // took over; the pickup is only believed once this INVITE gets a 2xx (pickupAnswered).
  void notePickup(uint32_t slot, uint32_t leg_index, const SipEvent& ev) {
    const sipparse::ReplacesValue& rep = *ev.replaces;
    call(slot).legs[leg_index].replaces.assign(rep.call_id);
    const HashIndex::Entry* e = findCallId(detail::hash64(rep.call_id), rep.call_id);
    if (e == nullptr || e->slot == slot || call(e->slot).state != Call::State::kOpen) {
      // Never seen, forgotten, decided already, or another worker's (live mode shards by
      // Call-ID): the ringing phone's outcome stays what its own messages say.
      ++counters[kPickupsUnmatched];
      return;
    }
    Call& replaced = call(e->slot);
    if (replaced.pickups.size() >= kMaxPickupsPerCall) {
      ++counters[kHopsDropped];
      return;
    }
    ++counters[kPickups];
    detail::Pickup& p = replaced.pickups.emplace_back();
    p.to_tag = rep.to_tag.empty() ? 0 : detail::hash32(rep.to_tag);
    p.by = pickerOf(ev);
    p.call_id = ev.call_id;
    p.invite_ts = ev.ts_us;
    // A 2xx seen before its INVITE (capture order is not causal) already counts.
    for (const Hop& h : call(slot).hops) {
      if (h.leg == leg_index && h.is2xx()) p.answer_ts = std::min(p.answer_ts, h.final_ts);
    }
  }

  void pickupAnswered(std::string_view replaced_id, std::string_view call_id, int64_t ts) {
    HashIndex::Entry* e = findCallId(detail::hash64(replaced_id), replaced_id);
    if (e == nullptr) return;
    for (detail::Pickup& p : call(e->slot).pickups) {
      if (p.call_id == call_id) p.answer_ts = std::min(p.answer_ts, ts);
    }
  }

  // The picking phone: its asserted identity's number (RFC 3325), else From's.
  static std::string pickerOf(const SipEvent& ev) {
    for (const auto& p : ev.pai) {
      if (!p.number.empty()) return p.number;
    }
    return detail::numberOrUser(ev.from);
  }

  void onInvite(Call& c, Hop& h, const SipEvent& ev) {
    if (h.seen & detail::kSeenInvite) {
      h.invite_ts = std::min(h.invite_ts, ev.ts_us);
      return;
    }
    h.seen |= detail::kSeenInvite;
    h.has_invite = true;
    h.invite_ts = ev.ts_us;
    h.transport = ev.transport;
    h.via_count = clampVia(ev.via_count);
    h.ruri_num = ev.request_uri.number;
    if (ev.p_called_party_id) {
      h.mutableExtra().pcpi = detail::numberOrUser(*ev.p_called_party_id);
    }
    h.forwarded = detail::hasRetargeting(ev);
    if (h.forwarded) h.mutableExtra().forwards = detail::extractForwards(ev);
    h.voicemail = detail::isVoicemail(ev.request_uri, cfg.voicemail);
    if ((h.forwarded || h.voicemail) && h.ruri_num.empty()) {
      h.mutableExtra().ruri_user = ev.request_uri.user;
    }
    updateCaller(c, ev);
    if (ev.origin.starts_with("callback")) c.own_callback = true;
  }

  static void updateCaller(Call& c, const SipEvent& ev) {
    // RULES.md "caller": the first P-Asserted-Identity holding a number (tel preferred,
    // RFC 3325 §9.1 allows one sip and one tel), else From.
    const sipparse::NameAddr* id = nullptr;
    uint8_t rank = 0;
    bool id_is_tel = false;
    for (const auto& p : ev.pai) {
      if (p.number.empty()) continue;
      const bool tel = p.uri.size() >= 4 &&
                       (p.uri.compare(0, 4, "tel:") == 0 || p.uri.compare(0, 4, "TEL:") == 0);
      if (id == nullptr || (tel && !id_is_tel)) {
        id = &p;
        id_is_tel = tel;
        rank = 3;
      }
    }
    if (id == nullptr) {
      if (!ev.from.number.empty()) {
        rank = 2;
        id = &ev.from;
      } else if (!ev.from.user.empty()) {
        rank = 1;
        id = &ev.from;
      }
    }
    if (id != nullptr &&
        (rank > c.caller_rank || (rank == c.caller_rank && ev.ts_us < c.caller_ts))) {
      c.caller_rank = rank;
      c.caller_ts = ev.ts_us;
      c.caller = detail::numberOrUser(*id);
      c.caller_name = !id->display.empty() ? id->display : ev.from.display;
    }
    if (detail::privacyWithholds(ev.privacy) || detail::isAnonymous(ev.from)) c.withheld = true;
  }

  void onCancel(Hop& h, const SipEvent& ev) {
    if (h.seen & detail::kSeenCancel) {
      h.cancel_ts = std::min(h.cancel_ts, ev.ts_us);
      return;
    }
    h.seen |= detail::kSeenCancel;
    h.cancel_ts = ev.ts_us;
    h.cancel_kind = detail::classifyReasons(ev.reasons);
    const std::string_view text = detail::reasonText(ev.reasons);
    if (!text.empty()) h.mutableExtra().cancel_text.assign(text);
  }

  void onInviteResponse(Hop& h, const SipEvent& ev, uint64_t to_tag_hash) {
    const int s = ev.status;
    if (s < 100 || s > 699) return;
    const uint32_t tag = detail::fold32(to_tag_hash);
    if (s < 200) {
      if ((s == 180 || s == 183) && ev.ts_us < h.ring_ts) {
        h.ring_ts = ev.ts_us;
        h.ring_tag = tag;
      }
      return;
    }
    if (h.hasFinal() && h.final_status == s && h.final_tag == tag) {
      h.final_ts = std::min(h.final_ts, ev.ts_us);
      return;
    }
    // One final response per transaction; a 2xx still wins over an earlier-seen error (two
    // capture points can swap them), and a second fork's 2xx leaves the first in place.
    if (h.hasFinal() && !(s / 100 == 2 && !h.is2xx())) return;
    h.final_status = static_cast<int16_t>(s);
    h.final_ts = ev.ts_us;
    h.final_tag = tag;
    h.final_kind = detail::classifyReasons(ev.reasons);
    std::string_view text = detail::reasonText(ev.reasons);
    if (text.empty()) text = ev.phrase;
    // Most final responses carry their standard phrase: nothing is stored (or allocated) then.
    h.final_text_std = text == detail::standardPhrase(s);
    if (h.final_text_std) {
      h.final_text.clear();
      h.final_text.shrink_to_fit();
    } else {
      h.final_text.assign(text);
    }
  }

  void finish(int64_t t) {
    advanceTo(t);
    // Same instant: decided in the order the calls were created (`open` is in the order they
    // were first heard, so the two lists are merged by serial).
    std::vector<std::pair<uint64_t, uint32_t>> order;
    order.reserve(undecided());
    for (const List* l : {&open, &unheard}) {
      for (uint32_t s = l->head; s != kNil; s = call(s).next) order.emplace_back(call(s).serial, s);
    }
    std::sort(order.begin(), order.end());
    for (const auto& [serial, slot] : order) {
      expireHops(call(slot), now);
      decide(slot, now, DecidedBy::kEndOfInput);
    }
    while (pending.head != kNil) dropPending(pending.head);
  }
};

CallTracker::CallTracker(TrackerConfig cfg, Sink sink)
    : impl_(std::make_unique<Impl>(cfg, std::move(sink))) {}

CallTracker::~CallTracker() = default;

void CallTracker::onEvent(const sipparse::SipEvent& ev) { impl_->onEvent(ev); }

void CallTracker::setTraceHooks(TraceHooks hooks) { impl_->trace = std::move(hooks); }

void CallTracker::advanceTo(int64_t now_us) { impl_->advanceTo(now_us); }

void CallTracker::finish(int64_t now_us) { impl_->finish(now_us); }

void CallTracker::setSequence(uint64_t seq) {
  impl_->sequenced = true;
  if (seq != impl_->sequence) impl_->serials_in_sequence = 0;
  impl_->sequence = seq;
}

const CallTracker::Decision& CallTracker::decision() const { return impl_->decision; }

size_t CallTracker::openCalls() const { return impl_->undecided() + impl_->pending.size; }

void CallTracker::forEachCounter(
    const std::function<void(std::string_view name, uint64_t value)>& fn) const {
  for (size_t i = 0; i < kCounterCount; ++i) fn(kCounterNames[i], impl_->counters[i]);
  for (int i = 0; i < kOutcomeCount; ++i) {
    const std::string name = std::string("calls.outcome.") + outcomeName(static_cast<Outcome>(i));
    fn(name, impl_->outcome_counts[static_cast<size_t>(i)]);
  }
}

}  // namespace mcn::calls
