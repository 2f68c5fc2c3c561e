#!/usr/bin/env python3
"""Request smuggling defences (RFC 9112): ambiguous or malformed framing is
answered 400 (or 501/505/417) and the connection closed, and the backend
never sees the request; bodies are only ever bodies; a backend response with
ambiguous framing becomes 502."""
import time

from harness import Client, Env, Tap, check, check_eq, raw_exchange

t = Tap()
env = Env("smuggling")
b1 = w = None


def setup():
    global b1, w
    b1 = env.backend("b1")
    w = env.weir(workers=2,
                 frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"}},
                 backends={"app": {"server": [b1.addr]}})


POST = b"POST /echo HTTP/1.1\r\nHost: weir.test\r\n"
GET = b"GET /echo HTTP/1.1\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"

# Rejected while reading the head: the backend must receive nothing at all.
HEAD_CASES = [
    ("Content-Length and Transfer-Encoding together",
     POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("two differing Content-Length headers",
     POST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
    ("Content-Length: +5", POST + b"Content-Length: +5\r\n\r\nhello"),
    ("Content-Length: 1 2", POST + b"Content-Length: 1 2\r\n\r\nhello!!!!!!!"),
    ("Transfer-Encoding: chunked, chunked",
     POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
    ("two Transfer-Encoding: chunked header lines",
     POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("Transfer-Encoding with chunked not last (chunked, gzip)",
     POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
    ("space before colon (Transfer-Encoding : chunked)",
     POST + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
    ("tab before colon (Transfer-Encoding<TAB>: chunked)",
     POST + b"Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n"),
    ("obs-fold continuation line",
     GET + b"Host: weir.test\r\nX-Foo: a\r\n  b\r\n\r\n"),
    ("obs-fold continuing Transfer-Encoding",
     POST + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"),
    ("bare CR inside a header value",
     GET + b"Host: weir.test\r\nX-Foo: a\rb\r\n\r\n"),
    ("bare LF line ending",
     GET + b"Host: weir.test\nX-Foo: b\r\n\r\n"),
    ("NUL in a header value",
     GET + b"Host: weir.test\r\nX-Foo: a\x00b\r\n\r\n"),
    ("header name containing a space",
     GET + b"Host: weir.test\r\nX Foo: b\r\n\r\n"),
    ("HTTP/1.1 request without Host", GET + b"X-Foo: b\r\n\r\n"),
    ("two Host headers", GET + b"Host: a.test\r\nHost: b.test\r\n\r\n"),
    ("Host: a b", GET + b"Host: a b\r\n\r\n"),
    ("Transfer-Encoding in an HTTP/1.0 request",
     b"POST /echo HTTP/1.0\r\nHost: weir.test\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\n\r\n"),
]

# Rejected in the chunked body (sent in the same packet as the head): the
# backend must receive nothing either. Each entry: (name, body, the invalid
# bytes, named in the failure message if they reached the backend).
CHUNK_CASES = [
    ("chunk size 0x5", b"0x5\r\nhello\r\n0\r\n\r\n", b"0x5"),
    ("chunk size with trailing space '5 '", b"5 \r\nhello\r\n0\r\n\r\n", b"5 \r\n"),
    ("chunk size of 17 hex digits", b"00000000000000005\r\nhello\r\n0\r\n\r\n",
     b"00000000000000005"),
    ("chunk data not followed by CRLF", b"5\r\nhelloXX0\r\n\r\n", b"helloXX"),
    ("CR inside a chunk extension", b"5;a=b\rc\r\nhello\r\n0\r\n\r\n", b"a=b\rc"),
]


def rejected(data, status, must_close=True):
    """Send data; assert the status, the log line, and (if must_close) that
    weir closes the connection. Returns the client port."""
    r, closed, port, extra = raw_exchange(w.port, data, timeout=3.0,
                                          close_wait=2.0 if must_close else 0.2)
    check(r is not None, "request %r: expected HTTP/1.1 %d, got no parsable response (%s)"
          % (data, status, extra))
    check_eq(r.status, status, "status for request %r (got %s)" % (data, r.summary()))
    check(r.raw_head.startswith(b"HTTP/1.1 %d " % status), "status line %r" % r.raw_head)
    if must_close:
        check(closed, "connection not closed within 2s after %d for %r" % (status, data))
    w.check_error_logged(port, status)
    return port


def backend_got_nothing(data):
    time.sleep(0.15)
    st = b1.stats()
    check(st["bytes_in"] == 0, "backend received %d bytes for rejected request %r: %r"
          % (st["bytes_in"], data, b1.raw()[:300]))


def head_case(name, data):
    @t.test("400 + close, nothing forwarded: " + name)
    def _():
        b1.reset()
        rejected(data, 400)
        backend_got_nothing(data)


def chunk_case(name, body, marker):
    @t.test("400 + close, nothing forwarded: " + name)
    def _():
        b1.reset()
        data = CHUNKED + body
        rejected(data, 400)
        time.sleep(0.15)
        st = b1.stats()
        raw = b1.raw()
        check(marker not in raw, "backend received the invalid chunk bytes %r: %r"
              % (marker, raw[:300]))
        check_eq(st["requests"], 0, "requests the backend served for %r" % data)
        check(st["bytes_in"] == 0, "backend received %d bytes for rejected request %r: %r"
              % (st["bytes_in"], data, raw[:300]))


for _n, _d in HEAD_CASES:
    head_case(_n, _d)
for _n, _b, _m in CHUNK_CASES:
    chunk_case(_n, _b, _m)


@t.test("Transfer-Encoding: identity, chunked -> 501 + close, nothing forwarded")
def _():
    # identity is no longer a registered coding (RFC 9112 7): unknown -> 501.
    rejected(POST + b"Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
             501)


@t.test("Transfer-Encoding: gzip, chunked -> 501 + close, nothing forwarded")
def _():
    b1.reset()
    data = POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
    rejected(data, 501)
    backend_got_nothing(data)


@t.test("HTTP/2.0 request line -> 505, nothing forwarded")
def _():
    b1.reset()
    data = b"GET /echo HTTP/2.0\r\nHost: weir.test\r\n\r\n"
    rejected(data, 505, must_close=False)
    backend_got_nothing(data)


@t.test("unknown method FOO -> 501, nothing forwarded")
def _():
    b1.reset()
    data = b"FOO /echo HTTP/1.1\r\nHost: weir.test\r\n\r\n"
    rejected(data, 501, must_close=False)
    backend_got_nothing(data)


@t.test("Expect: something -> 417, nothing forwarded")
def _():
    b1.reset()
    data = POST + b"Expect: something\r\nContent-Length: 5\r\n\r\nhello"
    rejected(data, 417, must_close=False)
    backend_got_nothing(data)


@t.test("a request inside a Content-Length body reaches the backend only as body")
def _():
    b1.reset()
    inner = b"GET /admin HTTP/1.1\r\nHost: weir.test\r\n\r\n"
    with Client(w.port) as c:
        c.send(POST + b"Content-Length: %d\r\n\r\n" % len(inner) + inner)
        r = c.response("POST")
        check_eq(r.status, 200, "status")
        check_eq(r.json()["body_head"].encode("latin-1"), inner, "body at backend")
        more = c.read_some(0.5)
        check_eq(more, b"", "bytes after the one response")
    st = b1.stats()
    check(not any("/admin" in line for line in st["request_lines"]),
          "backend saw /admin as a request: %s" % st["request_lines"])
    check_eq(st["requests"], 1, "requests served by the backend")


@t.test("backend response with Content-Length and Transfer-Encoding -> 502")
def _():
    with Client(w.port) as c:
        c.request("GET", "/bad-cl-te")
        r = c.response()
        check_eq(r.status, 502, "status for a CL+TE backend response: " + r.summary())
        w.check_error_logged(c.local_port, 502)


@t.test("backend response with two different Content-Length -> 502")
def _():
    with Client(w.port) as c:
        c.request("GET", "/bad-two-cl")
        r = c.response()
        check_eq(r.status, 502, "status for a CL 5 + CL 6 backend response: " + r.summary())
        w.check_error_logged(c.local_port, 502)


@t.test("weir stops cleanly on SIGTERM: exit 0, no orphans, no worker died")
def _():
    w.check_clean_stop()


t.run(setup, env)
