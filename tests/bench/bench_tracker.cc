// CallTracker throughput: events per second for a stream of simple answered calls (INVITE,
// 100, 180, 200, ACK, BYE, 200), built in memory so only the tracker is measured.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "mcn/calls/tracker.h"
#include "mcn/sipparse/sip_event.h"

namespace {

using mcn::calls::CallRecord;
using mcn::calls::CallTracker;
using mcn::calls::TrackerConfig;
using mcn::sipparse::Method;
using mcn::sipparse::NameAddr;
using mcn::sipparse::SipEvent;

NameAddr numberAddr(const std::string& number, const std::string& tag = {}) {
  NameAddr a;
  a.uri = "sip:" + number + "@ims.example.net;user=phone";
  a.user = number;
  a.number = number;
  a.tag = tag;
  return a;
}

SipEvent request(int64_t t, Method m, const std::string& call_id, uint32_t cseq,
                 const std::string& branch, const NameAddr& from, const NameAddr& to) {
  SipEvent e;
  e.ts_us = t;
  e.is_request = true;
  e.method = m;
  e.request_uri = to;
  e.request_uri.tag.clear();
  e.call_id = call_id;
  e.cseq = cseq;
  e.cseq_method = m;
  e.from = from;
  e.to = to;
  e.via_branch = branch;
  e.via_count = 1;
  return e;
}

SipEvent response(int64_t t, int status, const SipEvent& req, const std::string& to_tag) {
  SipEvent e = req;
  e.ts_us = t;
  e.is_request = false;
  e.status = status;
  e.phrase = status == 200 ? "OK" : status == 180 ? "Ringing" : "Trying";
  e.to.tag = to_tag;
  return e;
}

// `calls` calls starting 1 ms apart, each answered after 3 s and released after 30 s.
std::vector<SipEvent> makeStream(int calls) {
  std::vector<SipEvent> ev;
  ev.reserve(static_cast<size_t>(calls) * 7);
  const int64_t t0 = 1795000000000000;
  for (int i = 0; i < calls; ++i) {
    const int64_t t = t0 + int64_t{i} * 1000;
    const std::string id = "a84b4c76e66710-" + std::to_string(i) + "@192.0.2.4";
    const std::string n = std::to_string(i % 10000);
    const NameAddr from = numberAddr("+8613900" + std::string(6 - n.size(), '0') + n, "f" + n);
    const NameAddr to = numberAddr("+862583" + std::string(6 - n.size(), '0') + n);
    const SipEvent inv = request(t, Method::kInvite, id, 1, "z9hG4bK776asdhds" + n, from, to);
    const std::string tag = "t" + n;
    NameAddr to_tagged = to;
    to_tagged.tag = tag;
    ev.push_back(inv);
    ev.push_back(response(t + 1000, 100, inv, {}));
    ev.push_back(response(t + 50000, 180, inv, tag));
    ev.push_back(response(t + 3000000, 200, inv, tag));
    ev.push_back(request(t + 3050000, Method::kAck, id, 1, "z9hG4bKack" + n, from, to_tagged));
    const SipEvent bye =
        request(t + 30000000, Method::kBye, id, 2, "z9hG4bKbye" + n, from, to_tagged);
    ev.push_back(bye);
    ev.push_back(response(t + 30010000, 200, bye, tag));
  }
  std::stable_sort(ev.begin(), ev.end(),
                   [](const SipEvent& a, const SipEvent& b) { return a.ts_us < b.ts_us; });
  return ev;
}

void BM_TrackerSimpleCalls(benchmark::State& state) {
  const std::vector<SipEvent> events = makeStream(static_cast<int>(state.range(0)));
  uint64_t records = 0;
  for (auto _ : state) {
    CallTracker tracker(TrackerConfig(), [&](CallRecord&& r) {
      ++records;
      benchmark::DoNotOptimize(r);
    });
    for (const SipEvent& e : events) tracker.onEvent(e);
    tracker.finish(events.back().ts_us + 60000000);
  }
  benchmark::DoNotOptimize(records);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(events.size()));
  state.SetLabel("items = SIP events");
}
BENCHMARK(BM_TrackerSimpleCalls)->Arg(1000)->Arg(50000)->Unit(benchmark::kMillisecond);

}  // namespace
