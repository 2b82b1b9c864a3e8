#include "mcn/capture/prefilter.h"

#include <array>

namespace mcn::capture {
namespace {

struct Name {
  std::string_view text;
  IgnoredMethod method;
};

// RFC 3261 §7.1: method names are case-sensitive, so an exact match is right.
constexpr std::array<Name, 6> kIgnored{{
    {"REGISTER", IgnoredMethod::kRegister},
    {"OPTIONS", IgnoredMethod::kOptions},
    {"SUBSCRIBE", IgnoredMethod::kSubscribe},
    {"NOTIFY", IgnoredMethod::kNotify},
    {"PUBLISH", IgnoredMethod::kPublish},
    {"MESSAGE", IgnoredMethod::kMessage},
}};

// A whole-token match at the start of `s`: the name followed by SP, tab, CR, LF or the end.
IgnoredMethod lookup(std::string_view s) {
  for (const Name& n : kIgnored) {
    if (s.size() >= n.text.size() && s.compare(0, n.text.size(), n.text) == 0) {
      if (s.size() == n.text.size()) return n.method;
      char d = s[n.text.size()];
      if (d == ' ' || d == '\t' || d == '\r' || d == '\n') return n.method;
    }
  }
  return IgnoredMethod::kNone;
}

bool equalsNoCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

// Finds the CSeq header (RFC 3261 §20.16; it has no compact form) in the header section and
// returns the method after the sequence number.
IgnoredMethod responseMethod(std::string_view sip) {
  size_t pos = sip.find('\n');
  while (pos != std::string_view::npos && pos + 1 < sip.size()) {
    size_t line = pos + 1;
    if (sip[line] == '\r' || sip[line] == '\n') break;  // end of headers
    if (sip.size() - line > 5 && equalsNoCase(sip.substr(line, 4), "cseq")) {
      size_t i = line + 4;
      while (i < sip.size() && (sip[i] == ' ' || sip[i] == '\t')) ++i;
      if (i < sip.size() && sip[i] == ':') {
        ++i;
        while (i < sip.size() && (sip[i] == ' ' || sip[i] == '\t')) ++i;
        while (i < sip.size() && sip[i] >= '0' && sip[i] <= '9') ++i;
        while (i < sip.size() && (sip[i] == ' ' || sip[i] == '\t')) ++i;
        return lookup(sip.substr(i));
      }
    }
    pos = sip.find('\n', line);
  }
  return IgnoredMethod::kNone;
}

}  // namespace

IgnoredMethod ignoredMethod(std::string_view sip) {
  if (sip.size() > 4 && (sip[0] | 0x20) == 's' && (sip[1] | 0x20) == 'i' &&
      (sip[2] | 0x20) == 'p' && sip[3] == '/') {
    return responseMethod(sip);
  }
  return lookup(sip);
}

}  // namespace mcn::capture
