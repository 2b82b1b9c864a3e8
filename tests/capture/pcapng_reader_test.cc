// mcn's own capture file readers through PcapFileSource: pcapng block by block (both byte orders,
// several sections, every packet block type, skipped blocks, if_tsresol/if_tsoffset worked by
// hand, every bad length, interface ids out of range) and resynchronisation after a damaged
// stretch in pcapng and classic pcap. Files are written byte by byte by the small writers below.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "frame_builder.h"
#include "mcn/capture/pcap_source.h"

namespace mcn::capture::test {
namespace {

namespace fs = std::filesystem;

constexpr int kEn10mb = 1;
constexpr int kLinuxSll = 113;
constexpr int kRawIp = 101;

// Writes integers in the chosen byte order.
struct Endian {
  bool big = false;
  void u16(Bytes& b, uint16_t v) const {
    if (big) {
      put16(b, v);
    } else {
      b.push_back(static_cast<uint8_t>(v));
      b.push_back(static_cast<uint8_t>(v >> 8));
    }
  }
  void u32(Bytes& b, uint32_t v) const { big ? put32(b, v) : put32le(b, v); }
  void u64(Bytes& b, uint64_t v) const {
    if (big) {
      u32(b, static_cast<uint32_t>(v >> 32));
      u32(b, static_cast<uint32_t>(v));
    } else {
      u32(b, static_cast<uint32_t>(v));
      u32(b, static_cast<uint32_t>(v >> 32));
    }
  }
};

// A pcapng writer (draft-ietf-opsawg-pcapng), one section at a time in its own byte order.
struct Ng {
  Endian e;
  Bytes out;

  static Bytes padded(Bytes b) {
    while (b.size() % 4 != 0) b.push_back(0);
    return b;
  }
  // A block with both lengths right; `len_fix` adds to the leading length only (a lie).
  size_t block(uint32_t type, const Bytes& body) {
    const size_t at = out.size();
    const Bytes p = padded(body);
    const auto len = static_cast<uint32_t>(12 + p.size());
    e.u32(out, type);
    e.u32(out, len);
    append(out, p);
    e.u32(out, len);
    return at;
  }
  void shb(bool big) {
    e.big = big;
    Bytes b;
    e.u32(b, 0x1A2B3C4D);
    e.u16(b, 1);
    e.u16(b, 0);
    e.u64(b, ~uint64_t{0});  // section length not given
    block(0x0A0D0D0A, b);
  }
  void idb(uint16_t link, uint32_t snaplen, std::optional<uint8_t> tsresol = std::nullopt,
           std::optional<int64_t> tsoffset = std::nullopt) {
    Bytes b;
    e.u16(b, link);
    e.u16(b, 0);
    e.u32(b, snaplen);
    if (tsresol) {
      e.u16(b, 9);
      e.u16(b, 1);
      b.push_back(*tsresol);
      b.insert(b.end(), 3, 0);
    }
    if (tsoffset) {
      e.u16(b, 14);
      e.u16(b, 8);
      e.u64(b, static_cast<uint64_t>(*tsoffset));
    }
    e.u16(b, 0);  // opt_endofopt
    e.u16(b, 0);
    block(1, b);
  }
  size_t epb(uint32_t iface, uint64_t ts, const Bytes& data, std::optional<uint32_t> caplen = {}) {
    Bytes b;
    e.u32(b, iface);
    e.u32(b, static_cast<uint32_t>(ts >> 32));
    e.u32(b, static_cast<uint32_t>(ts));
    e.u32(b, caplen.value_or(static_cast<uint32_t>(data.size())));
    e.u32(b, static_cast<uint32_t>(data.size()));
    append(b, padded(data));
    return block(6, b);
  }
  void spb(const Bytes& data, uint32_t wire) {
    Bytes b;
    e.u32(b, wire);
    append(b, data);
    block(3, b);
  }
  void pb(uint16_t iface, uint64_t ts, const Bytes& data) {
    Bytes b;
    e.u16(b, iface);
    e.u16(b, 0);  // drops
    e.u32(b, static_cast<uint32_t>(ts >> 32));
    e.u32(b, static_cast<uint32_t>(ts));
    e.u32(b, static_cast<uint32_t>(data.size()));
    e.u32(b, static_cast<uint32_t>(data.size()));
    append(b, padded(data));
    block(2, b);
  }
};

std::string tempPath(const std::string& suffix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return ::testing::TempDir() + "mcn_ng_" + info->name() + "_" + std::to_string(::getpid()) +
         suffix;
}

struct Got {
  int64_t ts_us;
  Bytes data;
  uint32_t wire_len;
  int link_type;
};

struct Result {
  std::vector<Got> frames;
  std::string error;
  FileReadStats stats;
  int link_type = -1;
};

Result readBytes(const Bytes& file, const std::string& suffix = ".pcapng") {
  const std::string path = tempPath(suffix);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
  Result r;
  {
    PcapFileSource src(path);
    r.link_type = src.linkType();
    src.forEach([&](const Frame& f) {
      r.frames.push_back({f.ts_us, Bytes(f.data.begin(), f.data.end()), f.wire_len, f.link_type});
    });
    r.error = src.error();
    r.stats = src.stats();
  }
  fs::remove(path);
  return r;
}

// Distinct frames, each one's bytes telling which it is.
Bytes frameN(int n, size_t size = 61) {
  Bytes b(size);
  for (size_t i = 0; i < size; ++i) b[i] = static_cast<uint8_t>(n * 31 + i);
  return b;
}

// Overwrites 4 bytes of `f` at `at` with v in e's byte order.
void set32(Bytes& f, size_t at, uint32_t v, const Endian& e) {
  Bytes b;
  e.u32(b, v);
  std::copy(b.begin(), b.end(), f.begin() + static_cast<std::ptrdiff_t>(at));
}

constexpr uint64_t kT0 = 1'700'000'000'000'000;  // µs

TEST(PcapngReader, TwoInterfacesOfDifferentLinkTypesInOneSection) {
  for (bool big : {false, true}) {
    SCOPED_TRACE(big ? "big-endian" : "little-endian");
    Ng ng;
    ng.shb(big);
    ng.idb(kEn10mb, 262144);
    ng.idb(kLinuxSll, 65535);
    ng.epb(0, kT0, frameN(0));
    ng.epb(1, kT0 + 1, frameN(1, 70));
    ng.epb(0, kT0 + 2, frameN(2, 3));  // padded to 4
    Result r = readBytes(ng.out);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.link_type, kEn10mb);
    ASSERT_EQ(r.frames.size(), 3u);
    EXPECT_EQ(r.frames[0].link_type, kEn10mb);
    EXPECT_EQ(r.frames[1].link_type, kLinuxSll);
    EXPECT_EQ(r.frames[2].link_type, kEn10mb);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(r.frames[i].ts_us, static_cast<int64_t>(kT0 + i)) << i;
      EXPECT_EQ(r.frames[i].data, frameN(i, i == 1 ? 70 : i == 2 ? 3 : 61)) << i;
    }
    EXPECT_EQ(r.stats.resyncs + r.stats.bad_blocks + r.stats.skipped_bytes, 0u);
  }
}

// Each SHB starts a section with its own byte order and no interfaces (§4.1): interface 0 of the
// second section is its own IDB, and interface 1 of the first section is gone.
TEST(PcapngReader, EverySectionHasItsOwnByteOrderAndInterfaces) {
  Ng ng;
  ng.shb(false);
  ng.idb(kEn10mb, 0);
  ng.idb(kLinuxSll, 0);
  ng.epb(1, kT0, frameN(0));
  ng.shb(true);
  ng.idb(kRawIp, 0);
  ng.epb(0, kT0 + 10, frameN(1));
  ng.epb(1, kT0 + 20, frameN(2));  // no interface 1 in this section
  ng.epb(0, kT0 + 30, frameN(3));
  Result r = readBytes(ng.out);
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.frames.size(), 3u);
  EXPECT_EQ(r.frames[0].link_type, kLinuxSll);
  EXPECT_EQ(r.frames[1].link_type, kRawIp);
  EXPECT_EQ(r.frames[1].ts_us, static_cast<int64_t>(kT0 + 10));
  EXPECT_EQ(r.frames[2].data, frameN(3));
  EXPECT_EQ(r.stats.bad_blocks, 1u);
  EXPECT_EQ(r.stats.resyncs, 0u);
  EXPECT_EQ(r.stats.skipped_bytes, 32u + 64u);  // the EPB of a 61-byte frame, padded to 64
}

// if_tsresol and if_tsoffset, worked by hand.
TEST(PcapngReader, TimestampResolutionAndOffset) {
  Ng ng;
  ng.shb(false);
  ng.idb(kEn10mb, 0, 3);                                       // 0: milliseconds
  ng.idb(kEn10mb, 0, 9);                                       // 1: nanoseconds
  ng.idb(kEn10mb, 0, 0x80 | 10);                               // 2: 1/1024 s
  ng.idb(kEn10mb, 0, 6, 100);                                  // 3: microseconds, 100 s later
  ng.idb(kEn10mb, 0, 7, -3600);                                // 4: 100 ns, an hour earlier
  ng.idb(kEn10mb, 0);                                          // 5: no option: microseconds
  ng.epb(0, 1'700'000'000'123, frameN(0));                     // 1,700,000,000.123 s
  ng.epb(1, 1'700'000'000'123'456'789, frameN(1));             // ns -> µs truncates
  ng.epb(2, uint64_t{1'700'000'000} * 1024 + 512, frameN(2));  // + 512/1024 s = 0.5 s
  ng.epb(3, 1'700'000'000'000'001, frameN(3));
  ng.epb(4, 17'000'000'000'000'019, frameN(4));  // 1,700,000,000.0000019 s
  ng.epb(5, 42, frameN(5));
  Result r = readBytes(ng.out);
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.frames.size(), 6u);
  EXPECT_EQ(r.frames[0].ts_us, 1'700'000'000'123'000);
  EXPECT_EQ(r.frames[1].ts_us, 1'700'000'000'123'456);
  EXPECT_EQ(r.frames[2].ts_us, 1'700'000'000'500'000);
  EXPECT_EQ(r.frames[3].ts_us, 1'700'000'100'000'001);
  EXPECT_EQ(r.frames[4].ts_us, 1'699'996'400'000'001);
  EXPECT_EQ(r.frames[5].ts_us, 42);
  EXPECT_EQ(r.stats.bad_blocks, 0u);
}

// A resolution no 64-bit timestamp can use: the IDB counts as bad but its interface stays (the
// ids of the interfaces after it must not shift), read in microseconds.
TEST(PcapngReader, UnusableResolutionKeepsTheInterface) {
  Ng ng;
  ng.shb(false);
  ng.idb(kEn10mb, 0, 20);  // 10^-20
  ng.idb(kLinuxSll, 0);
  ng.epb(1, 7, frameN(0));
  ng.epb(0, 8, frameN(1));
  Result r = readBytes(ng.out);
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0].link_type, kLinuxSll);
  EXPECT_EQ(r.frames[1].ts_us, 8);
  EXPECT_EQ(r.stats.bad_blocks, 1u);
}

// SPB (§4.4): interface 0, captured length cut to the snapshot length, the previous frame's time.
// The obsolete PB (Appendix A): 16-bit interface id.
TEST(PcapngReader, SimpleAndObsoletePacketBlocks) {
  Ng ng;
  ng.shb(false);
  ng.idb(kLinuxSll, 60);
  ng.idb(kEn10mb, 0);
  ng.pb(1, kT0 + 5, frameN(0));
  ng.spb(frameN(1, 100), 100);
  ng.spb(frameN(2, 40), 40);
  Result r = readBytes(ng.out);
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.frames.size(), 3u);
  EXPECT_EQ(r.frames[0].link_type, kEn10mb);
  EXPECT_EQ(r.frames[0].ts_us, static_cast<int64_t>(kT0 + 5));
  EXPECT_EQ(r.frames[0].data, frameN(0));
  EXPECT_EQ(r.frames[1].link_type, kLinuxSll);
  EXPECT_EQ(r.frames[1].ts_us, static_cast<int64_t>(kT0 + 5));
  EXPECT_EQ(r.frames[1].wire_len, 100u);
  const Bytes long_frame = frameN(1, 100);
  EXPECT_EQ(r.frames[1].data, Bytes(long_frame.begin(), long_frame.begin() + 60));
  EXPECT_EQ(r.frames[2].data, frameN(2, 40));
}

TEST(PcapngReader, SkipsStatisticsNameResolutionSecretsCustomAndUnknownBlocks) {
  Ng ng;
  ng.shb(false);
  ng.block(4, Bytes{0, 0, 0, 0});  // NRB: nrb_record_end
  ng.idb(kEn10mb, 0);
  ng.epb(0, kT0, frameN(0));
  ng.block(5, Bytes(20, 0));                      // ISB
  ng.block(0x0A, Bytes(16, 7));                   // DSB
  ng.block(0x00000BAD, Bytes{0, 0, 0x7f, 0x0f});  // custom, PEN then data
  ng.block(0x40000BAD, Bytes(9, 1));
  ng.block(0x12345678, Bytes(4, 2));  // a type this reader does not know
  ng.epb(0, kT0 + 1, frameN(1));
  Result r = readBytes(ng.out);
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[1].data, frameN(1));
  EXPECT_EQ(r.stats.resyncs + r.stats.bad_blocks + r.stats.skipped_bytes, 0u);
}

// Blocks framed right whose contents cannot be used: skipped whole, counted, reading goes on.
TEST(PcapngReader, UnusableBlocksAreSkippedAndCounted) {
  Ng ng;
  ng.shb(false);
  ng.epb(0, kT0, frameN(9));  // before any IDB
  ng.idb(kEn10mb, 0);
  ng.epb(3, kT0, frameN(0));       // interface id out of range
  ng.epb(0, kT0, frameN(1), 200);  // captured length past the block
  ng.pb(2, kT0, frameN(2));        // PB interface out of range
  ng.epb(0, kT0 + 1, frameN(3));
  Result r = readBytes(ng.out);
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].data, frameN(3));
  EXPECT_EQ(r.stats.bad_blocks, 4u);
  EXPECT_EQ(r.stats.resyncs, 0u);
  EXPECT_EQ(r.stats.skipped_bytes, 4u * 96u);
}

// Every bad length of a block's framing: the reader scans to the next valid block.
TEST(PcapngReader, BadBlockLengthsResynchronise) {
  struct Case {
    const char* name;
    void (*damage)(Bytes& f, size_t at, const Endian& e);
  };
  const Case cases[] = {
      {"not a multiple of 4",
       [](Bytes& f, size_t at, const Endian& e) { set32(f, at + 4, 98, e); }},
      {"below the EPB minimum",
       [](Bytes& f, size_t at, const Endian& e) { set32(f, at + 4, 28, e); }},
      {"below any block", [](Bytes& f, size_t at, const Endian& e) { set32(f, at + 4, 8, e); }},
      {"trailing length differs",
       [](Bytes& f, size_t at, const Endian& e) { set32(f, at + 96 - 4, 100, e); }},
      {"leading length too long",
       [](Bytes& f, size_t at, const Endian& e) { set32(f, at + 4, 100, e); }},
      {"beyond the largest block",
       [](Bytes& f, size_t at, const Endian& e) { set32(f, at + 4, 0x7ffffff0, e); }},
  };
  for (bool big : {false, true}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(c.name) + (big ? " big-endian" : " little-endian"));
      Ng ng;
      ng.shb(big);
      ng.idb(kEn10mb, 0);
      ng.epb(0, kT0, frameN(0));
      const size_t bad = ng.epb(0, kT0 + 1, frameN(1));  // 96 bytes
      ng.epb(0, kT0 + 2, frameN(2));
      c.damage(ng.out, bad, ng.e);
      Result r = readBytes(ng.out);
      EXPECT_EQ(r.error, "");
      ASSERT_EQ(r.frames.size(), 2u);
      EXPECT_EQ(r.frames[0].data, frameN(0));
      EXPECT_EQ(r.frames[1].data, frameN(2));
      EXPECT_EQ(r.stats.resyncs, 1u);
      EXPECT_EQ(r.stats.skipped_bytes, 96u);
    }
  }
}

// A copy cut and appended: the tail of one block, then whole blocks again.
TEST(PcapngReader, DamagedStretchInTheMiddleIsSkipped) {
  Ng ng;
  ng.shb(false);
  ng.idb(kEn10mb, 0);
  ng.epb(0, kT0, frameN(0));
  const size_t cut_from = ng.epb(0, kT0 + 1, frameN(1, 400));
  const size_t cut_to = ng.epb(0, kT0 + 2, frameN(2, 400));
  ng.epb(0, kT0 + 3, frameN(3));
  // Drop from 100 bytes into the second EPB to 50 bytes into the third.
  Bytes f(ng.out.begin(), ng.out.begin() + static_cast<std::ptrdiff_t>(cut_from + 100));
  f.insert(f.end(), ng.out.begin() + static_cast<std::ptrdiff_t>(cut_to + 50), ng.out.end());
  Result r = readBytes(f);
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[1].data, frameN(3));
  EXPECT_EQ(r.stats.resyncs, 1u);
  // 100 bytes of the second block and the 432 - 50 left of the third.
  EXPECT_EQ(r.stats.skipped_bytes, 100u + 432u - 50u);
}

// Cut short at the end: what is there is read, the error says truncated, nothing is counted as
// skipped (no valid block followed).
TEST(PcapngReader, FileCutShortEndsWithTruncated) {
  Ng ng;
  ng.shb(true);
  ng.idb(kEn10mb, 0);
  ng.epb(0, kT0, frameN(0));
  ng.epb(0, kT0 + 1, frameN(1));
  for (size_t cut : {size_t{5}, size_t{40}, size_t{95}}) {
    SCOPED_TRACE(cut);
    Bytes f(ng.out.begin(), ng.out.end() - static_cast<std::ptrdiff_t>(cut));
    Result r = readBytes(f);
    ASSERT_EQ(r.frames.size(), 1u);
    EXPECT_NE(r.error.find("truncated"), std::string::npos) << r.error;
    EXPECT_EQ(r.stats.resyncs, 0u);
    EXPECT_EQ(r.stats.skipped_bytes, 0u);
  }
}

TEST(PcapngReader, DamageWithNothingValidAfterItEndsWithAnError) {
  Ng ng;
  ng.shb(false);
  ng.idb(kEn10mb, 0);
  ng.epb(0, kT0, frameN(0));
  Bytes f = ng.out;
  append(f, Bytes(64, 0xee));
  Result r = readBytes(f);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_NE(r.error.find("damaged block at offset"), std::string::npos) << r.error;
}

// Standard input ("-"), as in `tcpdump -w - | mcn replay -`, goes through the same reader.
TEST(PcapngReader, ReadsStandardInput) {
  Ng ng;
  ng.shb(true);
  ng.idb(kLinuxSll, 0);
  ng.idb(kEn10mb, 0);
  ng.epb(1, kT0, frameN(0));
  ng.epb(0, kT0 + 1, frameN(1));
  const std::string path = tempPath(".pcapng");
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(ng.out.data()),
             static_cast<std::streamsize>(ng.out.size()));
  const int saved = ::dup(STDIN_FILENO);
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_GE(::dup2(fd, STDIN_FILENO), 0);
  ::close(fd);
  std::vector<int> links;
  std::string error;
  {
    PcapFileSource src("-");
    src.forEach([&](const Frame& f) { links.push_back(f.link_type); });
    error = src.error();
  }
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  EXPECT_EQ(links, (std::vector<int>{kEn10mb, kLinuxSll}));
  EXPECT_EQ(error, "");
  fs::remove(path);
}

TEST(PcapngReader, FirstBlockMustBeAUsableSectionHeader) {
  Ng ng;
  ng.shb(false);
  Bytes bad_bom = ng.out;
  bad_bom[8] = 0x99;
  EXPECT_THROW(readBytes(bad_bom), std::runtime_error);
  Bytes v2 = ng.out;
  v2[12] = 2;  // major version 2
  EXPECT_THROW(readBytes(v2), std::runtime_error);
  // Just a section header: no frames, no error.
  Result r = readBytes(ng.out);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(r.error, "");
}

// --- classic pcap ---

// A classic pcap writer: either byte order, micro- or nanoseconds.
struct Classic {
  Endian e;
  bool nano = false;
  Bytes out;
  void header(uint32_t snaplen, uint32_t link) {
    e.u32(out, nano ? 0xa1b23c4d : 0xa1b2c3d4);
    e.u16(out, 2);
    e.u16(out, 4);
    e.u32(out, 0);
    e.u32(out, 0);
    e.u32(out, snaplen);
    e.u32(out, link);
  }
  size_t record(uint64_t ts_us, const Bytes& data) {
    const size_t at = out.size();
    e.u32(out, static_cast<uint32_t>(ts_us / 1'000'000));
    e.u32(out, static_cast<uint32_t>(ts_us % 1'000'000 * (nano ? 1000 : 1)));
    e.u32(out, static_cast<uint32_t>(data.size()));
    e.u32(out, static_cast<uint32_t>(data.size()));
    append(out, data);
    return at;
  }
};

TEST(PcapReader, BothByteOrdersAndPrecisions) {
  for (bool big : {false, true}) {
    for (bool nano : {false, true}) {
      SCOPED_TRACE(std::to_string(big) + std::to_string(nano));
      Classic c;
      c.e.big = big;
      c.nano = nano;
      c.header(65535, kLinuxSll);
      c.record(kT0 + 7, frameN(0));
      c.record(kT0 + 999'999, frameN(1));
      Result r = readBytes(c.out, ".pcap");
      EXPECT_EQ(r.error, "");
      EXPECT_EQ(r.link_type, kLinuxSll);
      ASSERT_EQ(r.frames.size(), 2u);
      EXPECT_EQ(r.frames[0].ts_us, static_cast<int64_t>(kT0 + 7));
      EXPECT_EQ(r.frames[1].ts_us, static_cast<int64_t>(kT0 + 999'999));
      EXPECT_EQ(r.frames[1].link_type, kLinuxSll);
      EXPECT_EQ(r.frames[1].data, frameN(1));
    }
  }
}

// A record header that cannot be true in the middle: scan to the next plausible record.
TEST(PcapReader, ImpossibleRecordHeaderResynchronises) {
  struct Case {
    const char* name;
    size_t offset;  // into the bad record's header
    uint32_t value;
  };
  const Case cases[] = {
      {"caplen past the bound", 8, 0x20202020},
      {"caplen above len", 8, 70},
      {"microseconds past a second", 4, 1'000'000},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    Classic c;
    c.header(65535, kEn10mb);
    c.record(kT0, frameN(0));
    const size_t bad = c.record(kT0 + 1, frameN(1));  // 16 + 61 bytes
    c.record(kT0 + 2, frameN(2));
    c.record(kT0 + 3, frameN(3));
    Bytes v;
    c.e.u32(v, k.value);
    std::copy(v.begin(), v.end(), c.out.begin() + static_cast<std::ptrdiff_t>(bad + k.offset));
    Result r = readBytes(c.out, ".pcap");
    EXPECT_EQ(r.error, "");
    ASSERT_EQ(r.frames.size(), 3u);
    EXPECT_EQ(r.frames[1].data, frameN(2));
    EXPECT_EQ(r.stats.resyncs, 1u);
    EXPECT_EQ(r.stats.skipped_bytes, 77u);
  }
}

// A copy cut in the middle of a record and the rest of the capture appended from the middle of
// another record: the records after the damage come back, the bytes between are counted.
TEST(PcapReader, CutAndAppendedCopyResynchronises) {
  Classic c;
  c.header(65535, kEn10mb);
  std::vector<size_t> at;
  for (int i = 0; i < 8; ++i) {
    at.push_back(c.record(kT0 + static_cast<uint64_t>(i) * 20'000,
                          bytesOf("INVITE sip:" + std::to_string(i) + std::string(200, 'x'))));
  }
  // Keep 30 bytes of record 2, then from 100 bytes into record 4.
  Bytes f(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(at[2] + 30));
  f.insert(f.end(), c.out.begin() + static_cast<std::ptrdiff_t>(at[4] + 100), c.out.end());
  Result r = readBytes(f, ".pcap");
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.frames.size(), 2u + 3u);  // records 0, 1 and 5, 6, 7
  EXPECT_EQ(r.frames[2].ts_us, static_cast<int64_t>(kT0 + 5 * 20'000));
  EXPECT_EQ(r.stats.resyncs, 1u);
  EXPECT_EQ(r.stats.skipped_bytes, 30u + (at[5] - at[4] - 100));
}

// Two captures concatenated whole after a cut: the second one's file header is recognised.
TEST(PcapReader, CaptureAppendedAfterACutIsRead) {
  Classic a;
  a.header(65535, kEn10mb);
  a.record(kT0, frameN(0));
  const size_t cut = a.record(kT0 + 1, frameN(1));
  Classic b;
  b.header(65535, kEn10mb);
  b.record(kT0 + 86'400'000'000 * 30, frameN(2));  // a month later
  Bytes f(a.out.begin(), a.out.begin() + static_cast<std::ptrdiff_t>(cut + 20));
  append(f, b.out);
  Result r = readBytes(f, ".pcap");
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[1].data, frameN(2));
  EXPECT_EQ(r.stats.resyncs, 1u);
  EXPECT_EQ(r.stats.skipped_bytes, 20u + 24u);
}

TEST(PcapReader, DamageWithNothingValidAfterItEndsWithAnError) {
  Classic c;
  c.header(65535, kEn10mb);
  c.record(kT0, frameN(0));
  append(c.out, Bytes(40, 0xff));
  Result r = readBytes(c.out, ".pcap");
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_NE(r.error.find("damaged record at offset"), std::string::npos) << r.error;
  EXPECT_EQ(r.stats.resyncs, 0u);
}

}  // namespace
}  // namespace mcn::capture::test
