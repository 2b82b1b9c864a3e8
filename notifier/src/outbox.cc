#include "mcn/notifier/outbox.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "mcn/calls/record_wire.h"

namespace mcn::notifier {
namespace {

constexpr uint32_t kMaxBody = 16u << 20;  // a longer length field is damage, not a record
constexpr int64_t kErrorLogEveryUs = 10'000'000;
constexpr uint64_t kCompactMinBytes = 4u << 20;

uint32_t crc(std::string_view s) {
  return static_cast<uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t getU32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool writeAll(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd, data.data() + off, data.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(w);
  }
  return true;
}

// A decoded record: its body parsed, or nullopt when the bytes at `off` are no record.
std::optional<nlohmann::json> recordAt(const std::string& buf, size_t off, size_t* len) {
  if (buf.size() - off < 8) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(buf.data() + off);
  const uint32_t n = getU32(p);
  if (n == 0 || n > kMaxBody || buf.size() - off - 8 < n) return std::nullopt;
  std::string_view body(buf.data() + off + 8, n);
  if (crc(body) != getU32(p + 4)) return std::nullopt;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("t") || !j["t"].is_string()) {
    return std::nullopt;
  }
  *len = 8 + n;
  return j;
}

}  // namespace

std::string notificationToJournalJson(const Notification& n) {
  nlohmann::json j;
  j["person_id"] = n.person_id;
  j["person_name"] = n.person_name;
  nlohmann::json ch;
  ch["id"] = n.channel.id;
  ch["kind"] = subscribers::channelKindName(n.channel.kind);
  ch["target"] = n.channel.target;
  ch["target_ref"] = n.channel.target_ref;
  ch["secret_ref"] = n.channel.secret_ref;
  ch["options"] = n.channel.options;
  j["channel"] = std::move(ch);
  j["key"] = n.idempotency_key;
  nlohmann::json calls = nlohmann::json::array();
  for (const auto& c : n.calls) calls.push_back(calls::recordToWireJson(c));
  j["calls"] = std::move(calls);
  j["title"] = n.title;
  j["text"] = n.text;
  j["created_at_us"] = n.created_at_us;
  return dump(j);
}

std::optional<Notification> notificationFromJournalJson(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    Notification n;
    n.person_id = j.at("person_id").get<std::string>();
    n.person_name = j.at("person_name").get<std::string>();
    const auto& ch = j.at("channel");
    n.channel.id = ch.at("id").get<std::string>();
    auto kind = subscribers::channelKindFromName(ch.at("kind").get<std::string>());
    if (!kind) return std::nullopt;
    n.channel.kind = *kind;
    n.channel.target = ch.at("target").get<std::string>();
    n.channel.target_ref = ch.at("target_ref").get<std::string>();
    n.channel.secret_ref = ch.at("secret_ref").get<std::string>();
    n.channel.options = ch.at("options").get<std::map<std::string, std::string>>();
    n.idempotency_key = j.at("key").get<std::string>();
    for (const auto& c : j.at("calls")) {
      auto rec = calls::recordFromWireJson(c.get<std::string>());
      if (!rec) return std::nullopt;
      n.calls.push_back(std::move(*rec));
    }
    n.title = j.at("title").get<std::string>();
    n.text = j.at("text").get<std::string>();
    n.created_at_us = j.at("created_at_us").get<int64_t>();
    return n;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string Outbox::frame(std::string_view body) {
  std::string out;
  out.reserve(body.size() + 8);
  putU32(out, static_cast<uint32_t>(body.size()));
  putU32(out, crc(body));
  out.append(body);
  return out;
}

Outbox::Outbox(std::string path, int64_t fsync_ms, const Clock& clock)
    : path_(std::move(path)), fsync_ms_(fsync_ms), clock_(clock) {}

Outbox::~Outbox() { close(); }

void Outbox::close() {
  const std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) {
    if (dirty_) syncLocked();
    ::close(fd_);
    fd_ = -1;
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  lock_fd_ = -1;
}

std::string Outbox::callIdentity(const calls::CallRecord& r) {
  return r.call_id + '\n' + r.callee + '\n' + std::to_string(r.started_at_us);
}

std::string Outbox::noteIdentity(const Notification& n) {
  const std::string& where = n.channel.target_ref.empty() ? n.channel.target : n.channel.target_ref;
  return n.idempotency_key + '\n' + n.channel.id + '\n' +
         subscribers::channelKindName(n.channel.kind) + '\n' + where;
}

bool Outbox::open(OutboxRecovered& recovered, std::string* error) {
  const std::lock_guard<std::mutex> lock(mu_);
  auto fail = [&](const std::string& what) {
    if (error != nullptr) *error = what;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return false;
  };
  if (lock_fd_ < 0) {
    const std::string lock_path = path_ + ".lock";
    const int lfd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) return fail("cannot open " + lock_path + ": " + std::strerror(errno));
    if (::flock(lfd, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      ::close(lfd);
      if (e == EWOULDBLOCK) {
        return fail(path_ + " is in use by another mcn process (" + lock_path +
                    " is locked); give each `mcn run` its own notify.outbox_path");
      }
      return fail("cannot lock " + lock_path + ": " + std::strerror(e));
    }
    lock_fd_ = lfd;
  }
  std::string buf;
  {
    int rfd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (rfd < 0 && errno != ENOENT) {
      return fail("cannot read " + path_ + ": " + std::strerror(errno));
    }
    if (rfd >= 0) {
      char chunk[65536];
      for (;;) {
        ssize_t r = ::read(rfd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
          int e = errno;
          ::close(rfd);
          return fail("cannot read " + path_ + ": " + std::strerror(e));
        }
        if (r == 0) break;
        buf.append(chunk, static_cast<size_t>(r));
      }
      ::close(rfd);
    }
  }

  // Replay the records in order; a damaged stretch is skipped byte by byte up to the next
  // record whose checksum holds (a torn tail is one such stretch with nothing after it).
  std::map<uint64_t, std::pair<std::string, calls::MissedCall>> calls;  // seq -> framed, call
  std::map<uint64_t, std::pair<std::string, Notification>> notes;
  std::set<uint64_t> covered;  // calls named by a note
  size_t off = 0;
  bool in_damage = false;
  while (off < buf.size()) {
    size_t len = 0;
    auto j = recordAt(buf, off, &len);
    bool ok = false;
    if (j) {
      const std::string t = (*j)["t"].get<std::string>();
      const auto& js = *j;
      if (t == "call" && js.contains("seq") && js["seq"].is_number_unsigned() &&
          js.contains("call") && js["call"].is_string()) {
        if (auto rec = calls::recordFromWireJson(js["call"].get<std::string>())) {
          const uint64_t s = js["seq"].get<uint64_t>();
          calls[s] = {buf.substr(off, len), std::move(*rec)};
          next_call_seq_ = std::max(next_call_seq_, s + 1);
          ok = true;
        }
      } else if (t == "gone" && js.contains("seqs") && js["seqs"].is_array()) {
        for (const auto& s : js["seqs"]) {
          if (s.is_number_unsigned()) calls.erase(s.get<uint64_t>());
        }
        ok = true;
      } else if (t == "note" && js.contains("seq") && js["seq"].is_number_unsigned() &&
                 js.contains("n") && js["n"].is_string()) {
        if (auto n = notificationFromJournalJson(js["n"].get<std::string>())) {
          const uint64_t s = js["seq"].get<uint64_t>();
          notes[s] = {buf.substr(off, len), std::move(*n)};
          next_note_seq_ = std::max(next_note_seq_, s + 1);
          // The note names the calls it covers: they are not owed twice (applied at the end, so
          // a damaged journal that has the note first reads the same after compaction).
          if (js.contains("calls") && js["calls"].is_array()) {
            for (const auto& c : js["calls"]) {
              if (c.is_number_unsigned()) covered.insert(c.get<uint64_t>());
            }
          }
          ok = true;
        }
      } else if (t == "done" && js.contains("seq") && js["seq"].is_number_unsigned()) {
        notes.erase(js["seq"].get<uint64_t>());
        ok = true;
      }
    }
    if (ok) {
      in_damage = false;
      off += len;
      continue;
    }
    if (!in_damage) ++corrupt_records_;
    in_damage = true;
    ++corrupt_bytes_;
    ++off;
  }

  for (uint64_t s : covered) calls.erase(s);
  for (auto& [s, v] : calls) {
    live_bytes_ += v.first.size();
    call_seqs_[callIdentity(v.second)].push_back(s);
    live_calls_.emplace(s, std::move(v.first));
    recovered.calls.push_back(std::move(v.second));
  }
  for (auto& [s, v] : notes) {
    std::string id = noteIdentity(v.second);
    note_seqs_[id].push_back(s);
    live_bytes_ += v.first.size();
    live_notes_.emplace(s, LiveNote{std::move(v.first), std::move(id)});
    recovered.notifications.push_back(std::move(v.second));
  }
  recovered_calls_ = recovered.calls.size();
  recovered_notes_ = recovered.notifications.size();
  if (corrupt_records_ > 0) {
    spdlog::warn("outbox {}: {} damaged stretch(es), {} bytes skipped (torn tail or corruption)",
                 path_, corrupt_records_, corrupt_bytes_);
  }
  return compact(error) || fail(error != nullptr ? *error : std::string("compaction failed"));
}

bool Outbox::compact(std::string* error) {
  const std::string tmp = path_ + ".tmp";
  int tfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  auto fail = [&](const std::string& what) {
    const int e = errno;
    if (tfd >= 0) ::close(tfd);
    ::unlink(tmp.c_str());
    if (error != nullptr) *error = what + ": " + std::strerror(e);
    return false;
  };
  if (tfd < 0) return fail("cannot create " + tmp);
  std::string out;
  out.reserve(live_bytes_);
  for (const auto& [s, bytes] : live_calls_) out += bytes;
  for (const auto& [s, note] : live_notes_) out += note.bytes;
  if (!writeAll(tfd, out)) return fail("cannot write " + tmp);
  if (::fdatasync(tfd) != 0) return fail("cannot sync " + tmp);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return fail("cannot rename " + tmp);
  // The rename itself is durable only once the directory is.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  // The new file keeps its descriptor: O_APPEND from here on.
  ::close(tfd);
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return fail("cannot reopen " + path_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  size_ = out.size();
  dirty_ = false;
  last_sync_us_ = clock_.nowUs();
  ++compactions_;
  return true;
}

void Outbox::writeError(const std::string& what) {
  ++write_errors_;
  ++errors_since_log_;
  const int64_t now = clock_.nowUs();
  if (now - last_error_log_us_ < kErrorLogEveryUs) return;
  spdlog::error(
      "outbox {}: {} ({} error(s) since the last line); notifications go on from memory, calls "
      "decided meanwhile are lost if mcn stops (notify.outbox_unprotected)",
      path_, what, errors_since_log_);
  errors_since_log_ = 0;
  last_error_log_us_ = now;
}

bool Outbox::append(std::string_view framed, bool protects_call) {
  if (fd_ < 0) {
    if (protects_call) ++unprotected_;
    return false;
  }
  if (!writeAll(fd_, framed)) {
    const int e = errno;
    // Half a record must not stay in front of the next good one.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      // Still readable: open() skips the damaged stretch.
    }
    writeError(std::string("cannot append: ") + std::strerror(e));
    if (protects_call) ++unprotected_;
    return false;
  }
  size_ += framed.size();
  ++records_;
  dirty_ = true;
  if (fsync_ms_ == 0) syncLocked();
  return true;
}

void Outbox::callIn(const calls::MissedCall& call, int64_t at_us) {
  const std::lock_guard<std::mutex> lock(mu_);
  const uint64_t s = next_call_seq_++;
  nlohmann::json j;
  j["t"] = "call";
  j["seq"] = s;
  j["at"] = at_us;
  j["call"] = calls::recordToWireJson(call);
  std::string framed = frame(dump(j));
  // Tracked even when it could not be written: the "gone" mark of a kept call must still find it.
  append(framed, true);
  call_seqs_[callIdentity(call)].push_back(s);
  live_bytes_ += framed.size();
  live_calls_.emplace(s, std::move(framed));
}

void Outbox::callDropped(const calls::MissedCall& call) {
  const std::lock_guard<std::mutex> lock(mu_);
  auto it = call_seqs_.find(callIdentity(call));
  if (it == call_seqs_.end() || it->second.empty()) return;
  const uint64_t s = it->second.back();
  it->second.pop_back();
  if (it->second.empty()) call_seqs_.erase(it);
  if (auto lc = live_calls_.find(s); lc != live_calls_.end()) {
    live_bytes_ -= lc->second.size();
    live_calls_.erase(lc);
  }
  nlohmann::json j;
  j["t"] = "gone";
  j["seqs"] = {s};
  append(frame(dump(j)), false);
}

void Outbox::windowClosed(const std::vector<calls::CallRecord>& records) {
  const std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json seqs = nlohmann::json::array();
  for (const auto& r : records) {
    auto it = call_seqs_.find(callIdentity(r));
    if (it == call_seqs_.end() || it->second.empty()) continue;
    const uint64_t s = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) call_seqs_.erase(it);
    if (auto lc = live_calls_.find(s); lc != live_calls_.end()) {
      live_bytes_ -= lc->second.size();
      live_calls_.erase(lc);
    }
    seqs.push_back(s);
  }
  if (seqs.empty()) return;
  nlohmann::json j;
  j["t"] = "gone";
  j["seqs"] = std::move(seqs);
  append(frame(dump(j)), false);
}

void Outbox::produced(const Notification& n) {
  const std::lock_guard<std::mutex> lock(mu_);
  const uint64_t s = next_note_seq_++;
  nlohmann::json j;
  j["t"] = "note";
  j["seq"] = s;
  nlohmann::json cs = nlohmann::json::array();
  for (const auto& r : n.calls) {
    auto it = call_seqs_.find(callIdentity(r));
    if (it != call_seqs_.end() && !it->second.empty()) cs.push_back(it->second.front());
  }
  j["calls"] = std::move(cs);
  j["n"] = notificationToJournalJson(n);
  std::string framed = frame(dump(j));
  append(framed, false);
  std::string id = noteIdentity(n);
  note_seqs_[id].push_back(s);
  live_bytes_ += framed.size();
  live_notes_.emplace(s, LiveNote{std::move(framed), std::move(id)});
}

void Outbox::finished(const Notification& n) {
  const std::lock_guard<std::mutex> lock(mu_);
  auto it = note_seqs_.find(noteIdentity(n));
  if (it == note_seqs_.end() || it->second.empty()) return;
  const uint64_t s = it->second.front();
  it->second.pop_front();
  if (it->second.empty()) note_seqs_.erase(it);
  if (auto ln = live_notes_.find(s); ln != live_notes_.end()) {
    live_bytes_ -= ln->second.bytes.size();
    live_notes_.erase(ln);
  }
  nlohmann::json j;
  j["t"] = "done";
  j["seq"] = s;
  append(frame(dump(j)), false);
}

void Outbox::syncLocked() {
  if (fd_ < 0) return;
  if (::fdatasync(fd_) != 0) {
    writeError(std::string("cannot fdatasync: ") + std::strerror(errno));
  } else {
    ++syncs_;
  }
  dirty_ = false;
  last_sync_us_ = clock_.nowUs();
}

void Outbox::syncNow() {
  int fd = -1;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    if (fd_ < 0) return;
    fd = fd_;
    dirty_ = false;  // what is appended meanwhile makes it dirty again
    last_sync_us_ = clock_.nowUs();
  }
  // Outside the lock: the workers journal on while the disk syncs. Only this (the notifier)
  // thread replaces or closes the descriptor, so it stays valid.
  const int rc = ::fdatasync(fd);
  const int err = errno;
  const std::lock_guard<std::mutex> lock(mu_);
  if (rc != 0) {
    writeError(std::string("cannot fdatasync: ") + std::strerror(err));
  } else {
    ++syncs_;
  }
}

void Outbox::maybeSync() {
  bool due = false;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    if (fd_ < 0) return;
    due = dirty_ && clock_.nowUs() - last_sync_us_ >= fsync_ms_ * 1000;
    if (size_ > kCompactMinBytes && size_ > 4 * live_bytes_) {
      const int64_t now = clock_.nowUs();
      if (now - last_compact_fail_us_ >= kErrorLogEveryUs) {  // a full disk: not every turn
        std::string error;
        if (!compact(&error)) {
          last_compact_fail_us_ = now;
          writeError("cannot compact: " + error);
        }
      }
    }
  }
  if (due) syncNow();
}

bool Outbox::usable() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return fd_ >= 0;
}

void Outbox::forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const {
  const std::lock_guard<std::mutex> lock(mu_);
  fn("notify.outbox_records", records_);
  fn("notify.outbox_syncs", syncs_);
  fn("notify.outbox_write_errors", write_errors_);
  fn("notify.outbox_unprotected", unprotected_);
  fn("notify.outbox_recovered_calls", recovered_calls_);
  fn("notify.outbox_recovered_notifications", recovered_notes_);
  fn("notify.outbox_corrupt_records", corrupt_records_);
  fn("notify.outbox_corrupt_bytes", corrupt_bytes_);
  fn("notify.outbox_compactions", compactions_);
  fn("notify.outbox_bytes", size_);
  fn("notify.outbox_live_calls", live_calls_.size());
  fn("notify.outbox_live_notifications", live_notes_.size());
}

}  // namespace mcn::notifier
