#include "mcn/notifier/dead_letter_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "mcn/calls/record_json.h"
#include "mcn/notifier/outbox.h"

namespace mcn::notifier {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads [from, end of file) of `fd` in chunks and hands every complete line (without its
// newline) with its offset to `fn`; returns the offset after the last complete line. A line
// longer than `max` is handed as empty with its true length (the caller counts it).
template <typename Fn>
bool scanLines(int fd, uint64_t from, size_t max, uint64_t& done, Fn fn) {
  std::string carry;
  uint64_t carry_at = from;
  bool carry_too_long = false;
  uint64_t carry_len = 0;
  char buf[64 * 1024];
  uint64_t pos = from;
  done = from;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    size_t start = 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      if (buf[i] != '\n') continue;
      const size_t piece = i - start;
      carry_len += piece;
      if (!carry_too_long && carry.size() + piece <= max) {
        carry.append(buf + start, piece);
      } else {
        carry_too_long = true;
      }
      fn(carry_at, carry_len, carry_too_long ? std::string_view() : std::string_view(carry));
      carry.clear();
      carry_too_long = false;
      carry_len = 0;
      start = i + 1;
      carry_at = pos + start;
      done = carry_at;
    }
    const size_t rest = static_cast<size_t>(n) - start;
    carry_len += rest;
    if (!carry_too_long && carry.size() + rest <= max) {
      carry.append(buf + start, rest);
    } else {
      carry_too_long = true;
      carry.clear();
    }
    pos += static_cast<uint64_t>(n);
  }
  return true;  // a last line without its newline is being written: read next time
}

std::string isoNow() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return calls::isoTime(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

}  // namespace

DeadLetterStore::DeadLetterStore(std::string path, size_t max_index)
    : path_(std::move(path)), max_index_(max_index == 0 ? 1 : max_index) {}

void DeadLetterStore::setPath(const std::string& path) {
  std::lock_guard lock(mu_);
  if (path == path_) return;
  path_ = path;
  dev_ = ino_ = read_to_ = 0;
  index_.clear();
  not_indexed_ = unreadable_ = 0;
  actions_dev_ = actions_ino_ = actions_read_to_ = 0;
  actions_.clear();
}

std::string DeadLetterStore::path() const {
  std::lock_guard lock(mu_);
  return path_;
}

std::string DeadLetterStore::idOf(std::string_view line) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : line) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

bool DeadLetterStore::validId(std::string_view id) {
  if (id.size() != 16) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool DeadLetterStore::refresh(std::string& error) {
  // The dead letters.
  {
    Fd f{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) {
      if (errno != ENOENT) {
        error = fmt::format("cannot read the dead-letter file {}: {}", path_, std::strerror(errno));
        return false;
      }
      dev_ = ino_ = read_to_ = 0;
      index_.clear();
      not_indexed_ = unreadable_ = 0;
    } else {
      struct stat st {};
      if (::fstat(f.fd, &st) != 0) {
        error = fmt::format("cannot read the dead-letter file {}: {}", path_, std::strerror(errno));
        return false;
      }
      const auto size = static_cast<uint64_t>(st.st_size);
      if (st.st_dev != dev_ || st.st_ino != ino_ || size < read_to_) {
        // Replaced, rotated or cut: read it again from the start.
        dev_ = st.st_dev;
        ino_ = st.st_ino;
        read_to_ = 0;
        index_.clear();
        not_indexed_ = unreadable_ = 0;
      }
      if (size > read_to_) {
        uint64_t done = read_to_;
        const bool ok =
            scanLines(f.fd, read_to_, kMaxLineBytes, done,
                      [&](uint64_t at, uint64_t len, std::string_view line) {
                        if (line.empty() || line.front() != '{') {
                          if (len != 0) ++unreadable_;
                          return;
                        }
                        index_.push_back(Indexed{at, static_cast<uint32_t>(len), idOf(line)});
                        if (index_.size() > max_index_) {
                          index_.pop_front();
                          ++not_indexed_;
                        }
                      });
        if (!ok) {
          error =
              fmt::format("cannot read the dead-letter file {}: {}", path_, std::strerror(errno));
          return false;
        }
        read_to_ = done;
      }
    }
  }
  // What operators did.
  const std::string ap = actionsPath();
  Fd a{::open(ap.c_str(), O_RDONLY | O_CLOEXEC)};
  if (a.fd < 0) {
    if (errno != ENOENT) {
      error = fmt::format("cannot read {}: {}", ap, std::strerror(errno));
      return false;
    }
    actions_.clear();
    actions_dev_ = actions_ino_ = actions_read_to_ = 0;
    return true;
  }
  struct stat st {};
  if (::fstat(a.fd, &st) != 0) {
    error = fmt::format("cannot read {}: {}", ap, std::strerror(errno));
    return false;
  }
  if (st.st_dev != actions_dev_ || st.st_ino != actions_ino_ ||
      static_cast<uint64_t>(st.st_size) < actions_read_to_) {
    actions_dev_ = st.st_dev;
    actions_ino_ = st.st_ino;
    actions_read_to_ = 0;
    actions_.clear();
  }
  uint64_t done = actions_read_to_;
  const bool ok = scanLines(
      a.fd, actions_read_to_, 64 * 1024, done, [&](uint64_t, uint64_t, std::string_view l) {
        auto j = nlohmann::json::parse(l, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return;
        try {
          DeadLetterAction act{j.at("action").get<std::string>(), j.at("by").get<std::string>(),
                               j.value("from", std::string()), j.at("at").get<std::string>()};
          actions_.emplace(j.at("id").get<std::string>(), std::move(act));  // the first wins
        } catch (const nlohmann::json::exception&) {
        }
      });
  if (!ok) {
    error = fmt::format("cannot read {}: {}", ap, std::strerror(errno));
    return false;
  }
  actions_read_to_ = done;
  return true;
}

bool DeadLetterStore::readLine(const Indexed& e, std::string& line, std::string& error) {
  Fd f{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    error = fmt::format("cannot read the dead-letter file {}: {}", path_, std::strerror(errno));
    return false;
  }
  line.resize(e.length);
  size_t got = 0;
  while (got < e.length) {
    ssize_t n =
        ::pread(f.fd, line.data() + got, e.length - got, static_cast<off_t>(e.offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = fmt::format("the dead-letter file {} changed while it was read", path_);
      return false;
    }
    got += static_cast<size_t>(n);
  }
  if (idOf(line) != e.id) {
    error = fmt::format("the dead-letter file {} changed while it was read", path_);
    return false;
  }
  return true;
}

bool DeadLetterStore::list(size_t skip, size_t limit, bool include_done, DeadLetterPage& out,
                           std::string& error) {
  std::lock_guard lock(mu_);
  out = DeadLetterPage{};
  if (!refresh(error)) return false;
  out.not_indexed = not_indexed_;
  out.unreadable = unreadable_;
  for (auto it = index_.rbegin(); it != index_.rend(); ++it) {
    auto act = actions_.find(it->id);
    const bool done = act != actions_.end();
    if (done && !include_done) continue;
    const size_t n = out.total++;
    if (n < skip || out.entries.size() >= limit) continue;
    DeadLetterEntry e;
    e.id = it->id;
    if (!readLine(*it, e.line, error)) return false;
    if (done) e.done = act->second;
    out.entries.push_back(std::move(e));
  }
  return true;
}

std::optional<DeadLetterEntry> DeadLetterStore::find(std::string_view id, std::string& error) {
  std::lock_guard lock(mu_);
  if (!refresh(error)) return std::nullopt;
  for (auto it = index_.rbegin(); it != index_.rend(); ++it) {
    if (it->id != id) continue;
    DeadLetterEntry e;
    e.id = it->id;
    if (!readLine(*it, e.line, error)) return std::nullopt;
    if (auto a = actions_.find(id); a != actions_.end()) e.done = a->second;
    return e;
  }
  return std::nullopt;
}

bool DeadLetterStore::markDone(std::string_view id, const DeadLetterAction& action,
                               const std::string& idempotency_key, std::string& error) {
  std::lock_guard lock(mu_);
  if (!refresh(error)) return false;
  if (auto a = actions_.find(id); a != actions_.end()) {
    error = fmt::format("dead letter {} was {} already, by {} at {}", id,
                        a->second.action == "retry" ? "retried" : "discarded", a->second.by,
                        a->second.at);
    return false;
  }
  DeadLetterAction act = action;
  if (act.at.empty()) act.at = isoNow();
  nlohmann::ordered_json j{{"id", id},     {"action", act.action},
                           {"by", act.by}, {"from", act.from},
                           {"at", act.at}, {"idempotency_key", idempotency_key}};
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
  const std::string ap = actionsPath();
  // 0600 like the dead-letter file: it names who acted on which person's notification.
  Fd f{::open(ap.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)};
  if (f.fd < 0) {
    error = fmt::format("cannot write {}: {}", ap, std::strerror(errno));
    return false;
  }
  // One write(2) on O_APPEND: lines of two processes never interleave.
  ssize_t w;
  do {
    w = ::write(f.fd, line.data(), line.size());
  } while (w < 0 && errno == EINTR);
  if (w != static_cast<ssize_t>(line.size())) {
    error = fmt::format("cannot write {}: {}", ap, w < 0 ? std::strerror(errno) : "short write");
    if (w > 0) {
      // Cut back what got in, so the file never holds half a line followed by good ones.
      struct stat st {};
      if (::fstat(f.fd, &st) == 0 && ::ftruncate(f.fd, st.st_size - w) != 0) {
        error += " (and the cut line could not be removed)";
      }
    }
    return false;
  }
  actions_.emplace(std::string(id), std::move(act));
  return true;
}

std::optional<Notification> deadLetterNotification(std::string_view line, std::string& error) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "the dead letter is not JSON";
    return std::nullopt;
  }
  if (!j.contains("resend") || !j["resend"].is_string()) {
    error =
        "this dead letter was written by an mcn without the re-send copy (\"resend\"): re-send it "
        "by hand";
    return std::nullopt;
  }
  auto n = notificationFromJournalJson(j["resend"].get<std::string>());
  if (!n) error = "the dead letter's re-send copy is damaged";
  return n;
}

}  // namespace mcn::notifier
