// libFuzzer target: the SIP parser feeding the call tracker. The input is a sequence of SIP
// messages separated by NUL bytes; the two bytes before each message are the milliseconds that
// pass before it arrives. Whatever the order, content or timing, the tracker must not crash,
// must emit well-formed records, and must close every call by finish().

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mcn/calls/tracker.h"
#include "mcn/sipparse/parser.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mcn::sipparse::SipParser parser([] {
    mcn::sipparse::ParserConfig cfg;
    cfg.dial_plan.country_code = "86";
    cfg.dial_plan.area_code = "25";
    cfg.dial_plan.local_number_length = 8;
    cfg.dial_plan.rewrite.push_back({R"(^(1\d{3})$)", "+86258300$1"});
    cfg.correlation_header = "X-CID";
    return cfg;
  }());

  mcn::calls::TrackerConfig tcfg;
  tcfg.max_calls = 64;  // small, so eviction is exercised too
  uint64_t records = 0;
  mcn::calls::CallTracker tracker(tcfg, [&](mcn::calls::CallRecord&& r) {
    ++records;
    check(static_cast<int>(r.outcome) < mcn::calls::kOutcomeCount);
    check(r.ring_ms >= 0);
    check(r.legs >= 1);
  });

  int64_t now = 1'795'328'495'000'000;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (in.size() >= 2) {
    now += (static_cast<uint8_t>(in[0]) << 8 | static_cast<uint8_t>(in[1])) * 1000;
    in.remove_prefix(2);
    size_t end = in.find('\0');
    std::string_view msg = in.substr(0, end);
    in.remove_prefix(end == std::string_view::npos ? in.size() : end + 1);
    mcn::capture::SipPayload p;
    p.ts_us = now;
    p.bytes.assign(msg);
    if (auto ev = parser.parse(p)) tracker.onEvent(*ev);
  }
  tracker.finish(now);
  check(tracker.openCalls() == 0);
  return 0;
}
