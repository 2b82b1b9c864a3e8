#pragma once
// What the classic pcap and the pcapng readers have in common: pull one frame at a time from a
// FileBuffer, report the end, a truncated file or an unreadable one, and count what a damaged
// stretch of the file cost (see capture/README.md, "Capture files").

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "file_buffer.h"
#include "mcn/capture/pcap_source.h"

namespace mcn::capture::detail {

enum class ReadStatus {
  kFrame,  // `out` holds a frame; its bytes stay valid until the next call
  kEnd,    // the file ended cleanly
  kError,  // the file ended with an error (cut short, unreadable); error() says what
};

// Pulls the file's frames one by one. Never throws; every length is checked against the bytes
// there are before it is used.
class CaptureReader {
 public:
  virtual ~CaptureReader() = default;
  virtual ReadStatus next(Frame& out) = 0;
  // The link type of the first interface (classic pcap: the file's), -1 while none is known.
  virtual int firstLinkType() const = 0;
  const std::string& error() const { return error_; }
  const FileReadStats& stats() const { return stats_; }

 protected:
  // The end of a scan for the next valid `unit` ("record", "block") after damage found at
  // `start`, the scan now at `here` with the file read up to `scanned_to`. Found: the skipped
  // bytes and one resynchronisation are counted and reading goes on. Not found: reading ends,
  // with `cut_short` as the error when the caller saw a unit cut short by the end of the file
  // (nothing proves damage then), else a message naming the damaged offset.
  bool endResync(bool found, uint64_t start, uint64_t here, uint64_t scanned_to,
                 const std::string& cut_short, const char* unit) {
    if (!found) {
      done_ = true;
      error_ = !cut_short.empty() ? cut_short
                                  : fmt::format(
                                        "damaged {} at offset {}: no valid {} in the {} "
                                        "bytes after it",
                                        unit, start, unit, scanned_to - start);
      return false;
    }
    stats_.skipped_bytes += here - start;
    ++stats_.resyncs;
    return true;
  }

  std::string error_;
  FileReadStats stats_;
  bool done_ = false;
};

inline uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }
inline uint16_t bswap16(uint16_t v) { return __builtin_bswap16(v); }
inline uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }

inline uint32_t loadRaw32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace mcn::capture::detail
