// The live daemon shards messages over parse+track workers (app/src/live_shard.h), each a SipStage
// on its live clock (app/src/pipeline.h). Whatever the number of workers, every fixture must give
// the records a single worker gives, and a single worker the hand-written expectations the
// golden test checks replay against: legs joined only by icid-value or the correlation header
// (b2bua_forward_no_answer, the MGCF legs of the sipp fixtures) must meet on one worker.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../../app/src/live_clock.h"
#include "../../app/src/live_shard.h"
#include "../../app/src/pipeline.h"
#include "fixtures.h"
#include "mcn/app/config.h"
#include "mcn/calls/record_json.h"
#include "mcn/capture/pcap_source.h"

namespace fs = std::filesystem;

namespace {

using mcn::golden::fixtureConfig;
using mcn::golden::fixtureNames;
using mcn::golden::kPcaps;

// The live clock of a test: wall and monotonic time both follow the capture, so a LiveClock
// reads the packet time and never sees a step.
class CaptureTime final : public mcn::app::TimeSource {
 public:
  int64_t wallUs() const override { return now; }
  int64_t monoUs() const override { return now; }
  int64_t now = 0;
};

// Runs the capture through the live daemon's stages (app/src/pipeline.h): one FrameStage with
// the leg router, `workers` SipStages on their live clocks, every worker's clock advancing
// together as they all follow the system clock live. Returns every record, sorted (workers
// finish calls in their own order).
std::vector<std::string> shardedRecords(const fs::path& pcap, const mcn::app::Config& cfg,
                                        uint32_t workers) {
  std::vector<std::string> records;
  CaptureTime time;
  mcn::capture::PcapFileSource src(pcap.string());
  std::vector<std::unique_ptr<mcn::app::LiveClock>> clocks;
  std::vector<std::unique_ptr<mcn::app::SipStage>> ws;
  bool started = false;
  auto start = [&](int64_t first_ts) {
    time.now = first_ts;
    for (uint32_t w = 0; w < workers; ++w) {
      clocks.push_back(std::make_unique<mcn::app::LiveClock>(time));
      ws.push_back(std::make_unique<mcn::app::SipStage>(
          cfg.parser, cfg.tracker, clocks.back().get(),
          [&](mcn::calls::CallRecord&& rec) { records.push_back(mcn::calls::recordToJson(rec)); }));
    }
    started = true;
  };
  mcn::app::ShardRouter router(workers, cfg.parser.correlation_header);
  // Live time passes with or without SIP: every frame moves it (as replay's end of file does).
  auto advance = [&](int64_t ts) {
    if (!started) start(ts);
    if (ts > time.now) {
      time.now = ts;
      for (auto& s : ws) s->tick();
    }
  };
  mcn::app::FrameStage frames(cfg.decoder, &router, [&](uint32_t w, mcn::capture::SipPayload&& p) {
    advance(p.ts_us);
    ws[w]->onPayload(p);
  });
  src.forEach([&](const mcn::capture::Frame& f) {
    advance(f.ts_us);
    frames.onFrame(f);
  });
  frames.finish();
  for (auto& s : ws) s->finish(time.now);
  std::sort(records.begin(), records.end());
  return records;
}

// Both sorted. Names the records one side has and the other lacks (a few), not the whole lists.
std::string difference(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  std::vector<std::string> extra, missing;
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                      std::back_inserter(missing));
  std::string out = std::to_string(extra.size()) + " records only here, " +
                    std::to_string(missing.size()) + " only with one worker";
  for (size_t i = 0; i < std::min<size_t>(3, extra.size()); ++i) out += "\n  here: " + extra[i];
  for (size_t i = 0; i < std::min<size_t>(3, missing.size()); ++i) {
    out += "\n  one worker: " + missing[i];
  }
  return out;
}

class Sharded : public ::testing::TestWithParam<std::string> {};

TEST_P(Sharded, AnyNumberOfWorkersGivesTheRecordsOfOne) {
  const std::string file = GetParam();
  mcn::app::Config cfg = fixtureConfig(file);
  const std::vector<std::string> one = shardedRecords(kPcaps / file, cfg, 1);
  ASSERT_FALSE(one.empty()) << file;
  for (uint32_t workers : {2u, 3u, 4u, 5u, 7u, 8u}) {
    const std::vector<std::string> got = shardedRecords(kPcaps / file, cfg, workers);
    EXPECT_TRUE(got == one) << file << " with " << workers << " workers: " << difference(got, one);
  }
}

// The live worker path on one worker gives the records replay must give: the fixture's
// hand-written expectations (as a set: the live worker emits in its own order).
TEST_P(Sharded, OneLiveWorkerGivesTheExpectedRecords) {
  const std::string file = GetParam();
  const fs::path expected_path = kPcaps / (fs::path(file).stem().string() + ".expected.jsonl");
  ASSERT_TRUE(fs::exists(expected_path)) << file;
  std::vector<std::string> want;
  std::ifstream in(expected_path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) want.push_back(nlohmann::json::parse(line).dump());
  }
  std::sort(want.begin(), want.end());
  std::vector<std::string> got;
  for (const auto& r : shardedRecords(kPcaps / file, fixtureConfig(file), 1)) {
    got.push_back(nlohmann::json::parse(r).dump());
  }
  std::sort(got.begin(), got.end());
  EXPECT_TRUE(got == want) << file << ": " << difference(got, want);
}

// The generator's IMS mix: B2BUA and MGCF legs joined by icid, forks, retransmissions and SPAN
// duplicates, hundreds of calls overlapping in time.
TEST(ShardedMix, FourWorkersGiveTheRecordsOfOne) {
  const fs::path dir = fs::temp_directory_path() / ("mcn_shard_mix_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path pcap = dir / "mix.pcap";
  const std::string cmd = std::string(MCN_BINARY_DIR) +
                          "/mcn-gen mix --calls 600 --seed 97 --dup-ratio 0.2 "
                          "--retrans-ratio 0.2 --threads 1 -o " +
                          pcap.string() + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  mcn::app::Config cfg = mcn::app::loadConfigFile((kPcaps / "fixtures.toml").string());
  const std::vector<std::string> one = shardedRecords(pcap, cfg, 1);
  const std::vector<std::string> four = shardedRecords(pcap, cfg, 4);
  fs::remove_all(dir);
  EXPECT_GE(one.size(), 600u);
  EXPECT_TRUE(four == one) << difference(four, one);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Sharded, ::testing::ValuesIn(fixtureNames()),
                         mcn::golden::fixtureParamName);

TEST(ShardRouter, ReadsTheKeysOfOneScan) {
  const std::string msg =
      "INVITE sip:+8613800138000@mgcf SIP/2.0\r\n"
      "i: leg-2@b2bua\r\n"
      "P-Charging-Vector: icid-generated-at=198.51.100.20; ICID-Value=\"abc;1\"\r\n"
      "X-CID: \"k-9\"\r\n"
      "Content-Length: 0\r\n"
      "\r\n"
      "Call-ID: body@x\r\n";
  mcn::app::ShardKeys k = mcn::app::findShardKeys(msg, "x-cid");
  EXPECT_EQ(k.call_id, "leg-2@b2bua");
  // RFC 7315 §5.6 grammar has icid-value first, but parameter order and case are not to be
  // relied on; the quoted value keeps its ';'.
  EXPECT_EQ(k.icid, "abc;1");
  EXPECT_EQ(k.correlation, "k-9");
}

TEST(ShardRouter, LegsWithOneIcidMeetAndKeylessMessagesFollowTheirLeg) {
  auto msg = [](const std::string& call_id, const std::string& icid) {
    std::string m = "SIP/2.0 180 Ringing\r\nCall-ID: " + call_id + "\r\n";
    if (!icid.empty()) m += "P-Charging-Vector: icid-value=" + icid + "\r\n";
    return m + "CSeq: 1 INVITE\r\n\r\n";
  };
  for (uint32_t workers : {2u, 3u, 8u, 64u}) {
    mcn::app::ShardRouter router(workers, "");
    for (int call = 0; call < 200; ++call) {
      const std::string icid = "icid-" + std::to_string(call);
      const std::string a = "a-" + std::to_string(call) + "@ue";
      const std::string b = "b-" + std::to_string(call) + "@b2bua";
      uint32_t wa = router.route(msg(a, icid));
      ASSERT_LT(wa, workers);
      EXPECT_EQ(router.route(msg(b, icid)), wa) << workers << " " << call;
      EXPECT_EQ(router.route(msg(a, "")), wa) << workers << " " << call;
      EXPECT_EQ(router.route(msg(b, "")), wa) << workers << " " << call;
    }
  }
}

TEST(ShardRouter, OneWorkerTakesEverything) {
  mcn::app::ShardRouter router(1, "");
  EXPECT_EQ(router.route("BYE sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n"), 0u);
}

}  // namespace
