#!/usr/bin/env python3
"""Failover: retries on another server hide a backend killed under load and
it is ejected; the per-pool retry budget caps retries when every server is
gone; a request already sent is not retried unless idempotent, a refused
connect always is; outlier ejection with fail_on_5xx, its doubling on a
failed trial, recovery on a good one, and max_ejected_percent."""
import re
import time

from harness import (Env, Load, Tap, check, check_eq, free_port, http,
                     log_time, wait_until)

t = Tap(budget=55)
env = Env("failover")

RETRY = r"retrying on another server in \d+ ms \(attempt \d of \d\)"


def dead_addr():
    """An address nothing listens on (connections to it are refused)."""
    return "127.0.0.1:%d" % free_port()


def start(pools, workers=2):
    """weir with one frontend per pool: pools maps a name to its backend
    options; returns (weir, {pool name: port})."""
    fronts = {"f_" + name: {"listen": "127.0.0.1:auto", "backend": name}
              for name in pools}
    w = env.weir(workers=workers, frontends=fronts, backends=pools)
    return w, {name: w.ports["f_" + name][0] for name in pools}


def requests_to(b, needle):
    """How many request lines backend b received that contain needle."""
    return sum(needle in l for l in b.stats()["request_lines"])


@t.test("a backend killed under load: no client error (retried on another "
        "server), it is ejected, and no retry is logged once it is out")
def _():
    a, b, c = env.backend("ka"), env.backend("kb"), env.backend("kc")
    w, ports = start({"app": {"server": [a.addr, b.addr, c.addr],
                              "balance": "roundrobin", "retries": 2}})
    nkeep, nfresh = 3, 3
    # The load runs until enough requests passed the ejection (below), not
    # for a fixed time; duration is only a cap.
    load = Load(ports["app"], keepalive=nkeep, fresh=nfresh, duration=40.0,
                timeout=5.0).start()
    ok = wait_until(lambda: len(load.ok) >= 300, 20.0)
    check(ok, "the load got only %d responses in 20s" % len(load.ok))
    t_kill = time.time()        # before: the ejection may come before kill() returns
    c.kill()
    ej_rx = re.compile(r"server app/%s ejected for \d+ ms after \d+ consecutive "
                       r"failures" % re.escape(c.addr))
    ej_line = w.wait_line(0, ej_rx.pattern, 20.0)
    # Enough requests after the ejection that, were it not effective, a
    # third of them would fail over from c: far more than the bound below.
    n_ej = len(load.ok)
    wait_until(lambda: len(load.ok) >= n_ej + 600 or not load.running(), 20.0)
    load.stop()
    log = w.log()
    lines = log.splitlines()
    retries = [l for l in lines if re.search(RETRY, l)]
    ej = [l for l in lines if ej_rx.search(l)]
    t.diag("  load: %s; %d retry lines, ejection: %s"
           % (load.summary(), len(retries), ej[:1]))
    for l in retries[:5]:
        t.diag("    " + l)
    check(not load.failures, "%d requests failed:\n%s\nlog tail:\n%s"
          % (len(load.failures), "\n".join(
              "%.3fs %s: %s" % (ft - load.t0, th, what)
              for ft, th, what in load.failures[:20]), log[-2500:]))
    check(retries, "no retry line after the kill:\n" + log[-2000:])
    other = [l for l in retries if c.addr not in l]
    check(not other, "retries caused by other servers: %s" % other[:5])
    check(len(ej) == 1, "expected one ejection line for %s, got %s:\n%s"
          % (c.addr, ej, log[-2000:]))
    check_eq(ej[0], ej_line, "ejection line")
    # The line's time is truncated to the millisecond.
    check(log_time(ej[0]) >= t_kill - 0.001, "ejected before the kill")
    # After the ejection no new attempt goes to c (out for fail_timeout,
    # 10s; its first trial would log a "trial" line). Attempts already under
    # way may still fail and be retried: each client thread has at most one
    # request in flight, so at most nkeep + nfresh retry lines come after
    # the ejection line. Were the ejection ineffective, every third request
    # after it (600 or more) would fail over from c.
    i_ej = lines.index(ej[0])
    after = lines[i_ej + 1:]
    trial = [i for i, l in enumerate(after) if "trial" in l and c.addr in l]
    if trial:
        after = after[:trial[0]]
    late = [l for l in after if re.search(RETRY, l)]
    n_after = len(load.ok) - n_ej
    t.diag("  %d retry lines after the ejection (bound %d); %d requests after it"
           % (len(late), nkeep + nfresh, n_after))
    check(n_after >= 600, "only %d requests after the ejection: the test "
          "proves little" % n_after)
    check(len(late) <= nkeep + nfresh, "%d retry lines after the ejection, more "
          "than the %d requests that can have been in flight: %s"
          % (len(late), nkeep + nfresh, late[:5]))
    w.check_clean_stop()


@t.test("retry budget: every server refused, retries = 2, retry_budget = "
        "20%: 100 requests all 502, retries <= 10 + 0.2 * 100 (+ slack), "
        "'retry budget ... exhausted' logged")
def _():
    n = 100
    w, ports = start({"gone": {"server": [dead_addr(), dead_addr(), dead_addr()],
                               "retries": 2, "retry_budget": "20%",
                               "retry_backoff": "1ms", "max_fails": 0}})
    statuses = {}
    for i in range(n):
        r = http(ports["gone"], "GET", "/echo?i=%d" % i)
        statuses[r.status] = statuses.get(r.status, 0) + 1
    log = w.log()
    nretry = len(re.findall(RETRY, log))
    exhausted = re.findall(r"not retried: retry budget of backend gone exhausted", log)
    t.diag("  statuses %s; %d retries logged, %d 'exhausted' lines"
           % (statuses, nretry, len(exhausted)))
    check_eq(statuses, {502: n}, "statuses with every server refused")
    check(nretry >= 10, "only %d retries: the budget starts at 10" % nretry)
    limit = 10 + 0.2 * n + 3
    check(nretry <= limit, "%d retries for %d requests, more than the budget "
          "allows (%.0f)" % (nretry, n, limit))
    check(exhausted, "no 'retry budget of backend gone exhausted' line:\n"
          + log[-2000:])
    w.check_clean_stop()


@t.test("a POST reset after being sent is not retried (502, seen once); a "
        "GET reset is retried on the other server (200)")
def _():
    a1, a2, a3, p = (env.backend("na1"), env.backend("na2"), env.backend("na3"),
                     env.backend("np"))
    p.set(plain=1)              # its /reset is an ordinary echo
    w, ports = start({"resets": {"server": [a1.addr, a2.addr], "retries": 2,
                                 "max_fails": 0},
                      "mixed": {"server": [a3.addr, p.addr], "retries": 2,
                                "max_fails": 0}})
    # Both servers reset: each POST is sent once, then 502.
    for i in range(2):
        r = http(ports["resets"], "POST", "/reset?post=%d" % i, body=b"x" * 100)
        check_eq(r.status, 502, "status of POST %d to /reset" % i)
        seen = requests_to(a1, "/reset?post=%d " % i) + requests_to(a2, "/reset?post=%d " % i)
        check_eq(seen, 1, "times the servers received POST %d" % i)
    check(w.wait_log(r"not retried: non-idempotent request already sent"),
          "no 'non-idempotent request already sent' line:\n" + w.log()[-1500:])
    # A GET reset by a3 is retried on p.
    for i in range(6):
        r = http(ports["mixed"], "GET", "/reset?get=%d" % i)
        check_eq(r.status, 200, "status of GET %d to /reset: %s" % (i, r.summary()))
        check_eq(r.json()["backend"], "np", "backend that answered GET %d" % i)
    hits = requests_to(a3, "/reset?get=")
    retried = len(re.findall(r"%s: .*%s" % (re.escape(a3.addr), RETRY), w.log()))
    t.diag("  GETs: %d reset by na3 and retried (%d retry lines)" % (hits, retried))
    check(hits >= 1, "no GET reached the resetting server: the test proves nothing")
    check_eq(retried, hits, "retry lines for the server that reset")
    # POSTs to the same pool: the ones a3 resets are not retried.
    got = []
    for i in range(6):
        r = http(ports["mixed"], "POST", "/reset?mpost=%d" % i, body=b"y" * 10)
        got.append(r.status)
    hits = requests_to(a3, "/reset?mpost=")
    t.diag("  POSTs: statuses %s, %d reached na3" % (got, hits))
    check(hits >= 1, "no POST reached the resetting server")
    check_eq(got.count(502), hits, "POSTs answered 502 vs POSTs reset by na3")
    check_eq(got.count(200), 6 - hits, "POSTs answered 200")
    check_eq(requests_to(p, "/reset?mpost="), 6 - hits, "POSTs that reached np "
             "(a POST reset by na3 must not be sent again)")
    w.check_clean_stop()


@t.test("outlier ejection (fail_on_5xx, max_fails 3, fail_timeout 1s): ejected, "
        "no traffic, one failed trial -> 2000 ms, one good trial -> back")
def _():
    a, b = env.backend("oa"), env.backend("ob")
    w, ports = start({"app": {"server": [a.addr, b.addr], "retries": 0,
                              "max_fails": 3, "fail_timeout": "1s",
                              "fail_on_5xx": "yes"}})
    port = ports["app"]
    a.set(fail_status=500)
    ej_pat = (r"server app/%s ejected for 1000 ms after 3 consecutive failures"
              % re.escape(a.addr))
    statuses = []
    for i in range(30):
        statuses.append(http(port, "GET", "/echo?warm=%d" % i).status)
        if w.lines_after(0, ej_pat):
            break
    # Waits for what must come are generous: they cost nothing when it does.
    ej = w.wait_line(0, ej_pat, 5.0)
    t_ej = log_time(ej)
    t.diag("  %s\n  statuses before it: %s" % (ej, statuses))
    check_eq(statuses.count(500), 3, "500s before the ejection")
    n_a = a.stats()["requests"]
    # Concurrent traffic across the trial: exactly one request reaches A.
    wall = time.time() - time.monotonic()
    off = len(w.log())
    fail_pat = (r"server app/%s failed its trial request; ejected for 2000 ms"
                % re.escape(a.addr))
    # The trial is due fail_timeout (1s) after the ejection; the load runs
    # until it came (duration is only a cap).
    load = Load(port, keepalive=0, fresh=3, duration=15.0, timeout=5.0).start()
    line = wait_until(lambda: (w.lines_after(off, fail_pat) or [None])[0], 12.0, 0.01)
    load.stop()
    check(line, "no %r line:\n%s" % (fail_pat, w.log()[-2000:]))
    t_fail = log_time(line)
    t.diag("  %s (%.3fs after the ejection); load: %s"
           % (line, t_fail - t_ej, load.summary()))
    check_eq(a.stats()["requests"] - n_a, 1, "requests A received from its "
             "ejection to its failed trial")
    fails = [what for _, _, what in load.failures]
    check(len(fails) == 1 and "HTTP/1.1 500 Failing" in fails[0]
          and "X-Backend: oa" in fails[0],
          "failed requests during the ejection, expected only A's trial (500): %s"
          % fails[:5])
    trial_at = load.failures[0][0] + wall
    check(trial_at >= t_ej + 0.95, "trial sent %.3fs after the ejection, before "
          "fail_timeout (1s)" % (trial_at - t_ej))
    check(set(load.backends()) == {"ob"}, "other backends answered: %s"
          % load.backends())
    # A heals; after 2s one trial succeeds and A is back.
    a.set(fail_status=0)
    off = len(w.log())
    n_a = a.stats()["requests"]
    seen = []
    # Its next trial is due 2s after the failed one; give it 2s + 8s.
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        r = http(port, "GET", "/echo?heal=1")
        check_eq(r.status, 200, "status while A is ejected for 2s")
        seen.append((time.time(), r.get("X-Backend")))
        if r.get("X-Backend") == "oa":
            break
        time.sleep(0.01)
    check(seen and seen[-1][1] == "oa", "A got no trial within 10s")
    check(seen[-1][0] >= t_fail + 1.95, "A's trial came %.3fs after the failed "
          "one, before 2s" % (seen[-1][0] - t_fail))
    back = w.wait_line(off, r"server app/%s back in service after a successful "
                       r"trial request" % re.escape(a.addr), 5.0)
    t.diag("  %s (%.3fs after the failed trial)" % (back, log_time(back) - t_fail))
    check_eq(a.stats()["requests"] - n_a, 1, "requests A received up to its trial")
    got = {}
    for i in range(20):
        r = http(port, "GET", "/echo?after=%d" % i)
        check_eq(r.status, 200, "status once A is back")
        got[r.get("X-Backend")] = got.get(r.get("X-Backend"), 0) + 1
    t.diag("  after recovery: %s" % got)
    check(got.get("oa", 0) >= 5, "A gets too little traffic once back: %s" % got)
    w.check_clean_stop()


@t.test("max_ejected_percent = 50%: with both servers of a pool failing "
        "only one is ejected, the other keeps getting traffic")
def _():
    a, b = env.backend("ma"), env.backend("mb")
    a.set(fail_status=500)
    b.set(fail_status=503)
    w, ports = start({"app": {"server": [a.addr, b.addr], "retries": 0,
                              "max_fails": 3, "fail_timeout": "10s",
                              "fail_on_5xx": "yes", "max_ejected_percent": "50%"}})
    got = []
    for i in range(40):
        r = http(ports["app"], "GET", "/echo?i=%d" % i)
        got.append((r.status, r.get("X-Backend")))
    ej = w.lines_after(0, r"ejected for")
    t.diag("  %s" % ej)
    check_eq(len(ej), 1, "ejection lines with both servers failing")
    out = "ma" if a.addr in ej[0] else "mb"
    late = got[12:]             # long after the ejection
    check(all(be != out for _, be in late), "ejected server %s answered: %s"
          % (out, late))
    check(len(late) == 28 and all(s in (500, 503) for s, _ in late),
          "statuses: %s" % late)
    w.check_clean_stop()


@t.test("connect refused is retried on another server even for a POST: "
        "every POST succeeds and each reaches the live server once")
def _():
    b = env.backend("cb")
    dead = dead_addr()
    w, ports = start({"app": {"server": [dead, b.addr], "retries": 2}})
    for i in range(10):
        r = http(ports["app"], "POST", "/echo?post=%d" % i, body=b"z" * 2000)
        check_eq(r.status, 200, "status of POST %d: %s" % (i, r.summary()))
        doc = r.json()
        check_eq((doc["method"], doc["body_len"]), ("POST", 2000), "echoed POST %d" % i)
        check_eq(requests_to(b, "/echo?post=%d " % i), 1, "times POST %d reached "
                 "the live server" % i)
    refused = re.findall(r"%s: connect: Connection refused; %s"
                         % (re.escape(dead), RETRY), w.log())
    t.diag("  %d POSTs retried after a refused connect" % len(refused))
    check(refused, "no retry after a refused connect:\n" + w.log()[-1500:])
    w.check_clean_stop()


t.run(None, env)
