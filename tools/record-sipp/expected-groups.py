#!/usr/bin/env python3
# expected-groups.py OUT_DIR: writes pcaps/sipp_grp_*.expected.jsonl from the instants below,
# transcribed by hand from tshark (frame.time_epoch of the frames README.md names) and the
# outcome each scenario was built for. Re-recording changes every Call-ID, tag and instant:
# transcribe them again. Never fill it from mcn's output.
# Expected records of the sipp_grp_* fixtures, written from each scenario's intent (README) with
# the instants read off tshark (frame.time_epoch), never from mcn's output.
import json, datetime, sys
def iso(t):
    us = round(t * 1e6)
    d = datetime.datetime.fromtimestamp(us // 1000000, datetime.timezone.utc)
    return d.strftime('%Y-%m-%dT%H:%M:%S') + '.%03dZ' % ((us % 1000000) // 1000)
def ring(ended, r):
    if r is None: return 0
    return max(0, (round(ended * 1e6) - round(r * 1e6)) // 1000)
def rec(cid, icid, caller, name, callee, outcome, missed, status, reason, fwd, started, ended, r):
    return {"call_id": cid, "call_ids": [cid], "correlation": icid, "caller": caller,
            "caller_name": name, "caller_withheld": False, "callee": callee, "outcome": outcome,
            "missed": missed, "status": status, "reason": reason, "forwarded_to": fwd,
            "started_at": iso(started), "ended_at": iso(ended), "ring_ms": ring(ended, r),
            "legs": 1, "transport": "udp"}
N = lambda ext: "+86258300" + ext
out = {}
c, i = "1-16349-grp-fork_answered@127.0.2.20", "mcn-sipp-grp-fork_answered"
out["fork_answered"] = [
  rec(c, i, N("1001"), "Wang Fang", N("1200"), "answered_elsewhere", False, 0, None, N("1202"),
      1796598875.701273, 1796598877.209104, 1796598875.703367),
  rec(c, i, N("1001"), "Wang Fang", N("1201"), "answered_elsewhere", False, 487,
      "Call completed elsewhere", N("1202"), 1796598875.702876, 1796598877.209359, 1796598875.703098),
  rec(c, i, N("1001"), "Wang Fang", N("1202"), "answered", False, 200, "OK", None,
      1796598875.703786, 1796598877.209104, 1796598875.703956)]
c, i = "1-16553-grp-fork_noanswer@127.0.2.20", "mcn-sipp-grp-fork_noanswer"
out["fork_noanswer"] = [
  rec(c, i, "+8613900101232", "Zhao Min", N("1200"), "cancelled", False, 487, "Request Terminated",
      None, 1796598888.425603, 1796598891.428994, 1796598888.426561),
  rec(c, i, "+8613900101232", "Zhao Min", N("1201"), "cancelled", True, 487, "Request Terminated",
      None, 1796598888.426204, 1796598891.429199, 1796598888.426460),
  rec(c, i, "+8613900101232", "Zhao Min", N("1202"), "cancelled", True, 487, "Request Terminated",
      None, 1796598888.426218, 1796598891.429312, 1796598888.426489)]
c, i = "1-16788-grp-owner_noanswer@127.0.2.20", "mcn-sipp-grp-owner_noanswer"
out["owner_noanswer"] = [
  rec(c, i, "+8613900101232", "Zhao Min", N("1230"), "cancelled", True, 487, "Request Terminated",
      None, 1796598897.205105, 1796598899.709375, 1796598897.205861),
  rec(c, i, "+8613900101232", "Zhao Min", N("1231"), "cancelled", False, 487, "Request Terminated",
      None, 1796598897.205619, 1796598899.709620, 1796598897.205791),
  rec(c, i, "+8613900101232", "Zhao Min", N("1232"), "cancelled", False, 487, "Request Terminated",
      None, 1796598897.205879, 1796598899.709789, 1796598897.206104)]
c, i = "1-16993-grp-hunt@127.0.2.20", "mcn-sipp-grp-hunt"
out["hunt"] = [
  rec(c, i, N("1001"), "Wang Fang", N("1210"), "answered_elsewhere", False, 0, None, N("1212"),
      1796598904.805222, 1796598908.789195, 1796598904.805921),
  rec(c, i, N("1001"), "Wang Fang", N("1211"), "answered_elsewhere", False, 487, "Request Terminated",
      N("1212"), 1796598904.805674, 1796598907.786189, 1796598904.805870),
  rec(c, i, N("1001"), "Wang Fang", N("1212"), "answered", False, 200, "OK", None,
      1796598907.786088, 1796598908.789195, 1796598907.786391)]
c1, i1 = "1-caller-grp-pickup@127.0.2.20", "mcn-sipp-grp-pickup"
c2, i2 = "1-17879-grp-pickup-by-1222@127.0.2.13", "mcn-sipp-grp-pickup-2"
out["pickup"] = [
  # the capture ends (frame 24, 33.033) inside both calls' 2 s grace: both are decided at end of
  # input, in the order they were created (call 1 first)
  rec(c1, i1, "+8613900101230", "Li Lei", N("1221"), "answered_elsewhere", False, 487,
      "Request Terminated", N("1222"), 1796598931.021831, 1796598932.524938, 1796598931.022727),
  rec(c2, i2, N("1222"), "Sun Qiang", "+8613900101230", "answered", False, 200, "OK", None,
      1796598932.025742, 1796598932.026426, None)]
for name, recs in out.items():
    with open(f"{sys.argv[1]}/sipp_grp_{name}.expected.jsonl", "w") as f:
        for r in recs: f.write(json.dumps(r, ensure_ascii=False, separators=(',', ':')) + "\n")
