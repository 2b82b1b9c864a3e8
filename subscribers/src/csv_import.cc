#include "mcn/subscribers/csv_import.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "checks.h"
#include "mcn/subscribers/numbers.h"
#include "mcn/subscribers/validate.h"

namespace mcn::subscribers {

using namespace detail;

namespace {

constexpr size_t kMaxReportedRows = 20;
constexpr int kMaxChannelGroups = 9;  // channel_*, channel2_* .. channel9_*
constexpr const char* kChannelFields[] = {"id",         "kind",       "target",
                                          "target_ref", "secret_ref", "options"};
constexpr const char* kPersonColumns[] = {
    "id",          "name",     "numbers",  "language",       "time_zone",      "merge_window",
    "quiet_hours", "outcomes", "min_ring", "internal_calls", "external_calls", "withheld_callers"};

struct Record {
  size_t row = 0;  // 1 = header
  std::vector<std::string> fields;
};

// A located CSV problem; `column` may be empty.
struct RowError {
  size_t row;
  std::string column;
  std::string why;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 4180 §2 records: fields separated by ',', records by CRLF (LF accepted), a field in double
// quotes may hold ',', CR, LF and doubled quotes. A quote in the middle of an unquoted field is
// kept as a character (spreadsheets write such files).
bool splitRecords(std::string_view text, std::vector<Record>& out, RowError& err) {
  size_t row = 1;
  size_t i = 0;
  while (i < text.size()) {
    Record rec;
    rec.row = row;
    std::string field;
    bool record_done = false;
    while (!record_done) {
      field.clear();
      if (i < text.size() && text[i] == '"') {
        const size_t start_row = row;
        ++i;
        bool closed = false;
        while (i < text.size()) {
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (text[i] == '\n') ++row;
          field += text[i++];
        }
        if (!closed) {
          err = {start_row, "",
                 fmt::format("field {}: quoted field never closed", rec.fields.size() + 1)};
          return false;
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          err = {row, "",
                 fmt::format("field {}: text after a closing quote", rec.fields.size() + 1)};
          return false;
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          field += text[i++];
        }
      }
      rec.fields.push_back(field);
      if (i >= text.size()) {
        record_done = true;
      } else if (text[i] == ',') {
        ++i;
      } else {  // CR, LF or CRLF ends the record
        if (text[i] == '\r') ++i;
        if (i < text.size() && text[i] == '\n') ++i;
        record_done = true;
      }
    }
    ++row;
    // A blank line is no record (it still counts as a row, so row numbers stay line numbers).
    if (rec.fields.size() == 1 && rec.fields[0].empty()) continue;
    out.push_back(std::move(rec));
  }
  return true;
}

std::vector<std::string> splitList(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ';' || s[i] == '|') {
      std::string_view piece = trim(s.substr(start, i - start));
      if (!piece.empty()) out.emplace_back(piece);
      start = i + 1;
    }
  }
  return out;
}

std::optional<bool> parseBool(std::string_view s) {
  const std::string l = lower(s);
  if (l == "true" || l == "yes" || l == "1") return true;
  if (l == "false" || l == "no" || l == "0") return false;
  return std::nullopt;
}

struct Columns {
  std::map<std::string, size_t> index;  // column name -> field index
  std::vector<std::string> names;       // per field index
};

class RowReader {
 public:
  RowReader(const Columns& cols, const sipparse::DialPlan& plan) : cols_(cols), plan_(plan) {}

  // Returns false and fills `err` on the row's first problem.
  bool read(const Record& rec, Person& p, RowError& err) {
    rec_ = &rec;
    err_ = &err;
    if (rec.fields.size() != cols_.names.size()) {
      err = {rec.row, "",
             fmt::format("expected {} columns, found {}", cols_.names.size(), rec.fields.size())};
      return false;
    }
    for (size_t i = 0; i < rec.fields.size(); ++i) {
      if (!isCleanUtf8(rec.fields[i]))
        return fail(cols_.names[i], "not valid single-line UTF-8 text");
    }
    p = Person{};
    p.id = std::string(cell("id"));
    if (std::string e = checkId(p.id); !e.empty()) {
      return fail("id", p.id.empty() ? std::string("empty") : e);
    }
    if (auto it = ids_.find(p.id); it != ids_.end()) {
      return fail("id", fmt::format("\"{}\" is also on row {}", p.id, it->second));
    }
    p.name = std::string(cell("name"));
    if (std::string e = checkName(p.name); !e.empty()) return fail("name", e);
    if (!readNumbers(p)) return false;
    if (!readPreferences(p.prefs)) return false;
    for (int g = 1; g <= kMaxChannelGroups; ++g) {
      if (!readChannel(g, p)) return false;
    }
    if (p.channels.empty()) {
      return fail("channel_kind", "empty (every person needs a channel)");
    }
    try {
      validatePerson(p);
    } catch (const SubscriberError& e) {
      return fail("", e.what());
    }
    ids_.emplace(p.id, rec.row);
    for (const std::string& n : p.numbers) {
      numbers_.emplace(std::string(numberIndexKey(n)), std::make_pair(p.id, rec.row));
    }
    return true;
  }

 private:
  bool fail(std::string column, std::string why) {
    *err_ = {rec_->row, std::move(column), std::move(why)};
    return false;
  }

  std::string_view cell(const std::string& column) const {
    auto it = cols_.index.find(column);
    if (it == cols_.index.end()) return {};
    return trim(rec_->fields[it->second]);
  }

  bool readNumbers(Person& p) {
    const std::vector<std::string> written = splitList(cell("numbers"));
    if (written.empty()) return fail("numbers", "empty (a person needs at least one number)");
    for (const std::string& w : written) {
      std::string stored, why;
      if (!normaliseSubscriberNumber(w, plan_, stored, why)) return fail("numbers", why);
      const std::string key(numberIndexKey(stored));
      if (auto it = numbers_.find(key); it != numbers_.end()) {
        return fail("numbers", fmt::format("{} already belongs to {} on row {}", stored,
                                           it->second.first, it->second.second));
      }
      bool dup = false;
      for (const std::string& have : p.numbers) dup = dup || numberIndexKey(have) == key;
      if (!dup) p.numbers.push_back(std::move(stored));
    }
    return true;
  }

  bool duration(const std::string& column, int64_t& out, int64_t max) {
    const std::string_view v = cell(column);
    if (v.empty()) return true;
    std::optional<int64_t> d = parseDurationMs(v);
    if (!d) return fail(column, "expected a duration like 60s, 500ms, 2m, 1h or 0");
    if (*d > max) return fail(column, "must be at most " + formatDurationMs(max));
    out = *d;
    return true;
  }

  bool boolean(const std::string& column, bool& out) {
    const std::string_view v = cell(column);
    if (v.empty()) return true;
    std::optional<bool> b = parseBool(v);
    if (!b) return fail(column, "expected true or false (yes/no, 1/0)");
    out = *b;
    return true;
  }

  bool readPreferences(Preferences& pr) {
    if (!duration("merge_window", pr.merge_window_ms, kMaxMergeWindowMs)) return false;
    if (!duration("min_ring", pr.min_ring_ms, kMaxMinRingMs)) return false;
    if (!boolean("internal_calls", pr.internal_calls)) return false;
    if (!boolean("external_calls", pr.external_calls)) return false;
    if (!boolean("withheld_callers", pr.withheld_callers)) return false;
    if (std::string_view tz = cell("time_zone"); !tz.empty()) {
      if (std::string e = checkTimeZone(tz); !e.empty()) return fail("time_zone", e);
      pr.time_zone = std::string(tz);
    }
    if (std::string_view lang = cell("language"); !lang.empty()) {
      if (std::string e = checkLanguage(lang); !e.empty()) return fail("language", e);
      pr.language = std::string(lang);
    }
    if (std::string_view o = cell("outcomes"); !o.empty()) {
      pr.use_missed_flag = false;
      pr.outcomes.fill(false);
      for (const std::string& name : splitList(o)) {
        std::optional<common::Outcome> oc = common::outcomeFromName(name);
        if (!oc) {
          return fail("outcomes", fmt::format("unknown outcome \"{}\" ({})", name, outcomeList()));
        }
        pr.outcomes[static_cast<size_t>(*oc)] = true;
      }
    }
    if (std::string_view q = cell("quiet_hours"); !q.empty()) {
      // "22:00-07:30" or "22:00-07:30 drop"
      const char* form = "expected HH:MM-HH:MM, optionally followed by hold or drop";
      QuietHours qh;
      std::string_view times = q;
      const size_t sp = q.find(' ');
      if (sp != std::string_view::npos) {
        times = q.substr(0, sp);
        const std::string_view action = trim(q.substr(sp + 1));
        if (action == "hold") {
          qh.action = QuietAction::kHold;
        } else if (action == "drop") {
          qh.action = QuietAction::kDrop;
        } else {
          return fail("quiet_hours", form);
        }
      }
      const size_t dash = times.find('-');
      if (dash == std::string_view::npos) return fail("quiet_hours", form);
      std::optional<int> s = parseClockMinutes(trim(times.substr(0, dash)));
      std::optional<int> e = parseClockMinutes(trim(times.substr(dash + 1)));
      if (!s || !e) return fail("quiet_hours", form);
      if (*s == *e) return fail("quiet_hours", "start and end are equal (an empty window)");
      qh.start_minute = *s;
      qh.end_minute = *e;
      pr.quiet_hours = qh;
    }
    return true;
  }

  bool readChannel(int group, Person& p) {
    const std::string prefix = group == 1 ? "channel_" : fmt::format("channel{}_", group);
    auto col = [&](const char* f) { return prefix + f; };
    const std::string_view kind = cell(col("kind"));
    if (kind.empty()) {
      for (const char* f : kChannelFields) {
        if (!cell(col(f)).empty()) {
          return fail(col("kind"), fmt::format("empty while {} is set", col(f)));
        }
      }
      return true;
    }
    std::optional<ChannelKind> k = channelKindFromName(kind);
    if (!k) return fail(col("kind"), fmt::format("unknown kind \"{}\" ({})", kind, kindList()));
    Channel c;
    c.kind = *k;
    c.id = std::string(cell(col("id")));
    if (c.id.empty()) c.id = channelKindName(c.kind);
    if (std::string e = checkChannelId(c.id); !e.empty()) return fail(col("id"), e);
    for (const Channel& other : p.channels) {
      if (other.id == c.id) {
        return fail(col("id"), fmt::format("duplicate channel id \"{}\"", c.id));
      }
    }
    const std::string_view target = cell(col("target"));
    const std::string_view target_ref = cell(col("target_ref"));
    if (!target.empty() && !target_ref.empty()) {
      return fail(col("target_ref"), "give target or target_ref, not both");
    }
    if (!target_ref.empty()) {
      if (std::string e = checkSecretRef(target_ref); !e.empty()) return fail(col("target_ref"), e);
      c.target_ref = std::string(target_ref);
    } else if (target.empty()) {
      if (needsTarget(c.kind)) {
        return fail(col("target"), fmt::format("empty ({}, or a {} column with env:NAME)",
                                               targetWhat(c.kind), col("target_ref")));
      }
    } else {
      if (std::string e = checkTarget(c.kind, target); !e.empty()) return fail(col("target"), e);
      c.target = std::string(target);
    }
    if (std::string_view ref = cell(col("secret_ref")); !ref.empty()) {
      if (std::string e = checkSecretRef(ref); !e.empty()) return fail(col("secret_ref"), e);
      c.secret_ref = std::string(ref);
    }
    for (const std::string& kv : splitList(cell(col("options")))) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) return fail(col("options"), "expected name=value;name=value");
      const std::string key(trim(std::string_view(kv).substr(0, eq)));
      const std::string value(trim(std::string_view(kv).substr(eq + 1)));
      if (std::string e = checkOptionKey(key); !e.empty()) {
        return fail(col("options"), key + ": " + e);
      }
      c.options[key] = value;
    }
    p.channels.push_back(std::move(c));
    return true;
  }

  const Columns& cols_;
  const sipparse::DialPlan& plan_;
  const Record* rec_ = nullptr;
  RowError* err_ = nullptr;
  std::map<std::string, size_t, std::less<>> ids_;                              // id -> row
  std::map<std::string, std::pair<std::string, size_t>, std::less<>> numbers_;  // key -> (id, row)
};

bool knownColumn(const std::string& name) {
  for (const char* c : kPersonColumns) {
    if (name == c) return true;
  }
  for (int g = 1; g <= kMaxChannelGroups; ++g) {
    const std::string prefix = g == 1 ? "channel_" : fmt::format("channel{}_", g);
    for (const char* f : kChannelFields) {
      if (name == prefix + f) return true;
    }
  }
  return false;
}

std::string formatError(const std::string& origin, const RowError& e) {
  if (e.column.empty()) return fmt::format("{}:row {}: {}", origin, e.row, e.why);
  return fmt::format("{}:row {}: column {}: {}", origin, e.row, e.column, e.why);
}

std::string csvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos && trim(s).size() == s.size()) {
    return std::string(s);
  }
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string joinList(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ';';
    out += v[i];
  }
  return out;
}

}  // namespace

std::vector<Person> loadCsvText(std::string_view text, const std::string& origin,
                                const sipparse::DialPlan& plan) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM (spreadsheets)
  std::vector<Record> records;
  RowError err;
  if (!splitRecords(text, records, err)) throw SubscriberError(formatError(origin, err));
  if (records.empty() || records.front().row != 1) {
    throw SubscriberError(
        fmt::format("{}:row 1: expected a header row (id,name,numbers,...)", origin));
  }
  Columns cols;
  for (size_t i = 0; i < records[0].fields.size(); ++i) {
    const std::string name = lower(trim(records[0].fields[i]));
    if (!knownColumn(name)) {
      throw SubscriberError(formatError(origin, {1, name.empty() ? fmt::format("{}", i + 1) : name,
                                                 "unknown column (see subscribers/README.md)"}));
    }
    if (!cols.index.emplace(name, i).second) {
      throw SubscriberError(formatError(origin, {1, name, "appears twice"}));
    }
    cols.names.push_back(name);
  }
  for (const char* required : {"id", "numbers", "channel_kind"}) {
    if (cols.index.count(required) == 0) {
      throw SubscriberError(formatError(origin, {1, required, "missing from the header"}));
    }
  }
  RowReader reader(cols, plan);
  std::vector<Person> people;
  std::vector<RowError> errors;
  for (size_t r = 1; r < records.size(); ++r) {
    Person p;
    RowError e;
    if (reader.read(records[r], p, e)) {
      people.push_back(std::move(p));
    } else {
      errors.push_back(std::move(e));
    }
  }
  if (!errors.empty()) {
    // All or nothing: report every bad row so one edit fixes the file.
    std::string msg;
    for (size_t i = 0; i < errors.size() && i < kMaxReportedRows; ++i) {
      if (i > 0) msg += '\n';
      msg += formatError(origin, errors[i]);
    }
    if (errors.size() > kMaxReportedRows) {
      msg += fmt::format("\n{}: {} more bad rows", origin, errors.size() - kMaxReportedRows);
    }
    throw SubscriberError(msg);
  }
  return people;
}

std::vector<Person> loadCsvFile(const std::string& path, const sipparse::DialPlan& plan) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SubscriberError(fmt::format("{}: cannot read ({})", path, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return loadCsvText(ss.str(), path, plan);
}

std::string exportCsv(const std::vector<Person>& people) {
  size_t groups = 1;
  for (const Person& p : people) {
    if (p.channels.size() > static_cast<size_t>(kMaxChannelGroups)) {
      throw SubscriberError(
          fmt::format("person {}: more than {} channels do not fit the CSV columns; export TOML",
                      p.id, kMaxChannelGroups));
    }
    groups = std::max(groups, p.channels.size());
  }
  std::vector<std::string> header(std::begin(kPersonColumns), std::end(kPersonColumns));
  for (size_t g = 1; g <= groups; ++g) {
    const std::string prefix = g == 1 ? "channel_" : fmt::format("channel{}_", g);
    for (const char* f : kChannelFields) header.push_back(prefix + f);
  }
  std::string out;
  for (size_t i = 0; i < header.size(); ++i) out += (i > 0 ? "," : "") + header[i];
  out += "\r\n";
  const Preferences def;
  for (const Person& p : people) {
    const Preferences& pr = p.prefs;
    std::vector<std::string> row;
    row.push_back(p.id);
    row.push_back(p.name);
    row.push_back(joinList(p.numbers));
    row.push_back(pr.language != def.language ? pr.language : "");
    row.push_back(pr.time_zone != def.time_zone ? pr.time_zone : "");
    row.push_back(pr.merge_window_ms != def.merge_window_ms ? formatDurationMs(pr.merge_window_ms)
                                                            : "");
    row.push_back(pr.quiet_hours
                      ? fmt::format("{}-{} {}", formatClockMinutes(pr.quiet_hours->start_minute),
                                    formatClockMinutes(pr.quiet_hours->end_minute),
                                    pr.quiet_hours->action == QuietAction::kHold ? "hold" : "drop")
                      : "");
    std::vector<std::string> outcomes;
    if (!pr.use_missed_flag) {
      for (int i = 0; i < common::kOutcomeCount; ++i) {
        if (pr.outcomes[i])
          outcomes.emplace_back(common::outcomeName(static_cast<common::Outcome>(i)));
      }
    }
    row.push_back(joinList(outcomes));
    row.push_back(pr.min_ring_ms != def.min_ring_ms ? formatDurationMs(pr.min_ring_ms) : "");
    for (auto [v, d] : {std::pair{pr.internal_calls, def.internal_calls},
                        std::pair{pr.external_calls, def.external_calls},
                        std::pair{pr.withheld_callers, def.withheld_callers}}) {
      row.push_back(v != d ? (v ? "true" : "false") : "");
    }
    for (size_t g = 0; g < groups; ++g) {
      if (g >= p.channels.size()) {
        for (size_t f = 0; f < std::size(kChannelFields); ++f) row.emplace_back();
        continue;
      }
      const Channel& c = p.channels[g];
      row.push_back(c.id);
      row.push_back(channelKindName(c.kind));
      row.push_back(c.target);
      row.push_back(c.target_ref);
      row.push_back(c.secret_ref);
      std::vector<std::string> opts;
      for (const auto& [k, v] : c.options) {
        if (v.find_first_of(";|") != std::string::npos || trim(v).size() != v.size()) {
          throw SubscriberError(fmt::format(
              "person {}: option {} does not fit the CSV name=value;... form; export TOML", p.id,
              k));
        }
        opts.push_back(k + "=" + v);
      }
      row.push_back(joinList(opts));
    }
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out += ',';
      out += csvField(row[i]);
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace mcn::subscribers
