#include "history_api.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "mcn/calls/record_json.h"
#include "mcn/common/outcome.h"

namespace mcn::app {
namespace {

using json = nlohmann::ordered_json;

constexpr size_t kMaxValue = 256;  // bytes of one parameter value
constexpr size_t kMaxParams = 16;

ApiReply fail(int status, std::string_view why) {
  return ApiReply{status, json{{"error", why}}.dump()};
}

// Printable ASCII only: numbers, person ids, Call-IDs (RFC 3261 §25.1 word characters) and
// outcome names all are.
bool printable(std::string_view v) {
  for (unsigned char c : v) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil).
int64_t daysFromCivil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int64_t>(era) * 146097 + doe - 719468;
}

json recordObject(const history::CallRow& row) {
  json j = json::parse(row.record_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) j = json::object();
  j["person"] = row.person_id.empty() ? json(nullptr) : json(row.person_id);
  return j;
}

}  // namespace

bool parseApiTime(std::string_view s, int64_t& us) {
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (s.size() < 20 || s.size() > 35) return false;
  if (!digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se)) {
    return false;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] ||
      (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 60) {
    return false;
  }
  size_t i = 19;
  int64_t frac_us = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    int64_t scale = 100000;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      frac_us += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start || i - start > 9) return false;
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !digits(s, i + 4, 2, om) || oh > 23 || om > 59) {
      return false;
    }
    offset_s = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return false;  // a time without its zone is ambiguous
  }
  if (i != s.size()) return false;
  int64_t secs = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + std::min(se, 59);
  us = (secs - offset_s) * 1'000'000 + frac_us;
  return true;
}

HistoryApi::HistoryApi(std::string path, const sipparse::DialPlanConfig& dial_plan)
    : path_(std::move(path)) {
  try {
    dial_plan_ = std::make_unique<sipparse::DialPlan>(dial_plan);
  } catch (const std::exception&) {
    dial_plan_.reset();  // the loader validated it already; searching raw numbers still works
  }
}

HistoryApi::~HistoryApi() = default;

history::HistoryStore* HistoryApi::store(ApiReply& reply) {
  if (!store_) {
    std::string err;
    store_ = history::HistoryStore::open(path_, /*read_only=*/true, err);
    if (!store_) {
      reply = fail(503, "call history unavailable: " + err);
      return nullptr;
    }
  }
  return store_.get();
}

ApiReply HistoryApi::search(const std::vector<std::pair<std::string, std::string>>& params) {
  static const std::vector<std::string> kKnown = {"number", "person", "call_id", "outcome",
                                                  "since",  "until",  "limit",   "cursor"};
  if (params.size() > kMaxParams) return fail(400, "too many parameters");
  history::Query q;
  q.limit = kDefaultLimit;
  std::map<std::string, std::string> seen;
  for (const auto& [k, v] : params) {
    if (std::find(kKnown.begin(), kKnown.end(), k) == kKnown.end()) {
      return fail(400, fmt::format("unknown parameter \"{}\"; known: number, person, call_id, "
                                   "outcome, since, until, limit, cursor",
                                   k.substr(0, 32)));
    }
    if (!seen.emplace(k, v).second) return fail(400, fmt::format("{} given twice", k));
    if (v.size() > kMaxValue)
      return fail(400, fmt::format("{}: longer than {} bytes", k, kMaxValue));
    if (!printable(v)) return fail(400, fmt::format("{}: only printable ASCII", k));
  }
  auto get = [&](const char* k) -> const std::string* {
    auto it = seen.find(k);
    return it == seen.end() || it->second.empty() ? nullptr : &it->second;
  };
  if (const auto* n = get("number")) {
    q.numbers.push_back(*n);
    if (dial_plan_) {
      std::string norm = dial_plan_->normalise(*n);
      if (!norm.empty() && norm != *n) q.numbers.push_back(norm);
    }
  }
  if (const auto* p = get("person")) q.person = *p;
  if (const auto* c = get("call_id")) q.call_id = *c;
  if (const auto* o = get("outcome")) {
    if (*o != "missed" && !common::outcomeFromName(*o)) {
      return fail(400, fmt::format("outcome: \"{}\" is not an outcome (answered, cancelled, busy, "
                                   "no_answer, ... or missed)",
                                   *o));
    }
    q.outcome = *o;
  }
  for (const char* k : {"since", "until"}) {
    if (const auto* t = get(k)) {
      int64_t us = 0;
      if (!parseApiTime(*t, us)) {
        return fail(400, fmt::format("{}: expected an RFC 3339 time such as "
                                     "2026-11-22T06:21:35Z",
                                     k));
      }
      (std::string_view(k) == "since" ? q.since_us : q.until_us) = us;
    }
  }
  if (q.since_us && q.until_us && *q.since_us >= *q.until_us) {
    return fail(400, "since must be before until");
  }
  if (const auto* l = get("limit")) {
    int v = 0;
    if (l->size() > 3 || !digits(*l, 0, l->size(), v) || v < 1 || v > kMaxLimit) {
      return fail(400, fmt::format("limit: a number from 1 to {}", kMaxLimit));
    }
    q.limit = v;
  }
  if (const auto* c = get("cursor")) q.cursor = *c;

  std::lock_guard lock(mu_);
  ApiReply reply;
  auto* st = store(reply);
  if (st == nullptr) return reply;
  history::Page page;
  std::string err;
  if (!st->search(q, page, err)) {
    if (err.rfind("cursor", 0) == 0) return fail(400, err);
    return fail(500, err);
  }
  json calls = json::array();
  for (const auto& row : page.rows) calls.push_back(recordObject(row));
  json out{{"calls", std::move(calls)},
           {"next_cursor", page.next_cursor.empty() ? json(nullptr) : json(page.next_cursor)}};
  return ApiReply{200, out.dump(-1, ' ', false, json::error_handler_t::replace)};
}

ApiReply HistoryApi::call(const std::string& call_id) {
  if (call_id.empty() || call_id.size() > kMaxValue || !printable(call_id)) {
    return fail(400, fmt::format("call_id: 1 to {} printable ASCII bytes", kMaxValue));
  }
  std::lock_guard lock(mu_);
  ApiReply reply;
  auto* st = store(reply);
  if (st == nullptr) return reply;
  history::CallDetail d;
  std::string err;
  if (!st->detail(call_id, d, err)) return fail(500, err);
  if (d.records.empty()) return fail(404, "no call with this Call-ID in the history");
  json records = json::array();
  for (const auto& row : d.records) records.push_back(recordObject(row));
  json notes = json::array();
  for (const auto& n : d.notifications) {
    json attempts = json::array();
    for (const auto& a : n.attempt_log) {
      attempts.push_back({{"at", calls::isoTime(a.at_us)},
                          {"ok", a.ok},
                          {"error", a.error.empty() ? json(nullptr) : json(a.error)}});
    }
    notes.push_back({{"idempotency_key", n.key},
                     {"person", n.person_id},
                     {"person_name", n.person_name},
                     {"channel", n.channel},
                     {"channel_kind", n.channel_kind},
                     {"status", n.status},
                     {"attempts", n.attempts},
                     {"reason", n.reason.empty() ? json(nullptr) : json(n.reason)},
                     {"last_error", n.last_error.empty() ? json(nullptr) : json(n.last_error)},
                     {"created_at", calls::isoTime(n.created_us)},
                     {"updated_at", calls::isoTime(n.updated_us)},
                     {"attempt_log", std::move(attempts)}});
  }
  json out{{"records", std::move(records)}, {"notifications", std::move(notes)}};
  return ApiReply{200, out.dump(-1, ' ', false, json::error_handler_t::replace)};
}

history::NotificationEvent historyEvent(const notifier::Notification& n,
                                        const notifier::DeliveryStep* step, int64_t now_us) {
  using K = history::NotificationEvent::Kind;
  history::NotificationEvent e;
  e.key = n.idempotency_key;
  e.channel = n.channel.id;
  e.channel_kind = subscribers::channelKindName(n.channel.kind);
  e.person_id = n.person_id;
  e.person_name = n.person_name;
  e.attempts = n.attempts;
  if (step == nullptr) {
    e.kind = K::kProduced;
    e.at_us = n.created_at_us != 0 ? n.created_at_us : now_us;
    for (const auto& c : n.calls) e.calls.emplace_back(c.call_id, c.callee);
    return e;
  }
  e.at_us = step->at_us;
  e.error = std::string(step->error);
  switch (step->kind) {
    case notifier::DeliveryStep::Kind::kAttempt:
      e.kind = K::kAttempt;
      e.ok = step->ok;
      break;
    case notifier::DeliveryStep::Kind::kDelivered:
      e.kind = K::kDelivered;
      e.ok = true;
      break;
    case notifier::DeliveryStep::Kind::kDeadLettered:
      e.kind = K::kDeadLettered;
      e.reason = std::string(step->reason);
      break;
  }
  return e;
}

}  // namespace mcn::app
