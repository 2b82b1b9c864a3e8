#include "mcn/history/store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <charconv>
#include <map>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mcn/calls/record_json.h"

namespace mcn::history {
namespace {

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// Indexes follow the searches: newest first overall, and newest first per caller, callee,
// forwarding target and person; legs and notifications by Call-ID.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS calls(
  id INTEGER PRIMARY KEY,
  started_us INTEGER NOT NULL,
  ended_us INTEGER NOT NULL,
  call_id TEXT NOT NULL,
  caller TEXT NOT NULL,
  callee TEXT NOT NULL,
  forwarded_to TEXT NOT NULL,
  outcome TEXT NOT NULL,
  missed INTEGER NOT NULL,
  person TEXT NOT NULL,
  record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS calls_started ON calls(started_us, id);
CREATE INDEX IF NOT EXISTS calls_caller ON calls(caller, started_us);
CREATE INDEX IF NOT EXISTS calls_callee ON calls(callee, started_us);
CREATE INDEX IF NOT EXISTS calls_forwarded ON calls(forwarded_to, started_us) WHERE forwarded_to != '';
CREATE INDEX IF NOT EXISTS calls_person ON calls(person, started_us) WHERE person != '';
CREATE TABLE IF NOT EXISTS call_legs(call_id TEXT NOT NULL, call INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS call_legs_id ON call_legs(call_id);
CREATE INDEX IF NOT EXISTS call_legs_call ON call_legs(call);
CREATE TABLE IF NOT EXISTS notifications(
  key TEXT NOT NULL,
  channel TEXT NOT NULL,
  channel_kind TEXT NOT NULL,
  person TEXT NOT NULL,
  person_name TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  last_error TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  updated_us INTEGER NOT NULL,
  PRIMARY KEY(key, channel));
CREATE INDEX IF NOT EXISTS notifications_created ON notifications(created_us);
CREATE TABLE IF NOT EXISTS notification_calls(
  key TEXT NOT NULL, call_id TEXT NOT NULL, callee TEXT NOT NULL,
  PRIMARY KEY(key, call_id, callee));
CREATE INDEX IF NOT EXISTS notification_calls_id ON notification_calls(call_id);
CREATE TABLE IF NOT EXISTS attempts(
  key TEXT NOT NULL, channel TEXT NOT NULL, at_us INTEGER NOT NULL, ok INTEGER NOT NULL,
  error TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_key ON attempts(key, channel);
CREATE TABLE IF NOT EXISTS stream_positions(stream TEXT PRIMARY KEY, last_id TEXT NOT NULL);
)sql";

std::string text(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p),
                                    static_cast<size_t>(sqlite3_column_bytes(s, col)));
}

// Cursor: "<started_us>.<id>" of the last row of the page before.
bool parseCursor(const std::string& c, int64_t& started, int64_t& id) {
  auto dot = c.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == c.size() || c.size() > 48) return false;
  const char* b = c.data();
  auto r1 = std::from_chars(b, b + dot, started);
  auto r2 = std::from_chars(b + dot + 1, b + c.size(), id);
  return r1.ec == std::errc() && r1.ptr == b + dot && r2.ec == std::errc() &&
         r2.ptr == b + c.size() && id > 0;
}

// Resets a statement when the scope ends, on every path: a statement left stepping holds its
// read transaction open, and in WAL mode that stops checkpoints (the -wal file grows).
struct ResetOnExit {
  sqlite3_stmt* s;
  ~ResetOnExit() {
    if (s != nullptr) sqlite3_reset(s);
  }
};

const char* statusName(NotificationEvent::Kind k) {
  switch (k) {
    case NotificationEvent::Kind::kDelivered:
      return "delivered";
    case NotificationEvent::Kind::kDeadLettered:
      return "dead_lettered";
    default:
      return "pending";
  }
}

}  // namespace

struct HistoryStore::Impl {
  DbPtr db;
  std::string path;
  std::map<std::string, StmtPtr, std::less<>> cache;
  std::unordered_map<const char*, sqlite3_stmt*> fixed;  // owned by cache

  std::string err(std::string_view what) const {
    return fmt::format("history.path {}: {}: {}", path, what, sqlite3_errmsg(db.get()));
  }

  bool exec(const char* sql, std::string& error) {
    char* msg = nullptr;
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      error = fmt::format("history.path {}: {}", path, msg != nullptr ? msg : "error");
      sqlite3_free(msg);
      return false;
    }
    return true;
  }

  // A cached prepared statement, reset and unbound; null + error on failure. The fixed
  // statements of the write path are looked up by the literal's address (no string built per
  // row); the search's, whose text depends on the query's shape, by their text.
  sqlite3_stmt* stmt(const char* literal, std::string& error) {
    auto it = fixed.find(literal);
    if (it != fixed.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    sqlite3_stmt* s = stmt(std::string(literal), error);
    if (s != nullptr) fixed.emplace(literal, s);
    return s;
  }
  sqlite3_stmt* stmt(const std::string& sql, std::string& error) {
    auto it = cache.find(sql);
    if (it == cache.end()) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(db.get(), sql.c_str(), static_cast<int>(sql.size()), &s, nullptr) !=
          SQLITE_OK) {
        error = err("prepare");
        return nullptr;
      }
      it = cache.emplace(sql, StmtPtr(s)).first;
    }
    sqlite3_reset(it->second.get());
    sqlite3_clear_bindings(it->second.get());
    return it->second.get();
  }

  static void bind(sqlite3_stmt* s, int i, std::string_view v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  static void bind(sqlite3_stmt* s, int i, int64_t v) { sqlite3_bind_int64(s, i, v); }

  bool done(sqlite3_stmt* s, std::string& error) {
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      error = err("write");
      return false;
    }
    return true;
  }

  bool insertCall(const CallEntry& e, std::string& error) {
    const auto& r = e.record;
    sqlite3_stmt* s = stmt(
        "INSERT INTO calls(started_us, ended_us, call_id, caller, callee, forwarded_to, outcome, "
        "missed, person, record) VALUES(?,?,?,?,?,?,?,?,?,?)",
        error);
    if (s == nullptr) return false;
    bind(s, 1, r.started_at_us);
    bind(s, 2, r.ended_at_us);
    bind(s, 3, r.call_id);
    bind(s, 4, r.caller);
    bind(s, 5, r.callee);
    bind(s, 6, r.forwarded_to.value_or(""));
    bind(s, 7, calls::outcomeName(r.outcome));
    bind(s, 8, int64_t{r.missed ? 1 : 0});
    // Who it was for: the directory's answer, else a notification about it applied before it (in
    // a shared history a notifier's steps may precede the probe's record in the stream).
    std::string person = e.person_id;
    if (person.empty()) {
      sqlite3_stmt* q = stmt(
          "SELECT n.person FROM notification_calls nc JOIN notifications n ON n.key = nc.key "
          "WHERE nc.call_id = ? AND nc.callee = ? AND n.person != '' LIMIT 1",
          error);
      if (q == nullptr) return false;
      bind(q, 1, r.call_id);
      bind(q, 2, r.callee);
      if (sqlite3_step(q) == SQLITE_ROW) person = text(q, 0);
      sqlite3_reset(q);
    }
    bind(s, 9, person);
    bind(s, 10, calls::recordToJson(r));
    if (!done(s, error)) return false;
    int64_t id = sqlite3_last_insert_rowid(db.get());
    sqlite3_stmt* leg = stmt("INSERT INTO call_legs(call_id, call) VALUES(?,?)", error);
    if (leg == nullptr) return false;
    bool primary_seen = false;
    for (const auto& cid : r.call_ids) {
      primary_seen = primary_seen || cid == r.call_id;
      sqlite3_reset(leg);
      bind(leg, 1, cid);
      bind(leg, 2, id);
      if (!done(leg, error)) return false;
    }
    if (!primary_seen) {
      sqlite3_reset(leg);
      bind(leg, 1, r.call_id);
      bind(leg, 2, id);
      if (!done(leg, error)) return false;
    }
    return true;
  }

  bool insertNote(const NotificationEvent& n, std::string& error) {
    sqlite3_stmt* s = stmt(
        "INSERT OR IGNORE INTO notifications(key, channel, channel_kind, person, person_name, "
        "status, attempts, reason, last_error, created_us, updated_us) "
        "VALUES(?,?,?,?,?,'pending',0,'','',?,?)",
        error);
    if (s == nullptr) return false;
    bind(s, 1, n.key);
    bind(s, 2, n.channel);
    bind(s, 3, n.channel_kind);
    bind(s, 4, n.person_id);
    bind(s, 5, n.person_name);
    bind(s, 6, n.at_us);
    bind(s, 7, n.at_us);
    if (!done(s, error)) return false;
    using K = NotificationEvent::Kind;
    if (n.kind == K::kProduced) {
      for (const auto& [cid, callee] : n.calls) {
        sqlite3_stmt* l = stmt(
            "INSERT OR IGNORE INTO notification_calls(key, call_id, callee) VALUES(?,?,?)", error);
        if (l == nullptr) return false;
        bind(l, 1, n.key);
        bind(l, 2, cid);
        bind(l, 3, callee);
        if (!done(l, error)) return false;
        // The person told about a call is the person it was for, when the directory did not say.
        sqlite3_stmt* p = stmt(
            "UPDATE calls SET person = ? WHERE person = '' AND callee = ? AND id IN "
            "(SELECT call FROM call_legs WHERE call_id = ?)",
            error);
        if (p == nullptr) return false;
        bind(p, 1, n.person_id);
        bind(p, 2, callee);
        bind(p, 3, cid);
        if (!done(p, error)) return false;
      }
      return true;
    }
    if (n.kind == K::kAttempt) {
      sqlite3_stmt* a =
          stmt("INSERT INTO attempts(key, channel, at_us, ok, error) VALUES(?,?,?,?,?)", error);
      if (a == nullptr) return false;
      bind(a, 1, n.key);
      bind(a, 2, n.channel);
      bind(a, 3, n.at_us);
      bind(a, 4, int64_t{n.ok ? 1 : 0});
      bind(a, 5, n.error);
      if (!done(a, error)) return false;
      sqlite3_stmt* u = stmt(
          "UPDATE notifications SET attempts = max(attempts, ?), last_error = CASE WHEN ? THEN "
          "last_error ELSE ? END, updated_us = ? WHERE key = ? AND channel = ?",
          error);
      if (u == nullptr) return false;
      bind(u, 1, int64_t{n.attempts});
      bind(u, 2, int64_t{n.ok ? 1 : 0});
      bind(u, 3, n.error);
      bind(u, 4, n.at_us);
      bind(u, 5, n.key);
      bind(u, 6, n.channel);
      return done(u, error);
    }
    sqlite3_stmt* u = stmt(
        "UPDATE notifications SET status = ?, attempts = max(attempts, ?), reason = ?, "
        "last_error = CASE WHEN ? = '' THEN last_error ELSE ? END, updated_us = ? "
        "WHERE key = ? AND channel = ?",
        error);
    if (u == nullptr) return false;
    bind(u, 1, statusName(n.kind));
    bind(u, 2, int64_t{n.attempts});
    bind(u, 3, n.reason);
    bind(u, 4, n.error);
    bind(u, 5, n.error);
    bind(u, 6, n.at_us);
    bind(u, 7, n.key);
    bind(u, 8, n.channel);
    return done(u, error);
  }

  bool rows(sqlite3_stmt* s, std::vector<CallRow>& out, std::string& error) {
    for (;;) {
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return true;
      if (rc != SQLITE_ROW) {
        error = err("read");
        return false;
      }
      CallRow row;
      row.id = sqlite3_column_int64(s, 0);
      row.record_json = text(s, 1);
      row.person_id = text(s, 2);
      out.push_back(std::move(row));
    }
  }
};

HistoryStore::HistoryStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HistoryStore::~HistoryStore() {
  if (impl_) {
    impl_->fixed.clear();
    impl_->cache.clear();  // statements before the connection
  }
}

std::unique_ptr<HistoryStore> HistoryStore::open(const std::string& path, bool read_only,
                                                 std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  sqlite3* raw = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  impl->db.reset(raw);
  if (rc != SQLITE_OK) {
    error = fmt::format("history.path {}: {}", path,
                        raw != nullptr ? sqlite3_errmsg(raw) : "cannot open");
    return nullptr;
  }
  sqlite3_busy_timeout(raw, 5000);
  // A damaged or foreign file fails here ("file is not a database"), not at the first insert.
  if (read_only) {
    sqlite3_stmt* s = impl->stmt("SELECT count(*) FROM sqlite_master WHERE name = 'calls'", error);
    if (s == nullptr) return nullptr;
    if (sqlite3_step(s) != SQLITE_ROW) {
      error = impl->err("read");
      return nullptr;
    }
    if (sqlite3_column_int64(s, 0) == 0) {
      error = fmt::format("history.path {}: no call history in this file", path);
      return nullptr;
    }
    sqlite3_reset(s);
    return std::unique_ptr<HistoryStore>(new HistoryStore(std::move(impl)));
  }
  // WAL: readers (the HTTP API, the CLI) read while the writer writes. NORMAL sync: a power cut
  // may lose the last transactions, never corrupt the file (SQLite "WAL mode" documentation).
  if (!impl->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", error)) return nullptr;
  if (!impl->exec(kSchema, error)) return nullptr;
  return std::unique_ptr<HistoryStore>(new HistoryStore(std::move(impl)));
}

bool HistoryStore::write(const std::vector<CallEntry>& calls,
                         const std::vector<NotificationEvent>& notes, std::string& error) {
  Impl& d = *impl_;
  if (!d.exec("BEGIN IMMEDIATE", error)) return false;
  bool ok = true;
  for (const auto& c : calls) {
    if (!(ok = d.insertCall(c, error))) break;
  }
  for (size_t i = 0; ok && i < notes.size(); ++i) ok = d.insertNote(notes[i], error);
  if (ok) ok = d.exec("COMMIT", error);
  if (!ok) {
    std::string ignored;
    d.exec("ROLLBACK", ignored);
  }
  return ok;
}

bool HistoryStore::write(const std::vector<HistoryEntry>& entries, const std::string& stream,
                         const std::string& last_id, std::string& error) {
  Impl& d = *impl_;
  if (!d.exec("BEGIN IMMEDIATE", error)) return false;
  bool ok = true;
  for (size_t i = 0; ok && i < entries.size(); ++i) {
    if (const auto* c = std::get_if<CallEntry>(&entries[i])) {
      ok = d.insertCall(*c, error);
    } else {
      ok = d.insertNote(std::get<NotificationEvent>(entries[i]), error);
    }
  }
  if (ok) {
    sqlite3_stmt* s =
        d.stmt("INSERT OR REPLACE INTO stream_positions(stream, last_id) VALUES(?,?)", error);
    ok = s != nullptr;
    if (ok) {
      Impl::bind(s, 1, stream);
      Impl::bind(s, 2, last_id);
      ok = d.done(s, error);
    }
  }
  if (ok) ok = d.exec("COMMIT", error);
  if (!ok) {
    std::string ignored;
    d.exec("ROLLBACK", ignored);
  }
  return ok;
}

bool HistoryStore::streamPosition(const std::string& stream, std::string& last_id,
                                  std::string& error) {
  Impl& d = *impl_;
  last_id.clear();
  sqlite3_stmt* s = d.stmt("SELECT last_id FROM stream_positions WHERE stream = ?", error);
  if (s == nullptr) return false;
  ResetOnExit reset_s{s};
  Impl::bind(s, 1, stream);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    last_id = text(s, 0);
    return true;
  }
  if (rc != SQLITE_DONE) {
    error = d.err("read");
    return false;
  }
  return true;
}

int64_t HistoryStore::purgeBefore(int64_t cutoff_us, std::string& error) {
  Impl& d = *impl_;
  static constexpr const char* kDeletes[] = {
      "DELETE FROM call_legs WHERE call IN (SELECT id FROM calls WHERE started_us < ?1)",
      "DELETE FROM calls WHERE started_us < ?1",
      "DELETE FROM attempts WHERE (key, channel) IN "
      "(SELECT key, channel FROM notifications WHERE created_us < ?1)",
      "DELETE FROM notification_calls WHERE key IN "
      "(SELECT key FROM notifications WHERE created_us < ?1)",
      "DELETE FROM notifications WHERE created_us < ?1",
  };
  if (!d.exec("BEGIN IMMEDIATE", error)) return -1;
  int64_t n = 0;
  for (const char* sql : kDeletes) {
    sqlite3_stmt* s = d.stmt(sql, error);
    if (s == nullptr || (Impl::bind(s, 1, cutoff_us), !d.done(s, error))) {
      std::string ignored;
      d.exec("ROLLBACK", ignored);
      return -1;
    }
    // Counted: calls and notifications (their legs, links and attempts go with them).
    if (std::string_view(sql).rfind("DELETE FROM calls", 0) == 0 ||
        std::string_view(sql).rfind("DELETE FROM notifications", 0) == 0) {
      n += sqlite3_changes(d.db.get());
    }
  }
  if (!d.exec("COMMIT", error)) return -1;
  return n;
}

namespace {

struct SearchSql {
  std::string sql;
  std::vector<std::pair<bool, std::string>> args;  // (is integer, value), ?1 first
  int limit = 0;
};

// The search as one statement, newest first, read through an index in that order so that a page
// costs its own rows, not every match:
//  - the partial indexes (calls_forwarded, calls_person: most calls have no forwarding target,
//    some no person) are only usable when the statement itself says their condition: SQLite
//    cannot tell from "person = ?1" that the bound value is not '', and without that term it
//    walked calls_started over the whole table (EXPLAIN QUERY PLAN "SCAN calls USING INDEX
//    calls_started": 0.3-1 s at a million calls);
//  - a number is caller, callee or forwarding target: one SELECT per column and number, each in
//    its index's order, merged by UNION (SQLite's "MERGE (UNION)"; it also drops a call found
//    twice). An OR of the three instead collects every match and sorts it: 0.2 s for the
//    voicemail box, the forwarding target of 20,000 calls in a million;
//  - the cursor is a range on started_us (<=) that the index can seek to, plus the tie-break.
// tests/bench/README.md "Web console and call search at scale" has the figures.
bool searchSql(const Query& q, SearchSql& out, std::string& error) {
  auto& args = out.args;
  auto arg = [&](std::string v) {
    args.emplace_back(false, std::move(v));
    return fmt::format("?{}", args.size());
  };
  auto argInt = [&](int64_t v) {
    args.emplace_back(true, std::to_string(v));
    return fmt::format("?{}", args.size());
  };
  std::string rest;  // the conditions besides the number, in every arm
  if (!q.person.empty()) rest += " AND person = " + arg(q.person) + " AND person != ''";
  if (!q.call_id.empty()) {
    rest += " AND id IN (SELECT call FROM call_legs WHERE call_id = " + arg(q.call_id) + ")";
  }
  if (q.outcome == "missed") {
    rest += " AND missed = 1";
  } else if (!q.outcome.empty()) {
    rest += " AND outcome = " + arg(q.outcome);
  }
  if (q.since_us) rest += " AND started_us >= " + argInt(*q.since_us);
  if (q.until_us) rest += " AND started_us < " + argInt(*q.until_us);
  if (!q.cursor.empty()) {
    int64_t started = 0, id = 0;
    if (!parseCursor(q.cursor, started, id)) {
      error = "cursor: not one this server gave";
      return false;
    }
    std::string s = argInt(started);
    rest += fmt::format(" AND started_us <= {0} AND (started_us < {0} OR id < {1})", s, argInt(id));
  }
  constexpr const char* kSelect = "SELECT id, record, person, started_us FROM calls WHERE ";
  std::string& sql = out.sql;
  if (q.numbers.empty()) {
    sql = kSelect + std::string("1") + rest;
  } else {
    std::vector<std::string> numbers;
    for (const auto& n : q.numbers) numbers.push_back(arg(n));
    sql.clear();
    for (const char* column : {"caller", "callee", "forwarded_to"}) {
      for (const auto& n : numbers) {
        if (!sql.empty()) sql += " UNION ";
        sql += fmt::format(
            "{}{} = {}{}{}", kSelect, column, n,
            std::string_view(column) == "forwarded_to" ? " AND forwarded_to != ''" : "", rest);
      }
    }
  }
  out.limit = std::max(1, q.limit);
  // Bound, not formatted: the statement cache holds one statement per query shape.
  sql += " ORDER BY started_us DESC, id DESC LIMIT " + argInt(out.limit + 1);
  return true;
}

void bindAll(sqlite3_stmt* s, const SearchSql& q) {
  for (size_t i = 0; i < q.args.size(); ++i) {
    if (q.args[i].first) {
      sqlite3_bind_int64(s, static_cast<int>(i + 1), std::stoll(q.args[i].second));
    } else {
      sqlite3_bind_text(s, static_cast<int>(i + 1), q.args[i].second.data(),
                        static_cast<int>(q.args[i].second.size()), SQLITE_TRANSIENT);
    }
  }
}

}  // namespace

bool HistoryStore::search(const Query& q, Page& out, std::string& error) {
  Impl& d = *impl_;
  out = Page{};
  SearchSql built;
  if (!searchSql(q, built, error)) return false;
  const int limit = built.limit;
  sqlite3_stmt* s = d.stmt(built.sql, error);
  if (s == nullptr) return false;
  ResetOnExit reset_s{s};
  bindAll(s, built);
  std::vector<int64_t> started;
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      error = d.err("read");
      return false;
    }
    CallRow row;
    row.id = sqlite3_column_int64(s, 0);
    row.record_json = text(s, 1);
    row.person_id = text(s, 2);
    started.push_back(sqlite3_column_int64(s, 3));
    out.rows.push_back(std::move(row));
  }
  sqlite3_reset(s);
  if (out.rows.size() > static_cast<size_t>(limit)) {
    out.rows.resize(static_cast<size_t>(limit));
    out.next_cursor =
        fmt::format("{}.{}", started[static_cast<size_t>(limit) - 1], out.rows.back().id);
  }
  return true;
}

bool HistoryStore::queryPlan(const Query& q, std::string& out, std::string& error) {
  Impl& d = *impl_;
  out.clear();
  SearchSql built;
  if (!searchSql(q, built, error)) return false;
  sqlite3_stmt* s = d.stmt("EXPLAIN QUERY PLAN " + built.sql, error);
  if (s == nullptr) return false;
  ResetOnExit reset_s{s};
  bindAll(s, built);
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return true;
    if (rc != SQLITE_ROW) {
      error = d.err("read");
      return false;
    }
    out += text(s, 3);  // the "detail" column: "SEARCH calls USING INDEX calls_person (person=?)"
    out += '\n';
  }
}

bool HistoryStore::detail(const std::string& call_id, CallDetail& out, std::string& error) {
  Impl& d = *impl_;
  out = CallDetail{};
  sqlite3_stmt* s = d.stmt(
      "SELECT id, record, person FROM calls WHERE id IN (SELECT call FROM call_legs WHERE "
      "call_id = ?) ORDER BY started_us DESC, id DESC LIMIT 1000",
      error);
  if (s == nullptr) return false;
  ResetOnExit reset_s{s};
  Impl::bind(s, 1, call_id);
  if (!d.rows(s, out.records, error)) return false;
  sqlite3_reset(s);
  // Notifications name each call by the Call-ID of its record; the records found give them.
  sqlite3_stmt* n = d.stmt(
      "SELECT DISTINCT n.key, n.channel, n.channel_kind, n.person, n.person_name, n.status, "
      "n.attempts, n.reason, n.last_error, n.created_us, n.updated_us FROM notifications n "
      "JOIN notification_calls nc ON nc.key = n.key WHERE nc.call_id IN "
      "(SELECT c.call_id FROM calls c WHERE c.id IN (SELECT call FROM call_legs WHERE call_id = "
      "?)) ORDER BY n.created_us, n.key, n.channel LIMIT 1000",
      error);
  if (n == nullptr) return false;
  ResetOnExit reset_n{n};
  Impl::bind(n, 1, call_id);
  for (;;) {
    int rc = sqlite3_step(n);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      error = d.err("read");
      return false;
    }
    NotificationRow r;
    r.key = text(n, 0);
    r.channel = text(n, 1);
    r.channel_kind = text(n, 2);
    r.person_id = text(n, 3);
    r.person_name = text(n, 4);
    r.status = text(n, 5);
    r.attempts = sqlite3_column_int(n, 6);
    r.reason = text(n, 7);
    r.last_error = text(n, 8);
    r.created_us = sqlite3_column_int64(n, 9);
    r.updated_us = sqlite3_column_int64(n, 10);
    out.notifications.push_back(std::move(r));
  }
  sqlite3_reset(n);
  for (auto& r : out.notifications) {
    sqlite3_stmt* a = d.stmt(
        "SELECT at_us, ok, error FROM attempts WHERE key = ? AND channel = ? ORDER BY at_us, "
        "rowid LIMIT 1000",
        error);
    if (a == nullptr) return false;
    ResetOnExit reset_a{a};
    Impl::bind(a, 1, r.key);
    Impl::bind(a, 2, r.channel);
    for (;;) {
      int rc = sqlite3_step(a);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        error = d.err("read");
        return false;
      }
      r.attempt_log.push_back(
          AttemptRow{sqlite3_column_int64(a, 0), sqlite3_column_int(a, 1) != 0, text(a, 2)});
    }
    sqlite3_reset(a);
  }
  return true;
}

}  // namespace mcn::history
