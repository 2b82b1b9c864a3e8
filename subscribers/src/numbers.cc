#include "mcn/subscribers/numbers.h"

#include <cctype>

#include "mcn/subscribers/directory.h"

namespace mcn::subscribers {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

// "Name <sip:x@h>;tag=1" or "<sip:x@h>" -> "sip:x@h"
std::string_view stripAngles(std::string_view s) {
  const size_t lt = s.find('<');
  if (lt == std::string_view::npos) return s;
  const size_t gt = s.find('>', lt + 1);
  if (gt == std::string_view::npos) return trim(s.substr(lt + 1));
  return trim(s.substr(lt + 1, gt - lt - 1));
}

bool isNumberChar(char c) { return (c >= '0' && c <= '9') || c == '*' || c == '#'; }

}  // namespace

bool isStoredNumber(std::string_view s) {
  if (s.empty()) return false;
  if (s.starts_with("sip:") || s.starts_with("sips:")) {
    const size_t colon = s.find(':');
    const size_t at = s.find('@');
    return at != std::string_view::npos && at > colon + 1 && at + 1 < s.size() &&
           s.find_first_of(" ;<>") == std::string_view::npos;
  }
  size_t i = (s.front() == '+') ? 1 : 0;
  if (i == s.size() || s.size() > 33) return false;
  for (; i < s.size(); ++i) {
    if (!isNumberChar(s[i])) return false;
  }
  return true;
}

std::string_view numberIndexKey(std::string_view stored) {
  // Only stored identities start with a scheme; numbers are "+digits", digits, '*' and '#'.
  size_t colon = std::string_view::npos;
  if (stored.starts_with("sip:")) colon = 3;
  if (stored.starts_with("sips:")) colon = 4;
  if (colon == std::string_view::npos) return stored;
  const size_t at = stored.find('@', colon + 1);
  return stored.substr(colon + 1, (at == std::string_view::npos ? stored.size() : at) - colon - 1);
}

bool normaliseSubscriberNumber(std::string_view written, const sipparse::DialPlan& plan,
                               std::string& stored, std::string& why) {
  stored.clear();
  why.clear();
  const std::string_view w = trim(written);
  if (w.empty()) {
    why = "empty";
    return false;
  }
  const std::string_view uri = stripAngles(w);
  const bool is_sip = startsWithNoCase(uri, "sip:") || startsWithNoCase(uri, "sips:");
  const bool is_tel = startsWithNoCase(uri, "tel:");
  if (is_sip || is_tel) {
    stored = plan.normaliseUri(uri);
    if (!stored.empty()) return true;
    if (is_tel) {
      why = "\"" + std::string(w) + "\" is not a telephone number";
      return false;
    }
    // A SIP identity without a number (RFC 3261 §19.1.1 userinfo): keep the user as written,
    // since calls/ reports such a caller or callee by its raw user part.
    const size_t colon = uri.find(':');
    std::string_view rest = uri.substr(colon + 1);
    const size_t at = rest.find('@');
    if (at == std::string_view::npos || at == 0) {
      why = "\"" + std::string(w) + "\" has no user part (expected sip:user@host)";
      return false;
    }
    std::string_view user = rest.substr(0, at);
    user = user.substr(0, user.find(';'));  // user parameters
    user = user.substr(0, user.find(':'));  // a password
    std::string_view host = rest.substr(at + 1);
    host = host.substr(0, host.find_first_of(";?"));
    if (user.empty() || host.empty() || (user.find_first_of(" <>\"") != std::string_view::npos) ||
        host.find_first_of(" <>\"@") != std::string_view::npos) {
      why = "\"" + std::string(w) + "\" is not a usable SIP identity (expected sip:user@host)";
      return false;
    }
    stored = lower(uri.substr(0, colon)) + ":" + std::string(user) + "@" + lower(host);
    return true;
  }
  stored = plan.normalise(w);
  if (stored.empty()) {
    why = "\"" + std::string(w) +
          "\" is not a telephone number (write a softphone identity as sip:user@host)";
    return false;
  }
  return true;
}

}  // namespace mcn::subscribers
