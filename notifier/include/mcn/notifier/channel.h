#pragma once
// A network channel turns one Notification into one request in the vendor's exact format and
// judges the vendor's answer by the vendor's own success rule. Channels are pure: no I/O, time
// and randomness come in through BuildContext, so every request is reproducible in a test.
// The Delivery engine (delivery.h) does the I/O, retries, limits and dead-lettering.
//
// Per kind (Notification::channel.target / options / secret_ref):
//   webhook    target = URL; secret = "whsec_" + base64 key (Standard Webhooks). Success: 2xx.
//   wecom      target = robot URL (…/cgi-bin/webhook/send?key=…); options msgtype = markdown|text.
//              Success: HTTP 200 and body errcode == 0.
//   dingtalk   target = robot URL (…/robot/send?access_token=…); optional secret "SEC…" adds
//              timestamp+sign; options msgtype = markdown|text. Success: errcode == 0.
//   feishu     target = bot hook URL; optional secret adds timestamp+sign to the body.
//              Success: code == 0 (or the older StatusCode == 0).
//   sms_aliyun target = phone number; secret = AccessKey secret; options access_key_id,
//              sign_name, template_code, template_param (JSON template, placeholders below),
//              endpoint (default https://dysmsapi.aliyuncs.com/), region_id (cn-hangzhou).
//              Success: body Code == "OK".
//   sms_http   target = phone number; options url (template), method (POST|GET), body
//              (template), content_type (application/json), header.<Name> (template),
//              success_contains (optional substring of a successful answer). Success: 2xx.
//   email      target = recipient address; options smtp_url (smtps://host:465 or
//              smtp://host:587, TLS required either way), from, username (default: from),
//              ca_file (extra trust anchor); secret = SMTP password (optional).
//   sip_message target = the person's IMS identity (sip:/sips:/tel: URI or a number); the title
//              and text go as one RFC 3428 MESSAGE (split into numbered parts over 1300 bytes)
//              through the engine's SIP transport (mcn's user agent, `[sipua]`). Success: 2xx;
//              408, 480 and 5xx are retried (Retry-After honoured); any other status is final.
// Template placeholders (sms_http url/body/header.*, sms_aliyun template_param, default
// {"caller":"{{caller}}","count":"{{count}}"}): {{to}} {{text}} {{title}} {{person}}
// {{person_name}} {{count}} {{caller}} {{idempotency_key}} {{timestamp}} {{timestamp_ms}}
// {{secret}}. Values are percent-encoded in URLs, JSON-escaped in JSON bodies (the template
// holds the quotes), form-encoded in form bodies; single braces are literal.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/notifier/clock.h"
#include "mcn/notifier/notification.h"
#include "mcn/subscribers/directory.h"

namespace mcn::notifier {

struct HttpHeader {
  std::string name;
  std::string value;
};

struct OutboundRequest {
  // kSip: handed to the engine's SIP transport (Delivery::setTransport), not to curl.
  enum class Protocol : uint8_t { kHttp, kSmtp, kSip };
  Protocol protocol = Protocol::kHttp;
  std::string method = "POST";  // HTTP: "POST" or "GET"
  std::string url;              // may carry a token: log `log_target` instead; SIP: the URI
  std::vector<HttpHeader> headers;
  std::string body;  // HTTP body, the whole RFC 5322 message for SMTP, the MESSAGE text for SIP
  // SMTP only.
  std::string mail_from;
  std::vector<std::string> rcpt_to;
  std::string username;
  std::string password;
  std::string ca_file;     // extra trust anchor (a private CA); empty = the system store
  std::string log_target;  // safe to log: redacted URL
};

// How the transfer itself ended, before any vendor rule applies.
enum class TransportStatus : uint8_t {
  kOk,           // a complete answer was received
  kTimeout,      // connect or total timeout
  kConnect,      // refused, unreachable, DNS
  kTls,          // handshake or certificate failure
  kTlsRequired,  // SMTP server does not offer STARTTLS: we never fall back to cleartext
  kAuth,         // SMTP login refused
  kOther,
};

struct InboundResponse {
  TransportStatus transport = TransportStatus::kOk;
  std::string transport_error;      // human text, no secrets
  int status = 0;                   // HTTP status, the last SMTP reply code, or the SIP status
  std::vector<HttpHeader> headers;  // names lower-cased
  std::string body;                 // truncated to a bound by the engine
};

enum class Verdict : uint8_t { kDelivered, kRetry, kPermanent };

struct Judgement {
  Verdict verdict = Verdict::kRetry;
  std::string reason;  // short, loggable: "errcode 93000: invalid webhook url"
  // The vendor asks for at least this long before the next try (a robot's rate-limit error);
  // -1 = no opinion. The engine also honours an HTTP Retry-After header on its own.
  int64_t min_retry_delay_ms = -1;
};

struct BuildContext {
  int64_t now_us = 0;        // from the engine's Clock: timestamps in signatures
  Random* random = nullptr;  // nonces
  std::string_view secret;   // resolved from channel.secret_ref; empty if none
};

class Channel {
 public:
  virtual ~Channel() = default;
  virtual subscribers::ChannelKind kind() const = 0;
  // The channel cannot work without a secret (webhook signing key, Aliyun AccessKey secret).
  virtual bool requiresSecret() const = 0;
  // false: `error` says why (a configuration error: retrying will not help).
  virtual bool build(const Notification& n, const BuildContext& ctx, OutboundRequest& out,
                     std::string& error) const = 0;
  // `n` is the notification the request was built from (its options may shape the rule).
  virtual Judgement judge(const Notification& n, const InboundResponse& r) const = 0;
  // Rate limits are per robot / endpoint: the key is never logged.
  virtual std::string rateKey(const Notification& n) const { return n.channel.target; }
};

// The built-in channel for a network kind; nullptr for console and jsonl (written locally).
std::unique_ptr<Channel> makeChannel(subscribers::ChannelKind kind);

// "webhook", "wecom", "dingtalk", ... (the same spelling as subscribers::channelKindName; kept
// here so counter names do not depend on another component's table).
const char* deliveryKindName(subscribers::ChannelKind kind);

}  // namespace mcn::notifier
