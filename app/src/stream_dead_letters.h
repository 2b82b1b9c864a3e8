#pragma once
// The dead letters of a [streams] deployment as the operator console reads them (`mcn run --role
// notifier`, GET/POST /api/ops/dead-letters, ops_api.h): the <prefix>:dead stream every notifier
// appends to (notifier/stream_bus.h; field "dead" = the JSON of a dead-letter file line).
//
// What operators did is kept beside it in the hash <prefix>:dead:done, entry id ->
// {"action":"retry"|"discard","by","from","at"}. An action is claimed there atomically (one Lua
// script: the entry still in the stream, no claim yet, HSET) before it is carried out, so two
// operators on two notifiers never both retry one entry: the second is told who did it and when.
// The same script drops the claims of entries trimmed from the stream (MAXLEN), so the hash is
// never larger than the stream.
//
// Ids are the stream entry ids ("1733581234567-0"). Thread-safe (a mutex around one Redis
// connection of its own): HTTP threads call it. Every command is bounded by a short timeout; an
// unreachable Redis is Result::kUnreachable and nothing is changed.

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "mcn/notifier/dead_letter_store.h"
#include "mcn/redis/client.h"

namespace mcn::app {

class StreamDeadLetters {
 public:
  enum class Result { kOk, kUnreachable, kError };
  enum class Claim { kClaimed, kTaken, kGone };

  // `prefix`: [streams] prefix. `opts`: the streams' Redis (its timeouts are shortened here).
  StreamDeadLetters(redis::RedisClientOptions opts, std::string prefix);

  // Newest first; `include_done`: also the ones retried or discarded. At most kMaxScan entries
  // are looked at for one page (older ones are counted as not_indexed).
  Result list(size_t skip, size_t limit, bool include_done, notifier::DeadLetterPage& out,
              std::string& error);
  // kOk with nullopt: no entry with this id (any more).
  Result find(std::string_view id, std::optional<notifier::DeadLetterEntry>& out,
              std::string& error);
  // Claims `id` for `action` (its "at" is filled in here). kTaken: `prior` says by whom.
  Result claim(std::string_view id, notifier::DeadLetterAction& action, Claim& claim,
               notifier::DeadLetterAction& prior, std::string& error);
  // Undoes this process's claim (the action could not be carried out).
  Result release(std::string_view id, std::string& error);

  // "<digits>-<digits>", as XADD makes them.
  static bool validId(std::string_view id);
  const std::string& streamKey() const { return stream_; }
  std::string redisAddress() const;

  static constexpr size_t kMaxScan = 100000;

 private:
  // Connected (under mu_), else `error` says why.
  bool ready(std::string& error);
  Result lost(const redis::RedisReply& r, std::string& error);

  std::mutex mu_;
  redis::RedisClient redis_;
  size_t claim_script_ = 0;
  size_t snapshot_script_ = 0;
  std::string stream_, done_;
};

}  // namespace mcn::app
