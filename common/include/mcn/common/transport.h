#pragma once
// The transport a SIP message was seen on (capture, records, the output contract's "transport").

#include <cstdint>
#include <optional>
#include <string_view>

namespace mcn::common {

enum class Transport : uint8_t { kUdp, kTcp, kSctp };

// "udp" | "tcp" | "sctp": the spelling used in the output contract.
const char* transportName(Transport t);
std::optional<Transport> transportFromName(std::string_view name);

}  // namespace mcn::common
