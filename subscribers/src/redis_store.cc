#include "mcn/subscribers/redis_store.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checks.h"
#include "mcn/subscribers/validate.h"
#include "person_json.h"

namespace mcn::subscribers {

namespace {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

timeval toTimeval(int ms) {
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

std::string endpoint(const RedisOptions& o) { return fmt::format("redis {}:{}", o.host, o.port); }

// A failed command: connection problems (the context is unusable afterwards, hiredis rule) and
// error replies are told apart so callers can reconnect only when needed.
struct CmdResult {
  ReplyPtr reply;
  std::string error;        // "" on success
  bool connection = false;  // the error is the connection's (context unusable)
};

CmdResult command(redisContext* c, std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  CmdResult r;
  r.reply.reset(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!r.reply) {
    r.error = c->errstr[0] != '\0' ? c->errstr : "no reply";
    r.connection = true;
  } else if (r.reply->type == REDIS_REPLY_ERROR) {
    r.error.assign(r.reply->str, r.reply->len);
  }
  return r;
}

// Connects, authenticates and selects the database; "" on success.
std::string openContext(const RedisOptions& o, ContextPtr& out) {
  out.reset(redisConnectWithTimeout(o.host.c_str(), o.port, toTimeval(o.connect_timeout_ms)));
  if (!out) return "cannot allocate a connection";
  if (out->err != 0) return fmt::format("cannot connect ({})", out->errstr);
  redisSetTimeout(out.get(), toTimeval(o.command_timeout_ms));
  redisEnableKeepAlive(out.get());
  if (!o.password.empty()) {
    // The reply text may quote the command; never the password itself in our messages.
    CmdResult r = command(out.get(), {"AUTH", o.password});
    if (!r.error.empty()) return "authentication failed";
  }
  if (o.db != 0) {
    const std::string db = std::to_string(o.db);
    CmdResult r = command(out.get(), {"SELECT", db});
    if (!r.error.empty()) return fmt::format("SELECT {} failed ({})", db, r.error);
  }
  return "";
}

std::string personKey(const RedisOptions& o, std::string_view id) {
  return o.prefix + "person:" + std::string(id);
}
std::string numberKey(const RedisOptions& o, std::string_view index_key) {
  return o.prefix + "number:" + std::string(index_key);
}
std::string versionKey(const RedisOptions& o) { return o.prefix + "subscribers:version"; }
std::string channelName(const RedisOptions& o) { return o.prefix + "subscribers:changed"; }

// SCAN MATCH treats * ? [ ] \ specially (glob-style); the prefix is literal.
std::string globEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// Reads an integer reply or a bulk string holding one; nil is 0.
bool replyToU64(const redisReply* r, uint64_t& out) {
  if (r->type == REDIS_REPLY_NIL) {
    out = 0;
    return true;
  }
  if (r->type == REDIS_REPLY_INTEGER) {
    out = static_cast<uint64_t>(r->integer);
    return true;
  }
  if (r->type == REDIS_REPLY_STRING) {
    char* end = nullptr;
    errno = 0;
    out = std::strtoull(r->str, &end, 10);
    return errno == 0 && end == r->str + r->len && r->len > 0;
  }
  return false;
}

struct LoadResult {
  std::vector<Person> people;
  uint64_t version = 0;
  std::string error;
  bool connection = false;
};

// A consistent full snapshot: SCAN (never KEYS, which blocks the server) the person keys, MGET
// them in batches, and accept the result only if the version did not move meanwhile. Every change
// is one atomic script that bumps the version, so an unchanged version means no change happened
// between the two reads.
LoadResult loadAll(redisContext* c, const RedisOptions& o) {
  LoadResult res;
  const std::string vkey = versionKey(o);
  const std::string pattern = globEscape(o.prefix) + "person:*";
  const size_t id_offset = o.prefix.size() + 7;
  for (int attempt = 0; attempt < 5; ++attempt) {
    res = LoadResult{};
    CmdResult v1 = command(c, {"GET", vkey});
    if (!v1.error.empty() || !replyToU64(v1.reply.get(), res.version)) {
      res.error = v1.error.empty() ? "version key is not a number" : v1.error;
      res.connection = v1.connection;
      return res;
    }
    std::vector<std::string> keys;
    std::string cursor = "0";
    do {
      CmdResult s = command(c, {"SCAN", cursor, "MATCH", pattern, "COUNT", "500"});
      if (!s.error.empty()) {
        res.error = "SCAN: " + s.error;
        res.connection = s.connection;
        return res;
      }
      const redisReply* r = s.reply.get();
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
          r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
        res.error = "SCAN: unexpected reply";
        return res;
      }
      cursor.assign(r->element[0]->str, r->element[0]->len);
      const redisReply* arr = r->element[1];
      for (size_t i = 0; i < arr->elements; ++i) {
        keys.emplace_back(arr->element[i]->str, arr->element[i]->len);
      }
    } while (cursor != "0");
    // SCAN may return a key more than once (rehashing): dedupe.
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    constexpr size_t kBatch = 256;
    for (size_t start = 0; start < keys.size(); start += kBatch) {
      const size_t end = std::min(keys.size(), start + kBatch);
      std::vector<const char*> argv{"MGET"};
      std::vector<size_t> lens{4};
      for (size_t i = start; i < end; ++i) {
        argv.push_back(keys[i].data());
        lens.push_back(keys[i].size());
      }
      ReplyPtr r(static_cast<redisReply*>(
          redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
      if (!r) {
        res.error = fmt::format("MGET: {}", c->errstr);
        res.connection = true;
        return res;
      }
      if (r->type != REDIS_REPLY_ARRAY || r->elements != end - start) {
        res.error = "MGET: unexpected reply";
        return res;
      }
      for (size_t i = 0; i < r->elements; ++i) {
        const redisReply* e = r->element[i];
        if (e->type == REDIS_REPLY_NIL) continue;  // removed meanwhile: the version check retries
        if (e->type != REDIS_REPLY_STRING) {
          res.error = fmt::format("{}: not a string", keys[start + i]);
          return res;
        }
        try {
          Person p = detail::personFromJson(std::string_view(e->str, e->len), keys[start + i]);
          if (keys[start + i].substr(id_offset) != p.id) {
            throw SubscriberError(fmt::format("{}: holds person {}", keys[start + i], p.id));
          }
          res.people.push_back(std::move(p));
        } catch (const SubscriberError& ex) {
          res.error = ex.what();
          return res;
        }
      }
    }
    CmdResult v2 = command(c, {"GET", vkey});
    uint64_t after = 0;
    if (!v2.error.empty() || !replyToU64(v2.reply.get(), after)) {
      res.error = v2.error.empty() ? "version key is not a number" : v2.error;
      res.connection = v2.connection;
      return res;
    }
    if (after == res.version) {
      std::sort(res.people.begin(), res.people.end(),
                [](const Person& a, const Person& b) { return a.id < b.id; });
      return res;
    }
  }
  res.error = "the directory kept changing during 5 snapshot attempts";
  return res;
}

// One change = one script run, atomic on the server (Redis runs a script to completion before any
// other command). ARGV[1] = key prefix, ARGV[2] = JSON list of operations
// {op = "add"|"put"|"remove", id, person = <JSON text>, numbers = [index keys]}.
// Phase 1 checks everything and replies an MCN_* error before any write; phase 2 releases the
// index entries of every touched person (only those still pointing at them), phase 3 writes, then
// the version is bumped and published. Index keys of a stored "sip:user@host" are its user part,
// as numberIndexKey() computes in C++.
constexpr const char* kApplyScript = R"lua(
local prefix = ARGV[1]
local ops = cjson.decode(ARGV[2])
local function index_key(n)
  local u = string.match(n, '^sips?:([^@]*)@')
  return u or n
end
local touched = {}
for _, op in ipairs(ops) do
  if touched[op.id] then return redis.error_reply('MCN_TWICE ' .. op.id) end
  touched[op.id] = true
  local exists = redis.call('EXISTS', prefix .. 'person:' .. op.id) == 1
  if op.op == 'add' and exists then return redis.error_reply('MCN_EXISTS ' .. op.id) end
  if op.op == 'remove' and not exists then return redis.error_reply('MCN_NOT_FOUND ' .. op.id) end
end
local claimed = {}
for _, op in ipairs(ops) do
  if op.op ~= 'remove' then
    for _, n in ipairs(op.numbers) do
      if claimed[n] and claimed[n] ~= op.id then
        return redis.error_reply('MCN_CONFLICT ' .. op.id .. ' ' .. claimed[n] .. ' ' .. n)
      end
      local owner = redis.call('GET', prefix .. 'number:' .. n)
      if owner and owner ~= op.id and not touched[owner] then
        return redis.error_reply('MCN_CONFLICT ' .. op.id .. ' ' .. owner .. ' ' .. n)
      end
      claimed[n] = op.id
    end
  end
end
for _, op in ipairs(ops) do
  local pkey = prefix .. 'person:' .. op.id
  local old = redis.call('GET', pkey)
  if old then
    local ok, rec = pcall(cjson.decode, old)
    if ok and type(rec) == 'table' and type(rec.numbers) == 'table' then
      for _, n in ipairs(rec.numbers) do
        local nkey = prefix .. 'number:' .. index_key(n)
        if redis.call('GET', nkey) == op.id then redis.call('DEL', nkey) end
      end
    end
    redis.call('DEL', pkey)
  end
end
for _, op in ipairs(ops) do
  if op.op ~= 'remove' then
    redis.call('SET', prefix .. 'person:' .. op.id, op.person)
    for _, n in ipairs(op.numbers) do
      redis.call('SET', prefix .. 'number:' .. n, op.id)
    end
  end
end
local v = redis.call('INCR', prefix .. 'subscribers:version')
redis.call('PUBLISH', prefix .. 'subscribers:changed', tostring(v))
return v
)lua";

}  // namespace

RedisOptions parseRedisUrl(std::string_view url) {
  RedisOptions o;
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) {
    throw SubscriberError(fmt::format("redis URL {}: expected redis://host[:port][/db]", url));
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (hostport.find('@') != std::string_view::npos) {
    throw SubscriberError(
        "redis URL: credentials do not belong in a URL (command lines and config files are "
        "readable); give the password as a reference (env:NAME or file:/path)");
  }
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      int v = 0;
      bool ok = db.size() <= 4;
      for (char c : db) {
        ok = ok && c >= '0' && c <= '9';
        v = v * 10 + (c - '0');
      }
      if (!ok) throw SubscriberError(fmt::format("redis URL {}: database must be a number", url));
      o.db = v;
    }
  }
  std::string_view port;
  if (hostport.starts_with("[")) {  // [::1]:6379
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) {
      throw SubscriberError(fmt::format("redis URL {}: unclosed [", url));
    }
    o.host = std::string(hostport.substr(1, close - 1));
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':')
        throw SubscriberError(fmt::format("redis URL {}: bad host", url));
      port = hostport.substr(close + 2);
    }
  } else {
    const size_t colon = hostport.find(':');
    o.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) port = hostport.substr(colon + 1);
  }
  if (o.host.empty()) throw SubscriberError(fmt::format("redis URL {}: no host", url));
  if (!port.empty() || hostport.ends_with(":")) {
    int v = 0;
    bool ok = !port.empty() && port.size() <= 5;
    for (char c : port) {
      ok = ok && c >= '0' && c <= '9';
      v = v * 10 + (c - '0');
    }
    if (!ok || v == 0 || v > 65535) {
      throw SubscriberError(fmt::format("redis URL {}: port must be 1..65535", url));
    }
    o.port = v;
  }
  return o;
}

std::string resolveSecretRef(std::string_view ref) {
  if (std::string e = detail::checkSecretRef(ref); !e.empty()) {
    throw SubscriberError(fmt::format("secret reference: {}", e));
  }
  if (ref.starts_with("env:")) {
    const std::string name(ref.substr(4));
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') {
      throw SubscriberError(fmt::format("{}: environment variable not set", ref));
    }
    return v;
  }
  const std::string path(ref.substr(5));
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    throw SubscriberError(fmt::format("{}: cannot read", ref));
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// ---------------------------------------------------------------------------------------------

struct RedisStore::Impl {
  RedisOptions opts;
  ContextPtr ctx;
};

RedisStore::RedisStore(RedisOptions opts) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
  if (std::string e = openContext(impl_->opts, impl_->ctx); !e.empty()) {
    last_error_connection_ = true;
    throw SubscriberError(fmt::format("{}: {}", endpoint(impl_->opts), e));
  }
}

RedisStore::~RedisStore() = default;

std::vector<Person> RedisStore::list() {
  LoadResult r = loadAll(impl_->ctx.get(), impl_->opts);
  if (!r.error.empty()) {
    last_error_connection_ = r.connection;
    throw SubscriberError(fmt::format("{}: {}", endpoint(impl_->opts), r.error));
  }
  return std::move(r.people);
}

std::optional<Person> RedisStore::get(std::string_view id) {
  const std::string key = personKey(impl_->opts, id);
  CmdResult r = command(impl_->ctx.get(), {"GET", key});
  if (!r.error.empty()) {
    last_error_connection_ = r.connection;
    throw SubscriberError(fmt::format("{}: GET {}: {}", endpoint(impl_->opts), key, r.error));
  }
  if (r.reply->type == REDIS_REPLY_NIL) return std::nullopt;
  if (r.reply->type != REDIS_REPLY_STRING) {
    throw SubscriberError(fmt::format("{}: {}: not a string", endpoint(impl_->opts), key));
  }
  return detail::personFromJson(std::string_view(r.reply->str, r.reply->len), key);
}

std::optional<std::string> RedisStore::ownerOf(std::string_view index_key) {
  const std::string key = numberKey(impl_->opts, index_key);
  CmdResult r = command(impl_->ctx.get(), {"GET", key});
  if (!r.error.empty()) {
    last_error_connection_ = r.connection;
    throw SubscriberError(fmt::format("{}: GET {}: {}", endpoint(impl_->opts), key, r.error));
  }
  if (r.reply->type != REDIS_REPLY_STRING) return std::nullopt;
  return std::string(r.reply->str, r.reply->len);
}

uint64_t RedisStore::version() {
  CmdResult r = command(impl_->ctx.get(), {"GET", versionKey(impl_->opts)});
  uint64_t v = 0;
  if (!r.error.empty() || !replyToU64(r.reply.get(), v)) {
    last_error_connection_ = r.connection;
    throw SubscriberError(fmt::format("{}: version: {}", endpoint(impl_->opts),
                                      r.error.empty() ? "not a number" : r.error));
  }
  return v;
}

namespace {

nlohmann::json putOp(const char* op, const Person& p) {
  validatePerson(p);
  nlohmann::json j;
  j["op"] = op;
  j["id"] = p.id;
  j["person"] = detail::personToJson(p);
  nlohmann::json nums = nlohmann::json::array();
  for (const std::string& n : p.numbers) nums.push_back(std::string(numberIndexKey(n)));
  j["numbers"] = std::move(nums);
  return j;
}

uint64_t runApply(redisContext* c, const RedisOptions& o, const nlohmann::json& ops,
                  bool& connection_error) {
  const std::string payload = ops.dump();
  CmdResult r = command(c, {"EVAL", kApplyScript, "0", o.prefix, payload});
  if (r.error.empty()) {
    if (r.reply->type != REDIS_REPLY_INTEGER) {
      throw SubscriberError(fmt::format("{}: unexpected reply to the update", endpoint(o)));
    }
    return static_cast<uint64_t>(r.reply->integer);
  }
  connection_error = r.connection;
  // Our script's refusals are "MCN_<WHAT> args..."; anything else is Redis's own error.
  const size_t at = r.error.find("MCN_");
  if (at == std::string::npos) {
    throw SubscriberError(fmt::format("{}: update failed: {}", endpoint(o), r.error));
  }
  std::vector<std::string> w;
  std::string cur;
  for (char ch : r.error.substr(at)) {
    if (ch == ' ') {
      w.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  w.push_back(cur);
  if (w[0] == "MCN_EXISTS" && w.size() >= 2) {
    throw SubscriberError(fmt::format("person {}: already exists", w[1]));
  }
  if (w[0] == "MCN_NOT_FOUND" && w.size() >= 2) {
    throw SubscriberError(fmt::format("person {}: not found", w[1]));
  }
  if (w[0] == "MCN_CONFLICT" && w.size() >= 4) {
    throw SubscriberError(
        fmt::format("person {}: number {} already belongs to {}", w[1], w[3], w[2]));
  }
  if (w[0] == "MCN_TWICE" && w.size() >= 2) {
    throw SubscriberError(fmt::format("person {}: listed twice in one change", w[1]));
  }
  throw SubscriberError(fmt::format("{}: update refused: {}", endpoint(o), r.error));
}

}  // namespace

uint64_t RedisStore::add(const Person& p) {
  nlohmann::json ops = nlohmann::json::array({putOp("add", p)});
  return runApply(impl_->ctx.get(), impl_->opts, ops, last_error_connection_);
}

uint64_t RedisStore::put(const Person& p) {
  nlohmann::json ops = nlohmann::json::array({putOp("put", p)});
  return runApply(impl_->ctx.get(), impl_->opts, ops, last_error_connection_);
}

uint64_t RedisStore::remove(std::string_view id) {
  if (std::string e = detail::checkId(id); !e.empty()) {
    throw SubscriberError(fmt::format("person {}: id: {}", id, e));
  }
  nlohmann::json op;
  op["op"] = "remove";
  op["id"] = std::string(id);
  return runApply(impl_->ctx.get(), impl_->opts, nlohmann::json::array({op}),
                  last_error_connection_);
}

uint64_t RedisStore::apply(const std::vector<Person>& puts,
                           const std::vector<std::string>& removals) {
  validateUnique(puts);
  nlohmann::json ops = nlohmann::json::array();
  for (const Person& p : puts) ops.push_back(putOp("put", p));
  for (const std::string& id : removals) {
    if (std::string e = detail::checkId(id); !e.empty()) {
      throw SubscriberError(fmt::format("person {}: id: {}", id, e));
    }
    nlohmann::json op;
    op["op"] = "remove";
    op["id"] = id;
    ops.push_back(std::move(op));
  }
  if (ops.empty()) return version();
  return runApply(impl_->ctx.get(), impl_->opts, ops, last_error_connection_);
}

// ---------------------------------------------------------------------------------------------

struct RedisDirectorySource::Conn {
  ContextPtr cmd;  // GET/SCAN/MGET
  ContextPtr sub;  // SUBSCRIBEd: only pushes arrive here
};

RedisDirectorySource::RedisDirectorySource(RedisOptions opts, RefreshOptions refresh)
    : opts_(std::move(opts)), refresh_(std::move(refresh)), current_(Directory::build({}, 0)) {
  if (!refresh_.log) {
    refresh_.log = [](std::string_view line) { spdlog::warn("{}", line); };
  }
}

RedisDirectorySource::~RedisDirectorySource() { stop(); }

void RedisDirectorySource::forEachCounter(
    const std::function<void(std::string_view, uint64_t)>& fn) const {
  std::shared_ptr<const Directory> d = current_.load();
  fn("subscribers.version", d->version());
  fn("subscribers.people", d->people().size());
  fn("subscribers.reloads", reloads_.load(std::memory_order_relaxed));
  fn("subscribers.redis_errors", redis_errors_.load(std::memory_order_relaxed));
}

bool RedisDirectorySource::start() {
  if (thread_.joinable()) return true;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  bool ok = connect() && reloadIfChanged(true);
  if (!ok) disconnect();
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
  return ok && reloads_.load() > 0;
}

void RedisDirectorySource::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
  disconnect();
  ::close(wake_fd_);
  wake_fd_ = -1;
}

void RedisDirectorySource::noteError(std::string_view what) {
  redis_errors_.fetch_add(1, std::memory_order_relaxed);
  if (!down_logged_) {
    down_logged_ = true;
    refresh_.log(fmt::format("subscribers: {}: {}; retrying, keeping snapshot version {}",
                             endpoint(opts_), what, current_.load()->version()));
  }
}

bool RedisDirectorySource::connect() {
  auto c = std::make_unique<Conn>();
  std::string e = openContext(opts_, c->cmd);
  if (e.empty()) e = openContext(opts_, c->sub);
  if (e.empty()) {
    const std::string ch = channelName(opts_);
    CmdResult r = command(c->sub.get(), {"SUBSCRIBE", ch});
    if (!r.error.empty()) e = "SUBSCRIBE: " + r.error;
  }
  if (!e.empty()) {
    noteError(e);
    return false;
  }
  conn_ = std::move(c);
  return true;
}

void RedisDirectorySource::disconnect() { conn_.reset(); }

bool RedisDirectorySource::reloadIfChanged(bool force) {
  CmdResult r = command(conn_->cmd.get(), {"GET", versionKey(opts_)});
  uint64_t v = 0;
  if (!r.error.empty() || !replyToU64(r.reply.get(), v)) {
    noteError(r.error.empty() ? "version key is not a number" : r.error);
    return !r.connection;
  }
  const std::shared_ptr<const Directory> cur = current_.load();
  // Any difference reloads, not only a larger version: a Redis restored from an older dump or
  // flushed is the truth too.
  if (!force && reloads_.load() > 0 && v == cur->version()) return true;
  LoadResult res = loadAll(conn_->cmd.get(), opts_);
  if (res.error.empty()) {
    try {
      current_.store(Directory::build(std::move(res.people), res.version));
    } catch (const std::invalid_argument& ex) {
      res.error = ex.what();
    }
  }
  if (!res.error.empty()) {
    noteError(res.error);
    return !res.connection;
  }
  reloads_.fetch_add(1, std::memory_order_relaxed);
  if (down_logged_) {
    down_logged_ = false;
    refresh_.log(
        fmt::format("subscribers: {}: back, snapshot version {}", endpoint(opts_), res.version));
  }
  return true;
}

void RedisDirectorySource::waitMs(int ms) {
  pollfd p{wake_fd_, POLLIN, 0};
  ::poll(&p, 1, ms);
}

void RedisDirectorySource::run() {
  using Clock = std::chrono::steady_clock;
  int backoff = refresh_.backoff_initial_ms;
  auto next_poll = Clock::now() + std::chrono::milliseconds(refresh_.poll_interval_ms);
  while (!stopping_) {
    if (!conn_) {
      // Subscribed before reading: a change from now on is either in this snapshot or announced
      // on the channel. Always a full reload after a reconnect: a restarted Redis without
      // persistence counts versions from 0 again, so an equal version proves nothing here.
      if (!connect() || !reloadIfChanged(true)) {
        disconnect();
        waitMs(backoff);
        backoff = std::min(backoff * 2, refresh_.backoff_max_ms);
        continue;
      }
      backoff = refresh_.backoff_initial_ms;
      next_poll = Clock::now() + std::chrono::milliseconds(refresh_.poll_interval_ms);
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - Clock::now());
    pollfd fds[2] = {{conn_->sub->fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (stopping_) break;
    bool changed = false;
    if (n > 0 && fds[0].revents != 0) {
      if (redisBufferRead(conn_->sub.get()) != REDIS_OK) {
        noteError(fmt::format("subscription lost ({})", conn_->sub->errstr));
        disconnect();
        continue;
      }
      void* raw = nullptr;
      int rc;
      while ((rc = redisGetReplyFromReader(conn_->sub.get(), &raw)) == REDIS_OK && raw != nullptr) {
        ReplyPtr reply(static_cast<redisReply*>(raw));
        raw = nullptr;
        // ["message", channel, version]; the version in the payload is only a hint: the
        // snapshot's own version read comes from the version key.
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
            reply->element[0]->type == REDIS_REPLY_STRING &&
            std::string_view(reply->element[0]->str, reply->element[0]->len) == "message") {
          changed = true;
        }
      }
      if (rc != REDIS_OK) {
        noteError("subscription: protocol error");
        disconnect();
        continue;
      }
    }
    if (changed || Clock::now() >= next_poll) {
      if (!reloadIfChanged(false)) {
        disconnect();
        continue;
      }
      next_poll = Clock::now() + std::chrono::milliseconds(refresh_.poll_interval_ms);
    }
  }
}

}  // namespace mcn::subscribers
