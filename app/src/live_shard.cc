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

std::string_view unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

// icid-value from a P-Charging-Vector value: `icid-value=X;icid-generated-at=...` (RFC 7315
// §5.6: the first parameter, token or quoted-string; parameter names are case-insensitive).
std::string_view icidValue(std::string_view v) {
  while (!v.empty()) {
    // The parameter ends at the first ';' outside a quoted-string (RFC 3261 §25.1).
    size_t semi = 0;
    bool quoted = false;
    for (; semi < v.size(); ++semi) {
      if (quoted && v[semi] == '\\') {
        ++semi;
      } else if (v[semi] == '"') {
        quoted = !quoted;
      } else if (!quoted && v[semi] == ';') {
        break;
      }
    }
    std::string_view param = trim(v.substr(0, semi));
    size_t eq = param.find('=');
    if (eq != std::string_view::npos && iequals(trim(param.substr(0, eq)), "icid-value")) {
      return unquote(trim(param.substr(eq + 1)));
    }
    if (semi >= v.size()) break;
    v.remove_prefix(semi + 1);
  }
  return {};
}

// FNV-1a: stable across runs and builds (std::hash is not specified to be). `space` keeps the
// icid and correlation-header key spaces apart (RULES.md: they are separate).
uint64_t fnv(std::string_view s, uint8_t space = 0) {
  uint64_t h = 1469598103934665603ULL;
  h ^= space;
  h *= 1099511628211ULL;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// Header lines of the header section (start line skipped), stopping at the blank line.
template <typename Fn>
void forEachHeader(std::string_view msg, Fn&& fn) {
  size_t pos = msg.find('\n');  // skip the start line
  while (pos != std::string_view::npos && pos + 1 < msg.size()) {
    size_t start = pos + 1;
    size_t end = msg.find('\n', start);
    std::string_view line =
        msg.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (line.empty() || line == "\r") return;  // end of headers
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      if (!fn(trim(line.substr(0, colon)), trim(line.substr(colon + 1)))) return;
    }
    pos = end;
  }
}

// User part of a From value: `"Name" <sip:user@host>;tag=x`, `sip:user@host;tag=x`,
// `<tel:+861234;phone-context=...>`. Empty if there is none.
std::string_view uriUser(std::string_view v) {
  const size_t lt = v.find('<');
  if (lt != std::string_view::npos) v.remove_prefix(lt + 1);
  const size_t colon = v.find(':');
  if (colon == std::string_view::npos) return {};
  v.remove_prefix(colon + 1);
  const size_t end = v.find_first_of("@;>?, \t\r");
  return v.substr(0, end);
}

// The caller's share of the worker space: the last 4 digits of the From user (dial plans
// differ in prefixes, not in the last digits), else the user itself.
uint64_t callerHash(std::string_view user) {
  char digits[4];
  size_t n = 0;
  for (size_t i = user.size(); i-- > 0 && n < 4;) {
    if (user[i] >= '0' && user[i] <= '9') digits[3 - n++] = user[i];
  }
  if (n == 0) return fnv(user, 3);
  return fnv(std::string_view(digits + 4 - n, n), 3);
}

}  // namespace

std::string_view findCallId(std::string_view msg) {
  std::string_view id;
  forEachHeader(msg, [&](std::string_view name, std::string_view value) {
    if (iequals(name, "call-id") || iequals(name, "i")) {
      id = value;
      return false;
    }
    return true;
  });
  return id;
}

uint32_t shardOf(std::string_view msg, uint32_t workers) {
  if (workers <= 1) return 0;
  return static_cast<uint32_t>(fnv(findCallId(msg)) % workers);
}

ShardKeys findShardKeys(std::string_view msg, std::string_view correlation_header) {
  ShardKeys k;
  // A response's P-Asserted-Identity names the responder (RFC 3325 §9.1), not the caller.
  const bool request = msg.substr(0, 4) != "SIP/";
  bool asserted_tel = false;
  forEachHeader(msg, [&](std::string_view name, std::string_view value) {
    if (k.call_id.empty() && (iequals(name, "call-id") || iequals(name, "i"))) {
      k.call_id = value;
    } else if (k.icid.empty() && iequals(name, "p-charging-vector")) {
      k.icid = icidValue(value);
    } else if (k.correlation.empty() && !correlation_header.empty() &&
               iequals(name, correlation_header)) {
      k.correlation = unquote(value);
    } else if (k.replaces.empty() && iequals(name, "replaces")) {
      k.replaces = trim(value.substr(0, value.find(';')));
    } else if (k.from_user.empty() && (iequals(name, "from") || iequals(name, "f"))) {
      k.from_user = uriUser(value);
    } else if (request && !asserted_tel && iequals(name, "p-asserted-identity")) {
      // One header may hold a sip and a tel URI, comma-separated.
      for (size_t pos = 0; pos <= value.size();) {
        size_t comma = value.find(',', pos);
        if (comma == std::string_view::npos) comma = value.size();
        const std::string_view entry = trim(value.substr(pos, comma - pos));
        pos = comma + 1;
        const std::string_view user = uriUser(entry);
        if (user.find_first_of("0123456789") == std::string_view::npos) continue;
        const size_t lt = entry.find('<');
        const std::string_view uri =
            trim(lt == std::string_view::npos ? entry : entry.substr(lt + 1));
        const bool tel = uri.size() >= 4 && iequals(uri.substr(0, 4), "tel:");
        if (k.asserted_user.empty() || tel) {
          k.asserted_user = user;
          asserted_tel = tel;
        }
        if (tel) break;
      }
    }
    return true;
  });
  return k;
}

ShardRouter::ShardRouter(uint32_t workers, std::string correlation_header, bool by_caller,
                         unsigned table_bits)
    : workers_(workers == 0 ? 1 : workers),
      correlation_header_(std::move(correlation_header)),
      by_caller_(by_caller) {
  if (workers_ > 1) {
    mask_ = (uint64_t{1} << table_bits) - 1;
    table_ = std::make_unique<std::atomic<uint64_t>[]>(mask_ + 1);
    for (uint64_t i = 0; i <= mask_; ++i) table_[i].store(0, std::memory_order_relaxed);
  }
}

namespace {
constexpr uint64_t kPinned = 0x80;  // slot flag: the Call-ID came with Replaces (see route)
}  // namespace

std::atomic<uint64_t>& ShardRouter::slotOf(uint64_t h, uint64_t& entry) const {
  // Linear probing over kProbe slots from the home slot: the slot holding the Call-ID's tag,
  // else the first empty one (slots are never emptied, so a Call-ID remembered is found before
  // it), else, all taken by other Call-IDs, the home slot is overwritten.
  const uint64_t tag = h & ~uint64_t{0xff};
  for (uint64_t i = 0; i < kProbe; ++i) {
    std::atomic<uint64_t>& slot = table_[(h + i) & mask_];
    entry = slot.load(std::memory_order_relaxed);
    if (entry == 0 || (entry & ~uint64_t{0xff}) == tag) return slot;
  }
  entry = 0;
  return table_[h & mask_];
}

uint32_t ShardRouter::route(std::string_view msg) {
  if (workers_ <= 1) return 0;
  ShardKeys k = findShardKeys(msg, correlation_header_);
  const uint64_t h = fnv(k.call_id);
  uint64_t e = 0;
  std::atomic<uint64_t>& slot = slotOf(h, e);
  const uint64_t tag = h & ~uint64_t{0xff};  // workers <= 64 fit in the low byte (+1, 0 = empty)
  if ((e & ~uint64_t{0xff}) != tag) e = 0;   // empty, or another Call-ID's to overwrite
  // A Call-ID pinned by its Replaces INVITE keeps that worker (kPinned: bit 7 of the low byte).
  if (e != 0 && (e & kPinned) != 0) return static_cast<uint32_t>((e & 0x7f) - 1);
  uint32_t w;
  if (!k.replaces.empty()) {
    const uint64_t rh = fnv(k.replaces);
    uint64_t r = 0;
    slotOf(rh, r);
    w = (r & ~uint64_t{0xff}) == (rh & ~uint64_t{0xff}) && (r & 0x7f) != 0
            ? static_cast<uint32_t>((r & 0x7f) - 1)
            : static_cast<uint32_t>(rh % workers_);
    slot.store(tag | kPinned | (w + 1), std::memory_order_relaxed);
    return w;
  }
  if (by_caller_) {
    if (e != 0 && (e & 0x7f) != 0) return static_cast<uint32_t>((e & 0x7f) - 1);
    w = static_cast<uint32_t>(callerHash(k.asserted_user.empty() ? k.from_user : k.asserted_user) %
                              workers_);
  } else if (!k.icid.empty()) {
    w = static_cast<uint32_t>(fnv(k.icid, 1) % workers_);
  } else if (!k.correlation.empty()) {
    w = static_cast<uint32_t>(fnv(k.correlation, 2) % workers_);
  } else {
    if (e != 0 && (e & 0x7f) != 0) return static_cast<uint32_t>((e & 0x7f) - 1);
    w = static_cast<uint32_t>(h % workers_);
  }
  slot.store(tag | (w + 1), std::memory_order_relaxed);
  return w;
}

}  // namespace mcn::app
