#!/usr/bin/env python3
"""Header trust (issue 8): TRACE, underscore_headers, trusted_proxies with
X-Forwarded-For / X-Real-IP / Forwarded and the client address used by
hash balancing and logs, upgrade_allow, 204 without Content-Length, 502
for a broken body before any byte left, an 8,000-byte Host, one instance
per address, and a pidfile that is a symbolic link."""
import os
import re
import subprocess

from harness import (WEIR_BIN, Client, Env, Tap, check, check_eq, free_port, http,
                     run_cmd, write_config)

t = Tap(budget=90.0)
env = Env("trust")
b1 = b2 = b3 = w = None


def setup():
    global b1, b2, b3, w
    b1 = env.backend("b1")
    b2 = env.backend("b2")
    b3 = env.backend("b3")
    w = env.weir(workers=2, frontends={
        "web": {"listen": "127.0.0.1:auto", "backend": "app"},
        "open": {"listen": "127.0.0.1:auto", "backend": "app",
                 "allow_trace": "yes", "underscore_headers": "pass"},
        "strict": {"listen": "127.0.0.1:auto", "backend": "app",
                   "underscore_headers": "reject"},
        "trust": {"listen": "127.0.0.1:auto", "backend": "hashed",
                  "trusted_proxies": "10.0.0.0/8, 127.0.0.2, fd00::/8"},
    }, backends={
        "app": {"server": [b1.addr]},
        "hashed": {"server": [b1.addr, b2.addr, b3.addr], "balance": "hash",
                   "hash_key": "ip"},
    })


def port(name):
    return w.ports[name][0]


def values(j, name):
    return [v for n, v in j["headers"] if n.lower() == name.lower()]


def get(name, headers=None, source=None, method="GET", path="/echo", **kw):
    with Client(port(name), source=source) as c:
        c.request(method, path, headers, **kw)
        r = c.response(method)
        r.client_port = c.local_port
        return r


@t.test("TRACE is answered 405 with Allow by weir; allow_trace = yes forwards it")
def _():
    before = b1.stats()["requests"]
    r = get("web", method="TRACE", path="/echo")
    check_eq(r.status, 405, "TRACE status: " + r.summary())
    allow = [m.strip() for m in (r.get("allow") or "").split(",")]
    check("GET" in allow and "TRACE" not in allow, "Allow header: %r" % r.get("allow"))
    check_eq(b1.stats()["requests"], before, "requests reaching the backend")
    r = get("open", method="TRACE", path="/echo")
    check_eq(r.status, 200, "TRACE with allow_trace = yes: " + r.summary())
    check_eq(r.json()["method"], "TRACE", "method at the backend")


@t.test("underscore_headers: drop by default, pass forwards, reject answers 400")
def _():
    hs = [("X_Forwarded_For", "6.6.6.6"), ("My_Header", "1"), ("X-Fine", "2")]
    j = get("web", hs).json()
    check_eq(values(j, "x_forwarded_for") + values(j, "my_header"), [], "dropped")
    check_eq(values(j, "x-fine"), ["2"], "X-Fine kept")
    check_eq(values(j, "x-forwarded-for"), ["127.0.0.1"], "X-Forwarded-For")
    j = get("open", hs).json()
    check_eq(values(j, "my_header"), ["1"], "passed")
    r = get("strict", hs)
    check_eq(r.status, 400, "reject: " + r.summary())
    check_eq(get("strict", [("X-Fine", "2")]).status, 200, "no underscore, strict")


@t.test("untrusted client: its X-Forwarded-For, X-Real-IP and Forwarded are replaced")
def _():
    j = get("trust", [("X-Forwarded-For", "203.0.113.66"), ("X-Real-IP", "203.0.113.66"),
                      ("Forwarded", "for=203.0.113.66")], source="127.0.0.1").json()
    check_eq(values(j, "x-forwarded-for"), ["127.0.0.1"], "X-Forwarded-For")
    check_eq(values(j, "x-real-ip"), ["127.0.0.1"], "X-Real-IP")
    check_eq(values(j, "forwarded"), [], "Forwarded")


@t.test("trusted proxy: chain kept and appended, X-Real-IP is its first untrusted hop")
def _():
    j = get("trust", [("X-Forwarded-For", "198.51.100.1, 203.0.113.5, 10.1.1.1"),
                      ("X-Real-IP", "1.1.1.1"), ("Forwarded", "for=203.0.113.5")],
            source="127.0.0.2").json()
    check_eq(values(j, "x-forwarded-for"),
             ["198.51.100.1, 203.0.113.5, 10.1.1.1, 127.0.0.2"], "X-Forwarded-For")
    check_eq(values(j, "x-real-ip"), ["203.0.113.5"], "X-Real-IP")
    check_eq(values(j, "forwarded"), ["for=203.0.113.5"], "Forwarded")
    # A chain that cannot be read: the proxy itself is the client.
    j = get("trust", [("X-Forwarded-For", "unknown")], source="127.0.0.2").json()
    check_eq(values(j, "x-real-ip"), ["127.0.0.2"], "X-Real-IP for a bad chain")


@t.test("hash ip: an untrusted client's forged chains hash alike; behind a trusted "
        "proxy the first untrusted hop is the key")
def _():
    seen = set()
    for i in range(24):
        j = get("trust", [("X-Forwarded-For", "198.51.100.%d" % i)],
                source="127.0.0.1").json()
        seen.add(j["backend"])
    check_eq(len(seen), 1, "backends for one untrusted client with 24 forged chains")
    by_client = {}
    for i in range(24):
        ip = "198.51.100.%d" % i
        a = get("trust", [("X-Forwarded-For", ip)], source="127.0.0.2").json()["backend"]
        b = get("trust", [("X-Forwarded-For", "%s, 10.0.0.9" % ip)],
                source="127.0.0.2").json()["backend"]
        check_eq(a, b, "backend of %s with and without a trusted hop" % ip)
        by_client[ip] = a
    check(len(set(by_client.values())) > 1,
          "24 clients behind the trusted proxy all hashed to %s" % set(by_client.values()))


@t.test("logs name the client behind a trusted proxy: 'CLIENT via PEER'")
def _():
    r = get("trust", [("X-Forwarded-For", "198.51.100.77")], source="127.0.0.2",
            method="TRACE", path="/")
    check_eq(r.status, 405, "status")
    m = w.wait_log(r"client 198\.51\.100\.77 via 127\.0\.0\.2:%d: 405" % r.client_port)
    check(m, "no log line for the real client; tail:\n" + w.log()[-1200:])


@t.test("upgrade_allow: h2c is removed (plain request), websocket is tunnelled")
def _():
    r = get("web", [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
                    ("HTTP2-Settings", "AAMAAABkAAQAoAAAAAIAAAAA")], path="/upgrade")
    check_eq(r.status, 200, "h2c upgrade request: " + r.summary())
    j = r.json()
    check_eq(j["upgraded"], False, "backend saw an upgrade")
    check_eq(values(j, "upgrade"), [], "Upgrade at the backend")
    with Client(port("web")) as c:
        c.send(b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
               b"Upgrade: h2c, websocket\r\n\r\n")
        r = c.read_response()
        check_eq(r.status, 101, "websocket (with h2c) upgrade: " + r.summary())
        c.send(b"ping")
        check_eq(c.read_until_len(4, 3), b"ping", "tunnel echo")


@t.test("204 from the backend with Content-Length reaches the client without it")
def _():
    r = get("web", path="/status?code=204&cl=5")
    check_eq(r.status, 204, "status")
    check(not r.has("content-length"), "Content-Length kept: " + r.summary())
    check_eq(r.get("etag"), '"abc"', "ETag")
    r = get("web", path="/status?code=304&cl=5")
    check_eq(r.all("content-length"), ["5"], "304 keeps its Content-Length")


@t.test("a bad chunk line before any byte reached the client is a 502")
def _():
    with Client(port("web")) as c:
        c.request("GET", "/bad-chunk")
        r = c.response()
        check_eq(r.status, 502, "status: " + r.summary())
        check(c.wait_closed(3), "connection not closed after the 502")
    w.check_error_logged(r.client_port, 502)


@t.test("an 8,000-byte Host in a head within max_header_size is forwarded")
def _():
    host = "h" * 7995 + ".test"
    r = get("web", [("X-Pad", "p" * 6000)], host=host)
    check_eq(r.status, 200, "status: " + r.summary()[:300])
    j = r.json()
    check_eq(values(j, "x-forwarded-host"), [host], "X-Forwarded-Host")
    check_eq(values(j, "host"), [host], "Host")


@t.test("a second weir on the same addresses is refused (exit 2, FILE:LINE); "
        "the first keeps serving; -t still passes")
def _():
    p = subprocess.Popen([WEIR_BIN, "-c", w.conf], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("the second weir started and kept running")
    text = open(w.conf).read().splitlines()
    line = next(i + 1 for i, l in enumerate(text) if l.startswith("listen"))
    want = "%s:%d: address %s is already in use by another process" % (
        w.conf, line, text[line - 1].split("=", 1)[1].strip())
    check_eq(p.returncode, 2, "exit status of the second weir")
    check(want in err.decode(), "stderr %r lacks %r" % (err.decode(), want))
    check_eq(http(port("web")).status, 200, "the first weir still serves")
    w.check_workers_unchanged()
    r = run_cmd([WEIR_BIN, "-t", "-c", w.conf])
    check_eq(r.returncode, 0, "weir -t while weir runs: " + r.stderr)


@t.test("a pidfile that is a symbolic link is refused, its target untouched")
def _():
    target = env.path("victim")
    with open(target, "w") as f:
        f.write("precious\n")
    link = env.path("link.pid")
    os.symlink(target, link)
    conf = env.path("symlink.ini")
    write_config(conf, {"workers": 1, "pidfile": link},
                 {"web": {"listen": ["127.0.0.1:%d" % free_port()], "backend": "app"}},
                 {"app": {"server": [b1.addr]}})
    r = run_cmd([WEIR_BIN, "-c", conf], timeout=10)
    check(r.returncode != 0, "weir started with a symlinked pidfile")
    check(re.search(r"symbolic link", r.stderr), "no reason given: %r" % r.stderr)
    check_eq(open(target).read(), "precious\n", "symlink target")


@t.test("weir stops cleanly on SIGTERM: exit 0, no orphans, no worker died")
def _():
    w.check_clean_stop()


t.run(setup, env)
