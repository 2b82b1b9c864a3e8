// The embedded default channels: what a user sees on the console and the --notify-out contract.

#include "mcn/notifier/console_sink.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace mcn::notifier {
namespace {

Notification sample() {
  Notification n;
  n.person_id = "e1013";
  n.person_name = "王芳";
  n.channel.id = "console";
  n.channel.kind = subscribers::ChannelKind::kConsole;
  n.idempotency_key = "2b2fd6cf7b100189cc710b6e2403133f";
  calls::CallRecord a, b;
  a.call_id = "abc@x";
  a.call_ids = {"abc@x", "abc-b2bua@y"};  // a two-leg call
  b.call_id = "xyz@y";
  n.calls = {a, b};
  n.title = "未接来电 (2)";
  n.text = "王芳，您有 2 个未接来电\n\"quoted\"";
  return n;
}

TEST(ConsoleSink, WritesTitleWhoAndText) {
  std::ostringstream out;
  ConsoleSink sink(out);
  EXPECT_TRUE(sink.deliver(sample()));
  EXPECT_EQ(out.str(),
            "=== 未接来电 (2) — 王芳 [e1013] via console ===\n"
            "王芳，您有 2 个未接来电\n\"quoted\"\n\n");
}

TEST(JsonlSink, OneObjectPerLineInTheContractsKeyOrder) {
  std::ostringstream out;
  JsonlSink sink(out);
  EXPECT_TRUE(sink.deliver(sample()));
  const std::string line = out.str();
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // exactly one line
  // The envelope in the contract's key order; each call is the calls-out object.
  EXPECT_EQ(line.rfind(
                "{\"person\":\"e1013\",\"channel\":\"console\",\"idempotency_key\":"
                "\"2b2fd6cf7b100189cc710b6e2403133f\",\"calls\":[{\"call_id\":\"abc@x\",",
                0),
            0u)
      << line;
  EXPECT_NE(line.find("],\"text\":\"王芳，您有 2 个未接来电\\n\\\"quoted\\\"\"}\n"),
            std::string::npos)
      << line;
  const auto j = nlohmann::json::parse(line);
  ASSERT_EQ(j["calls"].size(), 2u);
  // Every leg of each call, as in --calls-out (a record made without call_ids names its call_id).
  EXPECT_EQ(j["calls"][0]["call_ids"], nlohmann::json::array({"abc@x", "abc-b2bua@y"}));
  EXPECT_EQ(j["calls"][1]["call_id"], "xyz@y");
  EXPECT_EQ(j["calls"][1]["call_ids"], nlohmann::json::array({"xyz@y"}));
  EXPECT_EQ(j["calls"][1]["outcome"], "incomplete");  // a default CallRecord
}

TEST(JsonlSink, InvalidUtf8IsReplacedNotThrown) {
  std::ostringstream out;
  JsonlSink sink(out);
  Notification n = sample();
  n.text = std::string("bad \xff byte");
  EXPECT_TRUE(sink.deliver(n));
  nlohmann::json j;
  EXPECT_NO_THROW(j = nlohmann::json::parse(out.str()));
  EXPECT_TRUE(j.is_object());
}

TEST(JsonlSink, ChannelWithoutIdIsNamedByItsKind) {
  std::ostringstream out;
  JsonlSink sink(out);
  Notification n = sample();
  n.channel.id.clear();
  n.channel.kind = subscribers::ChannelKind::kJsonl;
  EXPECT_NE(sink.toJson(n).find("\"channel\":\"jsonl\""), std::string::npos);
}

}  // namespace
}  // namespace mcn::notifier
