#pragma once
// The SIP side of the generator: a Scene holds the nodes, the calls' legs and hop transactions,
// and the SIP messages (Packet) they produce with their capture timestamps. Scenarios describe a
// call message by message on an explicit timeline; the Scene renders RFC 3261 text (Via stacks,
// branches, tags, CSeq, exact Content-Length) and applies the capture effects afterwards: UDP
// retransmissions (RFC 3261 §17.1.1.2 Timer A, §17.1.2.2 Timer E, §13.3.1.4 2xx) and SPAN
// duplicates (every frame twice, a few µs apart).

#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "frame_writer.h"
#include "rng.h"

namespace mcn::gen {

inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
inline constexpr int64_t kT1Us = 500000;   // RFC 3261 T1
inline constexpr int64_t kT2Us = 4000000;  // RFC 3261 T2
inline constexpr const char* kDomain = "ims.example.com";

struct SceneOptions {
  bool ipv6 = false;
  bool tcp = false;
  bool sctp = false;  // Via transport SCTP; like TCP, no SIP retransmissions
  bool isup = false;  // INVITE bodies are multipart/mixed SDP + ISUP IAM (RFC 3204), as SIP-I
  int retrans = 0;    // extra copies per retransmittable message (UDP only)
  bool dup = false;   // SPAN duplicates: every frame twice
  int64_t dup_gap_us = 37;
};

enum class Rtx : uint8_t { kNone, kInvite, kOther };

struct Packet {
  int64_t ts_us = 0;
  uint16_t src = 0, dst = 0;
  std::string payload;
  Corruption corrupt;
  Rtx rtx = Rtx::kNone;
  int64_t rtx_until = kNever;  // retransmissions only strictly before this instant
  uint64_t order = 0;          // tie-break for equal timestamps: creation order
  int64_t payload_sum = -1;    // checksumAdd(0, payload) when precomputed (mix), else -1
  int64_t mirror_of_us = -1;   // --dup: a SPAN copy of the packet sent then (same IP packet)
};

struct Via {
  uint16_t node = 0;
  std::string branch;
};

// One Call-ID as the caller's side created it.
struct Leg {
  std::string call_id;
  std::string from;  // From value without tag, e.g. "Li Wei" <sip:+86...@ims.example.com>
  std::string from_tag;
  std::string to;           // To value without tag
  std::string contact_uri;  // caller's Contact URI (remote target for callee->caller requests)
  std::vector<std::string>
      invite_headers;   // identity lines on every INVITE hop (PAI, Privacy, PCV)
  uint16_t origin = 0;  // caller's node (SDP offer address)
  uint32_t cseq = 1;
};

// A transaction at one hop: a request from src to dst with its Via stack. Responses travel back
// dst -> src with the same Via stack.
struct Txn {
  Leg* leg = nullptr;
  uint16_t src = 0, dst = 0;
  std::string method;
  uint32_t cseq = 0;
  std::string ruri;
  std::vector<Via> vias;  // top first
  std::string from;       // full From value incl. tag
  std::string to;         // full To value (with tag if in-dialog)
  bool to_has_tag = false;
  size_t request_index = 0;  // Packet index of the request
  bool final_seen = false;
};

struct Resp {
  Resp(int c, std::string ph, std::string t = {}, std::string ct = {}, std::string b = {},
       std::vector<std::string> e = {})
      : code(c),
        phrase(std::move(ph)),
        tag(std::move(t)),
        contact(std::move(ct)),
        body(std::move(b)),
        extra(std::move(e)) {}
  int code;
  std::string phrase;
  std::string tag;                 // To tag to add (ignored for 100 and when To has one)
  std::string contact;             // Contact URI, empty: none
  std::string body;                // SDP, empty: none
  std::vector<std::string> extra;  // extra header lines
};

// An established (or early) dialog between the leg's caller and one callee device.
struct Dialog {
  Leg* leg = nullptr;
  std::string callee_tag;
  std::string callee_contact;  // remote target for caller->callee requests
  uint32_t callee_cseq = 1;
};

class Scene {
 public:
  // shared_nodes: a node table owned by the caller (the mix shares one across many calls);
  // null: the Scene owns its own.
  Scene(SceneOptions opt, int64_t start_us, uint64_t seed,
        std::vector<Node>* shared_nodes = nullptr);

  const SceneOptions& options() const { return opt_; }
  Rng& rng() { return rng_; }
  int64_t at(int64_t ms) const { return start_us_ + ms * 1000; }
  int64_t start() const { return start_us_; }

  // Nodes: dotted IPv4 in a documentation range; the IPv6 address is derived from it.
  uint16_t addNode(std::string name, std::string_view ipv4);
  const std::vector<Node>& nodes() const { return *nodes_; }
  std::string host(uint16_t node) const;       // 192.0.2.10 | [2001:db8:c000:2::a]
  std::string hostPort(uint16_t node) const;   // host:5060
  const std::string& ip(uint16_t node) const;  // without brackets (SDP)

  std::string newBranch() { return "z9hG4bK" + rng_.hex(16); }
  std::string newTag() { return rng_.hex(10); }
  std::string sdp(uint16_t node, uint16_t rtp_port);

  Leg& newLeg(std::string call_id, std::string from, std::string to, uint16_t origin,
              std::string contact_uri);

  // An initial INVITE at one hop. parent: the same INVITE at the previous hop (its Via stack is
  // kept under the new top Via); null for the caller's own hop.
  Txn& invite(int64_t t, Leg& leg, uint16_t src, uint16_t dst, std::string ruri, const Txn* parent,
              const std::vector<std::string>& extra = {}, bool sdp = true, uint32_t cseq = 0);
  // CANCEL for an INVITE hop (RFC 3261 §9.1: one Via, the INVITE's top Via).
  Txn& cancel(int64_t t, Txn& inv, const std::string& reason_line = {});
  // ACK for a non-2xx final response: same transaction, same branch (RFC 3261 §17.1.1.3).
  void ackNon2xx(int64_t t, Txn& inv, const std::string& to_tag);
  // In-dialog request (ACK for 2xx, BYE, ...) at one hop; a new transaction.
  Txn& inDialog(int64_t t, const std::string& method, Dialog& d, bool from_caller, uint16_t src,
                uint16_t dst, const Txn* parent, uint32_t cseq);
  // Any request with explicit headers (REGISTER, OPTIONS, SUBSCRIBE, NOTIFY; garbage builders).
  Txn& request(int64_t t, const std::string& method, Leg& leg, uint16_t src, uint16_t dst,
               std::string ruri, std::string from, std::string to, uint32_t cseq,
               const std::vector<std::string>& extra, const std::string& content_type = {},
               const std::string& body = {});

  void respond(int64_t t, Txn& txn, const Resp& r);
  // The request of txn sent again unchanged (a retransmission that is part of the scenario).
  void resend(int64_t t, const Txn& txn);
  // Raw payload (garbage, malformed SIP) or a corrupted frame.
  void raw(int64_t t, uint16_t src, uint16_t dst, std::string payload, Corruption c = {});

  std::vector<Packet>& packets() { return packets_; }

  // Direct rendering helpers for the high-volume non-call messages (no Leg/Txn bookkeeping).
  void appendHostPort(std::string& s, uint16_t node) const;
  void appendNewVia(std::string& s, uint16_t node);  // "Via: ...;branch=<new>\r\n"

  // Retransmissions, time order, duplicates. Call once, then write(). with_sums: precompute
  // each payload's checksum sum here (on the caller's thread) for FrameWriter::send.
  void finalize(bool with_sums = false);
  void write(FrameWriter& w) const;

 private:
  Packet& push(int64_t t, uint16_t src, uint16_t dst, std::string payload);
  void appendVia(std::string& s, const Via& v, bool bottom) const;
  std::string renderRequest(const Txn& txn, int max_forwards, const std::vector<std::string>& extra,
                            const std::string& content_type, const std::string& body) const;

  SceneOptions opt_;
  int64_t start_us_;
  Rng rng_;
  std::vector<Node> own_nodes_;
  std::vector<Node>* nodes_;
  std::deque<Leg> legs_;
  std::deque<Txn> txns_;
  std::vector<Packet> packets_;
};

}  // namespace mcn::gen
