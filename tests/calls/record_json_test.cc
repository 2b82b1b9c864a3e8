// The output contract's JSON (DESIGN.md "Output contract"), written out by hand: key order,
// nulls, withheld callers, millisecond truncation.

#include "mcn/calls/record_json.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

namespace mcn::calls {
namespace {

CallRecord cancelled() {
  CallRecord r;
  r.call_id = "a84b4c76e66710@192.0.2.10";
  r.call_ids = {"a84b4c76e66710@192.0.2.10"};
  r.correlation = "icid-7f3a";
  r.caller = "+8613900101230";
  r.caller_name = "Li Lei";
  r.callee = "+862583001013";
  r.outcome = Outcome::kCancelled;
  r.missed = true;
  r.status = 487;
  r.reason = "Request Terminated";
  r.started_at_us = 1'795'328'495'053'999;  // 2026-11-22T06:21:35.053999Z
  r.ended_at_us = 1'795'328'501'553'000;
  r.ring_ms = 6300;
  r.legs = 1;
  r.transport = capture::Transport::kUdp;
  return r;
}

TEST(RecordJson, ContractKeysInOrder) {
  EXPECT_EQ(recordToJson(cancelled()),
            R"({"call_id":"a84b4c76e66710@192.0.2.10","call_ids":["a84b4c76e66710@192.0.2.10"],)"
            R"("correlation":"icid-7f3a",)"
            R"("caller":"+8613900101230","caller_name":"Li Lei","caller_withheld":false,)"
            R"("callee":"+862583001013","outcome":"cancelled","missed":true,"status":487,)"
            R"("reason":"Request Terminated","forwarded_to":null,)"
            R"("started_at":"2026-11-22T06:21:35.053Z","ended_at":"2026-11-22T06:21:41.553Z",)"
            R"("ring_ms":6300,"legs":1,"transport":"udp"})");
}

// HEP calls name their agents after transport; other records are unchanged (the test above).
TEST(RecordJson, CaptureIdsOnlyWhenPresentAndLast) {
  CallRecord r = cancelled();
  r.capture_ids = {2001, 4294967295u};
  const std::string j = recordToJson(r);
  EXPECT_EQ(j.substr(j.find(R"("transport")")),
            R"("transport":"udp","capture_ids":[2001,4294967295]})");
  r.caller_name = "\xff";  // the slow path writes the same field
  const std::string slow = recordToJson(r);
  EXPECT_EQ(slow.substr(slow.find(R"("transport")")),
            R"("transport":"udp","capture_ids":[2001,4294967295]})");
}

// Every leg's Call-ID, the first leg first, right after call_id; the slow path (a Call-ID that
// is not printable ASCII) writes the same list.
TEST(RecordJson, CallIdsListEveryLegInOrder) {
  CallRecord r = cancelled();
  r.call_id = "b2bua-leg-2@10.0.0.5";  // this number was first targeted on the second leg
  r.call_ids = {"a84b4c76e66710@192.0.2.10", "b2bua-leg-2@10.0.0.5"};
  r.legs = 2;
  const std::string j = recordToJson(r);
  EXPECT_EQ(j.rfind(R"({"call_id":"b2bua-leg-2@10.0.0.5",)"
                    R"("call_ids":["a84b4c76e66710@192.0.2.10","b2bua-leg-2@10.0.0.5"],)"
                    R"("correlation":)",
                    0),
            0u)
      << j;
  r.call_ids.back() = "leg\x01";
  const std::string slow = recordToJson(r);
  EXPECT_NE(slow.find(R"("call_ids":["a84b4c76e66710@192.0.2.10","leg\u0001"],"correlation")"),
            std::string::npos)
      << slow;
}

TEST(RecordJson, WithheldCallerAndEmptyFieldsAreNull) {
  CallRecord r = cancelled();
  r.caller_withheld = true;  // the number is known to the network, never shown
  r.correlation.reset();
  r.reason.clear();
  r.forwarded_to = "+862583009999";
  const std::string j = recordToJson(r);
  EXPECT_NE(j.find(R"("correlation":null,"caller":null,"caller_name":null,"caller_withheld":true)"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find(R"("reason":null,"forwarded_to":"+862583009999")"), std::string::npos) << j;
  EXPECT_EQ(j.find("13900101230"), std::string::npos) << j;
}

TEST(RecordJson, InvalidUtf8IsReplaced) {
  CallRecord r = cancelled();
  r.caller_name = "Li \xff";
  EXPECT_NE(recordToJson(r).find("\"caller_name\":\"Li \xEF\xBF\xBD\""), std::string::npos);
}

// Strings are checked 16 bytes at a time before they are copied: a character to escape, a
// control character, DEL or UTF-8 is written as JSON says wherever it falls against the blocks.
TEST(RecordJson, EscapesWhereverTheyFall) {
  for (const std::string odd : {"\"", "\\", "\x01", "\x7f", "\xc3\xa9", "\n"}) {
    for (size_t pos = 0; pos <= 40; ++pos) {
      CallRecord r = cancelled();
      r.caller_name = std::string(40, 'n');
      r.caller_name.insert(pos, odd);
      const std::string expected =
          R"("caller_name":)" + nlohmann::json(r.caller_name).dump() + R"(,"caller_withheld")";
      EXPECT_NE(recordToJson(r).find(expected), std::string::npos) << pos << " " << expected;
    }
  }
  CallRecord r = cancelled();
  r.caller_name = std::string(33, 'x') + "\"q\"" + std::string(20, 'y') + "\\";
  EXPECT_NE(recordToJson(r).find(R"("caller_name":")" + std::string(33, 'x') + R"(\"q\")" +
                                 std::string(20, 'y') + R"(\\",)"),
            std::string::npos);
}

TEST(RecordJson, IsoTimeTruncatesToMilliseconds) {
  EXPECT_EQ(isoTime(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(isoTime(999), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(isoTime(1'795'328'495'999'999), "2026-11-22T06:21:35.999Z");
  EXPECT_EQ(isoTime(-1), "1969-12-31T23:59:59.999Z");  // floor, not a negative millisecond
  // Leap days and century rules (2000 is a leap year, 2100 is not), by hand.
  EXPECT_EQ(isoTime(951'782'400'000'000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(isoTime(1'709'251'199'123'456), "2024-02-29T23:59:59.123Z");
  EXPECT_EQ(isoTime(4'107'542'400'000'000), "2100-03-01T00:00:00.000Z");
  EXPECT_EQ(isoTime(253'402'300'799'999'999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(isoTime(-62'167'219'200'000'000), "0000-01-01T00:00:00.000Z");
}

// The digits are written without gmtime: over a seeded sweep of instants (1900..2200, and the
// ends of the formatted range) they agree with gmtime_r.
TEST(RecordJson, IsoTimeAgreesWithGmtime) {
  uint64_t state = 7;
  for (int i = 0; i < 200'000; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const int64_t us =
        static_cast<int64_t>(state >> 8) % 9'467'280'000'000'000 - 2'208'988'800'000'000;
    const int64_t ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
    const int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    const std::time_t t = secs;
    std::tm tm{};
    ASSERT_NE(gmtime_r(&t, &tm), nullptr);
    char want[96];
    std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms - secs * 1000));
    ASSERT_EQ(isoTime(us), want) << us;
  }
}

}  // namespace
}  // namespace mcn::calls
