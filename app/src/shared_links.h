#pragma once
// The notifiers of a [streams] deployment each serve the web console: a sign-in link is used once
// among all of them, not once per process. The confirm page's POST marks the link's nonce used in
// the streams' Redis (SET <prefix>:web:link:<nonce> NX, expiring with the link); another
// notifier's SET then fails and it answers "used". Redis unreachable: no sign-in (kFull), the link
// still usable later. Thread-safe (a mutex around one connection of its own).

#include <cstdint>
#include <mutex>
#include <string>

#include "mcn/redis/client.h"
#include "mcn/sipua/callback_link.h"

namespace mcn::app {

class SharedLinkRecord {
 public:
  SharedLinkRecord(redis::RedisClientOptions opts, std::string prefix);
  // kOk: first use anywhere; kUsed: redeemed already; kFull: Redis cannot be reached now.
  sipua::LinkVerdict redeem(const std::string& nonce, int64_t expires_ms, int64_t now_ms);

 private:
  std::mutex mu_;
  redis::RedisClient redis_;
  std::string prefix_;
};

}  // namespace mcn::app
