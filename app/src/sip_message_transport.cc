#include "sip_message_transport.h"

#include <memory>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "mcn/calls/record_json.h"
#include "mcn/sipua/message.h"

namespace mcn::app {

namespace {

struct Send {
  sipua::UserAgent* ua = nullptr;
  std::string to;
  std::string key;
  std::vector<std::string> parts;
  size_t next = 0;
  int timeout_ms = 10000;
  notifier::RequestTransport::Done done;
};

notifier::InboundResponse answerOf(const sipua::UserAgent::MessageResult& r) {
  notifier::InboundResponse out;
  if (r.status == 0) {  // nothing was sent or mcn is stopping: not an answer from the peer
    out.transport = notifier::TransportStatus::kOther;
    out.transport_error = r.phrase;
    return out;
  }
  out.status = r.status;
  out.body = r.phrase;
  if (r.retry_after_s) out.headers.push_back({"retry-after", std::to_string(*r.retry_after_s)});
  return out;
}

// Sends part `s->next`; its answer sends the following one (from the SIP thread) or ends the
// attempt. Returns the user agent's refusal, empty when queued.
std::string sendNext(const std::shared_ptr<Send>& s) {
  size_t i = s->next++;
  std::string key = s->parts.size() == 1 ? s->key : s->key + "/" + std::to_string(i + 1);
  return s->ua->message({s->to, s->parts[i], std::move(key), s->timeout_ms},
                        [s](const sipua::UserAgent::MessageResult& r) {
                          bool ok = r.status >= 200 && r.status < 300;
                          if (ok && s->next < s->parts.size()) {
                            std::string err = sendNext(s);
                            if (err.empty()) return;
                            notifier::InboundResponse failed;
                            failed.transport = notifier::TransportStatus::kOther;
                            failed.transport_error = err;
                            s->done(std::move(failed));
                            return;
                          }
                          s->done(answerOf(r));
                        });
}

}  // namespace

bool SipMessageTransport::start(const notifier::OutboundRequest& req, Done done,
                                std::string& error) {
  auto s = std::make_shared<Send>();
  s->ua = &ua_;
  s->to = req.url;
  for (const auto& h : req.headers) {
    if (h.name == sipua::kMessageKeyHeader) s->key = h.value;
  }
  s->parts = sipua::splitMessageBody(req.body);
  s->timeout_ms = timeout_ms_;
  s->done = std::move(done);
  error = sendNext(s);
  return error.empty();
}

std::string missedCallEventJson(const notifier::Notification& n) {
  nlohmann::ordered_json j;
  j["person"] = n.person_id;
  j["idempotency_key"] = n.idempotency_key;
  j["title"] = n.title;
  j["text"] = n.text;
  j["created_at"] = calls::isoTime(n.created_at_us);
  j["calls"] = nlohmann::ordered_json::array();
  for (const auto& c : n.calls) {
    j["calls"].push_back({{"call_id", c.call_id},
                          {"caller", c.caller_withheld ? std::string() : c.caller},
                          {"caller_name", c.caller_withheld ? std::string() : c.caller_name},
                          {"caller_withheld", c.caller_withheld},
                          {"callee", c.callee},
                          {"outcome", calls::outcomeName(c.outcome)},
                          {"started_at", calls::isoTime(c.started_at_us)},
                          {"ring_ms", c.ring_ms}});
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mcn::app
