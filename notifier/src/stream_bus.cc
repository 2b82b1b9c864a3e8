#include "mcn/notifier/stream_bus.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>

#include "mcn/calls/record_wire.h"
#include "mcn/notifier/idempotency.h"
#include "mcn/notifier/merger.h"
#include "mcn/notifier/time_zone.h"
#include "mcn/redis/client.h"
#include "mcn/redis/send_buffer.h"

namespace mcn::notifier {

namespace {

// KEYS: dedupe key, missed stream. ARGV: ttl_s, maxlen, call JSON. Returns the entry id, or
// false (nil) when another probe (or an earlier attempt of ours whose answer was lost) published
// the call already. One script, so the check and the append cannot be separated by a crash.
constexpr const char* kPublishScript = R"lua(
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'call', ARGV[3])
end
return false
)lua";

// KEYS: missed stream, the person's window hash, windows zset. ARGV: group, entry id, call JSON,
// deadline, person. Adds the call to the window (HSETNX: a redelivered entry is not added twice),
// opens the window at the first call (ZADD NX keeps the first deadline), and acknowledges the
// entry, all at once: an entry is either pending or in a window, never both or neither.
constexpr const char* kAddScript = R"lua(
redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[5])
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
)lua";

// KEYS: windows zset, closed stream. ARGV: now, window key prefix, maxlen, limit. Moves every
// due window into one :closed entry each ("calls" = JSON array [id, call, id, call, ...]).
// The window keys are derived here, not passed in KEYS: fine on one Redis (or one Cluster slot
// when the prefix carries a hash tag).
constexpr const char* kTakeScript = R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])
for _, person in ipairs(due) do
  local wk = ARGV[2] .. person
  local entries = redis.call('HGETALL', wk)
  redis.call('DEL', wk)
  redis.call('ZREM', KEYS[1], person)
  if #entries > 0 then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'person', person, 'calls',
               cjson.encode(entries))
  end
end
return #due
)lua";

using redis::RedisClient;
using redis::RedisReply;

// Script handles, registered in this order on every RedisClient of the bus.
constexpr size_t kPublish = 0, kAdd = 1, kTake = 2;

// One Redis connection (mcn/redis/client.h) with reconnect backoff on the bus's clock. Any
// transport error or unexpected error reply drops the connection; the next ensure() after the
// backoff reconnects, authenticates, selects the database, loads the scripts and creates the
// consumer groups (groups_on).
std::unique_ptr<RedisClient> makeLink(const StreamConfig& cfg, const Clock& clock,
                                      std::vector<std::string> groups_on) {
  const redis::RedisClientOptions o = streamClientOptions(cfg);
  auto link = std::make_unique<RedisClient>(o, [&clock] { return clock.nowUs(); });
  link->addScript(kPublishScript);
  link->addScript(kAddScript);
  link->addScript(kTakeScript);
  if (!groups_on.empty()) {
    link->setOnConnect([groups = std::move(groups_on), group = cfg.group](RedisClient& c) {
      for (const std::string& s : groups) {
        RedisReply r = c.command({"XGROUP", "CREATE", s, group, "0", "MKSTREAM"});
        if (!r.ok() && !r.errorIs("BUSYGROUP")) return false;
      }
      return true;
    });
  }
  return link;
}

}  // namespace

redis::RedisClientOptions streamClientOptions(const StreamConfig& cfg) {
  redis::RedisClientOptions o;
  o.host = cfg.host;
  o.port = cfg.port;
  o.password = cfg.password;
  o.sentinels = cfg.sentinels;
  o.sentinel_master = cfg.sentinel_master;
  o.sentinel_password = cfg.sentinel_password;
  o.db = cfg.db;
  o.connect_timeout_ms = cfg.connect_timeout_ms;
  o.command_timeout_ms = cfg.connect_timeout_ms + 5000;
  o.backoff_initial_ms = static_cast<int>(cfg.backoff_initial_ms);
  o.backoff_max_ms = static_cast<int>(cfg.backoff_max_ms);
  return o;
}

std::string defaultConsumerName() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] != '\0' ? host : "mcn") + "-" + std::to_string(::getpid());
}

std::string streamDedupeKey(const StreamConfig& cfg, const calls::MissedCall& call) {
  const std::string& k = call.correlation ? *call.correlation : call.call_id;
  return cfg.prefix + ":dedupe:" + sha256Hex(k + "\n" + call.callee);
}

// ---------------------------------------------------------------------------------------------
// Probe

StreamPublisher::StreamPublisher(StreamConfig cfg, const Clock& clock)
    : cfg_(std::move(cfg)), clock_(clock) {
  if (cfg_.consumer.empty()) cfg_.consumer = defaultConsumerName();
  link_ = makeLink(cfg_, clock_, {});
  buffer_ = std::make_unique<redis::SendBuffer<Item>>(cfg_.buffer_max, cfg_.batch);
}

StreamPublisher::~StreamPublisher() = default;

bool StreamPublisher::connected() const { return link_->connected(); }

size_t StreamPublisher::buffered() const { return buffer_->size(); }

bool StreamPublisher::publish(const calls::MissedCall& call) {
  // "Waited": Redis was down when the call came (a connection not yet tried is not down).
  return buffer_->push(Item{streamDedupeKey(cfg_, call), calls::recordToWireJson(call)},
                       link_->down());
}

size_t StreamPublisher::pump() {
  const std::string stream = cfg_.prefix + ":missed";
  const std::string ttl = std::to_string(cfg_.dedupe_ttl_s);
  const std::string maxlen = std::to_string(cfg_.maxlen);
  // A call resent after a dropped connection is absorbed by its dedupe key if it had in fact
  // gone through.
  return buffer_->pump(
      *link_,
      [&](redis::RedisClient& link, const Item& it) {
        link.append(
            {"EVALSHA", link.sha(kPublish), "2", it.dedupe_key, stream, ttl, maxlen, it.json});
      },
      [&](const Item&, const redis::RedisReply& r) {
        if (r.isString()) {
          ++published_;
        } else {
          ++deduped_;
        }
      });
}

bool StreamPublisher::flush(int64_t deadline_us) {
  return buffer_->flush(
      deadline_us, [&] { pump(); }, [&] { return clock_.nowUs(); });
}

void StreamPublisher::forEachCounter(
    const std::function<void(std::string_view, uint64_t)>& fn) const {
  fn("stream.published", published_);
  fn("stream.deduped", deduped_);
  fn("stream.buffered", buffer_->buffered());
  fn("stream.dropped", buffer_->dropped());
  fn("stream.resent", buffer_->resent());
  fn("stream.buffer_depth", buffer_->size());
  fn("stream.reconnects", link_->reconnects());
  fn("stream.redis_errors", link_->errors());
  fn("stream.sentinel_failovers", link_->sentinelFailovers());
  fn("stream.sentinel_errors", link_->sentinelErrors());
  fn("stream.connected", link_->connected() ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------
// Notifier

namespace {

// XREADGROUP / XAUTOCLAIM entry arrays: [[id, [f, v, ...]], ...]; deleted entries have a nil
// field list.
// The reply's strings are moved out (the reply is not used afterwards).
template <typename Out>
void parseEntries(RedisReply& arr, const std::string& stream, Out& out) {
  if (!arr.isArray()) return;
  for (RedisReply& e : arr.elements) {
    if (!e.isArray() || e.elements.size() < 2) continue;
    typename Out::value_type entry;
    entry.stream = stream;
    entry.id = std::move(e.elements[0].str);
    RedisReply& f = e.elements[1];
    if (f.isArray()) {
      for (size_t k = 0; k + 1 < f.elements.size(); k += 2) {
        entry.fields.emplace_back(std::move(f.elements[k].str), std::move(f.elements[k + 1].str));
      }
    }
    out.push_back(std::move(entry));
  }
}

const std::string* field(const std::vector<std::pair<std::string, std::string>>& fields,
                         std::string_view name) {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

// "1700000000000-3" ordered as Redis orders ids.
bool idLess(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s) {
    size_t dash = s.find('-');
    uint64_t ms = std::strtoull(s.c_str(), nullptr, 10);
    uint64_t seq = dash == std::string::npos ? 0 : std::strtoull(s.c_str() + dash + 1, nullptr, 10);
    return std::pair(ms, seq);
  };
  return split(a) < split(b);
}

}  // namespace

StreamNotifier::StreamNotifier(StreamConfig cfg,
                               std::shared_ptr<const subscribers::Directory> directory,
                               const Clock& clock, WindowHandler handler)
    : cfg_(std::move(cfg)),
      directory_(std::move(directory)),
      clock_(clock),
      handler_(std::move(handler)) {
  if (cfg_.consumer.empty()) cfg_.consumer = defaultConsumerName();
  link_ = makeLink(cfg_, clock_, {key("missed"), key("closed")});
}

StreamNotifier::~StreamNotifier() = default;

bool StreamNotifier::connected() const { return link_->connected(); }

const std::string& StreamNotifier::lastError() const { return link_->lastError(); }

namespace {
std::string addressOf(const StreamConfig& cfg, const RedisClient& link) {
  if (cfg.sentinels.empty()) return fmt::format("{}:{}", cfg.host, cfg.port);
  if (link.master().empty()) return fmt::format("master '{}'", cfg.sentinel_master);
  return fmt::format("master '{}' at {}", cfg.sentinel_master, link.master());
}
}  // namespace

std::string StreamNotifier::redisAddress() const { return addressOf(cfg_, *link_); }
std::string StreamPublisher::redisAddress() const { return addressOf(cfg_, *link_); }

const std::string& StreamPublisher::lastError() const { return link_->lastError(); }

void StreamNotifier::setDirectory(std::shared_ptr<const subscribers::Directory> directory) {
  directory_ = std::move(directory);
}

void StreamNotifier::windowDone(const std::string& entry_id) {
  auto it = std::find(in_flight_.begin(), in_flight_.end(), entry_id);
  if (it != in_flight_.end()) in_flight_.erase(it);
  acks_.push_back(entry_id);
}

bool StreamNotifier::deadLetter(std::string json) {
  // Bounded like every table (Redis has been unreachable for a while): beyond it the dead letter
  // is handed back, counted, and the caller writes it to the local dead-letter file instead.
  if (dead_.size() >= cfg_.buffer_max) {
    if (dead_local_++ == 0) {
      spdlog::error(
          "dead-letter queue full ({} waiting for Redis): further dead letters go to "
          "the local [notify] dead_letter file, not {}",
          dead_.size(), key("dead"));
    }
    return false;
  }
  dead_.push_back(std::move(json));
  return true;
}

bool StreamNotifier::flushQueued() {
  if (acks_.empty() && dead_.empty()) return true;
  if (!link_->ensure()) return false;
  while (!dead_.empty()) {
    auto r = link_->command({"XADD", key("dead"), "MAXLEN", "~", std::to_string(cfg_.maxlen), "*",
                             "dead", dead_.front()});
    if (!r.ok()) {
      if (r.received()) link_->fail();
      return false;
    }
    dead_.pop_front();
    ++dead_lettered_;
  }
  if (!acks_.empty()) {
    std::vector<std::string> args{"XACK", key("closed"), cfg_.group};
    args.insert(args.end(), acks_.begin(), acks_.end());
    auto r = link_->command(args);
    if (!r.ok()) {
      if (r.received()) link_->fail();
      return false;
    }
    acked_ += acks_.size();
    acks_.clear();
  }
  return true;
}

size_t StreamNotifier::step(int block_ms) {
  if (!link_->ensure()) {
    // Lost entries in flight stay pending in Redis; nothing to do until it is back. Sleep the
    // read's wait so the caller's loop does not spin.
    if (block_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(block_ms, 50)));
    return 0;
  }
  flushQueued();
  int64_t now = clock_.nowUs();
  std::vector<Entry> entries;
  if (reading_) {
    // Take over what died with another notifier, now and then.
    int64_t every = std::max<int64_t>(cfg_.claim_idle_ms * 1000 / 2, 20'000);
    if (now - last_claim_us_ >= every) {
      last_claim_us_ = now;
      claimStale(key("missed"));
      if (in_flight_.size() < cfg_.max_in_flight) claimStale(key("closed"));
    }
    link_->setTimeout(std::max(block_ms, 0) + cfg_.connect_timeout_ms + 5000);
    std::vector<std::string> args{"XREADGROUP",  "GROUP", cfg_.group,
                                  cfg_.consumer, "COUNT", std::to_string(cfg_.batch)};
    // BLOCK 0 would wait forever: no wait means no BLOCK at all.
    if (block_ms > 0) {
      args.emplace_back("BLOCK");
      args.emplace_back(std::to_string(block_ms));
    }
    // Back-pressure: a notifier already delivering max_in_flight windows leaves new ones to the
    // others (and a crash then affects fewer); adding calls to windows is cheap and goes on.
    args.emplace_back("STREAMS");
    args.push_back(key("missed"));
    if (in_flight_.size() < cfg_.max_in_flight) {
      args.push_back(key("closed"));
      args.emplace_back(">");
    }
    args.emplace_back(">");
    RedisReply r = link_->command(args);
    if (r.isError()) {
      // NOGROUP after a FLUSHALL or a fresh failover target: recreate on reconnect.
      link_->fail();
      return 0;
    }
    if (r.isArray()) {
      for (RedisReply& st : r.elements) {
        if (!st.isArray() || st.elements.size() < 2) continue;
        parseEntries(st.elements[1], st.elements[0].str, entries);
      }
    }
  }
  size_t n = entries.size();
  read_ += n;
  // Entries claimed by claimStale() were handled there.
  if (!entries.empty()) handle(entries);
  // Close due windows: one script moves them to :closed, read by whoever is free next.
  if (link_->connected()) {
    // NOSCRIPT (a SCRIPT FLUSH, a failover) loads the scripts again in evalsha().
    RedisReply r = link_->evalsha(
        kTake, {key("windows"), key("closed")},
        {std::to_string(clock_.nowUs()), key("win:"), std::to_string(cfg_.maxlen), "100"});
    if (r.isInteger()) {
      windows_closed_ += static_cast<uint64_t>(r.integer);
    } else if (r.received()) {
      link_->fail();
    }
  }
  keepAlive();
  pollLag();
  flushQueued();
  return n;
}

// How far the group is behind, for /metrics (mcn_stream_lag, mcn_stream_pending). XINFO GROUPS
// answers one flat key/value array per group; "lag" is null when Redis cannot tell (after an
// XDEL or a trim past unread entries), and then the last known value stays.
void StreamNotifier::pollLag() {
  const int64_t now = clock_.nowUs();
  if (now - last_lag_us_ < kLagPollUs || !link_->connected()) return;
  last_lag_us_ = now;
  for (auto [name, lag, pending] : {std::tuple{"missed", &lag_missed_, &pending_missed_},
                                    std::tuple{"closed", &lag_closed_, &pending_closed_}}) {
    RedisReply r = link_->command({"XINFO", "GROUPS", key(name)});
    if (!r.isArray()) {
      if (r.received())
        link_->fail();  // NOGROUP/no such key: the groups are recreated on reconnect
      return;
    }
    for (const RedisReply& grp : r.elements) {
      if (!grp.isArray()) continue;
      std::string group;
      const RedisReply* lag_v = nullptr;
      const RedisReply* pending_v = nullptr;
      for (size_t i = 0; i + 1 < grp.elements.size(); i += 2) {
        const std::string& k = grp.elements[i].str;
        if (k == "name") group = grp.elements[i + 1].str;
        if (k == "lag") lag_v = &grp.elements[i + 1];
        if (k == "pending") pending_v = &grp.elements[i + 1];
      }
      if (group != cfg_.group) continue;
      if (lag_v != nullptr && lag_v->isInteger() && lag_v->integer >= 0) {
        *lag = static_cast<uint64_t>(lag_v->integer);
      }
      if (pending_v != nullptr && pending_v->isInteger() && pending_v->integer >= 0) {
        *pending = static_cast<uint64_t>(pending_v->integer);
      }
    }
  }
}

void StreamNotifier::claimStale(const std::string& stream) {
  std::string cursor = "0-0";
  for (int round = 0; round < 4; ++round) {
    RedisReply r = link_->command({"XAUTOCLAIM", stream, cfg_.group, cfg_.consumer,
                                   std::to_string(cfg_.claim_idle_ms), cursor, "COUNT",
                                   std::to_string(cfg_.batch)});
    if (!r.isArray() || r.elements.size() < 2) {
      if (r.received()) link_->fail();
      return;
    }
    cursor = r.elements[0].str;
    std::vector<Entry> entries;
    parseEntries(r.elements[1], stream, entries);
    // How often each was handed out (XAUTOCLAIM counted this one): poison entries go to :dead.
    for (auto& e : entries) {
      RedisReply p = link_->command({"XPENDING", stream, cfg_.group, e.id, e.id, "1"});
      if (p.isArray() && p.elements.size() == 1 && p.elements[0].isArray() &&
          p.elements[0].elements.size() >= 4) {
        e.deliveries = static_cast<uint64_t>(p.elements[0].elements[3].integer);
      }
    }
    claimed_ += entries.size();
    if (!entries.empty()) handle(entries);
    if (cursor == "0-0" || !link_->connected()) return;
  }
}

void StreamNotifier::keepAlive() {
  int64_t now = clock_.nowUs();
  int64_t every = std::max<int64_t>(cfg_.claim_idle_ms * 1000 / 3, 10'000);
  if (in_flight_.empty() || now - last_keepalive_us_ < every || !link_->connected()) return;
  last_keepalive_us_ = now;
  // Resets the idle time of the entries this notifier is still delivering (JUSTID does not count
  // a delivery), so a slow retry is not taken over by another notifier.
  std::vector<std::string> args{"XCLAIM", key("closed"), cfg_.group, cfg_.consumer, "0"};
  args.insert(args.end(), in_flight_.begin(), in_flight_.end());
  args.emplace_back("JUSTID");
  if (link_->command(args).isError()) link_->fail();
}

void StreamNotifier::handle(std::vector<Entry>& entries) {
  const std::string missed = key("missed");
  const std::string maxlen = std::to_string(cfg_.maxlen);
  auto toDead = [&](const Entry& e, std::string_view reason) {
    nlohmann::json j;
    j["reason"] = reason;
    j["stream"] = e.stream;
    j["id"] = e.id;
    j["deliveries"] = e.deliveries;
    nlohmann::json f = nlohmann::json::object();
    for (const auto& [k, v] : e.fields) f[k] = v;
    j["fields"] = f;
    deadLetter(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  // Missed calls: pipelined window scripts; unknown numbers and bad entries are acknowledged.
  std::vector<std::string> plain_acks;
  size_t pipelined = 0;
  for (const Entry& e : entries) {
    if (e.stream != missed) continue;
    if (e.deliveries > static_cast<uint64_t>(cfg_.max_deliveries)) {
      toDead(e, "max_deliveries");
      plain_acks.push_back(e.id);
      continue;
    }
    const std::string* json = field(e.fields, "call");
    std::optional<calls::MissedCall> call;
    if (json != nullptr) call = calls::recordFromWireJson(*json);
    if (!call) {
      ++bad_;
      toDead(e, "bad_entry");
      plain_acks.push_back(e.id);
      continue;
    }
    const subscribers::Person* p = directory_ ? directory_->findByNumber(call->callee) : nullptr;
    if (p == nullptr) {
      ++unknown_;
      plain_acks.push_back(e.id);
      continue;
    }
    // A call in quiet hours that drop is dropped, as the merger does; otherwise the window's
    // deadline is the merger's (windowDeadline, merger.h).
    const int64_t now = clock_.nowUs();
    const auto& quiet = p->prefs.quiet_hours;
    auto tzp = quiet ? TimeZone::find(p->prefs.time_zone) : nullptr;
    const TimeZone& tz = tzp ? *tzp : *TimeZone::utc();
    if (quiet && quiet->action == subscribers::QuietAction::kDrop &&
        inQuietHours(*quiet, tz, now)) {
      ++quiet_dropped_;
      plain_acks.push_back(e.id);
      continue;
    }
    const int64_t deadline = windowDeadline(p->prefs, tz, now).at_us;
    link_->append({"EVALSHA", link_->sha(kAdd), "3", missed, key("win:" + p->id), key("windows"),
                   cfg_.group, e.id, *json, std::to_string(deadline), p->id});
    ++pipelined;
  }
  for (size_t i = 0; i < pipelined; ++i) {
    RedisReply r = link_->read();
    if (!r.received()) return;  // the rest stay pending and come back (claimed) after the outage
    if (r.isError()) {
      link_->fail();
      return;
    }
    ++windows_added_;
    ++acked_;
  }
  if (!plain_acks.empty()) {
    std::vector<std::string> args{"XACK", missed, cfg_.group};
    args.insert(args.end(), plain_acks.begin(), plain_acks.end());
    if (link_->command(args).ok()) acked_ += plain_acks.size();
  }
  // Closed windows: to the handler; acknowledged by windowDone().
  for (Entry& e : entries) {
    if (e.stream == missed) continue;
    if (e.deliveries > static_cast<uint64_t>(cfg_.max_deliveries)) {
      toDead(e, "max_deliveries");
      acks_.push_back(e.id);
      continue;
    }
    ClosedWindow w;
    w.entry_id = e.id;
    w.deliveries = e.deliveries;
    const std::string* person = field(e.fields, "person");
    const std::string* list = field(e.fields, "calls");
    bool ok = person != nullptr && list != nullptr;
    std::vector<std::pair<std::string, calls::MissedCall>> calls;
    if (ok) {
      auto j = nlohmann::json::parse(*list, nullptr, false);
      ok = j.is_array() && j.size() % 2 == 0;
      for (size_t i = 0; ok && i < j.size(); i += 2) {
        ok = j[i].is_string() && j[i + 1].is_string();
        if (!ok) break;
        auto c = calls::recordFromWireJson(j[i + 1].get<std::string>());
        ok = c.has_value();
        if (ok) calls.emplace_back(j[i].get<std::string>(), std::move(*c));
      }
    }
    if (!ok) {
      ++bad_;
      toDead(e, "bad_entry");
      acks_.push_back(e.id);
      continue;
    }
    // Arrival order; an entry id starts with the milliseconds of its XADD (Redis's clock), which
    // is when the call reached Redis: the merger judges quiet hours at that instant.
    std::sort(calls.begin(), calls.end(),
              [](const auto& a, const auto& b) { return idLess(a.first, b.first); });
    w.person_id = *person;
    for (auto& c : calls) {
      w.arrived_us.push_back(static_cast<int64_t>(std::strtoull(c.first.c_str(), nullptr, 10)) *
                             1000);
      w.calls.push_back(std::move(c.second));
    }
    if (std::find(in_flight_.begin(), in_flight_.end(), e.id) != in_flight_.end()) continue;
    in_flight_.push_back(e.id);
    handler_(std::move(w));
  }
}

void StreamNotifier::forEachCounter(
    const std::function<void(std::string_view, uint64_t)>& fn) const {
  fn("stream.read", read_);
  fn("stream.windows_added", windows_added_);
  fn("stream.windows_closed", windows_closed_);
  fn("stream.acked", acked_);
  fn("stream.claimed", claimed_);
  fn("stream.dead_lettered", dead_lettered_);
  fn("stream.dead_local", dead_local_);
  fn("stream.unknown_number", unknown_);
  fn("stream.quiet_dropped", quiet_dropped_);
  fn("stream.bad_entries", bad_);
  fn("stream.reconnects", link_->reconnects());
  fn("stream.redis_errors", link_->errors());
  fn("stream.sentinel_failovers", link_->sentinelFailovers());
  fn("stream.sentinel_errors", link_->sentinelErrors());
  fn("stream.connected", link_->connected() ? 1 : 0);
  fn("stream.lag.missed", lag_missed_);
  fn("stream.lag.closed", lag_closed_);
  fn("stream.pending.missed", pending_missed_);
  fn("stream.pending.closed", pending_closed_);
}

}  // namespace mcn::notifier
