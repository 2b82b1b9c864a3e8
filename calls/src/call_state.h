#pragma once
// Internal state of one call while the tracker follows it (see calls/RULES.md for the terms:
// leg, hop transaction, target, aggregate). Kept compact: a simple call (one leg, one or two
// hops) stays well under 1 KiB. Every timestamp is a first-copy value (the minimum over the
// copies seen), so duplicated frames and retransmissions never move it.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/calls/tracker.h"
#include "mcn/capture/sip_payload.h"
#include "mcn/sipparse/sip_event.h"

namespace mcn::calls::detail {

inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
inline constexpr int64_t kBeginning = std::numeric_limits<int64_t>::min();
inline constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();

// RFC 3261 §9.1: a CANCELled client transaction with no final response is given up after
// 64*T1; the hop is then final (without a status) at cancel + 32 s.
inline constexpr int64_t kCancelGiveUpUs = 64 * 500 * 1000;

// What a Reason header (RFC 3326) on a CANCEL or final response says about why a branch ended.
enum class ReasonKind : uint8_t {
  kNone,       // no Reason, or one that says nothing we use (e.g. Q.850;cause=16)
  kElsewhere,  // SIP;cause=200 or Q.850;cause=26: answered on another branch
  kDeclined,   // SIP;cause=600 or 603: another branch declined
  kNoAnswer,   // SIP;cause=408 or 480, Q.850;cause=18 or 19: a proxy's no-answer timer
};

// One forwarding fact read from a Diversion (RFC 5806) or History-Info (RFC 7044) entry.
struct Forward {
  std::string from;    // the forwarded (diverting) number
  std::string to;      // the number the call went on to; empty: the carrying hop's target
  std::string reason;  // Diversion reason, or the History-Info cause mapped per RFC 4458
};

// Bits of Hop::seen: which requests of the hop transaction were already seen.
enum SeenBit : uint8_t {
  kSeenInvite = 1 << 0,
  kSeenCancel = 1 << 1,
};

// What only some hops carry, kept out of line so a plain hop stays small.
struct HopExtra {
  std::string pcpi;         // P-Called-Party-ID number (else raw user)
  std::string cancel_text;  // CANCEL: Reason text
  // Request-URI user when it is no number and the hop was retargeted or goes to voicemail
  // (sip:voicemail@vm.example): the hop's target, never the To number it was forwarded from.
  std::string ruri_user;
  std::vector<Forward> forwards;
};

// RFC 3261 §21 reason phrase of a status code, empty if not a common one. A final response
// whose text is this phrase does not store it.
std::string_view standardPhrase(int status);

// One hop transaction: (Call-ID, top Via branch, CSeq) of an initial INVITE at one hop.
struct Hop {
  uint64_t branch_key = 0;  // hash of the top Via branch (and Via count when there is none)
  uint32_t cseq = 0;
  uint32_t ring_tag = 0;   // hash of the To tag of the first 180/183 (forks differ)
  uint32_t final_tag = 0;  // hash of the To tag of the final response
  uint8_t leg = 0;         // index into Call::legs
  uint8_t via_count = 0;   // Via values of this hop's messages (saturates at 255)
  uint8_t seen = 0;        // SeenBit
  bool has_invite = false;
  bool forwarded = false;       // the INVITE carried Diversion or a retargeting History-Info entry
  bool voicemail = false;       // its Request-URI is a configured voicemail identity
  bool expired = false;         // no final response by hopDeadline()
  bool final_text_std = false;  // final text is standardPhrase(final_status), not stored
  capture::Transport transport = capture::Transport::kUdp;  // of the INVITE
  ReasonKind cancel_kind = ReasonKind::kNone;
  ReasonKind final_kind = ReasonKind::kNone;
  int16_t final_status = 0;   // 0: none yet
  int64_t first_ts = kNever;  // earliest message of any kind
  int64_t last_ts = kBeginning;
  int64_t invite_ts = kNever;
  int64_t ring_ts = kNever;  // first 180/183
  int64_t final_ts = kNever;
  int64_t cancel_ts = kNever;
  std::string ruri_num;    // Request-URI number (empty if the user part is not a number)
  std::string final_text;  // final response: Reason text, else its reason phrase (see above)
  std::unique_ptr<HopExtra> extra;

  bool hasFinal() const { return final_status != 0; }
  std::string_view finalText() const {
    return final_text_std ? standardPhrase(final_status) : std::string_view(final_text);
  }
  std::string_view pcpi() const {
    return extra ? std::string_view(extra->pcpi) : std::string_view();
  }
  std::string_view ruriUser() const {
    return extra ? std::string_view(extra->ruri_user) : std::string_view();
  }
  std::string_view cancelText() const {
    return extra ? std::string_view(extra->cancel_text) : std::string_view();
  }
  const std::vector<Forward>& forwards() const;
  HopExtra& mutableExtra() {
    if (!extra) extra = std::make_unique<HopExtra>();
    return *extra;
  }
  bool is2xx() const { return final_status >= 200 && final_status < 300; }
  int64_t startTs() const { return has_invite ? invite_ts : first_ts; }
};

// A colleague's phone took over a ringing dialog of this call (RFC 3891 Replaces, RFC 5359
// §2.9 call pickup): its INVITE named this call's Call-ID, the ringing phone's To tag and the
// caller's From tag.
struct Pickup {
  uint32_t to_tag = 0;  // hash32 of the replaced dialog's To tag; 0: none given
  std::string by;       // the picking phone's number (its INVITE's caller identity)
  std::string call_id;  // Call-ID of the pickup INVITE (a call of its own)
  int64_t invite_ts = kNever;
  int64_t answer_ts = kNever;  // first 2xx to the pickup INVITE: the pickup worked
};

// One Call-ID of the call. The tracker's Call-ID index refers to it (call slot, leg index).
struct Leg {
  std::string call_id;
  uint64_t id_hash = 0;   // hash64(call_id): the index entry is found again without rehashing
  std::string to;         // To number, else the raw To user
  uint32_t from_tag = 0;  // hash of the From tag of its first request
  // Set when the call is decided: CSeq of a 401/407 the caller got that no INVITE retried (0 if
  // none). A retry with a higher CSeq after that is a new call (calls.late_auth_retries).
  uint32_t challenged_cseq = 0;
  // An INVITE with Replaces started this leg: the Call-ID of the dialog it takes over, whose
  // call is told when this leg's INVITE gets a 2xx (empty: none).
  std::string replaces;
};

// A correlation key of the call ("i:" icid-value or "c:" configured header value). The tracker's
// key index refers to it (call slot, key index).
struct CorrelationKey {
  std::string value;
  uint64_t hash = 0;  // hash64(value)
};

// A message already seen in a call, to tell duplicated frames and retransmissions apart.
struct SeenMessage {
  uint32_t fingerprint = 0;
  int32_t ms = 0;  // last copy, milliseconds after Call::base_us
};

inline constexpr size_t kMaxCaptureIds = 8;

// Adds a capture id to a call's ascending set (full: ignored).
inline void addCaptureId(std::vector<uint32_t>& ids, uint32_t id) {
  auto it = std::lower_bound(ids.begin(), ids.end(), id);
  if ((it != ids.end() && *it == id) || ids.size() >= kMaxCaptureIds) return;
  ids.insert(it, id);
}

struct Call {
  enum class State : uint8_t { kPending, kOpen, kLingering };

  State state = State::kPending;
  uint32_t prev = kNil;  // intrusive list of the calls in the same state, oldest first
  uint32_t next = kNil;
  uint64_t serial = 0;  // order of becoming open: breaks ties between timers deterministically
  int64_t expiry_us = kNever;      // pending: orphaned at; lingering: forgotten at
  int64_t scheduled_due = kNever;  // due time of this call's live timer-heap entry
  uint32_t pending_msgs = 0;       // messages held while no initial INVITE was seen
  uint8_t caller_rank = 0;         // 0 none, 1 raw From user, 2 From number, 3 PAI
  bool withheld = false;
  // An INVITE of the call carried the origin marker "callback..." (ParserConfig::origin_header):
  // mcn placed it itself (RULES.md "Calls mcn placed").
  bool own_callback = false;
  bool heard = false;  // a response of the call was seen (open calls: which list holds it)
  // Its hops changed (a new hop, a merge, a pending call opened) since the tracker last
  // computed its due: the next message of the call recomputes it (tracker.cc, apply).
  bool due_stale = false;
  int64_t caller_ts = kNever;
  std::string caller;
  std::string caller_name;
  std::vector<Leg> legs;
  std::vector<Hop> hops;
  std::vector<CorrelationKey> keys;
  std::vector<Pickup> pickups;  // colleagues that took over one of its ringing dialogs
  // Keys of this call in the tracker's leg-join index (hash of caller and To of each leg's
  // initial INVITE) and its entry under each, removed when the call stops being open.
  struct JoinRef {
    uint64_t key;
    uint32_t node;
  };
  std::vector<JoinRef> join_keys;
  // HEP agents' capture ids of its messages, ascending, at most kMaxCaptureIds (records'
  // capture_ids); empty unless the input was HEP.
  std::vector<uint32_t> capture_ids;
  int64_t base_us = kNever;  // time origin of `seen`
  uint8_t seen_next = 0;     // next `seen` slot to overwrite when full
  std::vector<SeenMessage> seen;

  // The correlation value for the output (first key without its namespace prefix).
  std::string_view correlation() const;
};

// Deadline after which an unanswered hop is final: the ring timeout after its INVITE (or its
// first message), or 64*T1 after a CANCEL that got no final response.
int64_t hopDeadline(const Hop& hop, const TrackerConfig& cfg);

// A 401/407 (RFC 3261 §22.2) the caller got: the final response of a first hop of its leg (no
// hop of the leg has fewer Vias) that no INVITE of the leg with a higher CSeq followed yet.
bool awaitingAuthRetry(const Call& call, const Hop& hop);

ReasonKind classifyReasons(const std::vector<sipparse::ReasonValue>& reasons);
// The first Reason header text (RFC 3326 text=), empty if none.
std::string_view reasonText(const std::vector<sipparse::ReasonValue>& reasons);

// Forwarding facts of an INVITE: each Diversion entry names a number that forwarded (most recent
// first, RFC 5806 §4); each History-Info entry carrying a cause (RFC 4458) names its parent entry
// (RFC 7044 §9.2 index) as forwarded to itself.
std::vector<Forward> extractForwards(const sipparse::SipEvent& ev);
bool hasRetargeting(const sipparse::SipEvent& ev);

// The Request-URI is one of cfg.voicemail (a user@host, or a number normalised by the dial plan).
bool isVoicemail(const sipparse::NameAddr& ruri, const std::vector<std::string>& voicemail);

// RFC 4458 §3.1 cause values -> RFC 5806 reason tokens.
const char* historyInfoCauseReason(int cause);

// Number of a name-addr: normalised number, else the raw user part.
const std::string& numberOrUser(const sipparse::NameAddr& na);

bool isAnonymous(const sipparse::NameAddr& from);
bool privacyWithholds(const std::vector<std::string>& privacy);

// 64x64 -> 128-bit multiply folded to 64 bits: the mixing step of wyhash (Wang Yi, public
// domain), one multiply that spreads every input bit over the whole result.
inline uint64_t mulFold(uint64_t a, uint64_t b) {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint64_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Hash of a Call-ID, Via branch, tag or correlation key: wyhash's construction (16 bytes per
// step, the last 16 read overlapping, small inputs read as two overlapping 4-byte pairs),
// inline because the tracker hashes three or four strings per message. Fixed constants: the
// same value on every run (output never depends on it: it only tells keys apart and places
// them in the tracker's index, whose low bits it mixes as well as its high ones).
inline uint64_t hash64(std::string_view s) {
  constexpr uint64_t kS0 = 0xa0761d6478bd642fULL;
  constexpr uint64_t kS1 = 0xe7037ed1a0b428dbULL;
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t seed = kS0;
  uint64_t a = 0;
  uint64_t b = 0;
  if (n > 16) {
    size_t left = n;
    for (; left > 16; left -= 16, p += 16) seed = mulFold(load64(p) ^ kS1, load64(p + 8) ^ seed);
    a = load64(p + left - 16);
    b = load64(p + left - 8);
  } else if (n >= 4) {
    const size_t mid = (n >> 3) << 2;  // 0 below 8 bytes, else 4
    a = (load32(p) << 32) | load32(p + mid);
    b = (load32(p + n - 4) << 32) | load32(p + n - 4 - mid);
  } else if (n > 0) {
    a = (uint64_t{static_cast<uint8_t>(p[0])} << 16) |
        (uint64_t{static_cast<uint8_t>(p[n >> 1])} << 8) | static_cast<uint8_t>(p[n - 1]);
  }
  const __uint128_t r = static_cast<__uint128_t>(a ^ kS1) * (b ^ seed);
  return mulFold(static_cast<uint64_t>(r) ^ kS0 ^ n, static_cast<uint64_t>(r >> 64) ^ kS1);
}

// Combine a hash with an integer or another hash (boost::hash_combine's mixing, widened to 64
// bits).
inline uint64_t hashMore(uint64_t h, uint64_t v) {
  return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 12) + (h >> 4));
}

// A 64-bit hash folded to 32 bits (tags are kept in 32).
inline uint32_t fold32(uint64_t h) { return static_cast<uint32_t>(h ^ (h >> 32)); }
inline uint32_t hash32(std::string_view s) { return fold32(hash64(s)); }

}  // namespace mcn::calls::detail
