#pragma once
// pcapng (draft-ietf-opsawg-pcapng): blocks of type, total length, body, total length again.
// Read here rather than by libpcap, which refuses a file whose interfaces have different link
// types (libpcap 1.10: "an interface has a type ... different from the type of the first
// interface"), the ordinary result of mergecap or of Wireshark capturing on two interfaces.
//
// - Section Header Block in either byte order; each SHB starts a new section with its own byte
//   order and an empty interface list (§4.1).
// - Interface Description Block per interface: link type, snapshot length, if_tsresol (power of
//   10 or, with the top bit set, of 2; default 10^-6) and if_tsoffset (seconds added) (§4.2).
// - Enhanced Packet Block (§4.3), Simple Packet Block (§4.4: interface 0, captured length the
//   smaller of the original length, the block and the snapshot length; it has no timestamp, so
//   the frame gets the time of the previous frame of the file) and the obsolete Packet Block
//   (Appendix A).
// - Every other block (ISB, NRB, DSB, custom, unknown) is skipped by its length.
//
// A block whose lengths disagree (not a multiple of 4, below the type's minimum, the trailing
// copy different) is damage: the reader scans forward byte by byte for the next block of a known
// type whose two lengths agree, counts the bytes skipped and goes on. A block framed right but
// unusable (captured length past the block, an interface id not described, an SHB of another
// major version) is skipped whole and counted in FileReadStats::bad_blocks.

#include <memory>

#include "capture_reader.h"

namespace mcn::capture::detail {

constexpr uint32_t kPcapngShb = 0x0A0D0D0A;
// The longest block read (held whole to check its trailing length): bounds the read window.
constexpr uint32_t kPcapngMaxBlock = 16u << 20;
// The longest block a resynchronising scan accepts: a Packet Block of the largest record
// (262,144 bytes) with options. Keeps the scan's look-ahead, and so its cost, bounded.
constexpr uint32_t kPcapngMaxCandidate = 262144 + 4096;
// Interfaces described in one section; IDBs past this are counted as bad blocks.
constexpr size_t kPcapngMaxInterfaces = 4096;

// Null if the file does not start with a pcapng SHB; `err` says why if it looked like one but
// is not usable.
std::unique_ptr<CaptureReader> openPcapng(FileBuffer& buf, std::string& err);

}  // namespace mcn::capture::detail
