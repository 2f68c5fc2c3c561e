#!/usr/bin/env python3
"""Access log and request ids (issue 10): one line per request over several
workers, written within the flush interval; every JSON line parses and has
every field; hostile request lines cannot break lines in either format;
weir's own errors are logged; request ids are made, sent upstream, returned
and logged, replaced unless trusted; a client that leaves mid-response is
logged with what it got; pipelined requests and tunnels; SIGUSR1 reopens
after a rename, and no line is lost on SIGQUIT, SIGTERM or a reload."""
import calendar
import json
import os
import re
import signal
import socket
import struct
import time

from harness import (Client, Env, Skip, Tap, build_request, check, check_eq,
                     free_port, have_ipv6_loopback, http, raw_exchange,
                     run_cmd, wait_until, WEIR_BIN)

t = Tap(budget=70)
env = Env("alog")

FIELDS = ["time", "client", "peer", "method", "target", "proto", "status",
          "bytes_in", "bytes_out", "duration_ms", "upstream", "connect_ms",
          "header_ms", "retries", "request_id", "frontend", "backend", "cut",
          "referer", "user_agent"]
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                   r"[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# The one-second flush, plus this run's scheduling slack (see HACKING.md).
FLUSH_WAIT = 5.0


def slack():
    return FLUSH_WAIT * t.budget_now()[1]


def lines_of(*paths):
    """Every line of the files (bytes, without the newline); a missing file
    has none. A line that does not end in a newline is returned too, so a
    torn write shows up as a line that fails to parse."""
    out = []
    for p in paths:
        try:
            with open(p, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        out += data.split(b"\n")[:-1] if data.endswith(b"\n") or not data \
            else data.split(b"\n")
    return out


def records(*paths):
    """The JSON objects of the files, each checked to have every field in
    order and plain ASCII."""
    out = []
    for line in lines_of(*paths):
        check(all(0x20 <= b < 0x7f for b in line),
              "line with a byte outside printable ASCII: %r" % line)
        try:
            r = json.loads(line)
        except ValueError as e:
            raise AssertionError("line does not parse (%s): %r" % (e, line))
        check_eq(list(r.keys()), FIELDS, "fields of %r" % line)
        out.append(r)
    return out


def wait_count(n, *paths, what="lines"):
    """Wait until the files hold n lines together; fail on more or on a
    timeout. Returns the lines."""
    got = wait_until(lambda: len(lines_of(*paths)) >= n, slack(), 0.05)
    ls = lines_of(*paths)
    check(got and len(ls) == n, "%s: expected %d lines in %s, found %d:\n%s"
          % (what, n, paths, len(ls), b"\n".join(ls[-10:]).decode("latin-1")))
    return ls


def start(backends=None, workers=2, **fronts):
    """weir with the given frontends (name -> options, each with backend
    "app" unless it says) in front of one backend.py server by default."""
    b = env.backend("b%d" % env.next_id())
    fe = {}
    for name, opts in fronts.items():
        o = {"listen": "127.0.0.1:auto", "backend": "app"}
        o.update(opts)
        fe[name] = o
    bes = {"app": {"server": b.addr, "retries": 0}}
    bes.update(backends or {})
    w = env.weir(workers=workers, frontends=fe, backends=bes)
    return w, b


def echo_headers(r, name):
    """Values of header name that backend.py's /echo says it received."""
    return [v for n, v in r.json()["headers"] if n.lower() == name.lower()]


# ---------------------------------------------------------------- setup

LOG = env.path("access.log")
CLOG = env.path("combined.log")
W = {}


DEAD = "127.0.0.1:%d" % free_port()


def setup():
    b = env.backend("main")
    fe = dict(
        web={"access_log": LOG, "request_id": "X-Request-Id"},
        trust={"access_log": CLOG, "access_log_format": "combined",
               "request_id": "X-Trace-Id", "request_id_trust": "yes"},
        down={"access_log": LOG, "backend": "none", "client_timeout": "400ms",
              "max_body_size": "10", "max_header_size": "1k"},
        plain={},
        idonly={"request_id": "X-Request-Id"},
        retry={"access_log": LOG, "backend": "flaky"},
        dead={"access_log": LOG, "backend": "gone"})
    for o in fe.values():
        o.setdefault("listen", "127.0.0.1:auto")
        o.setdefault("backend", "app")
    w = env.weir(workers=2, frontends=fe, backends={
        "app": {"server": b.addr, "retries": 0},
        "none": {"server": "127.0.0.1:1 disabled"},
        "gone": {"server": DEAD, "retries": 0, "max_fails": 0},
        "flaky": {"server": [DEAD, b.addr], "retries": 1,
                  "retry_backoff": "1ms", "max_fails": 0}})
    W.update(w=w, b=b, **{n: ps[0] for n, ps in w.ports.items()})


def fresh(path):
    """Lines from here on: the current count of path, to slice later."""
    return len(lines_of(path))


# ---------------------------------------------------------------- tests

@t.test("80 requests over 2 workers (new and keep-alive connections): "
        "exactly 80 JSON lines within the flush interval, every field, "
        "distinct request ids, the right upstream and names")
def _():
    start_n = fresh(LOG)
    ids = set()
    for i in range(40):
        r = http(W["web"], "GET", "/echo?n=%d" % i,
                 headers=[("User-Agent", "alog-test/%d" % i),
                          ("Referer", "http://ref/%d" % i)])
        check_eq(r.status, 200, "status")
        ids.add(r.get("X-Request-Id"))
    with Client(W["web"]) as c:
        for i in range(40, 80):
            c.request("GET", "/echo?n=%d" % i)
            r = c.response()
            check_eq(r.status, 200, "status")
            ids.add(r.get("X-Request-Id"))
    check_eq(len(ids), 80, "distinct request ids in 80 responses")
    wait_count(start_n + 80, LOG)
    recs = records(LOG)[start_n:]
    check_eq(sorted(r["target"] for r in recs),
             sorted("/echo?n=%d" % i for i in range(80)), "targets logged")
    check_eq({r["request_id"] for r in recs}, ids, "logged ids")
    now = time.time()
    for r in recs:
        check(TIME.match(r["time"]), "time %r" % r["time"])
        ts = calendar.timegm(time.strptime(r["time"][:19],
                                           "%Y-%m-%dT%H:%M:%S"))
        check(abs(ts - now) < 120, "time %r far from now" % r["time"])
        check_eq((r["method"], r["proto"], r["status"], r["client"],
                  r["upstream"], r["frontend"], r["backend"], r["cut"],
                  r["retries"]),
                 ("GET", "HTTP/1.1", 200, "127.0.0.1", W["b"].addr, "web",
                  "app", None, 0), "fields of %r" % r)
        check(re.match(r"^127\.0\.0\.1:\d+$", r["peer"]), "peer %r" % r["peer"])
        check(r["bytes_in"] > 30 and r["bytes_out"] > 100,
              "byte counts of %r" % r)
        for k in ("duration_ms", "connect_ms", "header_ms"):
            check(isinstance(r[k], float) and 0 <= r[k] < 10000,
                  "%s of %r" % (k, r))
        check(r["header_ms"] <= r["duration_ms"], "header after the end: %r" % r)
    by_target = {r["target"]: r for r in recs}
    check_eq((by_target["/echo?n=7"]["user_agent"],
              by_target["/echo?n=7"]["referer"]),
             ("alog-test/7", "http://ref/7"), "User-Agent and Referer")
    check_eq(by_target["/echo?n=50"]["user_agent"], None, "absent User-Agent")
    # Bytes in: the request as sent (no body here), exactly.
    r = by_target["/echo?n=50"]
    check_eq(r["bytes_in"], len(b"GET /echo?n=50 HTTP/1.1\r\nHost: weir.test"
                                b"\r\n\r\n"), "bytes_in of a plain GET")


@t.test("bytes_in counts the body as received (chunked framing included), "
        "bytes_out the whole response as sent")
def _():
    start_n = fresh(LOG)
    body = b"x" * 5000
    r = http(W["web"], "POST", "/echo?body", body=body)
    check_eq(r.status, 200, "status")
    with Client(W["web"]) as c:
        head = (b"POST /echo?chunked HTTP/1.1\r\nHost: weir.test\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        chunks = b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"
        c.send(head + chunks)
        r2 = c.response()
        check_eq(r2.status, 200, "status of the chunked POST")
    wait_count(start_n + 2, LOG)
    recs = {r["target"]: r for r in records(LOG)[start_n:]}
    want_in = len(b"POST /echo?body HTTP/1.1\r\nHost: weir.test\r\n"
                  b"Content-Length: 5000\r\n\r\n") + 5000
    check_eq(recs["/echo?body"]["bytes_in"], want_in, "bytes_in with a body")
    check_eq(recs["/echo?chunked"]["bytes_in"], len(head) + len(chunks),
             "bytes_in of a chunked body")
    check_eq(recs["/echo?body"]["bytes_out"], len(r.raw_head) + len(r.body),
             "bytes_out: head and body as the client got them")


@t.test("request id: made when absent and when the client sent one "
        "(untrusted: its copies removed), one reaches the backend, the "
        "same is in the response and the log")
def _():
    start_n = fresh(LOG)
    r1 = http(W["web"], "GET", "/echo?rid=none")
    r2 = http(W["web"], "GET", "/echo?rid=forged",
              headers=[("X-Request-Id", "forged-1"), ("x-request-id", "forged-2")])
    for r in (r1, r2):
        rid = r.get("X-Request-Id")
        check(UUID4.match(rid or ""), "response id %r is not a UUID v4" % rid)
        check_eq(len(r.all("X-Request-Id")), 1, "ids in the response")
        check_eq(echo_headers(r, "X-Request-Id"), [rid], "ids upstream")
    check(r1.get("X-Request-Id") != r2.get("X-Request-Id"), "same id twice")
    wait_count(start_n + 2, LOG)
    recs = {r["target"]: r for r in records(LOG)[start_n:]}
    check_eq(recs["/echo?rid=none"]["request_id"], r1.get("X-Request-Id"),
             "logged id")
    check_eq(recs["/echo?rid=forged"]["request_id"], r2.get("X-Request-Id"),
             "logged id, replaced")


@t.test("request_id_trust = yes keeps the first incoming id (one copy "
        "upstream), replaces an empty or over-long one; combined log says so")
def _():
    start_n = fresh(CLOG)
    r1 = http(W["trust"], "GET", "/echo?t=1",
              headers=[("X-Trace-Id", "edge-42"), ("X-Trace-Id", "edge-43")])
    check_eq(r1.get("X-Trace-Id"), "edge-42", "response id")
    check_eq(echo_headers(r1, "X-Trace-Id"), ["edge-42"], "ids upstream")
    long_id = "L" * 129
    r2 = http(W["trust"], "GET", "/echo?t=2", headers=[("X-Trace-Id", long_id)])
    rid2 = r2.get("X-Trace-Id")
    check(UUID4.match(rid2 or ""), "an over-long id is replaced: %r" % rid2)
    check_eq(echo_headers(r2, "X-Trace-Id"), [rid2], "ids upstream")
    r3 = http(W["trust"], "GET", "/echo?t=3")
    check(UUID4.match(r3.get("X-Trace-Id") or ""), "made when absent")
    # A response header of that name from the backend is replaced too.
    r4 = http(W["trust"], "GET", "/echo?t=4", headers=[("X-Trace-Id", "x" * 128)])
    check_eq(r4.get("X-Trace-Id"), "x" * 128, "128 bytes are kept")
    ls = wait_count(start_n + 4, CLOG)[start_n:]
    text = b"\n".join(ls).decode("ascii")
    check('"GET /echo?t=1 HTTP/1.1" 200 ' in text and 'rid="edge-42"' in text,
          "combined lines:\n" + text)
    check('rid="%s"' % rid2 in text, "replaced id in:\n" + text)
    for line in ls:
        check(re.match(rb'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d '
                       rb'\+0000\] "GET /echo\?t=\d HTTP/1\.1" 200 \d+ "-" "-" '
                       rb'rid="[^"]+" in=\d+ dur=\d+\.\d{3} up=127\.0\.0\.1:\d+ '
                       rb'connect=\d+\.\d{3} header=\d+\.\d{3} retries=0 '
                       rb'fe=trust be=app cut=- peer=127\.0\.0\.1:\d+$', line),
              "combined line %r" % line)


@t.test("request_id off (the default): no header added, a client's passes "
        "through untouched; request_id without access_log: ids, no log")
def _():
    start_n = fresh(LOG)
    r = http(W["plain"], "GET", "/echo", headers=[("X-Request-Id", "mine")])
    check_eq(r.status, 200, "status")
    check(not r.has("X-Request-Id"), "response has an id: %r" % r.headers)
    check_eq(echo_headers(r, "X-Request-Id"), ["mine"], "ids upstream")
    r = http(W["idonly"], "GET", "/echo", headers=[("X-Request-Id", "mine")])
    rid = r.get("X-Request-Id")
    check(UUID4.match(rid or ""), "id %r" % rid)
    check_eq(echo_headers(r, "X-Request-Id"), [rid], "ids upstream")
    r = http(W["idonly"], "TRACE", "/t")
    check(r.status == 405 and UUID4.match(r.get("X-Request-Id") or ""),
          "weir's own answer carries an id: %s" % r.summary())
    time.sleep(1.2)
    check_eq(len(lines_of(LOG)), start_n, "lines logged for frontends that "
             "do not log")


@t.test("weir's own answers are logged with their status and no upstream: "
        "400 (hostile request line, escaped), 405, 413, 431, 503; each "
        "carries the logged request id")
def _():
    start_n = fresh(LOG)
    hostile = b'/a%0a"\x01'
    r, _, port400, _ = raw_exchange(W["web"], b"GET " + hostile +
                                    b" HTTP/1.1\r\nHost: x\r\n\r\n")
    check(r is not None and r.status == 400, "hostile request: %r" % r)
    got = {400: r}
    got[405] = http(W["down"], "TRACE", "/t")
    got[413] = http(W["down"], "POST", "/big", body=b"0123456789A")
    got[431] = http(W["down"], "GET", "/h", headers=[("X-Big", "b" * 1100)])
    got[503] = http(W["down"], "GET", "/none")
    for status, resp in got.items():
        check_eq(resp.status, status, "status")
    wait_count(start_n + 5, LOG)
    recs = records(LOG)[start_n:]
    by_status = {r["status"]: r for r in recs}
    check_eq(sorted(by_status), [400, 405, 413, 431, 503], "statuses logged")
    h = by_status[400]
    check_eq((h["method"], h["target"], h["proto"]),
             ("GET", hostile.decode("latin-1"), "HTTP/1.1"),
             "the hostile request line, decoded back")
    check_eq(h["peer"], "127.0.0.1:%d" % port400, "peer of the 400")
    check_eq(h["bytes_in"], len(b"GET " + hostile + b" HTTP/1.1\r\nHost: x"
                                b"\r\n\r\n"), "bytes_in of the 400")
    check_eq(h["frontend"], "web", "frontend")
    for status, rec in by_status.items():
        check_eq((rec["upstream"], rec["connect_ms"], rec["header_ms"],
                  rec["cut"]), (None, None, None, None),
                 "upstream fields of the %d" % status)
        check_eq(rec["bytes_out"], len(got[status].raw_head) +
                 len(got[status].body), "bytes_out of the %d" % status)
    check_eq(by_status[400]["request_id"], got[400].get("X-Request-Id"),
             "id of the 400")
    check(UUID4.match(by_status[400]["request_id"]), "id of the 400")
    check_eq(by_status[503]["backend"], "none", "backend of the 503")
    check_eq(by_status[405]["method"], "TRACE", "method of the 405")
    check_eq(by_status[431]["target"], "/h", "target of the 431")


@t.test("retries and upstream: a retried request names the server that "
        "answered and retries=1; a 502 names the server that failed")
def _():
    start_n = fresh(LOG)
    for i in range(4):
        check_eq(http(W["retry"], "GET", "/echo?retry=%d" % i).status, 200,
                 "status behind a dead and a live server")
    r = http(W["dead"], "GET", "/echo?dead")
    check_eq(r.status, 502, "status with the only server dead")
    wait_count(start_n + 5, LOG)
    recs = records(LOG)[start_n:]
    tried = [(r["retries"], r["upstream"], r["backend"]) for r in recs
             if r["target"].startswith("/echo?retry")]
    check(set(tried) <= {(0, W["b"].addr, "flaky"), (1, W["b"].addr, "flaky")}
          and (1, W["b"].addr, "flaky") in tried, "retries: %r" % tried)
    d = [r for r in recs if r["target"] == "/echo?dead"][0]
    check_eq((d["status"], d["upstream"], d["connect_ms"], d["header_ms"],
              d["retries"]), (502, DEAD, None, None, 0), "the 502")


@t.test("a head that never completes: 408 after client_timeout, logged "
        "with the words of its first line")
def _():
    start_n = fresh(LOG)
    with Client(W["down"]) as c:
        c.send(b"GET /slow-head HTTP/1.1\r\nHost: x\r\nX-Half: ")
        r = c.response()
    check_eq(r.status, 408, "status")
    wait_count(start_n + 1, LOG)
    rec = records(LOG)[start_n]
    check_eq((rec["status"], rec["method"], rec["target"], rec["proto"],
              rec["bytes_in"], rec["upstream"]),
             (408, "GET", "/slow-head", "HTTP/1.1",
              len(b"GET /slow-head HTTP/1.1\r\nHost: x\r\nX-Half: "), None),
             "fields of %r" % rec)
    # The timer runs on the coarse clock: it may end a tick (<= 10 ms) early.
    check(rec["duration_ms"] >= 390, "duration %r under client_timeout"
          % rec["duration_ms"])


@t.test("hostile request lines cannot forge a line in either format: "
        "one line per request, quotes and controls escaped")
def _():
    start_j, start_c = fresh(LOG), fresh(CLOG)
    evil = [b'/x"} {"status":999 HTTP/1.1\r\nHost: x\r\n\r\n',
            b'/y\\"\x7f\x80\xff HTTP/1.1\r\nHost: x\r\n\r\n',
            b'/z\r HTTP/1.1\r\nHost: x\r\n\r\n',
            b'/w\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n']
    for e in evil:
        for port in (W["web"], W["trust"]):
            r, _, _, _ = raw_exchange(port, b"GET " + e, close_wait=0.2)
            check(r is not None and r.status in (200, 400),
                  "request %r: %r" % (e, r))
    wait_count(start_j + len(evil), LOG)
    recs = records(LOG)[start_j:]
    check(not any(r["status"] == 999 for r in recs), "forged status")
    # Two workers flush in their own order: look at every line.
    check(any(r["target"] == '/x"}' and r["proto"] == '{"status":999 HT...'
              for r in recs), "the first request line, split at its spaces: "
          "%r" % recs)
    cl = wait_count(start_c + len(evil), CLOG)[start_c:]
    for line in cl:
        check(all(0x20 <= b < 0x7f for b in line), "raw byte in %r" % line)
        m = re.match(rb'^\S+ - - \[[^\]]+\] "((?:[^"\\]|\\x[0-9A-F]{2})*)" '
                     rb'(\d{3}) ', line)
        check(m, "combined line does not split as it should: %r" % line)
        check(m.group(2) in (b"200", b"400"), "status in %r" % line)
    check(any(b'"GET /x\\x22} {\\x22status\\x22:999 HT..." 400 ' in line
              for line in cl), "escaped quotes: %r" % cl)


@t.test("a client that closes mid-response is logged with the bytes it "
        "got and cut \"client\"")
def _():
    start_n = fresh(LOG)
    total = 32 << 20
    c = Client(W["web"], timeout=10)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.request("GET", "/big?bytes=%d" % total)
    r = c.read_head()
    check_eq(r.status, 200, "status")
    c.read_exact(1000)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    c.close()
    wait_count(start_n + 1, LOG)
    rec = records(LOG)[start_n]
    check_eq((rec["target"], rec["status"], rec["cut"]),
             ("/big?bytes=%d" % total, 200, "client"), "fields of %r" % rec)
    check(len(r.raw_head) + 1000 <= rec["bytes_out"] < total,
          "bytes_out %d: not what was sent before the reset" % rec["bytes_out"])


@t.test("pipelined requests: one line each, in order, each with its id")
def _():
    start_n = fresh(LOG)
    with Client(W["web"]) as c:
        c.send(b"".join(b"GET /echo?pipe=%d HTTP/1.1\r\nHost: p\r\n\r\n" % i
                        for i in range(3)))
        ids = [c.response().get("X-Request-Id") for _ in range(3)]
    wait_count(start_n + 3, LOG)
    recs = records(LOG)[start_n:]
    check_eq([r["target"] for r in recs],
             ["/echo?pipe=%d" % i for i in range(3)], "order")
    check_eq([r["request_id"] for r in recs], ids, "ids")
    check_eq([r["status"] for r in recs], [200] * 3, "statuses")


@t.test("a tunnel (101) is logged once it closes, with its bytes both ways")
def _():
    start_n = fresh(LOG)
    with Client(W["web"]) as c:
        c.request("GET", "/upgrade", headers=[("Connection", "upgrade"),
                                              ("Upgrade", "websocket")])
        r = c.response()
        check_eq(r.status, 101, "status")
        c.send(b"hello tunnel")
        check_eq(c.read_until_len(12), b"hello tunnel", "echo")
        # Half-close: backend.py answers our FIN with "[eof]" and its own.
        c.shutdown_write()
        check_eq(c.read_to_eof(), b"[eof]", "the backend's last bytes")
    wait_count(start_n + 1, LOG)
    rec = records(LOG)[start_n]
    check_eq((rec["status"], rec["target"], rec["cut"]), (101, "/upgrade", None),
             "fields of %r" % rec)
    check_eq(rec["bytes_out"], len(r.raw_head) + 12 + 5, "bytes_out")
    check_eq(rec["bytes_in"], len(build_request(
        "GET", "/upgrade", [("Connection", "upgrade"),
                            ("Upgrade", "websocket")])) + 12, "bytes_in")


@t.test("SIGUSR1 after a rename: lines go on in a new file, none lost")
def _():
    path = env.path("rot.log")
    w, _ = start(web={"access_log": path})
    for i in range(20):
        http(w.port, "GET", "/echo?r=a%d" % i)
    wait_count(20, path)
    os.rename(path, path + ".1")
    for i in range(20):
        http(w.port, "GET", "/echo?r=b%d" % i)
    os.kill(w.pid, signal.SIGUSR1)
    check(wait_until(lambda: os.path.exists(path), slack(), 0.02),
          "no new file after SIGUSR1; log:\n" + w.log()[-1500:])
    # Until both workers reopened, a line may still go to the old file.
    sent = 40

    def landed():
        nonlocal sent
        http(w.port, "GET", "/echo?r=c%d" % sent)
        sent += 1
        time.sleep(0.05)
        return len(lines_of(path)) > 0
    check(wait_until(landed, slack(), 0.0), "no line in the new file")
    wait_count(sent, path, path + ".1")
    recs = records(path, path + ".1")
    check_eq(sorted(r["target"] for r in recs),
             sorted(["/echo?r=a%d" % i for i in range(20)] +
                    ["/echo?r=b%d" % i for i in range(20)] +
                    ["/echo?r=c%d" % i for i in range(40, sent)]),
             "every request once across both files")


def burst(w, n, tag):
    """n requests on 4 keep-alive connections, answered; their targets."""
    cs = [Client(w.port) for _ in range(4)]
    out = []
    try:
        for i in range(n):
            c = cs[i % 4]
            c.request("GET", "/echo?%s=%d" % (tag, i))
            check_eq(c.response().status, 200, "status")
            out.append("/echo?%s=%d" % (tag, i))
    finally:
        for c in cs:
            c.close()
    return out


@t.test("no line lost on a SIGHUP reload (old workers write theirs as they "
        "exit, json -> combined takes effect) nor on SIGQUIT")
def _():
    path = env.path("reload.log")
    w, b = start(web={"access_log": path})
    want = burst(w, 30, "before")
    w.rewrite(frontends={"web": dict(w.frontends["web"],
                                     access_log_format="combined")})
    line = w.reload()
    check(line and "reload complete" in line, "reload: %r" % line)
    want += burst(w, 30, "after")
    res = w.stop(signal.SIGQUIT, timeout=10)
    check_eq(res["rc"], 0, "exit status after SIGQUIT")
    ls = lines_of(path)
    check_eq(len(ls), 60, "lines after the stop")
    got = []
    for line in ls:
        if line.startswith(b"{"):
            got.append(json.loads(line)["target"])
        else:
            got.append(re.search(rb'"GET (\S+) HTTP/1.1"', line).group(1).decode())
    check_eq(sorted(got), sorted(want), "targets logged")
    check(any(not l.startswith(b"{") for l in ls), "no combined line after "
          "the reload")


@t.test("no line lost on SIGTERM, even with requests still under way "
        "(logged as cut \"stop\")")
def _():
    path = env.path("term.log")
    w, b = start(web={"access_log": path})
    want = burst(w, 25, "t")
    held = Client(w.port)
    held.request("GET", "/hold?id=term1")
    check(wait_until(lambda: "term1" in b.held(), 5), "request not held")
    res = w.stop(signal.SIGTERM)
    held.close()
    check_eq(res["rc"], 0, "exit status")
    recs = records(path)
    check_eq(sorted(r["target"] for r in recs if r["cut"] is None), sorted(want),
             "finished requests logged")
    cut = [r for r in recs if r["cut"] is not None]
    check_eq([(r["target"], r["cut"], r["status"]) for r in cut],
             [("/hold?id=term1", "stop", 0)], "the held request")
    b.release_all()


@t.test("a log that cannot be written (/dev/full): requests are served, "
        "one warning, not one per flush")
def _():
    w, _ = start(workers=1, web={"access_log": "/dev/full"})
    for i in range(3):
        check_eq(http(w.port, "GET", "/echo?full=%d" % i).status, 200, "status")
    check(w.wait_log(r"access_log /dev/full: write; dropping lines", slack()),
          "no warning; log:\n" + w.log()[-1500:])
    for i in range(3):
        check_eq(http(w.port, "GET", "/echo?full2=%d" % i).status, 200, "status")
    time.sleep(1.5)
    check_eq(len(re.findall(r"access_log /dev/full", w.log())), 1,
             "warnings about /dev/full")
    w.check_clean_stop()


@t.test("an IPv6 client: client and peer as [::1]:PORT")
def _():
    if not have_ipv6_loopback():
        raise Skip("no IPv6 loopback")
    path = env.path("v6.log")
    w, _ = start(web={"access_log": path, "listen": "[::1]:auto"})
    r = http(w.port, "GET", "/echo?v6", addr="::1")
    check_eq(r.status, 200, "status")
    wait_count(1, path)
    rec = records(path)[0]
    check_eq((rec["client"], rec["peer"]),
             ("::1", "[::1]:%d" % r.client_port), "addresses")


@t.test("weir -t and startup refuse an access_log that cannot be written, "
        "naming file:line, and so does a reload (the old config serves on); "
        "syslog serves")
def _():
    conf = env.path("bad.ini")
    with open(conf, "w") as f:
        f.write("[frontend web]\nlisten = 127.0.0.1:%d\nbackend = app\n"
                "access_log = %s/nodir/a.log\n[backend app]\n"
                "server = 127.0.0.1:9\n" % (free_port(), env.dir))
    for args in ([WEIR_BIN, "-t", "-c", conf], [WEIR_BIN, "-c", conf]):
        p = run_cmd(args)
        check_eq(p.returncode, 2, "exit status of %s" % args)
        check("%s:4: access_log %s/nodir/a.log: directory" % (conf, env.dir)
              in p.stderr, "message: %r" % p.stderr)
    w, _ = start(web={"access_log": "syslog", "request_id": "X-Request-Id"})
    for i in range(3):
        r = http(w.port, "GET", "/echo?s=%d" % i)
        check_eq(r.status, 200, "status with access_log = syslog")
    text = w.rewrite(frontends={"web": dict(
        w.frontends["web"], access_log="%s/nodir/b.log" % env.dir)})
    line = w.reload()
    lineno = text.splitlines().index("access_log = %s/nodir/b.log"
                                     % env.dir) + 1
    check(line and "reload failed: %s:%d: access_log" % (w.conf, lineno)
          in line, "reload: %r" % line)
    check_eq(http(w.port, "GET", "/echo?after").status, 200,
             "status after the failed reload")
    w.check_clean_stop()


@t.test("access_log = syslog: one message per request at /dev/log, tag "
        "weir-access, facility daemon, the JSON line as its text")
def _():
    if os.geteuid() != 0:
        raise Skip("needs root to listen on /dev/log")
    if os.path.exists("/dev/log"):
        raise Skip("/dev/log belongs to this machine's syslog daemon")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/dev/log")
    try:
        sock.settimeout(0.2)
        w, _ = start(workers=1, web={"access_log": "syslog"})
        for i in range(3):
            check_eq(http(w.port, "GET", "/echo?sys=%d" % i).status, 200,
                     "status")
        w.check_clean_stop()           # the worker flushes on exit
        msgs = []
        deadline = time.monotonic() + 5
        while len(msgs) < 3 and time.monotonic() < deadline:
            try:
                msgs.append(sock.recv(65536).decode())
            except socket.timeout:
                pass
    finally:
        sock.close()
        os.unlink("/dev/log")
    check_eq(len(msgs), 3, "syslog messages: %r" % msgs)
    for i, m in enumerate(msgs):
        # <PRI>TIMESTAMP TAG[PID]: TEXT; daemon.info = 3 * 8 + 6 = 30
        head, _, text = m.partition(": ")
        check(head.startswith("<30>") and "weir-access[" in head,
              "message head %r" % head)
        check_eq(json.loads(text)["target"], "/echo?sys=%d" % i, "target")

t.run(setup=setup, env=env)
