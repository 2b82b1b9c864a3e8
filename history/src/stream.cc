#include "mcn/history/stream.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "mcn/calls/record_wire.h"

namespace mcn::history {
namespace {

using json = nlohmann::json;
using redis::RedisClient;
using redis::RedisReply;

constexpr int64_t kPurgeEveryUs = 3600LL * 1'000'000;  // the retention delete, hourly
constexpr int64_t kDayUs = 86400LL * 1'000'000;

int64_t systemNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* kindName(NotificationEvent::Kind k) {
  switch (k) {
    case NotificationEvent::Kind::kProduced:
      return "produced";
    case NotificationEvent::Kind::kAttempt:
      return "attempt";
    case NotificationEvent::Kind::kDelivered:
      return "delivered";
    case NotificationEvent::Kind::kDeadLettered:
      return "dead_lettered";
  }
  return "produced";
}

std::optional<NotificationEvent::Kind> kindOf(std::string_view s) {
  using K = NotificationEvent::Kind;
  for (K k : {K::kProduced, K::kAttempt, K::kDelivered, K::kDeadLettered}) {
    if (s == kindName(k)) return k;
  }
  return std::nullopt;
}

std::optional<NotificationEvent> noteFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  NotificationEvent n;
  auto str = [&](const char* k, std::string& out) {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  std::string kind;
  if (!str("kind", kind)) return std::nullopt;
  auto k = kindOf(kind);
  if (!k) return std::nullopt;
  n.kind = *k;
  if (!str("key", n.key) || !str("channel", n.channel) || !str("channel_kind", n.channel_kind) ||
      !str("person", n.person_id) || !str("person_name", n.person_name) || !str("error", n.error) ||
      !str("reason", n.reason)) {
    return std::nullopt;
  }
  auto ok = j.find("ok");
  auto attempts = j.find("attempts");
  auto at = j.find("at_us");
  auto list = j.find("calls");
  if (ok == j.end() || !ok->is_boolean() || attempts == j.end() || !attempts->is_number_integer() ||
      at == j.end() || !at->is_number_integer() || list == j.end() || !list->is_array()) {
    return std::nullopt;
  }
  n.ok = ok->get<bool>();
  n.attempts = attempts->get<int>();
  n.at_us = at->get<int64_t>();
  for (const auto& c : *list) {
    if (!c.is_array() || c.size() != 2 || !c[0].is_string() || !c[1].is_string()) {
      return std::nullopt;
    }
    n.calls.emplace_back(c[0].get<std::string>(), c[1].get<std::string>());
  }
  return n;
}

std::pair<uint64_t, uint64_t> splitId(std::string_view s) {
  const std::string t(s);
  const size_t dash = t.find('-');
  const uint64_t ms = std::strtoull(t.c_str(), nullptr, 10);
  const uint64_t seq =
      dash == std::string::npos ? 0 : std::strtoull(t.c_str() + dash + 1, nullptr, 10);
  return {ms, seq};
}

// KEYS: the entry's dedupe key, the stream. ARGV: TTL s, MAXLEN, then the entry's fields. The
// new entry's id, or false when the dedupe key was set already (the entry is in the stream).
constexpr const char* kAddScript = R"lua(
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return false end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
)lua";
constexpr size_t kAdd = 0;

std::unique_ptr<RedisClient> makeLink(const HistoryStreamConfig& cfg, const RedisClient::NowUs& now,
                                      bool publisher) {
  auto link = std::make_unique<RedisClient>(cfg.redis, now);
  if (publisher) link->addScript(kAddScript);
  return link;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> entryFields(const StreamEntry& e) {
  if (const auto* c = std::get_if<CallEntry>(&e)) {
    return {{"call", calls::recordToWireJson(c->record)}, {"person", c->person_id}};
  }
  const auto& n = std::get<NotificationEvent>(e);
  json calls = json::array();
  for (const auto& [cid, callee] : n.calls) calls.push_back(json::array({cid, callee}));
  json j{{"kind", kindName(n.kind)},  {"key", n.key},
         {"channel", n.channel},      {"channel_kind", n.channel_kind},
         {"person", n.person_id},     {"person_name", n.person_name},
         {"calls", std::move(calls)}, {"ok", n.ok},
         {"error", n.error},          {"reason", n.reason},
         {"attempts", n.attempts},    {"at_us", n.at_us}};
  return {{"note", j.dump(-1, ' ', false, json::error_handler_t::replace)}};
}

std::string entryIdentity(const StreamEntry& e) {
  if (const auto* c = std::get_if<CallEntry>(&e)) {
    const calls::CallRecord& r = c->record;
    return "call\n" + (r.correlation ? *r.correlation : r.call_id) + "\n" + r.callee;
  }
  const auto& n = std::get<NotificationEvent>(e);
  return fmt::format("note\n{}\n{}\n{}\n{}", n.key, kindName(n.kind), n.channel, n.attempts);
}

std::optional<StreamEntry> entryFromFields(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  const std::string* call = nullptr;
  const std::string* person = nullptr;
  const std::string* note = nullptr;
  for (const auto& [k, v] : fields) {
    if (k == "call") {
      call = &v;
    } else if (k == "person") {
      person = &v;
    } else if (k == "note") {
      note = &v;
    } else {
      return std::nullopt;
    }
  }
  if (call != nullptr && note == nullptr) {
    auto r = calls::recordFromWireJson(*call);
    if (!r) return std::nullopt;
    return StreamEntry(CallEntry{std::move(*r), person != nullptr ? *person : std::string()});
  }
  if (note != nullptr && call == nullptr && person == nullptr) {
    auto n = noteFromJson(*note);
    if (!n) return std::nullopt;
    return StreamEntry(std::move(*n));
  }
  return std::nullopt;
}

bool streamIdLess(std::string_view a, std::string_view b) {
  if (a.empty()) return !b.empty();
  if (b.empty()) return false;
  return splitId(a) < splitId(b);
}

// ---------------------------------------------------------------------------------------------
// Publisher

HistoryStreamPublisher::HistoryStreamPublisher(HistoryStreamConfig cfg, NowUs now)
    : cfg_(std::move(cfg)),
      now_(now ? std::move(now) : NowUs(systemNowUs)),
      buffer_(cfg_.buffer_max, cfg_.batch) {
  link_ = makeLink(cfg_, now_, /*publisher=*/true);
}

HistoryStreamPublisher::~HistoryStreamPublisher() = default;

bool HistoryStreamPublisher::connected() const { return link_->connected(); }
uint64_t HistoryStreamPublisher::reconnects() const { return link_->reconnects(); }
uint64_t HistoryStreamPublisher::redisErrors() const { return link_->errors(); }

bool HistoryStreamPublisher::publish(const StreamEntry& e) {
  return buffer_.push(Item{cfg_.key + ":dedupe:" + entryIdentity(e), entryFields(e)},
                      link_->down());
}

size_t HistoryStreamPublisher::pump() {
  const std::string ttl = std::to_string(cfg_.dedupe_ttl_s);
  const std::string maxlen = std::to_string(cfg_.maxlen);
  // The dedupe key and the XADD are one script: an entry resent after its answer was lost, or
  // the record of a call another probe published already, is not added twice.
  return buffer_.pump(
      *link_,
      [&](redis::RedisClient& link, const Item& it) {
        std::vector<std::string> args{ttl, maxlen};
        for (const auto& [k, v] : it.fields) {
          args.push_back(k);
          args.push_back(v);
        }
        link.appendEvalsha(kAdd, {it.dedupe_key, cfg_.key}, args);
      },
      [&](const Item&, const redis::RedisReply& r) {
        if (r.isString()) {
          ++published_;
        } else {
          ++deduped_;
        }
      });
}

bool HistoryStreamPublisher::flush(int64_t deadline_us) {
  return buffer_.flush(
      deadline_us, [&] { pump(); }, [&] { return now_(); });
}

void HistoryStreamPublisher::forEachCounter(
    const std::function<void(std::string_view, uint64_t)>& fn) const {
  fn("history.stream.published", published_);
  fn("history.stream.deduped", deduped_);
  fn("history.stream.buffered", buffer_.buffered());
  fn("history.stream.dropped", buffer_.dropped());
  fn("history.stream.resent", buffer_.resent());
  fn("history.stream.buffer_depth", buffer_.size());
}

// ---------------------------------------------------------------------------------------------
// Follower

HistoryFollower::HistoryFollower(HistoryStreamConfig cfg, std::unique_ptr<HistoryStore> store,
                                 int retention_days, bool purge, NowUs now)
    : cfg_(std::move(cfg)),
      store_(std::move(store)),
      retention_days_(retention_days),
      purge_(purge),
      now_(now ? std::move(now) : NowUs(systemNowUs)) {
  link_ = makeLink(cfg_, now_, /*publisher=*/false);
  std::string err;
  if (!store_->streamPosition(cfg_.key, position_, err)) {
    spdlog::error("call history: {}: reading from the start of {}", err, cfg_.key);
    position_.clear();
  }
  position_copy_ = position_;
}

HistoryFollower::~HistoryFollower() { stop(); }

std::string HistoryFollower::position() const {
  std::lock_guard lock(position_mu_);
  return position_copy_;
}

void HistoryFollower::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    while (!stop_.load(std::memory_order_relaxed)) step(cfg_.block_ms);
  });
}

void HistoryFollower::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
}

// Trimming (MAXLEN ~) removes the oldest entries whether or not every replica read them. A
// replica lost some when the last entry it applied is gone and the stream now starts after it
// (XINFO STREAM's "max-deleted-entry-id" would say it exactly, but Redis 7.0 moves it on XDEL
// only, not on trimming). The one case counted wrongly: a trim that stopped exactly at that
// entry. A last id ever given ("last-generated-id") before our position: the stream was replaced
// (a Redis without persistence restarted, a FLUSHALL): read it from its start, counted too.
void HistoryFollower::checkGap() {
  RedisReply r = link_->command({"XINFO", "STREAM", cfg_.key});
  if (r.isError()) {
    // No stream yet: nothing was trimmed. Anything else: the connection is suspect.
    const bool missing = r.str.find("no such key") != std::string::npos;
    if (!missing) link_->fail();
    check_gap_ = !missing;
    return;
  }
  if (!r.isArray()) return;
  std::string first, last_generated;
  int64_t added = 0, length = 0;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    const std::string& k = r.elements[i].str;
    const RedisReply& v = r.elements[i + 1];
    if (k == "last-generated-id") last_generated = v.str;
    if (k == "entries-added" && v.isInteger()) added = v.integer;
    if (k == "length" && v.isInteger()) length = v.integer;
    if (k == "first-entry" && v.isArray() && !v.elements.empty()) first = v.elements[0].str;
  }
  check_gap_ = false;
  if (position_.empty()) {
    if (added > length && !first.empty()) {
      spdlog::info(
          "call history: this replica starts at the oldest entry {} still holds ({}); {} older "
          "entries were trimmed before it started (seed it from another replica's file to have "
          "them)",
          cfg_.key, first, added - length);
    }
    return;
  }
  if (!last_generated.empty() && streamIdLess(last_generated, position_)) {
    ++gaps_;
    spdlog::warn(
        "call history: {} was replaced (its last id {} is before this replica's position {}): "
        "reading it from its start",
        cfg_.key, last_generated, position_);
    position_.clear();
    gap_upto_.clear();
    return;
  }
  const std::string& since = streamIdLess(position_, gap_upto_) ? gap_upto_ : position_;
  if (first.empty() || !streamIdLess(since, first)) return;
  RedisReply mine = link_->command({"XRANGE", cfg_.key, position_, position_});
  if (!mine.isArray()) {
    if (mine.received()) link_->fail();
    check_gap_ = true;
    return;
  }
  if (!mine.elements.empty()) return;  // our last entry is still there: nothing after it went
  ++gaps_;
  gap_upto_ = first;
  spdlog::warn(
      "call history: entries of {} after {} were trimmed before this replica read them (it "
      "goes on from {}; history.stream.gaps; raise history.stream_maxlen)",
      cfg_.key, position_, first);
}

void HistoryFollower::maybePurge() {
  if (!purge_) return;
  const int64_t now = now_();
  if (last_purge_us_ != 0 && now - last_purge_us_ < kPurgeEveryUs) return;
  last_purge_us_ = now;
  std::string err;
  const int64_t n = store_->purgeBefore(now - static_cast<int64_t>(retention_days_) * kDayUs, err);
  if (n < 0) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("call history: retention delete failed: {}", err);
    return;
  }
  purged_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
}

size_t HistoryFollower::step(int block_ms) {
  maybePurge();
  if (!link_->ensure()) {
    connected_ = false;
    reconnects_ = link_->reconnects();
    redis_errors_ = link_->errors();
    if (block_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(block_ms, 50)));
    return 0;
  }
  connected_ = true;
  if (link_->reconnects() != seen_reconnects_) {
    seen_reconnects_ = link_->reconnects();
    check_gap_ = true;
  }
  if (check_gap_) checkGap();
  std::vector<std::string> args{"XREAD", "COUNT", std::to_string(std::max(cfg_.read_batch, 1))};
  if (block_ms > 0) {
    link_->setTimeout(block_ms + cfg_.redis.connect_timeout_ms + 5000);
    args.emplace_back("BLOCK");
    args.emplace_back(std::to_string(block_ms));
  }
  args.emplace_back("STREAMS");
  args.push_back(cfg_.key);
  args.push_back(position_.empty() ? "0-0" : position_);
  RedisReply r = link_->command(args);
  reconnects_ = link_->reconnects();
  redis_errors_ = link_->errors();
  if (!r.received()) {
    connected_ = false;
    return 0;
  }
  if (r.isError()) {
    link_->fail();
    return 0;
  }
  // [[key, [[id, [field, value, ...]], ...]]]; nil when BLOCK timed out.
  if (!r.isArray() || r.elements.empty() || !r.elements[0].isArray() ||
      r.elements[0].elements.size() < 2 || !r.elements[0].elements[1].isArray()) {
    return 0;
  }
  RedisReply& list = r.elements[0].elements[1];
  std::vector<HistoryEntry> entries;
  std::string last;
  size_t n = 0, bad = 0;
  for (RedisReply& e : list.elements) {
    if (!e.isArray() || e.elements.size() < 2) continue;
    ++n;
    last = e.elements[0].str;
    std::vector<std::pair<std::string, std::string>> fields;
    if (e.elements[1].isArray()) {
      auto& f = e.elements[1].elements;
      for (size_t k = 0; k + 1 < f.size(); k += 2) {
        fields.emplace_back(std::move(f[k].str), std::move(f[k + 1].str));
      }
    }
    auto entry = entryFromFields(fields);
    if (!entry) {
      ++bad;
      continue;
    }
    entries.push_back(std::move(*entry));
  }
  if (last.empty()) return 0;
  // In the stream's order, whatever the batches: every replica then holds the same rows.
  std::string err;
  if (!store_->write(entries, cfg_.key, last, err)) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("call history: {} entries of {} not applied (read again): {}", n, cfg_.key, err);
    if (block_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return 0;
  }
  bad_.fetch_add(bad, std::memory_order_relaxed);
  applied_.fetch_add(n - bad, std::memory_order_relaxed);
  position_ = last;
  {
    std::lock_guard lock(position_mu_);
    position_copy_ = position_;
  }
  // A full batch: this replica is behind, and trimming may pass it; look again next turn.
  if (n >= static_cast<size_t>(std::max(cfg_.read_batch, 1))) check_gap_ = true;
  return n;
}

}  // namespace mcn::history
