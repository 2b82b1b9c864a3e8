#include "process.h"

#include <grp.h>
#include <pwd.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "log_mask.h"
#include "mcn/calls/record_json.h"

namespace mcn::app {

int64_t wallUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

int64_t monoUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

Signals::Signals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int Signals::wait(int timeout_ms) {
  timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1'000'000};
  int sig = sigtimedwait(&set_, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

void sdNotify(const char* state) {
  // A path, or '@' for the abstract namespace.
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(path);
  if (len >= sizeof(addr.sun_path)) {
    ::close(fd);
    return;
  }
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  auto alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  (void)::sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
                 alen);
  ::close(fd);
}

int64_t watchdogUs() {
  const char* w = std::getenv("WATCHDOG_USEC");
  return w != nullptr ? std::atoll(w) : 0;
}

std::string dropPrivileges(const RunConfig& run) {
  if (run.user.empty()) return {};
  if (::geteuid() != 0) return {};  // already unprivileged (CAP_NET_RAW deployment)
  errno = 0;
  passwd* pw = ::getpwnam(run.user.c_str());
  if (pw == nullptr) return "run.user: no such user: " + run.user;
  gid_t gid = pw->pw_gid;
  if (!run.group.empty()) {
    group* gr = ::getgrnam(run.group.c_str());
    if (gr == nullptr) return "run.group: no such group: " + run.group;
    gid = gr->gr_gid;
  }
  if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(pw->pw_uid) != 0) {
    return "cannot switch to user " + run.user + ": " + std::strerror(errno);
  }
  if (::setuid(0) == 0) return "privileges were not dropped (setuid(0) still succeeds)";
  return {};
}

namespace {

// JSON Lines logs: {"ts":"...Z","level":"info","msg":"..."}, the message escaped by
// nlohmann::json (error texts may quote paths or carry control characters).
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch());
    nlohmann::json j;
    j["ts"] = calls::isoTime(us.count());
    j["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                             spdlog::level::to_string_view(msg.level).size());
    j["msg"] = std::string(msg.payload.data(), msg.payload.size());
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// Masks telephone numbers in whatever the inner formatter wrote (run.log_mask_numbers).
class MaskingFormatter final : public spdlog::formatter {
 public:
  explicit MaskingFormatter(std::unique_ptr<spdlog::formatter> inner) : inner_(std::move(inner)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    spdlog::memory_buf_t raw;
    inner_->format(msg, raw);
    std::string masked = maskNumbers(std::string_view(raw.data(), raw.size()));
    dest.append(masked.data(), masked.data() + masked.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<MaskingFormatter>(inner_->clone());
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
};

}  // namespace

void applyLogSettings(spdlog::logger& logger, const RunConfig& run) {
  std::unique_ptr<spdlog::formatter> f;
  if (run.log_format == "json") {
    f = std::make_unique<JsonFormatter>();
  } else {
    f = std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ mcn[%P] %l: %v",
                                                    spdlog::pattern_time_type::utc);
  }
  if (run.log_mask_numbers) f = std::make_unique<MaskingFormatter>(std::move(f));
  logger.set_formatter(std::move(f));
  logger.set_level(spdlog::level::from_str(run.log_level));
}

void setupLogging(const RunConfig& run) {
  auto logger = spdlog::stderr_logger_mt("mcn");
  applyLogSettings(*logger, run);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace mcn::app
