#pragma once
// The console speaks English and Chinese: the person's own language preference wins, else the
// browser's Accept-Language (RFC 9110 §12.5.4, q-values honoured), else English.

#include <string_view>

namespace mcn::web {

enum class Lang { kEn, kZh };

// "en" or "zh".
std::string_view langCode(Lang l);
// `preference`: the subscriber's language setting ("" when unset; "zh", "zh-CN", "en-GB" ...).
Lang pickLanguage(std::string_view preference, std::string_view accept_language);

}  // namespace mcn::web
