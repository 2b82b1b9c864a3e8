#pragma once
// The dead-letter file (delivery.h JsonlDeadLetterFile) as the operator console reads it: list,
// retry, discard (issue 18, GET/POST /api/ops/dead-letters).
//
// The file stays append-only (the notifier thread, and other processes, append to it with
// O_APPEND while this reads): what operators did is kept beside it in PATH.actions, one JSON line
// per action {"id","action":"retry"|"discard","by","from","at","idempotency_key"}, also
// append-only and 0600. A dead letter with an action is done and no longer listed as dead.
//
// A dead letter's id is the FNV-1a 64 hash of its line (16 hex digits): stable across restarts
// and rotations, and two lines are never the same (each carries its own time and attempt count).
//
// Bounded: the index keeps the newest `max_index` dead letters (older ones are counted, not
// listed); a line longer than kMaxLineBytes or not JSON is counted as unreadable and skipped.
// Each call reads only what was appended since the last one (a file that shrank or was replaced
// is read again from the start). Thread-safe (a mutex): HTTP threads call it.

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/notifier/notification.h"

namespace mcn::notifier {

struct DeadLetterAction {
  std::string action;  // "retry" | "discard"
  std::string by;      // who (the operator console's user, else "token")
  std::string from;    // the client's address
  std::string at;      // UTC ISO-8601
};

struct DeadLetterEntry {
  std::string id;
  std::string line;  // the dead letter as written (JSON)
  std::optional<DeadLetterAction> done;
};

struct DeadLetterPage {
  std::vector<DeadLetterEntry> entries;  // newest first
  size_t total = 0;                      // matching the filter, in the index
  size_t not_indexed = 0;                // older dead letters beyond the index bound
  size_t unreadable = 0;                 // lines that are not a dead letter (cut, not JSON)
};

class DeadLetterStore {
 public:
  static constexpr size_t kMaxLineBytes = 1 << 20;

  explicit DeadLetterStore(std::string path, size_t max_index = 100000);
  // SIGHUP changed [notify] dead_letter: read that file from now on.
  void setPath(const std::string& path);
  std::string path() const;

  // `include_done`: also the ones retried or discarded. False + `error` when the file exists but
  // cannot be read (a missing file is an empty list: nothing was dead-lettered yet).
  bool list(size_t skip, size_t limit, bool include_done, DeadLetterPage& out, std::string& error);
  // nullopt: no dead letter with this id (or not readable).
  std::optional<DeadLetterEntry> find(std::string_view id, std::string& error);
  // Appends the action to PATH.actions. False + `error` when it cannot be written (nothing
  // changed), or when the dead letter is done already (`error` says by whom).
  bool markDone(std::string_view id, const DeadLetterAction& action,
                const std::string& idempotency_key, std::string& error);

  static std::string idOf(std::string_view line);
  static bool validId(std::string_view id);

 private:
  struct Indexed {
    uint64_t offset = 0;
    uint32_t length = 0;  // without the newline
    std::string id;
  };
  bool refresh(std::string& error);  // under mu_
  bool readLine(const Indexed& e, std::string& line, std::string& error);
  std::string actionsPath() const { return path_ + ".actions"; }

  mutable std::mutex mu_;
  std::string path_;
  size_t max_index_;
  // The dead-letter file as indexed so far.
  uint64_t dev_ = 0, ino_ = 0, read_to_ = 0;
  std::deque<Indexed> index_;  // oldest first
  size_t not_indexed_ = 0, unreadable_ = 0;
  // PATH.actions as read so far.
  uint64_t actions_dev_ = 0, actions_ino_ = 0, actions_read_to_ = 0;
  std::map<std::string, DeadLetterAction, std::less<>> actions_;
};

// The notification a dead-letter line can re-send (its "resend" object, written since the
// console existed): original idempotency key, calls, title and text; the channel only by id and
// kind (the caller takes the person's channel as configured now). nullopt + `error` otherwise.
std::optional<Notification> deadLetterNotification(std::string_view line, std::string& error);

}  // namespace mcn::notifier
