// SipParser where its URI memo does not help: every message brings a caller number the parser
// has not seen, so From and both P-Asserted-Identity URIs go through the dial plan (separator
// stripping, the rewrite rules, prefixes) and the fast path's URI check. The other parse
// benchmarks (bench_decode_parse.cc) repeat one message, whose URIs all hit the memo after the
// first iteration. Run: mcn_bench --benchmark_filter=ParseNew
// The digits are patched into one kept buffer (a few byte stores per iteration).

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mcn/sipparse/parser.h"

namespace {

// A caller-side INVITE after the P-CSCF; the caller number appears three times (From and two
// P-Asserted-Identity values) as 13900NNNNNN, the callee is an extension the rewrite rule maps.
const std::string kInvite =
    "INVITE sip:1013@ims.example SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK-pcscf-01\r\n"
    "Via: SIP/2.0/UDP 192.0.2.40:5060;rport;branch=z9hG4bK-ue-01\r\n"
    "Max-Forwards: 69\r\n"
    "From: \"Li Lei\" <sip:+8613900000000@ims.example;user=phone>;tag=a73kszlfl\r\n"
    "To: <sip:1013@ims.example>\r\n"
    "Call-ID: 3c26700e7d5b-1d2e@192.0.2.40\r\n"
    "CSeq: 101 INVITE\r\n"
    "Contact: <sip:+8613900101230@192.0.2.40:5060>\r\n"
    "P-Asserted-Identity: \"Li Lei\" <sip:+8613900000000@ims.example;user=phone>\r\n"
    "P-Asserted-Identity: <tel:+8613900000000>\r\n"
    "P-Charging-Vector: icid-value=ab12cd34ef56.1.1;orig-ioi=ims.example\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

mcn::sipparse::ParserConfig numbersConfig() {
  mcn::sipparse::ParserConfig cfg;
  cfg.dial_plan.country_code = "86";
  cfg.dial_plan.area_code = "25";
  cfg.dial_plan.local_number_length = 8;
  cfg.dial_plan.rewrite.push_back({R"(^(1\d{3})$)", "+86258300$1"});
  cfg.correlation_header = "X-CID";
  return cfg;
}

void BM_ParseNewCallerInvite(benchmark::State& state) {
  mcn::sipparse::SipParser parser(numbersConfig());
  mcn::capture::SipPayload p;
  p.bytes = kInvite;
  // offsets of the six digits that change, in each of the three copies of the number
  std::vector<size_t> at;
  for (size_t pos = p.bytes.find("+8613900000000"); pos != std::string::npos;
       pos = p.bytes.find("+8613900000000", pos + 1)) {
    at.push_back(pos + 8);  // "+8613900" then the six digits
  }
  mcn::sipparse::SipEvent ev;
  uint64_t n = 0;
  size_t parsed = 0;
  for (auto _ : state) {
    ++n;
    char digits[6];
    uint64_t v = n;
    for (int i = 5; i >= 0; --i, v /= 10) digits[i] = static_cast<char>('0' + v % 10);
    for (const size_t a : at) p.bytes.replace(a, 6, digits, 6);
    if (parser.parseInto(p, ev)) ++parsed;
  }
  if (parsed != static_cast<size_t>(state.iterations())) state.SkipWithError("not parsed");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseNewCallerInvite);

}  // namespace
