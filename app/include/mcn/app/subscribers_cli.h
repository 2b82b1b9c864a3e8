#pragma once
// `mcn subscribers add|remove|list|show|import|export` on a TOML file (--file) or Redis (--redis).
// Exit codes: 0 ok, 2 bad input or a refused change (one clear line per problem on stderr), 1 the
// store could not be reached or written.

#include <iosfwd>
#include <memory>

namespace CLI {
class App;
}

namespace mcn::app {

class SubscribersCli {
 public:
  explicit SubscribersCli(CLI::App& app);  // adds the `subscribers` subcommand tree
  ~SubscribersCli();
  SubscribersCli(const SubscribersCli&) = delete;
  SubscribersCli& operator=(const SubscribersCli&) = delete;

  bool parsed() const;  // after app.parse(): was `subscribers` given?
  int run(std::ostream& out, std::ostream& err);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace mcn::app
