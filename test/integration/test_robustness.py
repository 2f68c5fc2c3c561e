#!/usr/bin/env python3
"""Edge cases found in review: responses never cut short by a closing or
idle client, no replay of non-idempotent requests, errors on later
keep-alive requests, timers across pool reuse, pidfile locking, and running
out of file descriptors."""
import os
import re
import resource
import socket
import subprocess
import time

from harness import (WEIR_BIN, Client, Env, Tap, check, check_eq, free_port,
                     http, wait_until, write_config)

t = Tap()
env = Env("robustness")
b1 = w = None


def setup():
    global b1, w
    b1 = env.backend("b1")
    w = env.weir(
        workers=1,
        frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app",
                           "client_timeout": "1s"},
                   "same": {"listen": "127.0.0.1:auto", "backend": "sametimes"}},
        backends={"app": {"server": [b1.addr]},
                  "sametimes": {"server": [b1.addr], "keepalive_timeout": "2s",
                                "response_timeout": "2s"}})


def read_all(sock, limit, delay=0.0):
    """Read until EOF (or limit bytes), sleeping delay between reads."""
    got = b""
    while len(got) < limit:
        try:
            d = sock.recv(16384 if delay else 65536)
        except OSError:
            break
        if not d:
            break
        got += d
        if delay:
            time.sleep(delay)
    return got


def slow_client(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


@t.test("a client that half-closes after its request still gets the whole response")
def _():
    n = 3000000
    s = slow_client(w.port)
    s.sendall(b"GET /big?bytes=%d HTTP/1.1\r\nHost: weir.test\r\n\r\n" % n)
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.5)
    data = read_all(s, n + 4096)
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200"), "status line: %r" % head[:60])
    check_eq(len(body), n, "body bytes received")


@t.test("a slow reader that outlasts client_timeout (1s) still gets the whole response")
def _():
    n = 3000000
    s = slow_client(w.port)
    s.sendall(b"GET /big?bytes=%d HTTP/1.1\r\nHost: weir.test\r\n\r\n" % n)
    s.shutdown(socket.SHUT_WR)
    # About 1.5 MB/s: the tail still queued in weir when its exchange ends
    # takes longer than client_timeout to drain.
    data = read_all(s, n + 4096, delay=0.01)
    s.close()
    body = data.partition(b"\r\n\r\n")[2]
    check_eq(len(body), n, "body bytes received")


@t.test("a malformed request pipelined after a big one: big response whole, then 400")
def _():
    n = 1000000
    s = slow_client(w.port)
    s.sendall(b"GET /big?bytes=%d HTTP/1.1\r\nHost: weir.test\r\n\r\n"
              b"GET / HTTP/1.1\r\nHost: weir.test\r\nBad Header: x\r\n\r\n" % n)
    time.sleep(0.3)
    data = read_all(s, 2 * n)
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200"), "first status: %r" % head[:40])
    check(rest[n:].startswith(b"HTTP/1.1 400"), "after the body: %r" % rest[n:n + 40])


@t.test("a malformed second request on a keep-alive connection gets 400")
def _():
    with Client(w.port) as c:
        c.request("GET", "/echo")
        check_eq(c.response().status, 200, "first status")
        c.send(b"GET / HTTP/1.1\r\nHost: weir.test\r\nBad Header: x\r\n\r\n")
        check_eq(c.response().status, 400, "second status")


def count_lines(prefix):
    return sum(1 for line in b1.stats()["request_lines"] if line.startswith(prefix))


@t.test("a POST that meets a closing pooled connection is not sent twice")
def _():
    before = count_lines("POST /close-early")
    with Client(w.port) as c:
        c.request("GET", "/echo?warm=1")          # pools a backend connection
        check_eq(c.response().status, 200, "warm-up status")
        c.request("POST", "/close-early", body=b"charge=1")
        check_eq(c.response("POST").status, 502, "POST status")
    time.sleep(0.2)
    check_eq(count_lines("POST /close-early") - before, 1, "times the backend saw the POST")


@t.test("a GET that meets a closing pooled connection is replayed once on a fresh one")
def _():
    before = count_lines("GET /close-early")
    with Client(w.port) as c:
        c.request("GET", "/echo?warm=2")
        check_eq(c.response().status, 200, "warm-up status")
        c.request("GET", "/close-early")
        check_eq(c.response().status, 502, "status once the fresh try also fails")
    time.sleep(0.2)
    check_eq(count_lines("GET /close-early") - before, 2, "times the backend saw the GET")


@t.test("keepalive_timeout == response_timeout: a reused connection gets the full response timeout")
def _():
    port = w.ports["same"][0]
    with Client(port, timeout=8) as c:
        c.request("GET", "/echo?warm=3")
        check_eq(c.response().status, 200, "warm-up status")
        time.sleep(1.5)                           # idle clock at 1.5 of 2 s
        c.request("GET", "/slow?ms=1000")
        check_eq(c.response().status, 200, "status of a 1 s response")


def run_weir(conf, log):
    return subprocess.Popen([WEIR_BIN, "-c", conf], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)


@t.test("a second weir with the same pidfile refuses to start; the first keeps it")
def _():
    pidfile = env.path("locked.pid")
    first = env.weir(workers=1, global_={"pidfile": pidfile},
                     frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"}},
                     backends={"app": {"server": [b1.addr]}})
    conf = env.path("second.ini")
    # Another address: on the same one the listen probe would refuse it
    # first (test_trust.py); here the pidfile lock must.
    write_config(conf, {"workers": 1, "pidfile": pidfile},
                 {"web": {"listen": ["127.0.0.1:%d" % free_port()], "backend": "app"}},
                 {"app": {"server": [b1.addr]}})
    with open(env.path("second.log"), "wb") as log:
        p = run_weir(conf, log)
        try:
            rc = p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = None
    text = open(env.path("second.log"), "rb").read().decode("utf-8", "replace")
    check(rc not in (None, 0), "second weir still running or exited 0 (rc %s)" % rc)
    check("locked" in text, "no 'locked' message: %r" % text[-500:])
    check(os.path.exists(pidfile), "the first weir's pidfile was removed")
    check_eq(open(pidfile).read().strip(), str(first.pid), "pidfile content")
    check_eq(http(first.port, "GET", "/echo").status, 200, "first weir still serves")
    first.stop()


@t.test("out of file descriptors: one log line per episode, with the count at its end")
def _():
    conf = env.path("nofile.ini")
    port = free_port()
    write_config(conf, {"workers": 1, "max_connections": 1000},
                 {"web": {"listen": ["127.0.0.1:%d" % port], "backend": "app"}},
                 {"app": {"server": [b1.addr]}})
    logpath = env.path("nofile.log")
    with open(logpath, "wb") as log:
        p = subprocess.Popen(
            [WEIR_BIN, "-c", conf], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40)))
    socks = []
    try:
        check(wait_until(lambda: http_ok(port), 5), "weir never answered")
        for _ in range(60):
            s = socket.socket()
            s.settimeout(2)
            s.connect(("127.0.0.1", port))
            socks.append(s)
        time.sleep(1.0)                 # ~10 pauses of 100 ms
        text = open(logpath, "rb").read().decode("utf-8", "replace")
        n = text.count("Too many open files")
        check_eq(n, 1, "'Too many open files' lines in 1 s of one episode")
        for s in socks:
            s.close()
        socks = []
        check(wait_until(lambda: http_ok(port), 3), "no service after fds were freed")
        text = open(logpath, "rb").read().decode("utf-8", "replace")
        m = re.search(r"accepting again after (\d+) accept pauses", text)
        check(m and int(m.group(1)) >= 2, "no end-of-episode line with a count: %r"
              % text[-800:])
    finally:
        for s in socks:
            s.close()
        p.terminate()
        p.wait(5)


def http_ok(port):
    try:
        return http(port, "GET", "/echo", timeout=1).status == 200
    except Exception:
        return False


t.run(setup, env)
