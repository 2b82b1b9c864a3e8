#include "live_shard.h"

namespace mcn::app {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string_view findCallId(std::string_view msg) {
  size_t pos = msg.find('\n');  // skip the start line
  while (pos != std::string_view::npos && pos + 1 < msg.size()) {
    size_t start = pos + 1;
    size_t end = msg.find('\n', start);
    std::string_view line =
        msg.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (line.empty() || line == "\r") return {};  // end of headers
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = trim(line.substr(0, colon));
      if (iequals(name, "call-id") || iequals(name, "i")) return trim(line.substr(colon + 1));
    }
    pos = end;
  }
  return {};
}

uint32_t shardOf(std::string_view msg, uint32_t workers) {
  if (workers <= 1) return 0;
  std::string_view id = findCallId(msg);
  // FNV-1a: stable across runs and builds (std::hash is not specified to be).
  uint64_t h = 1469598103934665603ULL;
  for (char c : id) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return static_cast<uint32_t>(h % workers);
}

}  // namespace mcn::app
