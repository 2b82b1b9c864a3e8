#pragma once
// SIP over SCTP: reassembly of user messages that SCTP fragmented across DATA or I-DATA chunks.
//
// RFC 4168 §5 puts one SIP message in one SCTP user message. A user message larger than the path
// MTU allows is split into chunks (RFC 9260 §6.9): the first carries B, the last E, and with DATA
// chunks the fragments take consecutive TSNs. With I-DATA (RFC 8260 §2.1) fragments of several
// messages may interleave, so each names its message (MID) and its place in it (FSN, 0 for the
// B fragment, whose FSN field holds the PPID instead). The decoder emits a chunk with B and E both
// set as it is; every other DATA/I-DATA chunk comes here.
//
// Key: the association direction (src/dst address and port, the verification tag of the packet
// header, the VLAN stack and the tunnel digest, as the IP and TCP reassemblers key), then the
// stream id and:
// - ordered DATA: the SSN; the message is the run of consecutive TSNs from a B to an E.
// - unordered DATA (U flag): no usable SSN (RFC 9260 §3.3.1 says to ignore it), so every
//   unordered fragment of a stream shares one bucket and a message is any complete B..E run of
//   consecutive TSNs in it.
// - I-DATA: the U flag and the MID; fragments are placed by FSN.
// Sequence numbers are compared modulo 2^32 (RFC 9260 §1.6 serial arithmetic), so a message whose
// TSNs wrap past 2^32 reassembles like any other.
//
// What arrives on a mirror port, and what this class does about it:
// - Out of order: fragments wait until the run from B to E is complete.
// - A fragment whose sequence number is already held, or that belongs to a message already
//   reassembled (an SCTP retransmission after a lost SACK, a second mirror copy), is dropped
//   (`sctp.frag_duplicates`): a reassembled message leaves a small record of its sequence range
//   behind for the timeout, so a late copy never starts a message that can only time out.
// - A message whose B fragment does not start like SIP (Diameter, M3UA on the same links) is not
//   held: its fragments are dropped until its E (`sctp.not_sip` once per message).
// - Empty DATA chunks (RFC 9260 §3.3.1 forbids them) are `sctp.frag_malformed`.
//
// Bounds, each refusal counted:
// - max_message_bytes of user data per message, per bucket for unordered DATA
//   (`sctp.frag_too_big`, once per message; its later fragments are dropped until its E).
// - max_messages_per_assoc messages in progress per association direction: a fragment that would
//   start one more is refused (`sctp.frag_assoc_full`), so one busy or hostile association cannot
//   fill the table for the others.
// - max_messages in progress in all (`sctp.frag_table_full`) and max_bytes held, data plus
//   bookkeeping (`sctp.frag_memory_cap`): the oldest message is dropped to make room, one count
//   per message dropped, as the IP reassembler does (a genuine message completes within
//   milliseconds; refusing new ones would lose every genuine message until a flood times out).
//   A fragment that does not fit into an empty table is refused (`sctp.frag_memory_cap`).
// - timeout_us of packet time after a message's first fragment (`sctp.frag_timeouts`). Messages
//   sit in a list in the order they were started, so expiry looks at the head only.
// - flush() (end of a replay) counts every message still incomplete (`sctp.frag_incomplete`).
//
// A completed message is returned to the decoder, which emits it (looks like SIP or
// `sctp.not_sip`) with the time of the chunk that completed it, the way an unfragmented one goes.

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "counters.h"
#include "mcn/capture/decoder.h"
#include "mcn/capture/sip_payload.h"

namespace mcn::capture::detail {

// One direction of an SCTP association.
struct SctpAssocKey {
  Endpoint src;
  Endpoint dst;
  uint32_t vtag = 0;  // verification tag of the common header: the receiver's tag, fixed per
                      // association (RFC 9260 §8.5); tells two associations on one 4-tuple apart
  uint8_t vlan_depth = 0;
  std::array<uint16_t, kMaxVlanDepth> vlan{};
  uint64_t tunnel = 0;  // digest of the tunnel headers (tunnels.h), 0 when not tunnelled
  friend bool operator==(const SctpAssocKey&, const SctpAssocKey&) = default;
};

enum class SctpChunkKind : uint8_t { kData, kIData };

// One DATA or I-DATA chunk without both B and E, already checked against its chunk length.
struct SctpFragment {
  SctpAssocKey assoc;
  int64_t ts_us = 0;
  SctpChunkKind kind = SctpChunkKind::kData;
  bool begin = false;      // B
  bool end = false;        // E
  bool unordered = false;  // U
  uint32_t tsn = 0;
  uint16_t stream = 0;
  uint32_t ssn_or_mid = 0;  // DATA: SSN (16 bits); I-DATA: MID
  uint32_t fsn = 0;         // I-DATA only: FSN, 0 for the B fragment
  std::string_view data;    // user data
};

class SctpReassembler {
 public:
  // Approximate heap cost of the bookkeeping, charged against max_bytes.
  static constexpr size_t kFragmentOverhead = 64;
  static constexpr size_t kMessageOverhead = 256;

  SctpReassembler(const SctpReassemblyConfig& cfg, Counters& counters, uint64_t hash_seed = 0);
  ~SctpReassembler();
  SctpReassembler(const SctpReassembler&) = delete;
  SctpReassembler& operator=(const SctpReassembler&) = delete;

  // Offer one fragment. When it completes a user message, returns a view of the whole message,
  // valid until the next call. Never throws; refusals are counted.
  std::optional<std::string_view> addFragment(const SctpFragment& f);

  // Packet time has reached now_us: drop messages that timed out. O(1) when nothing expires.
  void expire(int64_t now_us);

  // End of input: count and drop every incomplete message.
  void flush();

  // For tests and benchmarks.
  size_t messagesHeld() const { return index_.size(); }
  size_t bytesHeld() const { return bytes_held_; }
  size_t peakBytesHeld() const { return peak_bytes_held_; }

 private:
  struct MessageKey {
    SctpAssocKey assoc;
    uint16_t stream = 0;
    uint8_t mode = 0;  // 0 ordered DATA, 1 unordered DATA, 2 ordered I-DATA, 3 unordered I-DATA
    uint32_t id = 0;   // SSN (ordered DATA), MID (I-DATA), 0 (unordered DATA)
    friend bool operator==(const MessageKey&, const MessageKey&) = default;
  };
  struct KeyHash {
    uint64_t seed;
    size_t operator()(const SctpAssocKey& k) const;
    size_t operator()(const MessageKey& k) const;
  };
  struct Piece {
    std::string bytes;
    bool begin = false;
    bool end = false;
  };
  // What a bucket holds: fragments being collected, or a closed sequence range it remembers so
  // late copies of a reassembled (or refused) message are recognised.
  struct Entry {
    MessageKey key;
    int64_t ts_us = 0;  // first fragment, or when it was closed
    // Sequence numbers are stored as offsets from `base`, placed 2^31 below the first one seen,
    // so offsets order as serial numbers do for everything within 2^31 of it.
    uint32_t base = 0;
    std::map<uint32_t, Piece> pieces;
    size_t data_bytes = 0;  // user data held
    size_t held = 0;        // charged against max_bytes
    uint32_t begins = 0, ends = 0;
    bool collecting = true;  // counted against its association's messages in progress
    // Closed ranges [lo, hi] (offsets): fragments in them are duplicates. `refusing`: the range
    // is open at the top until a fragment with E arrives (the message was refused before its end).
    bool has_closed = false;
    bool refusing = false;
    uint32_t closed_lo = 0, closed_hi = 0;
  };
  using Order = std::list<Entry>;

  void drop(Order::iterator it);
  void releaseData(Entry& e);
  void close(Order::iterator it, uint32_t lo, uint32_t hi, bool refusing, int64_t now_us);
  void refuse(Order::iterator it, uint32_t lo, uint32_t off, bool end, int64_t now_us);
  bool makeRoom(size_t need, bool new_message, const Entry* keep);
  void assocDone(const SctpAssocKey& k);
  bool assocFull(const SctpAssocKey& k) const;

  SctpReassemblyConfig cfg_;
  Counters& counters_;
  int64_t timeout_us_;
  Order order_;  // oldest first
  std::unordered_map<MessageKey, Order::iterator, KeyHash> index_;
  std::unordered_map<SctpAssocKey, uint32_t, KeyHash> in_progress_;  // per association direction
  size_t bytes_held_ = 0;
  size_t peak_bytes_held_ = 0;
  std::string out_;  // the last reassembled message
};

}  // namespace mcn::capture::detail
