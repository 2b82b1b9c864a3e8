// Randomised: whatever the order in which a stream's segments arrive, and however often and in
// whatever overlapping pieces they are retransmitted, the reassembler emits exactly the messages
// that were sent, in order, each at the time the last of the bytes up to its end first arrived.
// Seeded, so a failure names the seed that reproduces it.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "decoder_harness.h"
#include "tcp_test_frames.h"

namespace mcn::capture::test {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;

struct Conversation {
  std::string bytes;
  std::vector<std::string> messages;
  std::vector<size_t> starts;  // offset of each message in `bytes`
  std::vector<size_t> ends;    // offset just past each message
};

std::string randomBody(std::mt19937& rng, size_t n, bool lookalikes) {
  // Text lines; with `lookalikes` some of them look like SIP start lines or headers: the framer
  // must go by Content-Length, not by what the body says.
  static const std::vector<std::string> kSdp = {"v=0\r\n", "a=sendrecv\r\n",
                                                "m=audio 4000 RTP/AVP 0\r\n", "\r\n"};
  static const std::vector<std::string> kLookalikes = {
      "SIP/2.0 200 OK\r\n", "INVITE sip:x@y SIP/2.0\r\n", "Content-Length: 9\r\n"};
  std::string b;
  while (b.size() < n) {
    b += lookalikes && rng() % 3 == 0 ? kLookalikes[rng() % kLookalikes.size()]
                                      : kSdp[rng() % kSdp.size()];
  }
  // SDP lines end in CRLF (RFC 4566 §5); the bodies with look-alikes are cut anywhere.
  if (lookalikes) b.resize(n);
  return b;
}

Conversation randomConversation(std::mt19937& rng, bool lookalikes) {
  static const std::vector<std::string> kStart = {
      "INVITE sip:+862583001013@ims.example.net SIP/2.0",
      "ACK sip:1013@198.51.100.20 SIP/2.0",
      "BYE sip:1013@198.51.100.20 SIP/2.0",
      "CANCEL sip:1013@ims.example.net SIP/2.0",
      "SIP/2.0 100 Trying",
      "SIP/2.0 180 Ringing",
      "SIP/2.0 200 OK",
      "SIP/2.0 486 Busy Here"};
  Conversation c;
  int n = 1 + static_cast<int>(rng() % 6);
  for (int i = 0; i < n; ++i) {
    if (rng() % 3 == 0) c.bytes += rng() % 2 ? "\r\n\r\n" : "\r\n";  // keep-alives between
    size_t body = rng() % 4 == 0 ? 0 : rng() % 1500;
    std::string m = sipMessage(kStart[rng() % kStart.size()], "rnd" + std::to_string(i),
                               randomBody(rng, body, lookalikes), /*compact=*/rng() % 2 == 0);
    c.starts.push_back(c.bytes.size());
    c.bytes += m;
    c.messages.push_back(m);
    c.ends.push_back(c.bytes.size());
  }
  return c;
}

struct Piece {
  uint32_t off;
  std::string bytes;
};

TEST(TcpRandomised, AnyOrderAndDuplicationReassemblesTheSameMessages) {
  for (uint32_t seed = 1; seed <= 1500; ++seed) {
    std::mt19937 rng(seed);
    Conversation conv = randomConversation(rng, /*lookalikes=*/true);
    const size_t len = conv.bytes.size();

    // Cut into segments of 1..600 bytes, then add retransmissions of random ranges (which
    // overlap segment boundaries, as a sender that repacketises does) and exact duplicates.
    std::vector<Piece> pieces;
    for (size_t off = 0; off < len;) {
      size_t n = std::min(len - off, size_t{1} + rng() % 600);
      pieces.push_back({static_cast<uint32_t>(off), conv.bytes.substr(off, n)});
      off += n;
    }
    size_t extra = rng() % (pieces.size() + 2);
    for (size_t i = 0; i < extra; ++i) {
      if (rng() % 2 == 0) {
        pieces.push_back(pieces[rng() % pieces.size()]);
      } else {
        size_t a = rng() % len;
        size_t n = std::min(len - a, size_t{1} + rng() % 700);
        pieces.push_back({static_cast<uint32_t>(a), conv.bytes.substr(a, n)});
      }
    }
    std::shuffle(pieces.begin(), pieces.end(), rng);

    TcpDirection dir;
    dir.isn = static_cast<uint32_t>(rng());  // anywhere, so some streams wrap past 2^32
    if (seed % 7 == 0) dir.isn = 0xffffffffu - static_cast<uint32_t>(rng() % 2000);

    Harness h;
    h.decode(kDltEn10mb, dir.syn(), kT0);
    // When each byte first arrived: a message is complete once every byte up to its end has.
    std::vector<int64_t> first_arrival(len, -1);
    for (size_t i = 0; i < pieces.size(); ++i) {
      int64_t ts = kT0 + 1 + static_cast<int64_t>(i);
      for (size_t b = 0; b < pieces[i].bytes.size(); ++b) {
        if (first_arrival[pieces[i].off + b] < 0) first_arrival[pieces[i].off + b] = ts;
      }
      h.decode(kDltEn10mb, dir.data(pieces[i].off, pieces[i].bytes), ts);
    }

    ASSERT_EQ(h.out.size(), conv.messages.size()) << "seed " << seed;
    int64_t complete = 0;
    size_t from = 0;
    for (size_t m = 0; m < conv.messages.size(); ++m) {
      for (; from < conv.ends[m]; ++from) complete = std::max(complete, first_arrival[from]);
      ASSERT_EQ(h.out[m].bytes, conv.messages[m]) << "seed " << seed << " message " << m;
      ASSERT_EQ(h.out[m].ts_us, complete) << "seed " << seed << " message " << m;
    }
    ASSERT_EQ(h.count("tcp.sip"), conv.messages.size()) << "seed " << seed;
    ASSERT_EQ(h.count("tcp.gaps"), 0u) << "seed " << seed;
    ASSERT_EQ(h.count("tcp.unreassembled"), 0u) << "seed " << seed;
    ASSERT_EQ(h.count("tcp.skipped_bytes"), 0u) << "seed " << seed;
  }
}

// A stream with one random range of bytes lost. The messages wholly before the hole come out,
// and so does every message that starts after it: the stream skips the hole and resynchronises at
// the next SIP start line. Bodies here hold no line that looks like a start line, so the only
// thing the resynchronisation can take for one is the tail of a request line cut by the hole
// ("VITE sip:... SIP/2.0" is a well-formed request of an extension method): at most that one
// extra message may come out, between the two groups. Nothing else, and never a splice of two.
// The bodies end in CRLF as SDP does: the next start line is looked for at line starts only, so a
// message right after a hole and a body that does not end its last line would be lost too.
TEST(TcpRandomised, ALostRangeCostsOnlyTheMessagesItTouches) {
  for (uint32_t seed = 1; seed <= 800; ++seed) {
    std::mt19937 rng(seed);
    Conversation conv = randomConversation(rng, /*lookalikes=*/false);
    const size_t len = conv.bytes.size();
    const size_t lost_a = rng() % len;
    const size_t lost_b = std::min(len, lost_a + 1 + rng() % 300);

    std::vector<Piece> pieces;
    for (size_t off = 0; off < len;) {
      size_t b = std::min(len, off + 1 + rng() % 400);
      // What the segment holds outside the lost range.
      if (off < lost_a) {
        pieces.push_back(
            {static_cast<uint32_t>(off), conv.bytes.substr(off, std::min(b, lost_a) - off)});
      }
      if (b > lost_b) {
        size_t s = std::max(off, lost_b);
        pieces.push_back({static_cast<uint32_t>(s), conv.bytes.substr(s, b - s)});
      }
      off = b;
    }
    std::shuffle(pieces.begin(), pieces.end(), rng);

    TcpDirection dir;
    dir.isn = static_cast<uint32_t>(rng());
    Harness h;
    h.decode(kDltEn10mb, dir.syn(), kT0);
    for (size_t i = 0; i < pieces.size(); ++i) {
      h.decode(kDltEn10mb, dir.data(pieces[i].off, pieces[i].bytes), kT0 + 1 + int64_t(i));
    }
    h.decode(kDltEn10mb, dir.fin(static_cast<uint32_t>(len)), kT0 + 10'000);
    // Past the gap timeout the hole is skipped; past the idle timeout the stream is closed.
    h.decode(kDltEn10mb, dir.ack(0), kT0 + 3'000'000);
    h.decode(kDltEn10mb, dir.ack(0), kT0 + 70'000'000);

    std::vector<std::string> before, after;
    const std::string* straddler = nullptr;
    for (size_t m = 0; m < conv.messages.size(); ++m) {
      if (conv.ends[m] <= lost_a) before.push_back(conv.messages[m]);
      if (conv.starts[m] >= lost_b) after.push_back(conv.messages[m]);
      if (conv.starts[m] < lost_b && lost_b < conv.ends[m]) straddler = &conv.messages[m];
    }
    std::vector<std::string> got;
    for (const auto& p : h.out) got.push_back(p.bytes);
    size_t extra = got.size() - std::min(got.size(), before.size() + after.size());
    ASSERT_LE(extra, 1u) << "seed " << seed;
    ASSERT_EQ(got.size(), before.size() + after.size() + extra) << "seed " << seed;
    for (size_t i = 0; i < before.size(); ++i) ASSERT_EQ(got[i], before[i]) << "seed " << seed;
    if (extra == 1) {
      const std::string& tail = got[before.size()];
      ASSERT_NE(straddler, nullptr) << "seed " << seed;
      ASSERT_LT(tail.size(), straddler->size()) << "seed " << seed;
      ASSERT_EQ(straddler->substr(straddler->size() - tail.size()), tail) << "seed " << seed;
    }
    for (size_t i = 0; i < after.size(); ++i) {
      ASSERT_EQ(got[before.size() + extra + i], after[i]) << "seed " << seed;
    }
    if (lost_b < len) {
      ASSERT_EQ(h.count("tcp.gaps"), 1u) << "seed " << seed;
    }
  }
}

}  // namespace
}  // namespace mcn::capture::test
