#include "mcn/redis/client.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <poll.h>

#include <algorithm>
#include <chrono>

namespace mcn::redis {

namespace {

timeval toTimeval(int ms) {
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

RedisReply convert(const redisReply* r) {
  RedisReply out;
  if (r == nullptr) return out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_NIL:
      out.type = RedisReply::Type::kNil;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      // An unknown type from a newer hiredis: an error value, never a silent success.
      out.type = RedisReply::Type::kError;
      out.str = "ERR unknown reply type";
      break;
  }
  return out;
}

struct ReplyFree {
  void operator()(void* r) const { freeReplyObject(r); }
};
using RawReply = std::unique_ptr<void, ReplyFree>;

int64_t steadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string joinHostPort(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

RedisReply rawCommand(redisContext* c, std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  RawReply raw(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  return convert(static_cast<const redisReply*>(raw.get()));
}

}  // namespace

bool parseHostPort(std::string_view s, std::string& host, int& port) {
  std::string_view h, p;
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return false;
    }
    h = s.substr(1, close - 1);
    p = s.substr(close + 2);
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos || s.find(':') != colon) return false;
    h = s.substr(0, colon);
    p = s.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.size() > 5) return false;
  int v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 65535) return false;
  for (char c : h) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/') return false;
  }
  host.assign(h);
  port = v;
  return true;
}

bool RedisReply::errorIs(std::string_view code) const {
  return type == Type::kError && std::string_view(str).substr(0, code.size()) == code &&
         (str.size() == code.size() || str[code.size()] == ' ');
}

struct RedisClient::Ctx {
  redisContext* c = nullptr;
  ~Ctx() {
    if (c != nullptr) redisFree(c);
  }
};

RedisClient::RedisClient(RedisClientOptions opts, NowUs now_us)
    : opts_(std::move(opts)), now_us_(now_us ? std::move(now_us) : NowUs(steadyNowUs)) {}

RedisClient::~RedisClient() = default;

size_t RedisClient::addScript(std::string lua) {
  scripts_.push_back(Script{std::move(lua), {}});
  return scripts_.size() - 1;
}

bool RedisClient::connected() const { return ctx_ != nullptr; }

int RedisClient::fd() const { return ctx_ ? ctx_->c->fd : -1; }

void RedisClient::disconnect() { ctx_.reset(); }

void RedisClient::backoff() {
  delay_ms_ = delay_ms_ == 0 ? opts_.backoff_initial_ms
                             : std::min<int64_t>(delay_ms_ * 2, opts_.backoff_max_ms);
  next_try_us_ = now_us_() + delay_ms_ * 1000;
}

void RedisClient::fail() {
  ++errors_;
  disconnect();
  backoff();
}

std::string RedisClient::connect() {
  disconnect();
  std::string host = opts_.host;
  int port = opts_.port;
  std::string err;
  if (!opts_.sentinels.empty()) {
    err = discoverMaster(host, port);
    if (!err.empty()) ++sentinel_errors_;
  }
  const std::string where = joinHostPort(host, port);
  if (err.empty()) {
    auto ctx = std::make_unique<Ctx>();
    ctx->c = redisConnectWithTimeout(host.c_str(), port, toTimeval(opts_.connect_timeout_ms));
    if (ctx->c == nullptr) {
      err = "cannot allocate a connection";
    } else if (ctx->c->err != 0) {
      err = fmt::format("cannot connect ({})", ctx->c->errstr);
      if (!opts_.sentinels.empty()) err = fmt::format("master {}: {}", where, err);
    }
    if (err.empty()) {
      if (opts_.command_timeout_ms > 0) {
        redisSetTimeout(ctx->c, toTimeval(opts_.command_timeout_ms));
      }
      if (opts_.keepalive) redisEnableKeepAlive(ctx->c);
      ctx_ = std::move(ctx);
      err = setUp(where);
    }
  }
  if (!err.empty()) {
    last_error_ = err;
    disconnect();
    backoff();
    return err;
  }
  if (!opts_.sentinels.empty()) {
    if (!master_.empty() && master_ != where) ++sentinel_failovers_;
    master_ = where;
  }
  if (ever_connected_) ++reconnects_;
  ever_connected_ = true;
  delay_ms_ = 0;
  return "";
}

std::string RedisClient::setUp(const std::string& where) {
  if (!opts_.password.empty()) {
    // The reply may quote the command; never the password in our messages.
    RedisReply r = command({"AUTH", opts_.password});
    if (!r.received()) return fmt::format("AUTH: {}", last_error_);
    if (r.isError()) return "authentication failed";
  }
  if (!opts_.sentinels.empty()) {
    // The Sentinels may still name a master that has just been demoted (or restarted as an
    // empty master they will soon turn into a replica): write only to one that says master.
    RedisReply r = command({"ROLE"});
    if (!r.received()) return fmt::format("ROLE: {}", last_error_);
    const std::string role =
        r.isArray() && !r.elements.empty() && r.elements[0].isString() ? r.elements[0].str : "?";
    if (role != "master") {
      ++sentinel_errors_;
      return fmt::format("{} named by the Sentinels is not a master (ROLE: {})", where, role);
    }
  }
  if (opts_.db != 0) {
    const std::string db = std::to_string(opts_.db);
    RedisReply r = command({"SELECT", db});
    if (!r.ok())
      return fmt::format("SELECT {} failed ({})", db, r.received() ? r.str : last_error_);
  }
  if (!reloadScripts()) return fmt::format("SCRIPT LOAD failed ({})", last_error_);
  if (on_connect_ && !on_connect_(*this)) {
    return fmt::format("connection set-up failed ({})", last_error_);
  }
  return "";
}

std::string RedisClient::discoverMaster(std::string& host, int& port) {
  std::string reasons;
  for (size_t i = 0; i < opts_.sentinels.size(); ++i) {
    const std::string& s = opts_.sentinels[i];
    std::string why, sh;
    int sp = 0;
    Ctx sc;
    if (!parseHostPort(s, sh, sp)) {
      why = "not host:port";
    } else {
      sc.c = redisConnectWithTimeout(sh.c_str(), sp, toTimeval(opts_.connect_timeout_ms));
      if (sc.c == nullptr) {
        why = "cannot allocate a connection";
      } else if (sc.c->err != 0) {
        why = fmt::format("cannot connect ({})", sc.c->errstr);
      }
    }
    if (why.empty()) {
      redisSetTimeout(sc.c, toTimeval(opts_.connect_timeout_ms));
      if (!opts_.sentinel_password.empty()) {
        RedisReply r = rawCommand(sc.c, {"AUTH", opts_.sentinel_password});
        if (!r.received()) {
          why = fmt::format("AUTH: {}", sc.c->errstr[0] != '\0' ? sc.c->errstr : "no reply");
        } else if (r.isError()) {
          why = "authentication failed";
        }
      }
    }
    if (why.empty()) {
      RedisReply r =
          rawCommand(sc.c, {"SENTINEL", "get-master-addr-by-name", opts_.sentinel_master});
      if (r.isArray() && r.elements.size() == 2 && r.elements[0].isString() &&
          r.elements[1].isString()) {
        std::string h;
        int p = 0;
        if (parseHostPort(joinHostPort(r.elements[0].str, 1), h, p) &&
            parseHostPort("x:" + r.elements[1].str, h, p)) {
          host = r.elements[0].str;
          port = p;
          // Ask this one first next time.
          std::rotate(opts_.sentinels.begin(), opts_.sentinels.begin() + static_cast<long>(i),
                      opts_.sentinels.begin() + static_cast<long>(i) + 1);
          return "";
        }
        why = "unreadable master address";
      } else if (r.isNil()) {
        why = fmt::format("does not know master '{}'", opts_.sentinel_master);
      } else if (r.isError()) {
        why = r.str;
      } else if (!r.received()) {
        why = sc.c->errstr[0] != '\0' ? sc.c->errstr : "no reply";
      } else {
        why = "unexpected reply";
      }
    }
    reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : "; ", s, why);
  }
  return fmt::format("no Sentinel gave the address of master '{}' ({})", opts_.sentinel_master,
                     reasons);
}

bool RedisClient::switchAnnounced() {
  if (opts_.sentinels.empty()) return false;
  if (!watch_) {
    const int64_t now = now_us_();
    if (now < watch_next_try_us_) return false;
    watch_next_try_us_ = now + static_cast<int64_t>(opts_.backoff_max_ms) * 1000;
    // The next Sentinel in turn after a failure: one that is down is not retried forever (each
    // try may block for the connect timeout).
    const std::string& addr = opts_.sentinels[watch_turn_ % opts_.sentinels.size()];
    std::string h;
    int p = 0;
    auto w = std::make_unique<Ctx>();
    bool ok = parseHostPort(addr, h, p);
    if (ok) {
      w->c = redisConnectWithTimeout(h.c_str(), p, toTimeval(opts_.connect_timeout_ms));
      ok = w->c != nullptr && w->c->err == 0;
    }
    if (ok) {
      redisSetTimeout(w->c, toTimeval(opts_.connect_timeout_ms));
      ok = opts_.sentinel_password.empty() ||
           rawCommand(w->c, {"AUTH", opts_.sentinel_password}).ok();
    }
    ok = ok && rawCommand(w->c, {"SUBSCRIBE", "+switch-master"}).isArray();
    if (!ok) {
      ++watch_turn_;
      return false;
    }
    watch_ = std::move(w);
    // A switch announced before this subscription is not seen here; the connection to the old
    // master then fails or answers READONLY, which leads to the Sentinels as well.
    return false;
  }
  pollfd pfd{watch_->c->fd, POLLIN, 0};
  if (::poll(&pfd, 1, 0) <= 0) return false;
  if (redisBufferRead(watch_->c) != REDIS_OK) {
    watch_.reset();
    return false;
  }
  bool changed = false;
  void* raw = nullptr;
  int rc;
  while ((rc = redisGetReplyFromReader(watch_->c, &raw)) == REDIS_OK && raw != nullptr) {
    RawReply owned(raw);
    raw = nullptr;
    RedisReply m = convert(static_cast<const redisReply*>(owned.get()));
    // ["message", "+switch-master", "<name> <old ip> <old port> <new ip> <new port>"]
    if (!m.isArray() || m.elements.size() != 3 || m.elements[0].str != "message") continue;
    const std::string& text = m.elements[2].str;
    std::vector<std::string> f;
    for (size_t pos = 0; pos <= text.size();) {
      size_t sp = text.find(' ', pos);
      if (sp == std::string::npos) sp = text.size();
      f.push_back(text.substr(pos, sp - pos));
      pos = sp + 1;
    }
    if (f.size() == 5 && f[0] == opts_.sentinel_master) {
      int np = 0;
      for (char c : f[4]) np = np * 10 + (c >= '0' && c <= '9' ? c - '0' : 0);
      changed = changed || joinHostPort(f[3], np) != master_;
    }
  }
  if (rc != REDIS_OK) watch_.reset();
  return changed;
}

void RedisClient::staleMaster(const RedisReply& r) {
  // A master demoted under us: drop the connection so the next connect asks the Sentinels.
  if (opts_.sentinels.empty() || !r.errorIs("READONLY") || !ctx_) return;
  fail();
  last_error_ = "READONLY: the master became a replica";
}

bool RedisClient::ensure() {
  if (ctx_) {
    if (!switchAnnounced()) return true;
    last_error_ = "the Sentinels announced a new master";
    disconnect();  // at once, no backoff: the new master is known
    delay_ms_ = 0;
    next_try_us_ = 0;
  }
  if (now_us_() < next_try_us_) return false;
  return connect().empty();
}

bool RedisClient::reloadScripts() {
  for (Script& s : scripts_) {
    RedisReply r = command({"SCRIPT", "LOAD", s.lua});
    if (!r.isString() || r.str.size() != 40) {
      if (r.received() && !r.isError()) last_error_ = "SCRIPT LOAD: unexpected reply";
      return false;
    }
    s.sha = std::move(r.str);
  }
  return true;
}

RedisReply RedisClient::commandArgv(const std::vector<std::string_view>& args) {
  if (!ctx_) {
    last_error_ = "not connected";
    return {};
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  RawReply raw(redisCommandArgv(ctx_->c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (!raw) {
    last_error_ = ctx_->c->errstr[0] != '\0' ? ctx_->c->errstr : "no reply";
    fail();
    return {};
  }
  RedisReply r = convert(static_cast<const redisReply*>(raw.get()));
  if (r.isError()) last_error_ = std::string(args.empty() ? "" : args[0]) + ": " + r.str;
  staleMaster(r);
  return r;
}

RedisReply RedisClient::command(const std::vector<std::string>& args) {
  return commandArgv(std::vector<std::string_view>(args.begin(), args.end()));
}

RedisReply RedisClient::command(std::initializer_list<std::string_view> args) {
  return commandArgv(std::vector<std::string_view>(args));
}

void RedisClient::appendArgv(const std::vector<std::string_view>& args) {
  if (!ctx_) return;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAppendCommandArgv(ctx_->c, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
      REDIS_OK) {
    last_error_ = ctx_->c->errstr[0] != '\0' ? ctx_->c->errstr : "cannot append";
    fail();
  }
}

void RedisClient::append(const std::vector<std::string>& args) {
  appendArgv(std::vector<std::string_view>(args.begin(), args.end()));
}

void RedisClient::append(std::initializer_list<std::string_view> args) {
  appendArgv(std::vector<std::string_view>(args));
}

RedisReply RedisClient::read() {
  if (!ctx_) {
    last_error_ = "not connected";
    return {};
  }
  void* raw = nullptr;
  if (redisGetReply(ctx_->c, &raw) != REDIS_OK || raw == nullptr) {
    if (raw != nullptr) freeReplyObject(raw);
    last_error_ = ctx_->c->errstr[0] != '\0' ? ctx_->c->errstr : "no reply";
    fail();
    return {};
  }
  RawReply owned(raw);
  RedisReply r = convert(static_cast<const redisReply*>(raw));
  if (r.isError()) last_error_ = r.str;
  staleMaster(r);
  return r;
}

void RedisClient::setTimeout(int ms) {
  if (ctx_) redisSetTimeout(ctx_->c, toTimeval(ms));
}

std::vector<std::string_view> RedisClient::evalArgs(size_t script,
                                                    const std::vector<std::string>& keys,
                                                    const std::vector<std::string>& args,
                                                    std::string& nkeys) const {
  nkeys = std::to_string(keys.size());
  std::vector<std::string_view> v;
  v.reserve(3 + keys.size() + args.size());
  v.emplace_back("EVALSHA");
  v.emplace_back(scripts_[script].sha);
  v.emplace_back(nkeys);
  for (const auto& k : keys) v.emplace_back(k);
  for (const auto& a : args) v.emplace_back(a);
  return v;
}

RedisReply RedisClient::evalsha(size_t script, const std::vector<std::string>& keys,
                                const std::vector<std::string>& args) {
  std::string nkeys;
  RedisReply r = commandArgv(evalArgs(script, keys, args, nkeys));
  if (r.errorIs("NOSCRIPT")) {
    if (!reloadScripts()) {
      if (connected()) fail();
      return r;
    }
    r = commandArgv(evalArgs(script, keys, args, nkeys));
  }
  return r;
}

void RedisClient::appendEvalsha(size_t script, const std::vector<std::string>& keys,
                                const std::vector<std::string>& args) {
  std::string nkeys;
  appendArgv(evalArgs(script, keys, args, nkeys));
}

bool RedisClient::drainPushes(std::vector<RedisReply>& out) {
  if (!ctx_) return false;
  if (redisBufferRead(ctx_->c) != REDIS_OK) {
    last_error_ = fmt::format("subscription lost ({})", ctx_->c->errstr);
    fail();
    return false;
  }
  void* raw = nullptr;
  int rc;
  while ((rc = redisGetReplyFromReader(ctx_->c, &raw)) == REDIS_OK && raw != nullptr) {
    RawReply owned(raw);
    raw = nullptr;
    out.push_back(convert(static_cast<const redisReply*>(owned.get())));
  }
  if (rc != REDIS_OK) {
    last_error_ = "subscription: protocol error";
    fail();
    return false;
  }
  return true;
}

}  // namespace mcn::redis
