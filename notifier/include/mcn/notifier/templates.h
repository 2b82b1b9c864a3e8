#pragma once
// Messages: a tiny placeholder language, Chinese and English defaults, one rendering per kind of
// channel. The merger builds a MessageModel (who called, which of my numbers, when, how many
// times, what happened) and asks for the title and text of each channel; the channel code wraps
// them in the vendor's JSON.
//
// Template syntax:
//   {name}            a placeholder (the list below); an unknown name is a configuration error
//   {#calls}...{/calls}  repeated once per caller, in the order of each caller's first call
//   {{  }}            a literal brace
// Placeholders (inside the section: that caller's; outside: the whole message, and for the
// caller fields the most recent call):
//   {person}       the person's name (their id if they have no name)
//   {caller}       the caller's number, or the "withheld" word (未显示号码 / withheld)
//   {caller_name}  the caller's display name, "" if unknown
//   {who}          "name (number)", or the number, or the "withheld" word
//   {my_numbers}   which of the person's numbers rang, e.g. "+862583001013、1013"
//   {time}         local time of the most recent call, "08:42"
//   {times}        local times of every call, oldest first, "08:42、08:45"
//   {date}         local date of the most recent call, "2026-11-22"
//   {count}        number of calls (from this caller inside the section; in all outside)
//   {callers}      number of distinct callers in the message
//   {outcome}      what happened to the most recent call: 忙线 / busy, 未接听 / no answer, ...
//   {callback_link} a signed call-back link for this caller ([callback] link_key_ref and
//                  link_base_url set in `mcn run`), "" without one or for a withheld caller

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcn/calls/call_record.h"
#include "mcn/notifier/time_zone.h"
#include "mcn/subscribers/directory.h"

namespace mcn::notifier {

enum class MessageFormat : uint8_t {
  kPlain,       // console, JSONL, generic webhook, e-mail
  kMarkdown,    // WeCom and DingTalk `markdown` messages
  kFeishuText,  // Feishu `text` message (plain text, no separate title)
  kSms,         // one short line
};
inline constexpr int kMessageFormatCount = 4;
const char* messageFormatName(MessageFormat f);  // "plain", "markdown", "feishu", "sms"
MessageFormat formatFor(subscribers::ChannelKind kind);

// One call to the person: one or more CallRecords of the same call (same Call-ID or correlation
// key) that rang several of their numbers.
struct MessageCall {
  std::string caller;  // "" when withheld
  std::string caller_name;
  bool withheld = false;
  std::vector<std::string> my_numbers;  // in the order they rang
  int64_t at_us = 0;                    // when it started ringing (earliest record)
  calls::Outcome outcome = calls::Outcome::kIncomplete;  // of the earliest record
  std::string reason;                                    // forwarding reason etc.
  std::optional<std::string> forwarded_to;
};

// The calls from one caller (all withheld callers count as one caller).
struct CallerSummary {
  std::string caller;
  std::string caller_name;
  bool withheld = false;
  std::vector<std::string> my_numbers;  // union, in order of first ring
  std::vector<int64_t> times_us;        // oldest first
  MessageCall latest;                   // the most recent call
  std::string callback_link;            // filled by the merger's link maker, if any
};

struct MessageModel {
  std::string person;                  // display name
  std::vector<CallerSummary> callers;  // in order of each caller's first call
  CallerSummary all;  // every call: latest = the most recent call of all, my_numbers the union
};

// `calls`: each inner vector is one call's records (any order; each non-empty).
MessageModel buildMessageModel(std::string person,
                               const std::vector<std::vector<calls::CallRecord>>& calls);

struct RenderedMessage {
  std::string title;
  std::string text;
};

class Templates {
 public:
  // Built-in Chinese ("zh") and English ("en") defaults.
  Templates();
  // Defaults plus overrides. Keys:
  //   "<lang>.<format>.title", "<lang>.<format>.body"  (format: plain, markdown, feishu, sms)
  //   "<lang>.word.<word>"  words: withheld, list_sep, comma, forwarded, forwarded_to, voicemail,
  //                         and one per outcome name (busy, no_answer, cancelled, ...)
  //   "sms_max_chars"       a positive integer (code points)
  // A new language needs its plain title and body at least; its missing formats fall back to its
  // plain ones, its missing words to English. Throws std::invalid_argument naming the key and the
  // unknown placeholder, section or word.
  explicit Templates(const std::map<std::string, std::string>& overrides);

  // Numbers that are voicemail: a call forwarded there "went to voicemail".
  void setVoicemailNumbers(std::vector<std::string> numbers);

  // `language` falls back to its prefix ("en-GB" -> "en"), then to "zh".
  RenderedMessage render(const MessageModel& m, const TimeZone& tz, std::string_view language,
                         MessageFormat format) const;

  // The human description of an outcome in a language ("忙线", "went to voicemail", ...).
  std::string outcomeText(const MessageCall& call, std::string_view language) const;

  bool hasLanguage(std::string_view language) const;

  struct Token {
    enum class Kind : uint8_t { kText, kField, kSectionBegin, kSectionEnd } kind;
    std::string text;  // literal text, or the placeholder name
  };
  struct Compiled {
    std::vector<Token> title;
    std::vector<Token> body;
  };
  struct Language {
    std::array<std::optional<Compiled>, kMessageFormatCount> formats;
    std::map<std::string, std::string, std::less<>> words;
  };

 private:
  const Language& languageFor(std::string_view language) const;
  std::string word(const Language& lang, std::string_view key) const;

  std::map<std::string, Language, std::less<>> languages_;
  std::vector<std::string> voicemail_numbers_;
  size_t sms_max_chars_ = 140;
};

}  // namespace mcn::notifier
