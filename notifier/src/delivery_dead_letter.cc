#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "channels/common.h"
#include "mcn/notifier/delivery.h"
#include "mcn/notifier/outbox.h"

namespace mcn::notifier {

std::string deadLetterJson(const Notification& n, std::string_view reason,
                           std::string_view last_error, int attempts, int64_t at_us) {
  nlohmann::ordered_json j;
  j["reason"] = reason;
  j["error"] = last_error;
  j["attempts"] = attempts;
  j["at"] = calls::isoTime(at_us);
  j["notification"] = channels::notificationJson(n, /*channel_detail=*/true);
  // What a retry from the operator console re-sends (dead_letter_store.h): the notification as
  // the outbox journals it (calls in full, original idempotency key), its channel reduced to id
  // and kind: the retry takes the person's channel as configured then, so no credential is here.
  Notification copy = n;
  copy.channel = subscribers::Channel{};
  copy.channel.id = n.channel.id;
  copy.channel.kind = n.channel.kind;
  j["resend"] = notificationToJournalJson(copy);
  return channels::dumpJson(j);
}

JsonlDeadLetterFile::JsonlDeadLetterFile(const std::string& path) : path_(path) {
  // 0600: the entries name people, numbers and message texts.
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw std::runtime_error("cannot open dead-letter file " + path + ": " + std::strerror(errno));
  }
}

JsonlDeadLetterFile::~JsonlDeadLetterFile() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlDeadLetterFile::write(const Notification& n, std::string_view reason,
                                std::string_view last_error, int attempts, int64_t at_us) {
  std::string line = deadLetterJson(n, reason, last_error, attempts, at_us);
  line += '\n';
  // One write() per line on an O_APPEND descriptor: lines from several processes do not
  // interleave (POSIX write(2) with O_APPEND).
  size_t off = 0;
  while (off < line.size()) {
    ssize_t w = ::write(fd_, line.data() + off, line.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ++write_errors_;
      ++unlogged_;
      // A full or read-only disk fails every line: one log line at most every 10 s.
      const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count();
      if (now - last_log_us_ >= 10'000'000) {
        spdlog::error(
            "cannot append to dead-letter file {}: {} ({} dead letter(s) not written since the "
            "last "
            "line, notify.dead_letter_write_errors; last {})",
            path_, std::strerror(e), unlogged_, n.idempotency_key);
        last_log_us_ = now;
        unlogged_ = 0;
      }
      return;
    }
    off += static_cast<size_t>(w);
  }
}

}  // namespace mcn::notifier
