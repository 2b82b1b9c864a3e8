// Directory snapshots: lookups by number and id, refusing a number given to two people, and the
// channel kind names that files and Redis records use.

#include "mcn/subscribers/directory.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace mcn::subscribers {
namespace {

Person person(std::string id, std::string name, std::vector<std::string> numbers) {
  Person p;
  p.id = std::move(id);
  p.name = std::move(name);
  p.numbers = std::move(numbers);
  p.channels.push_back(Channel{"console", ChannelKind::kConsole, "", "", "", {}});
  return p;
}

TEST(Directory, FindsPeopleByEveryNumberAndById) {
  auto d = Directory::build({person("e1013", "Zhang Wei", {"+862583001013", "+8613900101230"}),
                             person("e1014", "Li Na", {"+862583001014"})},
                            7);
  EXPECT_EQ(d->version(), 7u);
  ASSERT_NE(d->findByNumber("+862583001013"), nullptr);
  EXPECT_EQ(d->findByNumber("+862583001013")->id, "e1013");
  EXPECT_EQ(d->findByNumber("+8613900101230")->id, "e1013");
  EXPECT_EQ(d->findByNumber("+862583001014")->name, "Li Na");
  EXPECT_EQ(d->findByNumber("+862583001015"), nullptr);
  EXPECT_EQ(d->findByNumber("1013"), nullptr);  // lookups take normalised numbers only
  ASSERT_NE(d->findById("e1014"), nullptr);
  EXPECT_EQ(d->findById("e1014")->numbers.size(), 1u);
  EXPECT_EQ(d->findById("e9999"), nullptr);
}

TEST(Directory, SipIdentityIsFoundByItsRawUserAsCallsReportsIt) {
  auto d =
      Directory::build({person("e1", "Alice", {"sip:alice@ims.example.com", "+862583001001"})}, 1);
  ASSERT_NE(d->findByNumber("alice"), nullptr);
  EXPECT_EQ(d->findByNumber("alice")->id, "e1");
  EXPECT_EQ(d->findByNumber("sip:alice@ims.example.com"), nullptr);
  EXPECT_EQ(numberIndexKey("sip:alice@ims.example.com"), "alice");
  EXPECT_EQ(numberIndexKey("sips:Bob.Li@h.example"), "Bob.Li");
  EXPECT_EQ(numberIndexKey("+862583001001"), "+862583001001");
  EXPECT_EQ(numberIndexKey("*21#"), "*21#");
}

TEST(Directory, NumberOfTwoPeopleIsRefusedNamingBoth) {
  try {
    Directory::build({person("e1", "Zhang Wei", {"+862583001013"}),
                      person("e2", "Li Na", {"+862583001014", "+862583001013"})},
                     1);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "subscribers: number +862583001013 of e2 already belongs to e1 (Zhang Wei)");
  }
}

TEST(Directory, SameSipUserOnTwoHostsIsOneKey) {
  // calls/ reports only the user part, so two people cannot both own "alice".
  EXPECT_THROW(Directory::build({person("e1", "A", {"sip:alice@a.example"}),
                                 person("e2", "B", {"sip:alice@b.example"})},
                                1),
               std::invalid_argument);
}

TEST(Directory, RepeatedIdIsRefused) {
  try {
    Directory::build({person("e1", "A", {"+862583001001"}), person("e1", "B", {"+862583001002"})},
                     1);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "subscribers: person id e1 is listed twice");
  }
}

TEST(Directory, EmptyDirectoryFindsNobody) {
  auto d = Directory::build({}, 0);
  EXPECT_TRUE(d->people().empty());
  EXPECT_EQ(d->findByNumber("+862583001013"), nullptr);
}

TEST(ChannelKind, NamesRoundTripAndUnknownNamesAreRefused) {
  const std::pair<ChannelKind, const char*> kinds[] = {
      {ChannelKind::kConsole, "console"},      {ChannelKind::kJsonl, "jsonl"},
      {ChannelKind::kWebhook, "webhook"},      {ChannelKind::kWeCom, "wecom"},
      {ChannelKind::kDingTalk, "dingtalk"},    {ChannelKind::kFeishu, "feishu"},
      {ChannelKind::kSmsAliyun, "sms_aliyun"}, {ChannelKind::kSmsHttp, "sms_http"},
      {ChannelKind::kEmail, "email"},          {ChannelKind::kSipMessage, "sip_message"}};
  for (auto [k, name] : kinds) {
    EXPECT_STREQ(channelKindName(k), name);
    EXPECT_EQ(channelKindFromName(name), k) << name;
  }
  EXPECT_EQ(channelKindFromName("WeCom"), std::nullopt);
  EXPECT_EQ(channelKindFromName("sms"), std::nullopt);
  EXPECT_EQ(channelKindFromName(""), std::nullopt);
}

}  // namespace
}  // namespace mcn::subscribers
