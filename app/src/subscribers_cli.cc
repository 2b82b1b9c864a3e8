#include "mcn/app/subscribers_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "mcn/app/config.h"
#include "mcn/subscribers/csv_import.h"
#include "mcn/subscribers/numbers.h"
#include "mcn/subscribers/redis_store.h"
#include "mcn/subscribers/toml_store.h"
#include "mcn/subscribers/validate.h"
#include "people_store.h"

namespace mcn::app {

namespace subs = mcn::subscribers;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitStore = 1;
constexpr int kExitInput = 2;

// Kinds whose target URL is itself a credential (the robot's key or token).
bool targetIsCredential(subs::ChannelKind k) {
  return k == subs::ChannelKind::kWeCom || k == subs::ChannelKind::kDingTalk ||
         k == subs::ChannelKind::kFeishu;
}

}  // namespace

struct SubscribersCli::State {
  CLI::App* cmd = nullptr;
  CLI::App* add = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* import = nullptr;
  CLI::App* exp = nullptr;

  std::string file, redis_url, redis_password_ref, config;
  // add
  std::string id, name, language, time_zone, merge_window;
  std::vector<std::string> numbers, channels, secret_refs;
  bool replace = false;
  // remove / show / import / export
  std::string target_id, import_path, format = "toml";

  subs::Person buildPerson(const sipparse::DialPlan& plan) const {
    subs::Person p;
    p.id = id;
    p.name = name;
    for (const std::string& n : numbers) {
      std::string stored, why;
      if (!subs::normaliseSubscriberNumber(n, plan, stored, why)) {
        throw subs::SubscriberError(fmt::format("--number {}: {}", n, why));
      }
      bool dup = false;
      for (const std::string& have : p.numbers) {
        dup = dup || subs::numberIndexKey(have) == subs::numberIndexKey(stored);
      }
      if (!dup) p.numbers.push_back(std::move(stored));
    }
    if (!secret_refs.empty() && secret_refs.size() != channels.size()) {
      throw subs::SubscriberError("give one --secret-ref per --channel, in order (- for none)");
    }
    for (size_t i = 0; i < channels.size(); ++i) {
      const std::string& spec = channels[i];
      const size_t colon = spec.find(':');
      const std::string kind_name = spec.substr(0, colon);
      const std::string target = colon == std::string::npos ? "" : spec.substr(colon + 1);
      std::optional<subs::ChannelKind> kind = subs::channelKindFromName(kind_name);
      if (!kind) {
        throw subs::SubscriberError(
            fmt::format("--channel {}: unknown kind \"{}\"", spec, kind_name));
      }
      subs::Channel c;
      c.kind = *kind;
      c.id = kind_name;
      for (int n = 2; std::any_of(p.channels.begin(), p.channels.end(),
                                  [&](const subs::Channel& o) { return o.id == c.id; });
           ++n) {
        c.id = fmt::format("{}-{}", kind_name, n);
      }
      if (target.starts_with("env:") || target.starts_with("file:")) {
        c.target_ref = target;
      } else if (targetIsCredential(c.kind) && !target.empty()) {
        // Never echo the URL: it holds the robot's key.
        throw subs::SubscriberError(fmt::format(
            "--channel {0}:...: the {0} URL holds the robot's key and must not be on a command "
            "line; put it in the environment and give {0}:env:NAME",
            kind_name));
      } else {
        c.target = target;
      }
      if (!secret_refs.empty() && secret_refs[i] != "-") c.secret_ref = secret_refs[i];
      p.channels.push_back(std::move(c));
    }
    if (!language.empty()) p.prefs.language = language;
    if (!time_zone.empty()) p.prefs.time_zone = time_zone;
    if (!merge_window.empty()) {
      std::optional<int64_t> ms = subs::parseDurationMs(merge_window);
      if (!ms) {
        throw subs::SubscriberError(fmt::format(
            "--merge-window {}: expected a duration like 60s, 500ms, 2m or 0", merge_window));
      }
      p.prefs.merge_window_ms = *ms;
    }
    subs::validatePerson(p);
    return p;
  }
};

SubscribersCli::SubscribersCli(CLI::App& app) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.cmd = app.add_subcommand("subscribers",
                             "Manage subscribers in a TOML file (--file) or Redis (--redis)");
  s.cmd->require_subcommand(1);
  s.cmd->add_option("--file", s.file, "TOML subscribers file");
  s.cmd->add_option("--redis", s.redis_url, "Redis store, redis://host[:port][/db]");
  s.cmd->add_option("--redis-password-ref", s.redis_password_ref,
                    "where the Redis password is: env:NAME or file:/path");
  s.cmd->add_option("--config", s.config,
                    "mcn TOML configuration (its dial plan normalises numbers)");

  s.add = s.cmd->add_subcommand("add", "Add a person (or replace one with --replace)");
  s.add->add_option("--id", s.id, "stable id, e.g. an employee number")->required();
  s.add->add_option("--name", s.name, "display name");
  s.add->add_option("--number", s.numbers, "a number or sip:user@host (repeatable)")->required();
  s.add
      ->add_option("--channel", s.channels,
                   "kind:target, e.g. console, email:a@b.example, wecom:env:MCN_WECOM_URL "
                   "(repeatable)")
      ->required();
  s.add->add_option("--secret-ref", s.secret_refs,
                    "env:NAME or file:/path per --channel, in order ('-' for none)");
  s.add->add_option("--language", s.language, "zh or en");
  s.add->add_option("--time-zone", s.time_zone, "IANA time zone, e.g. Asia/Shanghai");
  s.add->add_option("--merge-window", s.merge_window, "e.g. 60s, 0 = at once");
  s.add->add_flag("--replace", s.replace, "replace the person if the id exists");

  s.remove = s.cmd->add_subcommand("remove", "Remove a person");
  s.remove->add_option("ID", s.target_id, "person id")->required();
  s.list = s.cmd->add_subcommand("list", "One line per person: id, name, numbers, channels");
  s.show = s.cmd->add_subcommand("show", "One person as TOML");
  s.show->add_option("ID", s.target_id, "person id")->required();
  s.import = s.cmd->add_subcommand("import", "Add or replace the people of a CSV or TOML file");
  s.import->add_option("FILE", s.import_path, "FILE.csv or FILE.toml")->required();
  s.exp = s.cmd->add_subcommand("export", "Every person to standard output");
  s.exp->add_option("--format", s.format, "toml or csv")->check(CLI::IsMember({"toml", "csv"}));
  for (CLI::App* sub : {s.add, s.remove, s.list, s.show, s.import, s.exp}) {
    sub->fallthrough();  // --file/--redis/--config also after the action
  }
}

SubscribersCli::~SubscribersCli() = default;

bool SubscribersCli::parsed() const { return s_->cmd->parsed(); }

int SubscribersCli::run(std::ostream& out, std::ostream& err) {
  State& s = *s_;
  std::unique_ptr<PeopleStore> backend;
  try {
    if (s.file.empty() == s.redis_url.empty()) {
      err << "mcn: subscribers: give exactly one of --file F or --redis URL\n";
      return kExitInput;
    }
    if (!s.redis_password_ref.empty() && s.redis_url.empty()) {
      err << "mcn: subscribers: --redis-password-ref needs --redis\n";
      return kExitInput;
    }
    Config cfg = s.config.empty() ? defaultConfig() : loadConfigFile(s.config);
    sipparse::DialPlan plan(cfg.parser.dial_plan);

    subs::Person person;
    std::vector<subs::Person> imported;
    // Parse and validate all input before touching the store.
    if (s.add->parsed()) person = s.buildPerson(plan);
    if (s.import->parsed()) imported = subs::loadPeopleFile(s.import_path, plan);

    if (!s.redis_url.empty()) {
      subs::RedisOptions opts = subs::parseRedisUrl(s.redis_url);
      if (!s.redis_password_ref.empty()) {
        opts.password = subs::resolveSecretRef(s.redis_password_ref);
      }
      try {
        backend = std::make_unique<RedisPeopleStore>(std::move(opts));
      } catch (const subs::SubscriberError& e) {
        err << "mcn: " << e.what() << '\n';
        return kExitStore;
      }
    } else {
      backend = std::make_unique<FilePeopleStore>(s.file, plan);
    }

    if (s.add->parsed()) {
      out << backend->add(person, s.replace) << '\n';
    } else if (s.remove->parsed()) {
      out << backend->remove(s.target_id) << '\n';
    } else if (s.list->parsed()) {
      for (const subs::Person& p : backend->list()) {
        std::string nums, chans;
        for (const std::string& n : p.numbers) nums += (nums.empty() ? "" : ",") + n;
        for (const subs::Channel& c : p.channels) {
          chans += (chans.empty() ? "" : ",") + c.id + ":" + subs::channelKindName(c.kind);
        }
        out << p.id << '\t' << p.name << '\t' << nums << '\t' << chans << '\n';
      }
    } else if (s.show->parsed()) {
      std::optional<subs::Person> p = backend->get(s.target_id);
      if (!p) {
        err << "mcn: person " << s.target_id << ": not found\n";
        return kExitInput;
      }
      out << subs::exportToml({*p});
    } else if (s.import->parsed()) {
      out << backend->import(imported) << '\n';
    } else if (s.exp->parsed()) {
      const std::vector<subs::Person> people = backend->list();
      out << (s.format == "csv" ? subs::exportCsv(people) : subs::exportToml(people));
    }
    out.flush();
    if (!out) {
      err << "mcn: writing the output failed\n";
      return kExitStore;
    }
    return kExitOk;
  } catch (const subs::SubscriberError& e) {
    // A CSV import reports every bad row, one line each.
    std::string_view msg = e.what();
    for (size_t nl; (nl = msg.find('\n')) != std::string_view::npos; msg.remove_prefix(nl + 1)) {
      err << "mcn: " << msg.substr(0, nl) << '\n';
    }
    err << "mcn: " << msg << '\n';
    return (backend && backend->connectionFailed()) ? kExitStore : kExitInput;
  } catch (const std::exception& e) {  // ConfigError, a bad dial plan
    err << "mcn: " << e.what() << '\n';
    return kExitInput;
  }
}

}  // namespace mcn::app
