#include "scene.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <stdexcept>

namespace mcn::gen {

namespace {

std::array<uint8_t, 4> parseV4(std::string_view s) {
  std::array<uint8_t, 4> a{};
  unsigned b[4];
  std::string tmp(s);
  if (std::sscanf(tmp.c_str(), "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]) != 4) {
    throw std::invalid_argument("bad IPv4 address " + tmp);
  }
  for (int i = 0; i < 4; ++i) a[i] = static_cast<uint8_t>(b[i]);
  return a;
}

void appendInt(std::string& s, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}

void addHeader(std::string& s, std::string_view line) {
  s.append(line);
  s.append("\r\n");
}

}  // namespace

Scene::Scene(SceneOptions opt, int64_t start_us, uint64_t seed, std::vector<Node>* shared_nodes)
    : opt_(opt),
      start_us_(start_us),
      rng_(seed),
      nodes_(shared_nodes ? shared_nodes : &own_nodes_) {
  packets_.reserve(64);
}

uint16_t Scene::addNode(std::string name, std::string_view ipv4) {
  Node n;
  n.name = std::move(name);
  n.v4 = parseV4(ipv4);
  // 2001:db8:<a.b>:<c>::<d>: a documentation address that still shows the IPv4 it stands for.
  n.v6 = {0x20, 0x01, 0x0d, 0xb8, n.v4[0], n.v4[1], 0, n.v4[2], 0, 0, 0, 0, 0, 0, 0, n.v4[3]};
  n.ip4_text = fmt::format("{}.{}.{}.{}", n.v4[0], n.v4[1], n.v4[2], n.v4[3]);
  n.ip6_text = fmt::format("2001:db8:{:x}:{:x}::{:x}", (n.v4[0] << 8) | n.v4[1], n.v4[2], n.v4[3]);
  nodes_->push_back(std::move(n));
  return static_cast<uint16_t>(nodes_->size() - 1);
}

const std::string& Scene::ip(uint16_t node) const {
  const Node& n = (*nodes_)[node];
  return opt_.ipv6 ? n.ip6_text : n.ip4_text;
}

std::string Scene::host(uint16_t node) const { return opt_.ipv6 ? "[" + ip(node) + "]" : ip(node); }

std::string Scene::hostPort(uint16_t node) const {
  std::string s;
  appendHostPort(s, node);
  return s;
}

void Scene::appendHostPort(std::string& s, uint16_t node) const {
  const Node& n = (*nodes_)[node];
  if (opt_.ipv6) {
    s.append("[").append(n.ip6_text).append("]:");
  } else {
    s.append(n.ip4_text).append(":");
  }
  appendInt(s, n.port);
}

std::string Scene::sdp(uint16_t node, uint16_t rtp_port) {
  const char* fam = opt_.ipv6 ? "IP6" : "IP4";
  const std::string addr = ip(node);
  const uint64_t sess = 1000000 + rng_.below(9000000);
  return fmt::format(
      "v=0\r\no=- {0} {0} IN {1} {2}\r\ns=-\r\nc=IN {1} {2}\r\nt=0 0\r\n"
      "m=audio {3} RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
      "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
      sess, fam, addr, rtp_port);
}

Leg& Scene::newLeg(std::string call_id, std::string from, std::string to, uint16_t origin,
                   std::string contact_uri) {
  Leg& l = legs_.emplace_back();
  l.call_id = std::move(call_id);
  l.from = std::move(from);
  l.from_tag = newTag();
  l.to = std::move(to);
  l.origin = origin;
  l.contact_uri = std::move(contact_uri);
  return l;
}

Packet& Scene::push(int64_t t, uint16_t src, uint16_t dst, std::string payload) {
  Packet& p = packets_.emplace_back();
  p.ts_us = t;
  p.src = src;
  p.dst = dst;
  p.payload = std::move(payload);
  p.order = static_cast<uint64_t>(packets_.size()) << 8;
  return p;
}

void Scene::appendNewVia(std::string& s, uint16_t node) {
  s.append(opt_.tcp ? "Via: SIP/2.0/TCP " : opt_.sctp ? "Via: SIP/2.0/SCTP " : "Via: SIP/2.0/UDP ");
  appendHostPort(s, node);
  s.append(";branch=z9hG4bK");
  rng_.appendHex(s, 16);
  s.append(";rport\r\n");
}

void Scene::appendVia(std::string& s, const Via& v, bool bottom) const {
  s.append(opt_.tcp ? "Via: SIP/2.0/TCP " : opt_.sctp ? "Via: SIP/2.0/SCTP " : "Via: SIP/2.0/UDP ");
  appendHostPort(s, v.node);
  s.append(";branch=").append(v.branch);
  if (bottom) s.append(";rport");
  s.append("\r\n");
}

std::string Scene::renderRequest(const Txn& txn, int max_forwards,
                                 const std::vector<std::string>& extra,
                                 const std::string& content_type, const std::string& body) const {
  std::string s;
  s.reserve(1200 + body.size());
  s.append(txn.method).append(" ").append(txn.ruri).append(" SIP/2.0\r\n");
  for (size_t i = 0; i < txn.vias.size(); ++i) appendVia(s, txn.vias[i], i + 1 == txn.vias.size());
  if (max_forwards >= 0) {
    s.append("Max-Forwards: ");
    appendInt(s, static_cast<uint64_t>(max_forwards));
    s.append("\r\n");
  }
  s.append("From: ").append(txn.from).append("\r\nTo: ").append(txn.to);
  s.append("\r\nCall-ID: ").append(txn.leg->call_id).append("\r\n");
  s.append("CSeq: ");
  appendInt(s, txn.cseq);
  s.append(" ").append(txn.method).append("\r\n");
  for (const auto& e : extra) addHeader(s, e);
  if (!body.empty()) s.append("Content-Type: ").append(content_type).append("\r\n");
  s.append("Content-Length: ");
  appendInt(s, body.size());
  s.append("\r\n\r\n");
  s.append(body);
  return s;
}

Txn& Scene::invite(int64_t t, Leg& leg, uint16_t src, uint16_t dst, std::string ruri,
                   const Txn* parent, const std::vector<std::string>& extra, bool with_sdp,
                   uint32_t cseq) {
  Txn& x = txns_.emplace_back();
  x.leg = &leg;
  x.src = src;
  x.dst = dst;
  x.method = "INVITE";
  x.cseq = cseq ? cseq : (parent ? parent->cseq : leg.cseq);
  x.ruri = std::move(ruri);
  x.vias.push_back({src, newBranch()});
  if (parent) x.vias.insert(x.vias.end(), parent->vias.begin(), parent->vias.end());
  x.from = leg.from + ";tag=" + leg.from_tag;
  x.to = leg.to;
  std::vector<std::string> h;
  h.reserve(12 + extra.size());
  if (parent) h.push_back("Record-Route: <sip:" + host(src) + ";lr>");
  h.push_back("Contact: <" + leg.contact_uri +
              ">;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"");
  h.insert(h.end(), leg.invite_headers.begin(), leg.invite_headers.end());
  h.insert(h.end(), extra.begin(), extra.end());
  h.push_back("Allow: INVITE, ACK, CANCEL, BYE, UPDATE, PRACK, INFO, OPTIONS");
  h.push_back("Supported: timer");
  std::string body = with_sdp ? sdp(leg.origin, 40000) : std::string();
  std::string type = "application/sdp";
  if (with_sdp && opt_.isup) {
    // RFC 3204 §3 / ITU-T Q.1912.5: the IAM that an MGCF carries along (SIP-I). The IAM bytes:
    // message type 0x01, nature of connection, forward call indicators, calling party's
    // category, transmission medium requirement, then the called party number (pointer, length,
    // nature of address: national, numbering plan ISDN, BCD digits 2583001013).
    static const char kIam[] =
        "\x01\x00\x60\x01\x0a\x00\x02\x09\x07\x03\x90\x52\x38\x00\x01\x31"
        "\x00";
    body = "--mcn-boundary\r\nContent-Type: application/sdp\r\n\r\n" + body +
           "\r\n--mcn-boundary\r\nContent-Type: application/ISUP;version=itu-t92+\r\n"
           "Content-Disposition: signal;handling=optional\r\n\r\n" +
           std::string(kIam, sizeof kIam - 1) + "\r\n--mcn-boundary--\r\n";
    type = "multipart/mixed;boundary=mcn-boundary";
  }
  const int mf = 70 - static_cast<int>(x.vias.size()) + 1;
  Packet& p = push(t, src, dst, renderRequest(x, mf, h, type, body));
  p.rtx = Rtx::kInvite;
  x.request_index = packets_.size() - 1;
  return x;
}

Txn& Scene::cancel(int64_t t, Txn& inv, const std::string& reason_line) {
  Txn& c = txns_.emplace_back();
  c.leg = inv.leg;
  c.src = inv.src;
  c.dst = inv.dst;
  c.method = "CANCEL";
  c.cseq = inv.cseq;
  c.ruri = inv.ruri;
  c.vias = {inv.vias.front()};
  c.from = inv.from;
  c.to = inv.to;
  std::vector<std::string> h;
  if (!reason_line.empty()) h.push_back(reason_line);
  Packet& p = push(t, c.src, c.dst, renderRequest(c, 70, h, {}, {}));
  p.rtx = Rtx::kOther;
  c.request_index = packets_.size() - 1;
  return c;
}

void Scene::ackNon2xx(int64_t t, Txn& inv, const std::string& to_tag) {
  Txn a;
  a.leg = inv.leg;
  a.method = "ACK";
  a.cseq = inv.cseq;
  a.ruri = inv.ruri;
  a.vias = {inv.vias.front()};
  a.from = inv.from;
  a.to = inv.to + (to_tag.empty() ? "" : ";tag=" + to_tag);
  push(t, inv.src, inv.dst, renderRequest(a, 70, {}, {}, {}));
}

Txn& Scene::inDialog(int64_t t, const std::string& method, Dialog& d, bool from_caller,
                     uint16_t src, uint16_t dst, const Txn* parent, uint32_t cseq) {
  Leg& leg = *d.leg;
  Txn& x = txns_.emplace_back();
  x.leg = &leg;
  x.src = src;
  x.dst = dst;
  x.method = method;
  x.cseq = cseq;
  x.ruri = from_caller ? d.callee_contact : leg.contact_uri;
  x.vias.push_back({src, newBranch()});
  if (parent) x.vias.insert(x.vias.end(), parent->vias.begin(), parent->vias.end());
  const std::string a = leg.from + ";tag=" + leg.from_tag;
  const std::string b = leg.to + ";tag=" + d.callee_tag;
  x.from = from_caller ? a : b;
  x.to = from_caller ? b : a;
  x.to_has_tag = true;
  std::vector<std::string> h;
  if (!parent) h.push_back("Route: <sip:" + host(dst) + ";lr>");
  const int mf = 70 - static_cast<int>(x.vias.size()) + 1;
  Packet& p = push(t, src, dst, renderRequest(x, mf, h, {}, {}));
  if (method != "ACK") p.rtx = Rtx::kOther;
  x.request_index = packets_.size() - 1;
  return x;
}

Txn& Scene::request(int64_t t, const std::string& method, Leg& leg, uint16_t src, uint16_t dst,
                    std::string ruri, std::string from, std::string to, uint32_t cseq,
                    const std::vector<std::string>& extra, const std::string& content_type,
                    const std::string& body) {
  Txn& x = txns_.emplace_back();
  x.leg = &leg;
  x.src = src;
  x.dst = dst;
  x.method = method;
  x.cseq = cseq;
  x.ruri = std::move(ruri);
  x.vias.push_back({src, newBranch()});
  x.from = std::move(from);
  x.to = std::move(to);
  x.to_has_tag = x.to.find(";tag=") != std::string::npos;
  push(t, src, dst, renderRequest(x, 70, extra, content_type, body));
  x.request_index = packets_.size() - 1;
  return x;
}

void Scene::respond(int64_t t, Txn& txn, const Resp& r) {
  std::string s;
  s.reserve(900 + r.body.size());
  s.append("SIP/2.0 ");
  appendInt(s, static_cast<uint64_t>(r.code));
  s.append(" ").append(r.phrase).append("\r\n");
  for (size_t i = 0; i < txn.vias.size(); ++i) appendVia(s, txn.vias[i], i + 1 == txn.vias.size());
  s.append("From: ").append(txn.from).append("\r\nTo: ").append(txn.to);
  if (!txn.to_has_tag && r.code > 100 && !r.tag.empty()) s.append(";tag=").append(r.tag);
  s.append("\r\nCall-ID: ").append(txn.leg->call_id).append("\r\n");
  s.append("CSeq: ");
  appendInt(s, txn.cseq);
  s.append(" ").append(txn.method).append("\r\n");
  if (!r.contact.empty()) s.append("Contact: <").append(r.contact).append(">\r\n");
  for (const auto& e : r.extra) addHeader(s, e);
  if (!r.body.empty()) s.append("Content-Type: application/sdp\r\n");
  s.append("Content-Length: ");
  appendInt(s, r.body.size());
  s.append("\r\n\r\n");
  s.append(r.body);
  Packet& p = push(t, txn.dst, txn.src, std::move(s));
  if (r.code >= 200) {
    Packet& req = packets_[txn.request_index];
    if (!txn.final_seen) req.rtx_until = std::min(req.rtx_until, t);
    txn.final_seen = true;
    // Final responses to INVITE are retransmitted until the ACK (RFC 3261 §13.3.1.4, §17.2.1).
    if (txn.method == "INVITE") packets_.back().rtx = Rtx::kOther;
  }
  (void)p;
}

void Scene::resend(int64_t t, const Txn& txn) {
  Packet copy = packets_[txn.request_index];
  Packet& p = push(t, copy.src, copy.dst, std::move(copy.payload));
  p.rtx = Rtx::kNone;
}

void Scene::raw(int64_t t, uint16_t src, uint16_t dst, std::string payload, Corruption c) {
  push(t, src, dst, std::move(payload)).corrupt = c;
}

void Scene::finalize(bool with_sums) {
  if (with_sums) {
    for (Packet& p : packets_) {
      p.payload_sum =
          checksumAdd(0, reinterpret_cast<const uint8_t*>(p.payload.data()), p.payload.size());
    }
  }
  const auto before = [](const Packet& a, const Packet& b) {
    return a.ts_us != b.ts_us ? a.ts_us < b.ts_us : a.order < b.order;
  };
  if (!opt_.dup && (opt_.retrans <= 0 || opt_.tcp || opt_.sctp)) {
    // (ts, order) is unique, so an unstable sort gives the same order as a stable one.
    std::sort(packets_.begin(), packets_.end(), before);
    return;
  }
  std::vector<Packet> out;
  out.reserve(packets_.size() * (1 + opt_.retrans) * (opt_.dup ? 2 : 1));
  for (Packet& p : packets_) {
    if (opt_.retrans <= 0 || opt_.tcp || opt_.sctp || p.rtx == Rtx::kNone) {
      out.push_back(std::move(p));
      continue;
    }
    out.push_back(p);
    // Copies as if the answer was lost beyond the mirror port, never after the transaction's
    // final response (a request) so they cannot look like a new transaction.
    int64_t interval = kT1Us, t = p.ts_us;
    for (int k = 1; k <= opt_.retrans; ++k) {
      t += interval;
      if (t >= p.rtx_until) break;
      Packet c = p;
      c.ts_us = t;
      c.order = p.order + static_cast<uint64_t>(k);
      out.push_back(std::move(c));
      interval = p.rtx == Rtx::kInvite ? interval * 2 : std::min(interval * 2, kT2Us);
    }
  }
  if (opt_.dup) {
    const size_t n = out.size();
    for (size_t i = 0; i < n; ++i) {
      Packet c = out[i];
      c.mirror_of_us = c.ts_us;
      c.ts_us += opt_.dup_gap_us;
      c.order += 128;
      out.push_back(std::move(c));
    }
  }
  std::sort(out.begin(), out.end(), before);
  packets_ = std::move(out);
}

void Scene::write(FrameWriter& w) const {
  for (const Packet& p : packets_) {
    w.send(p.ts_us, (*nodes_)[p.src], (*nodes_)[p.dst], p.payload, p.corrupt, -1, p.mirror_of_us);
  }
}

}  // namespace mcn::gen
