#include "subscriptions.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_time.h>
#include <sofia-sip/url.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

namespace mcn::sipua {

namespace {

// The host of "sip:[user@]host[:port][;params]", without port or IPv6 brackets.
std::string proxyHost(std::string_view uri) {
  auto colon = uri.find(':');
  if (colon == std::string_view::npos) return {};
  uri.remove_prefix(colon + 1);
  if (auto at = uri.find('@'); at != std::string_view::npos) uri.remove_prefix(at + 1);
  uri = uri.substr(0, uri.find_first_of(";?>"));
  if (uri.starts_with('[')) return std::string(uri.substr(1, uri.find(']') - 1));
  return std::string(uri.substr(0, uri.find(':')));
}

std::string ipOf(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

// The URIs of a P-Asserted-Identity value: `"Name" <uri>, <uri>` or a bare `uri` (RFC 3325 §9.1).
std::vector<std::string_view> assertedUris(std::string_view v) {
  std::vector<std::string_view> out;
  while (!v.empty()) {
    auto lt = v.find('<');
    if (lt == std::string_view::npos) {
      auto end = v.find_first_of(",; \t");
      auto start = v.find_first_not_of(" \t");
      if (start != std::string_view::npos && start < end)
        out.push_back(v.substr(start, end - start));
      break;
    }
    auto gt = v.find('>', lt);
    if (gt == std::string_view::npos) break;
    out.push_back(v.substr(lt + 1, gt - lt - 1));
    v.remove_prefix(gt + 1);
  }
  return out;
}

int64_t nowS() { return static_cast<int64_t>(su_now().tv_sec); }

}  // namespace

SubscriptionServer::SubscriptionServer(const std::string& trusted_proxy,
                                       UserAgent::PersonOf person_of)
    : person_of_(std::move(person_of)) {
  std::string host = proxyHost(trusted_proxy);
  if (host.empty()) return;
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) {
    spdlog::warn("sipua: cannot resolve the outbound proxy {}: no SUBSCRIBE will be trusted", host);
    return;
  }
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) trusted_.insert(ipOf(a->ai_addr));
  ::freeaddrinfo(res);
}

void SubscriptionServer::attach(nua_t* nua, su_root_t* root) {
  nua_ = nua;
  timer_ = su_timer_create(su_root_task(root), 1000);
  su_timer_set_interval(timer_, &SubscriptionServer::onTimer,
                        reinterpret_cast<su_timer_arg_t*>(this), 1000);
}

void SubscriptionServer::stop() {
  if (timer_ != nullptr) su_timer_destroy(timer_);
  timer_ = nullptr;
  subs_.clear();
}

bool SubscriptionServer::fromTrustedProxy() const {
  msg_t* req = nua_current_request(nua_);
  su_addrinfo_t* ai = req != nullptr ? msg_addrinfo(req) : nullptr;
  if (ai == nullptr || ai->ai_addr == nullptr) return false;
  return trusted_.contains(ipOf(reinterpret_cast<const sockaddr*>(ai->ai_addr)));
}

void SubscriptionServer::refuse(nua_handle_t* nh, int status, const char* phrase,
                                std::string_view why) {
  ++refused;
  spdlog::info("sipua: SUBSCRIBE refused ({} {}): {}", status, phrase, why);
  if (answered_) {
    closing_.insert(nh);
    nua_notify(nh, NUTAG_SUBSTATE(nua_substate_terminated),
               SIPTAG_SUBSCRIPTION_STATE_STR("terminated;reason=rejected"), TAG_END());
    return;
  }
  nua_respond(nh, status, phrase, NUTAG_WITH_THIS(nua_), TAG_END());
  nua_handle_destroy(nh);
}

bool SubscriptionServer::event(nua_event_t ev, int status, nua_handle_t* nh, sip_t const* sip,
                               tagi_t tags[]) {
  if (ev == nua_i_subscribe) {
    onSubscribe(nh, status, sip);
    return true;
  }
  if (ev != nua_r_notify) return false;
  auto it = subs_.find(nh);
  if (it == subs_.end()) return closing_.contains(nh);
  if (status < 200) return true;
  if (status >= 300) ++notify_failed;
  int substate = nua_substate_active;
  tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
  // 481: the client forgot the dialog (RFC 6665 §4.1.3): the subscription is over; so is one the
  // stack itself terminated.
  if (status == 481 || substate == nua_substate_terminated) {
    ++ended;
    subs_.erase(it);
    closing_.insert(nh);
  }
  return true;
}

void SubscriptionServer::onSubscribe(nua_handle_t* nh, int status, sip_t const* sip) {
  uint32_t expires = kMaxExpiresS;
  if (sip != nullptr && sip->sip_expires != nullptr) {
    expires = std::min<uint32_t>(kMaxExpiresS, sip->sip_expires->ex_delta);
  }
  if (auto it = subs_.find(nh); it != subs_.end()) {
    // A refresh inside the dialog (RFC 6665 §4.1.2.1), or Expires: 0 to end it. The stack may
    // have answered it (and re-sent the last NOTIFY) already.
    bool answered = status >= 200;
    if (!answered) nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua_), TAG_END());
    if (expires == 0) {
      ++ended;
      subs_.erase(it);
      closing_.insert(nh);
      if (!answered) nua_notify(nh, NUTAG_SUBSTATE(nua_substate_terminated), TAG_END());
      return;
    }
    it->second.expires_at_s = nowS() + expires;
    if (!answered) nua_notify(nh, NUTAG_SUBSTATE(nua_substate_active), TAG_END());
    return;
  }
  if (status >= 300) {  // the stack refused it itself (489 for another event package)
    ++refused;
    return;
  }
  // With SUBSCRIBE an application method the stack leaves the answer to us; should a stack
  // version answer itself, a refusal becomes an immediate terminating NOTIFY instead.
  answered_ = status >= 200;
  if (sip == nullptr || sip->sip_event == nullptr || sip->sip_event->o_type == nullptr ||
      std::string_view(sip->sip_event->o_type) != kMissedCallEvent) {
    return refuse(nh, SIP_489_BAD_EVENT, "not the mcn-missed-call package");
  }
  if (!fromTrustedProxy()) {
    return refuse(nh, SIP_403_FORBIDDEN, "not from the trusted outbound proxy");
  }
  // P-Asserted-Identity is not in sofia's default parser (sip_extra.h needs the extended mclass,
  // a process-wide switch): it arrives as an unknown header, read here. One value, or several
  // comma-separated (a sip: and a tel: URI, RFC 3325 §9.1); the first that names a person wins.
  std::string person, identity;
  auto tryIdentity = [&](std::string_view uri) {
    identity = std::string(uri);
    if (person_of_) person = person_of_(identity);
    return !person.empty();
  };
  for (auto* paid = sip_p_asserted_identity(sip); paid != nullptr && person.empty();
       paid = paid->paid_next) {  // parsed, should the extended mclass be in use
    char buf[512];
    auto len = url_e(buf, sizeof buf, paid->paid_url);
    if (len > 0 && static_cast<size_t>(len) < sizeof buf) {
      tryIdentity({buf, static_cast<size_t>(len)});
    }
  }
  for (const sip_unknown_t* u = sip->sip_unknown; u != nullptr && person.empty(); u = u->un_next) {
    if (u->un_name == nullptr || u->un_value == nullptr ||
        !su_casematch(u->un_name, "P-Asserted-Identity")) {
      continue;
    }
    for (std::string_view v : assertedUris(u->un_value)) {
      if (tryIdentity(v)) break;
    }
  }
  if (identity.empty()) return refuse(nh, SIP_403_FORBIDDEN, "no P-Asserted-Identity");
  if (person.empty()) {
    return refuse(nh, SIP_404_NOT_FOUND, "no subscriber has the identity " + identity);
  }
  if (subs_.size() >= kMaxSubscriptions) {
    return refuse(nh, SIP_503_SERVICE_UNAVAILABLE, "subscription table full");
  }
  ++accepted;
  // RFC 6665 §4.2.1.2: 202 is no longer required; 200 says the same to a 6665 client and a 3265
  // one alike.
  if (!answered_) nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua_), TAG_END());
  if (expires == 0) {  // a fetch: one NOTIFY, then over
    closing_.insert(nh);
    nua_notify(nh, NUTAG_SUBSTATE(nua_substate_terminated), TAG_END());
    return;
  }
  spdlog::info("sipua: {} subscribed to {} for person {} ({} s)", identity, kMissedCallEvent,
               person, expires);
  subs_[nh] = Sub{person, identity, nowS() + expires};
  // §4.2.2: a NOTIFY at once, which also makes the dialog if the 2xx was lost at a fork.
  nua_notify(nh, NUTAG_SUBSTATE(nua_substate_active), TAG_END());
}

void SubscriptionServer::notify(const std::string& person, const std::string& body) {
  for (auto& [nh, s] : subs_) {
    if (s.person != person) continue;
    ++notify_sent;
    nua_notify(nh, NUTAG_SUBSTATE(nua_substate_active), SIPTAG_CONTENT_TYPE_STR("application/json"),
               SIPTAG_PAYLOAD_STR(body.c_str()), TAG_END());
  }
}

void SubscriptionServer::expire() {
  int64_t now = nowS();
  // Handles whose final NOTIFY was answered go now, outside their own callbacks.
  for (nua_handle_t* nh : std::vector<nua_handle_t*>(closing_.begin(), closing_.end())) {
    if (subs_.contains(nh)) continue;
    if (reaped_.erase(nh) != 0) {
      closing_.erase(nh);
      nua_handle_destroy(nh);
    } else {
      reaped_.insert(nh);  // one tick for the final NOTIFY's transaction
    }
  }
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (it->second.expires_at_s > now) {
      ++it;
      continue;
    }
    ++expired;
    nua_handle_t* nh = it->first;
    spdlog::info("sipua: subscription of {} for person {} expired", it->second.identity,
                 it->second.person);
    it = subs_.erase(it);
    closing_.insert(nh);
    // RFC 6665 §4.1.3: the subscription ran out; the state is written out (an explicit
    // Subscription-State overrides the one nua would word from its own clock).
    nua_notify(nh, NUTAG_SUBSTATE(nua_substate_terminated),
               SIPTAG_SUBSCRIPTION_STATE_STR("terminated;reason=timeout"), TAG_END());
  }
}

void SubscriptionServer::onTimer(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
  reinterpret_cast<SubscriptionServer*>(arg)->expire();
}

void SubscriptionServer::forEachCounter(
    const std::function<void(std::string_view, uint64_t)>& fn) const {
  fn("sipua.subscriptions.accepted", accepted.load());
  fn("sipua.subscriptions.refused", refused.load());
  fn("sipua.subscriptions.expired", expired.load());
  fn("sipua.subscriptions.ended", ended.load());
  fn("sipua.notify.sent", notify_sent.load());
  fn("sipua.notify.failed", notify_failed.load());
}

}  // namespace mcn::sipua
