#include "outcome_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcn::calls::detail {
namespace {

// A hop transaction seen from the rules (calls/RULES.md): its target, how it may be
// attributed, and how it ended once what its upstream hop says is taken into account.
struct HopView {
  const Hop* hop = nullptr;
  std::string_view target;
  bool aggregate = false;     // a deeper hop of its leg went to another number: not attributed
  bool superseded = false;    // 3xx/401/407 followed by a new INVITE to the same number
  bool relayed = false;       // its 2xx is another number's answer passed back (B2BUA, proxy)
  bool proxy_cancel = false;  // its CANCEL came from a proxy whose upstream hop ended uncancelled
  bool resolved = false;      // ended: final response, CANCEL, deadline, or closed upstream
  // The CANCEL that ended it: its own, or the caller's seen one hop upstream.
  int64_t cancel_ts = kNever;
  ReasonKind cancel_kind = ReasonKind::kNone;
  std::string_view cancel_text;
  // The final response that speaks for it: its own, or the one its proxy sent upstream when the
  // proxy ended the branch (a 408 after the proxy's timer, RFC 3261 §16.7 step 6).
  int eff_status = 0;
  int64_t eff_ts = kNever;
  std::string_view eff_text;
  ReasonKind eff_kind = ReasonKind::kNone;
  // For traces (mcn explain): the hop (index into the views) each fact above came from.
  int aggregate_of = -1;
  int superseded_by = -1;
  int relayed_from = -1;
  int upstream = -1;  // whose final status (status_from_upstream) or CANCEL speaks for it
  bool status_from_upstream = false;
  bool cancel_from_upstream = false;

  bool ownAnswer() const { return hop->is2xx() && !relayed; }
};

// The forwarding reason of a number whose call a configured voicemail identity took.
constexpr std::string_view kVoicemailReason = "voicemail";

// A forwarding fact resolved against the hop that carried it.
struct ForwardFact {
  std::string_view from;
  std::string_view to;
  std::string_view reason;
  int64_t ts = kNever;   // first INVITE carrying it
  int hop = -1;          // the hop whose INVITE carried it (traces)
  bool implied = false;  // a voicemail hop without Diversion/History-Info (traces)
};

// How a hop ended, for rules decided by "the earliest matching message".
struct HopEnd {
  int64_t ts = kNever;
  int status = 0;
  std::string_view text;
};

std::string_view targetOf(const Hop& hop, const Leg& leg, uint8_t leg_min_via) {
  // RULES.md "target": P-Called-Party-ID (RFC 3455), else the Request-URI of a retargeted hop
  // or of any hop past the first (proxies rewrite it to the reached number, RFC 3261 §16.5),
  // else To (unchanged by retargeting, RFC 3261 §8.1.1.2).
  // A configured voicemail identity in the Request-URI is the target whatever else the hop
  // carries. A retargeted hop whose Request-URI user is no number (sip:voicemail@vm.example)
  // goes to that user: falling back to To would name the number it was forwarded from (To is
  // kept on retargeting), and the voicemail's 2xx would read as that number's answer.
  if (hop.voicemail) return hop.ruri_num.empty() ? hop.ruriUser() : hop.ruri_num;
  if (!hop.pcpi().empty()) return hop.pcpi();
  if (!hop.ruri_num.empty() && (hop.forwarded || hop.via_count > leg_min_via)) {
    return hop.ruri_num;
  }
  if (hop.forwarded && !hop.ruriUser().empty()) return hop.ruriUser();
  return leg.to;
}

bool isRetryable(int status) { return status / 100 == 3 || status == 401 || status == 407; }

// The final response speaking for the hop, unless it is a relayed 2xx.
HopEnd finalEnd(const HopView& v) {
  if (v.eff_status == 0 || (v.eff_status / 100 == 2 && v.relayed)) return {};
  return HopEnd{v.eff_ts, v.eff_status / 100 == 2 ? 0 : v.eff_status, v.eff_text};
}

// The hop's end: its CANCEL or its final response, whichever came first, else its deadline.
HopEnd hopEnd(const HopView& v, const TrackerConfig& cfg) {
  HopEnd e = finalEnd(v);
  if (v.cancel_ts != kNever && v.cancel_ts <= e.ts) {
    e.ts = v.cancel_ts;
    if (!v.cancel_text.empty()) e.text = v.cancel_text;
  }
  if (e.ts == kNever && v.hop->expired) e.ts = hopDeadline(*v.hop, cfg);
  return e;
}

struct Decision {
  Outcome outcome = Outcome::kIncomplete;
  int status = 0;
  std::string_view reason;
  int64_t ended = kNever;
  std::string_view forwarded_to;
};

// "H3": how traces name a hop (1-based, the order the tracker met them).
std::string hopName(int index) { return fmt::format("H{}", index + 1); }

const char* reasonKindText(ReasonKind k) {
  switch (k) {
    case ReasonKind::kElsewhere:
      return "answered elsewhere";
    case ReasonKind::kDeclined:
      return "declined";
    case ReasonKind::kNoAnswer:
      return "no answer";
    case ReasonKind::kNone:
      break;
  }
  return "";
}

std::string statusText(int status, std::string_view text) {
  return text.empty() ? fmt::format("{}", status) : fmt::format("{} \"{}\"", status, text);
}

class NumberRules {
 public:
  // `aggregates`: a configured group number whose every hop forked to its members; its
  // aggregate hops are its own (what the caller saw of the group). With `steps`, every rule
  // tried appends why it matched or not (mcn explain); without, no text is built.
  // `own`: the buffer for own() (EvalScratch), overwritten.
  NumberRules(std::string_view number, const std::vector<HopView>& views,
              const std::vector<ForwardFact>& forwards, const std::vector<Pickup>& pickups,
              const TrackerConfig& cfg, std::vector<const HopView*>& own, bool aggregates = false,
              std::vector<RuleStep>* steps = nullptr)
      : number_(number), views_(views), pickups_(pickups), cfg_(cfg), steps_(steps), own_(own) {
    own_.clear();
    for (const auto& v : views_) {
      if (v.target == number_ && (aggregates || !v.aggregate) && !v.superseded) {
        own_.push_back(&v);
      }
    }
    for (const auto& f : forwards) {
      if (f.from == number_) forward_ = &f;
    }
  }

  Decision decide() const {
    Decision d;
    if (answered(d) || answeredElsewhere(d) || forwarded(d) || cancelled(d)) return d;
    if (unresolved()) return incomplete(true);
    if (byStatus(d, 5, Outcome::kBusy, "486 or 600", [](int s) { return s == 486 || s == 600; })) {
      return d;
    }
    if (byStatusOrReason(d, 6, Outcome::kNoAnswer, ReasonKind::kNoAnswer, "408 or 480",
                         [](int s) { return s == 408 || s == 480; })) {
      return d;
    }
    if (byStatusOrReason(d, 7, Outcome::kDeclined, ReasonKind::kDeclined, "603",
                         [](int s) { return s == 603; })) {
      return d;
    }
    if (byStatus(d, 8, Outcome::kRedirected, "3xx left without a follow-up INVITE",
                 [](int s) { return s / 100 == 3; })) {
      return d;
    }
    if (byStatus(d, 9, Outcome::kFailed, "of 300 or more", [](int s) { return s >= 300; })) {
      return d;
    }
    return incomplete(false);
  }

  const std::vector<const HopView*>& own() const { return own_; }
  int indexOf(const HopView* v) const { return static_cast<int>(v - views_.data()); }

 private:
  bool traced() const { return steps_ != nullptr; }
  void step(int rule, Outcome o, bool matched, std::string why) const {
    steps_->push_back(RuleStep{rule, o, matched, std::move(why)});
  }
  std::string name(const HopView* v) const { return hopName(indexOf(v)); }

  // "H2 487 \"Request Terminated\", H3 none": the final status each own hop is read with.
  std::string statuses() const {
    if (own_.empty()) return "it has no hop of its own";
    std::string out;
    for (const HopView* v : own_) {
      if (!out.empty()) out += ", ";
      out += name(v) + " ";
      if (v->eff_status == 0) {
        out += v->hop->expired ? "none (deadline passed)" : "none";
      } else {
        out += statusText(v->eff_status, v->eff_text);
        if (v->status_from_upstream) out += " from upstream " + hopName(v->upstream);
      }
    }
    return "final statuses: " + out;
  }

  // Rule 1: a 2xx to an INVITE reached this number (not relayed from another number).
  bool answered(Decision& d) const {
    const HopView* best = nullptr;
    for (const HopView* v : own_) {
      if (v->ownAnswer() && (!best || v->hop->final_ts < best->hop->final_ts)) best = v;
    }
    if (!best) {
      if (traced()) {
        std::string why;
        for (const HopView* v : own_) {
          if (!v->hop->is2xx()) continue;
          const HopView& from = views_[static_cast<size_t>(v->relayed_from)];
          why += fmt::format(
              "{}the {} on {} is relayed: {} ({}) was reached later and answered no later, "
              "{} only passed that answer back",
              why.empty() ? "" : "; ", v->hop->final_status, name(v), hopName(v->relayed_from),
              from.target, name(v));
        }
        if (why.empty()) {
          why = own_.empty() ? "it has no hop of its own (its hops are aggregates or superseded)"
                             : "no 2xx on its hops (" + statuses() + ")";
        }
        step(1, Outcome::kAnswered, false, std::move(why));
      }
      return false;
    }
    const Hop& h = *best->hop;
    d = {Outcome::kAnswered, h.final_status, h.finalText(), h.final_ts, {}};
    if (traced()) {
      step(1, Outcome::kAnswered, true,
           fmt::format("{} got {} to its INVITE (not relayed from another number)", name(best),
                       statusText(h.final_status, h.finalText())));
    }
    return true;
  }

  // Rule 2: a colleague picked the ringing call up (Replaces), a CANCEL (or final response)
  // said "answered elsewhere", or another number of the call answered while this one was
  // neither forwarded nor redirected by its own 3xx. `forwarded_to` names who answered.
  bool answeredElsewhere(Decision& d) const {
    if (pickedUp(d)) return true;
    // Who answered: the number of the call's earliest own (not relayed) 2xx on a hop that is
    // not an aggregate, if it is not this one.
    std::string_view who;
    int64_t other_2xx = kNever;
    const HopView* other = nullptr;  // that answer (traces)
    for (const auto& v : views_) {
      if (v.target != number_ && !v.aggregate && v.ownAnswer() && v.hop->final_ts < other_2xx) {
        other_2xx = v.hop->final_ts;
        who = v.target;
        other = &v;
      }
    }
    HopEnd best;
    const HopView* by_reason = nullptr;
    for (const HopView* v : own_) {
      if (v->cancel_kind != ReasonKind::kElsewhere && v->eff_kind != ReasonKind::kElsewhere) {
        continue;
      }
      HopEnd e = hopEnd(*v, cfg_);
      if (v->cancel_kind == ReasonKind::kElsewhere && !v->cancel_text.empty()) {
        e.text = v->cancel_text;
      }
      if (e.ts < best.ts) {
        best = e;
        by_reason = v;
      }
    }
    const bool redirected = std::any_of(own_.begin(), own_.end(),
                                        [](const HopView* v) { return v->eff_status / 100 == 3; });
    if (best.ts == kNever && forward_ == nullptr && !redirected) {
      if (other_2xx == kNever) {
        if (traced()) {
          step(2, Outcome::kAnsweredElsewhere, false,
               "no colleague picked it up (Replaces), no CANCEL or final response of its hops "
               "carries a Reason saying answered elsewhere (SIP cause 200, Q.850 cause 26), and "
               "no other number of the call got a 2xx of its own");
        }
        return false;
      }
      for (const HopView* v : own_) {
        const HopEnd e = hopEnd(*v, cfg_);
        if (e.ts < best.ts) best = e;
      }
      if (best.ts == kNever) best = HopEnd{other_2xx, 0, {}};
    }
    if (best.ts == kNever) {
      if (traced()) {
        std::string why =
            "no CANCEL or final response of its hops carries a Reason saying answered elsewhere "
            "(SIP cause 200, Q.850 cause 26)";
        const HopView* answer = nullptr;
        for (const auto& v : views_) {
          if (v.target != number_ && !v.aggregate && v.ownAnswer()) answer = &v;
        }
        if (answer == nullptr) {
          why += ", and no other number of the call got a 2xx of its own";
        } else {
          why += fmt::format(
              "; {} ({}) answered, but that does not count for it: {}", name(answer),
              answer->target,
              forward_ != nullptr ? "it was forwarded (rule 3)" : "it answered with a 3xx itself");
        }
        step(2, Outcome::kAnsweredElsewhere, false, std::move(why));
      }
      return false;
    }
    d = {Outcome::kAnsweredElsewhere, best.status, best.text, best.ts, who};
    if (traced()) {
      if (by_reason != nullptr) {
        const bool on_cancel = by_reason->cancel_kind == ReasonKind::kElsewhere;
        const std::string what =
            on_cancel ? std::string("CANCEL") : fmt::format("{}", by_reason->eff_status);
        const std::string where =
            (on_cancel ? by_reason->cancel_from_upstream : by_reason->status_from_upstream)
                ? fmt::format("upstream {}'s {}, which ended {},", hopName(by_reason->upstream),
                              what, name(by_reason))
                : fmt::format("the {} on {}", what, name(by_reason));
        step(2, Outcome::kAnsweredElsewhere, true,
             fmt::format("{} carries a Reason saying answered elsewhere (SIP cause 200 or Q.850 "
                         "cause 26)",
                         where));
      } else {
        step(2, Outcome::kAnsweredElsewhere, true,
             fmt::format("{} ({}) got {} of its own, and this number was neither forwarded nor "
                         "redirected by a 3xx of its own",
                         name(other), other->target,
                         statusText(other->hop->final_status, other->hop->finalText())));
      }
    }
    return true;
  }

  // A colleague's INVITE with Replaces naming one of this number's ringing dialogs (its To tag)
  // got a 2xx: the call was picked up (RFC 3891, RFC 5359 §2.9). Ends with the number's hop
  // (the caller's CANCEL to it, usually), else at the pickup's 2xx.
  bool pickedUp(Decision& d) const {
    for (const Pickup& p : pickups_) {
      if (p.answer_ts == kNever || p.by == number_) continue;
      HopEnd best;
      bool match = false;
      for (const HopView* v : own_) {
        const Hop& h = *v->hop;
        if (h.ring_ts == kNever && !h.hasFinal()) continue;
        if (p.to_tag != 0 && h.ring_tag != p.to_tag && h.final_tag != p.to_tag) continue;
        match = true;
        const HopEnd e = hopEnd(*v, cfg_);
        if (e.ts < best.ts) best = e;
      }
      if (!match) continue;
      if (best.ts == kNever) best = HopEnd{p.answer_ts, 0, {}};
      d = {Outcome::kAnsweredElsewhere, best.status, best.text, best.ts, p.by};
      if (traced()) {
        step(2, Outcome::kAnsweredElsewhere, true,
             fmt::format("{} picked up its ringing dialog: an INVITE with Replaces (RFC 3891) "
                         "naming it was answered",
                         p.by));
      }
      return true;
    }
    return false;
  }

  // Rule 3: a later leg or branch carries Diversion/History-Info naming this number. Status and
  // end come from the number's own branch that ended first (its final response, else its
  // CANCEL), else the forwarding INVITE.
  bool forwarded(Decision& d) const {
    if (forward_ == nullptr) {
      if (traced()) {
        step(3, Outcome::kForwarded, false,
             "no hop's Diversion or History-Info names it as forwarded, and no voicemail hop "
             "(calls.voicemail) answers for it");
      }
      return false;
    }
    HopEnd own;
    const HopView* own_by = nullptr;
    for (const HopView* v : own_) {
      const HopEnd e = finalEnd(*v);
      if (e.ts < own.ts) {
        own = e;
        own_by = v;
      }
    }
    bool by_cancel = false;
    if (own.ts == kNever) {
      for (const HopView* v : own_) {
        if (v->cancel_ts < own.ts) {
          own.ts = v->cancel_ts;
          own_by = v;
          by_cancel = true;
        }
      }
    }
    if (own.ts == kNever) {
      own.ts = forward_->ts;
      own_by = nullptr;
    }
    d = {Outcome::kForwarded, own.status, forward_->reason, own.ts, forward_->to};
    if (traced()) {
      std::string why;
      const std::string carrier = hopName(forward_->hop);
      if (forward_->implied) {
        why = fmt::format(
            "{} goes to the voicemail identity {} (calls.voicemail) without Diversion or "
            "History-Info: it answers for the number the leg was dialled to",
            carrier, forward_->to);
      } else if (forward_->reason == kVoicemailReason) {
        why = fmt::format(
            "{}'s INVITE to the voicemail identity {} (calls.voicemail) carries Diversion or "
            "History-Info naming it as forwarded: reason voicemail",
            carrier, forward_->to);
      } else {
        why = fmt::format(
            "{}'s INVITE carries Diversion or History-Info naming it as forwarded to {}, reason {}",
            carrier, forward_->to, forward_->reason.empty() ? "(none)" : forward_->reason);
      }
      if (own_by == nullptr) {
        why += "; it has no final response or CANCEL of its own: ended at the forwarding INVITE";
      } else if (by_cancel) {
        why +=
            fmt::format("; ended at the CANCEL on {} (no final response of its own)", name(own_by));
      } else {
        why += fmt::format("; status and end from its own final response on {}", name(own_by));
      }
      step(3, Outcome::kForwarded, true, std::move(why));
    }
    return true;
  }

  // Rule 4: the caller sent CANCEL (a CANCEL whose Reason says nothing else, not the proxy's).
  bool cancelled(Decision& d) const {
    const HopView* best = nullptr;
    for (const HopView* v : own_) {
      if (v->cancel_ts != kNever && v->cancel_kind == ReasonKind::kNone && !v->proxy_cancel &&
          (!best || v->cancel_ts < best->cancel_ts)) {
        best = v;
      }
    }
    if (!best) {
      if (traced()) step(4, Outcome::kCancelled, false, whyNotCancelled());
      return false;
    }
    HopEnd fin = finalEnd(*best);
    if (fin.status == 0) {
      fin = {};
      for (const HopView* v : own_) {
        if (v->eff_status == 487 && v->eff_ts < fin.ts) fin = finalEnd(*v);
      }
    }
    const std::string_view text = best->cancel_text.empty() ? fin.text : best->cancel_text;
    d = {Outcome::kCancelled, fin.status, text, std::min(best->cancel_ts, fin.ts), {}};
    if (traced()) {
      step(4, Outcome::kCancelled, true,
           fmt::format("the caller's CANCEL {} (no Reason saying otherwise, not the proxy's); "
                       "status {}",
                       best->cancel_from_upstream
                           ? "on upstream " + hopName(best->upstream) + " ended " + name(best)
                           : "on " + name(best),
                       fin.status));
    }
    return true;
  }

  std::string whyNotCancelled() const {
    std::string why;
    for (const HopView* v : own_) {
      if (v->cancel_ts == kNever) continue;
      if (!why.empty()) why += "; ";
      const std::string where =
          v->cancel_from_upstream ? "upstream " + hopName(v->upstream) + "'s CANCEL for " + name(v)
                                  : "the CANCEL on " + name(v);
      if (v->cancel_kind != ReasonKind::kNone) {
        why += fmt::format("{} carries a Reason saying {}", where, reasonKindText(v->cancel_kind));
      } else {
        assert(v->proxy_cancel && v->upstream >= 0);  // else rule 4 would have matched
        const HopView& up = views_[static_cast<size_t>(v->upstream)];
        why += fmt::format(
            "{} came from the proxy: upstream {} got {} and was not cancelled (RFC 3261 §16.7)",
            where, hopName(v->upstream), statusText(up.hop->final_status, up.hop->finalText()));
      }
    }
    return why.empty() ? "no CANCEL on its hops" : why;
  }

  // Rules 5, 8, 9: the earliest non-2xx final response whose status matches.
  template <typename Pred>
  bool byStatus(Decision& d, int rule, Outcome o, std::string_view wanted, Pred pred) const {
    const HopView* best = nullptr;
    for (const HopView* v : own_) {
      if (v->eff_status >= 300 && pred(v->eff_status) && (!best || v->eff_ts < best->eff_ts)) {
        best = v;
      }
    }
    if (!best) {
      if (traced()) {
        step(rule, o, false, fmt::format("no final status {} ({})", wanted, statuses()));
      }
      return false;
    }
    d = {o, best->eff_status, best->eff_text, best->eff_ts, {}};
    if (traced()) step(rule, o, true, statusWhy(best));
    return true;
  }

  std::string statusWhy(const HopView* v) const {
    std::string why = fmt::format("{} got {}", name(v), statusText(v->eff_status, v->eff_text));
    if (v->status_from_upstream) {
      why = fmt::format(
          "{} was ended by the proxy: upstream {} got {} without a CANCEL (RFC 3261 §16.7), "
          "which speaks for it",
          name(v), hopName(v->upstream), statusText(v->eff_status, v->eff_text));
    }
    return why;
  }

  // Rules 6 and 7: a matching status, a matching Reason (the hop's end decides), or for
  // no_answer the ring timeout.
  template <typename Pred>
  bool byStatusOrReason(Decision& d, int rule, Outcome o, ReasonKind kind, std::string_view wanted,
                        Pred pred) const {
    HopEnd best;
    const HopView* best_by = nullptr;
    int how = 0;  // traces: 1 status, 2 Reason, 3 ring timeout
    for (const HopView* v : own_) {
      HopEnd e;
      int e_how = 0;
      if (v->eff_status >= 300 && pred(v->eff_status)) {
        e = HopEnd{v->eff_ts, v->eff_status, v->eff_text};
        e_how = 1;
      } else if (v->cancel_kind == kind || v->eff_kind == kind) {
        e = hopEnd(*v, cfg_);
        e_how = 2;
      } else if (o == Outcome::kNoAnswer && v->hop->expired && v->eff_status == 0 &&
                 v->cancel_ts == kNever) {
        e = HopEnd{hopDeadline(*v->hop, cfg_), 0, {}};
        e_how = 3;
      }
      if (e.ts < best.ts) {
        best = e;
        best_by = v;
        how = e_how;
      }
    }
    if (best.ts == kNever) {
      if (traced()) {
        step(rule, o, false,
             fmt::format("no final status {}, no CANCEL or final response with a Reason saying "
                         "{}{} ({})",
                         wanted, reasonKindText(kind),
                         o == Outcome::kNoAnswer ? ", no ring timeout" : "", statuses()));
      }
      return false;
    }
    d = {o, best.status, best.text, best.ts, {}};
    if (traced()) {
      std::string why;
      if (how == 1) {
        why = statusWhy(best_by);
      } else if (how == 2) {
        why = fmt::format("the {} on {} carries a Reason saying {}",
                          best_by->cancel_kind == kind ? "CANCEL" : "final response", name(best_by),
                          reasonKindText(kind));
      } else {
        why = fmt::format(
            "{} got no final response within calls.ring_timeout_ms ({} ms) of its "
            "INVITE: the ring timeout",
            name(best_by), cfg_.ring_timeout_ms);
      }
      step(rule, o, true, std::move(why));
    }
    return true;
  }

  // A hop with no final response, no CANCEL, no timeout: the input ended first.
  bool unresolved() const {
    return std::any_of(own_.begin(), own_.end(), [](const HopView* v) { return !v->resolved; });
  }

  Decision incomplete(bool open_hop) const {
    int64_t last = kBeginning;
    for (const auto& v : views_) {
      if (v.target == number_ && !v.aggregate) last = std::max(last, v.hop->last_ts);
    }
    if (last == kBeginning) {
      for (const auto& v : views_) {
        if (v.target == number_) last = std::max(last, v.hop->last_ts);
      }
    }
    if (traced()) {
      std::string why;
      if (open_hop) {
        std::string open;
        for (const HopView* v : own_) {
          if (!v->resolved) open += (open.empty() ? "" : ", ") + name(v);
        }
        why = fmt::format(
            "{} never ended (no final response, CANCEL, passed deadline or final upstream hop): "
            "the input ended first; rules 5-9 need every hop of the number ended",
            open);
      } else {
        why = "none of rules 1-9 matched (" + statuses() + ")";
      }
      step(10, Outcome::kIncomplete, true, std::move(why));
    }
    return {Outcome::kIncomplete, 0, {}, last, {}};
  }

  std::string_view number_;
  const std::vector<HopView>& views_;
  const std::vector<Pickup>& pickups_;
  const TrackerConfig& cfg_;
  std::vector<RuleStep>* steps_;
  std::vector<const HopView*>& own_;  // RULES.md: non-aggregate, non-superseded, this target
  const ForwardFact* forward_ = nullptr;
};

bool isUpstreamOf(const Hop& u, const Hop& h) {
  return u.leg == h.leg && u.cseq == h.cseq && u.via_count < h.via_count;
}

// The views of the call's hops, into `views` (overwritten); `min_via` is a buffer.
void buildViews(const Call& call, std::vector<HopView>& views, std::vector<uint8_t>& min_via) {
  const auto& hops = call.hops;
  min_via.assign(call.legs.size(), 255);
  for (const Hop& h : hops) {
    if (h.via_count > 0) min_via[h.leg] = std::min(min_via[h.leg], h.via_count);
  }
  views.clear();
  views.resize(hops.size());
  for (size_t i = 0; i < hops.size(); ++i) {
    const Hop& h = hops[i];
    HopView& v = views[i];
    v.hop = &h;
    v.target = targetOf(h, call.legs[h.leg], min_via[h.leg]);
    v.cancel_ts = h.cancel_ts;
    v.cancel_kind = h.cancel_kind;
    v.cancel_text = h.cancelText();
    v.eff_status = h.final_status;
    v.eff_ts = h.final_ts;
    v.eff_text = h.finalText();
    v.eff_kind = h.final_kind;
    v.resolved = h.hasFinal() || h.expired || h.cancel_ts != kNever;
  }
  // Aggregate: the proxy forked or forwarded beyond it within the same leg.
  for (auto& v : views) {
    for (const auto& w : views) {
      if (w.hop->leg == v.hop->leg && w.hop->via_count > v.hop->via_count && !w.target.empty() &&
          w.target != v.target) {
        v.aggregate = true;
        v.aggregate_of = static_cast<int>(&w - views.data());
        break;
      }
    }
  }
  // What the nearest upstream hop (same leg and CSeq, fewer Vias) with a final response says
  // about a branch that has no final response of its own, or only a CANCEL without a telling
  // Reason: if the upstream hop was not cancelled, the proxy ended the branch (its timer, RFC
  // 3261 §16.7) and its final status speaks for it; if it was, the caller's CANCEL did.
  for (auto& v : views) {
    const Hop& h = *v.hop;
    const bool plain_cancel = h.cancel_ts != kNever && h.cancel_kind == ReasonKind::kNone;
    if (h.hasFinal() && !plain_cancel) continue;
    const HopView* up = nullptr;
    for (const auto& w : views) {
      if (isUpstreamOf(*w.hop, h) && w.hop->hasFinal() &&
          (!up || w.hop->via_count > up->hop->via_count)) {
        up = &w;
      }
    }
    if (up == nullptr) continue;
    const Hop& u = *up->hop;
    const int up_index = static_cast<int>(up - views.data());
    if (u.cancel_ts == kNever) {
      v.proxy_cancel = plain_cancel;
      v.resolved = true;
      v.upstream = up_index;
      // After an upstream 2xx (§16.7 step 10) the branch lost to another one: rule 1, 2 or 3
      // decides and its own status, if any, stays.
      if (!u.is2xx()) {
        v.eff_status = u.final_status;
        v.eff_ts = u.final_ts;
        v.eff_text = u.finalText();
        v.eff_kind = u.final_kind;
        v.status_from_upstream = true;
      }
    } else if (h.cancel_ts == kNever && !h.hasFinal()) {
      v.cancel_ts = u.cancel_ts;
      v.cancel_kind = u.cancel_kind;
      v.cancel_text = u.cancelText();
      v.resolved = true;
      v.upstream = up_index;
      v.cancel_from_upstream = true;
    }
  }
  // Superseded: a 401/407 retried (RFC 3261 §22.2) or a 3xx recursed (§8.1.3.4) to the same
  // number by a later INVITE of the same leg.
  for (auto& v : views) {
    if (!isRetryable(v.hop->final_status)) continue;
    for (const auto& w : views) {
      if (&w == &v || w.aggregate || !w.hop->has_invite || w.hop->leg != v.hop->leg ||
          w.target != v.target) {
        continue;
      }
      if (w.hop->cseq > v.hop->cseq ||
          (w.hop->via_count == v.hop->via_count && w.hop->invite_ts > v.hop->final_ts)) {
        v.superseded = true;
        v.superseded_by = static_cast<int>(&w - views.data());
        break;
      }
    }
  }
  // Relayed 2xx: another number, reached later, answered no later than this 2xx; this hop only
  // passed that answer back (a B2BUA leg or an upstream hop of a forward).
  for (auto& v : views) {
    if (!v.hop->is2xx()) continue;
    for (const auto& w : views) {
      if (w.target != v.target && w.hop->is2xx() && w.hop->startTs() > v.hop->startTs() &&
          w.hop->final_ts <= v.hop->final_ts) {
        v.relayed = true;
        v.relayed_from = static_cast<int>(&w - views.data());
        break;
      }
    }
  }
}

std::vector<ForwardFact> buildForwards(const Call& call, const std::vector<HopView>& views) {
  std::vector<ForwardFact> out;
  auto record = [&](const ForwardFact& fact) {
    if (fact.to.empty() || fact.from.empty() || fact.from == fact.to) return;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const ForwardFact& o) { return o.from == fact.from; });
    if (it == out.end()) {
      out.push_back(fact);
    } else if (fact.ts < it->ts || (fact.ts == it->ts && fact.reason == kVoicemailReason)) {
      *it = fact;
    }
  };
  for (const auto& v : views) {
    const bool vm = v.hop->voicemail;
    for (const Forward& f : v.hop->forwards()) {
      const std::string_view to = f.to.empty() ? v.target : std::string_view(f.to);
      // Whoever diverted to a voicemail identity was forwarded to voicemail, whatever reason
      // the switch wrote; older entries keep theirs (they diverted to other numbers).
      const bool to_vm = vm && to == v.target;
      record({f.from, to, to_vm ? kVoicemailReason : std::string_view(f.reason), v.hop->startTs(),
              static_cast<int>(&v - views.data())});
    }
    if (!vm || !v.hop->forwards().empty()) continue;
    // A voicemail hop without Diversion/History-Info: it answers for the number the leg was
    // dialled to, the target of its first non-voicemail hop (else its To), unless the caller
    // dialled the voicemail itself.
    const HopView* first = nullptr;
    for (const auto& w : views) {
      if (w.hop->leg == v.hop->leg && !w.hop->voicemail &&
          (!first || w.hop->via_count < first->hop->via_count)) {
        first = &w;
      }
    }
    const std::string_view from =
        first != nullptr ? first->target : std::string_view(call.legs[v.hop->leg].to);
    record({from, v.target, kVoicemailReason, v.hop->startTs(), static_cast<int>(&v - views.data()),
            true});
  }
  return out;
}

}  // namespace

bool awaitingAuthRetry(const Call& call, const Hop& hop) {
  return std::none_of(call.hops.begin(), call.hops.end(), [&](const Hop& u) {
    return u.leg == hop.leg && ((u.via_count < hop.via_count && u.via_count > 0) ||
                                (u.has_invite && u.cseq > hop.cseq));
  });
}

bool closedUpstream(const Call& call, const Hop& hop) {
  return std::any_of(call.hops.begin(), call.hops.end(),
                     [&](const Hop& u) { return isUpstreamOf(u, hop) && u.hasFinal(); });
}

namespace {

// A hop as the trace shows it: the tracker's facts plus what buildViews derived from them.
HopTrace hopTrace(const HopView& v, const std::vector<int>& leg_pos) {
  const Hop& h = *v.hop;
  HopTrace t;
  t.leg = leg_pos[h.leg];
  t.branch_key = h.branch_key;
  t.cseq = h.cseq;
  t.via_count = h.via_count;
  t.target = std::string(v.target);
  t.has_invite = h.has_invite;
  t.retargeted = h.forwarded;
  t.voicemail = h.voicemail;
  t.aggregate = v.aggregate;
  t.aggregate_of = v.aggregate_of;
  t.superseded = v.superseded;
  t.superseded_by = v.superseded_by;
  t.relayed = v.relayed;
  t.relayed_from = v.relayed_from;
  t.proxy_cancel = v.proxy_cancel;
  t.expired = h.expired;
  t.resolved = v.resolved;
  t.first_us = h.first_ts;
  t.final_status = h.final_status;
  t.final_text = std::string(h.finalText());
  t.final_us = h.hasFinal() ? h.final_ts : 0;
  t.cancel_us = h.cancel_ts != kNever ? h.cancel_ts : 0;
  t.cancel_reason = reasonKindText(h.cancel_kind);
  t.upstream = v.upstream;
  t.status_from_upstream = v.status_from_upstream;
  t.cancel_from_upstream = v.cancel_from_upstream;
  t.effective_status = v.eff_status;
  return t;
}

std::string missedWhy(const CallRecord& r, const TrackerConfig& cfg) {
  const char* o = outcomeName(r.outcome);
  if (!cfg.missed[static_cast<size_t>(r.outcome)]) {
    return fmt::format("{} is not in calls.missed_outcomes: not missed", o);
  }
  if (r.outcome == Outcome::kForwarded && r.reason == "unconditional" &&
      !cfg.forwarded_unconditional_missed) {
    return "forwarded with reason unconditional and calls.forwarded_unconditional_missed is "
           "false: not missed";
  }
  if (r.outcome == Outcome::kCancelled && r.ring_ms < cfg.min_ring_ms_cancelled) {
    return fmt::format("rang {} ms, less than calls.min_ring_ms_cancelled ({} ms): not missed",
                       r.ring_ms, cfg.min_ring_ms_cancelled);
  }
  return fmt::format("{} is in calls.missed_outcomes: missed", o);
}

}  // namespace

// The buffers evaluateCall fills anew for each call: kept from one call to the next, they are
// allocated once instead of five times per decided call (and stay within a call's bounds: at
// most kMaxHopsPerCall views, kMaxLegsPerCall legs, tracker.cc).
struct EvalScratch {
  std::vector<HopView> views;
  std::vector<uint8_t> min_via;
  std::vector<std::string_view> numbers;
  std::vector<std::pair<std::pair<int64_t, int64_t>, size_t>> leg_order;
  std::vector<const HopView*> own;
};

void EvalScratchDeleter::operator()(EvalScratch* s) const { delete s; }

EvalScratchPtr makeEvalScratch() { return EvalScratchPtr(new EvalScratch); }

std::vector<CallRecord> evaluateCall(const Call& call, const TrackerConfig& cfg, CallTrace* trace,
                                     EvalScratch* scratch) {
  EvalScratch local;
  EvalScratch& sc = scratch != nullptr ? *scratch : local;
  std::vector<HopView>& views = sc.views;
  buildViews(call, views, sc.min_via);
  const std::vector<ForwardFact> forwards = buildForwards(call, views);

  // Called numbers: targets of attributable hops, and forwarded numbers the call did target.
  std::vector<std::string_view>& numbers = sc.numbers;
  numbers.clear();
  auto add = [&](std::string_view n) {
    if (!n.empty() && std::find(numbers.begin(), numbers.end(), n) == numbers.end()) {
      numbers.push_back(n);
    }
  };
  for (const auto& v : views) {
    if (!v.aggregate && !v.superseded) add(v.target);
  }
  for (const auto& f : forwards) {
    if (std::any_of(views.begin(), views.end(),
                    [&](const HopView& v) { return v.target == f.from; })) {
      add(f.from);
    }
  }
  // Configured ring/hunt groups the call was made to: a group number whose hops all forked to
  // members (aggregates) still gets its record, from what the caller saw.
  std::vector<const GroupConfig*> groups;
  std::vector<std::string_view> aggregate_only;
  for (const GroupConfig& g : cfg.groups) {
    if (std::none_of(views.begin(), views.end(),
                     [&](const HopView& v) { return v.target == g.number; })) {
      continue;
    }
    groups.push_back(&g);
    if (std::find(numbers.begin(), numbers.end(), g.number) == numbers.end()) {
      aggregate_only.push_back(g.number);
      add(g.number);
    }
  }

  // call_ids: every leg, the one whose INVITE was seen first first (a leg known only from other
  // messages after those with an INVITE, by its earliest message); ties in the order joined.
  auto& leg_order = sc.leg_order;
  leg_order.clear();
  for (size_t i = 0; i < call.legs.size(); ++i) leg_order.push_back({{kNever, kNever}, i});
  for (const Hop& h : call.hops) {
    auto& key = leg_order[h.leg].first;
    if (h.has_invite) key.first = std::min(key.first, h.invite_ts);
    key.second = std::min(key.second, h.first_ts);
  }
  // Stable, as std::stable_sort, without the buffer it allocates for every call: a call has a
  // few legs (the tracker keeps at most 16), most of them one.
  for (size_t i = 1; i < leg_order.size(); ++i) {
    for (size_t j = i; j > 0 && leg_order[j].first < leg_order[j - 1].first; --j) {
      std::swap(leg_order[j], leg_order[j - 1]);
    }
  }
  std::vector<std::string> call_ids;
  call_ids.reserve(leg_order.size());
  for (const auto& [key, i] : leg_order) call_ids.push_back(call.legs[i].call_id);

  std::vector<NumberTrace> number_traces;
  if (trace != nullptr) {
    std::vector<int> leg_pos(call.legs.size());
    for (size_t p = 0; p < leg_order.size(); ++p)
      leg_pos[leg_order[p].second] = static_cast<int>(p);
    trace->call_ids = call_ids;
    trace->correlation = std::string(call.correlation());
    trace->hops.clear();
    for (const auto& v : views) trace->hops.push_back(hopTrace(v, leg_pos));
  }

  std::vector<CallRecord> records;
  records.reserve(numbers.size());
  const std::string_view correlation = call.correlation();
  for (size_t n = 0; n < numbers.size(); ++n) {
    const std::string_view number = numbers[n];
    const bool aggregates =
        std::find(aggregate_only.begin(), aggregate_only.end(), number) != aggregate_only.end();
    NumberTrace* nt = nullptr;
    if (trace != nullptr) {
      nt = &number_traces.emplace_back();
      nt->number = std::string(number);
    }
    const NumberRules rules(number, views, forwards, call.pickups, cfg, sc.own, aggregates,
                            nt != nullptr ? &nt->steps : nullptr);
    const Decision d = rules.decide();
    if (nt != nullptr) {
      for (const HopView* v : rules.own()) nt->own_hops.push_back(rules.indexOf(v));
    }

    // started_at: first INVITE for the number (any hop), else its earliest message.
    const Hop* first = nullptr;
    int64_t ring = kNever;
    for (const auto& v : views) {
      if (v.target != number) continue;
      const Hop& h = *v.hop;
      if (!first || (h.has_invite && !first->has_invite) ||
          (h.has_invite == first->has_invite && h.startTs() < first->startTs())) {
        first = &h;
      }
      // A challenged INVITE that was retried never rang the phone as far as the caller is
      // concerned: ring_ms counts from the retried INVITE's ringing (RULES.md "ring_ms").
      const bool retried_challenge =
          v.superseded && (h.final_status == 401 || h.final_status == 407);
      if ((!v.aggregate || aggregates) && !retried_challenge) ring = std::min(ring, h.ring_ts);
    }

    CallRecord r;
    r.call_id = call.legs[first->leg].call_id;
    // The last record takes the list below (most calls have one record); the others copy it.
    if (n + 1 < numbers.size()) r.call_ids = call_ids;
    if (!correlation.empty()) r.correlation = std::string(correlation);
    if (call.withheld) {
      r.caller_withheld = true;
    } else {
      r.caller = call.caller;
      r.caller_name = call.caller_name;
    }
    r.callee = std::string(number);
    r.outcome = d.outcome;
    r.status = d.status;
    r.reason = std::string(d.reason);
    if (!d.forwarded_to.empty()) r.forwarded_to = std::string(d.forwarded_to);
    r.started_at_us = first->startTs();
    r.ended_at_us = d.ended == kNever || d.ended == kBeginning ? r.started_at_us : d.ended;
    r.ring_ms = ring != kNever && r.ended_at_us > ring ? (r.ended_at_us - ring) / 1000 : 0;
    r.legs = static_cast<int>(call.legs.size());
    r.transport = first->transport;
    r.capture_ids = call.capture_ids;

    r.missed = cfg.missed[static_cast<size_t>(r.outcome)];
    if (r.outcome == Outcome::kForwarded && r.reason == "unconditional" &&
        !cfg.forwarded_unconditional_missed) {
      r.missed = false;
    }
    if (r.outcome == Outcome::kCancelled && r.ring_ms < cfg.min_ring_ms_cancelled) {
      r.missed = false;
    }
    if (nt != nullptr) nt->missed_why = missedWhy(r, cfg);
    if (call.own_callback) {
      // mcn never alerts about the calls it places (its call backs): recorded, not missed.
      r.origin = "callback";
      if (nt != nullptr && r.missed) {
        nt->missed_why += "; but mcn placed this call itself (origin callback): not missed";
      }
      r.missed = false;
    }
    records.push_back(std::move(r));
  }
  if (!records.empty()) records.back().call_ids = std::move(call_ids);
  // Whose unanswered record of a group call is missed (GroupConfig::Notify): the members', the
  // group number's (its owner's), or both. With no member record (the switch hunted out of
  // sight) the group number's record stays as the rules made it.
  for (const GroupConfig* g : groups) {
    auto is_member = [&](const CallRecord& r) {
      return std::find(g->members.begin(), g->members.end(), r.callee) != g->members.end();
    };
    const bool members_seen = std::any_of(records.begin(), records.end(), is_member);
    for (CallRecord& r : records) {
      const bool was_missed = r.missed;
      if (g->notify == GroupConfig::Notify::kOwner && is_member(r)) r.missed = false;
      if (g->notify == GroupConfig::Notify::kMembers && r.callee == g->number && members_seen) {
        r.missed = false;
      }
      if (was_missed && !r.missed) {
        for (NumberTrace& nt : number_traces) {
          if (nt.number != r.callee) continue;
          nt.missed_why = fmt::format(
              "{}; but group {} has notify = \"{}\" (calls.groups): not missed", nt.missed_why,
              g->number, g->notify == GroupConfig::Notify::kOwner ? "owner" : "members");
        }
      }
    }
  }
  std::sort(records.begin(), records.end(), [](const CallRecord& a, const CallRecord& b) {
    return a.started_at_us != b.started_at_us ? a.started_at_us < b.started_at_us
                                              : a.callee < b.callee;
  });
  if (trace != nullptr) {
    // The numbers in the records' order (a call's records have distinct callees).
    trace->numbers.clear();
    for (const CallRecord& r : records) {
      for (NumberTrace& nt : number_traces) {
        if (nt.number == r.callee) trace->numbers.push_back(std::move(nt));
      }
    }
    trace->records = records;
  }
  return records;
}

}  // namespace mcn::calls::detail
