// mcn-gen: deterministic SIP traffic generator. Same arguments -> byte-identical pcap.
//
//   mcn-gen list
//   mcn-gen scenario NAME [wire options] [--dup] [--retrans N] -o FILE|-
//   mcn-gen mix --calls N --seed S [--noise-ratio R] [--cps X] [wire options] -o FILE|-
//   mcn-gen flood --invites N [--rate R] [--seed S] [wire options] -o FILE|-

#include <fmt/format.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "flood.h"
#include "frame_writer.h"
#include "mix.h"
#include "scenarios.h"

using namespace mcn::gen;

namespace {

// 2026-11-22T06:21:35.053Z, the fixtures' base time.
constexpr int64_t kDefaultStartMs = 1795328495053;

struct WireArgs {
  std::string link = "eth";
  std::vector<std::string> vlans;
  bool ipv6 = false, tcp = false, ip_options = false;
  int fragment_mtu = 0;
  std::string encap = "none";
  std::string sctp = "off";
  int sctp_chunk = 0;
  bool sctp_shuffle = false;
};

void addWire(CLI::App* app, WireArgs& w) {
  app->add_option("--link", w.link, "link type: eth, sll, sll2, null, raw")
      ->check(CLI::IsMember({"eth", "sll", "sll2", "null", "raw"}));
  app->add_option("--vlan", w.vlans,
                  "VLAN tag [TPID:]VID, outermost first, repeatable (TPID 0x8100, 0x88a8, "
                  "0x9100; default 0x8100)");
  app->add_flag("--ipv6", w.ipv6, "IPv6 addresses (2001:db8::/32)");
  app->add_flag("--tcp", w.tcp, "SIP over TCP, one message per segment");
  app->add_option("--sctp", w.sctp,
                  "SIP over SCTP: data (DATA chunks), unordered (DATA with the U flag), idata "
                  "(I-DATA chunks)")
      ->check(CLI::IsMember({"off", "data", "unordered", "idata"}));
  app->add_option("--sctp-chunk", w.sctp_chunk,
                  "SCTP: fragment user messages into chunks of at most this many bytes");
  app->add_flag("--sctp-shuffle", w.sctp_shuffle,
                "SCTP: send a fragmented message's packets last first, its first packet twice");
  app->add_flag("--ip-options", w.ip_options, "IPv4 header with a Router Alert option");
  app->add_option("--fragment-mtu", w.fragment_mtu, "fragment IP packets above this size");
  app->add_option("--encap", w.encap,
                  "tunnel around each packet: gre, gretap, erspan2, erspan3, vxlan, mpls, pppoe, "
                  "ipip (outer IPv4), ip6ip (outer IPv6), greppp, greppp-pfc (PPP in enhanced "
                  "GRE), gtpu, gtpu6 (GTP-U over IPv4 / IPv6), esp (ESP-NULL transport mode, "
                  "ICV 12), esp16 (ESP-NULL tunnel mode, ICV 16)")
      ->check(CLI::IsMember({"none", "gre", "gretap", "erspan2", "erspan3", "vxlan", "mpls",
                             "pppoe", "ipip", "ip6ip", "greppp", "greppp-pfc", "gtpu", "gtpu6",
                             "esp", "esp16"}));
}

WireOptions toWire(const WireArgs& a) {
  WireOptions w;
  if (a.link == "sll")
    w.link = Link::kSll;
  else if (a.link == "sll2")
    w.link = Link::kSll2;
  else if (a.link == "null")
    w.link = Link::kNull;
  else if (a.link == "raw")
    w.link = Link::kRaw;
  for (const std::string& v : a.vlans) {
    VlanTag t;
    const auto colon = v.find(':');
    if (colon != std::string::npos) {
      t.tpid = static_cast<uint16_t>(std::stoul(v.substr(0, colon), nullptr, 0));
      t.vid = static_cast<uint16_t>(std::stoul(v.substr(colon + 1), nullptr, 0));
    } else {
      t.vid = static_cast<uint16_t>(std::stoul(v, nullptr, 0));
    }
    if (t.vid > 4095) throw std::invalid_argument("VLAN id above 4095: " + v);
    w.vlans.push_back(t);
  }
  if (!w.vlans.empty() && w.link != Link::kEthernet) {
    throw std::invalid_argument("--vlan needs --link eth");
  }
  w.ipv6 = a.ipv6;
  w.tcp = a.tcp;
  if (a.sctp == "data") w.sctp = SctpMode::kData;
  if (a.sctp == "unordered") w.sctp = SctpMode::kUnordered;
  if (a.sctp == "idata") w.sctp = SctpMode::kIData;
  w.sctp_chunk = a.sctp_chunk;
  w.sctp_shuffle = a.sctp_shuffle;
  if (w.sctp != SctpMode::kOff && (w.tcp || w.fragment_mtu != 0)) {
    throw std::invalid_argument("--sctp excludes --tcp and --fragment-mtu");
  }
  w.ip_options = a.ip_options;
  w.fragment_mtu = a.fragment_mtu;
  static const std::pair<const char*, Encap> kEncaps[] = {
      {"none", Encap::kNone},       {"gre", Encap::kGre},         {"gretap", Encap::kGretap},
      {"erspan2", Encap::kErspan2}, {"erspan3", Encap::kErspan3}, {"vxlan", Encap::kVxlan},
      {"mpls", Encap::kMpls},       {"pppoe", Encap::kPppoe},     {"ipip", Encap::kIpip},
      {"ip6ip", Encap::kIp6ip},     {"greppp", Encap::kGrePpp},   {"greppp-pfc", Encap::kGrePppPfc},
      {"gtpu", Encap::kGtpu},       {"gtpu6", Encap::kGtpu6},     {"esp", Encap::kEsp},
      {"esp16", Encap::kEsp16}};
  for (const auto& [name, e] : kEncaps) {
    if (a.encap == name) w.encap = e;
  }
  if (w.encap != Encap::kNone && w.link != Link::kEthernet) {
    throw std::invalid_argument("--encap needs --link eth");
  }
  if (w.encap == Encap::kEsp && w.fragment_mtu != 0) {
    // RFC 4303 §3.3.4: ESP is applied before fragmentation; the generator fragments first.
    throw std::invalid_argument("--encap esp with --fragment-mtu is not generated");
  }
  if (w.fragment_mtu != 0 && w.fragment_mtu < 128) {
    throw std::invalid_argument("--fragment-mtu below 128");
  }
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mcn-gen: deterministic SIP traffic generator (pcap)"};
  app.require_subcommand(1);

  auto* list = app.add_subcommand("list", "list the named scenarios");

  auto* sc = app.add_subcommand("scenario", "write one named fixture");
  std::string name, out = "-";
  WireArgs wa;
  bool dup = false;
  bool isup = false;
  int retrans = 0;
  uint64_t seed = 0;
  int64_t start_ms = kDefaultStartMs;
  sc->add_option("name", name, "scenario name (see `mcn-gen list`)")->required();
  sc->add_option("-o,--output", out, "pcap file, - for stdout")->required();
  addWire(sc, wa);
  sc->add_flag("--dup", dup, "every frame twice, 37 us apart (SPAN in and out)");
  sc->add_flag("--isup", isup, "INVITE bodies multipart/mixed SDP + ISUP IAM (SIP-I, RFC 3204)");
  sc->add_option("--retrans", retrans,
                 "UDP retransmissions per retransmittable message (RFC 3261 timers)");
  sc->add_option("--seed", seed, "mixed into the scenario's own seed (tags, branches)");
  sc->add_option("--start-ms", start_ms, "scene start, ms since the epoch");

  auto* mx = app.add_subcommand("mix", "write a realistic IMS mix");
  MixOptions mo;
  WireArgs wm;
  std::string mout = "-", summary_json;
  mx->add_option("--calls", mo.calls, "number of calls")->required();
  mx->add_option("--seed", mo.seed, "PRNG seed")->required();
  mx->add_option("--noise-ratio", mo.noise_ratio,
                 "share of SIP messages that are REGISTER/SUBSCRIBE/NOTIFY/OPTIONS (0..0.99)");
  mx->add_option("--cps", mo.cps, "call arrivals per second");
  mx->add_option("--ues", mo.ues, "UE population (10..60000)");
  mx->add_option("--dup-ratio", mo.dup_ratio, "share of calls duplicated by the SPAN port");
  mx->add_option("--retrans-ratio", mo.retrans_ratio, "share of calls with retransmissions");
  mx->add_option("--start-ms", start_ms, "capture start, ms since the epoch");
  mx->add_option("--threads", mo.threads,
                 "scene-building threads (default: from the core count; output is identical)");
  mx->add_option("--summary-json", summary_json, "also write the summary JSON to this file");
  mx->add_option("-o,--output", mout, "pcap file, - for stdout")->required();
  addWire(mx, wm);

  auto* fl = app.add_subcommand(
      "flood", "write INVITEs with unique Call-IDs that never get a response (issue 7 flood)");
  FloodOptions fo;
  WireArgs wf;
  std::string fout = "-";
  fl->add_option("--invites", fo.invites, "number of INVITEs")->required();
  fl->add_option("--rate", fo.rate, "INVITEs per second")->check(CLI::PositiveNumber);
  fl->add_option("--seed", fo.seed, "PRNG seed (tags, branches, numbers)");
  fl->add_option("--start-ms", start_ms, "capture start, ms since the epoch");
  fl->add_option("-o,--output", fout, "pcap file, - for stdout")->required();
  addWire(fl, wf);

  CLI11_PARSE(app, argc, argv);

  try {
    if (list->parsed()) {
      for (const Scenario& s : scenarios()) fmt::print("{:<26} {}\n", s.name, s.what);
      return 0;
    }
    if (sc->parsed()) {
      const Scenario* found = nullptr;
      for (const Scenario& s : scenarios()) {
        if (name == s.name) found = &s;
      }
      if (!found) {
        fmt::print(stderr, "mcn-gen: unknown scenario '{}' (see mcn-gen list)\n", name);
        return 2;
      }
      WireOptions w = toWire(wa);
      SceneOptions so;
      so.ipv6 = w.ipv6;
      so.tcp = w.tcp;
      so.sctp = w.sctp != SctpMode::kOff;
      so.isup = isup;
      so.dup = dup;
      so.retrans = std::clamp(retrans, 0, 10);
      Scene scene(so, start_ms * 1000, hashName(name) ^ seed);
      found->build(scene);
      scene.finalize();
      FrameWriter fw(out, w);
      scene.write(fw);
      fw.flush();
      fmt::print(stderr, "mcn-gen: {}: {} SIP messages, {} frames\n", name, scene.packets().size(),
                 fw.frames());
      return 0;
    }
    if (mx->parsed()) {
      mo.start_us = start_ms * 1000;
      // Messages are allocated and freed by the million: keep freed memory in the process
      // instead of trimming and faulting it back in.
      mallopt(M_TRIM_THRESHOLD, 1 << 30);
      mallopt(M_TOP_PAD, 64 << 20);
      mallopt(M_MMAP_THRESHOLD, 1 << 30);
      WireOptions w = toWire(wm);
      const auto t0 = std::chrono::steady_clock::now();
      MixSummary sum;
      {
        FrameWriter fw(mout, w);
        sum = runMix(mo, w, fw);
        fw.flush();
      }
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      fmt::print(stderr, "mcn-gen mix: seed {} calls {} legs {} records {} missed {}\n", mo.seed,
                 sum.calls, sum.legs, sum.records, sum.missed);
      std::string by;
      for (int i = 0; i < kOutcomes; ++i) {
        by += fmt::format(" {}={}", kOutcomeNames[i], sum.by_outcome[static_cast<size_t>(i)]);
      }
      fmt::print(stderr, "mcn-gen mix: records by intended outcome:{}\n", by);
      fmt::print(stderr,
                 "mcn-gen mix: {} SIP messages ({} call, {} other), {} frames, {:.1f} MB, "
                 "capture {:.1f} s, generated in {:.2f} s ({:.0f} frames/s)\n",
                 sum.call_messages + sum.noise_messages, sum.call_messages, sum.noise_messages,
                 sum.frames, static_cast<double>(sum.bytes) / 1e6,
                 static_cast<double>(sum.last_us - sum.first_us) / 1e6, secs,
                 static_cast<double>(sum.frames) / std::max(secs, 1e-9));
      const std::string json = sum.toJson();
      fmt::print(stderr, "{}\n", json);
      if (!summary_json.empty()) {
        FILE* f = std::fopen(summary_json.c_str(), "w");
        if (!f) throw std::runtime_error("cannot write " + summary_json);
        fmt::print(f, "{}\n", json);
        std::fclose(f);
      }
      return 0;
    }
    if (fl->parsed()) {
      fo.start_us = start_ms * 1000;
      FrameWriter fw(fout, toWire(wf));
      runFlood(fo, toWire(wf), fw);
      fw.flush();
      fmt::print(stderr, "mcn-gen flood: {} INVITEs at {}/s, {} frames\n", fo.invites, fo.rate,
                 fw.frames());
      return 0;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "mcn-gen: {}\n", e.what());
    return 1;
  }
  return 0;
}
