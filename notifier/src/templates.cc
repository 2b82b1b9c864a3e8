#include "mcn/notifier/templates.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace mcn::notifier {

namespace {

constexpr std::array<const char*, kMessageFormatCount> kFormatNames = {"plain", "markdown",
                                                                       "feishu", "sms"};

constexpr std::array<std::string_view, 12> kPlaceholders = {
    "person", "caller", "caller_name", "who",     "my_numbers", "time",
    "times",  "date",   "count",       "callers", "outcome",    "callback_link"};

constexpr std::string_view kSection = "calls";

// Words every language has; the outcome names are words too.
constexpr std::array<std::string_view, 6> kWordNames = {"withheld",  "list_sep",     "comma",
                                                        "forwarded", "forwarded_to", "voicemail"};

bool knownWord(std::string_view w) {
  if (std::find(kWordNames.begin(), kWordNames.end(), w) != kWordNames.end()) return true;
  return calls::outcomeFromName(w).has_value();
}

struct DefaultText {
  const char* lang;
  MessageFormat format;
  const char* title;
  const char* body;
};

// Default messages. Kept short: the title is what a phone's lock screen shows.
const DefaultText kDefaults[] = {
    {"zh", MessageFormat::kPlain, "未接来电 ({count})",
     "{person}，您有 {count} 个未接来电（{date}）：{#calls}\n"
     "{who} 于 {times} 呼叫 {my_numbers}，共 {count} 次，{outcome}{/calls}"},
    {"zh", MessageFormat::kMarkdown, "未接来电 ({count})",
     "#### 未接来电 ({count})\n{person}，您有 {count} 个未接来电（{date}）：\n{#calls}\n"
     "- **{who}** 于 {times} 呼叫 {my_numbers}，共 {count} 次，{outcome}{/calls}"},
    {"zh", MessageFormat::kFeishuText, "未接来电 ({count})",
     "未接来电 ({count})\n{person}，您有 {count} 个未接来电（{date}）：{#calls}\n"
     "{who} 于 {times} 呼叫 {my_numbers}，共 {count} 次，{outcome}{/calls}"},
    {"zh", MessageFormat::kSms, "未接来电 ({count})",
     "未接来电{count}次（{my_numbers}），最近：{who} {time}，{outcome}"},
    {"en", MessageFormat::kPlain, "Missed calls ({count})",
     "{person}, you missed {count} call(s) on {date}:{#calls}\n"
     "{who} called {my_numbers} at {times} ({count}x): {outcome}{/calls}"},
    {"en", MessageFormat::kMarkdown, "Missed calls ({count})",
     "#### Missed calls ({count})\n{person}, you missed {count} call(s) on {date}:\n{#calls}\n"
     "- **{who}** called {my_numbers} at {times} ({count}x): {outcome}{/calls}"},
    {"en", MessageFormat::kFeishuText, "Missed calls ({count})",
     "Missed calls ({count})\n{person}, you missed {count} call(s) on {date}:{#calls}\n"
     "{who} called {my_numbers} at {times} ({count}x): {outcome}{/calls}"},
    {"en", MessageFormat::kSms, "Missed calls ({count})",
     "{count} missed call(s) to {my_numbers}, last: {who} at {time}, {outcome}"},
};

const std::map<std::string, std::string, std::less<>> kZhWords = {
    {"withheld", "未显示号码"},
    {"list_sep", "、"},
    {"comma", "，"},
    {"forwarded", "已转接"},
    {"forwarded_to", "已转接至"},
    {"voicemail", "已转语音信箱"},
    {"answered", "已接听"},
    {"answered_elsewhere", "已在其他设备接听"},
    {"cancelled", "对方已挂断"},
    {"busy", "忙线"},
    {"no_answer", "未接听"},
    {"declined", "已拒接"},
    {"redirected", "已重定向"},
    {"failed", "呼叫失败"},
    {"incomplete", "状态未知"},
};

const std::map<std::string, std::string, std::less<>> kEnWords = {
    {"withheld", "withheld"},
    {"list_sep", ", "},
    {"comma", ", "},
    {"forwarded", "forwarded"},
    {"forwarded_to", "forwarded to"},
    {"voicemail", "went to voicemail"},
    {"answered", "answered"},
    {"answered_elsewhere", "answered on another device"},
    {"cancelled", "caller hung up"},
    {"busy", "busy"},
    {"no_answer", "no answer"},
    {"declined", "declined"},
    {"redirected", "redirected"},
    {"failed", "call failed"},
    {"incomplete", "unknown"},
};

using Token = Templates::Token;

// Parses and validates one template. Throws std::invalid_argument naming `key`.
std::vector<Token> compile(const std::string& key, std::string_view src) {
  std::vector<Token> out;
  std::string text;
  bool in_section = false;
  auto flush = [&] {
    if (!text.empty()) out.push_back({Token::Kind::kText, std::move(text)});
    text.clear();
  };
  for (size_t i = 0; i < src.size(); ++i) {
    const char c = src[i];
    if (c == '}') {
      if (i + 1 < src.size() && src[i + 1] == '}') ++i;  // "}}" or a lone '}' are literal
      text.push_back('}');
      continue;
    }
    if (c != '{') {
      text.push_back(c);
      continue;
    }
    if (i + 1 < src.size() && src[i + 1] == '{') {
      text.push_back('{');
      ++i;
      continue;
    }
    const size_t close = src.find('}', i + 1);
    if (close == std::string_view::npos) {
      throw std::invalid_argument("template \"" + key + "\": unterminated placeholder at offset " +
                                  std::to_string(i));
    }
    const std::string_view name = src.substr(i + 1, close - i - 1);
    i = close;
    flush();
    if (!name.empty() && (name[0] == '#' || name[0] == '/')) {
      const std::string_view section = name.substr(1);
      if (section != kSection) {
        throw std::invalid_argument("template \"" + key + "\": unknown section {" +
                                    std::string(name) + "} (only {#calls}...{/calls})");
      }
      if (name[0] == '#') {
        if (in_section) {
          throw std::invalid_argument("template \"" + key + "\": nested {#calls}");
        }
        in_section = true;
        out.push_back({Token::Kind::kSectionBegin, std::string(section)});
      } else {
        if (!in_section) {
          throw std::invalid_argument("template \"" + key + "\": {/calls} without {#calls}");
        }
        in_section = false;
        out.push_back({Token::Kind::kSectionEnd, std::string(section)});
      }
      continue;
    }
    if (std::find(kPlaceholders.begin(), kPlaceholders.end(), name) == kPlaceholders.end()) {
      throw std::invalid_argument("template \"" + key + "\": unknown placeholder {" +
                                  std::string(name) + "}");
    }
    out.push_back({Token::Kind::kField, std::string(name)});
  }
  if (in_section) throw std::invalid_argument("template \"" + key + "\": {#calls} not closed");
  flush();
  return out;
}

std::string clean(std::string_view v) {
  // Values come from SIP (a display name is the caller's choice): no control characters, so a
  // value can never start a new line of the message.
  std::string out(v);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

std::string hhmm(const TimeZone& tz, int64_t us) {
  const LocalTime lt = tz.toLocal(us);
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", lt.hour % 100, lt.minute % 100);
  return buf;
}

std::string ymd(const TimeZone& tz, int64_t us) {
  const LocalTime lt = tz.toLocal(us);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", lt.year % 10000, lt.month % 100, lt.day % 100);
  return buf;
}

void oneLine(std::string& s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
}

// Cuts to at most `max` code points (UTF-8), ending with "…" if cut.
void truncateCodePoints(std::string& s, size_t max) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) == 0x80) continue;
    if (++count == max) {
      // Is there another code point after this one?
      size_t j = i + 1;
      while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xc0) == 0x80) ++j;
      if (j < s.size()) {
        s.resize(i);
        s += "…";
      }
      return;
    }
  }
}

bool validLanguageName(std::string_view l) {
  if (l.empty() || l.size() > 16) return false;
  return std::all_of(l.begin(), l.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
  });
}

}  // namespace

const char* messageFormatName(MessageFormat f) {
  const auto i = static_cast<size_t>(f);
  return i < kFormatNames.size() ? kFormatNames[i] : "plain";
}

MessageFormat formatFor(subscribers::ChannelKind kind) {
  using K = subscribers::ChannelKind;
  switch (kind) {
    case K::kWeCom:
    case K::kDingTalk:
      return MessageFormat::kMarkdown;
    case K::kFeishu:
      return MessageFormat::kFeishuText;
    case K::kSmsAliyun:
    case K::kSmsHttp:
      return MessageFormat::kSms;
    case K::kConsole:
    case K::kJsonl:
    case K::kWebhook:
    case K::kEmail:
    case K::kSipMessage:
      return MessageFormat::kPlain;
  }
  return MessageFormat::kPlain;
}

MessageModel buildMessageModel(std::string person,
                               const std::vector<std::vector<calls::CallRecord>>& in) {
  std::vector<MessageCall> calls;
  calls.reserve(in.size());
  for (const auto& records : in) {
    if (records.empty()) continue;
    std::vector<const calls::CallRecord*> sorted;
    for (const auto& r : records) sorted.push_back(&r);
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
      return a->started_at_us < b->started_at_us;
    });
    const calls::CallRecord& first = *sorted.front();
    MessageCall c;
    c.withheld = first.caller_withheld || first.caller.empty();
    c.caller = c.withheld ? std::string() : first.caller;
    c.at_us = first.started_at_us;
    c.outcome = first.outcome;
    c.reason = first.reason;
    c.forwarded_to = first.forwarded_to;
    for (const auto* r : sorted) {
      if (c.caller_name.empty() && !c.withheld) c.caller_name = r->caller_name;
      if (std::find(c.my_numbers.begin(), c.my_numbers.end(), r->callee) == c.my_numbers.end()) {
        c.my_numbers.push_back(r->callee);
      }
    }
    calls.push_back(std::move(c));
  }
  std::stable_sort(calls.begin(), calls.end(),
                   [](const MessageCall& a, const MessageCall& b) { return a.at_us < b.at_us; });

  MessageModel m;
  m.person = std::move(person);
  auto add = [](CallerSummary& s, const MessageCall& c) {
    for (const auto& n : c.my_numbers) {
      if (std::find(s.my_numbers.begin(), s.my_numbers.end(), n) == s.my_numbers.end()) {
        s.my_numbers.push_back(n);
      }
    }
    if (s.caller_name.empty()) s.caller_name = c.caller_name;
    s.times_us.push_back(c.at_us);
    s.latest = c;
  };
  for (const auto& c : calls) {
    auto it = std::find_if(m.callers.begin(), m.callers.end(), [&](const CallerSummary& s) {
      return s.withheld == c.withheld && s.caller == c.caller;
    });
    if (it == m.callers.end()) {
      CallerSummary s;
      s.caller = c.caller;
      s.withheld = c.withheld;
      m.callers.push_back(std::move(s));
      it = std::prev(m.callers.end());
    }
    add(*it, c);
    add(m.all, c);
  }
  // Outside the section the caller fields describe the most recent call.
  m.all.caller = m.all.latest.caller;
  m.all.caller_name = m.all.latest.caller_name;
  m.all.withheld = m.all.latest.withheld;
  if (!m.callers.empty() && m.all.caller_name.empty() && !m.all.withheld) {
    for (const auto& s : m.callers) {
      if (s.caller == m.all.caller && !s.withheld) m.all.caller_name = s.caller_name;
    }
  }
  return m;
}

Templates::Templates() : Templates(std::map<std::string, std::string>{}) {}

Templates::Templates(const std::map<std::string, std::string>& overrides) {
  // Raw texts per (language, format): [0] title, [1] body.
  std::map<std::string, std::array<std::array<std::optional<std::string>, 2>, kMessageFormatCount>,
           std::less<>>
      raw;
  for (const auto& d : kDefaults) {
    auto& f = raw[d.lang][static_cast<size_t>(d.format)];
    f[0] = d.title;
    f[1] = d.body;
  }
  languages_["zh"].words = kZhWords;
  languages_["en"].words = kEnWords;

  for (const auto& [key, value] : overrides) {
    if (key == "sms_max_chars") {
      size_t pos = 0;
      long v = 0;
      try {
        v = std::stol(value, &pos);
      } catch (const std::exception&) {
        pos = 0;
      }
      if (pos != value.size() || v <= 0 || v > 10000) {
        throw std::invalid_argument("template key \"sms_max_chars\": not a positive integer: \"" +
                                    value + "\"");
      }
      sms_max_chars_ = static_cast<size_t>(v);
      continue;
    }
    const size_t d1 = key.find('.');
    const size_t d2 = d1 == std::string::npos ? d1 : key.find('.', d1 + 1);
    if (d2 == std::string::npos) {
      throw std::invalid_argument("unknown template key \"" + key +
                                  "\" (want <lang>.<format>.title|body or <lang>.word.<word>)");
    }
    const std::string lang = key.substr(0, d1);
    const std::string mid = key.substr(d1 + 1, d2 - d1 - 1);
    const std::string last = key.substr(d2 + 1);
    if (!validLanguageName(lang)) {
      throw std::invalid_argument("template key \"" + key + "\": bad language \"" + lang + "\"");
    }
    if (mid == "word") {
      if (!knownWord(last)) {
        throw std::invalid_argument("template key \"" + key + "\": unknown word \"" + last + "\"");
      }
      languages_[lang].words[last] = value;
      continue;
    }
    const auto fit = std::find(kFormatNames.begin(), kFormatNames.end(), mid);
    if (fit == kFormatNames.end() || (last != "title" && last != "body")) {
      throw std::invalid_argument("unknown template key \"" + key +
                                  "\" (formats: plain, markdown, feishu, sms; parts: title, body)");
    }
    raw[lang][static_cast<size_t>(fit - kFormatNames.begin())][last == "title" ? 0 : 1] = value;
  }

  for (auto& [lang, formats] : raw) {
    const auto& plain = formats[static_cast<size_t>(MessageFormat::kPlain)];
    for (int part = 0; part < 2; ++part) {
      if (!plain[part]) {
        throw std::invalid_argument("template \"" + lang + ".plain." + (part ? "body" : "title") +
                                    "\" missing for language \"" + lang + "\"");
      }
    }
    Language& l = languages_[lang];
    for (int f = 0; f < kMessageFormatCount; ++f) {
      const std::string prefix = lang + "." + kFormatNames[f] + ".";
      const auto& title = formats[f][0] ? formats[f][0] : plain[0];
      const auto& body = formats[f][1] ? formats[f][1] : plain[1];
      l.formats[f] = Compiled{compile(prefix + "title", *title), compile(prefix + "body", *body)};
    }
  }
  for (const auto& [lang, l] : languages_) {
    if (!l.formats[0]) {
      throw std::invalid_argument("language \"" + lang + "\" has words but no templates (" + lang +
                                  ".plain.title/body)");
    }
  }
}

void Templates::setVoicemailNumbers(std::vector<std::string> numbers) {
  voicemail_numbers_ = std::move(numbers);
}

bool Templates::hasLanguage(std::string_view language) const {
  return languages_.find(language) != languages_.end();
}

const Templates::Language& Templates::languageFor(std::string_view language) const {
  if (auto it = languages_.find(language); it != languages_.end()) return it->second;
  const size_t sep = language.find_first_of("-_");
  if (sep != std::string_view::npos) {
    if (auto it = languages_.find(language.substr(0, sep)); it != languages_.end()) {
      return it->second;
    }
  }
  return languages_.find("zh")->second;
}

std::string Templates::word(const Language& lang, std::string_view key) const {
  if (auto it = lang.words.find(key); it != lang.words.end()) return it->second;
  if (auto it = kEnWords.find(key); it != kEnWords.end()) return it->second;
  return std::string(key);
}

std::string Templates::outcomeText(const MessageCall& call, std::string_view language) const {
  const Language& l = languageFor(language);
  if (call.outcome != calls::Outcome::kForwarded) return word(l, calls::outcomeName(call.outcome));
  // Forwarded: why (RFC 5806 / RFC 4458 reason, lower-case) and where it went.
  std::string out;
  if (call.reason == "user-busy") {
    out = word(l, "busy") + word(l, "comma");
  } else if (call.reason == "no-answer") {
    out = word(l, "no_answer") + word(l, "comma");
  }
  const bool voicemail =
      call.reason.find("voicemail") != std::string::npos ||
      call.reason.find("mailbox") != std::string::npos ||
      (call.forwarded_to && std::find(voicemail_numbers_.begin(), voicemail_numbers_.end(),
                                      *call.forwarded_to) != voicemail_numbers_.end());
  if (voicemail) {
    out += word(l, "voicemail");
  } else if (call.forwarded_to && !call.forwarded_to->empty()) {
    out += word(l, "forwarded_to") + " " + clean(*call.forwarded_to);
  } else {
    out += word(l, "forwarded");
  }
  return out;
}

RenderedMessage Templates::render(const MessageModel& m, const TimeZone& tz,
                                  std::string_view language, MessageFormat format) const {
  const Language& l = languageFor(language);
  const auto fi =
      static_cast<size_t>(format) < kMessageFormatCount ? static_cast<size_t>(format) : 0;
  const Compiled& c = l.formats[fi] ? *l.formats[fi] : *l.formats[0];
  const std::string sep = word(l, "list_sep");

  auto field = [&](const std::string& name, const CallerSummary& s) -> std::string {
    if (name == "person") return clean(m.person);
    if (name == "caller") return s.withheld ? word(l, "withheld") : clean(s.caller);
    if (name == "caller_name") return s.withheld ? std::string() : clean(s.caller_name);
    if (name == "who") {
      if (s.withheld) return word(l, "withheld");
      if (s.caller_name.empty()) return clean(s.caller);
      return clean(s.caller_name) + " (" + clean(s.caller) + ")";
    }
    if (name == "my_numbers") return clean(join(s.my_numbers, sep));
    if (name == "time") return hhmm(tz, s.latest.at_us);
    if (name == "times") {
      std::vector<std::string> t;
      for (int64_t us : s.times_us) t.push_back(hhmm(tz, us));
      return join(t, sep);
    }
    if (name == "date") return ymd(tz, s.latest.at_us);
    if (name == "count") return std::to_string(s.times_us.size());
    if (name == "callers") return std::to_string(m.callers.size());
    if (name == "outcome") return outcomeText(s.latest, language);
    if (name == "callback_link") return s.withheld ? std::string() : clean(s.callback_link);
    return std::string();  // compile() admits only the names above
  };

  auto run = [&](const std::vector<Token>& tokens) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const Token& t = tokens[i];
      if (t.kind == Token::Kind::kText) {
        out += t.text;
      } else if (t.kind == Token::Kind::kField) {
        out += field(t.text, m.all);
      } else if (t.kind == Token::Kind::kSectionBegin) {
        size_t end = i + 1;
        while (end < tokens.size() && tokens[end].kind != Token::Kind::kSectionEnd) ++end;
        for (const CallerSummary& s : m.callers) {
          for (size_t k = i + 1; k < end; ++k) {
            out += tokens[k].kind == Token::Kind::kText ? tokens[k].text : field(tokens[k].text, s);
          }
        }
        i = end;
      }
    }
    return out;
  };

  RenderedMessage r{run(c.title), run(c.body)};
  oneLine(r.title);
  if (format == MessageFormat::kSms) {
    oneLine(r.text);
    truncateCodePoints(r.text, sms_max_chars_);
  }
  return r;
}

}  // namespace mcn::notifier
