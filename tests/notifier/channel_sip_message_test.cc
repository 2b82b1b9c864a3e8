// The sip_message channel through the engine's transport seam (delivery.h RequestTransport): the
// request it builds, and the engine's backoff, Retry-After and dead letters applied to SIP
// answers. The transport here is a seam that answers what the test says, from another thread as
// the SIP user agent does; the real user agent against sipp is tests/e2e/sipmessage.

#include <gtest/gtest.h>

#include <thread>

#include "test_servers.h"

namespace mcn::notifier::testing {
namespace {

using subscribers::ChannelKind;

struct ScriptedTransport final : RequestTransport {
  std::vector<OutboundRequest> requests;
  std::vector<Done> pending;
  std::string refuse;  // non-empty: start() refuses with this

  bool start(const OutboundRequest& req, Done done, std::string& error) override {
    if (!refuse.empty()) {
      error = refuse;
      return false;
    }
    requests.push_back(req);
    pending.push_back(std::move(done));
    return true;
  }
  // Answers the oldest request from another thread, as the SIP thread would.
  void answer(int status, std::string phrase, std::optional<int> retry_after_s = std::nullopt) {
    ASSERT_FALSE(pending.empty());
    Done done = std::move(pending.front());
    pending.erase(pending.begin());
    InboundResponse r;
    r.status = status;
    r.body = std::move(phrase);
    if (retry_after_s) r.headers.push_back({"retry-after", std::to_string(*retry_after_s)});
    std::thread([&] { done(std::move(r)); }).join();
  }
};

constexpr const char* kIms = "sip:+862583001013@ims.example";

TEST(SipMessageChannel, BuildsOneSipRequestWithTheTextAndTheKey) {
  auto ch = makeChannel(ChannelKind::kSipMessage);
  ASSERT_NE(ch, nullptr);
  EXPECT_FALSE(ch->requiresSecret());
  OutboundRequest req;
  std::string error;
  ASSERT_TRUE(ch->build(sampleNotification(ChannelKind::kSipMessage, kIms), {}, req, error));
  EXPECT_EQ(req.protocol, OutboundRequest::Protocol::kSip);
  EXPECT_EQ(req.url, kIms);
  EXPECT_EQ(req.body, "未接来电 (1)\n韩梅梅 +8613900101230 呼叫 +862583001013, 无人接听");
  ASSERT_EQ(req.headers.size(), 1u);
  EXPECT_EQ(req.headers[0].name, "X-MCN-Idempotency-Key");
  EXPECT_EQ(req.headers[0].value, "k-7f3a9c");
  // A key with a line break would smuggle a header in: refused before any SIP.
  auto bad = sampleNotification(ChannelKind::kSipMessage, kIms, "k\r\nVia: evil");
  EXPECT_FALSE(ch->build(bad, {}, req, error));
  EXPECT_EQ(error, "idempotency key holds a line break");
  EXPECT_STREQ(deliveryKindName(ChannelKind::kSipMessage), "sip_message");
}

TEST(SipMessageChannel, JudgesSipAnswersByRfc3428) {
  auto ch = makeChannel(ChannelKind::kSipMessage);
  auto n = sampleNotification(ChannelKind::kSipMessage, kIms);
  auto verdict = [&](int status) {
    InboundResponse r;
    r.status = status;
    return ch->judge(n, r).verdict;
  };
  for (int s : {200, 202}) EXPECT_EQ(verdict(s), Verdict::kDelivered) << s;
  for (int s : {408, 480, 500, 503, 504}) EXPECT_EQ(verdict(s), Verdict::kRetry) << s;
  for (int s : {301, 400, 403, 404, 415, 486, 603}) EXPECT_EQ(verdict(s), Verdict::kPermanent) << s;
  InboundResponse stopping;
  stopping.transport = TransportStatus::kOther;
  stopping.transport_error = "mcn is stopping";
  auto j = ch->judge(n, stopping);
  EXPECT_EQ(j.verdict, Verdict::kRetry);
  EXPECT_EQ(j.reason, "mcn is stopping");
}

TEST(SipMessageDelivery, TwoHundredIsDelivered) {
  Engine e;
  ScriptedTransport t;
  e.delivery.setTransport(OutboundRequest::Protocol::kSip, &t);
  ASSERT_TRUE(e.delivery.submit(sampleNotification(ChannelKind::kSipMessage, kIms)));
  e.delivery.poll(0);
  ASSERT_EQ(t.requests.size(), 1u);
  EXPECT_EQ(e.delivery.inFlight(), 1u);
  t.answer(200, "OK");
  ASSERT_TRUE(e.run());
  EXPECT_EQ(e.counter("delivery.succeeded"), 1u);
  EXPECT_EQ(e.counter("delivery.sip_message.ok"), 1u);
  EXPECT_EQ(e.counter("delivery.sip_message.failed"), 0u);
  EXPECT_TRUE(e.dead.entries.empty());
}

TEST(SipMessageDelivery, FourEightyIsRetriedAfterRetryAfterWithTheSameKey) {
  Engine e;  // Random 0: the jitter draws 0, so Retry-After alone sets the delay
  ScriptedTransport t;
  e.delivery.setTransport(OutboundRequest::Protocol::kSip, &t);
  e.delivery.submit(sampleNotification(ChannelKind::kSipMessage, kIms, "k-480"));
  e.delivery.poll(0);
  t.answer(480, "Temporarily Unavailable", 7);
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(e.delivery.nextDueUs(), kT0Us + 7 * kSecond);
  e.clock.set(kT0Us + 7 * kSecond - 1000);
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(t.requests.size(), 1u) << "retried before Retry-After";
  e.clock.set(kT0Us + 7 * kSecond);
  e.delivery.poll(0);
  ASSERT_EQ(t.requests.size(), 2u);
  EXPECT_EQ(t.requests[1].headers[0].value, "k-480");
  t.answer(202, "Accepted");
  ASSERT_TRUE(e.run());
  EXPECT_EQ(e.counter("delivery.retried"), 1u);
  EXPECT_EQ(e.counter("delivery.sip_message.failed"), 1u);
  EXPECT_EQ(e.counter("delivery.sip_message.ok"), 1u);
  EXPECT_TRUE(e.dead.entries.empty());
}

TEST(SipMessageDelivery, ForbiddenIsDeadLetteredAtOnce) {
  Engine e;
  ScriptedTransport t;
  e.delivery.setTransport(OutboundRequest::Protocol::kSip, &t);
  e.delivery.submit(sampleNotification(ChannelKind::kSipMessage, kIms));
  e.delivery.poll(0);
  t.answer(403, "Forbidden");
  ASSERT_TRUE(e.run());
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "rejected");
  EXPECT_EQ(e.dead.entries[0].error, "SIP 403 Forbidden");
  EXPECT_EQ(e.dead.entries[0].attempts, 1);
  EXPECT_EQ(e.counter("delivery.sip_message.dead_lettered"), 1u);
  EXPECT_EQ(t.requests.size(), 1u);
}

TEST(SipMessageDelivery, WithoutTheUserAgentItIsABadConfigDeadLetter) {
  Engine e;  // no transport: [sipua] not enabled
  e.delivery.submit(sampleNotification(ChannelKind::kSipMessage, kIms));
  ASSERT_TRUE(e.run());
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "bad_config");
  EXPECT_EQ(e.dead.entries[0].error, "sip_message has no transport (is [sipua] enabled?)");
  EXPECT_EQ(e.dead.entries[0].attempts, 0);
}

TEST(SipMessageDelivery, ARefusedStartIsAFailedAttemptRetried) {
  Engine e(DeliveryConfig{}, {~uint64_t{0}});  // the jitter draws its top: the retry is not now
  ScriptedTransport t;
  t.refuse = "the SIP user agent's queue is full";
  e.delivery.setTransport(OutboundRequest::Protocol::kSip, &t);
  e.delivery.submit(sampleNotification(ChannelKind::kSipMessage, kIms));
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(e.counter("delivery.sip_message.failed"), 1u);
  EXPECT_EQ(e.counter("delivery.retried"), 1u);
  EXPECT_EQ(e.delivery.pending(), 1u);
  EXPECT_EQ(e.delivery.inFlight(), 0u);
  EXPECT_GT(e.delivery.nextDueUs().value_or(0), kT0Us);
}

TEST(SipMessageDelivery, AnAnswerAfterTheEngineIsGoneIsIgnored) {
  ScriptedTransport t;
  {
    Engine e;
    e.delivery.setTransport(OutboundRequest::Protocol::kSip, &t);
    e.delivery.submit(sampleNotification(ChannelKind::kSipMessage, kIms));
    e.delivery.poll(0);
    ASSERT_EQ(t.pending.size(), 1u);
  }                     // still in flight: dead-lettered "shutdown" by the engine's destructor
  t.answer(200, "OK");  // the user agent answering late touches nothing freed (ASan)
}

}  // namespace
}  // namespace mcn::notifier::testing
