#pragma once
// The embedded default channels: `console` (human text) and `jsonl` (one JSON object per
// notification, DESIGN.md "Output contract"). Synchronous: they write and return; the caller owns
// the stream (stdout, or a file it opened for appending).

#include <functional>
#include <ostream>
#include <string>

#include "mcn/calls/call_record.h"
#include "mcn/notifier/notification.h"

namespace mcn::notifier {

class ConsoleSink {
 public:
  explicit ConsoleSink(std::ostream& out) : out_(out) {}
  // Writes "=== <title> — <person name> [<person id>] via <channel id> ===\n<text>\n\n".
  // Returns false if the stream failed.
  bool deliver(const Notification& n);

 private:
  std::ostream& out_;
};

class JsonlSink {
 public:
  // notifier does not depend on app/: the caller supplies the CallRecord JSON of the calls-out
  // contract (app's recordToJson), one object without a trailing newline.
  using RecordJson = std::function<std::string(const calls::CallRecord&)>;

  JsonlSink(std::ostream& out, RecordJson record_json)
      : out_(out), record_json_(std::move(record_json)) {}
  // One line: {"person":...,"channel":...,"idempotency_key":...,"calls":[...],"text":...}.
  // "channel" is the channel's id (its kind name if the id is empty). Flushed per line so a
  // reader sees whole notifications. Returns false if the stream failed.
  bool deliver(const Notification& n);

  // The line deliver() writes, without the newline.
  std::string toJson(const Notification& n) const;

 private:
  std::ostream& out_;
  RecordJson record_json_;
};

}  // namespace mcn::notifier
