#include "flood.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "scene.h"

namespace mcn::gen {

uint64_t runFlood(const FloodOptions& opt, const WireOptions& wire, FrameWriter& out) {
  SceneOptions so;
  so.ipv6 = wire.ipv6;
  so.tcp = wire.tcp;
  Scene scene(so, opt.start_us, opt.seed ^ 0xf100dULL);
  // The flooder sits outside the core (TEST-NET-3) and hits the P-CSCF the mix uses.
  const uint16_t src = scene.addNode("flooder", "203.0.113.66");
  const uint16_t dst = scene.addNode("pcscf", "198.51.100.10");
  const std::string src_hp = scene.hostPort(src);
  const double gap_us = opt.rate > 0 ? 1e6 / opt.rate : 1000;
  Rng& rng = scene.rng();
  std::string msg;
  for (uint64_t i = 0; i < opt.invites; ++i) {
    const auto ts =
        opt.start_us + static_cast<int64_t>(std::llround(static_cast<double>(i) * gap_us));
    // Numbers in the office range, so a flood looks like calls to real extensions.
    const uint64_t callee = 83000000 + rng.below(10000);
    const uint64_t caller = 13900000000ULL + rng.below(100000000);
    msg.clear();
    fmt::format_to(std::back_inserter(msg),
                   "INVITE sip:+8625{}@{};user=phone SIP/2.0\r\n"
                   "Via: SIP/2.0/{} {};branch=z9hG4bK{}\r\n"
                   "Max-Forwards: 70\r\n"
                   "From: <sip:+86{}@{};user=phone>;tag={}\r\n"
                   "To: <sip:+8625{}@{};user=phone>\r\n"
                   "Call-ID: flood-{}-{}@{}\r\n"
                   "CSeq: 1 INVITE\r\n"
                   "Contact: <sip:+86{}@{}>\r\n"
                   "Content-Length: 0\r\n\r\n",
                   callee, kDomain, so.tcp ? "TCP" : "UDP", src_hp, rng.hex(16), caller, kDomain,
                   rng.hex(10), callee, kDomain, i, rng.hex(12), scene.ip(src), caller, src_hp);
    out.send(ts, scene.nodes()[src], scene.nodes()[dst], msg);
  }
  return out.frames();
}

}  // namespace mcn::gen
