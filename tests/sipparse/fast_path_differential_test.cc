// The fast path (sipparse/src/fast_path.h) against the reference: a parser with
// `fast_path = false` sends every message through sofia-sip's full parse. For every SIP message
// of every fixture in pcaps/, of a generated mix, of hand-written edge cases and of systematic
// variants of all of them (other line ends, compact and lower-case names, folding, cuts,
// escapes), both parsers must return the same SipEvent, or both drop it, and end with the same
// counters. The fast path must also take the bulk of ordinary traffic, or it is no faster.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../../sipparse/src/fast_path.h"
#include "mcn/capture/decoder.h"
#include "mcn/capture/pcap_source.h"
#include "mcn/sipparse/parser.h"
#include "sip_event_text.h"
#include "sip_test_util.h"

namespace mcn::sipparse {
namespace {

namespace fs = std::filesystem;
using test_util::crlf;
using test_util::eventText;
using test_util::imsConfig;
using test_util::payloadOf;

// Every SIP message in a capture, as the capture layer hands them over (no pre-filter, so
// REGISTER and OPTIONS are compared too).
std::vector<capture::SipPayload> messagesOf(const std::string& path) {
  std::vector<capture::SipPayload> out;
  capture::DecoderConfig dc;
  dc.prefilter = false;
  capture::FrameDecoder decoder(dc, [&](capture::SipPayload&& p) { out.push_back(std::move(p)); });
  capture::PcapFileSource src(path);
  src.forEach(
      [&](const capture::Frame& f) { decoder.decode(f.link_type, f.ts_us, f.data, f.wire_len); });
  decoder.finish();
  return out;
}

std::vector<std::pair<std::string, uint64_t>> countersOf(const SipParser& p) {
  std::vector<std::pair<std::string, uint64_t>> out;
  p.forEachCounter([&](std::string_view n, uint64_t v) { out.emplace_back(std::string(n), v); });
  return out;
}

struct Differ {
  SipParser fast{imsConfig()};
  SipParser full{[] {
    ParserConfig c = imsConfig();
    c.fast_path = false;
    return c;
  }()};
  SipEvent reused;  // parseInto with one event, as the replay loop does
  size_t compared = 0;
  size_t mismatches = 0;

  void check(const capture::SipPayload& p, const std::string& where) {
    ++compared;
    const auto want = full.parse(p);
    const auto got = fast.parse(p);
    const bool got_reused = fast.parseInto(p, reused);
    full.parse(p);  // keep the counters in step with the two fast-side calls
    ASSERT_EQ(got.has_value(), want.has_value()) << where << "\n"
                                                 << p.bytes.substr(0, 600) << "\n"
                                                 << (want ? eventText(*want) : "");
    ASSERT_EQ(got_reused, want.has_value()) << where;
    if (!want) return;
    if (eventText(*got) != eventText(*want) || eventText(reused) != eventText(*want)) {
      ++mismatches;
      ADD_FAILURE() << where << "\n"
                    << p.bytes.substr(0, 800) << "\nsofia: " << eventText(*want)
                    << "\nfast:  " << eventText(*got) << "\nreuse: " << eventText(reused);
    }
  }

  void finish() { EXPECT_EQ(countersOf(fast), countersOf(full)); }
};

// Systematic variants of one message: each exercises a boundary of the fast path's subset.
std::vector<std::string> variantsOf(const std::string& m) {
  std::vector<std::string> v;
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = m;
    size_t pos = 0;
    bool any = false;
    while ((pos = s.find(from, pos)) != std::string::npos) {
      s.replace(pos, from.size(), to);
      pos += to.size();
      any = true;
    }
    if (any) v.push_back(std::move(s));
  };
  replaced("\r\n", "\n");           // bare LF line ends (sofia accepts them)
  replaced("\r\nFrom:", "\r\nf:");  // compact forms, RFC 3261 §7.3.3
  replaced("\r\nTo:", "\r\nt:");
  replaced("\r\nVia:", "\r\nv:");
  replaced("\r\nCall-ID:", "\r\ni:");
  replaced("\r\nContent-Length:", "\r\nl:");
  replaced("\r\nCall-ID:", "\r\ncall-id:");  // names are case-insensitive (§7.3.5)
  replaced("\r\nP-Asserted-Identity:", "\r\np-asserted-identity :");
  replaced(": ", ":   ");  // more LWS after the colon
  replaced(";tag=", ";TAG=");
  replaced(";branch=", ";Branch=");
  replaced(";branch=", " ;branch=");  // LWS before a parameter
  replaced("<sip:", "<sip:%2B");      // escapes sofia decodes (RFC 3986 §2.1)
  replaced("<sip:", "<SIP:");
  replaced("sip:+", "sip:%2b");
  replaced("@", "%40@");
  replaced(">;tag=", "> ;tag=");
  replaced("\"", "");                            // unquoted display names
  replaced("\r\nFrom: \"", "\r\nFrom: \"\\\"");  // a quoted-pair in the display name
  replaced("<", "");                             // addr-spec forms
  replaced(", ", ",");                           // list separators
  replaced(";user=phone", ";user=phone;x=\"a b\"");
  replaced("Content-Length: 0", "Content-Length: 1");  // body shorter than announced
  replaced("Content-Length: 0", "Content-Length: 00");
  replaced("Content-Length: ", "Content-Length: +");
  replaced("\r\nCSeq: ", "\r\nCSeq:  ");
  replaced(" INVITE\r\n", "  INVITE\r\n");
  replaced("SIP/2.0\r\n", "SIP/2.0 \r\n");
  replaced("SIP/2.0/UDP ", "SIP/2.0/UDP  ");
  replaced("SIP/2.0/UDP", "SIP / 2.0 / UDP");
  replaced(";rport", ";rport=");
  replaced("Reason: SIP;", "Reason: SIP ;");
  replaced(";text=\"", ";text=\"\\\"");
  const size_t from = m.find("\r\nFrom:");
  if (from != std::string::npos) {
    std::string s = m;
    s.insert(from + 2, "From: <sip:other@x>;tag=2\r\n");  // a second From (§20.20: one only)
    v.push_back(s);
    s = m;
    s.insert(m.find("\r\n", from + 2), "\r\n  ;x=1");  // a folded continuation (§7.3.1)
    v.push_back(s);
  }
  const size_t head_end = m.find("\r\n\r\n");
  if (head_end != std::string::npos) {
    v.push_back(m.substr(0, head_end + 2));  // no empty line: cut inside the head
    v.push_back(m + "x");                    // one byte more than Content-Length
    std::string s = m;
    s.insert(head_end + 2, "X-Empty:\r\nX-Odd: a\tb  \r\nP-Called-Party-ID: <sip:1013@x>\r\n");
    v.push_back(s);
    s = m;
    s.insert(head_end + 2,
             "Via: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKv6;received=[2001:db8::9]\r\n");
    v.push_back(s);
    s = m;
    s.insert(head_end + 2, std::string("X-Nul: a") + '\0' + "b\r\n");
    v.push_back(s);
  }
  for (size_t cut : {size_t{1}, m.size() / 3, m.size() / 2, m.size() - 1}) {
    if (cut < m.size()) v.push_back(m.substr(0, cut));
  }
  return v;
}

TEST(FastPathDifferential, EveryFixtureMessageAndItsVariants) {
  Differ d;
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(MCN_SOURCE_DIR) / "pcaps")) {
    if (e.path().extension() != ".pcap") continue;
    ++files;
    size_t i = 0;
    for (const capture::SipPayload& p : messagesOf(e.path().string())) {
      const std::string where = e.path().filename().string() + " #" + std::to_string(++i);
      d.check(p, where);
      size_t k = 0;
      for (std::string& v : variantsOf(p.bytes)) {
        capture::SipPayload q = p;
        q.bytes = std::move(v);
        d.check(q, where + " variant " + std::to_string(++k));
      }
    }
  }
  EXPECT_GT(files, 50u);
  EXPECT_GT(d.compared, 10'000u);
  EXPECT_EQ(d.mismatches, 0u);
  d.finish();
}

TEST(FastPathDifferential, HandWrittenEdgeCases) {
  const std::string head =
      "INVITE sip:1013@ims.example.com;user=phone SIP/2.0\n"
      "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-e1, SIP/2.0/TCP "
      "pcscf.example:5060;branch=z9hG4bK-e0\n"
      "Call-ID: edge-1@192.0.2.40\n"
      "CSeq: 7 INVITE\n";
  const std::vector<std::string> cases = {
      "From: \"Li Wei\" <sip:+8613900101230@ims.example.com;user=phone>;tag=a1\n"
      "To: Zhang Min <tel:+862583001013;phone-context=ims.example.com>\n",
      "From: <sip:anonymous@anonymous.invalid>;tag=a2\nTo: <sip:1013@ims.example.com>\n"
      "Privacy: id;header\nPrivacy: user\n",
      "From: <sip:+86-25-8300-1013@x>;tag=a3;epid=1\nTo: <sip:1013@x>;tag=b3\n"
      "P-Asserted-Identity: \"A, B\" <sip:+8613900101230@x>, <tel:+8613900101230>\n"
      "P-Called-Party-ID: <sip:+862583001013@x>\n"
      "Diversion: <sip:1013@x>;reason=user-busy;counter=1\n"
      "History-Info: <sip:1013@x?Reason=SIP%3Bcause%3D486>;index=1.1\n"
      "P-Charging-Vector: icid-value=abc;icid-generated-at=1.2.3.4\nX-CID: \"corr-1\"\n"
      "Reason: Q.850;cause=16;text=\"Normal, clearing\", SIP;cause=200;text=\"x\"\n",
      "From: <sips:alice@[2001:db8::1]:5061;transport=tls>;tag=a4\nTo: <sip:bob@h?subject=x>\n",
      "From: <sip:1014@h>;tag=p1\nTo: <sip:+8613900101230@h>\n"
      "Replaces: 12-34@127.0.2.20;to-tag=b-1013;from-tag=a-1230;early-only\n",
      "From: <sip:1014@h>;tag=p2\nTo: <sip:b@h>\nreplaces:x@y ; FROM-TAG=\"q\" ;to-tag=t\n"
      "Replaces: second@y;to-tag=u\n",
      "From: <sip:1014@h>;tag=p3\nTo: <sip:b@h>\nReplaces: ;to-tag=t\n",
      "From: <sip:a@h>;tag=a5\nTo: <sip:b@h>\nMax-Forwards : 70\nX-Empty:\n",
      "From: <sip:a@h>;tag=\nTo: <sip:b@h>\n",
      "From: <sip:a@h:>;tag=a6\nTo: <sip:b@h>\n",
      "From: <sip:@h>;tag=a7\nTo: <sip:b@h>\n",
      "From: <sip:a:pw@h>;tag=a8\nTo: <sip:b@h>\n",
      "From: <sip:a@h>;tag=a9;tag=b9\nTo: <sip:b@h>\n",
      "From: <sip:a@h#frag>;tag=a10\nTo: <sip:b@h/path>\n",
      "From: <mailto:a@h>;tag=a11\nTo: <urn:service:sos>\n",
      "From: <tel:+86 25>;tag=a12\nTo: <sip:b@h>\n",
      "From: \"\" <sip:a@h>;tag=a13\nTo:<sip:b@h>\n",
      "From: \xe6\x9d\x8e <sip:a@h>;tag=a14\nTo: \"\xe6\x9d\x8e\" <sip:b@h>\n",
      "From: <sip:a@h>;tag=a15\nTo: <sip:b@h>\nCall-ID: second@h\n",
      "From: <sip:a@h>;tag=a16\nTo: <sip:b@h>\nContent-Length: 0\n",
      "From: <sip:a@h>;tag=a17\nTo: <sip:b@h>\nVia: SIP/2.0/UDP h;branch=x (comment)\n",
      "From: <sip:a@h>;tag=a18\nTo: <sip:b@h>\nVia: SIP/2.0/UDP h:99999999;branch=x\n",
      "From: <sip:a@h>;tag=a19\nTo: <sip:b@h>\nReason: SIP;cause=600;cause=486\n",
  };
  Differ d;
  size_t i = 0;
  for (const std::string& c : cases) {
    for (const std::string& body : {std::string(), std::string("v=0\n")}) {
      const std::string m = crlf(
          head + c + "Content-Length: " + std::to_string(body.size() + (body.empty() ? 0 : 1)) +
          "\n\n" + body);
      const std::string where = "case " + std::to_string(++i);
      d.check(payloadOf(m), where);
      size_t k = 0;
      for (std::string& v : variantsOf(m))
        d.check(payloadOf(std::move(v)), where + " variant " + std::to_string(++k));
    }
  }
  for (const char* status :
       {"SIP/2.0 180 Ringing\n", "SIP/2.0 200\n", "SIP/2.0 99 Odd\n", "SIP/2.0 486  Busy Here\n",
        "sip/2.0 486 Busy Here\n", "SIP/2.0 700 Too High\n", "SIP/3.0 200 OK\n"}) {
    const std::string m = crlf(std::string(status) +
                               "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-r\n"
                               "From: <sip:a@h>;tag=r1\nTo: <sip:b@h>;tag=r2\n"
                               "Call-ID: resp@h\nCSeq: 1 INVITE\nContent-Length: 0\n\n");
    d.check(payloadOf(m), status);
  }
  EXPECT_EQ(d.mismatches, 0u);
  d.finish();
}

// The scan reads some runs 16 bytes at a time (a line's CR, a quoted display name, the tokens of
// From/To parameters and of Via): each must stop exactly where a byte-by-byte reading stops,
// wherever in a block the byte that ends it falls. Every position of four long runs gets each
// byte of a set that ends a run, continues it, or makes the message one for sofia. Both parsers
// must agree, and the fast path must take (and read right) what its subset allows, or a block
// that stopped early would go unnoticed (declining is never wrong, only slower).
TEST(FastPathDifferential, BlockWiseRunsStopWhereTheBytesSay) {
  const std::string display = "Display Name Of Forty Characters Or So!";
  const std::string tag = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
  const std::string branch = "z9hG4bK0123456789abcdefghijklmnopqrstuvwxyzAB";
  const std::string subject = "a value whose line is longer than two blocks of sixteen bytes";
  auto message = [&](const std::string& d, const std::string& t, const std::string& b,
                     const std::string& subj) {
    return crlf(
        "INVITE sip:1013@ims.example.com SIP/2.0\n"
        "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=" +
        b +
        ", SIP/2.0/TCP pcscf.example:5060;branch=z9hG4bK-e0\n"
        "From: \"" +
        d + "\" <sip:+8613900101230@ims.example.com>;tag=" + t +
        "\n"
        "To: <sip:1013@ims.example.com>\n"
        "Call-ID: runs@192.0.2.40\n"
        "CSeq: 7 INVITE\n"
        "Subject: " +
        subj +
        "\n"
        "Content-Length: 0\n\n");
  };
  fast::Scan scan;
  const std::string base = message(display, tag, branch, subject);  // the scan's views are into it
  ASSERT_TRUE(fast::scanMessage(base, scan));
  ASSERT_EQ(scan.from.tag, tag);
  ASSERT_EQ(scan.via_branch, branch);

  // token characters (RFC 3261 §25.1) the fast path takes in a tag or branch; then bytes that
  // end a token run, or a display name, or the line
  const std::string token_ok = "-.!%*_+~";
  const std::string others =
      std::string("`'\\\"\t\x01\x0b\x7f\x80 ,;=@[/:<>") + '\r' + '\n' + std::string(1, '\0');
  Differ d;
  size_t taken = 0;
  for (size_t pos = 0; pos < 40; ++pos) {
    for (const char c : token_ok + others) {
      const std::string where = "position " + std::to_string(pos) + " byte " +
                                std::to_string(static_cast<unsigned char>(c));
      std::string t = tag, b = branch, dn = display, subj = subject;
      t[pos] = c;
      b[pos] = c;
      dn[pos] = c;
      subj[pos] = c;
      const std::vector<std::pair<std::string, std::string>> variants = {
          {"tag", message(display, t, branch, subject)},
          {"branch", message(display, tag, b, subject)},
          {"display", message(dn, tag, branch, subject)},
          {"subject", message(display, tag, branch, subj)},
      };
      for (const auto& [run, m] : variants) d.check(payloadOf(m), run + " " + where);
      if (token_ok.find(c) != std::string::npos) {
        ASSERT_TRUE(fast::scanMessage(variants[0].second, scan)) << where;
        EXPECT_EQ(scan.from.tag, t) << where;
        ASSERT_TRUE(fast::scanMessage(variants[1].second, scan)) << where;
        EXPECT_EQ(scan.via_branch, b) << where;
        taken += 2;
      }
      // a quoted display name holds any byte but '"', '\' and controls (DEL among them)
      const auto u = static_cast<unsigned char>(c);
      if (c != '"' && c != '\\' && u >= 0x20 && u != 0x7f) {
        ASSERT_TRUE(fast::scanMessage(variants[2].second, scan)) << where;
        EXPECT_EQ(scan.from.display, "\"" + dn + "\"") << where;
        ++taken;
      }
      // a value holds any byte but CR, LF and NUL as far as the line split goes
      if (c != '\r' && c != '\n' && c != '\0') {
        ASSERT_TRUE(fast::scanMessage(variants[3].second, scan)) << where;
        ++taken;
      }
    }
  }
  EXPECT_EQ(d.mismatches, 0u);
  d.finish();
  EXPECT_GT(taken, 2'000u);
}

TEST(FastPathDifferential, GeneratedMixAndTheShareTheFastPathTakes) {
  const fs::path dir = fs::temp_directory_path() / ("mcn_fastpath_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path pcap = dir / "mix.pcap";
  const std::string cmd = std::string(MCN_BINARY_DIR) +
                          "/mcn-gen mix --calls 300 --seed 99 --threads 1 -o " + pcap.string() +
                          " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const auto messages = messagesOf(pcap.string());
  fs::remove_all(dir);
  ASSERT_GT(messages.size(), 5'000u);

  Differ d;
  fast::Scan scan;
  size_t taken = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    d.check(messages[i], "mix #" + std::to_string(i + 1));
    if (fast::scanMessage(messages[i].bytes, scan)) ++taken;
  }
  EXPECT_EQ(d.mismatches, 0u);
  d.finish();
  // Every message mcn-gen writes is ordinary, well-formed SIP: none may need sofia.
  EXPECT_EQ(taken, messages.size());
}

}  // namespace
}  // namespace mcn::sipparse
