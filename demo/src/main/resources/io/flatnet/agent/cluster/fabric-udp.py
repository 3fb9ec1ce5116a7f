#!/usr/bin/env python3
"""The fabric demo's UDP flows (docs/routing.md, "The two-rack demo").

  recv PORT SECONDS            count datagrams for SECONDS, then print one line of JSON:
                               received, distinct, highest sequence, the longest silence (ms)
                               and when it began (epoch ms)
  send ADDR PORT INTERVAL_MS SECONDS [SPORT]
                               one flow: a sequence number every INTERVAL_MS, from SPORT
  spread ADDR PORT FLOWS COUNT send COUNT datagrams on each of FLOWS flows (source ports
                               40000..), so a 5-tuple hash spreads them over the paths
"""
import json
import socket
import struct
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv(port, seconds):
    socks = []
    for fam, any_addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((any_addr, port))
        s.setblocking(False)
        socks.append(s)
    import selectors
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    end = time.time() + seconds
    received = 0
    seen = set()
    highest = -1
    last = None
    gap = 0.0
    gap_start = None
    first = None
    while time.time() < end:
        for key, _ in sel.select(timeout=0.05):
            while True:
                try:
                    data, _ = key.fileobj.recvfrom(2048)
                except BlockingIOError:
                    break
                now = time.time()
                if len(data) >= 8:
                    seq = struct.unpack("!Q", data[:8])[0]
                    seen.add(seq)
                    highest = max(highest, seq)
                received += 1
                if first is None:
                    first = now
                if last is not None and now - last > gap:
                    gap = now - last
                    gap_start = last
                last = now
    print(json.dumps({
        "received": received,
        "distinct": len(seen),
        "highest": highest,
        "gapMs": round(gap * 1000, 1),
        "gapStartMs": int(gap_start * 1000) if gap_start else 0,
        "lastMs": int(last * 1000) if last else 0,
    }), flush=True)


def send(addr, port, interval_ms, seconds, sport=0):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    if sport:
        s.bind(("::" if ":" in addr else "0.0.0.0", sport))
    interval = interval_ms / 1000.0
    start = time.time()
    seq = 0
    while time.time() - start < seconds:
        try:
            s.sendto(struct.pack("!Q", seq) + b"flatnet-fabric", (addr, port))
        except OSError:
            pass
        seq += 1
        next_at = start + seq * interval
        delay = next_at - time.time()
        if delay > 0:
            time.sleep(delay)
    print(json.dumps({"sent": seq}), flush=True)


def spread(addr, port, flows, count):
    sent = 0
    socks = []
    for i in range(flows):
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.bind(("::" if ":" in addr else "0.0.0.0", 40000 + i))
        socks.append(s)
    for n in range(count):
        for s in socks:
            s.sendto(struct.pack("!Q", n) + b"flatnet-fabric", (addr, port))
            sent += 1
        time.sleep(0.002)
    print(json.dumps({"sent": sent}), flush=True)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "recv":
        recv(int(sys.argv[2]), float(sys.argv[3]))
    elif what == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]),
             int(sys.argv[6]) if len(sys.argv) > 6 else 0)
    elif what == "spread":
        spread(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit("usage: fabric-udp.py recv|send|spread ...")
