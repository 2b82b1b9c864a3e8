#pragma once
// `mcn-gen mix`: a realistic IMS capture for benchmarks. Calls of every outcome (forks, parallel
// ring, forwarding, B2BUA legs, 407 retries, retransmissions, SPAN duplicates) arrive at a
// configurable rate and overlap in time, between registrations, reg-event subscriptions and, for
// most of the packets, OPTIONS keep-alives. The intended outcome of every (call, number) record is
// known by construction and summarised so a benchmark can check mcn's result against it.

#include <array>
#include <cstdint>
#include <string>

#include "frame_writer.h"

namespace mcn::gen {

struct MixOptions {
  uint64_t calls = 1000;
  uint64_t seed = 1;
  double noise_ratio = 0.7;    // share of SIP messages that are not calls
  double cps = 50;             // call arrivals per second (uniformly jittered)
  uint32_t ues = 20000;        // UE population (numbers), addresses in 198.18.0.0/15
  double dup_ratio = 0.1;      // share of calls seen twice by the SPAN port
  double retrans_ratio = 0.1;  // share of calls with UDP retransmissions
  int64_t start_us = 0;
  int threads = 0;  // scene builders; 0: from the core count (output is the same)
};

inline constexpr int kOutcomes = 10;
inline constexpr const char* kOutcomeNames[kOutcomes] = {
    "answered",  "answered_elsewhere", "forwarded",  "cancelled", "busy",
    "no_answer", "declined",           "redirected", "failed",    "incomplete"};

struct MixSummary {
  uint64_t calls = 0;
  uint64_t legs = 0;
  uint64_t records = 0;
  uint64_t missed = 0;
  std::array<uint64_t, kOutcomes> by_outcome{};
  uint64_t sip_messages = 0;  // before duplication
  uint64_t call_messages = 0;
  uint64_t noise_messages = 0;
  uint64_t frames = 0;
  uint64_t bytes = 0;
  int64_t first_us = 0, last_us = 0;
  std::string toJson() const;
};

MixSummary runMix(const MixOptions& opt, const WireOptions& wire, FrameWriter& out);

}  // namespace mcn::gen
