// The vendors' signature algorithms against the vendors' own published examples and against
// answers computed with the openssl command line (the command is next to each value).

#include <gtest/gtest.h>

#include <map>
#include <string>

// Internal header: the signers are not public API, but they are what a vendor's example checks.
#include "../../notifier/src/channels/channels.h"

namespace mcn::notifier::channels {
namespace {

TEST(ChannelSignatures, StandardWebhooksSpecExample) {
  // The example in the Standard Webhooks specification (signature scheme section): secret,
  // msg id, timestamp and payload as published there. Re-checked by hand with
  //   k=$(printf %s 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' | base64 -d | xxd -p | tr -d '\n')
  //   printf %s 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' |
  //     openssl dgst -sha256 -mac HMAC -macopt hexkey:$k -binary | base64
  auto sig = standardWebhookSignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                      "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                      R"({"test": 2432232314})");
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(*sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(ChannelSignatures, StandardWebhooksRefusesSecretThatIsNotBase64) {
  EXPECT_FALSE(standardWebhookSignature("whsec_not base64!", "id", 1, "{}").has_value());
}

TEST(ChannelSignatures, AliyunRpcDocumentationExample) {
  // The worked example of Alibaba Cloud's SMS "signature method" page (AccessKey secret
  // testSecret). Re-checked with python3 urllib.parse.quote(s, safe='-_.~') for the
  // StringToSign and
  //   printf %s "$STRING_TO_SIGN" | openssl dgst -sha1 -hmac 'testSecret&' -binary | base64
  std::map<std::string, std::string> params = {
      {"AccessKeyId", "testId"},
      {"Action", "SendSms"},
      {"Format", "XML"},
      {"OutId", "123"},
      {"PhoneNumbers", "15300000001"},
      {"RegionId", "cn-hangzhou"},
      {"SignName", "阿里云短信测试专用"},
      {"SignatureMethod", "HMAC-SHA1"},
      {"SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"},
      {"SignatureVersion", "1.0"},
      {"TemplateCode", "SMS_71390007"},
      {"TemplateParam", R"({"customer":"test"})"},
      {"Timestamp", "2017-07-12T02:42:19Z"},
      {"Version", "2017-05-25"},
  };
  EXPECT_EQ(aliyunRpcSignature(params, "testSecret"), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
  // Names sorted, values percent-encoded per RFC 3986 (UTF-8 bytes, ':' and '"' encoded).
  EXPECT_EQ(aliyunCanonicalQuery(params),
            "AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001"
            "&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5"
            "%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1"
            "&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0"
            "&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D"
            "&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25");
}

TEST(ChannelSignatures, DingTalkSign) {
  // printf '1700000000000\nSEC0123456789abcdef' |
  //   openssl dgst -sha256 -hmac 'SEC0123456789abcdef' -binary | base64
  EXPECT_EQ(dingtalkSign("SEC0123456789abcdef", 1700000000000),
            "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk=");
}

TEST(ChannelSignatures, FeishuSignKeysTheHmacWithTimestampAndSecret) {
  // printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\nfeishu-test-secret')" -binary |
  // base64
  EXPECT_EQ(feishuSign("feishu-test-secret", 1700000000),
            "e3MJ8Q5llVxGJ8pVkGPBhexDAgjvYqpjPP1GkY9XceI=");
}

}  // namespace
}  // namespace mcn::notifier::channels
