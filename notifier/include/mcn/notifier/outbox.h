#pragma once
// The durable outbox of a single `mcn run` without Redis (issue 17): an append-only journal of
// checksummed, length-prefixed records, so that a missed call decided before a crash (kill -9,
// power loss minus the fsync interval) is still notified after the restart.
//
// Record framing (little-endian): u32 length of the body, u32 CRC-32 (zlib) of the body, body.
// The body is one JSON object (readable with a hex dump, and its parser never trusts the bytes):
//   {"t":"call","seq":S,"at":US,"call":"<wire JSON of the record>"}   a decided missed call,
//       written before the merger sees it;
//   {"t":"gone","seqs":[S...]}   calls the merger consumed: filtered, duplicates, or their window
//       closed (after its notifications were written);
//   {"t":"note","seq":N,"calls":[S...],"n":{...}}   one notification (one person, one channel)
//       as the merger produced it, original idempotency key included, before delivery;
//   {"t":"done","seq":N}   that notification was delivered (or dead-lettered to the file).
// Live = calls with no "gone" and notes with no "done". At open the journal is read (a torn or
// damaged stretch is skipped up to the next record whose checksum holds, and counted), the live
// records are handed back, and the file is compacted: live records rewritten to PATH.tmp,
// fdatasync, rename over PATH, fsync of the directory. A journal grown past 4x its live size
// (and 4 MiB) is compacted the same way while running.
//
// Every record is one write(2) at once: a killed process loses nothing the kernel has. The file
// is fdatasync'ed at most every fsync_ms (the power-loss exposure window; 0: after every record),
// from maybeSync(), which the notifier thread calls every turn.
// Disk trouble (ENOSPC, EROFS, EIO, a journal that cannot be opened): a log line at most every
// 10 s, `notify.outbox_write_errors`, the call counted in `notify.outbox_unprotected`, and
// nothing else changes: delivery goes on from memory. A short write is cut back (ftruncate) so the
// journal never holds half a record followed by good ones.
// One process per journal: open() takes an exclusive flock on PATH.lock (not on PATH, which
// compaction replaces) and fails, naming the path, while another process holds it; two runs on
// one journal would each resend what the other owes.
// Thread-safe: `mcn run`'s workers journal the calls they decide (callIn, before anything else
// sees them), the notifier thread does the rest; fdatasync runs outside the lock.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mcn/calls/call_record.h"
#include "mcn/notifier/clock.h"
#include "mcn/notifier/notification.h"

namespace mcn::notifier {

struct OutboxRecovered {
  // Calls decided but in no notification yet, oldest first: they re-enter the merge windows.
  std::vector<calls::MissedCall> calls;
  // Notifications produced and not delivered on their channel: resubmitted as they were (same
  // idempotency key, text and calls).
  std::vector<Notification> notifications;
};

class Outbox {
 public:
  // `clock`: when to fdatasync (any steady microsecond clock). Never throws.
  Outbox(std::string path, int64_t fsync_ms, const Clock& clock);
  ~Outbox();  // close()
  // Syncs what is pending, closes the journal and releases PATH.lock (what the end of the process
  // does); later records are counted as unprotected. open() may be called again.
  void close();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Reads the journal (created if absent), compacts it and returns what is still owed. False
  // with `error` set when the file cannot be opened, read or rewritten: the outbox then stays
  // unusable (every call counted unprotected) and the caller says so.
  bool open(OutboxRecovered& recovered, std::string* error);
  bool usable() const;

  // A decided missed call, before the merger sees it.
  void callIn(const calls::MissedCall& call, int64_t at_us);
  // The merger did not keep the call handed in last with this identity (filtered, duplicate).
  void callDropped(const calls::MissedCall& call);
  // A window closed: its calls are the merger's no more (their notifications were noted first).
  void windowClosed(const std::vector<calls::CallRecord>& records);
  // A notification made by the merger, before it is given to delivery.
  void produced(const Notification& n);
  // Delivered, or written to the dead-letter file: not owed any more.
  void finished(const Notification& n);

  // fdatasync when the interval has passed and something was written; compaction when due.
  void maybeSync();
  void syncNow();

  // Stable names, fixed order: notify.outbox_records, notify.outbox_syncs,
  // notify.outbox_write_errors, notify.outbox_unprotected, notify.outbox_recovered_calls,
  // notify.outbox_recovered_notifications, notify.outbox_corrupt_records,
  // notify.outbox_corrupt_bytes, notify.outbox_compactions, notify.outbox_bytes,
  // notify.outbox_live_calls, notify.outbox_live_notifications.
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const;

  // For tests: the framing of one record body (u32 length, u32 CRC-32, body).
  static std::string frame(std::string_view body);

 private:
  struct LiveNote {
    std::string bytes;  // the framed record, for compaction
    std::string identity;
  };
  bool append(std::string_view body, bool protects_call);
  void syncLocked();
  void writeError(const std::string& what);  // counted; logged at most every 10 s
  bool compact(std::string* error);
  static std::string callIdentity(const calls::CallRecord& r);
  static std::string noteIdentity(const Notification& n);

  mutable std::mutex mu_;
  std::string path_;
  int64_t fsync_ms_;
  const Clock& clock_;
  int fd_ = -1;
  int lock_fd_ = -1;  // PATH.lock, flock'ed for the outbox's life: one process per journal
  uint64_t size_ = 0;  // bytes in the file (where the next record starts)
  uint64_t next_call_seq_ = 1;
  uint64_t next_note_seq_ = 1;
  bool dirty_ = false;
  int64_t last_sync_us_ = 0;
  int64_t last_error_log_us_ = INT64_MIN / 2;
  int64_t last_compact_fail_us_ = INT64_MIN / 2;
  uint64_t errors_since_log_ = 0;

  std::map<uint64_t, std::string> live_calls_;  // seq -> framed record
  std::unordered_map<std::string, std::deque<uint64_t>>
      call_seqs_;  // identity -> seqs, oldest first
  std::map<uint64_t, LiveNote> live_notes_;
  std::unordered_map<std::string, std::deque<uint64_t>> note_seqs_;
  uint64_t live_bytes_ = 0;

  uint64_t records_ = 0, syncs_ = 0, write_errors_ = 0, unprotected_ = 0;
  uint64_t recovered_calls_ = 0, recovered_notes_ = 0, corrupt_records_ = 0, corrupt_bytes_ = 0;
  uint64_t compactions_ = 0;
};

// The notification as the journal keeps it (channels.h's JSON is one-way; this one reads back).
std::string notificationToJournalJson(const Notification& n);
std::optional<Notification> notificationFromJournalJson(std::string_view json);

}  // namespace mcn::notifier
