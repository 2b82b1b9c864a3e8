#include "channels/channels.h"
#include "channels/common.h"
#include "mcn/notifier/credentials.h"

namespace mcn::notifier::channels {

namespace {

bool plainAddress(std::string_view a) {
  // One bare addr-spec (RFC 5321 §4.1.2 Mailbox): anything that could close the angle brackets
  // or start a new command line is refused.
  return !a.empty() && a.find('@') != std::string_view::npos &&
         a.find_first_of("<>\r\n \t,") == std::string_view::npos;
}

bool printableAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

std::string stripLineBreaks(std::string_view s) {
  std::string out;
  for (char c : s) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

// RFC 2047 §2: an encoded-word is at most 75 characters, so a long UTF-8 subject becomes
// several words on folded lines (RFC 5322 §2.2.3), each cut on a character boundary.
std::string encodeSubject(std::string_view subject) {
  std::string s = stripLineBreaks(subject);
  if (printableAscii(s)) return s;
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t len = std::min<size_t>(45, s.size() - pos);  // 45 bytes -> 60 base64 characters
    while (pos + len < s.size() && len > 0 &&
           (static_cast<unsigned char>(s[pos + len]) & 0xC0) == 0x80) {
      --len;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64Encode(std::string_view(s).substr(pos, len)) + "?=";
    pos += len;
  }
  return out;
}

// msg-id (RFC 5322 §3.6.4) is "<" dot-atom-text "@" domain ">": keep the key's atext-safe
// characters so the same key always yields the same Message-ID.
std::string messageIdLocal(std::string_view key) {
  std::string out;
  for (char c : key) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '+' || c == '=';
    out += ok ? c : '-';
  }
  while (!out.empty() && out.front() == '.') out.erase(out.begin());
  while (!out.empty() && out.back() == '.') out.pop_back();
  if (out.empty()) out = "mcn";
  return out;
}

}  // namespace

bool EmailChannel::build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
                         std::string& error) const {
  const std::string* smtp_url = option(n, "smtp_url");
  const std::string* from = option(n, "from");
  if (smtp_url == nullptr || from == nullptr) {
    error = "email needs options smtp_url and from";
    return false;
  }
  if (!smtp_url->starts_with("smtps://") && !smtp_url->starts_with("smtp://")) {
    error = "email smtp_url must start with smtps:// or smtp://";
    return false;
  }
  if (!plainAddress(*from) || !plainAddress(n.channel.target)) {
    error = "email from and target must be plain addresses";
    return false;
  }
  out = OutboundRequest{};
  out.protocol = OutboundRequest::Protocol::kSmtp;
  out.url = *smtp_url;
  out.log_target = redactUrl(*smtp_url) + " to " + n.channel.target;
  out.mail_from = "<" + *from + ">";
  out.rcpt_to = {"<" + n.channel.target + ">"};
  if (!ctx.secret.empty()) {
    const std::string* user = option(n, "username");
    out.username = user != nullptr ? *user : *from;
    out.password = std::string(ctx.secret);
  }
  if (const std::string* ca = option(n, "ca_file")) out.ca_file = *ca;

  // RFC 5322 message, CRLF line ends (§2.1); the body is base64 (RFC 2045 §6.8) so no line is
  // too long and no 8BITMIME support is assumed.
  std::string msg;
  msg += "Date: " + rfc5322Date(ctx.now_us) + "\r\n";
  msg += "From: " + *from + "\r\n";
  msg += "To: " + n.channel.target + "\r\n";
  msg += "Subject: " + encodeSubject(n.title.empty() ? std::string_view("mcn") : n.title) + "\r\n";
  // The idempotency key makes retries of one notification the same message to the receiving
  // side (duplicate suppression by Message-ID).
  msg += "Message-ID: <" + messageIdLocal(n.idempotency_key) + "@mcn>\r\n";
  msg += "MIME-Version: 1.0\r\n";
  msg += "Content-Type: text/plain; charset=UTF-8\r\n";
  msg += "Content-Transfer-Encoding: base64\r\n";
  msg += "\r\n";
  std::string b64 = base64Encode(n.text);
  for (size_t i = 0; i < b64.size(); i += 76) msg += b64.substr(i, 76) + "\r\n";
  out.body = std::move(msg);
  return true;
}

Judgement EmailChannel::judge(const Notification&, const InboundResponse& r) const {
  if (r.transport == TransportStatus::kOk) return {Verdict::kDelivered, {}, -1};
  Judgement j = judgeHttpStatus(r);  // transport text
  // RFC 5321 §4.2.1: 5yz is a permanent negative completion; a server without STARTTLS or a
  // refused login will not change on its own either.
  if ((r.status >= 500 && r.status < 600) || r.transport == TransportStatus::kTlsRequired ||
      r.transport == TransportStatus::kAuth) {
    j.verdict = Verdict::kPermanent;
  }
  if (r.status != 0) j.reason += " (smtp " + std::to_string(r.status) + ")";
  return j;
}

std::string EmailChannel::rateKey(const Notification& n) const {
  const std::string* smtp_url = option(n, "smtp_url");
  return "email:" + (smtp_url != nullptr ? *smtp_url : std::string());
}

}  // namespace mcn::notifier::channels
