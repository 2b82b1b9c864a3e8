// IP fragment reassembly: how many 4-fragment INVITEs per second (the reassembler alone, and the
// whole FrameDecoder from Ethernet frames to the emitted SIP message), and a flood of incomplete
// fragments with unique ids against the byte cap (peak bytes held is reported as a counter and
// must stay at or under the cap).
// Run: build/release/tests/mcn_bench --benchmark_filter=Reassembl

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../../capture/src/ip_reassembly.h"
#include "mcn/capture/decoder.h"

namespace {

using mcn::capture::detail::Counter;
using mcn::capture::detail::Counters;
using mcn::capture::detail::Fragment;
using mcn::capture::detail::FragmentKey;
using mcn::capture::detail::IpReassembler;
using mcn::capture::detail::ReassemblyLimits;

constexpr int64_t kT0 = 1'795'328'495'053'000;
constexpr size_t kInviteBytes = 4758;  // a UDP datagram of an IMS INVITE with a large SDP
constexpr size_t kChunk = 1256;        // what a 1280-byte IPv4 MTU leaves, a multiple of 8

std::vector<uint8_t> payload() {
  std::vector<uint8_t> p(kInviteBytes);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>('a' + i % 26);
  return p;
}

FragmentKey keyFor(uint32_t id) {
  FragmentKey k;
  k.src = {198, 18, 0, 1};
  k.dst = {198, 18, 0, 2};
  k.protocol = 17;
  k.id = id;
  return k;
}

void BM_Reassembler_FourFragmentInvite(benchmark::State& state) {
  IpReassembler r(ReassemblyLimits{}, 1);
  Counters c;
  const std::vector<uint8_t> p = payload();
  uint32_t id = 0;
  int64_t ts = kT0;
  for (auto _ : state) {
    ++id;
    ts += 10;
    // Out of order, as ECMP delivers them: 2, 4, 1, 3.
    for (size_t idx : {1u, 3u, 0u, 2u}) {
      Fragment f;
      f.key = keyFor(id);
      f.ts_us = ts;
      f.protocol = 17;
      f.offset = static_cast<uint32_t>(idx * kChunk);
      f.more = f.offset + kChunk < p.size();
      f.data = std::span<const uint8_t>(p).subspan(f.offset, std::min(kChunk, p.size() - f.offset));
      auto d = r.addFragment(f, c);
      benchmark::DoNotOptimize(d);
    }
  }
  if (c.get(Counter::kIpFragReassembled) != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("not every datagram reassembled");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kInviteBytes));
}
BENCHMARK(BM_Reassembler_FourFragmentInvite);

// Ethernet + IPv4 fragment frames of one UDP SIP INVITE, from the FrameDecoder's point of view.
std::vector<std::vector<uint8_t>> inviteFrames(uint16_t id) {
  std::string sip =
      "INVITE sip:1013@ims.example.com SIP/2.0\r\nCall-ID: bench@198.18.0.1\r\nCSeq: 1 INVITE\r\n"
      "Content-Type: application/sdp\r\n";
  std::string body(kInviteBytes - 8 - sip.size() - 26, 'x');
  sip += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::vector<uint8_t> udp(8 + sip.size());
  udp[0] = 0x13;
  udp[1] = 0xc4;
  udp[2] = 0x13;
  udp[3] = 0xc4;
  udp[4] = static_cast<uint8_t>(udp.size() >> 8);
  udp[5] = static_cast<uint8_t>(udp.size());
  std::copy(sip.begin(), sip.end(), udp.begin() + 8);
  std::vector<std::vector<uint8_t>> frames;
  for (size_t off = 0; off < udp.size(); off += kChunk) {
    const size_t n = std::min(kChunk, udp.size() - off);
    const bool more = off + n < udp.size();
    static constexpr uint8_t kEth[14] = {0, 0, 0x5e, 0, 0x53, 1, 0, 0, 0x5e, 0, 0x53, 2, 0x08, 0x00};
    // Room for the whole frame first (GCC 12 otherwise warns, wrongly, that the inserts below
    // write past a 14-byte vector).
    std::vector<uint8_t> f;
    f.reserve(sizeof kEth + 20 + n);
    f.insert(f.end(), kEth, kEth + sizeof kEth);
    const size_t len = 20 + n;
    const uint16_t frag = static_cast<uint16_t>((more ? 0x2000 : 0) | (off / 8));
    const uint8_t ip[20] = {0x45,
                            0,
                            static_cast<uint8_t>(len >> 8),
                            static_cast<uint8_t>(len),
                            static_cast<uint8_t>(id >> 8),
                            static_cast<uint8_t>(id),
                            static_cast<uint8_t>(frag >> 8),
                            static_cast<uint8_t>(frag),
                            64,
                            17,
                            0,
                            0,
                            198,
                            18,
                            0,
                            1,
                            198,
                            18,
                            0,
                            2};
    f.insert(f.end(), ip, ip + 20);
    f.insert(f.end(), udp.begin() + static_cast<std::ptrdiff_t>(off),
             udp.begin() + static_cast<std::ptrdiff_t>(off + n));
    frames.push_back(std::move(f));
  }
  return frames;
}

void BM_Decoder_FragmentedInvite(benchmark::State& state) {
  uint64_t emitted = 0;
  mcn::capture::FrameDecoder dec(
      {}, [&](mcn::capture::SipPayload&& p) { emitted += p.bytes.size() > 4000 ? 1 : 0; });
  // 64 different ids, reused round robin: each datagram completes before its id comes back.
  std::vector<std::vector<std::vector<uint8_t>>> sets;
  for (uint16_t id = 0; id < 64; ++id) sets.push_back(inviteFrames(id));
  int64_t ts = kT0;
  size_t i = 0;
  for (auto _ : state) {
    for (const auto& f : sets[i++ % sets.size()]) {
      dec.decode(1, ts += 5, f, static_cast<uint32_t>(f.size()));
    }
  }
  if (emitted != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("not every INVITE emitted");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decoder_FragmentedInvite);

// A flood of first fragments (1480 bytes each) with unique ids that never complete: bytes held
// must stay under the cap however long it lasts. Arg: the cap in MiB.
void BM_Reassembler_IncompleteFlood(benchmark::State& state) {
  ReassemblyLimits lim;
  lim.max_bytes = static_cast<size_t>(state.range(0)) << 20;
  IpReassembler r(lim, 1);
  Counters c;
  std::vector<uint8_t> head(1480, 0x55);
  uint32_t id = 0;
  int64_t ts = kT0;
  for (auto _ : state) {
    Fragment f;
    f.key = keyFor(++id);
    f.ts_us = ts += 1;  // a million fragments a second: nothing times out within the run
    f.protocol = 17;
    f.offset = 0;
    f.more = true;
    f.data = head;
    benchmark::DoNotOptimize(r.addFragment(f, c));
  }
  if (r.peakBytesHeld() > lim.max_bytes) state.SkipWithError("byte cap exceeded");
  state.counters["cap_bytes"] = static_cast<double>(lim.max_bytes);
  state.counters["peak_held_bytes"] = static_cast<double>(r.peakBytesHeld());
  state.counters["held_datagrams"] = static_cast<double>(r.datagramsHeld());
  state.counters["dropped_for_cap"] =
      static_cast<double>(c.get(Counter::kIpFragMemoryCap) + c.get(Counter::kIpFragTableFull));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Reassembler_IncompleteFlood)->Arg(1)->Arg(16)->Iterations(200'000);

}  // namespace
