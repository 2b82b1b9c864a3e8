#include "mcn/web/i18n.h"

#include <cctype>
#include <optional>

namespace mcn::web {

namespace {

// The language a tag names, when it is one we speak ("zh", "zh-Hans-CN", "EN-gb").
std::optional<Lang> fromTag(std::string_view tag) {
  auto primary = tag.substr(0, tag.find('-'));
  auto eq = [&](std::string_view want) {
    if (primary.size() != want.size()) return false;
    for (size_t i = 0; i < want.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(primary[i])) != want[i]) return false;
    }
    return true;
  };
  if (eq("zh")) return Lang::kZh;
  if (eq("en")) return Lang::kEn;
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// q-value in thousandths (RFC 9110 §12.4.2: 0, 0.x.., 1, 1.0..); -1 when malformed.
int qvalue(std::string_view q) {
  if (q.empty() || q.size() > 5) return -1;
  if (q[0] != '0' && q[0] != '1') return -1;
  int whole = q[0] - '0', frac = 0, digits = 0;
  if (q.size() > 1) {
    if (q[1] != '.') return -1;
    for (char c : q.substr(2)) {
      if (c < '0' || c > '9') return -1;
      frac = frac * 10 + (c - '0');
      ++digits;
    }
  }
  for (; digits < 3; ++digits) frac *= 10;
  int v = whole * 1000 + frac;
  return v > 1000 ? -1 : v;
}

}  // namespace

std::string_view langCode(Lang l) { return l == Lang::kZh ? "zh" : "en"; }

Lang pickLanguage(std::string_view preference, std::string_view accept) {
  if (auto l = fromTag(trim(preference))) return *l;
  std::optional<Lang> best;
  int best_q = 0;
  while (!accept.empty()) {
    auto comma = accept.find(',');
    std::string_view item = trim(accept.substr(0, comma));
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    auto semi = item.find(';');
    std::string_view tag = trim(item.substr(0, semi));
    int q = 1000;
    if (semi != std::string_view::npos) {
      std::string_view param = trim(item.substr(semi + 1));
      if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') continue;
      q = qvalue(trim(param.substr(2)));
    }
    auto l = fromTag(tag);
    // Earlier wins among equal q: the browser lists in order of preference.
    if (l && q > best_q) {
      best = l;
      best_q = q;
    }
  }
  return best.value_or(Lang::kEn);
}

}  // namespace mcn::web
