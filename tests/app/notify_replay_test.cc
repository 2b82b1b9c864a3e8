// mcn replay with subscribers: missed calls become one notification per person, delivered
// through the person's channels, and --notify-out lists exactly what was delivered. The
// expectations come from the hand-checked office_morning records (pcaps/README.md) and the
// example subscribers in deploy/subscribers.toml, not from a previous run.

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
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

std::vector<nlohmann::json> lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::shared_ptr<const mcn::subscribers::Directory> loadPeople(const std::string& toml,
                                                              const mcn::app::Config& cfg) {
  mcn::sipparse::DialPlan plan(cfg.parser.dial_plan);
  return mcn::subscribers::Directory::build(
      mcn::subscribers::loadTomlText(toml, "test-subscribers.toml", plan), 1);
}

TEST(NotifyReplay, OfficeMorningOneMessagePerPerson) {
  mcn::app::Config cfg = mcn::app::loadConfigFile((kSrc / "deploy/office.toml").string());
  mcn::sipparse::DialPlan plan(cfg.parser.dial_plan);
  auto dir = mcn::subscribers::Directory::build(
      mcn::subscribers::loadTomlFile((kSrc / "deploy/subscribers.toml").string(), plan), 1);
  std::ostringstream console, notify;
  mcn::app::ReplayOutputs out;
  out.subscribers = dir;
  out.console = &console;
  out.notify = &notify;
  auto res = mcn::app::runReplay({(kSrc / "pcaps/office_morning.pcap").string()}, cfg, out);

  // The 10 missed records of office_morning.expected.jsonl: 1002, 1011 and 1016 belong to nobody;
  // 1012 and the mobile it was forwarded to are both 陈静's (one call); 1014 and 1017 are both
  // 孙磊's, 32 s apart (one 60 s window); 1007, 1009 and 1018 one each.
  std::map<std::string, std::set<std::string>> want = {
      {"e1012", {"fa5376e5b884ebeab34c614c@198.18.0.21", "395635bfa4e28b4406a67c31@198.51.100.10"}},
      {"e1014", {"7162f2d59d3285f1df6b93a9@198.18.0.13", "4b061d5849fef2a51b86c4c9@198.18.0.39"}},
      {"e1007", {"bec3490f379ba46955f9dcbc@198.18.0.5"}},
      {"e1009", {"23403e4e5aa65dde71f3ea53@198.18.0.27"}},
      {"e1018", {"53142daaf72d13847fcba752@198.18.0.39"}},
  };
  std::map<std::string, std::set<std::string>> got;
  for (const auto& n : lines(notify.str())) {
    auto& ids = got[n.at("person").get<std::string>()];
    for (const auto& c : n.at("calls")) {
      ids.insert(c.at("call_id").get<std::string>());
      // call_ids: both legs of 陈静's forwarded call (the icid joined them), one for the others.
      const auto& legs = c.at("call_ids");
      if (n.at("person") == "e1012") {
        EXPECT_EQ(legs, nlohmann::json::array({"fa5376e5b884ebeab34c614c@198.18.0.21",
                                               "395635bfa4e28b4406a67c31@198.51.100.10"}));
      } else {
        EXPECT_EQ(legs, nlohmann::json::array({c.at("call_id")}));
      }
    }
    EXPECT_EQ(n.at("channel"), "console");
    EXPECT_EQ(n.at("idempotency_key").get<std::string>().size(), 32u);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(res.counters.at("notifier.unknown_number"), 3u);
  EXPECT_EQ(res.counters.at("delivery.succeeded"), 5u);
  EXPECT_EQ(res.counters.at("delivery.dead_lettered"), 0u);
  // What the person reads: 周敏's 480 at 06:23:28Z is 14:23 in Shanghai; David Miller reads
  // English.
  EXPECT_NE(console.str().find("Zhao Li (+862583001004) 于 14:23 呼叫 +862583001007"),
            std::string::npos)
      << console.str();
  EXPECT_NE(console.str().find("Missed calls (1) — David Miller"), std::string::npos)
      << console.str();
}

// A real HTTP receiver on loopback that fails the first attempt: the webhook still gets exactly
// one accepted notification, signed, with the idempotency key as webhook-id, and --notify-out
// records it once.
TEST(NotifyReplay, WebhookDeliveredOnceAfterAFailure) {
  httplib::Server server;
  std::mutex mu;
  std::vector<httplib::Request> seen;
  server.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(req);
    res.status = seen.size() == 1 ? 503 : 204;
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread t([&] { server.listen_after_bind(); });
  for (int i = 0; i < 500 && !server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // bounded wait for the listener
  }
  ASSERT_TRUE(server.is_running());

  setenv("MCN_TEST_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
  mcn::app::Config cfg = mcn::app::loadConfigFile((kSrc / "pcaps/fixtures.toml").string());
  cfg.notify.delivery.backoff_base_ms = 50;  // wall-clock retry in a replay: keep it short
  cfg.notify.dead_letter_path = (fs::temp_directory_path() / "mcn-test-dead.jsonl").string();
  auto dir = loadPeople(R"(
[[person]]
id = "e1013"
name = "Zhang Wei"
numbers = ["1013"]
[person.preferences]
merge_window = "0"
[[person.channel]]
id = "hook"
kind = "webhook"
target = "http://127.0.0.1:)" + std::to_string(port) + R"(/hook"
secret_ref = "env:MCN_TEST_WEBHOOK_SECRET"
)",
                        cfg);
  std::ostringstream notify;
  mcn::app::ReplayOutputs out;
  out.subscribers = dir;
  out.notify = &notify;
  auto res = mcn::app::runReplay({(kSrc / "pcaps/cancelled.pcap").string()}, cfg, out);
  server.stop();
  t.join();

  ASSERT_EQ(seen.size(), 2u);
  const std::string id = seen[0].get_header_value("webhook-id");
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(seen[1].get_header_value("webhook-id"), id);  // a retry, not a new message
  EXPECT_EQ(seen[1].get_header_value("webhook-signature").rfind("v1,", 0), 0u);
  auto body = nlohmann::json::parse(seen[1].body);
  EXPECT_NE(body.dump().find("+862583001013"), std::string::npos) << body.dump();
  auto delivered = lines(notify.str());
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].at("idempotency_key"), id);
  EXPECT_EQ(delivered[0].at("person"), "e1013");
  EXPECT_EQ(res.counters.at("delivery.retried"), 1u);
  EXPECT_EQ(res.counters.at("delivery.succeeded"), 1u);
}

}  // namespace
