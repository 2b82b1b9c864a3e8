// Per-packet costs of the first two stages: frame decode (link/IP/UDP + SIP recognition) and
// SIP parsing with sofia-sip. Run: build/release/tests/mcn_bench --benchmark_filter=Decode|Parse

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mcn/capture/decoder.h"
#include "mcn/sipparse/parser.h"

namespace {

const std::string kInvite =
    "INVITE sip:+862583001013@ims.example;user=phone SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK-pcscf-01\r\n"
    "Via: SIP/2.0/UDP 192.0.2.40:5060;rport;branch=z9hG4bK-ue-01\r\n"
    "Max-Forwards: 69\r\n"
    "From: \"Li Lei\" <sip:+8613900101230@ims.example;user=phone>;tag=a73kszlfl\r\n"
    "To: <tel:+86-25-8300-1013>\r\n"
    "Call-ID: 3c26700e7d5b-1d2e@192.0.2.40\r\n"
    "CSeq: 101 INVITE\r\n"
    "Contact: <sip:+8613900101230@192.0.2.40:5060>\r\n"
    "P-Asserted-Identity: \"Li Lei\" <sip:+8613900101230@ims.example;user=phone>\r\n"
    "P-Asserted-Identity: <tel:+8613900101230>\r\n"
    "P-Charging-Vector: icid-value=ab12cd34ef56.1.1;orig-ioi=ims.example\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 132\r\n"
    "\r\n"
    "v=0\r\no=- 2890844526 2890844526 IN IP4 192.0.2.40\r\ns=-\r\nc=IN IP4 192.0.2.40\r\n"
    "t=0 0\r\nm=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n";

const std::string kRinging =
    "SIP/2.0 180 Ringing\r\n"
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK-pcscf-01\r\n"
    "Via: SIP/2.0/UDP 192.0.2.40:5060;rport=5060;branch=z9hG4bK-ue-01\r\n"
    "From: \"Li Lei\" <sip:+8613900101230@ims.example;user=phone>;tag=a73kszlfl\r\n"
    "To: <tel:+86-25-8300-1013>;tag=8321234356\r\n"
    "Call-ID: 3c26700e7d5b-1d2e@192.0.2.40\r\n"
    "CSeq: 101 INVITE\r\n"
    "Content-Length: 0\r\n\r\n";

// Ethernet + IPv4 + UDP around a payload (checksums zero: the decoder does not verify them, as
// offloaded checksums are unreliable on a mirror port).
std::vector<uint8_t> udpFrame(const std::string& payload) {
  std::vector<uint8_t> f = {0, 0, 0x5e, 0, 0x53, 1, 0, 0, 0x5e, 0, 0x53, 2, 0x08, 0x00};
  const size_t ip_len = 20 + 8 + payload.size();
  const uint8_t ip[20] = {0x45,
                          0,
                          uint8_t(ip_len >> 8),
                          uint8_t(ip_len),
                          0,
                          1,
                          0x40,
                          0,
                          64,
                          17,
                          0,
                          0,
                          198,
                          51,
                          100,
                          10,
                          203,
                          0,
                          113,
                          9};
  f.insert(f.end(), ip, ip + 20);
  const size_t udp_len = 8 + payload.size();
  const uint8_t udp[8] = {0x13, 0xc4, 0x13, 0xc4, uint8_t(udp_len >> 8), uint8_t(udp_len), 0, 0};
  f.insert(f.end(), udp, udp + 8);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

void BM_DecodeUdpInvite(benchmark::State& state) {
  uint64_t emitted = 0;
  mcn::capture::FrameDecoder dec({},
                                 [&](mcn::capture::SipPayload&& p) { emitted += p.bytes.size(); });
  const auto frame = udpFrame(kInvite);
  for (auto _ : state) {
    dec.decode(1, 0, frame, static_cast<uint32_t>(frame.size()));
  }
  benchmark::DoNotOptimize(emitted);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(frame.size()));
}
BENCHMARK(BM_DecodeUdpInvite);

void BM_DecodeNotSip(benchmark::State& state) {
  mcn::capture::FrameDecoder dec({}, [](mcn::capture::SipPayload&&) {});
  const auto frame = udpFrame(std::string(160, '\x80'));  // an RTP-sized datagram
  for (auto _ : state) {
    dec.decode(1, 0, frame, static_cast<uint32_t>(frame.size()));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeNotSip);

// looksLikeSip alone on what a mirror port mostly carries: an IMS INVITE, a 180, a datagram of
// text that is not SIP (an HTTP request) and an RTP packet, in turn.
void BM_LooksLikeSip(benchmark::State& state) {
  const std::string http = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
  const std::string rtp(160, '\x80');
  const std::string* const inputs[] = {&kInvite, &kRinging, &http, &rtp};
  size_t i = 0;
  for (auto _ : state) {
    bool sip = mcn::capture::looksLikeSip(*inputs[i++ & 3]);
    benchmark::DoNotOptimize(sip);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LooksLikeSip);

mcn::sipparse::ParserConfig benchConfig() {
  mcn::sipparse::ParserConfig cfg;
  cfg.dial_plan.country_code = "86";
  cfg.dial_plan.area_code = "25";
  cfg.dial_plan.local_number_length = 8;
  cfg.dial_plan.rewrite.push_back({R"(^(1\d{3})$)", "+86258300$1"});
  return cfg;
}

void parseBench(benchmark::State& state, const std::string& text) {
  mcn::sipparse::SipParser parser(benchConfig());
  mcn::capture::SipPayload p;
  p.bytes = text;
  for (auto _ : state) {
    auto ev = parser.parse(p);
    benchmark::DoNotOptimize(ev);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ParseInvite(benchmark::State& state) { parseBench(state, kInvite); }
BENCHMARK(BM_ParseInvite);

void BM_ParseRinging(benchmark::State& state) { parseBench(state, kRinging); }
BENCHMARK(BM_ParseRinging);

// The same messages through sofia-sip's full parse only (the path before issue 6, and still
// the one for messages the fast path declines).
void sofiaBench(benchmark::State& state, const std::string& text) {
  mcn::sipparse::ParserConfig cfg = benchConfig();
  cfg.fast_path = false;
  mcn::sipparse::SipParser parser(cfg);
  mcn::capture::SipPayload p;
  p.bytes = text;
  for (auto _ : state) {
    auto ev = parser.parse(p);
    benchmark::DoNotOptimize(ev);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ParseInviteSofia(benchmark::State& state) { sofiaBench(state, kInvite); }
BENCHMARK(BM_ParseInviteSofia);

void BM_ParseRingingSofia(benchmark::State& state) { sofiaBench(state, kRinging); }
BENCHMARK(BM_ParseRingingSofia);

// The INVITE as an old test tool writes it: unbracketed IPv6 Request-URI host and CSeq method
// in lower case. The fast path declines it, sofia refuses it, the lenient path rewrites it and
// sofia reads it again (sipparse/README.md, "Lenient path"): what such a message costs.
void BM_ParseLenientInvite(benchmark::State& state) {
  std::string text = kInvite;
  const std::string from = "INVITE sip:+862583001013@ims.example;user=phone";
  text.replace(0, from.size(), "INVITE sip:+862583001013@fe80:0:0:0:21a:a0ff:fe07:32e0:5060");
  text.replace(text.find("CSeq: 101 INVITE"), 16, "CSeq: 101 invite");
  parseBench(state, text);
}
BENCHMARK(BM_ParseLenientInvite);

// parseInto with one SipEvent kept across messages, as the replay loop calls it.
void BM_ParseIntoInviteRinging(benchmark::State& state) {
  mcn::sipparse::SipParser parser(benchConfig());
  mcn::capture::SipPayload inv, ring;
  inv.bytes = kInvite;
  ring.bytes = kRinging;
  mcn::sipparse::SipEvent ev;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parser.parseInto(inv, ev));
    benchmark::DoNotOptimize(parser.parseInto(ring, ev));
  }
  state.SetItemsProcessed(2 * state.iterations());
}
BENCHMARK(BM_ParseIntoInviteRinging);

}  // namespace
