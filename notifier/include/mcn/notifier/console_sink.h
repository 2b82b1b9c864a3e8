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
  // Each call is the calls-out contract's object (calls::recordToJson).
  explicit JsonlSink(std::ostream& out) : out_(out) {}
  // One line: {"person":...,"channel":...,"idempotency_key":...,"calls":[...],"text":...}.
  // "channel" is the channel's id (its kind name if the id is empty). Flushed per line so a
  // reader sees whole notifications. Returns false if the stream failed.
  bool deliver(const Notification& n);

  // The line deliver() writes, without the newline.
  std::string toJson(const Notification& n) const;

 private:
  std::ostream& out_;
};

}  // namespace mcn::notifier
