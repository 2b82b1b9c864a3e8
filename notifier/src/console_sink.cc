#include "mcn/notifier/console_sink.h"

#include <nlohmann/json.hpp>

#include "mcn/calls/record_json.h"

namespace mcn::notifier {

namespace {

// Invalid UTF-8 (a display name is the caller's choice) is replaced, never thrown on.
std::string quote(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string channelName(const subscribers::Channel& ch) {
  return ch.id.empty() ? subscribers::channelKindName(ch.kind) : ch.id;
}

}  // namespace

bool ConsoleSink::deliver(const Notification& n) {
  out_ << "=== " << n.title << " — " << (n.person_name.empty() ? n.person_id : n.person_name)
       << " [" << n.person_id << "] via " << channelName(n.channel) << " ===\n"
       << n.text << "\n\n";
  out_.flush();
  return static_cast<bool>(out_);
}

std::string JsonlSink::toJson(const Notification& n) const {
  // Built by hand to keep the contract's key order and to embed the record objects as given.
  std::string line = "{\"person\":" + quote(n.person_id) +
                     ",\"channel\":" + quote(channelName(n.channel)) +
                     ",\"idempotency_key\":" + quote(n.idempotency_key) + ",\"calls\":[";
  for (size_t i = 0; i < n.calls.size(); ++i) {
    if (i) line += ',';
    line += calls::recordToJson(n.calls[i]);
  }
  line += "],\"text\":" + quote(n.text) + "}";
  return line;
}

bool JsonlSink::deliver(const Notification& n) {
  out_ << toJson(n) << '\n';
  out_.flush();
  return static_cast<bool>(out_);
}

}  // namespace mcn::notifier
