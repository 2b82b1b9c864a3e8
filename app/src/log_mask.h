#pragma once
// [run] log_mask_numbers: telephone numbers in log lines are partly hidden, so logs shipped to
// a central collector do not list who called whom. A number is what mcn logs numbers as: E.164
// ('+' and 7 to 15 digits), or a bare run of 11 to 15 digits (a national mobile number, an E.164
// number without its '+'), not touching a letter or another digit (hex keys, words, and the
// shorter figures of ordinary messages such as "between 100 and 3600000" are left alone). The
// last 4 digits stay; runs of 12 or more also keep their first 5 (country and operator prefix):
// +8613900101230 -> +86139****1230, 13900101230 -> *******1230.

#include <string>
#include <string_view>

namespace mcn::app {

std::string maskNumbers(std::string_view line);

}  // namespace mcn::app
