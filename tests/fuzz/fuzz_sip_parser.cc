// libFuzzer target: arbitrary bytes as one SIP payload. SipParser must never crash, hang or
// throw on them (malformed input is a counted drop), and the dial plan must survive whatever a
// URI user part contains. Build with clang -fsanitize=fuzzer,address,undefined and link
// mcn_sipparse; seed corpus: any SIP message text (e.g. the messages in tests/sipparse/).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mcn/capture/sip_payload.h"
#include "mcn/sipparse/parser.h"

namespace {

mcn::sipparse::ParserConfig fuzzConfig() {
  mcn::sipparse::ParserConfig cfg;
  cfg.dial_plan.country_code = "86";
  cfg.dial_plan.area_code = "25";
  cfg.dial_plan.local_number_length = 8;
  cfg.dial_plan.rewrite.push_back({R"(^(1\d{3})$)", "+86258300$1"});
  cfg.dial_plan.rewrite.push_back({R"(^9(\d+)$)", "$1"});
  cfg.correlation_header = "X-CID";
  return cfg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One parser for the whole run, as one worker thread keeps one: state carried between
  // messages (counters, the number memo) is part of what is being tested.
  static mcn::sipparse::SipParser parser(fuzzConfig());

  mcn::capture::SipPayload payload;
  payload.bytes.assign(reinterpret_cast<const char*>(data), size);
  const auto ev = parser.parse(payload);
  if (ev) {
    // Touch what the tracker reads, so sanitizers see every string the parser produced.
    volatile size_t sink = ev->call_id.size() + ev->from.number.size() + ev->to.number.size() +
                           ev->request_uri.uri.size() + ev->icid.size() + ev->correlation.size();
    for (const auto& r : ev->history_info) sink = sink + r.target.uri.size() + r.index.size();
    for (const auto& r : ev->diversion) sink = sink + r.target.number.size() + r.reason.size();
    (void)sink;
  }

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parser.dialPlan().normaliseUri(text);
  (void)parser.dialPlan().normalise(text.substr(0, 64),
                                    text.size() > 64 ? text.substr(64, 16) : "");
  return 0;
}
