#pragma once
// Server-rendered HTML: every value that came from a person, a SIP message or the config is
// escaped before it goes into a page.

#include <string>
#include <string_view>

namespace mcn::web {

// Escapes & < > " ' for text and double- or single-quoted attribute values.
std::string htmlEscape(std::string_view text);

}  // namespace mcn::web
