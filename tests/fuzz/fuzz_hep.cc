// libFuzzer target for HEP (capture/hep.h): the input is one HEP packet, decoded three ways:
//   1. decodeHep() alone, with and without an authentication key: a decoded payload must lie
//      inside the input (or, compressed, within max_payload_bytes), addresses of one family;
//   2. a FrameDecoder fed the input as a listener frame (LinkType::kHep): every packet lands in
//      exactly one hep.* outcome counter;
//   3. the input as a TCP byte stream cut at every 7th byte into a HepStreamFramer: every packet
//      it frames starts with "HEP3" and has the length its header says, and the bytes framed plus
//      skipped plus still buffered are the bytes given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mcn/capture/decoder.h"
#include "mcn/capture/hep.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mcn::capture;
  const std::span<const uint8_t> in(data, size);

  HepConfig cfg;
  cfg.max_payload_bytes = 4096;
  std::string scratch;
  for (const char* key : {"", "k"}) {
    cfg.auth_key = key;
    HepPacket p;
    if (decodeHep(in, cfg, p, scratch) == HepStatus::kOk) {
      check(!p.payload.empty() && p.payload.size() <= cfg.max_payload_bytes);
      const auto* b = reinterpret_cast<const char*>(data);
      check(p.compressed
                ? p.payload.data() == scratch.data()
                : p.payload.data() >= b && p.payload.data() + p.payload.size() <= b + size);
      check(p.src.v6 == p.dst.v6);
    }
  }

  DecoderConfig dc;
  dc.hep.max_payload_bytes = 4096;
  FrameDecoder dec(dc, [](SipPayload&& p) { check(!p.bytes.empty()); });
  dec.decode(static_cast<int>(LinkType::kHep), 1'700'000'000'000'000, in,
             static_cast<uint32_t>(size));
  uint64_t packets = 0, outcomes = 0;
  dec.forEachCounter([&](std::string_view k, uint64_t v) {
    if (k == "hep.packets") {
      packets = v;
    } else if (k == "hep.sip" || k == "hep.bad_version" || k == "hep.truncated" ||
               k == "hep.bad_length" || k == "hep.bad_chunk" || k == "hep.no_address" ||
               k == "hep.no_payload" || k == "hep.auth_failed" || k == "hep.decompress_failed" ||
               k == "hep.too_big" || k == "hep.other_proto_type" || k == "hep.not_sip") {
      outcomes += v;
    }
  });
  check(packets == 1 && outcomes == 1);

  HepStreamFramer f(2048);
  size_t framed = 0;
  for (size_t off = 0; off < size; off += 7) {
    f.append(in.subspan(off, std::min<size_t>(7, size - off)));
    for (auto p = f.next(); !p.empty(); p = f.next()) {
      check(p.size() >= 6 && std::memcmp(p.data(), "HEP3", 4) == 0);
      check(((size_t{p[4]} << 8) | p[5]) == p.size() && p.size() <= 2048);
      framed += p.size();
    }
  }
  check(framed + f.skipped_bytes() + f.buffered() == size);
  return 0;
}
