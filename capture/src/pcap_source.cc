#include "mcn/capture/pcap_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "capture_reader.h"
#include "file_buffer.h"
#include "pcap_reader.h"
#include "pcapng_reader.h"

namespace mcn::capture {

// Both formats are read by mcn's own readers (pcap_reader.h, pcapng_reader.h) through one
// read(2) window (file_buffer.h): libpcap read every record through stdio into its own buffer,
// two copies of every byte that were a fifth of a replay's time (tests/bench/README.md), refuses
// pcapng files whose interfaces differ in link type, and stops at the first damaged record.
struct PcapFileSource::Impl {
  std::unique_ptr<detail::FileBuffer> buf;
  std::unique_ptr<detail::CaptureReader> reader;
  Frame pending;  // the first frame, read ahead to learn the link type
  bool has_pending = false;
  bool done = false;
};

PcapFileSource::PcapFileSource(const std::string& path) : impl_(std::make_unique<Impl>()) {
  const std::string name = path == "-" ? std::string("standard input") : path;
  // Standard input is read through a duplicate so closing ours leaves it open.
  const int fd = path == "-" ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                             : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error("cannot open capture file '" + name + "': " + std::strerror(errno));
  }
  impl_->buf = std::make_unique<detail::FileBuffer>(fd, detail::kPcapngMaxBlock);
  std::string err;
  impl_->reader = detail::openPcapng(*impl_->buf, err);
  if (!impl_->reader && err.empty()) impl_->reader = detail::openPcap(*impl_->buf, err);
  if (!impl_->reader) {
    if (err.empty()) {
      err = impl_->buf->readError() != 0 ? std::strerror(impl_->buf->readError())
                                         : "unknown file format (neither pcap nor pcapng)";
    }
    throw std::runtime_error("cannot open capture file '" + name + "': " + err);
  }
  // A pcapng file names its first link type in its first IDB, which may follow other blocks.
  impl_->has_pending = impl_->reader->next(impl_->pending) == detail::ReadStatus::kFrame;
  impl_->done = !impl_->has_pending;
}

PcapFileSource::~PcapFileSource() = default;

int PcapFileSource::linkType() const {
  const int lt = impl_->reader->firstLinkType();
  return lt >= 0 ? lt : 1;  // a pcapng file without interfaces has no frames either
}

bool PcapFileSource::next(Frame& out) {
  if (impl_->has_pending) {
    impl_->has_pending = false;
    out = impl_->pending;
    return true;
  }
  if (impl_->done) return false;
  if (impl_->reader->next(out) == detail::ReadStatus::kFrame) return true;
  impl_->done = true;
  return false;
}

uint64_t PcapFileSource::forEach(const std::function<void(const Frame&)>& fn) {
  uint64_t n = 0;
  Frame f;
  while (next(f)) {
    ++n;
    fn(f);
  }
  return n;
}

const std::string& PcapFileSource::error() const { return impl_->reader->error(); }

FileReadStats PcapFileSource::stats() const { return impl_->reader->stats(); }

}  // namespace mcn::capture
