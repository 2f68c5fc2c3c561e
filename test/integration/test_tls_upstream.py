#!/usr/bin/env python3
"""TLS to backend servers ("server = ADDR tls"), against backend.py speaking
TLS with certificates from a test CA made at run time (tlscerts.py):
verification by the server's IP address or by tls_sni, a wrong CA or name
answered 502 with the reason logged and counted as the server's connect
failure, tls_verify = no, pooled TLS connections reused, new connections
resuming the session, large bodies both ways, health checks over TLS, and
a tls_ca that cannot be read stopping weir -t, the start and a reload with
FILE:LINE."""
import re
import urllib.request

from harness import (Env, Tap, WEIR_BIN, check, check_eq, free_port, http,
                     pattern, run_cmd, wait_until)
import tlscerts

t = Tap(budget=90)
env = Env("tls-upstream")

ca = wrong = B_IP = B_APP = B_OTHER = None


def tls_backend(name, pem, *args):
    crt, key = ca.split(pem)
    return env.backend(name, "--tls-cert", crt, "--tls-key", key, *args)


def setup():
    """The test CA, a wrong one, and TLS backends with certificates for
    127.0.0.1 (B_IP), app.internal (B_APP) and other.internal (B_OTHER)."""
    global ca, wrong, B_IP, B_APP, B_OTHER
    ca = tlscerts.CA(env.path("ca"))
    wrong = tlscerts.CA(env.path("wrong"), "wrong CA")
    B_IP = tls_backend("ip", ca.server_ip("ip"))
    B_APP = tls_backend("app", ca.server("app", ["app.internal"]))
    B_OTHER = tls_backend("other", ca.server("other", ["other.internal"]))


def start(backends, workers=1, admin=False, **kw):
    """weir with frontend "web" on the first backend and one frontend per
    other backend, named as it; w.ports[name][0] is each one's port."""
    names = list(backends)
    fronts = {"web": {"listen": "127.0.0.1:auto", "backend": names[0]}}
    for n in names[1:]:
        fronts[n] = {"listen": "127.0.0.1:auto", "backend": n}
    return env.weir(workers=workers, frontends=fronts, backends=backends,
                    admin={"listen": "127.0.0.1:auto"} if admin else None,
                    **kw)


def tls_server(b, **opts):
    o = {"server": b.addr + " tls", "tls_ca": ca.cert}
    o.update(opts)
    return o


def failures(w, backend, reason):
    """weir_server_failures_total of backend's servers for reason."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % w.admin_port,
                                timeout=5) as r:
        text = r.read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("weir_server_failures_total{") and \
                'backend="%s"' % backend in line and \
                'reason="%s"' % reason in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@t.test("a TLS server verified by its IP address against tls_ca: 200, the "
        "backend saw TLS 1.3 with ALPN http/1.1")
def _():
    before = B_IP.stats()["tls_handshakes"]
    w = start({"app": tls_server(B_IP)})
    r = http(w.port, "GET", "/echo")
    check_eq(r.status, 200, "status")
    tls = r.json().get("tls")
    check(tls is not None, "the backend saw no TLS: %r" % r.json())
    check_eq(tls["version"], "TLSv1.3", "TLS version")
    check_eq(tls["alpn"], "http/1.1", "ALPN")
    check_eq(tls["sni"], None, "SNI without tls_sni")
    check_eq(B_IP.stats()["tls_handshakes"] - before, 1, "handshakes")
    w.stop()


@t.test("a wrong CA: 502, the verify reason logged, a connect failure of "
        "the server in /metrics, and max_fails ejects it")
def _():
    w = start({"app": tls_server(B_IP, tls_ca=wrong.cert, retries=0,
                                 max_fails=3, fail_timeout="5m",
                                 max_ejected_percent="100%")},
              admin=True)
    before = B_IP.stats()
    before_conns = before["connections"]
    for i in range(3):
        r = http(w.port, "GET", "/echo")
        check_eq(r.status, 502, "status of request %d" % i)
    w.wait_line(0, r"502 Bad Gateway: %s: TLS handshake failed: "
                r"certificate verify failed \(unable to get local issuer "
                r"certificate\)" % re.escape(B_IP.addr))
    check_eq(failures(w, "app", "connect"), 3, "connect failures counted")
    check_eq(B_IP.stats()["connections"] - before_conns, 3,
             "connections the backend saw")
    # Ejected after max_fails: the next request never reaches the server.
    r = http(w.port, "GET", "/echo")
    check_eq(r.status, 503, "status once the only server is ejected")
    check_eq(B_IP.stats()["connections"] - before_conns, 3,
             "connections after the ejection")
    check_eq(B_IP.stats()["requests"] - before["requests"], 0,
             "requests the backend answered")
    w.stop()


@t.test("tls_sni: sent and verified (200, the backend saw the name); a "
        "certificate for another name or, without tls_sni, without the IP "
        "address: 502 with the reason")
def _():
    w = start({"app": tls_server(B_APP, tls_sni="app.internal"),
               "other": tls_server(B_OTHER, tls_sni="app.internal",
                                   retries=0),
               "noname": tls_server(B_APP, retries=0)})
    r = http(w.ports["web"][0], "GET", "/echo")
    check_eq(r.status, 200, "status with the right name")
    check_eq(r.json()["tls"]["sni"], "app.internal", "SNI the backend saw")
    r = http(w.ports["other"][0], "GET", "/echo")
    check_eq(r.status, 502, "status with a certificate for another name")
    w.wait_line(0, r"%s: TLS handshake failed: certificate verify failed "
                r"\(hostname mismatch\)" % re.escape(B_OTHER.addr))
    r = http(w.ports["noname"][0], "GET", "/echo")
    check_eq(r.status, 502, "status with a certificate without the address")
    w.wait_line(0, r"%s: TLS handshake failed: certificate verify failed "
                r"\(IP address mismatch\)" % re.escape(B_APP.addr))
    w.stop()


@t.test("connect_timeout bounds the handshake: a server that never answers "
        "the ClientHello gets 504 and 'TLS handshake timed out'")
def _():
    b = env.backend("mute")     # plain HTTP: it waits for a request head
    w = start({"app": {"server": b.addr + " tls", "tls_ca": ca.cert,
                       "connect_timeout": "300ms", "retries": 0}})
    r = http(w.port, "GET", "/echo", timeout=20)
    check_eq(r.status, 504, "status")
    w.wait_line(0, r"504 Gateway Timeout: %s: TLS handshake timed out"
                % re.escape(b.addr))
    check_eq(b.stats()["requests"], 0, "requests the server answered")
    w.stop()


@t.test("tls_verify = no: a certificate from a wrong CA is accepted (still "
        "TLS)")
def _():
    w = start({"app": tls_server(B_IP, tls_ca=wrong.cert,
                                 tls_verify="no")})
    r = http(w.port, "GET", "/echo")
    check_eq(r.status, 200, "status")
    check(r.json().get("tls") is not None, "not TLS: %r" % r.json())
    w.stop()


@t.test("keep-alive: sequential requests (GET, and POST, which checks the "
        "pooled connection first) share one pooled TLS connection")
def _():
    w = start({"app": tls_server(B_IP)})
    before = B_IP.stats()["tls_handshakes"]
    ids = set()
    for i in range(4):
        method = "POST" if i % 2 else "GET"
        r = http(w.port, method, "/echo?i=%d" % i,
                 body=b"x" * i if method == "POST" else None)
        check_eq(r.status, 200, "status of request %d" % i)
        ids.add(r.json()["conn_id"])
    check_eq(len(ids), 1, "backend connections used")
    check_eq(B_IP.stats()["tls_handshakes"] - before, 1, "handshakes")
    w.stop()


@t.test("a pooled TLS connection the backend closed while idle is not "
        "used again: the next POST gets a new connection and 200")
def _():
    b = tls_backend("idle", ca.server_ip("ip"), "--idle-close-ms", "50")
    w = start({"app": tls_server(b)})
    r = http(w.port, "GET", "/echo")
    check_eq(r.status, 200, "status of the first request")
    first = r.json()["conn_id"]
    wait_until(lambda: b.stats()["idle_closed"] >= 1 and
               b.stats()["open"] == 0, 10)
    check_eq(b.stats()["idle_closed"], 1, "idle connections the backend "
             "closed")
    r = http(w.port, "POST", "/echo", body=b"once")
    check_eq(r.status, 200, "status of the POST")
    check(r.json()["conn_id"] != first, "the POST used the closed connection")
    check_eq(b.stats()["requests"], 2, "requests the backend answered")
    w.stop()


@t.test("a new connection resumes the session of the one before "
        "(keepalive = 0: each request connects anew)")
def _():
    w = start({"app": tls_server(B_IP, keepalive=0)})
    before = B_IP.stats()
    reused = []
    for i in range(3):
        r = http(w.port, "GET", "/echo?i=%d" % i)
        check_eq(r.status, 200, "status of request %d" % i)
        reused.append(r.json()["tls"]["session_reused"])
    check_eq(reused, [False, True, True], "session_reused per connection")
    after = B_IP.stats()
    check_eq(after["tls_handshakes"] - before["tls_handshakes"], 3,
             "handshakes")
    check_eq(after["tls_resumed"] - before["tls_resumed"], 2, "resumed")
    w.stop()


@t.test("TLS 1.2: pooled reuse and resumption work the same")
def _():
    b = tls_backend("tls12", ca.server_ip("ip"), "--tls12")
    w = start({"app": tls_server(b), "fresh": tls_server(b, keepalive=0)})
    ids = set()
    for i in range(3):
        r = http(w.ports["web"][0], "GET", "/echo?i=%d" % i)
        check_eq(r.status, 200, "status of pooled request %d" % i)
        check_eq(r.json()["tls"]["version"], "TLSv1.2", "TLS version")
        ids.add(r.json()["conn_id"])
    check_eq(len(ids), 1, "backend connections used by pooled requests")
    reused = []
    for i in range(3):
        r = http(w.ports["fresh"][0], "GET", "/echo?i=%d" % i)
        check_eq(r.status, 200, "status of fresh request %d" % i)
        reused.append(r.json()["tls"]["session_reused"])
    # Sessions are kept per backend and server: "fresh" starts with none.
    check_eq(reused, [False, True, True], "session_reused per connection")
    w.stop()


@t.test("large bodies over TLS: a 3 MB response and a 2 MB upload arrive "
        "whole")
def _():
    import hashlib
    w = start({"app": tls_server(B_IP)})
    n = 3 * 1000 * 1000 + 7
    r = http(w.port, "GET", "/big?bytes=%d" % n, timeout=30)
    check_eq(r.status, 200, "status of the download")
    check_eq(len(r.body), n, "length of the download")
    check(r.body == pattern(n), "download content differs")
    body = bytes((i * 31 + 5) & 0xFF for i in range(2 * 1000 * 1000))
    r = http(w.port, "POST", "/echo", body=body, timeout=30)
    check_eq(r.status, 200, "status of the upload")
    check_eq(r.json()["body_sha256"], hashlib.sha256(body).hexdigest(),
             "sha256 of the upload")
    w.stop()


@t.test("decrypted bytes SSL holds when the response buffer fills are "
        "read once there is room (the socket will not signal them)")
def _():
    # The first write (two records) leaves less room in weir's 32 KiB
    # response buffer than the second write's one record: SSL keeps the
    # rest, and the backend has nothing more to send.
    w = start({"app": tls_server(B_IP, response_timeout="20s")})
    r = http(w.port, "GET", "/split-head?head=20384&tail=16384", timeout=10)
    check_eq(r.status, 200, "status")
    n = 16384 - len("X-Last: 1\r\n\r\n")
    check_eq(len(r.body), n, "body length")
    check(r.body == pattern(n), "body content differs")
    w.stop()


@t.test("health_check = http over TLS: UP with the right CA (the backend "
        "answered the checks), DOWN with a wrong CA and the reason")
def _():
    fast = {"health_check": "http", "health_interval": "100ms",
            "health_timeout": "2s", "health_rise": 1, "health_fall": 1}
    before = B_IP.stats()["health_checks"]
    w = start({"good": tls_server(B_IP, health_initial="down", **fast),
               "bad": tls_server(B_APP, tls_ca=wrong.cert, **fast)},
              log_level="debug")
    w.wait_line(0, r"server good/%s UP: HTTP 200" % re.escape(B_IP.addr),
                timeout=15)
    check(B_IP.stats()["health_checks"] > before,
          "the backend answered no health check")
    w.wait_line(0, r"server bad/%s DOWN: TLS handshake failed: certificate "
                r"verify failed" % re.escape(B_APP.addr), timeout=15)
    w.stop()


@t.test("health_check = tcp over TLS: the handshake is the check (a wrong "
        "CA fails it)")
def _():
    fast = {"health_check": "tcp", "health_interval": "100ms",
            "health_timeout": "2s", "health_rise": 1, "health_fall": 1}
    w = start({"good": tls_server(B_IP, health_initial="down", **fast),
               "bad": tls_server(B_APP, tls_ca=wrong.cert, **fast)})
    w.wait_line(0, r"server good/%s UP: TLS handshake done"
                % re.escape(B_IP.addr), timeout=15)
    w.wait_line(0, r"server bad/%s DOWN: TLS handshake failed"
                % re.escape(B_APP.addr), timeout=15)
    w.stop()


def write_conf(name, tls_ca):
    conf = env.path(name)
    with open(conf, "w") as f:
        f.write("[frontend web]\nlisten = 127.0.0.1:%d\nbackend = app\n"
                "[backend app]\nserver = %s tls\ntls_ca = %s\n"
                % (free_port(), B_IP.addr, tls_ca))
    return conf


@t.test("a tls_ca that cannot be read or holds no certificate: weir -t and "
        "the start exit 2 with FILE:LINE:, a reload keeps the old config")
def _():
    missing = env.path("no-such-ca.pem")
    junk = env.path("junk-ca.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    for path, why in ((missing, "No such file or directory"),
                      (junk, "")):
        conf = write_conf("bad-%s.ini" % len(why), path)
        for args in ([WEIR_BIN, "-t", "-c", conf], [WEIR_BIN, "-c", conf]):
            p = run_cmd(args)
            check_eq(p.returncode, 2, "exit status of %s (stderr %r)"
                     % (args, p.stderr))
            check("%s:6: tls_ca %s: %s" % (conf, path, why) in p.stderr,
                  "message: %r" % p.stderr)
    w = start({"app": tls_server(B_IP)})
    check_eq(http(w.port).status, 200, "status before the reload")
    w.rewrite(backends={"app": tls_server(B_IP, tls_ca=missing)})
    line = w.reload()
    check(line and re.search(r"reload failed: %s:\d+: tls_ca %s: No such "
                             r"file or directory" % (re.escape(w.conf),
                                                     re.escape(missing)),
                             line), "reload line: %r" % line)
    check_eq(http(w.port).status, 200, "status after the failed reload")
    w.stop()


t.run(setup, env)
