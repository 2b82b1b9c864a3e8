#include "mcn/capture/pcap_source.h"

#include <pcap/pcap.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace mcn::capture {
namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};
using PcapHandle = std::unique_ptr<pcap_t, PcapCloser>;

PcapHandle openOffline(const std::string& path, std::string& err) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = nullptr;
  if (path == "-") {
    // pcap_close() fcloses the stream it was given; read a duplicate so stdin itself stays open.
    int fd = ::dup(STDIN_FILENO);
    FILE* f = fd >= 0 ? ::fdopen(fd, "rb") : nullptr;
    if (f == nullptr) {
      if (fd >= 0) ::close(fd);
      err = "cannot duplicate standard input";
      return nullptr;
    }
    std::setvbuf(f, nullptr, _IOFBF, size_t{1} << 20);  // see below
    p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (p == nullptr) std::fclose(f);
  } else {
    // libpcap reads a file through stdio, record header then record, so the FILE buffer (4 KiB
    // by default) sets the number of read(2) calls: 50,000 for a 200 MB capture. A 1 MiB buffer
    // makes that 200 and takes ~10 % off a replay (tests/bench/README.md).
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      err = std::string(path) + ": " + std::strerror(errno);
      return nullptr;
    }
    std::setvbuf(f, nullptr, _IOFBF, size_t{1} << 20);
    // libpcap scales nanosecond pcap and pcapng timestamps to the precision asked for here.
    p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (p == nullptr) std::fclose(f);
  }
  if (p == nullptr) err = errbuf;
  return PcapHandle(p);
}

}  // namespace

struct PcapFileSource::Impl {
  PcapHandle pcap;
  std::string error;
  bool done = false;  // end of file or an error: libpcap is not asked again
};

PcapFileSource::PcapFileSource(const std::string& path) : impl_(std::make_unique<Impl>()) {
  std::string err;
  impl_->pcap = openOffline(path, err);
  if (!impl_->pcap) {
    throw std::runtime_error("cannot open capture file '" + path + "': " + err);
  }
}

PcapFileSource::~PcapFileSource() = default;

int PcapFileSource::linkType() const { return pcap_datalink(impl_->pcap.get()); }

bool PcapFileSource::next(Frame& out) {
  if (impl_->done) return false;
  pcap_t* p = impl_->pcap.get();
  for (;;) {
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    int rc = pcap_next_ex(p, &hdr, &data);
    if (rc == 1) {
      out.ts_us = int64_t{hdr->ts.tv_sec} * 1'000'000 + hdr->ts.tv_usec;
      out.wire_len = hdr->len;
      out.data = std::span<const uint8_t>(data, hdr->caplen);
      return true;
    }
    if (rc == 0) continue;  // live-capture timeout; not seen on files
    impl_->done = true;
    if (rc != PCAP_ERROR_BREAK) {  // -2 is the end of the file
      // -1: a truncated or corrupt record. Stop here; what was read so far stays valid.
      impl_->error = pcap_geterr(p);
      if (impl_->error.empty()) impl_->error = "error reading capture file";
    }
    return false;
  }
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

const std::string& PcapFileSource::error() const { return impl_->error; }

}  // namespace mcn::capture
