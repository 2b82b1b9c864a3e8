// looksLikeSip, Endpoint::toString and transportName.

#include <gtest/gtest.h>

#include <string>

#include "mcn/capture/decoder.h"
#include "mcn/capture/sip_payload.h"

namespace mcn::capture {
namespace {

TEST(LooksLikeSip, AcceptsRequestAndStatusLines) {
  EXPECT_TRUE(looksLikeSip("INVITE sip:+862583001013@ims.example.net;user=phone SIP/2.0\r\n"));
  EXPECT_TRUE(looksLikeSip("ACK sips:bob@example.com SIP/2.0\r\nVia: x\r\n"));
  EXPECT_TRUE(looksLikeSip("INVITE tel:+862583001013 SIP/2.0\r\n"));
  EXPECT_TRUE(looksLikeSip("INVITE urn:service:sos SIP/2.0\r\n"));  // RFC 5031
  EXPECT_TRUE(looksLikeSip("X-FOO.bar! sip:a@b SIP/2.0\r\n"));      // extension method token
  EXPECT_TRUE(looksLikeSip("SIP/2.0 200 OK\r\n"));
  EXPECT_TRUE(looksLikeSip("SIP/2.0 183 Session Progress\r\n"));
  EXPECT_TRUE(looksLikeSip("SIP/2.0 603 \r\n"));           // empty reason phrase
  EXPECT_TRUE(looksLikeSip("sip/2.0 486 Busy Here\r\n"));  // RFC 3261 §7.1: case-insensitive
  EXPECT_TRUE(looksLikeSip("BYE sip:a@b SIP/2.0\n"));      // bare LF
}

TEST(LooksLikeSip, RejectsOtherProtocolsAndGarbage) {
  EXPECT_FALSE(looksLikeSip(""));
  EXPECT_FALSE(looksLikeSip("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(looksLikeSip("GET http://example.com/ HTTP/1.1\r\n"));
  EXPECT_FALSE(looksLikeSip("HTTP/1.1 200 OK\r\n"));
  EXPECT_FALSE(looksLikeSip("OPTIONS rtsp://example.com/media RTSP/1.0\r\n"));
  EXPECT_FALSE(looksLikeSip(std::string("\x80\x08\x00\x01\x00\x00\x00\xa0", 8)));  // RTP
  EXPECT_FALSE(looksLikeSip(std::string("\x00\x01\x00\x00\x21\x12\xa4\x42", 8)));  // STUN
  EXPECT_FALSE(looksLikeSip("\r\n\r\n"));
  EXPECT_FALSE(looksLikeSip("SIP/2.0 20 OK\r\n"));
  EXPECT_FALSE(looksLikeSip("SIP/2.0 2000 OK\r\n"));
  EXPECT_FALSE(looksLikeSip("SIP/2.0 099 Low\r\n"));
  EXPECT_FALSE(looksLikeSip("SIP/2.0 700 High\r\n"));
  EXPECT_FALSE(looksLikeSip("SIP/2.0 200"));
  EXPECT_FALSE(looksLikeSip("SIP/3.0 200 OK\r\n"));
  EXPECT_FALSE(looksLikeSip("INVITE sip:a@b SIP/3.0\r\n"));
  EXPECT_FALSE(looksLikeSip("INVITE sip:a@b SIP/2.0"));  // no line end: not a whole line
  EXPECT_FALSE(looksLikeSip("INVITE sip:a@b SIP/2.00\r\n"));
  EXPECT_FALSE(looksLikeSip("INVITE sip: SIP/2.0\r\n"));     // empty URI after the scheme
  EXPECT_FALSE(looksLikeSip("INVITE a@b SIP/2.0\r\n"));      // no scheme
  EXPECT_FALSE(looksLikeSip("INVITE 1sip:a SIP/2.0\r\n"));   // scheme must start with a letter
  EXPECT_FALSE(looksLikeSip("INV{TE sip:a@b SIP/2.0\r\n"));  // '{' is not a token character
  EXPECT_FALSE(looksLikeSip(" INVITE sip:a@b SIP/2.0\r\n"));
  EXPECT_FALSE(looksLikeSip("INVITE sip:a\x01@b SIP/2.0\r\n"));
  EXPECT_FALSE(looksLikeSip("INVITE"));
  EXPECT_FALSE(looksLikeSip("INVITE sip:a@b"));
}

// Issue 14 item 4: start lines a person reads as SIP although a space is missing or doubled
// (old test tools, some devices; tshark 4.0 shows them as plain UDP). sipparse's lenient path reads
// them (sipparse/README.md, "Lenient path"), so they must reach it rather than count as
// udp.not_sip. Until this change "INVITE  sip:a@b SIP/2.0" was asserted not to be SIP.
TEST(LooksLikeSip, AcceptsStartLinesWithAMissingOrDoubledSpace) {
  EXPECT_TRUE(looksLikeSip("INVITE  sip:a@b SIP/2.0\r\n"));            // two spaces
  EXPECT_TRUE(looksLikeSip("INVITE sip:a@b   SIP/2.0\r\n"));           // three before the version
  EXPECT_TRUE(looksLikeSip("INVITE\tsip:a@b\tSIP/2.0\r\n"));           // tabs
  EXPECT_TRUE(looksLikeSip("INVITE sip:a@b SIP/2.0 \r\n"));            // a space before CRLF
  EXPECT_TRUE(looksLikeSip("INVITE sip:1013@hostSIP/2.0\r\n"));        // URI runs into the version
  EXPECT_TRUE(looksLikeSip("BYE sip:1013@192.0.2.1:5060SIP/2.0\n"));   // ... with a bare LF
  EXPECT_TRUE(looksLikeSip("INVITE tel:+8613900101230sip/2.0 \r\n"));  // ... and a space
  EXPECT_TRUE(looksLikeSip("REGISTER  sip:ims.example.net SIP/2.0\r\n"));
  EXPECT_TRUE(looksLikeSip("SIP/2.0180 Ringing\r\n"));  // no space before the code
  EXPECT_TRUE(looksLikeSip("SIP/2.0  180 Ringing\r\n"));
  EXPECT_TRUE(looksLikeSip("SIP/2.0\t486 Busy Here\r\n"));
  EXPECT_TRUE(looksLikeSip("SIP/2.0 180Ringing\r\n"));  // no space after the code
  EXPECT_TRUE(looksLikeSip("SIP/2.0 200\r\n"));         // no reason phrase, no space
  EXPECT_TRUE(looksLikeSip("SIP/2.0200\n"));
}

// What the relaxation must keep out: other text protocols (their lines never end in SIP/2.0),
// codes that are not three digits, and lines that are not whole.
TEST(LooksLikeSip, RelaxedStartLinesStillRejectOtherProtocols) {
  EXPECT_FALSE(looksLikeSip("GET  / HTTP/1.1\r\n"));
  EXPECT_FALSE(looksLikeSip("GET  http://example.com/SIP/2.0 HTTP/1.1\r\n"));
  EXPECT_FALSE(looksLikeSip("HTTP/1.1  200 OK\r\n"));
  EXPECT_FALSE(looksLikeSip("OPTIONS  rtsp://example.com/media RTSP/1.0\r\n"));
  EXPECT_FALSE(looksLikeSip("RTSP/1.0  200 OK\r\n"));
  EXPECT_FALSE(looksLikeSip("MSRP a786hjs2  SEND\r\n"));   // RFC 4975 request
  EXPECT_FALSE(looksLikeSip("MSRP a786hjs2 200 OK\r\n"));  // and response
  EXPECT_FALSE(looksLikeSip("SIP/2.01800 Ringing\r\n"));   // four digits
  EXPECT_FALSE(looksLikeSip("SIP/2.0  18 Ringing\r\n"));   // two digits
  EXPECT_FALSE(looksLikeSip("SIP/2.0  099 Low\r\n"));
  EXPECT_FALSE(looksLikeSip("SIP/2.0 200-OK\r\n"));     // neither space nor reason
  EXPECT_FALSE(looksLikeSip("SIP/2.0  200"));           // the line may go on: 2000?
  EXPECT_FALSE(looksLikeSip("SIP/2.0\r\n200 OK\r\n"));  // a line end is not a space
  EXPECT_FALSE(looksLikeSip("INVITE\r\nsip:a@b SIP/2.0\r\n"));
  EXPECT_FALSE(looksLikeSip("INVITE  sip:a@b\r\n"));     // no version at all
  EXPECT_FALSE(looksLikeSip("INVITE sip:SIP/2.0\r\n"));  // nothing but the version
  EXPECT_FALSE(looksLikeSip("INVITE sip:a@bSIP/2.0"));   // no line end
  EXPECT_FALSE(looksLikeSip("INVITE sip:a@bSIP/2.00\r\n"));
  EXPECT_FALSE(looksLikeSip("INVITE sip:a@b SIP/2.0 x\r\n"));
  EXPECT_FALSE(looksLikeSip("INVITE sip:a@b  SIP/3.0\r\n"));
  EXPECT_FALSE(looksLikeSip("INVITE  a@b SIP/2.0\r\n"));  // no scheme
  EXPECT_FALSE(looksLikeSip("  SIP/2.0 200 OK\r\n"));
}

TEST(LooksLikeSip, NeverReadsPastTheView) {
  // The view ends before "SIP/2.0\r\n" is whole; the bytes after it must not be looked at.
  std::string buf = "INVITE sip:a@b SIP/2.0\r\n";
  for (size_t n = 0; n < buf.size() - 1; ++n) {
    EXPECT_FALSE(looksLikeSip(std::string_view(buf.data(), n))) << n;
  }
  EXPECT_TRUE(looksLikeSip(buf));
  for (std::string lenient : {"INVITE  sip:a@bSIP/2.0 \r\n", "SIP/2.0  180R"}) {
    for (size_t n = 0; n + 1 < lenient.size(); ++n) {
      EXPECT_FALSE(looksLikeSip(std::string_view(lenient.data(), n))) << lenient << n;
    }
    EXPECT_TRUE(looksLikeSip(lenient)) << lenient;
  }
}

// The Request-URI is read 16 bytes at a time while the datagram has them: a byte that ends it
// (SP, HT, a control character, DEL) or a long URI of visible bytes (UTF-8 too) gives the same
// verdict wherever it falls against those blocks, and a view cut anywhere is never read past.
TEST(LooksLikeSip, RequestUriOfAnyLength) {
  for (size_t len = 1; len <= 70; ++len) {
    const std::string uri = "sip:" + std::string(len, 'u');
    EXPECT_TRUE(looksLikeSip("INVITE " + uri + " SIP/2.0\r\n")) << len;
    EXPECT_TRUE(looksLikeSip("INVITE " + uri + "SIP/2.0\r\n")) << len;  // ran into the version
    std::string utf8 = uri;
    utf8[4 + len / 2] = '\xc3';
    EXPECT_TRUE(looksLikeSip("INVITE " + utf8 + " SIP/2.0\r\n")) << len;
    for (const char stop : {'\x01', '\x7f', '\0', '\r'}) {
      std::string bad = uri;
      bad[4 + len / 2] = stop;
      EXPECT_FALSE(looksLikeSip("INVITE " + bad + " SIP/2.0\r\n")) << len << " " << int{stop};
    }
    const std::string whole = "INVITE " + uri + " SIP/2.0\r\n";
    for (size_t n = 0; n + 1 < whole.size(); ++n) {
      EXPECT_FALSE(looksLikeSip(std::string_view(whole.data(), n))) << len << " " << n;
    }
  }
}

TEST(Endpoint, ToString) {
  Endpoint v4;
  v4.addr = {192, 0, 2, 1};
  v4.port = 5060;
  EXPECT_EQ(v4.toString(), "192.0.2.1:5060");

  Endpoint v6;
  v6.v6 = true;
  v6.addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  v6.port = 5060;
  EXPECT_EQ(v6.toString(), "[2001:db8::1]:5060");

  // RFC 5952 §4.2.3: the first of two equal zero runs is shortened.
  Endpoint w;
  w.v6 = true;
  w.addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
  w.port = 65535;
  EXPECT_EQ(w.toString(), "[2001:db8::1:0:0:1]:65535");

  Endpoint zero;
  EXPECT_EQ(zero.toString(), "0.0.0.0:0");
}

TEST(Transport, Names) {
  EXPECT_STREQ(transportName(Transport::kUdp), "udp");
  EXPECT_STREQ(transportName(Transport::kTcp), "tcp");
  EXPECT_STREQ(transportName(Transport::kSctp), "sctp");
}

}  // namespace
}  // namespace mcn::capture
