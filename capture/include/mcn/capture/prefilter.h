#pragma once
// The cheap pre-filter of DESIGN.md: on an IMS core most SIP is registration, presence and
// keep-alive traffic that never decides a call. Recognising it from the start line (requests) or
// the CSeq method (responses) lets the capture thread drop it before the full sofia-sip parse.

#include <cstdint>
#include <string_view>

namespace mcn::capture {

enum class IgnoredMethod : uint8_t {
  kNone,  // keep: a method that can matter to a call, or one we could not tell
  kRegister,
  kOptions,
  kSubscribe,
  kNotify,
  kPublish,
  kMessage,
};

// `sip` must already have passed looksLikeSip(). Reads at most the header section. A response
// whose CSeq cannot be found is kept (the parser then counts it as malformed if it is).
IgnoredMethod ignoredMethod(std::string_view sip);

}  // namespace mcn::capture
