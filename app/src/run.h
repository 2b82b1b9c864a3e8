#pragma once
// `mcn run`: the live daemon. The pipeline (pipeline.h) over threads (DESIGN.md "Threads (live
// mode)"):
//
//   capture (one per interface: libpcap, decode, reassembly, pre-filter, leg router)
//     --SPSC ring per (interface, worker)--> parse+track worker (every leg of a call on one)
//     --SPSC ring per worker--> notifier (local notifier, or the probe's Redis stream)
//   HTTP (/metrics, /healthz, /readyz: http_endpoints.h), main (signals, sd_notify, watchdog:
//   process.h; SIGHUP: reload.h)
//
// A full ring is a counted drop (mcn_ring_drops_total), never a blocked capture thread.
// SIGTERM/SIGINT: stop capture, drain the rings, decide every open call, flush pending
// notifications within [run] shutdown_timeout_ms. SIGHUP: re-read the configuration file and the
// subscribers; the dial plan, [notify] and logging change live, settings fixed at start-up
// (interfaces, workers, rings, HTTP, [capture], [calls]) are logged as needing a restart; a bad
// file changes nothing (mcn_reload_failures_total). Calls in flight keep their state.

#include <memory>
#include <string>
#include <vector>

#include "mcn/app/config.h"

namespace mcn::app {

struct RunOptions {
  std::string config_path;              // re-read on SIGHUP; empty: built-in defaults
  std::vector<std::string> interfaces;  // -i: replaces [run] interfaces when not empty
  std::vector<std::string> hep;         // --hep ADDR:PORT: replaces [hep] listeners when not empty
  std::string subscribers;              // --subscribers: replaces [run] subscribers
  int http_port = -1;                   // --http-port: replaces [run] http_port when >= 0
  std::string calls_out;                // every call record, JSON Lines (for debugging)
  std::string notify_out;               // every delivered notification, JSON Lines
  // --role: "all" (capture and notify in one process), "probe" (capture, publish missed calls
  // to Redis Streams), "notifier" (consume them; roles.h).
  std::string role = "all";
};

// Runs the role opts.role until SIGTERM/SIGINT. Returns the exit code: 0 after a clean stop, 1 if
// capture failed or notifications were still pending at the shutdown deadline (they are in the
// dead-letter file), 2 for start-up errors (config, interface, privileges, HTTP port).
int runDaemon(const RunOptions& opts);

}  // namespace mcn::app
