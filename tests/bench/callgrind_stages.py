#!/usr/bin/env python3
"""callgrind_stages.py: instructions per stage of `mcn replay` from a callgrind profile.

    valgrind --tool=callgrind --callgrind-out-file=OUT mcn replay ... cut.pcap
    tests/bench/callgrind_stages.py OUT [OUT2]     # two profiles: before and after, side by side
    tests/bench/callgrind_stages.py --event=D1mr+D1mw OUT [OUT2]   # with --cache-sim=yes: L1 data misses

Reads `callgrind_annotate --inclusive=yes --tree=calling` and splits runReplay's inclusive
instructions (or another event: Dr, D1mr, D1mr+D1mw, DLmr, ... of a --cache-sim=yes profile) into the stages of tests/bench/README.md (read, decode, dedup, parse, track, record
output). Per frame = / calls of FrameDecoder::decode; per SIP message = / calls of
SipParser::parseInto.
"""
import re
import subprocess
import sys

# stage -> substrings of the function names whose inclusive cost it takes (first match each)
FUNCS = {
    "total": ["PROGRAM TOTALS"],
    "replay": ["replay.cc:mcn::app::runReplay("],
    "read": ["PcapFileSource::next(", "PcapngFileSource::next("],
    "decode_all": ["FrameDecoder::decode(int"],
    "payload_cb": ["_Function_handler<void (mcn::capture::SipPayload&&), mcn::app::FrameStage::"],
    "prefilter": ["FrameDecoder::Impl::prefilteredUdp("],
    "dedup": ["detail::ipv4Digest(", "detail::ipv6Digest(", "FrameDedup::isDuplicate("],
    "parse": ["sipparse::SipParser::parseInto("],
    "scan": ["sipparse::fast::scanMessage("],
    "fill": ["SipParser::Impl::fillFast("],
    "track_all": ["calls::CallTracker::onEvent(", "calls::CallTracker::finish("],
    "record_cb": ["_Function_handler<void (mcn::calls::CallRecord&&), mcn::app::Pipeline::"],
}


def columns(text):
    """The event counts of one annotate line ("1,234 (5.6%)", "." or "0" per event)."""
    vals = []
    for tok in re.findall(r"([\d,]+) \(\s*[\d.]+%\)|(?<!\S)(\.|0)(?!\S)", text):
        vals.append(int(tok[0].replace(",", "")) if tok[0] else 0)
    return vals


def profile(path, event):
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--tree=calling", "--threshold=100", path],
        check=True, capture_output=True, text=True).stdout
    events = []
    incl = {}
    calls = {}
    star = re.compile(r"^(.*?)  \*  (.*)$")
    callee = re.compile(r"^(.*?)  >   (.*) \(([\d,]+)x\)")
    for line in out.splitlines():
        if line.startswith("Events recorded:"):
            events = line.split(":", 1)[1].split()
            continue
        if line.rstrip().endswith("PROGRAM TOTALS"):
            incl["PROGRAM TOTALS"] = columns(line[: line.index("PROGRAM TOTALS")])
            continue
        m = star.match(line)
        if m:
            # the largest entry of a name first (inlined parts are listed under their header)
            incl.setdefault(m.group(2), columns(m.group(1)))
            continue
        m = callee.match(line)
        if m:
            calls[m.group(2)] = calls.get(m.group(2), 0) + int(m.group(3).replace(",", ""))
    # an event, or a sum of events ("D1mr+D1mw")
    idx = [events.index(e) for e in event.split("+")] if events else [0]

    def pick(v):
        return sum(v[i] for i in idx if i < len(v))

    got = {}
    counts = {}
    for stage, subs in FUNCS.items():
        total = 0
        for s in subs:
            for name, v in incl.items():
                if s in name:
                    total += pick(v)
                    break
        got[stage] = total
        for s in subs:
            for name, v in calls.items():
                if s in name:
                    counts[stage] = counts.get(stage, 0) + v
                    break
    return got, counts


def stages(path, event):
    g, c = profile(path, event)
    frames = c.get("decode_all", 0)
    msgs = c.get("parse", 0)
    rows = [
        ("read", g["read"]),
        ("decode (Ethernet/IP/UDP/TCP, pre-filter test)", g["decode_all"] - g["dedup"] - g["payload_cb"]),
        ("  of which the pre-filter test", g["prefilter"]),
        ("dedup", g["dedup"]),
        ("parse: fast::scanMessage", g["scan"]),
        ("parse: fillFast (URIs, memo)", g["fill"]),
        ("parse: rest of parseInto", g["parse"] - g["scan"] - g["fill"]),
        ("track", g["track_all"] - g["record_cb"]),
        ("record output", g["record_cb"]),
    ]
    accounted = sum(v for k, v in rows if not k.startswith("  "))
    rows.append(("rest of the replay loop", g["replay"] - accounted))
    rows.append(("replay total", g["replay"]))
    rows.append(("start-up (dynamic linking), config, exit", g["total"] - g["replay"]))
    return rows, frames, msgs


def main():
    args = sys.argv[1:]
    event = "Ir"
    if args and args[0].startswith("--event="):
        event = args.pop(0).split("=", 1)[1]
    if not args:
        sys.exit(__doc__)
    results = [stages(p, event) for p in args]
    label = "instr/msg" if event == "Ir" else f"{event}/msg"
    fmt = "{:,.0f}" if event == "Ir" else "{:,.2f}"
    head = "| stage |" + "|".join(f" {label} | share " for _ in args) + "|"
    print(head)
    print("|---|" + "|".join("---:|---:" for _ in args) + "|")
    for i, (name, _) in enumerate(results[0][0]):
        cells = []
        for rows, frames, msgs in results:
            v = rows[i][1]
            replay = rows[-2][1]
            share = f"{100 * v / replay:.1f} %" if not name.startswith("start-up") and replay else ""
            cells.append(f" {fmt.format(v / msgs)} | {share} ")
        print(f"| {name} |" + "|".join(cells) + "|")
    for rows, frames, msgs in results:
        print(f"frames {frames:,}, SIP messages {msgs:,}, replay {rows[-2][1]:,} {event} "
              f"({rows[-2][1] / frames:,.1f} per frame)")


if __name__ == "__main__":
    main()
