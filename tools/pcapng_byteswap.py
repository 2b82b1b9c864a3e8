#!/usr/bin/env python3
"""Rewrites a little-endian pcapng file as big-endian (what a capture written on a big-endian
host looks like): every block's type and lengths, the fixed fields of SHB, IDB, EPB, SPB, ISB,
and the numeric options of the draft (draft-ietf-opsawg-pcapng §4); packet bytes and string
options are left as they are. No Debian tool writes big-endian pcapng, so pcaps/ makes its
fixture with this. Usage: tools/pcapng_byteswap.py IN OUT"""
import struct
import sys

# Option code -> widths of its numeric fields (an empty tuple: bytes or UTF-8, copied).
OPTS = {
    "SHB": {},
    "IDB": {8: (8,), 9: (), 10: (4,), 13: (), 14: (8,), 16: (8,), 17: (8,)},
    "EPB": {2: (4,), 4: (8,), 5: (8,), 6: (4,)},
    "ISB": {2: (4, 4), 3: (4, 4), 4: (8,), 5: (8,), 6: (8,), 7: (8,), 8: (8,)},
}
FMT = {2: "H", 4: "I", 8: "Q"}


def swap(data, widths):
    out, o = b"", 0
    for w in widths:
        (v,) = struct.unpack_from("<" + FMT[w], data, o)
        out += struct.pack(">" + FMT[w], v)
        o += w
    return out + data[o:]


def options(body, kind):
    out, o = b"", 0
    while o + 4 <= len(body):
        code, n = struct.unpack_from("<HH", body, o)
        value = body[o + 4 : o + 4 + n]
        pad = body[o + 4 + n : o + 4 + ((n + 3) & ~3)]
        out += struct.pack(">HH", code, n) + swap(value, OPTS[kind].get(code, ()))
        out += pad
        o += 4 + ((n + 3) & ~3)
        if code == 0:
            break
    return out + body[o:]


def main(src, dst):
    d = open(src, "rb").read()
    out, o = b"", 0
    while o < len(d):
        t, n = struct.unpack_from("<II", d, o)
        body = d[o + 8 : o + n - 4]
        if t == 0x0A0D0D0A:
            body = swap(body[:16], (4, 2, 2, 8)) + options(body[16:], "SHB")
        elif t == 1:
            body = swap(body[:8], (2, 2, 4)) + options(body[8:], "IDB")
        elif t == 6:
            caplen = struct.unpack_from("<I", body, 12)[0]
            data_end = 20 + ((caplen + 3) & ~3)
            body = swap(body[:20], (4, 4, 4, 4, 4)) + body[20:data_end] + options(body[data_end:], "EPB")
        elif t == 3:
            body = swap(body[:4], (4,)) + body[4:]
        elif t == 5:
            body = swap(body[:12], (4, 4, 4)) + options(body[12:], "ISB")
        else:
            sys.exit(f"block type {t:#x} at offset {o}: not handled")
        out += struct.pack(">II", t, n) + body + struct.pack(">I", n)
        o += n
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
