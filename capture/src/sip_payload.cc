#include "mcn/capture/sip_payload.h"

#include <arpa/inet.h>

#include <cstdio>

namespace mcn::capture {

std::string Endpoint::toString() const {
  // INET6_ADDRSTRLEN (46) + brackets + ":65535"
  char buf[64];
  size_t n = 0;
  if (v6) {
    buf[n++] = '[';
    // glibc's inet_ntop writes the RFC 5952 text form (lower case, longest zero run as "::").
    if (inet_ntop(AF_INET6, addr.data(), buf + n, sizeof(buf) - n) == nullptr) return {};
    while (buf[n] != '\0') ++n;
    buf[n++] = ']';
  } else {
    if (inet_ntop(AF_INET, addr.data(), buf, sizeof(buf)) == nullptr) return {};
    while (buf[n] != '\0') ++n;
  }
  int m = std::snprintf(buf + n, sizeof(buf) - n, ":%u", static_cast<unsigned>(port));
  return std::string(buf, n + static_cast<size_t>(m));
}

}  // namespace mcn::capture
