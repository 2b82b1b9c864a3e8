#pragma once
// Scale-out roles over Redis Streams (README "Scale-out with Redis Streams"):
//   probe    capture (or replay), track calls, publish each missed call to <prefix>:missed;
//   notifier consume the group, keep merge windows in Redis, deliver, acknowledge;
//   all      both in one process without Redis streams (the default, as before).

#include <memory>
#include <string>

#include "mcn/app/config.h"
#include "mcn/history/stream.h"
#include "mcn/notifier/stream_bus.h"
#include "run.h"

namespace mcn::app {

enum class Role { kAll, kProbe, kNotifier };
// "all" | "probe" | "notifier"; throws std::runtime_error otherwise.
Role parseRole(const std::string& name);

// [streams] resolved: Redis address from streams.redis (else run.redis), the password from its
// reference (never logged). Throws std::runtime_error naming the key when neither is set or the
// reference cannot be read.
notifier::StreamConfig resolveStreamConfig(const Config& cfg);

// The shared call history's stream (history/stream.h) on the same Redis: <prefix>:history,
// MAXLEN ~ history.stream_maxlen, the streams' buffer bound, batch and backoff.
history::HistoryStreamConfig historyStreamConfig(const Config& cfg,
                                                 const notifier::StreamConfig& resolved);

// `mcn run --role notifier` (runDaemon() starts it): no capture, no root. Runs until
// SIGTERM/SIGINT (SIGHUP re-reads a subscribers file; the Redis store refreshes itself); exit
// codes as runDaemon(). /healthz answers 503 when its loop stalls, /readyz while the streams are
// unreachable. Notifications still being delivered at the stop stay pending in Redis and are
// taken over by another notifier after streams.claim_idle_ms.
int runStreamNotifier(const Config& cfg, const RunOptions& opts);

}  // namespace mcn::app
