#!/usr/bin/env python3
"""ZooKeeper discovery in weir (discovery = zookeeper) against a real
ZooKeeper server: children added and removed become members added and
removed (traffic shows it; one gone gets no new request); a child naming
a host is skipped with a log line naming the node; the API lists members
with source "zookeeper" and refuses to DELETE one; workers forked while
the session is up hold no ZooKeeper socket; ZooKeeper killed, requests
keep succeeding on the last members, and a change made after its restart
is applied; two weir instances (separate masters and shared memory) with
balance = hash send each of 50 keys to the same server, before and after
a member leaves."""
import json
import logging
import os
import sys

try:
    from kazoo.client import KazooClient
except ImportError:
    # python3-kazoo is installed for /usr/bin/python3 (PLATFORM.md).
    if sys.executable != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

from adminclient import TOKEN, api, write_token
from harness import spread, wait_serving as harness_wait_serving
from harness import (Env, Tap, check, check_eq, http, socket_inodes,
                     wait_until)
from zkserver import ZkServer

PATH = "/services/app"

logging.getLogger("kazoo").setLevel(logging.CRITICAL)
t = Tap(budget=180)
env = Env("zkmembers")
B = {}
state = {}


def kazoo(hosts):
    kz = KazooClient(hosts=hosts, timeout=10)
    kz.start(timeout=15)
    return kz


def setup():
    for n in ("m0", "m1", "m2", "m3"):
        B[n] = env.backend(n)
    zk = state["zk"] = ZkServer(env)
    zk.start()
    kz = state["kz"] = kazoo(zk.hosts)
    kz.ensure_path(PATH)


def child(node, name, weight=None):
    data = B[name].addr if weight is None else json.dumps(
        {"address": B[name].addr, "weight": weight})
    state["kz"].create(PATH + "/" + node, data.encode())


def start(**be):
    o = {"discovery": "zookeeper", "zk_hosts": state["zk"].hosts,
         "zk_path": PATH}
    o.update(be)
    return env.weir(workers=2,
                    admin={"listen": "127.0.0.1:auto",
                           "token_file": write_token(env)},
                    frontends={"web": {"listen": "127.0.0.1:auto",
                                       "backend": "app"}},
                    backends={"app": o})


def hits(w, n):
    """n GETs on new connections, each answered 200: {backend: count}."""
    return spread(w.port, n)


def wait_serving(w, names, timeout=10):
    """Wait until weir's answers come from exactly those backends."""
    harness_wait_serving(w.port, names, timeout)


@t.test("children added and removed become members added and removed; a "
        "host name is skipped naming its node; source zookeeper, DELETE 409")
def _():
    child("a", "m0")
    child("b", "m1")
    w = state["w"] = start()
    wait_serving(w, ["m0", "m1"])
    off = len(w.log())
    child("c", "m2", weight=3)
    state["kz"].create(PATH + "/named", b"localhost:80")
    wait_serving(w, ["m0", "m1", "m2"])
    w.wait_line(off, r"node named: address 'localhost:80' skipped", 5)
    doc = api(w, "GET", "/api/v1/backends/app").json()
    got = {s["address"]: s for s in doc["servers"] if not s["removed"]}
    check_eq(sorted(got), sorted(B[n].addr for n in ("m0", "m1", "m2")),
             "listed")
    check_eq({s["source"] for s in got.values()}, {"zookeeper"}, "sources")
    check_eq(got[B["m2"].addr]["weight"], 3, "weight from JSON")
    r = api(w, "DELETE", "/api/v1/backends/app/servers/%s" % B["m1"].addr,
            token=TOKEN)
    check_eq(r.status, 409, "DELETE of a ZooKeeper member: %r" % r)
    off = len(w.log())
    state["kz"].delete(PATH + "/a")
    state["kz"].delete(PATH + "/named")
    w.wait_line(off, r"server %s removed \(zookeeper\)" % B["m0"].addr, 5)
    before = B["m0"].stats()["requests"]
    check_eq(sorted(hits(w, 20)), ["m1", "m2"], "after the delete")
    check_eq(B["m0"].stats()["requests"], before, "requests to m0")


@t.test("a reload with the settings unchanged keeps the members, and the "
        "workers it forks hold no ZooKeeper socket")
def _():
    w, zk = state["w"], state["zk"]
    off = len(w.log())
    old = set(w.worker_pids())
    check("complete" in (w.reload() or ""), "reload")
    check(wait_until(lambda: len(w.worker_pids()) == 2 and
                     not set(w.worker_pids()) & old, 5), "new workers")
    check_eq(w.lines_after(off, r"(added|removed) \(zookeeper\)"), [],
             "membership lines after the reload")
    check_eq(sorted(hits(w, 20)), ["m1", "m2"], "after the reload")
    # The master's connection to ZooKeeper, by inode.
    zk_inodes = set()
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(fn) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == zk.port:
                    zk_inodes.add(int(fields[9]))
    mine = zk_inodes & socket_inodes(w.pid)
    check(mine, "the master's ZooKeeper socket not found")
    for pid in w.worker_pids():
        check_eq(socket_inodes(pid) & mine, set(),
                 "ZooKeeper sockets in worker %d" % pid)


@t.test("two weir instances with balance = hash send each of 50 keys to the "
        "same server, before and after a member leaves")
def _():
    child("d", "m3")
    child("e", "m0")
    ws = [start(balance="hash", hash_key="header:X-Key") for _ in range(2)]
    for w in ws:
        wait_serving(w, ["m0", "m1", "m2", "m3"])

    def pick(w, key):
        r = http(w.port, path="/echo", headers=[("X-Key", key)])
        check_eq(r.status, 200, "key %s" % key)
        return r.get("X-Backend")

    keys = ["key-%d" % i for i in range(50)]
    for phase in ("before", "after"):
        a = [pick(ws[0], k) for k in keys]
        b = [pick(ws[1], k) for k in keys]
        check_eq(a, b, "servers per key %s" % phase)
        check(len(set(a)) >= 2, "keys spread: %r" % sorted(set(a)))
        if phase == "after":
            check("m2" not in a, "a key went to the member that left")
            break
        offs = [len(w.log()) for w in ws]
        state["kz"].delete(PATH + "/c")
        for w, off in zip(ws, offs):
            w.wait_line(off, r"server %s removed \(zookeeper\)"
                        % B["m2"].addr, 5)
    for w in ws:
        w.check_clean_stop()


@t.test("ZooKeeper killed: requests keep succeeding on the last members; "
        "restarted: a change made after it is applied")
def _():
    w, zk = state["w"], state["zk"]
    state["kz"].stop()
    state["kz"].close()
    have = sorted(hits(w, 20))
    zk.kill()
    check(w.wait_log(r"zookeeper .*keeping \d+ members", 15),
          "no 'keeping N members' line")
    check_eq(sorted(hits(w, 30)), have, "while ZooKeeper is down")
    zk.start()
    kz = state["kz"] = kazoo(zk.hosts)
    off = len(w.log())
    kz.delete(PATH + "/b")
    w.wait_line(off, r"server %s removed \(zookeeper\)" % B["m1"].addr, 45)
    check("m1" not in hits(w, 20), "m1 still answers")
    w.check_clean_stop(allow_respawn=True)   # the reload replaced them


t.run(setup=setup, env=env)
