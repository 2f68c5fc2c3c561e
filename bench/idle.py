#!/usr/bin/env python3
"""Idle keep-alive connections for bench/run.sh idle and tls-idle: open N
connections to HOST:PORT (with --tls: TLS, certificate not checked), make
one GET on each (all in flight at once, one thread), read every response
whole, then keep the connections open and idle.

Usage: idle.py [--tls] HOST:PORT N [hold]
Prints "ready ok=N errors=E" once all responses are in; with "hold" it then
keeps the connections open until SIGTERM, else it closes them at once (a
flood). Exits 1 if any request did not get a 200.
"""
import selectors
import signal
import socket
import ssl
import sys

REQ = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: weir-bench-idle\r\n\r\n"
# TLS handshakes in progress at once: more only overflow the listen queues.
TLS_OPENING = 256


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


class Conn:
    """One connection: its handshake (TLS), its request, its response."""

    def __init__(self, addr, ctx):
        self.sock = socket.create_connection(addr, timeout=30)
        self.sock.setblocking(False)
        if ctx is not None:
            self.sock = ctx.wrap_socket(self.sock,
                                        do_handshake_on_connect=False)
        self.shaking = ctx is not None
        self.buf = b""
        if not self.shaking:
            self.sock.send(REQ)

    def step(self):
        """Move on after an event: the selector events still wanted, 0 once
        the response is whole or the peer closed."""
        try:
            if self.shaking:
                self.sock.do_handshake()
                self.shaking = False
                self.sock.sendall(REQ)
            while True:
                d = self.sock.recv(65536)
                self.buf += d
                if not d or complete(self.buf):
                    return 0
        except ssl.SSLWantReadError:
            return selectors.EVENT_READ
        except ssl.SSLWantWriteError:
            return selectors.EVENT_WRITE
        except BlockingIOError:
            return selectors.EVENT_READ


def main():
    args = sys.argv[1:]
    ctx = None
    if args[:1] == ["--tls"]:
        args = args[1:]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    host, port = args[0].rsplit(":", 1)
    n = int(args[1])
    # Plain: all at once; TLS: at most TLS_OPENING unfinished at a time.
    limit = n if ctx is None else TLS_OPENING
    sel = selectors.DefaultSelector()
    conns = []
    ok = errors = 0
    pending = 0
    while len(conns) < n or pending:
        while len(conns) < n and pending < limit:
            c = Conn((host, int(port)), ctx)
            conns.append(c)
            pending += 1
            sel.register(c.sock, selectors.EVENT_WRITE if c.shaking
                         else selectors.EVENT_READ, c)
        events = sel.select(timeout=30)
        if not events:
            errors += pending
            break
        for key, _ in events:
            c = key.data
            try:
                want = c.step()
            except OSError:
                want = 0
            if want:
                sel.modify(c.sock, want, c)
                continue
            sel.unregister(c.sock)
            pending -= 1
            if c.buf.startswith(b"HTTP/1.1 200 ") and complete(c.buf):
                ok += 1
            else:
                errors += 1
    print("ready ok=%d errors=%d" % (ok, errors), flush=True)
    if args[2:] == ["hold"]:
        signal.signal(signal.SIGTERM, lambda *a: None)
        signal.pause()
    for c in conns:
        c.sock.close()
    sys.exit(1 if errors else 0)


main()
