#include "mcn/common/transport.h"

namespace mcn::common {

const char* transportName(Transport t) {
  switch (t) {
    case Transport::kUdp:
      return "udp";
    case Transport::kTcp:
      return "tcp";
    case Transport::kSctp:
      return "sctp";
  }
  return "udp";  // unreachable: every enumerator is handled above
}

std::optional<Transport> transportFromName(std::string_view name) {
  for (auto t : {Transport::kUdp, Transport::kTcp, Transport::kSctp}) {
    if (name == transportName(t)) return t;
  }
  return std::nullopt;
}

}  // namespace mcn::common
