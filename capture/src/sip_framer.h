#pragma once
// SIP message framing on a stream transport (RFC 3261 §18.3): a message ends after the empty line
// that closes its headers plus Content-Length bytes of body. Works on a borrowed view and never
// allocates; the TCP stream reassembler (tcp_reassembly.h) keeps the kIncomplete tail of a stream
// and calls again when more bytes arrive.

#include <cstdint>
#include <string_view>

namespace mcn::capture::detail {

enum class FrameStatus : uint8_t {
  kMessage,           // a whole message (headers + Content-Length bytes of body)
  kNoContentLength,   // headers complete but no Content-Length: `message` is the headers only
  kIncomplete,        // starts with (a prefix of) a SIP start line; the message runs past the data
  kNotSip,            // does not start with a SIP start line
  kBadContentLength,  // Content-Length is not a decimal number
  kEnd,               // nothing left (or only CRLF keep-alives)
};

struct Framed {
  FrameStatus status = FrameStatus::kEnd;
  std::string_view message;  // set for kMessage and kNoContentLength
  // kIncomplete with the headers complete: the whole message's length (headers + Content-Length),
  // so a caller can wait for that many bytes without framing again. 0 while the headers are not.
  uint64_t need = 0;
};

// Skips leading CRLFs (RFC 3261 §7.5; RFC 5626 §3.5.1 keep-alives), then frames one message at
// the front of `rest`. On kMessage and kNoContentLength `rest` is advanced past the message;
// otherwise `rest` is left at the first byte that could not be framed.
Framed frameSipMessage(std::string_view& rest);

// True if `line`, a start of a line with no LF yet, can still become a SIP start line once more
// bytes arrive ("INVITE sip:1013@ex", "SIP/2.0 18"). Binary data and other protocols fail within
// a few bytes, so a stream that is not SIP is not held waiting for a line end.
bool couldBecomeSipStartLine(std::string_view line);

// Parses a Content-Length value ("  42 "); returns false if it is not a decimal number.
bool parseContentLength(std::string_view value, uint64_t& out);

}  // namespace mcn::capture::detail
