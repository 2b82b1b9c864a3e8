// [streams] (scale-out over Redis Streams): every key with a wrong type or a bad value is an
// error naming file:line:col and the dotted key; the password is a reference, never echoed;
// resolveStreamConfig() falls back to [run] redis. Columns counted by hand: "key = value" puts
// the value at column len(key) + 4.

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "../../app/src/roles.h"
#include "mcn/app/config.h"

namespace mcn::app {
namespace {

std::string errorOf(const std::string& text) {
  try {
    loadConfigText(text, "mcn.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(StreamsConfig, DefaultsAndValues) {
  Config d = defaultConfig();
  EXPECT_EQ(d.streams.stream.prefix, "mcn");
  EXPECT_EQ(d.streams.stream.group, "mcn-notifiers");
  EXPECT_EQ(d.streams.stream.consumer, "");  // hostname-pid at start
  Config c = loadConfigText(R"([streams]
redis = "redis://10.0.0.5:6380/2"
password_ref = "env:MCN_STREAMS_PW"
prefix = "{mcn}"
group = "notifiers-b"
consumer = "site-b-1"
maxlen = 50000
dedupe_ttl_s = 3600
claim_idle_ms = 15000
buffer_max = 2000
max_deliveries = 4
batch = 64
connect_timeout_ms = 250
backoff_max_ms = 2000
max_in_flight = 20
)",
                            "mcn.toml");
  const auto& s = c.streams.stream;
  EXPECT_EQ(c.streams.redis, "redis://10.0.0.5:6380/2");
  EXPECT_EQ(c.streams.password_ref, "env:MCN_STREAMS_PW");
  EXPECT_EQ(s.prefix, "{mcn}");
  EXPECT_EQ(s.group, "notifiers-b");
  EXPECT_EQ(s.consumer, "site-b-1");
  EXPECT_EQ(s.maxlen, 50000u);
  EXPECT_EQ(s.dedupe_ttl_s, 3600);
  EXPECT_EQ(s.claim_idle_ms, 15000);
  EXPECT_EQ(s.buffer_max, 2000u);
  EXPECT_EQ(s.max_deliveries, 4);
  EXPECT_EQ(s.batch, 64);
  EXPECT_EQ(s.connect_timeout_ms, 250);
  EXPECT_EQ(s.backoff_max_ms, 2000);
  EXPECT_EQ(s.max_in_flight, 20u);

  ::setenv("MCN_STREAMS_PW", "pw-from-env", 1);
  notifier::StreamConfig r = resolveStreamConfig(c);
  EXPECT_EQ(r.host, "10.0.0.5");
  EXPECT_EQ(r.port, 6380);
  EXPECT_EQ(r.db, 2);
  EXPECT_EQ(r.password, "pw-from-env");
}

TEST(StreamsConfig, FallsBackToRunRedisAndNeedsOne) {
  Config c = loadConfigText("[run]\nredis = \"redis://127.0.0.1:7000\"\n", "mcn.toml");
  EXPECT_EQ(resolveStreamConfig(c).port, 7000);
  try {
    resolveStreamConfig(defaultConfig());
    FAIL() << "no Redis configured";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("streams.redis"), std::string::npos) << e.what();
  }
}

// With Sentinels the URL is optional (it gives only the database); the Sentinel password comes
// from its reference, and the subscriber store ([run] redis) gets the same Sentinels.
TEST(StreamsConfig, SentinelsReplaceTheAddress) {
  EXPECT_TRUE(defaultConfig().streams.sentinels.empty());
  EXPECT_EQ(defaultConfig().streams.sentinel_master, "mcn");
  Config c = loadConfigText(R"([streams]
redis = "redis://ignored:1/4"
sentinels = ["10.0.0.1:26379", "[2001:db8::2]:26380", "sentinel-c:26379"]
sentinel_master = "mcn-east"
sentinel_password_ref = "env:MCN_SENTINEL_PW"
)",
                            "mcn.toml");
  EXPECT_EQ(c.streams.sentinels, (std::vector<std::string>{"10.0.0.1:26379", "[2001:db8::2]:26380",
                                                           "sentinel-c:26379"}));
  ::setenv("MCN_SENTINEL_PW", "sentinel-pw-from-env", 1);
  notifier::StreamConfig r = resolveStreamConfig(c);
  EXPECT_EQ(r.sentinels, c.streams.sentinels);
  EXPECT_EQ(r.sentinel_master, "mcn-east");
  EXPECT_EQ(r.sentinel_password, "sentinel-pw-from-env");
  EXPECT_EQ(r.db, 4);

  Config only = loadConfigText("[streams]\nsentinels = [\"127.0.0.1:26379\"]\n", "mcn.toml");
  EXPECT_EQ(resolveStreamConfig(only).sentinels.size(), 1u);  // no redis URL needed
  EXPECT_EQ(resolveStreamConfig(only).db, 0);
}

TEST(StreamsConfig, BadKeysNameFileLineColumnAndKey) {
  struct Case {
    std::string line;
    std::string want;
  };
  const Case cases[] = {
      {"colour = 1", "mcn.toml:2:10: streams.colour: unknown key"},
      {"redis = 5", "mcn.toml:2:9: streams.redis: expected a string"},
      {"redis = \"http://x\"", "mcn.toml:2:9: streams.redis: "},
      {"password_ref = \"hunter2\"",
       "mcn.toml:2:16: streams.password_ref: expected a reference env:NAME or file:/path (never "
       "the secret itself)"},
      {"prefix = \"\"",
       "mcn.toml:2:10: streams.prefix: expected 1 to 64 printable characters without spaces"},
      {"group = \"a b\"",
       "mcn.toml:2:9: streams.group: expected 1 to 64 printable characters without spaces"},
      {"consumer = 7", "mcn.toml:2:12: streams.consumer: expected a string"},
      {"maxlen = 10", "mcn.toml:2:10: streams.maxlen: must be between 1000 and 1000000000"},
      {"maxlen = \"big\"", "mcn.toml:2:10: streams.maxlen: expected an integer"},
      {"dedupe_ttl_s = 0", "mcn.toml:2:16: streams.dedupe_ttl_s: must be between 60 and 2592000"},
      {"claim_idle_ms = 5",
       "mcn.toml:2:17: streams.claim_idle_ms: must be between 100 and 86400000"},
      {"buffer_max = 0", "mcn.toml:2:14: streams.buffer_max: must be between 1 and 10000000"},
      {"max_deliveries = 0", "mcn.toml:2:18: streams.max_deliveries: must be between 1 and 1000"},
      {"batch = true", "mcn.toml:2:9: streams.batch: expected an integer"},
      {"connect_timeout_ms = 1",
       "mcn.toml:2:22: streams.connect_timeout_ms: must be between 10 and 60000"},
      {"max_in_flight = 0", "mcn.toml:2:17: streams.max_in_flight: must be between 1 and 1000000"},
      {"sentinels = \"a:1\"", "mcn.toml:2:13: streams.sentinels: expected an array"},
      {"sentinels = [\"a:1\", \"nocolon\"]",
       "mcn.toml:2:21: streams.sentinels: expected \"HOST:PORT\" strings"},
      {"sentinels = [\"2001:db8::1:26379\"]",
       "mcn.toml:2:14: streams.sentinels: expected \"HOST:PORT\" strings (\"[v6]:PORT\" for IPv6)"},
      {"sentinel_master = \"\"",
       "mcn.toml:2:19: streams.sentinel_master: expected 1 to 64 printable characters"},
      {"sentinel_password_ref = \"hunter2\"",
       "mcn.toml:2:25: streams.sentinel_password_ref: expected a reference env:NAME or file:/path"},
      {"backoff_max_ms = 1",
       "mcn.toml:2:18: streams.backoff_max_ms: must be between 100 and 600000"},
  };
  for (const auto& c : cases) {
    std::string got = errorOf("[streams]\n" + c.line + "\n");
    EXPECT_EQ(got.rfind(c.want, 0), 0u) << c.line << "\n got: " << got;
    EXPECT_EQ(got.find("hunter2"), std::string::npos) << got;
  }
  EXPECT_EQ(errorOf("streams = 1\n"), "mcn.toml:1:11: streams: expected a table");
}

}  // namespace
}  // namespace mcn::app
