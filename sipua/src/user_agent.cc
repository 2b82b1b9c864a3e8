#include "mcn/sipua/user_agent.h"

#include <fmt/format.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_tag_io.h>
#include <sofia-sip/su_wait.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

namespace mcn::sipua {

std::string_view callbackStateName(CallbackState s) {
  switch (s) {
    case CallbackState::kCallingYou:
      return "calling_you";
    case CallbackState::kCallingThem:
      return "calling_them";
    case CallbackState::kConnected:
      return "connected";
    case CallbackState::kBusy:
      return "busy";
    case CallbackState::kNoAnswer:
      return "no_answer";
    case CallbackState::kFailed:
      return "failed";
  }
  return "failed";
}

std::string toUri(std::string_view s, std::string_view domain) {
  if (s.empty() || s.size() > 256) return {};
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == '"' || c == '\\') return {};
  }
  if (s.starts_with("sip:") || s.starts_with("sips:") || s.starts_with("tel:")) {
    return std::string(s);
  }
  // A bare number or user: no '@', ';' or ':' (they would change the URI's meaning).
  if (s.find_first_of("@;:?") != std::string_view::npos || domain.empty()) return {};
  return fmt::format("sip:{}@{}", s, domain);
}

namespace {

int64_t unixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The host[:port] of a SIP URI ("sip:10.0.0.1:5060;transport=tcp" -> "10.0.0.1:5060").
std::string uriHost(std::string_view uri) {
  auto colon = uri.find(':');
  if (colon == std::string_view::npos) return {};
  uri.remove_prefix(colon + 1);
  if (auto at = uri.find('@'); at != std::string_view::npos) uri.remove_prefix(at + 1);
  auto end = uri.find_first_of(";?>");
  return std::string(uri.substr(0, end));
}

// "SIP/2.0 486 Busy Here\r\n..." (RFC 3515 §2.4.5 sipfrag) -> 486; 0 when not a status line.
int sipfragStatus(std::string_view body) {
  if (!body.starts_with("SIP/2.0 ") || body.size() < 11) return 0;
  int code = 0;
  for (size_t i = 8; i < 11; ++i) {
    if (body[i] < '0' || body[i] > '9') return 0;
    code = code * 10 + (body[i] - '0');
  }
  return code;
}

// A held offer (RFC 3264 §8.4, a=inactive): the device gets a valid session, mcn carries no media.
std::string heldOffer(std::string_view listen) {
  std::string host = uriHost(listen);
  if (auto c = host.rfind(':'); c != std::string::npos && host.find(']') == std::string::npos) {
    host.resize(c);
  }
  if (host.empty() || host == "*" || host.find(':') != std::string::npos) host = "0.0.0.0";
  return fmt::format(
      "v=0\r\no=mcn 1 1 IN IP4 {0}\r\ns=mcn call back\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
      "m=audio 9 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=inactive\r\n",
      host);
}

enum class Phase { kInviting, kReferring, kDone };

}  // namespace

struct Call {
  UserAgent::Impl* ua = nullptr;
  std::string id;
  CallbackRequest req;
  std::string device_uri, target_uri;
  nua_handle_t* nh = nullptr;
  su_timer_t* timer = nullptr;
  Phase phase = Phase::kInviting;
  bool answered = false;  // the device's 2xx: there is a dialog to BYE
  bool bye_sent = false;
  bool auth_tried = false;
};

struct MessageTx {
  UserAgent::Impl* ua = nullptr;
  UserAgent::MessageRequest req;
  std::string uri;
  std::function<void(const UserAgent::MessageResult&)> done;
  nua_handle_t* nh = nullptr;
  su_timer_t* timer = nullptr;
  bool reported = false;
};

struct UserAgent::Impl {
  UaConfig cfg;
  std::string password;
  std::string domain;

  std::thread thread;
  su_root_t* root = nullptr;
  nua_t* nua = nullptr;
  nua_handle_t* reg = nullptr;
  bool reg_auth_tried = false;
  su_wait_t wait[1] = {};
  int efd = -1;
  bool shutting_down = false;
  su_timer_t* shutdown_timer = nullptr;

  // Requests from other threads, run on the su_root thread. Producers are HTTP handler threads
  // (several), so a mutex rather than an SPSC ring; nothing here is on the packet path.
  std::mutex qmu;
  std::deque<std::function<void()>> queue;
  static constexpr size_t kMaxQueued = 1024;

  // Published states: written on the su_root thread, read by HTTP threads.
  mutable std::mutex smu;
  std::unordered_map<std::string, CallbackStatus> table;
  std::deque<std::string> finished;
  std::atomic<int> active{0};
  std::mt19937_64 rng{std::random_device{}()};  // ids only (not secrets); under smu

  // su_root thread only.
  std::map<std::string, std::unique_ptr<Call>> calls;
  static constexpr int kLingerMs = 35000;

  // In-flight MESSAGEs by handle (their handles carry no Call magic).
  std::map<nua_handle_t*, std::unique_ptr<MessageTx>> messages;

  std::atomic<uint64_t> msg_sent{0}, msg_delivered{0}, msg_failed{0}, msg_timeout{0};
  std::atomic<uint64_t> requested{0}, refused{0}, connected{0}, busy{0}, no_answer{0}, failed{0},
      refer_refused{0}, reg_ok{0}, reg_failed{0}, incoming_rejected{0};

  // ---- any thread ----
  bool post(std::function<void()> fn) {
    {
      std::lock_guard lock(qmu);
      if (queue.size() >= kMaxQueued) return false;
      queue.push_back(std::move(fn));
    }
    uint64_t one = 1;
    ssize_t n = ::write(efd, &one, sizeof one);
    (void)n;  // a full eventfd counter still wakes the reader
    return true;
  }

  // ---- su_root thread ----
  static int onWake(su_root_magic_t* magic, su_wait_t*, su_wakeup_arg_t*) {
    auto* self = static_cast<Impl*>(magic);
    uint64_t n = 0;
    ssize_t r = ::read(self->efd, &n, sizeof n);
    (void)r;
    std::deque<std::function<void()>> todo;
    {
      std::lock_guard lock(self->qmu);
      todo.swap(self->queue);
    }
    for (auto& fn : todo) fn();
    return 0;
  }

  void publish(const Call& c, CallbackState st, int sip_status, std::string reason,
               std::string leg = {}) {
    std::lock_guard lock(smu);
    auto it = table.find(c.id);
    if (it == table.end()) return;
    auto& s = it->second;
    if (isFinal(s.state)) return;
    s.state = st;
    s.sip_status = sip_status;
    s.reason = std::move(reason);
    s.leg = std::move(leg);
    s.updated_ms = unixMs();
    spdlog::info("call back {}: {} (person {}, {} -> {}{}{})", c.id, callbackStateName(st),
                 c.req.person, c.device_uri, c.target_uri,
                 sip_status != 0 ? fmt::format(", SIP {}", sip_status) : std::string(),
                 s.reason.empty() ? std::string() : ", " + s.reason);
    if (!isFinal(st)) return;
    active.fetch_sub(1);
    switch (st) {
      case CallbackState::kConnected:
        ++connected;
        break;
      case CallbackState::kBusy:
        ++busy;
        break;
      case CallbackState::kNoAnswer:
        ++no_answer;
        break;
      default:
        ++failed;
        break;
    }
    finished.push_back(c.id);
    while (finished.size() > kKeepFinished) {
      table.erase(finished.front());
      finished.pop_front();
    }
  }

  void setCallId(const Call& c, std::string_view call_id) {
    std::lock_guard lock(smu);
    if (auto it = table.find(c.id); it != table.end() && it->second.call_id.empty()) {
      it->second.call_id = call_id;
    }
  }

  void armTimer(Call& c, int ms) {
    if (c.timer == nullptr) c.timer = su_timer_create(su_root_task(root), ms);
    su_timer_set_interval(c.timer, &Impl::onTimer, &c, ms);
  }

  static void onTimer(su_root_magic_t* magic, su_timer_t*, su_timer_arg_t* arg) {
    auto* self = static_cast<Impl*>(magic);
    self->timeout(*static_cast<Call*>(arg));
  }

  void timeout(Call& c) {
    if (c.phase == Phase::kInviting) {
      // Ring timeout: CANCEL (RFC 3261 §9.1); the 487 that follows changes nothing.
      publish(c, CallbackState::kNoAnswer, 0,
              fmt::format("no answer within {} s", cfg.ring_timeout_ms / 1000), "you");
      c.phase = Phase::kDone;
      nua_cancel(c.nh, TAG_END());
      armTimer(c, kLingerMs);  // the 487 normally ends it sooner
      return;
    }
    if (c.phase == Phase::kDone) {
      destroy(c);  // c is gone
      return;
    }
    if (c.phase == Phase::kReferring) {
      publish(c, CallbackState::kFailed, 0,
              fmt::format("no final NOTIFY within {} s", cfg.connect_timeout_ms / 1000), "them");
      finish(c);
    }
  }

  // Leaves the device's dialog (if any). The handle and the call go once the BYE is answered
  // or nua reports the call terminated, at the latest kLingerMs later (a BYE transaction lasts
  // at most 64*T1 = 32 s, RFC 3261 §17.1.2.2): calls never pile up.
  void finish(Call& c) {
    c.phase = Phase::kDone;
    if (c.answered && !c.bye_sent) {
      c.bye_sent = true;
      nua_bye(c.nh, TAG_END());
      armTimer(c, kLingerMs);
    } else {
      reap(c);
    }
  }

  // Destroys the call from the event loop, not from inside the callback that is using it.
  void reap(Call& c) {
    c.phase = Phase::kDone;
    armTimer(c, 1);
  }

  void destroy(Call& c) {
    if (c.timer != nullptr) su_timer_destroy(c.timer);
    c.timer = nullptr;
    if (c.nh != nullptr) {
      nua_handle_bind(c.nh, nullptr);
      nua_handle_destroy(c.nh);
      c.nh = nullptr;
    }
    std::string id = c.id;
    calls.erase(id);  // c is gone after this line
  }

  // One digest answer per challenge (RFC 3261 §22.2); a second challenge means wrong credentials.
  bool authenticate(nua_handle_t* nh, sip_t const* sip, bool& tried) {
    if (tried || cfg.auth_user.empty() || sip == nullptr) return false;
    msg_auth_t const* au = sip->sip_www_authenticate != nullptr ? sip->sip_www_authenticate
                                                                : sip->sip_proxy_authenticate;
    if (au == nullptr || au->au_scheme == nullptr) return false;
    char const* realm = msg_header_find_param(au->au_common, "realm=");
    if (realm == nullptr) return false;
    tried = true;
    std::string auth = fmt::format("{}:{}:{}:{}", au->au_scheme, realm, cfg.auth_user, password);
    nua_authenticate(nh, NUTAG_AUTH(auth.c_str()), TAG_END());
    return true;
  }

  void startCall(std::unique_ptr<Call> owned) {
    Call& c = *owned;
    if (shutting_down) {  // queued just before the stop: nothing is placed
      publish(c, CallbackState::kFailed, 0, "mcn is stopping", "you");
      return;
    }
    calls.emplace(c.id, std::move(owned));
    std::string from = fmt::format("\"Call back {}\" <{}>", c.req.target, cfg.identity);
    c.nh = nua_handle(nua, &c, SIPTAG_TO_STR(c.device_uri.c_str()), SIPTAG_FROM_STR(from.c_str()),
                      TAG_END());
    if (c.nh == nullptr) {
      publish(c, CallbackState::kFailed, 0, "cannot create a SIP handle", "you");
      calls.erase(c.id);
      return;
    }
    std::string marker = fmt::format("{}: callback;id={}", cfg.marker_header, c.id);
    std::string pai = cfg.asserted_identity.empty()
                          ? std::string()
                          : fmt::format("P-Asserted-Identity: <{}>", cfg.asserted_identity);
    std::string sdp = heldOffer(cfg.listen);
    nua_invite(c.nh, SIPTAG_HEADER_STR(marker.c_str()),
               TAG_IF(!pai.empty(), SIPTAG_HEADER_STR(pai.c_str())),
               SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp.c_str()),
               TAG_END());
    armTimer(c, cfg.ring_timeout_ms);
  }

  static void onEvent(nua_event_t event, int status, char const* phrase, nua_t*, nua_magic_t* magic,
                      nua_handle_t* nh, nua_hmagic_t* hmagic, sip_t const* sip, tagi_t tags[]) {
    auto* self = static_cast<Impl*>(magic);
    self->event(event, status, phrase != nullptr ? phrase : "", nh, static_cast<Call*>(hmagic), sip,
                tags);
  }

  void event(nua_event_t ev, int status, std::string_view phrase, nua_handle_t* nh, Call* c,
             sip_t const* sip, tagi_t tags[]) {
    if (ev == nua_r_shutdown) {
      if (status >= 200) {
        shutdown_done = true;
        su_root_break(root);
      }
      return;
    }
    if (ev == nua_i_invite && c != nullptr) {
      // A re-INVITE from the device (session refresh, its own hold): the same held answer.
      std::string sdp = heldOffer(cfg.listen);
      nua_respond(nh, SIP_200_OK, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
                  SIPTAG_PAYLOAD_STR(sdp.c_str()), TAG_END());
      return;
    }
    if (ev == nua_i_invite) {
      // mcn places calls; it takes none (RFC 3261 §21.4.4 403 Forbidden).
      ++incoming_rejected;
      nua_respond(nh, SIP_403_FORBIDDEN, TAG_END());
      nua_handle_destroy(nh);
      return;
    }
    if (nh != nullptr && nh == reg) {
      onRegister(ev, status, phrase, sip);
      return;
    }
    if (c == nullptr) {
      if (ev == nua_r_message) onMessage(nh, status, phrase, sip);
      return;
    }
    if (sip != nullptr && sip->sip_call_id != nullptr && sip->sip_call_id->i_id != nullptr) {
      setCallId(*c, sip->sip_call_id->i_id);
    }
    switch (ev) {
      case nua_r_invite:
        return onInvite(*c, status, phrase, sip);
      case nua_r_refer:
        return onRefer(*c, status, phrase, sip);
      case nua_i_notify:
        return onNotify(*c, sip);
      case nua_i_bye:
        // The person hung up: before the number answered, the call back failed there.
        c->answered = false;
        if (c->phase != Phase::kDone) {
          publish(*c, CallbackState::kFailed, 0, "the person hung up", "you");
          finish(*c);
        }
        return;
      case nua_r_bye:
        if (status >= 200) reap(*c);
        return;
      case nua_i_state: {
        int cs = -1;
        tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
        if (cs == nua_callstate_terminated) {
          if (c->phase != Phase::kDone) {
            publish(*c, CallbackState::kFailed, status, std::string(phrase), "you");
          }
          reap(*c);
        }
        return;
      }
      default:
        return;
    }
  }

  void onInvite(Call& c, int status, std::string_view phrase, sip_t const* sip) {
    if (status < 200) return;  // 100/180/183: still calling the person
    if ((status == 401 || status == 407) && authenticate(c.nh, sip, c.auth_tried)) return;
    if (status < 300) {
      c.answered = true;
      if (c.phase != Phase::kInviting) {  // answered just as the ring timer fired
        finish(c);
        return;
      }
      c.phase = Phase::kReferring;
      publish(c, CallbackState::kCallingThem, 0, {});
      // RFC 3515 §2.4.1: the device calls the number; its progress comes back as NOTIFY sipfrag.
      std::string refer_to = fmt::format("<{}>", c.target_uri);
      std::string marker = fmt::format("{}: callback;id={}", cfg.marker_header, c.id);
      nua_refer(c.nh, SIPTAG_REFER_TO_STR(refer_to.c_str()), SIPTAG_HEADER_STR(marker.c_str()),
                TAG_END());
      armTimer(c, cfg.connect_timeout_ms);
      return;
    }
    if (c.phase == Phase::kDone) {  // our own CANCEL's 487
      reap(c);
      return;
    }
    CallbackState st = CallbackState::kFailed;
    if (status == 486 || status == 600) st = CallbackState::kBusy;
    if (status == 408 || status == 480 || status == 487) st = CallbackState::kNoAnswer;
    publish(c, st, status, std::string(phrase), "you");
    finish(c);
  }

  void onRefer(Call& c, int status, std::string_view phrase, sip_t const* sip) {
    if (status < 200 || c.phase != Phase::kReferring) return;
    if ((status == 401 || status == 407) && authenticate(c.nh, sip, c.auth_tried)) return;
    if (status < 300) return;  // 202 Accepted: NOTIFYs follow
    ++refer_refused;
    publish(c, CallbackState::kFailed, status, fmt::format("REFER refused: {}", phrase), "you");
    finish(c);
  }

  void onNotify(Call& c, sip_t const* sip) {
    if (c.phase != Phase::kReferring || sip == nullptr || sip->sip_payload == nullptr) return;
    std::string_view body(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    int code = sipfragStatus(body);
    if (code == 0 || code < 200) return;  // 100 Trying, 180 Ringing: still calling them
    std::string_view line = body.substr(0, body.find_first_of("\r\n"));
    std::string phrase(line.size() > 12 ? line.substr(12) : std::string_view());
    if (code < 300) {
      publish(c, CallbackState::kConnected, code, {});
    } else if (code == 486 || code == 600) {
      publish(c, CallbackState::kBusy, code, phrase, "them");
    } else if (code == 408 || code == 480 || code == 487) {
      publish(c, CallbackState::kNoAnswer, code, phrase, "them");
    } else {
      publish(c, CallbackState::kFailed, code, phrase, "them");
    }
    // Connected: the device talks to the number now; mcn leaves (RFC 5589 §6.1). Else the
    // person is alone on mcn's held call: end it.
    finish(c);
  }

  void startMessage(std::unique_ptr<MessageTx> owned) {
    MessageTx& m = *owned;
    if (shutting_down) {
      m.done(UserAgent::MessageResult{0, "mcn is stopping", std::nullopt, {}});
      return;
    }
    m.nh = nua_handle(nua, nullptr, SIPTAG_TO_STR(m.uri.c_str()), TAG_END());
    if (m.nh == nullptr) {
      ++msg_failed;
      m.done(UserAgent::MessageResult{0, "cannot create a SIP handle", std::nullopt, {}});
      return;
    }
    ++msg_sent;
    std::string key = fmt::format("{}: {}", kMessageKeyHeader, m.req.idempotency_key);
    std::string marker = fmt::format("{}: notification", cfg.marker_header);
    std::string pai = cfg.asserted_identity.empty()
                          ? std::string()
                          : fmt::format("P-Asserted-Identity: <{}>", cfg.asserted_identity);
    nua_message(m.nh, SIPTAG_CONTENT_TYPE_STR("text/plain;charset=UTF-8"),
                SIPTAG_PAYLOAD_STR(m.req.body.c_str()),
                TAG_IF(!m.req.idempotency_key.empty(), SIPTAG_HEADER_STR(key.c_str())),
                SIPTAG_HEADER_STR(marker.c_str()),
                TAG_IF(!pai.empty(), SIPTAG_HEADER_STR(pai.c_str())), TAG_END());
    m.timer = su_timer_create(su_root_task(root), m.req.timeout_ms);
    su_timer_set_interval(m.timer, &Impl::onMessageTimer, &m, m.req.timeout_ms);
    nua_handle_t* nh = m.nh;
    messages.emplace(nh, std::move(owned));
  }

  void onMessage(nua_handle_t* nh, int status, std::string_view phrase, sip_t const* sip) {
    auto it = messages.find(nh);
    if (it == messages.end() || status < 200) return;
    MessageTx& m = *it->second;
    if (m.reported) return;
    UserAgent::MessageResult r;
    r.status = status;
    r.phrase = phrase;
    if (sip != nullptr && sip->sip_retry_after != nullptr) {
      r.retry_after_s = static_cast<int64_t>(sip->sip_retry_after->af_delta);
    }
    if (sip != nullptr && sip->sip_call_id != nullptr && sip->sip_call_id->i_id != nullptr) {
      r.call_id = sip->sip_call_id->i_id;
    }
    (status < 300 ? msg_delivered : msg_failed)++;
    m.reported = true;
    m.done(r);
    // The handle goes from the event loop, not from inside its own callback.
    su_timer_set_interval(m.timer, &Impl::onMessageTimer, &m, 1);
  }

  static void onMessageTimer(su_root_magic_t* magic, su_timer_t*, su_timer_arg_t* arg) {
    auto* self = static_cast<Impl*>(magic);
    auto* m = static_cast<MessageTx*>(arg);
    if (!m->reported) {
      ++self->msg_timeout;
      m->reported = true;
      m->done(UserAgent::MessageResult{
          408, fmt::format("no answer within {} s", m->req.timeout_ms / 1000), std::nullopt, {}});
    }
    self->dropMessage(*m);  // m is gone
  }

  void dropMessage(MessageTx& m) {
    if (m.timer != nullptr) su_timer_destroy(m.timer);
    m.timer = nullptr;
    nua_handle_t* nh = m.nh;
    nua_handle_destroy(nh);  // an unanswered transaction is dropped with it
    messages.erase(nh);
  }

  void onRegister(nua_event_t ev, int status, std::string_view phrase, sip_t const* sip) {
    if (ev != nua_r_register || status < 200) return;
    if ((status == 401 || status == 407) && authenticate(reg, sip, reg_auth_tried)) return;
    if (status < 300) {
      reg_auth_tried = false;  // the next refresh may be challenged again
      ++reg_ok;
      spdlog::info("sipua: registered {} ({} {})", cfg.identity, status, phrase);
    } else {
      ++reg_failed;
      spdlog::warn("sipua: REGISTER {} failed: {} {}", cfg.identity, status, phrase);
    }
  }

  static void onShutdownTimer(su_root_magic_t* magic, su_timer_t*, su_timer_arg_t*) {
    auto* self = static_cast<Impl*>(magic);
    spdlog::warn("sipua: SIP shutdown did not finish in 3 s; leaving");
    su_root_break(self->root);
  }

  // sofia's own log lines (stderr by default) go to the log at debug level, one line each.
  static void sofiaLog(void*, char const* fmt, va_list ap) {
    char buf[512];
    int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    if (n <= 0) return;
    std::string_view line(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (!line.empty()) spdlog::debug("sipua: sofia: {}", line);
  }

  void run(std::promise<std::string>& started) {
    su_init();
    su_log_redirect(nullptr, &Impl::sofiaLog, nullptr);
    root = su_root_create(this);
    if (root == nullptr) {
      started.set_value("sipua: cannot create the SIP event loop");
      su_deinit();
      return;
    }
    su_wait_create(wait, efd, SU_WAIT_IN);
    su_root_register(root, wait, &Impl::onWake, nullptr, 0);
    nua = nua_create(root, &Impl::onEvent, this, NUTAG_URL(cfg.listen.c_str()),
                     TAG_IF(!cfg.outbound_proxy.empty(), NUTAG_PROXY(cfg.outbound_proxy.c_str())),
                     SIPTAG_FROM_STR(cfg.identity.c_str()), NUTAG_MEDIA_ENABLE(0),
                     SIPTAG_USER_AGENT_STR("mcn"), TAG_END());
    if (nua == nullptr) {
      started.set_value(fmt::format("sipua: cannot listen on {}", cfg.listen));
      su_root_destroy(root);
      root = nullptr;
      su_deinit();
      return;
    }
    if (cfg.register_) {
      reg = nua_handle(nua, nullptr, SIPTAG_TO_STR(cfg.identity.c_str()), TAG_END());
      nua_register(reg, TAG_IF(!cfg.registrar.empty(), NUTAG_REGISTRAR(cfg.registrar.c_str())),
                   SIPTAG_EXPIRES_STR(std::to_string(cfg.register_expires_s).c_str()), TAG_END());
    }
    started.set_value({});
    su_root_run(root);
    spdlog::debug("sipua: stopped with {} call(s) open", calls.size());
    if (shutdown_timer != nullptr) {
      su_timer_destroy(shutdown_timer);
    }
    for (auto& [id, c] : calls) {
      if (c->timer != nullptr) su_timer_destroy(c->timer);
      c->timer = nullptr;
    }
    calls.clear();
    for (auto& [nh, m] : messages) {
      if (m->timer != nullptr) su_timer_destroy(m->timer);
      m->timer = nullptr;
      if (!m->reported) m->done(UserAgent::MessageResult{0, "mcn is stopping", std::nullopt, {}});
    }
    messages.clear();
    // nua_destroy() is only safe once nua_shutdown() completed; after the 3 s bound the stack is
    // left to the process exit rather than risk tearing it down under a live transaction.
    if (shutdown_done) nua_destroy(nua);
    su_root_unregister(root, wait, &Impl::onWake, nullptr);
    su_root_destroy(root);
    root = nullptr;
    su_deinit();
  }
  bool shutdown_done = false;
};

UserAgent::UserAgent(UaConfig cfg, std::string password) : impl_(std::make_unique<Impl>()) {
  impl_->cfg = std::move(cfg);
  impl_->password = std::move(password);
  impl_->domain =
      !impl_->cfg.domain.empty() ? impl_->cfg.domain : uriHost(impl_->cfg.outbound_proxy);
  if (impl_->domain.empty()) impl_->domain = uriHost(impl_->cfg.identity);
}

UserAgent::~UserAgent() { stop(); }

std::string UserAgent::start() {
  Impl& m = *impl_;
  m.efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m.efd < 0) return "sipua: eventfd failed";
  std::promise<std::string> started;
  auto f = started.get_future();
  m.thread = std::thread([&m, &started] { m.run(started); });
  std::string err = f.get();
  if (!err.empty()) {
    m.thread.join();
    ::close(m.efd);
    m.efd = -1;
    return err;
  }
  spdlog::info(
      "sipua: SIP user agent on {}{}", m.cfg.listen,
      m.cfg.outbound_proxy.empty() ? std::string() : ", outbound proxy " + m.cfg.outbound_proxy);
  return {};
}

void UserAgent::stop() {
  Impl& m = *impl_;
  if (!m.thread.joinable()) return;
  m.post([&m] {
    m.shutting_down = true;
    m.shutdown_timer = su_timer_create(su_root_task(m.root), 3000);
    su_timer_set(m.shutdown_timer, &Impl::onShutdownTimer, nullptr);
    nua_shutdown(m.nua);
  });
  m.thread.join();
  ::close(m.efd);
  m.efd = -1;
}

std::string UserAgent::check(const CallbackRequest& req) const {
  if (toUri(req.device, impl_->domain).empty()) return "device is not a number or SIP URI";
  if (toUri(req.target, impl_->domain).empty()) return "number is not a number or SIP URI";
  return {};
}

UserAgent::Placed UserAgent::callback(const CallbackRequest& req) {
  Impl& m = *impl_;
  ++m.requested;
  Placed out;
  auto c = std::make_unique<Call>();
  c->ua = &m;
  c->req = req;
  c->device_uri = toUri(req.device, m.domain);
  c->target_uri = toUri(req.target, m.domain);
  if (c->device_uri.empty() || c->target_uri.empty()) {
    ++m.refused;
    return {{},
            400,
            c->device_uri.empty() ? "device is not a number or SIP URI"
                                  : "number is not a number or SIP URI"};
  }
  if (!m.thread.joinable()) {
    ++m.refused;
    return {{}, 503, "the SIP user agent is not running"};
  }
  if (m.active.fetch_add(1) >= m.cfg.max_active) {
    m.active.fetch_sub(1);
    ++m.refused;
    return {{}, 429, fmt::format("{} call-backs in progress already", m.cfg.max_active)};
  }
  CallbackStatus st;
  {
    std::lock_guard lock(m.smu);
    do {
      st.id = fmt::format("{:016x}", m.rng());
    } while (m.table.contains(st.id));
    st.person = req.person;
    st.device = c->device_uri;
    st.target = c->target_uri;
    st.created_ms = st.updated_ms = unixMs();
    m.table.emplace(st.id, st);
  }
  c->id = st.id;
  spdlog::info("call back {}: requested by {} for person {}: {} then {}", st.id, req.origin,
               req.person, c->device_uri, c->target_uri);
  Call* raw = c.release();
  if (!m.post([&m, raw] { m.startCall(std::unique_ptr<Call>(raw)); })) {
    delete raw;
    std::lock_guard lock(m.smu);
    m.table.erase(st.id);
    m.active.fetch_sub(1);
    ++m.refused;
    return {{}, 503, "the SIP user agent's queue is full"};
  }
  out.id = st.id;
  return out;
}

std::string UserAgent::message(MessageRequest req, std::function<void(const MessageResult&)> done) {
  Impl& m = *impl_;
  auto tx = std::make_unique<MessageTx>();
  tx->uri = toUri(req.to, m.domain);
  if (tx->uri.empty()) return "recipient is not a number or SIP URI";
  if (req.body.size() > kMessageBodyMax) {
    return fmt::format("body of {} bytes is over {}", req.body.size(), kMessageBodyMax);
  }
  if (req.idempotency_key.find_first_of("\r\n") != std::string::npos) {
    return "idempotency key holds a line break";
  }
  if (req.timeout_ms <= 0) req.timeout_ms = 10000;
  if (!m.thread.joinable()) return "the SIP user agent is not running";
  tx->ua = &m;
  tx->req = std::move(req);
  tx->done = std::move(done);
  MessageTx* raw = tx.release();
  if (!m.post([&m, raw] { m.startMessage(std::unique_ptr<MessageTx>(raw)); })) {
    delete raw;
    return "the SIP user agent's queue is full";
  }
  return {};
}

std::optional<CallbackStatus> UserAgent::status(std::string_view id) const {
  std::lock_guard lock(impl_->smu);
  auto it = impl_->table.find(std::string(id));
  if (it == impl_->table.end()) return std::nullopt;
  return it->second;
}

void UserAgent::forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const {
  const Impl& m = *impl_;
  fn("sipua.callbacks.requested", m.requested.load());
  fn("sipua.callbacks.refused", m.refused.load());
  fn("sipua.callbacks.connected", m.connected.load());
  fn("sipua.callbacks.busy", m.busy.load());
  fn("sipua.callbacks.no_answer", m.no_answer.load());
  fn("sipua.callbacks.failed", m.failed.load());
  fn("sipua.refer.refused", m.refer_refused.load());
  fn("sipua.register.ok", m.reg_ok.load());
  fn("sipua.register.failed", m.reg_failed.load());
  fn("sipua.incoming.rejected", m.incoming_rejected.load());
  fn("sipua.messages.sent", m.msg_sent.load());
  fn("sipua.messages.delivered", m.msg_delivered.load());
  fn("sipua.messages.failed", m.msg_failed.load());
  fn("sipua.messages.timeout", m.msg_timeout.load());
}

}  // namespace mcn::sipua
