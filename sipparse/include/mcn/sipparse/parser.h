#pragma once
// SIP text -> SipEvent with the sofia-sip parser. Malformed input is a counted drop, never an
// exception. sofia-sip types stay inside src/.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mcn/capture/sip_payload.h"
#include "mcn/sipparse/dial_plan.h"
#include "mcn/sipparse/sip_event.h"

namespace mcn::sipparse {

struct ParserConfig {
  DialPlanConfig dial_plan;
  std::string correlation_header;  // e.g. "X-CID"; empty: none
  // The header marking calls mcn placed itself (call back); SipEvent::origin. Set from [sipua]
  // marker_header; empty: none.
  std::string origin_header = "X-MCN-Origin";
  // Read common, well-formed messages with the single-pass scanner (sipparse/src/fast_path.h)
  // and only the rest with sofia-sip's full parse. Off: every message goes through sofia (the
  // reference the differential tests compare against). Same SipEvents and counters either way.
  bool fast_path = true;

  bool operator==(const ParserConfig&) const = default;
};

class SipParser {
 public:
  explicit SipParser(ParserConfig cfg);  // throws std::invalid_argument on a bad config
  ~SipParser();
  SipParser(const SipParser&) = delete;
  SipParser& operator=(const SipParser&) = delete;

  // Parse one SIP message. std::nullopt = dropped; the reason is counted.
  std::optional<SipEvent> parse(const capture::SipPayload& payload);

  // The same into `out`, reusing its strings and vectors (and entries kept from earlier
  // messages), so a replay loop that keeps one SipEvent allocates nothing per ordinary message.
  // false = dropped (counted); `out` is then unspecified.
  bool parseInto(const capture::SipPayload& payload, SipEvent& out);

  const DialPlan& dialPlan() const;

  // Stable counter names ("sip.parsed", "sip.malformed", "sip.missing_call_id", ...), in a fixed
  // order, including zero values.
  void forEachCounter(const std::function<void(std::string_view name, uint64_t value)>& fn) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::sipparse
