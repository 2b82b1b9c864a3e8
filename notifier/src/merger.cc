#include "mcn/notifier/merger.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <map>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "mcn/notifier/idempotency.h"

namespace mcn::notifier {

bool inQuietHours(const subscribers::QuietHours& q, const TimeZone& tz, int64_t utc_us) {
  if (q.start_minute == q.end_minute) return false;  // an empty range, not the whole day
  const int m = tz.toLocal(utc_us).minuteOfDay();
  if (q.start_minute < q.end_minute) return m >= q.start_minute && m < q.end_minute;
  return m >= q.start_minute || m < q.end_minute;  // wraps midnight
}

namespace {

// The first local `minute` instant after (or at, if `inclusive`) utc_us.
int64_t nextLocalMinute(const TimeZone& tz, int64_t utc_us, int minute, bool inclusive) {
  const LocalTime lt = tz.toLocal(utc_us);
  int64_t days = daysFromCivil(lt.year, lt.month, lt.day);
  for (int i = 0; i < 3; ++i, ++days) {
    int y = 0, mo = 0, d = 0;
    civilFromDays(days, y, mo, d);
    const int64_t t = tz.fromLocal(y, mo, d, minute);
    if (t > utc_us || (inclusive && t == utc_us)) return t;
  }
  // Only reachable with a broken zone; never return a time in the past.
  return utc_us + 60 * 1000000LL;
}

}  // namespace

int64_t quietHoursEnd(const subscribers::QuietHours& q, const TimeZone& tz, int64_t utc_us) {
  return nextLocalMinute(tz, utc_us, q.end_minute, false);
}

int64_t quietHoursStart(const subscribers::QuietHours& q, const TimeZone& tz, int64_t utc_us) {
  return nextLocalMinute(tz, utc_us, q.start_minute, true);
}

WindowDeadline windowDeadline(const subscribers::Preferences& prefs, const TimeZone& tz,
                              int64_t opened_us) {
  WindowDeadline d;
  d.at_us = opened_us + std::max<int64_t>(prefs.merge_window_ms, 0) * 1000;
  const auto& quiet = prefs.quiet_hours;
  if (!quiet) return d;
  if (quiet->action == subscribers::QuietAction::kHold) {
    if (inQuietHours(*quiet, tz, d.at_us)) {
      d.at_us = quietHoursEnd(*quiet, tz, d.at_us);
      d.held = true;
    }
  } else {
    d.at_us = std::min(d.at_us, quietHoursStart(*quiet, tz, opened_us));
  }
  return d;
}

namespace {

enum Counter : size_t {
  kMissedIn,
  kUnknownNumber,
  kFilteredOutcome,
  kFilteredWithheld,
  kFilteredInternal,
  kFilteredExternal,
  kFilteredMinRing,
  kQuietDropped,
  kQuietHeld,
  kAccepted,
  kSameCallMerged,
  kDuplicates,
  kWindowsOpened,
  kWindowsClosed,
  kWindowsFull,
  kWindowsEvicted,
  kPersonGone,
  kNoChannel,
  kBadTimeZone,
  kNotifications,
  kCounterCount,
};

constexpr std::array<const char*, kCounterCount> kCounterNames = {
    "notifier.missed_in",         "notifier.unknown_number",    "notifier.filtered_outcome",
    "notifier.filtered_withheld", "notifier.filtered_internal", "notifier.filtered_external",
    "notifier.filtered_min_ring", "notifier.quiet_dropped",     "notifier.quiet_held",
    "notifier.accepted",          "notifier.same_call_merged",  "notifier.duplicates",
    "notifier.windows_opened",    "notifier.windows_closed",    "notifier.windows_full",
    "notifier.windows_evicted",   "notifier.person_gone",       "notifier.no_channel",
    "notifier.bad_time_zone",     "notifier.notifications",
};

// One call to the person: the records of one Call-ID / correlation key, one per number it rang.
struct Entry {
  std::vector<calls::CallRecord> records;
  std::vector<std::string> call_ids;
  std::optional<std::string> correlation;

  bool sameCall(const calls::CallRecord& r) const {
    if (std::find(call_ids.begin(), call_ids.end(), r.call_id) != call_ids.end()) return true;
    return correlation && r.correlation && !r.correlation->empty() &&
           *correlation == *r.correlation;
  }
};

struct Window {
  std::string person_id;
  int64_t deadline_us = 0;
  uint64_t generation = 0;  // bumped when the deadline moves: older heap items are stale
  bool open = true;         // still accepting calls (else closed and held for quiet hours)
  bool held = false;        // its emission is delayed by quiet hours
  std::vector<Entry> entries;
};

struct HeapItem {
  int64_t deadline_us;
  uint64_t window_id;
  uint64_t generation;
  bool operator>(const HeapItem& o) const {
    if (deadline_us != o.deadline_us) return deadline_us > o.deadline_us;
    return window_id > o.window_id;  // equal deadlines close in opening order
  }
};

}  // namespace

struct Merger::Impl {
  MergerConfig cfg;
  std::shared_ptr<const subscribers::Directory> dir;
  const Clock& clock;
  Templates templates;
  std::function<std::string(const std::string&, const std::string&)> link_maker;
  Sink sink;
  ClosedHook closed_hook;

  std::array<uint64_t, kCounterCount> counters{};
  std::unordered_map<uint64_t, Window> windows;
  std::unordered_map<std::string, uint64_t> open_by_person;
  std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<>> heap;
  uint64_t next_id = 1;
  // Zones by name for this merger (nullptr cached too: a bad name is looked up once).
  std::map<std::string, std::shared_ptr<const TimeZone>, std::less<>> zones;

  Impl(MergerConfig c, std::shared_ptr<const subscribers::Directory> d, const Clock& k, Templates t,
       Sink s)
      : cfg(c), dir(std::move(d)), clock(k), templates(std::move(t)), sink(std::move(s)) {
    if (cfg.max_open_windows == 0) cfg.max_open_windows = 1;
    if (cfg.max_calls_per_window == 0) cfg.max_calls_per_window = 1;
  }

  const TimeZone& zone(const subscribers::Person& p, bool count) {
    auto it = zones.find(p.prefs.time_zone);
    if (it == zones.end()) {
      it = zones.emplace(p.prefs.time_zone, TimeZone::find(p.prefs.time_zone)).first;
    }
    if (it->second) return *it->second;
    if (count) ++counters[kBadTimeZone];
    return *TimeZone::utc();
  }

  void push(uint64_t id, const Window& w) { heap.push({w.deadline_us, id, w.generation}); }

  bool stale(const HeapItem& h) const {
    auto it = windows.find(h.window_id);
    return it == windows.end() || it->second.generation != h.generation;
  }

  void dropStaleTop() {
    while (!heap.empty() && stale(heap.top())) heap.pop();
  }

  // Early closes leave items behind in the heap; rebuild it before it grows past the windows.
  void compactHeap() {
    if (heap.size() <= 2 * windows.size() + 64) return;
    decltype(heap) fresh;
    for (const auto& [id, w] : windows) fresh.push({w.deadline_us, id, w.generation});
    heap.swap(fresh);
  }

  bool filtered(const subscribers::Person& p, const calls::CallRecord& r) {
    const auto& prefs = p.prefs;
    const auto oi = static_cast<size_t>(r.outcome);
    const bool wanted =
        prefs.use_missed_flag ? r.missed : (oi < prefs.outcomes.size() && prefs.outcomes[oi]);
    if (!wanted) {
      ++counters[kFilteredOutcome];
      return true;
    }
    const bool withheld = r.caller_withheld || r.caller.empty();
    if (withheld) {
      if (!prefs.withheld_callers) {
        ++counters[kFilteredWithheld];
        return true;
      }
    } else {
      const bool internal = dir->findByNumber(r.caller) != nullptr;
      if (internal && !prefs.internal_calls) {
        ++counters[kFilteredInternal];
        return true;
      }
      if (!internal && !prefs.external_calls) {
        ++counters[kFilteredExternal];
        return true;
      }
    }
    // Ring time only means something for a call the caller gave up on: busy and forwarded-on-busy
    // calls never ring, no-answer ones rang to the timeout.
    if (r.outcome == calls::Outcome::kCancelled && r.ring_ms < prefs.min_ring_ms) {
      ++counters[kFilteredMinRing];
      return true;
    }
    return false;
  }

  bool onMissedCall(const calls::CallRecord& r) {
    ++counters[kMissedIn];
    const subscribers::Person* p = dir ? dir->findByNumber(r.callee) : nullptr;
    if (!p) {
      ++counters[kUnknownNumber];
      return false;
    }
    if (filtered(*p, r)) return false;

    const int64_t now = clock.nowUs();
    const TimeZone& tz = zone(*p, true);
    const auto& quiet = p->prefs.quiet_hours;
    if (quiet && quiet->action == subscribers::QuietAction::kDrop &&
        inQuietHours(*quiet, tz, now)) {
      ++counters[kQuietDropped];
      return false;
    }

    if (auto it = open_by_person.find(p->id);
        it != open_by_person.end() && windows.at(it->second).deadline_us < now) {
      // The window is over even if advanceTo() has not said so yet: this call opens the next one.
      close(it->second, now, false);
    }
    if (auto it = open_by_person.find(p->id); it != open_by_person.end()) {
      const uint64_t id = it->second;
      Window& w = windows.at(id);
      for (Entry& e : w.entries) {
        if (!e.sameCall(r)) continue;
        const auto same_number = [&](const calls::CallRecord& x) { return x.callee == r.callee; };
        const auto dup = std::find_if(e.records.begin(), e.records.end(), same_number);
        if (dup == e.records.end()) {
          // The same call rang another of the person's numbers: one entry naming both.
          e.records.push_back(r);
          if (std::find(e.call_ids.begin(), e.call_ids.end(), r.call_id) == e.call_ids.end()) {
            e.call_ids.push_back(r.call_id);
          }
          if (!e.correlation && r.correlation && !r.correlation->empty())
            e.correlation = r.correlation;
          ++counters[kSameCallMerged];
          ++counters[kAccepted];
          return true;
        }
        if (dup->started_at_us == r.started_at_us) {
          // Redelivered record (at-least-once hand-off upstream): already in the message.
          ++counters[kDuplicates];
          return false;
        }
        // Same Call-ID and number but another start: the Call-ID was reused for a new call.
        break;
      }
      addEntry(w, r);
      ++counters[kAccepted];
      if (w.held) ++counters[kQuietHeld];
      if (w.entries.size() >= cfg.max_calls_per_window) {
        ++counters[kWindowsFull];
        close(id, now, false);
      }
      return true;
    }

    if (windows.size() >= cfg.max_open_windows) evictOne(now);

    const uint64_t id = next_id++;
    Window w;
    w.person_id = p->id;
    const WindowDeadline deadline = windowDeadline(p->prefs, tz, now);
    w.deadline_us = deadline.at_us;
    w.held = deadline.held;
    addEntry(w, r);
    ++counters[kWindowsOpened];
    ++counters[kAccepted];
    if (w.held) ++counters[kQuietHeld];
    push(id, w);
    windows.emplace(id, std::move(w));
    open_by_person[p->id] = id;
    compactHeap();
    if (cfg.max_calls_per_window <= 1) {
      ++counters[kWindowsFull];
      close(id, now, false);
    }
    return true;
  }

  static void addEntry(Window& w, const calls::CallRecord& r) {
    Entry e;
    e.records.push_back(r);
    e.call_ids.push_back(r.call_id);
    if (r.correlation && !r.correlation->empty()) e.correlation = r.correlation;
    w.entries.push_back(std::move(e));
  }

  void evictOne(int64_t now) {
    dropStaleTop();
    if (heap.empty()) return;
    const uint64_t id = heap.top().window_id;
    heap.pop();
    ++counters[kWindowsEvicted];
    close(id, now, true);
  }

  // Close window `id` at `now`. Unless `force`, a person holding messages during quiet hours gets
  // it at their end instead.
  void close(uint64_t id, int64_t now, bool force) {
    auto wit = windows.find(id);
    assert(wit != windows.end());
    Window& w = wit->second;
    if (w.open) {
      auto oit = open_by_person.find(w.person_id);
      if (oit != open_by_person.end() && oit->second == id) open_by_person.erase(oit);
      w.open = false;
    }
    const subscribers::Person* p = dir ? dir->findById(w.person_id) : nullptr;
    if (!p) {
      // Unsubscribed meanwhile: their calls are not ours to tell any more.
      counters[kPersonGone] += w.entries.size();
      if (closed_hook) closed_hook(recordsOf(w));
      windows.erase(wit);
      return;
    }
    const TimeZone& tz = zone(*p, false);
    const auto& quiet = p->prefs.quiet_hours;
    if (!force && quiet && quiet->action == subscribers::QuietAction::kHold &&
        inQuietHours(*quiet, tz, now)) {
      if (!w.held) counters[kQuietHeld] += w.entries.size();
      w.held = true;
      w.deadline_us = quietHoursEnd(*quiet, tz, now);
      ++w.generation;
      push(id, w);
      return;
    }
    // The hook hears of the records after their notifications were made (emit() moves them).
    std::vector<calls::CallRecord> records;
    if (closed_hook) records = recordsOf(w);
    emit(*p, tz, w, now);
    ++counters[kWindowsClosed];
    if (closed_hook) closed_hook(records);
    windows.erase(wit);
  }

  static std::vector<calls::CallRecord> recordsOf(const Window& w) {
    std::vector<calls::CallRecord> all;
    for (const Entry& e : w.entries) all.insert(all.end(), e.records.begin(), e.records.end());
    return all;
  }

  void emit(const subscribers::Person& p, const TimeZone& tz, Window& w, int64_t now) {
    if (p.channels.empty()) {
      ++counters[kNoChannel];
      return;
    }
    std::vector<std::vector<calls::CallRecord>> grouped;
    std::vector<calls::CallRecord> records;
    grouped.reserve(w.entries.size());
    for (Entry& e : w.entries) {
      records.insert(records.end(), e.records.begin(), e.records.end());
      grouped.push_back(std::move(e.records));
    }
    std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
      return a.started_at_us < b.started_at_us;
    });
    const std::string key = idempotencyKey(p.id, records);
    MessageModel model = buildMessageModel(p.name.empty() ? p.id : p.name, grouped);
    if (link_maker) {
      for (CallerSummary* s : {&model.all}) {
        if (!s->withheld && !s->caller.empty()) s->callback_link = link_maker(p.id, s->caller);
      }
      for (CallerSummary& s : model.callers) {
        if (!s.withheld && !s.caller.empty()) s.callback_link = link_maker(p.id, s.caller);
      }
    }
    std::array<std::optional<RenderedMessage>, kMessageFormatCount> rendered;
    for (const auto& ch : p.channels) {
      const MessageFormat f = formatFor(ch.kind);
      auto& r = rendered[static_cast<size_t>(f)];
      if (!r) r = templates.render(model, tz, p.prefs.language, f);
      Notification n;
      n.person_id = p.id;
      n.person_name = p.name;
      n.channel = ch;
      n.idempotency_key = key;
      n.calls = records;
      n.title = r->title;
      n.text = r->text;
      n.created_at_us = now;
      ++counters[kNotifications];
      sink(std::move(n));
    }
  }

  void advanceTo(int64_t now) {
    for (;;) {
      dropStaleTop();
      if (heap.empty() || heap.top().deadline_us > now) return;
      const uint64_t id = heap.top().window_id;
      heap.pop();
      close(id, now, false);
    }
  }

  void flush() {
    const int64_t now = clock.nowUs();
    for (;;) {
      dropStaleTop();
      if (heap.empty()) break;
      const uint64_t id = heap.top().window_id;
      heap.pop();
      close(id, now, true);
    }
    assert(windows.empty());
  }
};

Merger::Merger(MergerConfig cfg, std::shared_ptr<const subscribers::Directory> directory,
               const Clock& clock, Templates templates, Sink sink)
    : impl_(std::make_unique<Impl>(cfg, std::move(directory), clock, std::move(templates),
                                   std::move(sink))) {}

Merger::~Merger() = default;

void Merger::setTemplates(Templates templates) { impl_->templates = std::move(templates); }

void Merger::setLinkMaker(std::function<std::string(const std::string&, const std::string&)> fn) {
  impl_->link_maker = std::move(fn);
}

void Merger::setConfig(MergerConfig cfg) {
  if (cfg.max_open_windows == 0) cfg.max_open_windows = 1;
  if (cfg.max_calls_per_window == 0) cfg.max_calls_per_window = 1;
  impl_->cfg = cfg;
}

void Merger::setDirectory(std::shared_ptr<const subscribers::Directory> directory) {
  impl_->dir = std::move(directory);
}

bool Merger::onMissedCall(const calls::MissedCall& call) { return impl_->onMissedCall(call); }

void Merger::setClosedHook(ClosedHook hook) { impl_->closed_hook = std::move(hook); }

void Merger::advanceTo(int64_t now_us) { impl_->advanceTo(now_us); }

void Merger::flush() { impl_->flush(); }

std::optional<int64_t> Merger::nextDeadlineUs() {
  impl_->dropStaleTop();
  if (impl_->heap.empty()) return std::nullopt;
  return impl_->heap.top().deadline_us;
}

size_t Merger::openWindows() const { return impl_->windows.size(); }

void Merger::forEachCounter(
    const std::function<void(std::string_view name, uint64_t value)>& fn) const {
  for (size_t i = 0; i < kCounterCount; ++i) fn(kCounterNames[i], impl_->counters[i]);
}

}  // namespace mcn::notifier
