#!/usr/bin/env python3
"""Reorder and duplicate frames of a classic pcap file, as a mirror port or the network may:
makes pcaps/tcp_reordered.pcap from pcaps/sipp_tcp_segments.pcap (see pcaps/README.md).

  tools/record-sipp/shuffle-tcp.py IN OUT --swap 6,8 --dup 20:250

--swap A,B   frames A and B (1-based) change places; each place keeps its timestamp, so the
             capture stays in time order and the later segment is simply seen first.
--dup N:MS   frame N is seen once more MS milliseconds later (a TCP retransmission of the same
             bytes; far outside frame dedup's window, so it reaches the TCP reassembler).
Only the frames move: their bytes are not changed.
"""
import argparse
import struct


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise SystemExit(f"{path}: not a little-endian classic pcap file")
    header, off, frames = data[:24], 24, []
    while off < len(data):
        sec, sub, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        frames.append([sec, sub, orig, data[off + 16:off + 16 + incl]])
        off += 16 + incl
    return header, magic, frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--swap", action="append", default=[])
    ap.add_argument("--dup", action="append", default=[])
    a = ap.parse_args()
    header, magic, frames = read_pcap(a.input)
    per_sec = 1_000_000 if magic == 0xA1B2C3D4 else 1_000_000_000
    for s in a.swap:
        i, j = (int(x) - 1 for x in s.split(","))
        # Payloads change places; the timestamps stay with the places.
        frames[i][2:], frames[j][2:] = frames[j][2:], frames[i][2:]
    stamped = [((f[0] * per_sec + f[1]), f[2], f[3]) for f in frames]
    for d in a.dup:
        n, ms = d.split(":")
        t, orig, body = stamped[int(n) - 1]
        stamped.append((t + int(ms) * per_sec // 1000, orig, body))
    stamped.sort(key=lambda x: x[0])  # stable: equal times keep their order
    with open(a.output, "wb") as f:
        f.write(header)
        for t, orig, body in stamped:
            f.write(struct.pack("<IIII", t // per_sec, t % per_sec, len(body), orig))
            f.write(body)


if __name__ == "__main__":
    main()
