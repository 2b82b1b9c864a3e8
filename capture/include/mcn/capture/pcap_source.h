#pragma once
// Reads frames from a classic pcap or a pcapng file (or "-" for standard input) with mcn's own
// readers (capture/README.md, "Capture files"): pcapng with several interfaces of different link
// types and several sections, and resynchronisation after a damaged record.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace mcn::capture {

struct Frame {
  int64_t ts_us = 0;
  uint32_t wire_len = 0;
  std::span<const uint8_t> data;  // valid only during the callback
  // The frame's own link type (LINKTYPE_* value: the file's for classic pcap, its interface's for
  // pcapng, where interfaces may differ). Decode each frame with this one.
  int link_type = 0;
};

// What damaged stretches of a file cost (capture/README.md, "Capture files").
struct FileReadStats {
  uint64_t resyncs = 0;        // times reading resumed at a valid record after damaged bytes
  uint64_t skipped_bytes = 0;  // bytes skipped: damaged stretches and well-framed bad blocks
  uint64_t bad_blocks = 0;     // pcapng blocks framed right but unusable (unknown interface ...)
};

class PcapFileSource {
 public:
  // Throws std::runtime_error with the path and the reason if the file cannot be opened or is
  // neither classic pcap nor pcapng.
  explicit PcapFileSource(const std::string& path);
  ~PcapFileSource();
  PcapFileSource(const PcapFileSource&) = delete;
  PcapFileSource& operator=(const PcapFileSource&) = delete;

  // The link type of the file (classic pcap) or of its first interface (pcapng). A pcapng file
  // may hold others: use Frame::link_type.
  int linkType() const;

  // Calls fn for every frame until the end of the file. A truncated or corrupt file ends the
  // loop early with the reason available from error(); it never throws. A damaged record in the
  // middle is skipped (see stats()) and reading goes on.
  // Returns the number of frames read.
  uint64_t forEach(const std::function<void(const Frame&)>& fn);

  // Pull one frame (for merging several files by timestamp). Returns false at the end of the
  // file or on a read error (then error() is set). `out.data` stays valid until the next call.
  bool next(Frame& out);

  const std::string& error() const;  // empty if the file ended cleanly
  FileReadStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::capture
