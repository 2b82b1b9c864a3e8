#include "log_mask.h"

#include <cctype>

namespace mcn::app {

std::string maskNumbers(std::string_view line) {
  std::string out(line);
  auto alnum = [&](size_t i) { return std::isalnum(static_cast<unsigned char>(out[i])) != 0; };
  size_t i = 0;
  while (i < out.size()) {
    if (!std::isdigit(static_cast<unsigned char>(out[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && std::isdigit(static_cast<unsigned char>(out[j]))) ++j;
    const size_t len = j - i;
    const bool bounded = (i == 0 || !alnum(i - 1)) && (j == out.size() || !alnum(j));
    const bool plus = i > 0 && out[i - 1] == '+';
    if (bounded && len >= (plus ? 7u : 11u) && len <= 15) {
      const size_t keep_front = len >= 12 ? 5 : 0;
      for (size_t k = i + keep_front; k < j - 4; ++k) out[k] = '*';
    }
    i = j;
  }
  return out;
}

}  // namespace mcn::app
