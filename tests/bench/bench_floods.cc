// Floods (issue 7): what hostile or broken traffic costs the parser and the tracker, next to the
// normal case. Run: mcn_bench --benchmark_filter='Flood|Normal|Big|ManyHeaders'
//
// - BM_NormalCalls / BM_FloodInvites: SIP text -> SipParser -> CallTracker. The normal mix is
//   answered calls (INVITE 100 180 200 ACK BYE 200); the flood is initial INVITEs with unique
//   Call-IDs that never get a response, 0.5 ms apart (2000/s, so nothing reaches the 180 s ring
//   timeout within 200k). Counters: peak open calls, calls.evicted, heap bytes held by the
//   tracker per open call (glibc mallinfo2 before the tracker exists vs. at the peak, so parser
//   and text buffers, freed per message, are not counted).
// - BM_BigMessage: a 64 KB INVITE (body or one long header) and one byte too many
//   (sip.too_large).
// - BM_ManyHeaders: one INVITE with N extra Via headers, N Via values in one header, or N
//   unknown headers, to show whether the cost per header stays flat as N grows.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "mcn/calls/tracker.h"
#include "mcn/sipparse/parser.h"

namespace {

using mcn::calls::CallRecord;
using mcn::calls::CallTracker;
using mcn::calls::TrackerConfig;
using mcn::capture::SipPayload;
using mcn::sipparse::ParserConfig;
using mcn::sipparse::SipParser;

constexpr int64_t kT0 = 1795000000000000;

ParserConfig parserConfig() {
  ParserConfig cfg;
  cfg.dial_plan.country_code = "86";
  cfg.dial_plan.area_code = "25";
  cfg.dial_plan.local_number_length = 8;
  return cfg;
}

uint64_t counterOf(const SipParser& p, std::string_view name) {
  uint64_t v = 0;
  p.forEachCounter([&](std::string_view n, uint64_t x) {
    if (n == name) v = x;
  });
  return v;
}

uint64_t counterOf(const CallTracker& t, std::string_view name) {
  uint64_t v = 0;
  t.forEachCounter([&](std::string_view n, uint64_t x) {
    if (n == name) v = x;
  });
  return v;
}

size_t heapInUse() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

std::string num6(int i) {
  std::string n = std::to_string(i % 1000000);
  return std::string(6 - n.size(), '0') + n;
}

// One SIP request or response of call i. kind: 0 INVITE, 1 100, 2 180, 3 200 (INVITE),
// 4 ACK, 5 BYE, 6 200 (BYE).
void renderMessage(std::string& s, int i, int kind) {
  const std::string n = num6(i);
  const std::string id = "fl" + std::to_string(i) + "-a84b4c76e66710@192.0.2.4";
  const std::string from = "<sip:+8613900" + n + "@ims.example;user=phone>;tag=f" + n;
  const std::string to = "<sip:+862583" + n + "@ims.example;user=phone>";
  const std::string inv_via = "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776a" + n + "\r\n";
  s.clear();
  switch (kind) {
    case 0:
      s += "INVITE sip:+862583" + n + "@ims.example;user=phone SIP/2.0\r\n" + inv_via +
           "Max-Forwards: 70\r\nFrom: " + from + "\r\nTo: " + to + "\r\nCall-ID: " + id +
           "\r\nCSeq: 1 INVITE\r\nContact: <sip:+8613900" + n +
           "@192.0.2.4:5060>\r\nP-Asserted-Identity: <tel:+8613900" + n +
           ">\r\nP-Charging-Vector: icid-value=icid" + n +
           "\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n";
      return;
    case 1:
    case 2:
    case 3:
      s += kind == 1   ? "SIP/2.0 100 Trying\r\n"
           : kind == 2 ? "SIP/2.0 180 Ringing\r\n"
                       : "SIP/2.0 200 OK\r\n";
      s += inv_via + "From: " + from + "\r\nTo: " + to + (kind == 1 ? "" : ";tag=t" + n) +
           "\r\nCall-ID: " + id + "\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
      return;
    case 4:
    case 5:
      s += std::string(kind == 4 ? "ACK" : "BYE") + " sip:+862583" + n +
           "@192.0.2.9:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK" +
           (kind == 4 ? "ack" : "bye") + n + "\r\nMax-Forwards: 70\r\nFrom: " + from +
           "\r\nTo: " + to + ";tag=t" + n + "\r\nCall-ID: " + id +
           "\r\nCSeq: " + (kind == 4 ? "1 ACK" : "2 BYE") + "\r\nContent-Length: 0\r\n\r\n";
      return;
    default:
      s += "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKbye" + n +
           "\r\nFrom: " + from + "\r\nTo: " + to + ";tag=t" + n + "\r\nCall-ID: " + id +
           "\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
  }
}

struct RunResult {
  uint64_t events = 0;
  size_t peak_open = 0;
  size_t heap_at_peak = 0;  // bytes in use beyond the baseline when open calls peaked
  uint64_t evicted = 0;
  uint64_t records = 0;
};

// Feeds `messages` (index -> (call, kind, ts)) through a fresh parser and tracker.
template <typename NextMessage>
RunResult runPipeline(size_t max_calls, uint64_t messages, NextMessage next) {
  RunResult r;
  SipParser parser(parserConfig());
  SipPayload p;
  p.bytes.reserve(1024);
  const size_t base = heapInUse();
  TrackerConfig cfg;
  cfg.max_calls = max_calls;
  CallTracker tracker(cfg, [&](CallRecord&& rec) {
    ++r.records;
    benchmark::DoNotOptimize(rec);
  });
  int64_t last_ts = kT0;
  for (uint64_t k = 0; k < messages; ++k) {
    int call = 0, kind = 0;
    next(k, call, kind, last_ts);
    renderMessage(p.bytes, call, kind);
    p.ts_us = last_ts;
    auto ev = parser.parse(p);
    if (ev) tracker.onEvent(*ev);
    ++r.events;
    // Sampling the heap is cheap (mallinfo2 walks the arenas; one arena here) but not free:
    // only every 4096 messages, and at the end.
    if ((k & 4095) == 0 || k + 1 == messages) {
      const size_t open = tracker.openCalls();
      if (open >= r.peak_open) {
        r.peak_open = open;
        r.heap_at_peak = heapInUse() - std::min(base, heapInUse());
      }
    }
  }
  tracker.finish(last_ts + 1000);
  r.evicted = counterOf(tracker, "calls.evicted");
  return r;
}

void report(benchmark::State& state, const RunResult& r) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(r.events));
  state.counters["peak_open"] = static_cast<double>(r.peak_open);
  state.counters["evicted"] = static_cast<double>(r.evicted);
  state.counters["records"] = static_cast<double>(r.records);
  state.counters["heap_MB"] = static_cast<double>(r.heap_at_peak) / 1e6;
  state.counters["B_per_open"] =
      r.peak_open ? static_cast<double>(r.heap_at_peak) / static_cast<double>(r.peak_open) : 0;
  state.SetLabel("items = SIP messages");
}

// Answered calls, one every ms, 7 messages each, messages of concurrent calls interleaved by
// time (INVITE t, 100 t+1ms, 180 t+50ms, 200 t+3s, ACK t+3.05s, BYE t+30s, 200 t+30.01s).
// Args: calls, max_calls.
void BM_NormalCalls(benchmark::State& state) {
  const int calls = static_cast<int>(state.range(0));
  const size_t max_calls = static_cast<size_t>(state.range(1));
  static constexpr int64_t kOffsetUs[7] = {0, 1000, 50000, 3000000, 3050000, 30000000, 30010000};
  // Message order: by time. Build (ts, call, kind) once.
  std::vector<std::tuple<int64_t, int, int>> order;
  order.reserve(static_cast<size_t>(calls) * 7);
  for (int i = 0; i < calls; ++i) {
    for (int k = 0; k < 7; ++k) order.emplace_back(kT0 + int64_t{i} * 1000 + kOffsetUs[k], i, k);
  }
  std::sort(order.begin(), order.end());
  RunResult r;
  for (auto _ : state) {
    r = runPipeline(max_calls, order.size(), [&](uint64_t k, int& call, int& kind, int64_t& ts) {
      ts = std::get<0>(order[k]);
      call = std::get<1>(order[k]);
      kind = std::get<2>(order[k]);
    });
  }
  report(state, r);
}
BENCHMARK(BM_NormalCalls)
    ->Args({20000, 200000})
    ->Args({20000, 10000})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// Unique-Call-ID INVITEs, 2000/s, never answered. Args: invites, max_calls.
void BM_FloodInvites(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  const size_t max_calls = static_cast<size_t>(state.range(1));
  RunResult r;
  for (auto _ : state) {
    r = runPipeline(max_calls, n, [](uint64_t k, int& call, int& kind, int64_t& ts) {
      ts = kT0 + static_cast<int64_t>(k) * 500;
      call = static_cast<int>(k);
      kind = 0;
    });
  }
  report(state, r);
}
BENCHMARK(BM_FloodInvites)
    ->Args({200000, 10000})
    ->Args({200000, 200000})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// ---- big messages ----

std::string inviteHead(const std::string& extra_headers, size_t body_len) {
  return "INVITE sip:+862583001013@ims.example;user=phone SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.40:5060;branch=z9hG4bK-ue-01\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:+8613900101230@ims.example;user=phone>;tag=a73kszlfl\r\n"
         "To: <tel:+86-25-8300-1013>\r\n"
         "Call-ID: 3c26700e7d5b-1d2e@192.0.2.40\r\n"
         "CSeq: 101 INVITE\r\n" +
         extra_headers +
         "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(body_len) +
         "\r\n\r\n";
}

// An INVITE of exactly `size` bytes. shape 0: the bulk is the body; 1: one long unknown header.
std::string bigInvite(size_t size, int shape) {
  std::string head = inviteHead("", 0);
  if (shape == 0) {
    // Content-Length grows with the body: iterate until the total fits exactly.
    size_t body = size - head.size();
    for (int i = 0; i < 3; ++i) body = size - inviteHead("", body).size();
    std::string s = inviteHead("", body);
    s.append(body, 'a');
    return s;
  }
  const std::string prefix = "X-Filler: ";
  const size_t fill = size - head.size() - prefix.size() - 2;
  return inviteHead(prefix + std::string(fill, 'b') + "\r\n", 0);
}

// Args: size, shape.
void BM_BigMessage(benchmark::State& state) {
  SipParser parser(parserConfig());
  SipPayload p;
  p.bytes = bigInvite(static_cast<size_t>(state.range(0)), static_cast<int>(state.range(1)));
  for (auto _ : state) {
    auto ev = parser.parse(p);
    benchmark::DoNotOptimize(ev);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(p.bytes.size()));
  state.counters["parsed"] = static_cast<double>(counterOf(parser, "sip.parsed"));
  state.counters["too_large"] = static_cast<double>(counterOf(parser, "sip.too_large"));
}
BENCHMARK(BM_BigMessage)
    ->Args({1000, 0})
    ->Args({65535, 0})
    ->Args({65536, 0})
    ->Args({65535, 1})
    ->Args({65536, 1});

// ---- many headers ----

// shape 0: N extra "v:" (compact Via) headers; 1: one Via header with N comma-separated values;
// 2: N unknown headers "X-Hn: n". The Via values are as short as RFC 3261 allows (no branch) so
// that N = 5000 still fits 64 KB where possible.
std::string manyHeaders(int n, int shape) {
  std::string extra;
  if (shape == 0) {
    for (int i = 0; i < n; ++i) extra += "v:SIP/2.0/UDP a\r\n";
  } else if (shape == 1) {
    extra = "v:SIP/2.0/UDP a";
    for (int i = 1; i < n; ++i) extra += ",SIP/2.0/UDP a";
    extra += "\r\n";
  } else {
    for (int i = 0; i < n; ++i) extra += "X-H" + std::to_string(i) + ":1\r\n";
  }
  return inviteHead(extra, 0);
}

// Args: headers, shape.
void BM_ManyHeaders(benchmark::State& state) {
  SipParser parser(parserConfig());
  SipPayload p;
  const int n = static_cast<int>(state.range(0));
  p.bytes = manyHeaders(n, static_cast<int>(state.range(1)));
  for (auto _ : state) {
    auto ev = parser.parse(p);
    benchmark::DoNotOptimize(ev);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(p.bytes.size());
  state.counters["parsed"] = static_cast<double>(counterOf(parser, "sip.parsed"));
  state.counters["too_large"] = static_cast<double>(counterOf(parser, "sip.too_large"));
  state.counters["dropped_other"] = static_cast<double>(
      state.iterations() - counterOf(parser, "sip.parsed") - counterOf(parser, "sip.too_large"));
  // time per header: the figure that must stay flat as N grows
  state.counters["ns_per_header"] =
      benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ManyHeaders)
    ->ArgsProduct({{10, 100, 250, 1000, 3500}, {0, 1, 2}})
    ->Args({5000, 2})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
