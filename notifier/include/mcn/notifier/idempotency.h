#pragma once
// The idempotency key of a notification: the same person told about the same set of calls gets
// the same key in every process and after every restart, so a receiver (webhook-id, SMS OutId,
// e-mail Message-ID) can drop the copies that at-least-once delivery produces.

#include <string>
#include <string_view>
#include <vector>

#include "mcn/calls/call_record.h"

namespace mcn::notifier {

// Lowercase hex of SHA-256 over: person_id '\n' then the sorted, de-duplicated Call-IDs joined by
// '\n' (no trailing newline); the first 32 hex characters (128 bits).
std::string idempotencyKey(std::string_view person_id, std::vector<std::string> call_ids);
std::string idempotencyKey(std::string_view person_id, const std::vector<calls::CallRecord>& calls);

// Full lowercase hex SHA-256 (64 characters).
std::string sha256Hex(std::string_view data);

}  // namespace mcn::notifier
