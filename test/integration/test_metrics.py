#!/usr/bin/env python3
"""GET /metrics on the admin listener ([admin] listen = 127.0.0.1:PORT):
promtool finds nothing to say about it; after N requests spread over four
workers, on keep-alive and new connections, every counter involved moved
by exactly N; a refused connect counts a connect failure, a 5xx for the
client, a retry when there is another server; no series goes down when a
worker is SIGKILLed or the config reloaded; the in-flight gauge equals the
requests a backend holds; a histogram's count equals its server's
responses."""
import re
import shutil
import signal
import subprocess
import urllib.request

from harness import (Client, Env, Tap, check, check_eq,
                     free_port, http, kill_pid, wait_until)

t = Tap(budget=60)
env = Env("metrics")

def start(backends, workers=2, frontends=None):
    """weir with an admin listener on a free port (w.admin_port)."""
    fronts = frontends or {"web": {"listen": "127.0.0.1:auto",
                                   "backend": next(iter(backends))}}
    return env.weir(workers=workers, frontends=fronts, backends=backends,
                    admin={"listen": "127.0.0.1:auto"})


def scrape_text(w):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % w.admin_port,
                                timeout=5) as r:
        check_eq(r.status, 200, "GET /metrics status")
        return r.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset of (label, value)): float} and {family: type}."""
    series, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m, "not a sample line: %r" % line)
        labels = frozenset((k, re.sub(r"\\(.)", lambda x: {"n": "\n"}.get(
            x.group(1), x.group(1)), v)) for k, v in LABEL.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        check(key not in series, "series twice: %r" % (key,))
        series[key] = float(m.group(3))
    return series, types


def scrape(w):
    return parse(scrape_text(w))[0]


def total(series, name, **labels):
    """Sum of every series of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in series.items() if n == name and want <= ls)


def counters(series):
    """The series that must never go down: counters and histogram parts."""
    return {k: v for k, v in series.items()
            if k[0].endswith(("_total", "_bucket", "_count", "_sum"))}


def check_not_down(before, after, what):
    down = ["%s%s: %s -> %s" % (k[0], dict(k[1]), v, after.get(k))
            for k, v in counters(before).items()
            if after.get(k) is None or after[k] < v]
    check(not down, "series went down or vanished %s:\n%s"
          % (what, "\n".join(down[:20])))


def delta(before, after, name, **labels):
    return total(after, name, **labels) - total(before, name, **labels)


def wait_open(w, n):
    """Wait until the open connections gauge reads n (a client's close
    reaches its worker a moment after the client is done); the last scrape."""
    last = [None]

    def f():
        last[0] = scrape(w)
        return total(last[0], "weir_frontend_connections_active") == n
    check(wait_until(f, 3.0, 0.05), "open connections: expected %d, got %s"
          % (n, total(last[0], "weir_frontend_connections_active")))
    return last[0]


@t.test("promtool check metrics finds nothing to report")
def _():
    promtool = shutil.which("promtool")
    b = env.backend("pa")
    w = start({"app": {"server": [b.addr, "127.0.0.1:%d" % free_port()]}})
    for _ in range(6):
        http(w.port)
    text = scrape_text(w)
    check(promtool, "promtool not found (apt-get install prometheus)")
    r = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20)
    check(r.returncode == 0 and not r.stdout.strip(),
          "promtool: rc %d:\n%s\n---\n%s" % (r.returncode, r.stdout.decode(),
                                             text[:3000]))
    series, types = parse(text)
    for fam in ("weir_build_info", "weir_frontend_connections_active",
                "weir_frontend_requests_total", "weir_frontend_responses_total",
                "weir_server_requests_total", "weir_server_responses_total",
                "weir_server_failures_total", "weir_server_inflight",
                "weir_server_up", "weir_server_response_seconds",
                "weir_backend_retries_total", "weir_backend_queued",
                "weir_reloads_total",
                "weir_worker_restarts_total"):
        check(fam in types, "no family %s" % fam)
    check_eq(total(series, "weir_server_up", server=b.addr), 1.0, "live up")
    w.check_clean_stop()


@t.test("1000 requests over 4 workers, keep-alive and new connections: "
        "requests, server attempts, 2xx and histogram counts move by "
        "exactly 1000; connections counted and closed")
def _():
    b1, b2 = env.backend("e1"), env.backend("e2")
    w = start({"app": {"server": [b1.addr, b2.addr]}}, workers=4)
    before = scrape(w)
    n_keep, per_conn, n_new = 10, 50, 500
    for _ in range(n_keep):
        with Client(w.port) as c:
            for _ in range(per_conn):
                c.request("GET", "/echo")
                check_eq(c.response().status, 200, "keep-alive response")
    for _ in range(n_new):
        check_eq(http(w.port).status, 200, "response")
    n = n_keep * per_conn + n_new
    after = scrape(w)
    for name, labels in (("weir_frontend_requests_total", {}),
                         ("weir_frontend_responses_total", {"code": "2xx"}),
                         ("weir_server_requests_total", {}),
                         ("weir_server_responses_total", {"code": "2xx"}),
                         ("weir_server_response_seconds_count", {})):
        check_eq(delta(before, after, name, **labels), n,
                 "%s %s moved by" % (name, labels))
    check_eq(delta(before, after, "weir_frontend_connections_total"),
             n_keep + n_new, "connections accepted")
    check_eq(delta(before, after, "weir_frontend_responses_total", code="5xx"),
             0, "5xx")
    check_eq(b1.stats()["requests"] + b2.stats()["requests"], n,
             "requests the backends answered")
    for b in (b1, b2):
        got = total(after, "weir_server_requests_total", server=b.addr)
        check_eq(got, b.stats()["requests"], "attempts counted for %s"
                 % b.addr)
        check_eq(total(after, "weir_server_response_seconds_count",
                       server=b.addr),
                 total(after, "weir_server_responses_total", server=b.addr),
                 "histogram count = responses")
        inf = total(after, "weir_server_response_seconds_bucket",
                    server=b.addr, le="+Inf")
        check_eq(inf, got, "+Inf bucket")
    wait_open(w, 0)
    w.check_clean_stop()


@t.test("a refused connect: failures{reason=connect} and a 5xx for the "
        "client; with another server, a retry and a 2xx")
def _():
    dead = "127.0.0.1:%d" % free_port()
    b = env.backend("rb")
    w = start({"solo": {"server": dead, "retries": 0},
               "pair": {"server": [dead, b.addr], "retries": 1,
                        "max_fails": 0}},
              frontends={"s": {"listen": "127.0.0.1:auto", "backend": "solo"},
                         "p": {"listen": "127.0.0.1:auto", "backend": "pair"}})
    before = scrape(w)
    for _ in range(5):
        check_eq(http(w.ports["s"][0]).status, 502, "dead server")
    mid = scrape(w)
    check_eq(delta(before, mid, "weir_server_failures_total", backend="solo",
                   reason="connect"), 5, "connect failures")
    check_eq(delta(before, mid, "weir_server_requests_total", backend="solo"),
             5, "attempts")
    check_eq(delta(before, mid, "weir_frontend_responses_total", frontend="s",
                   code="5xx"), 5, "5xx to clients")
    check_eq(delta(before, mid, "weir_frontend_requests_total", frontend="s"),
             5, "requests")
    check_eq(delta(before, mid, "weir_server_responses_total", backend="solo"),
             0, "responses from a dead server")
    for _ in range(10):
        check_eq(http(w.ports["p"][0]).status, 200, "retried request")
    after = scrape(w)
    fails = delta(mid, after, "weir_server_failures_total", backend="pair",
                  server=dead, reason="connect")
    check(fails >= 1, "no request met the dead server first")
    check_eq(delta(mid, after, "weir_backend_retries_total", backend="pair"),
             fails, "retries = connect failures")
    check_eq(delta(mid, after, "weir_server_requests_total", backend="pair"),
             10 + fails, "attempts = requests + retries")
    check_eq(delta(mid, after, "weir_frontend_responses_total", frontend="p",
                   code="2xx"), 10, "2xx to clients")
    w.check_clean_stop()


@t.test("SIGKILL of a worker: no series goes down, its connections are "
        "gone, worker_restarts_total is 1")
def _():
    b = env.backend("kb")
    w = start({"app": {"server": b.addr}}, workers=4)
    for _ in range(200):
        http(w.port)
    idle = [Client(w.port) for _ in range(8)]
    for c in idle:
        c.request("GET", "/echo")
        c.response()
    before = wait_open(w, 8)
    victim = w.worker_pids()[0]
    off = len(w.log())
    kill_pid(victim, signal.SIGKILL)
    w.wait_line(off, r"respawning worker", 5.0)
    check(wait_until(lambda: len(w.worker_pids()) == 4, 5.0), "no respawn")
    # The victim's connections closed with it; the others stay counted.
    still = [c for c in idle if not c.wait_closed(0.2)]
    after = wait_open(w, len(still))
    check_not_down(before, after, "across a SIGKILL")
    check_eq(delta(before, after, "weir_frontend_requests_total"), 0,
             "requests (no traffic meanwhile)")
    check_eq(total(after, "weir_worker_restarts_total"), 1.0, "restarts")
    for c in idle:
        c.close()
    for _ in range(50):
        http(w.port)
    check_eq(delta(before, scrape(w), "weir_frontend_requests_total"), 50,
             "requests after the respawn")
    w.check_clean_stop(allow_respawn=True)


@t.test("SIGHUP reloads, good and bad: no series goes down once the old "
        "generation drained; reloads_total by result")
def _():
    b = env.backend("hb")
    w = start({"app": {"server": b.addr}}, workers=2)
    for _ in range(100):
        http(w.port)
    before = scrape(w)
    off = len(w.log())
    line = w.reload()
    check(line and "complete" in line, "reload: %s" % line)
    w.wait_line(off, r"generation \d+ drained", 5.0)
    for _ in range(20):
        http(w.port)
    after = scrape(w)
    check_not_down(before, after, "across a reload")
    check_eq(delta(before, after, "weir_frontend_requests_total"), 20,
             "requests")
    check_eq(delta(before, after, "weir_server_requests_total"), 20,
             "attempts")
    check_eq(total(after, "weir_reloads_total", result="ok"), 1.0, "ok")
    with open(w.conf) as f:
        good = f.read()
    with open(w.conf, "w") as f:
        f.write(good + "\n[bogus section]\n")
    line = w.reload()
    check(line and "failed" in line, "bad reload: %s" % line)
    with open(w.conf, "w") as f:
        f.write(good)
    last = scrape(w)
    check_eq(total(last, "weir_reloads_total", result="failed"), 1.0, "failed")
    check_not_down(after, last, "across a failed reload")
    w.check_clean_stop(allow_respawn=True)


@t.test("weir_server_inflight equals the requests the backend holds")
def _():
    b = env.backend("ib")
    w = start({"app": {"server": b.addr}}, workers=2)
    clients = []
    for i in range(3):
        c = Client(w.port, timeout=10)
        c.request("GET", "/hold?id=h%d" % i)
        clients.append(c)
    check(wait_until(lambda: len(b.held()) == 3, 3.0), "backend holds %s"
          % b.held())
    check_eq(total(scrape(w), "weir_server_inflight", server=b.addr), 3.0,
             "in flight while held")
    b.release_all()
    for c in clients:
        check_eq(c.response().status, 200, "released")
        c.close()
    check(wait_until(lambda: total(scrape(w), "weir_server_inflight") == 0,
                     3.0, 0.05), "in flight after release")
    w.check_clean_stop()


t.run(None, env)
