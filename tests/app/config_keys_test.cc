// Every key of the configuration (app/src/config.cc, deploy/mcn.toml), each with a wrong type and
// a bad value: the error names file:line:col of the offending value and the dotted key, and both
// commands that read a config (`mcn replay --config`, `mcn run --config`) exit with code 2 and
// print it. Expected texts are written by hand from the rules in config.cc (ranges, messages);
// columns are counted by hand: "key = value" puts the value at column len(key) + 4.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mcn/app/config.h"

namespace mcn::app {
namespace {

struct Case {
  std::string text;      // the whole file
  std::string expected;  // the error after "<file>:"; a prefix when `prefix` is set
  bool prefix = false;
};

// "[section]\nkey = value\n": the value sits on line 2 at column key.size() + 4.
Case kv(const std::string& section, const std::string& key, const std::string& value,
        const std::string& message, int col_offset = 0) {
  return {"[" + section + "]\n" + key + " = " + value + "\n",
          "2:" + std::to_string(key.size() + 4 + col_offset) + ": " + section + "." + key + ": " +
              message};
}

std::string between(int64_t lo, int64_t hi) {
  return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
}

const std::string kInt = "expected an integer";
const std::string kBool = "expected true or false";
const std::string kStr = "expected a string";
const std::string kArr = "expected an array";
const std::string kPorts = "expected port numbers 1..65535";
const std::string kDigits = "expected a string of digits";
const std::string kRef = "expected a reference env:NAME or file:/path (never the secret itself)";
constexpr int64_t kDay = 86400000;
constexpr int64_t kHour = 3600000;

std::vector<Case> cases() {
  std::vector<Case> v = {
      // Top level: unknown tables and tables that are not tables.
      {"[captrue]\n", "1:1: captrue: unknown key"},
      {"capture = 5\n", "1:11: capture: expected a table"},
      {"dial_plan = \"86\"\n", "1:13: dial_plan: expected a table"},
      {"calls = []\n", "1:9: calls: expected a table"},
      {"notify = true\n", "1:10: notify: expected a table"},
      {"run = 1\n", "1:7: run: expected a table"},
      // [capture]
      kv("capture", "sip_portz", "[5060]", "unknown key"),
      kv("capture", "sip_ports", "5060", kArr),
      kv("capture", "sip_ports", "[0]", kPorts, 1),
      kv("capture", "sip_ports", "[\"5060\"]", kPorts, 1),
      kv("capture", "max_vlan_depth", "\"2\"", kInt),
      kv("capture", "max_vlan_depth", "9", between(0, 8)),
      kv("capture", "prefilter", "1", kBool),
      kv("capture", "prefilter", "\"yes\"", kBool),
      kv("capture", "dedup_window_ms", "true", kInt),
      kv("capture", "dedup_window_ms", "1001", between(0, 1000)),
      kv("capture", "ip_frag_timeout_ms", "1.5", kInt),
      kv("capture", "ip_frag_timeout_ms", "0", between(1, 120000)),
      kv("capture", "ip_frag_max_datagrams", "\"8192\"", kInt),
      kv("capture", "ip_frag_max_datagrams", "1000001", between(1, 1000000)),
      kv("capture", "ip_frag_max_bytes", "[]", kInt),
      kv("capture", "ip_frag_max_bytes", "65535", between(65536, 17179869184)),
      kv("capture", "vxlan_ports", "4789", kArr),
      kv("capture", "vxlan_ports", "[4789, 65536]", kPorts, 7),
      kv("capture", "gtpu_ports", "2152", kArr),
      kv("capture", "gtpu_ports", "[2152, 0]", kPorts, 7),
      kv("capture", "esp_null_heuristic", "\"yes\"", kBool),
      kv("capture", "esp_null", "{spi = 4660, icv = 12}", kArr),
      kv("capture", "esp_null", "[4660]", "expected tables {spi = ..., icv = ...}", 1),
      {"[capture]\nesp_null = [{icv = 12}]\n", "2:13: capture.esp_null.spi: missing"},
      {"[capture]\nesp_null = [{spi = 0, icv = 12}]\n",
       "2:20: capture.esp_null.spi: must be between 1 and 4294967295"},
      {"[capture]\nesp_null = [{spi = 4294967296}]\n",
       "2:20: capture.esp_null.spi: must be between 1 and 4294967295"},
      {"[capture]\nesp_null = [{spi = \"0x1234\"}]\n",
       "2:20: capture.esp_null.spi: expected an integer"},
      {"[capture]\nesp_null = [{spi = 4660, icv = 65}]\n",
       "2:32: capture.esp_null.icv: must be between 0 and 64"},
      {"[capture]\nesp_null = [{spi = 4660, icv = 12.0}]\n",
       "2:32: capture.esp_null.icv: expected an integer"},
      {"[capture]\nesp_null = [{spi = 4660, icv = 12, mode = 1}]\n",
       "2:43: capture.esp_null.mode: unknown key"},
      kv("capture", "tcp_max_streams", "\"many\"", kInt),
      kv("capture", "tcp_max_streams", "0", between(1, 10000000)),
      kv("capture", "tcp_max_stream_bytes", "false", kInt),
      kv("capture", "tcp_max_stream_bytes", "1023", between(1024, 16777216)),
      kv("capture", "tcp_max_total_bytes", "6.4e7", kInt),
      kv("capture", "tcp_max_total_bytes", "17179869185", between(65536, 17179869184)),
      kv("capture", "tcp_idle_timeout_ms", "\"60s\"", kInt),
      kv("capture", "tcp_idle_timeout_ms", "999", between(1000, kHour)),
      kv("capture", "tcp_gap_timeout_ms", "{}", kInt),
      kv("capture", "tcp_gap_timeout_ms", "60001", between(1, 60000)),
      kv("capture", "sctp_frag_timeout_ms", "\"30s\"", kInt),
      kv("capture", "sctp_frag_timeout_ms", "120001", between(1, 120000)),
      kv("capture", "sctp_max_message_bytes", "2.5e5", kInt),
      kv("capture", "sctp_max_message_bytes", "1023", between(1024, 16777216)),
      kv("capture", "sctp_max_messages_per_assoc", "[]", kInt),
      kv("capture", "sctp_max_messages_per_assoc", "0", between(1, 1000000)),
      kv("capture", "sctp_max_messages", "true", kInt),
      kv("capture", "sctp_max_messages", "1000001", between(1, 1000000)),
      kv("capture", "sctp_max_bytes", "\"16M\"", kInt),
      kv("capture", "sctp_max_bytes", "65535", between(65536, 17179869184)),
      // [dial_plan]
      kv("dial_plan", "countrycode", "\"86\"", "unknown key"),
      kv("dial_plan", "country_code", "86", kStr),
      kv("dial_plan", "country_code", "\"+86\"", kDigits),
      kv("dial_plan", "national_prefix", "0", kStr),
      kv("dial_plan", "national_prefix", "\"O\"", kDigits),
      kv("dial_plan", "international_prefix", "[\"00\"]", kStr),
      kv("dial_plan", "international_prefix", "\"00 \"", kDigits),
      kv("dial_plan", "area_code", "25", kStr),
      kv("dial_plan", "area_code", "\"2a\"", kDigits),
      kv("dial_plan", "local_number_length", "\"8\"", kInt),
      kv("dial_plan", "local_number_length", "16", between(0, 15)),
      kv("dial_plan", "rewrite", "\"^1$\"", "expected [[dial_plan.rewrite]] tables"),
      {"[[dial_plan.rewrite]]\nmatch = 5\nreplace = \"x\"\n",
       "2:9: dial_plan.rewrite.match: expected a string"},
      {"[[dial_plan.rewrite]]\nmatch = \"^1$\"\nreplace = 1\n",
       "3:11: dial_plan.rewrite.replace: expected a string"},
      {"[[dial_plan.rewrite]]\nmatch = \"^1$\"\nreplce = \"x\"\n",
       "3:10: dial_plan.rewrite.replce: unknown key"},
      {"[[dial_plan.rewrite]]\nmatch = \"(1\"\nreplace = \"x\"\n",
       "2:9: dial_plan.rewrite.match: not a regular expression", true},
      // [calls]
      kv("calls", "grace", "5", "unknown key"),
      kv("calls", "grace_ms", "\"2s\"", kInt),
      kv("calls", "grace_ms", "-1", between(0, kDay)),
      kv("calls", "grace_after_3xx_ms", "8.0", kInt),
      kv("calls", "grace_after_3xx_ms", "86400001", between(0, kDay)),
      kv("calls", "auth_retry_ms", "\"32s\"", kInt),
      kv("calls", "auth_retry_ms", "-1", between(0, kDay)),
      kv("calls", "ring_timeout_ms", "true", kInt),
      kv("calls", "ring_timeout_ms", "999", between(1000, kDay)),
      kv("calls", "linger_ms", "\"32s\"", kInt),
      kv("calls", "linger_ms", "-1", between(0, kDay)),
      kv("calls", "min_ring_ms_cancelled", "true", kInt),
      kv("calls", "min_ring_ms_cancelled", "86400001", between(0, kDay)),
      kv("calls", "missed_outcomes", "\"busy\"", kArr),
      kv("calls", "missed_outcomes", "[\"missed\"]", "expected outcome names such as \"busy\"", 1),
      kv("calls", "missed_outcomes", "[4]", "expected outcome names such as \"busy\"", 1),
      kv("calls", "forwarded_unconditional_missed", "\"false\"", kBool),
      kv("calls", "forwarded_unconditional_missed", "0", kBool),
      kv("calls", "leg_join", "\"true\"", kBool),
      kv("calls", "leg_join_window_ms", "\"2s\"", kInt),
      kv("calls", "leg_join_window_ms", "60001", between(0, 60000)),
      kv("calls", "correlation_header", "1", kStr),
      kv("calls", "correlation_header", "\"X CID\"",
         "expected a header name (letters, digits, -.!%*_+`'~)"),
      kv("calls", "correlation_header", "\"X-CID:\"",
         "expected a header name (letters, digits, -.!%*_+`'~)"),
      kv("calls", "max_calls", "\"200k\"", kInt),
      kv("calls", "max_calls", "0", between(1, 100000000)),
      kv("calls", "voicemail", "\"sip:voicemail@vm.example\"", kArr),
      kv("calls", "voicemail", "[9999]", "expected strings", 1),
      kv("calls", "voicemail", "[\"voicemail\"]",
         "expected a sip:user@host URI or a telephone number", 1),
      kv("calls", "voicemail", "[\"sip:vm.example\"]",
         "expected a sip:user@host URI or a telephone number", 1),
      kv("calls", "voicemail", "[\"+8625830099999\", \"mailto:vm@vm.example\"]",
         "expected a sip:user@host URI or a telephone number", 19),
      kv("calls", "groups", "\"2000\"", kArr),
      kv("calls", "groups", "[2000]", "expected tables {number, members, notify}", 1),
      {"[calls]\ngroups = [{members = [\"1013\"]}]\n", "2:11: calls.groups.number: missing"},
      {"[calls]\ngroups = [{number = \"2000\", members = [\"1013\"], notify = \"boss\"}]\n",
       "2:58: calls.groups.notify: expected members, owner or all"},
      {"[calls]\ngroups = [{number = \"2000\", members = [\"desk\"]}]\n",
       "2:40: calls.groups.members: not a telephone number"},
      {"[calls]\ngroups = [{number = \"2000\", membres = [\"1013\"]}]\n",
       "2:39: calls.groups.membres: unknown key"},
      // [notify]
      kv("notify", "deadletter", "\"x\"", "unknown key"),
      kv("notify", "dead_letter", "1", kStr),
      kv("notify", "dead_letter", "\"\"", "expected a file path"),
      kv("notify", "outbox_path", "1", kStr),
      kv("notify", "outbox_fsync_ms", "\"100ms\"", kInt),
      kv("notify", "outbox_fsync_ms", "60001", between(0, 60000)),
      kv("notify", "voicemail_numbers", "\"9999\"", kArr),
      kv("notify", "voicemail_numbers", "[9999]", "expected strings", 1),
      kv("notify", "voicemail_numbers", "[\"voicemail\"]", "not a telephone number", 1),
      kv("notify", "finish_timeout_ms", "\"30s\"", kInt),
      kv("notify", "finish_timeout_ms", "3600001", between(0, kHour)),
      kv("notify", "max_attempts", "\"8\"", kInt),
      kv("notify", "max_attempts", "0", between(1, 100)),
      kv("notify", "max_attempts", "101", between(1, 100)),
      kv("notify", "backoff_base_ms", "true", kInt),
      kv("notify", "backoff_base_ms", "0", between(1, kHour)),
      kv("notify", "backoff_cap_ms", "[]", kInt),
      kv("notify", "backoff_cap_ms", "86400001", between(1, 24 * kHour)),
      {"[notify]\nbackoff_base_ms = 5000\nbackoff_cap_ms = 1000\n",
       "3:18: notify.backoff_cap_ms: backoff_cap_ms must be at least backoff_base_ms"},
      {"[notify]\nbackoff_base_ms = 400000\n",  // above the default cap of 300000
       "2:19: notify.backoff_base_ms: backoff_cap_ms must be at least backoff_base_ms"},
      kv("notify", "connect_timeout_ms", "\"5s\"", kInt),
      kv("notify", "connect_timeout_ms", "99", between(100, kHour)),
      kv("notify", "total_timeout_ms", "2e4", kInt),
      kv("notify", "total_timeout_ms", "3600001", between(100, kHour)),
      kv("notify", "max_queue", "\"10000\"", kInt),
      kv("notify", "max_queue", "0", between(1, 10000000)),
      kv("notify", "max_open_windows", "false", kInt),
      kv("notify", "max_open_windows", "10000001", between(1, 10000000)),
      kv("notify", "max_calls_per_window", "\"50\"", kInt),
      kv("notify", "max_calls_per_window", "10001", between(1, 10000)),
      kv("notify", "templates", "\"zh\"", "expected a table"),
      {"[notify.templates]\n\"en.plain.title\" = 5\n",
       "2:20: notify.templates.en.plain.title: expected a string"},
      {"[notify.templates]\nen.plain.title = false\n",
       "2:18: notify.templates.en.plain.title: expected a string"},
      {"[notify.templates]\n\"en.plain.title\" = \"ok\"\nfoo = \"x\"\n",
       "3:7: notify.templates.foo: unknown template key \"foo\"", true},
      {"[notify.templates]\nen.plain.body = \"{nobody}\"\n",
       "2:17: notify.templates.en.plain.body: template \"en.plain.body\": unknown placeholder",
       true},
      {"[notify.templates]\nsms_max_chars = \"-3\"\n",
       "2:17: notify.templates.sms_max_chars: template key \"sms_max_chars\": not a positive "
       "integer",
       true},
      kv("notify", "rate_limits", "5", "expected a table"),
      {"[notify.rate_limits]\nfax = { per_minute = 1 }\n",
       "2:7: notify.rate_limits.fax: unknown channel kind"},
      {"[notify.rate_limits]\nwecom = 20\n", "2:9: notify.rate_limits.wecom: expected a table"},
      {"[notify.rate_limits.wecom]\nper_hour = 5\n",
       "2:12: notify.rate_limits.wecom.per_hour: unknown key"},
      {"[notify.rate_limits.wecom]\nper_minute = \"20\"\n",
       "2:14: notify.rate_limits.wecom.per_minute: expected an integer"},
      {"[notify.rate_limits.feishu]\nper_minute = -1\n",
       "2:14: notify.rate_limits.feishu.per_minute: " + between(0, 1000000)},
      {"[notify.rate_limits.feishu]\nper_second = 1.5\n",
       "2:14: notify.rate_limits.feishu.per_second: expected an integer"},
      {"[notify.rate_limits.dingtalk]\nper_second = 1000001\n",
       "2:14: notify.rate_limits.dingtalk.per_second: " + between(0, 1000000)},
      // [run]
      kv("run", "interface", "\"eth1\"", "unknown key"),
      kv("run", "interfaces", "\"eth1\"", kArr),
      kv("run", "interfaces", "[\"\"]", "expected interface names", 1),
      kv("run", "interfaces", "[\"eth1\", 2]", "expected interface names", 9),
      kv("run", "snaplen", "\"64k\"", kInt),
      kv("run", "snaplen", "1500", between(65535, 262144)),
      kv("run", "buffer_bytes", "6.7e7", kInt),
      kv("run", "buffer_bytes", "1073741825", between(1048576, 1073741824)),
      kv("run", "promisc", "\"yes\"", kBool),
      kv("run", "promisc", "1", kBool),
      kv("run", "immediate", "0", kBool),
      kv("run", "immediate", "\"true\"", kBool),
      kv("run", "timeout_ms", "\"10\"", kInt),
      kv("run", "timeout_ms", "0", between(1, 1000)),
      kv("run", "filter", "5", kStr),
      kv("run", "user", "0", kStr),
      kv("run", "group", "[]", kStr),
      kv("run", "subscribers", "1", kStr),
      kv("run", "redis", "true", kStr),
      {"[run]\nredis = \"http://127.0.0.1\"\n", "2:9: run.redis: ", true},
      {"[run]\nsubscribers = \"people.toml\"\nredis = \"redis://127.0.0.1\"\n",
       "3:9: run.redis: set either run.subscribers or run.redis, not both"},
      kv("run", "redis_password_ref", "1", kStr),
      kv("run", "redis_password_ref", "\"hunter2\"", kRef),
      kv("run", "redis_password_ref", "\"env:\"", kRef),
      kv("run", "http_bind", "127", kStr),
      kv("run", "http_bind", "\"\"", "expected an address"),
      kv("run", "http_port", "\"9187\"", kInt),
      kv("run", "http_port", "65536", between(0, 65535)),
      kv("run", "http_token_ref", "[]", kStr),
      kv("run", "http_token_ref", "\"s3cr3t-t0ken\"", kRef),
      kv("run", "http_token_ref", "\"file:relative/path\"", kRef),
      kv("run", "log_format", "1", kStr),
      kv("run", "log_format", "\"xml\"", "expected \"human\" or \"json\""),
      kv("run", "log_level", "2", kStr),
      kv("run", "log_level", "\"verbose\"", "expected trace, debug, info, warn or error"),
      kv("run", "log_mask_numbers", "\"yes\"", kBool),
      kv("run", "log_mask_numbers", "1", kBool),
      kv("run", "workers", "\"2\"", kInt),
      kv("run", "workers", "0", between(1, 64)),
      kv("run", "workers", "65", between(1, 64)),
      kv("run", "ring_size", "1e5", kInt),
      kv("run", "ring_size", "15", between(16, 16777216)),
      kv("run", "shutdown_timeout_ms", "\"10s\"", kInt),
      kv("run", "shutdown_timeout_ms", "-1", between(0, kHour)),
      kv("run", "ladder_messages", "\"many\"", kInt),
      kv("run", "ladder_messages", "-1", between(0, 10000000)),
      kv("run", "ladder_bytes", "1.5", kInt),
      kv("run", "ladder_bytes", "-1", between(0, 17179869184)),
      // [hep]
      {"hep = 1\n", "1:7: hep: expected a table"},
      kv("hep", "listener", "[]", "unknown key"),
      kv("hep", "listeners", "\"127.0.0.1:9060\"", kArr),
      kv("hep", "listeners", "[9060]", "expected \"ADDR:PORT\" strings", 1),
      kv("hep", "listeners", "[\"localhost:9060\"]", "not a numeric address: localhost", 1),
      kv("hep", "listeners", "[\"::1:9060\"]",
         "an IPv6 address needs brackets: [ADDR]:PORT in ::1:9060", 1),
      kv("hep", "listeners", "[\"127.0.0.1:99999\"]", "bad port in 127.0.0.1:99999", 1),
      kv("hep", "ports", "9060", kArr),
      kv("hep", "ports", "[0]", kPorts, 1),
      kv("hep", "auth_key_ref", "1", kStr),
      kv("hep", "auth_key_ref", "\"hep-s3cret\"", kRef),
      kv("hep", "max_payload_bytes", "\"64k\"", kInt),
      kv("hep", "max_payload_bytes", "100", between(1024, 1048576)),
      kv("hep", "max_connections", "0", between(1, 4096)),
      kv("hep", "max_tcp_streams", "0", between(1, 1000000)),
      // [sipua], [callback]
      kv("sipua", "enabled", "\"yes\"", kBool),
      kv("sipua", "listen", "\"127.0.0.1:5070\"",
         "expected a sip: or sips: URI without spaces or <>"),
      kv("sipua", "outbound_proxy", "\"sip:<10.0.0.5>\"",
         "expected a sip: or sips: URI without spaces or <>"),
      kv("sipua", "identity", "\"\"", "expected a sip: or sips: URI without spaces or <>"),
      kv("sipua", "register_expires_s", "10", between(60, 86400)),
      kv("sipua", "auth_password_ref", "\"pa55word\"", kRef),
      kv("sipua", "marker_header", "\"Subject\"",
         "expected a header name starting with X- (token characters)"),
      kv("sipua", "marker_header", "\"X-A B\"",
         "expected a header name starting with X- (token characters)"),
      kv("sipua", "ring_timeout_ms", "500", between(1000, 300000)),
      kv("sipua", "max_active", "0", between(1, 10000)),
      {"[sipua]\nauth_user = \"mcn\"\n",
       "2:13: sipua.auth_user: set sipua.auth_password_ref too (env:NAME or file:/path)"},
      kv("callback", "link_key_ref", "\"0123456789abcdef0123\"", kRef),
      kv("callback", "link_base_url", "\"mcn.example/\"", "expected an http:// or https:// URL"),
      kv("callback", "link_ttl_ms", "1000", between(60000, 30 * 24 * kHour)),
      kv("callback", "per_person_per_hour", "-1", between(0, 10000)),
      // [web]
      kv("web", "enabled", "1", kBool),
      kv("web", "base_url", "\"mcn.example/\"", "expected an http:// or https:// URL"),
      kv("web", "signin_key_ref", "\"0123456789abcdef0123\"", kRef),
      kv("web", "signin_link_ttl_ms", "1000", between(60000, 24 * kHour)),
      kv("web", "signin_per_person_per_hour", "0", between(1, 1000)),
      kv("web", "session_ttl_ms", "0", between(60000, 30 * 24 * kHour)),
      kv("web", "max_sessions", "0", between(1, 1000000)),
      kv("web", "operator_token_ref", "\"0123456789abcdef0123\"", kRef),
      {"[web]\nenabled = true\n", "2:11: web.enabled: set web.base_url and web.signin_key_ref too"},
      kv("web", "ldap_url", "\"http://dir.example/\"",
         "expected ldaps://host:port (or ldap://host:port, which then requires StartTLS)"),
      kv("web", "ldap_bind_password_ref", "\"s3cret-in-the-file\"", kRef),
      kv("web", "ldap_timeout_ms", "50", between(100, 60000)),
      kv("web", "ldap_person_attribute", "7", kStr),
      {"[web]\nldap_url = \"ldaps://dir.example:636\"\n",
       "2:12: web.ldap_url: set either web.ldap_user_dn (a DN template) or web.ldap_base "
       "(search-then-bind), not both"},
      {"[web]\nldap_url = \"ldaps://dir.example:636\"\nldap_user_dn = \"uid=x,dc=example\"\n",
       "3:16: web.ldap_user_dn: the DN template needs {user}"},
      {"[web]\nldap_url = \"ldap://dir.example\"\nldap_base = \"dc=example\"\n"
       "ldap_filter = \"uid={user}\"\n",
       "4:15: web.ldap_filter: expected a filter in parentheses with {user}, e.g. (uid={user})"},
      {"[web]\nldap_url = \"ldaps://dir.example\"\nldap_base = \"dc=example\"\n"
       "ldap_bind_dn = \"cn=reader,dc=example\"\n",
       "4:16: web.ldap_bind_dn: set web.ldap_bind_dn and web.ldap_bind_password_ref together"},
      // Syntax errors name the line too.
      {"[calls]\ngrace_ms = = 3\n", "2:", true},
      {"[run]\nworkers = 1\nworkers = 2\n", "3:", true},
  };
  return v;
}

bool matches(const std::string& got, const std::string& want, bool prefix) {
  return prefix ? got.rfind(want, 0) == 0 : got == want;
}

TEST(ConfigKeys, EveryBadKeyNamesFileLineColumnAndKey) {
  auto all = cases();
  EXPECT_GE(all.size(), 150u);
  for (const auto& c : all) {
    std::string got;
    try {
      loadConfigText(c.text, "mcn.toml");
    } catch (const ConfigError& e) {
      got = e.what();
    }
    EXPECT_TRUE(matches(got, "mcn.toml:" + c.expected, c.prefix))
        << "config:\n"
        << c.text << "want: mcn.toml:" << c.expected << "\ngot:  " << got;
  }
}

// calls.voicemail: a sip URI becomes lower-case user@host (parameters and port dropped), a number
// is normalised by the dial plan, so the tracker compares them with what the parser gives.
TEST(ConfigKeys, VoicemailIdentitiesAreNormalised) {
  Config c = loadConfigText(
      "[dial_plan]\ncountry_code = \"86\"\nnational_prefix = \"0\"\n"
      "[calls]\nvoicemail = [\"sip:VoiceMail@VM.Example:5060;transport=tcp\", \"025-8300-9999\"]\n",
      "mcn.toml");
  EXPECT_EQ(c.tracker.voicemail,
            (std::vector<std::string>{"voicemail@vm.example", "+862583009999"}));
}

// calls.groups: numbers normalised by the dial plan (the tracker compares them with the
// parser's), notify defaults to the members.
TEST(ConfigKeys, GroupsAreReadWithNormalisedNumbers) {
  Config c = loadConfigText(
      "[dial_plan]\ncountry_code = \"86\"\nnational_prefix = \"0\"\n"
      "[calls]\ngroups = [{number = \"025-8300-2000\", members = [\"02583001013\", "
      "\"+862583001014\"], notify = \"owner\"}, {number = \"02583002100\", members = "
      "[\"02583001015\"]}]\n",
      "mcn.toml");
  ASSERT_EQ(c.tracker.groups.size(), 2u);
  EXPECT_EQ(c.tracker.groups[0].number, "+862583002000");
  EXPECT_EQ(c.tracker.groups[0].members,
            (std::vector<std::string>{"+862583001013", "+862583001014"}));
  EXPECT_EQ(c.tracker.groups[0].notify, calls::GroupConfig::Notify::kOwner);
  EXPECT_EQ(c.tracker.groups[1].number, "+862583002100");
  EXPECT_EQ(c.tracker.groups[1].notify, calls::GroupConfig::Notify::kMembers);
}

// calls.leg_join (on by default) and its window reach the tracker.
TEST(ConfigKeys, LegJoinCanBeSwitchedOffAndItsWindowSet) {
  EXPECT_TRUE(loadConfigText("", "mcn.toml").tracker.leg_join);
  Config c = loadConfigText("[calls]\nleg_join = false\nleg_join_window_ms = 500\n", "mcn.toml");
  EXPECT_FALSE(c.tracker.leg_join);
  EXPECT_EQ(c.tracker.leg_join_window_ms, 500);
}

TEST(ConfigKeys, SecretsAreNeverEchoed) {
  for (const std::string text :
       {"[run]\nredis_password_ref = \"hunter2\"\n", "[run]\nhttp_token_ref = \"s3cr3t-t0ken\"\n",
        "[hep]\nauth_key_ref = \"s3cr3t-hep-key\"\n",
        "[sipua]\nauth_password_ref = \"s3cr3t-sip\"\n",
        "[callback]\nlink_key_ref = \"s3cr3t-link-key-123\"\n",
        "[web]\nsignin_key_ref = \"s3cr3t-signin-key-123\"\n",
        "[web]\noperator_token_ref = \"s3cr3t-operator-token\"\n"}) {
    try {
      loadConfigText(text, "mcn.toml");
      FAIL() << text;
    } catch (const ConfigError& e) {
      std::string what = e.what();
      EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
      EXPECT_EQ(what.find("s3cr3t"), std::string::npos) << what;
    }
  }
}

TEST(ConfigKeys, HepTable) {
  Config c = loadConfigText(
      "[hep]\nlisteners = [\"127.0.0.1:9061\", \"[::1]\"]\nports = [9060, 9063]\n"
      "auth_key_ref = \"env:MCN_TEST_HEP_KEY\"\nmax_payload_bytes = 2048\n",
      "mcn.toml");
  EXPECT_EQ(c.hep.listeners, (std::vector<std::string>{"127.0.0.1:9061", "[::1]"}));
  EXPECT_EQ(c.decoder.hep.ports, (std::vector<uint16_t>{9060, 9063}));
  EXPECT_EQ(c.decoder.hep.max_payload_bytes, 2048u);
  EXPECT_TRUE(c.decoder.hep.auth_key.empty());  // resolved at start, not by the loader
  ::setenv("MCN_TEST_HEP_KEY", "k-123", 1);
  resolveHepAuthKey(c);
  EXPECT_EQ(c.decoder.hep.auth_key, "k-123");
  ::setenv("MCN_TEST_HEP_KEY", "", 1);
  try {
    resolveHepAuthKey(c);
    FAIL() << "an empty key must not start a listener that checks nothing";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("hep.auth_key_ref"), std::string::npos) << e.what();
  }
  ::unsetenv("MCN_TEST_HEP_KEY");
}

TEST(ConfigKeys, DottedTemplateKeysAreAccepted) {
  Config c = loadConfigText(
      "[notify.templates]\nen.plain.title = \"Missed: {count}\"\n\"zh.word.busy\" = \"忙\"\n",
      "mcn.toml");
  EXPECT_EQ(c.notify.template_overrides.at("en.plain.title"), "Missed: {count}");
  EXPECT_EQ(c.notify.template_overrides.at("zh.word.busy"), "忙");
}

// The binary: both commands print "mcn: <file>:<line>:<col>: <key>: <message>" and exit 2.
int runMcn(const std::string& args, std::string& out) {
  std::string cmd = std::string(MCN_BINARY_DIR) + "/mcn " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(ConfigKeys, ReplayAndRunExitTwoWithTheMessage) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("mcn-config-keys-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string pcap = std::string(MCN_SOURCE_DIR) + "/pcaps/busy_486.pcap";
  auto all = cases();
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& c = all[i];
    std::string path = (dir / ("c" + std::to_string(i) + ".toml")).string();
    std::ofstream(path) << c.text;
    // Every case through replay; every third through run as well (same loader, slower start).
    std::vector<std::string> commands = {"replay -q --config " + path + " " + pcap};
    if (i % 3 == 0) commands.push_back("run --http-port 0 -i lo --config " + path);
    for (const auto& cmd : commands) {
      std::string out;
      int rc = runMcn(cmd, out);
      if (!out.empty() && out.back() == '\n') out.pop_back();  // one line, nothing else
      EXPECT_EQ(rc, 2) << cmd << "\n" << out;
      std::string want = "mcn: " + path + ":" + c.expected;
      EXPECT_TRUE(matches(out, want, c.prefix)) << cmd << "\nwant: " << want << "\ngot:  " << out;
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mcn::app
