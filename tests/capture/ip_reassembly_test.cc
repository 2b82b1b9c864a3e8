// IP fragment reassembly: the reassembler on its own (order, duplicates, the overlap policy on the
// classic Sturges/Novak target-based vectors, malformed and oversized fragments, timeouts, caps)
// and through the FrameDecoder (VLAN part of the key, timeouts driven by unrelated frames).

#include "../../capture/src/ip_reassembly.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "decoder_harness.h"

namespace mcn::capture::test {
namespace {

using detail::Counter;
using detail::Counters;
using detail::Datagram;
using detail::Fragment;
using detail::FragmentKey;
using detail::IpReassembler;
using detail::ReassemblyLimits;

constexpr int64_t kT0 = 1'700'000'000'000'000;

FragmentKey key(uint32_t id = 7, bool v6 = false) {
  FragmentKey k;
  k.src[0] = 192;
  k.dst[0] = 198;
  k.v6 = v6;
  k.protocol = v6 ? 0 : 17;
  k.id = id;
  return k;
}

// A fragment of `whole` covering [offset, offset + len), or its own bytes if `bytes` is given.
struct Frag {
  uint32_t offset;
  Bytes bytes;
  bool more;
};

class Feeder {
 public:
  explicit Feeder(ReassemblyLimits limits = {}) : r(limits, 12345) {}

  std::optional<Datagram> add(const Frag& f, FragmentKey k = key(), int64_t ts = kT0) {
    Fragment fr;
    fr.key = k;
    fr.ts_us = ts;
    fr.protocol = k.v6 ? 17 : k.protocol;
    fr.offset = f.offset;
    fr.more = f.more;
    fr.data = std::span<const uint8_t>(f.bytes.data(), f.bytes.size());
    return r.addFragment(fr, c);
  }
  uint64_t count(Counter n) const { return c.get(n); }

  IpReassembler r;
  Counters c;
};

Bytes pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& v : b) v = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  return b;
}

// Splits [0, whole.size()) into fragments of `size` bytes (a multiple of 8), the last shorter.
std::vector<Frag> split(const Bytes& whole, size_t size, size_t start = 0, size_t stop = SIZE_MAX) {
  std::vector<Frag> out;
  stop = std::min(stop, whole.size());
  for (size_t off = start; off < stop; off += size) {
    size_t n = std::min(size, stop - off);
    out.push_back({static_cast<uint32_t>(off), Bytes(whole.begin() + off, whole.begin() + off + n),
                   off + n < whole.size()});
  }
  return out;
}

TEST(IpReassembly, OutOfOrderAndDuplicatedFragmentsGiveTheDatagramOnce) {
  Feeder f;
  Bytes whole = pattern(4200, 1);
  auto frags = split(whole, 1232);  // 4 fragments, as an INVITE over a 1280-byte IPv6 link
  ASSERT_EQ(frags.size(), 4u);
  EXPECT_FALSE(f.add(frags[3]));
  EXPECT_FALSE(f.add(frags[1]));
  EXPECT_FALSE(f.add(frags[1]));  // SPAN copy
  EXPECT_FALSE(f.add(frags[0]));
  auto d = f.add(frags[2]);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->payload, whole);
  EXPECT_EQ(d->protocol, 17);
  EXPECT_EQ(f.count(Counter::kIpFragReassembled), 1u);
  EXPECT_EQ(f.count(Counter::kIpFragDuplicates), 1u);
  EXPECT_EQ(f.r.datagramsHeld(), 0u);
  EXPECT_EQ(f.r.bytesHeld(), 0u);
}

// Any order and any duplication (including copies cut at other boundaries, as a second path
// with a different MTU would cut them) reassembles to exactly the original, at the moment the
// fragments seen first cover it.
TEST(IpReassembly, RandomOrderAndDuplicationAlwaysGiveTheOriginal) {
  std::mt19937_64 rng(20261122);
  for (int iter = 0; iter < 600; ++iter) {
    Feeder f;
    Bytes whole =
        pattern(std::uniform_int_distribution<size_t>(9, 9000)(rng), static_cast<uint32_t>(iter));
    size_t unit = 8 * std::uniform_int_distribution<size_t>(1, 185)(rng);
    std::vector<Frag> frags = split(whole, unit);
    const size_t needed = frags.size();
    // Duplicates: exact copies, and re-cut copies of a random range.
    int dups = std::uniform_int_distribution<int>(0, 4)(rng);
    for (int k = 0; k < dups; ++k) {
      if (rng() % 2) {
        frags.push_back(frags[rng() % needed]);
      } else {
        size_t lo = 8 * (rng() % (whole.size() / 8 + 1));
        size_t unit2 = 8 * std::uniform_int_distribution<size_t>(1, 64)(rng);
        for (Frag& x : split(whole, unit2, lo, lo + unit2 * 3)) frags.push_back(std::move(x));
      }
    }
    std::shuffle(frags.begin(), frags.end(), rng);

    // Where does the union first cover the whole datagram (and the last fragment arrive)?
    std::vector<bool> seen(whole.size(), false);
    size_t covered = 0;
    bool end_known = false;
    size_t complete_at = SIZE_MAX;
    for (size_t i = 0; i < frags.size() && complete_at == SIZE_MAX; ++i) {
      for (size_t b = frags[i].offset; b < frags[i].offset + frags[i].bytes.size(); ++b) {
        if (!seen[b]) covered += (seen[b] = true);
      }
      end_known |= !frags[i].more;
      if (end_known && covered == whole.size()) complete_at = i;
    }
    ASSERT_NE(complete_at, SIZE_MAX);

    for (size_t i = 0; i < frags.size(); ++i) {
      auto d = f.add(frags[i]);
      if (i < complete_at) {
        ASSERT_FALSE(d) << "iteration " << iter << " fragment " << i;
      } else if (i == complete_at) {
        ASSERT_TRUE(d) << "iteration " << iter;
        ASSERT_EQ(d->payload, whole) << "iteration " << iter;
      } else if (d) {
        // Copies after completion start a new datagram; if they complete it, it is the same one.
        ASSERT_EQ(d->payload, whole) << "iteration " << iter;
      }
    }
    ASSERT_EQ(f.count(Counter::kIpFragOverlaps), 0u);
    ASSERT_LE(f.r.bytesHeld(), ReassemblyLimits{}.max_bytes);
  }
}

// The target-based test vector of Sturges and Novak (also Suricata's defrag tests): nine
// fragments, then seven that overlap them with different bytes, then the last. Targets
// disagree on the result (BSD, Linux before 4.19, "first", "last" each give other bytes);
// under "agree or discard" the first conflicting overlap (J over A) discards the datagram, and
// the rest can never complete it.
std::vector<Frag> sturgesNovak(bool agreeing) {
  struct V {
    char c;
    uint32_t off;
    size_t len;
  };
  const V v[] = {{'A', 0, 24},   {'B', 32, 16},  {'C', 48, 24},  {'D', 80, 8},  {'E', 104, 16},
                 {'F', 120, 24}, {'G', 144, 16}, {'H', 160, 16}, {'I', 176, 8}, {'J', 8, 32},
                 {'K', 48, 24},  {'L', 72, 24},  {'M', 96, 24},  {'N', 128, 8}, {'O', 152, 8},
                 {'P', 160, 8},  {'Q', 176, 16}};
  std::vector<Frag> out;
  for (const V& x : v) {
    Bytes b(x.len);
    for (size_t i = 0; i < x.len; ++i) {
      // Agreeing: every fragment carries the byte its offset implies, whoever sends it.
      b[i] = agreeing ? static_cast<uint8_t>('a' + (x.off + i) / 8) : static_cast<uint8_t>(x.c);
    }
    out.push_back({x.off, b, x.c != 'Q'});
  }
  return out;
}

TEST(IpReassembly, SturgesNovakConflictingOverlapsDiscardTheDatagram) {
  Feeder f;
  for (const Frag& x : sturgesNovak(false)) EXPECT_FALSE(f.add(x));
  EXPECT_EQ(f.count(Counter::kIpFragOverlaps), 1u);
  EXPECT_EQ(f.count(Counter::kIpFragReassembled), 0u);
  // K..Q started a new datagram that lacks its head: it times out and is counted as such.
  EXPECT_EQ(f.r.datagramsHeld(), 1u);
  f.r.expire(kT0 + 31'000'000, f.c);
  EXPECT_EQ(f.count(Counter::kIpFragTimeouts), 1u);
  EXPECT_EQ(f.r.bytesHeld(), 0u);
}

TEST(IpReassembly, SturgesNovakGeometryWithAgreeingBytesReassembles) {
  Feeder f;
  auto frags = sturgesNovak(true);
  std::optional<Datagram> d;
  for (const Frag& x : frags) {
    ASSERT_FALSE(d);
    d = f.add(x);
  }
  ASSERT_TRUE(d);
  ASSERT_EQ(d->payload.size(), 192u);
  for (size_t i = 0; i < 192; ++i) ASSERT_EQ(d->payload[i], 'a' + i / 8) << i;
  EXPECT_EQ(f.count(Counter::kIpFragOverlaps), 0u);
  // K (= C), N (inside F), O (inside G) and P (inside H) bring no new byte.
  EXPECT_EQ(f.count(Counter::kIpFragDuplicates), 4u);
}

TEST(IpReassembly, ChangedBytesInsideHeldDataDiscardEvenWhenContained) {
  // A retransmitted fragment whose bytes changed (Shankar-Paxson's "same range, new content"):
  // an exact copy is a duplicate, a changed one ends the datagram.
  Feeder f;
  Bytes whole = pattern(64, 3);
  auto frags = split(whole, 32);
  EXPECT_FALSE(f.add(frags[0]));
  EXPECT_FALSE(f.add(frags[0]));
  EXPECT_EQ(f.count(Counter::kIpFragDuplicates), 1u);
  Frag changed = frags[0];
  changed.bytes.resize(16);
  changed.offset = 8;
  changed.bytes[15] ^= 1;
  EXPECT_FALSE(f.add(changed));
  EXPECT_EQ(f.count(Counter::kIpFragOverlaps), 1u);
  EXPECT_FALSE(f.add(frags[1]));  // the tail alone cannot complete anything now
  EXPECT_EQ(f.count(Counter::kIpFragReassembled), 0u);
}

TEST(IpReassembly, FragmentsThatDisagreeOnTheEndDiscard) {
  Feeder f;
  Bytes whole = pattern(96, 4);
  auto frags = split(whole, 48);
  EXPECT_FALSE(f.add(frags[1]));                                           // ends at 96, last
  Frag shorter{48, Bytes(whole.begin() + 48, whole.begin() + 80), false};  // last, ends at 80
  EXPECT_FALSE(f.add(shorter));
  EXPECT_EQ(f.count(Counter::kIpFragOverlaps), 1u);

  Feeder g;
  EXPECT_FALSE(g.add(frags[1]));
  Frag beyond{96, Bytes(8, 0), true};  // data past a known end
  EXPECT_FALSE(g.add(beyond));
  EXPECT_EQ(g.count(Counter::kIpFragOverlaps), 1u);

  Feeder h;  // a "last" fragment that ends before data already held
  EXPECT_FALSE(h.add({0, Bytes(whole.begin(), whole.begin() + 96), true}));
  EXPECT_FALSE(h.add({40, Bytes(whole.begin() + 40, whole.begin() + 48), false}));
  EXPECT_EQ(h.count(Counter::kIpFragOverlaps), 1u);
}

TEST(IpReassembly, MalformedAndOversizedFragments) {
  Feeder f;
  EXPECT_FALSE(f.add({0, Bytes(20, 1), true}));  // more fragments follow, 20 is not 8k
  EXPECT_FALSE(f.add({8, Bytes{}, false}));      // empty
  EXPECT_EQ(f.count(Counter::kIpFragMalformed), 2u);
  EXPECT_EQ(f.r.datagramsHeld(), 0u);

  // RFC 791: the largest offset is 8191 * 8 = 65528; with 8 more bytes and a 20-byte header the
  // packet would be 65556 bytes long (the "ping of death").
  EXPECT_FALSE(f.add({0, Bytes(64, 2), true}));
  EXPECT_FALSE(f.add({65528, Bytes(8, 2), false}));
  EXPECT_EQ(f.count(Counter::kIpFragTooBig), 1u);
  EXPECT_EQ(f.r.datagramsHeld(), 0u);  // its datagram is gone too
  // IPv6 fragment offsets reach the same 65528, and the payload length field is 16 bits.
  EXPECT_FALSE(f.add({65528, Bytes(16, 2), false}, key(9, true)));
  EXPECT_EQ(f.count(Counter::kIpFragTooBig), 2u);
  // The largest legal IPv4 datagram reassembles: 65515 bytes after a 20-byte header.
  Bytes big = pattern(65515, 5);
  std::optional<Datagram> d;
  for (const Frag& x : split(big, 1480)) d = f.add(x, key(10));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->payload, big);
}

TEST(IpReassembly, TimeoutRunsOnPacketTimeFromTheFirstFragment) {
  Feeder f;
  Bytes whole = pattern(100, 6);
  auto frags = split(whole, 56);
  EXPECT_FALSE(f.add(frags[0], key(1), kT0));
  // 29.9 s later the tail still completes it (the 30 s timer started at the first fragment).
  EXPECT_TRUE(f.add(frags[1], key(1), kT0 + 29'900'000));
  EXPECT_FALSE(f.add(frags[0], key(2), kT0));
  EXPECT_FALSE(f.add(frags[0], key(3), kT0 + 20'000'000));
  f.r.expire(kT0 + 30'000'000, f.c);  // exactly 30 s: not yet
  EXPECT_EQ(f.count(Counter::kIpFragTimeouts), 0u);
  f.r.expire(kT0 + 30'000'001, f.c);
  EXPECT_EQ(f.count(Counter::kIpFragTimeouts), 1u);
  EXPECT_EQ(f.r.datagramsHeld(), 1u);
  // An expired datagram's tail finds nothing to complete.
  EXPECT_FALSE(f.add(frags[1], key(2), kT0 + 30'500'000));
  EXPECT_EQ(f.count(Counter::kIpFragReassembled), 1u);
}

TEST(IpReassembly, TableFullDropsTheOldestDatagram) {
  ReassemblyLimits lim;
  lim.max_datagrams = 2;
  Feeder f(lim);
  Bytes whole = pattern(100, 7);
  auto frags = split(whole, 56);
  EXPECT_FALSE(f.add(frags[0], key(1)));
  EXPECT_FALSE(f.add(frags[0], key(2)));
  EXPECT_FALSE(f.add(frags[0], key(3)));  // drops datagram 1, the oldest
  EXPECT_EQ(f.count(Counter::kIpFragTableFull), 1u);
  EXPECT_EQ(f.r.datagramsHeld(), 2u);
  EXPECT_TRUE(f.add(frags[1], key(3)));
  EXPECT_TRUE(f.add(frags[1], key(2)));
  EXPECT_FALSE(f.add(frags[1], key(1)));  // its head was dropped
}

TEST(IpReassembly, MemoryCapHoldsUnderAFloodAndRefusesWhatCanNeverFit) {
  ReassemblyLimits lim;
  lim.max_bytes = 64 * 1024;
  Feeder f(lim);
  Bytes head(1472, 0x55);
  // A flood of first fragments that never complete, each a new datagram.
  for (uint32_t id = 0; id < 5000; ++id) {
    EXPECT_FALSE(f.add({0, head, true}, key(id)));
    ASSERT_LE(f.r.bytesHeld(), lim.max_bytes);
  }
  EXPECT_LE(f.r.peakBytesHeld(), lim.max_bytes);
  const size_t per = IpReassembler::kDatagramOverhead + IpReassembler::kFragmentOverhead + 1472;
  EXPECT_EQ(f.r.datagramsHeld(), lim.max_bytes / per);
  EXPECT_EQ(f.count(Counter::kIpFragMemoryCap), 5000 - lim.max_bytes / per);
  // A genuine datagram in the middle of the flood still completes: only older ones make room.
  Bytes whole = pattern(3000, 8);
  auto frags = split(whole, 1480);
  EXPECT_FALSE(f.add(frags[0], key(99999)));
  EXPECT_FALSE(f.add(frags[1], key(99999)));
  auto d = f.add(frags[2], key(99999));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->payload, whole);
  // A single datagram larger than the whole budget is refused, not allowed to break the cap.
  const uint64_t before = f.count(Counter::kIpFragMemoryCap);
  std::optional<Datagram> none;
  for (const Frag& x : split(pattern(65000, 9), 1480)) {
    none = f.add(x, key(77777));
    ASSERT_LE(f.r.bytesHeld(), lim.max_bytes);
  }
  EXPECT_FALSE(none);
  EXPECT_GT(f.count(Counter::kIpFragMemoryCap), before);
}

TEST(IpReassembly, KeyHoldsVlanStackAndTunnelButNotTheIpv6NextHeader) {
  Feeder f;
  Bytes whole = pattern(100, 10);
  auto frags = split(whole, 56);
  FragmentKey a = key(5);
  a.vlan_depth = 1;
  a.vlan[0] = 10;
  FragmentKey b = a;
  b.vlan[0] = 20;
  FragmentKey t = a;
  t.tunnel = 0xfeed;
  EXPECT_FALSE(f.add(frags[0], a));
  EXPECT_FALSE(f.add(frags[1], b));  // other VLAN: another datagram
  EXPECT_FALSE(f.add(frags[1], t));  // other tunnel: another datagram
  EXPECT_TRUE(f.add(frags[1], a));
  EXPECT_EQ(f.r.datagramsHeld(), 2u);

  // RFC 8200 §4.5: only the offset-zero fragment's Next Header counts.
  Fragment head;
  head.key = key(6, true);
  head.ts_us = kT0;
  head.protocol = 6;
  head.offset = 0;
  head.more = true;
  head.data = std::span<const uint8_t>(frags[0].bytes.data(), frags[0].bytes.size());
  Fragment tail = head;
  tail.protocol = 17;
  tail.offset = 56;
  tail.more = false;
  tail.data = std::span<const uint8_t>(frags[1].bytes.data(), frags[1].bytes.size());
  EXPECT_FALSE(f.r.addFragment(tail, f.c));
  auto d = f.r.addFragment(head, f.c);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->protocol, 6);
}

// ---- through the decoder --------------------------------------------------------------------

Bytes fragFrame(const Bytes& udp_whole, size_t lo, size_t hi, uint16_t id,
                std::initializer_list<Tag> tags = {}) {
  Ipv4 ip;
  ip.df = false;
  ip.id = id;
  ip.mf = hi < udp_whole.size();
  ip.frag_offset8 = static_cast<uint16_t>(lo / 8);
  return ethernet(kIpv4Type, ipv4(ip, Bytes(udp_whole.begin() + lo, udp_whole.begin() + hi)), tags);
}

TEST(IpReassemblyDecoder, VlansNeverReassembleTogether) {
  Harness h;
  Bytes whole = udp(5060, 5060, kInvite);
  ASSERT_FALSE(h.decode(kDltEn10mb, fragFrame(whole, 0, 64, 1, {{0x8100, 10}})));
  ASSERT_FALSE(h.decode(kDltEn10mb, fragFrame(whole, 64, whole.size(), 1, {{0x8100, 20}})));
  EXPECT_TRUE(h.out.empty());
  ASSERT_TRUE(h.decode(kDltEn10mb, fragFrame(whole, 64, whole.size(), 1, {{0x8100, 10}})));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].bytes, kInvite);
  EXPECT_EQ(h.out[0].vlan[0], 10);
}

TEST(IpReassemblyDecoder, AnyFrameMovesTheClockThatExpiresFragments) {
  DecoderConfig cfg;
  cfg.ip_frag.timeout_ms = 5000;
  Harness h(cfg);
  Bytes whole = udp(5060, 5060, kInvite);
  ASSERT_FALSE(h.decode(kDltEn10mb, fragFrame(whole, 0, 64, 2), kT0));
  // An unrelated frame 6 s later: the head times out, so its tail completes nothing.
  ASSERT_TRUE(h.decode(kDltEn10mb, ethernet(kIpv4Type, ipv4({}, udp(5060, 5060, kRinging))),
                       kT0 + 6'000'000));
  EXPECT_EQ(h.count("ip.frag_timeouts"), 1u);
  EXPECT_FALSE(h.decode(kDltEn10mb, fragFrame(whole, 64, whole.size(), 2), kT0 + 6'000'001));
  EXPECT_EQ(h.out.size(), 1u);
}

TEST(IpReassemblyDecoder, ConfiguredCapsAreHonoured) {
  DecoderConfig cfg;
  cfg.ip_frag.max_datagrams = 1;
  Harness h(cfg);
  Bytes whole = udp(5060, 5060, kInvite);
  ASSERT_FALSE(h.decode(kDltEn10mb, fragFrame(whole, 0, 64, 3)));
  ASSERT_FALSE(h.decode(kDltEn10mb, fragFrame(whole, 0, 64, 4)));
  EXPECT_EQ(h.count("ip.frag_table_full"), 1u);
  EXPECT_TRUE(h.decode(kDltEn10mb, fragFrame(whole, 64, whole.size(), 4)));
}

}  // namespace
}  // namespace mcn::capture::test
