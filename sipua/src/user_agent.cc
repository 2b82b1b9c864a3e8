#include "mcn/sipua/user_agent.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
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
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "subscriptions.h"

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

// The same SDP with mcn's own origin line (RFC 3264 §8: the origin of one side's session stays,
// its version grows): what the number offered, as mcn's offer to the device in flow IV.
std::string withOrigin(std::string_view sdp, std::string_view listen, int version) {
  std::string held = heldOffer(listen);
  auto o = held.find("o=");
  std::string origin = held.substr(o, held.find("\r\n", o) - o);
  origin.replace(origin.find(" 1 1 "), 5, fmt::format(" 1 {} ", version));
  std::string out;
  size_t pos = 0;
  while (pos < sdp.size()) {
    size_t end = sdp.find('\n', pos);
    std::string_view line = sdp.substr(pos, end == std::string_view::npos ? end : end + 1 - pos);
    pos = end == std::string_view::npos ? sdp.size() : end + 1;
    if (line.starts_with("o=")) {
      out += origin;
      out += "\r\n";
    } else {
      out += line;
    }
  }
  return out;
}

// REFER answers that mean "this device does not do transfers" (RFC 3261 §21.4.3/.6/.15,
// RFC 6665 §8.3.1 489 Bad Event, §21.5.2 501): mcn connects the call itself (RFC 3725 flow IV).
bool referUnsupported(int status) {
  return status == 403 || status == 405 || status == 420 || status == 489 || status == 501;
}

CallbackState stateFor(int status) {
  if (status == 486 || status == 600) return CallbackState::kBusy;
  if (status == 408 || status == 480 || status == 487) return CallbackState::kNoAnswer;
  return CallbackState::kFailed;
}

// kInviting: the person's device(s) ring; kReferring: the answering device was REFERred;
// kBridging: flow IV (the number is called, then the device re-INVITEd); kBridged: connected
// through mcn's two dialogs; kDone: final, waiting for the handles to end.
enum class Phase { kInviting, kReferring, kBridging, kBridged, kDone };
enum class LegState { kIdle, kRinging, kAnswered, kCancelled, kFailed };

}  // namespace

struct Call;

// One INVITE dialog of a call back: a device of the person (multicall: several) or, in flow IV,
// the number. The handle's magic points here.
struct Leg {
  Call* call = nullptr;
  std::string uri;
  bool them = false;  // the number's leg (flow IV)
  nua_handle_t* nh = nullptr;
  su_timer_t* timer = nullptr;  // ring timeout
  LegState state = LegState::kIdle;
  bool answered = false;  // a 2xx came: there is a dialog to BYE
  bool bye_sent = false;
  bool ended = false;  // nua reported the call terminated (or it never started)
  bool auth_tried = false;
  bool heard = false;    // a response came back (a 1xx at least): the softswitch is there
  std::string sdp_sent;  // the last SDP mcn gave this side (a refresh re-INVITE gets it again)
};

struct Call {
  UserAgent::Impl* ua = nullptr;
  std::string id;
  CallbackRequest req;
  std::string target_uri;
  std::vector<std::unique_ptr<Leg>> legs;  // the person's devices, in order
  std::unique_ptr<Leg> them;               // flow IV only
  size_t next = 0;                         // sequential: the next device to ring
  Leg* winner = nullptr;                   // the device that answered
  su_timer_t* timer = nullptr;             // REFER/bridge timeout, linger, reap
  Phase phase = Phase::kInviting;
  CallbackState last_state = CallbackState::kFailed;  // the last device's failure
  int last_status = 0;
  std::string last_reason;
  bool reaping = false;
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
  // SUBSCRIBE/NOTIFY (subscriptions.h): made by start() before the thread, used on it.
  UserAgent::PersonOf person_of;
  std::unique_ptr<SubscriptionServer> subs;
  std::atomic<uint64_t> requested{0}, refused{0}, connected{0}, busy{0}, no_answer{0}, failed{0},
      refer_refused{0}, multicall_cancelled{0}, bridged{0}, reg_ok{0}, reg_failed{0},
      incoming_rejected{0};
  mutable std::condition_variable changed;  // with smu: a state changed, or stop()
  bool stopping = false;                    // under smu
  int bridges_open = 0;                     // su_root thread: flow IV calls mcn stays in

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

  // Changes the published state (a final one only once) and wakes the event streams.
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
    ++s.version;
    changed.notify_all();
    spdlog::info("call back {}: {} (person {}, {} -> {}{}{})", c.id, callbackStateName(st),
                 c.req.person, c.winner != nullptr ? c.winner->uri : c.legs.front()->uri,
                 c.target_uri,
                 sip_status != 0 ? fmt::format(", SIP {}", sip_status) : std::string(),
                 s.reason.empty() ? std::string() : ", " + s.reason);
    if (isFinal(st)) s.ringing.clear();
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

  // The other published fields (which devices ring, who answered, REFER or flow IV).
  void publishDetail(const Call& c, std::string_view via = {}) {
    std::lock_guard lock(smu);
    auto it = table.find(c.id);
    if (it == table.end()) return;
    auto& s = it->second;
    s.ringing.clear();
    for (const auto& l : c.legs) {
      if (l->state == LegState::kRinging) s.ringing.push_back(l->uri);
    }
    if (c.winner != nullptr) s.answered_by = c.winner->uri;
    if (!via.empty()) s.via = via;
    s.updated_ms = unixMs();
    ++s.version;
    changed.notify_all();
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

  void armLegTimer(Leg& l, int ms) {
    if (l.timer == nullptr) l.timer = su_timer_create(su_root_task(root), ms);
    su_timer_set_interval(l.timer, &Impl::onLegTimer, &l, ms);
  }

  static void stopLegTimer(Leg& l) {
    if (l.timer != nullptr) su_timer_reset(l.timer);
  }

  static void onTimer(su_root_magic_t* magic, su_timer_t*, su_timer_arg_t* arg) {
    auto* self = static_cast<Impl*>(magic);
    self->timeout(*static_cast<Call*>(arg));
  }

  static void onLegTimer(su_root_magic_t* magic, su_timer_t*, su_timer_arg_t* arg) {
    auto* self = static_cast<Impl*>(magic);
    self->legTimeout(*static_cast<Leg*>(arg));
  }

  // A leg rang too long: CANCEL it (RFC 3261 §9.1); the 487 that follows changes nothing. If not
  // even a 100 Trying came, nothing rang: the softswitch is hung or unreachable without an ICMP
  // error (one would have ended the leg with 503 already). That is a failure, 408 as the
  // transaction layer words a request that timed out (RFC 3261 §8.1.3.1, Timer B), not no_answer.
  void legTimeout(Leg& l) {
    if (l.state != LegState::kRinging) return;
    Call& c = *l.call;
    l.state = LegState::kCancelled;
    nua_cancel(l.nh, TAG_END());
    if (!l.heard) {
      std::string why = fmt::format("no answer from the softswitch within {} s",
                                    (l.them ? cfg.connect_timeout_ms : cfg.ring_timeout_ms) / 1000);
      if (l.them) {
        publish(c, CallbackState::kFailed, 408, why, "them");
        finish(c);
        return;
      }
      legFailed(c, l, CallbackState::kFailed, 408, std::move(why));
      return;
    }
    if (l.them) {
      publish(c, CallbackState::kNoAnswer, 0,
              fmt::format("no answer within {} s", cfg.connect_timeout_ms / 1000), "them");
      finish(c);
      return;
    }
    legFailed(c, l, CallbackState::kNoAnswer, 0,
              fmt::format("no answer within {} s", cfg.ring_timeout_ms / 1000));
  }

  void timeout(Call& c) {
    switch (c.phase) {
      case Phase::kDone:
        destroy(c);  // c is gone
        return;
      case Phase::kReferring:
        publish(c, CallbackState::kFailed, 0,
                fmt::format("no final NOTIFY within {} s", cfg.connect_timeout_ms / 1000), "them");
        finish(c);
        return;
      case Phase::kBridging:
        publish(c, CallbackState::kFailed, 0,
                fmt::format("not connected within {} s", cfg.connect_timeout_ms / 1000), "you");
        finish(c);
        return;
      default:
        return;
    }
  }

  // A device of the person's leg did not answer (busy, no answer, error). The next device rings
  // (sequential), or the others still ring (parallel); with none left, the last failure decides.
  void legFailed(Call& c, Leg& l, CallbackState st, int status, std::string reason) {
    if (l.state != LegState::kCancelled) l.state = LegState::kFailed;
    stopLegTimer(l);
    c.last_state = st;
    c.last_status = status;
    c.last_reason = std::move(reason);
    if (c.phase != Phase::kInviting) return;
    if (c.req.mode == MulticallMode::kSequential && c.next < c.legs.size()) {
      inviteLeg(c, *c.legs[c.next++]);
      publishDetail(c);
      return;
    }
    for (const auto& other : c.legs) {
      if (other->state == LegState::kRinging) {
        publishDetail(c);
        return;
      }
    }
    publish(c, c.last_state, c.last_status, c.last_reason, "you");
    finish(c);
  }

  void bye(Leg& l) {
    if (l.answered && !l.bye_sent && !l.ended) {
      l.bye_sent = true;
      nua_bye(l.nh, TAG_END());
    }
  }

  // Ends every dialog of the call back (BYE the answered, CANCEL the ringing). The handles and
  // the call go once nua reports each call terminated, at the latest kLingerMs later (a BYE
  // transaction lasts at most 64*T1 = 32 s, RFC 3261 §17.1.2.2): calls never pile up.
  void finish(Call& c) {
    if (c.phase == Phase::kBridged) --bridges_open;
    c.phase = Phase::kDone;
    auto end = [&](Leg& l) {
      stopLegTimer(l);
      if (l.state == LegState::kRinging) {
        l.state = LegState::kCancelled;
        nua_cancel(l.nh, TAG_END());
      }
      bye(l);
    };
    for (auto& l : c.legs) end(*l);
    if (c.them) end(*c.them);
    armTimer(c, kLingerMs);
    reapIfEnded(c);
  }

  void reapIfEnded(Call& c) {
    if (c.phase != Phase::kDone || c.reaping) return;
    for (const auto& l : c.legs) {
      if (l->state != LegState::kIdle && !l->ended) return;  // an idle one was never rung
    }
    if (c.them && !c.them->ended) return;
    c.reaping = true;
    armTimer(c, 1);  // destroyed from the event loop, not inside the callback using it
  }

  void destroyLeg(Leg& l) {
    if (l.timer != nullptr) su_timer_destroy(l.timer);
    l.timer = nullptr;
    if (l.nh != nullptr) {
      nua_handle_bind(l.nh, nullptr);
      nua_handle_destroy(l.nh);
      l.nh = nullptr;
    }
  }

  void destroy(Call& c) {
    if (c.timer != nullptr) su_timer_destroy(c.timer);
    c.timer = nullptr;
    for (auto& l : c.legs) destroyLeg(*l);
    if (c.them) destroyLeg(*c.them);
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

  std::string markerHeader(const Call& c) const {
    return fmt::format("{}: callback;id={}", cfg.marker_header, c.id);
  }
  std::string paiHeader() const {
    return cfg.asserted_identity.empty()
               ? std::string()
               : fmt::format("P-Asserted-Identity: <{}>", cfg.asserted_identity);
  }

  // Rings one device of the person: a held offer (no media through mcn), the marker, the PAI.
  void inviteLeg(Call& c, Leg& l) {
    std::string from = fmt::format("\"Call back {}\" <{}>", c.req.target, cfg.identity);
    l.nh =
        nua_handle(nua, &l, SIPTAG_TO_STR(l.uri.c_str()), SIPTAG_FROM_STR(from.c_str()), TAG_END());
    if (l.nh == nullptr) {
      l.ended = true;
      legFailed(c, l, CallbackState::kFailed, 0, "cannot create a SIP handle");
      return;
    }
    l.state = LegState::kRinging;
    std::string marker = markerHeader(c), pai = paiHeader();
    l.sdp_sent = heldOffer(cfg.listen);
    nua_invite(l.nh, SIPTAG_HEADER_STR(marker.c_str()),
               TAG_IF(!pai.empty(), SIPTAG_HEADER_STR(pai.c_str())),
               SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(l.sdp_sent.c_str()),
               TAG_END());
    armLegTimer(l, cfg.ring_timeout_ms);
  }

  void startCall(std::unique_ptr<Call> owned) {
    Call& c = *owned;
    if (shutting_down) {  // queued just before the stop: nothing is placed
      publish(c, CallbackState::kFailed, 0, "mcn is stopping", "you");
      return;
    }
    calls.emplace(c.id, std::move(owned));
    if (c.req.mode == MulticallMode::kParallel) {
      c.next = c.legs.size();
      for (auto& l : c.legs) {
        if (c.phase != Phase::kInviting) break;
        inviteLeg(c, *l);
      }
    } else {
      c.next = 1;
      inviteLeg(c, *c.legs.front());
    }
    if (c.phase == Phase::kInviting) publishDetail(c);
    reapIfEnded(c);
  }

  static void onEvent(nua_event_t event, int status, char const* phrase, nua_t*, nua_magic_t* magic,
                      nua_handle_t* nh, nua_hmagic_t* hmagic, sip_t const* sip, tagi_t tags[]) {
    auto* self = static_cast<Impl*>(magic);
    self->event(event, status, phrase != nullptr ? phrase : "", nh, static_cast<Leg*>(hmagic), sip,
                tags);
  }

  void event(nua_event_t ev, int status, std::string_view phrase, nua_handle_t* nh, Leg* l,
             sip_t const* sip, tagi_t tags[]) {
    if (ev == nua_r_shutdown) {
      if (status >= 200) {
        shutdown_done = true;
        su_root_break(root);
      }
      return;
    }
    if (subs && l == nullptr && subs->event(ev, status, nh, sip, tags)) return;
    if (ev == nua_i_invite && l != nullptr) {
      // A re-INVITE inside one of mcn's dialogs (session refresh, its own hold): the same SDP
      // mcn gave that side last. A bridged call's media changes are not relayed to the other.
      std::string sdp = l->sdp_sent.empty() ? heldOffer(cfg.listen) : l->sdp_sent;
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
    if (l == nullptr) {
      if (ev == nua_r_message) onMessage(nh, status, phrase, sip);
      return;
    }
    Call& c = *l->call;
    if (!l->them && sip != nullptr && sip->sip_call_id != nullptr &&
        sip->sip_call_id->i_id != nullptr) {
      setCallId(c, sip->sip_call_id->i_id);
    }
    switch (ev) {
      case nua_r_invite:
        return l->them ? onThemInvite(c, *l, status, phrase, sip)
                       : onInvite(c, *l, status, phrase, sip);
      case nua_r_refer:
        return onRefer(c, *l, status, phrase, sip);
      case nua_i_notify:
        return onNotify(c, *l, sip);
      case nua_i_bye:
        // That side hung up: nothing to BYE there. Before connected, the call back failed; a
        // bridged call ends on the other side too.
        l->answered = false;
        if (c.phase == Phase::kBridged) {
          spdlog::info("call back {}: {} hung up", c.id, l->them ? "the number" : "the person");
          finish(c);
        } else if (c.phase != Phase::kDone && (l == c.winner || l->them)) {
          publish(c, CallbackState::kFailed, 0,
                  l->them ? "the number hung up" : "the person hung up", l->them ? "them" : "you");
          finish(c);
        }
        return;
      case nua_r_bye:
        if (status >= 200) {
          l->ended = true;
          reapIfEnded(c);
        }
        return;
      case nua_i_state: {
        int cs = -1;
        tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
        if (cs != nua_callstate_terminated) return;
        l->ended = true;
        l->answered = false;
        if (c.phase == Phase::kBridged || (c.phase != Phase::kDone && c.phase != Phase::kInviting &&
                                           (l == c.winner || l->them))) {
          if (c.phase != Phase::kBridged) {
            publish(c, CallbackState::kFailed, status, std::string(phrase),
                    l->them ? "them" : "you");
          }
          finish(c);
        } else if (c.phase == Phase::kInviting && l->state == LegState::kRinging) {
          legFailed(c, *l, CallbackState::kFailed, status, std::string(phrase));
        }
        reapIfEnded(c);
        return;
      }
      default:
        return;
    }
  }

  void onInvite(Call& c, Leg& l, int status, std::string_view phrase, sip_t const* sip) {
    l.heard = true;
    if (status < 200) return;  // 100/180/183: still calling the person
    if ((status == 401 || status == 407) && authenticate(l.nh, sip, l.auth_tried)) return;
    if (&l == c.winner && c.phase == Phase::kBridging) {
      onReinvite(c, l, status, phrase, sip);
      return;
    }
    if (status < 300) {
      l.answered = true;
      stopLegTimer(l);
      if (c.phase != Phase::kInviting || l.state != LegState::kRinging) {
        // Another device won, or this one answered just as its ring time ran out.
        bye(l);
        return;
      }
      l.state = LegState::kAnswered;
      c.winner = &l;
      // RFC 3326 Reason on the CANCEL: the other devices must not show a missed call.
      for (auto& other : c.legs) {
        if (other->state != LegState::kRinging) continue;
        other->state = LegState::kCancelled;
        stopLegTimer(*other);
        ++multicall_cancelled;
        nua_cancel(other->nh, SIPTAG_REASON_STR("SIP;cause=200;text=\"Call completed elsewhere\""),
                   TAG_END());
      }
      c.phase = Phase::kReferring;
      publishDetail(c, "refer");
      publish(c, CallbackState::kCallingThem, 0, {});
      // RFC 3515 §2.4.1: the device calls the number; its progress comes back as NOTIFY sipfrag.
      std::string refer_to = fmt::format("<{}>", c.target_uri);
      std::string marker = markerHeader(c);
      nua_refer(l.nh, SIPTAG_REFER_TO_STR(refer_to.c_str()), SIPTAG_HEADER_STR(marker.c_str()),
                TAG_END());
      armTimer(c, cfg.connect_timeout_ms);
      return;
    }
    if (l.state != LegState::kRinging) return;  // our own CANCEL's 487
    legFailed(c, l, stateFor(status), status, std::string(phrase));
  }

  void onRefer(Call& c, Leg& l, int status, std::string_view phrase, sip_t const* sip) {
    if (status < 200 || c.phase != Phase::kReferring || &l != c.winner) return;
    if ((status == 401 || status == 407) && authenticate(l.nh, sip, l.auth_tried)) return;
    if (status < 300) return;  // 202 Accepted: NOTIFYs follow
    ++refer_refused;
    if (referUnsupported(status) && bridges_open < cfg.max_active) {
      spdlog::info("call back {}: REFER refused ({} {}); connecting by RFC 3725 flow IV", c.id,
                   status, phrase);
      startBridge(c);
      return;
    }
    publish(c, CallbackState::kFailed, status, fmt::format("REFER refused: {}", phrase), "you");
    finish(c);
  }

  // RFC 3725 §4.4 (flow IV from its 4th message), step 1: INVITE the number without an offer; its
  // 200 carries one, and its ACK waits (NUTAG_AUTOACK off) for the device's answer.
  void startBridge(Call& c) {
    c.phase = Phase::kBridging;
    publishDetail(c, "3pcc");
    auto them = std::make_unique<Leg>();
    them->call = &c;
    them->them = true;
    them->uri = c.target_uri;
    std::string from = fmt::format("<{}>", c.winner->uri);
    them->nh = nua_handle(nua, them.get(), SIPTAG_TO_STR(them->uri.c_str()),
                          SIPTAG_FROM_STR(from.c_str()), NUTAG_AUTOACK(0), TAG_END());
    c.them = std::move(them);
    Leg& t = *c.them;
    if (t.nh == nullptr) {
      t.ended = true;
      publish(c, CallbackState::kFailed, 0, "cannot create a SIP handle", "them");
      finish(c);
      return;
    }
    t.state = LegState::kRinging;
    std::string marker = markerHeader(c), pai = paiHeader();
    nua_invite(t.nh, SIPTAG_HEADER_STR(marker.c_str()),
               TAG_IF(!pai.empty(), SIPTAG_HEADER_STR(pai.c_str())), TAG_END());
    armLegTimer(t, cfg.connect_timeout_ms);
    armTimer(c, cfg.connect_timeout_ms + 5000);  // the re-INVITE after the number answered
  }

  // Flow IV, step 2: the number answered with its offer; it goes to the device in a re-INVITE.
  void onThemInvite(Call& c, Leg& t, int status, std::string_view phrase, sip_t const* sip) {
    t.heard = true;
    if (status < 200) return;
    if ((status == 401 || status == 407) && authenticate(t.nh, sip, t.auth_tried)) return;
    if (status >= 300) {
      if (t.state != LegState::kRinging) return;  // our CANCEL's 487
      t.state = LegState::kFailed;
      stopLegTimer(t);
      publish(c, stateFor(status), status, std::string(phrase), "them");
      finish(c);
      return;
    }
    t.answered = true;
    stopLegTimer(t);
    bool offer = sip != nullptr && sip->sip_payload != nullptr && sip->sip_payload->pl_len > 0;
    if (c.phase != Phase::kBridging || t.state != LegState::kRinging || !offer) {
      // Too late, or nothing to bridge: the ACK must carry an answer to an offer (RFC 3264
      // §4), a held one, then BYE.
      t.state = LegState::kAnswered;
      t.sdp_sent = heldOffer(cfg.listen);
      nua_ack(t.nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
              SIPTAG_PAYLOAD_STR(t.sdp_sent.c_str()), TAG_END());
      if (c.phase == Phase::kBridging) {
        publish(c, CallbackState::kFailed, status, "the number answered without an offer", "them");
        finish(c);
      } else {
        bye(t);
      }
      return;
    }
    t.state = LegState::kAnswered;
    std::string_view sdp(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    Leg& d = *c.winner;
    d.sdp_sent = withOrigin(sdp, cfg.listen, 2);
    nua_invite(d.nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
               SIPTAG_PAYLOAD_STR(d.sdp_sent.c_str()), TAG_END());
  }

  // Flow IV, step 3: the device's answer goes to the number in the ACK; connected.
  void onReinvite(Call& c, Leg& d, int status, std::string_view phrase, sip_t const* sip) {
    Leg& t = *c.them;
    bool answer = sip != nullptr && sip->sip_payload != nullptr && sip->sip_payload->pl_len > 0;
    if (status >= 300 || !answer) {
      t.sdp_sent = heldOffer(cfg.listen);
      nua_ack(t.nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
              SIPTAG_PAYLOAD_STR(t.sdp_sent.c_str()), TAG_END());
      publish(c, CallbackState::kFailed, status,
              status >= 300 ? fmt::format("the device refused the number's session: {}", phrase)
                            : std::string("the device answered the re-INVITE without SDP"),
              "you");
      finish(c);
      return;
    }
    (void)d;
    t.sdp_sent.assign(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    nua_ack(t.nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
            SIPTAG_PAYLOAD_STR(t.sdp_sent.c_str()), TAG_END());
    c.phase = Phase::kBridged;
    ++bridges_open;
    ++bridged;
    if (c.timer != nullptr) su_timer_reset(c.timer);
    publish(c, CallbackState::kConnected, 200, "connected by RFC 3725 flow IV");
  }

  void onNotify(Call& c, Leg& l, sip_t const* sip) {
    if (c.phase != Phase::kReferring || &l != c.winner || sip == nullptr ||
        sip->sip_payload == nullptr) {
      return;
    }
    std::string_view body(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    int code = sipfragStatus(body);
    if (code == 0 || code < 200) return;  // 100 Trying, 180 Ringing: still calling them
    std::string_view line = body.substr(0, body.find_first_of("\r\n"));
    std::string phrase(line.size() > 12 ? line.substr(12) : std::string_view());
    if (code < 300) {
      publish(c, CallbackState::kConnected, code, {});
    } else {
      publish(c, stateFor(code), code, phrase, "them");
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
    // mcn stops waiting here, but a non-INVITE client transaction cannot be withdrawn (RFC 3261
    // §17.1.2.2): nta keeps retransmitting an unanswered MESSAGE until Timer F (64*T1, 32 s).
    // A client that answers late may see the same idempotency key again (README).
    nua_handle_destroy(nh);
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
    nua =
        nua_create(root, &Impl::onEvent, this, NUTAG_URL(cfg.listen.c_str()),
                   TAG_IF(!cfg.outbound_proxy.empty(), NUTAG_PROXY(cfg.outbound_proxy.c_str())),
                   SIPTAG_FROM_STR(cfg.identity.c_str()), NUTAG_MEDIA_ENABLE(0),
                   SIPTAG_USER_AGENT_STR("mcn"), NUTAG_ALLOW("SUBSCRIBE"),
                   NUTAG_ALLOW_EVENTS(kMissedCallEvent), NUTAG_APPL_METHOD("SUBSCRIBE"), TAG_END());
    if (nua == nullptr) {
      started.set_value(fmt::format("sipua: cannot listen on {}", cfg.listen));
      su_root_destroy(root);
      root = nullptr;
      su_deinit();
      return;
    }
    subs->attach(nua, root);
    if (cfg.register_) {
      reg = nua_handle(nua, nullptr, SIPTAG_TO_STR(cfg.identity.c_str()), TAG_END());
      nua_register(reg, TAG_IF(!cfg.registrar.empty(), NUTAG_REGISTRAR(cfg.registrar.c_str())),
                   SIPTAG_EXPIRES_STR(std::to_string(cfg.register_expires_s).c_str()), TAG_END());
    }
    started.set_value({});
    su_root_run(root);
    spdlog::debug("sipua: stopped with {} call(s) open", calls.size());
    subs->stop();
    if (shutdown_timer != nullptr) {
      su_timer_destroy(shutdown_timer);
    }
    for (auto& [id, c] : calls) {
      if (c->timer != nullptr) su_timer_destroy(c->timer);
      c->timer = nullptr;
      for (auto& l : c->legs) {
        if (l->timer != nullptr) su_timer_destroy(l->timer);
        l->timer = nullptr;
      }
      if (c->them && c->them->timer != nullptr) su_timer_destroy(c->them->timer);
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
  m.subs = std::make_unique<SubscriptionServer>(m.cfg.outbound_proxy, m.person_of);
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
  {
    std::lock_guard lock(m.smu);
    m.stopping = true;
    m.changed.notify_all();
  }
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
  if (req.multicall.size() + 1 > kMaxDevices) {
    return fmt::format("multicall rings at most {} devices", kMaxDevices);
  }
  for (const auto& d : req.multicall) {
    if (toUri(d, impl_->domain).empty()) return "a multicall entry is not a number or SIP URI";
  }
  return {};
}

UserAgent::Placed UserAgent::callback(const CallbackRequest& req) {
  Impl& m = *impl_;
  ++m.requested;
  Placed out;
  if (std::string why = check(req); !why.empty()) {
    ++m.refused;
    return {{}, 400, why};
  }
  auto c = std::make_unique<Call>();
  c->ua = &m;
  c->req = req;
  c->target_uri = toUri(req.target, m.domain);
  std::vector<std::string> devices{toUri(req.device, m.domain)};
  for (const auto& d : req.multicall) devices.push_back(toUri(d, m.domain));
  for (const auto& uri : devices) {
    auto l = std::make_unique<Leg>();
    l->call = c.get();
    l->uri = uri;
    c->legs.push_back(std::move(l));
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
    st.device = devices.front();
    st.target = c->target_uri;
    st.devices = devices;
    st.mode = req.mode == MulticallMode::kParallel ? "parallel" : "sequential";
    st.created_ms = st.updated_ms = unixMs();
    m.table.emplace(st.id, st);
  }
  c->id = st.id;
  spdlog::info("call back {}: requested by {} for person {}: {}{} then {}", st.id, req.origin,
               req.person, fmt::join(devices, req.mode == MulticallMode::kParallel ? " + " : ", "),
               devices.size() > 1 ? fmt::format(" ({})", st.mode) : std::string(), c->target_uri);
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

std::optional<CallbackStatus> UserAgent::waitChange(std::string_view id, uint64_t seen,
                                                    int timeout_ms) const {
  std::unique_lock lock(impl_->smu);
  std::string key(id);
  impl_->changed.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    auto it = impl_->table.find(key);
    return impl_->stopping || it == impl_->table.end() || it->second.version != seen;
  });
  auto it = impl_->table.find(key);
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
  fn("sipua.multicall.cancelled", m.multicall_cancelled.load());
  fn("sipua.callbacks.bridged", m.bridged.load());
  fn("sipua.register.ok", m.reg_ok.load());
  fn("sipua.register.failed", m.reg_failed.load());
  fn("sipua.incoming.rejected", m.incoming_rejected.load());
  fn("sipua.messages.sent", m.msg_sent.load());
  fn("sipua.messages.delivered", m.msg_delivered.load());
  fn("sipua.messages.failed", m.msg_failed.load());
  fn("sipua.messages.timeout", m.msg_timeout.load());
  if (m.subs) {
    m.subs->forEachCounter(fn);
  } else {
    SubscriptionServer(std::string(), {}).forEachCounter(fn);  // zeros, same names
  }
}

void UserAgent::setPersonResolver(PersonOf fn) { impl_->person_of = std::move(fn); }

void UserAgent::notifySubscribers(std::string person, std::string json) {
  Impl& m = *impl_;
  if (!m.thread.joinable()) return;
  m.post([&m, person = std::move(person), json = std::move(json)] {
    if (m.subs && !m.shutting_down) m.subs->notify(person, json);
  });
}

}  // namespace mcn::sipua
