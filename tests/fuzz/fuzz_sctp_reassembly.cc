// libFuzzer target for the SCTP user message reassembler (capture/src/sctp_reassembly.h). The
// input is a sequence of 6-byte chunk descriptions; each becomes one DATA or I-DATA fragment
// offered to a fresh reassembler with small bounds:
//   byte 0: bit 0 E, bit 1 B, bit 2 U, bit 3 I-DATA, bits 4-5 association, bit 6 raw data,
//           bit 7 jump packet time by 20 s (past the timeout every other jump)
//   byte 1: stream (low 2 bits) and SSN/MID (next 3 bits)
//   byte 2-3: sequence number (TSN, or FSN for I-DATA) offset from a base near 2^32, so runs wrap
//   byte 4: user data length
//   byte 5: seed of the data
// Structured data (bit 6 clear) is a self-describing block: 'B'/'M'/'E', the sequence number in
// hex, the length in hex, then filler. Invariants checked: every message that comes out is a run
// of blocks with consecutive sequence numbers from a B to an E, no longer than the message cap;
// bytes held never exceed the memory cap; after flush() nothing is held.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>

#include "../../capture/src/sctp_reassembly.h"

namespace {

using mcn::capture::detail::Counters;
using mcn::capture::detail::SctpChunkKind;
using mcn::capture::detail::SctpFragment;
using mcn::capture::detail::SctpReassembler;

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr uint32_t kBase = 0xfffffff0u;

std::string block(char kind, uint32_t seq, uint8_t len, uint8_t seed) {
  char head[16];
  std::snprintf(head, sizeof head, "%c%08x%02x", kind, seq, len);
  std::string b(head);
  for (int i = 0; i < len; ++i) b.push_back(static_cast<char>('a' + (seed + i) % 26));
  return b;
}

// A reassembled structured message: blocks B, M..., E with consecutive sequence numbers.
void checkMessage(std::string_view m) {
  size_t pos = 0;
  uint32_t prev = 0;
  bool first = true;
  while (pos < m.size()) {
    check(m.size() - pos >= 11);
    const char kind = m[pos];
    const uint32_t seq =
        static_cast<uint32_t>(std::stoul(std::string(m.substr(pos + 1, 8)), nullptr, 16));
    const size_t len = std::stoul(std::string(m.substr(pos + 9, 2)), nullptr, 16);
    check(m.size() - pos >= 11 + len);
    check(first ? kind == 'B' : seq == prev + 1);
    if (!first) check(kind == 'M' || kind == 'E');
    const bool last = pos + 11 + len == m.size();
    check(last == (kind == 'E'));
    prev = seq;
    first = false;
    pos += 11 + len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mcn::capture::SctpReassemblyConfig cfg;
  cfg.max_message_bytes = 2048;
  cfg.max_messages_per_assoc = 6;
  cfg.max_messages = 16;
  cfg.max_bytes = 16 * 1024;
  cfg.timeout_ms = 30'000;
  Counters counters;
  SctpReassembler r(cfg, counters, 7);
  std::deque<std::string> bytes;  // fragment data lives as long as the reassembler may read it
  int64_t now = 1'700'000'000'000'000;
  int jumps = 0;
  for (size_t i = 0; i + 6 <= size; i += 6) {
    const uint8_t* d = data + i;
    SctpFragment f;
    f.end = (d[0] & 0x01) != 0;
    f.begin = (d[0] & 0x02) != 0;
    if (f.begin && f.end) f.end = false;  // whole messages never reach the reassembler
    f.unordered = (d[0] & 0x04) != 0;
    f.kind = (d[0] & 0x08) ? SctpChunkKind::kIData : SctpChunkKind::kData;
    const bool raw = (d[0] & 0x40) != 0;
    if (d[0] & 0x80) now += (++jumps % 2) ? 20'000'000 : 11'000'000;
    f.assoc.src.addr = {192, 0, 2, static_cast<uint8_t>(1 + ((d[0] >> 4) & 3))};
    f.assoc.src.port = 5060;
    f.assoc.dst.port = 5060;
    f.assoc.vtag = raw ? 0xbad : 1;  // raw data never shares a bucket with structured data
    f.stream = d[1] & 3;
    f.ssn_or_mid = (d[1] >> 2) & 7;
    const uint32_t seq = kBase + ((uint32_t{d[2]} << 8) | d[3]) % 64;
    if (f.kind == SctpChunkKind::kIData) {
      f.fsn = f.begin ? 0 : seq - kBase;
      f.tsn = seq;
    } else {
      f.tsn = seq;
    }
    const uint32_t block_seq = f.kind == SctpChunkKind::kIData ? f.fsn : f.tsn;
    if (raw) {
      const size_t n = std::min<size_t>(d[4], size - i - 6);
      bytes.emplace_back(reinterpret_cast<const char*>(d + 6), n);
    } else {
      bytes.push_back(block(f.begin ? 'B' : f.end ? 'E' : 'M', block_seq, d[4], d[5]));
    }
    f.data = bytes.back();
    f.ts_us = now;
    if (auto m = r.addFragment(f)) {
      check(!m->empty());
      check(m->size() <= cfg.max_message_bytes);
      if (!raw) checkMessage(*m);
    }
    check(r.bytesHeld() <= cfg.max_bytes);
    check(r.messagesHeld() <= cfg.max_messages);
  }
  check(r.peakBytesHeld() <= cfg.max_bytes);
  r.flush();
  check(r.bytesHeld() == 0 && r.messagesHeld() == 0);
  return 0;
}
