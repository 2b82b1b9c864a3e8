#include "call_state.h"

#include <algorithm>
#include <cctype>

namespace mcn::calls::detail {
namespace {

// SIP tokens and host names compare without case in ASCII only (RFC 3261 §7.3.1, §19.1.4);
// mcn never sets a locale, so this is what std::tolower did, without a libc call per byte.
char asciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return asciiLower(x) == asciiLower(y);
         });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 7044 §10.3: the parent of index "1.2.1" is "1.2".
std::string_view parentIndex(std::string_view index) {
  const size_t dot = index.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : index.substr(0, dot);
}

}  // namespace

const std::vector<Forward>& Hop::forwards() const {
  static const std::vector<Forward> kNone;
  return extra ? extra->forwards : kNone;
}

std::string_view standardPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Moved Temporarily";
    case 380:
      return "Alternative Service";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 480:
      return "Temporarily Unavailable";
    case 484:
      return "Address Incomplete";
    case 486:
      return "Busy Here";
    case 487:
      return "Request Terminated";
    case 488:
      return "Not Acceptable Here";
    case 500:
      return "Server Internal Error";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Server Time-out";
    case 600:
      return "Busy Everywhere";
    case 603:
      return "Decline";
    case 604:
      return "Does Not Exist Anywhere";
    default:
      return {};
  }
}

std::string_view Call::correlation() const {
  if (keys.empty()) return {};
  std::string_view k = keys.front().value;
  return k.size() >= 2 ? k.substr(2) : std::string_view{};
}

int64_t hopDeadline(const Hop& hop, const TrackerConfig& cfg) {
  const int64_t start = hop.startTs();
  int64_t deadline = start == kNever ? kNever : start + cfg.ring_timeout_ms * 1000;
  if (hop.cancel_ts != kNever) deadline = std::min(deadline, hop.cancel_ts + kCancelGiveUpUs);
  return deadline;
}

ReasonKind classifyReasons(const std::vector<sipparse::ReasonValue>& reasons) {
  for (const auto& r : reasons) {
    if (equalsNoCase(r.protocol, "SIP")) {
      switch (r.cause) {
        case 200:
          return ReasonKind::kElsewhere;
        case 600:
        case 603:
          return ReasonKind::kDeclined;
        case 408:
        case 480:
          return ReasonKind::kNoAnswer;
        default:
          break;
      }
    } else if (equalsNoCase(r.protocol, "Q.850")) {
      // Q.850 §2.2.7: 26 non-selected user clearing; 18 no user responding; 19 no answer.
      switch (r.cause) {
        case 26:
          return ReasonKind::kElsewhere;
        case 18:
        case 19:
          return ReasonKind::kNoAnswer;
        default:
          break;
      }
    }
  }
  return ReasonKind::kNone;
}

std::string_view reasonText(const std::vector<sipparse::ReasonValue>& reasons) {
  for (const auto& r : reasons) {
    if (!r.text.empty()) return r.text;
  }
  return {};
}

const char* historyInfoCauseReason(int cause) {
  // RFC 4458 §3.1 (redirecting reasons of ITU-T Q.763 carried as SIP codes), spelled as the
  // RFC 5806 reason tokens so Diversion and History-Info read alike.
  switch (cause) {
    case 486:
      return "user-busy";
    case 408:
      return "no-answer";
    case 302:
      return "unconditional";
    case 487:  // deflection during alerting
    case 480:  // deflection immediate response
      return "deflection";
    case 503:
      return "unavailable";  // mobile subscriber not reachable
    default:
      return "unknown";  // 404 and anything else
  }
}

const std::string& numberOrUser(const sipparse::NameAddr& na) {
  return na.number.empty() ? na.user : na.number;
}

std::vector<Forward> extractForwards(const sipparse::SipEvent& ev) {
  std::vector<Forward> out;
  // RFC 5806 §4: the top Diversion entry is the most recent diversion, to the Request-URI; each
  // older entry diverted to the number of the entry above it.
  for (size_t i = 0; i < ev.diversion.size(); ++i) {
    Forward f;
    f.from = numberOrUser(ev.diversion[i].target);
    if (i > 0) f.to = numberOrUser(ev.diversion[i - 1].target);
    f.reason =
        ev.diversion[i].reason.empty() ? std::string("unknown") : lower(ev.diversion[i].reason);
    if (!f.from.empty() && f.from != f.to) out.push_back(std::move(f));
  }
  // RFC 7044 §9.2 / RFC 4458: an entry with a cause was retargeted to from its parent entry.
  const auto& hi = ev.history_info;
  for (size_t i = 0; i < hi.size(); ++i) {
    if (hi[i].cause == 0) continue;
    const sipparse::Redirection* parent = nullptr;
    const std::string_view want = parentIndex(hi[i].index);
    if (!want.empty()) {
      for (size_t j = 0; j < i; ++j) {
        if (hi[j].index == want) parent = &hi[j];
      }
    }
    if (parent == nullptr && i > 0) parent = &hi[i - 1];
    if (parent == nullptr) continue;
    Forward f;
    f.from = numberOrUser(parent->target);
    f.to = numberOrUser(hi[i].target);
    f.reason = historyInfoCauseReason(hi[i].cause);
    if (!f.from.empty() && f.from != f.to) out.push_back(std::move(f));
  }
  return out;
}

}  // namespace mcn::calls::detail

namespace mcn::calls {

std::string sipUserHost(std::string_view uri) {
  using detail::lower;
  const std::string scheme = lower(uri.substr(0, std::min<size_t>(uri.size(), 5)));
  size_t start = 0;
  if (scheme.rfind("sip:", 0) == 0) {
    start = 4;
  } else if (scheme == "sips:") {
    start = 5;
  } else {
    return {};
  }
  std::string_view rest = uri.substr(start);
  const size_t at = rest.find('@');
  if (at == std::string_view::npos || at == 0) return {};
  std::string_view user = rest.substr(0, at);
  user = user.substr(0, user.find(';'));  // user parameters never contain '@' (RFC 3261 §25.1)
  std::string_view host = rest.substr(at + 1);
  host = host.substr(0, host.find_first_of(":;?>"));
  if (host.empty()) return {};
  return lower(user) + "@" + lower(host);
}

}  // namespace mcn::calls

namespace mcn::calls::detail {

bool isVoicemail(const sipparse::NameAddr& ruri, const std::vector<std::string>& voicemail) {
  if (voicemail.empty()) return false;
  const std::string user_host = sipUserHost(ruri.uri);
  return std::any_of(voicemail.begin(), voicemail.end(), [&](const std::string& v) {
    const bool is_uri = v.find('@') != std::string::npos;
    return is_uri ? !user_host.empty() && v == user_host : !ruri.number.empty() && v == ruri.number;
  });
}

bool hasRetargeting(const sipparse::SipEvent& ev) {
  if (!ev.diversion.empty()) return true;
  return std::any_of(ev.history_info.begin(), ev.history_info.end(),
                     [](const sipparse::Redirection& r) { return r.cause != 0; });
}

bool isAnonymous(const sipparse::NameAddr& from) {
  // RFC 3323 §4.1.1.3: anonymous From is "Anonymous" <sip:anonymous@anonymous.invalid>.
  if (equalsNoCase(from.user, "anonymous") || equalsNoCase(from.display, "anonymous")) return true;
  // "@anonymous.invalid" anywhere in the URI, in any case: only the places of '@' can start it.
  constexpr std::string_view kHost = "@anonymous.invalid";
  for (size_t at = from.uri.find('@'); at != std::string::npos; at = from.uri.find('@', at + 1)) {
    if (equalsNoCase(std::string_view(from.uri).substr(at, kHost.size()), kHost)) return true;
  }
  return false;
}

bool privacyWithholds(const std::vector<std::string>& privacy) {
  // RFC 3323 §4.2 / RFC 3325 §9.3: id, header and user all hide the caller's identity.
  return std::any_of(privacy.begin(), privacy.end(), [](const std::string& p) {
    return equalsNoCase(p, "id") || equalsNoCase(p, "header") || equalsNoCase(p, "user");
  });
}

}  // namespace mcn::calls::detail
