// mcn_history_fill: makes a call history store the size issue 18 asks to measure the web console
// and the call search at (tests/bench/web_bench.sh): N people with one to three numbers each and
// their subscribers TOML, and M call records spread over D days ending now, written as mcn writes
// them, through history/'s own HistoryWriter (a ring per producer: the records from a "worker",
// the notification steps from a "notifier"; the person of a record found from its called number
// by the writer, as `mcn run` does). Every missed call of a known person gets its notification:
// produced, one attempt (a few fail once, then succeed; a few end dead-lettered), delivered.
//
//   mcn_history_fill --db F --subscribers F --samples F --webhook URL
//                    [--people 10000] [--records 1000000] [--days 90] [--seed 1]
//
// Deterministic for a seed and an end time (--end-ms; default now minus one hour). Prints the
// fill rate (records/s through the writer) and the store's bytes on disk. --samples gets lines
// "person ID NUMBER...", "call_id CID", "number NUMBER" for the load driver to pick from.

#include <fmt/format.h>
#include <fmt/os.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "mcn/history/writer.h"

namespace {

using mcn::calls::Outcome;
using mcn::history::CallEntry;
using mcn::history::NotificationEvent;

constexpr int64_t kDayUs = 86400LL * 1'000'000;
constexpr int64_t kHourUs = 3600LL * 1'000'000;

struct Person {
  std::string id, name;
  std::vector<std::string> numbers;  // E.164: desk line first
};

struct Args {
  std::string db, subscribers, samples, webhook;
  int people = 10000;
  int64_t records = 1'000'000;
  int days = 90;
  uint64_t seed = 1;
  int64_t end_ms = 0;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "mcn_history_fill: %s\nusage: mcn_history_fill --db F --subscribers F --samples F "
               "--webhook URL [--people N] [--records N] [--days N] [--seed N] [--end-ms MS]\n",
               why);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) usage(("no value for " + k).c_str());
    std::string v = argv[++i];
    if (k == "--db") {
      a.db = v;
    } else if (k == "--subscribers") {
      a.subscribers = v;
    } else if (k == "--samples") {
      a.samples = v;
    } else if (k == "--webhook") {
      a.webhook = v;
    } else if (k == "--people") {
      a.people = std::atoi(v.c_str());
    } else if (k == "--records") {
      a.records = std::atoll(v.c_str());
    } else if (k == "--days") {
      a.days = std::atoi(v.c_str());
    } else if (k == "--seed") {
      a.seed = std::strtoull(v.c_str(), nullptr, 10);
    } else if (k == "--end-ms") {
      a.end_ms = std::atoll(v.c_str());
    } else {
      usage(("unknown option " + k).c_str());
    }
  }
  if (a.db.empty() || a.subscribers.empty() || a.samples.empty() || a.webhook.empty())
    usage("--db, --subscribers, --samples and --webhook are needed");
  if (a.people < 10 || a.people > 99999 || a.records < 1 || a.days < 1)
    usage("--people 10..99999, --records and --days > 0");
  return a;
}

// Outcomes per (call, called number) in an office: about a third missed (cancelled, busy,
// no_answer, forwarded), as the README's "Call history" mix.
struct OutcomeShare {
  Outcome o;
  int per_mille;
  int status;
  const char* reason;
};
constexpr OutcomeShare kMix[] = {
    {Outcome::kAnswered, 580, 200, ""},
    {Outcome::kCancelled, 140, 487, "Request Terminated"},
    {Outcome::kNoAnswer, 100, 480, "Temporarily Unavailable"},
    {Outcome::kBusy, 60, 486, "Busy Here"},
    {Outcome::kForwarded, 40, 302, "no-answer"},
    {Outcome::kAnsweredElsewhere, 30, 487, "Call completed elsewhere"},
    {Outcome::kFailed, 30, 404, "Not Found"},
    {Outcome::kDeclined, 10, 603, "Decline"},
    {Outcome::kRedirected, 5, 302, "Moved Temporarily"},
    {Outcome::kIncomplete, 5, 0, ""},
};

bool missedByDefault(Outcome o) {
  return o == Outcome::kCancelled || o == Outcome::kNoAnswer || o == Outcome::kBusy ||
         o == Outcome::kForwarded;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  Args a = parse(argc, argv);
  std::mt19937_64 rng(a.seed);
  auto uniform = [&](int64_t lo, int64_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  auto chance = [&](int per_mille) { return uniform(0, 999) < per_mille; };

  // People: a desk line +86 25 83xx xxxx each, two in three a mobile, one in three a second line.
  static const char* kSurnames[] = {"Zhang", "Wang", "Li",   "Zhao", "Chen", "Liu",   "Yang",
                                    "Huang", "Wu",   "Zhou", "Xu",   "Sun",  "Smith", "Miller"};
  static const char* kGiven[] = {"Wei",  "Fang", "Lei", "Jing", "Min",   "Jun",   "Hua",
                                 "Ying", "Tao",  "Yan", "Qing", "David", "Sarah", "Anna"};
  std::vector<Person> people(static_cast<size_t>(a.people));
  std::unordered_map<std::string, std::string> owner;  // number -> person id
  for (int i = 0; i < a.people; ++i) {
    Person& p = people[static_cast<size_t>(i)];
    p.id = fmt::format("p{:05d}", i);
    p.name = fmt::format("{} {} {}", kSurnames[uniform(0, 13)], kGiven[uniform(0, 13)], i);
    p.numbers.push_back(fmt::format("+862583{:06d}", 100000 + i));
    if (chance(667)) p.numbers.push_back(fmt::format("+86139{:08d}", 10000000 + i * 7));
    if (chance(333)) p.numbers.push_back(fmt::format("+862584{:06d}", 100000 + i));
    for (const auto& n : p.numbers) owner.emplace(n, p.id);
  }
  {
    auto out = fmt::output_file(a.subscribers);
    out.print("# {} people made by mcn_history_fill --seed {} (tests/bench/web_bench.sh)\n",
              a.people, a.seed);
    for (const auto& p : people) {
      out.print("\n[[person]]\nid = \"{}\"\nname = \"{}\"\nnumbers = [", p.id, p.name);
      for (size_t j = 0; j < p.numbers.size(); ++j)
        out.print("{}\"{}\"", j == 0 ? "" : ", ", p.numbers[j]);
      out.print(
          "]\n[person.preferences]\ntime_zone = \"Asia/Shanghai\"\nlanguage = \"en\"\n"
          "[[person.channel]]\nid = \"hook\"\nkind = \"webhook\"\ntarget = \"{}/{}\"\n"
          "secret_ref = \"env:MCN_WEB_BENCH_WEBHOOK\"\n",
          a.webhook, p.id);
    }
  }

  // Start times: 85 % on working days 08:30-18:00 Beijing time, the rest at any hour of any day;
  // sorted, as the store receives them.
  int64_t end_us = (a.end_ms != 0 ? a.end_ms
                                  : std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                            .count() -
                                        3'600'000) *
                   1000;
  int64_t begin_us = end_us - a.days * kDayUs;
  std::vector<int64_t> starts(static_cast<size_t>(a.records));
  for (auto& t : starts) {
    for (;;) {
      int64_t day0 = (begin_us / kDayUs) * kDayUs + uniform(0, a.days) * kDayUs;  // a local 00:00
      int64_t local = chance(850) ? day0 + 8 * kHourUs + 30 * 60'000'000LL +
                                        uniform(0, 9 * kHourUs + 30 * 60'000'000LL)
                                  : day0 + uniform(0, kDayUs - 1);
      int64_t weekday = (local / kDayUs + 4) % 7;  // 1970-01-01 was a Thursday (4)
      if ((weekday == 0 || weekday == 6) && !chance(100)) continue;  // weekends mostly quiet
      int64_t at = local - 8 * kHourUs;                              // Beijing is UTC+8
      if (at < begin_us || at >= end_us) continue;  // inside the window (the retention)
      t = at;
      break;
    }
  }
  std::sort(starts.begin(), starts.end());

  mcn::history::HistoryConfig cfg;
  cfg.path = a.db;
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(a.db + suffix);
  auto writer_ptr = std::make_unique<mcn::history::HistoryWriter>(
      cfg, /*purge=*/false, mcn::history::HistoryWriter::NowFn{}, [&](std::string_view number) {
        auto it = owner.find(std::string(number));
        return it == owner.end() ? std::string() : it->second;
      });
  auto& writer = *writer_ptr;
  if (!writer.ok()) {
    std::fprintf(stderr, "mcn_history_fill: %s\n", writer.error().c_str());
    return 1;
  }
  auto& calls_ring = writer.addProducer(/*blocking=*/true);
  auto& notes_ring = writer.addProducer(/*blocking=*/true);
  writer.start();

  auto samples = fmt::output_file(a.samples);
  for (int i = 0; i < a.people; i += std::max(1, a.people / 200)) {
    const auto& p = people[static_cast<size_t>(i)];
    samples.print("person {}", p.id);
    for (const auto& n : p.numbers) samples.print(" {}", n);
    samples.print("\n");
  }

  int64_t missed = 0, notes = 0, dead = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < a.records; ++i) {
    CallEntry e;
    auto& r = e.record;
    uint64_t tag = rng();
    r.call_id = fmt::format("{:016x}-{}@198.18.8.{}", tag, i, 2 + i % 200);
    r.call_ids = {r.call_id};
    if (chance(300)) r.call_ids.push_back(fmt::format("b2b-{:012x}-{}", tag >> 16, i));
    r.legs = static_cast<int>(r.call_ids.size());
    if (chance(500)) r.correlation = fmt::format("icid-{:016x}", tag ^ 0x5bd1e995u);
    // The called number: one of a person's (the desk line most often), or a number nobody has.
    const Person* callee = nullptr;
    if (chance(950)) {
      callee = &people[static_cast<size_t>(uniform(0, a.people - 1))];
      r.callee =
          callee->numbers[chance(700) ? 0
                                      : static_cast<size_t>(uniform(
                                            0, static_cast<int64_t>(callee->numbers.size()) - 1))];
    } else {
      r.callee = fmt::format("+862583{:06d}", 900000 + uniform(0, 99999));
    }
    // The caller: a colleague, one of 200,000 outside numbers (some call again), or withheld.
    int64_t who = uniform(0, 999);
    if (who < 400) {
      const auto& c = people[static_cast<size_t>(uniform(0, a.people - 1))];
      r.caller = c.numbers[0];
      r.caller_name = c.name;
    } else if (who < 950) {
      int64_t x = uniform(0, 199'999);
      r.caller = x % 2 == 0 ? fmt::format("+86138{:08d}", 20000000 + x * 13)
                            : fmt::format("+8610{:08d}", 60000000 + x);
      if (x % 5 == 0) r.caller_name = fmt::format("Customer {}", x);
    } else {
      r.caller_withheld = true;
    }
    int64_t pick = uniform(0, 999), acc = 0;
    const OutcomeShare* o = &kMix[0];
    for (const auto& s : kMix) {
      acc += s.per_mille;
      if (pick < acc) {
        o = &s;
        break;
      }
    }
    r.outcome = o->o;
    r.status = o->status;
    r.reason = o->reason;
    r.missed = missedByDefault(o->o);
    r.started_at_us = starts[static_cast<size_t>(i)];
    switch (o->o) {
      case Outcome::kAnswered:
      case Outcome::kAnsweredElsewhere:
        r.ring_ms = uniform(1500, 15000);
        break;
      case Outcome::kCancelled:
        r.ring_ms = uniform(800, 30000);
        break;
      case Outcome::kNoAnswer:
        r.ring_ms = uniform(25000, 60000);
        break;
      case Outcome::kForwarded:
        r.ring_ms = uniform(15000, 25000);
        r.forwarded_to = chance(500)
                             ? std::string("+862583009999")
                             : people[static_cast<size_t>(uniform(0, a.people - 1))].numbers[0];
        break;
      default:
        r.ring_ms = 0;
        break;
    }
    r.ended_at_us = r.started_at_us + r.ring_ms * 1000 + uniform(50, 900) * 1000;
    r.transport = chance(900) ? mcn::capture::Transport::kUdp : mcn::capture::Transport::kTcp;
    if (i % 5000 == 0) {
      samples.print("call_id {}\n", r.call_ids.back());
      samples.print("number {}\n", r.caller.empty() ? r.callee : r.caller);
    }
    bool notify = r.missed && callee != nullptr;
    std::pair<std::string, std::string> covered{r.call_id, r.callee};
    int64_t ended = r.ended_at_us;
    calls_ring.push(std::move(e));
    if (!notify) continue;
    ++missed;
    // The merger's notification about it (merge window 0: one call each), then delivery.
    NotificationEvent n;
    n.kind = NotificationEvent::Kind::kProduced;
    n.key = fmt::format("mcn-{:016x}{:016x}", rng(), rng());
    n.channel = "hook";
    n.channel_kind = "webhook";
    n.person_id = callee->id;
    n.person_name = callee->name;
    n.calls = {covered};
    n.at_us = ended + 2'000'000;  // after the grace period
    NotificationEvent step = n;
    step.calls.clear();
    notes_ring.push(std::move(n));
    ++notes;
    int attempts = chance(20) ? 2 : 1;
    bool dead_lettered = chance(5);
    for (int k = 1; k <= attempts; ++k) {
      NotificationEvent at = step;
      at.kind = NotificationEvent::Kind::kAttempt;
      at.attempts = k;
      at.ok = !dead_lettered && k == attempts;
      if (!at.ok) at.error = "HTTP 503";
      at.at_us = step.at_us + k * 150'000;
      notes_ring.push(std::move(at));
    }
    NotificationEvent fin = step;
    fin.attempts = attempts;
    fin.at_us = step.at_us + attempts * 150'000 + 1000;
    if (dead_lettered) {
      fin.kind = NotificationEvent::Kind::kDeadLettered;
      fin.reason = "rejected";
      fin.error = "HTTP 503";
      ++dead;
    } else {
      fin.kind = NotificationEvent::Kind::kDelivered;
    }
    notes_ring.push(std::move(fin));
  }
  writer.stop();  // everything written
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t written = 0, dropped = 0, errors = 0;
  writer.forEachCounter([&](std::string_view name, uint64_t v) {
    if (name == "history.written") written = v;
    if (name == "history.dropped") dropped = v;
    if (name == "history.write_errors") errors = v;
  });
  writer_ptr.reset();  // the connection closed: the WAL checkpointed into the database
  uintmax_t bytes = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    auto s = fs::file_size(a.db + suffix, ec);
    if (!ec) bytes += s;
  }
  fmt::print(
      "records {} (missed and notified {}, notifications dead-lettered {}), history entries "
      "written {}, dropped {}, write errors {}\n"
      "fill: {:.1f} s, {:.0f} records/s ({:.0f} history entries/s)\n"
      "store: {} bytes (db + wal), {:.0f} bytes per record, {:.1f} MB (10^6 bytes) per million "
      "records\n",
      a.records, missed, dead, written, dropped, errors, secs,
      static_cast<double>(a.records) / secs, static_cast<double>(written) / secs, bytes,
      static_cast<double>(bytes) / static_cast<double>(a.records),
      static_cast<double>(bytes) / static_cast<double>(a.records));
  (void)notes;
  return dropped == 0 && errors == 0 && written > 0 ? 0 : 1;
}
