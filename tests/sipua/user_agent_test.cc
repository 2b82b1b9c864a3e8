// The parts of the user agent that need no SIP peer: dial strings, refusals before any SIP, and
// counter names (API). The SIP flows themselves are tested against Kamailio and sipp
// (tests/e2e/callback/callback_e2e.py).
#include "mcn/sipua/user_agent.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

// sofia-sip 1.12.11 keeps ~2 KB of a failed nua_create() (the stack's su_home, on its own
// thread): a one-off at a start-up that then fails (StartFailsClearly... below), not ours to
// free. LeakSanitizer reads this hook in this test binary only.
extern "C" const char* __lsan_default_suppressions() { return "leak:libsofia-sip-ua.so\n"; }

namespace mcn::sipua {
namespace {

TEST(ToUri, NumbersGetTheDomainUrisStay) {
  EXPECT_EQ(toUri("1013", "ims.example"), "sip:1013@ims.example");
  EXPECT_EQ(toUri("+862583001013", "10.0.0.5:5060"), "sip:+862583001013@10.0.0.5:5060");
  EXPECT_EQ(toUri("sip:alice@pbx.example", "ims.example"), "sip:alice@pbx.example");
  EXPECT_EQ(toUri("tel:+862583001013", "x"), "tel:+862583001013");
}

TEST(ToUri, RefusesWhatWouldChangeTheRequest) {
  for (const char* bad : {"", "10 13", "1013@evil.example", "1013;transport=tcp", "<sip:a@b>",
                          "10\r\n13", "\"x\"", "1013?Subject=x"}) {
    EXPECT_EQ(toUri(bad, "ims.example"), "") << bad;
  }
  EXPECT_EQ(toUri("1013", ""), "") << "a bare number needs a domain";
  EXPECT_EQ(toUri(std::string(300, '1'), "d"), "");
}

TEST(UserAgent, RefusesBeforeStartAndBadInputWithoutSip) {
  UaConfig cfg;
  cfg.domain = "ims.example";
  UserAgent ua(cfg, "");
  auto bad = ua.callback({.person = "e1", .device = "10 13", .target = "2001"});
  EXPECT_TRUE(bad.id.empty());
  EXPECT_EQ(bad.http_status, 400);
  EXPECT_EQ(ua.check({.person = "e1", .device = "1013", .target = "2001@x"}),
            "number is not a number or SIP URI");
  auto stopped = ua.callback({.person = "e1", .device = "1013", .target = "2001"});
  EXPECT_TRUE(stopped.id.empty());
  EXPECT_EQ(stopped.http_status, 503);
  EXPECT_FALSE(ua.status("0123456789abcdef").has_value());
}

TEST(UserAgent, StartFailsClearlyOnAnAddressItCannotBind) {
  UaConfig cfg;
  cfg.listen = "sip:192.0.2.77:5070";  // TEST-NET-1: not on this host
  UserAgent ua(cfg, "");
  std::string err = ua.start();
  EXPECT_NE(err.find("cannot listen on sip:192.0.2.77:5070"), std::string::npos) << err;
}

TEST(UserAgent, CounterNamesAreApi) {
  UserAgent ua(UaConfig{}, "");
  std::vector<std::string> names;
  ua.forEachCounter([&](std::string_view n, uint64_t) { names.emplace_back(n); });
  EXPECT_EQ(names, (std::vector<std::string>{"sipua.callbacks.requested",
                                             "sipua.callbacks.refused",
                                             "sipua.callbacks.connected",
                                             "sipua.callbacks.busy",
                                             "sipua.callbacks.no_answer",
                                             "sipua.callbacks.failed",
                                             "sipua.refer.refused",
                                             "sipua.multicall.cancelled",
                                             "sipua.callbacks.bridged",
                                             "sipua.register.ok",
                                             "sipua.register.failed",
                                             "sipua.incoming.rejected",
                                             "sipua.messages.sent",
                                             "sipua.messages.delivered",
                                             "sipua.messages.failed",
                                             "sipua.messages.timeout",
                                             "sipua.subscriptions.accepted",
                                             "sipua.subscriptions.refused",
                                             "sipua.subscriptions.expired",
                                             "sipua.subscriptions.ended",
                                             "sipua.notify.sent",
                                             "sipua.notify.failed"}));
}

TEST(CallbackState, NamesAreTheApiStates) {
  EXPECT_EQ(callbackStateName(CallbackState::kCallingYou), "calling_you");
  EXPECT_EQ(callbackStateName(CallbackState::kCallingThem), "calling_them");
  EXPECT_EQ(callbackStateName(CallbackState::kConnected), "connected");
  EXPECT_EQ(callbackStateName(CallbackState::kBusy), "busy");
  EXPECT_EQ(callbackStateName(CallbackState::kNoAnswer), "no_answer");
  EXPECT_EQ(callbackStateName(CallbackState::kFailed), "failed");
  EXPECT_FALSE(isFinal(CallbackState::kCallingThem));
  EXPECT_TRUE(isFinal(CallbackState::kNoAnswer));
}

}  // namespace
}  // namespace mcn::sipua
