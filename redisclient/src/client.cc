#include "mcn/redis/client.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

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

}  // namespace

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
  auto ctx = std::make_unique<Ctx>();
  ctx->c =
      redisConnectWithTimeout(opts_.host.c_str(), opts_.port, toTimeval(opts_.connect_timeout_ms));
  std::string err;
  if (ctx->c == nullptr) {
    err = "cannot allocate a connection";
  } else if (ctx->c->err != 0) {
    err = fmt::format("cannot connect ({})", ctx->c->errstr);
  }
  if (err.empty()) {
    if (opts_.command_timeout_ms > 0) redisSetTimeout(ctx->c, toTimeval(opts_.command_timeout_ms));
    if (opts_.keepalive) redisEnableKeepAlive(ctx->c);
    ctx_ = std::move(ctx);
    err = setUp();
  }
  if (!err.empty()) {
    last_error_ = err;
    disconnect();
    backoff();
    return err;
  }
  if (ever_connected_) ++reconnects_;
  ever_connected_ = true;
  delay_ms_ = 0;
  return "";
}

std::string RedisClient::setUp() {
  if (!opts_.password.empty()) {
    // The reply may quote the command; never the password in our messages.
    RedisReply r = command({"AUTH", opts_.password});
    if (!r.received()) return fmt::format("AUTH: {}", last_error_);
    if (r.isError()) return "authentication failed";
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

bool RedisClient::ensure() {
  if (ctx_) return true;
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
