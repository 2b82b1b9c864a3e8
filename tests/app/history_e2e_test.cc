// End to end: `mcn replay --history` fills a store from real-stack fixtures (kamailio + sipp,
// pcaps/README.md "sipp_*"), a running `mcn run` serves it on GET /api/calls, and the operator
// finds the calls they would look for. Expectations come from the fixtures' scenarios
// (pcaps/README.md): sipp_topoh_two_calls, +8613900101230 dials 1015 through topoh twice 10.2 s
// apart, busy both times, two Call-IDs each; sipp_answered, +8613900101230 dials 1013, answered.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "../support/child_process.h"
#include "cli_run.h"

namespace mcn::app {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using clitest::kMcn;
using clitest::kPcaps;
using clitest::runMcn;

// A loopback port nobody listens on now (the kernel's pick).
// A loopback socket of `type` bound to `port` (0: any), or -1.
int boundSocket(int type, int port) {
  int fd = ::socket(AF_INET, type, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int portOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Ports for `mcn run`: `http` (TCP) and `hep`, which --hep opens for UDP and TCP both. Chosen
// while every socket is held, so they differ, and the HEP port is free for both protocols: a port
// found free for UDP alone can be a TCP connection's local port (CI saw "cannot bind TCP").
struct RunPorts {
  int http = 0;
  int hep = 0;
};
RunPorts freeRunPorts() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int h = boundSocket(SOCK_STREAM, 0);
    const int t = boundSocket(SOCK_STREAM, 0);
    const int u = t >= 0 ? boundSocket(SOCK_DGRAM, portOf(t)) : -1;
    RunPorts p{h >= 0 ? portOf(h) : 0, t >= 0 ? portOf(t) : 0};
    for (int fd : {h, t, u}) {
      if (fd >= 0) ::close(fd);
    }
    if (h >= 0 && t >= 0 && u >= 0) return p;
  }
  return {};
}

// RFC 3986 §2.1: every byte outside the unreserved set as %XX (a Call-ID may hold '/', '?').
std::string percentEncoded(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class HistoryEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mcn_history_e2e_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "history.sqlite").string();
    std::ofstream(dir_ / "subscribers.toml")
        << "[[person]]\nid = \"e1015\"\nname = \"Wu Fang\"\nnumbers = [\"1015\"]\n"
        << "[[person.channel]]\nid = \"log\"\nkind = \"jsonl\"\ntarget = \""
        << (dir_ / "told.jsonl").string() << "\"\n";
    // The fixtures' dial plan, and the store.
    std::ofstream(dir_ / "mcn.toml")
        << slurp(kPcaps + "/fixtures.toml") << "\n[history]\npath = \"" << db_ << "\"\n";
  }
  void TearDown() override {
    run_.kill();
    fs::remove_all(dir_);
  }

  // `mcn run --hep` with the test's config, in the test's directory (its relative paths).
  void startRun(int hep, int http) {
    ASSERT_TRUE(
        run_.start({kMcn, "run", "--hep", "127.0.0.1:" + std::to_string(hep), "--config",
                    (dir_ / "mcn.toml").string(), "--http-port", std::to_string(http)},
                   {.output = (dir_ / "run.log").string(), .cwd = dir_.string(), .env = {}}));
  }

  fs::path dir_;
  std::string db_;
  test::ChildProcess run_;
};

TEST_F(HistoryEndToEnd, ReplayFillsTheStoreAndMcnRunAnswersTheOperatorsSearches) {
  auto r =
      runMcn("replay " + kPcaps + "/sipp_topoh_two_calls.pcap " + kPcaps +
             "/sipp_answered.pcap --config " + (dir_ / "mcn.toml").string() + " --subscribers " +
             (dir_ / "subscribers.toml").string() + " --history " + db_ + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Wu Fang was told (the jsonl channel) about her busy calls.
  ASSERT_NE(slurp((dir_ / "told.jsonl").string()).find("e1015"), std::string::npos);

  const RunPorts ports = freeRunPorts();
  ASSERT_NE(ports.http, 0);
  const int http = ports.http;
  const int hep = ports.hep;
  ASSERT_NO_FATAL_FAILURE(startRun(hep, http));
  httplib::Client cli("127.0.0.1", http);
  cli.set_connection_timeout(1);
  auto get = [&](const std::string& path, const httplib::Params& p = {}) {
    auto res = cli.Get(path, p, httplib::Headers{});
    return res ? std::make_pair(res->status, res->body) : std::make_pair(-1, std::string());
  };
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = get("/api/calls").first == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(up) << slurp((dir_ / "run.log").string());

  // "Who called 1015?" typed as the short extension.
  auto [st, body] = get("/api/calls", {{"number", "1015"}});
  ASSERT_EQ(st, 200) << body;
  json calls = json::parse(body)["calls"];
  ASSERT_EQ(calls.size(), 2u) << body;
  EXPECT_GT(calls[0]["started_at"].get<std::string>(), calls[1]["started_at"].get<std::string>());
  for (const auto& c : calls) {
    EXPECT_EQ(c["caller"], "+8613900101230");
    EXPECT_EQ(c["callee"], "+862583001015");
    EXPECT_EQ(c["outcome"], "busy");
    EXPECT_EQ(c["missed"], true);
    EXPECT_EQ(c["call_ids"].size(), 2u);
    EXPECT_EQ(c["person"], "e1015");
  }

  // The same call found by the Call-ID of its other leg (what sngrep on the far side shows).
  const std::string other_leg = calls[0]["call_ids"][1];
  auto [st2, body2] = get("/api/calls", {{"call_id", other_leg}});
  ASSERT_EQ(st2, 200) << body2;
  json by_leg = json::parse(body2)["calls"];
  ASSERT_EQ(by_leg.size(), 1u);
  EXPECT_EQ(by_leg[0]["call_id"], calls[0]["call_id"]);

  // The answered one, and only it.
  json answered = json::parse(get("/api/calls", {{"outcome", "answered"}}).second)["calls"];
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_EQ(answered[0]["callee"], "+862583001013");

  // Her missed calls, one page at a time.
  auto [st3, p1] = get("/api/calls", {{"person", "e1015"}, {"outcome", "missed"}, {"limit", "1"}});
  ASSERT_EQ(st3, 200) << p1;
  json page1 = json::parse(p1);
  ASSERT_EQ(page1["calls"].size(), 1u);
  ASSERT_TRUE(page1["next_cursor"].is_string());
  json page2 = json::parse(get("/api/calls", {{"person", "e1015"},
                                              {"outcome", "missed"},
                                              {"limit", "1"},
                                              {"cursor", page1["next_cursor"]}})
                               .second);
  ASSERT_EQ(page2["calls"].size(), 1u);
  EXPECT_NE(page2["calls"][0]["call_id"], page1["calls"][0]["call_id"]);
  EXPECT_TRUE(page2["next_cursor"].is_null());

  // The call with what was done about it: Wu Fang told through her jsonl channel, delivered.
  auto [st4, detail] = get("/api/calls/" + percentEncoded(other_leg));
  ASSERT_EQ(st4, 200) << detail;
  json d = json::parse(detail);
  ASSERT_EQ(d["records"].size(), 1u);
  ASSERT_GE(d["notifications"].size(), 1u) << detail;
  const json& n = d["notifications"][0];
  EXPECT_EQ(n["person"], "e1015");
  EXPECT_EQ(n["channel"], "log");
  EXPECT_EQ(n["status"], "delivered");
  EXPECT_GE(n["attempts"].get<int>(), 1);
  ASSERT_GE(n["attempt_log"].size(), 1u);
  EXPECT_EQ(n["attempt_log"].back()["ok"], true);

  // Hostile input is refused; an unknown call is 404.
  EXPECT_EQ(get("/api/calls", {{"limit", "100000"}}).first, 400);
  EXPECT_EQ(get("/api/calls", {{"since", "last tuesday"}}).first, 400);
  EXPECT_EQ(get("/api/calls/no-such-call").first, 404);

  // The CLI reads the same store.
  auto cli_r = runMcn("history search --db " + db_ + " --number +862583001013");
  EXPECT_EQ(cli_r.exit_code, 0) << cli_r.err;
  EXPECT_NE(cli_r.out.find("\"outcome\":\"answered\""), std::string::npos) << cli_r.out;
  EXPECT_EQ(runMcn("history search --db " + db_ + " --number +10000").exit_code, 1);
  // Call-IDs hold shell characters ('!'): quoted.
  cli_r = runMcn("history search --db " + db_ + " --call-id '" + other_leg + "'");
  EXPECT_EQ(cli_r.exit_code, 0) << cli_r.err;
  EXPECT_EQ(json::parse(cli_r.out)["calls"].size(), 1u) << cli_r.out;
  cli_r = runMcn("history show --db " + db_ + " '" + other_leg + "'");
  EXPECT_EQ(cli_r.exit_code, 0) << cli_r.err;
  EXPECT_EQ(json::parse(cli_r.out)["notifications"][0]["status"], "delivered") << cli_r.out;
  EXPECT_EQ(runMcn("history show --db " + db_ + " no-such-call").exit_code, 1);
  EXPECT_EQ(runMcn("history search --db " + db_ + " --limit 0").exit_code, 2);

  run_.signal(SIGTERM);
  EXPECT_EQ(run_.exitCode(), 0) << slurp((dir_ / "run.log").string());
}

// Live: the HEP datagrams kamailio sent (pcaps/hep_kamailio_udp.pcap, README: busy 486 to 1015,
// answered 200 to 1013, cancelled 487 to 1014), taken out of the capture by tshark, sent to a
// running `mcn run --hep`: its workers' records reach the store while it runs, and the operator
// console's JSON (ladder of a recent call, live figures) answers from the same daemon.
TEST_F(HistoryEndToEnd, LiveCallsReachTheStoreWhileMcnRuns) {
  std::vector<std::string> datagrams;
  {
    FILE* p = ::popen(("tshark -r " + kPcaps +
                       "/hep_kamailio_udp.pcap -Y 'udp.dstport == 9060' -T fields -e udp.payload "
                       "2>/dev/null")
                          .c_str(),
                      "r");
    ASSERT_NE(p, nullptr);
    char line[70000];
    while (std::fgets(line, sizeof line, p) != nullptr) {
      std::string hex(line);
      while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) hex.pop_back();
      std::string bytes;
      for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
      }
      datagrams.push_back(bytes);
    }
    ::pclose(p);
  }
  ASSERT_EQ(datagrams.size(), 35u) << "tshark (deploy/install-deps.sh) must read the fixture";
  // Recorded hours ago: the agent's timestamps (HEP3 chunks 0x0009 seconds, 0x000a µs) are
  // moved so the last message is now, as if kamailio were sending them live; the spacing stays.
  auto chunkTs = [](std::string& d, uint16_t type) -> char* {
    for (size_t at = 6; at + 6 <= d.size();) {
      auto u16 = [&](size_t i) {
        return static_cast<uint16_t>(static_cast<unsigned char>(d[i]) << 8 |
                                     static_cast<unsigned char>(d[i + 1]));
      };
      uint16_t len = u16(at + 4);
      if (len < 6) break;
      if (u16(at + 2) == type && len == 10) return &d[at + 6];
      at += len;
    }
    return nullptr;
  };
  auto be32 = [](const char* p) {
    return static_cast<uint32_t>(static_cast<unsigned char>(p[0])) << 24 |
           static_cast<uint32_t>(static_cast<unsigned char>(p[1])) << 16 |
           static_cast<uint32_t>(static_cast<unsigned char>(p[2])) << 8 |
           static_cast<uint32_t>(static_cast<unsigned char>(p[3]));
  };
  auto put32 = [](char* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (24 - 8 * i));
  };
  int64_t last = 0;
  for (auto& d : datagrams) {
    char* sec = chunkTs(d, 0x0009);
    char* usec = chunkTs(d, 0x000a);
    ASSERT_TRUE(sec != nullptr && usec != nullptr);
    last = std::max(last, int64_t{be32(sec)} * 1'000'000 + be32(usec));
  }
  const int64_t shift = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() -
                        last;
  for (auto& d : datagrams) {
    char* sec = chunkTs(d, 0x0009);
    char* usec = chunkTs(d, 0x000a);
    int64_t t = int64_t{be32(sec)} * 1'000'000 + be32(usec) + shift;
    put32(sec, static_cast<uint32_t>(t / 1'000'000));
    put32(usec, static_cast<uint32_t>(t % 1'000'000));
  }

  const RunPorts ports = freeRunPorts();
  ASSERT_NE(ports.http, 0);
  const int http = ports.http;
  const int hep = ports.hep;
  ASSERT_NO_FATAL_FAILURE(startRun(hep, http));
  httplib::Client cli("127.0.0.1", http);
  cli.set_connection_timeout(1);
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    auto res = cli.Get("/readyz");
    up = res && res->status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(up) << slurp((dir_ / "run.log").string());

  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(hep));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (const auto& d : datagrams) {
    ASSERT_EQ(::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(d.size()));
  }
  ::close(fd);

  // The calls are decided after their grace period on mcn's clock, then written by the
  // history thread: wait for all three (bounded).
  json calls;
  for (int i = 0; i < 150; ++i) {
    auto res = cli.Get("/api/calls");
    if (res && res->status == 200) calls = json::parse(res->body)["calls"];
    if (calls.size() >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(calls.size(), 3u) << calls.dump() << slurp((dir_ / "run.log").string());
  std::map<std::string, std::string> outcome_of;
  for (const auto& c : calls) outcome_of[c["callee"]] = c["outcome"];
  EXPECT_EQ(outcome_of["+862583001015"], "busy");
  EXPECT_EQ(outcome_of["+862583001013"], "answered");
  EXPECT_EQ(outcome_of["+862583001014"], "cancelled");
  auto res = cli.Get("/api/calls?number=1014&outcome=missed");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["calls"].size(), 1u) << res->body;
  // The writer's counters on /metrics: everything written, nothing dropped.
  std::string metrics;
  for (int i = 0; i < 50; ++i) {
    auto m = cli.Get("/metrics");
    if (m) metrics = m->body;
    if (metrics.find("mcn_history_written_total 3") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(metrics.find("mcn_history_written_total 3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("mcn_history_dropped_total 0"), std::string::npos) << metrics;

  // The operator console's JSON on the same daemon. The ladder of the cancelled call (1014),
  // from the messages the worker still holds: its INVITE first, decided cancelled as above.
  std::string cancelled;
  for (const auto& c : calls) {
    if (c["callee"] == "+862583001014") cancelled = c["call_id"];
  }
  res = cli.Get("/api/calls/" + percentEncoded(cancelled) + "/ladder");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto ladder = json::parse(res->body);
  ASSERT_EQ(ladder["calls"].size(), 1u) << res->body;
  EXPECT_EQ(ladder["calls"][0]["messages"][0]["method"], "INVITE");
  EXPECT_EQ(ladder["calls"][0]["numbers"][0]["outcome"], "cancelled");
  // Live figures: every datagram was one SIP message (the main thread samples once a second,
  // so the totals arrive within a few); nothing open now; the HEP listener healthy.
  json stats;
  for (int i = 0; i < 50; ++i) {
    auto s = cli.Get("/api/ops/stats");
    ASSERT_TRUE(s);
    ASSERT_EQ(s->status, 200) << s->body;
    stats = json::parse(s->body);
    if (stats["sip"]["messages"] == datagrams.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(stats["sip"]["messages"], datagrams.size()) << stats.dump();
  EXPECT_EQ(stats["calls"]["open"], 0) << stats.dump();
  ASSERT_EQ(stats["sources"].size(), 1u) << stats.dump();
  EXPECT_EQ(stats["sources"][0]["health"], "ok") << stats.dump();
  // Every message held for the ladder (far below the bounds), nothing evicted.
  auto m = cli.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("\nmcn_ladder_messages{worker=\"0\"} 35\n"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("\nmcn_ladder_evicted_calls_total{worker=\"0\"} 0\n"), std::string::npos)
      << m->body;
  // No dead letter yet (no file), no subscribers store to import into.
  res = cli.Get("/api/ops/dead-letters");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["total"], 0) << res->body;
  res = cli.Post("/api/ops/people/import", "id,name,numbers\n", "text/csv");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 501) << res->body;

  run_.signal(SIGTERM);
  EXPECT_EQ(run_.exitCode(), 0) << slurp((dir_ / "run.log").string());
}

// The operator imports people from a CSV into the running daemon's TOML subscribers file: the
// file is rewritten and reloaded (the log says so, with the directory's size), a bad CSV changes
// nothing.
TEST_F(HistoryEndToEnd, AnOperatorImportsPeopleIntoTheRunningDaemon) {
  const RunPorts ports = freeRunPorts();
  ASSERT_NE(ports.http, 0);
  const std::string people = (dir_ / "subscribers.toml").string();
  ASSERT_TRUE(run_.start({kMcn, "run", "--hep", "127.0.0.1:" + std::to_string(ports.hep),
                          "--config", (dir_ / "mcn.toml").string(), "--subscribers", people,
                          "--http-port", std::to_string(ports.http)},
                         {.output = (dir_ / "run.log").string(), .cwd = dir_.string(), .env = {}}));
  httplib::Client cli("127.0.0.1", ports.http);
  cli.set_connection_timeout(1);
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    auto res = cli.Get("/readyz");
    up = res && res->status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(up) << slurp((dir_ / "run.log").string());

  auto res = cli.Post("/api/ops/people/import",
                      "id,name,numbers,channel_kind\ne1014,Zhou Min,1014,console\n", "text/csv");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["imported"], 1) << res->body;
  // Reloaded as on SIGHUP: the operator reads it in the log.
  bool reloaded = false;
  for (int i = 0; i < 50 && !reloaded; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    reloaded = slurp((dir_ / "run.log").string()).find("subscribers reloaded (2 people)") !=
               std::string::npos;
  }
  EXPECT_TRUE(reloaded) << slurp((dir_ / "run.log").string());
  const std::string after = slurp(people);
  EXPECT_NE(after.find("e1014"), std::string::npos) << after;
  EXPECT_NE(after.find("e1015"), std::string::npos) << after;

  // Row 3 has no id: refused whole (row 2 is not imported either), the file untouched.
  res = cli.Post("/api/ops/people/import",
                 "id,name,numbers,channel_kind\ne1016,Sun Li,1016,console\n,Nobody,1017,console\n",
                 "text/csv");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_NE(res->body.find("row 3"), std::string::npos) << res->body;
  EXPECT_EQ(slurp(people), after);

  run_.signal(SIGTERM);
  EXPECT_EQ(run_.exitCode(), 0) << slurp((dir_ / "run.log").string());
}

TEST_F(HistoryEndToEnd, ReplayRefusesADamagedStoreBeforeWritingAnything) {
  std::ofstream(db_) << std::string(4096, 'x');
  auto r = runMcn("replay " + kPcaps + "/sipp_answered.pcap --calls-out - --history " + db_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find(db_), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a database"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mcn::app
