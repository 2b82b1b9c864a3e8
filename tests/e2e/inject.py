#!/usr/bin/env python3
"""inject.py IFACE PCAP [FIRST [LAST]]: sends the frames of a classic pcap file (Ethernet) out of
IFACE through an AF_PACKET socket, in file order, FIRST..LAST (1-based, inclusive; default all).
The live tests' stand-in for tcpreplay: the frames reach the veth peer where `mcn run` captures,
stamped with the kernel's receive time."""
import socket
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        head = f.read(24)
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            sys.exit(f"inject.py: {path}: not a classic pcap file")
        if struct.unpack(endian + "I", head[20:24])[0] != 1:
            sys.exit(f"inject.py: {path}: not Ethernet")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            incl = struct.unpack(endian + "IIII", rec)[2]
            yield f.read(incl)


def main():
    iface, path = sys.argv[1], sys.argv[2]
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    last = int(sys.argv[4]) if len(sys.argv) > 4 else 1 << 30
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    sent = 0
    for i, frame in enumerate(frames(path), start=1):
        if first <= i <= last:
            s.send(frame)
            sent += 1
    print(sent)


if __name__ == "__main__":
    main()
