#include "mcn/app/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cctype>
#include <functional>
#include <optional>
#include <regex>
#include <set>

#include "mcn/notifier/templates.h"
#include "mcn/subscribers/directory.h"
#include "mcn/subscribers/redis_store.h"

namespace mcn::app {
namespace {

// Builds "file:line:col: key: message" so an operator finds the line at once.
class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const toml::node* node, std::string_view key, std::string_view msg) const {
    if (node != nullptr && node->source().begin.line != 0) {
      throw ConfigError(fmt::format("{}:{}:{}: {}: {}", origin_, node->source().begin.line,
                                    node->source().begin.column, key, msg));
    }
    throw ConfigError(fmt::format("{}: {}: {}", origin_, key, msg));
  }

  void onlyKeys(const toml::table& t, std::string_view where,
                std::initializer_list<std::string_view> allowed) const {
    for (auto&& [k, v] : t) {
      bool ok = false;
      for (auto a : allowed) ok = ok || (k.str() == a);
      if (!ok) {
        std::string key =
            where.empty() ? std::string(k.str()) : fmt::format("{}.{}", where, k.str());
        fail(&v, key, "unknown key");
      }
    }
  }

  // `where`: the enclosing table's dotted name, so "notify.templates" is named whole.
  const toml::table* table(const toml::table& t, std::string_view name,
                           std::string_view where = {}) const {
    const toml::node* n = t.get(name);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      fail(n, where.empty() ? std::string(name) : fmt::format("{}.{}", where, name),
           "expected a table");
    }
    return n->as_table();
  }

  // A credential reference: env:NAME or file:/path. Anything else is refused without echoing
  // it (it may be a pasted secret).
  void secretRef(const toml::table& t, std::string_view where, std::string_view key,
                 std::string& out) const {
    string(t, where, key, out);
    if (out.empty()) return;
    bool env = out.rfind("env:", 0) == 0 && out.size() > 4;
    bool file = out.rfind("file:/", 0) == 0;
    if (!env && !file) {
      out.clear();
      fail(t.get(key), fmt::format("{}.{}", where, key),
           "expected a reference env:NAME or file:/path (never the secret itself)");
    }
  }

  void string(const toml::table& t, std::string_view where, std::string_view key,
              std::string& out) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    if (!n->is_string()) fail(n, fmt::format("{}.{}", where, key), "expected a string");
    out = n->as_string()->get();
  }

  void digits(const toml::table& t, std::string_view where, std::string_view key,
              std::string& out) const {
    string(t, where, key, out);
    for (char c : out) {
      if (c < '0' || c > '9') {
        fail(t.get(key), fmt::format("{}.{}", where, key), "expected a string of digits");
      }
    }
  }

  int64_t integer(const toml::table& t, std::string_view where, std::string_view key,
                  int64_t current, int64_t min, int64_t max) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return current;
    if (!n->is_integer()) fail(n, fmt::format("{}.{}", where, key), "expected an integer");
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      fail(n, fmt::format("{}.{}", where, key), fmt::format("must be between {} and {}", min, max));
    }
    return v;
  }

  bool boolean(const toml::table& t, std::string_view where, std::string_view key,
               bool current) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return current;
    if (!n->is_boolean()) fail(n, fmt::format("{}.{}", where, key), "expected true or false");
    return n->as_boolean()->get();
  }

  const toml::array* array(const toml::table& t, std::string_view where,
                           std::string_view key) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_array()) fail(n, fmt::format("{}.{}", where, key), "expected an array");
    return n->as_array();
  }

 private:
  std::string origin_;
};

Config fromTable(const toml::table& root, const std::string& origin) {
  Reader r(origin);
  Config cfg = defaultConfig();
  cfg.source = origin;
  r.onlyKeys(root, "", {"capture", "dial_plan", "calls", "notify", "run", "streams"});

  if (const auto* t = r.table(root, "capture")) {
    r.onlyKeys(*t, "capture",
               {"sip_ports", "max_vlan_depth", "prefilter", "dedup_window_ms", "ip_frag_timeout_ms",
                "ip_frag_max_datagrams", "ip_frag_max_bytes", "vxlan_ports", "tcp_max_streams",
                "tcp_max_stream_bytes", "tcp_max_total_bytes", "tcp_idle_timeout_ms",
                "tcp_gap_timeout_ms"});
    cfg.decoder.prefilter = r.boolean(*t, "capture", "prefilter", cfg.decoder.prefilter);
    if (const auto* a = r.array(*t, "capture", "sip_ports")) {
      cfg.decoder.sip_ports.clear();
      for (const auto& e : *a) {
        if (!e.is_integer() || e.as_integer()->get() < 1 || e.as_integer()->get() > 65535) {
          r.fail(&e, "capture.sip_ports", "expected port numbers 1..65535");
        }
        cfg.decoder.sip_ports.push_back(static_cast<uint16_t>(e.as_integer()->get()));
      }
    }
    cfg.decoder.max_vlan_depth = static_cast<int>(r.integer(
        *t, "capture", "max_vlan_depth", cfg.decoder.max_vlan_depth, 0, capture::kMaxVlanDepth));
    // Frame dedup, IP fragment reassembly and VXLAN ports (capture/README.md).
    cfg.decoder.dedup_window_ms = static_cast<int>(
        r.integer(*t, "capture", "dedup_window_ms", cfg.decoder.dedup_window_ms, 0, 1000));
    cfg.decoder.ip_frag.timeout_ms =
        r.integer(*t, "capture", "ip_frag_timeout_ms", cfg.decoder.ip_frag.timeout_ms, 1, 120'000);
    cfg.decoder.ip_frag.max_datagrams = static_cast<size_t>(
        r.integer(*t, "capture", "ip_frag_max_datagrams",
                  static_cast<int64_t>(cfg.decoder.ip_frag.max_datagrams), 1, 1'000'000));
    cfg.decoder.ip_frag.max_bytes = static_cast<size_t>(
        r.integer(*t, "capture", "ip_frag_max_bytes",
                  static_cast<int64_t>(cfg.decoder.ip_frag.max_bytes), 65'536, int64_t{1} << 34));
    if (const auto* a = r.array(*t, "capture", "vxlan_ports")) {
      cfg.decoder.vxlan_ports.clear();
      for (const auto& e : *a) {
        if (!e.is_integer() || e.as_integer()->get() < 1 || e.as_integer()->get() > 65535) {
          r.fail(&e, "capture.vxlan_ports", "expected port numbers 1..65535");
        }
        cfg.decoder.vxlan_ports.push_back(static_cast<uint16_t>(e.as_integer()->get()));
      }
    }
    // SIP over TCP stream reassembly (capture/src/tcp_reassembly.h).
    auto& tcp = cfg.decoder.tcp;
    tcp.max_streams = static_cast<size_t>(r.integer(*t, "capture", "tcp_max_streams",
                                                    static_cast<int64_t>(tcp.max_streams), 1,
                                                    10'000'000));
    tcp.max_stream_bytes = static_cast<size_t>(
        r.integer(*t, "capture", "tcp_max_stream_bytes", static_cast<int64_t>(tcp.max_stream_bytes),
                  1024, 16 << 20));
    tcp.max_total_bytes = static_cast<size_t>(
        r.integer(*t, "capture", "tcp_max_total_bytes", static_cast<int64_t>(tcp.max_total_bytes),
                  65'536, int64_t{1} << 34));
    tcp.idle_timeout_ms = r.integer(*t, "capture", "tcp_idle_timeout_ms", tcp.idle_timeout_ms, 1000,
                                    3'600'000);
    tcp.gap_timeout_ms =
        r.integer(*t, "capture", "tcp_gap_timeout_ms", tcp.gap_timeout_ms, 1, 60'000);
  }

  if (const auto* t = r.table(root, "dial_plan")) {
    r.onlyKeys(*t, "dial_plan",
               {"country_code", "national_prefix", "international_prefix", "area_code",
                "local_number_length", "rewrite"});
    auto& dp = cfg.parser.dial_plan;
    r.digits(*t, "dial_plan", "country_code", dp.country_code);
    r.digits(*t, "dial_plan", "national_prefix", dp.national_prefix);
    r.digits(*t, "dial_plan", "international_prefix", dp.international_prefix);
    r.digits(*t, "dial_plan", "area_code", dp.area_code);
    dp.local_number_length = static_cast<int>(
        r.integer(*t, "dial_plan", "local_number_length", dp.local_number_length, 0, 15));
    if (const toml::node* n = t->get("rewrite")) {
      const toml::array* a = n->as_array();
      if (a == nullptr || !a->is_array_of_tables()) {
        r.fail(n, "dial_plan.rewrite", "expected [[dial_plan.rewrite]] tables");
      }
      dp.rewrite.clear();
      for (const auto& e : *a) {
        const auto& rt = *e.as_table();
        r.onlyKeys(rt, "dial_plan.rewrite", {"match", "replace"});
        sipparse::RewriteRule rule;
        r.string(rt, "dial_plan.rewrite", "match", rule.match);
        r.string(rt, "dial_plan.rewrite", "replace", rule.replace);
        if (rule.match.empty()) r.fail(&e, "dial_plan.rewrite.match", "missing");
        try {
          std::regex check(rule.match, std::regex::ECMAScript);
        } catch (const std::regex_error& err) {
          r.fail(rt.get("match"), "dial_plan.rewrite.match",
                 fmt::format("not a regular expression: {}", err.what()));
        }
        dp.rewrite.push_back(std::move(rule));
      }
    }
  }

  if (const auto* t = r.table(root, "calls")) {
    r.onlyKeys(*t, "calls",
               {"grace_ms", "grace_after_3xx_ms", "auth_retry_ms", "ring_timeout_ms", "linger_ms",
                "min_ring_ms_cancelled", "missed_outcomes", "forwarded_unconditional_missed",
                "correlation_header", "max_calls"});
    auto& tc = cfg.tracker;
    constexpr int64_t kDay = 86400000;
    tc.grace_ms = r.integer(*t, "calls", "grace_ms", tc.grace_ms, 0, kDay);
    tc.grace_after_3xx_ms =
        r.integer(*t, "calls", "grace_after_3xx_ms", tc.grace_after_3xx_ms, 0, kDay);
    tc.auth_retry_ms = r.integer(*t, "calls", "auth_retry_ms", tc.auth_retry_ms, 0, kDay);
    tc.ring_timeout_ms = r.integer(*t, "calls", "ring_timeout_ms", tc.ring_timeout_ms, 1000, kDay);
    tc.linger_ms = r.integer(*t, "calls", "linger_ms", tc.linger_ms, 0, kDay);
    tc.min_ring_ms_cancelled =
        r.integer(*t, "calls", "min_ring_ms_cancelled", tc.min_ring_ms_cancelled, 0, kDay);
    tc.max_calls = static_cast<size_t>(
        r.integer(*t, "calls", "max_calls", static_cast<int64_t>(tc.max_calls), 1, 100000000));
    tc.forwarded_unconditional_missed =
        r.boolean(*t, "calls", "forwarded_unconditional_missed", tc.forwarded_unconditional_missed);
    if (const auto* a = r.array(*t, "calls", "missed_outcomes")) {
      tc.missed.fill(false);
      for (const auto& e : *a) {
        std::optional<calls::Outcome> o;
        if (e.is_string()) o = calls::outcomeFromName(e.as_string()->get());
        if (!o) r.fail(&e, "calls.missed_outcomes", "expected outcome names such as \"busy\"");
        tc.missed[static_cast<size_t>(*o)] = true;
      }
    }
    r.string(*t, "calls", "correlation_header", cfg.parser.correlation_header);
    // A header name is an RFC 3261 §25.1 token; anything else could never match a header.
    for (char c : cfg.parser.correlation_header) {
      bool token = std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                   std::string_view("-.!%*_+`'~").find(c) != std::string_view::npos;
      if (!token) {
        r.fail(t->get("correlation_header"), "calls.correlation_header",
               "expected a header name (letters, digits, -.!%*_+`'~)");
      }
    }
  }

  // Let each component validate what only it understands (regexes in the dial plan).
  std::optional<sipparse::DialPlan> plan;
  try {
    plan.emplace(cfg.parser.dial_plan);
  } catch (const std::exception& e) {
    throw ConfigError(fmt::format("{}: dial_plan.rewrite: {}", origin, e.what()));
  }

  if (const auto* t = r.table(root, "notify")) {
    r.onlyKeys(*t, "notify",
               {"dead_letter", "voicemail_numbers", "finish_timeout_ms", "max_attempts",
                "backoff_base_ms", "backoff_cap_ms", "connect_timeout_ms", "total_timeout_ms",
                "max_queue", "max_open_windows", "max_calls_per_window", "templates",
                "rate_limits"});
    auto& n = cfg.notify;
    r.string(*t, "notify", "dead_letter", n.dead_letter_path);
    if (n.dead_letter_path.empty()) {
      r.fail(t->get("dead_letter"), "notify.dead_letter", "expected a file path");
    }
    constexpr int64_t kHour = 3600000;
    n.finish_timeout_ms =
        r.integer(*t, "notify", "finish_timeout_ms", n.finish_timeout_ms, 0, kHour);
    n.delivery.max_attempts = static_cast<int>(
        r.integer(*t, "notify", "max_attempts", n.delivery.max_attempts, 1, 100));
    n.delivery.backoff_base_ms =
        r.integer(*t, "notify", "backoff_base_ms", n.delivery.backoff_base_ms, 1, kHour);
    n.delivery.backoff_cap_ms =
        r.integer(*t, "notify", "backoff_cap_ms", n.delivery.backoff_cap_ms, 1, 24 * kHour);
    if (n.delivery.backoff_cap_ms < n.delivery.backoff_base_ms) {
      const toml::node* at = t->get("backoff_cap_ms");
      r.fail(at != nullptr ? at : t->get("backoff_base_ms"),
             at != nullptr ? "notify.backoff_cap_ms" : "notify.backoff_base_ms",
             "backoff_cap_ms must be at least backoff_base_ms");
    }
    n.delivery.connect_timeout_ms =
        r.integer(*t, "notify", "connect_timeout_ms", n.delivery.connect_timeout_ms, 100, kHour);
    n.delivery.total_timeout_ms =
        r.integer(*t, "notify", "total_timeout_ms", n.delivery.total_timeout_ms, 100, kHour);
    n.delivery.max_queue = static_cast<size_t>(r.integer(
        *t, "notify", "max_queue", static_cast<int64_t>(n.delivery.max_queue), 1, 10000000));
    n.merger.max_open_windows = static_cast<size_t>(
        r.integer(*t, "notify", "max_open_windows", static_cast<int64_t>(n.merger.max_open_windows),
                  1, 10000000));
    n.merger.max_calls_per_window = static_cast<size_t>(
        r.integer(*t, "notify", "max_calls_per_window",
                  static_cast<int64_t>(n.merger.max_calls_per_window), 1, 10000));
    if (const auto* a = r.array(*t, "notify", "voicemail_numbers")) {
      for (const auto& e : *a) {
        if (!e.is_string()) r.fail(&e, "notify.voicemail_numbers", "expected strings");
        std::string num = plan->normaliseUri(e.as_string()->get());
        if (num.empty()) r.fail(&e, "notify.voicemail_numbers", "not a telephone number");
        n.voicemail_numbers.push_back(std::move(num));
      }
    }
    if (const auto* tt = r.table(*t, "templates", "notify")) {
      // Keys are "<lang>.<format>.title" and so on: quoted, or as TOML dotted keys (nested
      // tables), which are flattened back here.
      std::vector<std::pair<std::string, const toml::node*>> leaves;
      std::function<void(const toml::table&, const std::string&)> walk =
          [&](const toml::table& tab, const std::string& prefix) {
            for (auto&& [k, v] : tab) {
              std::string key = prefix.empty() ? std::string(k.str())
                                               : fmt::format("{}.{}", prefix, k.str());
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
            notifier::Templates one(std::map<std::string, std::string>{{key, node->as_string()->get()}});
          } catch (const std::exception& e1) {
            r.fail(node, fmt::format("notify.templates.{}", key), e1.what());
          }
        }
        r.fail(tt, "notify.templates", e.what());
      }
    }
    if (const auto* rl = r.table(*t, "rate_limits", "notify")) {
      for (auto&& [k, v] : *rl) {
        std::string key = fmt::format("notify.rate_limits.{}", k.str());
        auto kind = subscribers::channelKindFromName(k.str());
        if (!kind) r.fail(&v, key, "unknown channel kind");
        if (!v.is_table()) r.fail(&v, key, "expected a table");
        const auto& lt = *v.as_table();
        r.onlyKeys(lt, key, {"per_minute", "per_second"});
        auto& limit = n.delivery.rate_limits[*kind];
        limit.per_minute =
            static_cast<int>(r.integer(lt, key, "per_minute", limit.per_minute, 0, 1000000));
        limit.per_second =
            static_cast<int>(r.integer(lt, key, "per_second", limit.per_second, 0, 1000000));
      }
    }
  }
  if (const auto* t = r.table(root, "run")) {
    r.onlyKeys(*t, "run",
               {"interfaces", "snaplen", "buffer_bytes", "promisc", "immediate", "timeout_ms",
                "filter", "user", "group", "subscribers", "redis", "redis_password_ref",
                "http_bind", "http_port", "http_token_ref", "log_format", "log_level",
                "log_mask_numbers", "workers",
                "ring_size", "shutdown_timeout_ms"});
    auto& run = cfg.run;
    if (const auto* a = r.array(*t, "run", "interfaces")) {
      run.interfaces.clear();
      for (const auto& e : *a) {
        if (!e.is_string() || e.as_string()->get().empty()) {
          r.fail(&e, "run.interfaces", "expected interface names");
        }
        run.interfaces.push_back(e.as_string()->get());
      }
    }
    run.snaplen = static_cast<int>(r.integer(*t, "run", "snaplen", run.snaplen, 65535, 262144));
    run.buffer_bytes =
        r.integer(*t, "run", "buffer_bytes", run.buffer_bytes, 1 << 20, 1 << 30);  // an int in pcap
    run.promisc = r.boolean(*t, "run", "promisc", run.promisc);
    run.immediate = r.boolean(*t, "run", "immediate", run.immediate);
    run.timeout_ms = static_cast<int>(r.integer(*t, "run", "timeout_ms", run.timeout_ms, 1, 1000));
    r.string(*t, "run", "filter", run.filter);
    r.string(*t, "run", "user", run.user);
    r.string(*t, "run", "group", run.group);
    r.string(*t, "run", "subscribers", run.subscribers);
    r.string(*t, "run", "redis", run.redis);
    if (!run.redis.empty()) {
      try {
        (void)subscribers::parseRedisUrl(run.redis);
      } catch (const std::exception& e) {
        r.fail(t->get("redis"), "run.redis", e.what());
      }
    }
    r.secretRef(*t, "run", "redis_password_ref", run.redis_password_ref);
    if (!run.redis.empty() && !run.subscribers.empty()) {
      r.fail(t->get("redis"), "run.redis", "set either run.subscribers or run.redis, not both");
    }
    r.string(*t, "run", "http_bind", run.http_bind);
    if (run.http_bind.empty()) r.fail(t->get("http_bind"), "run.http_bind", "expected an address");
    run.http_port = static_cast<int>(r.integer(*t, "run", "http_port", run.http_port, 0, 65535));
    r.secretRef(*t, "run", "http_token_ref", run.http_token_ref);
    r.string(*t, "run", "log_format", run.log_format);
    if (run.log_format != "human" && run.log_format != "json") {
      r.fail(t->get("log_format"), "run.log_format", "expected \"human\" or \"json\"");
    }
    r.string(*t, "run", "log_level", run.log_level);
    run.log_mask_numbers = r.boolean(*t, "run", "log_mask_numbers", run.log_mask_numbers);
    if (run.log_level != "trace" && run.log_level != "debug" && run.log_level != "info" &&
        run.log_level != "warn" && run.log_level != "error") {
      r.fail(t->get("log_level"), "run.log_level", "expected trace, debug, info, warn or error");
    }
    run.workers = static_cast<int>(r.integer(*t, "run", "workers", run.workers, 1, 64));
    run.ring_size = static_cast<int>(r.integer(*t, "run", "ring_size", run.ring_size, 16, 1 << 24));
    run.shutdown_timeout_ms =
        r.integer(*t, "run", "shutdown_timeout_ms", run.shutdown_timeout_ms, 0, 3600000);
  }
  if (const auto* t = r.table(root, "streams")) {
    r.onlyKeys(*t, "streams",
               {"redis", "password_ref", "prefix", "group", "consumer", "maxlen", "dedupe_ttl_s",
                "claim_idle_ms", "buffer_max", "max_deliveries", "batch", "connect_timeout_ms",
                "backoff_max_ms", "max_in_flight"});
    auto& st = cfg.streams;
    auto& sc = st.stream;
    r.string(*t, "streams", "redis", st.redis);
    if (!st.redis.empty()) {
      try {
        (void)subscribers::parseRedisUrl(st.redis);
      } catch (const std::exception& e) {
        r.fail(t->get("redis"), "streams.redis", e.what());
      }
    }
    r.secretRef(*t, "streams", "password_ref", st.password_ref);
    // Names end up inside Redis keys and commands: no spaces or control bytes, no empty names.
    auto name = [&](std::string_view key, std::string& out) {
      r.string(*t, "streams", key, out);
      bool ok = !out.empty() && out.size() <= 64;
      for (char c : out) ok = ok && static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
      if (t->get(key) != nullptr && !ok) {
        r.fail(t->get(key), fmt::format("streams.{}", key),
               "expected 1 to 64 printable characters without spaces");
      }
    };
    name("prefix", sc.prefix);
    name("group", sc.group);
    name("consumer", sc.consumer);
    sc.maxlen = static_cast<size_t>(
        r.integer(*t, "streams", "maxlen", static_cast<int64_t>(sc.maxlen), 1000, 1'000'000'000));
    sc.dedupe_ttl_s = r.integer(*t, "streams", "dedupe_ttl_s", sc.dedupe_ttl_s, 60, 30 * 86400);
    sc.claim_idle_ms = r.integer(*t, "streams", "claim_idle_ms", sc.claim_idle_ms, 100, 86400000);
    sc.buffer_max = static_cast<size_t>(
        r.integer(*t, "streams", "buffer_max", static_cast<int64_t>(sc.buffer_max), 1, 10'000'000));
    sc.max_deliveries =
        static_cast<int>(r.integer(*t, "streams", "max_deliveries", sc.max_deliveries, 1, 1000));
    sc.batch = static_cast<int>(r.integer(*t, "streams", "batch", sc.batch, 1, 10000));
    sc.max_in_flight = static_cast<size_t>(r.integer(
        *t, "streams", "max_in_flight", static_cast<int64_t>(sc.max_in_flight), 1, 1'000'000));
    sc.connect_timeout_ms = static_cast<int>(
        r.integer(*t, "streams", "connect_timeout_ms", sc.connect_timeout_ms, 10, 60000));
    sc.backoff_max_ms = r.integer(*t, "streams", "backoff_max_ms", sc.backoff_max_ms, 100, 600000);
  }
  return cfg;
}

}  // namespace

Config defaultConfig() {
  Config cfg;
  cfg.source = "(built-in defaults)";
  // Mirror copies of one packet are microseconds apart, SIP retransmissions >= 500 ms (T1):
  // capture/src/frame_dedup.h. The library leaves it off so a bare decoder is stateless here.
  cfg.decoder.dedup_window_ms = 5;
  return cfg;
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
