#include "pcapng_reader.h"

#include <fmt/format.h>

#include <limits>
#include <vector>

namespace mcn::capture::detail {
namespace {

// Block types (draft-ietf-opsawg-pcapng §11.1, Appendix A).
constexpr uint32_t kIdb = 0x00000001;
constexpr uint32_t kPb = 0x00000002;  // obsolete Packet Block
constexpr uint32_t kSpb = 0x00000003;
constexpr uint32_t kNrb = 0x00000004;
constexpr uint32_t kIsb = 0x00000005;
constexpr uint32_t kEpb = 0x00000006;
constexpr uint32_t kJournal = 0x00000009;  // systemd Journal Export Block
constexpr uint32_t kDsb = 0x0000000A;
constexpr uint32_t kCustomCopy = 0x00000BAD;
constexpr uint32_t kCustomNoCopy = 0x40000BAD;
constexpr uint32_t kBom = 0x1A2B3C4D;

constexpr uint32_t kMinBlock = 12;  // type, length, length
constexpr uint32_t kMinShb = 28;    // + byte-order magic, version, section length
constexpr uint32_t kMinIdb = 20;    // + link type, reserved, snaplen
constexpr uint32_t kMinEpb = 32;    // + interface, timestamp, captured and original length
constexpr uint32_t kMinPb = 32;     // + interface, drops, timestamp, captured and original length
constexpr uint32_t kMinSpb = 16;    // + original length

constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kOptTsresol = 9;
constexpr uint16_t kOptTsoffset = 14;

// Smallest length of a block of a known type; 0 for a type that is not known (a resynchronising
// scan accepts only known types).
uint32_t minLength(uint32_t type) {
  switch (type) {
    case kPcapngShb:
      return kMinShb;
    case kIdb:
      return kMinIdb;
    case kEpb:
      return kMinEpb;
    case kPb:
      return kMinPb;
    case kSpb:
      return kMinSpb;
    case kNrb:
    case kIsb:
    case kJournal:
    case kDsb:
    case kCustomCopy:
    case kCustomNoCopy:
      return kMinBlock;
    default:
      return 0;
  }
}

// 128-bit products for timestamps in units finer than 1 µs scaled up (GCC and clang both have it).
__extension__ typedef unsigned __int128 U128;

// Timestamp units to microseconds: the common resolutions without 128-bit arithmetic.
struct TsScale {
  enum class Kind : uint8_t { kSame, kDivide, kMultiply, kBinary } kind = Kind::kSame;
  uint64_t factor = 1;  // kDivide, kMultiply: the power of 10; kBinary: the exponent
  int64_t offset_us = 0;

  int64_t toUs(uint64_t ts) const {
    int64_t us = 0;
    switch (kind) {
      case Kind::kSame:
        us = static_cast<int64_t>(ts);
        break;
      case Kind::kDivide:
        us = static_cast<int64_t>(ts / factor);
        break;
      case Kind::kMultiply:
        us = saturate(static_cast<U128>(ts) * factor);
        break;
      case Kind::kBinary:
        us = saturate((static_cast<U128>(ts) * 1'000'000u) >> factor);
        break;
    }
    int64_t r = 0;
    if (__builtin_add_overflow(us, offset_us, &r)) {
      r = offset_us > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
    }
    return r;
  }
  static int64_t saturate(U128 v) {
    constexpr auto kMax = static_cast<U128>(std::numeric_limits<int64_t>::max());
    return v > kMax ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(v);
  }
};

struct Interface {
  int link_type = 0;
  uint32_t snaplen = 0;  // 0: no limit
  TsScale scale;
};

class PcapngReader final : public CaptureReader {
 public:
  explicit PcapngReader(FileBuffer& buf) : buf_(buf) {}

  int firstLinkType() const override { return first_link_type_; }

  // Reads the first SHB. False (err set) if it is not a usable one.
  bool start(std::string& err) {
    if (!buf_.have(kMinBlock)) {
      err = "truncated capture file: pcapng section header cut short";
      return false;
    }
    if (!shbByteOrder(buf_.data(), swapped_)) {
      err = "unknown file format: pcapng section header without a byte-order magic";
      return false;
    }
    const uint32_t len = ld(buf_.data() + 4);
    if (!framed(kPcapngShb, len)) {
      err = "truncated capture file: pcapng section header cut short or damaged";
      return false;
    }
    if (!shb(buf_.data(), len)) {
      err = "unsupported pcapng section header version";
      return false;
    }
    buf_.advance(len);
    return true;
  }

  ReadStatus next(Frame& out) override {
    if (done_) return ReadStatus::kEnd;
    for (;;) {
      if (!buf_.have(8)) {
        done_ = true;
        if (buf_.available() == 0 && buf_.readError() == 0) return ReadStatus::kEnd;
        error_ = cutShort(buf_.available(), 8);
        return ReadStatus::kError;
      }
      const uint8_t* b = buf_.data();
      uint32_t type = ld(b);
      bool swapped = swapped_;
      if (type == kPcapngShb) {
        // Its own byte order, read from its byte-order magic.
        if (!buf_.have(12) || !shbByteOrder(buf_.data(), swapped)) {
          if (!damaged(buf_.have(12) ? std::string() : cutShort(buf_.available(), 12))) {
            return ReadStatus::kError;
          }
          continue;
        }
        b = buf_.data();
      }
      const uint32_t len = swapped ? bswap32(loadRaw32(b + 4)) : loadRaw32(b + 4);
      if (len % 4 != 0 || len < kMinBlock || len > kPcapngMaxBlock ||
          (minLength(type) != 0 && len < minLength(type))) {
        if (!damaged({})) return ReadStatus::kError;
        continue;
      }
      if (!buf_.have(len)) {
        if (!damaged(cutShort(buf_.available(), len))) return ReadStatus::kError;
        continue;
      }
      b = buf_.data();
      const uint32_t trailer = swapped ? bswap32(loadRaw32(b + len - 4)) : loadRaw32(b + len - 4);
      if (trailer != len) {
        if (!damaged({})) return ReadStatus::kError;
        continue;
      }
      // A well-framed block.
      bool frame = false;
      bool usable = true;
      switch (type) {
        case kPcapngShb:
          swapped_ = swapped;
          usable = shb(b, len);
          break;
        case kIdb:
          idb(b, len);  // always kept: later interface ids must not shift
          break;
        case kEpb:
          usable = epb(b, len, out);
          frame = usable;
          break;
        case kSpb:
          usable = spb(b, len, out);
          frame = usable;
          break;
        case kPb:
          usable = pb(b, len, out);
          frame = usable;
          break;
        default:
          break;  // ISB, NRB, DSB, custom, unknown: nothing mcn uses
      }
      buf_.advance(len);
      if (!usable) {
        ++stats_.bad_blocks;
        stats_.skipped_bytes += len;
        continue;
      }
      if (frame) {
        last_ts_us_ = out.ts_us;
        return ReadStatus::kFrame;
      }
    }
  }

 private:
  uint32_t ld(const uint8_t* p) const {
    const uint32_t v = loadRaw32(p);
    return swapped_ ? bswap32(v) : v;
  }
  uint16_t ld16(const uint8_t* p) const {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return swapped_ ? bswap16(v) : v;
  }

  // The byte order of the SHB at `b` (12 bytes there) from its byte-order magic.
  static bool shbByteOrder(const uint8_t* b, bool& swapped) {
    if (loadRaw32(b) != kPcapngShb) return false;
    const uint32_t bom = loadRaw32(b + 8);
    if (bom == kBom) {
      swapped = false;
      return true;
    }
    if (bom == bswap32(kBom)) {
      swapped = true;
      return true;
    }
    return false;
  }

  // Both lengths of a block of `type` at the current position agree and fit (whole block there).
  bool framed(uint32_t type, uint32_t len) {
    if (len % 4 != 0 || len < kMinBlock || len > kPcapngMaxBlock) return false;
    if (minLength(type) != 0 && len < minLength(type)) return false;
    if (!buf_.have(len)) return false;
    return ld(buf_.data() + len - 4) == len;
  }

  // §4.1: a new section; interfaces of the previous one are gone. Only major version 1 exists.
  bool shb(const uint8_t* b, uint32_t len) {
    (void)len;
    ifaces_.clear();
    return ld16(b + 12) == 1;
  }

  // Adds the interface, counting the block as bad (but keeping it, with microseconds and no
  // offset where its options cannot be used) if an option is unusable.
  void idb(const uint8_t* b, uint32_t len) {
    if (ifaces_.size() >= kPcapngMaxInterfaces) {
      ++stats_.bad_blocks;
      stats_.skipped_bytes += len;
      return;
    }
    Interface ifc;
    ifc.link_type = ld16(b + 8);
    ifc.snaplen = ld(b + 12);
    // Options (§3.5): code, length, value padded to 4 bytes, up to the trailing length. An
    // option running past the block ends the list; the interface is kept with what was read, so
    // the interface ids of later IDBs stay right.
    bool ok = true;
    int tsresol = -1;
    int64_t tsoffset = 0;
    size_t off = 16;
    const size_t end = len - 4;
    while (off + 4 <= end) {
      const uint16_t code = ld16(b + off);
      const uint16_t olen = ld16(b + off + 2);
      off += 4;
      if (code == kOptEnd) break;
      if (olen > end - off) {
        ok = false;
        break;
      }
      if (code == kOptTsresol && olen >= 1) {
        tsresol = b[off];
      } else if (code == kOptTsoffset && olen == 8) {
        uint64_t v;
        std::memcpy(&v, b + off, 8);
        tsoffset = static_cast<int64_t>(swapped_ ? bswap64(v) : v);
      }
      off += (olen + 3u) & ~3u;
    }
    if (tsresol >= 0 && !setResolution(ifc.scale, static_cast<uint8_t>(tsresol))) ok = false;
    // if_tsoffset is in seconds; one that does not fit in microseconds is refused.
    if (tsoffset > std::numeric_limits<int64_t>::max() / 1'000'000 ||
        tsoffset < std::numeric_limits<int64_t>::min() / 1'000'000) {
      ok = false;
      tsoffset = 0;
    }
    ifc.scale.offset_us = tsoffset * 1'000'000;
    if (first_link_type_ < 0) first_link_type_ = ifc.link_type;
    ifaces_.push_back(ifc);
    if (!ok) ++stats_.bad_blocks;
  }

  // if_tsresol (§4.2): top bit clear, 10^-v seconds; set, 2^-(v & 0x7f). False (and the default
  // microseconds kept) for a resolution no 64-bit timestamp can use.
  static bool setResolution(TsScale& s, uint8_t v) {
    if ((v & 0x80) == 0) {
      if (v > 19) return false;
      uint64_t p = 1;
      if (v >= 6) {
        for (int i = 6; i < v; ++i) p *= 10;
        s.kind = p == 1 ? TsScale::Kind::kSame : TsScale::Kind::kDivide;
      } else {
        for (int i = v; i < 6; ++i) p *= 10;
        s.kind = TsScale::Kind::kMultiply;
      }
      s.factor = p;
      return true;
    }
    const uint8_t e = v & 0x7f;
    if (e > 63) return false;
    s.kind = TsScale::Kind::kBinary;
    s.factor = e;
    return true;
  }

  // EPB (§4.3) and the obsolete PB (Appendix A) share their layout from the timestamp on; the
  // PB's interface id is 16 bits, followed by a drops count mcn does not use.
  bool epb(const uint8_t* b, uint32_t len, Frame& out) {
    return packet(b, len, ld(b + 8), kMinEpb, out);
  }

  bool pb(const uint8_t* b, uint32_t len, Frame& out) {
    return packet(b, len, ld16(b + 8), kMinPb, out);
  }

  bool packet(const uint8_t* b, uint32_t len, uint32_t id, uint32_t min_len, Frame& out) {
    const uint32_t caplen = ld(b + 20);
    if (id >= ifaces_.size() || caplen > len - min_len) return false;
    const Interface& ifc = ifaces_[id];
    out.ts_us = ifc.scale.toUs((uint64_t{ld(b + 12)} << 32) | ld(b + 16));
    out.wire_len = ld(b + 24);
    out.data = std::span<const uint8_t>(b + 28, caplen);
    out.link_type = ifc.link_type;
    return true;
  }

  // §4.4: interface 0; the captured length is the original length cut to the snapshot length
  // and to the block. No timestamp: the previous frame's.
  bool spb(const uint8_t* b, uint32_t len, Frame& out) {
    if (ifaces_.empty()) return false;
    const Interface& ifc = ifaces_[0];
    const uint32_t wire = ld(b + 8);
    uint32_t caplen = std::min(wire, len - kMinSpb);
    if (ifc.snaplen != 0) caplen = std::min(caplen, ifc.snaplen);
    out.ts_us = last_ts_us_;
    out.wire_len = wire;
    out.data = std::span<const uint8_t>(b + 12, caplen);
    out.link_type = ifc.link_type;
    return true;
  }

  // A block of a known type at the current position whose two lengths agree (in the section's
  // byte order, or an SHB in its own), of at most kPcapngMaxCandidate bytes, and for a packet
  // block an interface that exists.
  bool candidate() {
    if (!buf_.have(kMinBlock)) return false;
    const uint8_t* b = buf_.data();
    const uint32_t type_raw = loadRaw32(b);
    bool swapped = swapped_;
    uint32_t type = swapped ? bswap32(type_raw) : type_raw;
    if (type_raw == kPcapngShb) {
      if (!shbByteOrder(b, swapped)) return false;
      type = kPcapngShb;
    }
    const uint32_t min = minLength(type);
    if (min == 0) return false;
    const uint32_t len = swapped ? bswap32(loadRaw32(b + 4)) : loadRaw32(b + 4);
    if (len % 4 != 0 || len < min || len > kPcapngMaxCandidate) return false;
    if (!buf_.have(len)) return false;
    b = buf_.data();
    const uint32_t trailer = swapped ? bswap32(loadRaw32(b + len - 4)) : loadRaw32(b + len - 4);
    if (trailer != len) return false;
    if (type == kEpb && ld(b + 8) >= ifaces_.size()) return false;
    if (type == kPb && ld16(b + 8) >= ifaces_.size()) return false;
    if (type == kSpb && ifaces_.empty()) return false;
    return true;
  }

  // Damage at the current position: scan forward for the next valid block. Found: the skipped
  // bytes are counted and reading goes on there. Not found: reading ends with error_ set to
  // `cut_short` if the caller saw a block cut short by the end of the file (nothing proves
  // damage then), else to a message naming the damaged offset.
  bool damaged(const std::string& cut_short) {
    const uint64_t start = buf_.pos();
    bool found = false;
    for (buf_.advance(1); buf_.have(kMinBlock); buf_.advance(1)) {
      if (candidate()) {
        found = true;
        break;
      }
    }
    return endResync(found, start, buf_.pos(), buf_.pos() + buf_.available(), cut_short, "block");
  }

  std::string cutShort(size_t got, size_t want) const {
    if (buf_.readError() != 0) {
      return fmt::format("read error at offset {}: {}", buf_.pos(),
                         std::strerror(buf_.readError()));
    }
    return fmt::format("truncated capture file: block at offset {} cut short ({} of {} bytes)",
                       buf_.pos(), got, want);
  }

  FileBuffer& buf_;
  bool swapped_ = false;
  std::vector<Interface> ifaces_;
  int first_link_type_ = -1;
  int64_t last_ts_us_ = 0;
};

}  // namespace

std::unique_ptr<CaptureReader> openPcapng(FileBuffer& buf, std::string& err) {
  if (!buf.have(4) || loadRaw32(buf.data()) != kPcapngShb) return nullptr;
  auto r = std::make_unique<PcapngReader>(buf);
  if (!r->start(err)) return nullptr;
  return r;
}

}  // namespace mcn::capture::detail
