#!/usr/bin/env python3
"""Active health checks: an http check takes a server failing its health
path out within fall checks and brings it back within rise; a server that
stops answering goes down on timeouts; a tcp check notices a closed port
and a restarted one; health_initial = down keeps traffic off until the
first rise; health_path and health_host are what the server receives;
with every server down clients get 503 + Retry-After; a reload keeps the
consecutive counts and closes the checks in flight.

No check here bounds a wall-clock time: on a busy machine any fixed bound
fails without a fault. "Within fall checks" is counted instead, from the
checks the backend itself saw (backend.py's health_log, stamped with the
time it read each one) up to the state line, or for tcp checks (which the
backend cannot tell from connections) from weir's debug line per check.
Waits for an event that must come have generous timeouts: they cost
nothing when it comes."""
import calendar
import os
import re
import signal
import time

from harness import Env, Tap, check, check_eq, http, socket_inodes, wait_until

t = Tap(budget=80)
env = Env("health")

INTERVAL, TIMEOUT, FALL, RISE = 0.2, 1.0, 3, 2
# The timeout is far above what a check takes even on a loaded machine, so
# no check fails by a timeout it did not deserve (that would change the
# counts below); the blackhole test waits out FALL of them.
FAST = {"health_interval": "200ms", "health_timeout": "1s",
        "health_fall": FALL, "health_rise": RISE}
# How long to wait for a state change that must come: FALL timed-out checks
# and their intervals, times a margin for a loaded machine.
WAIT = 4 * FALL * (INTERVAL + TIMEOUT)
LOG_TS = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z ")


def start(servers, log_level="info", **opts):
    """weir with one frontend and one backend "app" over servers (Backends)."""
    o = {"server": [b.addr for b in servers]}
    o.update(opts)
    return env.weir(workers=2, log_level=log_level,
                    frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"}},
                    backends={"app": o})


def log_time(line):
    """The wall-clock time (seconds since the epoch) a weir log line carries."""
    m = LOG_TS.match(line)
    check(m, "log line without a timestamp: %r" % line)
    y, mo, d, h, mi, s, ms = (int(x) for x in m.groups())
    return calendar.timegm((y, mo, d, h, mi, s)) + ms / 1000.0


def wait_line(w, offset, pattern, timeout):
    """The first log line after byte offset matching pattern, or fail."""
    rx = re.compile(pattern)

    def find():
        for line in w.log()[offset:].splitlines():
            if rx.search(line):
                return line
        return None
    line = wait_until(find, timeout, 0.02)
    check(line, "no log line matching %r within %.1fs; log tail:\n%s"
          % (pattern, timeout, w.log()[-2000:]))
    return line


def state_line(w, offset, b, state, reason, timeout=WAIT):
    """Wait for 'server app/ADDR STATE: reason' and return (line, its time)."""
    level = "warn" if state == "DOWN" else "info"
    line = wait_line(w, offset, r"\[%s\] master\[\d+\]: server app/%s %s: %s"
                     % (level, re.escape(b.addr), state, reason), timeout)
    return line, log_time(line)


def trailing(outcomes, pred):
    """How many outcomes at the end of the list satisfy pred."""
    n = 0
    for o in reversed(outcomes):
        if not pred(o):
            break
        n += 1
    return n


def check_count(b, line, pred, want, what):
    """Assert that the state line came at the want-th consecutive check
    (outcome pred) that backend b saw.

    Checks to one server run one at a time and the state line is written
    when the check deciding it ends, so the checks before the line are the
    ones b read before the line's time. The line's time is truncated to the
    millisecond, so a check read within 1 ms after it is ambiguous: the run
    counted without it must not exceed want, the run with it must reach
    want. If weir needed twice the checks, or fewer, the run would say so.
    """
    at = log_time(line)
    log = sorted(b.stats()["health_log"])
    sure = [o for tm, o in log if tm < at]
    maybe = [o for tm, o in log if tm < at + 0.001]
    lo, hi = trailing(sure, pred), trailing(maybe, pred)
    t.diag("  %s after %d consecutive checks seen by %s (%d with those read "
           "within 1 ms after the line)" % (what, lo, b.name, hi))
    check(lo <= want <= hi, "%s after %d (or %d) consecutive checks seen by "
          "%s, expected %d; checks before the line: %s"
          % (what, lo, hi, b.name, want, maybe[-10:]))


def result_lines(w, offset, b, upto):
    """weir's per-check lines for b (log_level debug: 'check failed',
    'check passed' while down, and the state line) after offset, up to the
    line upto."""
    rx = re.compile(r"master\[\d+\]: server app/%s (check failed|check passed|"
                    r"UP|DOWN): " % re.escape(b.addr))
    out = []
    for line in w.log()[offset:].splitlines():
        if rx.search(line):
            out.append(line)
        if line == upto:
            break
    return out


def get_many(w, n):
    """n GETs on new connections; {backend name: count}; all must be 200."""
    seen = {}
    for i in range(n):
        r = http(w.port, "GET", "/echo?i=%d" % i)
        check_eq(r.status, 200, "status of request %d: %s" % (i, r.summary()))
        seen[r.get("X-Backend")] = seen.get(r.get("X-Backend"), 0) + 1
    return seen


def checked(b, n=1, timeout=WAIT):
    """Wait until b has answered n health checks (since its last reset)."""
    ok = wait_until(lambda: b.stats()["health_checks"] >= n, timeout, 0.05)
    check(ok, "backend %s got no health check within %.0fs" % (b.name, timeout))


def master_sockets(w, samples=15):
    """Fewest sockets the master held over a few samples (checks come and go)."""
    out = None
    for _ in range(samples):
        n = len(socket_inodes(w.pid))
        out = n if out is None else min(out, n)
        time.sleep(0.03)
    return out


@t.test("http check, 2 servers: A's /healthz 503 -> DOWN within fall checks, "
        "no traffic while down; 200 again -> UP within rise, traffic again")
def _():
    a, b = env.backend("a1"), env.backend("b1")
    w = start([a, b], health_check="http", health_path="/healthz", **FAST)
    checked(a, 2)
    check("DOWN" not in w.log() and " UP:" not in w.log(),
          "a state change while every server was healthy:\n" + w.log()[-1500:])
    off = len(w.log())
    a.set(health=503)
    line, at = state_line(w, off, a, "DOWN", r"HTTP 503 not in 200-399 \(3/3\)$")
    check_count(a, line, lambda o: o == 503, FALL, "DOWN")
    a.reset()
    b.reset()
    seen = get_many(w, 50)
    check_eq(a.stats()["requests"], 0, "requests that reached A while it was down")
    check_eq(b.stats()["requests"], 50, "requests that reached B")
    check_eq(seen, {"b1": 50}, "backends that answered")
    off = len(w.log())
    a.set(health=200)
    line, at = state_line(w, off, a, "UP", r"HTTP 200 \(2/2\)$")
    check_count(a, line, lambda o: o == 200, RISE, "UP")
    seen = get_many(w, 20)
    check(seen.get("a1", 0) >= 5, "A got too little traffic once up: %s" % seen)
    # The default request: GET the path, Host = the server's address.
    st = a.stats()
    check_eq(st["health_lines"][-1], "GET /healthz HTTP/1.1", "health request line")
    check_eq(st["health_hosts"][-1], a.addr, "health check Host")
    w.check_clean_stop()


@t.test("slow_start = 3s: a server that comes back UP gets a small share at "
        "first and its full share once the ramp is over")
def _():
    a, b = env.backend("a2"), env.backend("b2")
    w = start([a, b], health_check="http", health_path="/healthz",
              slow_start="3s", **FAST)
    checked(a, 2)
    off = len(w.log())
    a.set(health=503)
    state_line(w, off, a, "DOWN", r"HTTP 503")
    off = len(w.log())
    a.set(health=200)
    _, up_at = state_line(w, off, a, "UP", r"HTTP 200")
    early = get_many(w, 100)
    t.diag("  first 100 requests after UP (%.2fs): %s" % (time.time() - up_at, early))
    # Weight ramps from 1/16 over 3 s: well under half of the first requests.
    check(early.get("a2", 0) <= 30, "A got %d of the first 100 requests "
          "right after coming back" % early.get("a2", 0))
    time.sleep(max(0.0, up_at + 3.2 - time.time()))
    late = get_many(w, 100)
    check(40 <= late.get("a2", 0) <= 60, "A got %d of 100 requests once the "
          "ramp was over" % late.get("a2", 0))
    w.check_clean_stop()


@t.test("a server that accepts but never answers goes DOWN with 'timed out', "
        "comes back UP, and the master holds no check sockets afterwards")
def _():
    a, b = env.backend("a2"), env.backend("b2")
    w = start([a, b], health_check="http", **FAST)
    checked(a, 1)
    base = master_sockets(w)
    off = len(w.log())
    a.set(blackhole=1)
    line, at = state_line(w, off, a, "DOWN", r"timed out \(3/3\)$")
    check(": timed out" in line, "reason is not 'timed out': %r" % line)
    check_count(a, line, lambda o: o == "blackhole", FALL, "DOWN")
    seen = get_many(w, 10)
    check_eq(seen, {"b2": 10}, "backends that answered while A hangs")
    off = len(w.log())
    a.set(blackhole=0)
    state_line(w, off, a, "UP", r"HTTP 200 \(2/2\)$")
    # Blackholed checks were closed by the master at their timeout (the
    # last one at most TIMEOUT after the UP line's first passing check).
    ok = wait_until(lambda: a.stats()["open"] == 0, WAIT, 0.05)
    check(ok, "backend still has %d connections open" % a.stats()["open"])
    now = master_sockets(w)
    check(now <= base, "master holds %d sockets, %d before the checks timed out"
          % (now, base))
    w.check_clean_stop()


@t.test("tcp check: killed server -> DOWN 'connect refused'; a new one on the "
        "same port -> UP 'connected' and gets traffic")
def _():
    a, b = env.backend("a3"), env.backend("b3")
    port = a.port
    # debug: a line per check, which is how tcp checks are counted here.
    w = start([a, b], log_level="debug", health_check="tcp", **FAST)
    # A tcp check is a connection without a request: wait for a few.
    ok = wait_until(lambda: a.stats()["connections"] >= 2, WAIT, 0.05)
    check(ok, "no tcp check reached A")
    off = len(w.log())
    a.kill()
    line, at = state_line(w, off, a, "DOWN", r"connect refused \(3/3\)$")
    # Passing checks while up log nothing, so every line from the kill to
    # DOWN is one refused check: FALL of them.
    got = result_lines(w, off, a, line)
    check(len(got) == FALL and all("connect refused" in l for l in got),
          "checks from the kill to DOWN, expected %d refused:\n%s"
          % (FALL, "\n".join(got)))
    seen = get_many(w, 10)
    check_eq(seen, {"b3": 10}, "backends that answered while A is gone")
    off = len(w.log())
    a2 = env.backend("a3-again", "--port", str(port))
    check_eq(a2.port, port, "port of the restarted backend")
    line, at = state_line(w, off, a2, "UP", r"connected \(2/2\)$")
    # Checks refused before the new backend listened come first; from its
    # first connected check to UP, exactly RISE checks (each logs a line
    # while the server is down).
    got = [l for l in result_lines(w, off, a2, line) if ": connected (" in l]
    check(len(got) == RISE, "connected checks up to UP, expected %d:\n%s"
          % (RISE, "\n".join(result_lines(w, off, a2, line))))
    # The backend saw them too (a tcp check is a connection and no request;
    # it may accept them a little after weir has connected).
    ok = wait_until(lambda: a2.stats()["connections"] >= RISE, WAIT, 0.05)
    check(ok, "the restarted backend saw %d connections, fewer than the %d "
          "checks weir counted" % (a2.stats()["connections"], RISE))
    seen = get_many(w, 20)
    check(seen.get("a3-again", 0) >= 5, "restarted A got too little traffic: %s" % seen)
    w.check_clean_stop()


@t.test("health_initial = down: 503 and no request reaches a server before "
        "its first rise; then it gets the traffic")
def _():
    a, b = env.backend("a4"), env.backend("b4")
    a.set(health=503)           # never rises
    w = start([a, b], health_check="http", health_initial="down",
              health_interval="300ms", health_timeout="200ms",
              health_rise=3, health_fall=FALL)
    got = []                    # (time received, status, backend)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not (got and got[-1][1] == 200):
        r = http(w.port, "GET", "/echo")
        got.append((time.time(), r.status, r.get("X-Backend")))
        if r.status == 503:
            check(r.get("Retry-After"), "503 without Retry-After: %s" % r.summary())
        time.sleep(0.01)
    line, up_at = state_line(w, 0, b, "UP", r"HTTP 200 \(3/3\)$")
    before = [g for g in got if g[1] != 503]
    statuses = sorted(set(g[1] for g in got))
    t.diag("  %d requests, statuses %s; first 200 at %+.3fs from the UP line"
           % (len(got), statuses, (before[0][0] - up_at) if before else 0))
    check(len(got) >= 5 and got[0][1] == 503,
          "expected 503s before the server rose: %s" % got[:5])
    # weir cannot mark B up before it has the answer to B's third check
    # (rise 3), which B read before answering: a 200 received before B read
    # that check is a leak. (Not the UP line's time: the master may be
    # descheduled between storing UP and writing the line.)
    hl = sorted(tm for tm, o in b.stats()["health_log"])
    check(len(hl) >= 3, "B saw %d checks by its UP line" % len(hl))
    early = [g for g in before if g[0] < hl[2]]
    check(not early, "answered by a server before it was up: %s (B read its "
          "third check at %.3f)" % (early[:3], hl[2]))
    check_eq(a.stats()["requests"], 0, "requests that reached A (never up)")
    seen = get_many(w, 10)
    check_eq(seen, {"b4": 10}, "backends that answered after B rose")
    check(not re.search(r"server app/%s UP" % re.escape(a.addr), w.log()),
          "A came up although its checks fail")
    w.check_clean_stop()


@t.test("health_path and health_host are what the server receives; defaults "
        "are GET / and the server's address")
def _():
    a, c = env.backend("a5"), env.backend("c5")
    w = env.weir(workers=2,
                 frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"},
                            "other": {"listen": "127.0.0.1:auto", "backend": "plain"}},
                 backends={"app": dict(server=a.addr, health_check="http",
                                       health_path="/custom/check?probe=1",
                                       health_host="health.example", **FAST),
                           "plain": dict(server=c.addr, health_check="http", **FAST)})
    checked(a, 2)
    checked(c, 2)
    st = a.stats()
    check_eq(set(st["health_lines"]), {"GET /custom/check?probe=1 HTTP/1.1"},
             "health request lines with health_path")
    check_eq(set(st["health_hosts"]), {"health.example"}, "Host with health_host")
    head = st["health_heads"][-1]
    for want in ("\r\nConnection: close\r\n", "\r\nUser-Agent: weir-health-check\r\n"):
        check(want in head, "%r not in the health request %r" % (want, head))
    check_eq(st["requests"], 0, "health checks counted as requests")
    st = c.stats()
    check_eq(set(st["health_lines"]), {"GET / HTTP/1.1"}, "default request line")
    check_eq(set(st["health_hosts"]), {c.addr}, "default Host")
    w.check_clean_stop()


@t.test("every server down: clients get 503 with Retry-After; one back up: 200")
def _():
    a, b = env.backend("a6"), env.backend("b6")
    w = start([a, b], health_check="http", **FAST)
    checked(a, 1)
    a.set(health=503)
    b.set(health=500)
    state_line(w, 0, a, "DOWN", r"HTTP 503 not in 200-399 \(3/3\)$")
    state_line(w, 0, b, "DOWN", r"HTTP 500 not in 200-399 \(3/3\)$")
    a.reset()
    b.reset()
    for i in range(5):
        r = http(w.port, "GET", "/echo")
        check_eq(r.status, 503, "status with every server down: %s" % r.summary())
        check(r.get("Retry-After"), "503 without Retry-After: %s" % r.summary())
    check_eq(a.stats()["requests"] + b.stats()["requests"], 0,
             "requests that reached a down server")
    off = len(w.log())
    b.set(health=200)
    state_line(w, off, b, "UP", r"HTTP 200 \(2/2\)$")
    check_eq(get_many(w, 5), {"b6": 5}, "backends that answered once B rose")
    w.check_clean_stop()


def reload(w):
    """SIGHUP and wait for the reload to complete; the log offset after it."""
    off = len(w.log())
    os.kill(w.pid, signal.SIGHUP)
    wait_line(w, off, r"reload complete", WAIT)
    return len(w.log())


@t.test("reload: a server's consecutive failures carry over to the new "
        "checker (2 before + 1 after = DOWN at 3/3)")
def _():
    a, b = env.backend("a7"), env.backend("b7")
    # The timeout only has to outlast the reload below (a check is held
    # across it); a timed-out check would count as a failure as well.
    w = start([a, b], log_level="debug", health_check="http",
              health_interval="200ms", health_timeout="10s",
              health_fall=3, health_rise=2)
    checked(a, 1)
    off = len(w.log())
    # A answers two checks 503, then holds the next ones unanswered, so the
    # third failure cannot come before the reload, however slow it is.
    a.set(health=503, health_hold=2)
    pat = r"server app/%s check failed: HTTP 503 not in 200-399 \(%d/3\)"
    wait_line(w, off, pat % (re.escape(a.addr), 2), WAIT)
    ok = wait_until(lambda: a.stats()["health_held"] >= 1, WAIT, 0.02)
    check(ok, "A holds no check after its second failure")
    after = reload(w)
    # The reload closed the held check; the new checker's first check is
    # held too until now: released, it fails with 503.
    a.set(health_hold=-1)
    line, _ = state_line(w, off, a, "DOWN", r"HTTP 503 not in 200-399 \(3/3\)$")
    check(w.log().index(line) >= after,
          "A went down before the reload completed; the test proves nothing:\n"
          + w.log()[off:][-2000:])
    check(not re.search(pat % (re.escape(a.addr), 1), w.log()[after:]),
          "the count restarted after the reload:\n" + w.log()[after:][-2000:])
    w.check_clean_stop(allow_respawn=True)


@t.test("reload while a check hangs: the old checker's socket is closed "
        "(by the master and in the workers forked meanwhile)")
def _():
    a, b = env.backend("a8"), env.backend("b8")
    w = start([a, b], health_check="http", health_interval="200ms",
              health_timeout="4s", health_fall=3, health_rise=2)
    a.set(blackhole=1)
    ok = wait_until(lambda: a.stats()["blackholed"] >= 1, WAIT, 0.02)
    check(ok, "no health check reached the blackholed backend")
    check_eq(a.stats()["open"], 1, "connections open at A (one check in flight)")
    reload(w)
    # The new checker starts its own check within one interval.
    ok = wait_until(lambda: a.stats()["blackholed"] >= 2, WAIT, 0.02)
    check(ok, "the new checker sent no check to A within %.0fs" % WAIT)
    ok = wait_until(lambda: a.stats()["open"] == 1, WAIT, 0.05)
    check(ok, "A still has %d connections open: the old check's socket was "
          "not closed everywhere (master: %d sockets)"
          % (a.stats()["open"], len(socket_inodes(w.pid))))
    a.set(blackhole=0)
    w.check_clean_stop(allow_respawn=True)


t.run(None, env)
