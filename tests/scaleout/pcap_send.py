#!/usr/bin/env python3
"""Sends the frames of classic pcap files (Ethernet link type) onto an interface through an
AF_PACKET socket, in file order, as fast as possible: what tcpreplay --topspeed does, for the
live probe test (root). Usage: pcap_send.py IFACE FILE..."""
import socket
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        head = f.read(24)
        magic = struct.unpack("<I", head[:4])[0]
        order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        if struct.unpack(order + "I", head[20:24])[0] != 1:
            raise SystemExit(f"{path}: not Ethernet")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            incl = struct.unpack(order + "IIII", rec)[2]
            yield f.read(incl)


def main():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((sys.argv[1], 0))
    n = 0
    for path in sys.argv[2:]:
        for fr in frames(path):
            s.send(fr)
            n += 1
    print(f"sent {n} frames")


if __name__ == "__main__":
    main()
