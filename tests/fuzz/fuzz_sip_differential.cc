// libFuzzer target: arbitrary bytes as one SIP payload through two parsers, one with the fast
// path (sipparse/src/fast_path.h) and one with sofia-sip's full parse only. Whatever the fast
// path accepts must give the same SipEvent, and both must drop the same inputs under the same
// counters; any difference aborts. Seeds: the SIP messages of pcaps/ (tools/fuzz.sh).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../sipparse/sip_event_text.h"
#include "mcn/capture/sip_payload.h"
#include "mcn/sipparse/parser.h"

namespace {

mcn::sipparse::ParserConfig fuzzConfig(bool fast) {
  mcn::sipparse::ParserConfig cfg;
  cfg.dial_plan.country_code = "86";
  cfg.dial_plan.area_code = "25";
  cfg.dial_plan.local_number_length = 8;
  cfg.dial_plan.rewrite.push_back({R"(^(1\d{3})$)", "+86258300$1"});
  cfg.correlation_header = "X-CID";
  cfg.fast_path = fast;
  return cfg;
}

std::string counters(const mcn::sipparse::SipParser& p) {
  std::string out;
  p.forEachCounter([&](std::string_view n, uint64_t v) {
    out += std::string(n) + "=" + std::to_string(v) + " ";
  });
  return out;
}

[[noreturn]] void differ(const std::string& what, const std::string& a, const std::string& b) {
  std::fprintf(stderr, "fast path and sofia differ (%s)\nsofia: %s\nfast:  %s\n", what.c_str(),
               a.c_str(), b.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mcn::sipparse::SipParser full(fuzzConfig(false));
  static mcn::sipparse::SipParser fast(fuzzConfig(true));
  static mcn::sipparse::SipEvent reused;  // parseInto's buffer reuse is part of the test

  mcn::capture::SipPayload payload;
  payload.bytes.assign(reinterpret_cast<const char*>(data), size);
  const auto want = full.parse(payload);
  const bool got = fast.parseInto(payload, reused);
  if (got != want.has_value()) {
    differ("one dropped it", want ? mcn::sipparse::test_util::eventText(*want) : "dropped",
           got ? mcn::sipparse::test_util::eventText(reused) : "dropped");
  }
  if (want) {
    const std::string a = mcn::sipparse::test_util::eventText(*want);
    const std::string b = mcn::sipparse::test_util::eventText(reused);
    if (a != b) differ("event", a, b);
  }
  const std::string ca = counters(full);
  const std::string cb = counters(fast);
  if (ca != cb) differ("counters", ca, cb);
  return 0;
}
