// HEP decoding (hep.h). Lengths come from the sender: each is checked against the bytes there
// before anything is read, and nothing here throws or allocates except a decompressed payload in
// the caller's scratch string.

#include "mcn/capture/hep.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace mcn::capture {
namespace {

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline uint32_t le32(const uint8_t* p) {
  return (uint32_t{p[3]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[1]} << 8) | uint32_t{p[0]};
}

constexpr uint8_t kAfInet = 2;
constexpr uint8_t kAfInet6 = 10;
constexpr size_t kHep3Header = 6;   // "HEP3" + total length
constexpr size_t kChunkHeader = 6;  // vendor id, type id, length
constexpr size_t kHep2Header = 8;   // version, length, family, protocol, ports
constexpr size_t kHep2Time = 12;    // seconds, microseconds, capture id, 2 bytes padding

// Compares in time independent of where the first difference is, so a sender cannot find the key
// a byte at a time by timing the answers (a HEP listener answers nothing, but it may be counted).
bool sameKey(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

// zlib stream (deflate with the zlib header, what Homer agents write) or gzip: inflate with
// automatic header detection, never past `limit` bytes.
HepStatus inflateTo(std::span<const uint8_t> in, size_t limit, std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return HepStatus::kDecompressFailed;
  out.resize(std::min<size_t>(limit, std::max<size_t>(in.size() * 4, 4096)));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  size_t produced = 0;
  int rc = Z_OK;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= limit) {
        // Full at the limit: the stream must end exactly here, or the message is too big.
        unsigned char probe = 0;
        zs.next_out = &probe;
        zs.avail_out = 1;
        rc = inflate(&zs, Z_NO_FLUSH);
        inflateEnd(&zs);
        if (rc == Z_STREAM_END && zs.avail_out == 1) {
          out.resize(produced);
          return HepStatus::kOk;
        }
        out.clear();
        return rc == Z_OK || rc == Z_BUF_ERROR || rc == Z_STREAM_END ? HepStatus::kTooBig
                                                                     : HepStatus::kDecompressFailed;
      }
      out.resize(std::min(limit, out.size() * 2));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && zs.avail_out == 0)) {
      inflateEnd(&zs);
      out.clear();
      return HepStatus::kDecompressFailed;  // corrupt data, or input ended before the stream
    }
    if (zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      out.clear();
      return HepStatus::kDecompressFailed;  // truncated stream
    }
  }
  inflateEnd(&zs);
  out.resize(produced);
  return HepStatus::kOk;
}

HepStatus decodeHep2(std::span<const uint8_t> p, const HepConfig& cfg, HepPacket& out) {
  // Version 1 and 2 (Kamailio/OpenSIPS sipcapture hep.h): hp_v, hp_l, hp_f, hp_p, sport, dport,
  // then the addresses, then (v2) the time header, then the payload to the end of the datagram.
  if (p.size() < kHep2Header) return HepStatus::kTruncated;
  out.version = p[0];
  const uint8_t family = p[2];
  size_t alen = 0;
  if (family == kAfInet) {
    alen = 4;
  } else if (family == kAfInet6) {
    alen = 16;
  } else {
    return HepStatus::kNotHep;  // no other family has a HEPv2 layout
  }
  const size_t hdr = kHep2Header + 2 * alen + (out.version == 2 ? kHep2Time : 0);
  // hp_l (p[1]) is not read: agents disagree on whether it counts the addresses and the time
  // header, and Kamailio's own receiver ignores it; the family fixes the layout.
  if (p.size() < hdr) return HepStatus::kTruncated;
  out.ip_proto = p[3];
  out.src.port = be16(p.data() + 4);
  out.dst.port = be16(p.data() + 6);
  out.src.v6 = out.dst.v6 = alen == 16;
  std::memcpy(out.src.addr.data(), p.data() + kHep2Header, alen);
  std::memcpy(out.dst.addr.data(), p.data() + kHep2Header + alen, alen);
  if (out.version == 2) {
    const uint8_t* t = p.data() + kHep2Header + 2 * alen;
    const uint32_t sec = le32(t);
    const uint32_t usec = le32(t + 4);
    out.has_time = sec != 0 || usec != 0;
    out.ts_us = int64_t{sec} * 1'000'000 + std::min<uint32_t>(usec, 999'999);
    out.has_capture_id = true;
    out.capture_id = static_cast<uint32_t>(t[8] | (t[9] << 8));
  }
  // HEPv2 carries no key: with one required, every v2 packet fails.
  if (!cfg.auth_key.empty()) return HepStatus::kAuthFailed;
  if (p.size() == hdr) return HepStatus::kNoPayload;
  if (p.size() - hdr > cfg.max_payload_bytes) return HepStatus::kTooBig;
  out.payload = {reinterpret_cast<const char*>(p.data() + hdr), p.size() - hdr};
  return HepStatus::kOk;
}

HepStatus decodeHep3(std::span<const uint8_t> p, const HepConfig& cfg, HepPacket& out,
                     std::string& scratch) {
  out.version = 3;
  const size_t total = be16(p.data() + 4);
  if (total < kHep3Header) return HepStatus::kBadLength;
  if (total > p.size()) return HepStatus::kTruncated;
  // Bytes past the total length (padding, a second packet glued on by a broken sender) are not
  // this packet's.
  p = p.first(total);
  bool has_src = false, has_dst = false, has_sport = false, has_dport = false;
  bool has_sec = false;
  uint32_t sec = 0, usec = 0;
  std::span<const uint8_t> payload, zpayload;
  bool has_payload = false, has_zpayload = false;
  std::string_view key;
  bool has_key = false;
  size_t i = kHep3Header;
  while (i < total) {
    if (total - i < kChunkHeader) return HepStatus::kTruncated;
    const uint16_t vendor = be16(p.data() + i);
    const uint16_t type = be16(p.data() + i + 2);
    const size_t len = be16(p.data() + i + 4);
    if (len < kChunkHeader) return HepStatus::kBadLength;
    if (len > total - i) return HepStatus::kTruncated;
    const uint8_t* v = p.data() + i + kChunkHeader;
    const size_t vlen = len - kChunkHeader;
    i += len;
    if (vendor != 0) continue;  // vendor chunks: not ours to read
    auto need = [&](size_t n) { return vlen == n; };
    switch (type) {
      case 0x0001:  // IP protocol family; the address chunks say it again
        if (!need(1)) return HepStatus::kBadChunk;
        break;
      case 0x0002:
        if (!need(1)) return HepStatus::kBadChunk;
        out.ip_proto = v[0];
        break;
      case 0x0003:
      case 0x0004:
      case 0x0005:
      case 0x0006: {
        const bool v6 = type >= 0x0005;
        if (!need(v6 ? 16 : 4)) return HepStatus::kBadChunk;
        Endpoint& e = (type == 0x0003 || type == 0x0005) ? out.src : out.dst;
        e.addr = {};
        e.v6 = v6;
        std::memcpy(e.addr.data(), v, vlen);
        ((type == 0x0003 || type == 0x0005) ? has_src : has_dst) = true;
        break;
      }
      case 0x0007:
      case 0x0008:
        if (!need(2)) return HepStatus::kBadChunk;
        (type == 0x0007 ? out.src : out.dst).port = be16(v);
        (type == 0x0007 ? has_sport : has_dport) = true;
        break;
      case 0x0009:
        if (!need(4)) return HepStatus::kBadChunk;
        sec = be32(v);
        has_sec = true;
        break;
      case 0x000a:
        if (!need(4)) return HepStatus::kBadChunk;
        usec = be32(v);
        break;
      case 0x000b:
        if (!need(1)) return HepStatus::kBadChunk;
        out.proto_type = v[0];
        break;
      case 0x000c:
        // 32 bits in HEP3; a few old agents wrote 16.
        if (vlen == 4) {
          out.capture_id = be32(v);
        } else if (vlen == 2) {
          out.capture_id = be16(v);
        } else {
          return HepStatus::kBadChunk;
        }
        out.has_capture_id = true;
        break;
      case 0x000e:
        key = {reinterpret_cast<const char*>(v), vlen};
        has_key = true;
        break;
      case 0x000f:
        payload = {v, vlen};
        has_payload = true;
        break;
      case 0x0010:
        zpayload = {v, vlen};
        has_zpayload = true;
        break;
      default:  // keep-alive timer, correlation id, VLAN, MOS, ...: not needed here
        break;
    }
  }
  if (!cfg.auth_key.empty()) {
    // Some agents count a terminating NUL in the key chunk (C strings): one is ignored.
    if (has_key && !key.empty() && key.back() == '\0') key.remove_suffix(1);
    if (!has_key || !sameKey(key, cfg.auth_key)) return HepStatus::kAuthFailed;
  }
  if (!has_src || !has_dst || !has_sport || !has_dport) return HepStatus::kNoAddress;
  if (out.src.v6 != out.dst.v6) return HepStatus::kNoAddress;
  out.has_time = has_sec;
  out.ts_us = int64_t{sec} * 1'000'000 + std::min<uint32_t>(usec, 999'999);
  if (has_payload) {
    if (payload.empty()) return HepStatus::kNoPayload;
    if (payload.size() > cfg.max_payload_bytes) return HepStatus::kTooBig;
    out.payload = {reinterpret_cast<const char*>(payload.data()), payload.size()};
    return HepStatus::kOk;
  }
  if (!has_zpayload) return HepStatus::kNoPayload;
  out.compressed = true;
  const HepStatus st = inflateTo(zpayload, cfg.max_payload_bytes, scratch);
  if (st != HepStatus::kOk) return st;
  if (scratch.empty()) return HepStatus::kNoPayload;
  out.payload = scratch;
  return HepStatus::kOk;
}

}  // namespace

HepStatus decodeHep(std::span<const uint8_t> packet, const HepConfig& cfg, HepPacket& out,
                    std::string& scratch) {
  out = HepPacket{};
  if (packet.size() >= 4 && std::memcmp(packet.data(), "HEP3", 4) == 0) {
    if (packet.size() < kHep3Header) return HepStatus::kTruncated;
    return decodeHep3(packet, cfg, out, scratch);
  }
  if (!packet.empty() && (packet[0] == 1 || packet[0] == 2)) return decodeHep2(packet, cfg, out);
  return HepStatus::kNotHep;
}

Transport hepTransport(uint8_t ip_proto) {
  switch (ip_proto) {
    case 6:   // TCP
    case 22:  // IDP: what Kamailio and Homer write for SIP over TLS
      return Transport::kTcp;
    case 132:
      return Transport::kSctp;
    default:
      return Transport::kUdp;
  }
}

void HepStreamFramer::append(std::span<const uint8_t> bytes) {
  // Compact before growing: consumed bytes at the front are dropped once they are most of it.
  if (start_ > 0 && start_ >= buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

void HepStreamFramer::reset() {
  skipped_bytes_ += buf_.size() - start_;
  buf_.clear();
  start_ = 0;
  in_sync_ = false;
}

std::span<const uint8_t> HepStreamFramer::next() {
  static constexpr uint8_t kMagic[4] = {'H', 'E', 'P', '3'};
  for (;;) {
    const size_t avail = buf_.size() - start_;
    const uint8_t* p = buf_.data() + start_;
    if (avail < 4) return {};
    bool plausible = std::memcmp(p, kMagic, 4) == 0;
    if (plausible && avail >= kHep3Header) {
      const size_t len = be16(p + 4);
      plausible = len >= kHep3Header && len <= max_packet_;
      if (plausible) {
        if (avail < len) return {};
        if (!in_sync_) ++resyncs_;
        in_sync_ = true;
        start_ += len;
        return {buf_.data() + start_ - len, len};
      }
    } else if (plausible) {
      return {};  // "HEP3" without its length yet
    }
    // Not a packet start: skip to the next "HEP3" (or keep the last 3 bytes, which may begin one).
    in_sync_ = false;
    const uint8_t* end = buf_.data() + buf_.size();
    const uint8_t* hit = std::search(p + 1, end, kMagic, kMagic + 4);
    const uint8_t* keep = hit != end ? hit : std::max(p + 1, end - 3);
    skipped_bytes_ += static_cast<uint64_t>(keep - p);
    start_ += static_cast<size_t>(keep - p);
  }
}

}  // namespace mcn::capture
