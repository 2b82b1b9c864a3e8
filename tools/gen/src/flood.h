#pragma once
// `mcn-gen flood`: initial INVITEs with unique Call-IDs that never get a response, at a fixed
// rate (issue 7's call-table flood). Merge with a `mix` capture (mergecap) to bury genuine calls
// in it.

#include <cstdint>

#include "frame_writer.h"

namespace mcn::gen {

struct FloodOptions {
  uint64_t invites = 100000;
  double rate = 2000;  // INVITEs per second
  uint64_t seed = 1;
  int64_t start_us = 0;
};

// Returns the number of frames written.
uint64_t runFlood(const FloodOptions& opt, const WireOptions& wire, FrameWriter& out);

}  // namespace mcn::gen
