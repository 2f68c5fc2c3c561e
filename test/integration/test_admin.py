#!/usr/bin/env python3
"""The admin API ([admin] in weir.ini): the master answers JSON about itself
and its servers on a TCP port or a unix socket; writes need the bearer
token of token_file. Drain, maint and ready take effect at the next pick
(held requests finish), weights start a new generation built from the
running config, and both survive reloads. The listener stays out of the
workers and a slow client blocks nobody."""
import json
import os
import re
import signal
import socket
import stat
import time

from adminclient import TOKEN, api, write_token
from harness import spread as harness_spread
from harness import (WEIR_BIN, alive, check, check_eq, Client, Env, free_port,
                     have_ipv6_loopback, kill_pid, line_of,
                     listen_inodes, run_cmd, socket_inodes, Tap, wait_until,
                     write_config)

t = Tap(budget=120)
env = Env("admin")


def patch(w, backend, server, body, token=TOKEN, **kw):
    return api(w, "PATCH", "/api/v1/backends/%s/servers/%s"
               % (backend, server), body, token=token, **kw)


def server_state(w, backend, server):
    a = api(w, "GET", "/api/v1/backends/%s/servers/%s" % (backend, server))
    check_eq(a.status, 200, "GET server %s: %r" % (server, a))
    return a.json()


def token_file(name="token", text=TOKEN + "\n", mode=0o600):
    return write_token(env, name, text, mode)


def start(backends, admin=None, workers=2, **kw):
    if admin is None:
        admin = {"listen": "127.0.0.1:auto", "token_file": token_file()}
    return env.weir(workers=workers, admin=admin,
                    frontends={"web": {"listen": "127.0.0.1:auto",
                                       "backend": "app"}},
                    backends=backends, **kw)


def pool(*servers, **keys):
    d = {"balance": "roundrobin"}
    d.update(keys)
    d["server"] = list(servers)
    return {"app": d}


def spread(w, n):
    """n GETs on new connections: {backend name: count}."""
    return harness_spread(w.port, n)


def settled(w):
    """Wait until no older generation is draining; return the status."""
    st = [None]

    def f():
        st[0] = api(w, "GET", "/api/v1/status").json()
        return not st[0]["draining_workers"]
    check(wait_until(f, 10.0, 0.05), "old workers still draining: %r" % st[0])
    return st[0]


def hold(w, backends, hid):
    """Send /hold?id=hid on a new connection; return (client, the name of
    the backend that holds it)."""
    c = Client(w.port, timeout=10)
    c.request("GET", "/hold?id=%s" % hid)

    def where():
        for b in backends:
            if hid in b.held():
                return b.name
        return None
    name = wait_until(where, 3.0, 0.02)
    check(name, "no backend holds %s" % hid)
    return c, name




@t.test("GET /api/v1/status: version, uptime, generation, worker pids, reloads")
def _():
    a = env.backend("st-a")
    w = start(pool(a.addr))
    r = api(w, "GET", "/api/v1/status")
    check_eq(r.status, 200, "status")
    st = r.json()
    version = run_cmd([WEIR_BIN, "-V"]).stdout.split()[1]
    check_eq(st["version"], version, "version")
    check_eq(st["pid"], w.pid, "pid")
    check(isinstance(st["uptime_seconds"], int) and
          0 <= st["uptime_seconds"] < 60, "uptime %r" % st["uptime_seconds"])
    check_eq(st["generation"], 0, "generation")
    check_eq(sorted(st["workers"]), w.worker_pids(), "workers")
    check_eq(st["draining_workers"], [], "draining")
    check_eq(st["last_reload"], None, "last_reload")
    check_eq(st["reloads"], {"ok": 0, "failed": 0}, "reloads")
    check_eq(r.get("Cache-Control"), "no-store", "Cache-Control")
    h = api(w, "HEAD", "/api/v1/status")
    check_eq((h.status, h.body), (200, b""), "HEAD")
    old = w.worker_pids()
    check("complete" in w.reload(), "reload")
    st = settled(w)
    check_eq(st["generation"], 1, "generation after a reload")
    check_eq(sorted(st["workers"]), w.worker_pids(), "new workers")
    check(not set(old) & set(st["workers"]), "old pids listed")
    check_eq(st["reloads"], {"ok": 1, "failed": 0}, "reloads")
    check_eq(st["last_reload"]["result"], "ok", "result")
    check("error" not in st["last_reload"], "no error when ok")
    when = time.strptime(st["last_reload"]["time"], "%Y-%m-%dT%H:%M:%SZ")
    check(abs(time.mktime(when) - time.mktime(time.gmtime())) < 60,
          "reload time %r" % st["last_reload"]["time"])
    w.check_clean_stop(allow_respawn=True)


@t.test("GET /api/v1/backends: every server with address, weight, backup, "
        "health, admin, ejected, exact inflight, requests; IPv6 addresses "
        "by their URL-encoded form")
def _():
    a, b = env.backend("bk-a"), env.backend("bk-b")
    servers = ["%s weight=2" % a.addr, b.addr]
    v6 = None
    if have_ipv6_loopback():
        v6 = "[::1]:%d" % a.port
        servers.append("%s backup" % v6)
    w = env.weir(workers=2, admin={"listen": "127.0.0.1:auto",
                                   "token_file": token_file()},
                 frontends={"web": {"listen": "127.0.0.1:auto",
                                    "backend": "app.v2-x_y"}},
                 backends={"app.v2-x_y": {"balance": "leastconn",
                                          "server": servers}})
    r = api(w, "GET", "/api/v1/backends")
    check_eq(r.status, 200, "backends")
    bes = r.json()["backends"]
    check_eq([(x["name"], x["balance"]) for x in bes],
             [("app.v2-x_y", "leastconn")], "backends")
    want = [{"address": a.addr, "weight": 2, "backup": False, "health": "up",
             "admin": "ready", "ejected": False, "inflight": 0, "requests": 0},
            {"address": b.addr, "weight": 1, "backup": False, "health": "up",
             "admin": "ready", "ejected": False, "inflight": 0, "requests": 0}]
    if v6:
        want.append({"address": v6, "weight": 1, "backup": True,
                     "health": "up", "admin": "ready", "ejected": False,
                     "inflight": 0, "requests": 0})
    got = bes[0]["servers"]
    check_eq([{k: sv.get(k) for k in want[0]} for sv in got], want, "servers")
    check_eq([sv.get("last_check", "missing") for sv in got], [None] * len(want),
             "last_check without health checks")
    check_eq(api(w, "GET", "/api/v1/backends/app.v2-x_y").json(), bes[0],
             "one backend")
    # In-flight counts are the shared ones, exact.
    c1, n1 = hold(w, [a, b], "i1")
    c2, n2 = hold(w, [a, b], "i2")
    check_eq(sorted([n1, n2]), ["bk-a", "bk-b"], "leastconn spreads two")
    check_eq([s["inflight"] for s in api(
        w, "GET", "/api/v1/backends").json()["backends"][0]["servers"]],
        [1, 1, 0] if v6 else [1, 1], "inflight while held")
    a.release_all()
    b.release_all()
    for c in (c1, c2):
        check_eq(c.response().status, 200, "held request")
        c.close()
    check(wait_until(lambda: all(s["inflight"] == 0 for s in api(
        w, "GET", "/api/v1/backends").json()["backends"][0]["servers"]),
        3.0), "inflight back to 0")
    if v6:
        for path in ("%5B%3A%3A1%5D%3A" + str(a.port),
                     "%5b::1%5d:" + str(a.port)):
            check_eq(server_state(w, "app.v2-x_y", path)["address"], v6,
                     "server by %s" % path)
    # Odd bytes in a name still make valid JSON (printable ASCII).
    r = api(w, "GET", "/api/v1/backends/%22q%22%0A%FF%C3%A9")
    check_eq(r.status, 404, "odd name")
    err = r.json()["error"]
    check(err.startswith("no backend '\"q\"?") and all(
        0x20 <= ord(ch) < 0x7f for ch in err), "error %r" % err)
    w.check_clean_stop()


@t.test("writes need the bearer token: 401 with WWW-Authenticate when it is "
        "missing, wrong, of another length or another scheme; 403 with no "
        "token_file; reads need none")
def _():
    a = env.backend("tk-a")
    w = start(pool(a.addr))
    srv = a.addr
    for hdr in (None, "Bearer " + TOKEN[:-1] + "X", "Bearer " + TOKEN[:-1],
                "Bearer " + TOKEN + "X", "Bearer", "Basic " + TOKEN,
                "Bearer  x", TOKEN):
        h = {"Authorization": hdr} if hdr is not None else {}
        r = patch(w, "app", srv, {"admin": "drain"}, token=None, headers=h)
        check_eq(r.status, 401, "Authorization %r" % hdr)
        check(r.get("WWW-Authenticate", "").startswith("Bearer"),
              "WWW-Authenticate %r" % r.get("WWW-Authenticate"))
        check("error" in r.json(), "error body")
    check_eq(server_state(w, "app", srv)["admin"], "ready",
             "nothing changed by refused writes")
    # The scheme is case-insensitive; blanks around the token do not count.
    r = patch(w, "app", srv, {"admin": "drain"}, token=None,
              headers={"Authorization": "bearer   %s  " % TOKEN})
    check_eq((r.status, r.json()["admin"]), (200, "drain"), "right token")
    check(patch(w, "app", srv, {"admin": "ready"}).status == 200, "ready")
    check(re.search(r"admin: PATCH \S+ from 127\.0\.0\.1:\d+: 401", w.log()),
          "refused writes are logged")
    w.check_clean_stop()

    w = start(pool(a.addr), admin={"listen": "127.0.0.1:auto"})
    r = patch(w, "app", srv, {"admin": "drain"})
    check_eq(r.status, 403, "no token_file")
    check("token_file" in r.json()["error"], "403 says why: %r" % r)
    check_eq(api(w, "GET", "/api/v1/backends").status, 200, "reads")
    check_eq(server_state(w, "app", srv)["admin"], "ready", "unchanged")
    w.check_clean_stop()


@t.test("400 for bad JSON, unknown fields and bad values; 404 for unknown "
        "backends, servers and paths; 405 with Allow for other methods")
def _():
    a = env.backend("er-a")
    w = start(pool(a.addr))
    srv = a.addr
    for body, word in ((b"{\"admin\": ", "invalid JSON"),
                       (b"", "invalid JSON"),
                       (b"{\"admin\": \"drain\"} x", "invalid JSON"),
                       (b"{\"admin\": \"drain\", \"admin\": \"ready\"}",
                        "invalid JSON"),
                       ([], "expected a JSON object"),
                       ({}, "expected a JSON object"),
                       ({"admin": "drain", "color": "red"}, "unknown field 'color'"),
                       ({"weight": 300}, "weight: expected"),
                       ({"weight": -1}, "weight: expected"),
                       ({"weight": 1.5}, "weight: expected"),
                       ({"weight": "2"}, "weight: expected"),
                       ({"weight": True}, "weight: expected"),
                       ({"admin": "foo"}, "admin: expected"),
                       ({"admin": None}, "admin: expected"),
                       ({"admin": "drain", "weight": 257}, "weight: expected")):
        r = patch(w, "app", srv, body)
        check_eq(r.status, 400, "body %r" % (body,))
        check(word in r.json()["error"], "body %r: %r" % (body, r))
    s = server_state(w, "app", srv)
    check_eq((s["admin"], s["weight"]), ("ready", 1), "nothing applied")
    check_eq(api(w, "GET", "/api/v1/status").json()["generation"], 0,
             "no generation started")
    for path in ("/api/v1/backends/nope", "/api/v1/backends/nope/servers/%s"
                 % srv, "/api/v1/backends/app/servers/127.0.0.1:1",
                 "/api/v1/backends/app/servers/bogus", "/", "/api",
                 "/api/v2/status", "/api/v1/backends/", "/api/v1/status/x",
                 "/api/v1/backends/app/hosts/%s" % srv, "/metrics/x"):
        r = api(w, "GET", path)
        check_eq(r.status, 404, "GET %s" % path)
        check("error" in r.json(), "404 body")
    check_eq(patch(w, "nope", srv, {"admin": "drain"}).status, 404,
             "PATCH unknown backend")
    check_eq(patch(w, "app", "127.0.0.1:1", {"admin": "drain"}).status, 404,
             "PATCH unknown server")
    # A server of the file is the file's: DELETE is refused, not unknown.
    r = api(w, "DELETE", "/api/v1/backends/app/servers/" + srv, token=TOKEN)
    check_eq(r.status, 409, "DELETE of a file server")
    check("configuration file" in r.json()["error"], "409 body: %r" % r)
    for method, path, allow in (
            ("PUT", "/api/v1/backends/app/servers/" + srv,
             "GET, HEAD, PATCH, DELETE"),
            ("GET", "/api/v1/backends/app/servers", "POST"),
            ("POST", "/api/v1/status", "GET, HEAD"),
            ("PATCH", "/api/v1/backends/app", "GET, HEAD"),
            ("DELETE", "/metrics", "GET, HEAD")):
        r = api(w, method, path, token=TOKEN)
        check_eq(r.status, 405, "%s %s" % (method, path))
        check_eq(r.get("Allow"), allow, "Allow of %s %s" % (method, path))
        check("error" in r.json(), "405 body")
    w.check_clean_stop()


@t.test("a token_file others may read, or an empty one, is refused by -t and "
        "at startup (exit 2, FILE:LINE)")
def _():
    for name, text, mode, word in (
            ("open.token", TOKEN, 0o644, "mode 0644"),
            ("group.token", TOKEN, 0o640, "mode 0640"),
            ("empty.token", "\n", 0o600, "first line is empty"),
            ("missing.token", None, 0, "cannot open")):
        path = env.path(name)
        if text is not None:
            token_file(name, text, mode)
        conf = env.path("refused-%s.ini" % name)
        write_config(conf, {"workers": 1},
                     {"web": {"listen": "127.0.0.1:1", "backend": "app"}},
                     {"app": {"server": "127.0.0.1:2"}},
                     {"listen": "127.0.0.1:3", "token_file": path})
        want = "%s:%d: token_file %s: " % (conf, line_of(conf, "token_file"),
                                            path)
        for args in (["-t", "-c", conf], ["-c", conf]):
            p = run_cmd([WEIR_BIN] + args)
            check_eq(p.returncode, 2, "weir %s (%s)" % (" ".join(args), name))
            check(want in p.stderr and word in p.stderr,
                  "weir %s: expected %r and %r in:\n%s"
                  % (" ".join(args), want, word, p.stderr))


@t.test("SIGHUP re-reads the token: a new one takes effect, one others may "
        "read fails the reload and the old token stays")
def _():
    a = env.backend("rt-a")
    path = token_file("reload.token")
    w = start(pool(a.addr), admin={"listen": "127.0.0.1:auto",
                                   "token_file": path})
    os.chmod(path, 0o644)
    line = w.reload()
    want = "%s:%d: token_file %s: " % (w.conf, line_of(w.conf, "token_file"),
                                        path)
    check(line and "reload failed" in line and want in line and
          "mode 0644" in line, "reload: %r" % line)
    check_eq(patch(w, "app", a.addr, {"weight": 1}).status, 200,
             "old token after the failed reload")
    st = api(w, "GET", "/api/v1/status").json()
    check_eq(st["reloads"], {"ok": 0, "failed": 1}, "reloads")
    check_eq(st["last_reload"]["result"], "failed", "result")
    check(want in st["last_reload"]["error"], "error %r" % st["last_reload"])
    token_file("reload.token", "n3w-token\n", 0o600)
    check("complete" in w.reload(), "reload with a new token")
    check_eq(patch(w, "app", a.addr, {"weight": 1}).status, 401, "old token")
    check_eq(patch(w, "app", a.addr, {"weight": 1}, token="n3w-token").status,
             200, "new token")
    check_eq(api(w, "GET", "/api/v1/status").json()["reloads"],
             {"ok": 1, "failed": 1}, "reloads")
    # The listen address may change on reload too.
    old_port = w.admin_port
    w.admin_port = None             # "auto" picks a new one
    w.rewrite()
    check(w.admin_port != old_port, "a new admin port")
    check("complete" in w.reload(), "reload with a new admin port")
    check_eq(api(w, "GET", "/api/v1/status").status, 200, "new port answers")
    try:
        socket.create_connection(("127.0.0.1", old_port), timeout=2).close()
        check(False, "the old admin port still accepts")
    except ConnectionRefusedError:
        pass
    w.check_clean_stop(allow_respawn=True)


@t.test("drain: the held request finishes, no new request reaches the server, "
        "ready brings it back; both changes logged")
def _():
    a, b = env.backend("dr-a"), env.backend("dr-b")
    w = start(pool(a.addr, b.addr))
    clients = {}
    placed = {}
    for hid in ("d1", "d2"):
        clients[hid], placed[hid] = hold(w, [a, b], hid)
    check_eq(sorted(placed.values()), ["dr-a", "dr-b"], "roundrobin holds")
    ha = [h for h, n in placed.items() if n == "dr-a"][0]
    r = patch(w, "app", a.addr, {"admin": "drain"})
    check_eq(r.status, 200, "drain")
    check_eq((r.json()["admin"], r.json()["inflight"]), ("drain", 1),
             "drained server, one request in flight")
    check_eq(spread(w, 20), {"dr-b": 20}, "requests while a drains")
    check_eq(a.release(ha), [ha], "release a's held request")
    r = clients.pop(ha).response()
    check_eq((r.status, r.body), (200, b"released " + ha.encode()),
             "the held request finished")
    check(wait_until(lambda: server_state(w, "app", a.addr)["inflight"] == 0,
                     3.0), "a has nothing in flight")
    r = patch(w, "app", a.addr, {"admin": "ready"})
    check_eq((r.status, r.json()["admin"]), (200, "ready"), "ready")
    check_eq(spread(w, 20), {"dr-a": 10, "dr-b": 10}, "requests once ready")
    b.release_all()
    for c in clients.values():
        check_eq(c.response().status, 200, "b's held request")
        c.close()
    for change in ("ready -> drain", "drain -> ready"):
        w.wait_line(0, r"admin: server app/%s admin %s$"
                    % (re.escape(a.addr), change))
    check_eq(api(w, "GET", "/api/v1/status").json()["generation"], 0,
             "admin states need no new generation")
    w.check_clean_stop()


@t.test("maint: no requests and no health checks for the server; ready "
        "brings both back")
def _():
    a, b = env.backend("mt-a"), env.backend("mt-b")
    w = start(pool(a.addr, b.addr, health_check="http",
                   health_path="/healthz", health_interval="50ms"))

    def checks(x):
        return x.stats()["health_checks"]
    check(wait_until(lambda: checks(a) >= 2 and checks(b) >= 2, 5.0),
          "health checks run")
    check_eq(patch(w, "app", a.addr, {"admin": "maint"}).json()["admin"],
             "maint", "maint")
    check_eq(spread(w, 10), {"mt-b": 10}, "requests in maint")
    # A check already under way may still land; after b saw three more,
    # a's count must stand still while b sees five more.
    n = checks(b)
    check(wait_until(lambda: checks(b) >= n + 3, 5.0), "b still checked")
    base, n = checks(a), checks(b)
    check(wait_until(lambda: checks(b) >= n + 5, 5.0), "b still checked")
    check_eq(checks(a), base, "health checks of a in maintenance")
    check_eq(server_state(w, "app", a.addr)["health"], "up", "health kept")
    check_eq(patch(w, "app", a.addr, {"admin": "ready"}).status, 200, "ready")
    check(wait_until(lambda: checks(a) > base, 5.0), "a checked again")
    check_eq(spread(w, 10), {"mt-a": 5, "mt-b": 5}, "requests once ready")
    w.wait_line(0, r"admin: server app/%s admin ready -> maint$"
                % re.escape(a.addr))
    w.wait_line(0, r"admin: server app/%s admin maint -> ready$"
                % re.escape(a.addr))
    w.check_clean_stop()


@t.test("weight: a new generation from the running config (not the file "
        "as edited since) makes 3:1 exact over 400 requests; 0 takes none")
def _():
    a, b = env.backend("wt-a"), env.backend("wt-b")
    w = start(pool(a.addr, b.addr))
    # Edited but not reloaded: the API must not pick this up.
    w.rewrite(backends=pool(a.addr, "%s weight=5" % b.addr))
    off = len(w.log())
    r = patch(w, "app", a.addr, {"weight": 3})
    check_eq((r.status, r.json()["weight"]), (200, 3), "weight 3")
    w.wait_line(off, r"admin: server app/%s weight 1 -> 3$" % re.escape(a.addr))
    w.wait_line(off, r"generation 1 started")
    st = settled(w)
    check_eq(st["generation"], 1, "generation")
    check_eq(st["reloads"], {"ok": 0, "failed": 0}, "not a reload")
    check_eq(server_state(w, "app", b.addr)["weight"], 1, "b's weight")
    check_eq(spread(w, 400), {"wt-a": 300, "wt-b": 100}, "3:1 split")
    r = patch(w, "app", a.addr, {"weight": 0})
    check_eq((r.status, r.json()["weight"]), (200, 0), "weight 0")
    settled(w)
    check_eq(spread(w, 40), {"wt-b": 40}, "weight 0")
    # The same weight again starts nothing.
    gen = api(w, "GET", "/api/v1/status").json()["generation"]
    check_eq(patch(w, "app", a.addr, {"weight": 0}).status, 200, "again")
    check_eq(api(w, "GET", "/api/v1/status").json()["generation"], gen,
             "no generation for an unchanged weight")
    check_eq(patch(w, "app", a.addr, {"weight": 1, "admin": "drain"}).json()
             ["admin"], "drain", "weight and admin at once")
    w.wait_line(off, r"admin: server app/%s admin ready -> drain$"
                % re.escape(a.addr))
    settled(w)
    check_eq(spread(w, 10), {"wt-b": 10}, "drained after a new generation")
    w.check_clean_stop(allow_respawn=True)


@t.test("overrides survive SIGHUP for servers the new file keeps and are "
        "dropped with a removed server")
def _():
    a, b, c = env.backend("ov-a"), env.backend("ov-b"), env.backend("ov-c")
    w = start(pool(a.addr, b.addr))
    check_eq(patch(w, "app", a.addr, {"admin": "drain"}).status, 200, "drain")
    check_eq(patch(w, "app", b.addr, {"weight": 2}).status, 200, "weight")
    w.rewrite(backends=pool(a.addr, b.addr, c.addr))
    check("complete" in w.reload(), "reload")
    settled(w)
    got = {s["address"]: (s["admin"], s["weight"]) for s in api(
        w, "GET", "/api/v1/backends").json()["backends"][0]["servers"]}
    check_eq(got, {a.addr: ("drain", 1), b.addr: ("ready", 2),
                   c.addr: ("ready", 1)}, "after the reload")
    check_eq(spread(w, 30), {"ov-b": 20, "ov-c": 10}, "requests")
    off = len(w.log())
    w.rewrite(backends=pool(b.addr, c.addr))
    check("complete" in w.reload(), "reload without a")
    w.wait_line(off, r"admin: server app/%s is gone from the configuration; "
                r"its overrides are dropped" % re.escape(a.addr))
    w.rewrite(backends=pool(a.addr, b.addr, c.addr))
    check("complete" in w.reload(), "reload with a again")
    settled(w)
    got = {s["address"]: (s["admin"], s["weight"]) for s in api(
        w, "GET", "/api/v1/backends").json()["backends"][0]["servers"]}
    check_eq(got, {a.addr: ("ready", 1), b.addr: ("ready", 2),
                   c.addr: ("ready", 1)}, "a back from the file")
    w.check_clean_stop(allow_respawn=True)


@t.test("a unix socket listener: mode 0660, GET and PATCH; a stale socket "
        "file is replaced, any other file refused")
def _():
    a = env.backend("ux-a")
    sock = env.path("admin.sock")
    adm = {"listen": "unix:" + sock, "token_file": token_file()}
    w = start(pool(a.addr), admin=adm)
    st = os.lstat(sock)
    check(stat.S_ISSOCK(st.st_mode), "a socket")
    check_eq(oct(st.st_mode & 0o7777), oct(0o660), "mode")
    check_eq(api(w, "GET", "/api/v1/status", unix=sock).json()["pid"], w.pid,
             "status over the unix socket")
    check_eq(patch(w, "app", a.addr, {"admin": "drain"}, unix=sock).status,
             200, "PATCH over the unix socket")
    # Killed: the file stays; the next weir takes it over.
    workers = w.worker_pids()
    kill_pid(w.pid, signal.SIGKILL)
    check(wait_until(lambda: not any(alive(p) for p in workers + [w.pid]),
                     5.0), "killed weir gone")
    w.stop()
    check(os.path.exists(sock), "the socket file outlives a killed weir")
    w = start(pool(a.addr), admin=adm)
    check(w.wait_log(r"removed the stale socket"), "stale socket removed")
    check_eq(api(w, "GET", "/api/v1/status", unix=sock).json()["pid"], w.pid,
             "the new weir answers")
    w.check_clean_stop()
    check(not os.path.exists(sock), "the socket file removed at exit")
    with open(sock, "w") as f:
        f.write("not a socket")
    conf = env.path("unix-file.ini")
    write_config(conf, {"workers": 1},
                 {"web": {"listen": "127.0.0.1:%d" % free_port(),
                          "backend": "app"}},
                 pool(a.addr), adm)
    p = run_cmd([WEIR_BIN, "-c", conf])
    check_eq(p.returncode, 2, "start with a file in the way")
    check("%s:%d: admin listen unix:%s: the file exists and is not a socket"
          % (conf, line_of(conf, "listen = unix"), sock) in p.stderr,
          "error: %s" % p.stderr)
    with open(sock) as f:
        check_eq(f.read(), "not a socket", "the file is left alone")


@t.test("a slow client blocks no other request and is closed after the "
        "timeout; GET /metrics and /status answer")
def _():
    a = env.backend("sl-a")
    w = start(pool(a.addr))
    silent = Client(w.admin_port, timeout=20)
    partial = Client(w.admin_port, timeout=20)
    partial.send(b"GET /api/v1/status HTTP/1.1\r\nHo")
    t0 = time.monotonic()
    for _ in range(5):
        check_eq(api(w, "GET", "/api/v1/status", timeout=3).status, 200,
                 "status beside slow clients")
    m = api(w, "GET", "/metrics")
    check_eq(m.status, 200, "/metrics")
    check(m.get("Content-Type").startswith("text/plain"), "metrics type")
    check(re.search(rb'^weir_build_info\{version="[^"]+"\} 1$', m.body, re.M),
          "build info: %r" % m.body)
    s = api(w, "GET", "/status")
    check_eq(s.status, 200, "/status")
    check(s.get("Content-Type").startswith("text/html") and
          b"<html" in s.body, "status page")
    # Bounded by the 5 s timeout (twice that, and more on a loaded machine).
    limit = 10 + 3 * max(0.0, os.getloadavg()[0] - 1)
    for c, what in ((silent, "silent"), (partial, "partial head")):
        check(c.wait_closed(max(0.1, limit - (time.monotonic() - t0))),
              "%s connection still open after %.0fs" % (what, limit))
        c.close()
    check_eq(api(w, "GET", "/api/v1/status").status, 200, "still serving")
    w.check_clean_stop()


def conn_inode(local_port, remote_port):
    """Inode of the established TCP socket local_port <-> remote_port."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            lp = int(fields[1].rsplit(":", 1)[1], 16)
            rp = int(fields[2].rsplit(":", 1)[1], 16)
            if lp == local_port and rp == remote_port and fields[3] == "01":
                return int(fields[9])
    return None


@t.test("workers hold no admin socket: not the listener, not a connection "
        "open while they were forked")
def _():
    a = env.backend("fk-a")
    w = start(pool(a.addr))
    old = w.worker_pids()
    c = Client(w.admin_port, timeout=10)
    inode = wait_until(lambda: conn_inode(w.admin_port, c.local_port), 2.0)
    check(inode and inode in socket_inodes(w.pid),
          "the master holds the admin connection (inode %r)" % inode)
    check("complete" in w.reload(), "reload forks new workers")
    check(wait_until(lambda: w.worker_pids() and
                     not set(w.worker_pids()) & set(old), 5.0),
          "new workers")
    lis = listen_inodes(w.admin_port)
    check(lis, "admin listener inode")
    for p in w.worker_pids() + old:
        held = socket_inodes(p)
        check(not held & lis, "worker %d holds the admin listener" % p)
        check(inode not in held, "worker %d holds the admin connection" % p)
    check_eq(api(w, "GET", "/api/v1/status").status, 200, "serving")
    c.close()
    w.check_clean_stop(allow_respawn=True)


t.run(None, env)
