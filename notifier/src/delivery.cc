#include "mcn/notifier/delivery.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "channels/common.h"

namespace mcn::notifier {

using subscribers::ChannelKind;

std::map<ChannelKind, RateLimit> defaultRateLimits() {
  return {
      {ChannelKind::kWeCom, RateLimit{20, 0}},
      {ChannelKind::kDingTalk, RateLimit{20, 0}},
      {ChannelKind::kFeishu, RateLimit{100, 5}},
  };
}

// ---------------------------------------------------------------------------------------------
// Rate limits

int64_t SlidingWindowLimiter::reserve(const std::string& key, const RateLimit& limit,
                                      int64_t now_us) {
  if (++calls_ % 1024 == 0) prune(now_us);
  Windows& w = keys_[key];
  int64_t slot = now_us;
  // Never before an earlier booking: a target's messages leave in the order they became due.
  if (!w.minute.empty()) slot = std::max(slot, w.minute.back());
  if (!w.second.empty()) slot = std::max(slot, w.second.back());
  auto within = [&](std::deque<int64_t>& d, int n, int64_t window_us) {
    if (n <= 0) return;
    // The n-th most recent booking must have left the window before one more send.
    if (d.size() >= static_cast<size_t>(n)) slot = std::max(slot, d[d.size() - n] + window_us);
  };
  within(w.minute, limit.per_minute, 60'000'000);
  within(w.second, limit.per_second, 1'000'000);
  auto book = [&](std::deque<int64_t>& d, int n) {
    if (n <= 0) return;
    d.push_back(slot);
    while (d.size() > static_cast<size_t>(n)) d.pop_front();
  };
  book(w.minute, limit.per_minute);
  book(w.second, limit.per_second);
  return slot;
}

void SlidingWindowLimiter::prune(int64_t now_us) {
  // Forget targets whose every booking is older than the longest window: bounded memory.
  for (auto it = keys_.begin(); it != keys_.end();) {
    int64_t last = std::max(it->second.minute.empty() ? INT64_MIN : it->second.minute.back(),
                            it->second.second.empty() ? INT64_MIN : it->second.second.back());
    if (last < now_us - 60'000'000) {
      it = keys_.erase(it);
    } else {
      ++it;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// curl plumbing (RAII; curl types never leave this file)

namespace {

struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool slistAppend(SlistPtr& list, const std::string& s) {
  curl_slist* n = curl_slist_append(list.get(), s.c_str());
  if (n == nullptr) return false;
  (void)list.release();
  list.reset(n);
  return true;
}

TransportStatus transportOf(CURLcode rc) {
  switch (rc) {
    case CURLE_OK:
      return TransportStatus::kOk;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportStatus::kTimeout;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return TransportStatus::kConnect;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return TransportStatus::kTls;
    case CURLE_USE_SSL_FAILED:
      return TransportStatus::kTlsRequired;
    case CURLE_LOGIN_DENIED:
      return TransportStatus::kAuth;
    default:
      return TransportStatus::kOther;
  }
}

constexpr std::array<ChannelKind, 10> kKinds = {
    ChannelKind::kWebhook,    ChannelKind::kWeCom,     ChannelKind::kDingTalk,
    ChannelKind::kFeishu,     ChannelKind::kSmsAliyun, ChannelKind::kSmsHttp,
    ChannelKind::kEmail,      ChannelKind::kConsole,   ChannelKind::kJsonl,
    ChannelKind::kSipMessage,
};

size_t kindIndex(ChannelKind k) {
  for (size_t i = 0; i < kKinds.size(); ++i) {
    if (kKinds[i] == k) return i;
  }
  return 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Answers of the non-curl transports: filled from their threads, drained by poll(). Shared with
// every outstanding `done`, so one that runs after the engine is gone finds `closed` and stops.
struct Completions {
  std::mutex mu;
  bool closed = false;
  CURLM* multi = nullptr;  // woken so a poll() waiting on curl notices the answer at once
  std::vector<std::pair<uint64_t, InboundResponse>> done;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// The engine

struct Delivery::Impl {
  struct Item {
    uint64_t seq = 0;
    Notification n;
    const Channel* channel = nullptr;  // nullptr: written by the local writer
    int64_t due_us = 0;
    bool slot_booked = false;  // the rate limiter already counted this attempt's send
    std::string last_error;
    std::string log_target;
  };

  struct Transfer {
    uint64_t seq = 0;
    EasyPtr easy;
    SlistPtr headers;
    SlistPtr rcpt;
    OutboundRequest req;
    size_t upload_offset = 0;
    InboundResponse resp;
    size_t max_body = 0;
    char errbuf[CURL_ERROR_SIZE] = {};
  };

  enum Counter : size_t {
    kSubmitted,
    kSucceeded,
    kFailedAttempts,
    kRetried,
    kDeadLettered,
    kRateLimited,
    kQueueFull,
    kFixedCount,
  };

  Impl(DeliveryConfig c, const Clock& clk, Random& rnd, CredentialStore& cr, DeadLetterSink& dl)
      : cfg(std::move(c)), clock(clk), random(rnd), creds(cr), dead(dl) {
    globalInit();
    multi.reset(curl_multi_init());
    if (!multi) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS, cfg.max_host_connections);
    for (ChannelKind k : kKinds) {
      if (auto ch = makeChannel(k)) channels[static_cast<size_t>(k)] = std::move(ch);
    }
    completions->multi = multi.get();
    counters.fill(0);
    kind_ok.fill(0);
    kind_failed.fill(0);
    kind_dead.fill(0);
  }

  ~Impl() {
    {
      std::lock_guard lock(completions->mu);
      completions->closed = true;
      completions->multi = nullptr;
    }
    ext_in_flight.clear();
    for (auto& [easy, t] : in_flight) curl_multi_remove_handle(multi.get(), easy);
    in_flight.clear();
    int64_t now = clock.nowUs();
    for (auto& [seq, item] : items) {
      deadLetter(item, "shutdown", now, /*erase=*/false);
    }
    items.clear();
  }

  // --- scheduling ---

  void schedule(Item& it, int64_t due_us) {
    it.due_us = due_us;
    waiting.insert({due_us, it.seq});
  }

  void deadLetter(Item& it, std::string_view reason, int64_t now, bool erase = true) {
    ++counters[kDeadLettered];
    ++kind_dead[kindIndex(it.n.channel.kind)];
    spdlog::warn("notification {} for {} via {} {} dead-lettered after {} attempt(s): {}{}{}",
                 it.n.idempotency_key, it.n.person_id, deliveryKindName(it.n.channel.kind),
                 it.log_target, it.n.attempts, reason, it.last_error.empty() ? "" : ": ",
                 it.last_error);
    dead.write(it.n, reason, it.last_error, it.n.attempts, now);
    if (on_step) {
      on_step(it.n,
              DeliveryStep{DeliveryStep::Kind::kDeadLettered, false, it.last_error, reason, now});
    }
    if (erase) items.erase(it.seq);
  }

  void delivered(Item& it) {
    ++counters[kSucceeded];
    ++kind_ok[kindIndex(it.n.channel.kind)];
    if (on_step) {
      int64_t now = clock.nowUs();
      on_step(it.n, DeliveryStep{DeliveryStep::Kind::kAttempt, true, {}, {}, now});
      on_step(it.n, DeliveryStep{DeliveryStep::Kind::kDelivered, true, {}, {}, now});
    }
    if (on_delivered) on_delivered(it.n);
    items.erase(it.seq);
  }

  int64_t backoffUs(int attempts) const {
    // Full jitter (the "Exponential Backoff And Jitter" AWS architecture note): uniform in
    // [0, min(cap, base * 2^k)], k = retries so far; spreads a burst of failures out instead of
    // having them retry in lock-step.
    int k = std::max(0, attempts - 1);
    int64_t ceiling = cfg.backoff_base_ms;
    for (int i = 0; i < k && ceiling < cfg.backoff_cap_ms; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, cfg.backoff_cap_ms);
    // Multiply-shift maps the 64-bit draw onto [0, ceiling] without modulo bias.
    __extension__ using U128 = unsigned __int128;
    auto delay_ms = static_cast<int64_t>(
        (static_cast<U128>(random.next()) * static_cast<U128>(ceiling + 1)) >> 64);
    return delay_ms * 1000;
  }

  void attemptFailed(Item& it, const Judgement& j, int64_t retry_after_us) {
    ++counters[kFailedAttempts];
    ++kind_failed[kindIndex(it.n.channel.kind)];
    it.last_error = j.reason;
    int64_t now = clock.nowUs();
    if (on_step)
      on_step(it.n, DeliveryStep{DeliveryStep::Kind::kAttempt, false, j.reason, {}, now});
    if (j.verdict == Verdict::kPermanent) {
      deadLetter(it, "rejected", now);
      return;
    }
    if (it.n.attempts >= cfg.max_attempts) {
      deadLetter(it, "max_attempts", now);
      return;
    }
    int64_t delay = backoffUs(it.n.attempts);
    int64_t floor_us = -1;
    if (retry_after_us >= 0) floor_us = retry_after_us;
    if (j.min_retry_delay_ms >= 0) floor_us = std::max(floor_us, j.min_retry_delay_ms * 1000);
    floor_us = std::min(floor_us, cfg.retry_after_max_ms * 1000);
    delay = std::max(delay, floor_us);
    ++counters[kRetried];
    spdlog::debug("notification {} via {} {}: attempt {} failed ({}), retry in {} ms",
                  it.n.idempotency_key, deliveryKindName(it.n.channel.kind), it.log_target,
                  it.n.attempts, j.reason, delay / 1000);
    schedule(it, now + delay);
  }

  // RFC 9110 §10.2.3: delay-seconds or an HTTP-date; the date is measured against our Clock.
  int64_t retryAfterUs(const InboundResponse& r, int64_t now_us) const {
    for (const auto& h : r.headers) {
      if (h.name != "retry-after") continue;
      std::string v = h.value;
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.erase(0, 1);
      if (v.empty()) return -1;
      if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (v.size() > 9) return cfg.retry_after_max_ms * 1000;
        return std::stoll(v) * 1'000'000;
      }
      time_t t = curl_getdate(v.c_str(), nullptr);
      if (t == -1) return -1;
      return std::max<int64_t>(0, static_cast<int64_t>(t) * 1'000'000 - now_us);
    }
    return -1;
  }

  // --- starting attempts ---

  void startDue() {
    int64_t now = clock.nowUs();
    while (!waiting.empty() && inFlight() < cfg.max_in_flight) {
      auto first = waiting.begin();
      if (first->first > now) break;
      uint64_t seq = first->second;
      waiting.erase(first);
      auto found = items.find(seq);
      if (found == items.end()) continue;
      Item& it = found->second;
      if (!it.slot_booked) {
        auto lim = cfg.rate_limits.find(it.n.channel.kind);
        if (lim != cfg.rate_limits.end() && it.channel != nullptr &&
            (lim->second.per_minute > 0 || lim->second.per_second > 0)) {
          int64_t slot = limiter.reserve(it.channel->rateKey(it.n), lim->second, now);
          if (slot > now) {
            ++counters[kRateLimited];
            it.slot_booked = true;
            schedule(it, slot);
            continue;
          }
        }
      }
      it.slot_booked = false;
      launch(it, now);
    }
  }

  void launch(Item& it, int64_t now) {
    if (it.channel == nullptr) {
      ++it.n.attempts;
      std::string error;
      bool ok = local_writer && local_writer(it.n, error);
      if (ok) {
        delivered(it);
      } else {
        attemptFailed(
            it, Judgement{Verdict::kRetry, error.empty() ? "local write failed" : error, -1}, -1);
      }
      return;
    }
    std::string secret;
    if (!it.n.channel.secret_ref.empty()) {
      std::string error;
      auto s = creds.resolve(it.n.channel.secret_ref, &error);
      if (!s) {
        // A missing file or variable may be fixed while we back off: a failed attempt, retried.
        ++it.n.attempts;
        attemptFailed(it, Judgement{Verdict::kRetry, "credential: " + error, -1}, -1);
        return;
      }
      secret = std::move(*s);
    } else if (it.channel->requiresSecret()) {
      it.last_error = std::string(deliveryKindName(it.n.channel.kind)) + " needs a secret_ref";
      deadLetter(it, "bad_config", now);
      return;
    }
    auto t = std::make_unique<Transfer>();
    t->seq = it.seq;
    t->max_body = cfg.max_response_bytes;
    BuildContext ctx{now, &random, secret};
    std::string error;
    if (!it.channel->build(it.n, ctx, t->req, error)) {
      it.last_error = error;
      deadLetter(it, "bad_config", now);
      return;
    }
    if (!t->req.log_target.empty()) it.log_target = t->req.log_target;
    if (t->req.protocol == OutboundRequest::Protocol::kSip) {
      launchExternal(it, t->req, now);
      return;
    }
    ++it.n.attempts;
    if (!setupEasy(*t)) {
      attemptFailed(it, Judgement{Verdict::kRetry, "cannot set up the transfer", -1}, -1);
      return;
    }
    CURL* easy = t->easy.get();
    if (curl_multi_add_handle(multi.get(), easy) != CURLM_OK) {
      attemptFailed(it, Judgement{Verdict::kRetry, "cannot start the transfer", -1}, -1);
      return;
    }
    in_flight.emplace(easy, std::move(t));
  }

  size_t inFlight() const { return in_flight.size() + ext_in_flight.size(); }

  void launchExternal(Item& it, const OutboundRequest& req, int64_t now) {
    RequestTransport* tr = transports[static_cast<size_t>(req.protocol)];
    if (tr == nullptr) {
      it.last_error = std::string(deliveryKindName(it.n.channel.kind)) +
                      " has no transport (is [sipua] enabled?)";
      deadLetter(it, "bad_config", now);
      return;
    }
    ++it.n.attempts;
    uint64_t seq = it.seq;
    std::string error;
    auto done = [c = completions, seq](InboundResponse r) {
      std::lock_guard lock(c->mu);
      if (c->closed) return;
      c->done.emplace_back(seq, std::move(r));
      curl_multi_wakeup(c->multi);
    };
    // Marked before start(): `done` may run on another thread before start() returns.
    ext_in_flight.insert(seq);
    if (!tr->start(req, std::move(done), error)) {
      ext_in_flight.erase(seq);
      attemptFailed(it, Judgement{Verdict::kRetry, error.empty() ? "cannot start" : error, -1}, -1);
    }
  }

  void harvestExternal() {
    std::vector<std::pair<uint64_t, InboundResponse>> done;
    {
      std::lock_guard lock(completions->mu);
      done.swap(completions->done);
    }
    for (auto& [seq, resp] : done) {
      if (ext_in_flight.erase(seq) == 0) continue;
      auto found = items.find(seq);
      if (found == items.end()) continue;
      Item& it = found->second;
      if (resp.body.size() > cfg.max_response_bytes) resp.body.resize(cfg.max_response_bytes);
      Judgement j = it.channel->judge(it.n, resp);
      if (j.verdict == Verdict::kDelivered) {
        delivered(it);
        continue;
      }
      attemptFailed(it, j, retryAfterUs(resp, clock.nowUs()));
    }
  }

  static size_t onBody(char* data, size_t size, size_t nmemb, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t n = size * nmemb;
    size_t room = t->max_body > t->resp.body.size() ? t->max_body - t->resp.body.size() : 0;
    t->resp.body.append(data, std::min(n, room));
    return n;  // keep reading: the status and the start of the body are what we judge
  }

  static size_t onHeader(char* data, size_t size, size_t nmemb, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t n = size * nmemb;
    std::string_view line(data, n);
    if (line.starts_with("HTTP/")) {
      t->resp.headers.clear();  // a new response (after 100 Continue): forget the interim one
      return n;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || t->resp.headers.size() >= 100) return n;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    t->resp.headers.push_back({lower(line.substr(0, colon)), std::string(value)});
    return n;
  }

  static size_t onRead(char* buffer, size_t size, size_t nitems, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t room = size * nitems;
    size_t left = t->req.body.size() - t->upload_offset;
    size_t n = std::min(room, left);
    std::memcpy(buffer, t->req.body.data() + t->upload_offset, n);
    t->upload_offset += n;
    return n;
  }

  bool setupEasy(Transfer& t) {
    t.easy.reset(curl_easy_init());
    if (!t.easy) return false;
    CURL* e = t.easy.get();
    const OutboundRequest& r = t.req;
    bool ok = true;
    auto set = [&](CURLcode rc) { ok = ok && rc == CURLE_OK; };
    set(curl_easy_setopt(e, CURLOPT_PRIVATE, &t));
    set(curl_easy_setopt(e, CURLOPT_URL, r.url.c_str()));
    set(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
    set(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg.connect_timeout_ms)));
    set(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg.total_timeout_ms)));
    set(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf));
    set(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::onBody));
    set(curl_easy_setopt(e, CURLOPT_WRITEDATA, &t));
    if (!r.ca_file.empty()) set(curl_easy_setopt(e, CURLOPT_CAINFO, r.ca_file.c_str()));
    if (r.protocol == OutboundRequest::Protocol::kSmtp) {
      // A configured URL cannot turn into file:// or gopher://.
      set(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps"));
      // TLS required, never "try": without STARTTLS the transfer fails before MAIL FROM, so a
      // password or a message never crosses the network in clear text.
      set(curl_easy_setopt(e, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL)));
      set(curl_easy_setopt(e, CURLOPT_MAIL_FROM, r.mail_from.c_str()));
      for (const auto& rcpt : r.rcpt_to) ok = ok && slistAppend(t.rcpt, rcpt);
      set(curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t.rcpt.get()));
      set(curl_easy_setopt(e, CURLOPT_UPLOAD, 1L));
      set(curl_easy_setopt(e, CURLOPT_READFUNCTION, &Impl::onRead));
      set(curl_easy_setopt(e, CURLOPT_READDATA, &t));
      set(curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size())));
      if (!r.username.empty()) {
        set(curl_easy_setopt(e, CURLOPT_USERNAME, r.username.c_str()));
        set(curl_easy_setopt(e, CURLOPT_PASSWORD, r.password.c_str()));
      }
      return ok;
    }
    set(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
    set(curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L));
    set(curl_easy_setopt(e, CURLOPT_USERAGENT, cfg.user_agent.c_str()));
    set(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::onHeader));
    set(curl_easy_setopt(e, CURLOPT_HEADERDATA, &t));
    for (const auto& h : r.headers) ok = ok && slistAppend(t.headers, h.name + ": " + h.value);
    // No "Expect: 100-continue" round trip for bodies over 1 KiB.
    ok = ok && slistAppend(t.headers, "Expect:");
    set(curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers.get()));
    if (r.method == "GET") {
      set(curl_easy_setopt(e, CURLOPT_HTTPGET, 1L));
    } else {
      set(curl_easy_setopt(e, CURLOPT_POST, 1L));
      set(curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data()));
      set(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size())));
    }
    return ok;
  }

  // --- finishing attempts ---

  void harvest() {
    harvestExternal();
    CURLMsg* msg = nullptr;
    int left = 0;
    while ((msg = curl_multi_info_read(multi.get(), &left)) != nullptr) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      CURLcode rc = msg->data.result;
      curl_multi_remove_handle(multi.get(), easy);
      auto node = in_flight.extract(easy);
      if (node.empty()) continue;
      std::unique_ptr<Transfer> t = std::move(node.mapped());
      finish(*t, rc);
    }
  }

  void finish(Transfer& t, CURLcode rc) {
    auto found = items.find(t.seq);
    if (found == items.end()) return;
    Item& it = found->second;
    long code = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &code);
    t.resp.status = static_cast<int>(code);
    t.resp.transport = transportOf(rc);
    if (rc != CURLE_OK) {
      t.resp.transport_error = t.errbuf[0] != '\0' ? t.errbuf : curl_easy_strerror(rc);
    }
    Judgement j = it.channel->judge(it.n, t.resp);
    if (j.verdict == Verdict::kDelivered) {
      delivered(it);
      return;
    }
    attemptFailed(it, j, retryAfterUs(t.resp, clock.nowUs()));
  }

  DeliveryConfig cfg;
  const Clock& clock;
  Random& random;
  CredentialStore& creds;
  DeadLetterSink& dead;
  LocalWriter local_writer;
  DeliveredCallback on_delivered;
  StepCallback on_step;
  MultiPtr multi;
  std::array<std::unique_ptr<Channel>, 16> channels{};
  std::unordered_map<uint64_t, Item> items;
  std::set<std::pair<int64_t, uint64_t>> waiting;  // (due, seq): FIFO among equal due times
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> in_flight;
  std::array<RequestTransport*, 3> transports{};  // by OutboundRequest::Protocol; kSip only
  std::shared_ptr<Completions> completions = std::make_shared<Completions>();
  std::set<uint64_t> ext_in_flight;  // seqs started on a transport, answer not yet harvested
  SlidingWindowLimiter limiter;
  uint64_t next_seq = 1;
  std::array<uint64_t, kFixedCount> counters{};
  std::array<uint64_t, kKinds.size()> kind_ok{};
  std::array<uint64_t, kKinds.size()> kind_failed{};
  std::array<uint64_t, kKinds.size()> kind_dead{};  // dead letters per channel kind
};

Delivery::Delivery(DeliveryConfig cfg, const Clock& clock, Random& random,
                   CredentialStore& credentials, DeadLetterSink& dead_letters)
    : impl_(std::make_unique<Impl>(std::move(cfg), clock, random, credentials, dead_letters)) {}

Delivery::~Delivery() = default;

void Delivery::setLocalWriter(LocalWriter writer) { impl_->local_writer = std::move(writer); }

void Delivery::setDeliveredCallback(DeliveredCallback cb) { impl_->on_delivered = std::move(cb); }

void Delivery::setStepCallback(StepCallback cb) { impl_->on_step = std::move(cb); }

void Delivery::setTransport(OutboundRequest::Protocol protocol, RequestTransport* transport) {
  if (protocol != OutboundRequest::Protocol::kSip) return;  // curl carries HTTP and SMTP
  impl_->transports[static_cast<size_t>(protocol)] = transport;
}

void Delivery::setConfig(DeliveryConfig cfg) {
  cfg.max_host_connections = impl_->cfg.max_host_connections;  // set on the multi handle once
  cfg.max_in_flight = impl_->cfg.max_in_flight;
  impl_->cfg = std::move(cfg);
}

bool Delivery::submit(Notification n) {
  Impl& d = *impl_;
  ++d.counters[Impl::kSubmitted];
  int64_t now = d.clock.nowUs();
  if (n.idempotency_key.empty()) {
    n.idempotency_key = fmt::format("mcn-{:016x}{:016x}", d.random.next(), d.random.next());
  }
  Impl::Item it;
  it.seq = d.next_seq++;
  it.log_target = redactUrl(n.channel.target);
  it.n = std::move(n);
  size_t k = static_cast<size_t>(it.n.channel.kind);
  it.channel = k < d.channels.size() ? d.channels[k].get() : nullptr;
  if (d.items.size() >= d.cfg.max_queue) {
    ++d.counters[Impl::kQueueFull];
    it.last_error = fmt::format("{} notifications pending", d.items.size());
    d.deadLetter(it, "queue_full", now, /*erase=*/false);
    return false;
  }
  bool local =
      it.n.channel.kind == ChannelKind::kConsole || it.n.channel.kind == ChannelKind::kJsonl;
  if (it.channel == nullptr && !(local && d.local_writer)) {
    it.last_error = std::string("no channel for kind ") + deliveryKindName(it.n.channel.kind);
    d.deadLetter(it, "no_channel", now, /*erase=*/false);
    return false;
  }
  uint64_t seq = it.seq;
  auto [pos, inserted] = d.items.emplace(seq, std::move(it));
  d.schedule(pos->second, now);
  return true;
}

void Delivery::poll(int max_wait_ms) {
  Impl& d = *impl_;
  d.startDue();
  int running = 0;
  curl_multi_perform(d.multi.get(), &running);
  d.harvest();
  d.startDue();
  int wait = std::max(0, max_wait_ms);
  // Something due but every transfer slot taken: only a finishing transfer (curl activity) can
  // help, so wait on curl instead of spinning.
  bool slots_free = d.inFlight() < d.cfg.max_in_flight;
  if (auto due = nextDueUs(); due && slots_free) {
    int64_t until_ms = (*due - d.clock.nowUs()) / 1000;
    if (until_ms < wait) wait = static_cast<int>(std::max<int64_t>(0, until_ms));
  }
  if (wait > 0 || d.inFlight() > 0) {
    curl_multi_poll(d.multi.get(), nullptr, 0, wait, nullptr);
    curl_multi_perform(d.multi.get(), &running);
    d.harvest();
    d.startDue();
  }
}

bool Delivery::flush(int64_t deadline_us) {
  Impl& d = *impl_;
  bool manual = dynamic_cast<const ManualClock*>(&d.clock) != nullptr;
  for (;;) {
    if (d.items.empty()) return true;
    int64_t now = d.clock.nowUs();
    if (now >= deadline_us) return false;
    auto due = nextDueUs();
    bool idle = d.inFlight() == 0 && (!due || *due > now);
    if (idle && manual) return false;
    int64_t horizon = std::min(deadline_us, due.value_or(deadline_us));
    int wait = static_cast<int>(std::clamp<int64_t>((horizon - now) / 1000, 0, 1000));
    poll(idle ? std::max(wait, 1) : std::min(wait, 100));
  }
}

size_t Delivery::pending() const { return impl_->items.size(); }

size_t Delivery::inFlight() const { return impl_->inFlight(); }

std::optional<int64_t> Delivery::nextDueUs() const {
  if (impl_->waiting.empty()) return std::nullopt;
  return impl_->waiting.begin()->first;
}

void Delivery::forEachCounter(
    const std::function<void(std::string_view name, uint64_t value)>& fn) const {
  const Impl& d = *impl_;
  fn("delivery.submitted", d.counters[Impl::kSubmitted]);
  fn("delivery.succeeded", d.counters[Impl::kSucceeded]);
  fn("delivery.failed_attempts", d.counters[Impl::kFailedAttempts]);
  fn("delivery.retried", d.counters[Impl::kRetried]);
  fn("delivery.dead_lettered", d.counters[Impl::kDeadLettered]);
  fn("delivery.rate_limited", d.counters[Impl::kRateLimited]);
  fn("delivery.queue_full", d.counters[Impl::kQueueFull]);
  for (size_t i = 0; i < kKinds.size(); ++i) {
    std::string base = std::string("delivery.") + deliveryKindName(kKinds[i]);
    fn(base + ".ok", d.kind_ok[i]);
    fn(base + ".failed", d.kind_failed[i]);
  }
  // Appended after the names above (they are API): dead letters per channel kind.
  for (size_t i = 0; i < kKinds.size(); ++i) {
    fn(std::string("delivery.") + deliveryKindName(kKinds[i]) + ".dead_lettered", d.kind_dead[i]);
  }
}

uint64_t Delivery::counter(std::string_view name) const {
  uint64_t out = 0;
  forEachCounter([&](std::string_view n, uint64_t v) {
    if (n == name) out = v;
  });
  return out;
}

}  // namespace mcn::notifier
