#!/usr/bin/env python3
"""Prints where each record (classic pcap) or block (pcapng) of a capture file starts and how
long it is: "index offset length kind", one line each, little-endian files only. Used to cut
the damaged fixtures of pcaps/ at known places (pcaps/README.md, "Capture file fixtures").
Usage: tools/capture_offsets.py FILE"""
import struct
import sys


def main(path):
    d = open(path, "rb").read()
    magic = struct.unpack_from("<I", d, 0)[0]
    i = 0
    if magic == 0x0A0D0D0A:
        o = 0
        while o + 8 <= len(d):
            t, n = struct.unpack_from("<II", d, o)
            kind = {0x0A0D0D0A: "SHB", 1: "IDB", 2: "PB", 3: "SPB", 5: "ISB", 6: "EPB"}.get(t, hex(t))
            print(i, o, n, kind)
            o += n
            i += 1
    elif magic in (0xA1B2C3D4, 0xA1B23C4D):
        o = 24
        while o + 16 <= len(d):
            caplen = struct.unpack_from("<I", d, o + 8)[0]
            print(i, o, 16 + caplen, "record")
            o += 16 + caplen
            i += 1
    else:
        sys.exit("not a little-endian pcap or pcapng file")


if __name__ == "__main__":
    main(sys.argv[1])
