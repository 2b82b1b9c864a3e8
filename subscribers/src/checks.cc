#include "checks.h"

#include <sys/stat.h>

#include <cctype>
#include <string>

#include "mcn/subscribers/validate.h"

namespace mcn::subscribers::detail {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool isHttpUrl(std::string_view s) {
  const std::string l = lower(s.substr(0, 8));
  size_t host = 0;
  if (l.starts_with("https://"))
    host = 8;
  else if (l.starts_with("http://"))
    host = 7;
  else
    return false;
  return s.size() > host && s[host] != '/' &&
         s.find_first_of(" \t\r\n\"<>") == std::string_view::npos;
}

}  // namespace

std::string checkId(std::string_view id) {
  // The id is part of Redis keys and idempotency keys: no ':' (key separator), no glob
  // characters (SCAN patterns), no spaces.
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
                c == '@');
  }
  return ok ? "" : "must be 1-64 characters of A-Z a-z 0-9 . _ - @";
}

std::string checkName(std::string_view name) {
  if (name.size() > 200) return "longer than 200 bytes";
  if (!isCleanUtf8(name)) return "not valid single-line UTF-8 text";
  return "";
}

std::string checkChannelId(std::string_view id) {
  return checkId(id).empty() ? "" : "must be 1-64 characters of A-Z a-z 0-9 . _ - @";
}

std::string checkSecretRef(std::string_view ref) {
  if (ref.starts_with("env:")) {
    std::string_view name = ref.substr(4);
    bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name.front()));
    for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (ok) return "";
    return "env: must name an environment variable (letters, digits, _)";
  }
  if (ref.starts_with("file:")) {
    std::string_view path = ref.substr(5);
    if (path.size() > 1 && path.front() == '/' && path.find('\n') == std::string_view::npos) {
      return "";
    }
    return "file: must name an absolute path";
  }
  return "expected \"env:NAME\" or \"file:/absolute/path\", not the credential itself";
}

std::string checkTimeZone(std::string_view tz) {
  // An IANA name is relative and made of [A-Za-z0-9_+-] components; refuse anything that could
  // walk out of the zoneinfo tree before asking the file system.
  bool ok = !tz.empty() && tz.size() <= 64 && tz.front() != '/';
  for (char c : tz) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
                c == '+');
  }
  ok = ok && tz.find("..") == std::string_view::npos;
  struct stat st {};
  if (ok) {
    const std::string path = std::string(kZoneInfoDir) + "/" + std::string(tz);
    ok = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }
  if (ok) return "";
  return "unknown time zone \"" + std::string(tz) + "\" (not under " + kZoneInfoDir + ")";
}

std::string checkLanguage(std::string_view lang) {
  return (lang == "zh" || lang == "en") ? "" : "expected \"zh\" or \"en\"";
}

bool needsTarget(ChannelKind kind) { return kind != ChannelKind::kConsole; }

const char* targetWhat(ChannelKind kind) {
  switch (kind) {
    case ChannelKind::kConsole:
      return "nothing";
    case ChannelKind::kJsonl:
      return "the file to append to";
    case ChannelKind::kWebhook:
      return "the webhook URL";
    case ChannelKind::kWeCom:
      return "the WeCom robot URL";
    case ChannelKind::kDingTalk:
      return "the DingTalk robot URL";
    case ChannelKind::kFeishu:
      return "the Feishu bot URL";
    case ChannelKind::kSmsAliyun:
      return "the phone number";
    case ChannelKind::kSmsHttp:
      return "the gateway URL";
    case ChannelKind::kEmail:
      return "the e-mail address";
    case ChannelKind::kSipMessage:
      return "the IMS identity (sip:, sips: or tel: URI, or a number)";
  }
  return "the target";
}

std::string checkTarget(ChannelKind kind, std::string_view t) {
  if (t.find_first_of("\r\n") != std::string_view::npos) return "contains a line break";
  switch (kind) {
    case ChannelKind::kConsole:
      return "";
    case ChannelKind::kJsonl:
      return t.empty() ? "expected a file path" : "";
    case ChannelKind::kWebhook:
    case ChannelKind::kWeCom:
    case ChannelKind::kDingTalk:
    case ChannelKind::kFeishu:
    case ChannelKind::kSmsHttp:
      return isHttpUrl(t) ? "" : "expected an http:// or https:// URL";
    case ChannelKind::kSmsAliyun: {
      size_t i = (!t.empty() && t.front() == '+') ? 1 : 0;
      bool ok = t.size() >= i + 5 && t.size() <= i + 20;
      for (; ok && i < t.size(); ++i) ok = std::isdigit(static_cast<unsigned char>(t[i])) != 0;
      return ok ? "" : "expected a phone number (digits, optional leading +)";
    }
    case ChannelKind::kEmail: {
      const size_t at = t.find('@');
      const bool ok = at != std::string_view::npos && at > 0 && at + 1 < t.size() &&
                      t.find('@', at + 1) == std::string_view::npos &&
                      t.find_first_of(" \t<>,;\"") == std::string_view::npos;
      return ok ? "" : "expected an e-mail address";
    }
    case ChannelKind::kSipMessage: {
      // A URI the SIP user agent sends to as is, or a number it puts in its domain; nothing that
      // would change the request line or the headers.
      bool uri = t.starts_with("sip:") || t.starts_with("sips:") || t.starts_with("tel:");
      bool ok = !t.empty() && t.size() <= 256 &&
                t.find_first_of(" \t<>\"\\") == std::string_view::npos &&
                (uri ? t.size() > 4 : t.find_first_of("@;:?") == std::string_view::npos);
      return ok ? "" : "expected a sip:, sips: or tel: URI or a number";
    }
  }
  return "";
}

bool isCredentialKey(std::string_view key) {
  const std::string l = lower(key);
  if (l.ends_with("_ref")) return false;
  return l.find("secret") != std::string::npos || l.find("password") != std::string::npos ||
         l.find("token") != std::string::npos || l == "key" || l.ends_with("_key");
}

bool isInlineSecretKey(std::string_view key) { return isCredentialKey(key); }

std::string checkOptionKey(std::string_view key) {
  if (isCredentialKey(key)) {
    return "credentials are not written inline; use the channel's secret_ref = \"env:NAME\"";
  }
  bool ok = !key.empty() && key.size() <= 64;
  for (char c : key) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  return ok ? "" : "option names are letters, digits and _";
}

std::string checkOptionValue(std::string_view value) {
  if (value.size() > 4096) return "longer than 4096 bytes";
  return isCleanUtf8(value) ? "" : "not valid single-line UTF-8 text";
}

std::string kindList() {
  std::string s = "one of";
  for (auto k :
       {ChannelKind::kConsole, ChannelKind::kJsonl, ChannelKind::kWebhook, ChannelKind::kWeCom,
        ChannelKind::kDingTalk, ChannelKind::kFeishu, ChannelKind::kSmsAliyun,
        ChannelKind::kSmsHttp, ChannelKind::kEmail, ChannelKind::kSipMessage}) {
    s += (s.size() == 6 ? " " : ", ");
    s += channelKindName(k);
  }
  return s;
}

std::string outcomeList() {
  std::string s = "one of";
  for (int i = 0; i < common::kOutcomeCount; ++i) {
    s += (i == 0 ? " " : ", ");
    s += common::outcomeName(static_cast<common::Outcome>(i));
  }
  return s;
}

bool isCleanUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else
      return false;
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 (RFC 3629 §3).
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string checkDurationText(std::string_view s, int64_t max, int64_t& out) {
  std::optional<int64_t> d = parseDurationMs(s);
  if (!d) return "expected a duration like \"60s\", \"500ms\", \"2m\", \"1h\" or \"0\"";
  if (*d > max) return "must be at most " + formatDurationMs(max);
  out = *d;
  return "";
}

std::string checkClockText(std::string_view s, int& out) {
  std::optional<int> m = parseClockMinutes(s);
  if (!m) return "expected a time \"HH:MM\" (00:00..23:59)";
  out = *m;
  return "";
}

std::string checkQuietAction(std::string_view s, QuietAction& out) {
  if (s == "hold") {
    out = QuietAction::kHold;
  } else if (s == "drop") {
    out = QuietAction::kDrop;
  } else {
    return "expected \"hold\" or \"drop\"";
  }
  return "";
}

std::string checkOutcomeName(std::string_view s, common::Outcome& out) {
  std::optional<common::Outcome> oc = common::outcomeFromName(s);
  if (!oc) return "unknown outcome \"" + std::string(s) + "\" (" + outcomeList() + ")";
  out = *oc;
  return "";
}

}  // namespace mcn::subscribers::detail
