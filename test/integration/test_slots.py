#!/usr/bin/env python3
"""Shared-memory server slots across reloads, seen through leastconn: a
server a reload drops keeps its slot (and its in-flight count) while its
requests are still held, a server the reload adds starts at zero in a slot
of its own, and the dropped server's slot goes to a later server only once
those requests are over, starting at zero again. Requests are parked on the
backends (/hold), so what they hold IS the in-flight count."""
import re

from harness import Client, Env, Tap, check, check_eq, wait_until

t = Tap(budget=50)
env = Env("slots")


def hold(w, backends, hid):
    """Send /hold?id=hid on a new connection; wait until some backend holds
    it and return (client, name of that backend)."""
    c = Client(w.port, timeout=10)
    c.request("GET", "/hold?id=%s" % hid)

    def where():
        for name, b in backends.items():
            if hid in b.held():
                return name
        return None
    name = wait_until(where, 3.0, 0.02)
    check(name, "no backend holds %s" % hid)
    return c, name


def pool(*bs):
    return {"app": {"balance": "leastconn", "server": [b.addr for b in bs]}}


@t.test("leastconn reload drops A (3 held) and adds C: C starts at 0 and takes "
        "the next requests; A's held requests finish; a server added after "
        "they finished starts at 0 too")
def _():
    a, b, c, d = (env.backend(n) for n in ("sa", "sb", "sc", "sd"))
    bes = {"sa": a, "sb": b, "sc": c, "sd": d}
    w = env.weir(workers=2, frontends={"web": {"listen": "127.0.0.1:auto",
                                               "backend": "app"}},
                 backends=pool(a, b))
    clients = {}
    placed = {}
    for i in range(6):          # leastconn alternates: 3 on A, 3 on B
        clients["g1-%d" % i], placed["g1-%d" % i] = hold(w, bes, "g1-%d" % i)
    check_eq(sorted(placed.values()), ["sa"] * 3 + ["sb"] * 3,
             "where the first 6 held requests went")
    w.rewrite(backends=pool(b, c))
    line = w.reload()
    check(line and "complete" in line, "reload: %s" % line)
    # B has 3 in flight, C (new) has none: the next three go to C.
    for i in range(3):
        clients["g2-%d" % i], placed["g2-%d" % i] = hold(w, bes, "g2-%d" % i)
    check_eq([placed["g2-%d" % i] for i in range(3)], ["sc"] * 3,
             "where requests went after the reload (B holds 3, C is new)")
    # The old workers' requests (A's three, B's three) finish normally,
    # and the old generation drains.
    off = len(w.log())
    old = sorted(h for h in placed if h.startswith("g1-"))
    check_eq(sorted(a.release_all() + b.release_all()), old,
             "requests released by A and B")
    for hid in old:
        r = clients[hid].response()
        check_eq((r.status, r.body), (200, b"released " + hid.encode()),
                 "response to %s" % hid)
        clients.pop(hid).close()
    w.wait_line(off, r"generation 0 drained", 5.0)
    # C holds 3, B none: the next three go to B.
    for i in range(3):
        clients["g2b-%d" % i], placed["g2b-%d" % i] = hold(w, bes, "g2b-%d" % i)
    check_eq([placed["g2b-%d" % i] for i in range(3)], ["sb"] * 3,
             "where requests went once B was idle (C holds 3)")
    # B and C hold 3 each; D, added now, may take A's slot, which is idle:
    # it must start at 0 and get the next three.
    w.rewrite(backends=pool(b, c, d))
    line = w.reload()
    check(line and "complete" in line, "second reload: %s" % line)
    for i in range(3):
        clients["g3-%d" % i], placed["g3-%d" % i] = hold(w, bes, "g3-%d" % i)
    check_eq([placed["g3-%d" % i] for i in range(3)], ["sd"] * 3,
             "where requests went after D was added (B and C hold 3 each)")
    for be in (b, c, d):
        be.release_all()
    for hid, cl in clients.items():
        r = cl.response()
        check_eq(r.status, 200, "response to %s" % hid)
        cl.close()
    check(not re.search(r"died with \d+ requests in flight", w.log()),
          "a worker died:\n" + w.log()[-1500:])
    w.check_clean_stop(allow_respawn=True)   # reloads replace workers


t.run(None, env)
