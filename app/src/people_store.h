#pragma once
// The subscribers store behind `mcn subscribers` and POST /api/ops/people/import: a TOML file
// rewritten as a whole (atomically), or Redis changed atomically. Every method validates the
// whole result before it writes (all or nothing) and throws subscribers::SubscriberError.

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mcn/sipparse/dial_plan.h"
#include "mcn/subscribers/redis_store.h"
#include "mcn/subscribers/toml_store.h"
#include "mcn/subscribers/validate.h"

namespace mcn::app {

namespace subs = mcn::subscribers;

// The store behind the commands: a TOML file rewritten as a whole, or Redis changed atomically.
class PeopleStore {
 public:
  virtual ~PeopleStore() = default;
  virtual std::vector<subs::Person> list() = 0;
  virtual std::optional<subs::Person> get(const std::string& id) = 0;
  virtual std::string add(const subs::Person& p, bool replace) = 0;
  virtual std::string remove(const std::string& id) = 0;
  virtual std::string import(const std::vector<subs::Person>& people) = 0;
  virtual bool connectionFailed() const { return false; }
};

class FilePeopleStore final : public PeopleStore {
 public:
  FilePeopleStore(std::string path, const sipparse::DialPlan& plan)
      : path_(std::move(path)), plan_(plan) {}

  std::vector<subs::Person> list() override { return subs::loadTomlFile(path_, plan_); }

  std::optional<subs::Person> get(const std::string& id) override {
    for (subs::Person& p : list()) {
      if (p.id == id) return std::move(p);
    }
    return std::nullopt;
  }

  std::string add(const subs::Person& p, bool replace) override {
    std::vector<subs::Person> people = loadOrEmpty();
    bool found = false;
    for (subs::Person& q : people) {
      if (q.id == p.id) {
        if (!replace)
          throw subs::SubscriberError(
              fmt::format("person {}: already exists (use --replace)", p.id));
        q = p;
        found = true;
      }
    }
    if (!found) people.push_back(p);
    subs::validateUnique(people);
    save(people);
    return fmt::format("{} {}", found ? "replaced" : "added", p.id);
  }

  std::string remove(const std::string& id) override {
    std::vector<subs::Person> people = list();
    const auto before = people.size();
    std::erase_if(people, [&](const subs::Person& p) { return p.id == id; });
    if (people.size() == before)
      throw subs::SubscriberError(fmt::format("person {}: not found", id));
    save(people);
    return fmt::format("removed {}", id);
  }

  std::string import(const std::vector<subs::Person>& in) override {
    std::vector<subs::Person> people = loadOrEmpty();
    size_t added = 0, replaced = 0;
    for (const subs::Person& p : in) {
      auto it = std::find_if(people.begin(), people.end(),
                             [&](const subs::Person& q) { return q.id == p.id; });
      if (it != people.end()) {
        *it = p;
        ++replaced;
      } else {
        people.push_back(p);
        ++added;
      }
    }
    // Checked as a whole before the file is touched: all or nothing.
    subs::validateUnique(people);
    save(people);
    return fmt::format("imported {} people ({} added, {} replaced)", in.size(), added, replaced);
  }

 private:
  std::vector<subs::Person> loadOrEmpty() {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) return {};
    return list();
  }

  void save(const std::vector<subs::Person>& people) {
    write_failed_ = true;  // a failure to write is the store's, not the input's
    subs::saveTomlFile(path_, people);
    write_failed_ = false;
  }
  bool connectionFailed() const override { return write_failed_; }

  std::string path_;
  const sipparse::DialPlan& plan_;
  bool write_failed_ = false;
};

class RedisPeopleStore final : public PeopleStore {
 public:
  explicit RedisPeopleStore(subs::RedisOptions opts) : store_(std::move(opts)) {}
  std::vector<subs::Person> list() override { return store_.list(); }
  std::optional<subs::Person> get(const std::string& id) override { return store_.get(id); }
  std::string add(const subs::Person& p, bool replace) override {
    const uint64_t v = replace ? store_.put(p) : store_.add(p);
    return fmt::format("{} {} (version {})", replace ? "stored" : "added", p.id, v);
  }
  std::string remove(const std::string& id) override {
    return fmt::format("removed {} (version {})", id, store_.remove(id));
  }
  std::string import(const std::vector<subs::Person>& people) override {
    const uint64_t v = store_.apply(people, {});
    return fmt::format("imported {} people (version {})", people.size(), v);
  }
  bool connectionFailed() const override { return store_.lastErrorWasConnection(); }

 private:
  subs::RedisStore store_;
};

}  // namespace mcn::app
