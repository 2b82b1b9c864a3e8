#include "mcn/subscribers/directory.h"

#include <stdexcept>

namespace mcn::subscribers {

namespace {

struct KindName {
  ChannelKind kind;
  const char* name;
};
constexpr KindName kKinds[] = {
    {ChannelKind::kConsole, "console"},      {ChannelKind::kJsonl, "jsonl"},
    {ChannelKind::kWebhook, "webhook"},      {ChannelKind::kWeCom, "wecom"},
    {ChannelKind::kDingTalk, "dingtalk"},    {ChannelKind::kFeishu, "feishu"},
    {ChannelKind::kSmsAliyun, "sms_aliyun"}, {ChannelKind::kSmsHttp, "sms_http"},
    {ChannelKind::kEmail, "email"},          {ChannelKind::kSipMessage, "sip_message"},
};

}  // namespace

const char* channelKindName(ChannelKind k) {
  for (const KindName& kn : kKinds) {
    if (kn.kind == k) return kn.name;
  }
  return "?";
}

std::optional<ChannelKind> channelKindFromName(std::string_view name) {
  for (const KindName& kn : kKinds) {
    if (name == kn.name) return kn.kind;
  }
  return std::nullopt;
}

std::shared_ptr<const Directory> Directory::build(std::vector<Person> people, uint64_t version) {
  auto d = std::make_shared<Directory>();
  d->people_ = std::move(people);
  d->version_ = version;
  for (size_t i = 0; i < d->people_.size(); ++i) {
    const Person& p = d->people_[i];
    if (auto [it, fresh] = d->by_id_.emplace(p.id, i); !fresh) {
      throw std::invalid_argument("subscribers: person id " + p.id + " is listed twice");
    }
    for (const std::string& n : p.numbers) {
      const std::string_view key = numberIndexKey(n);
      auto [it, fresh] = d->by_number_.emplace(std::string(key), i);
      if (!fresh && it->second != i) {
        const Person& other = d->people_[it->second];
        throw std::invalid_argument("subscribers: number " + n + " of " + p.id +
                                    " already belongs to " + other.id + " (" + other.name + ")");
      }
    }
  }
  return d;
}

const Person* Directory::findByNumber(std::string_view normalised) const {
  auto it = by_number_.find(normalised);
  return it == by_number_.end() ? nullptr : &people_[it->second];
}

const Person* Directory::findById(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &people_[it->second];
}

}  // namespace mcn::subscribers
