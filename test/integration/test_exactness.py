#!/usr/bin/env python3
"""leastconn is exact across workers: 4 workers share the in-flight counters
through shared memory, so every request goes to a backend with the fewest
requests in flight, whichever worker accepted its connection. Requests are
parked on the backends (/hold), so the held counts the backends report ARE
the true in-flight counts. Then a worker with held requests is SIGKILLed:
the master must give its counts back (and log it), or they would bias every
later choice."""
import os
import random
import re
import signal
import time

from harness import Client, Env, Tap, check, check_eq, wait_until

t = Tap(budget=55)
env = Env("exactness")
NAMES = ("b0", "b1", "b2")
STEPS_BEFORE = 60
STEPS_AFTER = 30
RELEASE_EVERY = 4

backends = {}                 # name -> Backend
w = None
rng = random.Random(20261123)
clients = {}                  # id -> Client of a held request
where = {}                    # id -> backend name holding it
owner = {}                    # id -> worker pid that accepted its connection
workers_seen = set()
state = {"step": 0, "victim": None, "victim_ids": [], "victim_backend": None}


def setup():
    global w
    for n in NAMES:
        backends[n] = env.backend(n)
    w = env.weir(workers=4,
                 frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"}},
                 backends={"app": {"balance": "leastconn", "server":
                                   ["%s weight=1" % backends[n].addr for n in NAMES]}})


def held_now():
    """name -> list of ids each backend holds now."""
    return {n: b.held() for n, b in backends.items()}


def tracked():
    out = {n: [] for n in NAMES}
    for hid, n in where.items():
        out[n].append(hid)
    return out


def release(name, ids=None):
    """Release the held requests of one backend (all, or ids); check that
    every client reads "released ID", then close those clients."""
    b = backends[name]
    if ids is None:
        got = b.release_all()
    else:
        got = [x for hid in ids for x in b.release(hid)]
    want = sorted(ids if ids is not None else tracked()[name])
    check_eq(sorted(got), want, "ids %s released" % name)
    for hid in got:
        c = clients.pop(hid)
        r = c.response()
        check_eq((r.status, r.body), (200, ("released %s" % hid).encode()),
                 "response to released request %s" % hid)
        c.close()
        del where[hid]
        owner.pop(hid, None)


def step():
    """One request on a new connection; the problem if it did not go to a
    least-loaded backend, else None."""
    i = state["step"]
    state["step"] += 1
    if i > 0 and i % RELEASE_EVERY == 0:
        nonempty = [n for n in NAMES if tracked()[n]]
        if nonempty:
            release(rng.choice(nonempty))
    before = held_now()
    mine = tracked()
    check_eq({n: sorted(v) for n, v in before.items()},
             {n: sorted(v) for n, v in mine.items()},
             "held requests per backend before step %d (backends vs test)" % i)
    hid = "s%d" % i
    c = Client(w.port, timeout=5)
    clients[hid] = c
    c.request("GET", "/hold?id=%s" % hid)

    def landed():
        got = [n for n, b in backends.items() if hid in b.held()]
        return got or None
    got = wait_until(landed, 3.0, 0.005)
    if not got:
        extra = c.read_some(0.2)
        raise AssertionError("step %d: request %s held by no backend after 3s; client got "
                             "%r; log tail:\n%s" % (i, hid, extra, w.log()[-1500:]))
    check_eq(len(got), 1, "number of backends holding %s" % hid)
    chosen = got[0]
    where[hid] = chosen
    counts = {n: len(v) for n, v in before.items()}
    low = min(counts.values())
    pid = w.worker_of(c)
    if pid is not None:
        owner[hid] = pid
        workers_seen.add(pid)
    if counts[chosen] != low:
        return ("step %d: request %s went to %s, which had %d in flight; in flight "
                "before the request: %s (worker %s)"
                % (i, hid, chosen, counts[chosen], counts, pid))
    return None


def steps(n):
    """n steps; fail listing the steps whose choice was not least-loaded."""
    bad = [m for m in (step() for _ in range(n)) if m]
    t.diag("  held at the end: %s" % {k: len(v) for k, v in tracked().items()})
    check(not bad, "%d of %d requests did not go to a least-loaded backend:\n%s"
          % (len(bad), n, "\n".join(bad[:10])))


@t.test("leastconn, 4 workers: %d requests on new connections each go to a backend "
        "with the fewest in flight" % STEPS_BEFORE)
def _():
    steps(STEPS_BEFORE)


@t.test("those requests were accepted by at least 3 different workers")
def _():
    check(len(owner) == len(where), "held requests without a known worker: %s"
          % sorted(set(where) - set(owner)))
    check(len(workers_seen) >= 3, "all requests accepted by workers %s of %s"
          % (sorted(workers_seen), w.worker_pids()))


@t.test("SIGKILL a worker with held requests: backends drop them, master logs "
        "'died with N requests in flight' within 1s with the exact N")
def _():
    check(where, "no held requests left to kill a worker with")
    per = {}
    for hid, pid in owner.items():
        per.setdefault(pid, {}).setdefault(where[hid], []).append(hid)
    # The worker with the most requests held on one backend; its other held
    # requests are released first, so its death leaves all its counts on one
    # backend, which a missed correction would then visibly avoid.
    victim, vback = max(((p, n) for p, d in per.items() for n in d),
                        key=lambda pn: len(per[pn[0]][pn[1]]))
    for n, ids in per[victim].items():
        if n != vback:
            release(n, ids)
    ids = per[victim][vback]
    state.update(victim=victim, victim_ids=ids, victim_backend=vback)
    t.diag("  killing worker %d holding %s on %s; held now %s"
           % (victim, ids, vback, {n: len(v) for n, v in tracked().items()}))
    check(victim in w.worker_pids(), "worker %d not a child of the master" % victim)
    t0 = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    rx = re.compile(r"died with (\d+) requests in flight")
    m = wait_until(lambda: rx.search(w.log()), 2.0, 0.005)
    dt = time.monotonic() - t0
    problems = []
    for hid in ids:
        c = clients.pop(hid)
        if not c.wait_closed(2.0):
            problems.append("client of %s not closed 2s after its worker died" % hid)
        c.close()
        del where[hid]
        del owner[hid]
    want = {n: sorted(v) for n, v in tracked().items()}
    if not wait_until(lambda: {n: sorted(v) for n, v in held_now().items()} == want, 2.0):
        problems.append("held requests 2s after the kill: %s, expected %s (the dead "
                        "worker's requests dropped)" % (held_now(), want))
    if not m:
        problems.append("no 'died with N requests in flight' line 2s after SIGKILL; "
                        "log tail:\n" + w.log()[-1500:])
    else:
        if dt > 1.0:
            problems.append("'died with' logged %.2fs after SIGKILL (limit 1s)" % dt)
        if int(m.group(1)) != len(ids):
            problems.append("'%s': the worker had %d requests in flight"
                            % (m.group(0), len(ids)))
    check(not problems, "\n".join(problems))


@t.test("the master respawns the killed worker: 4 workers again")
def _():
    victim = state["victim"]
    check(victim, "no worker was killed")
    now = wait_until(lambda: (lambda p: p if len(p) == 4 and victim not in p else None)(
        w.worker_pids()), 3.0, 0.01)
    check(now, "workers 3s after the kill: %s (killed %d)" % (w.worker_pids(), victim))
    check(w.wait_log(r"respawn|killed by signal 9"), "no log line about the dead worker")


@t.test("after the kill, %d more requests each go to a backend with the fewest "
        "in flight (the dead worker's counts are gone)" % STEPS_AFTER)
def _():
    check(state["victim"], "no worker was killed")
    # Empty the victim's backend first: stale counts there would now show.
    release(state["victim_backend"])
    steps(STEPS_AFTER)


@t.test("release-all answers every held request; SIGTERM stops weir cleanly")
def _():
    for n in NAMES:
        release(n)
    check_eq(held_now(), {n: [] for n in NAMES}, "held requests after release-all")
    w.check_clean_stop(allow_respawn=True)


t.run(setup, env)
