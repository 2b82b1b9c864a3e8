#pragma once
// Helpers shared by the sipparse tests: messages are written with "\n" line ends for
// readability and sent with CRLF, as on the wire (RFC 3261 §7).

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "mcn/capture/sip_payload.h"
#include "mcn/sipparse/parser.h"

namespace mcn::sipparse::test_util {

inline std::string crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 64);
  for (const char c : text) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

inline capture::SipPayload payloadOf(std::string bytes) {
  capture::SipPayload p;
  p.ts_us = 1'795'328'495'053'000;  // 2026-11-22T06:21:35.053Z
  p.src.addr = {198, 51, 100, 20};
  p.src.port = 5060;
  p.dst.addr = {203, 0, 113, 9};
  p.dst.port = 5060;
  p.transport = capture::Transport::kUdp;
  p.bytes = std::move(bytes);
  return p;
}

inline uint64_t counter(const SipParser& parser, std::string_view name) {
  uint64_t value = 0;
  bool found = false;
  parser.forEachCounter([&](std::string_view n, uint64_t v) {
    if (n == name) {
      value = v;
      found = true;
    }
  });
  EXPECT_TRUE(found) << "no counter named " << name;
  return value;
}

// Sum of every counter that records a dropped message.
inline uint64_t drops(const SipParser& parser) {
  uint64_t sum = 0;
  for (const char* n :
       {"sip.keepalive", "sip.too_large", "sip.malformed", "sip.truncated", "sip.missing_call_id",
        "sip.missing_cseq", "sip.missing_from_to", "sip.too_many_headers"}) {
    sum += counter(parser, n);
  }
  return sum;
}

// The plan used throughout: Nanjing desk lines, 4-digit extensions on the 8300 block.
inline ParserConfig imsConfig() {
  ParserConfig cfg;
  cfg.dial_plan.country_code = "86";
  cfg.dial_plan.area_code = "25";
  cfg.dial_plan.local_number_length = 8;
  cfg.dial_plan.rewrite.push_back({R"(^(1\d{3})$)", "+86258300$1"});
  cfg.correlation_header = "x-cid";  // configured in lower case; messages spell it X-CID
  return cfg;
}

}  // namespace mcn::sipparse::test_util
