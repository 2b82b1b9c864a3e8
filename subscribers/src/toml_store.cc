#include "mcn/subscribers/toml_store.h"

#include <fmt/format.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "checks.h"
#include "mcn/subscribers/csv_import.h"
#include "mcn/subscribers/numbers.h"
#include "mcn/subscribers/validate.h"

namespace mcn::subscribers {

using namespace detail;

namespace {

// Reads [[person]] tables, failing on the first problem with "origin:line:col: field: reason".
class Reader {
 public:
  Reader(std::string origin, const sipparse::DialPlan& plan)
      : origin_(std::move(origin)), plan_(plan) {}

  std::vector<Person> read(const toml::table& root) {
    for (auto&& [k, v] : root) {
      if (k.str() != "person") fail(&v, k.str(), "unknown key");
    }
    std::vector<Person> people;
    const toml::node* pn = root.get("person");
    if (pn == nullptr) return people;
    const toml::array* arr = pn->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      fail(pn, "person", "expected [[person]] tables");
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      people.push_back(readPerson(*arr->get(i)->as_table(), i));
    }
    return people;
  }

 private:
  [[noreturn]] void fail(const toml::node* node, std::string_view field,
                         std::string_view why) const {
    if (node != nullptr && node->source().begin.line != 0) {
      throw SubscriberError(fmt::format("{}:{}:{}: {}: {}", origin_, node->source().begin.line,
                                        node->source().begin.column, field, why));
    }
    throw SubscriberError(fmt::format("{}: {}: {}", origin_, field, why));
  }

  // Unknown keys are errors: a typo must not silently keep a default.
  void onlyKeys(const toml::table& t, const std::string& where,
                std::initializer_list<std::string_view> allowed, bool channel = false) const {
    for (auto&& [k, v] : t) {
      bool ok = false;
      for (auto a : allowed) ok = ok || (k.str() == a);
      if (ok) continue;
      const std::string field = where + "." + std::string(k.str());
      if (channel && isInlineSecretKey(k.str())) {
        fail(&v, field,
             "credentials are not written inline; use secret_ref = \"env:NAME\" or "
             "\"file:/path\"");
      }
      fail(&v, field, "unknown key");
    }
  }

  const std::string* str(const toml::table& t, const std::string& where,
                         std::string_view key) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_string()) fail(n, where + "." + std::string(key), "expected a string");
    return &n->as_string()->get();
  }

  bool boolean(const toml::table& t, const std::string& where, std::string_view key,
               bool current) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return current;
    if (!n->is_boolean()) fail(n, where + "." + std::string(key), "expected true or false");
    return n->as_boolean()->get();
  }

  // `name = "60s"` or `name_ms = 60000`, not both.
  int64_t duration(const toml::table& t, const std::string& where, const std::string& name,
                   int64_t current, int64_t max) const {
    const toml::node* s = t.get(name);
    const toml::node* ms = t.get(name + "_ms");
    if (s != nullptr && ms != nullptr) {
      fail(ms, where + "." + name + "_ms", fmt::format("give {0} or {0}_ms, not both", name));
    }
    int64_t v = current;
    if (s != nullptr) {
      std::string e = checkDurationText(s->is_string() ? s->as_string()->get() : "", max, v);
      if (!e.empty()) fail(s, where + "." + name, e);
    } else if (ms != nullptr) {
      if (!ms->is_integer()) fail(ms, where + "." + name + "_ms", "expected an integer");
      v = ms->as_integer()->get();
      if (v < 0 || v > max) {
        fail(ms, where + "." + name + "_ms", fmt::format("must be between 0 and {}", max));
      }
    }
    return v;
  }

  Person readPerson(const toml::table& t, size_t idx) {
    const std::string where = fmt::format("person[{}]", idx);
    onlyKeys(t, where, {"id", "name", "numbers", "preferences", "channel"});
    Person p;
    const std::string* id = str(t, where, "id");
    if (id == nullptr) fail(&t, where + ".id", "missing");
    if (std::string e = checkId(*id); !e.empty()) fail(t.get("id"), where + ".id", e);
    if (auto [it, fresh] = ids_.emplace(*id, idx); !fresh) {
      fail(t.get("id"), where + ".id",
           fmt::format("\"{}\" is also the id of person[{}]", *id, it->second));
    }
    p.id = *id;
    if (const std::string* name = str(t, where, "name")) {
      if (std::string e = checkName(*name); !e.empty()) fail(t.get("name"), where + ".name", e);
      p.name = *name;
    }
    readNumbers(t, where, idx, p);
    if (const toml::node* pref = t.get("preferences")) {
      if (!pref->is_table()) fail(pref, where + ".preferences", "expected a table");
      readPreferences(*pref->as_table(), where + ".preferences", p.prefs);
    }
    const toml::node* ch = t.get("channel");
    if (ch == nullptr) fail(&t, where, "no channel (add a [[person.channel]] table)");
    const toml::array* chans = ch->as_array();
    if (chans == nullptr || !chans->is_array_of_tables()) {
      fail(ch, where + ".channel", "expected [[person.channel]] tables");
    }
    if (chans->size() > kMaxChannelsPerPerson) {
      fail(ch, where + ".channel", fmt::format("more than {} channels", kMaxChannelsPerPerson));
    }
    for (size_t i = 0; i < chans->size(); ++i) {
      const std::string cw = fmt::format("{}.channel[{}]", where, i);
      const toml::table& ct = *chans->get(i)->as_table();
      Channel c = readChannel(ct, cw);
      for (const Channel& other : p.channels) {
        if (other.id == c.id) {
          fail(ct.get("id") != nullptr ? ct.get("id") : &ct, cw + ".id",
               fmt::format("duplicate channel id \"{}\" (give each channel its own id)", c.id));
        }
      }
      p.channels.push_back(std::move(c));
    }
    // Everything above is checked with a position; this is the safety net for any rule that only
    // validatePerson knows.
    try {
      validatePerson(p);
    } catch (const SubscriberError& e) {
      fail(&t, where, e.what());
    }
    return p;
  }

  void readNumbers(const toml::table& t, const std::string& where, size_t idx, Person& p) {
    const toml::node* n = t.get("numbers");
    const std::string field = where + ".numbers";
    if (n == nullptr) fail(&t, field, "missing");
    const toml::array* arr = n->as_array();
    if (arr == nullptr) fail(n, field, "expected an array of strings");
    if (arr->empty()) fail(n, field, "empty (a person needs at least one number)");
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node* e = arr->get(i);
      const std::string ef = fmt::format("{}[{}]", field, i);
      if (!e->is_string()) fail(e, ef, "expected a string");
      std::string stored, why;
      if (!normaliseSubscriberNumber(e->as_string()->get(), plan_, stored, why)) fail(e, ef, why);
      const std::string key(numberIndexKey(stored));
      auto it = numbers_.find(key);
      if (it != numbers_.end()) {
        if (it->second == idx) continue;  // "1013" and "+86 25 8300 1013": one number, once
        fail(e, ef,
             fmt::format("{} already belongs to person[{}] {} ({})", stored, it->second,
                         people_ids_[it->second].first, people_ids_[it->second].second));
      }
      numbers_.emplace(key, idx);
      p.numbers.push_back(std::move(stored));
    }
    if (p.numbers.size() > kMaxNumbersPerPerson) {
      fail(n, field, fmt::format("more than {} numbers", kMaxNumbersPerPerson));
    }
    people_ids_.emplace_back(p.id, p.name);
  }

  void readPreferences(const toml::table& t, const std::string& where, Preferences& pr) {
    onlyKeys(t, where,
             {"merge_window", "merge_window_ms", "quiet_hours", "time_zone", "language", "outcomes",
              "internal_calls", "external_calls", "withheld_callers", "min_ring", "min_ring_ms"});
    pr.merge_window_ms = duration(t, where, "merge_window", pr.merge_window_ms, kMaxMergeWindowMs);
    pr.min_ring_ms = duration(t, where, "min_ring", pr.min_ring_ms, kMaxMinRingMs);
    pr.internal_calls = boolean(t, where, "internal_calls", pr.internal_calls);
    pr.external_calls = boolean(t, where, "external_calls", pr.external_calls);
    pr.withheld_callers = boolean(t, where, "withheld_callers", pr.withheld_callers);
    if (const std::string* tz = str(t, where, "time_zone")) {
      if (std::string e = checkTimeZone(*tz); !e.empty()) {
        fail(t.get("time_zone"), where + ".time_zone", e);
      }
      pr.time_zone = *tz;
    }
    if (const std::string* lang = str(t, where, "language")) {
      if (std::string e = checkLanguage(*lang); !e.empty()) {
        fail(t.get("language"), where + ".language", e);
      }
      pr.language = *lang;
    }
    if (const toml::node* o = t.get("outcomes")) {
      const toml::array* arr = o->as_array();
      if (arr == nullptr) fail(o, where + ".outcomes", "expected an array of outcome names");
      if (arr->empty()) fail(o, where + ".outcomes", std::string(kEmptyOutcomes));
      pr.use_missed_flag = false;
      pr.outcomes.fill(false);
      for (size_t i = 0; i < arr->size(); ++i) {
        const toml::node* e = arr->get(i);
        const std::string ef = fmt::format("{}.outcomes[{}]", where, i);
        if (!e->is_string()) fail(e, ef, "expected an outcome name");
        common::Outcome oc{};
        if (std::string why = checkOutcomeName(e->as_string()->get(), oc); !why.empty()) {
          fail(e, ef, why);
        }
        pr.outcomes[static_cast<size_t>(oc)] = true;
      }
    }
    if (const toml::node* q = t.get("quiet_hours")) {
      const std::string qw = where + ".quiet_hours";
      if (!q->is_table()) {
        fail(q, qw, "expected a table { start = \"22:00\", end = \"07:30\", action = \"hold\" }");
      }
      const toml::table& qt = *q->as_table();
      onlyKeys(qt, qw, {"start", "end", "action"});
      QuietHours qh;
      for (auto [key, out] : {std::pair<std::string_view, int*>{"start", &qh.start_minute},
                              std::pair<std::string_view, int*>{"end", &qh.end_minute}}) {
        const std::string kf = qw + "." + std::string(key);
        const std::string* s = str(qt, qw, key);
        if (s == nullptr) fail(q, kf, "missing");
        if (std::string e = checkClockText(*s, *out); !e.empty()) fail(qt.get(key), kf, e);
      }
      if (const std::string* a = str(qt, qw, "action")) {
        if (std::string e = checkQuietAction(*a, qh.action); !e.empty()) {
          fail(qt.get("action"), qw + ".action", e);
        }
      }
      if (qh.start_minute == qh.end_minute) fail(q, qw, std::string(kEmptyQuietWindow));
      pr.quiet_hours = qh;
    }
  }

  Channel readChannel(const toml::table& t, const std::string& where) {
    onlyKeys(t, where, {"id", "kind", "target", "target_ref", "secret_ref", "options"}, true);
    Channel c;
    const std::string* kind = str(t, where, "kind");
    if (kind == nullptr) fail(&t, where + ".kind", "missing (" + kindList() + ")");
    std::optional<ChannelKind> k = channelKindFromName(*kind);
    if (!k) {
      fail(t.get("kind"), where + ".kind",
           fmt::format("unknown kind \"{}\" ({})", *kind, kindList()));
    }
    c.kind = *k;
    c.id = channelKindName(c.kind);
    if (const std::string* id = str(t, where, "id")) {
      if (std::string e = checkChannelId(*id); !e.empty()) fail(t.get("id"), where + ".id", e);
      c.id = *id;
    }
    const std::string* target = str(t, where, "target");
    const std::string* target_ref = str(t, where, "target_ref");
    if (target != nullptr && target_ref != nullptr) {
      fail(t.get("target_ref"), where + ".target_ref", "give target or target_ref, not both");
    }
    if (target_ref != nullptr) {
      if (std::string e = checkSecretRef(*target_ref); !e.empty()) {
        fail(t.get("target_ref"), where + ".target_ref", e);
      }
      c.target_ref = *target_ref;
    } else if (target == nullptr) {
      if (needsTarget(c.kind)) {
        fail(&t, where + ".target",
             fmt::format("missing ({}, or target_ref = \"env:NAME\")", targetWhat(c.kind)));
      }
    } else {
      if (std::string e = checkTarget(c.kind, *target); !e.empty()) {
        fail(t.get("target"), where + ".target", e);
      }
      c.target = *target;
    }
    if (const std::string* ref = str(t, where, "secret_ref")) {
      if (std::string e = checkSecretRef(*ref); !e.empty()) {
        fail(t.get("secret_ref"), where + ".secret_ref", e);
      }
      c.secret_ref = *ref;
    }
    if (const toml::node* o = t.get("options")) {
      if (!o->is_table()) fail(o, where + ".options", "expected a table of strings");
      for (auto&& [key, v] : *o->as_table()) {
        const std::string kf = where + ".options." + std::string(key.str());
        if (std::string e = checkOptionKey(key.str()); !e.empty()) fail(&v, kf, e);
        if (!v.is_string()) fail(&v, kf, "expected a string");
        if (std::string e = checkOptionValue(v.as_string()->get()); !e.empty()) fail(&v, kf, e);
        c.options.emplace(std::string(key.str()), v.as_string()->get());
      }
    }
    return c;
  }

  std::string origin_;
  const sipparse::DialPlan& plan_;
  std::map<std::string, size_t, std::less<>> ids_;
  std::map<std::string, size_t, std::less<>> numbers_;           // index key -> person index
  std::vector<std::pair<std::string, std::string>> people_ids_;  // (id, name) per person index
};

// TOML basic string (TOML 1.0 §String): escape '"', '\' and control characters.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

std::string quoteList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ", ";
    out += quote(v[i]);
  }
  return out + "]";
}

}  // namespace

std::vector<Person> loadTomlText(std::string_view text, const std::string& origin,
                                 const sipparse::DialPlan& plan) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw SubscriberError(fmt::format("{}:{}:{}: TOML syntax: {}", origin, e.source().begin.line,
                                      e.source().begin.column, e.description()));
  }
  return Reader(origin, plan).read(root);
}

std::vector<Person> loadTomlFile(const std::string& path, const sipparse::DialPlan& plan) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SubscriberError(fmt::format("{}: cannot read ({})", path, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return loadTomlText(ss.str(), path, plan);
}

bool isCsvFile(std::string_view path) {
  constexpr std::string_view kExt = ".csv";
  if (path.size() < kExt.size()) return false;
  const std::string_view ext = path.substr(path.size() - kExt.size());
  for (size_t i = 0; i < kExt.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(ext[i])) != kExt[i]) return false;
  }
  return true;
}

std::vector<Person> loadPeopleFile(const std::string& path, const sipparse::DialPlan& plan) {
  return isCsvFile(path) ? loadCsvFile(path, plan) : loadTomlFile(path, plan);
}

std::string exportToml(const std::vector<Person>& people) {
  const Preferences def;
  std::string out = "# mcn subscribers (see subscribers/README.md for every key)\n";
  for (const Person& p : people) {
    out += "\n[[person]]\n";
    out += "id = " + quote(p.id) + "\n";
    if (!p.name.empty()) out += "name = " + quote(p.name) + "\n";
    out += "numbers = " + quoteList(p.numbers) + "\n";
    const Preferences& pr = p.prefs;
    std::string prefs;
    if (pr.merge_window_ms != def.merge_window_ms) {
      prefs += "merge_window = " + quote(formatDurationMs(pr.merge_window_ms)) + "\n";
    }
    if (pr.quiet_hours) {
      prefs += fmt::format("quiet_hours = {{ start = {}, end = {}, action = {} }}\n",
                           quote(formatClockMinutes(pr.quiet_hours->start_minute)),
                           quote(formatClockMinutes(pr.quiet_hours->end_minute)),
                           pr.quiet_hours->action == QuietAction::kHold ? "\"hold\"" : "\"drop\"");
    }
    if (pr.time_zone != def.time_zone) prefs += "time_zone = " + quote(pr.time_zone) + "\n";
    if (pr.language != def.language) prefs += "language = " + quote(pr.language) + "\n";
    if (!pr.use_missed_flag) {
      std::vector<std::string> names;
      for (int i = 0; i < common::kOutcomeCount; ++i) {
        if (pr.outcomes[i])
          names.emplace_back(common::outcomeName(static_cast<common::Outcome>(i)));
      }
      prefs += "outcomes = " + quoteList(names) + "\n";
    }
    if (pr.internal_calls != def.internal_calls) {
      prefs += fmt::format("internal_calls = {}\n", pr.internal_calls);
    }
    if (pr.external_calls != def.external_calls) {
      prefs += fmt::format("external_calls = {}\n", pr.external_calls);
    }
    if (pr.withheld_callers != def.withheld_callers) {
      prefs += fmt::format("withheld_callers = {}\n", pr.withheld_callers);
    }
    if (pr.min_ring_ms != def.min_ring_ms) {
      prefs += "min_ring = " + quote(formatDurationMs(pr.min_ring_ms)) + "\n";
    }
    if (!prefs.empty()) out += "[person.preferences]\n" + prefs;
    for (const Channel& c : p.channels) {
      out += "[[person.channel]]\n";
      out += "id = " + quote(c.id) + "\n";
      out += "kind = " + quote(channelKindName(c.kind)) + "\n";
      if (!c.target.empty()) out += "target = " + quote(c.target) + "\n";
      if (!c.target_ref.empty()) out += "target_ref = " + quote(c.target_ref) + "\n";
      if (!c.secret_ref.empty()) out += "secret_ref = " + quote(c.secret_ref) + "\n";
      if (!c.options.empty()) {
        out += "[person.channel.options]\n";
        for (const auto& [k, v] : c.options) out += k + " = " + quote(v) + "\n";
      }
    }
  }
  return out;
}

void saveTomlFile(const std::string& path, const std::vector<Person>& people) {
  const std::string text = exportToml(people);
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw SubscriberError(fmt::format("{}: cannot write ({})", tmp, std::strerror(errno)));
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw SubscriberError(fmt::format("{}: write failed", tmp));
    }
  }
  // rename(2) is atomic within a file system: a reader sees the old file or the new one.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw SubscriberError(fmt::format("{}: cannot replace ({})", path, std::strerror(err)));
  }
}

}  // namespace mcn::subscribers
