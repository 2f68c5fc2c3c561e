#!/usr/bin/env python3
"""Balancing algorithms end to end, across 4 workers: roundrobin weights
hold globally, hash keys (header, cookie, uri, ip) are sticky whichever
worker accepts the connection, disabled servers are never picked, backups
only when no primary is usable, 503 + Retry-After when nothing is usable,
random2 and leastconn starve nobody, leastconn follows in-flight/weight."""
import threading

from harness import (Client, Env, Skip, Tap, check, check_eq, http, raw_exchange,
                     wait_until)

t = Tap(budget=55)
env = Env("balance")
NAMES = ("a", "b", "c")
B = {}                        # name -> Backend, shared by every test
ALGOS = ("roundrobin", "leastconn", "random2", "hash")


def setup():
    for n in NAMES:
        B[n] = env.backend(n)


def start(servers, workers=4, **opts):
    """weir with one backend "app"; servers: list of (name, "options")."""
    for b in B.values():
        b.reset()
    o = {"server": ["%s %s" % (B[n].addr, extra) if extra else B[n].addr
                    for n, extra in servers]}
    o.update(opts)
    return env.weir(workers=workers,
                    frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"}},
                    backends={"app": o})


def requests_per_backend():
    return {n: b.stats()["requests"] for n, b in B.items()}


def parallel(fn, items, nthreads=8):
    """fn(item) for every item, in nthreads threads; returns the results in
    order; the first exception is raised here."""
    items = list(items)
    out = [None] * len(items)
    errs = []
    lock = threading.Lock()
    nxt = [0]

    def run():
        while True:
            with lock:
                if errs or nxt[0] >= len(items):
                    return
                i = nxt[0]
                nxt[0] += 1
            try:
                out[i] = fn(items[i])
            except Exception as e:
                with lock:
                    errs.append(e)
                return
    ths = [threading.Thread(target=run, daemon=True) for _ in range(nthreads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(40)
    check(not any(th.is_alive() for th in ths), "worker threads still running after 40s")
    if errs:
        raise errs[0]
    return out


def served_by(w, path="/echo", headers=None):
    """One GET on a new connection; the name of the backend that answered."""
    r = http(w.port, "GET", path, headers)
    check_eq(r.status, 200, "status of GET %s %s: %s" % (path, headers, r.summary()))
    name = r.get("X-Backend")
    check(name in B, "response without a known X-Backend: %s" % r.summary())
    return name


# ---------------------------------------------------------------- roundrobin

@t.test("roundrobin 5,1,1, 4 workers: 7000 requests on 70 connections split "
        "5000/1000/1000 within 2%")
def _():
    w = start([("a", "weight=5"), ("b", "weight=1"), ("c", "weight=1")],
              balance="roundrobin")

    def conn(i):
        with Client(w.port, timeout=10) as c:
            for k in range(100):
                c.request("GET", "/status?code=200&c=%d&k=%d" % (i, k))
                r = c.response()
                check_eq(r.status, 200, "status of request %d on connection %d" % (k, i))
    parallel(conn, range(70), 7)
    # A backend counts a request just after sending its response.
    got = wait_until(lambda: (lambda g: g if sum(g.values()) >= 7000 else None)(
        requests_per_backend()), 2.0) or requests_per_backend()
    want = {"a": 5000, "b": 1000, "c": 1000}
    t.diag("  requests per backend: %s" % got)
    check_eq(sum(got.values()), 7000, "requests the backends served (%s)" % got)
    for n in NAMES:
        check(abs(got[n] - want[n]) <= 0.02 * want[n],
              "backend %s served %d requests, expected %d +- 2%% (all: %s)"
              % (n, got[n], want[n], got))
    w.check_clean_stop()


# ---------------------------------------------------------------- hash

def sticky(w, users, per_user, req):
    """per_user requests for each user, each on a new connection (so spread
    over the workers); req(user) -> (path, headers). Checks every user
    stayed on one backend and returns {user: backend}."""
    jobs = [u for k in range(per_user) for u in users]
    names = parallel(lambda u: (u, served_by(w, *req(u))), jobs, 8)
    seen = {}
    for u, n in names:
        seen.setdefault(u, set()).add(n)
    moved = {u: sorted(s) for u, s in seen.items() if len(s) > 1}
    check(not moved, "%d of %d users were sent to more than one backend, e.g. %s"
          % (len(moved), len(users), dict(list(moved.items())[:5])))
    return {u: s.pop() for u, s in seen.items()}


def check_spread(placed, what="users"):
    """Every backend got some of the keys in placed ({key: backend})."""
    per = {n: 0 for n in NAMES}
    for n in placed.values():
        per[n] += 1
    t.diag("  %s per backend: %s" % (what, per))
    check(all(per.values()), "some backend got no %s at all: %s" % (what, per))


HASH_CASES = [
    ("header:X-User", lambda u: ("/echo", [("X-User", "user-%d" % u)])),
    ("cookie:sid", lambda u: ("/echo", [("Cookie", "theme=dark; sid=s%d; lang=en" % u)])),
    ("uri", lambda u: ("/echo/user/%d" % u, None)),
]


def hash_test(key, req):
    @t.test("hash_key = %s: 200 users x 5 requests on new connections: each user "
            "on one backend, users on all 3" % key)
    def _():
        w = start([("a", ""), ("b", ""), ("c", "")], balance="hash", hash_key=key)
        check_spread(sticky(w, range(200), 5, req))
        w.check_clean_stop()


for _key, _req in HASH_CASES:
    hash_test(_key, _req)


@t.test("hash_key = ip: 60 requests from 127.0.0.1 on new connections all go to "
        "one backend")
def _():
    w = start([("a", ""), ("b", ""), ("c", "")], balance="hash", hash_key="ip")
    names = parallel(lambda i: served_by(w, "/echo?i=%d" % i), range(60), 6)
    check_eq(len(set(names)), 1, "backends serving 127.0.0.1 (%s)"
             % {n: names.count(n) for n in set(names)})
    w.check_clean_stop()


def from_addr(port, src, path):
    """GET path on a new connection from source address src; the backend."""
    try:
        c = Client(port, timeout=5, source=src)
    except OSError as e:
        raise Skip("cannot connect from %s: %s" % (src, e))
    with c:
        c.request("GET", path)
        r = c.response()
    check_eq(r.status, 200, "status from %s: %s" % (src, r.summary()))
    return r.get("X-Backend")


@t.test("hash_key = ip: 40 source addresses 127.0.0.2-41 x 3 requests: each "
        "address on one backend, addresses on all 3")
def _():
    w = start([("a", ""), ("b", ""), ("c", "")], balance="hash", hash_key="ip")
    srcs = ["127.0.0.%d" % i for i in range(2, 42)]
    res = parallel(lambda s: (s, from_addr(w.port, s, "/echo")), srcs * 3, 6)
    seen = {}
    for s, n in res:
        seen.setdefault(s, set()).add(n)
    moved = {s: sorted(v) for s, v in seen.items() if len(v) > 1}
    check(not moved, "addresses sent to more than one backend: %s" % moved)
    check_spread({s: v.pop() for s, v in seen.items()}, "addresses")
    w.check_clean_stop()


# ---------------------------------------------------------------- disabled, backup

def traffic(w, algo, n=60):
    """n requests on new connections; returns the backend of each (varying
    X-User so that hash spreads them too)."""
    return parallel(lambda i: served_by(w, "/echo?i=%d" % i, [("X-User", "u%d" % i)]),
                    range(n), 6)


def algo_opts(algo):
    o = {"balance": algo}
    if algo == "hash":
        o["hash_key"] = "header:X-User"
    return o


def disabled_test(algo):
    @t.test("%s: a disabled server is never sent anything" % algo)
    def _():
        w = start([("a", ""), ("b", ""), ("c", "disabled")], **algo_opts(algo))
        names = traffic(w, algo, 90)
        per = {n: names.count(n) for n in NAMES}
        st = B["c"].stats()
        check_eq((st["requests"], st["connections"]), (0, 0),
                 "requests and connections to disabled c (per backend: %s)" % per)
        check(per["a"] and per["b"], "a and b not both used: %s" % per)
        w.check_clean_stop()


for _a in ALGOS:
    disabled_test(_a)


@t.test("all servers disabled: 503 with Retry-After, connection closed, logged")
def _():
    w = start([("a", "disabled"), ("b", "disabled")], workers=2)
    for i in range(4):
        r, closed, cport, extra = raw_exchange(
            w.port, b"GET /echo?i=%d HTTP/1.1\r\nHost: weir.test\r\n\r\n" % i)
        check(r is not None, "no parsable response: %s" % (extra,))
        check_eq(r.status, 503, "status with every server disabled (%s)" % r.summary())
        check(r.has("Retry-After"), "503 without Retry-After: %s" % r.summary())
        check(closed, "connection still open 3s after the 503")
        pat = (r"\[warn\].*client 127\.0\.0\.1:%d: 503 Service Unavailable: "
               r"no server available in backend app" % cport)
        check(w.wait_log(pat), "no log line matching %r; log tail:\n%s"
              % (pat, w.log()[-1500:]))
    st = requests_per_backend()
    check_eq(st, {"a": 0, "b": 0, "c": 0}, "requests the backends saw")
    w.check_clean_stop()


def backup_test(algo):
    @t.test("%s: with a backup, everything goes to the primary; with the primary "
            "disabled, everything goes to the backup" % algo)
    def _():
        w = start([("a", ""), ("b", "backup")], **algo_opts(algo))
        names = traffic(w, algo, 40)
        check_eq({n: names.count(n) for n in set(names)}, {"a": 40},
                 "backends used with a primary up")
        w.check_clean_stop()
        w = start([("a", "disabled"), ("b", "backup")], **algo_opts(algo))
        names = traffic(w, algo, 40)
        check_eq({n: names.count(n) for n in set(names)}, {"b": 40},
                 "backends used with the only primary disabled")
        w.check_clean_stop()


for _a in ALGOS:
    backup_test(_a)


# ---------------------------------------------------------------- random2, leastconn

def nobody_starved(algo):
    @t.test("%s, equal weights, 600 quick requests from 6 threads: every backend "
            "gets at least 10%%, nothing fails" % algo)
    def _():
        w = start([("a", ""), ("b", ""), ("c", "")], balance=algo)

        def conn(i):
            out = []
            with Client(w.port, timeout=10) as c:
                for k in range(10):
                    c.request("GET", "/echo?c=%d&k=%d" % (i, k))
                    r = c.response()
                    check_eq(r.status, 200, "status of request %d on connection %d: %s"
                             % (k, i, r.summary()))
                    out.append(r.get("X-Backend"))
            return out
        names = [n for lst in parallel(conn, range(60), 6) for n in lst]
        per = {n: names.count(n) for n in NAMES}
        t.diag("  requests per backend: %s" % per)
        for n in NAMES:
            check(per[n] >= 60, "backend %s got %d of 600 requests (%s)" % (n, per[n], per))
        for n, b in B.items():
            st = b.stats()
            check_eq((st["incomplete"], st["bad"]), (0, 0),
                     "incomplete and bad requests at backend %s" % n)
        w.check_clean_stop()


nobody_starved("random2")
nobody_starved("leastconn")


@t.test("leastconn weights 3,1: 8 held requests opened one at a time go 6/2, each "
        "to a minimal in-flight/weight (3/1 after the first 4)")
def _():
    w = start([("a", "weight=3"), ("b", "weight=1")], balance="leastconn")
    weight = {"a": 3, "b": 1}
    clients = {}
    held = {"a": [], "b": []}
    try:
        for i in range(8):
            hid = "lc%d" % i
            c = Client(w.port, timeout=5)
            clients[hid] = c
            c.request("GET", "/hold?id=%s" % hid)
            got = wait_until(lambda: [n for n in held if hid in B[n].held()], 3.0, 0.005)
            check(got, "request %s held by no backend after 3s; client got %r"
                  % (hid, c.read_some(0.2)))
            n = got[0]
            load = {k: len(v) / weight[k] for k, v in held.items()}
            check(load[n] == min(load.values()),
                  "request %d went to %s; in flight/weight before it: %s"
                  % (i, n, load))
            held[n].append(hid)
            if i == 3:
                check_eq({k: len(v) for k, v in held.items()}, {"a": 3, "b": 1},
                         "held requests after 4")
        check_eq({k: len(v) for k, v in held.items()}, {"a": 6, "b": 2},
                 "held requests after 8")
        for n in held:
            check_eq(sorted(B[n].release_all()), sorted(held[n]), "ids released by %s" % n)
        for hid, c in clients.items():
            r = c.response()
            check_eq((r.status, r.body), (200, ("released %s" % hid).encode()),
                     "response to %s" % hid)
    finally:
        for b in B.values():
            b.release_all()
        for c in clients.values():
            c.close()
    w.check_clean_stop()


t.run(setup, env)
