"""A counted UDP stream for the restart tests.

send DST PORT RATE SECONDS: sends RATE datagrams a second, each carrying its sequence number,
paced by the clock; prints how many it sent.
receive PORT IDLE_SECONDS: counts distinct sequence numbers until nothing comes for IDLE_SECONDS
(after the first datagram); prints "received N highest H".
"""
import socket
import sys
import time


def send(dst, port, rate, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    total = int(rate * seconds)
    start = time.monotonic()
    for i in range(total):
        due = start + i / rate
        ahead = due - time.monotonic()
        if ahead > 0.001:
            time.sleep(ahead)
        s.sendto(i.to_bytes(8, "big") + bytes(56), (dst, port))
    print(total, flush=True)


def receive(port, idle):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    s.bind(("0.0.0.0", port))
    print("listening", flush=True)
    seen = set()
    s.settimeout(120)
    while True:
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            break
        seen.add(int.from_bytes(data[:8], "big"))
        s.settimeout(idle)
    print("received %d highest %d" % (len(seen), max(seen) if seen else -1), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    else:
        receive(int(sys.argv[2]), float(sys.argv[3]))
