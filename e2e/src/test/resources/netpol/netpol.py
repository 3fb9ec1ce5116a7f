#!/usr/bin/env python3
"""The network policy conformance test's pod side (NetworkPolicyConformanceTest), like
upstream's agnhost: run inside a pod's network namespace (ip netns exec).

  netpol.py serve NAME PORT...        serve TCP and UDP on each PORT (0.0.0.0); every TCP
                                      connection and every UDP datagram is answered with NAME
                                      ("x/a"); prints "ready" once every socket is bound
  netpol.py probe TIMEOUT TARGET...   TARGET is KEY=IP:PORT/PROTO; probes all of them at once,
                                      prints one line per target: "KEY ok REPLY" or
                                      "KEY fail REASON" (timeout: dropped; refused: rejected)
"""
import socket
import sys
import threading
import time


def serve(name, ports):
    answer = name.encode()
    socks = []
    for port in ports:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("0.0.0.0", port))
        t.listen(128)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", port))
        socks.append((t, u))

    def tcp_loop(t):
        while True:
            c, _ = t.accept()
            try:
                c.sendall(answer + b"\n")
            except OSError:
                pass
            finally:
                c.close()

    def udp_loop(u):
        while True:
            _, peer = u.recvfrom(2048)
            try:
                u.sendto(answer + b"\n", peer)
            except OSError:
                pass

    for t, u in socks:
        threading.Thread(target=tcp_loop, args=(t,), daemon=True).start()
        threading.Thread(target=udp_loop, args=(u,), daemon=True).start()
    print("ready", flush=True)
    # Until the test kills us (or closes our stdin).
    sys.stdin.read()


def probe_tcp(ip, port, timeout):
    deadline = time.monotonic() + timeout
    try:
        s = socket.create_connection((ip, port), timeout=timeout)
    except socket.timeout:
        return False, "timeout"
    except ConnectionRefusedError:
        return False, "refused"
    except OSError as e:
        return False, "error:" + (e.strerror or str(e)).replace(" ", "_")
    try:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        if not data:
            return False, "no-reply"
        return True, data.decode(errors="replace").strip()
    except socket.timeout:
        return False, "reply-timeout"
    except OSError as e:
        return False, "error:" + (e.strerror or str(e)).replace(" ", "_")
    finally:
        s.close()


def probe_udp(ip, port, timeout):
    # A few datagrams within the timeout, so that one lost datagram is not a denial.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        deadline = time.monotonic() + timeout
        tries = 3
        for i in range(tries):
            try:
                s.sendto(b"probe\n", (ip, port))
            except OSError as e:
                return False, "error:" + (e.strerror or str(e)).replace(" ", "_")
            until = min(deadline, time.monotonic() + timeout / tries) if i < tries - 1 else deadline
            while True:
                left = until - time.monotonic()
                if left <= 0:
                    break
                s.settimeout(left)
                try:
                    data, _ = s.recvfrom(2048)
                    return True, data.decode(errors="replace").strip()
                except socket.timeout:
                    break
                except ConnectionRefusedError:
                    return False, "refused"
        return False, "timeout"
    finally:
        s.close()


def probe(timeout, targets):
    results = {}
    lock = threading.Lock()

    def one(key, ip, port, proto):
        ok, what = (probe_tcp if proto == "TCP" else probe_udp)(ip, port, timeout)
        with lock:
            results[key] = ("ok " if ok else "fail ") + what

    threads = []
    for target in targets:
        key, rest = target.split("=", 1)
        addr, proto = rest.rsplit("/", 1)
        ip, port = addr.rsplit(":", 1)
        th = threading.Thread(target=one, args=(key, ip, int(port), proto.upper()))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    for target in targets:
        key = target.split("=", 1)[0]
        print(key, results[key], flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], [int(p) for p in sys.argv[3:]])
    elif sys.argv[1] == "probe":
        probe(float(sys.argv[2]), sys.argv[3:])
    else:
        sys.exit("usage: netpol.py serve NAME PORT... | probe TIMEOUT KEY=IP:PORT/PROTO...")
