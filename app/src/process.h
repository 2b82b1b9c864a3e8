#pragma once
// The process side of `mcn run`, shared by every role: signals, systemd notifications,
// privileges, logging and the two clocks threads read for heartbeats and deadlines.

#include <signal.h>

#include <cstdint>
#include <string>

#include "mcn/app/config.h"

namespace spdlog {
class logger;
}

namespace mcn::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // capture failed, or something left at the shutdown
inline constexpr int kExitStartup = 2;  // configuration, interface, privileges, HTTP port

int64_t wallUs();  // CLOCK_REALTIME, µs since the epoch
int64_t monoUs();  // CLOCK_MONOTONIC, µs

// SIGTERM, SIGINT and SIGHUP taken synchronously by the thread that waits: constructed before
// any thread starts, so every thread inherits the blocked mask. SIGPIPE is ignored (a closed
// HTTP client or output pipe is an error return, not a death).
class Signals {
 public:
  Signals();
  // The signal that arrived within timeout_ms (0: just look), else 0.
  int wait(int timeout_ms);

 private:
  sigset_t set_;
};

// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. A no-op outside systemd.
void sdNotify(const char* state);
// $WATCHDOG_USEC, 0 without a systemd watchdog.
int64_t watchdogUs();

// Drops root for run.user (and run.group) once everything privileged is open (DESIGN.md: least
// privilege). Returns an error text, empty on success or when there is nothing to drop.
std::string dropPrivileges(const RunConfig& run);

// The process's logger ("mcn", on standard error) as [run] log_format, log_level and
// log_mask_numbers say; every `mcn run` role calls it once its configuration is read.
void setupLogging(const RunConfig& run);
// SIGHUP: the same settings applied to the running logger.
void applyLogSettings(spdlog::logger& logger, const RunConfig& run);

}  // namespace mcn::app
