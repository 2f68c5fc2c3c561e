#!/usr/bin/env python3
"""The upstream connection pool: reuse across client connections, the
keepalive bound, keepalive_timeout, and transparent retry when a pooled
connection turns out to be closed by the backend."""
import threading
import time

from harness import Client, Env, Tap, check, check_eq, http

t = Tap()
env = Env("pool")


def start(backend, workers=2, **bopts):
    opts = {"server": [backend.addr]}
    opts.update(bopts)
    return env.weir(workers=workers,
                    frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"}},
                    backends={"app": opts})


def sequential(w, n, path="/echo", gap=0.0):
    """n requests, each on a new client connection; returns the responses."""
    out = []
    for i in range(n):
        r = http(w.port, "GET", "%s?i=%d" % (path, i))
        check_eq(r.status, 200, "status of request %d to %s: %s" % (i, path, r.summary()))
        out.append(r)
        time.sleep(gap)
    return out


@t.test("backend connections are reused across client connections")
def _():
    b = env.backend("reuse")
    w = start(b, workers=2, keepalive=32)
    rs = sequential(w, 10)
    st = b.stats()
    ports = {r.json()["peer_port"] for r in rs}
    check(st["connections"] <= 2, "10 sequential requests via 2 workers used %d backend "
          "connections (expected <= 2)" % st["connections"])
    check(len(ports) < 10, "every request came from a new connection: %s" % sorted(ports))
    w.check_clean_stop()


@t.test("keepalive=1: after 6 concurrent requests at most workers*1 stay open")
def _():
    b = env.backend("bound")
    w = start(b, workers=2, keepalive=1)
    errs = []

    def one(i):
        try:
            r = http(w.port, "GET", "/slow?ms=500&c=%d" % i)
            if r.status != 200:
                errs.append(r.summary())
        except Exception as e:
            errs.append(repr(e))
    ths = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(10)
    check(not errs, "concurrent requests failed: %s" % errs)
    st = b.stats()
    check(st["max_open"] >= 3, "backend never saw more than %d connections at once"
          % st["max_open"])
    n = b.wait_open(lambda n: n <= 2, 2.0)
    check(n <= 2, "backend still has %d open connections 2s after the burst "
          "(keepalive=1, 2 workers)" % n)
    check(n >= 1, "no pooled connection kept at all (keepalive=1)")
    w.check_clean_stop()


@t.test("idle pooled connections are closed after keepalive_timeout (1s)")
def _():
    b = env.backend("idle")
    w = start(b, workers=2, keepalive=8, keepalive_timeout="1s")
    sequential(w, 4)
    t0 = time.monotonic()
    check(b.stats()["open"] >= 1, "no pooled connection open right after the requests")
    n = b.wait_open(lambda n: n == 0, 4.0)
    dt = time.monotonic() - t0
    check_eq(n, 0, "backend connections open 4s after the last request "
             "(keepalive_timeout 1s)")
    check(dt >= 0.7, "pooled connections closed after %.2fs, before keepalive_timeout" % dt)
    w.check_clean_stop()


@t.test("pooled connection the backend closed after its response: retried transparently")
def _():
    b = env.backend("close0", "--idle-close-ms", "0")
    w = start(b, workers=2, keepalive=8)
    # Varying gaps hit both cases: weir already saw the FIN, or not yet.
    for i in range(40):
        r = http(w.port, "GET", "/echo?i=%d" % i)
        check_eq(r.status, 200, "status of request %d: %s" % (i, r.summary()))
        time.sleep((0, 0.001, 0.005, 0.02)[i % 4])
    with Client(w.port) as c:
        for i in range(20):
            c.request("GET", "/echo?ka=%d" % i)
            r = c.response()
            check_eq(r.status, 200, "status of keep-alive request %d: %s" % (i, r.summary()))
    st = b.stats()
    check(st["idle_closed"] >= 30, "backend closed only %d connections" % st["idle_closed"])
    w.check_clean_stop()


@t.test("pooled connection the backend closed after 200ms idle: retried transparently")
def _():
    b = env.backend("close200", "--idle-close-ms", "200")
    w = start(b, workers=1, keepalive=8)
    sequential(w, 5, gap=0.4)
    check(b.stats()["idle_closed"] >= 3, "backend did not close idle connections")
    w.check_clean_stop()


@t.test("backend closing a reused connection without answering: GET retried")
def _():
    b = env.backend("stale", "--close-on-reuse")
    w = start(b, workers=1, keepalive=8)
    sequential(w, 6)
    st = b.stats()
    check(st["stale_closed"] >= 1, "weir never reused a connection (stale_closed=%d)"
          % st["stale_closed"])
    w.check_clean_stop()


@t.test("backend Connection: close is honoured: that connection is not reused")
def _():
    b = env.backend("respclose")
    w = start(b, workers=1, keepalive=8)
    rs = sequential(w, 5, path="/resp-close")
    check_eq(len({r.json()["peer_port"] for r in rs}), 5, "distinct backend connections")
    check_eq(b.stats()["connections"], 5, "backend connections")
    w.check_clean_stop()


@t.test("a backend that sends bytes after a complete response is not pooled: "
        "the next request goes on a new backend connection and no client "
        "sees the stray response")
def _():
    b = env.backend("extra")
    w = start(b, workers=1, keepalive=8)
    with Client(w.port) as c:
        c.request("GET", "/echo?i=1")
        first = c.response()
        check_eq(first.status, 200, "first request")
        c.request("GET", "/extra")
        r = c.response()
        check_eq(r.status, 204, "the 204 before the stray bytes")
        check_eq(r.body, b"", "body of the 204")
        stray = c.read_some(0.3)
        check_eq(stray, b"", "bytes after the 204 on the client connection")
        # The same client connection and another: each answered by the
        # backend on a new connection, never by the stray "200 evil".
        c.request("GET", "/echo?i=2")
        after = c.response()
        other = http(w.port, "GET", "/echo?i=3")
    for i, resp in ((2, after), (3, other)):
        check(b"evil" not in resp.body, "request %d got the stray response: %s"
              % (i, resp.summary()))
        check_eq(resp.status, 200, "status of request %d" % i)
    doc = after.json()
    check(doc["conn_id"] != first.json()["conn_id"],
          "request 2 reused the backend connection that sent stray bytes "
          "(conn %s)" % doc["conn_id"])
    check_eq(doc["req_on_conn"], 1, "requests on request 2's backend connection")
    check_eq(b.stats()["connections"], 2, "backend connections")
    check(w.wait_log(r"sent bytes after the response; closing that backend "
                     r"connection"), "no log line for the stray bytes")
    w.check_clean_stop()


t.run(None, env)
