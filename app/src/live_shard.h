#pragma once
// Sharding SIP messages across parse+track workers by Call-ID, so every message of a call (and
// its retransmissions) reaches the same worker's CallTracker. Legs joined only by a correlation
// key (icid-value, X-CID) but with different Call-IDs may land on different workers: with
// workers > 1 such legs are decided separately (DESIGN.md: one worker keeps them together).

#include <cstdint>
#include <string_view>

namespace mcn::app {

// The Call-ID header value (RFC 3261 §20.8; compact form "i", §7.3.3), surrounding whitespace
// removed; empty if absent. A cheap scan of the header section, not a parse.
std::string_view findCallId(std::string_view msg);

// Worker index in [0, workers) for a message; messages without a Call-ID go to worker 0.
uint32_t shardOf(std::string_view msg, uint32_t workers);

}  // namespace mcn::app
