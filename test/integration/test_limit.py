#!/usr/bin/env python3
"""Rate limits are exact across workers: the GCRA state of every key lives in
a table in shared memory that both workers update by compare-and-swap. 100
requests of one client, on connections both workers accept, get exactly
`burst` answers that are not 429, each 429 with Retry-After, and no 429
reaches the backend. A limit keeps its table over a reload (an exhausted
key stays exhausted) unless it is renamed, and a raised rate does not keep
the old debt; header and path keys (a path that cannot be normalised is
400, not a key of its own); a route's limit applies to that route only, and
a request it refuses costs the frontend's limit nothing; a bad rate is a
FILE:LINE error."""
import os
import re
import subprocess
import time

import harness
from harness import (WEIR_BIN, Client, Env, Tap, alive, check, check_eq,
                     http, wait_until)

t = Tap(budget=60)
env = Env("limit")
state = {"w": None, "b": None, "extra": "", "first": "one"}

# The harness writes [global], [frontend] and [backend] sections; the
# [limit] and [route] sections of this file follow them.
_write_config = harness.write_config


def write_config(path, *a, **kw):
    text = _write_config(path, *a, **kw)
    with open(path, "a") as f:
        f.write(state["extra"])
    return text + state["extra"]


harness.write_config = write_config

LIMITS = """
[limit one]
rate = 1/m
burst = 10

[limit by_key]
rate = 1/h
burst = 2
key = header:X-Api-Key

[limit by_path]
rate = 1/h
burst = 2
key = path

[limit route_only]
rate = 1/h
burst = 2

[route limited]
frontend = routed
path_prefix = /r/
backend = app
limit = route_only

[limit fe_wide]
rate = 1/h
burst = 3

[limit route_tight]
rate = 1/h
burst = 1

[route tight]
frontend = layered
path_prefix = /t/
backend = app
limit = route_tight

[limit raise]
rate = 1/h
burst = 1
"""


def frontends(first_limit="one"):
    return {
        "exact": {"listen": "127.0.0.1:auto", "backend": "app",
                  "limit": first_limit},
        "hdr": {"listen": "127.0.0.1:auto", "backend": "app",
                "limit": "by_key"},
        "paths": {"listen": "127.0.0.1:auto", "backend": "app",
                  "limit": "by_path"},
        "routed": {"listen": "127.0.0.1:auto", "backend": "app"},
        "layered": {"listen": "127.0.0.1:auto", "backend": "app",
                    "limit": "fe_wide"},
        "raised": {"listen": "127.0.0.1:auto", "backend": "app",
                   "limit": "raise"},
    }


def setup():
    state["b"] = env.backend("b")
    state["extra"] = LIMITS
    state["w"] = env.weir(workers=2, frontends=frontends(),
                          backends={"app": {"server": state["b"].addr}})


def burst_of(port, n, path="/echo"):
    """n requests, each on its own connection, noting which worker took
    each: (statuses, Retry-After values of the 429s, worker pids)."""
    w = state["w"]
    statuses, retry, pids = [], [], set()
    for _ in range(n):
        with Client(port) as c:
            pid = wait_until(lambda: w.worker_of(c, port), 2.0, 0.005)
            check(pid, "no worker holds the connection")
            pids.add(pid)
            c.request("GET", path, [("Connection", "close")])
            r = c.response("GET")
        statuses.append(r.status)
        if r.status == 429:
            retry.append(r.get("Retry-After"))
    return statuses, retry, pids


def exhausted_check(port, burst, statuses, retry, pids):
    passed = [s for s in statuses if s != 429]
    check_eq(len(passed), burst, "answers that are not 429")
    check(all(s == 200 for s in passed), "the rest are 200: %r" % passed)
    check(len(pids) == 2, "both workers answered: %r" % pids)
    for v in retry:
        check(v is not None and re.fullmatch(r"[0-9]+", v) and
              1 <= int(v) <= 60, "429 with Retry-After 1..60: %r" % v)


@t.test("rate 1/m, burst 10: exactly 10 of 100 requests over 2 workers pass; "
        "every 429 has Retry-After and none reaches the backend")
def test_exact():
    w, b = state["w"], state["b"]
    b.reset()
    port = w.ports["exact"][0]
    statuses, retry, pids = burst_of(port, 100)
    exhausted_check(port, 10, statuses, retry, pids)
    check_eq(b.stats()["requests"], 10, "requests the backend saw")
    check_eq(len(retry), 90, "429 answers")


def reload_same_ports():
    """Reload with state["extra"] (the [limit] and [route] sections) and
    the frontends on the ports they have; wait for the new workers."""
    w = state["w"]
    old = w.worker_pids()
    fr = frontends(state["first"])
    for name, opts in fr.items():
        opts["listen"] = w.frontends[name]["listen"]
    w.rewrite(frontends=fr)
    check(re.search("reload complete", w.reload() or ""), "reload complete")
    wait_new_generation(old)


def wait_new_generation(old):
    """After a reload: the old workers are gone, two new ones run."""
    w = state["w"]
    check(wait_until(lambda: not any(alive(p) for p in old) and
                     len(w.worker_pids()) == 2, 10.0),
          "old workers %r still running" % old)


@t.test("a reload keeps an exhausted limit exhausted; a renamed limit "
        "starts fresh")
def test_reload():
    w = state["w"]
    port = w.ports["exact"][0]
    old = w.worker_pids()
    w.rewrite()
    check(re.search("reload complete", w.reload() or ""), "reload complete")
    wait_new_generation(old)
    statuses, _, _ = burst_of(port, 10)
    check_eq(statuses.count(429), 10, "429s after the reload")
    # Renamed: [limit uno] with the same settings, a fresh table.
    state["extra"] = state["extra"].replace("[limit one]", "[limit uno]")
    state["first"] = "uno"
    reload_same_ports()
    statuses, retry, pids = burst_of(port, 30)
    exhausted_check(port, 10, statuses, retry, pids)


@t.test("key = header:NAME counts each value apart; a request without "
        "the header is not limited")
def test_header_key():
    port = state["w"].ports["hdr"][0]

    def codes(headers, n):
        return [http(port, headers=headers).status for _ in range(n)]
    check_eq(codes([("X-Api-Key", "alpha")], 4), [200, 200, 429, 429], "alpha")
    check_eq(codes([("x-api-key", "beta")], 3), [200, 200, 429], "beta")
    check_eq(codes(None, 5), [200] * 5, "no header")
    check_eq(codes([("X-Api-Key", "alpha")], 1), [429], "alpha again")


@t.test("key = path counts the normalised path without its query")
def test_path_key():
    port = state["w"].ports["paths"][0]

    def code(path):
        return http(port, path=path).status
    check_eq([code("/p/a"), code("/p/a?x=1")], [200, 200], "first two")
    check_eq(code("/p/a?y=2"), 429, "same path, another query")
    check_eq(code("/p//%61"), 429, "same path once normalised")
    check_eq([code("/p/b"), code("/p/b")], [200, 200], "another path")
    check_eq(code("/p/b"), 429, "/p/b exhausted")
    # Not keyed as it came (a key apart from /p/b's): refused.
    b = state["b"]
    seen = b.stats()["requests"]
    check_eq([code("/x/../p/b"), code("/p/%2e%2e/p/b")], [400, 400],
             "a path the limit cannot key")
    check_eq(b.stats()["requests"], seen, "requests that reached the backend")


@t.test("a route's limit applies to that route only")
def test_route_limit():
    port = state["w"].ports["routed"][0]
    check_eq([http(port, path="/r/x").status for _ in range(4)],
             [200, 200, 429, 429], "under the route")
    check_eq([http(port, path="/other").status for _ in range(5)],
             [200] * 5, "outside the route")


@t.test("a request refused by the route's limit costs the frontend's "
        "limit nothing")
def test_refund():
    port = state["w"].ports["layered"][0]

    def codes(path, n):
        return [http(port, path=path).status for _ in range(n)]
    check_eq(codes("/t/x", 4), [200, 429, 429, 429], "under the route")
    # fe_wide (burst 3) was charged once, for the one that passed.
    check_eq(codes("/other", 3), [200, 200, 429], "outside the route")


@t.test("a reload that raises a limit's rate: a key in debt under the old "
        "rate waits one new interval, not the old debt")
def test_rate_raised():
    port = state["w"].ports["raised"][0]
    check_eq([http(port).status for _ in range(2)], [200, 429],
             "at 1/h, burst 1")
    r = http(port)
    check_eq((r.status, r.get("Retry-After")), (429, "3600"), "the debt")
    state["extra"] = state["extra"].replace("[limit raise]\nrate = 1/h",
                                            "[limit raise]\nrate = 20/s")
    reload_same_ports()
    got = []

    def passes():
        got.append(http(port).status)
        return got[-1] == 200
    check(wait_until(passes, 2.0, 0.06), "never 200 at 20/s: %r" % got)
    check(len(got) <= 3, "200 only after %d tries: %r" % (len(got), got))


@t.test("rate = 10/x: weir -t says FILE:LINE and exits 2")
def test_bad_rate():
    conf = env.path("bad-rate.ini")
    with open(conf, "w") as f:
        f.write("[frontend web]\nlisten = 127.0.0.1:1\nbackend = app\n"
                "limit = l\n\n[backend app]\nserver = 127.0.0.1:2\n\n"
                "[limit l]\nrate = 10/x\n")
    p = subprocess.run([WEIR_BIN, "-t", "-c", conf], capture_output=True,
                       text=True, timeout=10)
    check_eq(p.returncode, 2, "exit status")
    check(re.search(re.escape(conf) + r":10: rate: invalid value '10/x'",
                    p.stderr), "FILE:LINE error: %r" % p.stderr)


t.run(setup, env)
