#!/usr/bin/env python3
# Accepts FPM connections and dumps each connection's bytes to conn-N.bin (plus a timing log).
import socket, sys, time, os
host, port, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port)); s.listen(1)
n = 0
log = open(os.path.join(outdir, "connections.log"), "a", buffering=1)
while True:
    c, a = s.accept(); n += 1
    log.write("%.3f connect %d from %s\n" % (time.time(), n, a))
    with open(os.path.join(outdir, "conn-%d.bin" % n), "wb", buffering=0) as f:
        while True:
            d = c.recv(65536)
            if not d: break
            log.write("%.3f conn %d read %d bytes\n" % (time.time(), n, len(d)))
            f.write(d)
    log.write("%.3f close %d\n" % (time.time(), n))
    c.close()
