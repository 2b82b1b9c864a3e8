#!/usr/bin/env python3
"""Add "call_ids":[call_id] after "call_id" to single-leg records of pcaps/*.expected.jsonl.

Issue 13 item 5 added "call_ids" (every Call-ID of the call, first leg first) to the output
contract. For a record with "legs": 1 the list is its own call_id, which this script writes; a
record with more legs is refused (listed, exit status 1): write its legs' Call-IDs by hand from
tshark (`tshark -r X.pcap -Y sip.Method==INVITE -T fields -e frame.time -e sip.Call-ID ...`), in
the order their INVITEs were first seen. Idempotent: a record that has "call_ids" is left as is.
Everything else in the line stays byte for byte (the expected files are compared as text too).

usage: tools/add-call-ids.py FILE.expected.jsonl...   (default: pcaps/*.expected.jsonl)
"""
import glob
import json
import os
import re
import sys

CALL_ID = re.compile(r'^\{"call_id":("(?:[^"\\]|\\.)*"),')


def fix_line(line, where, refused):
    if not line.strip():
        return line
    rec = json.loads(line)
    if "call_ids" in rec:
        return line
    if rec.get("legs") != 1:
        refused.append(f"{where}: legs={rec.get('legs')} call_id={rec.get('call_id')}")
        return line
    m = CALL_ID.match(line)
    if not m:
        refused.append(f"{where}: does not start with call_id")
        return line
    out = line[: m.end()] + '"call_ids":[' + m.group(1) + "]," + line[m.end():]
    assert json.loads(out)["call_ids"] == [rec["call_id"]]
    return out


def main(argv):
    files = argv[1:] or sorted(
        glob.glob(os.path.join(os.path.dirname(__file__), "..", "pcaps", "*.expected.jsonl")))
    refused = []
    for path in files:
        with open(path, encoding="utf-8", newline="") as f:
            lines = f.read().splitlines(keepends=True)
        new = [fix_line(l, f"{path}:{i + 1}", refused) for i, l in enumerate(lines)]
        if new != lines:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.writelines(new)
    for r in refused:
        print("refused (write call_ids by hand):", r, file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
