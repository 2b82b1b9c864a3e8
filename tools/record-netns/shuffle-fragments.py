#!/usr/bin/env python3
"""Reorder and duplicate the fragments of the first fragmented datagram in a pcap, as ECMP paths
and a SPAN port that sees a packet twice would (deterministic; standard library only).

  shuffle-fragments.py IN.pcap OUT.pcap

The first N frames of IN must be the N fragments of the INVITE in order (what
record-fragmented.sh writes). OUT holds, from the first fragment's time on:
  frag 3, frag 1, frag 1 again 4 us later (a mirror copy: dropped by frame dedup),
  frag 3 again 8 ms later (beyond the dedup window: a duplicate for the reassembler),
  frag 4 ... frag N, then frag 2 (which completes the datagram),
then every other frame, moved later by as much as the INVITE was delayed (order unchanged).
"""
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    assert not nano, "microsecond pcap expected"
    recs, off = [], 24
    while off < len(data):
        sec, usec, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
        recs.append([sec * 1_000_000 + usec, data[off + 16:off + 16 + incl], orig])
        off += 16 + incl
    return data[:24], endian, recs


def is_fragment(frame):
    # Ethernet + IPv4 (more-fragments or offset) or IPv6 with a fragment header first.
    etype = struct.unpack(">H", frame[12:14])[0]
    if etype == 0x0800:
        return struct.unpack(">H", frame[20:22])[0] & 0x3FFF != 0
    if etype == 0x86DD:
        return frame[20] == 44
    return False


def main(src, dst):
    header, endian, recs = read(src)
    n = 0
    while n < len(recs) and is_fragment(recs[n][1]):
        n += 1
    assert n >= 4, f"expected at least 4 leading fragments, found {n}"
    frags, rest = recs[:n], recs[n:]
    t0 = frags[0][0]
    out = []

    def put(rec, ts):
        out.append([ts, rec[1], rec[2]])

    put(frags[2], t0)
    put(frags[0], t0 + 5)
    put(frags[0], t0 + 9)
    put(frags[2], t0 + 8000)
    t = t0 + 8010
    for f in frags[3:]:
        put(f, t)
        t += 10
    put(frags[1], t)
    # The reordered INVITE now completes 8 ms later than it did: move the answer back by as
    # much, so the responses still follow it.
    shift = max(0, t + 100 - rest[0][0]) if rest else 0
    for r in rest:
        put(r, r[0] + shift)
    with open(dst, "wb") as f:
        f.write(header)
        for ts, frame, orig in out:
            f.write(struct.pack(endian + "IIII", ts // 1_000_000, ts % 1_000_000, len(frame), orig))
            f.write(frame)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
