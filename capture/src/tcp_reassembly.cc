#include "tcp_reassembly.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "sip_framer.h"

namespace mcn::capture::detail {
namespace {

// A segment further from the next expected byte than this, behind or ahead, is not part of the
// same byte stream as far as any real sender goes (far beyond the windows SIP connections use).
constexpr int64_t kMaxFar = int64_t{16} << 20;

// What one held out-of-order piece costs besides its bytes (map node, string header), charged to
// the caps so a flood of one-byte segments cannot hide its memory.
constexpr size_t kPieceOverhead = 96;

// A buffer's consumed front is erased once it is larger than this and than what is left.
constexpr size_t kCompactAfter = 4096;

bool onlyCrlf(std::string_view d) { return d.find_first_not_of("\r\n") == std::string_view::npos; }

// Offset of the first line start in `d` (its first byte, or the byte after an LF) where a SIP
// start line stands, or npos.
size_t findStartLine(std::string_view d, size_t from) {
  size_t i = from;
  while (i < d.size()) {
    if (looksLikeSip(d.substr(i))) return i;
    const void* nl = std::memchr(d.data() + i, '\n', d.size() - i);
    if (nl == nullptr) return std::string_view::npos;
    i = static_cast<size_t>(static_cast<const char*>(nl) - d.data()) + 1;
  }
  return std::string_view::npos;
}

inline uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

}  // namespace

size_t StreamKeyHash::operator()(const StreamKey& k) const noexcept {
  uint64_t h = 0;
  uint64_t w[2];
  std::memcpy(w, k.src.addr.data(), 16);
  h = mix(mix(h, w[0]), w[1]);
  std::memcpy(w, k.dst.addr.data(), 16);
  h = mix(mix(h, w[0]), w[1]);
  h = mix(h, (uint64_t{k.src.port} << 32) | (uint64_t{k.dst.port} << 16) | (k.src.v6 ? 1u : 0u) |
                 (uint64_t{k.vlan_depth} << 8));
  for (int i = 0; i < k.vlan_depth && i < kMaxVlanDepth; ++i) h = mix(h, k.vlan[i]);
  h = mix(h, k.tunnel);
  // Final avalanche (splitmix64) so the low bits the bucket index uses depend on every field.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return static_cast<size_t>(h);
}

struct TcpReassembler::Stream {
  StreamKey key;
  Link idle_link;
  Link gap_link;
  int64_t last_us = 0;
  int64_t hole_since_us = 0;

  // Positions count bytes from the stream's first byte (ISN+1, or the first segment seen); the
  // sequence number of position p is base_seq + p modulo 2^32 (RFC 9293 §3.4).
  uint32_t base_seq = 0;
  bool from_syn = false;
  uint64_t next_pos = 0;  // the next byte expected in order

  // In-order bytes not yet framed: buf[head..] holds positions [next_pos - size, next_pos).
  std::string buf;
  size_t head = 0;
  // A segment being framed in place, without a copy, while buf is empty (the common case: whole
  // messages in a segment). Only during onSegment; what is left of it is then copied to buf.
  std::string_view ext;
  // Arrival time of each appended run of bytes, by the position where it ends.
  struct Mark {
    uint64_t end;
    int64_t ts_us;
  };
  std::vector<Mark> marks;
  size_t mark_head = 0;
  // The latest arrival among the bytes already consumed: a message is complete only once every
  // byte before it is in too, so its time is never earlier than this.
  int64_t front_ts = std::numeric_limits<int64_t>::min();

  // Bytes ahead of next_pos, by position; never overlapping one another.
  std::map<uint64_t, Piece> ahead;
  size_t ahead_bytes = 0;

  bool hunting = false;         // lost its place: looking for a SIP start line
  bool picked_up = false;       // ... for the first time, opened mid-stream
  bool hunt_skip_line = false;  // ... but not on the first line (a message that failed to frame)
  uint64_t skip_until = 0;      // bytes before this position are dropped (an oversized message)
  uint64_t need = 0;            // the buffered message is complete at this many bytes

  bool fin = false;
  uint64_t fin_pos = 0;

  std::string_view pending() const {
    return ext.empty() ? std::string_view(buf).substr(head) : ext;
  }
  uint64_t bufStart() const { return next_pos - pending().size(); }
  uint32_t seqAt(uint64_t pos) const { return base_seq + static_cast<uint32_t>(pos); }
};

TcpReassembler::TcpReassembler(const TcpReassemblyConfig& cfg, Counters& counters)
    : cfg_(cfg), counters_(counters) {
  // A zero timeout would expire a stream in the same breath it was put back in line.
  cfg_.idle_timeout_ms = std::max<int64_t>(cfg_.idle_timeout_ms, 1);
  cfg_.gap_timeout_ms = std::max<int64_t>(cfg_.gap_timeout_ms, 1);
  cfg_.max_stream_bytes = std::max<size_t>(cfg_.max_stream_bytes, 1);
}

TcpReassembler::~TcpReassembler() = default;

// ---- expiry lists ------------------------------------------------------------------------------

void TcpReassembler::unlink(List& l, Link Stream::*m, Stream* s) {
  Link& k = s->*m;
  if (!k.linked) return;
  if (k.prev != nullptr) {
    (k.prev->*m).next = k.next;
  } else {
    l.head = k.next;
  }
  if (k.next != nullptr) {
    (k.next->*m).prev = k.prev;
  } else {
    l.tail = k.prev;
  }
  k = Link{};
}

void TcpReassembler::pushBack(List& l, Link Stream::*m, Stream* s) {
  Link& k = s->*m;
  k.prev = l.tail;
  k.next = nullptr;
  k.linked = true;
  if (l.tail != nullptr) {
    (l.tail->*m).next = s;
  } else {
    l.head = s;
  }
  l.tail = s;
}

void TcpReassembler::touch(Stream* s) {
  s->last_us = now_us_;
  unlink(idle_, &Stream::idle_link, s);
  pushBack(idle_, &Stream::idle_link, s);
}

void TcpReassembler::updateHoleTimer(Stream* s, bool advanced) {
  if (s->ahead.empty()) {
    unlink(gaps_, &Stream::gap_link, s);
    return;
  }
  // The hole at next_pos is as old as the moment next_pos last moved.
  if (!s->gap_link.linked || advanced) {
    unlink(gaps_, &Stream::gap_link, s);
    s->hole_since_us = now_us_;
    pushBack(gaps_, &Stream::gap_link, s);
  }
}

void TcpReassembler::expire(MessageSink& sink) {
  const int64_t idle = cfg_.idle_timeout_ms * 1000;
  const int64_t gap = cfg_.gap_timeout_ms * 1000;
  while (idle_.head != nullptr && idle_.head->last_us + idle <= now_us_) {
    close(idle_.head, CloseReason::kExpired, sink);
  }
  while (gaps_.head != nullptr && gaps_.head->hole_since_us + gap <= now_us_) {
    Stream* s = gaps_.head;
    skipHole(s);
    frame(s, sink);
    updateHoleTimer(s, /*advanced=*/true);  // a later hole gets its own full wait
    if (s->fin && s->ahead.empty() && s->next_pos >= s->fin_pos) close(s, CloseReason::kFin, sink);
  }
}

void TcpReassembler::advance(int64_t now_us, MessageSink& sink) {
  now_us_ = std::max(now_us_, now_us);
  expire(sink);
}

void TcpReassembler::flush(MessageSink& sink) {
  while (idle_.head != nullptr) close(idle_.head, CloseReason::kFlush, sink);
}

// ---- streams -----------------------------------------------------------------------------------

TcpReassembler::Stream* TcpReassembler::open(const TcpSegment& seg, bool from_syn) {
  if (table_.size() >= cfg_.max_streams) {
    counters_.inc(Counter::kTcpStreamsTableFull);
    return nullptr;
  }
  auto owned = std::make_unique<Stream>();
  Stream* s = owned.get();
  s->key = seg.key;
  s->from_syn = from_syn;
  s->base_seq = from_syn ? seg.seq + 1 : seg.seq;
  // Picked up mid-stream: the first byte is taken as a line start, and the stream is synchronised
  // at the first SIP start line from there.
  s->hunting = !from_syn;
  s->picked_up = !from_syn;
  table_.emplace(seg.key, std::move(owned));
  counters_.inc(Counter::kTcpStreams);
  if (!from_syn) counters_.inc(Counter::kTcpMidstream);
  touch(s);
  return s;
}

void TcpReassembler::close(Stream* s, CloseReason why, MessageSink& sink) {
  // Last chance for what is held behind holes: skip them and frame what follows.
  while (!s->ahead.empty()) {
    skipHole(s);
    frame(s, sink);
  }
  clearBuffer(s, /*count_partial=*/true);
  switch (why) {
    case CloseReason::kFin:
    case CloseReason::kRst:
    case CloseReason::kNewConnection:
      counters_.inc(Counter::kTcpClosed);
      break;
    case CloseReason::kExpired:
      counters_.inc(Counter::kTcpExpired);
      break;
    case CloseReason::kFlush:
      break;
  }
  unlink(idle_, &Stream::idle_link, s);
  unlink(gaps_, &Stream::gap_link, s);
  StreamKey key = s->key;
  table_.erase(key);
}

// ---- buffers -----------------------------------------------------------------------------------

void TcpReassembler::dropBuffered(Stream* s, size_t n) {
  if (n == 0) return;
  s->front_ts = std::max(s->front_ts, messageTs(s, s->bufStart() + n));
  bool empty;
  if (!s->ext.empty()) {
    s->ext.remove_prefix(n);  // framed in place: nothing was held
    empty = s->ext.empty();
  } else {
    s->head += n;
    held_ -= n;
    empty = s->head == s->buf.size();
    if (empty) {
      // Give the memory back: an idle stream holds no buffer, whatever its last message was.
      std::string().swap(s->buf);
      s->head = 0;
    }
  }
  if (empty) {
    s->marks.clear();
    if (s->marks.capacity() > 8) std::vector<Stream::Mark>().swap(s->marks);
    s->mark_head = 0;
    return;
  }
  uint64_t start = s->bufStart();
  while (s->mark_head < s->marks.size() && s->marks[s->mark_head].end <= start) ++s->mark_head;
  // Compact once the consumed front is the larger part, so erasing stays linear overall.
  if (s->ext.empty() && s->head > kCompactAfter && s->head * 2 > s->buf.size()) {
    s->buf.erase(0, s->head);
    s->head = 0;
  }
  if (s->mark_head > 16 && s->mark_head * 2 > s->marks.size()) {
    s->marks.erase(s->marks.begin(), s->marks.begin() + static_cast<ptrdiff_t>(s->mark_head));
    s->mark_head = 0;
  }
}

void TcpReassembler::clearBuffer(Stream* s, bool count_partial) {
  std::string_view p = s->pending();
  if (count_partial && !p.empty()) {
    if (s->hunting) {
      counters_.inc(Counter::kTcpSkippedBytes, p.size());
    } else if (!onlyCrlf(p)) {
      counters_.inc(Counter::kTcpUnreassembled);
    }
  }
  dropBuffered(s, p.size());
  s->need = 0;
}

void TcpReassembler::appendInOrder(Stream* s, std::string_view data, int64_t ts_us) {
  if (s->skip_until > s->next_pos) {
    // Inside a message too long to hold: its bytes pass without being kept.
    size_t n = static_cast<size_t>(std::min<uint64_t>(s->skip_until - s->next_pos, data.size()));
    s->front_ts = std::max(s->front_ts, ts_us);
    s->next_pos += n;
    data.remove_prefix(n);
  }
  if (data.empty()) return;
  s->buf.append(data);
  s->next_pos += data.size();
  s->marks.push_back({s->next_pos, ts_us});
  held_ += data.size();
  peak_held_ = std::max(peak_held_, held_);
}

bool TcpReassembler::holdAhead(Stream* s, uint64_t pos, std::string_view data, int64_t ts_us) {
  if (held_ + data.size() + kPieceOverhead > cfg_.max_total_bytes) {
    counters_.inc(Counter::kTcpTotalBytesCap);
    return false;
  }
  // Only the bytes no held piece covers yet are kept: the first copy of a byte wins.
  const uint64_t end = pos + data.size();
  uint64_t c = pos;
  auto it = s->ahead.upper_bound(pos);
  if (it != s->ahead.begin()) {
    auto prev = std::prev(it);
    c = std::max(c, prev->first + prev->second.bytes.size());
  }
  size_t kept = 0;
  size_t cost = 0;
  while (c < end) {
    uint64_t stop = it == s->ahead.end() ? end : std::min(end, it->first);
    if (stop > c) {
      Piece p;
      p.bytes.assign(data.substr(static_cast<size_t>(c - pos), static_cast<size_t>(stop - c)));
      p.ts_us = ts_us;
      s->ahead.emplace_hint(it, c, std::move(p));
      kept += static_cast<size_t>(stop - c);
      cost += static_cast<size_t>(stop - c) + kPieceOverhead;
    }
    if (it == s->ahead.end()) break;
    c = std::max(c, it->first + it->second.bytes.size());
    ++it;
  }
  if (kept < data.size()) counters_.inc(Counter::kTcpOverlapBytes, data.size() - kept);
  s->ahead_bytes += cost;
  held_ += cost;
  peak_held_ = std::max(peak_held_, held_);
  return true;
}

void TcpReassembler::drain(Stream* s) {
  while (!s->ahead.empty() && s->ahead.begin()->first == s->next_pos) {
    auto node = s->ahead.extract(s->ahead.begin());
    size_t n = node.mapped().bytes.size() + kPieceOverhead;
    s->ahead_bytes -= n;
    held_ -= n;
    appendInOrder(s, node.mapped().bytes, node.mapped().ts_us);
  }
}

void TcpReassembler::skipHole(Stream* s) {
  counters_.inc(Counter::kTcpGaps);
  // The message in progress lost its middle.
  clearBuffer(s, /*count_partial=*/true);
  uint64_t to = s->ahead.begin()->first;
  if (s->skip_until < to) {
    // Whatever the hole held, the bytes after it are at an unknown place in a message; a message
    // being skipped whole that ends beyond the hole keeps its known end instead.
    s->hunting = true;
    s->hunt_skip_line = false;
    s->picked_up = false;
    s->skip_until = 0;
  }
  s->next_pos = to;
  drain(s);
}

int64_t TcpReassembler::messageTs(Stream* s, uint64_t end_pos) {
  // The marks from mark_head on cover the buffer from its start, in order.
  int64_t ts = s->front_ts;
  for (size_t i = s->mark_head; i < s->marks.size(); ++i) {
    ts = std::max(ts, s->marks[i].ts_us);
    if (s->marks[i].end >= end_pos) break;
  }
  return ts == std::numeric_limits<int64_t>::min() ? now_us_ : ts;
}

// ---- framing -----------------------------------------------------------------------------------

bool TcpReassembler::hunt(Stream* s) {
  std::string_view p = s->pending();
  size_t from = 0;
  if (!s->hunt_skip_line) {
    // Blank lines before a start line are keep-alives (RFC 5626 §3.5.1), not lost bytes.
    size_t blank = 0;
    while (blank < p.size() && (p[blank] == '\r' || p[blank] == '\n')) ++blank;
    dropBuffered(s, blank);
    p = s->pending();
  } else {
    const void* nl = std::memchr(p.data(), '\n', p.size());
    if (nl == nullptr) return false;  // wait for the end of the line that failed
    from = static_cast<size_t>(static_cast<const char*>(nl) - p.data()) + 1;
    s->hunt_skip_line = false;
  }
  size_t at = findStartLine(p, from);
  if (at != std::string_view::npos) {
    counters_.inc(Counter::kTcpSkippedBytes, at);
    dropBuffered(s, at);
    s->hunting = false;
    s->need = 0;
    // A stream picked up mid-stream right at a start line lost nothing (tcp.midstream says it).
    if (at > 0 || !s->picked_up) counters_.inc(Counter::kTcpResync);
    s->picked_up = false;
    return true;
  }
  // Keep only a last line that may still become a start line; everything before it is not SIP.
  size_t keep_from = p.size();
  size_t last_nl = p.rfind('\n');
  size_t last_start = last_nl == std::string_view::npos ? from : std::max(from, last_nl + 1);
  if (last_start < p.size() && couldBecomeSipStartLine(p.substr(last_start)) &&
      p.size() - last_start <= cfg_.max_stream_bytes) {
    keep_from = last_start;
  }
  counters_.inc(Counter::kTcpSkippedBytes, keep_from);
  dropBuffered(s, keep_from);
  return false;
}

void TcpReassembler::frame(Stream* s, MessageSink& sink) {
  for (;;) {
    std::string_view p = s->pending();
    if (p.empty()) return;
    // Progress guard: if framing rejects the very line a hunt just stopped at, the next hunt
    // must look past that line, or the loop would never end.
    bool resynced_here = false;
    if (s->hunting) {
      if (!hunt(s)) return;
      resynced_here = true;
    }
    p = s->pending();
    if (s->need > p.size()) return;
    std::string_view rest = p;
    Framed f = frameSipMessage(rest);
    size_t consumed = p.size() - rest.size();
    switch (f.status) {
      case FrameStatus::kNoContentLength:
        // RFC 3261 §18.3 makes Content-Length mandatory on streams; read it as no body.
        counters_.inc(Counter::kTcpNoContentLength);
        [[fallthrough]];
      case FrameStatus::kMessage: {
        counters_.inc(Counter::kTcpSip);
        int64_t ts = messageTs(s, s->bufStart() + consumed);
        sink.onMessage(s->key, ts, f.message);
        dropBuffered(s, consumed);
        s->need = 0;
        continue;
      }
      case FrameStatus::kEnd:  // only CRLF keep-alives (RFC 5626 §3.5.1)
        dropBuffered(s, consumed);
        return;
      case FrameStatus::kIncomplete:
        dropBuffered(s, consumed);  // keep-alives before the message
        s->need = f.need;
        if (s->need > cfg_.max_stream_bytes) {
          // Too long to hold, but its end is known: pass over it and stay in step.
          counters_.inc(Counter::kTcpStreamBytesCap);
          s->skip_until = s->bufStart() + s->need;
          clearBuffer(s, /*count_partial=*/false);
          // The bytes of it already buffered count as passed over.
        }
        return;
      case FrameStatus::kNotSip:
        s->hunting = true;
        s->hunt_skip_line = resynced_here;
        continue;
      case FrameStatus::kBadContentLength:
        counters_.inc(Counter::kTcpBadContentLength);
        s->hunting = true;
        s->hunt_skip_line = true;
        continue;
    }
  }
}

void TcpReassembler::keepTail(Stream* s) {
  if (s->ext.empty()) return;
  std::string_view tail = s->ext;
  if (held_ + tail.size() > cfg_.max_total_bytes) {
    refuseTail(s);
    return;
  }
  s->ext = {};
  s->buf.assign(tail);
  s->head = 0;
  held_ += tail.size();
  peak_held_ = std::max(peak_held_, held_);
}

void TcpReassembler::refuseTail(Stream* s) {
  // All streams together hold too much: this stream's partial message is not kept.
  counters_.inc(Counter::kTcpTotalBytesCap);
  bool known = !s->hunting && s->need > 0;
  uint64_t end = s->bufStart() + s->need;
  bool was_hunting = s->hunting;
  clearBuffer(s, /*count_partial=*/false);
  if (known) {
    s->skip_until = end;  // pass over the rest of it and stay in step
  } else if (!was_hunting) {
    s->hunting = true;
    s->hunt_skip_line = false;
    s->picked_up = false;
  }
}

void TcpReassembler::enforceStreamCap(Stream* s, MessageSink& sink) {
  for (;;) {
    size_t held = s->pending().size() + s->ahead_bytes;
    if (held <= cfg_.max_stream_bytes) break;
    if (!s->ahead.empty()) {
      // Too much is waiting behind the hole: it will not be filled in time to matter.
      skipHole(s);
      frame(s, sink);
      continue;
    }
    // A message whose headers alone exceed the cap (its length is not known yet): drop it and
    // look for the next start line.
    counters_.inc(Counter::kTcpStreamBytesCap);
    if (s->hunting) {
      clearBuffer(s, /*count_partial=*/true);
    } else {
      s->hunting = true;
      s->hunt_skip_line = true;
      frame(s, sink);
      if (s->pending().size() > cfg_.max_stream_bytes) clearBuffer(s, /*count_partial=*/true);
    }
  }
  if (held_ > cfg_.max_total_bytes && !s->pending().empty()) refuseTail(s);
}

// ---- segments ----------------------------------------------------------------------------------

void TcpReassembler::onSegment(const TcpSegment& seg, MessageSink& sink) {
  now_us_ = std::max(now_us_, seg.ts_us);
  expire(sink);

  auto it = table_.find(seg.key);
  Stream* s = it == table_.end() ? nullptr : it->second.get();

  if (seg.rst) {
    // RFC 9293 §3.10.7.4: the connection is gone in both directions.
    if (s != nullptr) close(s, CloseReason::kRst, sink);
    auto rev = table_.find(seg.key.reversed());
    if (rev != table_.end()) close(rev->second.get(), CloseReason::kRst, sink);
    return;
  }

  uint32_t data_seq = seg.seq;
  if (seg.syn) {
    data_seq = seg.seq + 1;  // the SYN occupies one sequence number (RFC 9293 §3.4)
    if (s != nullptr && !(s->from_syn && s->base_seq == data_seq)) {
      close(s, CloseReason::kNewConnection, sink);  // the same ports, a new connection
      s = nullptr;
    }
    if (s == nullptr) s = open(seg, /*from_syn=*/true);
    if (s == nullptr) return;
  } else if (s == nullptr) {
    if (seg.payload.empty()) return;
    if (onlyCrlf(seg.payload)) return counters_.inc(Counter::kTcpKeepalive);
    if (findStartLine(seg.payload, 0) == std::string_view::npos) {
      counters_.inc(Counter::kTcpNotSip);
      return;
    }
    s = open(seg, /*from_syn=*/false);
    if (s == nullptr) return;
  }

  // Where the payload lies relative to the next expected byte, modulo 2^32 (RFC 9293 §3.4).
  auto delta = static_cast<int32_t>(data_seq - s->seqAt(s->next_pos));
  std::string_view data = seg.payload;

  if (!data.empty()) {
    // A CRLF keep-alive (RFC 5626 §3.5.1) is CRLFs in order between messages; the same bytes
    // inside a message (its closing empty line in a segment of its own) are not one.
    if (delta == 0 && s->pending().empty() && s->ahead.empty() && onlyCrlf(data)) {
      counters_.inc(Counter::kTcpKeepalive);
    }
    touch(s);
    int64_t rel = delta;
    bool advanced = false;
    if (rel < -kMaxFar || rel > kMaxFar) {
      // Far outside any window a SIP connection uses: the connection was replaced without a SYN
      // we saw (or the number is garbage). Skip whatever is held, then start again here.
      while (!s->ahead.empty()) {
        skipHole(s);
        frame(s, sink);
      }
      counters_.inc(Counter::kTcpGaps);
      clearBuffer(s, /*count_partial=*/true);
      s->base_seq = data_seq - static_cast<uint32_t>(s->next_pos);
      s->hunting = true;
      s->hunt_skip_line = false;
      s->picked_up = false;
      s->skip_until = 0;
      rel = 0;
    }
    if (rel + static_cast<int64_t>(data.size()) <= 0) {
      counters_.inc(Counter::kTcpRetransmissions);  // every byte already received
    } else {
      if (rel < 0) {
        counters_.inc(Counter::kTcpOverlapBytes, static_cast<uint64_t>(-rel));
        data.remove_prefix(static_cast<size_t>(-rel));
        rel = 0;
      }
      if (rel > 0) {
        counters_.inc(Counter::kTcpOutOfOrder);
        holdAhead(s, s->next_pos + static_cast<uint64_t>(rel), data, seg.ts_us);
      } else {
        // In order. Bytes beyond the first held piece go through holdAhead so a byte held
        // earlier keeps winning.
        size_t direct = data.size();
        if (!s->ahead.empty()) {
          direct = static_cast<size_t>(
              std::min<uint64_t>(direct, s->ahead.begin()->first - s->next_pos));
        }
        if (s->ahead.empty() && s->pending().empty() && s->skip_until <= s->next_pos) {
          // Nothing buffered: frame the segment where it lies and keep only an incomplete tail.
          s->ext = data;
          s->next_pos += data.size();
          s->marks.push_back({s->next_pos, seg.ts_us});
        } else {
          appendInOrder(s, data.substr(0, direct), seg.ts_us);
          if (direct < data.size()) {
            holdAhead(s, s->next_pos, data.substr(direct), seg.ts_us);
          }
          drain(s);
        }
        advanced = true;
      }
      frame(s, sink);
      keepTail(s);
      enforceStreamCap(s, sink);
      updateHoleTimer(s, advanced);
    }
  }

  if (seg.fin) {
    // FIN follows the payload in sequence space; the direction is done once all before it is in.
    int64_t fin_rel = static_cast<int32_t>(data_seq + static_cast<uint32_t>(seg.payload.size()) -
                                           s->seqAt(s->next_pos));
    if (!s->fin) {
      s->fin = true;
      s->fin_pos =
          static_cast<uint64_t>(std::max<int64_t>(0, static_cast<int64_t>(s->next_pos) + fin_rel));
    }
  }
  if (s->fin && s->ahead.empty() && s->next_pos >= s->fin_pos) close(s, CloseReason::kFin, sink);
}

}  // namespace mcn::capture::detail
