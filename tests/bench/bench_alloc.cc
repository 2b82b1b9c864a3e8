// Heap allocations per packet (issue 6: none on the common path). malloc, calloc and realloc are
// interposed for the whole mcn_bench binary (glibc has no malloc hooks since 2.34; an executable's
// definitions take precedence over libc's for every library, so sofia-sip's, libpcap's and
// libstdc++'s operator new calls are counted too) and counted while a benchmark asks for it.
// Reported as the counter `allocs/packet` next to the time.
//   mcn_bench --benchmark_filter=Alloc
// Stages: pre-filtered frames (OPTIONS) and ordinary call messages (INVITE, 180) through the
// decoder and SipParser::parseInto as the replay loop calls them, the live worker's stage
// against replay's and against the allocating parse(), then whole replays through
// mcn::app::runReplay (a fixture and, if MCN_BENCH_MIX names a capture, an mcn-gen mix), where
// per-call state and records are included.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <readerwriterqueue/readerwriterqueue.h>

#include "../../app/src/pipeline.h"
#include "mcn/app/config.h"
#include "mcn/app/replay.h"
#include "mcn/capture/decoder.h"
#include "mcn/sipparse/parser.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
}

namespace {
bool g_counting = false;
uint64_t g_allocs = 0;
}  // namespace

extern "C" void* malloc(size_t n) {
  if (g_counting) ++g_allocs;
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t a, size_t b) {
  if (g_counting) ++g_allocs;
  return __libc_calloc(a, b);
}
extern "C" void* realloc(void* p, size_t n) {
  if (g_counting) ++g_allocs;
  return __libc_realloc(p, n);
}

namespace {

struct Counting {
  uint64_t start;
  Counting() : start(g_allocs) { g_counting = true; }
  ~Counting() { g_counting = false; }
  uint64_t count() const { return g_allocs - start; }
};

std::vector<uint8_t> udpFrame(const std::string& payload) {
  std::vector<uint8_t> f = {0, 0, 0x5e, 0, 0x53, 1, 0, 0, 0x5e, 0, 0x53, 2, 0x08, 0x00};
  const size_t ip_len = 20 + 8 + payload.size();
  const uint8_t ip[20] = {0x45, 0, uint8_t(ip_len >> 8), uint8_t(ip_len), 0, 1, 0x40, 0, 64, 17,
                          0,    0, 198, 51, 100, 10, 203, 0, 113, 9};
  f.insert(f.end(), ip, ip + 20);
  const size_t udp_len = 8 + payload.size();
  const uint8_t udp[8] = {0x13, 0xc4, 0x13, 0xc4, uint8_t(udp_len >> 8), uint8_t(udp_len), 0, 0};
  f.insert(f.end(), udp, udp + 8);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

const std::string kOptions =
    "OPTIONS sip:pcscf.ims.example SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.40:5060;branch=z9hG4bK-ka-1\r\n"
    "From: <sip:+8613900101230@ims.example>;tag=ka1\r\n"
    "To: <sip:pcscf.ims.example>\r\n"
    "Call-ID: keepalive-1@192.0.2.40\r\n"
    "CSeq: 7 OPTIONS\r\n"
    "Content-Length: 0\r\n\r\n";

const std::string kInvite =
    "INVITE tel:+862583001013 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK-pcscf-01\r\n"
    "Via: SIP/2.0/UDP 192.0.2.40:5060;rport;branch=z9hG4bK-ue-01\r\n"
    "Max-Forwards: 69\r\n"
    "From: \"Li Lei\" <sip:+8613900101230@ims.example;user=phone>;tag=a73kszlfl\r\n"
    "To: <tel:+862583001013>\r\n"
    "Call-ID: 3c26700e7d5b-1d2e@192.0.2.40\r\n"
    "CSeq: 101 INVITE\r\n"
    "Contact: <sip:+8613900101230@192.0.2.40:5060>\r\n"
    "P-Asserted-Identity: \"Li Lei\" <sip:+8613900101230@ims.example;user=phone>\r\n"
    "P-Asserted-Identity: <tel:+8613900101230>\r\n"
    "P-Charging-Vector: icid-value=ab12cd34ef56.1.1;orig-ioi=ims.example\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 0\r\n\r\n";

const std::string kRinging =
    "SIP/2.0 180 Ringing\r\n"
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK-pcscf-01\r\n"
    "Via: SIP/2.0/UDP 192.0.2.40:5060;rport=5060;branch=z9hG4bK-ue-01\r\n"
    "From: \"Li Lei\" <sip:+8613900101230@ims.example;user=phone>;tag=a73kszlfl\r\n"
    "To: <tel:+862583001013>;tag=8321234356\r\n"
    "Call-ID: 3c26700e7d5b-1d2e@192.0.2.40\r\n"
    "CSeq: 101 INVITE\r\n"
    "Content-Length: 0\r\n\r\n";

mcn::sipparse::ParserConfig parserConfig() {
  mcn::sipparse::ParserConfig cfg;
  cfg.dial_plan.country_code = "86";
  cfg.dial_plan.area_code = "25";
  cfg.dial_plan.local_number_length = 8;
  return cfg;
}

// Decoder + parseInto, as app/src/replay.cc wires them (one SipEvent for the whole run).
void stageBench(benchmark::State& state, const std::vector<std::string>& messages) {
  mcn::sipparse::SipParser parser(parserConfig());
  mcn::sipparse::SipEvent ev;
  uint64_t parsed = 0;
  mcn::capture::DecoderConfig dc;
  dc.dedup_window_ms = 5;  // as the application runs it
  mcn::capture::FrameDecoder dec(dc, [&](mcn::capture::SipPayload&& p) {
    if (parser.parseInto(p, ev)) ++parsed;
  });
  std::vector<std::vector<uint8_t>> frames;
  for (const auto& m : messages) frames.push_back(udpFrame(m));
  int64_t t = 0;
  for (int i = 0; i < 4; ++i) {  // warm-up: buffers reach their size
    for (const auto& f : frames) dec.decode(1, t += 10'000, f, static_cast<uint32_t>(f.size()));
  }
  uint64_t packets = 0;
  Counting c;
  for (auto _ : state) {
    for (const auto& f : frames) {
      dec.decode(1, t += 10'000, f, static_cast<uint32_t>(f.size()));  // 10 ms apart: no dedup
      ++packets;
    }
  }
  const uint64_t allocs = c.count();
  state.counters["allocs/packet"] = static_cast<double>(allocs) / static_cast<double>(packets);
  state.counters["parsed"] = static_cast<double>(parsed);
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}

void BM_Alloc_PrefilteredOptions(benchmark::State& state) { stageBench(state, {kOptions}); }
BENCHMARK(BM_Alloc_PrefilteredOptions);

void BM_Alloc_InviteAndRinging(benchmark::State& state) { stageBench(state, {kInvite, kRinging}); }
BENCHMARK(BM_Alloc_InviteAndRinging);

// The live worker's part of the path (app/src/pipeline.h SipStage on its live clock), as
// app/src/run.cc runs it: payloads taken from the capture thread's ring into one reused
// SipPayload, parseInto, tally, tracker. Compared with the same stage on packet time (replay's),
// and with the allocating parse() the live worker called before issue 15. Filling the ring (the
// capture thread's work) is not counted.
template <typename Consume>
void workerBench(benchmark::State& state, Consume consume) {
  std::vector<mcn::capture::SipPayload> messages;
  for (const auto& m : {kInvite, kRinging}) {
    mcn::capture::SipPayload p;
    p.bytes = m;
    p.src.addr = {198, 51, 100, 10};
    p.src.port = 5060;
    p.dst.addr = {203, 0, 113, 9};
    p.dst.port = 5060;
    messages.push_back(p);
  }
  moodycamel::ReaderWriterQueue<mcn::capture::SipPayload> ring(1024);
  int64_t t = 1'795'000'000'000'000;
  auto fill = [&] {
    for (int k = 0; k < 256; ++k) {
      for (const auto& m : messages) {
        mcn::capture::SipPayload p = m;
        p.ts_us = t += 10'000;
        ring.enqueue(std::move(p));
      }
    }
  };
  mcn::capture::SipPayload p;
  auto drain = [&] {
    size_t n = 0;
    while (ring.try_dequeue(p)) {
      consume(p);
      ++n;
    }
    return n;
  };
  fill();
  drain();  // warm-up: buffers reach their size
  uint64_t allocs = 0, packets = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fill();
    state.ResumeTiming();
    Counting c;
    packets += drain();
    allocs += c.count();
  }
  state.counters["allocs/sip_msg"] = static_cast<double>(allocs) / static_cast<double>(packets);
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}

void BM_Alloc_LiveWorker(benchmark::State& state) {
  mcn::app::LiveClock clock;
  mcn::app::SipStage stage(parserConfig(), mcn::calls::TrackerConfig{}, &clock,
                           [](mcn::calls::CallRecord&&) {});
  workerBench(state, [&](mcn::capture::SipPayload& p) { stage.onPayload(p); });
}
BENCHMARK(BM_Alloc_LiveWorker);

void BM_Alloc_ReplayWorker(benchmark::State& state) {
  mcn::app::SipStage stage(parserConfig(), mcn::calls::TrackerConfig{}, nullptr,
                           [](mcn::calls::CallRecord&&) {});
  workerBench(state, [&](mcn::capture::SipPayload& p) { stage.onPayload(p); });
}
BENCHMARK(BM_Alloc_ReplayWorker);

// Before issue 15: SipParser::parse() builds a new SipEvent per message.
void BM_Alloc_WorkerWithParse(benchmark::State& state) {
  mcn::sipparse::SipParser parser(parserConfig());
  mcn::calls::CallTracker tracker(mcn::calls::TrackerConfig{}, [](mcn::calls::CallRecord&&) {});
  workerBench(state, [&](mcn::capture::SipPayload& p) {
    if (auto ev = parser.parse(p)) tracker.onEvent(*ev);
  });
}
BENCHMARK(BM_Alloc_WorkerWithParse);

// A whole replay: everything from pcap reading to call records (written to a null stream).
void replayBench(benchmark::State& state, const std::string& path) {
  if (!std::filesystem::exists(path)) {
    state.SkipWithError(("no capture at " + path).c_str());
    return;
  }
  mcn::app::Config cfg = mcn::app::loadConfigFile(std::string(MCN_SOURCE_DIR) + "/deploy/office.toml");
  uint64_t frames = 0;
  uint64_t allocs = 0;
  uint64_t messages = 0;
  for (auto _ : state) {
    std::ofstream null("/dev/null");
    Counting c;
    const auto res = mcn::app::runReplay({path}, cfg, {&null, nullptr});
    allocs += c.count();
    frames += res.frames;
    messages += res.sip_messages;
  }
  state.counters["allocs/packet"] = static_cast<double>(allocs) / static_cast<double>(frames);
  state.counters["allocs/sip_msg"] = static_cast<double>(allocs) / static_cast<double>(messages);
  state.SetItemsProcessed(static_cast<int64_t>(frames));
}

void BM_Alloc_ReplayFixture(benchmark::State& state) {
  replayBench(state, std::string(MCN_SOURCE_DIR) + "/pcaps/answered_dup_retrans.pcap");
}
BENCHMARK(BM_Alloc_ReplayFixture)->Unit(benchmark::kMillisecond);

// MCN_BENCH_MIX=mix.pcap (e.g. mcn-gen mix --calls 8000 --seed 1 -o mix.pcap)
void BM_Alloc_ReplayMix(benchmark::State& state) {
  const char* mix = std::getenv("MCN_BENCH_MIX");
  replayBench(state, mix != nullptr ? mix : "/nonexistent/set-MCN_BENCH_MIX");
}
BENCHMARK(BM_Alloc_ReplayMix)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
