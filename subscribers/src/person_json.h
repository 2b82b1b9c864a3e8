#pragma once
// Person <-> JSON, the value of a Redis person key. Private to subscribers/.

#include <string>
#include <string_view>

#include "mcn/subscribers/directory.h"

namespace mcn::subscribers::detail {

std::string personToJson(const Person& p);
// Throws SubscriberError naming `origin` (the Redis key) when the JSON is not a valid Person.
Person personFromJson(std::string_view json, std::string_view origin);

}  // namespace mcn::subscribers::detail
