#pragma once
// SIP message framing on a stream transport (RFC 3261 §18.3): a message ends after the empty line
// that closes its headers plus Content-Length bytes of body. Works on a borrowed view and never
// allocates, so the same function serves one TCP segment today and a reassembled TCP stream
// buffer later (the stream reassembler keeps the kIncomplete tail and calls again with more).

#include <cstdint>
#include <string_view>

namespace mcn::capture::detail {

enum class FrameStatus : uint8_t {
  kMessage,           // a whole message (headers + Content-Length bytes of body)
  kNoContentLength,   // headers complete but no Content-Length: `message` is the headers only
  kIncomplete,        // starts with a SIP start line but headers or body run past the data
  kNotSip,            // does not start with a SIP start line
  kBadContentLength,  // Content-Length is not a decimal number
  kEnd,               // nothing left (or only CRLF keep-alives)
};

struct Framed {
  FrameStatus status = FrameStatus::kEnd;
  std::string_view message;  // set for kMessage and kNoContentLength
};

// Skips leading CRLFs (RFC 3261 §7.5; RFC 5626 §3.5.1 keep-alives), then frames one message at
// the front of `rest`. On kMessage and kNoContentLength `rest` is advanced past the message;
// otherwise `rest` is left at the first byte that could not be framed.
Framed frameSipMessage(std::string_view& rest);

// Parses a Content-Length value ("  42 "); returns false if it is not a decimal number.
bool parseContentLength(std::string_view value, uint64_t& out);

}  // namespace mcn::capture::detail
