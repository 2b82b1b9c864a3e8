// The mcn binary. Start-up errors (arguments, config, files) are one clear line on stderr and
// exit code 2; a run that could not complete is exit code 1.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "history_api.h"
#include "mcn/app/config.h"
#include "mcn/app/explain.h"
#include "mcn/app/replay.h"
#include "mcn/app/subscribers_cli.h"
#include "mcn/app/version.h"
#include "mcn/notifier/missed_call_sink.h"
#include "mcn/notifier/stream_bus.h"
#include "reload.h"
#include "roles.h"
#include "run.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRuntime = 1;

// "-" is standard output; anything else a file we create (or truncate).
class OutputFile {
 public:
  void open(const std::string& path) {
    if (path.empty()) return;
    if (path == "-") {
      stream_ = &std::cout;
      return;
    }
    file_ = std::make_unique<std::ofstream>(path, std::ios::out | std::ios::trunc);
    if (!*file_) throw std::runtime_error(fmt::format("cannot write {}", path));
    stream_ = file_.get();
  }
  std::ostream* stream() const { return stream_; }
  bool flush() {
    if (stream_ == nullptr) return true;
    stream_->flush();
    return static_cast<bool>(*stream_);
  }

 private:
  std::unique_ptr<std::ofstream> file_;
  std::ostream* stream_ = nullptr;
};

// `mcn config check FILE`: everything `mcn run` would refuse at start, every error on its own
// line as file:line:col: key: message (like `kamailio -c`), exit 2; else "FILE: ok", exit 0.
int configCheck(const std::string& path) {
  std::vector<std::string> errors;
  try {
    mcn::app::Config cfg;
    if (path == "-") {
      std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
      cfg = mcn::app::loadConfigText(text, "(stdin)");
    } else {
      cfg = mcn::app::loadConfigFile(path);
    }
    errors = mcn::app::startupProblems(cfg);
  } catch (const mcn::app::ConfigError& e) {
    errors = e.errors();
  }
  for (const auto& e : errors) std::cerr << e << '\n';
  if (!errors.empty()) {
    std::cerr << (path == "-" ? "(stdin)" : path) << ": " << errors.size() << " error"
              << (errors.size() == 1 ? "" : "s") << '\n';
    return kExitUsage;
  }
  std::cout << (path == "-" ? "(stdin)" : path) << ": ok\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  CLI::App app{"mcn: passive missed-call notifier for IMS networks"};
  app.set_version_flag("--version", std::string("mcn ") + mcn::app::kVersion);
  app.require_subcommand(1);

  std::vector<std::string> files;
  std::string config_path, calls_out, events_out, subscribers_path, notify_out;
  bool quiet = false;
  std::string replay_role = "all";
  uint32_t replay_threads = 0;
  CLI::App* replay = app.add_subcommand(
      "replay", "Replay capture files (pcap/pcapng, '-' = stdin) and write call records");
  replay->add_option("FILE", files, "capture files, merged by timestamp")->required();
  replay->add_option("--config", config_path, "TOML configuration file");
  replay->add_option("--calls-out", calls_out, "every call record, JSON Lines ('-' = stdout)");
  replay->add_option("--events-out", events_out,
                     "missed calls only, JSON Lines ('-' = stdout; the default when no output is "
                     "given)");
  replay->add_option("--subscribers", subscribers_path,
                     "subscribers file (TOML or CSV): notify them through their channels");
  replay->add_option("--notify-out", notify_out,
                     "every delivered notification, JSON Lines ('-' = stdout)");
  replay->add_flag("-q,--quiet", quiet, "no summary on stderr");
  std::string replay_history;
  replay->add_option("--history", replay_history,
                     "also write every record and notification into the call history store at "
                     "PATH (SQLite; created if missing; searched by `mcn history search`)");
  replay
      ->add_option("--threads", replay_threads,
                   "parse+track threads (0 = the cores available, fewer for a small input; 1 = "
                   "one thread). Same records in the same order whatever the number; with "
                   "--subscribers or --role probe always 1")
      ->check(CLI::Range(0, 64));
  replay
      ->add_option("--role", replay_role,
                   "all (default) or probe: publish missed calls to Redis Streams ([streams])")
      ->check(CLI::IsMember({"all", "probe"}));
  mcn::app::SubscribersCli subscribers_cli(app);

  mcn::app::RunOptions run_opts;
  CLI::App* run = app.add_subcommand(
      "run",
      "Capture live on interfaces (a SPAN port) and notify; stops on SIGTERM/SIGINT, "
      "reloads the configuration on SIGHUP");
  run->add_option("--config", run_opts.config_path, "TOML configuration file ([run] table)");
  run->add_option("-i,--interface", run_opts.interfaces,
                  "capture interface (repeatable; replaces [run] interfaces)");
  run->add_option("--hep", run_opts.hep,
                  "HEP listener ADDR[:PORT] (UDP and TCP, port 9060 by default; repeatable; "
                  "replaces [hep] listeners)");
  run->add_option("--subscribers", run_opts.subscribers,
                  "subscribers file (TOML or CSV; replaces [run] subscribers)");
  run->add_option("--http-port", run_opts.http_port,
                  "port for /metrics, /healthz, /readyz (0 = none; replaces [run] http_port)")
      ->check(CLI::Range(0, 65535));
  run->add_option("--calls-out", run_opts.calls_out,
                  "every call record, JSON Lines ('-' = stdout)");
  run->add_option("--notify-out", run_opts.notify_out,
                  "every delivered notification, JSON Lines ('-' = stdout)");
  run->add_option("--role", run_opts.role,
                  "all (default: capture and notify), probe (capture, publish to Redis Streams) "
                  "or notifier (consume Redis Streams and deliver; no capture)")
      ->check(CLI::IsMember({"all", "probe", "notifier"}));

  mcn::app::ExplainOptions explain_opts;
  CLI::App* explain = app.add_subcommand(
      "explain",
      "Replay capture files and explain calls: the message ladder, the hop transactions and, "
      "per called number, the rule of calls/RULES.md that decided it and why each earlier rule "
      "did not match. Exit 1 if no call matches");
  explain
      ->add_option("FILE", explain_opts.files, "capture files (pcap/pcapng; read twice, so no '-')")
      ->required();
  CLI::Option* explain_id = explain->add_option("--call-id", explain_opts.call_id,
                                                "the call with this Call-ID on any leg");
  CLI::Option* explain_callee = explain->add_option(
      "--callee", explain_opts.callee,
      "every call to this number, in any dial-plan form (1013, 025-8300-1013, tel:+86...)");
  explain_id->excludes(explain_callee);
  explain->footer(
      "Prints the ladder (time, leg, hop, src -> dst, method or status, CSeq, Via, branch, the "
      "headers the rules read), the hop transactions and a verdict per called number. Exit 0 "
      "explained; 1 no such call; 2 bad arguments, configuration or capture. README: \"Explain "
      "a call\".");
  explain->add_option("--config", explain_opts.config_path,
                      "TOML configuration file (dial plan, calls.*), as for replay");
  explain->add_flag("--json", explain_opts.json,
                    "one JSON object instead of text (README: mcn explain)");

  // mcn history search|show: the store `mcn run` or `mcn replay --history` wrote, read-only.
  std::string history_db = mcn::history::HistoryConfig{}.path, history_config;
  std::string history_call_id;
  CLI::App* history = app.add_subcommand("history", "Search the call history store");
  history->require_subcommand(1);
  CLI::App* history_search = history->add_subcommand(
      "search",
      "Calls newest first, as GET /api/calls answers them (JSON): exit 0, 1 if none matched, 2 "
      "on a bad parameter or an unreadable store");
  CLI::App* history_show = history->add_subcommand(
      "show", "One call (any leg's Call-ID) with its notifications and delivery attempts (JSON)");
  for (CLI::App* sub : {history_search, history_show}) {
    sub->add_option("--db", history_db, "the store (default: [history] path of --config)");
    sub->add_option("--config", history_config, "TOML configuration (history.path, dial plan)");
  }
  static const char* const kHistoryParams[] = {"number", "person", "call_id", "outcome",
                                               "since",  "until",  "limit",   "cursor"};
  std::map<std::string, std::string> history_values;  // nodes stay put: CLI11 keeps pointers
  for (const char* k : kHistoryParams) {
    std::string flag = std::string("--") + k;  // call_id -> --call-id
    std::replace(flag.begin(), flag.end(), '_', '-');
    history_search->add_option(flag, history_values[k],
                               std::string("as the API's ") + k + " parameter");
  }
  history_show->add_option("CALL_ID", history_call_id, "Call-ID of any leg")->required();

  std::string check_path;
  CLI::App* config = app.add_subcommand("config", "Check a configuration file, print the defaults");
  config->require_subcommand(1);
  CLI::App* config_check = config->add_subcommand(
      "check",
      "Check FILE as `mcn run` would at start (keys, values, dial plan, subscribers file, "
      "credential files): every error as file:line:col: key: message, exit 2; else exit 0");
  config_check->add_option("FILE", check_path, "the TOML configuration ('-' = stdin)")->required();
  CLI::App* config_defaults = config->add_subcommand(
      "defaults", "Print the documented default configuration (every key, with its default)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "mcn: " << e.what() << " (see mcn --help)\n";
    return kExitUsage;
  }

  if (config_check->parsed()) return configCheck(check_path);
  if (explain->parsed()) return mcn::app::runExplain(explain_opts, std::cout, std::cerr);
  if (config_defaults->parsed()) {
    std::cout << mcn::app::defaultConfigText();
    std::cout.flush();
    return std::cout ? 0 : kExitRuntime;
  }
  if (subscribers_cli.parsed()) return subscribers_cli.run(std::cout, std::cerr);
  if (run->parsed()) return mcn::app::runDaemon(run_opts);
  if (history->parsed()) {
    mcn::app::Config hcfg;
    try {
      hcfg = history_config.empty() ? mcn::app::defaultConfig()
                                    : mcn::app::loadConfigFile(history_config);
    } catch (const std::exception& e) {
      std::cerr << "mcn: " << e.what() << '\n';
      return kExitUsage;
    }
    bool db_given = false;
    for (CLI::App* sub : {history_search, history_show}) db_given |= sub->count("--db") > 0;
    mcn::app::HistoryApi api(db_given ? history_db : hcfg.history.path, hcfg.parser.dial_plan);
    mcn::app::ApiReply r;
    if (history_search->parsed()) {
      std::vector<std::pair<std::string, std::string>> params;
      for (const auto& [k, v] : history_values) {
        std::string flag = "--" + k;
        std::replace(flag.begin(), flag.end(), '_', '-');
        if (history_search->count(flag) > 0) params.emplace_back(k, v);
      }
      r = api.search(params);
    } else {
      r = api.call(history_call_id);
    }
    if (r.status != 200 && r.status != 404) {
      std::cerr << "mcn: " << r.body << '\n';
      return kExitUsage;
    }
    std::cout << r.body << '\n';
    if (r.status == 404 || r.body.rfind("{\"calls\":[]", 0) == 0) return 1;
    return 0;
  }

  if (replay->parsed()) {
    mcn::app::Config cfg;
    OutputFile calls, events, notify;
    mcn::app::ReplayOutputs outputs;
    std::unique_ptr<mcn::notifier::Clock> stream_clock;
    std::unique_ptr<mcn::notifier::StreamPublisher> publisher;
    std::unique_ptr<mcn::notifier::StreamPublisherSink> publisher_sink;
    std::optional<mcn::history::HistoryStreamConfig> history_stream;
    try {
      cfg = config_path.empty() ? mcn::app::defaultConfig() : mcn::app::loadConfigFile(config_path);
      // A capture of HEP traffic is held to the same key as a live listener.
      mcn::app::resolveHepAuthKey(cfg);
      if (!subscribers_path.empty()) {
        // Subscriber numbers are normalised by the same dial plan as the calls.
        outputs.subscribers = mcn::app::loadSubscribersOf(cfg, subscribers_path);
        outputs.console = &std::cout;
      }
      if (replay_role == "probe") {
        if (!replay_history.empty()) {
          throw std::runtime_error(
              "--history: not with --role probe (its records go to the shared history, "
              "<prefix>:history, that every node's store follows)");
        }
        stream_clock = mcn::notifier::systemClock();
        const auto sc = mcn::app::resolveStreamConfig(cfg);
        publisher = std::make_unique<mcn::notifier::StreamPublisher>(sc, *stream_clock);
        if (cfg.history.enabled) history_stream = mcn::app::historyStreamConfig(cfg, sc);
        publisher_sink = std::make_unique<mcn::notifier::StreamPublisherSink>(
            *publisher, *stream_clock, [warned = false](bool down, std::string_view error) mutable {
              if (!down || warned) return;
              warned = true;
              std::cerr << "mcn: Redis unreachable (" << error
                        << "): buffering missed calls and retrying\n";
            });
        outputs.missed_sink = publisher_sink.get();
      }
      // With nothing asked for, show the missed calls (or, with subscribers, the console
      // notifications) on standard output.
      if (calls_out.empty() && events_out.empty() && notify_out.empty() && !outputs.subscribers &&
          !publisher) {
        events_out = "-";
      }
      calls.open(calls_out);
      events.open(events_out);
      notify.open(notify_out);
    } catch (const std::exception& e) {
      std::cerr << "mcn: " << e.what() << '\n';
      return kExitUsage;
    }
    outputs.calls = calls.stream();
    outputs.events = events.stream();
    outputs.notify = notify.stream();
    outputs.threads = replay_threads;
    outputs.history_path = replay_history;
    if (history_stream) outputs.history_stream = &*history_stream;
    mcn::app::ReplayResult res;
    try {
      res = mcn::app::runReplay(files, cfg, outputs);
    } catch (const std::exception& e) {
      // Only opening a capture, the history store or the dead-letter file throws; nothing has
      // been written yet.
      std::cerr << "mcn: " << e.what() << '\n';
      return kExitUsage;
    }
    // The probe's sink kept resending within the replay's delivery bound
    // (notify.finish_timeout_ms).
    const bool published = !publisher || publisher->buffered() == 0;
    std::cout.flush();
    bool ok = calls.flush() && events.flush() && notify.flush();
    if (!quiet) mcn::app::printSummary(res, std::cerr);
    if (!ok) {
      std::cerr << "mcn: writing the output failed\n";
      return kExitRuntime;
    }
    if (!published) {
      std::cerr << "mcn: " << publisher->buffered()
                << " missed call(s) not published: Redis unreachable\n";
      return kExitRuntime;
    }
    return 0;
  }
  return kExitUsage;
}
