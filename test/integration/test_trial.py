#!/usr/bin/env python3
"""The half-open trial of an ejected server, end to end: many clients
arriving at the moment the ejection expires send exactly one request to it
while the trial has no answer, and a trial whose client goes away (no
verdict) frees the server for a new trial at once instead of holding it
out for connect + response timeout."""
import re
import socket
import struct
import threading
import time

from harness import Client, Env, Tap, check, check_eq, http, log_time, wait_until

t = Tap(budget=50)
env = Env("trial")


def start(a, b, workers, **opts):
    """weir over [a, b] round robin, ejecting on one 5xx for fail_timeout 1s."""
    pool = {"server": [a.addr, b.addr], "balance": "roundrobin",
            "retries": 0, "max_fails": 1, "fail_timeout": "1s",
            "fail_on_5xx": "yes", "response_timeout": "30s"}
    pool.update(opts)
    return env.weir(workers=workers,
                    frontends={"web": {"listen": "127.0.0.1:auto",
                                       "backend": "app"}},
                    backends={"app": pool})


def received(b, needle):
    """Requests b has read whose request line contains needle (counted on
    arrival, unlike stats' requests, which counts answered ones)."""
    return sum(needle in l for l in b.stats()["request_lines"])


def eject(w, a):
    """Make a fail once through weir, wait for its ejection line and heal
    it; returns the ejection's log time."""
    a.set(fail_status=500)
    pat = r"server app/%s ejected for 1000 ms after 1 consecutive" % re.escape(a.addr)
    for i in range(10):
        if http(w.port, "GET", "/echo?fail=%d" % i).status == 500:
            break
    line = w.wait_line(0, pat, 2.0)
    a.set(fail_status=0)
    return log_time(line)


@t.test("20 clients hammering across the expiry of an ejection: the ejected "
        "server gets exactly one request (the trial) until it answers")
def _():
    a, b = env.backend("ta"), env.backend("tb")
    b.set(plain=1)              # b answers /hold at once; a holds it
    w = start(a, b, workers=2)
    t_ej = eject(w, a)
    stop = threading.Event()
    errors = []
    seq = [0]
    lock = threading.Lock()

    def client(k):
        while not stop.is_set():
            with lock:
                seq[0] += 1
                n = seq[0]
            try:
                with Client(w.port, timeout=10) as c:
                    c.request("GET", "/hold?id=%d" % n)
                    r = c.response()
                if r.status != 200:
                    errors.append(r.summary())
            except Exception as e:  # a held request answered at release
                errors.append(repr(e))
    # Start just before the expiry so that the clients are all running then.
    time.sleep(max(0.0, t_ej + 0.8 - time.time()))
    threads = [threading.Thread(target=client, args=(k,), daemon=True)
               for k in range(20)]
    for th in threads:
        th.start()
    held = wait_until(lambda: a.held(), 3.0, 0.02)
    check(held, "no trial reached the ejected server within 2s of its expiry")
    # Keep the load on for a while with the trial unanswered.
    time.sleep(1.0)
    held = a.held()
    sent = received(a, "/hold")
    stop.set()
    a.set(plain=1)              # what comes after the trial is answered at once
    a.release_all()
    for th in threads:
        th.join(15)
    t.diag("  %d requests in all; the ejected server got %d, holding %s"
           % (seq[0], sent, held))
    check(seq[0] >= 100, "only %d requests: the clients did not hammer" % seq[0])
    check_eq(len(held), 1, "requests the ejected server holds during its trial")
    check_eq(sent, 1, "requests the ejected server received during its trial")
    check(not errors, "client errors: %s" % errors[:5])
    w.wait_line(0, r"server app/%s back in service after a successful trial"
                % re.escape(a.addr), 2.0)
    w.check_clean_stop()


@t.test("a trial whose client resets has no verdict: the next request "
        "within 0.5s reaches the server as a new trial and brings it back")
def _():
    a, b = env.backend("va"), env.backend("vb")
    b.set(plain=1)
    w = start(a, b, workers=1)
    t_ej = eject(w, a)
    time.sleep(max(0.0, t_ej + 1.05 - time.time()))
    # Round robin alternates: within two requests one is a's trial.
    trial = None
    for i in range(4):
        c = Client(w.port, timeout=5)
        c.request("GET", "/hold?id=trial%d" % i)
        got = c.read_some(0.1)
        if not got:
            trial = c
            break
        c.close()
    check(trial is not None, "no request was held by the ejected server")
    wait_until(lambda: a.held(), 1.0, 0.02)
    check_eq(len(a.held()), 1, "trials held by the ejected server")
    # The client gives up (a reset, as when a browser tab is closed
    # mid-request): no verdict on the server.
    trial.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
    trial.close()
    t_gone = time.monotonic()
    backends = []
    while time.monotonic() - t_gone < 0.5 and "va" not in backends:
        r = http(w.port, "GET", "/echo?after=%d" % len(backends))
        check_eq(r.status, 200, "status after the abandoned trial")
        backends.append(r.get("X-Backend"))
        time.sleep(0.02)
    t.diag("  answered by %s in %.2fs after the client left"
           % (backends, time.monotonic() - t_gone))
    check("va" in backends, "the server got no new trial within 0.5s of the "
          "abandoned one (answered by %s)" % backends)
    check_eq(received(a, "/echo?after="), 1, "requests the server got after "
             "the abandoned trial, up to its new one")
    w.wait_line(0, r"server app/%s back in service after a successful trial"
                % re.escape(a.addr), 2.0)
    w.check_clean_stop()


t.run(None, env)
