#pragma once
// mcn's TOML configuration. Start-up code: errors throw ConfigError with one clear line naming the
// file, line and field; main turns it into exit code 2.

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/calls/tracker.h"
#include "mcn/capture/decoder.h"
#include "mcn/history/store.h"
#include "mcn/notifier/delivery.h"
#include "mcn/notifier/local_notifier.h"
#include "mcn/notifier/merger.h"
#include "mcn/notifier/stream_bus.h"
#include "mcn/sipparse/parser.h"
#include "mcn/sipua/config.h"
#include "mcn/web/config.h"

namespace mcn::app {

// what() is the first error; errors() all of them, table by table (`mcn config check` prints
// every one, like `kamailio -c`). A TOML syntax error stops the parse: it is the only one.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& msg) : std::runtime_error(msg), errors_{msg} {}
  explicit ConfigError(std::vector<std::string> errors)
      : std::runtime_error(errors.empty() ? std::string("invalid configuration") : errors.front()),
        errors_(std::move(errors)) {}
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

// [notify]: merging, messages and delivery (the local notification service's settings).
using NotifyConfig = notifier::NotifyConfig;

// [run]: the live daemon (`mcn run`). Start-up settings, except log_level, log_format,
// subscribers and shutdown_timeout_ms, which SIGHUP applies (see run.h).
struct RunConfig {
  std::vector<std::string> interfaces;  // -i on the command line replaces these
  int snaplen = 262144;                 // at least 65535 (enforced)
  int64_t buffer_bytes = 64 << 20;      // kernel capture buffer per interface
  bool promisc = true;
  // Batched by default: with immediate mode, TPACKET_V3 retires a ring block per packet, so the
  // 64 MiB ring holds only a few hundred packets and a busy mirror overflows it
  // (tests/bench/live_bench.sh: drops from ~200k packets/s with immediate mode, none at 475k
  // without). Batching costs at most timeout_ms of latency.
  bool immediate = false;
  int timeout_ms = 10;  // capture batching (ring block timeout) when not immediate
  // Capture threads per interface: more than 1 opens that many sockets in one PACKET_FANOUT
  // group (hash of the flow, fragments defragmented first), each on its own thread.
  int capture_threads = 1;
  std::string filter;                   // empty: the documented default (capture/bpf.h)
  std::string user;                     // drop to this user after opening captures (as root)
  std::string group;                    // default: the user's primary group
  std::string subscribers;              // subscribers file (TOML or CSV); empty: none
  std::string redis;                    // or the Redis store: "redis://host[:port][/db]"
  std::string redis_password_ref;       // env:NAME or file:/path
  std::string http_bind = "127.0.0.1";  // /metrics, /healthz, /readyz
  int http_port = 9187;                 // 0: no HTTP server
  std::string http_token_ref;           // required unless bound to loopback (env:/file:)
  std::string log_format = "human";     // or "json"
  std::string log_level = "info";
  bool log_mask_numbers = false;        // +86139****1230 in log lines (log_mask.h)
  int workers = 1;                      // parse+track threads (every leg of a call on one)
  int ring_size = 65536;                // entries per single-producer single-consumer ring
  int64_t shutdown_timeout_ms = 10000;  // SIGTERM: bound on flushing pending notifications
  // GET /api/calls/<call_id>/ladder: the SIP messages of the most recent calls kept, at most
  // this many messages and bytes (split evenly over the workers); the oldest call goes first
  // (ladder.evicted_calls). 0 for either: none kept.
  int64_t ladder_messages = 20000;
  int64_t ladder_bytes = 16 << 20;

  bool operator==(const RunConfig&) const = default;
};

// [streams]: scale-out over Redis Streams (`mcn run --role probe|notifier`, `mcn replay --role
// probe`); README "Scale-out with Redis Streams".
struct StreamsConfig {
  std::string redis;         // "redis://host[:port][/db]"; empty: [run] redis
  std::string password_ref;  // env:NAME or file:/path; empty: [run] redis_password_ref
  // Redis Sentinel ("host:port" each): when set, the master of `sentinel_master` is asked of
  // them (streams.redis and run.redis give only the database then), for the streams and the
  // subscriber store alike.
  std::vector<std::string> sentinels;
  std::string sentinel_master = "mcn";
  std::string sentinel_password_ref;  // env:NAME or file:/path: AUTH to the Sentinels
  notifier::StreamConfig stream;      // host/port/db/password filled in at start from the above

  bool operator==(const StreamsConfig&) const = default;
};

// [hep]: HEP input (README "HEP input"). The decoding settings (ports decoded as HEP in
// captures, size caps) are in decoder.hep; these are the live listeners and the key's reference.
struct HepRunConfig {
  // "ADDR:PORT" (UDP and TCP) for `mcn run`; --hep on the command line replaces these.
  std::vector<std::string> listeners;
  std::string auth_key_ref;  // env:NAME or file:/path; resolved at start into decoder.hep.auth_key
  int max_connections = 64;  // TCP connections per listener

  bool operator==(const HepRunConfig&) const = default;
};

struct Config {
  capture::DecoderConfig decoder;
  sipparse::ParserConfig parser;
  calls::TrackerConfig tracker;
  NotifyConfig notify;
  RunConfig run;
  StreamsConfig streams;
  HepRunConfig hep;
  history::HistoryConfig history;  // [history]: the call history store (README "Call history")
  sipua::UaConfig sipua;           // [sipua]: the SIP user agent (call back); off by default
  sipua::CallbackConfig callback;  // [callback]: the call-back API's links and rate limits
  web::WebConfig web;              // [web]: the web console; off by default
  std::string source;              // file it came from, "(built-in defaults)" otherwise

  // Every field, source included (tests/app/config_defaults_test.cc).
  bool operator==(const Config&) const = default;
};

// Resolves [hep] auth_key_ref into decoder.hep.auth_key (empty ref: no key). Throws with the
// reference named, never the value.
void resolveHepAuthKey(Config& cfg);

// The embedded default: DESIGN.md's outcome defaults, no dial plan beyond separator stripping.
Config defaultConfig();

// deploy/mcn.toml, embedded at build time: every key with its default value (or, for keys with
// no default such as the dial plan, a commented example). `mcn config defaults` prints it.
std::string_view defaultConfigText();

// Every key the loader accepts, dotted ("run.http_port", "dial_plan.rewrite.match",
// "notify.rate_limits.*.per_minute", "notify.templates.*"), in declaration order (that of
// deploy/mcn.toml), from the one declaration of each key (app/src/config.cc declaredTables()).
std::vector<std::string> knownConfigKeys();

// The keys whose change needs a restart and whose values differ between `running` and `fresh`
// ("run.workers"), in declaration order; a table name ("[capture]") when a field of it differs
// that no declared key covers. The reload diff (app/src/reload.cc).
std::vector<std::string> restartKeysChanged(const Config& running, const Config& fresh);

// Parse a TOML file. Unknown keys are errors (a typo must not silently keep a default).
Config loadConfigFile(const std::string& path);

// Parse TOML text; `origin` names it in error messages.
Config loadConfigText(std::string_view text, const std::string& origin);

}  // namespace mcn::app
