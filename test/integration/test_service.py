#!/usr/bin/env python3
"""weir as a service: the sd_notify protocol (READY=1 once every worker
accepts, RELOADING=1 + MONOTONIC_USEC and READY=1 around a reload, a failed
reload's STATUS, STOPPING=1), journal-style log lines when stderr is the
journal, and privileges: started as root with user = nobody no process
stays root, workers hold no capability, the master at most
CAP_NET_BIND_SERVICE; started the systemd unit's way (a user with only an
ambient CAP_NET_BIND_SERVICE) it serves on a port below 1024; without the
capability such a port fails with FILE:LINE at start and on reload.
The privilege tests need root (to become nobody) and skip without it."""
import os
import pwd
import re
import signal
import socket
import subprocess
import time

from harness import (WEIR_BIN, check, check_eq, children, Env, free_port, http,
                     line_of, Skip, Tap, write_config)

t = Tap(budget=90)
env = Env("service")
os.chmod(env.dir, 0o755)   # configs readable by the user weir drops to
backend = None
CAP_NET_BIND_SERVICE = 1 << 10


class Notify:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "weir-test-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            path = env.path("notify-%d.sock" % time.monotonic_ns())
            self.sock.bind(path)
            os.chmod(path, 0o777)      # a dropped weir must reach it too
            self.env = path
        self.sock.settimeout(0.1)
        self.msgs = []

    def wait(self, key, value=None, timeout=15.0):
        """The first message (not seen before) with key (= value)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.msgs):
                if key in m and (value is None or m[key] == value):
                    del self.msgs[:i + 1]
                    return m
            if time.monotonic() > deadline:
                return None
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.msgs.append(dict(line.split("=", 1) for line in data.split("\n")
                                  if "=" in line))

    def close(self):
        self.sock.close()


def start(conf, notify=None, as_user=None, caps=False, stderr=None, extra_env=None):
    """weir -c conf, maybe via setpriv as another user (with only an ambient
    CAP_NET_BIND_SERVICE when caps, as the unit gives it)."""
    cmd = [WEIR_BIN, "-c", conf]
    if as_user:
        set_caps = "-all,+net_bind_service" if caps else "-all"
        cmd = ["setpriv", "--reuid=" + as_user, "--regid=" + group_of(as_user),
               "--clear-groups", "--inh-caps=" + set_caps] + \
              (["--ambient-caps=" + set_caps] if caps else []) + cmd
    e = dict(os.environ)
    e.pop("NOTIFY_SOCKET", None)
    e.pop("JOURNAL_STREAM", None)
    if notify:
        e["NOTIFY_SOCKET"] = notify.env
    e.update(extra_env or {})
    log = stderr or open(env.path("weir-%d.log" % time.monotonic_ns()), "wb")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         env=e, start_new_session=True)
    p.logpath = log.name
    env.procs.append(Proc(p))
    return p


class Proc:
    """Lets Env kill what a test left running and scan its log for
    sanitizer reports."""
    is_weir = True

    def __init__(self, p):
        self.p = p
        self.logpath = p.logpath

    def kill(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()

    def log(self):
        return log_of(self.p)




def group_of(user):
    import grp
    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


def proc_status(pid):
    """/proc/PID/status as a dict, or None once the process is gone (an
    old worker draining after a reload may exit at any moment)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except FileNotFoundError:
        return None
    return out


def tree(p):
    """The master and its workers."""
    return p.pid, children(p.pid)


def conf(port, name="w.ini", workers=2, extra=None, host="127.0.0.1"):
    g = {"workers": workers}
    g.update(extra or {})
    path = env.path(name)
    write_config(path, g, {"web": {"listen": "%s:%d" % (host, port), "backend": "app"}},
                 {"app": {"server": [backend.addr]}})
    os.chmod(path, 0o644)
    return path


def log_of(p):
    with open(p.logpath, errors="replace") as f:
        return f.read()


def stop(p, sig=signal.SIGTERM, timeout=15):
    p.send_signal(sig)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        return None


def exit_code(p, timeout=10):
    """p's exit status, or None if it still runs after timeout seconds."""
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def reload_fails(n, p, port, want):
    """SIGHUP: RELOADING=1, then READY=1 again with want in its STATUS, the
    old generation serving on port, and a clean stop."""
    p.send_signal(signal.SIGHUP)
    check(n.wait("RELOADING", "1") is not None, "no RELOADING=1")
    m = n.wait("READY", "1")
    check(m is not None and want in m.get("STATUS", ""),
          "READY=1 after the failed reload, want %r in its STATUS: %r" % (want, m))
    check_eq(http(port, "GET", "/echo").status, 200, "the old generation serves")
    check_eq(stop(p), 0, "exit status")


def free_low_port():
    """A free port below 1024, 80 if it is free (only root can bind one to
    test)."""
    for port in [80] + list(range(1023, 600, -1)):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise Skip("no free port below 1024")


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root to start weir as another user")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        raise Skip("no user nobody")


def need_privileged_ports():
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        if int(f.read()) < 1024:
            raise Skip("ip_unprivileged_port_start is below 1024 here")


def setup():
    global backend
    backend = env.backend("b1")


def sequence_on(notify, p, port, workers):
    """READY=1 with every worker accepting; a SIGHUP's RELOADING=1 (with the
    time) then READY=1 of the next generation; SIGTERM's STOPPING=1 and
    exit 0."""
    m = notify.wait("READY", "1")
    check(m is not None, "no READY=1; log:\n" + log_of(p)[-2000:])
    status = re.match(r"generation (\d+): %d workers, 1 of 1 servers up$" % workers,
                      m.get("STATUS", ""))
    check(status, "STATUS %r" % m.get("STATUS"))
    gen = int(status.group(1))
    check_eq(len(tree(p)[1]), workers, "workers running at READY=1")
    check_eq(http(port, "GET", "/echo").status, 200, "status of a request at READY=1")
    before = time.monotonic_ns() // 1000
    p.send_signal(signal.SIGHUP)
    m = notify.wait("RELOADING", "1")
    after = time.monotonic_ns() // 1000
    check(m is not None, "no RELOADING=1; log:\n" + log_of(p)[-2000:])
    check(before <= int(m.get("MONOTONIC_USEC", "0")) <= after,
          "MONOTONIC_USEC %r not within [%d, %d]" % (m.get("MONOTONIC_USEC"), before, after))
    m = notify.wait("READY", "1")
    check(m is not None and m.get("STATUS", "").startswith("generation %d:" % (gen + 1)),
          "READY=1 after the reload: %r" % m)
    check_eq(http(port, "GET", "/echo").status, 200, "status after the reload")
    rc = stop(p)
    check(notify.wait("STOPPING", "1") is not None, "no STOPPING=1")
    check_eq(rc, 0, "exit status after SIGTERM")


@t.test("NOTIFY_SOCKET (a path): READY=1 once all workers accept, RELOADING=1 "
        "with MONOTONIC_USEC then READY=1 on SIGHUP, STOPPING=1 on SIGTERM")
def _():
    port = free_port()
    n = Notify()
    try:
        p = start(conf(port), notify=n)
        sequence_on(n, p, port, 2)
    finally:
        n.close()


@t.test("NOTIFY_SOCKET (abstract, '@'): a failed reload sends RELOADING=1, then "
        "READY=1 with STATUS naming FILE:LINE, and the old generation serves")
def _():
    port = free_port()
    n = Notify(abstract=True)
    try:
        path = conf(port, "abstract.ini")
        p = start(path, notify=n)
        check(n.wait("READY", "1") is not None, "no READY=1; log:\n" + log_of(p)[-2000:])
        with open(path, "a") as f:
            f.write("bogus_key = 1\n")
        reload_fails(n, p, port, "reload failed: %s:%d: unknown key 'bogus_key'" % (
            path, line_of(path, "bogus_key")))
    finally:
        n.close()


@t.test("stderr is $JOURNAL_STREAM: lines start with <N> priorities and carry no "
        "timestamp; any other stderr keeps the timestamped format")
def _():
    port = free_port()
    dead = free_port()
    path = env.path("journal.ini")
    write_config(path, {"workers": 1},
                 {"web": {"listen": "127.0.0.1:%d" % port, "backend": "app"}},
                 {"app": {"server": ["127.0.0.1:%d" % dead], "retries": 0}})
    for journal in (True, False):
        logpath = env.path("journal-%s.log" % journal)
        log = open(logpath, "wb")
        st = os.fstat(log.fileno())
        stream = "%d:%d" % (st.st_dev, st.st_ino) if journal else "1:1"
        n = Notify()
        p = start(path, notify=n, stderr=log, extra_env={"JOURNAL_STREAM": stream})
        check(n.wait("READY", "1") is not None, "no READY=1")
        n.close()
        check_eq(http(port, "GET", "/").status, 502, "status with the server down")
        check_eq(stop(p), 0, "exit status")
        lines = [ln for ln in log_of(p).splitlines() if ln]
        if journal:
            bad = [ln for ln in lines if not re.match(r"^<[2-7]>(master|worker \d+)\[\d+\]: ", ln)]
            check(not bad, "lines without a priority prefix: %r" % bad[:3])
            check(any(ln.startswith("<6>master[") and "started" in ln for ln in lines),
                  "no <6> info line from the master: %r" % lines[:5])
            check(any(ln.startswith("<4>worker 0[") and "502" in ln for ln in lines),
                  "no <4> warning line for the 502: %r" % lines)
        else:
            check(lines and all(re.match(r"^\d{4}-\d\d-\d\dT", ln) for ln in lines),
                  "not timestamped: %r" % lines[:3])


@t.test("stderr is $JOURNAL_STREAM: weir -t's FILE:LINE error is a <3> line, "
        "its success a <6> line")
def _():
    bad = env.path("bad-journal.ini")
    with open(bad, "w") as f:
        f.write("[global]\nbogus = 1\n")
    good = conf(free_port(), "good-journal.ini")
    for path, want in ((bad, "<3>%s:2: unknown key 'bogus'" % bad),
                       (good, "<6>weir: configuration file %s is valid" % good)):
        logpath = env.path("t-journal.log")
        with open(logpath, "wb") as log:
            st = os.fstat(log.fileno())
            subprocess.run([WEIR_BIN, "-t", "-c", path], stdout=log, stderr=log,
                           timeout=10, env=dict(os.environ, JOURNAL_STREAM="%d:%d" % (
                               st.st_dev, st.st_ino)))
        with open(logpath) as f:
            text = f.read()
        check(text.startswith(want), "want %r, got %r" % (want, text))


def check_dropped(p, user, master_caps):
    uid = pwd.getpwnam(user).pw_uid
    master, workers = tree(p)
    check(workers, "no workers")
    seen = 0
    for pid in [master] + workers:
        st = proc_status(pid)
        if st is None:
            continue
        seen += 1
        uids = set(int(x) for x in st["Uid"].split())
        gids = set(int(x) for x in st["Gid"].split())
        check_eq(uids, {uid}, "uids of pid %d" % pid)
        check(0 not in gids, "pid %d keeps gid 0: %s" % (pid, st["Gid"]))
        check_eq(st["NoNewPrivs"], "1", "NoNewPrivs of pid %d" % pid)
        want = master_caps if pid == master else 0
        for k in ("CapEff", "CapPrm"):
            check_eq(int(st[k], 16), want, "%s of %s %d" % (
                k, "master" if pid == master else "worker", pid))
        for k in ("CapInh", "CapAmb"):
            check_eq(int(st[k], 16), 0, "%s of pid %d" % (k, pid))
    check(seen >= 2, "only %d of the processes could be checked" % seen)


@t.test("started as root with user = nobody: no process runs as root, workers "
        "hold no capability, the master only CAP_NET_BIND_SERVICE")
def _():
    need_root()
    port = free_port()
    n = Notify()
    try:
        p = start(conf(port, "root.ini", extra={"user": "nobody"}), notify=n)
        check(n.wait("READY", "1") is not None, "no READY=1; log:\n" + log_of(p)[-2000:])
        check_eq(http(port, "GET", "/echo").status, 200, "status")
        check_dropped(p, "nobody", CAP_NET_BIND_SERVICE)
        # A reload still reads the config and starts workers as nobody.
        p.send_signal(signal.SIGHUP)
        check(n.wait("READY", "1") is not None, "no READY=1 after the reload")
        check_dropped(p, "nobody", CAP_NET_BIND_SERVICE)
        check_eq(stop(p), 0, "exit status")
    finally:
        n.close()


@t.test("the unit's way (user nobody, only an ambient CAP_NET_BIND_SERVICE, "
        "NOTIFY_SOCKET): serves below port 1024, READY/RELOADING/READY/STOPPING")
def _():
    need_root()
    port = free_low_port()
    n = Notify()
    try:
        p = start(conf(port, "unit.ini"), notify=n, as_user="nobody", caps=True)
        m = n.wait("READY", "1")
        n.msgs.insert(0, m or {})       # sequence_on() wants to see it too
        check(m is not None, "no READY=1; log:\n" + log_of(p)[-2000:])
        check_dropped(p, "nobody", CAP_NET_BIND_SERVICE)
        sequence_on(n, p, port, 2)
    finally:
        n.close()


@t.test("without CAP_NET_BIND_SERVICE a port below 1024 fails at start with "
        "FILE:LINE: cannot bind ...: permission denied (exit 2), and on reload "
        "the old generation keeps serving")
def _():
    need_root()
    need_privileged_ports()
    low = free_low_port()
    path = conf(low, "low.ini", workers=1)
    p = start(path, as_user="nobody")
    check_eq(exit_code(p), 2, "exit status; log:\n" + log_of(p)[-2000:])
    want = "%s:%d: cannot bind 127.0.0.1:%d: permission denied" % (
        path, line_of(path, "listen"), low)
    check(want in log_of(p), "want %r in %r" % (want, log_of(p)))
    # Running on a high port, a reload that adds the low one fails whole.
    high = free_port()
    path = env.path("reload-low.ini")
    write_config(path, {"workers": 1},
                 {"web": {"listen": "127.0.0.1:%d" % high, "backend": "app"}},
                 {"app": {"server": [backend.addr]}})
    os.chmod(path, 0o644)
    n = Notify()
    try:
        p = start(path, notify=n, as_user="nobody")
        check(n.wait("READY", "1") is not None, "no READY=1; log:\n" + log_of(p)[-2000:])
        write_config(path, {"workers": 1},
                     {"web": {"listen": ["127.0.0.1:%d" % high, "127.0.0.1:%d" % low],
                              "backend": "app"}},
                     {"app": {"server": [backend.addr]}})
        reload_fails(n, p, high, "cannot bind 127.0.0.1:%d: permission denied" % low)
    finally:
        n.close()


@t.test("user = nobody with a config nobody cannot read: startup exits 2 and "
        "says reloads would fail; user = root while not root: exit 2")
def _():
    need_root()
    port = free_port()
    path = conf(port, "secret.ini", extra={"user": "nobody"})
    os.chmod(path, 0o600)
    p = start(path)
    check_eq(exit_code(p), 2, "exit status; log:\n" + log_of(p)[-2000:])
    check("not readable by user nobody" in log_of(p), "log: %r" % log_of(p)[-800:])
    path = conf(port, "other.ini", extra={"user": "root"})
    p = start(path, as_user="nobody")
    check_eq(exit_code(p), 2, "exit status; log:\n" + log_of(p)[-2000:])
    want = "%s:%d: user = root" % (path, line_of(path, "user"))
    check(want in log_of(p), "want %r in %r" % (want, log_of(p)[-800:]))


t.run(setup=setup, env=env)
