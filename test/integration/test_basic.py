#!/usr/bin/env python3
"""Basic proxying: GET/POST to two backends, round robin, curl, HTTP/1.0,
keep-alive, pipelining, Connection: close, hop-by-hop and X-Forwarded-*."""
import shutil

from harness import (Client, Env, Skip, Tap, build_request, check, check_eq,
                     http, run_cmd)

t = Tap()
env = Env("basic")
b1 = b2 = w = None

HOP_REQ = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]


def setup():
    global b1, b2, w
    b1 = env.backend("b1")
    b2 = env.backend("b2")
    w = env.weir(workers=2,
                 frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"}},
                 backends={"app": {"server": [b1.addr, b2.addr]}})


def names(headers):
    return [n.lower() for n, _ in headers]


def values(headers, name):
    return [v for n, v in headers if n.lower() == name]


@t.test("GET reaches a backend with method, target and Host intact")
def _():
    r = http(w.port, "GET", "/echo?a=1&b=two", host="example.org:8080")
    check_eq(r.status, 200, "status of GET /echo?a=1&b=two")
    j = r.json()
    check_eq(j["method"], "GET", "method at backend")
    check_eq(j["target"], "/echo?a=1&b=two", "target at backend")
    check_eq(values(j["headers"], "host"), ["example.org:8080"], "Host at backend")
    check(j["backend"] in ("b1", "b2"), "unexpected backend %r" % j["backend"])


@t.test("POST body with Content-Length arrives intact (length, sha256)")
def _():
    import hashlib
    body = bytes(range(256)) * 400
    r = http(w.port, "POST", "/echo", body=body)
    check_eq(r.status, 200, "status")
    j = r.json()
    check_eq((j["method"], j["body_len"], j["body_sha256"]),
             ("POST", len(body), hashlib.sha256(body).hexdigest()), "body at backend")
    check_eq(j["framing"], "length", "framing toward backend")


@t.test("requests on one client connection alternate between the 2 backends")
def _():
    seen = []
    with Client(w.port) as c:
        for i in range(6):
            c.request("GET", "/echo?rr=%d" % i)
            r = c.response()
            check_eq(r.status, 200, "status of request %d" % i)
            seen.append(r.json()["backend"])
    check(all(seen[i] != seen[i + 1] for i in range(5)),
          "round robin did not alternate: %s" % seen)


@t.test("20 separate connections are spread over both backends")
def _():
    seen = [http(w.port, "GET", "/echo?n=%d" % i).json()["backend"] for i in range(20)]
    n1 = seen.count("b1")
    check(5 <= n1 <= 15, "b1 got %d of 20 requests: %s" % (n1, seen))


@t.test("curl GET, POST and two URLs on one connection work")
def _():
    if not shutil.which("curl"):
        raise Skip("curl not installed")
    url = "http://127.0.0.1:%d" % w.port
    p = run_cmd(["curl", "-s", "-S", "--max-time", "5", "-w", "\n%{http_code}",
                 url + "/echo?curl=1"])
    check_eq(p.returncode, 0, "curl exit status (stderr %r)" % p.stderr)
    body, code = p.stdout.rsplit("\n", 1)
    check_eq(code, "200", "curl status")
    check_eq(__import__("json").loads(body)["target"], "/echo?curl=1", "target")
    p = run_cmd(["curl", "-s", "-S", "--max-time", "5", "--data-binary", "hello curl",
                 url + "/echo"])
    check_eq(p.returncode, 0, "curl POST exit status (stderr %r)" % p.stderr)
    check_eq(__import__("json").loads(p.stdout)["body_len"], 10, "POST body length")
    p = run_cmd(["curl", "-s", "-S", "-v", "--max-time", "5", "-o", "/dev/null",
                 "-o", "/dev/null", url + "/echo?x=1", url + "/echo?x=2"])
    check_eq(p.returncode, 0, "curl 2 URLs exit status (stderr %r)" % p.stderr[-500:])
    check("Re-using existing connection" in p.stderr or "Reusing existing" in p.stderr,
          "curl did not reuse the connection:\n" + p.stderr[-1500:])


@t.test("HTTP/1.0 request without keep-alive: response, then weir closes")
def _():
    with Client(w.port) as c:
        c.send(b"GET /echo?v=10 HTTP/1.0\r\nHost: weir.test\r\n\r\n")
        r = c.response()
        check_eq(r.status, 200, "status")
        check_eq(r.json()["target"], "/echo?v=10", "target")
        check("keep-alive" not in r.conn_tokens(), "1.0 response says keep-alive: %s"
              % r.summary())
        check(r.framing in ("length", "eof"), "framing to 1.0 client: %s" % r.framing)
        check(c.wait_closed(3), "connection still open 3s after the 1.0 response")


@t.test("HTTP/1.0 with Connection: keep-alive: response says keep-alive, connection reused")
def _():
    with Client(w.port) as c:
        for i in range(2):
            c.send(b"GET /echo?ka=%d HTTP/1.0\r\nHost: weir.test\r\n"
                   b"Connection: keep-alive\r\n\r\n" % i)
            r = c.response()
            check_eq(r.status, 200, "status of request %d" % i)
            check("keep-alive" in r.conn_tokens(),
                  "response %d lacks Connection: keep-alive: %s" % (i, r.summary()))
            check_eq(r.framing, "length", "framing to a kept-alive 1.0 client")
            check_eq(r.json()["target"], "/echo?ka=%d" % i, "target")


@t.test("HTTP/1.1 keep-alive: three requests on one connection")
def _():
    with Client(w.port) as c:
        for i in range(3):
            c.request("GET", "/echo?k=%d" % i)
            r = c.response()
            check_eq(r.status, 200, "status of request %d" % i)
            check("close" not in r.conn_tokens(), "weir closed: %s" % r.summary())
            check_eq(r.json()["target"], "/echo?k=%d" % i, "target")
        check(not c.wait_closed(0.3), "connection closed after keep-alive responses")


@t.test("pipelined requests in one send are answered in order")
def _():
    data = (build_request("GET", "/echo?p=1") +
            build_request("POST", "/echo?p=2", body=b"abc") +
            build_request("GET", "/echo?p=3"))
    with Client(w.port) as c:
        c.send(data)
        got = []
        for _i in range(3):
            r = c.response()
            check_eq(r.status, 200, "status")
            got.append((r.json()["target"], r.json()["body_len"]))
    check_eq(got, [("/echo?p=1", 0), ("/echo?p=2", 3), ("/echo?p=3", 0)], "pipelined order")


@t.test("pipelined requests behind a slow one keep their order")
def _():
    data = (build_request("GET", "/slow?ms=300&p=1") +
            build_request("GET", "/echo?p=2") + build_request("GET", "/echo?p=3"))
    with Client(w.port) as c:
        c.send(data)
        got = [c.response().json()["target"] for _i in range(3)]
    check_eq(got, ["/slow?ms=300&p=1", "/echo?p=2", "/echo?p=3"], "pipelined order")


@t.test("Connection: close from the client: response says close, socket closed")
def _():
    with Client(w.port) as c:
        c.request("GET", "/echo?close=1", [("Connection", "close")])
        r = c.response()
        check_eq(r.status, 200, "status")
        check("close" in r.conn_tokens(), "response lacks Connection: close: %s" % r.summary())
        check(c.wait_closed(2), "socket still open 2s after Connection: close response")


@t.test("hop-by-hop request headers (and those named in Connection) are removed")
def _():
    r = http(w.port, "GET", "/echo?hop=1", [
        ("Connection", "keep-alive, X-Foo"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("TE", "trailers"),
        ("Trailer", "X-T"),
        ("Upgrade", "h2c"),
        ("X-Foo", "secret"),
        ("X-Keep", "yes"),
    ])
    check_eq(r.status, 200, "status")
    hs = r.json()["headers"]
    leaked = [n for n in names(hs) if n in HOP_REQ[1:] + ["x-foo"]]
    check(not leaked, "hop-by-hop headers reached the backend: %s (all: %s)" % (leaked, hs))
    conn = ",".join(values(hs, "connection")).lower()
    check("x-foo" not in conn and "upgrade" not in conn,
          "client Connection tokens forwarded: %r" % conn)
    check_eq(values(hs, "x-keep"), ["yes"], "end-to-end header X-Keep")


@t.test("hop-by-hop response headers are removed toward the client")
def _():
    r = http(w.port, "GET", "/hop")
    check_eq(r.status, 200, "status")
    check_eq(r.body, b"hop\n", "body")
    leaked = [n for n in names(r.headers)
              if n in ("keep-alive", "proxy-connection", "upgrade", "trailer", "x-secret")]
    check(not leaked, "hop-by-hop headers reached the client: %s" % r.summary())
    check(set(r.conn_tokens()) <= {"keep-alive", "close"},
          "backend Connection tokens forwarded: %s" % r.summary())
    check_eq(r.get("x-public"), "yes", "end-to-end header X-Public")


@t.test("untrusted client's X-Forwarded-For replaced, X-Forwarded-Proto http, X-Forwarded-Host = Host")
def _():
    # No trusted_proxies: the client's own chain is not believed (test_trust.py).
    r = http(w.port, "GET", "/echo", [("X-Forwarded-For", "1.2.3.4")], host="site.test:81")
    hs = r.json()["headers"]
    check_eq(values(hs, "x-forwarded-for"), ["127.0.0.1"], "X-Forwarded-For")
    check_eq(values(hs, "x-real-ip"), ["127.0.0.1"], "X-Real-IP")
    check_eq(values(hs, "x-forwarded-proto"), ["http"], "X-Forwarded-Proto")
    check_eq(values(hs, "x-forwarded-host"), ["site.test:81"], "X-Forwarded-Host")


@t.test("without client X-Forwarded-For it is the client IP; client X-Forwarded-Proto/Host replaced")
def _():
    r = http(w.port, "GET", "/echo", [("X-Forwarded-Proto", "https"),
                                      ("X-Forwarded-Host", "evil.test")], host="good.test")
    hs = r.json()["headers"]
    check_eq(values(hs, "x-forwarded-for"), ["127.0.0.1"], "X-Forwarded-For")
    check_eq(values(hs, "x-forwarded-proto"), ["http"], "X-Forwarded-Proto")
    check_eq(values(hs, "x-forwarded-host"), ["good.test"], "X-Forwarded-Host")


@t.test("weir stops cleanly on SIGTERM: exit 0, no orphans, no worker died")
def _():
    w.check_clean_stop()


t.run(setup, env)
