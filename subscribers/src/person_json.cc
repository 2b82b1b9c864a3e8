#include "person_json.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "mcn/subscribers/error.h"
#include "mcn/subscribers/validate.h"

namespace mcn::subscribers::detail {

using nlohmann::json;

std::string personToJson(const Person& p) {
  json j;
  j["id"] = p.id;
  j["name"] = p.name;
  j["numbers"] = p.numbers;
  json chans = json::array();
  for (const Channel& c : p.channels) {
    json jc;
    jc["id"] = c.id;
    jc["kind"] = channelKindName(c.kind);
    jc["target"] = c.target;
    jc["target_ref"] = c.target_ref;
    jc["secret_ref"] = c.secret_ref;
    jc["options"] = c.options;
    chans.push_back(std::move(jc));
  }
  j["channels"] = std::move(chans);
  const Preferences& pr = p.prefs;
  json jp;
  if (pr.use_missed_flag) {
    jp["outcomes"] = nullptr;
  } else {
    json o = json::array();
    for (int i = 0; i < common::kOutcomeCount; ++i) {
      if (pr.outcomes[i]) o.push_back(common::outcomeName(static_cast<common::Outcome>(i)));
    }
    jp["outcomes"] = std::move(o);
  }
  jp["internal_calls"] = pr.internal_calls;
  jp["external_calls"] = pr.external_calls;
  jp["withheld_callers"] = pr.withheld_callers;
  if (pr.quiet_hours) {
    jp["quiet_hours"] = {
        {"start", formatClockMinutes(pr.quiet_hours->start_minute)},
        {"end", formatClockMinutes(pr.quiet_hours->end_minute)},
        {"action", pr.quiet_hours->action == QuietAction::kHold ? "hold" : "drop"}};
  } else {
    jp["quiet_hours"] = nullptr;
  }
  jp["min_ring_ms"] = pr.min_ring_ms;
  jp["merge_window_ms"] = pr.merge_window_ms;
  jp["time_zone"] = pr.time_zone;
  jp["language"] = pr.language;
  j["preferences"] = std::move(jp);
  return j.dump();
}

Person personFromJson(std::string_view text, std::string_view origin) {
  Person p;
  try {
    const json j = json::parse(text);
    p.id = j.at("id").get<std::string>();
    p.name = j.at("name").get<std::string>();
    p.numbers = j.at("numbers").get<std::vector<std::string>>();
    for (const json& jc : j.at("channels")) {
      Channel c;
      c.id = jc.at("id").get<std::string>();
      std::optional<ChannelKind> k = channelKindFromName(jc.at("kind").get<std::string>());
      if (!k) throw SubscriberError("unknown channel kind");
      c.kind = *k;
      c.target = jc.at("target").get<std::string>();
      c.target_ref = jc.at("target_ref").get<std::string>();
      c.secret_ref = jc.at("secret_ref").get<std::string>();
      c.options = jc.at("options").get<std::map<std::string, std::string>>();
      p.channels.push_back(std::move(c));
    }
    const json& jp = j.at("preferences");
    Preferences& pr = p.prefs;
    if (!jp.at("outcomes").is_null()) {
      pr.use_missed_flag = false;
      for (const json& o : jp.at("outcomes")) {
        std::optional<common::Outcome> oc = common::outcomeFromName(o.get<std::string>());
        if (!oc) throw SubscriberError("unknown outcome");
        pr.outcomes[static_cast<size_t>(*oc)] = true;
      }
    }
    pr.internal_calls = jp.at("internal_calls").get<bool>();
    pr.external_calls = jp.at("external_calls").get<bool>();
    pr.withheld_callers = jp.at("withheld_callers").get<bool>();
    if (!jp.at("quiet_hours").is_null()) {
      const json& q = jp.at("quiet_hours");
      std::optional<int> s = parseClockMinutes(q.at("start").get<std::string>());
      std::optional<int> e = parseClockMinutes(q.at("end").get<std::string>());
      const std::string a = q.at("action").get<std::string>();
      if (!s || !e || (a != "hold" && a != "drop")) throw SubscriberError("bad quiet_hours");
      pr.quiet_hours = QuietHours{*s, *e, a == "hold" ? QuietAction::kHold : QuietAction::kDrop};
    }
    pr.min_ring_ms = jp.at("min_ring_ms").get<int64_t>();
    pr.merge_window_ms = jp.at("merge_window_ms").get<int64_t>();
    pr.time_zone = jp.at("time_zone").get<std::string>();
    pr.language = jp.at("language").get<std::string>();
  } catch (const json::exception& e) {
    throw SubscriberError(fmt::format("{}: not a person record ({})", origin, e.what()));
  } catch (const SubscriberError& e) {
    throw SubscriberError(fmt::format("{}: not a person record ({})", origin, e.what()));
  }
  try {
    validatePerson(p);
  } catch (const SubscriberError& e) {
    throw SubscriberError(fmt::format("{}: {}", origin, e.what()));
  }
  return p;
}

}  // namespace mcn::subscribers::detail
