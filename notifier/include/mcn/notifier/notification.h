#pragma once
// The value between the merger and the delivery engine: one message for one person on one of
// their channels, covering one or more missed calls.

#include <cstdint>
#include <string>
#include <vector>

#include "mcn/calls/call_record.h"
#include "mcn/subscribers/directory.h"

namespace mcn::notifier {

struct Notification {
  std::string person_id;
  std::string person_name;
  subscribers::Channel channel;          // a copy: the snapshot may be replaced meanwhile
  std::string idempotency_key;           // stable for (person, set of Call-IDs): see idempotency.h
  std::vector<calls::CallRecord> calls;  // the missed calls this message covers, oldest first
  std::string title;                     // rendered, e.g. "未接来电 (3)" / "Missed calls (3)"
  std::string text;                      // rendered body (plain text / markdown per channel)
  int64_t created_at_us = 0;             // when the merge window closed
  int attempts = 0;                      // delivery attempts so far
};

}  // namespace mcn::notifier
