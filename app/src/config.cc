#include "mcn/app/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cctype>
#include <functional>
#include <optional>
#include <regex>
#include <set>

#include "mcn/capture/hep_listener.h"
#include "mcn/notifier/templates.h"
#include "mcn/redis/client.h"
#include "mcn/subscribers/directory.h"
#include "mcn/subscribers/redis_store.h"
#include "mcn/web/ldap_auth.h"

namespace mcn::app {
namespace {

// The keys of the tables inside [[dial_plan.rewrite]] and [notify.rate_limits.<kind>].
const std::vector<std::string_view> kRewriteKeys{"match", "replace"};
const std::vector<std::string_view> kRateLimitKeys{"per_minute", "per_second"};

// Thrown by Reader::fail() after the error is recorded: abandons the rest of the key (or entry)
// at hand, so nothing goes on with a value known to be bad. Reader::guard() catches it.
struct Abandon {};

// Builds "file:line:col: key: message" so an operator finds the line at once, and collects every
// error of a file (`mcn config check` prints them all, like `kamailio -c`). A value that is wrong
// keeps its default and loading goes on; the caller throws ConfigError with every error at the end.
class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  const std::vector<std::string>& errors() const { return errors_; }

  void report(const toml::node* node, std::string_view key, std::string_view msg) {
    if (node != nullptr && node->source().begin.line != 0) {
      errors_.push_back(fmt::format("{}:{}:{}: {}: {}", origin_, node->source().begin.line,
                                    node->source().begin.column, key, msg));
    } else {
      errors_.push_back(fmt::format("{}: {}: {}", origin_, key, msg));
    }
  }

  [[noreturn]] void fail(const toml::node* node, std::string_view key, std::string_view msg) {
    report(node, key, msg);
    throw Abandon{};
  }

  // Runs one key's (or one array entry's) checks; a fail() inside ends only that unit.
  template <typename F>
  void guard(F&& f) {
    try {
      f();
    } catch (const Abandon&) {
    }
  }

  void onlyKeys(const toml::table& t, std::string_view where,
                const std::vector<std::string_view>& allowed) {
    for (auto&& [k, v] : t) {
      bool ok = false;
      for (auto a : allowed) ok = ok || (k.str() == a);
      if (!ok) {
        std::string key =
            where.empty() ? std::string(k.str()) : fmt::format("{}.{}", where, k.str());
        report(&v, key, "unknown key");
      }
    }
  }

  // `where`: the enclosing table's dotted name, so "notify.templates" is named whole.
  const toml::table* table(const toml::table& t, std::string_view name,
                           std::string_view where = {}) {
    const toml::node* n = t.get(name);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      report(n, where.empty() ? std::string(name) : fmt::format("{}.{}", where, name),
             "expected a table");
      return nullptr;
    }
    return n->as_table();
  }

  // A credential reference: env:NAME or file:/path. Anything else is refused without echoing
  // it (it may be a pasted secret).
  void secretRef(const toml::table& t, std::string_view where, std::string_view key,
                 std::string& out) {
    std::string value = out;
    if (!string(t, where, key, value) || value.empty()) return;
    bool env = value.rfind("env:", 0) == 0 && value.size() > 4;
    bool file = value.rfind("file:/", 0) == 0;
    if (!env && !file) {
      report(t.get(key), fmt::format("{}.{}", where, key),
             "expected a reference env:NAME or file:/path (never the secret itself)");
      return;
    }
    out = std::move(value);
  }

  // False (and `out` unchanged) when the key is there but not a string.
  bool string(const toml::table& t, std::string_view where, std::string_view key,
              std::string& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return true;
    if (!n->is_string()) {
      report(n, fmt::format("{}.{}", where, key), "expected a string");
      return false;
    }
    out = n->as_string()->get();
    return true;
  }

  void digits(const toml::table& t, std::string_view where, std::string_view key,
              std::string& out) {
    std::string value = out;
    if (!string(t, where, key, value)) return;
    for (char c : value) {
      if (c < '0' || c > '9') {
        report(t.get(key), fmt::format("{}.{}", where, key), "expected a string of digits");
        return;
      }
    }
    out = std::move(value);
  }

  int64_t integer(const toml::table& t, std::string_view where, std::string_view key,
                  int64_t current, int64_t min, int64_t max) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return current;
    if (!n->is_integer()) {
      report(n, fmt::format("{}.{}", where, key), "expected an integer");
      return current;
    }
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      report(n, fmt::format("{}.{}", where, key),
             fmt::format("must be between {} and {}", min, max));
      return current;
    }
    return v;
  }

  bool boolean(const toml::table& t, std::string_view where, std::string_view key, bool current) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return current;
    if (!n->is_boolean()) {
      report(n, fmt::format("{}.{}", where, key), "expected true or false");
      return current;
    }
    return n->as_boolean()->get();
  }

  const toml::array* array(const toml::table& t, std::string_view where, std::string_view key) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_array()) {
      report(n, fmt::format("{}.{}", where, key), "expected an array");
      return nullptr;
    }
    return n->as_array();
  }

  // A list of UDP/TCP ports; a present key replaces the default list.
  void ports(const toml::table& t, std::string_view where, std::string_view key,
             std::vector<uint16_t>& out) {
    const toml::array* a = array(t, where, key);
    if (a == nullptr) return;
    out.clear();
    for (const auto& e : *a) {
      if (!e.is_integer() || e.as_integer()->get() < 1 || e.as_integer()->get() > 65535) {
        report(&e, fmt::format("{}.{}", where, key), "expected port numbers 1..65535");
        continue;
      }
      out.push_back(static_cast<uint16_t>(e.as_integer()->get()));
    }
  }

  // The dial plan of `cfg` as read so far, built once (numbers in [calls] and [notify] use it);
  // nullptr after reporting why it is invalid.
  const sipparse::DialPlan* plan(const Config& cfg) {
    if (!plan_tried_) {
      plan_tried_ = true;
      try {
        plan_.emplace(cfg.parser.dial_plan);
      } catch (const std::exception& e) {
        report(nullptr, "dial_plan.rewrite", e.what());
      }
    }
    return plan_ ? &*plan_ : nullptr;
  }

 private:
  std::string origin_;
  std::vector<std::string> errors_;
  bool plan_tried_ = false;
  std::optional<sipparse::DialPlan> plan_;
};

// ---- Keys declared once -----------------------------------------------------------------------
// Each key of a converted table is declared once below: its name, how it is read and checked
// (type, range, the error texts), its default (the struct's member initialiser, which reading
// starts from), and whether a change needs a restart. The same declarations give unknown-key
// detection, knownConfigKeys() (deploy/mcn.toml must list each one: config_defaults_test) and the
// SIGHUP diff (restartKeysChanged()).

enum class Change { kLive, kRestart };  // applied by SIGHUP, or kept until a restart
constexpr Change kLive = Change::kLive;
constexpr Change kRestart = Change::kRestart;

struct KeyDef {
  std::string_view name;  // empty: a check across keys, run at its place in the order
  Change change = Change::kLive;
  std::function<void(Reader&, const toml::table&, std::string_view table, Config&)> read;
  std::function<bool(const Config&, const Config&)> same;  // null for a check
  std::function<void(Config& to, const Config& from)> copy;
  // What knownConfigKeys() lists for a key holding tables: "<key>.<sub>" for each; empty: the key.
  std::vector<std::string> listed = {};
};

KeyDef listedAs(KeyDef key, std::vector<std::string> sub) {
  key.listed = std::move(sub);
  return key;
}

struct TableDef {
  std::string_view name;
  std::vector<KeyDef> keys;
};

// `get` is a generic lambda giving the field of a (const or not) Config: [](auto& c) -> auto&
// {...}.
template <typename Get>
KeyDef keyOf(std::string_view name, Change change, Get get,
             std::function<void(Reader&, const toml::table&, std::string_view, Config&)> read) {
  return KeyDef{name, change, std::move(read),
                [get](const Config& a, const Config& b) { return get(a) == get(b); },
                [get](Config& to, const Config& from) { get(to) = get(from); }};
}

template <typename Get>
KeyDef integerKey(std::string_view name, Change change, Get get, int64_t min, int64_t max) {
  return keyOf(name, change, get,
               [=](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                 auto& f = get(c);
                 using T = std::remove_reference_t<decltype(f)>;
                 f = static_cast<T>(r.integer(t, where, name, static_cast<int64_t>(f), min, max));
               });
}

template <typename Get>
KeyDef booleanKey(std::string_view name, Change change, Get get) {
  return keyOf(name, change, get,
               [=](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                 get(c) = r.boolean(t, where, name, get(c));
               });
}

template <typename Get>
KeyDef stringKey(std::string_view name, Change change, Get get) {
  return keyOf(name, change, get,
               [=](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                 r.string(t, where, name, get(c));
               });
}

template <typename Get>
KeyDef digitsKey(std::string_view name, Change change, Get get) {
  return keyOf(name, change, get,
               [=](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                 r.digits(t, where, name, get(c));
               });
}

// A string that must be one of `allowed` (`msg` otherwise), or any non-empty string when
// `allowed` is empty; the value read before is kept on an error.
template <typename Get>
KeyDef choiceKey(std::string_view name, Change change, Get get,
                 std::vector<std::string_view> allowed, std::string_view msg) {
  return keyOf(name, change, get,
               [=](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                 std::string value = get(c);
                 r.string(t, where, name, value);
                 bool ok = allowed.empty() && !value.empty();
                 for (auto a : allowed) ok = ok || value == a;
                 if (!ok) {
                   r.report(t.get(name), fmt::format("{}.{}", where, name), msg);
                   return;
                 }
                 get(c) = std::move(value);
               });
}

template <typename Get>
KeyDef secretRefKey(std::string_view name, Change change, Get get) {
  return keyOf(name, change, get,
               [=](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                 r.secretRef(t, where, name, get(c));
               });
}

template <typename Get>
KeyDef portsKey(std::string_view name, Change change, Get get) {
  return keyOf(name, change, get,
               [=](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                 r.ports(t, where, name, get(c));
               });
}

// A Redis URL ("redis://host[:port][/db]"); empty: none.
template <typename Get>
KeyDef redisUrlKey(std::string_view name, Change change, Get get) {
  return keyOf(name, change, get,
               [=](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                 r.string(t, where, name, get(c));
                 if (get(c).empty()) return;
                 try {
                   (void)subscribers::parseRedisUrl(get(c));
                 } catch (const std::exception& e) {
                   r.report(t.get(name), fmt::format("{}.{}", where, name), e.what());
                 }
               });
}

// A check across keys, at its place in the reading order.
KeyDef check(std::function<void(Reader&, const toml::table&, std::string_view, Config&)> f) {
  return KeyDef{{}, Change::kLive, std::move(f), {}, {}};
}

// notify.templates: keys are "<lang>.<format>.title" and so on: quoted, or as TOML dotted keys
// (nested tables), which are flattened back here.
void readTemplates(Reader& r, const toml::table& t, std::string_view, Config& c) {
  const toml::table* tt = r.table(t, "templates", "notify");
  if (tt == nullptr) return;
  auto& n = c.notify;
  std::vector<std::pair<std::string, const toml::node*>> leaves;
  std::function<void(const toml::table&, const std::string&)> walk =
      [&](const toml::table& tab, const std::string& prefix) {
        for (auto&& [k, v] : tab) {
          std::string key =
              prefix.empty() ? std::string(k.str()) : fmt::format("{}.{}", prefix, k.str());
          if (v.is_table()) {
            walk(*v.as_table(), key);
            continue;
          }
          if (!v.is_string()) {
            r.fail(&v, fmt::format("notify.templates.{}", key), "expected a string");
          }
          leaves.emplace_back(key, &v);
        }
      };
  walk(*tt, "");
  for (const auto& [key, node] : leaves) {
    n.template_overrides[key] = node->as_string()->get();
  }
  try {
    notifier::Templates check(n.template_overrides);
  } catch (const std::exception& e) {
    // Point at the first key that is wrong on its own; else at the table.
    for (const auto& [key, node] : leaves) {
      try {
        notifier::Templates one(
            std::map<std::string, std::string>{{key, node->as_string()->get()}});
      } catch (const std::exception& e1) {
        r.fail(node, fmt::format("notify.templates.{}", key), e1.what());
      }
    }
    r.fail(tt, "notify.templates", e.what());
  }
}

// notify.rate_limits.<channel kind>: {per_minute, per_second}.
void readRateLimits(Reader& r, const toml::table& t, std::string_view, Config& c) {
  const toml::table* rl = r.table(t, "rate_limits", "notify");
  if (rl == nullptr) return;
  for (auto&& entry : *rl)
    r.guard([&] {
      // Not a structured binding: clang before 16 cannot capture one in a lambda.
      const auto& k = entry.first;
      const auto& v = entry.second;
      std::string key = fmt::format("notify.rate_limits.{}", k.str());
      auto kind = subscribers::channelKindFromName(k.str());
      if (!kind) r.fail(&v, key, "unknown channel kind");
      if (!v.is_table()) r.fail(&v, key, "expected a table");
      const auto& lt = *v.as_table();
      r.onlyKeys(lt, key, kRateLimitKeys);
      auto& limit = c.notify.delivery.rate_limits[*kind];
      limit.per_minute =
          static_cast<int>(r.integer(lt, key, "per_minute", limit.per_minute, 0, 1000000));
      limit.per_second =
          static_cast<int>(r.integer(lt, key, "per_second", limit.per_second, 0, 1000000));
    });
}

constexpr int64_t kHour = 3600000;
constexpr int64_t kDay = 24 * kHour;

const std::vector<TableDef>& declaredTables() {
  static const std::vector<TableDef> tables = [] {
    std::vector<TableDef> out;

    // [capture]: the decoder's settings, fixed while the capture threads run.
    out.push_back(TableDef{
        "capture",
        {
            // Only a hint for the counters: SIP is recognised by its start line on any port.
            portsKey(
                "sip_ports", kRestart, [](auto& c) -> auto& { return c.decoder.sip_ports; }),
            integerKey(
                "max_vlan_depth", kRestart,
                [](auto& c) -> auto& { return c.decoder.max_vlan_depth; }, 0,
                capture::kMaxVlanDepth),
            booleanKey(
                "prefilter", kRestart, [](auto& c) -> auto& { return c.decoder.prefilter; }),
            // Frame dedup, IP fragment reassembly and VXLAN ports (capture/README.md).
            integerKey(
                "dedup_window_ms", kRestart,
                [](auto& c) -> auto& { return c.decoder.dedup_window_ms; }, 0, 1000),
            integerKey(
                "ip_frag_timeout_ms", kRestart,
                [](auto& c) -> auto& { return c.decoder.ip_frag.timeout_ms; }, 1, 120'000),
            integerKey(
                "ip_frag_max_datagrams", kRestart,
                [](auto& c) -> auto& { return c.decoder.ip_frag.max_datagrams; }, 1, 1'000'000),
            integerKey(
                "ip_frag_max_bytes", kRestart,
                [](auto& c) -> auto& { return c.decoder.ip_frag.max_bytes; }, 65'536,
                int64_t{1} << 34),
            portsKey(
                "vxlan_ports", kRestart, [](auto& c) -> auto& { return c.decoder.vxlan_ports; }),
            // GTP-U ports and ESP with NULL encryption (capture/README.md, "Encapsulations").
            portsKey(
                "gtpu_ports", kRestart, [](auto& c) -> auto& { return c.decoder.gtpu_ports; }),
            keyOf(
                "esp_null", kRestart, [](auto& c) -> auto& { return c.decoder.esp_null; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  const toml::array* a = r.array(t, where, "esp_null");
                  if (a == nullptr) return;
                  c.decoder.esp_null.clear();
                  for (const auto& e : *a) {
                    if (!e.is_table()) {
                      r.report(&e, "capture.esp_null", "expected tables {spi = ..., icv = ...}");
                      continue;
                    }
                    const toml::table& sa = *e.as_table();
                    r.onlyKeys(sa, "capture.esp_null", {"spi", "icv"});
                    if (sa.get("spi") == nullptr) {
                      r.report(&e, "capture.esp_null.spi", "missing");
                      continue;
                    }
                    capture::EspNullSa v;
                    // RFC 4303 §2.1: SPI 0 is never sent on the wire.
                    v.spi = static_cast<uint32_t>(
                        r.integer(sa, "capture.esp_null", "spi", 0, 1, int64_t{0xffffffff}));
                    // The ICV lengths of RFC 8221's integrity algorithms are 12 to 32 bytes; 0
                    // for an AEAD-less SA without integrity (RFC 4303 §3.2 allows it only with
                    // encryption, but a test network may do anything).
                    v.icv_len =
                        static_cast<uint8_t>(r.integer(sa, "capture.esp_null", "icv", 12, 0, 64));
                    c.decoder.esp_null.push_back(v);
                  }
                }),
            booleanKey(
                "esp_null_heuristic", kRestart,
                [](auto& c) -> auto& { return c.decoder.esp_null_heuristic; }),
            // SIP over TCP stream reassembly (capture/src/tcp_reassembly.h).
            integerKey(
                "tcp_max_streams", kRestart,
                [](auto& c) -> auto& { return c.decoder.tcp.max_streams; }, 1, 10'000'000),
            integerKey(
                "tcp_max_stream_bytes", kRestart,
                [](auto& c) -> auto& { return c.decoder.tcp.max_stream_bytes; }, 1024, 16 << 20),
            integerKey(
                "tcp_max_total_bytes", kRestart,
                [](auto& c) -> auto& { return c.decoder.tcp.max_total_bytes; }, 65'536,
                int64_t{1} << 34),
            integerKey(
                "tcp_idle_timeout_ms", kRestart,
                [](auto& c) -> auto& { return c.decoder.tcp.idle_timeout_ms; }, 1000, 3'600'000),
            integerKey(
                "tcp_gap_timeout_ms", kRestart,
                [](auto& c) -> auto& { return c.decoder.tcp.gap_timeout_ms; }, 1, 60'000),
            // SCTP user message reassembly (capture/src/sctp_reassembly.h).
            integerKey(
                "sctp_frag_timeout_ms", kRestart,
                [](auto& c) -> auto& { return c.decoder.sctp.timeout_ms; }, 1, 120'000),
            integerKey(
                "sctp_max_message_bytes", kRestart,
                [](auto& c) -> auto& { return c.decoder.sctp.max_message_bytes; }, 1024, 16 << 20),
            integerKey(
                "sctp_max_messages_per_assoc", kRestart,
                [](auto& c) -> auto& { return c.decoder.sctp.max_messages_per_assoc; }, 1,
                1'000'000),
            integerKey(
                "sctp_max_messages", kRestart,
                [](auto& c) -> auto& { return c.decoder.sctp.max_messages; }, 1, 1'000'000),
            integerKey(
                "sctp_max_bytes", kRestart,
                [](auto& c) -> auto& { return c.decoder.sctp.max_bytes; }, 65'536,
                int64_t{1} << 34),
        }});

    // [dial_plan]: SIGHUP applies a new plan.
    out.push_back(TableDef{
        "dial_plan",
        {
            digitsKey(
                "country_code", kLive,
                [](auto& c) -> auto& { return c.parser.dial_plan.country_code; }),
            digitsKey(
                "national_prefix", kLive,
                [](auto& c) -> auto& { return c.parser.dial_plan.national_prefix; }),
            digitsKey(
                "international_prefix", kLive,
                [](auto& c) -> auto& { return c.parser.dial_plan.international_prefix; }),
            digitsKey(
                "area_code", kLive, [](auto& c) -> auto& { return c.parser.dial_plan.area_code; }),
            integerKey(
                "local_number_length", kLive,
                [](auto& c) -> auto& { return c.parser.dial_plan.local_number_length; }, 0, 15),
            listedAs(
                keyOf(
                    "rewrite", kLive, [](auto& c) -> auto& { return c.parser.dial_plan.rewrite; },
                    [](Reader& r, const toml::table& t, std::string_view, Config& c) {
                      const toml::node* n = t.get("rewrite");
                      if (n == nullptr) return;
                      const toml::array* a = n->as_array();
                      if (a == nullptr || !a->is_array_of_tables()) {
                        r.fail(n, "dial_plan.rewrite", "expected [[dial_plan.rewrite]] tables");
                      }
                      auto& dp = c.parser.dial_plan;
                      dp.rewrite.clear();
                      for (const auto& e : *a)
                        r.guard([&] {
                          const auto& rt = *e.as_table();
                          r.onlyKeys(rt, "dial_plan.rewrite", kRewriteKeys);
                          sipparse::RewriteRule rule;
                          bool ok = r.string(rt, "dial_plan.rewrite", "match", rule.match);
                          ok = r.string(rt, "dial_plan.rewrite", "replace", rule.replace) && ok;
                          if (!ok) return;
                          if (rule.match.empty()) r.fail(&e, "dial_plan.rewrite.match", "missing");
                          try {
                            std::regex check(rule.match, std::regex::ECMAScript);
                          } catch (const std::regex_error& err) {
                            r.fail(rt.get("match"), "dial_plan.rewrite.match",
                                   fmt::format("not a regular expression: {}", err.what()));
                          }
                          dp.rewrite.push_back(std::move(rule));
                        });
                    }),
                {kRewriteKeys.begin(), kRewriteKeys.end()}),
            // Let the plan validate what only it understands; the keys below that hold numbers
            // use it.
            check([](Reader& r, const toml::table&, std::string_view, Config& c) {
              (void)r.plan(c);
            }),
        }});

    // [calls]: the tracker's settings, fixed while it runs.
    out.push_back(TableDef{
        "calls",
        {
            integerKey(
                "grace_ms", kRestart, [](auto& c) -> auto& { return c.tracker.grace_ms; }, 0, kDay),
            integerKey(
                "grace_after_3xx_ms", kRestart,
                [](auto& c) -> auto& { return c.tracker.grace_after_3xx_ms; }, 0, kDay),
            integerKey(
                "auth_retry_ms", kRestart, [](auto& c) -> auto& { return c.tracker.auth_retry_ms; },
                0, kDay),
            integerKey(
                "ring_timeout_ms", kRestart,
                [](auto& c) -> auto& { return c.tracker.ring_timeout_ms; }, 1000, kDay),
            integerKey(
                "linger_ms", kRestart, [](auto& c) -> auto& { return c.tracker.linger_ms; }, 0,
                kDay),
            integerKey(
                "min_ring_ms_cancelled", kRestart,
                [](auto& c) -> auto& { return c.tracker.min_ring_ms_cancelled; }, 0, kDay),
            keyOf(
                "missed_outcomes", kRestart, [](auto& c) -> auto& { return c.tracker.missed; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  const toml::array* a = r.array(t, where, "missed_outcomes");
                  if (a == nullptr) return;
                  c.tracker.missed.fill(false);
                  for (const auto& e : *a) {
                    std::optional<calls::Outcome> o;
                    if (e.is_string()) o = calls::outcomeFromName(e.as_string()->get());
                    if (!o) {
                      r.report(&e, "calls.missed_outcomes",
                               "expected outcome names such as \"busy\"");
                      continue;
                    }
                    c.tracker.missed[static_cast<size_t>(*o)] = true;
                  }
                }),
            booleanKey(
                "forwarded_unconditional_missed", kRestart,
                [](auto& c) -> auto& { return c.tracker.forwarded_unconditional_missed; }),
            // The leg router reads it in the capture threads.
            keyOf(
                "correlation_header", kRestart,
                [](auto& c) -> auto& { return c.parser.correlation_header; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  std::string header = c.parser.correlation_header;
                  r.string(t, where, "correlation_header", header);
                  // A header name is an RFC 3261 §25.1 token; anything else could never match.
                  for (char ch : header) {
                    bool token = std::isalnum(static_cast<unsigned char>(ch)) != 0 ||
                                 std::string_view("-.!%*_+`'~").find(ch) != std::string_view::npos;
                    if (!token) {
                      r.fail(t.get("correlation_header"), "calls.correlation_header",
                             "expected a header name (letters, digits, -.!%*_+`'~)");
                    }
                  }
                  c.parser.correlation_header = header;
                }),
            integerKey(
                "max_calls", kRestart, [](auto& c) -> auto& { return c.tracker.max_calls; }, 1,
                100000000),
            // sip URIs (user@host, compared without case) or numbers (dial plan).
            keyOf(
                "voicemail", kRestart, [](auto& c) -> auto& { return c.tracker.voicemail; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  const toml::array* a = r.array(t, where, "voicemail");
                  if (a == nullptr) return;
                  const sipparse::DialPlan* plan = r.plan(c);
                  for (const auto& e : *a)
                    r.guard([&] {
                      if (!e.is_string()) r.fail(&e, "calls.voicemail", "expected strings");
                      const std::string& v = e.as_string()->get();
                      std::string id = calls::sipUserHost(v);
                      if (id.empty() && v.find('@') == std::string::npos && plan != nullptr) {
                        id = v.rfind("tel:", 0) == 0 ? plan->normaliseUri(v) : plan->normalise(v);
                      }
                      if (id.empty()) {
                        r.fail(&e, "calls.voicemail",
                               "expected a sip:user@host URI or a telephone number");
                      }
                      c.tracker.voicemail.push_back(std::move(id));
                    });
                }),
            // Ring/hunt groups, [{number = "...", members = [...], notify = "members"}].
            keyOf(
                "groups", kRestart, [](auto& c) -> auto& { return c.tracker.groups; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  const toml::array* a = r.array(t, where, "groups");
                  if (a == nullptr) return;
                  const sipparse::DialPlan* plan = r.plan(c);
                  auto number = [&](const toml::node& n, std::string_view key) {
                    if (!n.is_string()) r.fail(&n, key, "expected a telephone number string");
                    std::string num =
                        plan != nullptr ? plan->normalise(n.as_string()->get()) : std::string();
                    if (num.empty()) r.fail(&n, key, "not a telephone number");
                    return num;
                  };
                  for (const auto& e : *a)
                    r.guard([&] {
                      const auto* g = e.as_table();
                      if (g == nullptr) {
                        r.fail(&e, "calls.groups", "expected tables {number, members, notify}");
                      }
                      r.onlyKeys(*g, "calls.groups", {"number", "members", "notify"});
                      calls::GroupConfig group;
                      const toml::node* num = g->get("number");
                      if (num == nullptr) r.fail(&e, "calls.groups.number", "missing");
                      group.number = number(*num, "calls.groups.number");
                      if (const auto* m = r.array(*g, "calls.groups", "members")) {
                        for (const auto& n : *m) {
                          group.members.push_back(number(n, "calls.groups.members"));
                        }
                      }
                      if (group.members.empty()) {
                        r.fail(&e, "calls.groups.members", "expected member numbers");
                      }
                      std::string notify = "members";
                      if (!r.string(*g, "calls.groups", "notify", notify)) throw Abandon{};
                      if (notify == "members") {
                        group.notify = calls::GroupConfig::Notify::kMembers;
                      } else if (notify == "owner") {
                        group.notify = calls::GroupConfig::Notify::kOwner;
                      } else if (notify == "all") {
                        group.notify = calls::GroupConfig::Notify::kAll;
                      } else {
                        r.fail(g->get("notify"), "calls.groups.notify",
                               "expected members, owner or all");
                      }
                      c.tracker.groups.push_back(std::move(group));
                    });
                }),
            booleanKey(
                "leg_join", kRestart, [](auto& c) -> auto& { return c.tracker.leg_join; }),
            integerKey(
                "leg_join_window_ms", kRestart,
                [](auto& c) -> auto& { return c.tracker.leg_join_window_ms; }, 0, 60000),
        }});

    // [notify]: SIGHUP applies all of it (the local notification service's settings).
    out.push_back(TableDef{
        "notify",
        {
            choiceKey(
                "dead_letter", kLive, [](auto& c) -> auto& { return c.notify.dead_letter_path; },
                {}, "expected a file path"),
            stringKey(
                "outbox_path", kRestart, [](auto& c) -> auto& { return c.notify.outbox_path; }),
            integerKey(
                "outbox_fsync_ms", kRestart,
                [](auto& c) -> auto& { return c.notify.outbox_fsync_ms; }, 0, 60000),
            keyOf(
                "voicemail_numbers", kLive,
                [](auto& c) -> auto& { return c.notify.voicemail_numbers; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  const toml::array* a = r.array(t, where, "voicemail_numbers");
                  if (a == nullptr) return;
                  const sipparse::DialPlan* plan = r.plan(c);
                  for (const auto& e : *a)
                    r.guard([&] {
                      if (!e.is_string()) {
                        r.fail(&e, "notify.voicemail_numbers", "expected strings");
                      }
                      if (plan == nullptr) return;  // the dial plan's own error is reported
                      std::string num = plan->normaliseUri(e.as_string()->get());
                      if (num.empty()) {
                        r.fail(&e, "notify.voicemail_numbers", "not a telephone number");
                      }
                      c.notify.voicemail_numbers.push_back(std::move(num));
                    });
                }),
            integerKey(
                "finish_timeout_ms", kLive,
                [](auto& c) -> auto& { return c.notify.finish_timeout_ms; }, 0, kHour),
            integerKey(
                "max_attempts", kLive,
                [](auto& c) -> auto& { return c.notify.delivery.max_attempts; }, 1, 100),
            integerKey(
                "backoff_base_ms", kLive,
                [](auto& c) -> auto& { return c.notify.delivery.backoff_base_ms; }, 1, kHour),
            integerKey(
                "backoff_cap_ms", kLive,
                [](auto& c) -> auto& { return c.notify.delivery.backoff_cap_ms; }, 1, 24 * kHour),
            check([](Reader& r, const toml::table& t, std::string_view, Config& c) {
              if (c.notify.delivery.backoff_cap_ms >= c.notify.delivery.backoff_base_ms) return;
              const toml::node* at = t.get("backoff_cap_ms");
              r.report(at != nullptr ? at : t.get("backoff_base_ms"),
                       at != nullptr ? "notify.backoff_cap_ms" : "notify.backoff_base_ms",
                       "backoff_cap_ms must be at least backoff_base_ms");
            }),
            integerKey(
                "connect_timeout_ms", kLive,
                [](auto& c) -> auto& { return c.notify.delivery.connect_timeout_ms; }, 100, kHour),
            integerKey(
                "total_timeout_ms", kLive,
                [](auto& c) -> auto& { return c.notify.delivery.total_timeout_ms; }, 100, kHour),
            integerKey(
                "max_queue", kLive, [](auto& c) -> auto& { return c.notify.delivery.max_queue; }, 1,
                10000000),
            integerKey(
                "max_open_windows", kLive,
                [](auto& c) -> auto& { return c.notify.merger.max_open_windows; }, 1, 10000000),
            integerKey(
                "max_calls_per_window", kLive,
                [](auto& c) -> auto& { return c.notify.merger.max_calls_per_window; }, 1, 10000),
            listedAs(
                keyOf(
                    "templates", kLive,
                    [](auto& c) -> auto& { return c.notify.template_overrides; }, readTemplates),
                {"*"}),
            listedAs(
                keyOf(
                    "rate_limits", kLive,
                    [](auto& c) -> auto& { return c.notify.delivery.rate_limits; }, readRateLimits),
                [] {
                  std::vector<std::string> sub;
                  for (auto k : kRateLimitKeys) sub.push_back(fmt::format("*.{}", k));
                  return sub;
                }()),
        }});

    // [run]: SIGHUP applies subscribers, the log settings and shutdown_timeout_ms (run.h).
    out.push_back(TableDef{
        "run",
        {
            keyOf(
                "interfaces", kRestart, [](auto& c) -> auto& { return c.run.interfaces; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  const toml::array* a = r.array(t, where, "interfaces");
                  if (a == nullptr) return;
                  c.run.interfaces.clear();
                  for (const auto& e : *a) {
                    if (!e.is_string() || e.as_string()->get().empty()) {
                      r.report(&e, "run.interfaces", "expected interface names");
                      continue;
                    }
                    c.run.interfaces.push_back(e.as_string()->get());
                  }
                }),
            integerKey(
                "snaplen", kRestart, [](auto& c) -> auto& { return c.run.snaplen; }, 65535, 262144),
            // An int in pcap.
            integerKey(
                "buffer_bytes", kRestart, [](auto& c) -> auto& { return c.run.buffer_bytes; },
                1 << 20, 1 << 30),
            booleanKey(
                "promisc", kRestart, [](auto& c) -> auto& { return c.run.promisc; }),
            booleanKey(
                "immediate", kRestart, [](auto& c) -> auto& { return c.run.immediate; }),
            integerKey(
                "timeout_ms", kRestart, [](auto& c) -> auto& { return c.run.timeout_ms; }, 1, 1000),
            integerKey(
                "capture_threads", kRestart, [](auto& c) -> auto& { return c.run.capture_threads; },
                1, 64),
            stringKey(
                "filter", kRestart, [](auto& c) -> auto& { return c.run.filter; }),
            stringKey(
                "user", kRestart, [](auto& c) -> auto& { return c.run.user; }),
            stringKey(
                "group", kRestart, [](auto& c) -> auto& { return c.run.group; }),
            stringKey(
                "subscribers", kLive, [](auto& c) -> auto& { return c.run.subscribers; }),
            redisUrlKey(
                "redis", kRestart, [](auto& c) -> auto& { return c.run.redis; }),
            secretRefKey(
                "redis_password_ref", kRestart,
                [](auto& c) -> auto& { return c.run.redis_password_ref; }),
            check([](Reader& r, const toml::table& t, std::string_view, Config& c) {
              if (!c.run.redis.empty() && !c.run.subscribers.empty()) {
                r.report(t.get("redis"), "run.redis",
                         "set either run.subscribers or run.redis, not both");
              }
            }),
            choiceKey(
                "http_bind", kRestart, [](auto& c) -> auto& { return c.run.http_bind; }, {},
                "expected an address"),
            integerKey(
                "http_port", kRestart, [](auto& c) -> auto& { return c.run.http_port; }, 0, 65535),
            secretRefKey(
                "http_token_ref", kRestart, [](auto& c) -> auto& { return c.run.http_token_ref; }),
            choiceKey(
                "log_format", kLive, [](auto& c) -> auto& { return c.run.log_format; },
                {"human", "json"}, "expected \"human\" or \"json\""),
            choiceKey(
                "log_level", kLive, [](auto& c) -> auto& { return c.run.log_level; },
                {"trace", "debug", "info", "warn", "error"},
                "expected trace, debug, info, warn or error"),
            booleanKey(
                "log_mask_numbers", kLive, [](auto& c) -> auto& { return c.run.log_mask_numbers; }),
            integerKey(
                "workers", kRestart, [](auto& c) -> auto& { return c.run.workers; }, 1, 64),
            integerKey(
                "ring_size", kRestart, [](auto& c) -> auto& { return c.run.ring_size; }, 16,
                1 << 24),
            integerKey(
                "shutdown_timeout_ms", kLive,
                [](auto& c) -> auto& { return c.run.shutdown_timeout_ms; }, 0, 3600000),
            integerKey(
                "ladder_messages", kRestart, [](auto& c) -> auto& { return c.run.ladder_messages; },
                0, 10000000),
            integerKey(
                "ladder_bytes", kRestart, [](auto& c) -> auto& { return c.run.ladder_bytes; }, 0,
                int64_t{1} << 34),
        }});

    // [streams]: read when a probe or notifier role starts.
    // Names end up inside Redis keys and commands: no spaces or control bytes, no empty names.
    auto name = [](std::string_view key, auto get) {
      return keyOf(key, kRestart, get,
                   [=](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                     std::string value = get(c);
                     if (t.get(key) == nullptr || !r.string(t, where, key, value)) return;
                     bool ok = !value.empty() && value.size() <= 64;
                     for (char ch : value) {
                       ok = ok && static_cast<unsigned char>(ch) > 0x20 && ch != 0x7f;
                     }
                     if (!ok) {
                       r.report(t.get(key), fmt::format("{}.{}", where, key),
                                "expected 1 to 64 printable characters without spaces");
                       return;
                     }
                     get(c) = std::move(value);
                   });
    };
    out.push_back(TableDef{
        "streams",
        {
            redisUrlKey(
                "redis", kRestart, [](auto& c) -> auto& { return c.streams.redis; }),
            secretRefKey(
                "password_ref", kRestart, [](auto& c) -> auto& { return c.streams.password_ref; }),
            keyOf(
                "sentinels", kRestart, [](auto& c) -> auto& { return c.streams.sentinels; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  const toml::array* a = r.array(t, where, "sentinels");
                  if (a == nullptr) return;
                  std::vector<std::string> out;
                  for (const auto& e : *a) {
                    std::string host;
                    int port = 0;
                    if (!e.is_string() || !redis::parseHostPort(e.as_string()->get(), host, port)) {
                      r.report(&e, fmt::format("{}.sentinels", where),
                               "expected \"HOST:PORT\" strings (\"[v6]:PORT\" for IPv6)");
                      return;
                    }
                    out.push_back(e.as_string()->get());
                  }
                  c.streams.sentinels = std::move(out);
                }),
            name(
                "sentinel_master", [](auto& c) -> auto& { return c.streams.sentinel_master; }),
            secretRefKey(
                "sentinel_password_ref", kRestart,
                [](auto& c) -> auto& { return c.streams.sentinel_password_ref; }),
            name(
                "prefix", [](auto& c) -> auto& { return c.streams.stream.prefix; }),
            name(
                "group", [](auto& c) -> auto& { return c.streams.stream.group; }),
            name(
                "consumer", [](auto& c) -> auto& { return c.streams.stream.consumer; }),
            integerKey(
                "maxlen", kRestart, [](auto& c) -> auto& { return c.streams.stream.maxlen; }, 1000,
                1'000'000'000),
            integerKey(
                "dedupe_ttl_s", kRestart,
                [](auto& c) -> auto& { return c.streams.stream.dedupe_ttl_s; }, 60, 30 * 86400),
            integerKey(
                "claim_idle_ms", kRestart,
                [](auto& c) -> auto& { return c.streams.stream.claim_idle_ms; }, 100, 86400000),
            integerKey(
                "buffer_max", kRestart,
                [](auto& c) -> auto& { return c.streams.stream.buffer_max; }, 1, 10'000'000),
            integerKey(
                "max_deliveries", kRestart,
                [](auto& c) -> auto& { return c.streams.stream.max_deliveries; }, 1, 1000),
            integerKey(
                "batch", kRestart, [](auto& c) -> auto& { return c.streams.stream.batch; }, 1,
                10000),
            integerKey(
                "max_in_flight", kRestart,
                [](auto& c) -> auto& { return c.streams.stream.max_in_flight; }, 1, 1'000'000),
            integerKey(
                "connect_timeout_ms", kRestart,
                [](auto& c) -> auto& { return c.streams.stream.connect_timeout_ms; }, 10, 60000),
            integerKey(
                "backoff_max_ms", kRestart,
                [](auto& c) -> auto& { return c.streams.stream.backoff_max_ms; }, 100, 600000),
        }});

    // [hep]: listeners open at start; the decoding settings live in the capture decoder.
    out.push_back(TableDef{
        "hep",
        {
            keyOf(
                "listeners", kRestart, [](auto& c) -> auto& { return c.hep.listeners; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  const toml::array* a = r.array(t, where, "listeners");
                  if (a == nullptr) return;
                  c.hep.listeners.clear();
                  for (const auto& e : *a) {
                    std::string host, err;
                    uint16_t port = 0;
                    if (!e.is_string() ||
                        !capture::parseHepAddress(e.as_string()->get(), host, port, err)) {
                      r.report(&e, "hep.listeners",
                               err.empty() ? std::string("expected \"ADDR:PORT\" strings") : err);
                      continue;
                    }
                    c.hep.listeners.push_back(e.as_string()->get());
                  }
                }),
            portsKey(
                "ports", kRestart, [](auto& c) -> auto& { return c.decoder.hep.ports; }),
            secretRefKey(
                "auth_key_ref", kRestart, [](auto& c) -> auto& { return c.hep.auth_key_ref; }),
            integerKey(
                "max_payload_bytes", kRestart,
                [](auto& c) -> auto& { return c.decoder.hep.max_payload_bytes; }, 1024, 1 << 20),
            integerKey(
                "max_connections", kRestart, [](auto& c) -> auto& { return c.hep.max_connections; },
                1, 4096),
            integerKey(
                "max_tcp_streams", kRestart,
                [](auto& c) -> auto& { return c.decoder.hep.max_tcp_streams; }, 1, 1'000'000),
        }});

    // [history]: the call history store, opened by `mcn run` at start (history/).
    out.push_back(TableDef{
        "history",
        {
            booleanKey(
                "enabled", kRestart, [](auto& c) -> auto& { return c.history.enabled; }),
            keyOf(
                "path", kRestart, [](auto& c) -> auto& { return c.history.path; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  r.string(t, where, "path", c.history.path);
                  if (c.history.path.empty()) r.report(t.get("path"), "history.path", "empty");
                }),
            integerKey(
                "retention_days", kRestart,
                [](auto& c) -> auto& { return c.history.retention_days; }, 1, 36500),
            integerKey(
                "queue_size", kRestart, [](auto& c) -> auto& { return c.history.queue_size; }, 16,
                16'777'216),
            integerKey(
                "stream_maxlen", kRestart, [](auto& c) -> auto& { return c.history.stream_maxlen; },
                1000, 1'000'000'000),
        }});
    // [sipua]: mcn's SIP user agent on the management side (README "Call back"); opened at start.
    auto sipUri = [](std::string_view key, auto get, bool may_be_empty) {
      return keyOf(key, kRestart, get,
                   [=](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                     std::string value = get(c);
                     if (t.get(key) == nullptr || !r.string(t, where, key, value)) return;
                     bool ok = (may_be_empty && value.empty()) || value.starts_with("sip:") ||
                               value.starts_with("sips:");
                     for (char ch : value) {
                       ok = ok && static_cast<unsigned char>(ch) > 0x20 && ch != 0x7f &&
                            ch != '<' && ch != '>' && ch != '"';
                     }
                     if (!ok) {
                       r.report(t.get(key), fmt::format("{}.{}", where, key),
                                "expected a sip: or sips: URI without spaces or <>");
                       return;
                     }
                     get(c) = std::move(value);
                   });
    };
    out.push_back(TableDef{
        "sipua",
        {
            booleanKey(
                "enabled", kRestart, [](auto& c) -> auto& { return c.sipua.enabled; }),
            sipUri(
                "listen", [](auto& c) -> auto& { return c.sipua.listen; }, false),
            sipUri(
                "outbound_proxy", [](auto& c) -> auto& { return c.sipua.outbound_proxy; }, true),
            stringKey(
                "domain", kRestart, [](auto& c) -> auto& { return c.sipua.domain; }),
            sipUri(
                "identity", [](auto& c) -> auto& { return c.sipua.identity; }, false),
            sipUri(
                "asserted_identity", [](auto& c) -> auto& { return c.sipua.asserted_identity; },
                true),
            booleanKey(
                "register", kRestart, [](auto& c) -> auto& { return c.sipua.register_; }),
            sipUri(
                "registrar", [](auto& c) -> auto& { return c.sipua.registrar; }, true),
            integerKey(
                "register_expires_s", kRestart,
                [](auto& c) -> auto& { return c.sipua.register_expires_s; }, 60, 86400),
            stringKey(
                "auth_user", kRestart, [](auto& c) -> auto& { return c.sipua.auth_user; }),
            secretRefKey(
                "auth_password_ref", kRestart,
                [](auto& c) -> auto& { return c.sipua.auth_password_ref; }),
            keyOf(
                "marker_header", kRestart, [](auto& c) -> auto& { return c.sipua.marker_header; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  std::string value = c.sipua.marker_header;
                  if (t.get("marker_header") == nullptr ||
                      !r.string(t, where, "marker_header", value)) {
                    return;
                  }
                  // RFC 3261 §25.1 token characters, and an extension header (X-...) so no
                  // standard header is overwritten.
                  bool ok = value.size() > 2 && value.size() <= 64 &&
                            (value.starts_with("X-") || value.starts_with("x-"));
                  for (char ch : value) {
                    ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) != 0 ||
                                std::string_view("-.!%*_+`'~").find(ch) != std::string_view::npos);
                  }
                  if (!ok) {
                    r.report(t.get("marker_header"), "sipua.marker_header",
                             "expected a header name starting with X- (token characters)");
                    return;
                  }
                  c.sipua.marker_header = std::move(value);
                  // The probe recognises the calls mcn placed by the same header.
                  c.parser.origin_header = c.sipua.marker_header;
                }),
            integerKey(
                "ring_timeout_ms", kRestart,
                [](auto& c) -> auto& { return c.sipua.ring_timeout_ms; }, 1000, 300000),
            integerKey(
                "connect_timeout_ms", kRestart,
                [](auto& c) -> auto& { return c.sipua.connect_timeout_ms; }, 1000, 600000),
            integerKey(
                "max_active", kRestart, [](auto& c) -> auto& { return c.sipua.max_active; }, 1,
                10000),
            check([](Reader& r, const toml::table& t, std::string_view, Config& c) {
              if (!c.sipua.auth_user.empty() && c.sipua.auth_password_ref.empty()) {
                r.report(t.get("auth_user"), "sipua.auth_user",
                         "set sipua.auth_password_ref too (env:NAME or file:/path)");
              }
            }),
        }});

    // [callback]: the call-back API's signed links and rate limits.
    out.push_back(TableDef{
        "callback",
        {
            secretRefKey(
                "link_key_ref", kRestart, [](auto& c) -> auto& { return c.callback.link_key_ref; }),
            keyOf(
                "link_base_url", kRestart,
                [](auto& c) -> auto& { return c.callback.link_base_url; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  std::string value = c.callback.link_base_url;
                  if (t.get("link_base_url") == nullptr ||
                      !r.string(t, where, "link_base_url", value)) {
                    return;
                  }
                  if (!value.empty() && !value.starts_with("https://") &&
                      !value.starts_with("http://")) {
                    r.report(t.get("link_base_url"), "callback.link_base_url",
                             "expected an http:// or https:// URL");
                    return;
                  }
                  if (!value.empty() && !value.ends_with("/")) value += '/';
                  c.callback.link_base_url = std::move(value);
                }),
            integerKey(
                "link_ttl_ms", kRestart, [](auto& c) -> auto& { return c.callback.link_ttl_ms; },
                60000, 30 * kDay),
            integerKey(
                "per_person_per_hour", kRestart,
                [](auto& c) -> auto& { return c.callback.per_person_per_hour; }, 0, 10000),
            integerKey(
                "global_per_minute", kRestart,
                [](auto& c) -> auto& { return c.callback.global_per_minute; }, 0, 100000),
        }});

    // [web]: the web console (staff sign-in by link, /me).
    out.push_back(TableDef{
        "web",
        {
            booleanKey(
                "enabled", kRestart, [](auto& c) -> auto& { return c.web.enabled; }),
            keyOf(
                "base_url", kRestart, [](auto& c) -> auto& { return c.web.base_url; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  std::string value = c.web.base_url;
                  if (t.get("base_url") == nullptr || !r.string(t, where, "base_url", value)) {
                    return;
                  }
                  if (!value.empty() && !value.starts_with("https://") &&
                      !value.starts_with("http://")) {
                    r.report(t.get("base_url"), "web.base_url",
                             "expected an http:// or https:// URL");
                    return;
                  }
                  if (!value.empty() && !value.ends_with("/")) value += '/';
                  c.web.base_url = std::move(value);
                }),
            secretRefKey(
                "signin_key_ref", kRestart, [](auto& c) -> auto& { return c.web.signin_key_ref; }),
            integerKey(
                "signin_link_ttl_ms", kRestart,
                [](auto& c) -> auto& { return c.web.signin_link_ttl_ms; }, 60000, kDay),
            integerKey(
                "signin_per_person_per_hour", kRestart,
                [](auto& c) -> auto& { return c.web.signin_per_person_per_hour; }, 1, 1000),
            integerKey(
                "signin_global_per_minute", kRestart,
                [](auto& c) -> auto& { return c.web.signin_global_per_minute; }, 1, 100000),
            integerKey(
                "session_ttl_ms", kRestart, [](auto& c) -> auto& { return c.web.session_ttl_ms; },
                60000, 30 * kDay),
            integerKey(
                "max_sessions", kRestart, [](auto& c) -> auto& { return c.web.max_sessions; }, 1,
                1000000),
            secretRefKey(
                "operator_token_ref", kRestart,
                [](auto& c) -> auto& { return c.web.operator_token_ref; }),
            // Sign-in with a directory account (web/include/mcn/web/ldap_auth.h).
            keyOf(
                "ldap_url", kRestart, [](auto& c) -> auto& { return c.web.ldap.url; },
                [](Reader& r, const toml::table& t, std::string_view where, Config& c) {
                  std::string value = c.web.ldap.url;
                  if (t.get("ldap_url") == nullptr || !r.string(t, where, "ldap_url", value)) {
                    return;
                  }
                  if (!value.empty() && !value.starts_with("ldaps://") &&
                      !value.starts_with("ldap://")) {
                    r.report(t.get("ldap_url"), "web.ldap_url",
                             "expected ldaps://host:port (or ldap://host:port, which then "
                             "requires StartTLS)");
                    return;
                  }
                  c.web.ldap.url = std::move(value);
                }),
            stringKey(
                "ldap_ca_file", kRestart, [](auto& c) -> auto& { return c.web.ldap.ca_file; }),
            stringKey(
                "ldap_user_dn", kRestart, [](auto& c) -> auto& { return c.web.ldap.user_dn; }),
            stringKey(
                "ldap_bind_dn", kRestart, [](auto& c) -> auto& { return c.web.ldap.bind_dn; }),
            secretRefKey(
                "ldap_bind_password_ref", kRestart,
                [](auto& c) -> auto& { return c.web.ldap.bind_password_ref; }),
            stringKey(
                "ldap_base", kRestart, [](auto& c) -> auto& { return c.web.ldap.base; }),
            stringKey(
                "ldap_filter", kRestart, [](auto& c) -> auto& { return c.web.ldap.filter; }),
            stringKey(
                "ldap_person_attribute", kRestart,
                [](auto& c) -> auto& { return c.web.ldap.person_attribute; }),
            stringKey(
                "ldap_operator_group", kRestart,
                [](auto& c) -> auto& { return c.web.ldap.operator_group; }),
            integerKey(
                "ldap_timeout_ms", kRestart, [](auto& c) -> auto& { return c.web.ldap.timeout_ms; },
                100, 60000),
            check([](Reader& r, const toml::table& t, std::string_view, Config& c) {
              if (c.web.ldap.url.empty()) return;
              std::string problem = web::ldapConfigProblem(c.web.ldap);
              if (problem.empty()) return;
              // "web.ldap_user_dn: ..." : reported at that key when it is in the file.
              std::string key = problem.substr(0, problem.find(':'));
              const toml::node* at = t.get(key.substr(4));
              r.report(at != nullptr ? at : t.get("ldap_url"), key,
                       problem.substr(problem.find(':') + 2));
            }),
            check([](Reader& r, const toml::table& t, std::string_view, Config& c) {
              if (c.web.enabled && (c.web.base_url.empty() || c.web.signin_key_ref.empty())) {
                r.report(t.get("enabled"), "web.enabled",
                         "set web.base_url and web.signin_key_ref too");
              }
            }),
        }});
    return out;
  }();
  return tables;
}

void readTable(Reader& r, const toml::table& root, const TableDef& def, Config& cfg) {
  const toml::table* t = r.table(root, def.name);
  if (t == nullptr) return;
  for (auto&& [k, v] : *t) {
    bool known = false;
    for (const auto& key : def.keys) known = known || (!key.name.empty() && key.name == k.str());
    if (!known) r.report(&v, fmt::format("{}.{}", def.name, k.str()), "unknown key");
  }
  for (const auto& key : def.keys) r.guard([&] { key.read(r, *t, def.name, cfg); });
}

Config fromTable(const toml::table& root, const std::string& origin) {
  Reader r(origin);
  Config cfg = defaultConfig();
  cfg.source = origin;
  std::vector<std::string_view> tables;
  for (const auto& table : declaredTables()) tables.push_back(table.name);
  r.onlyKeys(root, "", tables);
  for (const auto& table : declaredTables()) readTable(r, root, table, cfg);
  if (!r.errors().empty()) throw ConfigError(r.errors());
  return cfg;
}

}  // namespace

std::vector<std::string> knownConfigKeys() {
  std::vector<std::string> out;
  for (const auto& table : declaredTables()) {
    for (const auto& key : table.keys) {
      if (key.name.empty()) continue;
      if (key.listed.empty()) out.push_back(fmt::format("{}.{}", table.name, key.name));
      for (const auto& sub : key.listed) {
        out.push_back(fmt::format("{}.{}.{}", table.name, key.name, sub));
      }
    }
  }
  return out;
}

std::vector<std::string> restartKeysChanged(const Config& running, const Config& fresh) {
  std::vector<std::string> out;
  // `fresh` with every declared key's value taken from `running`: what still differs is a field
  // no key declares, reported by its table so a new field cannot escape the warning.
  Config rest = fresh;
  for (const auto& table : declaredTables()) {
    for (const auto& key : table.keys) {
      if (key.name.empty()) continue;
      if (key.change == Change::kRestart && !key.same(running, fresh)) {
        out.push_back(fmt::format("{}.{}", table.name, key.name));
      }
      key.copy(rest, running);
    }
  }
  if (!(rest.decoder == running.decoder)) out.emplace_back("[capture]");
  if (!(rest.parser == running.parser)) out.emplace_back("[dial_plan]");
  if (!(rest.tracker == running.tracker)) out.emplace_back("[calls]");
  if (!(rest.notify == running.notify)) out.emplace_back("[notify]");
  if (!(rest.run == running.run)) out.emplace_back("[run]");
  if (!(rest.streams == running.streams)) out.emplace_back("[streams]");
  if (!(rest.hep == running.hep)) out.emplace_back("[hep]");
  return out;
}

Config defaultConfig() {
  Config cfg;
  cfg.source = "(built-in defaults)";
  // Mirror copies of one packet are microseconds apart, SIP retransmissions >= 500 ms (T1):
  // capture/src/frame_dedup.h. The library leaves it off so a bare decoder is stateless here.
  cfg.decoder.dedup_window_ms = 5;
  return cfg;
}

void resolveHepAuthKey(Config& cfg) {
  cfg.decoder.hep.auth_key.clear();
  if (cfg.hep.auth_key_ref.empty()) return;
  try {
    cfg.decoder.hep.auth_key = subscribers::resolveSecretRef(cfg.hep.auth_key_ref);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("hep.auth_key_ref: {}", e.what()));
  }
  if (cfg.decoder.hep.auth_key.empty()) {
    throw std::runtime_error("hep.auth_key_ref: " + cfg.hep.auth_key_ref + " is empty");
  }
}

Config loadConfigText(std::string_view text, const std::string& origin) {
  try {
    toml::table root = toml::parse(text, origin);
    return fromTable(root, origin);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}:{}:{}: {}", origin, e.source().begin.line,
                                  e.source().begin.column, e.description()));
  }
}

Config loadConfigFile(const std::string& path) {
  try {
    toml::table root = toml::parse_file(path);
    return fromTable(root, path);
  } catch (const toml::parse_error& e) {
    if (e.source().begin.line == 0) {
      throw ConfigError(fmt::format("{}: {}", path, e.description()));
    }
    throw ConfigError(fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                  e.source().begin.column, e.description()));
  }
}

}  // namespace mcn::app
