#include "stream_dead_letters.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "mcn/calls/record_json.h"

namespace mcn::app {
namespace {

using redis::RedisReply;

// KEYS[1] the dead stream, KEYS[2] its done hash; ARGV[1] the entry id, ARGV[2] the claim (JSON).
// {"gone"}: no such entry (trimmed, or never); {"taken", claim}: acted on already; {"claimed"}.
constexpr std::string_view kClaimLua = R"lua(
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return {'gone'} end
local prior = redis.call('HGET', KEYS[2], ARGV[1])
if prior then return {'taken', prior} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
-- The claims of entries trimmed from the stream (MAXLEN) go with them.
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1][1]
local fms, fseq = string.match(first, '^(%d+)-(%d+)$')
fms, fseq = tonumber(fms), tonumber(fseq)
for _, id in ipairs(redis.call('HKEYS', KEYS[2])) do
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  ms, seq = tonumber(ms), tonumber(seq)
  if ms == nil or seq == nil or ms < fms or (ms == fms and seq < fseq) then
    redis.call('HDEL', KEYS[2], id)
  end
end
return {'claimed'}
)lua";

// KEYS[1] the dead stream, KEYS[2] its done hash: {length, claims, newest id or ""}, read at one
// instant, so a letter appended while a page is read is neither counted nor listed.
constexpr std::string_view kSnapshotLua = R"lua(
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
return {redis.call('XLEN', KEYS[1]), redis.call('HLEN', KEYS[2]), newest and newest[1] or ''}
)lua";

std::string isoNow() {
  return calls::isoTime(std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
}

std::optional<notifier::DeadLetterAction> actionOf(const std::string& json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto str = [&j](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  return notifier::DeadLetterAction{str("action"), str("by"), str("from"), str("at")};
}

// One XRANGE/XREVRANGE element: [id, [field, value, ...]] -> the "dead" value ("" if none).
bool entryOf(const RedisReply& e, std::string& id, std::string& line) {
  if (!e.isArray() || e.elements.size() < 2 || !e.elements[0].isString()) return false;
  id = e.elements[0].str;
  line.clear();
  const auto& f = e.elements[1].elements;
  for (size_t i = 0; i + 1 < f.size(); i += 2) {
    if (f[i].str == "dead") line = f[i + 1].str;
  }
  return true;
}

}  // namespace

StreamDeadLetters::StreamDeadLetters(redis::RedisClientOptions opts, std::string prefix)
    : redis_([&] {
        // An operator's page waits on these: short, and the backoff short too (a Redis that is
        // back is used again at the next click).
        opts.connect_timeout_ms = std::min(opts.connect_timeout_ms, 1000);
        opts.command_timeout_ms = 2000;
        opts.backoff_max_ms = std::min(opts.backoff_max_ms, 1000);
        return opts;
      }()),
      stream_(prefix + ":dead"),
      done_(prefix + ":dead:done") {
  claim_script_ = redis_.addScript(std::string(kClaimLua));
  snapshot_script_ = redis_.addScript(std::string(kSnapshotLua));
}

bool StreamDeadLetters::validId(std::string_view id) {
  const auto dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 20 || id.size() - dash - 1 == 0 ||
      id.size() - dash - 1 > 20) {
    return false;
  }
  for (size_t i = 0; i < id.size(); ++i) {
    if (i != dash && (id[i] < '0' || id[i] > '9')) return false;
  }
  return true;
}

std::string StreamDeadLetters::redisAddress() const {
  const auto& o = redis_.options();
  if (!o.sentinels.empty()) return "sentinel master " + o.sentinel_master;
  return fmt::format("{}:{}", o.host, o.port);
}

bool StreamDeadLetters::ready(std::string& error) {
  if (redis_.connected()) return true;
  std::string why = redis_.connect();
  if (why.empty()) return true;
  error = fmt::format("Redis {} unreachable ({}): nothing was changed, try again later",
                      redisAddress(), why);
  return false;
}

StreamDeadLetters::Result StreamDeadLetters::lost(const RedisReply& r, std::string& error) {
  if (!r.received()) {
    error = fmt::format("Redis {} unreachable ({}): nothing was changed, try again later",
                        redisAddress(), redis_.lastError());
    return Result::kUnreachable;
  }
  error = "Redis: " + r.str;
  return Result::kError;
}

StreamDeadLetters::Result StreamDeadLetters::list(size_t skip, size_t limit, bool include_done,
                                                  notifier::DeadLetterPage& out,
                                                  std::string& error) {
  std::lock_guard lock(mu_);
  out = {};
  if (!ready(error)) return Result::kUnreachable;
  // The count and the newest letter at one instant, then the page from that letter down: a
  // letter a notifier appends meanwhile is in neither (the total never says fewer than the page
  // shows).
  RedisReply snap = redis_.evalsha(snapshot_script_, {stream_, done_}, {});
  if (!snap.isArray() || snap.elements.size() != 3 || !snap.elements[0].isInteger() ||
      !snap.elements[1].isInteger() || !snap.elements[2].isString()) {
    return lost(snap, error);
  }
  const auto total = static_cast<size_t>(snap.elements[0].integer);
  const auto done = static_cast<size_t>(snap.elements[1].integer);
  out.total = include_done ? total : (total > done ? total - done : 0);
  if (snap.elements[2].str.empty()) return Result::kOk;  // no letter
  // Newest first, in batches; each batch's claims in one HMGET.
  std::string cursor = snap.elements[2].str;
  size_t scanned = 0, matched = 0;
  constexpr size_t kBatch = 500;
  while (out.entries.size() < limit && scanned < kMaxScan) {
    RedisReply r =
        redis_.command({"XREVRANGE", stream_, cursor, "-", "COUNT", std::to_string(kBatch)});
    if (!r.isArray()) return lost(r, error);
    if (r.elements.empty()) break;
    std::vector<std::pair<std::string, std::string>> batch;
    std::vector<std::string> hmget{"HMGET", done_};
    for (const auto& e : r.elements) {
      std::string id, line;
      if (!entryOf(e, id, line)) continue;
      hmget.push_back(id);
      batch.emplace_back(std::move(id), std::move(line));
    }
    scanned += r.elements.size();
    if (batch.empty()) break;
    cursor = "(" + batch.back().first;
    RedisReply claims = redis_.command(hmget);
    if (!claims.isArray() || claims.elements.size() != batch.size()) return lost(claims, error);
    for (size_t i = 0; i < batch.size() && out.entries.size() < limit; ++i) {
      std::optional<notifier::DeadLetterAction> act;
      if (claims.elements[i].isString()) act = actionOf(claims.elements[i].str);
      if (act && !include_done) continue;
      if (batch[i].second.empty()) ++out.unreadable;  // a "dead" entry without the field
      if (matched++ < skip) continue;
      out.entries.push_back({batch[i].first, std::move(batch[i].second), std::move(act)});
    }
    if (r.elements.size() < kBatch) break;
  }
  if (scanned >= kMaxScan && total > scanned) out.not_indexed = total - scanned;
  return Result::kOk;
}

StreamDeadLetters::Result StreamDeadLetters::find(std::string_view id,
                                                  std::optional<notifier::DeadLetterEntry>& out,
                                                  std::string& error) {
  std::lock_guard lock(mu_);
  out.reset();
  if (!ready(error)) return Result::kUnreachable;
  RedisReply r = redis_.command({"XRANGE", stream_, id, id});
  if (!r.isArray()) return lost(r, error);
  if (r.elements.empty()) return Result::kOk;
  notifier::DeadLetterEntry e;
  if (!entryOf(r.elements[0], e.id, e.line)) return Result::kOk;
  RedisReply claim = redis_.command({"HGET", done_, id});
  if (!claim.ok()) return lost(claim, error);
  if (claim.isString()) e.done = actionOf(claim.str);
  out = std::move(e);
  return Result::kOk;
}

StreamDeadLetters::Result StreamDeadLetters::claim(std::string_view id,
                                                   notifier::DeadLetterAction& action, Claim& claim,
                                                   notifier::DeadLetterAction& prior,
                                                   std::string& error) {
  std::lock_guard lock(mu_);
  if (!ready(error)) return Result::kUnreachable;
  if (action.at.empty()) action.at = isoNow();
  const std::string value = nlohmann::json{
      {"action", action.action},
      {"by", action.by},
      {"from", action.from},
      {"at", action.at}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  RedisReply r = redis_.evalsha(claim_script_, {stream_, done_}, {std::string(id), value});
  if (!r.isArray() || r.elements.empty()) return lost(r, error);
  const std::string& what = r.elements[0].str;
  if (what == "claimed") {
    claim = Claim::kClaimed;
  } else if (what == "taken" && r.elements.size() == 2) {
    claim = Claim::kTaken;
    prior = actionOf(r.elements[1].str).value_or(notifier::DeadLetterAction{});
  } else {
    claim = Claim::kGone;
  }
  return Result::kOk;
}

StreamDeadLetters::Result StreamDeadLetters::release(std::string_view id, std::string& error) {
  std::lock_guard lock(mu_);
  if (!ready(error)) return Result::kUnreachable;
  RedisReply r = redis_.command({"HDEL", done_, id});
  if (!r.ok()) return lost(r, error);
  return Result::kOk;
}

}  // namespace mcn::app
