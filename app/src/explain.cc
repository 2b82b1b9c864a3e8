#include "mcn/app/explain.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mcn/app/config.h"
#include "mcn/app/replay.h"
#include "mcn/calls/explain.h"
#include "mcn/calls/record_json.h"
#include "mcn/sipparse/dial_plan.h"
#include "pipeline.h"

namespace mcn::app {
namespace {

constexpr int kExitNotFound = 1;
constexpr int kExitRuntime = 1;  // writing the output failed
constexpr int kExitUsage = 2;
constexpr size_t kWidth = 100;  // text lines wrap here (a 100-column terminal)
constexpr int64_t kNoTime = std::numeric_limits<int64_t>::max();
// Bounds, so a selection that matches most of a day's capture cannot take all memory: the calls
// beyond are counted and said, the messages beyond a call's first ones too.
constexpr size_t kMaxCalls = 1000;
constexpr size_t kMaxMessages = 2000;

// One line of the ladder: a SIP message of the call as captured.
struct Message {
  int64_t ts_us = 0;
  int leg = 0;   // index into the trace's call_ids
  int hop = -1;  // index into the trace's hops; -1: not an INVITE/CANCEL transaction message
  std::string src;
  std::string dst;
  capture::Transport transport = capture::Transport::kUdp;
  bool is_request = false;
  std::string method;  // requests
  std::string ruri;    // requests
  int status = 0;      // responses
  std::string phrase;  // responses
  uint32_t cseq = 0;
  std::string cseq_method;
  std::string branch;
  int via_count = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // the ones that matter, in order
  const char* repeat = nullptr;  // "duplicate" | "retransmission" (calls/RULES.md terms)
  bool after_decision = false;   // seen while the decided call lingered
};

struct Explained {
  calls::CallTrace trace;
  size_t messages_left_out = 0;  // beyond kMaxMessages
  int64_t from_us = 0;           // the ladder's window: the call's first message ..
  int64_t until_us = 0;  // .. the end of its linger, or the next call on one of its Call-IDs
  std::vector<Message> messages;
  std::vector<std::string> hop_branch;                // per hop, from its messages
  std::vector<std::pair<std::string, int64_t>> seen;  // message key -> last copy
  int64_t started_us() const { return trace.records.front().started_at_us; }
};

std::string nameAddr(const sipparse::NameAddr& na) {
  return na.display.empty() ? fmt::format("<{}>", na.uri)
                            : fmt::format("\"{}\" <{}>", na.display, na.uri);
}

// The headers calls/RULES.md reads, rebuilt from the parsed message (the capture has the
// originals; these are what the tracker understood of them).
std::vector<std::pair<std::string, std::string>> headersOf(const sipparse::SipEvent& ev,
                                                           const std::string& correlation_header) {
  std::vector<std::pair<std::string, std::string>> h;
  if (ev.is_request && ev.method == sipparse::Method::kInvite) {
    h.emplace_back("From", nameAddr(ev.from));
    h.emplace_back("To", nameAddr(ev.to));
  }
  for (const auto& p : ev.pai) h.emplace_back("P-Asserted-Identity", nameAddr(p));
  if (ev.p_called_party_id) h.emplace_back("P-Called-Party-ID", nameAddr(*ev.p_called_party_id));
  if (!ev.privacy.empty()) {
    std::string v;
    for (const auto& t : ev.privacy) v += (v.empty() ? "" : ";") + t;
    h.emplace_back("Privacy", v);
  }
  for (const auto& d : ev.diversion) {
    std::string v = fmt::format("<{}>", d.target.uri);
    if (!d.reason.empty()) v += ";reason=" + d.reason;
    if (d.counter != 0) v += fmt::format(";counter={}", d.counter);
    h.emplace_back("Diversion", v);
  }
  for (const auto& e : ev.history_info) {
    std::string v = fmt::format("<{}>", e.target.uri);
    if (!e.index.empty()) v += ";index=" + e.index;
    // The cause is usually a URI parameter (RFC 4458), shown above; else it came from a Reason
    // escaped in the URI (RFC 7044).
    if (e.cause != 0 && e.target.uri.find("cause=") == std::string::npos) {
      v += fmt::format(" (cause {})", e.cause);
    }
    h.emplace_back("History-Info", v);
  }
  for (const auto& r : ev.reasons) {
    std::string v = fmt::format("{};cause={}", r.protocol, r.cause);
    if (!r.text.empty()) v += fmt::format(";text=\"{}\"", r.text);
    h.emplace_back("Reason", v);
  }
  if (!ev.icid.empty()) h.emplace_back("P-Charging-Vector", "icid-value=" + ev.icid);
  if (!ev.correlation.empty() && !correlation_header.empty()) {
    h.emplace_back(correlation_header, ev.correlation);
  }
  return h;
}

// RULES.md: the same message again (Call-ID, method or status, CSeq, top Via branch and count,
// To tag) is a duplicated frame within duplicate_window_ms of its last copy, else a
// retransmission.
const char* repeatOf(Explained& x, const sipparse::SipEvent& ev, int64_t window_us) {
  std::string key =
      fmt::format("{}|{}|{}|{}|{}|{}|{}", ev.call_id,
                  ev.is_request ? ev.method_name : std::to_string(ev.status), ev.cseq,
                  sipparse::methodName(ev.cseq_method), ev.via_branch, ev.via_count, ev.to.tag);
  for (auto& [k, last] : x.seen) {
    if (k != key) continue;
    const bool dup = ev.ts_us - last <= window_us;
    if (!dup) last = ev.ts_us;
    return dup ? "duplicate" : "retransmission";
  }
  x.seen.emplace_back(std::move(key), ev.ts_us);
  return nullptr;
}

void addMessage(Explained& x, const sipparse::SipEvent& ev, const Config& cfg) {
  if (x.messages.size() >= kMaxMessages) {
    ++x.messages_left_out;
    return;
  }
  const auto& ids = x.trace.call_ids;
  const int leg = static_cast<int>(std::find(ids.begin(), ids.end(), ev.call_id) - ids.begin());
  Message m;
  m.ts_us = ev.ts_us;
  m.leg = leg;
  const uint64_t key = calls::hopBranchKey(ev.via_branch, ev.via_count);
  for (size_t i = 0; i < x.trace.hops.size(); ++i) {
    const calls::HopTrace& h = x.trace.hops[i];
    if (h.leg == leg && h.branch_key == key && h.cseq == ev.cseq) {
      m.hop = static_cast<int>(i);
      if (x.hop_branch[i].empty()) x.hop_branch[i] = ev.via_branch;
      break;
    }
  }
  m.src = ev.src.toString();
  m.dst = ev.dst.toString();
  m.transport = ev.transport;
  m.is_request = ev.is_request;
  if (ev.is_request) {
    m.method = ev.method_name;
    m.ruri = ev.request_uri.uri;
  } else {
    m.status = ev.status;
    m.phrase = ev.phrase;
  }
  m.cseq = ev.cseq;
  m.cseq_method = sipparse::methodName(ev.cseq_method);
  m.branch = ev.via_branch;
  m.via_count = ev.via_count;
  m.headers = headersOf(ev, cfg.parser.correlation_header);
  m.repeat = repeatOf(x, ev, cfg.tracker.duplicate_window_ms * 1000);
  m.after_decision = ev.ts_us > x.trace.decided_us;
  x.messages.push_back(std::move(m));
}

// ---- text ----

// `first_prefix` then `text` folded at kWidth, every line after the first indented by `indent`
// spaces (a prefix not ending in a space gets one).
void putWrapped(std::ostream& os, std::string_view first_prefix, std::string_view text,
                size_t indent) {
  std::string line(first_prefix);
  if (!line.empty() && line.back() != ' ') line += ' ';
  size_t start = line.size();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t sp = text.find(' ', pos);
    if (sp == std::string_view::npos) sp = text.size();
    const std::string_view word = text.substr(pos, sp - pos);
    if (line.size() > start && line.size() + 1 + word.size() > kWidth) {
      os << line << '\n';
      line.assign(indent, ' ');
      start = line.size();
    } else if (line.size() > start) {
      line += ' ';
    }
    line += word;
    pos = sp + 1;
  }
  os << line << '\n';
}

std::string clock(int64_t ts_us) { return calls::isoTime(ts_us).substr(11, 12); }  // HH:MM:SS.mmm

std::string hopName(int i) { return i < 0 ? "-" : fmt::format("H{}", i + 1); }
std::string legName(int i) { return fmt::format("L{}", i + 1); }

std::string inQuotes(std::string_view s) { return fmt::format("\"{}\"", s); }

const char* decidedText(calls::DecidedBy d) {
  switch (d) {
    case calls::DecidedBy::kTimer:
      return "every hop ended (final response, CANCEL, deadline or upstream) and the grace "
             "(calls.grace_ms, after a 3xx calls.grace_after_3xx_ms; after a challenge "
             "calls.auth_retry_ms) passed";
    case calls::DecidedBy::kEvicted:
      return "decided early: calls.max_calls open calls were reached (calls.evicted)";
    case calls::DecidedBy::kEndOfInput:
      return "the input ended: every open call is decided then";
  }
  return "";
}

std::string hopFacts(const Explained& x, size_t i) {
  const calls::HopTrace& h = x.trace.hops[i];
  std::vector<std::string> f;
  if (!h.has_invite) f.emplace_back("its INVITE was not seen");
  if (h.retargeted) f.emplace_back("retargeted (Diversion/History-Info)");
  if (h.voicemail) f.emplace_back("voicemail identity (calls.voicemail)");
  if (h.aggregate) {
    f.push_back(fmt::format("aggregate: {} went on to {}, so it counts for no number",
                            hopName(h.aggregate_of), x.trace.hops[h.aggregate_of].target));
  }
  if (h.final_status != 0) {
    std::string s = fmt::format("final {}", h.final_status);
    if (!h.final_text.empty()) s += " " + inQuotes(h.final_text);
    if (h.relayed) s += fmt::format(" relayed from {}", hopName(h.relayed_from));
    f.push_back(std::move(s));
  } else {
    f.emplace_back("no final response");
  }
  if (h.superseded) f.push_back("superseded by " + hopName(h.superseded_by));
  if (h.cancel_us != 0) {
    std::string s = "CANCEL";
    if (!h.cancel_reason.empty()) s += " (Reason: " + h.cancel_reason + ")";
    if (h.proxy_cancel) s += " from the proxy";
    f.push_back(std::move(s));
  }
  if (h.status_from_upstream) {
    f.push_back(fmt::format("reads {} from upstream {}", h.effective_status, hopName(h.upstream)));
  }
  if (h.cancel_from_upstream) f.push_back("ended by upstream " + hopName(h.upstream) + "'s CANCEL");
  if (h.expired) f.emplace_back("deadline passed");
  if (!h.resolved) f.emplace_back("never ended");
  std::string out;
  for (const auto& s : f) out += (out.empty() ? "" : "; ") + s;
  return out;
}

int matchedRule(const calls::NumberTrace& n) { return n.steps.empty() ? 0 : n.steps.back().rule; }

void printText(const std::vector<Explained>& found, std::ostream& os) {
  for (size_t c = 0; c < found.size(); ++c) {
    const Explained& x = found[c];
    const calls::CallTrace& t = x.trace;
    const calls::CallRecord& first = t.records.front();
    std::string callees;
    for (const auto& r : t.records) callees += (callees.empty() ? "" : ", ") + r.callee;
    std::string caller = first.caller_withheld ? "withheld" : first.caller;
    if (!first.caller_name.empty()) caller += " " + inQuotes(first.caller_name);
    os << '\n';
    putWrapped(os, "",
               fmt::format("=== Call {} of {}: {} -> {}", c + 1, found.size(), caller, callees), 4);
    for (size_t l = 0; l < t.call_ids.size(); ++l) {
      os << "  " << legName(static_cast<int>(l)) << "  Call-ID " << t.call_ids[l] << '\n';
    }
    if (!t.correlation.empty()) os << "  correlation " << t.correlation << '\n';
    putWrapped(os,
               fmt::format("  started {}, decided {} ({}):", calls::isoTime(first.started_at_us),
                           calls::isoTime(t.decided_us), calls::decidedByName(t.decided_by)),
               decidedText(t.decided_by), 4);

    os << "\nLadder (UTC; Ln = leg, Hn = hop transaction)\n";
    for (const Message& m : x.messages) {
      std::string what =
          m.is_request ? m.method + " " + m.ruri : fmt::format("{} {}", m.status, m.phrase);
      // "time leg hop src -> dst  what" on one line when it fits, else `what` on the next.
      const std::string head = fmt::format("  {} {} {:<3} {} -> {}", clock(m.ts_us), legName(m.leg),
                                           hopName(m.hop), m.src, m.dst);
      const std::string pad(15, ' ');
      if (head.size() + 2 + what.size() <= kWidth) {
        os << head << "  " << what << '\n';
      } else {
        os << head << '\n';
        putWrapped(os, pad, what, 17);
      }
      std::string detail =
          fmt::format("{}, CSeq {} {}, Via {}, branch {}", capture::transportName(m.transport),
                      m.cseq, m.cseq_method, m.via_count, m.branch.empty() ? "(none)" : m.branch);
      if (m.repeat != nullptr) detail += fmt::format(" [{}]", m.repeat);
      if (m.after_decision) detail += " [after the decision]";
      putWrapped(os, pad, detail, 17);
      for (const auto& [name, value] : m.headers) {
        putWrapped(os, pad, name + ": " + value, 17);
      }
    }
    if (x.messages_left_out != 0) {
      os << fmt::format("  ... {} more messages not shown\n", x.messages_left_out);
    }

    os << "\nHop transactions (calls/RULES.md)\n";
    for (size_t i = 0; i < t.hops.size(); ++i) {
      const calls::HopTrace& h = t.hops[i];
      putWrapped(os,
                 fmt::format("  {} {} -> {}: CSeq {}, Via {}, branch", hopName(static_cast<int>(i)),
                             legName(h.leg), h.target.empty() ? "(no target)" : h.target, h.cseq,
                             h.via_count),
                 x.hop_branch[i].empty() ? "(none)" : x.hop_branch[i], 6);
      putWrapped(os, "      ", hopFacts(x, i), 6);
    }

    os << "\nVerdicts (calls/RULES.md \"Outcome per called number\", first matching rule wins)\n";
    for (size_t n = 0; n < t.numbers.size(); ++n) {
      const calls::NumberTrace& nt = t.numbers[n];
      const calls::CallRecord& r = t.records[n];
      os << fmt::format("  {}: {} by rule {}, {}\n", r.callee, calls::outcomeName(r.outcome),
                        matchedRule(nt), r.missed ? "missed" : "not missed");
      std::string fields = fmt::format("status {}", r.status);
      if (!r.reason.empty()) fields += ", reason " + inQuotes(r.reason);
      if (r.forwarded_to) fields += ", forwarded_to " + *r.forwarded_to;
      fields += fmt::format(", ring_ms {}, ended {}", r.ring_ms, clock(r.ended_at_us));
      std::string own;
      for (int h : nt.own_hops) own += (own.empty() ? "" : ", ") + hopName(h);
      fields += ", own hops " + (own.empty() ? std::string("none") : own);
      putWrapped(os, "    ", fields, 4);
      for (const calls::RuleStep& s : nt.steps) {
        putWrapped(os,
                   fmt::format("    rule {} {}: {},", s.rule, calls::outcomeName(s.outcome),
                               s.matched ? "YES" : "no"),
                   s.why, 6);
      }
      putWrapped(os, "    missed:", nt.missed_why, 6);
    }
  }
}

// ---- JSON ----

// Keys in the order written here (README: `mcn explain --json`), the record's in the contract's.
using Json = nlohmann::ordered_json;

Json hopIndex(int i) { return i < 0 ? Json() : Json(i + 1); }
Json timeOrNull(int64_t us) { return us == 0 ? Json() : Json(calls::isoTime(us)); }
Json textOrNull(const std::string& s) { return s.empty() ? Json() : Json(s); }

Json callJson(const Explained& x) {
  const calls::CallTrace& t = x.trace;
  Json j;
  j["call_ids"] = t.call_ids;
  j["correlation"] = textOrNull(t.correlation);
  j["decided_at"] = calls::isoTime(t.decided_us);
  j["decided_by"] = calls::decidedByName(t.decided_by);
  Json msgs = Json::array();
  for (const Message& m : x.messages) {
    Json headers = Json::array();
    for (const auto& [name, value] : m.headers)
      headers.push_back({{"name", name}, {"value", value}});
    msgs.push_back({
        {"time", calls::isoTime(m.ts_us)},
        {"leg", m.leg + 1},
        {"hop", hopIndex(m.hop)},
        {"src", m.src},
        {"dst", m.dst},
        {"transport", capture::transportName(m.transport)},
        {"method", m.is_request ? Json(m.method) : Json()},
        {"request_uri", m.is_request ? Json(m.ruri) : Json()},
        {"status", m.is_request ? Json() : Json(m.status)},
        {"phrase", m.is_request ? Json() : Json(m.phrase)},
        {"cseq", m.cseq},
        {"cseq_method", m.cseq_method},
        {"branch", textOrNull(m.branch)},
        {"via_count", m.via_count},
        {"headers", std::move(headers)},
        {"repeat", m.repeat != nullptr ? Json(m.repeat) : Json()},
        {"after_decision", m.after_decision},
    });
  }
  j["messages_left_out"] = x.messages_left_out;
  j["messages"] = std::move(msgs);
  Json hops = Json::array();
  for (size_t i = 0; i < t.hops.size(); ++i) {
    const calls::HopTrace& h = t.hops[i];
    hops.push_back({
        {"hop", i + 1},
        {"leg", h.leg + 1},
        {"cseq", h.cseq},
        {"via_count", h.via_count},
        {"branch", textOrNull(x.hop_branch[i])},
        {"target", h.target},
        {"invite_seen", h.has_invite},
        {"retargeted", h.retargeted},
        {"voicemail", h.voicemail},
        {"aggregate_of", hopIndex(h.aggregate ? h.aggregate_of : -1)},
        {"superseded_by", hopIndex(h.superseded ? h.superseded_by : -1)},
        {"relayed_from", hopIndex(h.relayed ? h.relayed_from : -1)},
        {"final_status", h.final_status == 0 ? Json() : Json(h.final_status)},
        {"final_text", textOrNull(h.final_text)},
        {"final_at", timeOrNull(h.final_us)},
        {"cancel_at", timeOrNull(h.cancel_us)},
        {"cancel_reason", textOrNull(h.cancel_reason)},
        {"proxy_cancel", h.proxy_cancel},
        {"upstream", hopIndex(h.upstream)},
        {"status_from_upstream", h.status_from_upstream},
        {"cancel_from_upstream", h.cancel_from_upstream},
        {"effective_status", h.effective_status == 0 ? Json() : Json(h.effective_status)},
        {"expired", h.expired},
        {"ended", h.resolved},
    });
  }
  j["hops"] = std::move(hops);
  Json numbers = Json::array();
  for (size_t n = 0; n < t.numbers.size(); ++n) {
    const calls::NumberTrace& nt = t.numbers[n];
    const calls::CallRecord& r = t.records[n];
    Json rules = Json::array();
    for (const calls::RuleStep& s : nt.steps) {
      rules.push_back({{"rule", s.rule},
                       {"outcome", calls::outcomeName(s.outcome)},
                       {"matched", s.matched},
                       {"why", s.why}});
    }
    Json own = Json::array();
    for (int h : nt.own_hops) own.push_back(h + 1);
    numbers.push_back({
        {"callee", r.callee},
        {"outcome", calls::outcomeName(r.outcome)},
        {"rule", matchedRule(nt)},
        {"missed", r.missed},
        {"missed_why", nt.missed_why},
        {"own_hops", std::move(own)},
        {"rules", std::move(rules)},
        {"record", Json::parse(calls::recordToJson(r))},
    });
  }
  j["numbers"] = std::move(numbers);
  return j;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

// The calls selected by `opts` in what `replay` feeds (called twice: records, then messages),
// explained on `out`. `source` names the input in messages ("a.pcap b.pcap").
int explainWith(const ExplainOptions& opts, const Config& cfg, const std::string& number,
                const std::function<ReplayResult(const ReplayOutputs&)>& replay,
                const std::string& source, std::ostream& out, std::ostream& err) {
  auto selected = [&](const calls::CallRecord& r) {
    if (!opts.call_id.empty()) {
      return std::find(r.call_ids.begin(), r.call_ids.end(), opts.call_id) != r.call_ids.end();
    }
    return r.callee == opts.callee || (!number.empty() && r.callee == number);
  };

  // Pass 1: the records, with a trace of every selected call. Each selected call's ladder
  // window ends where its linger does, or where a later call on one of its Call-IDs starts.
  std::vector<Explained> found;
  size_t left_out = 0;  // selected calls beyond kMaxCalls
  std::unordered_map<std::string, std::vector<size_t>> by_call_id;
  ReplayOutputs pass1;
  pass1.trace.want = [&](const std::vector<calls::CallRecord>& records) {
    if (records.empty()) return false;
    int64_t start = kNoTime;
    for (const auto& r : records) start = std::min(start, r.started_at_us);
    for (const auto& id : records.front().call_ids) {
      auto it = by_call_id.find(id);
      if (it == by_call_id.end()) continue;
      for (size_t i : it->second) found[i].until_us = std::min(found[i].until_us, start - 1);
    }
    if (!std::any_of(records.begin(), records.end(), selected)) return false;
    if (found.size() >= kMaxCalls) {
      ++left_out;
      return false;
    }
    return true;
  };
  pass1.trace.sink = [&](calls::CallTrace&& t) {
    Explained& x = found.emplace_back();
    x.trace = std::move(t);
    x.from_us = x.started_us();
    for (const auto& h : x.trace.hops) x.from_us = std::min(x.from_us, h.first_us);
    x.until_us = x.trace.decided_us + cfg.tracker.linger_ms * 1000;
    x.hop_branch.resize(x.trace.hops.size());
    for (const auto& id : x.trace.call_ids) by_call_id[id].push_back(found.size() - 1);
  };
  ReplayResult res;
  try {
    res = replay(pass1);
  } catch (const std::exception& e) {
    err << "mcn: " << e.what() << '\n';
    return kExitUsage;
  }
  for (const auto& e : res.errors) err << "mcn explain: warning: " << e << '\n';

  if (found.empty()) {
    const uint64_t seen = res.counters["calls.decided"];
    const std::string what =
        opts.call_id.empty()
            ? fmt::format("to {}{}", opts.callee,
                          number.empty() || number == opts.callee ? "" : " (" + number + ")")
            : "with Call-ID " + opts.call_id;
    err << fmt::format("mcn explain: no call {} among the {} call{} ({} records) in {}\n", what,
                       seen, seen == 1 ? "" : "s", res.records, source);
    return kExitNotFound;
  }

  // Pass 2: the messages of the selected calls, in capture order.
  ReplayOutputs pass2;
  pass2.on_event = [&](const sipparse::SipEvent& ev) {
    auto it = by_call_id.find(ev.call_id);
    if (it == by_call_id.end()) return;
    for (size_t i : it->second) {
      if (ev.ts_us >= found[i].from_us && ev.ts_us <= found[i].until_us) {
        addMessage(found[i], ev, cfg);
      }
    }
  };
  try {
    replay(pass2);
  } catch (const std::exception& e) {
    err << "mcn: " << e.what() << '\n';
    return kExitUsage;
  }
  std::stable_sort(found.begin(), found.end(), [](const Explained& a, const Explained& b) {
    return a.started_us() < b.started_us();
  });

  const uint64_t seen = res.counters["calls.decided"];
  if (opts.json) {
    Json j;
    j["calls_seen"] = seen;
    j["calls_matched"] = found.size() + left_out;  // beyond kMaxCalls only counted
    j["calls"] = Json::array();
    for (const Explained& x : found) j["calls"].push_back(callJson(x));
    out << j.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
  } else {
    const std::string what =
        opts.call_id.empty()
            ? fmt::format("--callee {}{}", opts.callee,
                          number.empty() || number == opts.callee ? "" : " (" + number + ")")
            : "--call-id " + opts.call_id;
    out << fmt::format("mcn explain: {} call{} of {} match {}", found.size() + left_out,
                       found.size() + left_out == 1 ? "" : "s", seen, what);
    if (left_out != 0) out << fmt::format(" (the first {} shown)", found.size());
    out << '\n';
    printText(found, out);
  }
  out.flush();
  return out ? 0 : kExitRuntime;
}

}  // namespace

int runExplain(const ExplainOptions& opts, std::ostream& out, std::ostream& err) {
  if (opts.call_id.empty() == opts.callee.empty()) {
    err << "mcn explain: give exactly one of --call-id ID or --callee NUMBER\n";
    return kExitUsage;
  }
  for (const auto& f : opts.files) {
    if (f == "-") {
      err << "mcn explain: reads its files twice, so not standard input ('-'): save the capture "
             "to a file first\n";
      return kExitUsage;
    }
  }
  Config cfg;
  std::string number;  // --callee, normalised by the dial plan ("" if it holds no number)
  try {
    cfg = opts.config_path.empty() ? defaultConfig() : loadConfigFile(opts.config_path);
    if (!opts.callee.empty()) {
      const sipparse::DialPlan plan(cfg.parser.dial_plan);
      number = opts.callee.find(':') != std::string::npos ? plan.normaliseUri(opts.callee)
                                                          : plan.normalise(opts.callee);
    }
  } catch (const std::exception& e) {
    err << "mcn: " << e.what() << '\n';
    return kExitUsage;
  }

  return explainWith(
      opts, cfg, number, [&](const ReplayOutputs& o) { return runReplay(opts.files, cfg, o); },
      joined(opts.files), out, err);
}

int explainPayloads(const std::vector<capture::SipPayload>& messages, const Config& cfg,
                    const std::string& call_id, bool json, std::ostream& out, std::ostream& err) {
  ExplainOptions opts;
  opts.call_id = call_id;
  opts.json = json;
  auto replay = [&](const ReplayOutputs& o) {
    ReplayResult res;
    Pipeline::Outputs po;
    po.on_record = [&](const calls::CallRecord&) { ++res.records; };
    po.on_event = o.on_event;
    po.trace = o.trace;
    Pipeline p(cfg.decoder, cfg.parser, cfg.tracker, std::move(po));
    for (const auto& m : messages) {
      capture::SipPayload copy = m;
      p.onPayload(std::move(copy));
    }
    p.finish(0);
    p.forEachCounter([&](std::string_view k, uint64_t v) { res.counters[std::string(k)] = v; });
    return res;
  };
  return explainWith(opts, cfg, {}, replay, "the messages held", out, err);
}

}  // namespace mcn::app
