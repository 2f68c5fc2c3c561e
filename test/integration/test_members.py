#!/usr/bin/env python3
"""Runtime membership: servers added and removed through the admin API
without a reload. A server POSTed takes traffic at once (2 workers, no new
workers forked); one DELETEd while it holds requests lets them finish, gets
no new request, is listed as draining until its last one ended and then
disappears, and its slot is given to the next server; errors are 404, 400,
409 and 507; 1,000 adds and removes under load fail no request and leave
every in-flight count at 0; least-connections stays exact (every request
lands on a least-loaded server) while members change."""
import random
import threading

from adminclient import TOKEN, api, write_token
from harness import (Client, Env, Tap, check, check_eq, http, spread,
                     wait_until)

t = Tap(budget=150)
env = Env("members")
B = {}


def setup():
    for n in ("m0", "m1", "m2", "m3"):
        B[n] = env.backend(n)


def start(workers=2, global_=None, **be):
    o = {"server": [B["m0"].addr], "balance": "roundrobin"}
    o.update(be)
    return env.weir(workers=workers, global_=global_,
                    admin={"listen": "127.0.0.1:auto",
                           "token_file": write_token(env)},
                    frontends={"web": {"listen": "127.0.0.1:auto",
                                       "backend": "app"}},
                    backends={"app": o})


def add(w, addr, token=TOKEN, **kw):
    body = {"address": addr}
    body.update(kw)
    return api(w, "POST", "/api/v1/backends/app/servers", body, token=token)


def delete(w, addr, backend="app"):
    return api(w, "DELETE", "/api/v1/backends/%s/servers/%s"
               % (backend, addr), token=TOKEN)


def servers(w):
    doc = api(w, "GET", "/api/v1/backends/app").json()
    return {s["address"]: s for s in doc["servers"]}


def hits(w, n):
    """n GETs on new connections: {backend name: count}."""
    return spread(w.port, n)


@t.test("POST a server: 201, it takes traffic at once, no worker is "
        "forked, and GET lists it with source api")
def _():
    w = start()
    pids = sorted(w.worker_pids())
    r = add(w, B["m1"].addr, weight=1)
    check_eq(r.status, 201, "POST: %r" % r)
    check_eq(r.json()["address"], B["m1"].addr, "answer")
    got = hits(w, 20)
    check_eq(sorted(got), ["m0", "m1"], "servers that answered: %r" % got)
    check_eq(sorted(w.worker_pids()), pids, "workers after the add")
    listed = servers(w)
    check_eq(listed[B["m1"].addr]["source"], "api", "source")
    check_eq(listed[B["m0"].addr]["source"], "file", "source of m0")
    w.check_clean_stop()


@t.test("errors: unknown backend 404, bad JSON or address 400, duplicate "
        "409, no token 401, pool full 507")
def _():
    w = start(global_={"max_servers": 16})
    check_eq(api(w, "POST", "/api/v1/backends/nope/servers",
                 {"address": B["m1"].addr}, token=TOKEN).status, 404, "backend")
    check_eq(api(w, "POST", "/api/v1/backends/app/servers", "{bad",
                 token=TOKEN).status, 400, "JSON")
    check_eq(add(w, "localhost:80").status, 400, "address")
    check_eq(add(w, B["m1"].addr, weight=0).status, 400, "weight 0")
    check_eq(add(w, B["m0"].addr).status, 409, "a file server")
    check_eq(add(w, B["m1"].addr).status, 201, "first add")
    check_eq(add(w, B["m1"].addr).status, 409, "again")
    check_eq(add(w, B["m2"].addr, token=None).status, 401, "no token")
    check_eq(delete(w, "127.0.0.1:1").status, 404, "delete unknown")
    check_eq(delete(w, B["m0"].addr).status, 409, "delete a file server")
    # 16 slots: m0 and m1 hold 2; 14 more fit, the next does not.
    for i in range(14):
        check_eq(add(w, "127.0.0.2:%d" % (1000 + i)).status, 201, "add %d" % i)
    r = add(w, "127.0.0.2:2000")
    check_eq(r.status, 507, "pool full: %r" % r)
    w.check_clean_stop()


@t.test("DELETE while it holds requests: 202, they finish, no new request "
        "reaches it, it is listed as removed until the last one ended, then "
        "gone, and its slot goes to the next server added")
def _():
    w = start(global_={"max_servers": 16})
    check_eq(add(w, B["m1"].addr).status, 201, "add m1")
    held = []
    try:
        # Round robin over m0 and m1: hold until m1 has two.
        for i in range(8):
            c = Client(w.port, timeout=20)
            c.request("GET", "/hold?id=h%d" % i)
            held.append(c)
        check(wait_until(lambda: len(B["m1"].held()) >= 2, 5.0),
              "m1 holds %r" % B["m1"].held())
        r = delete(w, B["m1"].addr)
        check_eq(r.status, 202, "DELETE: %r" % r)
        before = B["m1"].stats()["requests"]
        got = hits(w, 10)
        check_eq(got, {"m0": 10}, "after the delete")
        check_eq(B["m1"].stats()["requests"], before, "new requests at m1")
        s = servers(w).get(B["m1"].addr)
        check(s is not None and s["removed"] and s["inflight"] >= 2,
              "listed draining: %r" % s)
        B["m1"].release_all()
        B["m0"].release_all()
        for c in held:
            check_eq(c.response().status, 200, "held request")
        check(wait_until(lambda: B["m1"].addr not in servers(w), 5.0),
              "still listed: %r" % servers(w).get(B["m1"].addr))
        # Every slot but m0's and the drained one's is free: fill them all
        # and one more must reuse m1's.
        for i in range(15):
            check_eq(add(w, "127.0.0.3:%d" % (1000 + i)).status, 201,
                     "add %d" % i)
    finally:
        release(held)
    w.check_clean_stop()


@t.test("a SIGHUP re-applies the file and keeps the servers the API added "
        "(a file server removed from the file leaves, the added one stays)")
def _():
    w = start(**{"server": [B["m0"].addr, B["m2"].addr]})
    check_eq(add(w, B["m1"].addr).status, 201, "add m1")
    w.rewrite(backends={"app": {"server": [B["m0"].addr],
                                "balance": "roundrobin"}})
    line = w.reload()
    check(line and "reload complete" in line, "reload: %r" % line)
    listed = [a for a, s in servers(w).items() if not s["removed"]]
    check_eq(sorted(listed), sorted([B["m0"].addr, B["m1"].addr]),
             "servers after the reload")
    check_eq(sorted(hits(w, 20)), ["m0", "m1"], "servers that answered")
    w.check_clean_stop(allow_respawn=True)


@t.test("with health checks an added server starts as health_initial says: "
        "down and without traffic until a check passes, then up and taking "
        "requests; it has series in /metrics")
def _():
    B["m1"].set(health=503)
    w = start(health_check="http", health_path="/healthz",
              health_interval="100ms", health_initial="down",
              health_rise=1, health_fall=1)
    try:
        # m0 starts down too (health_initial): wait for its first check.
        check(wait_until(lambda: servers(w)[B["m0"].addr]["health"] == "up",
                         5.0), "m0 never came up")
        check_eq(add(w, B["m1"].addr).status, 201, "add m1")
        check_eq(servers(w)[B["m1"].addr]["health"], "down", "health at once")
        check_eq(hits(w, 10), {"m0": 10}, "while m1 fails its checks")
        B["m1"].set(health=200)
        check(wait_until(lambda: servers(w)[B["m1"].addr]["health"] == "up",
                         5.0), "m1 never came up")
        check_eq(sorted(hits(w, 10)), ["m0", "m1"], "once m1 is up")
        metrics = api(w, "GET", "/metrics").body.decode()
        check('server="%s"' % B["m1"].addr in metrics,
              "no series for m1 in /metrics")
    finally:
        B["m1"].set(health=200)
    w.check_clean_stop()


@t.test("a backend a reload removes takes its added servers with it: "
        "when it comes back they are gone, and no other backend's server "
        "ends up in its list")
def _():
    both = {"app": {"server": [B["m0"].addr]},
            "other": {"server": [B["m3"].addr]}}
    fr = {"web": {"listen": "127.0.0.1:auto", "backend": "app"},
          "alt": {"listen": "127.0.0.1:auto", "backend": "other"}}
    w = env.weir(workers=2, frontends=fr, backends=both,
                 admin={"listen": "127.0.0.1:auto",
                        "token_file": write_token(env)})
    check_eq(add(w, B["m1"].addr).status, 201, "add m1 to app")
    for name, opts in fr.items():
        opts["listen"] = w.frontends[name]["listen"]
    fr["web"]["backend"] = "other"
    off = len(w.log())
    w.rewrite(frontends=fr, backends={"other": both["other"]})
    check("reload complete" in (w.reload() or ""), "reload without app")
    w.wait_line(off, r"backend app is gone.*server %s leaves"
                % B["m1"].addr.replace(".", r"\."))
    fr["web"]["backend"] = "app"
    w.rewrite(frontends=fr, backends=both)
    check("reload complete" in (w.reload() or ""), "reload with app again")
    listed = [a for a, s in servers(w).items() if not s["removed"]]
    check_eq(listed, [B["m0"].addr], "app's servers when it is back")
    check_eq(spread(w.ports["alt"][0], 6), {"m3": 6}, "other's traffic")
    w.check_clean_stop(allow_respawn=True)


@t.test("a server added through the API and then written into the file is "
        "listed once (source file), with one series in /metrics")
def _():
    w = start()
    check_eq(add(w, B["m1"].addr).status, 201, "add m1")
    w.rewrite(backends={"app": {"server": [B["m0"].addr, B["m1"].addr],
                                "balance": "roundrobin"}})
    check("reload complete" in (w.reload() or ""), "reload")
    doc = api(w, "GET", "/api/v1/backends/app").json()
    mine = [s for s in doc["servers"] if s["address"] == B["m1"].addr]
    check_eq([s["source"] for s in mine], ["file"], "m1 listed")
    metrics = api(w, "GET", "/metrics").body.decode()
    up = [l for l in metrics.splitlines() if l.startswith("weir_server_up{")
          and B["m1"].addr in l]
    check_eq(len(up), 1, "weir_server_up series of m1: %r" % up)
    check_eq(delete(w, B["m1"].addr).status, 409, "DELETE of a file server")
    w.check_clean_stop(allow_respawn=True)


@t.test("a server still draining cannot come back with other flags (409); "
        "with the same ones it is taken back at once")
def _():
    w = start()
    check_eq(add(w, B["m1"].addr).status, 201, "add m1")
    held = []
    try:
        for i in range(4):
            c = Client(w.port, timeout=20)
            c.request("GET", "/hold?id=d%d" % i)
            held.append(c)
        check(wait_until(lambda: B["m1"].held(), 5.0), "m1 holds nothing")
        check_eq(delete(w, B["m1"].addr).status, 202, "DELETE")
        r = add(w, B["m1"].addr, backup=True)
        check_eq(r.status, 409, "back as a backup while draining: %r" % r)
        check_eq(add(w, B["m1"].addr).status, 201, "back as it was")
    finally:
        release(held)
    w.check_clean_stop()


@t.test("PATCH reaches a server added through the API: maint takes it out, "
        "ready brings it back, a weight applies at once (no new workers)")
def _():
    w = start()
    pids = sorted(w.worker_pids())
    check_eq(add(w, B["m1"].addr).status, 201, "add m1")
    path = "/api/v1/backends/app/servers/%s" % B["m1"].addr
    r = api(w, "PATCH", path, {"admin": "maint"}, token=TOKEN)
    check_eq((r.status, r.json()["admin"]), (200, "maint"), "maint")
    check_eq(hits(w, 8), {"m0": 8}, "with m1 in maint")
    r = api(w, "PATCH", path, {"admin": "ready", "weight": 3}, token=TOKEN)
    check_eq((r.status, r.json()["admin"], r.json()["weight"]),
             (200, "ready", 3), "ready, weight 3")
    check_eq(hits(w, 8), {"m0": 2, "m1": 6}, "round robin 1:3")
    check_eq(sorted(w.worker_pids()), pids, "workers")
    w.check_clean_stop()


@t.test("with slow_start an added server ramps up from its first moment "
        "(random2, slow_start = 60s: a small share of 200 requests)")
def _():
    w = start(balance="random2", slow_start="60s")
    check_eq(add(w, B["m1"].addr).status, 201, "add m1")
    got = hits(w, 200)
    # Full weight would give m1 about 100; 1/16 of it gives about 12.
    check(got.get("m1", 0) <= 40, "m1's share while ramping: %r" % got)
    w.check_clean_stop()


def release(clients):
    """Answer whatever the backends hold, then close clients."""
    for b in B.values():
        b.release_all()
    for c in clients:
        c.close()


def load(w, stop, failures, counts):
    while not stop.is_set():
        try:
            r = http(w.port, path="/echo")
            counts[0] += 1
            if r.status != 200:
                failures.append(r.status)
        except Exception as e:  # noqa: BLE001 - any failure counts
            failures.append(repr(e))


@t.test("1,000 adds and removes under load: no request fails, and every "
        "server's in-flight count ends at 0")
def _():
    w = start(balance="leastconn")
    stop, failures, counts = threading.Event(), [], [0]
    threads = [threading.Thread(target=load, args=(w, stop, failures,
                                                   counts)) for _ in range(4)]
    for th in threads:
        th.start()
    try:
        for i in range(500):
            addr = B["m%d" % (1 + i % 3)].addr
            check_eq(add(w, addr).status, 201, "add %d" % i)
            check_eq(delete(w, addr).status, 202, "delete %d" % i)
    finally:
        stop.set()
        for th in threads:
            th.join(30)
    t.diag("requests during the churn: %d" % counts[0])
    check(counts[0] > 0, "no request ran")
    check_eq(failures[:5], [], "failed requests")
    check(wait_until(lambda: all(s["inflight"] == 0 for s in
                                 servers(w).values()), 5.0),
          "in flight at the end: %r" % servers(w))
    w.check_clean_stop()


@t.test("leastconn stays exact while members change: 60 held requests, "
        "with adds and removes between them, each land on a member with "
        "the fewest in flight")
def _():
    rng = random.Random(20261203)
    w = start(balance="leastconn")
    members, clients, bad = {"m0"}, [], []
    try:
        for i in range(60):
            spare = sorted({"m1", "m2", "m3"} - members)
            extra = sorted(members - {"m0"})
            if spare and (not extra or rng.random() < 0.5):
                n = rng.choice(spare)
                check_eq(add(w, B[n].addr).status, 201, "add %s" % n)
                members.add(n)
            elif extra:
                n = rng.choice(extra)
                check_eq(delete(w, B[n].addr).status, 202, "delete %s" % n)
                members.discard(n)
            if i % 5 == 4:
                B[rng.choice(sorted(B))].release_all()
            before = {n: len(B[n].held()) for n in members}
            c = Client(w.port, timeout=10)
            c.request("GET", "/hold?id=s%d" % i)
            clients.append(c)
            got = wait_until(lambda: [n for n in B
                                      if "s%d" % i in B[n].held()] or None,
                             5.0, 0.005)
            check(got, "request %d held nowhere" % i)
            if got[0] not in members or before[got[0]] != min(before.values()):
                bad.append("step %d: %s, in flight before %s"
                           % (i, got[0], before))
        check(not bad, "%d requests missed a least-loaded member:\n%s"
              % (len(bad), "\n".join(bad[:10])))
    finally:
        release(clients)
    w.check_clean_stop()


t.run(setup, env)
