#pragma once
// Reads frames from a pcap or pcapng file (or "-" for standard input) through libpcap.

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
};

class PcapFileSource {
 public:
  // Throws std::runtime_error with libpcap's message if the file cannot be opened.
  explicit PcapFileSource(const std::string& path);
  ~PcapFileSource();
  PcapFileSource(const PcapFileSource&) = delete;
  PcapFileSource& operator=(const PcapFileSource&) = delete;

  int linkType() const;

  // Calls fn for every frame until the end of the file. A truncated or corrupt file ends the
  // loop early with libpcap's error text available from error(); it never throws.
  // Returns the number of frames read.
  uint64_t forEach(const std::function<void(const Frame&)>& fn);

  // Pull one frame (for merging several files by timestamp). Returns false at the end of the
  // file or on a read error (then error() is set). `out.data` stays valid until the next call.
  bool next(Frame& out);

  const std::string& error() const;  // empty if the file ended cleanly

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::capture
