// The wire form of a CallRecord between probe and notifier (record_wire.h): exact round trip,
// the plain contract form still readable, and bad input refused with the field named.

#include "mcn/calls/record_wire.h"

#include <gtest/gtest.h>

#include "mcn/calls/record_json.h"

namespace mcn::calls {
namespace {

CallRecord sample() {
  CallRecord r;
  r.call_id = "a84b4c76e66710@pc33.example.com";
  r.call_ids = {"a84b4c76e66710@pc33.example.com", "7f3a-b2bua-leg@as1.example.com"};
  r.correlation = "pcscf1.48a2a882e3ce2213af07";
  r.caller = "+8613900116294";
  r.caller_name = "张敏";
  r.callee = "+862583001001";
  r.outcome = Outcome::kCancelled;
  r.missed = true;
  r.status = 487;
  r.reason = "Call completed elsewhere";
  r.started_at_us = 1795328495053123;  // microseconds the contract's milliseconds would cut
  r.ended_at_us = 1795328501999999;
  r.ring_ms = 6100;
  r.legs = 2;
  r.transport = capture::Transport::kTcp;
  return r;
}

TEST(RecordWire, RoundTripsExactly) {
  CallRecord r = sample();
  auto back = recordFromWireJson(recordToWireJson(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
}

TEST(RecordWire, RoundTripsWithheldCallerForwardedAndNulls) {
  CallRecord r = sample();
  r.caller_withheld = true;  // the contract writes null; the wire keeps the raw values
  r.caller = "+8613900000000";
  r.caller_name = "Anonymous";
  r.correlation.reset();
  r.reason.clear();
  r.forwarded_to = "+862583009999";
  r.outcome = Outcome::kForwarded;
  r.transport = capture::Transport::kSctp;
  auto back = recordFromWireJson(recordToWireJson(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
  EXPECT_NE(recordToJson(r).find("\"caller\":null"), std::string::npos);
}

TEST(RecordWire, ReadsThePlainContractAtMillisecondPrecision) {
  CallRecord r = sample();
  auto back = recordFromWireJson(recordToJson(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->started_at_us, 1795328495053000);  // 2026-11-22T06:21:35.053Z
  EXPECT_EQ(back->ended_at_us, 1795328501999000);
  EXPECT_EQ(back->call_id, r.call_id);
  EXPECT_EQ(back->call_ids, r.call_ids);
  EXPECT_EQ(back->caller_name, r.caller_name);
}

TEST(RecordWire, ParsesIsoTimesByHand) {
  // 2026-11-22T06:21:35Z = 20779 days * 86400 + 6 h 21 min 35 s after the epoch.
  EXPECT_EQ(parseIsoTime("2026-11-22T06:21:35.053Z"),
            (20779LL * 86400 + 6 * 3600 + 21 * 60 + 35) * 1000000 + 53000);
  EXPECT_EQ(parseIsoTime("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_FALSE(parseIsoTime("2026-11-22 06:21:35.053Z"));
  EXPECT_FALSE(parseIsoTime("2026-13-22T06:21:35.053Z"));
  EXPECT_FALSE(parseIsoTime("2026-11-22T06:21:35Z"));
}

TEST(RecordWire, RefusesWhatIsNotARecordNamingTheField) {
  std::string err;
  EXPECT_FALSE(recordFromWireJson("not json", &err));
  EXPECT_EQ(err, "not a JSON object");
  EXPECT_FALSE(recordFromWireJson("[1,2]", &err));
  std::string j = recordToWireJson(sample());
  std::string bad = j;
  bad.replace(bad.find("\"cancelled\""), 11, "\"vanished\"");
  EXPECT_FALSE(recordFromWireJson(bad, &err));
  EXPECT_EQ(err, "outcome");
  bad = j;
  bad.replace(bad.find("\"tcp\""), 5, "\"quic\"");
  EXPECT_FALSE(recordFromWireJson(bad, &err));
  EXPECT_EQ(err, "transport");
  bad = j;
  bad.replace(bad.find("\"status\":487"), 12, "\"status\":\"x\"");
  EXPECT_FALSE(recordFromWireJson(bad, &err));
  EXPECT_EQ(err, "status");
  EXPECT_FALSE(recordFromWireJson("{}", &err));
  EXPECT_EQ(err, "call_id");
  for (const char* ids : {R"("call_ids":[])", R"("call_ids":"x")", R"("call_ids":[1])"}) {
    bad = j;
    const size_t at = bad.find("\"call_ids\"");
    bad.replace(at, bad.find(']', at) + 1 - at, ids);
    EXPECT_FALSE(recordFromWireJson(bad, &err)) << bad;
    EXPECT_EQ(err, "call_ids");
  }
}

// A HEP call's agents and a call back's origin survive the stream; a bad list is refused with
// the field named.
TEST(RecordWire, CaptureIdsRoundTripAndAreChecked) {
  CallRecord r = sample();
  r.capture_ids = {2001, 2002};
  r.origin = "callback";
  auto back = recordFromWireJson(recordToWireJson(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
  std::string err;
  for (const char* bad :
       {R"("capture_ids":"2001")", R"("capture_ids":[-1])", R"("capture_ids":[4294967296])",
        R"("capture_ids":[1,2,3,4,5,6,7,8,9])"}) {
    std::string j = recordToWireJson(r);
    const size_t at = j.find("\"capture_ids\"");
    j.replace(at, j.find(']', at) + 1 - at, bad);
    EXPECT_FALSE(recordFromWireJson(j, &err)) << j;
    EXPECT_EQ(err, "capture_ids");
  }
}

// A stream entry written before call_ids existed names its one leg: it reads as [call_id].
TEST(RecordWire, ReadsARecordWithoutCallIdsAsItsOneLeg) {
  std::string j = recordToWireJson(sample());
  const size_t at = j.find(",\"call_ids\"");
  j.erase(at, j.find(']', at) + 1 - at);
  auto back = recordFromWireJson(j);
  ASSERT_TRUE(back.has_value()) << j;
  EXPECT_EQ(back->call_ids, std::vector<std::string>{"a84b4c76e66710@pc33.example.com"});
}

}  // namespace
}  // namespace mcn::calls
