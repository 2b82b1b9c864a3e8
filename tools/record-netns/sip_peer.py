#!/usr/bin/env python3
"""Two tiny SIP user agents over UDP for record-fragmented.sh (standard library only).

  sip_peer.py uas BIND_ADDR   wait for an INVITE, answer 100, 180, then 486 after 1 s, wait for
                              the ACK
  sip_peer.py uac BIND_ADDR PEER_ADDR
                              send an INVITE whose SDP makes it larger than 4 KB (so the kernel
                              fragments it on a 1280-byte MTU link), read the responses, ACK
                              the final one

One call, transaction per RFC 3261 §17 (no retransmissions needed on a veth pair); every length
is computed, so the message is valid SIP that tshark and mcn parse.
"""
import socket
import sys
import time

PORT = 5060
CALL_ID = "kernel-frag-1@mcn.test"
ICID = "icid-kernel-frag-1"


def host(addr):
    return f"[{addr}]" if ":" in addr else addr


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def big_sdp(addr):
    # An IMS offer: AMR-WB, AMR, EVS, telephone-event and many attributes; padded with
    # a=candidate-style lines until the whole message passes 4 KB.
    ip6 = ":" in addr
    lines = [
        "v=0",
        f"o=- 1795328495 1 IN {'IP6' if ip6 else 'IP4'} {addr}",
        "s=-",
        f"c=IN {'IP6' if ip6 else 'IP4'} {addr}",
        "b=AS:80",
        "t=0 0",
        "m=audio 40000 RTP/AVP 116 107 118 96 111 110 97 105 100",
        "b=AS:80",
        "a=rtpmap:116 AMR-WB/16000/1",
        "a=fmtp:116 mode-change-capability=2;max-red=0",
        "a=rtpmap:107 AMR-WB/16000/1",
        "a=fmtp:107 octet-align=1;mode-change-capability=2;max-red=0",
        "a=rtpmap:118 AMR/8000/1",
        "a=fmtp:118 mode-change-capability=2;max-red=0",
        "a=rtpmap:96 EVS/16000/1",
        "a=fmtp:96 br=5.9-24.4;bw=nb-swb;max-red=0",
        "a=rtpmap:111 telephone-event/16000",
        "a=fmtp:111 0-15",
        "a=rtpmap:110 telephone-event/8000",
        "a=fmtp:110 0-15",
        "a=curr:qos local none",
        "a=curr:qos remote none",
        "a=des:qos mandatory local sendrecv",
        "a=des:qos optional remote sendrecv",
        "a=sendrecv",
        "a=ptime:20",
        "a=maxptime:240",
    ]
    n = 0
    while sum(len(x) + 2 for x in lines) < 4200:
        n += 1
        lines.append(f"a=candidate:{n} 1 UDP {2130706431 - n} {addr} {40000 + 2 * n} typ host")
    return "".join(x + "\r\n" for x in lines)


def invite(me, peer):
    body = big_sdp(me)
    head = [
        "INVITE sip:1013@ims.example.com SIP/2.0",
        f"Via: SIP/2.0/UDP {host(me)}:{PORT};branch=z9hG4bK-kfrag-1;rport",
        "Max-Forwards: 70",
        'From: "Li Wei" <sip:+8613900101230@ims.example.com;user=phone>;tag=kf-a1',
        "To: <sip:1013@ims.example.com>",
        f"Call-ID: {CALL_ID}",
        "CSeq: 1 INVITE",
        f"Contact: <sip:+8613900101230@{host(me)}:{PORT}>",
        "P-Asserted-Identity: \"Li Wei\" <sip:+8613900101230@ims.example.com;user=phone>",
        f"P-Charging-Vector: icid-value={ICID}",
        "Content-Type: application/sdp",
        f"Content-Length: {len(body.encode())}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def response(req, code, reason, to_tag):
    lines = req.decode().split("\r\n")
    keep = [l for l in lines if l.split(":")[0] in ("Via", "From", "Call-ID", "CSeq")]
    to = next(l for l in lines if l.startswith("To:"))
    if to_tag and ";tag=" not in to:
        to += f";tag={to_tag}"
    out = [f"SIP/2.0 {code} {reason}"] + keep[:1] + [keep[1], to] + keep[2:] + ["Content-Length: 0"]
    return ("\r\n".join(out) + "\r\n\r\n").encode()


def ack(me, final):
    to = next(l for l in final.decode().split("\r\n") if l.startswith("To:"))
    lines = [
        "ACK sip:1013@ims.example.com SIP/2.0",
        f"Via: SIP/2.0/UDP {host(me)}:{PORT};branch=z9hG4bK-kfrag-1;rport",
        "Max-Forwards: 70",
        'From: "Li Wei" <sip:+8613900101230@ims.example.com;user=phone>;tag=kf-a1',
        to,
        f"Call-ID: {CALL_ID}",
        "CSeq: 1 ACK",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def uas(me):
    s = socket.socket(family(me), socket.SOCK_DGRAM)
    s.bind((me, PORT))
    s.settimeout(8)
    req, peer = s.recvfrom(65535)  # the kernel hands us the reassembled datagram
    assert req.startswith(b"INVITE "), req[:40]
    s.sendto(response(req, 100, "Trying", None), peer)
    time.sleep(0.2)
    s.sendto(response(req, 180, "Ringing", "kf-b1"), peer)
    time.sleep(1.0)
    s.sendto(response(req, 486, "Busy Here", "kf-b1"), peer)
    a, _ = s.recvfrom(65535)
    assert a.startswith(b"ACK "), a[:40]
    print(f"uas: INVITE of {len(req)} bytes, answered 486, got the ACK", file=sys.stderr)


def uac(me, peer):
    s = socket.socket(family(me), socket.SOCK_DGRAM)
    s.bind((me, PORT))
    s.settimeout(8)
    msg = invite(me, peer)
    assert len(msg) > 4096, len(msg)
    s.sendto(msg, (peer, PORT))
    while True:
        r, _ = s.recvfrom(65535)
        code = int(r.split(b" ", 2)[1])
        if code >= 200:
            s.sendto(ack(me, r), (peer, PORT))
            print(f"uac: sent INVITE of {len(msg)} bytes, final {code}, ACKed", file=sys.stderr)
            return


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "uas":
        uas(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "uac":
        uac(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
