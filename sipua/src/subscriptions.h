#pragma once
// The SUBSCRIBE/NOTIFY server of mcn's user agent (issue 19 item 7, README "Subscriptions"): IMS
// and SIP clients subscribe to the event package kMissedCallEvent (RFC 6665) for their person and
// get a NOTIFY for each missed-call notification. Private to sipua/src: it speaks nua and runs on
// the user agent's su_root thread only (every method), except the atomic counters.

#include <sofia-sip/nua.h>
#include <sofia-sip/su_wait.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "mcn/sipua/user_agent.h"

namespace mcn::sipua {

class SubscriptionServer {
 public:
  // `trusted_proxy`: the outbound proxy URI; only requests from its address(es) are believed
  // (P-Asserted-Identity is only as good as the hop that set it, RFC 3325 §3). Empty: none.
  SubscriptionServer(const std::string& trusted_proxy, UserAgent::PersonOf person_of);

  // The tags nua_create() needs for the package to reach event().
  static const char* allowEvents() { return kMissedCallEvent; }

  void attach(nua_t* nua, su_root_t* root);
  // true: the event was about a subscription (taken here).
  bool event(nua_event_t ev, int status, nua_handle_t* nh, sip_t const* sip, tagi_t tags[]);
  // A NOTIFY with `body` to each live subscription of `person`.
  void notify(const std::string& person, const std::string& body);
  // Terminated NOTIFYs are left to nua_shutdown(); forgets the table and stops the timer.
  void stop();

  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const;

  static constexpr uint32_t kMaxExpiresS = 3600;  // also the default (RFC 6665 §7.2: per package)
  static constexpr size_t kMaxSubscriptions = 10000;

 private:
  struct Sub {
    std::string person;
    std::string identity;
    int64_t expires_at_s = 0;  // on su_now()'s clock
  };
  void onSubscribe(nua_handle_t* nh, int status, sip_t const* sip);
  void refuse(nua_handle_t* nh, int status, const char* phrase, std::string_view why);
  void expire();
  static void onTimer(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg);
  bool fromTrustedProxy() const;

  std::set<std::string> trusted_;  // the proxy's IP addresses
  UserAgent::PersonOf person_of_;
  nua_t* nua_ = nullptr;
  su_timer_t* timer_ = nullptr;
  std::map<nua_handle_t*, Sub> subs_;
  bool answered_ = false;  // the SUBSCRIBE being handled was answered by the stack already
  std::set<nua_handle_t*> closing_;  // final NOTIFY sent: destroyed by the timer
  std::set<nua_handle_t*> reaped_;   // ... on its second tick

 public:
  std::atomic<uint64_t> accepted{0}, refused{0}, expired{0}, ended{0}, notify_sent{0},
      notify_failed{0};
};

}  // namespace mcn::sipua
