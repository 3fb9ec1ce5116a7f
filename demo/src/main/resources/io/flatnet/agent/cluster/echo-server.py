#!/usr/bin/env python3
"""The cluster demo's server in pods and node kernels: answers each TCP connection with a tiny
HTTP response and each UDP datagram with one datagram, both saying who answered and which source
address it saw (so the demo shows NAT, or its absence). Dual-stack on one port each.

usage: echo-server.py NAME TCP_PORT UDP_PORT
"""
import socket
import sys
import threading

NAME, TCP_PORT, UDP_PORT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def bound(kind, port):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    return s


def seen(peer):
    return peer[0].removeprefix("::ffff:")


def serve_tcp(s):
    s.listen(64)
    while True:
        conn, peer = s.accept()
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(4096)
                body = f"{NAME} saw {seen(peer)}\n".encode()
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass


def serve_udp(s):
    while True:
        _, peer = s.recvfrom(2048)
        s.sendto(f"{NAME} saw {seen(peer)}\n".encode(), peer)


tcp, udp = bound(socket.SOCK_STREAM, TCP_PORT), bound(socket.SOCK_DGRAM, UDP_PORT)
threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
print(f"{NAME}: tcp {TCP_PORT}, udp {UDP_PORT}", flush=True)
serve_tcp(tcp)
