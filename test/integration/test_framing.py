#!/usr/bin/env python3
"""Message framing through weir: Content-Length, chunked, close-delimited,
HEAD / 1xx / 204 / 304 without body, Expect: 100-continue, request bodies."""
import hashlib
import time

from harness import (Client, Env, Tap, build_request, check, check_eq, http,
                     pattern)

t = Tap()
env = Env("framing")
b1 = w = None


def setup():
    global b1, w
    b1 = env.backend("b1")
    w = env.weir(workers=2,
                 frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app",
                                    "max_body_size": "1m"}},
                 backends={"app": {"server": [b1.addr]}})


def still_in_sync(c, what):
    """A follow-up request on the same connection gets its own response."""
    c.request("GET", "/echo?after=" + what)
    r = c.response()
    check_eq(r.status, 200, "status of the request after " + what)
    check_eq(r.json()["target"], "/echo?after=" + what,
             "target of the request after %s (stray body bytes?)" % what)


@t.test("Content-Length response keeps Content-Length and the exact body")
def _():
    r = http(w.port, "GET", "/big?bytes=300000")
    check_eq(r.status, 200, "status")
    check_eq(r.framing, "length", "framing to client: " + r.summary())
    check(r.body == pattern(300000), "body differs from what the backend sent")


@t.test("chunked response is forwarded chunked to an HTTP/1.1 client")
def _():
    with Client(w.port) as c:
        c.request("GET", "/chunked?parts=5")
        r = c.response()
        check_eq(r.status, 200, "status")
        check_eq(r.framing, "chunked", "framing to client: " + r.summary())
        check_eq(r.body, b"".join(b"chunk-%d\n" % i for i in range(5)), "body")
        still_in_sync(c, "chunked")


@t.test("large chunked response (5 MiB) is forwarded intact")
def _():
    r = http(w.port, "GET", "/bigchunked?bytes=5242880", timeout=20)
    check_eq((r.status, r.framing), (200, "chunked"), "status, framing")
    check(r.body == pattern(5242880), "body differs (len %d)" % len(r.body))


@t.test("chunked response to an HTTP/1.0 client is not chunked")
def _():
    with Client(w.port) as c:
        c.send(b"GET /chunked?parts=4 HTTP/1.0\r\nHost: weir.test\r\n\r\n")
        r = c.response()
        check_eq(r.status, 200, "status")
        check(not r.has("transfer-encoding"), "Transfer-Encoding sent to a 1.0 client: "
              + r.summary())
        check_eq(r.body, b"".join(b"chunk-%d\n" % i for i in range(4)), "body")


@t.test("close-delimited response is chunked to an HTTP/1.1 client")
def _():
    with Client(w.port) as c:
        c.request("GET", "/eof?bytes=100000")
        r = c.response()
        check_eq(r.status, 200, "status")
        check_eq(r.framing, "chunked", "framing to client: " + r.summary())
        check(r.body == pattern(100000), "body differs (len %d)" % len(r.body))


@t.test("close-delimited response is close-delimited to an HTTP/1.0 client")
def _():
    with Client(w.port) as c:
        c.send(b"GET /eof?bytes=70000 HTTP/1.0\r\nHost: weir.test\r\n\r\n")
        r = c.response()
        check_eq(r.status, 200, "status")
        check_eq(r.framing, "eof", "framing to a 1.0 client: " + r.summary())
        check(r.body == pattern(70000), "body differs (len %d)" % len(r.body))


@t.test("HEAD: Content-Length kept, no body, next request on the connection works")
def _():
    with Client(w.port) as c:
        c.request("HEAD", "/head")
        r = c.response("HEAD")
        check_eq(r.status, 200, "status")
        check_eq(r.get("content-length"), "1234", "Content-Length of HEAD response")
        still_in_sync(c, "head")


@t.test("204 response has no body, next request works")
def _():
    with Client(w.port) as c:
        c.request("GET", "/status?code=204")
        r = c.response()
        check_eq(r.status, 204, "status")
        check(not r.has("transfer-encoding"), "204 with Transfer-Encoding: " + r.summary())
        still_in_sync(c, "204")


@t.test("304 response (with Content-Length) has no body, next request works")
def _():
    with Client(w.port) as c:
        c.request("GET", "/status?code=304&cl=10")
        r = c.response()
        check_eq(r.status, 304, "status")
        still_in_sync(c, "304")


@t.test("1xx interim response then final: final body intact, connection in sync")
def _():
    with Client(w.port) as c:
        c.request("GET", "/info?code=103")
        r = c.response()
        check_eq(r.status, 200, "final status")
        check_eq(r.body, b"final\n", "final body")
        for i in r.interim:
            check(100 <= i.status < 200, "interim %s" % i.summary())
        still_in_sync(c, "103")


@t.test("Expect: 100-continue: weir answers 100 Continue before the body, drops Expect")
def _():
    body = b"hello world"
    with Client(w.port, timeout=3) as c:
        c.send(build_request("POST", "/echo?expect=1",
                             [("Expect", "100-continue"),
                              ("Content-Length", str(len(body)))]))
        r = c.read_response("POST")
        check_eq(r.status, 100, "first response to a request with Expect: 100-continue "
                 "(sent head only, waited up to 3s): " + r.summary())
        check(r.raw_head.startswith(b"HTTP/1.1 100 Continue\r\n"), "status line: %r"
              % r.raw_head)
        c.send(body)
        r = c.response("POST")
        check_eq(r.status, 200, "final status")
        j = r.json()
        check_eq(j["body_len"], len(body), "body length at backend")
        expect = [v for n, v in j["headers"] if n.lower() == "expect"]
        check(not expect, "Expect forwarded to backend: %s" % expect)


@t.test("Expect: 100-continue with Content-Length over max_body_size gets 413, no 100")
def _():
    b1.reset()
    with Client(w.port, timeout=3) as c:
        c.send(build_request("POST", "/echo?expect=big",
                             [("Expect", "100-continue"), ("Content-Length", "2000000")]))
        r = c.read_response("POST")
        check_eq(r.status, 413, "status for Expect + Content-Length 2000000 > 1m: "
                 + r.summary())
        w.check_error_logged(c.local_port, 413)
    time.sleep(0.2)
    check_eq(b1.stats()["bytes_in"], 0, "bytes the backend received for it")


@t.test("chunked request is forwarded re-chunked with trailers dropped")
def _():
    body = b"abc" + b"0123456789"
    data = (b"POST /echo?chunked=1 HTTP/1.1\r\nHost: weir.test\r\n"
            b"Transfer-Encoding: chunked\r\nTrailer: X-Tr\r\n\r\n"
            b"3\r\nabc\r\na\r\n0123456789\r\n0\r\nX-Tr: secret\r\n\r\n")
    with Client(w.port) as c:
        c.send(data)
        r = c.response("POST")
    check_eq(r.status, 200, "status")
    j = r.json()
    check_eq(j["framing"], "chunked", "framing toward backend")
    check_eq((j["body_len"], j["body_sha256"]), (len(body), hashlib.sha256(body).hexdigest()),
             "body at backend")
    check_eq(j["trailers"], [], "trailers at backend")
    leaked = [n for n, _ in j["headers"] if n.lower() in ("x-tr", "trailer")]
    check(not leaked, "trailer fields reached the backend as headers: %s" % leaked)


@t.test("chunk extensions are accepted and not forwarded as data")
def _():
    data = (b"POST /echo?ext=1 HTTP/1.1\r\nHost: weir.test\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            b"5;name=value\r\nhello\r\n0\r\n\r\n")
    with Client(w.port) as c:
        c.send(data)
        r = c.response("POST")
    check_eq(r.status, 200, "status")
    check_eq(r.json()["body_head"], "hello", "body at backend")


@t.test("request body of 900 KiB with Content-Length arrives intact")
def _():
    body = pattern(900 * 1024)
    r = http(w.port, "PUT", "/echo?big=1", body=body, timeout=10)
    check_eq(r.status, 200, "status")
    j = r.json()
    check_eq((j["method"], j["body_len"], j["body_sha256"]),
             ("PUT", len(body), hashlib.sha256(body).hexdigest()), "body at backend")


@t.test("weir stops cleanly on SIGTERM: exit 0, no orphans, no worker died")
def _():
    w.check_clean_stop()


t.run(setup, env)
