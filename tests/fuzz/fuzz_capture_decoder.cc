// libFuzzer target for the frame decoder. Input: the first byte picks the link type (low bits)
// and whether the frame pretends to be cut by a snaplen (high bit); the rest is the frame.
// Checks, besides "no crash, no sanitizer report", what every emitted payload must satisfy.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "mcn/capture/decoder.h"

namespace {

// Every link type the decoder knows, plus one it does not.
constexpr int kLinkTypes[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147};
constexpr size_t kNumLinkTypes = sizeof(kLinkTypes) / sizeof(kLinkTypes[0]);

size_t g_frame_size = 0;
const size_t kMaxStreamMessage = mcn::capture::TcpReassemblyConfig{}.max_stream_bytes;
const size_t kMaxSctpMessage =
    std::max<size_t>(mcn::capture::SctpReassemblyConfig{}.max_message_bytes, 65535);

void check(bool ok) {
  if (!ok) std::abort();
}

mcn::capture::DecoderConfig config() {
  mcn::capture::DecoderConfig cfg;
  // A configured ESP-NULL SA: the SPI of pcaps/tunnel_esp_null.pcap (seeded by tools/fuzz.sh),
  // so both the configured path and the heuristic (the other ESP fixtures) are reached.
  cfg.esp_null = {{0x1000, 12}};
  return cfg;
}

mcn::capture::FrameDecoder& decoder() {
  static mcn::capture::FrameDecoder d(config(),
                                      [](mcn::capture::SipPayload&& p) {
                                        check(!p.bytes.empty());
                                        // Reassembly (IP fragments, TCP streams, SCTP user
                                        // messages) may build a message from earlier inputs'
                                        // bytes: bounded by the IP datagram and the per-stream
                                        // and per-message caps, not this frame.
                                        check(p.transport == mcn::capture::Transport::kTcp
                                                  ? p.bytes.size() <= kMaxStreamMessage
                                              : p.transport == mcn::capture::Transport::kSctp
                                                  ? p.bytes.size() <= kMaxSctpMessage
                                                  : p.bytes.size() <= 65535);
                                        check(mcn::capture::looksLikeSip(p.bytes));
                                        check(p.vlan_depth <= mcn::capture::kMaxVlanDepth);
                                      });
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const int link_type = kLinkTypes[(selector & 0x7f) % kNumLinkTypes];
  std::span<const uint8_t> frame(data + 1, size - 1);
  g_frame_size = frame.size();
  const auto wire_len = static_cast<uint32_t>(frame.size() + ((selector & 0x80) ? 1000 : 0));

  (void)mcn::capture::looksLikeSip(
      std::string_view(reinterpret_cast<const char*>(frame.data()), frame.size()));
  decoder().decode(link_type, 0, frame, wire_len);
  return 0;
}
