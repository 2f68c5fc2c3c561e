#!/usr/bin/env python3
"""Frontend TLS (issue 11 sections 1, 3 and 5): SNI picks the certificate
(exact and one-label wildcard names, RSA beside ECDSA, the first one as
default), ALPN, session resumption on every worker and across a reload
(TLS 1.2 and 1.3), X-Forwarded-Proto, client certificates (mTLS) and
X-Client-Subject, plain HTTP or garbage on a TLS port, an oversized or
missing ClientHello, handshakes counted against max_connections, old
protocol versions refused, curl verifying the chain, certificate problems
for weir -t and on reload, an expired certificate, and redirect_https.

Certificates are made at run time by tlscerts.py; clients are Python's ssl
module (OpenSSL 3), raw sockets and curl.
"""
import hashlib
import os
import re
import shutil
import ssl
import threading
import time
import warnings

from harness import (WEIR_BIN, Client, Env, Skip, Tap, build_request, check,
                     check_eq, free_port, line_of, pattern, raw_exchange,
                     run_cmd, socket_inodes, wait_until)
import tlscerts

# TLS 1.0 and 1.1 are named on purpose below (to see them refused).
warnings.filterwarnings("ignore", category=DeprecationWarning)

t = Tap(budget=150.0)
env = Env("tls")
ca = ca2 = None
pem = {}
b1 = w = small = None

SUBJECT = "CN=alice,O=weir tests"


def setup():
    global ca, ca2, b1, w, small
    ca = tlscerts.CA(env.path("pki"))
    ca2 = tlscerts.CA(env.path("pki2"), "wrong CA")
    pem["a"] = ca.server("a", ["a.test", "*.a.test"])
    pem["a_rsa"] = ca.server("a-rsa", ["a.test", "*.a.test"], kind="rsa")
    pem["b"] = ca.server("b", ["b.test"])
    pem["m"] = ca.server("m", ["m.test"])
    b1 = env.backend("b1")
    w = env.weir(workers=2, frontends={
        # The first tls_cert (a) is the default one.
        "sni": {"listen": ["127.0.0.1:auto tls", "127.0.0.1:auto"],
                "tls_cert": [pem["a"], pem["b"], pem["a_rsa"]],
                "backend": "app"},
        "mtls": {"listen": "127.0.0.1:auto tls", "tls_cert": pem["m"],
                 "tls_client_ca": ca.cert, "backend": "app"},
        "v13": {"listen": "127.0.0.1:auto tls", "tls_cert": pem["a"],
                "tls_min_version": "TLSv1.3", "backend": "app"},
        "redir": {"listen": ["127.0.0.1:auto", "127.0.0.1:auto tls"],
                  "tls_cert": pem["a"], "redirect_https": "yes",
                  "backend": "app"},
        "short": {"listen": "127.0.0.1:auto tls", "tls_cert": pem["a"],
                  "client_timeout": "1s", "backend": "app"},
        "ciph": {"listen": "127.0.0.1:auto tls",
                 "tls_cert": [pem["a"], pem["a_rsa"]],
                 "tls_ciphers": "ECDHE-RSA-CHACHA20-POLY1305",
                 "tls_ciphersuites": "TLS_AES_256_GCM_SHA384",
                 "backend": "app"},
    }, backends={"app": {"server": [b1.addr]}})
    # One worker that holds three connections at most.
    small = env.weir(workers=1, global_={"max_connections": 3}, frontends={
        "s": {"listen": "127.0.0.1:auto tls", "tls_cert": pem["a"],
              "backend": "app"},
    }, backends={"app": {"server": [b1.addr]}})


def port(name, i=0):
    return w.ports[name][i]


def context(verify=True, alpn=None, cert=None, tls=None, ciphers=None):
    """A client context trusting the test CA (or nothing, verify=False);
    tls pins one protocol version."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(ca.cert)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    if cert is not None:
        ctx.load_cert_chain(*cert)
    if tls is not None:
        ctx.minimum_version = tls
        ctx.maximum_version = tls
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


class TlsClient(Client):
    """harness.Client over TLS: the handshake is done in the constructor
    (SNI sni, an optional session to resume); requests and the strict
    response reader are Client's. What the handshake settled is kept for
    after the close: peer (the server's certificate, DER), alpn, version.
    ragged_eof=False: an EOF without close_notify raises SSLEOFError."""

    def __init__(self, port, ctx, sni="a.test", session=None, timeout=5.0,
                 ragged_eof=True):
        super().__init__(port, timeout=timeout)
        self.tcp = self.sock
        try:
            self.sock = ctx.wrap_socket(self.tcp, server_hostname=sni,
                                        session=session,
                                        suppress_ragged_eofs=ragged_eof)
        except BaseException:
            self.tcp.close()
            raise
        self.peer = self.sock.getpeercert(binary_form=True)
        self.alpn = self.sock.selected_alpn_protocol()
        self.version = self.sock.version()
        self.cipher = self.sock.cipher()[0]


def tls_get(p, ctx=None, sni="a.test", path="/echo", headers=None,
            session=None, timeout=5.0):
    """One GET over a new TLS connection: (response, the closed
    TlsClient, whose .sock still tells the session and certificate)."""
    c = TlsClient(p, ctx or context(), sni, session, timeout)
    try:
        c.request("GET", path, headers)
        r = c.response()
    finally:
        c.close()
    return r, c


def values(r, name):
    return [v for n, v in r.json()["headers"] if n.lower() == name.lower()]


def der_of(pem_path):
    """DER of the first certificate (the leaf) of a PEM file."""
    with open(pem_path) as f:
        text = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  text, re.S)
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def peer_is(c, name):
    """Did the connection get the leaf certificate of pem[name]?"""
    got = c.peer
    mine = {k: der_of(v) for k, v in pem.items()}
    which = [k for k, v in mine.items() if v == got]
    check(which == [name], "peer certificate is %s, expected %s" %
          (which or "none of ours", name))


def handshake_refused(p, ctx, sni="a.test"):
    """Expect the server to refuse: the handshake fails, or with TLS 1.3
    (where a client's certificate is judged after the client finished)
    the first read fails or ends. Returns the error text; fails if a
    response arrives."""
    try:
        c = TlsClient(p, ctx, sni)
    except (ssl.SSLError, ConnectionError) as e:
        return str(e)
    try:
        c.request("GET", "/echo")
        r = c.response()
    except (ssl.SSLError, OSError, EOFError) as e:
        return "after the handshake: %s: %s" % (type(e).__name__, e)
    finally:
        c.close()
    raise AssertionError("the server answered: " + r.summary())


def worker_of(weir, local_port, client_port, timeout=5.0):
    """The pid of the worker holding weir's end of the connection from
    client_port to local_port (found by the socket's inode)."""
    def inode():
        for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(fn) as f:
                for line in f.readlines()[1:]:
                    x = line.split()
                    lp = int(x[1].rsplit(":", 1)[1], 16)
                    rp = int(x[2].rsplit(":", 1)[1], 16)
                    if lp == local_port and rp == client_port and x[9] != "0":
                        return int(x[9])
        return None

    def find():
        ino = inode()
        if ino is None:
            return None
        for pid in weir.worker_pids():
            if ino in socket_inodes(pid):
                return pid
        return None
    return wait_until(find, timeout, 0.01)


@t.test("the start log says whether kTLS is on, and why")
def _():
    m = w.wait_log(r"kTLS (on|off): .*", 5.0)
    check(m, "no kTLS line in the log:\n" + w.log()[-1500:])
    line = m.group(0)
    # This kernel may or may not take TLS records (PLATFORM.md): either
    # way the line must give a reason, never a null pointer.
    check("(null)" not in line and len(line.split(": ", 1)[1].strip()) > 3,
          "kTLS line without a reason: %r" % line)


# ---------------------------------------------------------------- SNI

@t.test("SNI: exact name, one-label wildcard, the first tls_cert without SNI "
        "or for an unknown name; a two-label name is not covered")
def _():
    r, c = tls_get(port("sni"), sni="a.test")
    check_eq(r.status, 200, "a.test: " + r.summary())
    peer_is(c, "a")
    r, c = tls_get(port("sni"), sni="b.test")
    check_eq(r.status, 200, "b.test")
    peer_is(c, "b")
    r, c = tls_get(port("sni"), sni="B.Test")
    peer_is(c, "b")
    r, c = tls_get(port("sni"), sni="www.a.test")
    check_eq(r.status, 200, "www.a.test")
    peer_is(c, "a")
    # Not verifiable, so look without verifying: the default certificate.
    for sni in ("unknown.test", "x.y.a.test", "b.test.evil", None):
        r, c = tls_get(port("sni"), context(verify=False), sni=sni)
        check_eq(r.status, 200, "SNI %r" % sni)
        peer_is(c, "a")
    # And a verifying client refuses them: the name is not on the default.
    try:
        tls_get(port("sni"), sni="x.y.a.test")
        raise AssertionError("x.y.a.test verified against *.a.test")
    except ssl.SSLCertVerificationError:
        pass


@t.test("RSA and ECDSA certificates for the same names: an ECDSA-only "
        "client gets ECDSA, an RSA-only client gets RSA (TLS 1.2)")
def _():
    v12 = ssl.TLSVersion.TLSv1_2
    r, c = tls_get(port("sni"), context(tls=v12,
                   ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"), sni="a.test")
    check_eq(r.status, 200, "ECDSA-only client")
    peer_is(c, "a")
    r, c = tls_get(port("sni"), context(tls=v12,
                   ciphers="ECDHE-RSA-AES128-GCM-SHA256"), sni="a.test")
    check_eq(r.status, 200, "RSA-only client")
    peer_is(c, "a_rsa")
    r, c = tls_get(port("sni"), context(tls=v12,
                   ciphers="ECDHE-RSA-AES256-GCM-SHA384"), sni="www.a.test")
    peer_is(c, "a_rsa")
    # b.test has no RSA certificate: an RSA-only client cannot get b.
    try:
        r, c = tls_get(port("sni"), context(tls=v12,
                       ciphers="ECDHE-RSA-AES128-GCM-SHA256"), sni="b.test")
        raise AssertionError("RSA-only client for b.test got %s" %
                             len(c.peer or b""))
    except (ssl.SSLError, ConnectionError):
        pass


# ---------------------------------------------------------------- ALPN

@t.test("ALPN: http/1.1 is chosen when offered; a client offering only h2 "
        "gets no_application_protocol; no ALPN at all is fine")
def _():
    r, c = tls_get(port("sni"), context(alpn=["h2", "http/1.1"]))
    check_eq(r.status, 200, "h2 + http/1.1")
    check_eq(c.alpn, "http/1.1", "protocol chosen")
    r, c = tls_get(port("sni"), context(alpn=["http/1.1"]))
    check_eq(c.alpn, "http/1.1", "protocol chosen")
    r, c = tls_get(port("sni"), context())
    check_eq(r.status, 200, "no ALPN")
    check_eq(c.alpn, None, "protocol without ALPN")
    try:
        TlsClient(port("sni"), context(alpn=["h2"])).close()
        raise AssertionError("an h2-only client completed the handshake")
    except ssl.SSLError as e:
        check(re.search(r"no[ _]application[ _]protocol", str(e), re.I),
              "h2 only: expected a no_application_protocol alert, got %s" % e)


# ---------------------------------------------------------------- data

@t.test("one TLS connection carries keep-alive requests, pipelined requests "
        "sent in one record, a 2 MiB upload and a 5 MiB download intact")
def _():
    body = os.urandom(2 << 20)
    c = TlsClient(port("sni"), context(), timeout=20.0)
    try:
        for i in range(3):
            c.request("GET", "/echo?n=%d" % i)
            r = c.response()
            check_eq((r.status, r.json()["target"]), (200, "/echo?n=%d" % i),
                     "keep-alive request %d" % i)
        # Two requests in one write: the second sits in OpenSSL's buffer
        # once the first is read, with nothing more on the socket.
        c.send(build_request("GET", "/echo?p=1") +
               build_request("GET", "/echo?p=2"))
        for i in (1, 2):
            r = c.response()
            check_eq(r.json()["target"], "/echo?p=%d" % i, "pipelined %d" % i)
        c.request("POST", "/echo", body=body)
        j = c.response().json()
        check_eq((j["body_len"], j["body_sha256"]),
                 (len(body), hashlib.sha256(body).hexdigest()), "upload")
        n = 5 << 20
        c.request("GET", "/big?bytes=%d" % n)
        r = c.response()
        check_eq(len(r.body), n, "download length")
        check(r.body == pattern(n), "download bytes differ from the pattern")
        c.request("GET", "/echo?last=1")
        check_eq(c.response().json()["target"], "/echo?last=1",
                 "a request after the download")
    finally:
        c.close()


@t.test("Connection: close over TLS: the response, then close_notify (no "
        "truncation), and the worker lets the connection go at once rather "
        "than linger for a client that sends no more")
def _():
    c = TlsClient(port("sni"), context(), ragged_eof=False)
    try:
        c.request("GET", "/echo?tlsclose=1", [("Connection", "close")])
        check_eq(c.response().status, 200, "status")
        # An EOF without close_notify raises SSLEOFError here.
        check(c.wait_closed(3.0), "no EOF after the response")
        gone = wait_until(lambda: w.worker_of(c, port("sni"), any_state=True)
                          is None, 1.0, 0.01)
        check(gone, "a worker still holds the TLS connection after answering "
              "a request that asked to close")
    finally:
        c.close()


# ---------------------------------------------------------------- resumption

def resume_chain(p, tls, n):
    """A full handshake, then n connections each resuming the session of
    the one before. Returns [(reused, worker pid)] of the n."""
    ctx = context(tls=tls)
    c = TlsClient(p, ctx)
    c.request("GET", "/echo")
    check_eq(c.response().status, 200, "first request")
    check(not c.sock.session_reused, "the first connection was resumed")
    sess = c.sock.session
    c.close()
    out = []
    for i in range(n):
        c = TlsClient(p, ctx, session=sess)
        try:
            c.request("GET", "/echo")
            check_eq(c.response().status, 200, "request %d" % i)
            out.append((c.sock.session_reused,
                        worker_of(w, p, c.local_port)))
            # TLS 1.3 tickets come after the handshake: read, then take it.
            sess = c.sock.session
        finally:
            c.close()
    return out


def check_resumption(tls):
    got = resume_chain(port("sni"), tls, 20)
    reused = sum(1 for r, _ in got if r)
    pids = {p for _, p in got}
    check_eq(reused, 20, "resumed connections of 20 (%s)" % got)
    check(None not in pids, "a connection's worker was not found: %s" % got)
    check_eq(pids, set(w.worker_pids()),
             "workers that resumed sessions (20 connections)")


@t.test("TLS 1.3 session resumption: 20 connections, each with the session "
        "of the one before, are all resumed, on both workers")
def _():
    check_resumption(ssl.TLSVersion.TLSv1_3)


@t.test("TLS 1.2 session resumption (tickets): 20 of 20 resumed, on both "
        "workers")
def _():
    check_resumption(ssl.TLSVersion.TLSv1_2)


# ---------------------------------------------------------------- headers

@t.test("X-Forwarded-Proto: https on the TLS listener, http on the plain "
        "one of the same frontend, whatever the client sent")
def _():
    r, _ = tls_get(port("sni"))
    check_eq(values(r, "x-forwarded-proto"), ["https"], "TLS listener")
    r, _ = tls_get(port("sni"), headers=[("X-Forwarded-Proto", "http")])
    check_eq(values(r, "x-forwarded-proto"), ["https"], "TLS, forged http")
    with Client(port("sni", 1)) as c:
        c.request("GET", "/echo", [("X-Forwarded-Proto", "https")])
        r = c.response()
    check_eq(r.status, 200, "plain listener")
    check_eq(values(r, "x-forwarded-proto"), ["http"],
             "plain listener, forged https")


@t.test("mTLS: a client certificate of the CA gets 200 and the backend gets "
        "X-Client-Subject with its subject (RFC 2253); a forged one is "
        "replaced")
def _():
    cert = ca.client("alice", "alice")
    r, _ = tls_get(port("mtls"), context(cert=cert), sni="m.test")
    check_eq(r.status, 200, "good client certificate: " + r.summary())
    check_eq(values(r, "x-client-subject"), [SUBJECT], "X-Client-Subject")
    r, _ = tls_get(port("mtls"), context(cert=cert), sni="m.test",
                   headers=[("X-Client-Subject", "CN=mallory,O=evil")])
    check_eq(values(r, "x-client-subject"), [SUBJECT],
             "X-Client-Subject with a forged one sent")
    for tls in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        r, _ = tls_get(port("mtls"), context(cert=cert, tls=tls),
                       sni="m.test")
        check_eq(values(r, "x-client-subject"), [SUBJECT], str(tls))


@t.test("mTLS: no client certificate, or one from another CA, is refused "
        "(TLS 1.2 and 1.3); the backend never sees a request")
def _():
    before = b1.stats()["requests"]
    wrong = ca2.client("mallory", "mallory")
    for tls in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        why = handshake_refused(port("mtls"), context(tls=tls), "m.test")
        t.diag("  no certificate, %s: %s" % (tls.name, why))
        why = handshake_refused(port("mtls"), context(cert=wrong, tls=tls),
                                "m.test")
        t.diag("  wrong CA, %s: %s" % (tls.name, why))
    check_eq(b1.stats()["requests"], before, "requests at the backend")


@t.test("X-Client-Subject sent by a client is removed on a TLS frontend "
        "without client certificates and on a plain listener")
def _():
    forged = [("X-Client-Subject", SUBJECT)]
    r, _ = tls_get(port("sni"), headers=forged)
    check_eq(values(r, "x-client-subject"), [], "TLS without mTLS")
    with Client(port("sni", 1)) as c:
        c.request("GET", "/echo", forged + [("x-client-subject", "CN=x")])
        r = c.response()
    check_eq(values(r, "x-client-subject"), [], "plain listener")


# ------------------------------------------------------------ non-TLS input

@t.test("plain HTTP on a TLS port: a clear-text HTTP/1.1 400, then close")
def _():
    r, closed, _, extra = raw_exchange(
        port("sni"), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=10.0,
        close_wait=10.0)
    check(r is not None, "no HTTP response: %s" % (extra,))
    check_eq(r.status, 400, "status: " + r.summary())
    check(closed, "connection still open 10s after the 400")


@t.test("100 bytes of garbage on a TLS port: the connection is closed "
        "(long before client_timeout, 30s)")
def _():
    with Client(port("sni"), timeout=10.0) as c:
        c.send(bytes((i * 37 + 1) % 256 for i in range(100)))
        check(c.wait_closed(10.0), "connection still open 10s after garbage")


@t.test("a ClientHello claiming 100000 bytes: closed after at most 16 KiB "
        "of it and 20000 bytes sent, not when client_timeout (30s) ends")
def _():
    body = b"\x01" + (100000).to_bytes(3, "big") + b"\x03\x03" + \
        bytes(range(256)) * 400
    data = bytearray()
    for i in range(0, 20000, 16384):
        piece = body[i:i + 16384]
        data += b"\x16\x03\x01" + len(piece).to_bytes(2, "big") + piece
    data = bytes(data[:20000])
    with Client(port("sni"), timeout=10.0) as c:
        t0 = time.monotonic()
        try:
            c.send(data)
        except OSError:
            pass
        closed = c.wait_closed(10.0)
        dt = time.monotonic() - t0
    check(closed, "connection still open 10s after 20000 bytes of a "
          "100000-byte ClientHello")
    t.diag("  closed after %.2fs" % dt)
    # The control: 10000 bytes of the same hello, under the cap, are
    # waited for (so the close above is the cap's doing).
    with Client(port("sni"), timeout=10.0) as c:
        c.send(bytes(data[:10000]))
        check(not c.wait_closed(1.0), "10000 bytes of a ClientHello (under "
              "16 KiB) were closed at once: %r" % c.extra[:100])


@t.test("a client that connects and sends nothing is closed after "
        "client_timeout (1s)")
def _():
    with Client(port("short"), timeout=10.0) as c:
        t0 = time.monotonic()
        closed = c.wait_closed(8.0)
        dt = time.monotonic() - t0
        extra = c.extra
    t.diag("  closed after %.2fs, %d bytes sent before" % (dt, len(extra)))
    check(closed, "connection still open 8s after connecting (client_timeout "
          "1s)")
    # 1s plus slack for a busy machine: 1.5s, times this run's load.
    check(0.8 <= dt <= 2.5 * t.budget_now()[1],
          "closed after %.2fs, expected about 1s" % dt)


@t.test("handshakes count against max_connections: with 3 idle TCP "
        "connections a 4th TLS client is not served until one closes")
def _():
    p = small.ports["s"][0]
    idle = [Client(p, timeout=10.0) for _ in range(3)]
    try:
        for c in idle:
            check(worker_of(small, p, c.local_port),
                  "idle connection %d never accepted" % c.local_port)
        done = {}

        def fourth():
            try:
                r, _ = tls_get(p, timeout=20.0)
                done["status"] = r.status
            except Exception as e:
                done["error"] = "%s: %s" % (type(e).__name__, e)
        th = threading.Thread(target=fourth, daemon=True)
        th.start()
        th.join(1.5)
        check(th.is_alive(), "the 4th connection was served while 3 idle "
              "ones were open: %s" % done)
        idle.pop().close()
        th.join(10.0)
        check(not th.is_alive(), "the 4th connection was not served 10s "
              "after an idle one closed")
        check_eq(done.get("status"), 200, "4th connection (%s)" % done)
    finally:
        for c in idle:
            c.close()


# ---------------------------------------------------------------- versions

@t.test("TLS 1.1 and 1.0 are refused; tls_min_version = TLSv1.3 refuses a "
        "TLS 1.2 client that the default frontend serves")
def _():
    for v in (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1):
        ctx = context(tls=v, ciphers="DEFAULT:@SECLEVEL=0")
        try:
            TlsClient(port("sni"), ctx).close()
            raise AssertionError("%s handshake completed" % v.name)
        except (ssl.SSLError, ConnectionError) as e:
            # The hello left: refused by weir, not by our own OpenSSL.
            check("NO_PROTOCOLS_AVAILABLE" not in str(e).upper(),
                  "the client could not offer %s: %s" % (v.name, e))
            t.diag("  %s: %s" % (v.name, e))
    v12 = context(tls=ssl.TLSVersion.TLSv1_2)
    r, c = tls_get(port("sni"), v12)
    check_eq(c.version, "TLSv1.2", "version on the default frontend")
    try:
        TlsClient(port("v13"), v12).close()
        raise AssertionError("a TLS 1.2 client got through TLSv1.3-only")
    except (ssl.SSLError, ConnectionError):
        pass
    r, c = tls_get(port("v13"))
    check_eq((r.status, c.version), (200, "TLSv1.3"), "TLS 1.3 client")


@t.test("default tls_ciphers: TLS 1.2 without forward secrecy (RSA key "
        "exchange) or without AEAD (CBC) is refused")
def _():
    v12 = ssl.TLSVersion.TLSv1_2
    for ciphers in ("AES128-GCM-SHA256:AES256-GCM-SHA384",
                    "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:"
                    "ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA"):
        try:
            TlsClient(port("sni"), context(tls=v12, ciphers=ciphers)).close()
            raise AssertionError("TLS 1.2 with only %s completed" % ciphers)
        except (ssl.SSLError, ConnectionError):
            pass
    r, c = tls_get(port("sni"), context(
        tls=v12, ciphers="ECDHE-ECDSA-CHACHA20-POLY1305"))
    check_eq((r.status, c.cipher), (200, "ECDHE-ECDSA-CHACHA20-POLY1305"),
             "ChaCha20 client")


@t.test("tls_ciphers and tls_ciphersuites restrict what is negotiated")
def _():
    r, c = tls_get(port("ciph"), context(tls=ssl.TLSVersion.TLSv1_2))
    check_eq((r.status, c.cipher), (200, "ECDHE-RSA-CHACHA20-POLY1305"),
             "TLS 1.2")
    peer_is(c, "a_rsa")
    r, c = tls_get(port("ciph"), context(tls=ssl.TLSVersion.TLSv1_3))
    check_eq((r.status, c.cipher), (200, "TLS_AES_256_GCM_SHA384"), "TLS 1.3")
    try:
        TlsClient(port("ciph"), context(
            tls=ssl.TLSVersion.TLSv1_2,
            ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")).close()
        raise AssertionError("a cipher outside tls_ciphers was negotiated")
    except (ssl.SSLError, ConnectionError):
        pass


@t.test("curl --cacert with the test CA verifies weir and gets 200")
def _():
    if shutil.which("curl") is None:
        raise Skip("curl is not installed")
    p = port("sni")
    res = run_cmd(["curl", "-sS", "--max-time", "10", "--cacert", ca.cert,
                   "--resolve", "www.a.test:%d:127.0.0.1" % p,
                   "-o", "/dev/null",
                   "-w", "%{http_code} %{ssl_verify_result}",
                   "https://www.a.test:%d/echo" % p], timeout=20)
    check_eq((res.returncode, res.stdout), (0, "200 0"),
             "curl (stderr %r)" % res.stderr)


# ---------------------------------------------------------------- redirect

@t.test("redirect_https: GET /a/b?c=1 with Host example.test:8080 on the "
        "plain listener gets 308 to https://example.test/a/b?c=1 and a "
        "close; the TLS listener proxies")
def _():
    before = b1.stats()["requests"]
    r, closed, _, extra = raw_exchange(
        port("redir", 0), b"GET /a/b?c=1 HTTP/1.1\r\nHost: example.test:8080"
        b"\r\n\r\n", close_wait=10.0)
    check(r is not None, "no response: %s" % (extra,))
    check_eq(r.status, 308, "status: " + r.summary())
    check_eq(r.get("location"), "https://example.test/a/b?c=1", "Location")
    check(closed, "connection open 10s after the 308")
    r, closed, _, _ = raw_exchange(
        port("redir", 0), b"HEAD / HTTP/1.1\r\nHost: Example.Test\r\n\r\n",
        method="HEAD", close_wait=10.0)
    check_eq((r.status, (r.get("location") or "").lower()),
             (308, "https://example.test/"), "HEAD / without a port")
    check_eq(b1.stats()["requests"], before, "requests at the backend")
    r, _ = tls_get(port("redir", 1), path="/a/b?c=1")
    check_eq(r.status, 200, "TLS listener: " + r.summary())
    check_eq(r.json()["target"], "/a/b?c=1", "target at the backend")
    check_eq(values(r, "x-forwarded-proto"), ["https"], "X-Forwarded-Proto")


# ---------------------------------------------------------------- reload

@t.test("after a reload (new workers) sessions from before resume, TLS 1.3 "
        "and 1.2")
def _():
    sessions = {}
    for tls in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        ctx = context(tls=tls)
        c = TlsClient(port("sni"), ctx)
        c.request("GET", "/echo")
        check_eq(c.response().status, 200, "first request")
        sessions[tls] = (ctx, c.sock.session)
        c.close()
    old = set(w.worker_pids())
    w.rewrite()
    line = w.reload(10.0)
    check(line and "reload complete" in line, "reload: %r" % line)
    check(wait_until(lambda: not (set(w.worker_pids()) & old), 10.0),
          "old workers still running: %s" % w.worker_pids())
    for tls, (ctx, sess) in sessions.items():
        c = TlsClient(port("sni"), ctx, session=sess)
        try:
            c.request("GET", "/echo")
            check_eq(c.response().status, 200, "request after the reload")
            check(c.sock.session_reused, "%s session not resumed after the "
                  "reload" % tls.name)
            check(worker_of(w, port("sni"), c.local_port) not in old,
                  "served by an old worker")
        finally:
            c.close()


@t.test("a reload that changes tls_client_ca ends resumption of sessions "
        "verified under the old CA: they are refused, not resumed")
def _():
    g = env.weir(workers=1, frontends={
        "g": {"listen": "127.0.0.1:auto tls", "tls_cert": pem["m"],
              "tls_client_ca": ca.cert, "backend": "app"}},
        backends={"app": {"server": [b1.addr]}})
    p = g.ports["g"][0]
    cert = ca.client("alice", "alice")
    sessions = []
    for tls in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        r, c = tls_get(p, context(tls=tls, cert=cert), sni="m.test")
        check_eq(r.status, 200, "before the reload")
        sessions.append((tls, c.sock.session))
    # The CA that signed alice is withdrawn: only ca2's clients now.
    fronts = {"g": dict(g.frontends["g"], tls_client_ca=ca2.cert)}
    g.rewrite(frontends=fronts)
    line = g.reload(10.0)
    check(line and "reload complete" in line, "reload: %r" % line)
    for tls, sess in sessions:
        ctx = context(tls=tls, cert=cert)
        try:
            c = TlsClient(p, ctx, "m.test", session=sess)
        except (ssl.SSLError, ConnectionError):
            continue        # refused in the handshake: right
        try:
            check(not c.sock.session_reused, "%s: a session verified "
                  "under the withdrawn CA resumed" % tls.name)
            c.request("GET", "/echo")
            r = c.response()
            raise AssertionError("%s: answered a client of the withdrawn "
                                 "CA: %s" % (tls.name, r.summary()))
        except (ssl.SSLError, OSError, EOFError):
            pass            # TLS 1.3: the refusal shows on the first read
        finally:
            c.close()


@t.test("redirect_https with a target too long for the answer: 414, then "
        "close (not a connection stuck with its answer unsent)")
def _():
    g = env.weir(workers=1, frontends={
        "r": {"listen": ["127.0.0.1:auto", "127.0.0.1:auto tls"],
              "tls_cert": pem["a"], "redirect_https": "yes",
              "max_header_size": "64k", "backend": "app"}},
        backends={"app": {"server": [b1.addr]}})
    target = b"/" + b"x" * 40000
    r, closed, _, extra = raw_exchange(
        g.ports["r"][0], b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n",
        close_wait=10.0)
    check(r is not None, "no response: %s" % (extra,))
    check_eq(r.status, 414, "status: " + r.summary())
    check(closed, "connection open 10s after the 414")


# ---------------------------------------------------------------- weir -t

def conf_with_cert(name, cert):
    """A config file whose TLS frontend has tls_cert = cert; returns
    (path, the tls_cert line)."""
    path = env.path(name + ".ini")
    with open(path, "w") as f:
        f.write("[global]\nworkers = 1\n\n[frontend secure]\n"
                "listen = 127.0.0.1:%d tls\nbackend = app\n"
                "tls_cert = %s\n\n[backend app]\nserver = 127.0.0.1:9\n"
                % (free_port(), cert))
    return path, line_of(path, "tls_cert")


def bad_pems():
    """{problem: PEM path} for every certificate problem weir -t reports."""
    d = env.path("bad")
    os.makedirs(d, exist_ok=True)
    out = {"missing": os.path.join(d, "missing.pem")}
    p = os.path.join(d, "garbage.pem")
    with open(p, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
                "-----END CERTIFICATE-----\n")
    out["bad PEM"] = p
    # a's certificate with b's key.
    crt, _ = ca.split(pem["a"])
    _, key = ca.split(pem["b"])
    p = os.path.join(d, "mismatch.pem")
    with open(p, "w") as f:
        for part in (crt, ca.cert, key):
            with open(part) as g:
                f.write(g.read())
    out["key of another certificate"] = p
    p = os.path.join(d, "nokey.pem")
    with open(p, "w") as f:
        for part in (crt, ca.cert):
            with open(part) as g:
                f.write(g.read())
    out["no key"] = p
    out["no DNS name"] = ca.server_ip("iponly")
    return out


@t.test("weir -t: a missing file, bad PEM, a key of another certificate, no "
        "key, a certificate without a DNS name: exit 2, 'FILE:LINE: reason' "
        "naming the certificate")
def _():
    for what, cert in bad_pems().items():
        path, line = conf_with_cert(what.replace(" ", "-"), cert)
        p = run_cmd([WEIR_BIN, "-t", "-c", path], timeout=20)
        want = "%s:%d: " % (path, line)
        check_eq(p.returncode, 2, "%s: exit status (stderr %r)" %
                 (what, p.stderr))
        check(want in p.stderr, "%s: stderr has no %r: %r" %
              (what, want, p.stderr))
        check(os.path.basename(cert) in p.stderr,
              "%s: stderr does not name %s: %r" % (what, cert, p.stderr))
        t.diag("  %s: %s" % (what, p.stderr.strip()))


@t.test("weir -t: tls_ciphers with no usable cipher, an unknown "
        "tls_ciphersuites suite, a missing tls_client_ca: exit 2 at the "
        "key's line")
def _():
    cases = (("tls_ciphers", "NOSUCHCIPHER"),
             ("tls_ciphersuites", "TLS_NO_SUCH_SUITE"),
             ("tls_client_ca", env.path("bad/no-ca.pem")))
    for key, value in cases:
        path, _ = conf_with_cert("key-" + key, pem["a"])
        with open(path) as f:
            text = f.read().replace("backend = app\n", "backend = app\n"
                                    "%s = %s\n" % (key, value), 1)
        with open(path, "w") as f:
            f.write(text)
        p = run_cmd([WEIR_BIN, "-t", "-c", path], timeout=20)
        want = "%s:%d: " % (path, line_of(path, key))
        check_eq(p.returncode, 2, "%s: exit status (stderr %r)" %
                 (key, p.stderr))
        check(want in p.stderr, "%s: stderr has no %r: %r" %
              (key, want, p.stderr))
        if key == "tls_client_ca":
            check("No such file or directory" in p.stderr,
                  "tls_client_ca: the reason is not the missing file: %r"
                  % p.stderr)
        t.diag("  %s: %s" % (key, p.stderr.strip()))


@t.test("an expired certificate: weir -t exits 0 with a warning naming the "
        "file; weir starts and serves it")
def _():
    old = ca.server("old", ["old.test"], expired=True)
    pem["old"] = old
    path, _ = conf_with_cert("expired", old)
    p = run_cmd([WEIR_BIN, "-t", "-c", path], timeout=20)
    check_eq(p.returncode, 0, "exit status (stderr %r)" % p.stderr)
    check(old in p.stderr and re.search(r"warn|expired", p.stderr, re.I),
          "no warning naming %s: %r" % (old, p.stderr))
    x = env.weir(workers=1, frontends={
        "e": {"listen": "127.0.0.1:auto tls", "tls_cert": old,
              "backend": "app"}}, backends={"app": {"server": [b1.addr]}})
    check(old in x.log(), "start log does not name %s:\n%s" %
          (old, x.log()[-1500:]))
    r, c = tls_get(x.ports["e"][0], context(verify=False), sni="old.test")
    check_eq(r.status, 200, "request")
    peer_is(c, "old")
    try:
        tls_get(x.ports["e"][0], sni="old.test")
        raise AssertionError("a verifying client accepted an expired cert")
    except ssl.SSLCertVerificationError as e:
        check("expired" in str(e), "verify error: %s" % e)
    x.stop()


@t.test("reload with a broken certificate: 'reload failed: FILE:LINE', the "
        "old generation keeps serving TLS with the old certificate")
def _():
    x = env.weir(workers=1, frontends={
        "r": {"listen": "127.0.0.1:auto tls", "tls_cert": pem["a"],
              "backend": "app"}}, backends={"app": {"server": [b1.addr]}})
    p = x.ports["r"][0]
    before = x.worker_pids()
    for what, cert in bad_pems().items():
        x.rewrite(frontends={"r": {"listen": "127.0.0.1:%d tls" % p,
                                   "tls_cert": cert, "backend": "app"}})
        line = x.reload(10.0)
        want = "%s:%d" % (x.conf, line_of(x.conf, "tls_cert"))
        check(line and "reload failed" in line and want in line,
              "%s: reload line %r, expected 'reload failed' with %s" %
              (what, line, want))
        r, c = tls_get(p)
        check_eq(r.status, 200, "%s: request after the failed reload" % what)
        peer_is(c, "a")
        check_eq(x.worker_pids(), before, "%s: workers" % what)
    x.stop()


t.run(setup, env)
