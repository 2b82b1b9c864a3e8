#pragma once
// SIP over TCP: per-direction stream reassembly and SIP framing (RFC 3261 §18.3).
//
// Each direction of a connection is its own byte stream, keyed by the 4-tuple and the VLAN stack.
// Segments are placed by sequence number (RFC 9293 §3.4, arithmetic modulo 2^32), and the
// in-order bytes are cut into messages by Content-Length (sip_framer.h). What the decoder sees
// on a mirror port, and what this class does about it:
//
// - SYN: the stream starts at ISN+1 at a message boundary, so segments that arrive before the
//   one they follow are held, not lost. A SYN with another ISN on a known stream is a new
//   connection on the same ports: the old one is closed first.
// - No SYN (capture started mid-connection, or the stream expired while idle): a payload segment
//   of an unknown stream opens it only if it holds a SIP start line at a line start (its first
//   byte counts as one); bytes before that line are skipped. Anything else is `tcp.not_sip` and
//   opens nothing, so other TCP traffic on the port costs no table entry.
// - Retransmitted and overlapping segments: bytes already received are ignored; the first copy
//   of a byte wins, whether it was delivered already or is held out of order.
// - Out of order: segments ahead of the next expected byte are held, up to max_stream_bytes per
//   direction (counted in the same budget as a partial message).
// - Gaps: a hole not filled within gap_timeout_us of packet time, or once more than
//   max_stream_bytes would be held, is skipped (`tcp.gaps`). The partial message before it is
//   dropped (`tcp.unreassembled`) and the stream looks for the next SIP start line at a line
//   start (`tcp.resync`); a SPAN port that dropped a segment never sees it retransmitted, so
//   waiting longer only delays the messages behind the hole.
// - Unframeable bytes (not a start line where a message should begin, a Content-Length that is
//   not a number) are treated like a gap: skipped up to the next start line.
// - A message without Content-Length is read as having no body (RFC 3261 §18.3 makes the header
//   mandatory on streams; `tcp.no_content_length`). If it did have one, the body is then skipped
//   as unframeable bytes.
// - A message longer than max_stream_bytes is skipped whole when its length is known (headers
//   complete), so the stream stays in step; otherwise the stream resynchronises
//   (`tcp.stream_bytes_cap`).
// - FIN closes its direction once every byte before it is in; RST closes both directions. Holes
//   left at close are skipped, complete messages after them are emitted, and a partial message
//   is counted (`tcp.unreassembled`).
// - Idle timeout (idle_timeout_us of packet time without payload): the direction is closed the
//   same way (`tcp.expired`). Forgetting an idle stream with nothing buffered loses nothing: its
//   next message starts a segment with a start line and is picked up again.
// - Caps: max_streams directions (`tcp.streams_table_full` counts segments refused because a new
//   stream could not be opened), max_stream_bytes per direction, max_total_bytes over all streams
//   (`tcp.total_bytes_cap` counts out-of-order segments and partial messages refused).
//
// Timestamps: a message carries the capture time of the segment that completed it (the latest
// arrival among the segments holding its bytes), so a replay sees an INVITE at the time its last
// byte arrived. Time is packet time: the largest timestamp seen so far drives both timeouts, and
// the expiry lists are kept in order of that time, so expiry never scans the table.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "counters.h"
#include "mcn/capture/decoder.h"
#include "mcn/capture/sip_payload.h"

namespace mcn::capture::detail {

// One direction of a TCP connection. The VLAN stack and the tunnel it came through are part of
// it: two VLANs or two tunnels that reuse the same addresses are two streams.
struct StreamKey {
  Endpoint src;
  Endpoint dst;
  uint8_t vlan_depth = 0;
  std::array<uint16_t, kMaxVlanDepth> vlan{};
  uint64_t tunnel = 0;  // digest of the tunnel headers (tunnels.h), 0 when not tunnelled
  friend bool operator==(const StreamKey&, const StreamKey&) = default;
  StreamKey reversed() const {
    StreamKey r = *this;
    r.src = dst;
    r.dst = src;
    return r;
  }
};

struct StreamKeyHash {
  size_t operator()(const StreamKey& k) const noexcept;
};

struct TcpSegment {
  StreamKey key;
  int64_t ts_us = 0;
  uint32_t seq = 0;
  bool syn = false;
  bool fin = false;
  bool rst = false;
  std::string_view payload;
};

// Receives every framed message. `key` is the direction it travelled; `bytes` is valid only
// during the call.
class MessageSink {
 public:
  virtual void onMessage(const StreamKey& key, int64_t ts_us, std::string_view bytes) = 0;

 protected:
  ~MessageSink() = default;
};

class TcpReassembler {
 public:
  TcpReassembler(const TcpReassemblyConfig& cfg, Counters& counters);
  ~TcpReassembler();
  TcpReassembler(const TcpReassembler&) = delete;
  TcpReassembler& operator=(const TcpReassembler&) = delete;

  // One decoded segment (payload already bounded by the IP length). Runs the expiry of other
  // streams first, on the segment's time. Never throws; refusals are counted.
  void onSegment(const TcpSegment& seg, MessageSink& sink);

  // Advances packet time without a segment: idle streams expire and old holes are skipped.
  void advance(int64_t now_us, MessageSink& sink);

  // Closes every stream, oldest activity first (end of a replay): holes are skipped, complete
  // messages emitted, partial ones counted.
  void flush(MessageSink& sink);

  // For benchmarks and tests of the caps.
  size_t streams() const { return table_.size(); }
  size_t heldBytes() const { return held_; }
  size_t peakHeldBytes() const { return peak_held_; }

 private:
  struct Stream;
  struct Piece {
    std::string bytes;
    int64_t ts_us = 0;
  };
  enum class CloseReason : uint8_t { kFin, kRst, kExpired, kNewConnection, kFlush };

  // An intrusive doubly linked list ordered by packet time, so expiry pops from the front.
  struct Link {
    Stream* prev = nullptr;
    Stream* next = nullptr;
    bool linked = false;
  };
  struct List {
    Stream* head = nullptr;
    Stream* tail = nullptr;
  };
  static void unlink(List& l, Link Stream::*m, Stream* s);
  static void pushBack(List& l, Link Stream::*m, Stream* s);

  Stream* open(const TcpSegment& seg, bool from_syn);
  void close(Stream* s, CloseReason why, MessageSink& sink);
  void expire(MessageSink& sink);
  void touch(Stream* s);
  void updateHoleTimer(Stream* s, bool advanced);

  // Holds bytes that start at stream position `pos` > next_pos; false if the total cap refused.
  bool holdAhead(Stream* s, uint64_t pos, std::string_view data, int64_t ts_us);
  void appendInOrder(Stream* s, std::string_view data, int64_t ts_us);
  void drain(Stream* s);
  void skipHole(Stream* s);
  void frame(Stream* s, MessageSink& sink);
  bool hunt(Stream* s);
  void keepTail(Stream* s);
  void refuseTail(Stream* s);
  void enforceStreamCap(Stream* s, MessageSink& sink);
  void dropBuffered(Stream* s, size_t n);
  void clearBuffer(Stream* s, bool count_partial);
  int64_t messageTs(Stream* s, uint64_t end_pos);

  TcpReassemblyConfig cfg_;
  Counters& counters_;
  std::unordered_map<StreamKey, std::unique_ptr<Stream>, StreamKeyHash> table_;
  List idle_;  // every stream, by last payload time
  List gaps_;  // streams with a hole, by the time the hole opened
  int64_t now_us_ = 0;
  size_t held_ = 0;
  size_t peak_held_ = 0;
};

}  // namespace mcn::capture::detail
