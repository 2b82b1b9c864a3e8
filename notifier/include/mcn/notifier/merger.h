#pragma once
// MissedCall -> person -> per-person merge window -> one Notification per channel of the person.
//
// Per record: the callee's person (unknown numbers are counted, never notified), then their
// Preferences, in this order: outcome (or the record's `missed` flag), withheld caller, internal
// vs external caller (internal = the caller's number belongs to any subscriber; a withheld caller
// is neither), minimum ring time (cancelled calls only: a busy or forwarded-on-busy call never
// rang), quiet hours with action `drop` (a call arriving inside them is dropped).
//
// The merge window opens at the person's first accepted call (Clock time) and closes
// `merge_window_ms` later (0: due at once, emitted by the next advanceTo(), so the records of one
// call that arrive together still make one message). Records of one call (same Call-ID or same
// correlation key, different callee) are one entry naming those numbers; the message counts calls
// per caller. Quiet hours, in the person's IANA zone:
//   hold: a window that would close inside them closes at their end instead (so a night's calls
//         make one message at the end), and a window closed early inside them (bounds) is held
//         until their end;
//   drop: calls arriving inside them are dropped; a window opened before them closes no later
//         than their start.
// Closed windows are rendered with the person's current snapshot (channels, language, zone).
//
// advanceTo() closes due windows (a min-heap of deadlines, no scan); flush() closes everything,
// quiet hours or not (end of replay, shutdown). onMissedCall() emits only when a bound is hit or
// when the person's window is already past its deadline (strictly before the call's Clock time:
// a call at the very deadline instant still joins if advanceTo() has not closed it yet).
// Single-threaded: the notifier thread owns it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "mcn/calls/call_record.h"
#include "mcn/notifier/clock.h"
#include "mcn/notifier/notification.h"
#include "mcn/notifier/templates.h"
#include "mcn/subscribers/directory.h"

namespace mcn::notifier {

struct MergerConfig {
  // Open plus quiet-held windows. Opening one more first closes the window due soonest, now
  // (notifier.windows_evicted): a bound never loses a call, it only sends it early.
  size_t max_open_windows = 100000;
  // Calls (entries) in one window; the call that reaches it closes the window early
  // (notifier.windows_full) and the person's next call opens a new one.
  size_t max_calls_per_window = 50;

  bool operator==(const MergerConfig&) const = default;
};

class Merger {
 public:
  using Sink = std::function<void(Notification&&)>;

  // `clock` must outlive the merger.
  Merger(MergerConfig cfg, std::shared_ptr<const subscribers::Directory> directory,
         const Clock& clock, Templates templates, Sink sink);
  ~Merger();
  Merger(const Merger&) = delete;
  Merger& operator=(const Merger&) = delete;

  // A refreshed snapshot: later calls and every window closed from now on use it.
  void setDirectory(std::shared_ptr<const subscribers::Directory> directory);
  // SIGHUP: new templates and bounds for windows closed from now on (open windows are kept; a
  // lower max_open_windows is reached as windows close).
  void setTemplates(Templates templates);
  // Makes {callback_link} (person id, caller number -> URL, "" for none); none by default.
  void setLinkMaker(std::function<std::string(const std::string&, const std::string&)> fn);
  void setConfig(MergerConfig cfg);

  // True when the record is now in a window (or was sent with it at once); false when it was
  // left out (unknown number, preferences, quiet hours that drop, an exact repeat).
  bool onMissedCall(const calls::MissedCall& call);

  // Called when a window is gone (sent, after its notifications went to the sink; or its person
  // left the directory) with the records it held: the durable outbox forgets them (outbox.h).
  using ClosedHook = std::function<void(const std::vector<calls::CallRecord>& records)>;
  void setClosedHook(ClosedHook hook);

  // Close every window due at or before now_us (emitting one Notification per channel).
  void advanceTo(int64_t now_us);
  // Close all windows now (Clock time), including quiet-held ones.
  void flush();

  // When advanceTo() next has work (the earliest deadline), for the caller's poll timeout.
  std::optional<int64_t> nextDeadlineUs();
  size_t openWindows() const;

  // Stable counter names in a fixed order, zero values included: notifier.missed_in,
  // notifier.unknown_number, notifier.filtered_outcome, notifier.filtered_withheld,
  // notifier.filtered_internal, notifier.filtered_external, notifier.filtered_min_ring,
  // notifier.quiet_dropped, notifier.quiet_held, notifier.accepted, notifier.same_call_merged,
  // notifier.duplicates, notifier.windows_opened, notifier.windows_closed, notifier.windows_full,
  // notifier.windows_evicted, notifier.person_gone, notifier.no_channel, notifier.bad_time_zone,
  // notifier.notifications.
  void forEachCounter(const std::function<void(std::string_view name, uint64_t value)>& fn) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Quiet-hours arithmetic, public for tests. `q` in local minutes of `tz`.
bool inQuietHours(const subscribers::QuietHours& q, const TimeZone& tz, int64_t utc_us);
// The first instant after utc_us at which the quiet hours end (local end_minute:00).
int64_t quietHoursEnd(const subscribers::QuietHours& q, const TimeZone& tz, int64_t utc_us);
// The first instant at or after utc_us at which the quiet hours start.
int64_t quietHoursStart(const subscribers::QuietHours& q, const TimeZone& tz, int64_t utc_us);

// When a window a person opens at `opened_us` closes: after their merge window; with quiet
// hours that hold, moved to the end of the quiet hours it would fall into (held); with quiet
// hours that drop, cut at their next start. The one rule for the local merger and the Redis
// streams notifier (stream_bus.cc).
struct WindowDeadline {
  int64_t at_us = 0;
  bool held = false;
};
WindowDeadline windowDeadline(const subscribers::Preferences& prefs, const TimeZone& tz,
                              int64_t opened_us);

}  // namespace mcn::notifier
