// SMS: Aliyun SendSms (RPC signature v1) and a generic HTTP gateway described by templates.

#include <gtest/gtest.h>

#include <cstdlib>

#include "test_servers.h"

namespace mcn::notifier::testing {
namespace {

using subscribers::ChannelKind;

Notification aliyunNotification(const std::string& endpoint) {
  auto n = sampleNotification(ChannelKind::kSmsAliyun, "+8613900101230", "k-sms-1");
  n.channel.secret_ref = "env:MCN_TEST_ALIYUN_SECRET";
  n.channel.options = {{"access_key_id", "LTAItestid"},
                       {"sign_name", "mcn测试"},
                       {"template_code", "SMS_123456789"},
                       {"endpoint", endpoint}};
  return n;
}

TEST(ChannelAliyunSms, SendSmsRequestWithKnownSignature) {
  ::setenv("MCN_TEST_ALIYUN_SECRET", "testsecret", 1);
  TestHttpServer srv([](const Received&, size_t) {
    return Reply{200, R"({"Message":"OK","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990",)"
                      R"("Code":"OK","BizId":"900619746936498440^0"})"};
  });
  // SignatureNonce from these two draws, version/variant bits forced (RFC 9562 §5.4):
  // 01234567-89ab-4def-bedc-ba9876543210.
  Engine e({}, {0x0123456789abcdefULL, 0xfedcba9876543210ULL});
  e.delivery.submit(aliyunNotification(srv.url("/")));
  ASSERT_TRUE(e.run());
  auto got = srv.received();
  ASSERT_EQ(got.size(), 1u);
  const Received& r = got[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/");
  EXPECT_EQ(r.param("AccessKeyId"), "LTAItestid");
  EXPECT_EQ(r.param("Action"), "SendSms");
  EXPECT_EQ(r.param("Format"), "JSON");
  EXPECT_EQ(r.param("OutId"), "k-sms-1");  // the idempotency key
  EXPECT_EQ(r.param("PhoneNumbers"), "+8613900101230");
  EXPECT_EQ(r.param("RegionId"), "cn-hangzhou");
  EXPECT_EQ(r.param("SignName"), "mcn测试");
  EXPECT_EQ(r.param("SignatureMethod"), "HMAC-SHA1");
  EXPECT_EQ(r.param("SignatureNonce"), "01234567-89ab-4def-bedc-ba9876543210");
  EXPECT_EQ(r.param("SignatureVersion"), "1.0");
  EXPECT_EQ(r.param("TemplateCode"), "SMS_123456789");
  EXPECT_EQ(r.param("TemplateParam"), R"({"caller":"+8613900101230","count":"1"})");
  EXPECT_EQ(r.param("Timestamp"), "2023-11-14T22:13:20Z");
  EXPECT_EQ(r.param("Version"), "2017-05-25");
  EXPECT_EQ(r.params.size(), 15u);
  // StringToSign built with python3 urllib.parse.quote(v, safe='-_.~') over the sorted
  // parameters above: "GET&%2F&" + quote(canonical) (see channel_signatures_test.cc), then
  //   printf %s "$STRING_TO_SIGN" | openssl dgst -sha1 -hmac 'testsecret&' -binary | base64
  EXPECT_EQ(r.param("Signature"), "y4rOzT5kN2eyLcCyq0gTKI0olLQ=");
  // On the wire the parameters are percent-encoded: '+' must not arrive as a space.
  EXPECT_NE(r.target.find("PhoneNumbers=%2B8613900101230"), std::string::npos);
  EXPECT_NE(r.target.find("Timestamp=2023-11-14T22%3A13%3A20Z"), std::string::npos);
  EXPECT_EQ(e.counter("delivery.sms_aliyun.ok"), 1u);
}

TEST(ChannelAliyunSms, CodeOtherThanOkIsFailureAndIllegalNumberIsPermanent) {
  ::setenv("MCN_TEST_ALIYUN_SECRET", "testsecret", 1);
  TestHttpServer srv([](const Received&, size_t i) {
    if (i == 0) {
      return Reply{200,
                   R"({"Message":"触发分钟级流控Permits:1","Code":"isv.BUSINESS_LIMIT_CONTROL"})"};
    }
    return Reply{200, R"({"Message":"invalid mobile number","Code":"isv.MOBILE_NUMBER_ILLEGAL"})"};
  });
  Engine e;
  e.delivery.submit(aliyunNotification(srv.url("/")));
  ASSERT_TRUE(e.idle());
  EXPECT_EQ(srv.count(), 1u);
  // Flow control: the retry waits at least a minute even though the jitter drew 0.
  EXPECT_EQ(e.delivery.nextDueUs(), kT0Us + 60 * kSecond);
  e.clock.set(kT0Us + 60 * kSecond);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 2u);
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "rejected");
  EXPECT_EQ(e.dead.entries[0].error, "Code isv.MOBILE_NUMBER_ILLEGAL: invalid mobile number");
}

TEST(ChannelHttpSms, JsonBodyAndHeadersFromTemplates) {
  ::setenv("MCN_TEST_SMS_TOKEN", "tok-123", 1);
  TestHttpServer srv([](const Received&, size_t) { return Reply{200, R"({"status":"queued"})"}; });
  Engine e;
  auto n = sampleNotification(ChannelKind::kSmsHttp, "+8613900101230", "k-gw-1");
  n.channel.secret_ref = "env:MCN_TEST_SMS_TOKEN";
  n.channel.options = {
      {"url", srv.url("/v1/sms?to={{to}}&ref={{idempotency_key}}")},
      {"body", R"({"to":"{{to}}","message":"{{title}}: {{text}}","n":{{count}}})"},
      {"header.Authorization", "Bearer {{secret}}"},
      {"success_contains", "queued"},
  };
  e.delivery.submit(n);
  ASSERT_TRUE(e.run());
  auto got = srv.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/v1/sms?to=%2B8613900101230&ref=k-gw-1");
  EXPECT_EQ(got[0].header("Authorization"), "Bearer tok-123");
  EXPECT_EQ(got[0].header("Content-Type"), "application/json");
  EXPECT_EQ(got[0].body, R"({"to":"+8613900101230","message":"未接来电 (1): )"
                         R"(韩梅梅 +8613900101230 呼叫 +862583001013, 无人接听","n":1})");
  EXPECT_EQ(e.counter("delivery.sms_http.ok"), 1u);
}

TEST(ChannelHttpSms, FormBodyIsFormEncodedAndMissingMarkerIsRetried) {
  TestHttpServer srv([](const Received&, size_t i) {
    return i == 0 ? Reply{200, "ERR busy", "text/plain"} : Reply{200, "OK 1 sent", "text/plain"};
  });
  Engine e;
  auto n = sampleNotification(ChannelKind::kSmsHttp, "+8613900101230");
  n.text = "a b&c";
  n.channel.options = {{"url", srv.url("/send")},
                       {"content_type", "application/x-www-form-urlencoded"},
                       {"body", "to={{to}}&text={{text}}"},
                       {"success_contains", "OK"}};
  e.delivery.submit(n);
  ASSERT_TRUE(e.run());
  auto got = srv.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, "to=%2B8613900101230&text=a+b%26c");
  EXPECT_EQ(e.counter("delivery.sms_http.failed"), 1u);
  EXPECT_EQ(e.counter("delivery.sms_http.ok"), 1u);
}

TEST(ChannelHttpSms, UnknownPlaceholderIsAConfigurationError) {
  TestHttpServer srv([](const Received&, size_t) { return Reply{200, ""}; });
  Engine e;
  auto n = sampleNotification(ChannelKind::kSmsHttp, "+8613900101230");
  n.channel.options = {{"url", srv.url("/send?x={{nope}}")}};
  e.delivery.submit(n);
  ASSERT_TRUE(e.run());
  EXPECT_EQ(srv.count(), 0u);
  ASSERT_EQ(e.dead.entries.size(), 1u);
  EXPECT_EQ(e.dead.entries[0].reason, "bad_config");
  EXPECT_EQ(e.dead.entries[0].error, "unknown placeholder {{nope}} in template");
}

}  // namespace
}  // namespace mcn::notifier::testing
