#!/usr/bin/env python3
"""Memory a worker holds for connections: an idle keep-alive connection
costs less than nginx's (about 1 KB on bench/run.sh idle; each holds no
buffers, only its small connection object), and after a flood of
connections closes, the worker gives the memory back within seconds, TLS
connections (OpenSSL's malloc'd objects) too.
VmRSS of the one worker is the measure (sizes, not times: the waits only
bound how long the worker may take to give memory back)."""
import socket
import ssl
import subprocess
import time

import tlscerts
from harness import WEIR_BIN, Env, Skip, Tap, check, http, rss_kb, wait_until

t = Tap(budget=60)
env = Env("memory")
b1 = w = None
idle_base = 0              # the worker's RSS before any test, kB

IDLE_CONNS = 2000
IDLE_LIMIT = 1024          # bytes of worker RSS per idle keep-alive connection
FLOOD_CONNS = 1500
FLOOD_BACK_KB = 2048       # worker RSS this close to its idle size after a flood
TLS_FLOOD_CONNS = 1500
TLS_BACK_KB = 4096         # ... after a flood of TLS connections
REQ = b"GET /echo HTTP/1.1\r\nHost: mem\r\n\r\n"
HALF_HEAD = b"GET /echo HTTP/1.1\r\nHost: mem\r\n"


def sanitizer_build():
    """ASan keeps freed memory in quarantine and maps shadow memory: RSS
    says nothing about weir's own use there."""
    out = subprocess.run(["ldd", WEIR_BIN], capture_output=True, text=True).stdout
    return "libasan" in out


def setup():
    global b1, w, idle_base, ca, tls_port
    b1 = env.backend("b1")
    ca = tlscerts.CA(env.path("pki"))
    w = env.weir(workers=1,
                 frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"},
                            "sec": {"listen": "127.0.0.1:auto tls",
                                    "tls_cert": ca.server("m", ["mem.test"]),
                                    "backend": "app"}},
                 backends={"app": {"server": [b1.addr]}})
    tls_port = w.ports["sec"][0]
    for i in range(20):     # the worker allocates what any request needs
        http(w.port, "GET", "/echo?warm=%d" % i)
        s = tls_connect()
        one_request(s)
        s.close()
    time.sleep(1.5)         # past a tick of the buffer pool
    idle_base = worker_rss()


def tls_connect():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca.cert)
    s = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    return ctx.wrap_socket(s, server_hostname="mem.test")


def worker_rss():
    pids = w.worker_pids()
    check(len(pids) == 1, "one worker: %s" % pids)
    return rss_kb(pids[0])


def response_done(buf):
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(buf) >= end + 4 + int(value)
    return False


def one_request(s):
    """A whole GET on a connection that stays open."""
    s.sendall(REQ)
    buf = b""
    while not response_done(buf):
        d = s.recv(65536)
        check(d, "connection closed before the response ended")
        buf += d
    check(buf.startswith(b"HTTP/1.1 200 "), "status: %r" % buf[:40])


def half_heads(n):
    """n connections that each sent the start of a request head and wait:
    each holds a block of buffers in the worker, as in a slowloris flood,
    and no backend is involved."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", w.port), timeout=10)
        s.sendall(HALF_HEAD)
        socks.append(s)
    return socks


def check_given_back(base, peak, limit_kb, what):
    """The flood grew the worker by more than limit_kb, and within 15 s of
    its end the worker is back within limit_kb of base."""
    back = wait_until(lambda: worker_rss() - base <= limit_kb, 15, 0.2)
    after = worker_rss()
    t.diag("worker RSS %d kB before, %d kB with %s, %d kB after"
           % (base, peak, what, after))
    check(peak - base > limit_kb,
          "the flood did not grow the worker (%d -> %d kB): it tests nothing" % (base, peak))
    check(back, "worker RSS %d kB, %d kB over its idle size 15 s after %s"
          % (after, after - base, what))


@t.test("%d idle keep-alive connections cost at most %d bytes of worker RSS each"
        % (IDLE_CONNS, IDLE_LIMIT))
def _():
    if sanitizer_build():
        raise Skip("an ASan build's RSS is not weir's own")
    base = worker_rss()
    socks = []
    try:
        for _ in range(IDLE_CONNS):
            s = socket.create_connection(("127.0.0.1", w.port), timeout=10)
            socks.append(s)
            one_request(s)
        held = worker_rss()
        per_conn = (held - base) * 1024 // IDLE_CONNS
        t.diag("worker RSS %d kB idle, %d kB with %d idle connections: %d bytes each"
               % (base, held, IDLE_CONNS, per_conn))
        check(per_conn <= IDLE_LIMIT, "%d bytes per idle connection (limit %d)"
              % (per_conn, IDLE_LIMIT))
        # They are still served: idle means kept, not dropped.
        for s in socks[::400]:
            one_request(s)
    finally:
        for s in socks:
            s.close()


@t.test("after %d connections that each hold buffers close, the worker's RSS is "
        "back within %d kB of its idle size" % (FLOOD_CONNS, FLOOD_BACK_KB))
def _():
    if sanitizer_build():
        raise Skip("an ASan build's RSS is not weir's own")
    base = idle_base        # not after the last test: it must have given back too
    socks = half_heads(FLOOD_CONNS)
    # Every connection's bytes reached the worker: it grew by a block each.
    wait_until(lambda: worker_rss() - base > FLOOD_CONNS * 4, 10, 0.1)
    peak = worker_rss()
    for s in socks:
        s.close()
    check_given_back(base, peak, FLOOD_BACK_KB, "%d half heads" % FLOOD_CONNS)


@t.test("after %d TLS connections close, the worker's RSS is back within %d kB "
        "of its idle size (malloc's free pages are given back)"
        % (TLS_FLOOD_CONNS, TLS_BACK_KB))
def _():
    if sanitizer_build():
        raise Skip("an ASan build's RSS is not weir's own")
    base = idle_base
    socks = []
    try:
        for _ in range(TLS_FLOOD_CONNS):
            s = tls_connect()
            one_request(s)
            socks.append(s)
        peak = worker_rss()
    finally:
        for s in socks:
            s.close()
    check_given_back(base, peak, TLS_BACK_KB,
                     "%d TLS connections" % TLS_FLOOD_CONNS)


t.run(setup=setup, env=env)
