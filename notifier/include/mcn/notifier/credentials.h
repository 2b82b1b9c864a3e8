#pragma once
// Credentials for the delivery channels. The configuration names where a secret lives, never the
// secret itself: "env:NAME" (an environment variable) or "file:/path" (a file, surrounding
// whitespace trimmed). Nothing is ever taken from the command line, where `ps` and shell history
// would show it. Secrets are never logged: error texts name the reference, and URLs that carry a
// token (a WeCom `key=`, a DingTalk `access_token=`, a Feishu hook path) go through redactUrl()
// before they reach a log line or the dead-letter file.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace mcn::notifier {

class CredentialStore {
 public:
  // Returns the secret, or nullopt with `error` set to a text that is safe to log. A reference
  // that is neither env: nor file: is refused without being echoed (it may be a pasted secret).
  // Successful look-ups are cached; failures are not, so a file that appears later is picked up.
  std::optional<std::string> resolve(std::string_view ref, std::string* error);

  // Forget cached secrets (after a rotation, e.g. on SIGHUP).
  void clear() { cache_.clear(); }

  // Stable counter names: credentials.resolved, credentials.errors, credentials.world_readable.
  void forEachCounter(const std::function<void(std::string_view name, uint64_t value)>& fn) const;

 private:
  std::optional<std::string> readFile(const std::string& path, std::string* error);

  std::map<std::string, std::string, std::less<>> cache_;
  std::set<std::string, std::less<>> warned_;  // world-readable files already warned about
  uint64_t resolved_ = 0;
  uint64_t errors_ = 0;
  uint64_t world_readable_ = 0;
};

// "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET" ->
// "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?***". User info is dropped, the query and
// fragment are masked, and a path segment that looks like a token (16 or more characters) is
// masked too, since Feishu puts its hook token in the path.
std::string redactUrl(std::string_view url);

}  // namespace mcn::notifier
