#pragma once
// `mcn replay`: the data path (app/src/pipeline.h) on packet time. Capture files -> decoder ->
// SIP parser -> call tracker -> JSON Lines and the missed-call sink. Deterministic: the clock is
// the capture timestamp.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "mcn/app/config.h"
#include "mcn/calls/call_record.h"
#include "mcn/calls/explain.h"
#include "mcn/history/stream.h"
#include "mcn/notifier/missed_call_sink.h"
#include "mcn/sipparse/sip_event.h"
#include "mcn/subscribers/directory.h"

namespace mcn::app {

struct ReplayOutputs {
  std::ostream* calls = nullptr;   // every record (JSON Lines); may be null
  std::ostream* events = nullptr;  // missed records only; may be null
  // With subscribers: notifications per person through their channels; console channels write
  // to `console`, and every delivered notification is one JSON line on `notify` (both may be
  // null).
  std::shared_ptr<const subscribers::Directory> subscribers{};
  std::ostream* console = nullptr;
  std::ostream* notify = nullptr;
  // Where missed records go instead of the subscribers' notifications (the scale-out probe's
  // Redis stream, notifier::StreamPublisherSink); its counters join the result's.
  notifier::MissedCallSink* missed_sink = nullptr;
  // `mcn explain` (explain.h): every parsed SIP message, before the tracker sees it, and traces
  // of the decided calls it asks for. Both empty on every other path.
  std::function<void(const sipparse::SipEvent&)> on_event{};
  calls::TraceHooks trace{};
  // Parse+track workers (`--threads`): 0 = defaultReplayThreads of the input's size; 1 = every
  // stage on the calling thread. More than 1 gives the same records in the same order and the
  // same counters (app/src/sharded_replay.h). Notifications (subscribers, missed_sink) and
  // explain's hooks run on one thread whatever is asked: their merge windows and traces follow
  // every frame's clock on the thread that decides the calls.
  uint32_t threads = 1;
  // With threads > 1: payloads between two of the workers' clock ticks (sharded_replay.h); 0 =
  // the default (2048). Tests use small ones so every fixture crosses many ticks.
  uint32_t tick = 0;
  // --history PATH: every record and notification (with its attempts) into the call history
  // store at PATH ([history] path ignored), without the retention delete: a replay of an old
  // capture keeps its calls. Empty: no history.
  std::string history_path{};
  // `--role probe` with [history] enabled: every record goes to the shared history stream
  // (history/stream.h, <prefix>:history) instead, published only (a replay keeps no replica).
  const history::HistoryStreamConfig* history_stream = nullptr;
};

struct ReplayResult {
  // Every counter of every stage, by stable name, zero values included, plus the replay's own:
  // "replay.files", "replay.frames", "replay.truncated_files", "replay.resync",
  // "replay.skipped_bytes", "replay.bad_blocks", "sip.method.<METHOD>",
  // "sip.status.<code>", "calls.outcome.<name>"; with --history, "history.*".
  std::map<std::string, uint64_t> counters;
  std::vector<std::string> errors;  // per-file problems (truncated file, unreadable file)
  uint64_t frames = 0;
  uint64_t sip_messages = 0;
  uint64_t records = 0;
  uint64_t missed = 0;
  uint64_t notifications = 0;       // delivered (with subscribers)
  bool deliveries_complete = true;  // false: some were still pending at the end (dead-lettered)
  double seconds = 0;               // wall time of the replay
  uint32_t threads = 1;             // parse+track workers used
};

// Throws std::runtime_error if a file cannot be opened (before anything is written).
// Several files are merged by capture timestamp, as mergecap would.
ReplayResult runReplay(const std::vector<std::string>& files, const Config& cfg,
                       const ReplayOutputs& out);

// `--threads 0`: the cores the process may use, at most 8, and only one more per 16 MiB of
// input (a small capture is done before the threads would pay for themselves). `bytes` < 0:
// unknown size (standard input).
uint32_t defaultReplayThreads(int64_t bytes);

// The human summary printed on stderr after a replay.
void printSummary(const ReplayResult& r, std::ostream& os);

}  // namespace mcn::app
