#!/usr/bin/env python3
"""Cross-checks hand-written pcaps/<name>.expected.jsonl against what tshark decodes.

For every record: the Call-ID exists; started_at is the first INVITE (first copy) of that Call-ID
that names the callee (or, with no INVITE, its earliest message); ended_at is the first copy of
a message with the record's status (a CANCEL for cancelled/answered_elsewhere when it precedes
the 487), the INVITE + 180 s for a ring timeout, or the last message naming the callee for
incomplete; ring_ms is ended_at minus a 180/183 seen for the callee; the reason phrase or Reason
text appears. It checks relations, it does not recompute the outcome: that is RULES.md's job.

  tools/gen/check_fixtures.py [pcaps/NAME.pcap ...]    (default: every non-sipp fixture)
"""
import datetime, glob, json, os, re, subprocess, sys

FIELDS = ["frame.time_epoch", "sip.Method", "sip.Status-Code", "sip.Call-ID", "sip.CSeq.method",
          "sip.r-uri", "sip.To", "sip.P-Called-Party-ID", "sip.Reason", "sip.Status-Line"]


def digits(s):
    return re.sub(r"[^0-9]", "", s or "")


def names(msg, callee):
    """Does this message's request target (R-URI, To, P-Called-Party-ID) name the callee?
    Short extensions 1xxx and national/international forms are compared on the last 4 digits
    plus the subscriber part, which is enough for the fixtures' number plan."""
    tail = digits(callee)[-8:]
    for f in ("sip.r-uri", "sip.To", "sip.P-Called-Party-ID"):
        m = re.search(r"(?:sip:|tel:)([^@;>]+)", msg[f])
        d = digits(m.group(1)) if m else ""
        if d and (d.endswith(tail) or (len(d) == 4 and tail.endswith(d))):
            return True
    return False


def load(pcap):
    # ESP with NULL encryption (tunnel_esp_null*, sipp_tcp_esp_null) is read only with the
    # heuristic on; it changes nothing for the other captures.
    out = subprocess.run(["tshark", "-r", pcap,
                          "-o", "esp.enable_null_encryption_decode_heuristic:TRUE",
                          "-Y", "sip", "-T", "fields", "-E",
                          "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"] +
                         sum([["-e", f] for f in FIELDS], []),
                         capture_output=True, text=True).stdout  # a cut file exits 2
    msgs = []
    for line in out.splitlines():
        v = line.split("\t")
        v += [""] * (len(FIELDS) - len(v))
        m = dict(zip(FIELDS, v))
        m["ms"] = int(round(float(m["frame.time_epoch"]) * 1000))
        msgs.append(m)
    return msgs


def iso_ms(s):
    t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(round(t.timestamp() * 1000))


def check(pcap):
    stem = os.path.splitext(os.path.basename(pcap))[0]
    exp_path = os.path.join(os.path.dirname(pcap), stem + ".expected.jsonl")
    recs = [json.loads(l) for l in open(exp_path, encoding="utf-8") if l.strip()]
    msgs = load(pcap)
    errors = []
    for r in recs:
        cm = [m for m in msgs if m["sip.Call-ID"] == r["call_id"]]
        start, end = iso_ms(r["started_at"]), iso_ms(r["ended_at"])
        # Call-ID reuse: only messages from started_at on, before the next initial INVITE.
        cm = [m for m in cm if m["ms"] >= start - 5]
        later = [m for m in cm if m["sip.Method"] == "INVITE" and m["ms"] > end + 60000]
        if later:
            cm = [m for m in cm if m["ms"] < later[0]["ms"]]
        if not cm:
            errors.append(f"{r['callee']}: no message with Call-ID {r['call_id']}")
            continue
        inv = [m for m in cm if m["sip.Method"] == "INVITE" and names(m, r["callee"])]
        first = inv[0]["ms"] if inv else min(m["ms"] for m in cm)
        if first != start:
            errors.append(f"{r['callee']}: started_at {start} but first INVITE at {first}")
        st, oc = r["status"], r["outcome"]
        cand = []
        if oc == "incomplete":
            named = [m["ms"] for m in cm if m["sip.Method"] or True]
            cand = [max(named)]
        elif st == 0:
            cand = [first + 180000]
        else:
            cand = [m["ms"] for m in cm if m["sip.Status-Code"] == str(st)
                    and m["sip.CSeq.method"] == "INVITE"]
            if oc in ("cancelled", "answered_elsewhere"):
                cand += [m["ms"] for m in cm if m["sip.Method"] == "CANCEL"]
        if end not in cand:
            errors.append(f"{r['callee']}: ended_at {end} not among {sorted(set(cand))[:6]}")
        if r["ring_ms"]:
            rings = [m["ms"] for m in cm if m["sip.Status-Code"] in ("180", "183")]
            if end - r["ring_ms"] not in rings:
                errors.append(f"{r['callee']}: ring_ms {r['ring_ms']} -> 18x at "
                              f"{end - r['ring_ms']} not in {rings[:6]}")
        if r["reason"] and oc != "forwarded":
            texts = " ".join(m["sip.Status-Line"] + " " + m["sip.Reason"] for m in cm)
            if r["reason"] not in texts:
                errors.append(f"{r['callee']}: reason {r['reason']!r} not in the messages")
        if st and str(st) not in {m["sip.Status-Code"] for m in cm}:
            errors.append(f"{r['callee']}: status {st} never seen")
    n_sip = len(msgs)
    per_cid = {}
    for m in msgs:
        per_cid[m["sip.Call-ID"]] = per_cid.get(m["sip.Call-ID"], 0) + 1
    return errors, n_sip, per_cid, len(recs)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pcaps")
    files = sys.argv[1:] or sorted(p for p in glob.glob(os.path.join(root, "*.pcap*"))
                                   if not os.path.basename(p).startswith("sipp_"))
    bad = 0
    for p in files:
        errors, n, per_cid, nrec = check(p)
        cids = ", ".join(f"{k or '(none)'}={v}" for k, v in sorted(per_cid.items()))
        print(f"{'FAIL' if errors else 'ok  '} {os.path.basename(p)}: {nrec} records, {n} SIP "
              f"messages ({cids})")
        for e in errors:
            print("     " + e)
        bad += bool(errors)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
