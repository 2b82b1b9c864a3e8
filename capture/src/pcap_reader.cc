#include "pcap_reader.h"

#include <fmt/format.h>

namespace mcn::capture::detail {
namespace {

constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;
constexpr uint32_t kMagicModified = 0xa1b2cd34;  // Kuznetzov: 8 more bytes per record header
constexpr size_t kFileHeader = 24;

class PcapReader final : public CaptureReader {
 public:
  PcapReader(FileBuffer& buf, uint32_t raw_magic, bool swapped, bool nano, size_t record_header,
             uint32_t snaplen, int link_type)
      : buf_(buf),
        raw_magic_(raw_magic),
        swapped_(swapped),
        nano_(nano),
        record_header_(record_header),
        snaplen_(snaplen),
        link_type_(link_type) {}

  int firstLinkType() const override { return link_type_; }

  ReadStatus next(Frame& out) override {
    if (done_) return ReadStatus::kEnd;
    for (;;) {
      if (!buf_.have(record_header_)) {
        done_ = true;
        if (buf_.available() == 0 && buf_.readError() == 0) return ReadStatus::kEnd;
        error_ = cutShort(buf_.available(), record_header_, true);
        return ReadStatus::kError;
      }
      const uint32_t caplen = ld(buf_.data() + 8);
      if (!plausible(buf_.data())) {
        if (resync({})) continue;
        return ReadStatus::kError;
      }
      const size_t rec = record_header_ + caplen;
      if (!buf_.have(rec)) {
        // Cut short by the end of the file, unless this header is damage and a valid record
        // follows it.
        if (resync(cutShort(buf_.available(), rec, false))) continue;
        return ReadStatus::kError;
      }
      // The record a copy was cut in keeps its header but not its bytes: the header after it is
      // then not one. If a valid record starts inside this one, this one is the cut one.
      if (buf_.have(rec + record_header_) && !plausible(buf_.data() + rec)) {
        if (const size_t k = validInside(rec); k != 0) {
          buf_.advance(k);
          stats_.skipped_bytes += k;
          ++stats_.resyncs;
          continue;
        }
      }
      const uint8_t* h = buf_.data();  // have() may have moved the buffer's contents
      out.ts_us = timeUs(h);
      out.wire_len = ld(h + 12);
      out.data = std::span<const uint8_t>(h + record_header_, caplen);
      out.link_type = link_type_;
      last_ts_us_ = out.ts_us;
      have_ts_ = true;
      buf_.advance(rec);
      return ReadStatus::kFrame;
    }
  }

 private:
  uint32_t ld(const uint8_t* p) const {
    const uint32_t v = loadRaw32(p);
    return swapped_ ? bswap32(v) : v;
  }
  int64_t timeUs(const uint8_t* h) const {
    const uint32_t frac = ld(h + 4);
    return int64_t{ld(h)} * 1'000'000 + (nano_ ? frac / 1000 : frac);
  }

  // A header that can be true: captured length within libpcap's bound and not above the
  // original length, the fraction of a second below one second.
  bool plausible(const uint8_t* h) const {
    const uint32_t caplen = ld(h + 8);
    const uint32_t len = ld(h + 12);
    const uint32_t frac = ld(h + 4);
    return caplen <= kMaxCaplen && caplen <= len && frac < (nano_ ? 1'000'000'000u : 1'000'000u);
  }
  // A record header found by scanning must also fit the file's snapshot length, be non-empty,
  // and lie within a day of `ref_us` (the last good record, when there is one).
  bool strictlyPlausible(const uint8_t* h, const int64_t* ref_us) const {
    if (!plausible(h)) return false;
    const uint32_t caplen = ld(h + 8);
    if (caplen == 0 || caplen > snaplen_) return false;
    if (ref_us != nullptr) {
      const int64_t d = timeUs(h) - *ref_us;
      if (d > kResyncWindowUs || d < -kResyncWindowUs) return false;
    }
    return true;
  }

  // `off` bytes from the current position: a record header that is strictly plausible (against
  // `ref_us`), whose record is all there and is followed by another strictly plausible header
  // (against this one) or by the exact end of the file.
  bool candidateAt(size_t off, const int64_t* ref_us) {
    if (!buf_.have(off + record_header_)) return false;
    if (!strictlyPlausible(buf_.data() + off, ref_us)) return false;
    const size_t end = off + record_header_ + ld(buf_.data() + off + 8);
    if (!buf_.have(end)) return false;
    const int64_t ts = timeUs(buf_.data() + off);
    if (buf_.have(end + record_header_)) return strictlyPlausible(buf_.data() + end, &ts);
    return buf_.available() == end;
  }

  // `off` bytes from the current position: a whole pcap file header of this file's format (two
  // captures concatenated with cat).
  bool fileHeaderAt(size_t off) {
    if (!buf_.have(off + kFileHeader) || loadRaw32(buf_.data() + off) != raw_magic_) return false;
    uint16_t major = 0;
    std::memcpy(&major, buf_.data() + off + 4, 2);
    return (swapped_ ? bswap16(major) : major) == 2;
  }

  // The offset (1 .. len-1) of the first valid record, or appended file header then skipped,
  // inside the `len` bytes from the current position; 0 if there is none.
  size_t validInside(size_t len) {
    const int64_t ts = timeUs(buf_.data());  // this record's header is plausible
    for (size_t k = 1; k < len; ++k) {
      if (fileHeaderAt(k)) {
        have_ts_ = false;  // another capture follows: its first record may be any time
        return k + kFileHeader;
      }
      if (candidateAt(k, &ts)) return k;
    }
    return 0;
  }

  // Scans forward from the byte after the current position for the next plausible record (or
  // the file header of a capture appended whole). Found: the skipped bytes are counted and
  // reading goes on there. Not found: reading ends with error_ set to `cut_short` if the caller
  // saw a record cut short by the end of the file (then nothing proves damage), else to a
  // message naming the damaged offset.
  bool resync(const std::string& cut_short) {
    const uint64_t start = buf_.pos();
    bool found = false;
    for (buf_.advance(1); buf_.have(record_header_); buf_.advance(1)) {
      if (fileHeaderAt(0)) {
        buf_.advance(kFileHeader);  // another capture follows: its first record may be any time
        have_ts_ = false;
        found = true;
        break;
      }
      if (candidateAt(0, have_ts_ ? &last_ts_us_ : nullptr)) {
        found = true;
        break;
      }
    }
    return endResync(found, start, buf_.pos(), buf_.pos() + buf_.available(), cut_short, "record");
  }

  std::string cutShort(size_t got, size_t want, bool header) const {
    if (buf_.readError() != 0) {
      return fmt::format("read error at offset {}: {}", buf_.pos(),
                         std::strerror(buf_.readError()));
    }
    return fmt::format("truncated capture file: record {}at offset {} cut short ({} of {} bytes)",
                       header ? "header " : "", buf_.pos(), got, want);
  }

  FileBuffer& buf_;
  uint32_t raw_magic_;
  bool swapped_;
  bool nano_;
  size_t record_header_;
  uint32_t snaplen_;
  int link_type_;
  int64_t last_ts_us_ = 0;
  bool have_ts_ = false;
};

}  // namespace

std::unique_ptr<CaptureReader> openPcap(FileBuffer& buf, std::string& err) {
  if (!buf.have(4)) return nullptr;
  const uint32_t raw = loadRaw32(buf.data());
  const uint32_t sw = bswap32(raw);
  bool swapped = false;
  uint32_t magic = raw;
  if (raw != kMagicMicro && raw != kMagicNano && raw != kMagicModified) {
    if (sw != kMagicMicro && sw != kMagicNano && sw != kMagicModified) return nullptr;
    swapped = true;
    magic = sw;
  }
  if (!buf.have(kFileHeader)) {
    err = "truncated capture file: file header cut short";
    return nullptr;
  }
  const uint8_t* h = buf.data();
  auto ld32 = [&](size_t off) {
    const uint32_t v = loadRaw32(h + off);
    return swapped ? bswap32(v) : v;
  };
  uint16_t major = 0;
  std::memcpy(&major, h + 4, 2);
  if (swapped) major = bswap16(major);
  if (major != 2) {
    err = fmt::format("unsupported pcap version {}", major);
    return nullptr;
  }
  uint32_t snaplen = ld32(16);
  // libpcap reads a snapshot length of 0 or past its bound as its bound.
  if (snaplen == 0 || snaplen > kMaxCaplen) snaplen = kMaxCaplen;
  // Bits 0-25 are the link type; above are the FCS length and flags (draft §4).
  const int link_type = static_cast<int>(ld32(20) & 0x03FFFFFF);
  buf.advance(kFileHeader);
  return std::make_unique<PcapReader>(buf, raw, swapped, magic == kMagicNano,
                                      magic == kMagicModified ? 24 : 16, snaplen, link_type);
}

}  // namespace mcn::capture::detail
