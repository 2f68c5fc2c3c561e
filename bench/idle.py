#!/usr/bin/env python3
"""Idle keep-alive connections for bench/run.sh idle: open N connections to
HOST:PORT, make one GET on each (all in flight at once, one thread), read
every response whole, then keep the connections open and idle.

Usage: idle.py HOST:PORT N [hold]
Prints "ready ok=N errors=E" once all responses are in; with "hold" it then
keeps the connections open until SIGTERM, else it closes them at once (a
flood). Exits 1 if any request did not get a 200.
"""
import selectors
import signal
import socket
import sys

REQ = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: weir-bench-idle\r\n\r\n"


def complete(buf):
    """True once buf holds a whole Content-Length response."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    clen = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            clen = int(value)
    return len(buf) >= end + 4 + clen


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    n = int(sys.argv[2])
    sel = selectors.DefaultSelector()
    socks = []
    bufs = {}
    for _ in range(n):
        s = socket.create_connection((host, int(port)), timeout=30)
        s.setblocking(False)
        s.send(REQ)
        socks.append(s)
        bufs[s] = b""
        sel.register(s, selectors.EVENT_READ)
    ok = errors = 0
    pending = n
    while pending:
        events = sel.select(timeout=30)
        if not events:
            errors += pending
            break
        for key, _ in events:
            s = key.fileobj
            d = s.recv(65536)
            bufs[s] += d
            if not d or complete(bufs[s]):
                sel.unregister(s)
                pending -= 1
                if d and bufs[s].startswith(b"HTTP/1.1 200 "):
                    ok += 1
                else:
                    errors += 1
    print("ready ok=%d errors=%d" % (ok, errors), flush=True)
    if sys.argv[3:] == ["hold"]:
        signal.signal(signal.SIGTERM, lambda *a: None)
        signal.pause()
    for s in socks:
        s.close()
    sys.exit(1 if errors else 0)


main()
