#!/usr/bin/env python3
"""hep_messages.py FILE.pcap [PORT]: the SIP messages inside the HEP packets of a capture, one line
each, as ground truth for HEP fixtures that does not use mcn's decoder.

tshark 4.0 has no HEP dissector, so tshark gives the UDP payloads and the TCP stream bytes to
PORT (default 9060) and this script reads the HEPv3 chunks itself (HEP3 specification: "HEP3",
16-bit total length, chunks of vendor id, type id, length including the 6-byte header). Printed:
the agent's timestamp (chunks 0x09/0x0a, UTC, microseconds), capture id, IP protocol, source and
destination, the start line, Call-ID and CSeq of the SIP payload (chunk 0x0f).
"""
import datetime
import ipaddress
import struct
import subprocess
import sys


def tshark(path, port, field, proto):
    out = subprocess.run(
        ["tshark", "-r", path, "-Y", f"{proto}.dstport == {port} && {proto}.len > 0" if proto == "tcp"
         else f"udp.dstport == {port}", "-T", "fields", "-e", "tcp.stream" if proto == "tcp" else "frame.number",
         "-e", field],
        check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if "\t" in line]


def packets(path, port):
    for _, hexdata in tshark(path, port, "udp.payload", "udp"):
        yield bytes.fromhex(hexdata)
    streams = {}
    for stream, hexdata in tshark(path, port, "tcp.payload", "tcp"):
        streams.setdefault(stream, bytearray()).extend(bytes.fromhex(hexdata))
    for data in streams.values():
        while len(data) >= 6:
            assert data[:4] == b"HEP3", "stream out of step"
            n = struct.unpack(">H", data[4:6])[0]
            yield bytes(data[:n])
            del data[:n]


def chunks(pkt):
    assert pkt[:4] == b"HEP3"
    total = struct.unpack(">H", pkt[4:6])[0]
    i = 6
    while i < total:
        vendor, kind, length = struct.unpack(">HHH", pkt[i:i + 6])
        if vendor == 0:
            yield kind, pkt[i + 6:i + length]
        i += length


def main():
    path = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 9060
    rows = []
    for pkt in packets(path, port):
        c = dict(chunks(pkt))
        sec = struct.unpack(">I", c[9])[0]
        usec = struct.unpack(">I", c[10])[0]
        src = ipaddress.ip_address(c.get(3) or c[5])
        dst = ipaddress.ip_address(c.get(4) or c[6])
        sport = struct.unpack(">H", c[7])[0]
        dport = struct.unpack(">H", c[8])[0]
        sip = c[15].decode(errors="replace")
        lines = sip.replace("\r\n", "\n").split("\n")
        hdr = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip() for ln in lines[1:] if ":" in ln}
        when = datetime.datetime.fromtimestamp(sec + usec / 1e6, datetime.timezone.utc)
        rows.append((sec * 1_000_000 + usec, when.strftime("%H:%M:%S.%f"), struct.unpack(">I", c[12])[0],
                     c[2][0], f"{src}:{sport}", f"{dst}:{dport}", lines[0], hdr.get("call-id"), hdr.get("cseq")))
    for r in rows:  # in capture order: the order mcn reads them
        print(" | ".join(str(x) for x in r[1:]), f"| {r[0]}")


if __name__ == "__main__":
    main()
