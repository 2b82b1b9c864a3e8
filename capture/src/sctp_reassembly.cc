#include "sctp_reassembly.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "frame_dedup.h"  // hashBytes

namespace mcn::capture::detail {

namespace {

constexpr uint32_t kHalfSpace = 0x80000000u;  // RFC 9260 §1.6: serial numbers compare within 2^31

// RFC 3261 §25.1: a SIP message starts with a token (method) or "SIP/2.0"; Diameter, M3UA and
// the other SCTP users of a signalling link start with a binary version byte. Only a B fragment
// that holds a whole line can be refused by the full start-line check.
bool cannotBeSip(std::string_view b) {
  const auto c = static_cast<unsigned char>(b[0]);
  const bool token =
      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
      std::string_view("-.!%*_+`'~").find(static_cast<char>(c)) != std::string_view::npos;
  if (!token) return true;
  return b.find('\n') != std::string_view::npos && !looksLikeSip(b);
}

void putKey(uint8_t*& p, const SctpAssocKey& k) {
  std::memcpy(p, k.src.addr.data(), 16);
  p += 16;
  std::memcpy(p, k.dst.addr.data(), 16);
  p += 16;
  *p++ = k.src.v6 ? 1 : 0;
  std::memcpy(p, &k.src.port, 2);
  p += 2;
  std::memcpy(p, &k.dst.port, 2);
  p += 2;
  std::memcpy(p, &k.vtag, 4);
  p += 4;
  *p++ = k.vlan_depth;
  std::memcpy(p, k.vlan.data(), 2 * kMaxVlanDepth);
  p += 2 * kMaxVlanDepth;
  std::memcpy(p, &k.tunnel, 8);
  p += 8;
}

constexpr size_t kAssocKeyBytes = 16 + 16 + 1 + 2 + 2 + 4 + 1 + 2 * kMaxVlanDepth + 8;

}  // namespace

size_t SctpReassembler::KeyHash::operator()(const SctpAssocKey& k) const {
  // Serialised (the struct has padding) and hashed with a per-process seed, so a sender cannot
  // aim its keys at one bucket.
  uint8_t buf[kAssocKeyBytes];
  uint8_t* p = buf;
  putKey(p, k);
  return static_cast<size_t>(hashBytes(buf, static_cast<size_t>(p - buf), seed));
}

size_t SctpReassembler::KeyHash::operator()(const MessageKey& k) const {
  uint8_t buf[kAssocKeyBytes + 2 + 1 + 4];
  uint8_t* p = buf;
  putKey(p, k.assoc);
  std::memcpy(p, &k.stream, 2);
  p += 2;
  *p++ = k.mode;
  std::memcpy(p, &k.id, 4);
  p += 4;
  return static_cast<size_t>(hashBytes(buf, static_cast<size_t>(p - buf), seed));
}

SctpReassembler::SctpReassembler(const SctpReassemblyConfig& cfg, Counters& counters,
                                 uint64_t hash_seed)
    : cfg_(cfg),
      counters_(counters),
      timeout_us_(std::max<int64_t>(cfg.timeout_ms, 0) * 1000),
      index_(64, KeyHash{hash_seed}),
      in_progress_(64, KeyHash{hash_seed}) {
  cfg_.max_messages = std::max<size_t>(cfg_.max_messages, 1);
  cfg_.max_messages_per_assoc = std::max<size_t>(cfg_.max_messages_per_assoc, 1);
}

SctpReassembler::~SctpReassembler() = default;

bool SctpReassembler::assocFull(const SctpAssocKey& k) const {
  auto it = in_progress_.find(k);
  return it != in_progress_.end() && it->second >= cfg_.max_messages_per_assoc;
}

void SctpReassembler::assocDone(const SctpAssocKey& k) {
  auto it = in_progress_.find(k);
  if (it != in_progress_.end() && --it->second == 0) in_progress_.erase(it);
}

void SctpReassembler::releaseData(Entry& e) {
  const size_t pieces_held = e.held - kMessageOverhead;
  bytes_held_ -= pieces_held;
  e.held = kMessageOverhead;
  e.pieces.clear();
  e.data_bytes = 0;
  e.begins = e.ends = 0;
}

void SctpReassembler::drop(Order::iterator it) {
  if (it->collecting) assocDone(it->key.assoc);
  bytes_held_ -= it->held;
  index_.erase(it->key);
  order_.erase(it);
}

void SctpReassembler::close(Order::iterator it, uint32_t lo, uint32_t hi, bool refusing,
                            int64_t now_us) {
  Entry& e = *it;
  e.has_closed = true;
  e.refusing = refusing;
  e.closed_lo = lo;
  e.closed_hi = hi;
  if (e.pieces.empty() && e.collecting) {
    e.collecting = false;
    assocDone(e.key.assoc);
  }
  // The remembered range lives for a timeout from now: move to the back of the time order.
  e.ts_us = now_us;
  order_.splice(order_.end(), order_, it);
}

void SctpReassembler::refuse(Order::iterator it, uint32_t lo, uint32_t off, bool end,
                             int64_t now_us) {
  // The refused message's later fragments are dropped up to its E; if that E is already held,
  // the range is closed there and nothing after it is refused.
  uint32_t hi = off;
  bool open = !end;
  for (auto p = it->pieces.upper_bound(off); open && p != it->pieces.end(); ++p) {
    if (p->second.end) {
      hi = p->first;
      open = false;
    }
  }
  releaseData(*it);
  close(it, lo, hi, open, now_us);
}

bool SctpReassembler::makeRoom(size_t need, bool new_message, const Entry* keep) {
  if (need + (keep ? keep->held : 0) + (new_message ? kMessageOverhead : 0) > cfg_.max_bytes) {
    return false;
  }
  auto oldest = [&]() {
    auto it = order_.begin();
    if (it != order_.end() && &*it == keep) ++it;
    return it;
  };
  while (new_message && index_.size() >= cfg_.max_messages) {
    auto victim = oldest();
    if (victim == order_.end()) return false;
    // A remembered range of a finished message is only there to spot late copies: losing it
    // loses no message, so it is not counted.
    if (victim->collecting) counters_.inc(Counter::kSctpFragTableFull);
    drop(victim);
  }
  const size_t extra = new_message ? kMessageOverhead : 0;
  while (bytes_held_ + need + extra > cfg_.max_bytes) {
    auto victim = oldest();
    if (victim == order_.end()) return false;
    if (victim->collecting) counters_.inc(Counter::kSctpFragMemoryCap);
    drop(victim);
  }
  return true;
}

void SctpReassembler::expire(int64_t now_us) {
  while (!order_.empty() && now_us - order_.front().ts_us > timeout_us_) {
    if (order_.front().collecting) counters_.inc(Counter::kSctpFragTimeouts);
    drop(order_.begin());
  }
}

void SctpReassembler::flush() {
  for (const Entry& e : order_) {
    if (e.collecting) counters_.inc(Counter::kSctpFragIncomplete);
  }
  order_.clear();
  index_.clear();
  in_progress_.clear();
  bytes_held_ = 0;
}

std::optional<std::string_view> SctpReassembler::addFragment(const SctpFragment& f) {
  expire(f.ts_us);

  const bool idata = f.kind == SctpChunkKind::kIData;
  // RFC 9260 §3.3.1: a DATA chunk carries at least one byte of user data. RFC 8260 §2.1: the FSN
  // of the first fragment is 0 (its field holds the PPID), so a later fragment with FSN 0 lies.
  if (f.data.empty() || (idata && !f.begin && f.fsn == 0)) {
    counters_.inc(Counter::kSctpFragMalformed);
    return std::nullopt;
  }
  MessageKey key;
  key.assoc = f.assoc;
  key.stream = f.stream;
  key.mode = static_cast<uint8_t>((idata ? 2 : 0) | (f.unordered ? 1 : 0));
  // RFC 9260 §3.3.1: the SSN of an unordered chunk is to be ignored. DATA SSNs are 16 bits.
  key.id = idata ? f.ssn_or_mid : (f.unordered ? 0 : (f.ssn_or_mid & 0xffffu));
  const uint32_t seq = idata ? (f.begin ? 0 : f.fsn) : f.tsn;
  const size_t size = f.data.size();
  const size_t need = kFragmentOverhead + size;

  const bool not_sip = f.begin && cannotBeSip(f.data);
  auto found = index_.find(key);
  Order::iterator it;
  if (found == index_.end()) {
    if (!not_sip && assocFull(f.assoc)) {
      counters_.inc(Counter::kSctpFragAssocFull);
      return std::nullopt;
    }
    if (!makeRoom(not_sip ? 0 : need, /*new_message=*/true, nullptr)) {
      counters_.inc(Counter::kSctpFragMemoryCap);
      return std::nullopt;
    }
    it = order_.emplace(order_.end());
    it->key = key;
    it->ts_us = f.ts_us;
    it->base = seq - kHalfSpace;
    it->held = kMessageOverhead;
    it->collecting = false;  // until its first fragment is kept
    bytes_held_ += kMessageOverhead;
    index_.emplace(key, it);
  } else {
    it = found->second;
  }
  Entry& e = *it;
  const uint32_t off = seq - e.base;

  if (e.has_closed && off >= e.closed_lo && (e.refusing || off <= e.closed_hi)) {
    if (e.refusing) {
      // A fragment of a message already refused (and counted): dropped with it, up to its end.
      if (f.end) {
        e.refusing = false;
        e.closed_hi = off;
      }
      return std::nullopt;
    }
    counters_.inc(Counter::kSctpFragDuplicates);
    return std::nullopt;
  }
  if (e.pieces.count(off) != 0) {
    counters_.inc(Counter::kSctpFragDuplicates);
    return std::nullopt;
  }
  if (not_sip) {
    // Not SIP (a Diameter or M3UA message on the same link): nothing of it is kept, and its other
    // fragments are dropped up to its E. What the bucket held is dropped with it.
    counters_.inc(Counter::kSctpNotSip);
    refuse(it, off, off, f.end, f.ts_us);
    return std::nullopt;
  }
  if (!e.collecting) {
    // A new bucket, or a remembered range whose key comes round again (an SSN after 65536
    // messages, another unordered message): a message in progress of its association.
    if (assocFull(f.assoc)) {
      counters_.inc(Counter::kSctpFragAssocFull);
      if (!e.has_closed) drop(it);
      return std::nullopt;
    }
    ++in_progress_[f.assoc];
    e.collecting = true;
    e.ts_us = f.ts_us;
    order_.splice(order_.end(), order_, it);
  }
  if (e.data_bytes + size > cfg_.max_message_bytes) {
    counters_.inc(Counter::kSctpFragTooBig);
    refuse(it, e.pieces.empty() ? off : std::min(off, e.pieces.begin()->first), off, f.end,
           f.ts_us);
    return std::nullopt;
  }
  if (!makeRoom(need, /*new_message=*/false, &e)) {
    counters_.inc(Counter::kSctpFragMemoryCap);
    drop(it);
    return std::nullopt;
  }
  auto [pit, inserted] = e.pieces.try_emplace(off);
  pit->second.bytes.assign(f.data.data(), f.data.size());
  pit->second.begin = f.begin;
  pit->second.end = f.end;
  e.data_bytes += size;
  e.held += need;
  bytes_held_ += need;
  peak_bytes_held_ = std::max(peak_bytes_held_, bytes_held_);
  e.begins += f.begin ? 1 : 0;
  e.ends += f.end ? 1 : 0;
  if (e.begins == 0 || e.ends == 0) return std::nullopt;

  // RFC 9260 §6.9: a message is the run of consecutive sequence numbers from a B to an E. Find
  // the run through this fragment; another B or E inside it, or a missing number, means it is not
  // complete (yet).
  auto lo_it = pit;
  while (!lo_it->second.begin) {
    if (lo_it == e.pieces.begin()) return std::nullopt;
    auto prev = std::prev(lo_it);
    if (prev->first != lo_it->first - 1 || prev->second.end) return std::nullopt;
    lo_it = prev;
  }
  auto hi_it = pit;
  while (!hi_it->second.end) {
    auto next = std::next(hi_it);
    if (next == e.pieces.end() || next->first != hi_it->first + 1 || next->second.begin) {
      return std::nullopt;
    }
    hi_it = next;
  }
  const uint32_t lo = lo_it->first, hi = hi_it->first;
  auto stop = std::next(hi_it);
  size_t total = 0;
  for (auto p = lo_it; p != stop; ++p) total += p->second.bytes.size();
  out_.clear();
  out_.reserve(total);
  size_t freed = 0;
  for (auto p = lo_it; p != stop; ++p) {
    out_.append(p->second.bytes);
    freed += kFragmentOverhead + p->second.bytes.size();
  }
  e.pieces.erase(lo_it, stop);
  e.data_bytes -= total;
  e.held -= freed;
  bytes_held_ -= freed;
  e.begins -= 1;
  e.ends -= 1;
  counters_.inc(Counter::kSctpReassembled);
  close(it, lo, hi, /*refusing=*/false, f.ts_us);
  return std::string_view(out_);
}

}  // namespace mcn::capture::detail
