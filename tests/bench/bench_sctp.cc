// SCTP user message reassembly: how many INVITEs split into four DATA chunks per second (the
// reassembler alone, in order and reversed, and the whole FrameDecoder from Ethernet frames to the
// emitted SIP message), and a flood of first fragments that never complete against the caps (peak
// bytes held is reported and must stay at or under the cap).
// Run: build/release/tests/mcn_bench --benchmark_filter=Sctp

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../../capture/src/sctp_reassembly.h"
#include "mcn/capture/decoder.h"

namespace {

using mcn::capture::SctpReassemblyConfig;
using mcn::capture::detail::Counter;
using mcn::capture::detail::Counters;
using mcn::capture::detail::SctpFragment;
using mcn::capture::detail::SctpReassembler;

constexpr int64_t kT0 = 1'795'328'495'053'000;
constexpr size_t kInviteBytes = 4758;  // an IMS INVITE with SDP and ISUP bodies
constexpr size_t kChunk = 1200;        // user data per DATA chunk under a 1280-byte path MTU

std::string invite() {
  std::string sip =
      "INVITE sip:1013@ims.example.com SIP/2.0\r\nCall-ID: bench@198.18.0.1\r\nCSeq: 1 INVITE\r\n"
      "Content-Type: multipart/mixed;boundary=b\r\n";
  std::string body(kInviteBytes - sip.size() - 26, 'x');
  return sip + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::vector<SctpFragment> fragments(const std::string& m) {
  std::vector<SctpFragment> v;
  for (size_t off = 0; off < m.size(); off += kChunk) {
    SctpFragment f;
    f.assoc.src.addr = {198, 18, 0, 1};
    f.assoc.dst.addr = {198, 18, 0, 2};
    f.assoc.src.port = f.assoc.dst.port = 5060;
    f.assoc.vtag = 0x1234;
    f.begin = off == 0;
    f.end = off + kChunk >= m.size();
    f.data = std::string_view(m).substr(off, kChunk);
    v.push_back(f);
  }
  return v;
}

// Arg 0: in order; 1: last fragment first.
void BM_SctpReassembler_FourChunkInvite(benchmark::State& state) {
  Counters c;
  SctpReassembler r(SctpReassemblyConfig{}, c, 1);
  const std::string m = invite();
  std::vector<SctpFragment> frags = fragments(m);
  if (state.range(0) == 1) std::reverse(frags.begin(), frags.end());
  uint32_t tsn = 0;
  uint16_t ssn = 0;
  int64_t ts = kT0;
  for (auto _ : state) {
    ts += 10;
    ++ssn;
    // TSNs follow the message's fragment order, whatever order they are offered in.
    for (size_t i = 0; i < frags.size(); ++i) {
      SctpFragment f = frags[i];
      const size_t pos = state.range(0) == 1 ? frags.size() - 1 - i : i;
      f.ts_us = ts;
      f.ssn_or_mid = ssn;
      f.tsn = tsn + static_cast<uint32_t>(pos);
      auto out = r.addFragment(f);
      benchmark::DoNotOptimize(out);
    }
    tsn += static_cast<uint32_t>(frags.size());
  }
  if (c.get(Counter::kSctpReassembled) != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("not every message reassembled");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(m.size()));
}
BENCHMARK(BM_SctpReassembler_FourChunkInvite)->Arg(0)->Arg(1);

// Ethernet + IPv4 + SCTP frames, one DATA chunk each, of one INVITE with SSN `ssn`.
std::vector<std::vector<uint8_t>> inviteFrames(uint16_t ssn, uint32_t tsn) {
  const std::string m = invite();
  std::vector<std::vector<uint8_t>> frames;
  for (size_t off = 0, i = 0; off < m.size(); off += kChunk, ++i) {
    const size_t n = std::min(kChunk, m.size() - off);
    const uint8_t flags = static_cast<uint8_t>((off == 0 ? 2 : 0) | (off + n >= m.size() ? 1 : 0));
    std::vector<uint8_t> sctp = {0x13, 0xc4, 0x13, 0xc4, 0, 0, 0x12, 0x34, 0, 0, 0, 0};
    const size_t clen = 16 + n;
    const uint32_t t = tsn + static_cast<uint32_t>(i);
    const uint8_t hdr[16] = {0,
                             flags,
                             static_cast<uint8_t>(clen >> 8),
                             static_cast<uint8_t>(clen),
                             static_cast<uint8_t>(t >> 24),
                             static_cast<uint8_t>(t >> 16),
                             static_cast<uint8_t>(t >> 8),
                             static_cast<uint8_t>(t),
                             0,
                             0,
                             static_cast<uint8_t>(ssn >> 8),
                             static_cast<uint8_t>(ssn),
                             0,
                             0,
                             0,
                             0};
    sctp.insert(sctp.end(), hdr, hdr + 16);
    sctp.insert(sctp.end(), m.begin() + static_cast<std::ptrdiff_t>(off),
                m.begin() + static_cast<std::ptrdiff_t>(off + n));
    while (sctp.size() % 4) sctp.push_back(0);
    std::vector<uint8_t> f = {0, 0, 0x5e, 0, 0x53, 1, 0, 0, 0x5e, 0, 0x53, 2, 0x08, 0x00};
    const size_t len = 20 + sctp.size();
    const uint8_t ip[20] = {0x45,
                            0,
                            static_cast<uint8_t>(len >> 8),
                            static_cast<uint8_t>(len),
                            0,
                            0,
                            0x40,
                            0,
                            64,
                            132,
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
    f.insert(f.end(), sctp.begin(), sctp.end());
    frames.push_back(std::move(f));
  }
  return frames;
}

void BM_SctpDecoder_FragmentedInvite(benchmark::State& state) {
  uint64_t emitted = 0;
  mcn::capture::FrameDecoder dec(
      {}, [&](mcn::capture::SipPayload&& p) { emitted += p.bytes.size() > 4000 ? 1 : 0; });
  // 64 messages with their own SSNs and TSNs, reused round robin: each completes before its SSN
  // comes back, and the copies are late duplicates only for the finished range's record.
  std::vector<std::vector<std::vector<uint8_t>>> sets;
  for (uint16_t ssn = 0; ssn < 64; ++ssn) sets.push_back(inviteFrames(ssn, ssn * 4u));
  int64_t ts = kT0;
  size_t i = 0;
  for (auto _ : state) {
    // Past the 30 s timeout between two uses of a set, so every message is new again.
    if (i % sets.size() == 0) ts += 31'000'000;
    for (const auto& f : sets[i++ % sets.size()]) {
      dec.decode(1, ts += 5, f, static_cast<uint32_t>(f.size()));
    }
  }
  if (emitted != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("not every INVITE emitted");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SctpDecoder_FragmentedInvite);

// First fragments (1200 bytes) of messages that never complete, on 64 associations with unique
// SSNs: bytes held must stay under the cap. Arg: the cap in MiB.
void BM_SctpReassembler_IncompleteFlood(benchmark::State& state) {
  SctpReassemblyConfig cfg;
  cfg.max_bytes = static_cast<size_t>(state.range(0)) << 20;
  Counters c;
  SctpReassembler r(cfg, c, 1);
  const std::string head = "INVITE sip:x@y SIP/2.0\r\n" + std::string(1176, 'x');
  uint32_t n = 0;
  int64_t ts = kT0;
  for (auto _ : state) {
    SctpFragment f;
    f.assoc.src.addr = {198, 18, 0, 1};
    f.assoc.src.port = static_cast<uint16_t>(5000 + (n % 64));
    f.assoc.vtag = 7;
    f.ssn_or_mid = ++n;
    f.stream = static_cast<uint16_t>(n >> 16);
    f.tsn = n * 4;
    f.begin = true;
    f.ts_us = ts += 1;  // a million fragments a second: nothing times out within the run
    f.data = head;
    benchmark::DoNotOptimize(r.addFragment(f));
  }
  if (r.peakBytesHeld() > cfg.max_bytes) state.SkipWithError("byte cap exceeded");
  state.counters["cap_bytes"] = static_cast<double>(cfg.max_bytes);
  state.counters["peak_held_bytes"] = static_cast<double>(r.peakBytesHeld());
  state.counters["held_messages"] = static_cast<double>(r.messagesHeld());
  state.counters["refused_or_dropped"] =
      static_cast<double>(c.get(Counter::kSctpFragMemoryCap) + c.get(Counter::kSctpFragTableFull) +
                          c.get(Counter::kSctpFragAssocFull));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SctpReassembler_IncompleteFlood)->Arg(1)->Arg(16)->Iterations(200'000);

}  // namespace
