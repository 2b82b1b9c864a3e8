#include "mcn/subscribers/redis_store.h"

#include <fmt/format.h>
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
#include "mcn/redis/client.h"
#include "mcn/subscribers/validate.h"
#include "person_json.h"

namespace mcn::subscribers {

namespace {

using redis::RedisClient;
using redis::RedisReply;

std::string endpoint(const RedisOptions& o) { return fmt::format("redis {}:{}", o.host, o.port); }

// A failed command: connection problems (the client has dropped the connection) and error replies
// are told apart so callers can reconnect only when needed.
struct CmdResult {
  RedisReply reply;
  std::string error;        // "" on success
  bool connection = false;  // the error is the connection's
};

CmdResult command(RedisClient& c, std::initializer_list<std::string_view> args) {
  CmdResult r;
  r.reply = c.command(args);
  if (!r.reply.received()) {
    r.error = c.lastError();
    r.connection = true;
  } else if (r.reply.isError()) {
    r.error = r.reply.str;
  }
  return r;
}

// A client for these options, connected (AUTH, SELECT) or with the reason in `error`.
std::unique_ptr<RedisClient> openClient(const RedisOptions& o, std::string& error) {
  redis::RedisClientOptions c;
  c.host = o.host;
  c.port = o.port;
  c.password = o.password;
  c.sentinels = o.sentinels;
  c.sentinel_master = o.sentinel_master;
  c.sentinel_password = o.sentinel_password;
  c.db = o.db;
  c.connect_timeout_ms = o.connect_timeout_ms;
  c.command_timeout_ms = o.command_timeout_ms;
  c.keepalive = true;
  auto client = std::make_unique<RedisClient>(std::move(c));
  error = client->connect();
  return client;
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
bool replyToU64(const RedisReply& r, uint64_t& out) {
  if (r.isNil()) {
    out = 0;
    return true;
  }
  if (r.isInteger()) {
    out = static_cast<uint64_t>(r.integer);
    return true;
  }
  if (r.isString()) {
    char* end = nullptr;
    errno = 0;
    out = std::strtoull(r.str.c_str(), &end, 10);
    return errno == 0 && end == r.str.c_str() + r.str.size() && !r.str.empty();
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
LoadResult loadAll(RedisClient& c, const RedisOptions& o) {
  LoadResult res;
  const std::string vkey = versionKey(o);
  const std::string pattern = globEscape(o.prefix) + "person:*";
  const size_t id_offset = o.prefix.size() + 7;
  for (int attempt = 0; attempt < 5; ++attempt) {
    res = LoadResult{};
    CmdResult v1 = command(c, {"GET", vkey});
    if (!v1.error.empty() || !replyToU64(v1.reply, res.version)) {
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
      RedisReply& r = s.reply;
      if (!r.isArray() || r.elements.size() != 2 || !r.elements[0].isString() ||
          !r.elements[1].isArray()) {
        res.error = "SCAN: unexpected reply";
        return res;
      }
      cursor = std::move(r.elements[0].str);
      for (RedisReply& k : r.elements[1].elements) keys.push_back(std::move(k.str));
    } while (cursor != "0");
    // SCAN may return a key more than once (rehashing): dedupe.
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    constexpr size_t kBatch = 256;
    for (size_t start = 0; start < keys.size(); start += kBatch) {
      const size_t end = std::min(keys.size(), start + kBatch);
      std::vector<std::string> args{"MGET"};
      args.insert(args.end(), keys.begin() + static_cast<std::ptrdiff_t>(start),
                  keys.begin() + static_cast<std::ptrdiff_t>(end));
      RedisReply r = c.command(args);
      if (!r.received()) {
        res.error = fmt::format("MGET: {}", c.lastError());
        res.connection = true;
        return res;
      }
      if (!r.isArray() || r.elements.size() != end - start) {
        res.error = r.isError() ? "MGET: " + r.str : "MGET: unexpected reply";
        return res;
      }
      for (size_t i = 0; i < r.elements.size(); ++i) {
        const RedisReply& e = r.elements[i];
        if (e.isNil()) continue;  // removed meanwhile: the version check retries
        if (!e.isString()) {
          res.error = fmt::format("{}: not a string", keys[start + i]);
          return res;
        }
        try {
          Person p = detail::personFromJson(e.str, keys[start + i]);
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
    if (!v2.error.empty() || !replyToU64(v2.reply, after)) {
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
  std::unique_ptr<RedisClient> ctx;
};

RedisStore::RedisStore(RedisOptions opts) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
  std::string e;
  impl_->ctx = openClient(impl_->opts, e);
  if (!e.empty()) {
    last_error_connection_ = true;
    throw SubscriberError(fmt::format("{}: {}", endpoint(impl_->opts), e));
  }
}

RedisStore::~RedisStore() = default;

std::vector<Person> RedisStore::list() {
  LoadResult r = loadAll(*impl_->ctx, impl_->opts);
  if (!r.error.empty()) {
    last_error_connection_ = r.connection;
    throw SubscriberError(fmt::format("{}: {}", endpoint(impl_->opts), r.error));
  }
  return std::move(r.people);
}

std::optional<Person> RedisStore::get(std::string_view id) {
  const std::string key = personKey(impl_->opts, id);
  CmdResult r = command(*impl_->ctx, {"GET", key});
  if (!r.error.empty()) {
    last_error_connection_ = r.connection;
    throw SubscriberError(fmt::format("{}: GET {}: {}", endpoint(impl_->opts), key, r.error));
  }
  if (r.reply.isNil()) return std::nullopt;
  if (!r.reply.isString()) {
    throw SubscriberError(fmt::format("{}: {}: not a string", endpoint(impl_->opts), key));
  }
  return detail::personFromJson(r.reply.str, key);
}

std::optional<std::string> RedisStore::ownerOf(std::string_view index_key) {
  const std::string key = numberKey(impl_->opts, index_key);
  CmdResult r = command(*impl_->ctx, {"GET", key});
  if (!r.error.empty()) {
    last_error_connection_ = r.connection;
    throw SubscriberError(fmt::format("{}: GET {}: {}", endpoint(impl_->opts), key, r.error));
  }
  if (!r.reply.isString()) return std::nullopt;
  return std::move(r.reply.str);
}

uint64_t RedisStore::version() {
  CmdResult r = command(*impl_->ctx, {"GET", versionKey(impl_->opts)});
  uint64_t v = 0;
  if (!r.error.empty() || !replyToU64(r.reply, v)) {
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

uint64_t runApply(RedisClient& c, const RedisOptions& o, const nlohmann::json& ops,
                  bool& connection_error) {
  const std::string payload = ops.dump();
  CmdResult r = command(c, {"EVAL", kApplyScript, "0", o.prefix, payload});
  if (r.error.empty()) {
    if (!r.reply.isInteger()) {
      throw SubscriberError(fmt::format("{}: unexpected reply to the update", endpoint(o)));
    }
    return static_cast<uint64_t>(r.reply.integer);
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
  return runApply(*impl_->ctx, impl_->opts, ops, last_error_connection_);
}

uint64_t RedisStore::put(const Person& p) {
  nlohmann::json ops = nlohmann::json::array({putOp("put", p)});
  return runApply(*impl_->ctx, impl_->opts, ops, last_error_connection_);
}

uint64_t RedisStore::remove(std::string_view id) {
  if (std::string e = detail::checkId(id); !e.empty()) {
    throw SubscriberError(fmt::format("person {}: id: {}", id, e));
  }
  nlohmann::json op;
  op["op"] = "remove";
  op["id"] = std::string(id);
  return runApply(*impl_->ctx, impl_->opts, nlohmann::json::array({op}), last_error_connection_);
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
  return runApply(*impl_->ctx, impl_->opts, ops, last_error_connection_);
}

// ---------------------------------------------------------------------------------------------

struct RedisDirectorySource::Conn {
  std::unique_ptr<RedisClient> cmd;  // GET/SCAN/MGET
  std::unique_ptr<RedisClient> sub;  // SUBSCRIBEd: only pushes arrive here
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
  std::string e;
  c->cmd = openClient(opts_, e);
  if (e.empty()) c->sub = openClient(opts_, e);
  if (e.empty()) {
    const std::string ch = channelName(opts_);
    CmdResult r = command(*c->sub, {"SUBSCRIBE", ch});
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
  CmdResult r = command(*conn_->cmd, {"GET", versionKey(opts_)});
  uint64_t v = 0;
  if (!r.error.empty() || !replyToU64(r.reply, v)) {
    noteError(r.error.empty() ? "version key is not a number" : r.error);
    return !r.connection;
  }
  const std::shared_ptr<const Directory> cur = current_.load();
  // Any difference reloads, not only a larger version: a Redis restored from an older dump or
  // flushed is the truth too.
  if (!force && reloads_.load() > 0 && v == cur->version()) return true;
  LoadResult res = loadAll(*conn_->cmd, opts_);
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
    pollfd fds[2] = {{conn_->sub->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (stopping_) break;
    bool changed = false;
    if (n > 0 && fds[0].revents != 0) {
      std::vector<RedisReply> pushes;
      if (!conn_->sub->drainPushes(pushes)) {
        // "subscription lost (...)" or "subscription: protocol error"
        noteError(conn_->sub->lastError());
        disconnect();
        continue;
      }
      for (const RedisReply& reply : pushes) {
        // ["message", channel, version]; the version in the payload is only a hint: the
        // snapshot's own version read comes from the version key.
        if (reply.isArray() && reply.elements.size() == 3 && reply.elements[0].isString() &&
            reply.elements[0].str == "message") {
          changed = true;
        }
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
