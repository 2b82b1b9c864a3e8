#include "mcn/sipparse/sip_event.h"

#include <array>
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

}  // namespace

const char* methodName(Method m) {
  for (const auto& [method, name] : kMethods) {
    if (method == m) return name;
  }
  return "OTHER";
}

// Method names are case-sensitive (RFC 3261 §7.1): "invite" is an extension method, not INVITE.
Method methodFromName(std::string_view name) {
  for (const auto& [method, n] : kMethods) {
    if (name == n) return method;
  }
  return Method::kOther;
}

}  // namespace mcn::sipparse
