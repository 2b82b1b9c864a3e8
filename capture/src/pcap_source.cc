#include "mcn/capture/pcap_source.h"

#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

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

// Classic pcap (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html §4, §5): a
// 24-byte file header, then records of a 16-byte header (seconds, micro- or nanoseconds, captured
// length, original length) and the captured bytes.
constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;
constexpr size_t kFileHeader = 24;
constexpr size_t kRecordHeader = 16;
// libpcap's own bound on a record (MAXIMUM_SNAPLEN): larger ones are its error to report.
constexpr uint32_t kMaxCaplen = 262144;
// Records are read through one buffer of this size (a record is at most kMaxCaplen + 16 bytes).
// Well inside the L2 cache (2 MiB per core here): the decoder then reads each record where the
// kernel's copy left it. 4 MiB, twice the L2, was ~3 % slower on the 2 M-frame replay.
constexpr size_t kBufferBytes = size_t{512} << 10;

uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

// A regular file in classic pcap format, in this host's byte order (what tcpdump and mcn-gen
// write here), is read with pread() into one 512 KiB buffer and its records are handed out from
// there: libpcap reads every record through stdio into its own buffer, two copies of every byte
// that were a fifth of a replay's time (tests/bench/README.md). Not a memory map: a file cut
// short by another process while mapped would kill mcn with SIGBUS; a short read here is only
// the end of what there is. libpcap still opens the file (it checks the header and gives the
// link type and snapshot length) and takes over, from the same record, at anything that is not
// an ordinary record (cut short, longer than the snapshot length), so its error texts and
// corner-case rules stay the only ones. Byte-swapped, modified-format, pcapng files and
// standard input go through libpcap throughout.
struct BufferedPcap {
  int fd = -1;
  std::vector<uint8_t> buf;
  uint64_t buf_off = 0;  // file offset of buf[0]
  size_t buf_len = 0;    // valid bytes in buf
  bool eof = false;      // pread returned 0
  uint64_t pos = kFileHeader;
  bool nano = false;
  uint32_t snaplen = 0;

  bool open(FILE* f, pcap_t* p) {
    struct stat st {};
    fd = ::fileno(f);
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    uint8_t hdr[kFileHeader];
    if (::pread(fd, hdr, kFileHeader, 0) != static_cast<ssize_t>(kFileHeader)) return false;
    const uint32_t magic = load32(hdr);
    uint16_t major = 0;
    uint16_t minor = 0;
    std::memcpy(&major, hdr + 4, 2);
    std::memcpy(&minor, hdr + 6, 2);
    const int snap = pcap_snapshot(p);
    if ((magic != kMagicMicro && magic != kMagicNano) || major != 2 || minor != 4 || snap <= 0 ||
        pcap_is_swapped(p) != 0) {
      return false;
    }
    nano = magic == kMagicNano;
    snaplen = static_cast<uint32_t>(snap);
    buf.resize(kBufferBytes);
    buf_off = pos;
    return true;
  }

  // At least `need` bytes from pos in the buffer (need <= kBufferBytes), reading more as needed;
  // false if the file ends (or fails) first.
  bool have(size_t need) {
    if (pos + need <= buf_off + buf_len) return true;
    // Move what is left to the front, then fill the rest.
    const size_t keep = static_cast<size_t>(buf_off + buf_len - pos);
    if (keep > 0) std::memmove(buf.data(), buf.data() + (pos - buf_off), keep);
    buf_off = pos;
    buf_len = keep;
    while (buf_len < need && !eof) {
      const ssize_t n = ::pread(fd, buf.data() + buf_len, buf.size() - buf_len,
                                static_cast<off_t>(buf_off + buf_len));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof = true;  // an error reads as the end here; libpcap takes over and reports it
        break;
      }
      buf_len += static_cast<size_t>(n);
    }
    return buf_len >= need;
  }

  // 1: a record; 0: the end of the file; -1: not an ordinary record (libpcap takes over at pos).
  int next(Frame& out) {
    if (!have(kRecordHeader)) return (pos == buf_off + buf_len) ? 0 : -1;
    const uint8_t* h = buf.data() + (pos - buf_off);
    const uint32_t caplen = load32(h + 8);
    if (caplen > snaplen || caplen > kMaxCaplen) return -1;
    if (!have(kRecordHeader + caplen)) return -1;
    h = buf.data() + (pos - buf_off);  // have() may have moved the buffer's contents
    const uint32_t frac = load32(h + 4);
    out.ts_us = int64_t{load32(h)} * 1'000'000 + (nano ? frac / 1000 : frac);
    out.wire_len = load32(h + 12);
    out.data = std::span<const uint8_t>(h + kRecordHeader, caplen);
    pos += kRecordHeader + caplen;
    return 1;
  }
};

struct PcapFileSource::Impl {
  PcapHandle pcap;
  std::unique_ptr<BufferedPcap> buffered;  // null: every record through libpcap
  std::string error;
  bool done = false;  // end of file or an error: libpcap is not asked again
};

PcapFileSource::PcapFileSource(const std::string& path) : impl_(std::make_unique<Impl>()) {
  std::string err;
  impl_->pcap = openOffline(path, err);
  if (!impl_->pcap) {
    throw std::runtime_error("cannot open capture file '" + path + "': " + err);
  }
  if (path != "-") {
    auto m = std::make_unique<BufferedPcap>();
    if (m->open(pcap_file(impl_->pcap.get()), impl_->pcap.get())) impl_->buffered = std::move(m);
  }
}

PcapFileSource::~PcapFileSource() = default;

int PcapFileSource::linkType() const { return pcap_datalink(impl_->pcap.get()); }

bool PcapFileSource::next(Frame& out) {
  if (impl_->done) return false;
  pcap_t* p = impl_->pcap.get();
  if (BufferedPcap* m = impl_->buffered.get()) {
    const int r = m->next(out);
    if (r == 1) return true;
    if (r == 0) {
      impl_->done = true;
      return false;
    }
    // Hand over to libpcap at this record; it has read only the file header so far.
    FILE* f = pcap_file(p);
    const bool seeked = f != nullptr && std::fseek(f, static_cast<long>(m->pos), SEEK_SET) == 0;
    impl_->buffered.reset();
    if (!seeked) {
      impl_->done = true;
      impl_->error = "cannot seek in capture file";
      return false;
    }
  }
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
