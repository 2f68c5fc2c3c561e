#!/usr/bin/env python3
"""TLS session resumption rate for bench/run.sh tls, across a reload.

Usage: tlsresume.py HOST:PORT N GOFILE
Makes N+1 TLS connections one after another, each on a new TCP connection
(so on whichever worker the kernel picks) offering the session the one
before it got, with one GET each whose response is read whole (TLS 1.3
tickets come after the handshake). Like browsers and OpenSSL's own client
(RFC 8446 C.4), it offers a ticket once only: when a resumed connection
brought no new ticket, the next one offers none. Prints "before attempts=N
reused=R".
Then it gets N fresh sessions (N more connections offering none, so that a
server taking each ticket once only is not penalized), waits (up to 120 s)
for GOFILE to exist, while the caller reloads the proxy, and offers each of
those sessions on a new connection: "after attempts=N reused=R". Exits 1
if a request does not get a 200.
"""
import os
import socket
import ssl
import sys
import time

REQ = (b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: weir-bench-resume\r\n"
       b"Connection: close\r\n\r\n")


def fetch(ctx, addr, session):
    """One connection offering SESSION: (was it resumed, its session)."""
    with socket.create_connection(addr, timeout=30) as raw:
        with ctx.wrap_socket(raw, session=session) as s:
            s.sendall(REQ)
            buf = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                buf += d
            if not buf.startswith(b"HTTP/1.1 200 "):
                sys.exit("no 200: %r" % buf[:100])
            return s.session_reused, s.session


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    addr = (host, int(port))
    n = int(sys.argv[2])
    go = sys.argv[3]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    reused = 0
    offered = set()
    _, session = fetch(ctx, addr, None)
    for _ in range(n):
        # A new ticket makes a new session with a new id.
        if session.id in offered:
            session = None
        else:
            offered.add(session.id)
        r, session = fetch(ctx, addr, session)
        reused += r
    sessions = [fetch(ctx, addr, None)[1] for _ in range(n)]
    # Only now: the caller reloads the proxy once it reads this line.
    print("before attempts=%d reused=%d" % (n, reused), flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            sys.exit("%s did not appear in 120 s" % go)
        time.sleep(0.05)
    reused = sum(fetch(ctx, addr, s)[0] for s in sessions)
    print("after attempts=%d reused=%d" % (n, reused), flush=True)


main()
