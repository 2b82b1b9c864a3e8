// Delivery faults through the whole replay pipeline (pcap -> calls -> merger -> libcurl) against
// real HTTP receivers on loopback: a webhook that answers 500 and then recovers, one that hangs
// past the transfer timeout once, one that answers slowly, and a channel over its rate limit.
// What a user notices: every missed call is notified on every channel, none is lost, and a
// receiver that drops repeats by webhook-id (the idempotency key) sees each notification once.
//
// The five fixtures (pcaps/README.md, hand-checked) are each one missed call to
// +86 25 8300 1013: busy_486, cancelled, unavailable_480, fork_abandoned, proxy_timeout_408.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "mcn/app/config.h"
#include "mcn/app/replay.h"
#include "mcn/sipparse/dial_plan.h"
#include "mcn/subscribers/toml_store.h"

namespace fs = std::filesystem;

namespace {

const fs::path kSrc = MCN_SOURCE_DIR;
const std::vector<std::string> kCalls = {"busy_486", "cancelled", "unavailable_480",
                                         "fork_abandoned", "proxy_timeout_408"};

struct Hit {
  std::string path;
  std::string webhook_id;
  std::string call_id;
  int status = 0;
};

// A webhook receiver whose answer per request is scripted by path and index (per path).
class Receiver {
 public:
  using Script = std::function<int(const std::string& path, size_t index)>;
  explicit Receiver(Script script) : script_(std::move(script)) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(8); };
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      size_t index;
      {
        std::lock_guard lock(mu_);
        index = per_path_[req.path]++;
      }
      int status = script_(req.path, index);
      const bool hang = status == 0;
      if (hang) status = 200;  // processed here, but the answer comes too late (below)
      Hit h{req.path, req.get_header_value("webhook-id"), "", status};
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_discarded()) h.call_id = body["data"]["calls"][0]["call_id"].get<std::string>();
      std::unique_lock lock(mu_);
      hits_.push_back(h);
      if (hang) {  // hold the answer until the test ends (bounded): the client times out first
        released_.wait_for(lock, std::chrono::seconds(5), [this] { return stopping_; });
      }
      res.status = status;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 1000 && !server_.is_running(); ++i) std::this_thread::yield();
  }
  ~Receiver() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    released_.notify_all();
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Hit> hits() {
    std::lock_guard lock(mu_);
    return hits_;
  }

 private:
  Script script_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  std::mutex mu_;
  std::condition_variable released_;
  bool stopping_ = false;
  std::map<std::string, size_t> per_path_;
  std::vector<Hit> hits_;
};

std::vector<nlohmann::json> lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::string channel(const std::string& id, const std::string& url) {
  return "[[person.channel]]\nid = \"" + id + "\"\nkind = \"webhook\"\ntarget = \"" + url +
         "\"\nsecret_ref = \"env:MCN_FAULT_SECRET\"\n";
}

struct ReplayRun {
  std::vector<nlohmann::json> delivered;  // --notify-out
  mcn::app::ReplayResult res;
};

ReplayRun replay(mcn::app::Config cfg, const std::string& channels) {
  setenv("MCN_FAULT_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
  cfg.notify.dead_letter_path =
      (fs::temp_directory_path() / ("mcn-fault-dead-" + std::to_string(getpid()) + ".jsonl"))
          .string();
  mcn::sipparse::DialPlan plan(cfg.parser.dial_plan);
  std::string people =
      "[[person]]\nid = \"e1013\"\nname = \"Zhang Wei\"\nnumbers = [\"1013\"]\n"
      "[person.preferences]\nmerge_window = \"0\"\n" +
      channels;
  std::ostringstream notify;
  mcn::app::ReplayOutputs out;
  out.subscribers = mcn::subscribers::Directory::build(
      mcn::subscribers::loadTomlText(people, "fault-people.toml", plan), 1);
  out.notify = &notify;
  std::vector<std::string> files;
  for (const auto& c : kCalls) files.push_back((kSrc / "pcaps" / (c + ".pcap")).string());
  ReplayRun r;
  r.res = mcn::app::runReplay(files, cfg, out);
  r.delivered = lines(notify.str());
  EXPECT_FALSE(fs::exists(cfg.notify.dead_letter_path)) << "dead letters written";
  fs::remove(cfg.notify.dead_letter_path);
  return r;
}

std::set<std::string> expectedCallIds() {
  std::set<std::string> s;
  for (const auto& c : kCalls) s.insert(c + "-1@192.0.2.10");
  return s;
}

TEST(FaultReplay, FailingHangingAndSlowWebhooksLoseNothing) {
  Receiver rx([](const std::string& path, size_t index) {
    if (path == "/fail") return index < 3 ? 500 : 204;  // three 500s, then recovers
    if (path == "/hang") return index == 0 ? 0 : 200;   // the first request hangs
    if (path == "/slow") {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));  // a slow peer, not a timer
      return 200;
    }
    return 404;
  });
  mcn::app::Config cfg = mcn::app::loadConfigFile((kSrc / "pcaps/fixtures.toml").string());
  cfg.notify.delivery.backoff_base_ms = 20;  // wall-clock retries in a replay: keep them short
  cfg.notify.delivery.backoff_cap_ms = 100;
  cfg.notify.delivery.max_attempts = 6;
  cfg.notify.delivery.total_timeout_ms = 1000;  // the hang is cut here; /slow fits well inside
  ReplayRun r = replay(cfg, channel("fail", rx.url("/fail")) + channel("hang", rx.url("/hang")) +
                          channel("slow", rx.url("/slow")));

  // --notify-out: each call once per channel, 15 in all, no dead letter.
  std::map<std::string, std::set<std::string>> out_calls;
  std::map<std::string, std::string> key_of;  // channel + call -> idempotency key
  for (const auto& n : r.delivered) {
    std::string ch = n.at("channel").get<std::string>();
    std::string cid = n.at("calls").at(0).at("call_id").get<std::string>();
    EXPECT_TRUE(out_calls[ch].insert(cid).second) << "delivered twice: " << ch << " " << cid;
    key_of[ch + " " + cid] = n.at("idempotency_key").get<std::string>();
  }
  for (const std::string ch : {"fail", "hang", "slow"}) {
    EXPECT_EQ(out_calls[ch], expectedCallIds()) << ch;
  }
  EXPECT_EQ(r.res.counters.at("delivery.succeeded"), 15u);
  EXPECT_EQ(r.res.counters.at("delivery.dead_lettered"), 0u);

  // The receivers' side: per path, the webhook-ids answered 2xx cover every call exactly once;
  // a repeat carries the same webhook-id as the attempt it repeats, so dropping by id is enough.
  std::map<std::string, std::map<std::string, int>> accepted;  // path -> webhook-id -> count
  std::map<std::string, std::set<std::string>> calls_seen;
  for (const auto& h : rx.hits()) {
    std::string ch = h.path.substr(1);
    EXPECT_EQ(h.webhook_id, key_of[ch + " " + h.call_id]) << h.path << " " << h.call_id;
    if (h.status >= 200 && h.status < 300) ++accepted[h.path][h.webhook_id];
    calls_seen[h.path].insert(h.call_id);
  }
  for (const std::string path : {"/fail", "/hang", "/slow"}) {
    EXPECT_EQ(calls_seen[path], expectedCallIds()) << path;
    EXPECT_EQ(accepted[path].size(), 5u) << path;
  }
  // /fail: the three 500s were retried (same ids), no id accepted twice.
  for (const auto& [id, n] : accepted["/fail"]) EXPECT_EQ(n, 1) << id;
  for (const auto& [id, n] : accepted["/slow"]) EXPECT_EQ(n, 1) << id;
  // /hang: the hung attempt got its 200 only after mcn gave up on it, so exactly one id reached
  // the receiver twice as a success; the receiver drops the second by its webhook-id.
  int twice = 0;
  for (const auto& [id, n] : accepted["/hang"]) {
    EXPECT_LE(n, 2) << id;
    twice += n == 2;
  }
  EXPECT_EQ(twice, 1);
  EXPECT_GE(r.res.counters.at("delivery.retried"), 4u);  // 3 for /fail, 1 for /hang
}

TEST(FaultReplay, OverTheRateLimitWaitsAndIsDelivered) {
  Receiver rx([](const std::string&, size_t) { return 200; });
  mcn::app::Config cfg = mcn::app::loadConfigFile((kSrc / "pcaps/fixtures.toml").string());
  // At most 2 webhooks a second to one target: the five calls need three seconds.
  cfg.notify.delivery.rate_limits[mcn::subscribers::ChannelKind::kWebhook] = {0, 2};
  ReplayRun r = replay(cfg, channel("hook", rx.url("/limited")));
  std::set<std::string> out_calls;
  for (const auto& n : r.delivered) {
    out_calls.insert(n.at("calls").at(0).at("call_id").get<std::string>());
  }
  EXPECT_EQ(r.delivered.size(), 5u);
  EXPECT_EQ(out_calls, expectedCallIds());
  EXPECT_EQ(rx.hits().size(), 5u);
  EXPECT_EQ(r.res.counters.at("delivery.rate_limited"), 3u);  // the 3rd, 4th and 5th waited
  EXPECT_EQ(r.res.counters.at("delivery.dead_lettered"), 0u);
  EXPECT_TRUE(r.res.deliveries_complete);
}

}  // namespace
