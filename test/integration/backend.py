#!/usr/bin/env python3
"""A scriptable HTTP/1.1 origin server for weir's integration tests.

Raw sockets and one thread per connection, so every mode controls its own
framing (close-delimited bodies, resets, broken responses, 101 tunnels).
The request path picks the mode:

  /echo (and any unknown path)  JSON: method, target, version, headers as
                                received (list of pairs), body length and
                                sha256, body head, framing, trailers,
                                connection id, peer port, backend name
  /chunked?parts=N&trailer=1    chunked response
  /eof?bytes=N[&reset=1]        close-delimited response (no CL, no TE);
                                reset=1 ends it with a TCP reset, not a FIN
  /big?bytes=N                  Content-Length response of a repeated 64 KiB block
  /bigchunked?bytes=N           the same, chunked in 64 KiB chunks
  /split-head?head=N&tail=M     a 200 whose head is N bytes of padding
                                headers (then more) in one write, and the
                                head's last line with a Content-Length body
                                filling M bytes in a second write (over TLS,
                                a write of at most 16384 bytes is one record)
  /slow?ms=N                    sleep, then echo
  /status?code=N[&cl=N]         that status; 204/304 carry no body
  /info?code=103                an interim response, then 200 "final\\n"
  /head                         Content-Length 1234, body only for GET
  /hop                          a response full of hop-by-hop headers
  /upgrade[?mode=server-half]   101 then echo bytes (or half-close first)
  /reset                        read the request, then RST (SO_LINGER 0)
  /close-early                  read the request, then FIN without a response
  /garbage                      a response that is not HTTP
  /bad-cl-te, /bad-two-cl       responses with ambiguous framing
  /bad-chunk                    a chunked 200 whose first chunk-size line is
                                not hex, sent with the head in one write
  /resp-close                   a response with "Connection: close"
  /extra                        204 No Content and, in the same write, a
                                fake "200 OK" with body "evil" that no
                                request asked for; the connection stays open
  /sink?stall_ms=&stall_every=&stall_each_ms=
                                read the body slowly; JSON length and sha256
  /hold?id=X                    read the request, then answer nothing until
                                the control port releases id X: 200
                                "released X". A held request whose
                                connection the peer closes is dropped.
                                stats: held_peak is the most requests
                                held at once (since the last /reset).

Health checks: /healthz, and any request whose User-Agent is
"weir-health-check", get the status set by /set?health=N (default 200)
with an empty body. They are counted apart (stats: health_checks, and the
last request lines, Host headers and heads in health_lines, health_hosts,
health_heads), never in requests or request_lines. health_log lists the
last checks as [time, outcome]: time.time() once the check's head was read
(before any answer, so earlier than anything weir logs about that check),
outcome the status answered, "blackhole" or "held" (a held check the peer
closed). /set?health_hold=N answers the next N checks, then holds every
further check (health_held counts them) until health_hold=-1 (the default)
releases them with the status set then, or their peer closes them.
/set?blackhole=1 makes the server read each request head and never answer
(the connection is held until the peer closes it); blackhole=0 ends that
for the requests that arrive afterwards.
"requests" counts the requests answered: each is counted just before its
final response (Conn.respond) is written, or after its handler returns
when the handler writes the response itself, so a client that has read a
response from respond() always finds it counted.
/set?fail_status=N (N > 0) makes every normal request (not health checks)
get status N with a short body, whatever its path; fail_status=0 ends it.
/set?plain=1 serves every normal request as /echo, whatever its path (a
server for which /reset, /hold ... are ordinary URLs); plain=0 ends it.

With --tls-cert FILE --tls-key FILE the main port speaks TLS (Python's
ssl, TLS 1.2 or later, or only 1.2 with --tls12; session tickets on):
every connection is a TLS
handshake first. stats then also has tls_handshakes (completed),
tls_failed (handshakes that failed, e.g. a client that rejected the
certificate), tls_resumed (handshakes that resumed a session) and tls_sni
(the server name each handshake asked for, None without SNI); /echo adds
"tls": {version, session_reused, sni, alpn} of its connection.

A second listening socket (the control port) answers /stats, /reset, /raw,
/set?key=value, /held (JSON: the ids held now, oldest first), /release?id=X
and /release-all (JSON: the ids released, answered once their responses are
written) on fresh connections that are never counted. On start the server
prints "PORT <port> CONTROL <port>" on stdout. It exits when its stdin
reaches EOF, so it cannot outlive the test that started it.
"""
import argparse
import hashlib
import json
import os
import select
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

# The 64 KiB block every large body repeats; harness.py imports it to check.
BLOCK = bytes((i * 7 + 13) & 0xFF for i in range(65536))
RAW_CAP = 1 << 20
HEAD_MAX = 1 << 20


class Closed(Exception):
    """The peer closed (or reset) the connection."""


class Stats:
    """Counters shared by every connection thread; one lock guards all."""

    def __init__(self):
        self.lock = threading.Lock()
        self.open = 0
        self.health_held = 0     # like open: a state, not reset by /reset
        self.reset()

    def reset(self):
        self.connections = 0
        self.requests = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.request_lines = []
        self.raw = bytearray()
        self.tunnels = {}
        self.stale_closed = 0
        self.idle_closed = 0
        self.incomplete = 0
        self.bad = 0
        self.max_open = self.open
        self.health_checks = 0
        self.health_lines = []
        self.health_hosts = []
        self.health_heads = []
        self.health_log = []
        self.blackholed = 0
        self.tls_handshakes = 0
        self.tls_failed = 0
        self.tls_resumed = 0
        self.tls_sni = []
        with HOLD_LOCK:
            self.held_peak = len(HELD)

    def snapshot(self):
        return {
            "connections": self.connections,
            "open": self.open,
            "max_open": self.max_open,
            "requests": self.requests,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "request_lines": self.request_lines[-500:],
            "tunnels": self.tunnels,
            "stale_closed": self.stale_closed,
            "idle_closed": self.idle_closed,
            "incomplete": self.incomplete,
            "bad": self.bad,
            "health_checks": self.health_checks,
            "health_lines": self.health_lines[-100:],
            "health_hosts": self.health_hosts[-100:],
            "health_heads": self.health_heads[-20:],
            "health_log": self.health_log[-200:],
            "health_held": self.health_held,
            "blackholed": self.blackholed,
            "tls_handshakes": self.tls_handshakes,
            "tls_failed": self.tls_failed,
            "tls_resumed": self.tls_resumed,
            "tls_sni": self.tls_sni[-100:],
            "held_peak": self.held_peak,
        }


# id -> Hold (/hold), in arrival order; guarded by HOLD_LOCK, which is
# taken after STATS.lock when both are (Stats.reset), never before it.
HELD = {}
HOLD_LOCK = threading.Lock()
STATS = Stats()
OPTS = {"idle_close_ms": -1, "close_on_reuse": 0, "health": 200, "blackhole": 0,
        "fail_status": 0, "plain": 0, "health_hold": -1}
NAME = "backend"
TLS_CTX = None           # ssl.SSLContext with --tls-cert
TLS_LOCAL = threading.local()  # the SNI the handshake in this thread saw


def parse_head(head):
    """Split a request head into (method, target, version, [(name, value)])."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        raise ValueError("bad request line %r" % lines[0])
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        if b":" not in line:
            raise ValueError("bad header line %r" % line)
        name, value = line.split(b":", 1)
        headers.append((name.decode("latin-1"),
                        value.strip(b" \t").decode("latin-1")))
    return (parts[0].decode("latin-1"), parts[1].decode("latin-1"),
            parts[2].decode("latin-1"), headers)


def header_values(headers, name):
    return [v for n, v in headers if n.lower() == name.lower()]


def tokens(headers, name):
    out = []
    for v in header_values(headers, name):
        out += [t.strip().lower() for t in v.split(",") if t.strip()]
    return out


class Conn:
    """One accepted connection: buffered reads, counted writes."""

    def __init__(self, sock, addr, cid):
        self.sock = sock
        self.addr = addr
        self.cid = cid
        self.buf = bytearray()
        self.nreq = 0
        self.counted = False     # this request is in STATS.requests already
        self.tls = None          # the TLS details /echo reports

    def recv(self, n=65536):
        try:
            d = self.sock.recv(n)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError,
                ssl.SSLZeroReturnError):
            d = b""
        with STATS.lock:
            STATS.bytes_in += len(d)
            room = RAW_CAP - len(STATS.raw)
            if room > 0:
                STATS.raw += d[:room]
        return d

    def fill(self):
        d = self.recv()
        if not d:
            raise Closed()
        self.buf += d

    def send(self, data):
        self.sock.sendall(data)
        with STATS.lock:
            STATS.bytes_out += len(data)

    def take(self, n):
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

    def read_head(self, idle_s):
        """The next request head, or None if the peer closed between requests."""
        if not self.buf:
            self.sock.settimeout(idle_s)
            try:
                d = self.recv()
            except socket.timeout:
                with STATS.lock:
                    STATS.idle_closed += 1
                return None
            finally:
                self.sock.settimeout(120)
            if not d:
                return None
            self.buf += d
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                return self.take(i + 4)
            if len(self.buf) > HEAD_MAX:
                raise ValueError("head too large")
            self.fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        return self.take(n)

    def read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = self.take(i + 2)
                return line[:-2]
            if len(self.buf) > HEAD_MAX:
                raise ValueError("line too long")
            self.fill()

    def read_chunked(self, sink):
        """Decode a chunked body strictly into sink(bytes); return trailers."""
        while True:
            line = self.read_line()
            size_s = line.split(b";", 1)[0]
            if not size_s or any(c not in b"0123456789abcdefABCDEF" for c in size_s):
                raise ValueError("bad chunk size line %r" % line)
            size = int(size_s, 16)
            if size == 0:
                break
            left = size
            while left:
                if not self.buf:
                    self.fill()
                piece = self.take(min(left, len(self.buf)))
                sink(piece)
                left -= len(piece)
            if self.read_exact(2) != b"\r\n":
                raise ValueError("chunk data not followed by CRLF")
        trailers = []
        while True:
            line = self.read_line()
            if not line:
                return trailers
            trailers.append(line.decode("latin-1"))

    def read_body(self, headers, sink):
        """Read the request body by its framing; return (framing, trailers)."""
        te = tokens(headers, "transfer-encoding")
        if te:
            if te[-1] != "chunked":
                raise ValueError("unsupported transfer-encoding")
            return "chunked", self.read_chunked(sink)
        cl = header_values(headers, "content-length")
        if cl:
            n = int(cl[0])
            while n:
                if not self.buf:
                    self.fill()
                piece = self.take(min(n, len(self.buf)))
                sink(piece)
                n -= len(piece)
            return "length", []
        return "none", []

    def respond(self, status, reason, body=b"", headers=(), close=False,
                length=True, count=True):
        """Write a whole response; count the request first (unless count is
        False), so whoever reads the response finds it counted."""
        if count and not self.counted and 200 <= status:
            self.counted = True
            with STATS.lock:
                STATS.requests += 1
        out = ["HTTP/1.1 %d %s" % (status, reason)]
        out += ["%s: %s" % h for h in headers]
        if length:
            out.append("Content-Length: %d" % len(body))
        if close:
            out.append("Connection: close")
        self.send(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)


def wants_close(version, headers):
    conn = tokens(headers, "connection")
    if version == "HTTP/1.0":
        return "keep-alive" not in conn
    return "close" in conn


def tls_sni_cb(sslsock, name, ctx):
    TLS_LOCAL.sni = name


def tls_accept(sock):
    """The TLS side of a new connection, or None if its handshake failed."""
    TLS_LOCAL.sni = None
    sock.settimeout(30)
    try:
        t = TLS_CTX.wrap_socket(sock, server_side=True)
    except (OSError, ValueError) as e:
        with STATS.lock:
            STATS.tls_failed += 1
        sys.stderr.write("%s: TLS handshake failed: %r\n" % (NAME, e))
        sock.close()
        return None, None
    info = {"version": t.version(), "session_reused": t.session_reused,
            "sni": TLS_LOCAL.sni, "alpn": t.selected_alpn_protocol()}
    with STATS.lock:
        STATS.tls_handshakes += 1
        STATS.tls_resumed += int(t.session_reused)
        STATS.tls_sni.append(TLS_LOCAL.sni)
        del STATS.tls_sni[:-1000]
    return t, info


def serve_conn(sock, addr, cid):
    info = None
    if TLS_CTX is not None:
        sock, info = tls_accept(sock)
        if sock is None:
            with STATS.lock:
                STATS.open -= 1
            return
    c = Conn(sock, addr, cid)
    c.tls = info
    sock.settimeout(120)
    try:
        while True:
            idle = OPTS["idle_close_ms"]
            # The idle limit is for kept-alive connections; a new one waits
            # for its first request like any server would.
            idle_s = 300.0 if idle < 0 or c.nreq == 0 else idle / 1000.0
            if c.nreq > 0 and idle == 0 and not c.buf:
                with STATS.lock:
                    STATS.idle_closed += 1
                break
            try:
                head = c.read_head(idle_s)
            except Closed:
                with STATS.lock:
                    STATS.incomplete += 1
                break
            if head is None:
                break
            if c.nreq > 0 and OPTS["close_on_reuse"]:
                with STATS.lock:
                    STATS.stale_closed += 1
                break
            c.nreq += 1
            try:
                req = parse_head(head)
            except ValueError:
                with STATS.lock:
                    STATS.bad += 1
                c.respond(400, "Bad Request", b"bad request\n", close=True,
                          count=False)
                break
            if OPTS["blackhole"]:
                if is_health_check(req):
                    with STATS.lock:
                        STATS.health_log.append([time.time(), "blackhole"])
                        del STATS.health_log[:-1000]
                blackhole(c)
                break
            if is_health_check(req):
                keep = serve_health(c, head, *req)
                if not keep:
                    break
                continue
            with STATS.lock:
                STATS.request_lines.append("%s %s %s" % req[:3])
            try:
                keep = handle(c, *req)
            except Closed:
                with STATS.lock:
                    STATS.incomplete += 1
                break
            except ValueError as e:
                with STATS.lock:
                    STATS.bad += 1
                c.respond(400, "Bad Request", (str(e) + "\n").encode(), close=True,
                          count=False)
                break
            if not keep:
                break
    except (OSError, ValueError) as e:
        sys.stderr.write("%s conn %d: %r\n" % (NAME, cid, e))
    finally:
        try:
            sock.close()
        except OSError:
            pass
        with STATS.lock:
            STATS.open -= 1


def blackhole(c):
    """Never answer: hold the connection until the peer closes it."""
    with STATS.lock:
        STATS.blackholed += 1
    while True:
        try:
            r, _, _ = select.select([c.sock], [], [], 1.0)
        except (OSError, ValueError):
            return
        if r and not c.recv():
            return


def is_health_check(req):
    method, target, version, headers = req
    return (query_of(target)[0] == "/healthz" or
            "weir-health-check" in header_values(headers, "user-agent"))


def hold_health(c):
    """Hold a health check until /set?health_hold=-1 (True) or until the
    peer closes (False)."""
    while True:
        with STATS.lock:
            if OPTS["health_hold"] != 0:
                return True
        try:
            r, _, _ = select.select([c.sock], [], [], 0.01)
        except (OSError, ValueError):
            return False
        if r:
            d = c.recv()
            if not d:
                return False
            c.buf += d


def serve_health(c, head, method, target, version, headers):
    """Answer a health check with the status set by /set?health=N (held
    while /set?health_hold says so)."""
    t_read = time.time()
    close = wants_close(version, headers)
    try:
        drain(c, headers)
    except (Closed, ValueError):
        return False
    with STATS.lock:
        STATS.health_checks += 1
        STATS.health_lines.append("%s %s %s" % (method, target, version))
        STATS.health_hosts += header_values(headers, "host") or [None]
        STATS.health_heads.append(head.decode("latin-1"))
        del STATS.health_lines[:-1000], STATS.health_hosts[:-1000]
        del STATS.health_heads[:-100]
        hold = OPTS["health_hold"] == 0
        if OPTS["health_hold"] > 0:
            OPTS["health_hold"] -= 1
        if hold:
            STATS.health_held += 1
    if hold:
        released = hold_health(c)
        with STATS.lock:
            STATS.health_held -= 1
        if not released:
            with STATS.lock:
                STATS.health_log.append([t_read, "held"])
                del STATS.health_log[:-1000]
            return False
    with STATS.lock:
        code = OPTS["health"]
        STATS.health_log.append([t_read, code])
        del STATS.health_log[:-1000]
    try:
        c.respond(code, "Health", b"", [("X-Backend", NAME)], close=close,
                  count=False)
    except OSError:
        return False
    return not close


def query_of(target):
    u = urllib.parse.urlsplit(target)
    q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
    return u.path, q


def handle(c, method, target, version, headers):
    """Serve one request; return True to keep the connection open."""
    path, q = query_of(target)
    close = wants_close(version, headers)
    fn = MODES.get(path, mode_echo)
    if OPTS["plain"]:
        fn = mode_echo
    if OPTS["fail_status"]:
        fn = mode_fail
    c.counted = False
    r = fn(c, method, target, version, headers, q, close)
    if not c.counted:
        c.counted = True
        with STATS.lock:
            STATS.requests += 1
    return r


def echo_body(c, method, target, version, headers, close, extra=None):
    h = hashlib.sha256()
    got = bytearray()
    n = [0]

    def sink(piece):
        h.update(piece)
        n[0] += len(piece)
        if len(got) < 4096:
            got.extend(piece[:4096 - len(got)])
    framing, trailers = c.read_body(headers, sink)
    doc = {
        "backend": NAME,
        "method": method,
        "target": target,
        "version": version,
        "headers": headers,
        "framing": framing,
        "trailers": trailers,
        "body_len": n[0],
        "body_sha256": h.hexdigest(),
        "body_head": got.decode("latin-1"),
        "conn_id": c.cid,
        "peer_port": c.addr[1],
        "req_on_conn": c.nreq,
    }
    if c.tls is not None:
        doc["tls"] = c.tls
    if extra:
        doc.update(extra)
    body = (json.dumps(doc) + "\n").encode()
    c.respond(200, "OK", body, [("Content-Type", "application/json"),
                                ("X-Backend", NAME)], close=close)
    return not close


def mode_echo(c, method, target, version, headers, q, close):
    return echo_body(c, method, target, version, headers, close)


def mode_slow(c, method, target, version, headers, q, close):
    time.sleep(int(q.get("ms", "1000")) / 1000.0)
    return echo_body(c, method, target, version, headers, close)


def drain(c, headers):
    c.read_body(headers, lambda piece: None)


def mode_chunked(c, method, target, version, headers, q, close):
    drain(c, headers)
    parts = int(q.get("parts", "3"))
    out = ["HTTP/1.1 200 OK", "Content-Type: text/plain",
           "Transfer-Encoding: chunked"]
    if close:
        out.append("Connection: close")
    data = b"\r\n".join(x.encode() for x in out) + b"\r\n\r\n"
    for i in range(parts):
        piece = ("chunk-%d\n" % i).encode()
        data += b"%x\r\n%s\r\n" % (len(piece), piece)
    data += b"0\r\n"
    if q.get("trailer"):
        data += b"X-Trailer: yes\r\n"
    data += b"\r\n"
    c.send(data)
    return not close


def pattern(n):
    full, rest = divmod(n, len(BLOCK))
    return BLOCK * full + BLOCK[:rest]


def mode_eof(c, method, target, version, headers, q, close):
    drain(c, headers)
    n = int(q.get("bytes", "1000"))
    c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
    c.send(pattern(n))
    if q.get("reset") == "1":   # cut short: a reset instead of a clean end
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        return False
    c.sock.shutdown(socket.SHUT_WR)
    return False


def send_pattern(c, n, chunked):
    sent = 0
    while sent < n:
        k = min(len(BLOCK), n - sent)
        piece = BLOCK if k == len(BLOCK) else BLOCK[:k]
        if chunked:
            c.send(b"%x\r\n" % k + piece + b"\r\n")
        else:
            c.send(piece)
        sent += k
    if chunked:
        c.send(b"0\r\n\r\n")


def mode_big(c, method, target, version, headers, q, close):
    drain(c, headers)
    n = int(q.get("bytes", "1048576"))
    hdr = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    hdr += "Content-Length: %d\r\n" % n
    if close:
        hdr += "Connection: close\r\n"
    c.send((hdr + "\r\n").encode())
    if method != "HEAD":
        send_pattern(c, n, False)
    return not close


def mode_split_head(c, method, target, version, headers, q, close):
    drain(c, headers)
    n, m = int(q.get("head", "20384")), int(q.get("tail", "16384"))
    last = b"X-Last: 1\r\n\r\n"
    body = pattern(m - len(last))
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body)
    i = 0
    while len(head) < n:
        line = b"X-Pad-%d: " % i
        room = min(1000, n - len(head) - len(line) - 2)
        head += line + b"p" * max(room, 1) + b"\r\n"
        i += 1
    c.send(head)
    c.send(last + body)
    return not close


def mode_bigchunked(c, method, target, version, headers, q, close):
    drain(c, headers)
    n = int(q.get("bytes", "1048576"))
    hdr = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    hdr += "Transfer-Encoding: chunked\r\n"
    if close:
        hdr += "Connection: close\r\n"
    c.send((hdr + "\r\n").encode())
    send_pattern(c, n, True)
    return not close


def mode_status(c, method, target, version, headers, q, close):
    drain(c, headers)
    code = int(q.get("code", "200"))
    if code in (204, 304):
        out = ["HTTP/1.1 %d %s" % (code, "No Content" if code == 204 else "Not Modified"),
               'ETag: "abc"']
        if "cl" in q:
            out.append("Content-Length: %s" % q["cl"])
        if close:
            out.append("Connection: close")
        c.send(("\r\n".join(out) + "\r\n\r\n").encode())
        return not close
    c.respond(code, "Status", ("status %d\n" % code).encode(), close=close)
    return not close


def mode_extra(c, method, target, version, headers, q, close):
    drain(c, headers)
    c.send(b"HTTP/1.1 204 No Content\r\n\r\n"
           b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")
    return not close


def mode_info(c, method, target, version, headers, q, close):
    drain(c, headers)
    code = int(q.get("code", "103"))
    c.send(("HTTP/1.1 %d Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
            % code).encode())
    time.sleep(0.05)
    c.respond(200, "OK", b"final\n", close=close)
    return not close


def mode_head(c, method, target, version, headers, q, close):
    drain(c, headers)
    body = BLOCK[:1234]
    out = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    out += "Content-Length: 1234\r\n"
    if close:
        out += "Connection: close\r\n"
    c.send(out.encode() + b"\r\n" + (b"" if method == "HEAD" else body))
    return not close


def mode_hop(c, method, target, version, headers, q, close):
    drain(c, headers)
    c.respond(200, "OK", b"hop\n", [
        ("Connection", "X-Secret, Keep-Alive"),
        ("Keep-Alive", "timeout=5, max=100"),
        ("X-Secret", "1"),
        ("Proxy-Connection", "keep-alive"),
        ("Upgrade", "h2c"),
        ("Trailer", "X-Tr"),
        ("X-Public", "yes"),
    ], close=close)
    return not close


def mode_upgrade(c, method, target, version, headers, q, close):
    drain(c, headers)
    if not header_values(headers, "upgrade"):
        return echo_body(c, method, target, version, headers, close,
                         {"upgraded": False})
    c.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\n\r\n")
    if q.get("mode") == "server-half":
        c.send(b"hello")
        c.sock.shutdown(socket.SHUT_WR)
        got = bytearray(c.take(len(c.buf)))
        while True:
            d = c.recv()
            if not d:
                break
            got += d
        with STATS.lock:
            STATS.tunnels[str(c.cid)] = got.decode("latin-1")
        return False
    if c.buf:
        c.send(c.take(len(c.buf)))
    while True:
        d = c.recv()
        if not d:
            c.send(b"[eof]")
            c.sock.shutdown(socket.SHUT_WR)
            return False
        c.send(d)


def mode_fail(c, method, target, version, headers, q, close):
    """Every request while /set?fail_status=N is on: status N."""
    drain(c, headers)
    code = OPTS["fail_status"]
    c.respond(code, "Failing", ("failing with %d\n" % code).encode(),
              [("X-Backend", NAME)], close=close)
    return not close


def mode_reset(c, method, target, version, headers, q, close):
    drain(c, headers)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


def mode_close_early(c, method, target, version, headers, q, close):
    drain(c, headers)
    c.sock.shutdown(socket.SHUT_RDWR)
    return False


def mode_garbage(c, method, target, version, headers, q, close):
    drain(c, headers)
    c.send(b"NOT HTTP AT ALL\r\n\r\n")
    return False


def mode_bad_cl_te(c, method, target, version, headers, q, close):
    drain(c, headers)
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
           b"\r\n5\r\nhello\r\n0\r\n\r\n")
    return False


def mode_bad_two_cl(c, method, target, version, headers, q, close):
    drain(c, headers)
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
           b"\r\nhello!")
    return False


def mode_bad_chunk(c, method, target, version, headers, q, close):
    drain(c, headers)
    c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
           b"\r\nzz\r\nhello\r\n0\r\n\r\n")
    return False


def mode_resp_close(c, method, target, version, headers, q, close):
    return echo_body(c, method, target, version, headers, True)


def mode_sink(c, method, target, version, headers, q, close):
    stall_ms = int(q.get("stall_ms", "0"))
    every = int(q.get("stall_every", "0"))
    each_ms = int(q.get("stall_each_ms", "0"))
    h = hashlib.sha256()
    n = [0, every]
    time.sleep(stall_ms / 1000.0)

    def sink(piece):
        h.update(piece)
        n[0] += len(piece)
        if every and n[0] >= n[1]:
            n[1] += every
            time.sleep(each_ms / 1000.0)
    t0 = time.monotonic()
    framing, _ = c.read_body(headers, sink)
    doc = {"backend": NAME, "framing": framing, "body_len": n[0],
           "body_sha256": h.hexdigest(), "read_s": time.monotonic() - t0}
    c.respond(200, "OK", (json.dumps(doc) + "\n").encode(),
              [("Content-Type", "application/json")], close=close)
    return not close


class Hold:
    """One request parked by /hold: its connection and a wake-up pipe."""

    def __init__(self, hid, conn):
        self.id = hid
        self.conn = conn
        self.rfd, self.wfd = os.pipe()
        self.released = False
        self.done = threading.Event()




def mode_hold(c, method, target, version, headers, q, close):
    drain(c, headers)
    hid = q.get("id", "")
    h = Hold(hid, c)
    with HOLD_LOCK:
        if hid in HELD:
            dup = True
        else:
            dup = False
            HELD[hid] = h
            STATS.held_peak = max(STATS.held_peak, len(HELD))
    if dup:
        os.close(h.rfd)
        os.close(h.wfd)
        c.respond(409, "Conflict", ("id %s already held\n" % hid).encode(),
                  close=close)
        return not close
    try:
        while True:
            # Wait for the release or for the peer to close; bytes that
            # arrive meanwhile (a pipelined request) are kept in the buffer.
            r, _, _ = select.select([c.sock, h.rfd], [], [], 5.0)
            if h.rfd in r:
                break
            if c.sock in r:
                d = c.recv()
                if not d:
                    with HOLD_LOCK:
                        if not h.released:
                            HELD.pop(hid, None)
                            sys.stderr.write("%s: held %s dropped: peer closed\n"
                                             % (NAME, hid))
                            raise Closed()
                    break
                c.buf += d
        c.respond(200, "OK", ("released %s" % hid).encode(),
                  [("Content-Type", "text/plain"), ("X-Backend", NAME)],
                  close=close)
        return not close
    finally:
        os.close(h.rfd)
        os.close(h.wfd)
        h.done.set()


def release_held(ids):
    """Release the held requests ids (all when None); wait until each one's
    response is written (or it failed); return the ids released."""
    with HOLD_LOCK:
        hs = [h for k, h in HELD.items() if ids is None or k in ids]
        for h in hs:
            h.released = True
            del HELD[h.id]
            os.write(h.wfd, b"x")
    for h in hs:
        h.done.wait(5.0)
    return [h.id for h in hs]


MODES = {
    "/slow": mode_slow,
    "/chunked": mode_chunked,
    "/eof": mode_eof,
    "/big": mode_big,
    "/bigchunked": mode_bigchunked,
    "/split-head": mode_split_head,
    "/status": mode_status,
    "/info": mode_info,
    "/head": mode_head,
    "/hop": mode_hop,
    "/upgrade": mode_upgrade,
    "/reset": mode_reset,
    "/close-early": mode_close_early,
    "/garbage": mode_garbage,
    "/bad-cl-te": mode_bad_cl_te,
    "/bad-two-cl": mode_bad_two_cl,
    "/bad-chunk": mode_bad_chunk,
    "/resp-close": mode_resp_close,
    "/extra": mode_extra,
    "/sink": mode_sink,
    "/hold": mode_hold,
}


def serve_control(sock):
    """Answer one control request: /stats, /reset, /raw, /set?k=v."""
    sock.settimeout(10)
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            d = sock.recv(4096)
            if not d:
                return
            data += d
        path, q = query_of(data.split(b" ")[1].decode())
        doc = None
        if path == "/held":
            with HOLD_LOCK:
                doc = {"held": list(HELD)}
        elif path == "/release":
            doc = {"released": release_held({q.get("id", "")})}
        elif path == "/release-all":
            doc = {"released": release_held(None)}
        with STATS.lock:
            if doc is not None:
                pass
            elif path == "/stats":
                doc = STATS.snapshot()
            elif path == "/reset":
                STATS.reset()
                doc = {"ok": True}
            elif path == "/raw":
                doc = {"raw": STATS.raw.decode("latin-1")}
            elif path == "/set":
                for k, v in q.items():
                    OPTS[k] = int(v)
                doc = dict(OPTS)
            else:
                doc = {"error": "unknown"}
        body = json.dumps(doc).encode()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    except OSError:
        pass
    finally:
        sock.close()


def accept_loop(lsock, control):
    cid = 0
    while True:
        sock, addr = lsock.accept()
        if control:
            threading.Thread(target=serve_control, args=(sock,), daemon=True).start()
            continue
        cid += 1
        with STATS.lock:
            STATS.connections += 1
            STATS.open += 1
            STATS.max_open = max(STATS.max_open, STATS.open)
        threading.Thread(target=serve_conn, args=(sock, addr, cid), daemon=True).start()


def listen(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(256)
    return s


def watch_stdin():
    """Exit when the parent closes our stdin (or dies)."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    os._exit(0)


def main():
    global NAME, TLS_CTX
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="backend")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--idle-close-ms", type=int, default=-1,
                    help="close idle keep-alive connections silently after this"
                    " (0: right after each response)")
    ap.add_argument("--close-on-reuse", action="store_true",
                    help="close a connection without answering its second request")
    ap.add_argument("--tls-cert", help="speak TLS with this certificate chain")
    ap.add_argument("--tls-key", help="the key of --tls-cert")
    ap.add_argument("--tls12", action="store_true",
                    help="with --tls-cert: speak TLS 1.2 at most")
    a = ap.parse_args()
    NAME = a.name
    if a.tls_cert:
        TLS_CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        TLS_CTX.minimum_version = ssl.TLSVersion.TLSv1_2
        if a.tls12:
            TLS_CTX.maximum_version = ssl.TLSVersion.TLSv1_2
        TLS_CTX.load_cert_chain(a.tls_cert, a.tls_key)
        TLS_CTX.set_alpn_protocols(["http/1.1"])
        TLS_CTX.sni_callback = tls_sni_cb
        TLS_CTX.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    OPTS["idle_close_ms"] = a.idle_close_ms
    OPTS["close_on_reuse"] = int(a.close_on_reuse)
    main_sock = listen(a.host, a.port)
    ctl_sock = listen(a.host, 0)
    threading.Thread(target=accept_loop, args=(ctl_sock, True), daemon=True).start()
    threading.Thread(target=watch_stdin, daemon=True).start()
    sys.stdout.write("PORT %d CONTROL %d\n" % (main_sock.getsockname()[1],
                                              ctl_sock.getsockname()[1]))
    sys.stdout.flush()
    accept_loop(main_sock, False)


if __name__ == "__main__":
    main()
