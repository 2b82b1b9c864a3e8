#pragma once
// Errors of the subscriber stores. Start-up and admin code only (loading a file, the CLI, a Redis
// write); the data path reads snapshots and never sees one.

#include <stdexcept>

namespace mcn::subscribers {

// One line per problem, each naming where it is: "file:line:col: person[2].numbers[1]: reason"
// for TOML, "file:row N: column X: reason" for CSV (several rows may be wrong: one line each,
// separated by '\n'), "person e1013: field: reason" for a record from the CLI or Redis.
class SubscriberError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mcn::subscribers
