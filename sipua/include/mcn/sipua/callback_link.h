#pragma once
// The call-back link in a notification (README "Call back"): a signed, single-use token naming the
// person it was made for, the caller to call back and an expiry. Opening the link only shows a
// confirm page; its POST redeems the token and places the call (link scanners GET every URL).
//
// Token: base64url(payload) "." base64url(HMAC-SHA256(key, "mcn-callback-v1." + base64url
// (payload))), payload = "v1\n<person>\n<caller>\n<expires Unix ms>\n<nonce hex>". Time is passed
// in (now_ms), never read here.
//
// The one signed-link module of mcn: the web console's sign-in links (web/signin.h) are the same
// tokens made with another `purpose`, which goes into the signed text ("mcn-<purpose>-v1."), so a
// token made for one purpose is forged for every other even under the same key.

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

namespace mcn::sipua {

struct LinkClaims {
  std::string person;
  std::string caller;
  int64_t expires_ms = 0;
  std::string nonce;
};

enum class LinkVerdict { kOk, kMalformed, kForged, kExpired, kUsed, kFull };
// "ok", "malformed", "forged", "expired", "used", "full": what the API answers.
std::string_view linkVerdictName(LinkVerdict v);

class CallbackLinks {
 public:
  // `key`: the resolved link_key_ref (at least 16 bytes, else std::invalid_argument).
  // `purpose`: "callback" for call-back links (the second claim is the caller), "signin" for the
  // web console's sign-in links.
  CallbackLinks(std::string key, int64_t ttl_ms, std::string_view purpose = "callback");

  // Empty when person or caller holds a line break or is empty (not representable).
  std::string issue(std::string_view person, std::string_view caller, int64_t now_ms) const;

  struct Checked {
    LinkVerdict verdict = LinkVerdict::kMalformed;
    LinkClaims claims;  // filled when the signature is good
  };
  // Signature, expiry and use, without using it up (the confirm page).
  Checked check(std::string_view token, int64_t now_ms) const;
  // check() and, when ok, marks the token used: a second redeem answers kUsed.
  Checked redeem(std::string_view token, int64_t now_ms);

  // Tokens used and not yet expired are remembered (single use) up to this many; beyond it
  // redeem answers kFull rather than forget one (which would make it usable again).
  static constexpr size_t kMaxRemembered = 100000;
  size_t remembered() const { return used_.size(); }

 private:
  std::string sign(std::string_view payload_b64) const;

  std::string key_;
  int64_t ttl_ms_;
  std::string purpose_;
  std::map<std::string, int64_t, std::less<>> used_;  // nonce -> expiry
};

// Sliding-window limits on call-backs placed: per person per hour and overall per minute.
// 0 disables a limit.
class RateLimits {
 public:
  RateLimits(int per_person_per_hour, int global_per_minute)
      : per_person_(per_person_per_hour), global_(global_per_minute) {}
  // True and counted, or false with `why` set.
  bool allow(std::string_view person, int64_t now_ms, std::string* why);

 private:
  int per_person_, global_;
  std::deque<int64_t> all_;
  std::map<std::string, std::deque<int64_t>, std::less<>> person_;
};

std::string base64url(std::string_view bytes);
// False on a character outside the base64url alphabet or a bad length.
bool unbase64url(std::string_view text, std::string& out);

}  // namespace mcn::sipua
