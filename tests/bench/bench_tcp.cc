// SIP over TCP stream reassembly (capture/src/tcp_reassembly.h):
// - throughput of segments through the reassembler, in order and with every pair of segments
//   swapped, and through the whole FrameDecoder;
// - a flood of half-open streams (SYN, then part of a message that never ends, each on its own
//   port) showing that the bytes held stay under the configured caps: counters `peak_held_bytes`
//   (what the reassembler accounts), `heap_bytes` (glibc's in-use heap after the flood, less
//   before) and the refusals.
// Run: build/release/tests/mcn_bench --benchmark_filter=Tcp

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../../capture/src/tcp_reassembly.h"
#include "mcn/capture/decoder.h"

namespace {

using mcn::capture::DecoderConfig;
using mcn::capture::Endpoint;
using mcn::capture::FrameDecoder;
using mcn::capture::SipPayload;
using mcn::capture::TcpReassemblyConfig;
using mcn::capture::detail::Counters;
using mcn::capture::detail::MessageSink;
using mcn::capture::detail::StreamKey;
using mcn::capture::detail::TcpReassembler;
using mcn::capture::detail::TcpSegment;

const std::string kSdp =
    "v=0\r\no=- 2890844526 2890844526 IN IP4 192.0.2.40\r\ns=-\r\nc=IN IP4 192.0.2.40\r\n"
    "t=0 0\r\nm=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=ptime:20\r\na=sendrecv\r\n";

std::string message(const std::string& start, const std::string& body) {
  return start +
         "\r\nVia: SIP/2.0/TCP 198.51.100.10:5060;branch=z9hG4bK-pcscf-01\r\n"
         "Via: SIP/2.0/TCP 192.0.2.40:40000;rport;branch=z9hG4bK-ue-01\r\n"
         "From: \"Li Lei\" <sip:+8613900101230@ims.example;user=phone>;tag=a73kszlfl\r\n"
         "To: <tel:+86-25-8300-1013>\r\n"
         "Call-ID: 3c26700e7d5b-1d2e@192.0.2.40\r\n"
         "CSeq: 101 INVITE\r\n"
         "P-Charging-Vector: icid-value=ab12cd34ef56.1.1;orig-ioi=ims.example\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// One direction's bytes: an INVITE, the 100/180 pipelined, a 200 with SDP.
std::string conversation() {
  return message("INVITE sip:+862583001013@ims.example;user=phone SIP/2.0", kSdp) +
         message("SIP/2.0 100 Trying", "") + message("SIP/2.0 180 Ringing", "") +
         message("SIP/2.0 200 OK", kSdp) + message("ACK sip:1013@198.51.100.20 SIP/2.0", "");
}

struct NullSink final : MessageSink {
  void onMessage(const StreamKey&, int64_t, std::string_view bytes) override {
    messages += 1;
    bytes_out += bytes.size();
  }
  uint64_t messages = 0;
  uint64_t bytes_out = 0;
};

StreamKey keyFor(uint32_t i) {
  StreamKey k;
  k.src.addr = {192, 0, 2, static_cast<uint8_t>(i >> 16)};
  k.dst.addr = {198, 51, 100, 10};
  k.src.port = static_cast<uint16_t>(i);
  k.dst.port = 5060;
  return k;
}

// Segments of `streams` connections, each carrying conversation() in segments of `mss` bytes
// (so messages span segments and segments hold several messages), interleaved across streams.
struct Plan {
  std::string bytes;
  std::vector<TcpSegment> segs;
};

Plan makePlan(uint32_t streams, size_t mss, bool swap_pairs) {
  Plan p;
  p.bytes = conversation();
  std::vector<std::vector<TcpSegment>> per(streams);
  for (uint32_t s = 0; s < streams; ++s) {
    TcpSegment syn;
    syn.key = keyFor(s);
    syn.seq = 1000 * s;
    syn.syn = true;
    per[s].push_back(syn);
    for (size_t off = 0; off < p.bytes.size(); off += mss) {
      TcpSegment d;
      d.key = syn.key;
      d.seq = syn.seq + 1 + static_cast<uint32_t>(off);
      d.payload = std::string_view(p.bytes).substr(off, mss);
      per[s].push_back(d);
    }
    if (swap_pairs) {
      for (size_t i = 1; i + 1 < per[s].size(); i += 2) std::swap(per[s][i], per[s][i + 1]);
    }
    TcpSegment fin;
    fin.key = syn.key;
    fin.seq = syn.seq + 1 + static_cast<uint32_t>(p.bytes.size());
    fin.fin = true;
    per[s].push_back(fin);
  }
  for (size_t i = 0;; ++i) {
    bool any = false;
    for (auto& v : per) {
      if (i < v.size()) {
        p.segs.push_back(v[i]);
        any = true;
      }
    }
    if (!any) break;
  }
  return p;
}

void runPlan(benchmark::State& state, bool swap_pairs) {
  const auto mss = static_cast<size_t>(state.range(0));
  Plan plan = makePlan(64, mss, swap_pairs);
  uint64_t segments = 0, bytes = 0, messages = 0;
  for (auto _ : state) {
    Counters counters;
    TcpReassembler r(TcpReassemblyConfig{}, counters);
    NullSink sink;
    int64_t ts = 1'700'000'000'000'000;
    for (TcpSegment seg : plan.segs) {
      seg.ts_us = ts++;
      r.onSegment(seg, sink);
    }
    segments += plan.segs.size();
    bytes += plan.bytes.size() * 64;
    messages += sink.messages;
    benchmark::DoNotOptimize(sink.bytes_out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(segments));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["messages_per_iter"] =
      static_cast<double>(messages) / static_cast<double>(state.iterations());
}

void BM_TcpReassembleInOrder(benchmark::State& state) { runPlan(state, false); }
BENCHMARK(BM_TcpReassembleInOrder)->Arg(1460)->Arg(536)->Arg(100);

void BM_TcpReassembleSwappedPairs(benchmark::State& state) { runPlan(state, true); }
BENCHMARK(BM_TcpReassembleSwappedPairs)->Arg(1460)->Arg(536)->Arg(100);

// The whole decoder (Ethernet/IPv4/TCP decode + reassembly + pre-filter + owned SipPayload).
std::vector<uint8_t> frame(const TcpSegment& seg) {
  std::vector<uint8_t> f = {0, 0, 0x5e, 0, 0x53, 1, 0, 0, 0x5e, 0, 0x53, 2, 0x08, 0x00};
  size_t ip_len = 20 + 20 + seg.payload.size();
  const uint8_t ip[20] = {0x45,
                          0,
                          static_cast<uint8_t>(ip_len >> 8),
                          static_cast<uint8_t>(ip_len),
                          0,
                          0,
                          0x40,
                          0,
                          64,
                          6,
                          0,
                          0,
                          seg.key.src.addr[0],
                          seg.key.src.addr[1],
                          seg.key.src.addr[2],
                          seg.key.src.addr[3],
                          seg.key.dst.addr[0],
                          seg.key.dst.addr[1],
                          seg.key.dst.addr[2],
                          seg.key.dst.addr[3]};
  f.insert(f.end(), ip, ip + 20);
  uint8_t flags = static_cast<uint8_t>((seg.syn ? 0x02 : 0) | (seg.fin ? 0x01 : 0) | 0x10);
  const uint8_t tcp[20] = {static_cast<uint8_t>(seg.key.src.port >> 8),
                           static_cast<uint8_t>(seg.key.src.port),
                           static_cast<uint8_t>(seg.key.dst.port >> 8),
                           static_cast<uint8_t>(seg.key.dst.port),
                           static_cast<uint8_t>(seg.seq >> 24),
                           static_cast<uint8_t>(seg.seq >> 16),
                           static_cast<uint8_t>(seg.seq >> 8),
                           static_cast<uint8_t>(seg.seq),
                           0,
                           0,
                           0,
                           1,
                           0x50,
                           flags,
                           0xff,
                           0xff,
                           0,
                           0,
                           0,
                           0};
  f.insert(f.end(), tcp, tcp + 20);
  f.insert(f.end(), seg.payload.begin(), seg.payload.end());
  return f;
}

void BM_TcpDecodeFrames(benchmark::State& state) {
  Plan plan = makePlan(64, static_cast<size_t>(state.range(0)), false);
  std::vector<std::vector<uint8_t>> frames;
  for (const auto& s : plan.segs) frames.push_back(frame(s));
  uint64_t n = 0, msgs = 0;
  for (auto _ : state) {
    FrameDecoder d(DecoderConfig{}, [&](SipPayload&& p) {
      ++msgs;
      benchmark::DoNotOptimize(p.bytes.data());
    });
    int64_t ts = 1'700'000'000'000'000;
    for (const auto& f : frames) d.decode(1, ts++, f, static_cast<uint32_t>(f.size()));
    n += frames.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["messages_per_iter"] =
      static_cast<double>(msgs) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_TcpDecodeFrames)->Arg(1460)->Arg(100);

// ---- the flood -------------------------------------------------------------------------------

size_t heapInUse() { return mallinfo2().uordblks; }

// Arguments: number of half-open streams, bytes of the never-ending message each sends,
// max_total_bytes in MiB (0: the default, 64 MiB).
void BM_TcpHalfOpenFlood(benchmark::State& state) {
  const auto streams = static_cast<uint32_t>(state.range(0));
  const auto partial = static_cast<size_t>(state.range(1));
  TcpReassemblyConfig cfg;
  if (state.range(2) != 0) cfg.max_total_bytes = static_cast<size_t>(state.range(2)) << 20;
  // Headers that never end: a start line and one long header, cut at `partial` bytes.
  std::string junk = "INVITE sip:1013@ims.example SIP/2.0\r\nX-Flood: " + std::string(partial, 'f');
  junk.resize(partial);

  size_t peak = 0, streams_held = 0;
  int64_t heap = 0;
  uint64_t table_full = 0, total_cap = 0, stream_cap = 0;
  for (auto _ : state) {
    size_t heap_before = heapInUse();
    Counters counters;
    {
      TcpReassembler r(cfg, counters);
      NullSink sink;
      int64_t ts = 1'700'000'000'000'000;
      for (uint32_t i = 0; i < streams; ++i) {
        TcpSegment seg;
        seg.key = keyFor(i);
        seg.seq = i * 7919u;
        seg.syn = true;
        seg.ts_us = ts;
        r.onSegment(seg, sink);
        seg.syn = false;
        seg.seq += 1;
        seg.payload = junk;
        r.onSegment(seg, sink);
        ts += 10;  // 100k new streams a second: all inside the 60 s idle timeout
      }
      state.PauseTiming();
      peak = r.peakHeldBytes();
      streams_held = r.streams();
      heap = static_cast<int64_t>(heapInUse()) - static_cast<int64_t>(heap_before);
      state.ResumeTiming();
    }
    table_full = counters.get(mcn::capture::detail::Counter::kTcpStreamsTableFull);
    total_cap = counters.get(mcn::capture::detail::Counter::kTcpTotalBytesCap);
    stream_cap = counters.get(mcn::capture::detail::Counter::kTcpStreamBytesCap);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * streams * 2);
  state.counters["cap_total_bytes"] = static_cast<double>(cfg.max_total_bytes);
  state.counters["peak_held_bytes"] = static_cast<double>(peak);
  state.counters["heap_bytes"] = static_cast<double>(heap);
  state.counters["streams_held"] = static_cast<double>(streams_held);
  state.counters["streams_table_full"] = static_cast<double>(table_full);
  state.counters["total_bytes_cap"] = static_cast<double>(total_cap);
  state.counters["stream_bytes_cap"] = static_cast<double>(stream_cap);
}
BENCHMARK(BM_TcpHalfOpenFlood)
    ->Args({10'000, 1000, 0})
    ->Args({100'000, 1000, 0})
    ->Args({100'000, 1000, 16})
    ->Args({50'000, 60'000, 0})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
