#!/usr/bin/env python3
"""DNS discovery in weir (server = NAME:PORT resolve): a name answered by
dnsserver.py with two, then three A records (backends on 127.0.0.2, .3 and
.4, one port) puts each address in the backend as the answer changes; an
address gone from the answer gets no new request; SERVFAIL and NXDOMAIN
keep the last set (requests keep succeeding, one log line per state
change); the API lists the members with source "dns" and refuses to
DELETE one (409); a reload with the line unchanged keeps its members, one
without the line takes them out; weir -t refuses a bad resolvers value and
a name without 'resolve'."""
import json
import os
import subprocess
import sys

from adminclient import TOKEN, api, write_token
from harness import spread, wait_serving as harness_wait_serving
from harness import (HERE, WEIR_BIN, Env, Tap, check, check_eq, free_port,
                     http, read_line_timeout, run_cmd, wait_until)

NAME = "app.weir.test"
HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")

t = Tap(budget=120)
env = Env("dnsdisc")
B = {}
state = {}


class DnsServer:
    """dnsserver.py in its own process; set() rewrites its table."""

    def __init__(self):
        self.table = env.path("dns.json")
        self.counts = env.path("dns.counts")
        self.set({})
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "dnsserver.py"), self.table,
             self.counts], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(env.path("dns.log"), "ab"))
        self.port = int(read_line_timeout(self.proc.stdout, 10))

    def set(self, table):
        tmp = self.table + ".tmp"
        with open(tmp, "w") as f:
            json.dump(table, f)
        os.replace(tmp, self.table)

    def answer(self, *addrs, **kw):
        entry = {"a": list(addrs), "ttl": 1} if addrs else {}
        entry.update(kw)
        self.set({NAME: entry})

    def queries(self):
        """Queries for NAME so far (A and AAAA, retries included)."""
        try:
            with open(self.counts) as f:
                for line in f:
                    name, n = line.split()
                    if name == NAME:
                        return int(n)
        except OSError:
            pass
        return 0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def setup():
    # One port free on all three loopback addresses.
    for _ in range(10):
        port = free_port()
        try:
            for h in HOSTS:
                B[h] = env.backend("b" + h.rsplit(".", 1)[1], "--host", h,
                                   "--port", str(port))
            break
        except RuntimeError:
            for b in B.values():
                b.kill()
            B.clear()
    check(len(B) == 3, "three backends on one port")
    state["port"] = port
    dns = state["dns"] = DnsServer()
    env.procs.append(dns)


def backend_conf(**kw):
    o = {"server": "%s:%d resolve" % (NAME, state["port"]),
         "resolve_interval": "1s", "balance": "roundrobin"}
    o.update(kw)
    return o


def start():
    return env.weir(workers=2,
                    global_={"resolvers": "127.0.0.1:%d" % state["dns"].port},
                    admin={"listen": "127.0.0.1:auto",
                           "token_file": write_token(env)},
                    frontends={"web": {"listen": "127.0.0.1:auto",
                                       "backend": "app"}},
                    backends={"app": backend_conf()})


def hits(w, n):
    """n GETs on new connections, each answered 200: {backend: count}."""
    return spread(w.port, n)


def names(*hosts):
    return sorted(B[h].name for h in hosts)


def wait_serving(w, hosts, timeout=10):
    """Wait until weir's answers come from exactly those backends."""
    harness_wait_serving(w.port, names(*hosts), timeout)


def listed(w):
    doc = api(w, "GET", "/api/v1/backends/app").json()
    return {s["address"]: s for s in doc["servers"] if not s["removed"]}


@t.test("two A records, then three: traffic reaches each address as the "
        "answer changes; the API lists them with source dns and refuses "
        "to DELETE one (409)")
def _():
    dns = state["dns"]
    dns.answer(HOSTS[0], HOSTS[1])
    w = state["w"] = start()
    wait_serving(w, HOSTS[:2])
    dns.answer(*HOSTS)
    wait_serving(w, HOSTS)
    got = listed(w)
    check_eq(sorted(got), sorted(B[h].addr for h in HOSTS), "listed")
    check_eq({s["source"] for s in got.values()}, {"dns"}, "sources")
    r = api(w, "DELETE", "/api/v1/backends/app/servers/%s" % B[HOSTS[1]].addr,
            token=TOKEN)
    check_eq(r.status, 409, "DELETE of a DNS member: %r" % r)


@t.test("an address gone from the answer gets no new request")
def _():
    w, dns = state["w"], state["dns"]
    off = len(w.log())
    dns.answer(HOSTS[0], HOSTS[2])
    w.wait_line(off, r"server %s removed \(dns\)" % B[HOSTS[1]].addr, 10)
    before = B[HOSTS[1]].stats()["requests"]
    got = hits(w, 30)
    check_eq(sorted(got), names(HOSTS[0], HOSTS[2]), "answering")
    check_eq(B[HOSTS[1]].stats()["requests"], before, "requests to the "
             "removed address")


@t.test("SERVFAIL and NXDOMAIN keep the last set: requests keep "
        "succeeding, one log line per state change")
def _():
    w, dns = state["w"], state["dns"]
    for rcode, text in (("SERVFAIL", "SERVFAIL"), ("NXDOMAIN", "NXDOMAIN")):
        off = len(w.log())
        if rcode == "NXDOMAIN":
            dns.set({})          # a name missing from the table
        else:
            dns.answer(rcode=rcode)
        w.wait_line(off, r"resolving %s: %s, keeping the last 2 addresses"
                    % (NAME, text), 10)
        # Several more failed resolutions, counted at the server.
        n = dns.queries()
        check(wait_until(lambda: dns.queries() >= n + 6, 15),
              "re-resolved while failing")
        got = hits(w, 20)
        check_eq(sorted(got), names(HOSTS[0], HOSTS[2]), "answering")
        check_eq(len(w.lines_after(off, r"resolving %s: " % NAME)), 1,
                 "%s lines" % rcode)
        check_eq(w.lines_after(off, r"removed \(dns\)"), [], "removals")
    off = len(w.log())
    dns.answer(HOSTS[0], HOSTS[2])
    w.wait_line(off, r"resolves again after NXDOMAIN", 10)
    wait_serving(w, (HOSTS[0], HOSTS[2]))


@t.test("a reload with the line unchanged keeps its members (no removal, "
        "no re-add); one without it takes them out")
def _():
    w = state["w"]
    off = len(w.log())
    check("complete" in (w.reload() or ""), "reload")
    check_eq(w.lines_after(off, r"(added|removed) \(dns\)"), [],
             "membership lines after a plain reload")
    wait_serving(w, (HOSTS[0], HOSTS[2]))
    b1 = B[HOSTS[1]]
    w.rewrite(backends={"app": backend_conf(server=b1.addr)})
    off = len(w.log())
    check("complete" in (w.reload() or ""), "reload without the line")
    w.wait_line(off, r"server %s removed \(dns\)" % B[HOSTS[2]].addr, 5)
    wait_serving(w, (HOSTS[1],))
    check_eq(sorted(listed(w)), [b1.addr], "listed")
    w.check_clean_stop(allow_respawn=True)   # reloads replaced the workers


@t.test("weir -t: a bad resolvers value and a name without 'resolve' are "
        "errors with FILE:LINE, exit 2")
def _():
    conf = env.path("t.ini")
    base = "[frontend f]\nlisten = 127.0.0.1:%d\nbackend = app\n" \
        "[backend app]\n" % free_port()
    for text, want in (
            ("[global]\nresolvers = 127.0.0.1:53, dns.example\n" + base +
             "server = %s:80 resolve\n" % NAME,
             "t.ini:2: resolvers: invalid server 'dns.example'"),
            (base + "server = %s:80\n" % NAME,
             "t.ini:5: server: invalid address '%s:80'" % NAME)):
        with open(conf, "w") as f:
            f.write(text)
        r = run_cmd([WEIR_BIN, "-t", "-c", conf])
        check_eq(r.returncode, 2, "exit of -t: %s" % r.stderr)
        check(want in r.stderr, "want %r in %r" % (want, r.stderr))
        if "resolvers" not in text:
            check("resolve" in r.stderr.split(want, 1)[1],
                  "the error names the option: %r" % r.stderr)


t.run(setup=setup, env=env)
