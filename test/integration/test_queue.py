#!/usr/bin/env python3
"""Server connection limits (max_conns) and the queue in front of them:
requests are parked on real backends (/hold), which record the most they
held at once (held_peak), so a peak above max_conns would be seen by the
backend itself. 3 servers with max_conns=2 and 10 held requests over 2
workers: every server peaks at exactly 2, 4 wait, the weir_backend_queued
gauge and the admin API say 4; releasing one lets exactly one through; at
the end everything was answered and the gauge reads 0. The same with
balance = hash on one header value (the waiting requests keep their key).
A request that waits past queue_timeout gets 503 with Retry-After; beyond
max_queue a 503 comes at once; the queue is FIFO, also against a
request pipelined behind the one that frees a place; a client that leaves
while waiting leaves the queue at once and never reaches a backend; a
retry waits for a place like a first attempt; a request waiting in a worker retired by a reload still goes through once a
slot frees, and the new generation counts against the same limit."""
import json
import time
import urllib.request

from harness import (Client, Env, Tap, check, check_eq, free_port,
                     wait_until)

t = Tap(budget=90)
env = Env("queue")
NAMES = ("q0", "q1", "q2")
B = {}                        # name -> Backend, shared by every test


def setup():
    for n in NAMES:
        B[n] = env.backend(n)


def start(servers, workers=2, **opts):
    """weir with one backend "app" on servers (names of B, each with
    options) and an admin listener for the gauge."""
    for b in B.values():
        b.release_all()
        b.reset()
    o = {"server": ["%s %s" % (B[n].addr, extra) for n, extra in servers]}
    o.update(opts)
    return env.weir(workers=workers,
                    frontends={"web": {"listen": "127.0.0.1:auto",
                                       "backend": "app"}},
                    backends={"app": o}, admin={"listen": "127.0.0.1:auto"})


def admin_get(w, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (w.admin_port, path),
                                timeout=5) as r:
        return r.read().decode()


def queued_gauge(w):
    """weir_backend_queued{backend="app"} as the master sums it now."""
    for line in admin_get(w, "/metrics").splitlines():
        if line.startswith('weir_backend_queued{backend="app"} '):
            return int(line.split()[1])
    check(False, "no weir_backend_queued series for app")


def queued_api(w):
    doc = json.loads(admin_get(w, "/api/v1/backends"))
    return [b["queued"] for b in doc["backends"] if b["name"] == "app"][0]


def wait_queued(w, n, timeout=5.0):
    got = [None]

    def f():
        got[0] = queued_gauge(w)
        return got[0] == n
    check(wait_until(f, timeout, 0.02), "queued gauge: want %d, got %s"
          % (n, got[0]))


def held_by(names=NAMES):
    """name -> ids held now."""
    return {n: B[n].held() for n in names}


def total_held(names=NAMES):
    return sum(len(v) for v in held_by(names).values())


def wait_held(n, names=NAMES, timeout=5.0):
    got = [None]

    def f():
        got[0] = held_by(names)
        return sum(len(v) for v in got[0].values()) == n
    check(wait_until(f, timeout, 0.02), "held: want %d in all, got %s"
          % (n, got[0]))
    return got[0]


def send_holds(w, ids, headers=None):
    """One new connection per id, each sending GET /hold?id=ID."""
    clients = {}
    for hid in ids:
        c = Client(w.port, timeout=20)
        c.request("GET", "/hold?id=%s" % hid, headers=headers)
        clients[hid] = c
    return clients


def peaks(names=NAMES):
    return {n: B[n].stats()["held_peak"] for n in names}


def release_everything(clients, names=NAMES):
    """Release whatever is held until every client has its 200."""
    answered = set()
    deadline = time.monotonic() + 20
    while len(answered) < len(clients) and time.monotonic() < deadline:
        for n in names:
            for hid in B[n].release_all():
                r = clients[hid].response()
                check_eq((r.status, r.body), (200, b"released %s" % hid.encode()),
                         "response to %s" % hid)
                answered.add(hid)
        time.sleep(0.01)
    check_eq(sorted(answered), sorted(clients), "requests answered")


def worker_split(w, clients):
    """How many of the clients' connections each worker holds (a diagnostic:
    SO_REUSEPORT spreads them, nothing makes it use both workers)."""
    pids = [w.worker_of(c) for c in clients.values()]
    return sorted(pids.count(p) for p in w.worker_pids())


def ten_over_three(w, headers=None):
    """The issue's check: 10 held requests, 3 servers of max_conns=2."""
    ids = ["r%d" % i for i in range(10)]
    clients = send_holds(w, ids, headers)
    try:
        wait_held(6)
        wait_queued(w, 4)
        t.diag("connections per worker: %s" % worker_split(w, clients))
        check_eq(queued_api(w), 4, "admin API queued")
        check_eq(peaks(), {n: 2 for n in NAMES}, "backends' peak in flight")
        # Release one: exactly one waiting request takes its place.
        first = held_by()
        victim = first["q0"][0]
        check_eq(B["q0"].release(victim), [victim], "released")
        r = clients[victim].response()
        check_eq((r.status, r.body), (200, b"released %s" % victim.encode()),
                 "response to the released request")
        wait_queued(w, 3)
        now = wait_held(6)
        moved = set(sum(now.values(), [])) - set(sum(first.values(), []))
        check_eq(len(moved), 1, "requests that went through after one release")
        # Nothing else moves: no place is free.
        time.sleep(0.1)
        check_eq(queued_gauge(w), 3, "queued a moment later")
        check_eq(total_held(), 6, "held a moment later")
        release_everything({k: v for k, v in clients.items() if k != victim})
        wait_queued(w, 0)
        check_eq(queued_api(w), 0, "admin API queued at the end")
        check_eq(peaks(), {n: 2 for n in NAMES}, "backends' peak in flight")
    finally:
        for b in B.values():
            b.release_all()
        for c in clients.values():
            c.close()


@t.test("3 servers with max_conns=2, 10 held requests over 2 workers: each "
        "server peaks at exactly 2, 4 wait (gauge, API), one release lets "
        "exactly one through, the gauge ends at 0")
def _():
    w = start([(n, "max_conns=2") for n in NAMES], queue_timeout="30s")
    ten_over_three(w)
    w.check_clean_stop()


@t.test("the same with balance = hash on one header value and max_conns "
        "from the backend: waiting requests keep their key and skip full "
        "servers")
def _():
    w = start([(n, "") for n in NAMES], balance="hash",
              hash_key="header:X-User", max_conns=2, queue_timeout="30s")
    ten_over_three(w, headers=[("X-User", "alice")])
    w.check_clean_stop()


@t.test("a request that waits past queue_timeout gets 503 with Retry-After, "
        "and never reaches a backend")
def _():
    w = start([("q0", "max_conns=1")], workers=1, queue_timeout="300ms")
    holder = send_holds(w, ["h"])
    try:
        wait_held(1, ["q0"])
        off = len(w.log())
        with Client(w.port, timeout=20) as c:
            t0 = time.monotonic()
            c.request("GET", "/echo")
            r = c.response()
            waited = time.monotonic() - t0
        check_eq(r.status, 503, "status after queue_timeout")
        check(r.get("Retry-After"), "no Retry-After in %r" % r.headers)
        # The coarse clock may end the wait a tick (<= 10 ms) early.
        check(waited >= 0.29, "answered after %.3fs, before queue_timeout"
              % waited)
        w.wait_line(off, r"503 .*no server slot within queue_timeout")
        check_eq(B["q0"].stats()["requests"], 0, "requests the backend answered")
        wait_queued(w, 0)
        release_everything(holder, ["q0"])
    finally:
        for c in holder.values():
            c.close()
    w.check_clean_stop()


@t.test("beyond max_queue a 503 comes at once; the queue is FIFO")
def _():
    w = start([("q0", "max_conns=1")], workers=1, max_queue=2,
              queue_timeout="60s")
    clients = send_holds(w, ["a"])
    try:
        wait_held(1, ["q0"])
        clients.update(send_holds(w, ["b"]))
        wait_queued(w, 1)
        clients.update(send_holds(w, ["c"]))
        wait_queued(w, 2)
        # Well before queue_timeout (60 s): the client's own timeout is 20 s.
        with Client(w.port, timeout=20) as c:
            c.request("GET", "/hold?id=d")
            r = c.response()
        check_eq(r.status, 503, "status beyond max_queue")
        check(r.get("Retry-After"), "no Retry-After in %r" % r.headers)
        check_eq(queued_gauge(w), 2, "queued after the refusal")
        for want in ("a", "b", "c"):
            check_eq(wait_held(1, ["q0"])["q0"], [want], "held now (FIFO)")
            check_eq(B["q0"].release(want), [want], "released")
            r = clients[want].response()
            check_eq(r.status, 200, "response to %s" % want)
        wait_queued(w, 0)
        check_eq(B["q0"].stats()["held_peak"], 1, "backend's peak in flight")
    finally:
        B["q0"].release_all()
        for c in clients.values():
            c.close()
    w.check_clean_stop()


@t.test("FIFO holds against a newcomer: a request pipelined behind the one "
        "that frees the slot waits behind the request queued before it")
def _():
    w = start([("q0", "max_conns=1")], workers=1, queue_timeout="60s")
    first = Client(w.port, timeout=20)
    clients = {}
    try:
        # a, then c on the same connection: c is read the moment a is done,
        # in the very callback that frees a's place.
        first.request("GET", "/hold?id=a")
        first.request("GET", "/hold?id=c")
        wait_held(1, ["q0"])
        clients = send_holds(w, ["b"])
        wait_queued(w, 1)
        check_eq(B["q0"].release("a"), ["a"], "released")
        check_eq(first.response().status, 200, "a")
        check_eq(wait_held(1, ["q0"])["q0"], ["b"], "held after a (FIFO)")
        wait_queued(w, 1)
        check_eq(B["q0"].release("b"), ["b"], "released")
        check_eq(clients["b"].response().status, 200, "b")
        check_eq(wait_held(1, ["q0"])["q0"], ["c"], "held after b")
        check_eq(B["q0"].release("c"), ["c"], "released")
        check_eq(first.response().status, 200, "c")
        wait_queued(w, 0)
    finally:
        B["q0"].release_all()
        first.close()
        for c in clients.values():
            c.close()
    w.check_clean_stop()


@t.test("a retry waiting for the one server it has not tried holds up no "
        "newcomer: a new request takes the free server at once")
def _():
    w = start([("q0", "max_conns=1"), ("q1", "max_conns=1")], workers=1,
              queue_timeout="60s", retries=2, retry_backoff="1ms")
    clients = send_holds(w, ["h0"])
    try:
        held = wait_held(1)
        busy = [n for n in ("q0", "q1") if held[n]][0]
        # /reset fails at the free server; its retry waits for the busy one.
        off = len(w.log())
        r1 = Client(w.port, timeout=20)
        r1.request("GET", "/reset")
        clients["r1"] = r1
        w.wait_line(off, r"retrying on another server")
        wait_queued(w, 1)
        clients.update(send_holds(w, ["h2"]))
        got = wait_held(2)
        check_eq(sorted(sum(got.values(), [])), ["h0", "h2"],
                 "held while the retry waits")
        check(busy not in [n for n in got if "h2" in got[n]],
              "h2 went to the busy server: %r" % got)
        wait_queued(w, 1)
    finally:
        for b in B.values():
            b.release_all()
        for c in clients.values():
            c.close()
    w.check_clean_stop()


@t.test("a backup is for primaries that are down, not full: a request "
        "waits for the full primary's place while the backup stays idle")
def _():
    w = start([("q0", "max_conns=1"), ("q1", "backup")], workers=1,
              queue_timeout="60s")
    clients = send_holds(w, ["a"])
    try:
        wait_held(1, ["q0"])
        clients.update(send_holds(w, ["b"]))
        wait_queued(w, 1)
        check_eq(B["q1"].stats()["requests"], 0, "requests at the backup")
        check_eq(B["q0"].release("a"), ["a"], "released")
        check_eq(clients["a"].response().status, 200, "a")
        check_eq(wait_held(1, ["q0"])["q0"], ["b"], "b, at the primary")
        B["q0"].release("b")
        check_eq(clients["b"].response().status, 200, "b")
        check_eq(B["q1"].stats()["requests"], 0, "requests at the backup")
    finally:
        B["q0"].release_all()
        for c in clients.values():
            c.close()
    w.check_clean_stop()


@t.test("a client that leaves while waiting leaves the queue at once and "
        "its request never reaches a backend")
def _():
    w = start([("q0", "max_conns=1")], workers=1, queue_timeout="60s")
    holder = send_holds(w, ["h"])
    try:
        wait_held(1, ["q0"])
        gone = send_holds(w, ["gone"])["gone"]
        wait_queued(w, 1)
        gone.close()
        wait_queued(w, 0)
        with Client(w.port, timeout=20) as c:
            c.request("GET", "/hold?id=after")
            wait_queued(w, 1)
            release_everything(holder, ["q0"])
            check_eq(wait_held(1, ["q0"])["q0"], ["after"], "held next")
            B["q0"].release("after")
            check_eq(c.response().status, 200, "response to the next one")
        lines = B["q0"].stats()["request_lines"]
        check(not [l for l in lines if "gone" in l],
              "the departed request reached the backend: %r" % lines)
        wait_queued(w, 0)
    finally:
        B["q0"].release_all()
        for c in holder.values():
            c.close()
    w.check_clean_stop()


@t.test("a retry respects the limit: a request whose first server refused "
        "it waits for a place at the full one instead of going over it")
def _():
    dead = "127.0.0.1:%d" % free_port()
    for b in B.values():
        b.release_all()
        b.reset()
    w = env.weir(workers=1,
                 frontends={"web": {"listen": "127.0.0.1:auto",
                                    "backend": "app"}},
                 backends={"app": {"server": ["%s max_conns=1" % dead,
                                              "%s max_conns=1" % B["q0"].addr],
                                   "queue_timeout": "60s",
                                   "retry_backoff": "1ms"}},
                 admin={"listen": "127.0.0.1:auto"})
    clients = {}
    try:
        # Whichever server the first pick takes, it ends up held at q0.
        clients.update(send_holds(w, ["h"]))
        wait_held(1, ["q0"])
        off = len(w.log())
        # q0 is full: only the dead server is usable; its retry must wait.
        clients.update(send_holds(w, ["r"]))
        w.wait_line(off, r"connect.*retrying on another server")
        wait_queued(w, 1)
        check_eq(B["q0"].held(), ["h"], "held while the retry waits")
        check_eq(B["q0"].release("h"), ["h"], "released")
        check_eq(clients["h"].response().status, 200, "h")
        check_eq(wait_held(1, ["q0"])["q0"], ["r"], "the retry, held")
        check_eq(B["q0"].release("r"), ["r"], "released")
        check_eq(clients["r"].response().status, 200, "r")
        wait_queued(w, 0)
        check_eq(B["q0"].stats()["held_peak"], 1, "backend's peak in flight")
    finally:
        B["q0"].release_all()
        for c in clients.values():
            c.close()
    w.check_clean_stop()


@t.test("a reload: a request waiting in the retired worker goes through "
        "once a slot frees, and the new generation counts against the same "
        "limit")
def _():
    w = start([("q0", "max_conns=1")], workers=1, queue_timeout="60s")
    clients = send_holds(w, ["old1"])
    try:
        wait_held(1, ["q0"])
        clients.update(send_holds(w, ["old2"]))
        wait_queued(w, 1)
        line = w.reload()
        check(line and "reload complete" in line, "reload: %r" % line)
        clients.update(send_holds(w, ["new1"]))
        wait_queued(w, 2)
        check_eq(B["q0"].release("old1"), ["old1"], "released")
        check_eq(clients["old1"].response().status, 200, "old1")
        # The freeing worker serves its own queue at once, the other looks
        # within milliseconds: either may win the place, one at a time.
        left = {"old2", "new1"}
        while left:
            now = wait_held(1, ["q0"])["q0"]
            check(now[0] in left, "held %r, waiting were %r" % (now, left))
            check_eq(B["q0"].release(now[0]), now, "released")
            check_eq(clients[now[0]].response().status, 200, now[0])
            left.discard(now[0])
        wait_queued(w, 0)
        check_eq(B["q0"].stats()["held_peak"], 1, "backend's peak in flight")
        # Its last request done, the retired worker exits.
        check(wait_until(lambda: len(w.worker_pids()) == 1, 5.0, 0.05),
              "workers after the old one finished: %r" % w.worker_pids())
    finally:
        B["q0"].release_all()
        for c in clients.values():
            c.close()
    w.check_clean_stop(allow_respawn=True)


t.run(setup, env)
