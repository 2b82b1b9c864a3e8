#include "ladder_api.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mcn/app/explain.h"

namespace mcn::app {
namespace {

constexpr size_t kMaxLegs = 16;  // legs followed from the one asked for

ApiReply fail(int status, std::string_view why) {
  return ApiReply{status, nlohmann::json{{"error", why}}.dump(
                              -1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace

LadderApi::LadderApi(const Config& cfg, std::vector<const RecentMessages*> stores,
                     HistoryApi* history)
    : cfg_(cfg), stores_(std::move(stores)), history_(history) {}

ApiReply LadderApi::ladder(const std::string& call_id,
                           const std::vector<std::pair<std::string, std::string>>& params) {
  if (call_id.empty() || call_id.size() > 256 ||
      std::any_of(call_id.begin(), call_id.end(),
                  [](unsigned char c) { return c < 0x20 || c > 0x7e; })) {
    return fail(400, "call_id: 1 to 256 printable ASCII bytes");
  }
  bool text = false;
  if (params.size() > 1) return fail(400, "one parameter at most: format");
  for (const auto& [k, v] : params) {
    if (k != "format") {
      return fail(400, fmt::format("unknown parameter \"{}\"; known: format", k.substr(0, 32)));
    }
    if (v != "json" && v != "text") return fail(400, "format: \"json\" or \"text\"");
    text = v == "text";
  }
  // Every leg: the one asked for, then those its decided call linked (bounded).
  std::vector<capture::SipPayload> messages;
  std::vector<std::string> legs = {call_id};
  bool any = false;
  for (size_t i = 0; i < legs.size() && i < kMaxLegs; ++i) {
    for (const auto* s : stores_) any = s->collect(legs[i], messages, legs) || any;
  }
  auto known = [&] { return history_ != nullptr && history_->call(call_id).status == 200; };
  const std::string bounds = fmt::format(
      "the ladder keeps the SIP messages of the most recent calls only ([run] ladder_messages "
      "= {}, ladder_bytes = {}; ladder.evicted_calls)",
      cfg_.run.ladder_messages, cfg_.run.ladder_bytes);
  if (!any) {
    if (known()) {
      return fail(410,
                  "the call is in the history, but its SIP messages are no longer held: " + bounds);
    }
    return fail(404, "no SIP message with this Call-ID is held, and the history has no such call");
  }
  std::stable_sort(messages.begin(), messages.end(),
                   [](const auto& a, const auto& b) { return a.ts_us < b.ts_us; });
  std::ostringstream out, err;
  const int rc = explainPayloads(messages, cfg_, call_id, !text, out, err);
  if (rc != 0) {
    return fail(410, fmt::format("only part of this call's SIP messages is held ({} message(s)) "
                                 "and they make no call: {}",
                                 messages.size(), bounds));
  }
  return ApiReply{200, out.str()};
}

void LadderApi::addRoutes(httplib::Server& s) {
  s.Get(R"(/api/calls/(.+)/ladder)", [this](const httplib::Request& req, httplib::Response& res) {
    std::vector<std::pair<std::string, std::string>> params(req.params.begin(), req.params.end());
    ApiReply r = ladder(req.matches[1].str(), params);
    res.status = r.status;
    const bool text = r.status == 200 && req.get_param_value("format") == "text";
    res.set_content(r.body, text ? "text/plain; charset=utf-8" : "application/json");
  });
}

}  // namespace mcn::app
