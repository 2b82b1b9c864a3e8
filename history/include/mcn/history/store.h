#pragma once
// The call history store: every call record and every notification (its delivery attempts and
// outcome), kept `retention_days` and searched by the operator (`GET /api/calls`, `mcn history
// search`). SQLite in WAL mode; sqlite3 types stay in history/src.
//
// HistoryStore is the database, used from one thread at a time: the writer thread
// (writer.h) for inserts and the retention delete, and readers that open their own connection
// (WAL lets them read while the writer writes).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mcn/calls/call_record.h"

namespace mcn::history {

// [history]
struct HistoryConfig {
  bool enabled = true;                      // `mcn run`; `mcn replay` only with --history PATH
  std::string path = "mcn-history.sqlite";  // relative to the working directory
  int retention_days = 90;                  // older calls and notifications are deleted
  // Entries per producer thread's ring (about 350 bytes each, reserved up front); full =
  // history.dropped. The writer drains every 10 ms: 4096 is seconds of a call-heavy burst.
  int queue_size = 4096;
  // With [streams]: entries kept in <prefix>:history (XADD MAXLEN ~), the outage a replica can
  // catch up from (README "Scale-out with Redis Streams", shared history).
  size_t stream_maxlen = 200000;

  bool operator==(const HistoryConfig&) const = default;
};

// A call record as stored: the record and the person its called number belongs to (from the
// subscribers directory, or from a notification about it), "" if none known.
struct CallEntry {
  calls::CallRecord record;
  std::string person_id;
};

// One step in a notification's life, as the delivery engine reports it.
struct NotificationEvent {
  enum class Kind : uint8_t {
    kProduced,      // the merger made it: person, channel, the calls it covers
    kAttempt,       // an attempt finished: ok or error
    kDelivered,     // delivered after `attempts` attempts
    kDeadLettered,  // given up: reason, last error
  };
  Kind kind = Kind::kProduced;
  std::string key;      // idempotency key
  std::string channel;  // the person's channel id, e.g. "wecom-office"
  std::string channel_kind;
  std::string person_id;
  std::string person_name;
  // kProduced: the calls covered, as (Call-ID, called number).
  std::vector<std::pair<std::string, std::string>> calls;
  bool ok = false;     // kAttempt
  std::string error;   // kAttempt: the attempt's error; kDeadLettered: the last error
  std::string reason;  // kDeadLettered: max_attempts, rejected, queue_full, ...
  int attempts = 0;
  int64_t at_us = 0;
};

// One entry of either kind, in the order a stream gave them (history/stream.h).
using HistoryEntry = std::variant<CallEntry, NotificationEvent>;

struct Query {
  std::vector<std::string> numbers;  // caller, callee or forwarded_to equal to any of these
  std::string person;
  std::string call_id;                        // any leg
  std::string outcome;                        // outcome name, or "missed"
  std::optional<int64_t> since_us, until_us;  // started_at within [since, until)
  int limit = 50;
  std::string cursor;  // from the previous page's next_cursor; "" = newest
};

struct CallRow {
  int64_t id = 0;
  std::string record_json;  // the output contract's object (record_json.h)
  std::string person_id;
};

struct Page {
  std::vector<CallRow> rows;  // newest first (started_at, then insertion)
  std::string next_cursor;    // "" when this is the last page
};

struct AttemptRow {
  int64_t at_us = 0;
  bool ok = false;
  std::string error;
};

struct NotificationRow {
  std::string key, channel, channel_kind, person_id, person_name;
  std::string status;  // "pending", "delivered", "dead_lettered"
  int attempts = 0;
  std::string reason, last_error;
  int64_t created_us = 0, updated_us = 0;
  std::vector<AttemptRow> attempt_log;
};

struct CallDetail {
  std::vector<CallRow> records;  // every (call, called number) with this Call-ID on any leg
  std::vector<NotificationRow> notifications;
};

class HistoryStore {
 public:
  // Opens or creates the database. On failure returns null and `error` says what and where
  // ("history.path /x/y: unable to open database file", "... file is not a database").
  static std::unique_ptr<HistoryStore> open(const std::string& path, bool read_only,
                                            std::string& error);
  ~HistoryStore();
  HistoryStore(const HistoryStore&) = delete;
  HistoryStore& operator=(const HistoryStore&) = delete;

  // One transaction. False + error if it failed (nothing of the batch is kept).
  bool write(const std::vector<CallEntry>& calls, const std::vector<NotificationEvent>& notes,
             std::string& error);
  // Entries applied in their order, and `stream`'s position (the last entry id applied,
  // history/stream.h) set to `last_id` in the same transaction: a replica that restarts resumes
  // exactly after what it kept, and replicas fed the same entries hold the same rows.
  bool write(const std::vector<HistoryEntry>& entries, const std::string& stream,
             const std::string& last_id, std::string& error);
  // The position stored for `stream`, "" if none. False + error on a database error.
  bool streamPosition(const std::string& stream, std::string& last_id, std::string& error);
  // Deletes calls and notifications older than cutoff_us (with their legs and attempts);
  // returns how many calls and notifications went, -1 on error.
  int64_t purgeBefore(int64_t cutoff_us, std::string& error);

  // False + error on a bad cursor or a database error.
  bool search(const Query& q, Page& out, std::string& error);
  bool detail(const std::string& call_id, CallDetail& out, std::string& error);
  // How SQLite will run this search (EXPLAIN QUERY PLAN), one step a line: "SEARCH calls USING
  // INDEX calls_person (person=?)". Tests check that no search walks the whole table.
  bool queryPlan(const Query& q, std::string& out, std::string& error);

  struct Impl;

 private:
  explicit HistoryStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::history
