// The durable outbox (outbox.h): what a restarted mcn still owes after a crash, read back from a
// journal that may end in a torn record or hold a flipped bit; and the local notifier resuming
// from it with the original idempotency keys. The disk-trouble cases mount a tiny tmpfs (root).

#include "mcn/notifier/outbox.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mcn/notifier/idempotency.h"
#include "mcn/notifier/local_notifier.h"

namespace mcn::notifier {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kSec = 1000000;
constexpr int64_t kT0 = 1795308000 * kSec;

calls::CallRecord rec(std::string call_id, std::string callee, int64_t started) {
  calls::CallRecord r;
  r.call_id = std::move(call_id);
  r.call_ids = {r.call_id};
  r.caller = "+8613900101230";
  r.callee = std::move(callee);
  r.outcome = calls::Outcome::kCancelled;
  r.missed = true;
  r.started_at_us = started;
  r.ended_at_us = started + 10 * kSec;
  r.ring_ms = 9000;
  return r;
}

Notification note(const std::vector<calls::CallRecord>& cs) {
  Notification n;
  n.person_id = "e1013";
  n.person_name = "王芳";
  n.channel.id = "hook";
  n.channel.kind = subscribers::ChannelKind::kWebhook;
  n.channel.target = "http://127.0.0.1:9/hook";
  n.channel.secret_ref = "env:X";
  n.channel.options = {{"a", "b"}};
  n.idempotency_key = idempotencyKey(n.person_id, cs);
  n.calls = cs;
  n.title = "未接来电";
  n.text = "text";
  n.created_at_us = kT0;
  return n;
}

std::map<std::string, uint64_t> counters(const Outbox& o) {
  std::map<std::string, uint64_t> m;
  o.forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
  return m;
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mcn_outbox_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "journal").string();
  }
  void TearDown() override {
    ::umount2(dir_.c_str(), MNT_DETACH);
    fs::remove_all(dir_);
  }
  // Three calls in, the first sent in a notification (window closed), the third filtered.
  void writeHistory() {
    Outbox o(path_, 100, clock_);
    OutboxRecovered r;
    ASSERT_TRUE(o.open(r, nullptr));
    o.callIn(a_, kT0);
    o.callIn(b_, kT0);
    o.callIn(c_, kT0);
    o.produced(note({a_}));
    o.windowClosed({a_});
    o.callDropped(c_);
  }
  std::string bytes() {
    std::ifstream f(path_, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  void setBytes(const std::string& s) {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    f << s;
  }
  fs::path dir_;
  std::string path_;
  ManualClock clock_{kT0};
  calls::CallRecord a_ = rec("a@x", "+862583001013", kT0);
  calls::CallRecord b_ = rec("b@x", "+862583001013", kT0 + kSec);
  calls::CallRecord c_ = rec("c@x", "+862583001099", kT0 + 2 * kSec);
};

TEST_F(OutboxTest, RoundTripGivesBackWhatIsStillOwed) {
  writeHistory();
  Outbox o(path_, 100, clock_);
  OutboxRecovered r;
  ASSERT_TRUE(o.open(r, nullptr));
  ASSERT_EQ(r.calls.size(), 1u);  // a is in the notification, c was filtered
  EXPECT_EQ(r.calls[0], b_);
  ASSERT_EQ(r.notifications.size(), 1u);
  const Notification want = note({a_});
  const Notification& got = r.notifications[0];
  EXPECT_EQ(got.idempotency_key, want.idempotency_key);
  EXPECT_EQ(got.person_id, want.person_id);
  EXPECT_EQ(got.person_name, want.person_name);
  EXPECT_EQ(got.channel, want.channel);
  EXPECT_EQ(got.calls, want.calls);
  EXPECT_EQ(got.title, want.title);
  EXPECT_EQ(got.text, want.text);
  EXPECT_EQ(got.created_at_us, want.created_at_us);
  auto m = counters(o);
  EXPECT_EQ(m.at("notify.outbox_recovered_calls"), 1u);
  EXPECT_EQ(m.at("notify.outbox_recovered_notifications"), 1u);
  EXPECT_EQ(m.at("notify.outbox_corrupt_records"), 0u);

  // Delivered: the next start owes only b.
  o.finished(got);
  o.close();  // the process ends
  Outbox o2(path_, 100, clock_);
  OutboxRecovered r2;
  ASSERT_TRUE(o2.open(r2, nullptr));
  EXPECT_EQ(r2.notifications.size(), 0u);
  ASSERT_EQ(r2.calls.size(), 1u);
  EXPECT_EQ(r2.calls[0].call_id, "b@x");
}

// Two runs on one journal (two `mcn run` started from one directory with the default path)
// would each resend what the other owes: the second is refused, by name, until the first ends.
TEST_F(OutboxTest, OneProcessPerJournal) {
  writeHistory();
  auto first = std::make_unique<Outbox>(path_, 100, clock_);
  OutboxRecovered r1;
  ASSERT_TRUE(first->open(r1, nullptr));
  EXPECT_EQ(r1.calls.size(), 1u);
  Outbox second(path_, 100, clock_);
  OutboxRecovered r2;
  std::string error;
  EXPECT_FALSE(second.open(r2, &error));
  EXPECT_NE(error.find(path_ + " is in use by another mcn process"), std::string::npos) << error;
  EXPECT_TRUE(r2.calls.empty());
  first->close();
  EXPECT_TRUE(second.open(r2, &error)) << error;
  EXPECT_EQ(r2.calls.size(), 1u);  // what the first owed, still owed
}

TEST_F(OutboxTest, CompactionKeepsOnlyLiveRecords) {
  {
    Outbox o(path_, 100, clock_);
    OutboxRecovered r;
    ASSERT_TRUE(o.open(r, nullptr));
    for (int i = 0; i < 200; ++i) {
      auto c = rec("c" + std::to_string(i) + "@x", "+862583001013", kT0 + i * kSec);
      o.callIn(c, kT0);
      Notification n = note({c});
      o.produced(n);
      o.windowClosed({c});
      o.finished(n);
    }
    o.callIn(b_, kT0);
  }
  const size_t before = fs::file_size(path_);
  Outbox o(path_, 100, clock_);
  OutboxRecovered r;
  ASSERT_TRUE(o.open(r, nullptr));
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.notifications.size(), 0u);
  const size_t after = fs::file_size(path_);
  EXPECT_LT(after * 50, before) << before << " -> " << after;
  EXPECT_EQ(counters(o).at("notify.outbox_bytes"), after);
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
  // The compacted file reads back to the same thing, and new records append after it.
  o.callIn(c_, kT0);
  o.close();
  Outbox o2(path_, 100, clock_);
  OutboxRecovered r2;
  ASSERT_TRUE(o2.open(r2, nullptr));
  ASSERT_EQ(r2.calls.size(), 2u);
  EXPECT_EQ(r2.calls[0], b_);
  EXPECT_EQ(r2.calls[1], c_);
}

TEST_F(OutboxTest, TornTailIsCutAndCounted) {
  {
    Outbox o(path_, 100, clock_);
    OutboxRecovered r;
    ASSERT_TRUE(o.open(r, nullptr));
    o.callIn(a_, kT0);
    o.callIn(b_, kT0);
  }
  std::string s = bytes();
  const std::string last = Outbox::frame("x");  // any record is at least 9 bytes
  setBytes(s.substr(0, s.size() - 5));          // the kill landed inside b's write
  Outbox o(path_, 100, clock_);
  OutboxRecovered r;
  ASSERT_TRUE(o.open(r, nullptr));
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0], a_);
  auto m = counters(o);
  EXPECT_EQ(m.at("notify.outbox_corrupt_records"), 1u);
  EXPECT_GT(m.at("notify.outbox_corrupt_bytes"), last.size());
  // Rewritten without the torn bytes: the next start finds nothing damaged.
  o.close();
  Outbox o2(path_, 100, clock_);
  OutboxRecovered r2;
  ASSERT_TRUE(o2.open(r2, nullptr));
  EXPECT_EQ(r2.calls.size(), 1u);
  EXPECT_EQ(counters(o2).at("notify.outbox_corrupt_records"), 0u);
}

TEST_F(OutboxTest, BitFlipLosesOnlyTheDamagedRecord) {
  auto d = rec("d@x", "+862583001013", kT0 + 3 * kSec);
  {
    Outbox o(path_, 100, clock_);
    OutboxRecovered r;
    ASSERT_TRUE(o.open(r, nullptr));
    o.callIn(a_, kT0);
    o.callIn(b_, kT0);
    o.callIn(d, kT0);
  }
  std::string s = bytes();
  // Inside b's record: past a's record and b's 8-byte header.
  const size_t a_len =
      8 + (static_cast<unsigned char>(s[0]) | static_cast<unsigned char>(s[1]) << 8 |
           static_cast<unsigned char>(s[2]) << 16);
  s[a_len + 8 + 20] ^= 0x04;
  setBytes(s);
  Outbox o(path_, 100, clock_);
  OutboxRecovered r;
  ASSERT_TRUE(o.open(r, nullptr));
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0], a_);
  EXPECT_EQ(r.calls[1], d);  // found again after the damaged stretch
  EXPECT_EQ(counters(o).at("notify.outbox_corrupt_records"), 1u);
}

TEST_F(OutboxTest, GarbageFileIsSkippedNotFatal) {
  std::string junk(5000, '\0');
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 7919) & 0xff);
  junk[0] = 0x7f;  // a huge length field first
  junk[3] = 0x7f;
  setBytes(junk);
  Outbox o(path_, 100, clock_);
  OutboxRecovered r;
  ASSERT_TRUE(o.open(r, nullptr));
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(counters(o).at("notify.outbox_corrupt_bytes"), junk.size());
  EXPECT_EQ(fs::file_size(path_), 0u);
}

TEST_F(OutboxTest, SyncIsBatchedOnTheInterval) {
  Outbox o(path_, 100, clock_);
  OutboxRecovered r;
  ASSERT_TRUE(o.open(r, nullptr));
  o.callIn(a_, kT0);
  o.callIn(b_, kT0);
  o.maybeSync();
  EXPECT_EQ(counters(o).at("notify.outbox_syncs"), 0u);
  clock_.advance(100 * 1000);
  o.maybeSync();
  EXPECT_EQ(counters(o).at("notify.outbox_syncs"), 1u);
  clock_.advance(100 * 1000);
  o.maybeSync();  // nothing written since
  EXPECT_EQ(counters(o).at("notify.outbox_syncs"), 1u);
  EXPECT_EQ(counters(o).at("notify.outbox_records"), 2u);
}

TEST_F(OutboxTest, WorkersJournalWhileTheNotifierSyncs) {
  // `mcn run`: each worker journals the calls it decides; the notifier thread closes windows and
  // syncs. Every call comes back once, in no particular order across workers.
  auto wall = systemClock();
  {
    Outbox o(path_, 0, *wall);
    OutboxRecovered r;
    ASSERT_TRUE(o.open(r, nullptr));
    std::vector<std::thread> workers;
    for (int w = 0; w < 3; ++w) {
      workers.emplace_back([&o, w] {
        for (int i = 0; i < 100; ++i) {
          o.callIn(rec("w" + std::to_string(w) + "-" + std::to_string(i), "+862583001013", i), kT0);
        }
      });
    }
    for (int i = 0; i < 50; ++i) {
      o.windowClosed({rec("w0-" + std::to_string(i), "+862583001013", i)});
      o.maybeSync();
      o.syncNow();
    }
    for (auto& t : workers) t.join();
  }
  Outbox o(path_, 100, clock_);
  OutboxRecovered r;
  ASSERT_TRUE(o.open(r, nullptr));
  std::set<std::string> ids;
  for (const auto& c : r.calls) ids.insert(c.call_id);
  // w0-0..49 were consumed if the notifier saw them journaled first; the others are all owed.
  EXPECT_GE(r.calls.size(), 250u);
  EXPECT_EQ(ids.size(), r.calls.size());
  for (int w = 1; w < 3; ++w) {
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(ids.count("w" + std::to_string(w) + "-" + std::to_string(i)), 1u);
    }
  }
  EXPECT_EQ(counters(o).at("notify.outbox_corrupt_records"), 0u);
}

TEST_F(OutboxTest, CounterNamesAreStable) {
  Outbox o(path_, 100, clock_);
  std::vector<std::string> names;
  o.forEachCounter([&](std::string_view k, uint64_t) { names.emplace_back(k); });
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "notify.outbox_records", "notify.outbox_syncs", "notify.outbox_write_errors",
                "notify.outbox_unprotected", "notify.outbox_recovered_calls",
                "notify.outbox_recovered_notifications", "notify.outbox_corrupt_records",
                "notify.outbox_corrupt_bytes", "notify.outbox_compactions", "notify.outbox_bytes",
                "notify.outbox_live_calls", "notify.outbox_live_notifications"}));
  // The local notifier adds these two (the dead-letter one with or without an outbox).
  NotifyConfig cfg;
  cfg.outbox_path = path_;
  LocalNotifier n(cfg, subscribers::Directory::build({}, 1), nullptr, nullptr, &clock_);
  std::map<std::string, uint64_t> m;
  n.forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
  EXPECT_EQ(m.count("notify.dead_letter_write_errors"), 1u);
  EXPECT_EQ(m.count("notify.outbox_records"), 0u) << "no outbox until openOutbox()";
  ASSERT_TRUE(n.openOutbox(kT0, nullptr));
  m.clear();
  n.forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
  EXPECT_EQ(m.count("notify.outbox_kept_at_shutdown"), 1u);
  EXPECT_EQ(m.count("notify.outbox_unprotected"), 1u);
}

// --- the local notifier resuming from the journal

subscribers::Person wang(const std::string& jsonl) {
  subscribers::Person p;
  p.id = "e1013";
  p.name = "王芳";
  p.numbers = {"+862583001013"};
  subscribers::Channel ch;
  ch.id = "file";
  ch.kind = subscribers::ChannelKind::kJsonl;
  ch.target = jsonl;
  p.channels = {ch};
  p.prefs.time_zone = "Asia/Shanghai";
  p.prefs.merge_window_ms = 60000;
  p.prefs.min_ring_ms = 0;
  return p;
}

std::vector<nlohmann::json> lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  for (std::string l; std::getline(f, l);) {
    if (!l.empty()) out.push_back(nlohmann::json::parse(l));
  }
  return out;
}

TEST_F(OutboxTest, RestartResumesOpenWindowsAndUndeliveredNotifications) {
  // The channel's file is in a directory that does not exist until run 3.
  const std::string out = (dir_ / "missing-dir" / "out.jsonl").string();
  NotifyConfig cfg;
  cfg.outbox_path = path_;
  cfg.dead_letter_path = (dir_ / "dead.jsonl").string();
  cfg.delivery.max_attempts = 100;
  {
    // Run 1: two calls in Wang's open window when the process stops.
    LocalNotifier n(cfg, subscribers::Directory::build({wang(out)}, 1), nullptr, nullptr, &clock_);
    ASSERT_TRUE(n.openOutbox(kT0, nullptr));
    n.onMissedCall(a_, kT0);
    n.onMissedCall(b_, kT0 + kSec);
    n.onMissedCall(c_, kT0 + kSec);  // nobody's number: never owed
  }
  std::string first_key;
  {
    // Run 2: the window is rebuilt; it closes into a notification the channel cannot take yet
    // (its directory is missing), and the process stops again.
    LocalNotifier n(cfg, subscribers::Directory::build({wang(out)}, 1), nullptr, nullptr, &clock_);
    ASSERT_TRUE(n.openOutbox(kT0 + 10 * kSec, nullptr));
    std::map<std::string, uint64_t> m;
    n.forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
    EXPECT_EQ(m.at("notify.outbox_recovered_calls"), 2u);
    clock_.set(kT0 + 100 * kSec);
    n.advanceTo(kT0 + 100 * kSec);
    n.poll(0);
    EXPECT_EQ(n.pending(), 1u);
  }
  EXPECT_FALSE(fs::exists(cfg.dead_letter_path)) << "kept in the outbox, not dead-lettered";
  fs::create_directories(dir_ / "missing-dir");
  {
    // Run 3: delivered as it was made: the same key, both calls, once.
    LocalNotifier n(cfg, subscribers::Directory::build({wang(out)}, 1), nullptr, nullptr, &clock_);
    ASSERT_TRUE(n.openOutbox(kT0 + 200 * kSec, nullptr));
    EXPECT_TRUE(n.finish(kT0 + 200 * kSec, 1000));
  }
  auto got = lines(out);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["idempotency_key"],
            idempotencyKey("e1013", std::vector<std::string>{"a@x", "b@x"}));
  {
    // Run 4: nothing owed any more.
    LocalNotifier n(cfg, subscribers::Directory::build({wang(out)}, 1), nullptr, nullptr, &clock_);
    ASSERT_TRUE(n.openOutbox(kT0 + 300 * kSec, nullptr));
    EXPECT_TRUE(n.idle());
    EXPECT_TRUE(n.finish(kT0 + 300 * kSec, 1000));
  }
  EXPECT_EQ(lines(out).size(), 1u);
}

// --- disk trouble (root: a tmpfs of its own)

bool mountTmpfs(const fs::path& at, const char* opts, unsigned long flags = 0) {
  return ::mount("tmpfs", at.c_str(), "tmpfs", flags, opts) == 0;
}

TEST_F(OutboxTest, FullDiskCountsAndDeliveryGoesOn) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  ASSERT_TRUE(mountTmpfs(dir_, "size=64k")) << std::strerror(errno);
  Outbox o(path_, 0, clock_);
  OutboxRecovered r;
  ASSERT_TRUE(o.open(r, nullptr));
  o.callIn(a_, kT0);
  {
    std::ofstream fill(dir_ / "filler", std::ios::binary);
    std::string block(4096, 'x');
    while (fill.write(block.data(), block.size())) {
    }
  }
  // The journal's last page may still have room for a record or two.
  size_t written = 0;
  for (int i = 0; i < 50 && counters(o).at("notify.outbox_write_errors") == 0; ++i) {
    o.callIn(rec("x" + std::to_string(i) + "@x", "+862583001013", kT0 + i), kT0);
    if (counters(o).at("notify.outbox_write_errors") == 0) ++written;
  }
  auto m = counters(o);
  EXPECT_EQ(m.at("notify.outbox_write_errors"), 1u);
  EXPECT_EQ(m.at("notify.outbox_unprotected"), 1u);
  EXPECT_EQ(m.at("notify.outbox_records"), 1u + written);
  // Room again: journaling resumes; the file holds no half record.
  fs::remove(dir_ / "filler");
  o.callIn(c_, kT0);
  EXPECT_EQ(counters(o).at("notify.outbox_records"), 2u + written);
  o.close();
  Outbox o2(path_, 0, clock_);
  OutboxRecovered r2;
  ASSERT_TRUE(o2.open(r2, nullptr));
  ASSERT_EQ(r2.calls.size(), 2u + written);
  EXPECT_EQ(r2.calls.front(), a_);
  EXPECT_EQ(r2.calls.back(), c_);
  EXPECT_EQ(counters(o2).at("notify.outbox_corrupt_records"), 0u);
}

TEST_F(OutboxTest, ReadOnlyDiskNotifiesFromMemory) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  ASSERT_TRUE(mountTmpfs(dir_, "size=64k", MS_RDONLY)) << std::strerror(errno);
  const std::string out =
      (fs::temp_directory_path() / ("mcn_outbox_ro_" + std::to_string(::getpid()) + ".jsonl"))
          .string();
  NotifyConfig cfg;
  cfg.outbox_path = path_;
  cfg.dead_letter_path = (dir_ / "dead.jsonl").string();
  auto p = wang(out);
  p.prefs.merge_window_ms = 0;
  LocalNotifier n(cfg, subscribers::Directory::build({p}, 1), nullptr, nullptr, &clock_);
  std::string error;
  EXPECT_FALSE(n.openOutbox(kT0, &error));
  EXPECT_NE(error.find("Read-only"), std::string::npos) << error;
  n.onMissedCall(a_, kT0);
  EXPECT_TRUE(n.finish(kT0 + kSec, 1000));
  std::map<std::string, uint64_t> m;
  n.forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
  EXPECT_EQ(m.at("notify.outbox_unprotected"), 1u);
  EXPECT_EQ(m.at("delivery.succeeded"), 1u);
  EXPECT_EQ(lines(out).size(), 1u);
  fs::remove(out);
}

TEST_F(OutboxTest, ReadOnlyDeadLetterFileIsCountedAndKeptInTheOutbox) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  const fs::path ro = dir_ / "ro";
  fs::create_directories(ro);
  ASSERT_TRUE(mountTmpfs(ro, "size=64k", MS_RDONLY)) << std::strerror(errno);
  NotifyConfig cfg;
  cfg.outbox_path = path_;
  cfg.dead_letter_path = (ro / "dead.jsonl").string();
  cfg.delivery.max_attempts = 1;
  auto p = wang((dir_ / "no-such-dir" / "x.jsonl").string());
  p.prefs.merge_window_ms = 0;
  {
    LocalNotifier n(cfg, subscribers::Directory::build({p}, 1), nullptr, nullptr, &clock_);
    ASSERT_TRUE(n.openOutbox(kT0, nullptr));
    n.onMissedCall(a_, kT0);
    n.finish(kT0 + kSec, 1000);
    std::map<std::string, uint64_t> m;
    n.forEachCounter([&](std::string_view k, uint64_t v) { m[std::string(k)] = v; });
    EXPECT_EQ(m.at("delivery.dead_lettered"), 1u);
    EXPECT_EQ(m.at("notify.dead_letter_write_errors"), 1u);
  }
  ::umount2(ro.c_str(), MNT_DETACH);
  // Not lost: the next start still owes it.
  Outbox o(path_, 0, clock_);
  OutboxRecovered r;
  ASSERT_TRUE(o.open(r, nullptr));
  EXPECT_EQ(r.notifications.size(), 1u);
}

}  // namespace
}  // namespace mcn::notifier
