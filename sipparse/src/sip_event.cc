#include "mcn/sipparse/sip_event.h"

#include <array>
#include <cstring>
#include <string_view>
#include <utility>

namespace mcn::sipparse {

namespace {

constexpr std::array<std::pair<Method, const char*>, 14> kMethods{{
    {Method::kInvite, "INVITE"},
    {Method::kAck, "ACK"},
    {Method::kBye, "BYE"},
    {Method::kCancel, "CANCEL"},
    {Method::kPrack, "PRACK"},
    {Method::kUpdate, "UPDATE"},
    {Method::kInfo, "INFO"},
    {Method::kOptions, "OPTIONS"},
    {Method::kRegister, "REGISTER"},
    {Method::kSubscribe, "SUBSCRIBE"},
    {Method::kNotify, "NOTIFY"},
    {Method::kPublish, "PUBLISH"},
    {Method::kMessage, "MESSAGE"},
    {Method::kRefer, "REFER"},
}};

constexpr bool inEnumOrder() {
  for (size_t i = 0; i < kMethods.size(); ++i) {
    if (static_cast<size_t>(kMethods[i].first) != i) return false;
  }
  return true;
}
static_assert(inEnumOrder(), "kMethods follows the order of enum Method");

}  // namespace

const char* methodName(Method m) {
  for (const auto& [method, name] : kMethods) {
    if (method == m) return name;
  }
  return "OTHER";
}

// Method names are case-sensitive (RFC 3261 §7.1): "invite" is an extension method, not INVITE.
// Called several times per message: the length and first letter leave one candidate.
Method methodFromName(std::string_view name) {
  Method m = Method::kOther;
  switch (name.size()) {
    case 3:
      m = name[0] == 'A' ? Method::kAck : name[0] == 'B' ? Method::kBye : Method::kOther;
      break;
    case 4:
      m = Method::kInfo;
      break;
    case 5:
      m = name[0] == 'P' ? Method::kPrack : name[0] == 'R' ? Method::kRefer : Method::kOther;
      break;
    case 6:
      m = name[0] == 'I'   ? Method::kInvite
          : name[0] == 'C' ? Method::kCancel
          : name[0] == 'U' ? Method::kUpdate
          : name[0] == 'N' ? Method::kNotify
                           : Method::kOther;
      break;
    case 7:
      m = name[0] == 'O'   ? Method::kOptions
          : name[0] == 'P' ? Method::kPublish
          : name[0] == 'M' ? Method::kMessage
                           : Method::kOther;
      break;
    case 8:
      m = Method::kRegister;
      break;
    case 9:
      m = Method::kSubscribe;
      break;
    default:
      break;
  }
  if (m == Method::kOther) return m;
  // kMethods is in the enum's order; the candidate's name has name.size() characters
  const char* n = kMethods[static_cast<size_t>(m)].second;
  return std::memcmp(name.data(), n, name.size()) == 0 ? m : Method::kOther;
}

}  // namespace mcn::sipparse
