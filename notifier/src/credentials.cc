#include "mcn/notifier/credentials.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace mcn::notifier {

namespace {

constexpr size_t kMaxSecretFileBytes = size_t{64} * 1024;

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

}  // namespace

std::optional<std::string> CredentialStore::resolve(std::string_view ref, std::string* error) {
  if (auto it = cache_.find(ref); it != cache_.end()) return it->second;
  std::string err;
  std::optional<std::string> value;
  if (ref.starts_with("env:")) {
    std::string name(ref.substr(4));
    if (name.empty()) {
      err = "secret reference env: names no variable";
    } else if (const char* v = std::getenv(name.c_str()); v == nullptr) {
      err = "environment variable " + name + " (secret reference) is not set";
    } else if (*v == '\0') {
      err = "environment variable " + name + " (secret reference) is empty";
    } else {
      value = std::string(v);
    }
  } else if (ref.starts_with("file:")) {
    value = readFile(std::string(ref.substr(5)), &err);
  } else {
    // Do not echo `ref`: someone may have pasted the secret itself into the config.
    err = "unsupported secret reference (use env:NAME or file:/path)";
  }
  if (!value) {
    ++errors_;
    if (error != nullptr) *error = err;
    return std::nullopt;
  }
  ++resolved_;
  cache_.emplace(std::string(ref), *value);
  return value;
}

std::optional<std::string> CredentialStore::readFile(const std::string& path, std::string* error) {
  if (path.empty() || path[0] != '/') {
    *error = "secret file reference must be an absolute path: file:" + path;
    return std::nullopt;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    *error = "cannot open secret file " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    *error = "secret file " + path + " is not a regular file";
    return std::nullopt;
  }
  if ((st.st_mode & S_IROTH) != 0) {
    ++world_readable_;
    if (warned_.insert(path).second) {
      spdlog::warn("secret file {} is readable by every user; run chmod o-r on it", path);
    }
  }
  std::string data;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      *error = "cannot read secret file " + path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxSecretFileBytes) {
      ::close(fd);
      *error = "secret file " + path + " is larger than 64 KiB";
      return std::nullopt;
    }
  }
  ::close(fd);
  std::string_view t = trim(data);
  if (t.empty()) {
    *error = "secret file " + path + " is empty";
    return std::nullopt;
  }
  return std::string(t);
}

void CredentialStore::forEachCounter(
    const std::function<void(std::string_view, uint64_t)>& fn) const {
  fn("credentials.resolved", resolved_);
  fn("credentials.errors", errors_);
  fn("credentials.world_readable", world_readable_);
}

std::string redactUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    // Not a URL (a phone number, an e-mail address): nothing secret in it by construction.
    return std::string(url);
  }
  std::string out(url.substr(0, scheme_end + 3));
  std::string_view rest = url.substr(scheme_end + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);  // user:password@ never reaches a log
  }
  out += authority;
  if (auth_end == std::string_view::npos) return out;
  rest = rest.substr(auth_end);
  size_t path_end = rest.find_first_of("?#");
  std::string_view path = rest.substr(0, path_end);
  size_t pos = 0;
  while (pos < path.size()) {
    size_t next = path.find('/', pos + 1);
    std::string_view seg =
        path.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    // seg includes its leading '/'
    if (seg.size() > 16) {
      out += "/***";
    } else {
      out += seg;
    }
    if (next == std::string_view::npos) break;
    pos = next;
  }
  if (path_end != std::string_view::npos) out += rest[path_end] == '?' ? "?***" : "#***";
  return out;
}

}  // namespace mcn::notifier
