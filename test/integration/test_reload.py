#!/usr/bin/env python3
"""Reload and signals: SIGHUP under load drops no request and puts the new
config in effect; a broken config keeps the old one serving; worker count
and listen addresses change on reload; old workers finish in-flight
requests and give idle keep-alive connections a grace; SIGQUIT drains then
exits; SIGUSR1 reopens log_file; in-flight counts survive a reload; a
SIGKILLed worker is respawned and only its own connections fail."""
import os
import re
import signal
import time

from harness import (Client, Env, Load, Tap, alive, check, check_eq, free_port,
                     http, listen_inodes, socket_inodes, wait_until)

t = Tap(budget=55)
env = Env("reload")


def front(*listen):
    """A frontend "web" on the given listen entries (default one auto port)."""
    return {"web": {"listen": list(listen) or ["127.0.0.1:auto"], "backend": "app"}}


def start(servers, workers=2, global_=None, **opts):
    """weir with one frontend and one backend "app" over server lines."""
    o = {"server": list(servers)}
    o.update(opts)
    return env.weir(workers=workers, global_=global_, frontends=front(),
                    backends={"app": o})


def check_reloaded(w, line, what="reload"):
    check(line and "reload complete" in line,
          "%s: no 'reload complete' line; got %r; log tail:\n%s"
          % (what, line, w.log()[-2500:]))


def wait_workers(w, n, timeout=5.0):
    """Wait until the master has exactly n children; return them."""
    got = wait_until(lambda: (lambda c: c if len(c) == n else None)(w.worker_pids()),
                     timeout, 0.02)
    check(got, "expected %d workers %.0fs after the reload, found %s; log tail:\n%s"
          % (n, timeout, w.worker_pids(), w.log()[-2500:]))
    return got


def counts_by_backend(port, n):
    """n GETs on new connections, all 200; {X-Backend: count}."""
    seen = {}
    for i in range(n):
        r = http(port, "GET", "/echo?i=%d" % i)
        check_eq(r.status, 200, "status of request %d: %s" % (i, r.summary()))
        name = r.get("X-Backend")
        seen[name] = seen.get(name, 0) + 1
    return seen


def wait_request(b, needle, timeout=3.0):
    """Wait until backend b has received a request line containing needle."""
    ok = wait_until(lambda: any(needle in l for l in b.stats()["request_lines"]),
                    timeout, 0.02)
    check(ok, "backend %s never received %r" % (b.name, needle))


@t.test("zero-drop reload: SIGHUP every 200ms for 5s under keep-alive and "
        "new-connection load, config changed halfway: no failed request, "
        "new config in effect, old workers gone")
def _():
    a, b, c = env.backend("za"), env.backend("zb"), env.backend("zc")

    def app(new, i):
        # Every reload reads a freshly written file; the second half adds
        # server c and triples a's weight.
        o = {"server": ["%s weight=%d" % (a.addr, 3 if new else 1),
                        "%s weight=1" % b.addr]}
        if new:
            o["server"].append("%s weight=1" % c.addr)
        o["retry_backoff"] = "%dms" % (10 + i % 2)
        return o

    w = env.weir(workers=2, frontends=front(), backends={"app": app(False, 0)})
    initial = w.worker_pids()
    load = Load(w.port, keepalive=3, fresh=3, duration=7.0, timeout=5.0).start()
    time.sleep(0.7)
    t0 = time.monotonic()
    reloads = 0
    changed_at = None
    while time.monotonic() - t0 < 5.0:
        new = time.monotonic() - t0 >= 2.5
        if new and changed_at is None:
            changed_at = reloads
        w.rewrite(backends={"app": app(new, reloads)})
        os.kill(w.pid, signal.SIGHUP)
        reloads += 1
        time.sleep(max(0, t0 + reloads * 0.2 - time.monotonic()))
    load.join()
    check(not load.running(), "load generator still running")
    t.diag("  %d SIGHUPs (config changed from #%d on); load: %s"
           % (reloads, changed_at + 1, load.summary()))
    # The last write is read by a reload that is still to come or done.
    wait_until(lambda: w.log().count("reloading configuration from")
               == w.log().count("reload complete"), 3.0)
    wait_workers(w, 2, 6.0)
    log = w.log()
    done, drained = log.count("reload complete"), len(re.findall(r"generation \d+ drained", log))
    t.diag("  weir: %d reloads completed, %d generations drained, workers now %s"
           % (done, drained, w.worker_pids()))
    check(not load.failures, "%d of %d requests failed during reloads:\n%s\nlog tail:\n%s"
          % (len(load.failures), load.requests,
             "\n".join("%.3fs %s: %s" % (ft - load.t0, th, what)
                       for ft, th, what in load.failures[:30]),
             log[-3000:]))
    check(load.requests >= 500, "only %d requests ran: the load proves little"
          % load.requests)
    check(load.closed_by_header > 0, "no keep-alive connection was closed with "
          "Connection: close: did the keep-alive clients ever meet a draining worker?")
    check("reload failed" not in log, "a reload failed:\n" + log[-2500:])
    check(done >= reloads // 2, "only %d of %d SIGHUPs led to a reload" % (done, reloads))
    check_eq(drained, done, "generations drained vs reloads completed")
    now = w.worker_pids()
    check(not set(now) & set(initial), "initial workers still running: %s" % now)
    seen = counts_by_backend(w.port, 300)
    t.diag("  300 requests after the last reload: %s (weights 3:1:1)" % seen)
    for name, want in (("za", 180), ("zb", 60), ("zc", 60)):
        got = seen.get(name, 0)
        check(abs(got - want) <= 30, "backend %s got %d of 300 requests, expected "
              "%d +- 30 (weights 3:1:1): %s" % (name, got, want, seen))
    w.check_clean_stop(allow_respawn=True)


@t.test("broken config on SIGHUP (unknown key on line 7): 'reload failed: "
        "FILE:7:', the old config and workers keep serving")
def _():
    a, b = env.backend("ba"), env.backend("bb")
    w = start([a.addr, b.addr])
    pids = w.worker_pids()
    with open(w.conf) as f:
        good = f.read()
    lines = good.splitlines()
    lines.insert(6, "no_such_key = 1")
    with open(w.conf + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(w.conf + ".tmp", w.conf)
    line = w.reload()
    check(line and "reload failed" in line,
          "no 'reload failed' line; got %r; log tail:\n%s" % (line, w.log()[-2000:]))
    t.diag("  " + line)
    pat = r"reload failed: %s:7: .*; still serving the previous configuration" \
        % re.escape(w.conf)
    check(re.search(pat, line), "line does not match %r: %r" % (pat, line))
    time.sleep(0.3)
    check_eq(w.worker_pids(), pids, "worker pids after the failed reload")
    seen = counts_by_backend(w.port, 20)
    check_eq(seen, {"ba": 10, "bb": 10}, "backends answering after the failed reload")
    check("reload complete" not in w.log(), "a reload completed:\n" + w.log()[-2000:])
    # Fixing the file and reloading again works.
    with open(w.conf + ".tmp", "w") as f:
        f.write(good)
    os.rename(w.conf + ".tmp", w.conf)
    check_reloaded(w, w.reload(), "reload of the fixed config")
    wait_workers(w, 2)
    check_eq(http(w.port).status, 200, "status after the good reload")
    w.check_clean_stop(allow_respawn=True)


@t.test("reload changes workers 2 -> 3 -> 1 and listen addresses: the added "
        "one serves, the removed one refuses at once")
def _():
    a = env.backend("la")
    w = env.weir(workers=2, frontends=front("127.0.0.1:auto", "127.0.0.1:auto"),
                 backends={"app": {"server": a.addr}})
    p1, p2 = w.ports["web"]
    w.rewrite(global_={"workers": 3},
              frontends=front("127.0.0.1:%d" % p1, "127.0.0.1:auto"))
    p3 = w.ports["web"][1]
    # An idle keep-alive connection keeps the old generation draining.
    idle = Client(p1)
    idle.request("GET", "/echo?idle=1")
    check_eq(idle.response().status, 200, "idle connection's request")
    line = w.reload()
    check_reloaded(w, line)
    check(re.search(r"reload complete: generation 1, 3 workers", line),
          "reload line: %r" % line)
    wait_workers(w, 3)
    # The removed address stops taking connections with the reload itself.
    try:
        http(p2, timeout=2)
        check(False, "removed address 127.0.0.1:%d accepts right after the "
              "reload" % p2)
    except ConnectionRefusedError:
        pass
    idle.close()
    check(w.wait_log(r"generation 0 drained", 10.0), "generation 0 never drained:\n"
          + w.log()[-2000:])
    for p in (p1, p3):
        for i in range(12):
            check_eq(http(p, "GET", "/echo?p=%d&i=%d" % (p, i)).status, 200,
                     "status via port %d after the reload" % p)
        check_eq(len(listen_inodes(p)), 3, "LISTEN sockets on port %d with 3 workers" % p)
    try:
        http(p2, timeout=2)
        check(False, "removed address 127.0.0.1:%d still accepts and answers" % p2)
    except ConnectionRefusedError:
        pass
    check_eq(listen_inodes(p2), set(), "LISTEN sockets left on the removed port %d" % p2)
    w.rewrite(global_={"workers": 1})
    line = w.reload()
    check_reloaded(w, line)
    check(re.search(r"reload complete: generation 2, 1 workers?", line),
          "reload line: %r" % line)
    wait_workers(w, 1)
    check(w.wait_log(r"generation 1 drained", 10.0), "generation 1 never drained")
    for p in (p1, p3):
        # Every connection must reach the one worker (no orphan socket).
        for i in range(20):
            check_eq(http(p, "GET", "/echo?one=%d" % i, timeout=3).status, 200,
                     "status via port %d with 1 worker (request %d)" % (p, i))
        # The one worker may take over every socket the master keeps (so
        # nothing queued on one is lost), but none may be left unserved.
        held = set()
        for pid in w.worker_pids():
            held |= socket_inodes(pid)
        unserved = listen_inodes(p) - held
        check(not unserved, "LISTEN sockets on port %d that no worker holds: %s"
              % (p, unserved))
    w.check_clean_stop(allow_respawn=True)


@t.test("a reload that fails late (an address in use) changes nothing: no new "
        "socket joins the listeners, a server it would disable keeps serving")
def _():
    import socket as so
    a = env.backend("fa")
    b = env.backend("fb")
    w = env.weir(workers=2, frontends=front("127.0.0.1:auto"),
                 backends={"app": {"server": [a.addr, b.addr]}})
    p1 = w.ports["web"][0]
    before = listen_inodes(p1)
    busy = so.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        w.rewrite(global_={"workers": 4},
                  frontends=front("127.0.0.1:%d" % p1,
                                  "127.0.0.1:%d" % busy.getsockname()[1]),
                  backends={"app": {"server": [a.addr, b.addr + " disabled"]}})
        line = w.reload()
        check(line and "reload failed" in line, "reload line: %r" % line)
    finally:
        busy.close()
    check_eq(listen_inodes(p1), before, "LISTEN sockets on port %d after the "
             "failed reload" % p1)
    seen = counts_by_backend(p1, 40)
    check_eq(sorted(seen.values()), [20, 20],
             "requests per backend after the failed reload: %s" % seen)
    w.check_clean_stop(allow_respawn=True)


@t.test("drain: a slow request in flight during SIGHUP completes with 200 + "
        "Connection: close; an idle keep-alive connection may send one more "
        "request in the grace (200 + close); an unused one is closed after it")
def _():
    a = env.backend("da")
    w = start([a.addr])
    k = Client(w.port, timeout=5)
    idle = Client(w.port, timeout=5)
    for cl in (k, idle):
        cl.request("GET", "/echo?before=1")
        r = cl.response()
        check_eq(r.status, 200, "status before the reload")
        check("close" not in r.conn_tokens(), "kept-alive response says close: %s"
              % r.summary())
    s = Client(w.port, timeout=6)
    s.request("GET", "/slow?ms=1500")
    wait_request(a, "/slow?ms=1500")
    t0 = time.monotonic()
    off = len(w.log())
    check_reloaded(w, w.reload())
    # Send as soon as both old workers drain (not at a fixed time): the
    # request must land in the 1s grace (WORKER_DRAIN_GRACE_MS), and on a
    # busy machine every fraction of it counts.
    w.wait_line(off, r"worker 1\[\d+\]: draining", 10.0)
    w.wait_line(off, r"worker 0\[\d+\]: draining", 10.0)
    k.request("GET", "/echo?in-grace=1")
    r = k.response()
    check_eq(r.status, 200, "status of the request sent in the grace")
    check("close" in r.conn_tokens(), "response in the grace lacks Connection: "
          "close: %s" % r.summary())
    check(k.wait_closed(1.0), "connection not closed after Connection: close")
    # The grace is 1s (WORKER_DRAIN_GRACE_MS); 5s more for a loaded machine.
    check(idle.wait_closed(6.0), "idle keep-alive connection still open 6s "
          "after the reload")
    t_idle = time.monotonic() - t0
    t.diag("  unused idle connection closed %.2fs after SIGHUP" % t_idle)
    check(t_idle >= 0.8, "idle connection closed after %.2fs, before the 1s grace"
          % t_idle)
    check_eq(idle.extra, b"", "bytes sent on the idle connection")
    r = s.response()
    t_slow = time.monotonic() - t0
    check_eq(r.status, 200, "status of the slow request")
    check("close" in r.conn_tokens(), "slow response during the drain lacks "
          "Connection: close: %s" % r.summary())
    check_eq(r.json()["target"], "/slow?ms=1500", "target echoed")
    # A worker lingers on a connection it closed until the client closes it
    # too (or WORKER_LINGER_MS, 2s, passes): close ours, then the old
    # generation has nothing left. 10s: the event must come, a loaded
    # machine may take its time.
    for cl in (k, idle, s):
        cl.close()
    check(w.wait_log(r"generation 0 drained", 10.0), "generation 0 never drained:\n"
          + w.log()[-2000:])
    t.diag("  slow response after %.2fs; %s" % (t_slow, w.lines_after(0, "drained")))
    wait_workers(w, 2)
    check_eq(http(w.port).status, 200, "status after the drain")
    w.check_clean_stop(allow_respawn=True)


@t.test("SIGQUIT with a slow request in flight: it completes with 200, then "
        "the master exits 0 and no process is left")
def _():
    a = env.backend("qa")
    w = start([a.addr])
    pids = [w.pid] + w.worker_pids()
    s = Client(w.port, timeout=6)
    s.request("GET", "/slow?ms=1500")
    wait_request(a, "/slow?ms=1500")
    t0 = time.monotonic()
    os.kill(w.pid, signal.SIGQUIT)
    time.sleep(0.3)
    check(w.proc.poll() is None, "master exited (rc %s) with a request in flight; "
          "log:\n%s" % (w.proc.returncode, w.log()[-2000:]))
    r = s.response()
    t_resp = time.monotonic() - t0
    s.close()
    check_eq(r.status, 200, "status of the slow request")
    try:
        rc = w.proc.wait(5)
    except Exception:
        rc = None
    t_exit = time.monotonic() - t0
    t.diag("  response after %.2fs, master exit after %.2fs" % (t_resp, t_exit))
    check_eq(rc, 0, "master exit status after SIGQUIT")
    res = w.stop()
    check(not res["leftovers"], "processes left: %s" % res["leftovers"])
    check(not [p for p in pids if alive(p)], "processes of this weir still alive: %s"
          % [p for p in pids if alive(p)])


@t.test("SIGUSR1 with log_file: after a rename the master and the workers "
        "write to a new file at the configured path")
def _():
    lf = env.path("reopen.log")
    gone = "127.0.0.1:%d" % free_port()
    w = start([gone], global_={"log_file": lf}, retries=0, max_fails=0)

    def fail_and_find(path):
        """A 502 from a worker; wait for its line (client port) in path."""
        r = http(w.port, "GET", "/echo?log=1")
        check_eq(r.status, 502, "status with the only server's port closed")
        rx = re.compile(r"client \S+:%d: " % r.client_port)

        def found():
            try:
                with open(path) as f:
                    return rx.search(f.read())
            except OSError:
                return None
        return r.client_port, wait_until(found, 2.0, 0.02)
    port, m = fail_and_find(lf)
    check(m, "no line for client port %d in %s" % (port, lf))
    os.rename(lf, lf + ".1")
    os.kill(w.pid, signal.SIGUSR1)

    def reopened():
        try:
            with open(lf) as f:
                return "log file reopened" in f.read()
        except OSError:
            return False
    check(wait_until(reopened, 2.0), "no 'log file reopened' in a new %s (exists: %s)"
          % (lf, os.path.exists(lf)))
    time.sleep(0.2)             # workers get their SIGUSR1 from the master
    ports = []
    for i in range(6):          # new connections reach both workers
        port, m = fail_and_find(lf)
        check(m, "no line for client port %d in the new %s" % (port, lf))
        ports.append(port)
    with open(lf + ".1") as f:
        old = f.read()
    late = [p for p in ports if re.search(r"client \S+:%d: " % p, old)]
    check(not late, "lines for client ports %s went to the renamed file" % late)
    w.check_clean_stop()


@t.test("in-flight counts carry over a reload: leastconn with 3 held on A, "
        "0 on B; after SIGHUP the next 3 go to B")
def _():
    a, b = env.backend("ia"), env.backend("ib")
    w = start([a.addr, b.addr], balance="leastconn")
    clients = {}

    def hold(hid):
        cl = Client(w.port, timeout=10)
        cl.request("GET", "/hold?id=%s" % hid)
        clients[hid] = cl
        ok = wait_until(lambda: hid in a.held() + b.held(), 3.0, 0.02)
        check(ok, "held request %s reached no backend" % hid)
        return "A" if hid in a.held() else "B"

    try:
        for i in range(6):
            hold("h%d" % i)
        ha, hb = a.held(), b.held()
        check(len(ha) == 3 and len(hb) == 3, "leastconn spread 6 held requests "
              "as A %s, B %s" % (ha, hb))
        for hid in hb:
            check_eq(b.release(hid), [hid], "released")
            r = clients.pop(hid).response()
            check_eq(r.status, 200, "status of released %s" % hid)
        check_reloaded(w, w.reload())
        got = [hold("n%d" % i) for i in range(3)]
        check_eq(got, ["B", "B", "B"], "servers of the 3 requests after the "
                 "reload (A has 3 in flight from before it)")
        got.append(hold("n3"))
        t.diag("  after the reload: %s (A held %s, B held %s)"
               % (got, a.held(), b.held()))
        for bk in (a, b):
            bk.release_all()
        for hid, cl in sorted(clients.items()):
            r = cl.response()
            check_eq(r.status, 200, "status of released %s" % hid)
            if hid.startswith("h"):
                check("close" in r.conn_tokens(), "response from a draining "
                      "worker lacks Connection: close: %s" % r.summary())
    finally:
        for cl in clients.values():
            cl.close()
        a.release_all()
        b.release_all()
    w.check_clean_stop(allow_respawn=True)


def client_conns(port, pid):
    """Established TCP connections on local port held by process pid."""
    mine = socket_inodes(pid)
    n = 0
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port
                    and int(fields[9]) in mine):
                n += 1
    return n


@t.test("SIGKILL a worker under load: respawned within 1s, and at most the "
        "requests on that worker's connections fail")
def _():
    a, b = env.backend("ka"), env.backend("kb")
    w = start([a.addr, b.addr])
    load = Load(w.port, keepalive=4, fresh=3, duration=3.5, timeout=5.0).start()
    time.sleep(1.2)
    before = w.worker_pids()
    # The worker with more client connections: the bound below means more.
    victim = max(before, key=lambda pid: client_conns(w.port, pid))
    # Stopped, the worker accepts nothing more: its count is exact.
    os.kill(victim, signal.SIGSTOP)
    n_open = client_conns(w.port, victim)
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()
    now = wait_until(lambda: (lambda c: c if len(c) == 2 and victim not in c
                              else None)(w.worker_pids()), 3.0, 0.005)
    dt = time.monotonic() - t0
    load.join()
    t.diag("  worker %d killed holding %d client connections; replacement "
           "after %.3fs; load: %s" % (victim, n_open, dt, load.summary()))
    for ft, th, what in load.failures[:10]:
        t.diag("    %.3fs %s: %s" % (ft - load.t0, th, what))
    check(now, "no replacement worker 3s after SIGKILL of %d: %s"
          % (victim, w.worker_pids()))
    check(dt < 1.0, "replacement worker appeared after %.2fs (limit 1s)" % dt)
    check(w.wait_log(r"respawn", 2.0), "no log line with 'respawn':\n"
          + w.log()[-1500:])
    check(len(load.failures) <= n_open, "%d requests failed, but the killed "
          "worker had only %d client connections" % (len(load.failures), n_open))
    check(len(load.ok) >= 0.9 * load.requests and load.requests >= 100,
          "too few requests succeeded: %s" % load.summary())
    w.check_clean_stop(allow_respawn=True)


t.run(None, env)
