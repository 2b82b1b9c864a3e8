// `mcn run` pieces that need no capture privileges: Call-ID sharding, the Prometheus page, the
// [run] configuration table and start-up errors. The live path itself is tested end to end by
// tests/e2e/run-e2e.sh (root, network namespaces).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>

#include "../../app/src/live_shard.h"
#include "../../app/src/metrics.h"
#include "../support/child_process.h"
#include "mcn/app/config.h"
#include "mcn/capture/pcap_live.h"

namespace mcn::app {
namespace {

const std::string kInvite =
    "INVITE sip:1013@198.18.0.10 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.18.0.20:5070;branch=z9hG4bK-1\r\n"
    "call-ID:   abc-123@host  \r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 20\r\n"
    "\r\n"
    "Call-ID: not-this-one";

TEST(LiveShard, FindsCallIdCaseInsensitiveAndTrimmed) {
  EXPECT_EQ(findCallId(kInvite), "abc-123@host");
}

TEST(LiveShard, FindsCompactForm) {
  // RFC 3261 §7.3.3: "i" is the compact form of Call-ID.
  EXPECT_EQ(findCallId("SIP/2.0 180 Ringing\r\nv: SIP/2.0/UDP x\r\ni: short@x\r\n\r\n"), "short@x");
}

TEST(LiveShard, IgnoresTheBody) {
  EXPECT_EQ(findCallId("BYE sip:a SIP/2.0\r\nCSeq: 2 BYE\r\n\r\nCall-ID: body@x\r\n"), "");
}

TEST(LiveShard, SameCallIdSameWorkerWhateverTheMessage) {
  std::string response = "SIP/2.0 486 Busy Here\r\nCall-ID: abc-123@host\r\nCSeq: 1 INVITE\r\n\r\n";
  for (uint32_t workers : {2u, 3u, 8u}) {
    EXPECT_EQ(shardOf(kInvite, workers), shardOf(response, workers)) << workers;
    EXPECT_LT(shardOf(kInvite, workers), workers);
  }
  EXPECT_EQ(shardOf(kInvite, 1), 0u);
}

TEST(LiveShard, SpreadsCallsOverWorkers) {
  std::set<uint32_t> used;
  for (int i = 0; i < 64; ++i) {
    used.insert(
        shardOf("INVITE sip:a SIP/2.0\r\nCall-ID: " + std::to_string(i) + "-x@h\r\n\r\n", 4));
  }
  EXPECT_EQ(used.size(), 4u);
}

TEST(Metrics, CounterNamesBecomeFamiliesWithLabels) {
  auto [f1, l1] = Metrics::familyOf("calls.outcome.busy");
  EXPECT_EQ(f1, "mcn_calls_outcome_total");
  EXPECT_EQ(l1, (Labels{{"outcome", "busy"}}));
  auto [f2, l2] = Metrics::familyOf("delivery.webhook.failed");
  EXPECT_EQ(f2, "mcn_delivery_attempts_total");
  EXPECT_EQ(l2, (Labels{{"channel", "webhook"}, {"result", "failed"}}));
  auto [f3, l3] = Metrics::familyOf("decode.duplicate_frames");
  EXPECT_EQ(f3, "mcn_decode_duplicate_frames_total");
  EXPECT_TRUE(l3.empty());
}

TEST(Metrics, RendersTextExposition) {
  Metrics m;
  m.addBoard({{"worker", "0"}}).publish({{"calls.outcome.busy", 3}, {"calls.created", 7}});
  m.addBoard({{"worker", "1"}}).publish({{"calls.outcome.busy", 2}});
  m.addGauges([](std::vector<GaugeSample>& out) {
    out.push_back({"mcn_ring_depth", "entries", {{"ring", "capture"}}, 5});
  });
  std::string page = m.render();
  EXPECT_NE(page.find("# TYPE mcn_calls_outcome_total counter\n"), std::string::npos) << page;
  EXPECT_NE(page.find("mcn_calls_outcome_total{worker=\"0\",outcome=\"busy\"} 3\n"),
            std::string::npos);
  EXPECT_NE(page.find("mcn_calls_outcome_total{worker=\"1\",outcome=\"busy\"} 2\n"),
            std::string::npos);
  EXPECT_NE(page.find("mcn_calls_created_total{worker=\"0\"} 7\n"), std::string::npos);
  EXPECT_NE(page.find("# TYPE mcn_ring_depth gauge\nmcn_ring_depth{ring=\"capture\"} 5\n"),
            std::string::npos);
  // One TYPE line per family, even with samples from two boards.
  size_t first = page.find("# TYPE mcn_calls_outcome_total");
  EXPECT_EQ(page.find("# TYPE mcn_calls_outcome_total", first + 1), std::string::npos);
}

TEST(Metrics, DeadLettersByChannelAndStreamLevelsForTheDashboard) {
  auto [f1, l1] = Metrics::familyOf("delivery.wecom.dead_lettered");
  EXPECT_EQ(f1, "mcn_delivery_dead_letters_total");
  EXPECT_EQ(l1, (Labels{{"channel", "wecom"}}));
  Metrics m;
  m.addBoard({{"role", "notifier"}})
      .publish({{"stream.connected", 1},
                {"stream.lag.missed", 12},
                {"stream.pending.closed", 3},
                {"stream.reconnects", 2},
                {"delivery.wecom.dead_lettered", 1}});
  std::string page = m.render();
  // Levels are gauges without _total (rate() of them would be wrong); counts stay counters.
  EXPECT_NE(
      page.find("# TYPE mcn_stream_connected gauge\nmcn_stream_connected{role=\"notifier\"} 1\n"),
      std::string::npos)
      << page;
  EXPECT_NE(
      page.find(
          "# TYPE mcn_stream_lag gauge\nmcn_stream_lag{role=\"notifier\",stream=\"missed\"} 12\n"),
      std::string::npos);
  EXPECT_NE(page.find("# TYPE mcn_stream_pending "
                      "gauge\nmcn_stream_pending{role=\"notifier\",stream=\"closed\"} 3\n"),
            std::string::npos);
  EXPECT_NE(page.find("# TYPE mcn_stream_reconnects_total counter\n"), std::string::npos);
  EXPECT_NE(
      page.find(
          "# TYPE mcn_delivery_dead_letters_total "
          "counter\nmcn_delivery_dead_letters_total{role=\"notifier\",channel=\"wecom\"} 1\n"),
      std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulativeSeconds) {
  Metrics m;
  m.deliveryLatency().observe(0.5);    // <= 1 ms
  m.deliveryLatency().observe(30);     // <= 50 ms
  m.deliveryLatency().observe(70000);  // above every bucket
  std::string page = m.render();
  EXPECT_NE(page.find("mcn_notification_delay_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos)
      << page;
  EXPECT_NE(page.find("mcn_notification_delay_seconds_bucket{le=\"0.02\"} 1\n"), std::string::npos);
  EXPECT_NE(page.find("mcn_notification_delay_seconds_bucket{le=\"0.05\"} 2\n"), std::string::npos);
  EXPECT_NE(page.find("mcn_notification_delay_seconds_bucket{le=\"60\"} 2\n"), std::string::npos);
  EXPECT_NE(page.find("mcn_notification_delay_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(page.find("mcn_notification_delay_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(page.find("mcn_notification_delay_seconds_sum 70.0305\n"), std::string::npos);
}

TEST(RunConfig, ReadsTheRunTable) {
  Config c = loadConfigText(R"(
[run]
interfaces = ["eth1", "eth2"]
buffer_bytes = 134217728
promisc = false
immediate = true
timeout_ms = 50
user = "mcn"
http_bind = "0.0.0.0"
http_port = 9999
http_token_ref = "env:MCN_TOKEN"
log_format = "json"
workers = 4
ring_size = 1024
shutdown_timeout_ms = 2000
)",
                            "mcn.toml");
  EXPECT_EQ(c.run.interfaces, (std::vector<std::string>{"eth1", "eth2"}));
  EXPECT_EQ(c.run.buffer_bytes, 134217728);
  EXPECT_FALSE(c.run.promisc);
  EXPECT_TRUE(c.run.immediate);
  EXPECT_EQ(c.run.timeout_ms, 50);
  EXPECT_EQ(c.run.user, "mcn");
  EXPECT_EQ(c.run.http_bind, "0.0.0.0");
  EXPECT_EQ(c.run.http_port, 9999);
  EXPECT_EQ(c.run.http_token_ref, "env:MCN_TOKEN");
  EXPECT_EQ(c.run.log_format, "json");
  EXPECT_EQ(c.run.workers, 4);
  EXPECT_EQ(c.run.ring_size, 1024);
  EXPECT_EQ(c.run.shutdown_timeout_ms, 2000);
}

TEST(RunConfig, DefaultsAreLoopbackAndOneWorker) {
  Config c = defaultConfig();
  EXPECT_EQ(c.run.http_bind, "127.0.0.1");
  EXPECT_EQ(c.run.workers, 1);
  EXPECT_GE(c.run.snaplen, 65535);
  EXPECT_TRUE(c.run.interfaces.empty());
  // Batched capture by default (immediate mode overflows the kernel ring on a busy mirror).
  EXPECT_FALSE(c.run.immediate);
  EXPECT_EQ(c.run.timeout_ms, 10);
}

std::string errorOf(std::string_view text) {
  try {
    loadConfigText(text, "mcn.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(RunConfig, ErrorsNameTheField) {
  std::string e = errorOf("[run]\ninterface = \"eth1\"\n");
  EXPECT_EQ(e.rfind("mcn.toml:2:", 0), 0u) << e;
  EXPECT_NE(e.find("run.interface: unknown key"), std::string::npos) << e;
  EXPECT_NE(errorOf("[run]\nlog_format = \"xml\"\n").find("run.log_format"), std::string::npos);
  EXPECT_NE(errorOf("[run]\nsnaplen = 1500\n").find("run.snaplen: must be between 65535"),
            std::string::npos);
  EXPECT_NE(errorOf("[run]\nworkers = 0\n").find("run.workers"), std::string::npos);
}

TEST(PcapLive, MissingInterfaceThrowsNamingIt) {
  capture::LiveOptions o;
  o.interface = "mcn-no-such0";
  try {
    capture::PcapLiveSource src(o);
    FAIL() << "opened a missing interface";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("mcn-no-such0"), std::string::npos) << e.what();
  }
}

int runMcn(const std::string& args, std::string& err) {
  std::string cmd = std::string(MCN_BINARY_DIR) + "/mcn " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) err.append(buf.data(), n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(RunCli, NoInterfaceIsAStartupError) {
  std::string out;
  EXPECT_EQ(runMcn("run --http-port 0", out), 2);
  EXPECT_NE(out.find("no capture interface"), std::string::npos) << out;
}

TEST(RunCli, MissingInterfaceIsAStartupError) {
  std::string out;
  EXPECT_EQ(runMcn("run -i mcn-no-such0 --http-port 0", out), 2);
  EXPECT_NE(out.find("mcn-no-such0"), std::string::npos) << out;
}

}  // namespace
}  // namespace mcn::app

namespace mcn::app {
namespace {

// systemd's side of sd_notify: a datagram socket named by NOTIFY_SOCKET. Needs a capture
// interface, so root (CI) only: mcn captures on the loopback interface.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = "/tmp/mcn-notify-" + std::to_string(getpid());
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path_.c_str());
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    timeval tv{20, 0};  // a bound against a hang, not a timing assertion
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  // Next message containing `what`, skipping others (WATCHDOG=1 ...); empty on timeout.
  std::string waitFor(const std::string& what) {
    for (;;) {
      std::array<char, 512> buf{};
      ssize_t n = ::recv(fd_, buf.data(), buf.size() - 1, 0);
      if (n <= 0) return {};
      std::string msg(buf.data(), static_cast<size_t>(n));
      if (msg.find(what) != std::string::npos) return msg;
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(RunDaemon, NotifiesSystemdAndStopsCleanlyOnSigterm) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs CAP_NET_RAW to capture on lo";
  NotifySocket sock;
  // The default call history store (mcn-history.sqlite) and any other relative path go in a
  // directory of this run's own, not beside the build where other tests' runs would meet them.
  char tmpl[] = "/tmp/mcn_run_daemon_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  test::ChildProcess mcn;
  ASSERT_TRUE(mcn.start(
      {std::string(MCN_BINARY_DIR) + "/mcn", "run", "-i", "lo", "--http-port", "0"},
      {.cwd = dir, .env = {{"NOTIFY_SOCKET", sock.path()}, {"WATCHDOG_USEC", "200000"}}}));
  EXPECT_NE(sock.waitFor("READY=1"), "");
  EXPECT_NE(sock.waitFor("WATCHDOG=1"), "");  // pings while its threads run
  mcn.signal(SIGHUP);
  EXPECT_NE(sock.waitFor("RELOADING=1"), "");
  EXPECT_NE(sock.waitFor("READY=1"), "");
  mcn.signal(SIGTERM);
  EXPECT_NE(sock.waitFor("STOPPING=1"), "");
  EXPECT_EQ(mcn.exitCode(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mcn::app

namespace mcn::app {
namespace {

TEST(RunCli, MetricsBeyondLoopbackNeedAToken) {
  std::string cfg = std::string(MCN_BINARY_DIR) + "/run_test_public_http.toml";
  {
    std::FILE* f = std::fopen(cfg.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("[run]\nhttp_bind = \"0.0.0.0\"\n", f);
    std::fclose(f);
  }
  std::string out;
  EXPECT_EQ(runMcn("run -i lo --config " + cfg, out), 2);
  EXPECT_NE(out.find("set run.http_token_ref"), std::string::npos) << out;
  std::remove(cfg.c_str());
}

}  // namespace
}  // namespace mcn::app
