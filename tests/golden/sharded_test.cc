// The live daemon shards messages over parse+track workers (app/src/live_shard.h), each a SipStage
// on its live clock (app/src/pipeline.h). Whatever the number of workers, every fixture must give
// the records a single worker gives, and a single worker the hand-written expectations the
// golden test checks replay against: legs joined only by icid-value or the correlation header
// (b2bua_forward_no_answer, the MGCF legs of the sipp fixtures), or by nothing but caller, callee
// and timing (calls.leg_join: the sipp_topoh_* and sipp_b2bua_* fixtures) must meet on one
// worker.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
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

// A frame read from a capture, owned (PcapFileSource's are valid only during its callback).
struct OwnedFrame {
  int64_t ts_us = 0;
  uint32_t wire_len = 0;
  int link_type = 0;
  std::vector<uint8_t> data;
};

std::vector<OwnedFrame> readFrames(const fs::path& pcap) {
  std::vector<OwnedFrame> frames;
  mcn::capture::PcapFileSource src(pcap.string());
  src.forEach([&](const mcn::capture::Frame& f) {
    frames.push_back({f.ts_us, f.wire_len, f.link_type, {f.data.begin(), f.data.end()}});
  });
  return frames;
}

// The live clock of a test: wall and monotonic time both follow the capture, so a LiveClock
// reads the packet time and never sees a step.
class CaptureTime final : public mcn::app::TimeSource {
 public:
  int64_t wallUs() const override { return now; }
  int64_t monoUs() const override { return now; }
  int64_t now = 0;
};

// Runs the frames through the live daemon's stages (app/src/pipeline.h): one FrameStage with
// the leg router, `workers` SipStages on their live clocks, every worker's clock advancing
// together as they all follow the system clock live. Returns every record, sorted (workers
// finish calls in their own order).
std::vector<std::string> shardedRecords(const std::vector<OwnedFrame>& input,
                                        const mcn::app::Config& cfg, uint32_t workers) {
  std::vector<std::string> records;
  CaptureTime time;
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
  mcn::app::ShardRouter router(workers, cfg.parser.correlation_header, cfg.tracker.leg_join);
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
  for (const OwnedFrame& f : input) {
    advance(f.ts_us);
    frames.onFrame({f.ts_us, f.wire_len, f.data, f.link_type});
  }
  frames.finish();
  for (auto& s : ws) s->finish(time.now);
  std::sort(records.begin(), records.end());
  return records;
}

std::vector<std::string> shardedRecords(const fs::path& pcap, const mcn::app::Config& cfg,
                                        uint32_t workers) {
  return shardedRecords(readFrames(pcap), cfg, workers);
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

// Issue 13: a mix of the real-stack recordings (every pcaps/sipp_* fixture replayed with
// fixtures.toml, over UDP: TCP streams of two recordings share addresses and would interleave),
// each shifted to start 2.5 s after the previous one, so some twenty calls of real kamailio, sipp
// B2BUA and topology-hiding traffic overlap in time. The sharded live path must give the records
// of one worker, and both must be the recordings' own hand-checked records (times shifted): no
// call of one recording joins or disturbs a call of another (their INVITEs from one caller to one
// number are more than calls.leg_join_window_ms apart).
TEST(ShardedRealStackMix, WorkersGiveTheRecordsOfOneAndOfEachRecording) {
  const mcn::app::Config cfg = mcn::app::loadConfigFile((kPcaps / "fixtures.toml").string());
  std::vector<OwnedFrame> mix;
  std::vector<nlohmann::json> want;
  int64_t start = 1'800'000'000'000'000;  // 2027-01-15T08:00:00Z
  size_t recordings = 0;
  std::set<std::string> call_ids;
  for (const std::string& file : fixtureNames()) {
    const fs::path stem = fs::path(file).stem();
    if (file.rfind("sipp_", 0) != 0 || fs::exists(kPcaps / (stem.string() + ".config.toml"))) {
      continue;
    }
    std::ifstream in(kPcaps / (stem.string() + ".expected.jsonl"));
    std::vector<nlohmann::json> records;
    bool tcp = false;
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      records.push_back(nlohmann::json::parse(line));
      tcp = tcp || records.back().value("transport", "") != "udp";
    }
    // Some fixtures are other recordings re-encapsulated or edited (sipp_answered_gtpu,
    // sipp_auth_retry_40s): their Call-IDs are the originals', one recording of each is enough.
    const bool copy = std::any_of(records.begin(), records.end(), [&](const nlohmann::json& r) {
      return call_ids.count(r.value("call_id", "")) != 0;
    });
    if (tcp || copy || records.empty()) continue;
    for (const nlohmann::json& r : records) {
      for (const auto& id : r["call_ids"]) call_ids.insert(id.get<std::string>());
    }
    std::vector<OwnedFrame> frames = readFrames(kPcaps / file);
    ASSERT_FALSE(frames.empty()) << file;
    const int64_t shift = start - frames.front().ts_us;
    for (OwnedFrame& f : frames) {
      f.ts_us += shift;
      mix.push_back(std::move(f));
    }
    for (nlohmann::json& r : records) {
      r.erase("started_at");  // shifted; ring_ms and every other field are not
      r.erase("ended_at");
      want.push_back(std::move(r));
    }
    start += 2'500'000;
    ++recordings;
  }
  ASSERT_GE(recordings, 15u);
  std::stable_sort(mix.begin(), mix.end(),
                   [](const OwnedFrame& a, const OwnedFrame& b) { return a.ts_us < b.ts_us; });
  const std::vector<std::string> one = shardedRecords(mix, cfg, 1);
  for (uint32_t workers : {2u, 4u, 7u}) {
    const std::vector<std::string> got = shardedRecords(mix, cfg, workers);
    EXPECT_TRUE(got == one) << workers << " workers: " << difference(got, one);
  }
  std::vector<std::string> got_fields, want_fields;
  for (const std::string& line : one) {
    nlohmann::json r = nlohmann::json::parse(line);
    r.erase("started_at");
    r.erase("ended_at");
    got_fields.push_back(r.dump());
  }
  for (const nlohmann::json& r : want) want_fields.push_back(r.dump());
  std::sort(got_fields.begin(), got_fields.end());
  std::sort(want_fields.begin(), want_fields.end());
  EXPECT_TRUE(got_fields == want_fields) << difference(got_fields, want_fields);
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
  EXPECT_EQ(mcn::app::findShardKeys("INVITE sip:a SIP/2.0\r\nReplaces: r-1@x ;to-tag=a\r\n\r\n", "")
                .replaces,
            "r-1@x");
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

// Call pickup (RFC 3891): the INVITE with Replaces, and every later message of its Call-ID
// whatever icid it carries, goes to the worker of the ringing call it names, so that call's
// tracker sees the pickup answered.
TEST(ShardRouter, AReplacesInviteAndItsDialogFollowTheCallItReplaces) {
  auto msg = [](const std::string& start, const std::string& call_id, const std::string& icid,
                const std::string& replaces) {
    std::string m = start + "\r\nCall-ID: " + call_id + "\r\n";
    if (!icid.empty()) m += "P-Charging-Vector: icid-value=" + icid + "\r\n";
    if (!replaces.empty()) m += "Replaces: " + replaces + ";to-tag=t1;from-tag=f1;early-only\r\n";
    return m + "CSeq: 1 INVITE\r\n\r\n";
  };
  for (uint32_t workers : {2u, 3u, 8u, 64u}) {
    mcn::app::ShardRouter router(workers, "");
    for (int call = 0; call < 200; ++call) {
      const std::string ringing = "ring-" + std::to_string(call) + "@ue";
      const std::string pickup = "pick-" + std::to_string(call) + "@desk";
      const uint32_t w = router.route(
          msg("INVITE sip:1013@x SIP/2.0", ringing, "icid-r" + std::to_string(call), ""));
      const std::string icid = "icid-p" + std::to_string(call);
      EXPECT_EQ(router.route(msg("INVITE sip:a@x SIP/2.0", pickup, icid, ringing)), w) << call;
      EXPECT_EQ(router.route(msg("SIP/2.0 200 OK", pickup, icid, "")), w) << call;
      EXPECT_EQ(router.route(msg("SIP/2.0 200 OK", pickup, "", "")), w) << call;
      EXPECT_EQ(router.route(msg("CANCEL sip:1013@x SIP/2.0", ringing, "", "")), w) << call;
    }
  }
}

// calls.leg_join: legs of one call share no key but their caller (RULES.md "Legs joined without
// a key"), so the Call-ID's first message picks the caller's worker, in any dial-plan form; every
// later message of the Call-ID follows it, even a BYE from the callee (From is then the callee).
TEST(ShardRouter, ByCallerLegsOfOneCallerMeetInAnyNumberForm) {
  auto msg = [](const std::string& call_id, const std::string& from, const std::string& icid) {
    std::string m =
        "INVITE sip:1013@pbx SIP/2.0\r\nFrom: " + from + ";tag=1\r\nCall-ID: " + call_id + "\r\n";
    if (!icid.empty()) m += "P-Charging-Vector: icid-value=" + icid + "\r\n";
    return m + "CSeq: 1 INVITE\r\n\r\n";
  };
  for (uint32_t workers : {2u, 3u, 8u, 64u}) {
    mcn::app::ShardRouter router(workers, "", true);
    for (int call = 0; call < 200; ++call) {
      const std::string ext = std::to_string(1000 + call);
      const std::string a = "a-" + std::to_string(call) + "@ue";
      const uint32_t wa = router.route(msg(a, "\"Li Lei\" <sip:" + ext + "@pbx>", "icid-x"));
      ASSERT_LT(wa, workers);
      // the masked leg: another Call-ID, no icid, the caller in E.164, compact From, tel URI
      EXPECT_EQ(router.route(msg("b-" + a, "<sip:+86258300" + ext + "@edge>", "")), wa);
      EXPECT_EQ(router.route("INVITE sip:x SIP/2.0\r\nf: <tel:+86258300" + ext +
                             ">;tag=2\r\ni: c-" + a + "\r\n\r\n"),
                wa);
      EXPECT_EQ(router.route(msg(a, "<sip:+862583009999@pbx>", "")), wa) << "callee's BYE";
    }
  }
  mcn::app::ShardKeys k = mcn::app::findShardKeys("BYE x SIP/2.0\r\nFrom: sip:anonymous@h\r\n", "");
  EXPECT_EQ(k.from_user, "anonymous");
}

// The router reads the caller as the tracker's leg join does: a request's P-Asserted-Identity
// (tel preferred) before From. A withheld caller's leg (From anonymous, PAI the number) and the
// leg a privacy service or an SBC left with the number in From meet on one worker.
TEST(ShardRouter, ByCallerReadsTheAssertedIdentityOfRequests) {
  for (uint32_t workers : {2u, 3u, 8u, 64u}) {
    mcn::app::ShardRouter router(workers, "", true);
    for (int call = 0; call < 200; ++call) {
      const std::string ext = std::to_string(1000 + call);
      const std::string n = std::to_string(call);
      const uint32_t a = router.route(
          "INVITE sip:1013@pbx SIP/2.0\r\nFrom: <sip:anonymous@anonymous.invalid>;tag=1\r\n"
          "P-Asserted-Identity: \"Li, Lei\" <sip:+86258300" +
          ext + "@ims>, <tel:+86258300" + ext + ">\r\nCall-ID: a-" + n + "\r\n\r\n");
      const uint32_t b = router.route("INVITE sip:1013@edge SIP/2.0\r\nFrom: <sip:" + ext +
                                      "@pbx>;tag=2\r\nCall-ID: b-" + n + "\r\n\r\n");
      EXPECT_EQ(a, b) << call;
    }
  }
  mcn::app::ShardKeys k = mcn::app::findShardKeys(
      "INVITE x SIP/2.0\r\nP-Asserted-Identity: <sip:+8613900101230@h>, <tel:+8613900101231>\r\n",
      "");
  EXPECT_EQ(k.asserted_user, "+8613900101231");
  // A response's PAI names whoever answered, not the caller.
  k = mcn::app::findShardKeys("SIP/2.0 200 OK\r\nP-Asserted-Identity: <sip:1013@h>\r\n", "");
  EXPECT_EQ(k.asserted_user, "");
  k = mcn::app::findShardKeys("INVITE x SIP/2.0\r\nP-Asserted-Identity: <sip:anonymous@h>\r\n", "");
  EXPECT_EQ(k.asserted_user, "");
}

TEST(ShardRouter, OneWorkerTakesEverything) {
  mcn::app::ShardRouter router(1, "");
  EXPECT_EQ(router.route("BYE sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n"), 0u);
}

}  // namespace
