#include "shared_links.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace mcn::app {

SharedLinkRecord::SharedLinkRecord(redis::RedisClientOptions opts, std::string prefix)
    : redis_([&] {
        opts.connect_timeout_ms = std::min(opts.connect_timeout_ms, 1000);
        opts.command_timeout_ms = 2000;
        return opts;
      }()),
      prefix_(std::move(prefix)) {}

sipua::LinkVerdict SharedLinkRecord::redeem(const std::string& nonce, int64_t expires_ms,
                                            int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!redis_.connected()) {
    if (std::string why = redis_.connect(); !why.empty()) {
      spdlog::warn("web: a sign-in link could not be checked: Redis unreachable ({})", why);
      return sipua::LinkVerdict::kFull;
    }
  }
  // Kept a minute past the link's expiry: a clock a little behind elsewhere still finds it.
  const int64_t ttl_ms = std::max<int64_t>(expires_ms - now_ms, 0) + 60'000;
  auto r = redis_.command(
      {"SET", prefix_ + ":web:link:" + nonce, "1", "NX", "PX", std::to_string(ttl_ms)});
  if (r.isNil()) return sipua::LinkVerdict::kUsed;
  if (!r.ok()) {
    spdlog::warn("web: a sign-in link could not be checked: Redis {}",
                 r.received() ? r.str : redis_.lastError());
    return sipua::LinkVerdict::kFull;
  }
  return sipua::LinkVerdict::kOk;
}

}  // namespace mcn::app
