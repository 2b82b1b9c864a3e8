#include "ip_reassembly.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "frame_dedup.h"  // hashBytes

namespace mcn::capture::detail {

namespace {

// RFC 791 §3.1: total length is 16 bits and counts the (at least 20-byte) header. RFC 8200 §4.5:
// the reassembled Payload Length may not exceed 65535, and it counts at least the fragmentable
// part.
constexpr uint64_t kMaxV4Payload = 65535 - 20;
constexpr uint64_t kMaxV6Payload = 65535;

}  // namespace

size_t IpReassembler::KeyHash::operator()(const FragmentKey& k) const {
  // Serialise the fields (the struct has padding) and hash them with a per-process seed, so a
  // sender cannot aim ids at one bucket.
  uint8_t buf[16 + 16 + 1 + 1 + 4 + 1 + 2 * kMaxVlanDepth + 8];
  uint8_t* p = buf;
  std::memcpy(p, k.src.data(), 16);
  p += 16;
  std::memcpy(p, k.dst.data(), 16);
  p += 16;
  *p++ = k.v6 ? 1 : 0;
  *p++ = k.protocol;
  std::memcpy(p, &k.id, 4);
  p += 4;
  *p++ = k.vlan_depth;
  std::memcpy(p, k.vlan.data(), 2 * kMaxVlanDepth);
  p += 2 * kMaxVlanDepth;
  std::memcpy(p, &k.tunnel, 8);
  p += 8;
  return static_cast<size_t>(hashBytes(buf, static_cast<size_t>(p - buf), seed));
}

IpReassembler::IpReassembler(ReassemblyLimits limits, uint64_t hash_seed)
    : limits_(limits), index_(64, KeyHash{hash_seed}) {
  limits_.max_datagrams = std::max<size_t>(limits_.max_datagrams, 1);
}

IpReassembler::~IpReassembler() = default;

void IpReassembler::drop(Order::iterator it) {
  bytes_held_ -= it->held;
  index_.erase(it->key);
  order_.erase(it);
}

bool IpReassembler::makeRoom(size_t need, bool new_datagram, const Entry* keep,
                             Counters& counters) {
  if (need + (keep ? keep->held : 0) > limits_.max_bytes) return false;
  auto oldest = [&]() {
    auto it = order_.begin();
    if (it != order_.end() && &*it == keep) ++it;
    return it;
  };
  while (new_datagram && index_.size() >= limits_.max_datagrams) {
    auto victim = oldest();
    if (victim == order_.end()) return false;
    drop(victim);
    counters.inc(Counter::kIpFragTableFull);
  }
  while (bytes_held_ + need > limits_.max_bytes) {
    auto victim = oldest();
    if (victim == order_.end()) return false;
    drop(victim);
    counters.inc(Counter::kIpFragMemoryCap);
  }
  return true;
}

void IpReassembler::expire(int64_t now_us, Counters& counters) {
  while (!order_.empty() && now_us - order_.front().first_ts_us > limits_.timeout_us) {
    counters.inc(Counter::kIpFragTimeouts);
    drop(order_.begin());
  }
}

std::optional<Datagram> IpReassembler::addFragment(const Fragment& f, Counters& counters) {
  expire(f.ts_us, counters);

  const size_t len = f.data.size();
  // RFC 8200 §4.5 (and RFC 791's 8-octet fragment blocks): every fragment but the last carries a
  // multiple of 8 bytes. An empty fragment adds nothing and could only move the end.
  if (len == 0 || (f.more && len % 8 != 0)) {
    counters.inc(Counter::kIpFragMalformed);
    return std::nullopt;
  }
  auto found = index_.find(f.key);
  const uint64_t end64 = uint64_t{f.offset} + len;
  if (end64 > (f.key.v6 ? kMaxV6Payload : kMaxV4Payload)) {
    counters.inc(Counter::kIpFragTooBig);
    if (found != index_.end()) drop(found->second);
    return std::nullopt;
  }
  const auto end = static_cast<uint32_t>(end64);

  Order::iterator e;
  if (found == index_.end()) {
    const size_t need = kDatagramOverhead + kFragmentOverhead + len;
    if (!makeRoom(need, /*new_datagram=*/true, nullptr, counters)) {
      counters.inc(Counter::kIpFragMemoryCap);
      return std::nullopt;
    }
    e = order_.emplace(order_.end());
    e->key = f.key;
    e->first_ts_us = f.ts_us;
    e->held = kDatagramOverhead;
    bytes_held_ += kDatagramOverhead;
    index_.emplace(f.key, e);
  } else {
    e = found->second;
  }

  // Do the fragments agree on where the datagram ends?
  if (f.more ? (e->total && end > *e->total)
             : ((e->total && *e->total != end) || e->max_end > end)) {
    counters.inc(Counter::kIpFragOverlaps);
    drop(e);
    return std::nullopt;
  }

  // Compare with the bytes held where they overlap, and find the gaps this fragment fills.
  gaps_.clear();
  auto& pieces = e->pieces;
  auto first = std::partition_point(pieces.begin(), pieces.end(),
                                    [&](const Piece& p) { return p.end() <= f.offset; });
  uint32_t cursor = f.offset;
  for (auto p = first; p != pieces.end() && p->offset < end; ++p) {
    const uint32_t lo = std::max(f.offset, p->offset);
    const uint32_t hi = std::min(end, p->end());
    if (std::memcmp(f.data.data() + (lo - f.offset), p->bytes.data() + (lo - p->offset), hi - lo) !=
        0) {
      counters.inc(Counter::kIpFragOverlaps);
      drop(e);
      return std::nullopt;
    }
    if (p->offset > cursor) gaps_.emplace_back(cursor, p->offset);
    cursor = std::max(cursor, p->end());
  }
  if (cursor < end) gaps_.emplace_back(cursor, end);

  const bool learns_end = !f.more && !e->total;
  if (gaps_.empty() && !learns_end) {
    counters.inc(Counter::kIpFragDuplicates);
    return std::nullopt;
  }

  size_t need = 0;
  for (const auto& [lo, hi] : gaps_) need += (hi - lo) + kFragmentOverhead;
  if (need > 0 && !makeRoom(need, /*new_datagram=*/false, &*e, counters)) {
    counters.inc(Counter::kIpFragMemoryCap);
    drop(e);
    return std::nullopt;
  }
  for (const auto& [lo, hi] : gaps_) {
    Piece piece;
    piece.offset = lo;
    piece.bytes.assign(f.data.begin() + (lo - f.offset), f.data.begin() + (hi - f.offset));
    // A copy: clang 14 cannot capture a structured binding in a lambda.
    const auto start = lo;
    auto at = std::partition_point(pieces.begin(), pieces.end(),
                                   [start](const Piece& p) { return p.offset < start; });
    pieces.insert(at, std::move(piece));
    e->covered += hi - lo;
  }
  e->held += need;
  bytes_held_ += need;
  peak_bytes_held_ = std::max(peak_bytes_held_, bytes_held_);
  e->max_end = std::max(e->max_end, end);
  if (!f.more) e->total = end;
  if (f.offset == 0 && !e->have_first) {
    // RFC 8200 §4.5: the Next Header of the offset-zero fragment is the one that counts.
    e->protocol = f.protocol;
    e->have_first = true;
  }

  if (!e->total || e->covered != *e->total) return std::nullopt;
  // Pieces never overlap and all lie below the end, so covered == total means no hole is left.
  Datagram d;
  d.protocol = e->protocol;
  d.payload.resize(*e->total);
  for (const Piece& p : pieces)
    std::memcpy(d.payload.data() + p.offset, p.bytes.data(), p.bytes.size());
  counters.inc(Counter::kIpFragReassembled);
  drop(e);
  return d;
}

}  // namespace mcn::capture::detail
