#pragma once
// One RAII hiredis client for every component that talks to Redis (subscribers, streams).
// No hiredis type crosses this header: replies are copied into RedisReply values.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mcn::redis {

// A reply as a value. kNone: no reply at all (transport error, timeout, not connected); the
// connection has been dropped then. RESP2 (hiredis 0.14 speaks nothing else).
struct RedisReply {
  enum class Type { kNone, kString, kStatus, kError, kInteger, kNil, kArray };
  Type type = Type::kNone;
  std::string str;                   // string, status, error
  int64_t integer = 0;               // integer
  std::vector<RedisReply> elements;  // array

  bool received() const { return type != Type::kNone; }
  bool isError() const { return type == Type::kError; }
  // Received and not an error reply.
  bool ok() const { return received() && !isError(); }
  bool isString() const { return type == Type::kString; }
  bool isArray() const { return type == Type::kArray; }
  bool isInteger() const { return type == Type::kInteger; }
  bool isNil() const { return type == Type::kNil; }
  // An error reply starting with this code ("NOSCRIPT", "BUSYGROUP" ...).
  bool errorIs(std::string_view code) const;
};

struct RedisClientOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;  // by value: references (env:, file:) are resolved by the caller
  int db = 0;
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 5000;  // 0: no timeout
  bool keepalive = true;
  int backoff_initial_ms = 100;
  int backoff_max_ms = 5000;
  // Redis Sentinel: when `sentinels` ("host:port", "[v6]:port") is not empty, host and port are
  // ignored: every connect asks the Sentinels in turn for `sentinel_master`
  // (SENTINEL get-master-addr-by-name), connects there and checks with ROLE that it is a master.
  // A connection error or a READONLY reply drops the connection, so the next connect asks again;
  // a +switch-master announced by a Sentinel drops it at the next ensure().
  std::vector<std::string> sentinels;
  std::string sentinel_master;
  std::string sentinel_password;  // AUTH to the Sentinels (by value, like `password`)
};

// "host:port" or "[v6 address]:port", port 1-65535.
bool parseHostPort(std::string_view s, std::string& host, int& port);

class RedisClient {
 public:
  using NowUs = std::function<int64_t()>;  // the clock of the reconnect backoff (a seam for tests)
  // Runs after each successful connect, AUTH, SELECT and script load (e.g. XGROUP CREATE);
  // false fails the connect.
  using OnConnect = std::function<bool(RedisClient&)>;

  explicit RedisClient(RedisClientOptions opts, NowUs now_us = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  const RedisClientOptions& options() const { return opts_; }
  void setOnConnect(OnConnect fn) { on_connect_ = std::move(fn); }

  // Registers a Lua script, loaded (SCRIPT LOAD) at every connect; returns its handle.
  size_t addScript(std::string lua);
  const std::string& sha(size_t script) const { return scripts_[script].sha; }

  bool connected() const;
  // Tried and failed (or lost), not yet back.
  bool down() const { return !connected() && delay_ms_ != 0; }

  // Connects now, whatever the backoff: "" on success, else the reason ("cannot connect (...)",
  // "authentication failed", "SELECT 3 failed (...)", ...), never the password. A failure starts
  // (or doubles) the backoff.
  std::string connect();
  // Connected, or connects if the backoff has elapsed.
  bool ensure();
  void disconnect();
  // An error we cannot handle in place: count it, drop the connection, back off.
  void fail();

  // One command. Not received (kNone) means the connection was dropped (counted as an error).
  RedisReply command(const std::vector<std::string>& args);
  RedisReply command(std::initializer_list<std::string_view> args);
  // Pipelining: append commands, then read their replies in order.
  void append(const std::vector<std::string>& args);
  void append(std::initializer_list<std::string_view> args);
  RedisReply read();
  // The per-command timeout of this connection from now on (ms; 0 none).
  void setTimeout(int ms);

  // EVALSHA of a registered script; NOSCRIPT (a SCRIPT FLUSH, a failover to a fresh server)
  // loads the script again and retries once.
  RedisReply evalsha(size_t script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);
  // Pipelined EVALSHA: the caller reads the reply; on NOSCRIPT call reloadScripts() (or fail()).
  void appendEvalsha(size_t script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);
  bool reloadScripts();

  // Pub/sub: the socket to poll; after it is readable, drainPushes() reads what arrived without
  // blocking. false: the subscription was lost (connection dropped).
  int fd() const;
  bool drainPushes(std::vector<RedisReply>& out);

  // Sentinel mode: the master now used ("host:port", "" before the first connect), and how often
  // it changed after a successful connect (a failover followed).
  const std::string& master() const { return master_; }
  uint64_t sentinelFailovers() const { return sentinel_failovers_; }
  // Connects that found no Sentinel answering with a master address (all down, or the name
  // unknown to them), and a Sentinel's address that was not a master (ROLE).
  uint64_t sentinelErrors() const { return sentinel_errors_; }

  uint64_t reconnects() const { return reconnects_; }
  uint64_t errors() const { return errors_; }
  void countError() { ++errors_; }
  // The last transport error or error reply, for the operator's log line (never a password).
  const std::string& lastError() const { return last_error_; }

 private:
  struct Ctx;
  struct Script {
    std::string lua, sha;
  };
  void backoff();
  std::string setUp(const std::string& where);
  // Sentinel mode: asks the Sentinels for the master's address; "" or the reason.
  std::string discoverMaster(std::string& host, int& port);
  // Sentinel mode: reads +switch-master announcements without blocking; true if the master
  // changed away from the one we are connected to.
  bool switchAnnounced();
  void staleMaster(const RedisReply& r);
  void appendArgv(const std::vector<std::string_view>& args);
  RedisReply commandArgv(const std::vector<std::string_view>& args);
  std::vector<std::string_view> evalArgs(size_t script, const std::vector<std::string>& keys,
                                         const std::vector<std::string>& args,
                                         std::string& nkeys) const;

  RedisClientOptions opts_;
  NowUs now_us_;
  OnConnect on_connect_;
  std::unique_ptr<Ctx> ctx_;
  std::unique_ptr<Ctx> watch_;  // a Sentinel connection subscribed to +switch-master
  int64_t watch_next_try_us_ = 0;
  size_t watch_turn_ = 0;  // which Sentinel the watch tries next
  std::string master_;
  uint64_t sentinel_failovers_ = 0, sentinel_errors_ = 0;
  std::vector<Script> scripts_;
  int64_t next_try_us_ = 0;
  int64_t delay_ms_ = 0;
  bool ever_connected_ = false;
  uint64_t reconnects_ = 0, errors_ = 0;
  std::string last_error_;
};

}  // namespace mcn::redis
