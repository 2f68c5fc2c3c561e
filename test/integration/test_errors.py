#!/usr/bin/env python3
"""Errors weir generates (400, 431, 413, 502, 504, client timeouts), each
logged as "client IP:PORT: STATUS ...", and the worker survives every one."""
import re
import threading
import time

from harness import (Client, Env, Tap, build_request, check, check_eq,
                     free_port, http, raw_exchange)

t = Tap()
env = Env("errors")
b1 = w = None


def setup():
    global b1, w
    b1 = env.backend("b1")
    dead = ["127.0.0.1:%d" % free_port(), "127.0.0.1:%d" % free_port()]
    w = env.weir(
        workers=2,
        frontends={
            "web": {"listen": "127.0.0.1:auto", "backend": "app", "client_timeout": "1s",
                    "max_header_size": "4k", "max_body_size": "1m"},
            "dead": {"listen": "127.0.0.1:auto", "backend": "deadapp"},
            "slow": {"listen": "127.0.0.1:auto", "backend": "slowapp",
                     "client_timeout": "1s"},
        },
        backends={
            "app": {"server": [b1.addr], "response_timeout": "500ms",
                    "connect_timeout": "1s"},
            "deadapp": {"server": dead, "connect_timeout": "1s"},
            "slowapp": {"server": [b1.addr], "response_timeout": "5s",
                        "keepalive_timeout": "1s"},
        })


def healthy():
    """The worker survived: same pids, and a normal request still works."""
    w.check_workers_unchanged()
    r = http(w.port, "GET", "/echo?healthy=1")
    check_eq(r.status, 200, "status of a normal request afterwards")


def expect_status(port, data, status, must_close=False):
    r, closed, cport, extra = raw_exchange(port, data, close_wait=3.0 if must_close else 0.1)
    check(r is not None, "request %r: expected %d, got no parsable response (%s)"
          % (data[:200], status, extra))
    check_eq(r.status, status, "status for %r (got %s)" % (data[:200], r.summary()))
    if must_close:
        check(closed, "connection not closed within 3s after %d" % status)
    w.check_error_logged(cport, status)
    return r


@t.test("malformed request line (GET without target and version) -> 400 and close")
def _():
    expect_status(w.port, b"GET\r\nHost: weir.test\r\n\r\n", 400, must_close=True)
    healthy()


@t.test("malformed request line (two spaces after the method) -> 400 and close")
def _():
    expect_status(w.port, b"GET  /echo HTTP/1.1\r\nHost: weir.test\r\n\r\n", 400,
                  must_close=True)
    healthy()


@t.test("binary garbage (a TLS ClientHello) -> 400 and close")
def _():
    expect_status(w.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400,
                  must_close=True)
    healthy()


@t.test("header section over max_header_size (4k) -> 431")
def _():
    data = build_request("GET", "/echo", [("X-Big", "a" * 6000)])
    expect_status(w.port, data, 431)
    healthy()


@t.test("header section under max_header_size (3000 bytes) is forwarded")
def _():
    r = http(w.port, "GET", "/echo", [("X-Big", "b" * 3000)])
    check_eq(r.status, 200, "status")
    check_eq([v for n, v in r.json()["headers"] if n == "X-Big"], ["b" * 3000], "X-Big")


@t.test("Content-Length over max_body_size (1m) -> 413")
def _():
    b1.reset()
    data = build_request("POST", "/echo", [("Content-Length", "2000000")])
    expect_status(w.port, data, 413)
    time.sleep(0.1)
    check_eq(b1.stats()["bytes_in"], 0, "bytes the backend received")
    healthy()


@t.test("chunked body growing over max_body_size (1m) -> 413")
def _():
    b1.reset()
    with Client(w.port, timeout=5) as c:
        c.send(build_request("POST", "/echo?chunked-too-big=1",
                             [("Transfer-Encoding", "chunked")]))

        def sender():
            piece = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
            try:
                for _i in range(24):          # 1.5 MiB
                    c.sock.sendall(piece)
                c.sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass
        th = threading.Thread(target=sender, daemon=True)
        th.start()
        r = c.response("POST")
        th.join(5)
        check_eq(r.status, 413, "status for a 1.5 MiB chunked body: " + r.summary())
        w.check_error_logged(c.local_port, 413)
    time.sleep(0.1)
    check_eq(b1.stats()["requests"], 0, "requests the backend completed")
    healthy()


@t.test("all servers refuse connections -> 502")
def _():
    r = expect_status(w.ports["dead"][0], build_request("GET", "/echo"), 502)
    check(r.raw_head.startswith(b"HTTP/1.1 502 "), "status line %r" % r.raw_head)
    healthy()


@t.test("backend resets the connection before responding -> 502")
def _():
    expect_status(w.port, build_request("GET", "/reset"), 502)
    healthy()


@t.test("backend closes the connection before responding -> 502")
def _():
    expect_status(w.port, build_request("GET", "/close-early"), 502)
    healthy()


@t.test("backend answers with something that is not HTTP -> 502")
def _():
    expect_status(w.port, build_request("GET", "/garbage"), 502)
    healthy()


@t.test("backend slower than response_timeout (500ms) -> 504 after about 500ms")
def _():
    t0 = time.monotonic()
    expect_status(w.port, build_request("GET", "/slow?ms=3000"), 504)
    dt = time.monotonic() - t0
    check(0.4 <= dt <= 2.0, "504 came after %.2fs, expected about 0.5s" % dt)
    healthy()


@t.test("client stalling after half a header is closed after client_timeout (1s)")
def _():
    with Client(w.port, timeout=5) as c:
        c.send(b"GET /echo HTTP/1.1\r\nHost: weir.test\r\n")
        t0 = time.monotonic()
        closed = c.wait_closed(4.0)
        dt = time.monotonic() - t0
        check(closed, "connection still open 4s after a half header (client_timeout 1s)")
        check(0.8 <= dt <= 3.5, "closed after %.2fs, expected about 1s" % dt)
        check(c.extra == b"" or c.extra.startswith(b"HTTP/1.1 408 "),
              "weir sent something other than a 408: %r" % c.extra[:200])
    healthy()


@t.test("slowloris: a head sent one byte every 300ms gets 408 and a close "
        "about client_timeout (1s) after connecting, long before it completes")
def _():
    head = b"GET /echo HTTP/1.1\r\nHost: weir.test\r\nUser-Agent: slowloris\r\n\r\n"
    got = b""
    late = 0.0          # how late our own 300ms sleeps woke: this run's slack
    with Client(w.port, timeout=5) as c:
        t0 = time.monotonic()
        sent = 0
        # Send until weir answers; the whole head would need ~17s.
        while sent < len(head) and time.monotonic() - t0 < 10:
            try:
                c.send(head[sent:sent + 1])
            except OSError:
                break
            sent += 1
            before = time.monotonic()
            got = c.read_some(0.3)
            late = max(late, time.monotonic() - before - 0.3)
            if got:
                break
        dt = time.monotonic() - t0
        closed = c.wait_closed(2.0)
        got += c.extra
    t.diag("  408 after %.2fs and %d of %d bytes (own scheduling slack %.2fs)"
           % (dt, sent, len(head), late))
    check(got.startswith(b"HTTP/1.1 408 "), "no 408 after %.1fs and %d of %d "
          "head bytes: %r" % (dt, sent, len(head), got[:200]))
    check(sent < len(head) // 2, "the 408 came only after %d of %d bytes" %
          (sent, len(head)))
    # The deadline runs from the connect, not from the last byte: 1s plus
    # scheduling, and however late this client itself was woken.
    check(dt <= 1.5 + late, "408 after %.2fs, expected about 1s" % dt)
    check(closed, "connection still open after the 408")
    healthy()


@t.test("a close-delimited response cut by a backend reset: HTTP/1.1 client "
        "gets no last chunk and a close, 'response cut short ... reset' is "
        "logged, the server failure counts; a clean close still ends it")
def _():
    b = env.backend("cut")
    wc = env.weir(workers=1,
                  frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"}},
                  backends={"app": {"server": [b.addr], "max_fails": 2,
                                    "max_ejected_percent": "100%",
                                    "fail_timeout": "10s", "retries": 0}})
    # A clean close ends a close-delimited body: re-chunked, last chunk, 200.
    r = http(wc.port, "GET", "/eof?bytes=1000")
    check_eq((r.status, r.framing, len(r.body)), (200, "chunked", 1000),
             "clean close-delimited response")
    for i in range(2):
        with Client(wc.port, timeout=5) as c:
            c.request("GET", "/eof?bytes=1000&reset=1&i=%d" % i)
            head = c.read_head()
            check_eq(head.status, 200, "status of the cut response")
            check(head.get("Transfer-Encoding") == "chunked",
                  "not re-chunked: %s" % head.summary())
            closed = c.wait_closed(3.0)
            rest = c.extra
        check(closed, "client connection kept open after a cut response")
        check(not rest.endswith(b"0\r\n\r\n"), "the cut body ends with a "
              "last chunk, as if complete: ...%r" % rest[-40:])
        check(len(rest) <= 1000 + 200, "more body than the backend sent: %d"
              % len(rest))
    line = wc.wait_line(0, r"response cut short: .*Connection reset by peer", 2.0)
    t.diag("  " + line)
    # Two cut responses are two failures in a row: max_fails = 2 ejects.
    wc.wait_line(0, r"server app/%s ejected for" % re.escape(b.addr), 2.0)
    wc.check_clean_stop()


@t.test("idle keep-alive client is closed after client_timeout (1s)")
def _():
    with Client(w.port, timeout=5) as c:
        c.request("GET", "/echo?idle=1")
        check_eq(c.response().status, 200, "status")
        t0 = time.monotonic()
        closed = c.wait_closed(4.0)
        dt = time.monotonic() - t0
        check(closed, "idle keep-alive connection still open after 4s (client_timeout 1s)")
        check(0.8 <= dt <= 3.5, "closed after %.2fs idle, expected about 1s" % dt)
    healthy()


@t.test("a slow response after a request body is not cut by client_timeout (1s)")
def _():
    # Reading a late body arms the client timeout; awaiting the response must not.
    with Client(w.ports["slow"][0], timeout=8) as c:
        c.send(b"POST /slow?ms=2000 HTTP/1.1\r\nHost: weir.test\r\n"
               b"Content-Length: 1000\r\n\r\n")
        time.sleep(0.3)
        c.send(b"x" * 1000)
        check_eq(c.response("POST").status, 200,
                 "status of a 2 s response after a late POST body")


@t.test("a slow response on a reused pooled connection outlives keepalive_timeout (1s)")
def _():
    port = w.ports["slow"][0]
    with Client(port, timeout=8) as c:
        for i in range(2):
            # The second request reuses a pooled backend connection whose
            # idle timer (1 s) must not fire while the response is awaited.
            c.request("GET", "/slow?ms=1500&n=%d" % i)
            check_eq(c.response().status, 200, "status of slow request %d" % i)


@t.test("after all errors: same worker pids and requests still succeed")
def _():
    for i in range(5):
        check_eq(http(w.port, "GET", "/echo?final=%d" % i).status, 200, "status")
    healthy()


@t.test("weir stops cleanly on SIGTERM: exit 0, no orphans, no worker died")
def _():
    w.check_clean_stop()


t.run(setup, env)
