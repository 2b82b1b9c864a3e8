// libFuzzer target: arbitrary bytes as one SIP payload through two parsers, one with the fast
// path (sipparse/src/fast_path.h) and one with sofia-sip's full parse only. Whatever the fast
// path accepts must give the same SipEvent, and both must drop the same inputs under the same
// counters; any difference aborts. Seeds: the SIP messages of pcaps/ (tools/fuzz.sh).
//
// The lenient path (sipparse/src/lenient.h) runs after both refused a message, the same way in
// both, so the check above covers it too. One more check of it: a message both read as written
// (nothing to rewrite, no sip.lenient, no sip.bad_header) whose CSeq method is then written in
// lower case must give the same SipEvent, counted once in sip.lenient.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../../sipparse/src/lenient.h"
#include "../../sipparse/src/sip_text.h"
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

uint64_t counterOf(const mcn::sipparse::SipParser& p, std::string_view name) {
  uint64_t value = 0;
  p.forEachCounter([&](std::string_view n, uint64_t v) {
    if (n == name) value = v;
  });
  return value;
}

// Lower-cases the method of the head's only CSeq line ("CSeq: 1 INVITE" -> "CSeq: 1 invite").
// false if there is no such line, or more than one.
bool lowerCseqMethod(std::string& m) {
  const size_t head_end = m.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  // Only heads with CRLF line ends throughout: then that is the empty line that ends the head
  // for sofia too (it takes bare LF and CR line ends as well).
  for (size_t i = 0; i < head_end; ++i) {
    if ((m[i] == '\n' && (i == 0 || m[i - 1] != '\r')) || (m[i] == '\r' && m[i + 1] != '\n'))
      return false;
  }
  size_t found = std::string::npos;
  for (size_t pos = m.find("\r\n"); pos < head_end; pos = m.find("\r\n", pos + 2)) {
    if (pos + 7 > m.size() || !mcn::sipparse::text::iequals(m.substr(pos + 2, 5), "CSeq:"))
      continue;
    if (found != std::string::npos) return false;
    found = pos + 7;
  }
  if (found == std::string::npos) return false;
  size_t i = found;
  while (i < head_end && m[i] == ' ') ++i;
  const size_t d = i;
  while (i < head_end && m[i] >= '0' && m[i] <= '9') ++i;
  if (i == d || i >= head_end || m[i] != ' ') return false;
  ++i;
  const size_t method = i;
  while (i < head_end && m[i] >= 'A' && m[i] <= 'Z') ++i;
  if (i == method || (m[i] != '\r' && m[i] != ' ')) return false;
  for (size_t k = method; k < i; ++k) m[k] = static_cast<char>(m[k] + 32);
  return true;
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

  static uint64_t lenient_before = 0;
  static uint64_t bad_before = 0;
  const uint64_t lenient_now = counterOf(full, "sip.lenient");
  const uint64_t bad_now = counterOf(full, "sip.bad_header");
  const bool as_written = lenient_now == lenient_before && bad_now == bad_before;
  lenient_before = lenient_now;
  bad_before = bad_now;
  static std::string scratch;
  // A request's CSeq method is rewritten only when it names the request's own method, in upper
  // case there (lenient.h; sofia reads "ACK" with "CSeq: 2 REGISTER" as it stands).
  if (want && as_written && (!want->is_request || want->method == want->cseq_method) &&
      want->cseq_method != mcn::sipparse::Method::kOther &&
      mcn::sipparse::lenient::rewrite(payload.bytes, scratch) ==
          mcn::sipparse::lenient::Rewrite::kNone) {
    static mcn::sipparse::SipParser lenient(fuzzConfig(true));
    mcn::capture::SipPayload lower = payload;
    if (lowerCseqMethod(lower.bytes)) {
      const uint64_t before = counterOf(lenient, "sip.lenient");
      const auto ev = lenient.parse(lower);
      const std::string a = mcn::sipparse::test_util::eventText(*want);
      if (!ev) differ("lower-case CSeq method dropped", a, "dropped");
      const std::string b = mcn::sipparse::test_util::eventText(*ev);
      if (a != b) differ("lower-case CSeq method", a, b);
      if (counterOf(lenient, "sip.lenient") != before + 1) differ("sip.lenient not counted", a, b);
    }
  }
  return 0;
}
