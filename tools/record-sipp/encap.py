#!/usr/bin/env python3
"""Wrap every IPv4 TCP/UDP packet of a recorded classic pcap file in a tunnel, as a mobile
network would carry it: makes pcaps/sipp_tcp_esp_null.pcap from pcaps/sipp_tcp.pcap and
pcaps/sipp_answered_gtpu.pcap from pcaps/sipp_answered.pcap (see pcaps/README.md).

  tools/record-sipp/encap.py esp  IN OUT [--icv 12] [--spi 0x1000]
  tools/record-sipp/encap.py gtpu IN OUT

esp   ESP transport mode (RFC 4303 §3.1.1; 3GPP TS 33.203 §7 on the Gm interface) with NULL
      encryption (RFC 2410): the packet keeps its Ethernet and IPv4 headers (protocol 50, new
      total length and header checksum); after SPI and sequence number comes the transport
      header and payload unchanged, then padding 1, 2, 3 ... to a 4-byte boundary (RFC 4303
      §2.4), pad length, next header (6 or 17), and an ICV of --icv bytes (HMAC-SHA1-96 is 12:
      the bytes are fixed, not a MAC; nothing that reads the file checks them). One SPI per
      direction (--spi for the lower address, --spi + 1 for the other), sequence numbers 1, 2 ...
      per SPI.
gtpu  GTP-U (3GPP TS 29.281) between an eNodeB 198.18.0.1 and a UPF 198.18.0.2: the IPv4 packet
      becomes the T-PDU of a G-PDU with a sequence number and a PDU session container extension
      header (type 0x85, TS 38.415: PDU type 0, QFI 9, in both directions; nothing here reads
      it), TEID 0x100 towards the UPF (packets from the lower
      address) and 0x200 back, inside UDP 2152 -> 2152 (checksum 0, allowed for IPv4) and an
      outer IPv4 header; the Ethernet header is kept.

Other frames are copied as they are. Timestamps never change.
"""
import argparse
import struct


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise SystemExit(f"{path}: not a little-endian classic pcap file")
    linktype = struct.unpack("<I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit(f"{path}: link type {linktype}, expected Ethernet (1)")
    header, off, frames = bytearray(data[:24]), 24, []
    while off < len(data):
        sec, sub, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        if incl != orig:
            raise SystemExit(f"{path}: frame cut by the snaplen; wrapping it would lie")
        frames.append((sec, sub, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return header, frames


def ip_checksum(h):
    s = sum(struct.unpack(f"!{len(h) // 2}H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def with_ipv4(ip_header, payload, protocol):
    h = bytearray(ip_header)
    h[9] = protocol
    struct.pack_into("!H", h, 2, len(h) + len(payload))
    struct.pack_into("!H", h, 10, 0)
    struct.pack_into("!H", h, 10, ip_checksum(bytes(h)))
    return bytes(h) + payload


class Esp:
    def __init__(self, spi, icv):
        self.spi, self.icv, self.seq = spi, icv, {}

    def wrap(self, eth, ip):
        ihl = (ip[0] & 0x0F) * 4
        src, dst, proto = ip[12:16], ip[16:20], ip[9]
        spi = self.spi if src < dst else self.spi + 1
        self.seq[spi] = self.seq.get(spi, 0) + 1
        body = ip[ihl:]
        pad = (4 - (len(body) + 2) % 4) % 4
        esp = (struct.pack("!II", spi, self.seq[spi]) + body + bytes(range(1, pad + 1)) +
               bytes([pad, proto]) + bytes((0xA0 + i) & 0xFF for i in range(self.icv)))
        return eth + with_ipv4(ip[:ihl], esp, 50)


class Gtpu:
    ENB, UPF = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])

    def __init__(self):
        self.seq = 0

    def wrap(self, eth, ip):
        uplink = ip[12:16] < ip[16:20]
        teid = 0x100 if uplink else 0x200
        self.seq += 1
        # Flags: version 1, PT 1, E, S; G-PDU; length = optional fields + extension + T-PDU.
        ext = bytes([1, 0x00, 0x09, 0])  # 4 octets: PDU type 0, QFI 9; no next extension
        gtp = (struct.pack("!BBHIHBB", 0x36, 255, 4 + len(ext) + len(ip), teid,
                           self.seq & 0xFFFF, 0, 0x85) + ext + ip)
        udp = struct.pack("!HHHH", 2152, 2152, 8 + len(gtp), 0) + gtp
        src, dst = (self.ENB, self.UPF) if uplink else (self.UPF, self.ENB)
        outer = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, self.seq & 0xFFFF, 0x4000, 64, 17, 0,
                            src, dst)
        return eth + with_ipv4(outer, udp, 17)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["esp", "gtpu"])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--icv", type=int, default=12)
    ap.add_argument("--spi", type=lambda v: int(v, 0), default=0x1000)
    a = ap.parse_args()
    header, frames = read_pcap(a.input)
    tunnel = Esp(a.spi, a.icv) if a.mode == "esp" else Gtpu()
    out = bytearray(header)
    struct.pack_into("<I", out, 16, 65535)  # snaplen: the wrapped frames are longer
    for sec, sub, frame in frames:
        eth, ip = frame[:14], frame[14:]
        if struct.unpack("!H", eth[12:14])[0] == 0x0800 and ip[9] in (6, 17):
            total = struct.unpack("!H", ip[2:4])[0]
            if struct.unpack("!H", ip[6:8])[0] & 0x3FFF:
                raise SystemExit("IPv4 fragment: not wrapped (ESP comes before fragmentation)")
            frame = tunnel.wrap(eth, ip[:total])
        out += struct.pack("<IIII", sec, sub, len(frame), len(frame)) + frame
    with open(a.output, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
