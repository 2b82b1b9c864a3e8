#pragma once
// Who is subscribed, which numbers are whose, how and when they want to hear about missed calls.
// A Directory is an immutable snapshot: the data path holds a shared_ptr to one and never waits
// on the store (file or Redis) that produced it; a refresh swaps in a new snapshot.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/common/outcome.h"

namespace mcn::subscribers {

enum class ChannelKind : uint8_t {
  kConsole,     // human text on stdout (the embedded default)
  kJsonl,       // one JSON object per notification appended to a file
  kWebhook,     // generic HTTP POST, Standard Webhooks headers and HMAC-SHA256 signature
  kWeCom,       // WeCom (企业微信) group robot
  kDingTalk,    // DingTalk robot, timestamp+secret HMAC-SHA256 signature
  kFeishu,      // Feishu / Lark bot with signature
  kSmsAliyun,   // Aliyun SendSms, RPC signature v1
  kSmsHttp,     // generic HTTP SMS gateway described by URL/body templates
  kEmail,       // SMTP through libcurl, TLS required
  kSipMessage,  // RFC 3428 MESSAGE to the person's IMS identity through mcn's SIP user agent
};
const char* channelKindName(ChannelKind k);  // "console", "jsonl", "webhook", "wecom", ...
std::optional<ChannelKind> channelKindFromName(std::string_view name);

struct Channel {
  std::string id;  // unique within the person, e.g. "wecom-office"
  ChannelKind kind = ChannelKind::kConsole;
  std::string target;  // URL, phone number, e-mail address or file path, per kind
  // Where the target comes from when the target itself is a credential (a WeCom or DingTalk robot
  // URL carries its key): "env:NAME" or "file:/path". At most one of target / target_ref is set.
  std::string target_ref;
  // Where the credential comes from, never the credential itself: "env:NAME" or "file:/path".
  // Empty when the channel needs none.
  std::string secret_ref;
  std::map<std::string, std::string> options;  // kind-specific (sign_name, template_code, ...)

  friend bool operator==(const Channel&, const Channel&) = default;
};

enum class QuietAction : uint8_t { kHold, kDrop };

struct QuietHours {
  int start_minute = 0;  // minutes after local midnight, e.g. 22:00 = 1320
  int end_minute = 0;    // may be < start (wraps midnight)
  QuietAction action = QuietAction::kHold;

  friend bool operator==(const QuietHours&, const QuietHours&) = default;
};

struct Preferences {
  // Which outcomes to be told about (index = common::Outcome). Default: the outcomes configured
  // as missed, i.e. everything a CallRecord marks missed.
  std::array<bool, common::kOutcomeCount> outcomes{};
  bool use_missed_flag = true;  // true: notify iff CallRecord::missed (ignore `outcomes`)
  bool internal_calls = true;   // caller is another subscriber
  bool external_calls = true;
  bool withheld_callers = true;
  std::optional<QuietHours> quiet_hours;
  int64_t min_ring_ms = 0;
  int64_t merge_window_ms = 60000;          // 0 = notify at once
  std::string time_zone = "Asia/Shanghai";  // IANA name, for local times and quiet hours
  std::string language = "zh";              // "zh" or "en" default templates

  friend bool operator==(const Preferences&, const Preferences&) = default;
};

struct Person {
  std::string id;  // stable key, e.g. employee number "e1024"
  std::string name;
  // Normalised by the dial plan (E.164 with '+'), or "sip:user@host" for a SIP identity whose user
  // part is not a number (a softphone "alice"). Such an identity is indexed under its raw user
  // ("alice"), which is what calls/ reports as caller/callee when a URI holds no number.
  std::vector<std::string> numbers;
  std::vector<Channel> channels;
  Preferences prefs;

  friend bool operator==(const Person&, const Person&) = default;
};

// The key a stored number is looked up by: the number itself, or the user part of a stored
// "sip:user@host" / "sips:user@host" identity.
std::string_view numberIndexKey(std::string_view stored);

class Directory {
 public:
  // Throws std::invalid_argument naming the person and number if a number belongs to two people
  // or an id repeats.
  static std::shared_ptr<const Directory> build(std::vector<Person> people, uint64_t version);

  // `normalised` as in a CallRecord (a number, or the raw user of a non-number URI); nullptr: not
  // a subscriber.
  const Person* findByNumber(std::string_view normalised) const;
  const Person* findById(std::string_view id) const;
  const std::vector<Person>& people() const { return people_; }
  uint64_t version() const { return version_; }

 private:
  std::vector<Person> people_;
  std::map<std::string, size_t, std::less<>> by_number_;
  std::map<std::string, size_t, std::less<>> by_id_;
  uint64_t version_ = 0;
};

}  // namespace mcn::subscribers
