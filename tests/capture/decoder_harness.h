#pragma once
// Runs frames through a FrameDecoder and keeps what it emitted and how its counters moved.

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "frame_builder.h"
#include "mcn/capture/decoder.h"

namespace mcn::capture::test {

using Counts = std::map<std::string, uint64_t>;

class Harness {
 public:
  explicit Harness(DecoderConfig cfg = {})
      : decoder_(std::move(cfg), [this](SipPayload&& p) { out.push_back(std::move(p)); }) {}

  // wire_len defaults to the frame's own length (nothing cut by a snaplen).
  bool decode(int link_type, const Bytes& frame, int64_t ts_us = 1'700'000'000'000'000,
              std::optional<uint32_t> wire_len = std::nullopt) {
    return decoder_.decode(link_type, ts_us, std::span<const uint8_t>(frame.data(), frame.size()),
                           wire_len.value_or(static_cast<uint32_t>(frame.size())));
  }

  // End of input (FrameDecoder::finish).
  void finish() { decoder_.finish(); }

  Counts counts() const {
    Counts c;
    decoder_.forEachCounter([&](std::string_view name, uint64_t v) { c[std::string(name)] = v; });
    return c;
  }

  // The value of one counter; a name the decoder does not publish fails the test.
  uint64_t count(const std::string& name) const {
    Counts c = counts();
    auto it = c.find(name);
    if (it == c.end()) {
      ADD_FAILURE() << "no counter named " << name;
      return 0;
    }
    return it->second;
  }

  // The counters other than decode.frames that are non-zero: what happened to the frames.
  Counts nonZero() const {
    Counts c;
    for (const auto& [k, v] : counts()) {
      if (v != 0 && k != "decode.frames") c[k] = v;
    }
    return c;
  }

  std::vector<SipPayload> out;

  const FrameDecoder& decoder() const { return decoder_; }

 private:
  FrameDecoder decoder_;
};

// Link type numbers as libpcap reports them (pcap/dlt.h), spelled out so the tests do not
// depend on the decoder's enum.
inline constexpr int kDltNull = 0;
inline constexpr int kDltEn10mb = 1;
inline constexpr int kDltRaw = 12;  // what libpcap on Linux reports for LINKTYPE_RAW files
inline constexpr int kDltRawOpenBsd = 14;
inline constexpr int kLinktypeRaw = 101;
inline constexpr int kDltLoop = 108;
inline constexpr int kDltLinuxSll = 113;
inline constexpr int kLinktypeIpv4 = 228;
inline constexpr int kLinktypeIpv6 = 229;
inline constexpr int kDltLinuxSll2 = 276;

// A small INVITE and two responses, every length counted by hand.
inline constexpr std::string_view kInvite =
    "INVITE sip:+862583001013@ims.example.net SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1\r\n"
    "From: <sip:+8613900101230@ims.example.net>;tag=a1\r\n"
    "To: <sip:+862583001013@ims.example.net>\r\n"
    "Call-ID: c1@192.0.2.10\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

inline constexpr std::string_view kRinging =
    "SIP/2.0 180 Ringing\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1\r\n"
    "Call-ID: c1@192.0.2.10\r\n"
    "CSeq: 1 INVITE\r\n"
    "l: 0\r\n"
    "\r\n";

}  // namespace mcn::capture::test
