// PcapFileSource: pcap (micro and nanosecond), pcapng, standard input, truncated files and files
// that cannot be opened. Files are written with libpcap's own dumper, or byte by byte for pcapng
// (libpcap cannot write it).

#include "mcn/capture/pcap_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "decoder_harness.h"

namespace mcn::capture::test {
namespace {

namespace fs = std::filesystem;

std::string tempPath(const std::string& suffix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return ::testing::TempDir() + "mcn_capture_" + info->name() + "_" + std::to_string(::getpid()) +
         suffix;
}

struct Written {
  int64_t ts_us;
  Bytes data;
  uint32_t wire_len;
};

// Writes frames with pcap_open_dead + pcap_dump. With nano, tv_usec holds nanoseconds.
void writePcap(const std::string& path, int dlt, const std::vector<Written>& frames,
               bool nano = false, const std::vector<uint32_t>& frac = {}) {
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(
      dlt, 65535, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
  ASSERT_NE(dead, nullptr);
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  ASSERT_NE(d, nullptr) << pcap_geterr(dead);
  for (size_t i = 0; i < frames.size(); ++i) {
    const Written& f = frames[i];
    pcap_pkthdr h{};
    h.ts.tv_sec = f.ts_us / 1'000'000;
    h.ts.tv_usec = i < frac.size() ? frac[i] : f.ts_us % 1'000'000;
    h.caplen = static_cast<uint32_t>(f.data.size());
    h.len = f.wire_len;
    pcap_dump(reinterpret_cast<u_char*>(d), &h, f.data.data());
  }
  pcap_dump_close(d);
  pcap_close(dead);
}

std::vector<Written> threeFrames() {
  Bytes a = ethernet(kIpv4Type, ipv4({}, udp(5060, 5060, kInvite)));
  Bytes b = ethernet(kIpv4Type, ipv4({}, udp(5060, 5060, kRinging)));
  Bytes c = ethernet(0x0806, Bytes(28, 0));
  return {{1'700'000'000'000'001, a, static_cast<uint32_t>(a.size())},
          {1'700'000'000'500'000, b, static_cast<uint32_t>(b.size())},
          {1'700'000'001'999'999, c, 1514}};  // pretend a snaplen cut it
}

struct Read {
  int64_t ts_us;
  Bytes data;
  uint32_t wire_len;
};

std::vector<Read> readAll(PcapFileSource& src, uint64_t* n = nullptr) {
  std::vector<Read> out;
  uint64_t count = src.forEach([&](const Frame& f) {
    out.push_back({f.ts_us, Bytes(f.data.begin(), f.data.end()), f.wire_len});
  });
  if (n != nullptr) *n = count;
  return out;
}

void copyPrefix(const std::string& from, const std::string& to, uintmax_t bytes) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::resize_file(to, bytes);
}

TEST(PcapFileSource, ReadsBackWhatLibpcapWrote) {
  std::string path = tempPath(".pcap");
  auto frames = threeFrames();
  writePcap(path, DLT_EN10MB, frames);
  PcapFileSource src(path);
  EXPECT_EQ(src.linkType(), kDltEn10mb);
  uint64_t n = 0;
  auto got = readAll(src, &n);
  EXPECT_EQ(n, 3u);
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].ts_us, frames[i].ts_us) << i;
    EXPECT_EQ(got[i].data, frames[i].data) << i;
    EXPECT_EQ(got[i].wire_len, frames[i].wire_len) << i;
  }
  EXPECT_EQ(src.error(), "");
  EXPECT_EQ(readAll(src).size(), 0u);  // at end of file a second pass reads nothing
  fs::remove(path);
}

TEST(PcapFileSource, DecodesTheFileEndToEnd) {
  std::string path = tempPath(".pcap");
  writePcap(path, DLT_EN10MB, threeFrames());
  PcapFileSource src(path);
  Harness h;
  src.forEach([&](const Frame& f) {
    h.decode(f.link_type, Bytes(f.data.begin(), f.data.end()), f.ts_us, f.wire_len);
  });
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].bytes, kInvite);
  EXPECT_EQ(h.out[1].ts_us, 1'700'000'000'500'000);
  EXPECT_EQ(h.nonZero(), (Counts{{"udp.sip", 2}, {"decode.not_ip", 1}}));
  fs::remove(path);
}

TEST(PcapFileSource, NanosecondFileIsReadInMicroseconds) {
  std::string path = tempPath(".pcap");
  Bytes a = ethernet(kIpv4Type, ipv4({}, udp(5060, 5060, kInvite)));
  writePcap(path, DLT_EN10MB, {{1'700'000'000'000'000, a, static_cast<uint32_t>(a.size())}},
            /*nano=*/true, {123'456'789});
  PcapFileSource src(path);
  auto got = readAll(src);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ts_us, 1'700'000'000'123'456);  // 123456789 ns -> 123456 us
  fs::remove(path);
}

// pcapng by hand (draft-ietf-opsawg-pcapng): SHB, IDB with if_tsresol = 9 (nanoseconds),
// one EPB. Little-endian section.
TEST(PcapFileSource, ReadsPcapng) {
  Bytes frame = sll2(kIpv4Type, ipv4({}, udp(5060, 5060, kRinging)));
  Bytes f;
  auto le16 = [&](uint16_t v) {
    f.push_back(static_cast<uint8_t>(v));
    f.push_back(static_cast<uint8_t>(v >> 8));
  };
  auto le32 = [&](uint32_t v) { put32le(f, v); };
  // Section Header Block
  le32(0x0A0D0D0A);
  le32(28);
  le32(0x1A2B3C4D);
  le16(1);
  le16(0);
  le32(0xffffffff);
  le32(0xffffffff);  // section length unknown
  le32(28);
  // Interface Description Block: LINKTYPE_LINUX_SLL2, snaplen 0, options if_tsresol + end
  le32(1);
  le32(32);
  le16(276);
  le16(0);
  le32(0);
  le16(9);  // if_tsresol
  le16(1);
  f.push_back(9);  // 10^-9
  f.insert(f.end(), 3, 0);
  le32(0);  // opt_endofopt
  le32(32);
  // Enhanced Packet Block
  const uint64_t ts_ns = 1'700'000'000'123'456'789ULL;
  size_t padded = (frame.size() + 3) / 4 * 4;
  auto epb_len = static_cast<uint32_t>(32 + padded);
  le32(6);
  le32(epb_len);
  le32(0);  // interface 0
  le32(static_cast<uint32_t>(ts_ns >> 32));
  le32(static_cast<uint32_t>(ts_ns));
  le32(static_cast<uint32_t>(frame.size()));
  le32(static_cast<uint32_t>(frame.size()));
  append(f, frame);
  f.insert(f.end(), padded - frame.size(), 0);
  le32(epb_len);

  std::string path = tempPath(".pcapng");
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
  PcapFileSource src(path);
  EXPECT_EQ(src.linkType(), kDltLinuxSll2);
  auto got = readAll(src);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ts_us, 1'700'000'000'123'456);
  EXPECT_EQ(got[0].data, frame);
  EXPECT_EQ(src.error(), "");
  fs::remove(path);
}

TEST(PcapFileSource, RecordCutInItsDataEndsWithAnError) {
  std::string full = tempPath(".pcap");
  std::string cut = tempPath(".cut.pcap");
  writePcap(full, DLT_EN10MB, threeFrames());
  copyPrefix(full, cut, fs::file_size(full) - 10);  // 10 bytes short of the third record's data
  PcapFileSource src(cut);
  uint64_t n = 0;
  auto got = readAll(src, &n);
  EXPECT_EQ(n, 2u);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].data, threeFrames()[1].data);
  EXPECT_NE(src.error().find("truncated"), std::string::npos) << src.error();
  EXPECT_EQ(readAll(src).size(), 0u);
  fs::remove(full);
  fs::remove(cut);
}

TEST(PcapFileSource, NextPullsFramesOneByOneAndStopsAtAnError) {
  std::string full = tempPath(".pcap");
  std::string cut = tempPath(".cut.pcap");
  auto frames = threeFrames();
  writePcap(full, DLT_EN10MB, frames);
  copyPrefix(full, cut, fs::file_size(full) - 10);
  PcapFileSource src(cut);
  Frame f;
  ASSERT_TRUE(src.next(f));
  EXPECT_EQ(f.ts_us, frames[0].ts_us);
  EXPECT_EQ(Bytes(f.data.begin(), f.data.end()), frames[0].data);
  ASSERT_TRUE(src.next(f));
  EXPECT_EQ(f.ts_us, frames[1].ts_us);
  EXPECT_EQ(src.error(), "");
  EXPECT_FALSE(src.next(f));  // the third record is cut
  EXPECT_FALSE(src.error().empty());
  EXPECT_FALSE(src.next(f));  // and stays ended
  fs::remove(full);
  fs::remove(cut);
}

TEST(PcapFileSource, RecordCutInItsHeaderEndsWithAnError) {
  std::string full = tempPath(".pcap");
  std::string cut = tempPath(".cut.pcap");
  auto frames = threeFrames();
  writePcap(full, DLT_EN10MB, frames);
  // 24-byte file header, the first record (16-byte header + data), 8 bytes of the second header.
  copyPrefix(full, cut, 24 + 16 + frames[0].data.size() + 8);
  PcapFileSource src(cut);
  EXPECT_EQ(readAll(src).size(), 1u);
  EXPECT_FALSE(src.error().empty());
  fs::remove(full);
  fs::remove(cut);
}

// kFrames frames of 1,100-1,299 bytes (~19 MB, several times the 4 MiB read buffer), each one's
// bytes derived from its index so a frame out of place or torn shows.
constexpr int kFrames = 16'000;
std::vector<Written> numberedFrames() {
  std::vector<Written> frames;
  for (int i = 0; i < kFrames; ++i) {
    Bytes b(1'100 + i % 200);
    for (size_t k = 0; k < b.size(); ++k) b[k] = static_cast<uint8_t>((i * 7 + k) & 0xff);
    frames.push_back(
        {1'700'000'000'000'000 + int64_t{i} * 1'000, b, static_cast<uint32_t>(b.size())});
  }
  return frames;
}

// Reads src to its end, expecting frames[next], frames[next + 1], ... whole and in order;
// returns the index after the last frame read (stops at the first mismatch, reported).
int readOnInOrder(PcapFileSource& src, const std::vector<Written>& frames, int next) {
  Frame f;
  for (; src.next(f); ++next) {
    if (next >= static_cast<int>(frames.size()) || f.ts_us != frames[next].ts_us ||
        !std::equal(f.data.begin(), f.data.end(), frames[next].data.begin(),
                    frames[next].data.end())) {
      ADD_FAILURE() << "frame " << next << " is not the one written there";
      break;
    }
  }
  return next;
}

// A capture several times the 4 MiB read buffer: every frame comes back whole and in order (each
// one's bytes carry its index), records of every length crossing the buffer's refills.
TEST(PcapFileSource, LongFileComesBackFrameForFrame) {
  const std::string path = tempPath(".pcap");
  const std::vector<Written> frames = numberedFrames();
  writePcap(path, kDltEn10mb, frames);
  ASSERT_GT(fs::file_size(path), uintmax_t{17} << 20);
  PcapFileSource src(path);
  const int n = readOnInOrder(src, frames, 0);
  EXPECT_EQ(n, kFrames);
  EXPECT_EQ(src.error(), "");
  fs::remove(path);
}

// Another process cuts the file short while it is being read (log rotation, a capture still
// being written and restarted): the read ends with what was there and an error, never a crash
// (a memory-mapped read would take SIGBUS here) and never a frame that was not in the file.
TEST(PcapFileSource, FileCutShortWhileReadEndsCleanly) {
  const std::string path = tempPath(".pcap");
  const std::vector<Written> frames = numberedFrames();
  writePcap(path, kDltEn10mb, frames);
  PcapFileSource src(path);
  Frame f;
  ASSERT_TRUE(src.next(f));
  // Cut in the middle of a record, past what the first read buffered.
  fs::resize_file(path, (uintmax_t{9} << 20) + 77);
  const int n = readOnInOrder(src, frames, 1);
  EXPECT_LT(n, kFrames);
  EXPECT_GT(n, 1000);  // what lay before the cut was read
  EXPECT_NE(src.error(), "") << "a record cut in two is an error";
  fs::remove(path);
}

// A record longer than the file's snapshot length (but within the 262,144-byte bound every
// reader has) is read whole, as tshark reads it; libpcap cuts it to the snapshot length. The
// records around it are unaffected.
TEST(PcapFileSource, RecordBeyondTheSnapshotLengthIsReadWholeAsTsharkReadsIt) {
  const std::string path = tempPath(".pcap");
  std::vector<Written> frames = threeFrames();
  Bytes big(70'000, 0x5a);  // writePcap's snapshot length is 65,535
  frames.insert(frames.begin() + 1, {1'700'000'000'200'000, big, 70'000});
  writePcap(path, kDltEn10mb, frames);
  PcapFileSource src(path);
  const std::vector<Read> got = readAll(src);
  ASSERT_EQ(got.size(), frames.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].ts_us, frames[i].ts_us) << i;
    EXPECT_EQ(got[i].data, frames[i].data) << i;
    EXPECT_EQ(got[i].wire_len, frames[i].wire_len) << i;
  }
  EXPECT_EQ(src.error(), "");
  EXPECT_EQ(src.stats().resyncs, 0u);
  fs::remove(path);
}

TEST(PcapFileSource, ReadsStandardInputForDash) {
  std::string path = tempPath(".pcap");
  writePcap(path, DLT_EN10MB, threeFrames());
  int saved = ::dup(STDIN_FILENO);
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_GE(::dup2(fd, STDIN_FILENO), 0);
  ::close(fd);
  size_t n = 0;
  {
    PcapFileSource src("-");
    n = readAll(src).size();
  }
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  EXPECT_EQ(n, 3u);
  fs::remove(path);
}

TEST(PcapFileSource, UnopenableFileThrowsWithPathAndReason) {
  std::string missing = tempPath(".does-not-exist.pcap");
  try {
    PcapFileSource src(missing);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(missing), std::string::npos) << what;
    EXPECT_NE(what.find("No such file"), std::string::npos) << what;
  }

  std::string text = tempPath(".txt");
  std::ofstream(text) << "this is not a capture file, just some words to fill the header\n";
  try {
    PcapFileSource src(text);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown file format"), std::string::npos) << e.what();
  }
  fs::remove(text);
}

}  // namespace
}  // namespace mcn::capture::test
