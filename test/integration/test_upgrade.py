#!/usr/bin/env python3
"""Upgrade: after a backend 101 both sides are a byte tunnel (both
directions, early bytes, half-close); a non-101 answer is a normal response."""
import os
import threading
import time

from harness import Client, Env, Tap, check, check_eq, wait_until

t = Tap()
env = Env("upgrade")
b1 = w = None

UPGRADE = (b"GET /upgrade%s HTTP/1.1\r\nHost: weir.test\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")


def setup():
    global b1, w
    b1 = env.backend("b1")
    w = env.weir(workers=2,
                 frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"}},
                 backends={"app": {"server": [b1.addr]}})


def open_tunnel(c, query=b"", early=b""):
    c.send(UPGRADE % query + early)
    r = c.read_response()
    check_eq(r.status, 101, "status for an Upgrade: websocket request: " + r.summary())
    check_eq((r.get("upgrade") or "").lower(), "websocket", "Upgrade header of the 101")
    check("upgrade" in r.conn_tokens(), "101 lacks Connection: upgrade: " + r.summary())
    return r


@t.test("101 from the backend turns the connection into a tunnel (echo both ways)")
def _():
    with Client(w.port) as c:
        open_tunnel(c)
        for msg in (b"ping", b"\x00\x01\x02binary\xff", b"GET / HTTP/1.1\r\n\r\n"):
            c.send(msg)
            check_eq(c.read_until_len(len(msg), 3), msg, "echo through the tunnel")


@t.test("bytes sent right after the upgrade request arrive through the tunnel")
def _():
    with Client(w.port) as c:
        open_tunnel(c, early=b"early-bytes")
        check_eq(c.read_until_len(len(b"early-bytes"), 3), b"early-bytes",
                 "bytes sent in the same packet as the request head")


@t.test("client half-close is passed on; the backend can still answer")
def _():
    with Client(w.port) as c:
        open_tunnel(c)
        c.send(b"abc")
        check_eq(c.read_until_len(3, 3), b"abc", "echo")
        c.shutdown_write()
        check_eq(c.read_until_len(5, 3), b"[eof]",
                 "backend's reply after it saw our EOF (half-close not forwarded?)")
        check(c.wait_closed(3), "tunnel not closed after both sides finished")


@t.test("backend half-close is passed on; the client can still send")
def _():
    b1.reset()
    with Client(w.port) as c:
        open_tunnel(c, b"?mode=server-half")
        check_eq(c.read_until_len(5, 3), b"hello", "bytes from the backend")
        check(c.wait_closed(3), "client did not see the backend's EOF")
        c.send(b"world")
        c.shutdown_write()
        got = wait_until(lambda: list(b1.stats()["tunnels"].values()), 3, 0.05)
        check_eq(got, ["world"], "what the backend received after its half-close")


@t.test("8 MiB each way through the tunnel arrive intact")
def _():
    data = os.urandom(8 << 20)
    with Client(w.port, timeout=10) as c:
        open_tunnel(c)
        err = []

        def sender():
            try:
                c.sock.sendall(data)
            except OSError as e:
                err.append(e)
        th = threading.Thread(target=sender, daemon=True)
        th.start()
        got = c.read_until_len(len(data), 20)
        th.join(10)
        check(not err, "send failed: %s" % err)
        check(got == data, "echoed data differs")


@t.test("an upgrade request answered without 101 is a normal response")
def _():
    with Client(w.port) as c:
        c.send(b"GET /echo?noupgrade=1 HTTP/1.1\r\nHost: weir.test\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\n\r\n")
        r = c.response()
        check_eq(r.status, 200, "status")
        check_eq(r.json()["target"], "/echo?noupgrade=1", "target")
        if "close" not in r.conn_tokens() and not c.wait_closed(0.2):
            c.request("GET", "/echo?next=1")
            r2 = c.response()
            check_eq(r2.json()["target"], "/echo?next=1", "next request on the connection")


@t.test("Upgrade without Connection: upgrade is not tunnelled and not forwarded")
def _():
    with Client(w.port) as c:
        c.send(b"GET /upgrade HTTP/1.1\r\nHost: weir.test\r\nUpgrade: websocket\r\n\r\n")
        r = c.response()
        check_eq(r.status, 200, "status (backend answers 101 only if Upgrade reached it)")
        hs = [n.lower() for n, _ in r.json()["headers"]]
        check("upgrade" not in hs, "Upgrade forwarded without Connection: upgrade")


@t.test("many tunnels at once each echo their own bytes")
def _():
    clients = [Client(w.port) for _i in range(10)]
    try:
        for c in clients:
            open_tunnel(c)
        for i, c in enumerate(clients):
            c.send(b"tunnel-%d" % i)
        for i, c in enumerate(clients):
            msg = b"tunnel-%d" % i
            check_eq(c.read_until_len(len(msg), 3), msg, "echo on tunnel %d" % i)
    finally:
        for c in clients:
            c.close()
    time.sleep(0.2)


@t.test("weir stops cleanly on SIGTERM: exit 0, no orphans, no worker died")
def _():
    w.check_clean_stop()


t.run(setup, env)
