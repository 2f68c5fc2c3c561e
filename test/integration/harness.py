"""Shared plumbing for weir's integration tests: TAP output, temp dirs and
process cleanup, the weir binary under test, Python backends in separate
processes, and a strict raw-socket HTTP/1.1 client.

Python 3.11 standard library only. Every wait has a timeout, every port is
picked at run time, every process started here is killed on exit.
"""
import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WEIR_BIN = os.path.abspath(os.environ.get("WEIR_BIN") or os.path.join(REPO, "weir"))
KEEP = os.environ.get("WEIR_TEST_KEEP") == "1"

sys.path.insert(0, HERE)
from backend import BLOCK  # noqa: E402  (the pattern big bodies repeat)

TOKEN_RE = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


# ---------------------------------------------------------------- TAP

class Skip(Exception):
    """Raised by a test to report itself as skipped."""


class Tap:
    """TAP producer: t.ok(cond, desc) directly, or @t.test(desc) + t.run()."""

    def __init__(self, budget=45.0):
        self.tests = []
        self.n = 0
        self.failed = 0
        self.planned = False
        # Seconds the whole file may take on an idle machine; tests not
        # started by then fail without running, so a hanging weir cannot
        # stretch the file's time. It is a guard against hangs, not a check
        # of speed: on a busy machine (make -j4 check, other jobs) it grows
        # with the load measured during the run (see budget_now).
        self.budget = budget
        self.peak_load = 0.0

    def _out(self, line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def diag(self, msg):
        for line in str(msg).rstrip("\n").split("\n"):
            self._out("# " + line)

    def plan(self, n):
        self._out("1..%d" % n)
        self.planned = True

    def ok(self, cond, desc, diag=None):
        self.n += 1
        self._out("%s %d - %s" % ("ok" if cond else "not ok", self.n, desc))
        if not cond:
            self.failed += 1
            if diag:
                self.diag(diag)
        return bool(cond)

    def skip(self, desc, reason):
        self.n += 1
        self._out("ok %d - %s # SKIP %s" % (self.n, desc, reason))

    def test(self, desc):
        def deco(fn):
            self.tests.append((desc, fn))
            return fn
        return deco

    def run_one(self, desc, fn):
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            self.skip(desc, str(e))
            return
        except Exception:
            self.ok(False, desc, traceback.format_exc())
            return
        self.ok(True, desc)
        if time.monotonic() - t0 > 5:
            self.diag("  (took %.1fs)" % (time.monotonic() - t0))

    def budget_now(self):
        """(budget in seconds, load factor): the budget times the highest
        1-minute load average per CPU seen so far in this run (at least 1),
        since each runnable task on a core slows every other one down."""
        try:
            self.peak_load = max(self.peak_load, os.getloadavg()[0])
        except OSError:
            pass
        factor = max(1.0, self.peak_load / (os.cpu_count() or 1))
        return self.budget * factor, factor

    def run(self, setup=None, env=None):
        """Print the plan, run setup then every test, clean up, exit 0."""
        self.plan(len(self.tests) + (1 if env else 0))
        setup_err = None
        t0 = time.monotonic()
        self.budget_now()
        if setup:
            try:
                setup()
            except Exception:
                setup_err = traceback.format_exc()
                self.diag("setup failed:\n" + setup_err)
        for desc, fn in self.tests:
            if setup_err:
                self.ok(False, desc, "setup failed (see above)")
            elif time.monotonic() - t0 > self.budget_now()[0]:
                self.ok(False, desc, "not run: the file's time budget of %.0fs "
                        "(%.0fs x %.1f for the load) is used up"
                        % (self.budget_now()[0], self.budget, self.budget_now()[1]))
            else:
                self.run_one(desc, fn)
        if env:
            env.kill_all()
            reports = env.sanitizer_reports()
            self.ok(not reports, "no sanitizer reports in any weir log",
                    "\n".join(reports)[:4000])
            env.finish(self.failed > 0)
        self.diag("%d/%d failed, %.1fs" % (self.failed, self.n, time.monotonic() - t0))
        sys.exit(0)

    def done(self):
        if not self.planned:
            self.plan(self.n)
        sys.exit(0)


def check(cond, msg):
    """assert that survives python -O and carries a readable message."""
    if not cond:
        raise AssertionError(msg)


def check_eq(got, want, what):
    if got != want:
        raise AssertionError("%s: expected %r, got %r" % (what, want, got))


def line_of(path, prefix):
    """The number of the first line of path starting with prefix."""
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if line.startswith(prefix):
                return i
    raise AssertionError("no %r line in %s" % (prefix, path))


def wait_until(pred, timeout, interval=0.02):
    """Poll pred() until it returns a true value or timeout; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- ports, /proc

def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (bind port 0, read it, close)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def proc_stat(pid):
    """(state, ppid) of a process, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def children(pid):
    """Live (non-zombie) children of pid, sorted."""
    out = []
    for p in all_pids():
        st = proc_stat(p)
        if st and st[1] == pid and st[0] != "Z":
            out.append(p)
    return sorted(out)


def pids_with_arg(text):
    """Live processes whose command line contains text."""
    out = []
    for p in all_pids():
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if text.encode() in cmd and alive(p):
            out.append(p)
    return sorted(out)


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tcp_inode(local_port, remote_port, any_state=False):
    """Inode of the ESTABLISHED (any_state: also closing) loopback TCP
    socket local_port <- remote_port (/proc/net/tcp and tcp6), or None."""
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            lp = int(fields[1].rsplit(":", 1)[1], 16)
            rp = int(fields[2].rsplit(":", 1)[1], 16)
            state = fields[3]  # 01 ESTABLISHED, 0A LISTEN
            wanted = state != "0A" if any_state else state == "01"
            if wanted and lp == local_port and rp == remote_port:
                return int(fields[9])
    return None


def socket_inodes(pid):
    """Inodes of the sockets open in process pid."""
    out = set()
    d = "/proc/%d/fd" % pid
    try:
        names = os.listdir(d)
    except OSError:
        return out
    for fd in names:
        try:
            link = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m:
            out.add(int(m.group(1)))
    return out


def listen_inodes(port):
    """Inodes of the TCP sockets in LISTEN state on port (v4 and v6)."""
    out = set()
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                out.add(inode)
    return out


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


# ---------------------------------------------------------------- environment

class Env:
    """A temp dir for configs and logs plus every process started in it.

    finish() (also run at exit and on SIGTERM) kills what is left, then
    deletes the dir, or keeps it and says where when something failed or
    WEIR_TEST_KEEP=1.
    """

    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="weir-%s-" % name)
        self.procs = []          # Backend / Weir objects
        self.seq = 0
        self.finished = False
        atexit.register(self._atexit)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum, frame):
        raise SystemExit(128 + signum)

    def _atexit(self):
        if not self.finished:
            self.finish(True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def next_id(self):
        self.seq += 1
        return self.seq

    def kill_all(self):
        for p in reversed(self.procs):
            try:
                p.kill()
            except Exception:
                traceback.print_exc()

    def finish(self, failed):
        if self.finished:
            return
        self.finished = True
        self.kill_all()
        if failed or KEEP:
            sys.stdout.write("# logs kept in %s\n" % self.dir)
            sys.stdout.flush()
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def sanitizer_reports(self):
        """ASan/UBSan/LSan lines in the logs of every weir this env ran."""
        marks = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                 "runtime error:")
        out = []
        for p in self.procs:
            if isinstance(p, Weir) or getattr(p, "is_weir", False):
                for line in p.log().splitlines():
                    if any(m in line for m in marks):
                        out.append("%s: %s" % (os.path.basename(p.logpath), line))
        return out

    def backend(self, name, *args):
        b = Backend(self, name, list(args))
        self.procs.append(b)
        b.start()
        return b

    def weir(self, **kw):
        w = Weir(self, **kw)
        self.procs.append(w)
        w.start()
        return w


# ---------------------------------------------------------------- backend

class Backend:
    """backend.py in its own process; talks to its control port for stats."""

    def __init__(self, env, name, args):
        self.env = env
        self.name = name
        self.args = args
        self.proc = None
        self.port = None
        self.control = None

    @property
    def host(self):
        """The address it listens on: --host, else 127.0.0.1."""
        a = self.args
        return a[a.index("--host") + 1] if "--host" in a else "127.0.0.1"

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    def start(self):
        self.logf = open(self.env.path("backend-%s.log" % self.name), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "backend.py"), "--name", self.name]
            + self.args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.logf)
        line = read_line_timeout(self.proc.stdout, 10)
        m = re.match(r"PORT (\d+) CONTROL (\d+)", line)
        if not m:
            raise RuntimeError("backend %s did not start: %r" % (self.name, line))
        self.port, self.control = int(m.group(1)), int(m.group(2))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc:
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        if getattr(self, "logf", None):
            self.logf.close()

    def _ctl(self, path):
        c = Client(self.control, host=self.host, timeout=10)
        try:
            c.send(b"GET %s HTTP/1.1\r\nHost: ctl\r\n\r\n" % path.encode())
            return c.response().json()
        finally:
            c.close()

    def stats(self):
        return self._ctl("/stats")

    def reset(self):
        return self._ctl("/reset")

    def raw(self):
        return self._ctl("/raw")["raw"].encode("latin-1")

    def set(self, **kw):
        return self._ctl("/set?" + "&".join("%s=%d" % kv for kv in kw.items()))

    def held(self):
        """Ids of the /hold requests this backend is holding now, oldest first."""
        return self._ctl("/held")["held"]

    def release(self, hid):
        """Answer held request hid ("released HID"); returns the ids released
        once their responses are written ([] if hid is not held)."""
        return self._ctl("/release?id=%s" % hid)["released"]

    def release_all(self):
        """Answer every held request; returns the ids released."""
        return self._ctl("/release-all")["released"]

    def wait_open(self, pred, timeout):
        """Poll stats until pred(open connections) holds; return the count."""
        n = [None]

        def f():
            n[0] = self.stats()["open"]
            return pred(n[0])
        wait_until(f, timeout, 0.05)
        return n[0]


def read_line_timeout(f, timeout):
    """One line from a pipe, giving up after timeout seconds."""
    import select
    fd = f.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            break
        d = os.read(fd, 1)
        if not d:
            break
        data += d
    return data.decode("latin-1")


# ---------------------------------------------------------------- weir

def write_config(path, global_=None, frontends=None, backends=None,
                 admin=None, sections=None):
    """Write a weir INI file. Values that are lists become repeated keys.

    frontends / backends map a section name to a dict of keys; order is kept.
    admin, a dict of keys, becomes an [admin] section. sections holds
    other sections written last, in order: a list of (header, dict) pairs
    or a dict of header -> keys, e.g. ("route api", {...}),
    ("limit per_ip", {...}). Returns the text written.
    """
    lines = ["[global]"]
    for k, v in (global_ or {}).items():
        lines.append("%s = %s" % (k, v))
    for kind, secs in (("frontend", frontends or {}), ("backend", backends or {})):
        for name, opts in secs.items():
            lines.append("")
            lines.append("[%s %s]" % (kind, name))
            for k, v in opts.items():
                for item in (v if isinstance(v, list) else [v]):
                    lines.append("%s = %s" % (k, item))
    if isinstance(sections, dict):
        sections = list(sections.items())
    for header, opts in sections or []:
        lines += ["", "[%s]" % header]
        for k, v in opts.items():
            for item in (v if isinstance(v, list) else [v]):
                lines.append("%s = %s" % (k, item))
    if admin is not None:
        lines += ["", "[admin]"] + ["%s = %s" % kv for kv in admin.items()]
    text = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return text


class StartError(RuntimeError):
    pass


class Weir:
    """The binary under test, started on a generated config.

    Listen entries may be "HOST:auto" (e.g. "127.0.0.1:auto", "[::1]:auto",
    or "127.0.0.1:auto tls" for a TLS listener): each gets a free port at
    start time; self.ports[frontend] lists them in order and self.port is
    the first one of the first frontend.

    admin is the [admin] section (a dict of keys); a listen of "HOST:auto"
    gets a free port at start, self.admin_port, kept by rewrite().
    """

    def __init__(self, env, global_=None, frontends=None, backends=None,
                 workers=2, pidfile=False, log_level="info", admin=None,
                 sections=None):
        self.env = env
        self.id = env.next_id()
        self.global_ = {"workers": workers, "log_level": log_level}
        if pidfile:
            self.global_["pidfile"] = env.path("weir-%d.pid" % self.id)
        self.global_.update(global_ or {})
        self.pidfile = self.global_.get("pidfile")
        self.frontends_tmpl = frontends or {}
        self.backends = backends or {}
        self.sections = sections or []
        self.admin_tmpl = admin
        self.admin = None
        self.admin_port = None
        self.conf = env.path("weir-%d.ini" % self.id)
        self.logpath = env.path("weir-%d.log" % self.id)
        self.proc = None
        self.initial_workers = []
        self.stopped = None

    @property
    def pid(self):
        return self.proc.pid

    def _resolve_ports(self, fresh_admin=False):
        self.ports = {}
        fronts = {}
        for name, opts in self.frontends_tmpl.items():
            o = dict(opts)
            ls = o.get("listen", ["127.0.0.1:auto"])
            ls = ls if isinstance(ls, list) else [ls]
            out = []
            self.ports[name] = []
            for item in ls:
                # "HOST:auto tls": the flag after the address stays as is.
                item, sep, flag = item.partition(" ")
                if item.endswith(":auto"):
                    host = item[:-5]
                    p = free_port(host.strip("[]"))
                    item = "%s:%d" % (host, p)
                self.ports[name].append(int(item.rsplit(":", 1)[1]))
                out.append(item + sep + flag)
            o["listen"] = out
            fronts[name] = o
        self.frontends = fronts
        first = next(iter(self.ports.values()), [None])
        self.port = first[0]
        self.admin = dict(self.admin_tmpl) if self.admin_tmpl is not None else None
        listen = (self.admin or {}).get("listen", "")
        if listen.endswith(":auto"):
            host = listen[:-5]
            if fresh_admin or self.admin_port is None:
                self.admin_port = free_port(host.strip("[]"))
            self.admin["listen"] = "%s:%d" % (host, self.admin_port)

    def listen_addrs(self):
        out = []
        for opts in self.frontends.values():
            for item in opts["listen"]:
                host, port = item.split(" ", 1)[0].rsplit(":", 1)
                out.append((host.strip("[]"), int(port)))
        return out

    def expected_workers(self):
        w = self.global_.get("workers")
        if w == "auto":
            return None
        return int(w)

    def start(self, timeout=10):
        last = None
        for attempt in range(3):
            self._resolve_ports(fresh_admin=True)
            write_config(self.conf, self.global_, self.frontends, self.backends,
                         self.admin, self.sections)
            try:
                self._start_once(timeout)
                return self
            except StartError as e:
                last = e
                self.kill()
                if "in use" not in self.log():
                    break
        raise last

    def _start_once(self, timeout):
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen([WEIR_BIN, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        for host, port in self.listen_addrs():
            while True:
                if self.proc.poll() is not None:
                    raise StartError("weir exited with %s during start; log:\n%s"
                                     % (self.proc.returncode, self.log()[-3000:]))
                try:
                    with socket.create_connection((host, port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise StartError("port %s:%d never accepted; log:\n%s"
                                         % (host, port, self.log()[-3000:]))
                    time.sleep(0.02)
        n = self.expected_workers()
        left = max(0.1, deadline - time.monotonic())
        if n:
            ok = wait_until(lambda: len(self.worker_pids()) == n, left)
        else:
            ok = wait_until(self._workers_settled, left, 0.01)
        if not ok:
            raise StartError("expected %s workers, found %s; log:\n%s"
                             % (n, self.worker_pids(), self.log()[-3000:]))
        self.initial_workers = self.worker_pids()

    def _workers_settled(self):
        """True once the worker set is non-empty and unchanged for 0.3s."""
        first = self.worker_pids()
        if not first:
            return False
        time.sleep(0.3)
        return self.worker_pids() == first

    def worker_pids(self):
        if not self.proc or self.proc.poll() is not None:
            return []
        return children(self.proc.pid)

    def worker_of(self, client, port=None, any_state=False):
        """The worker pid holding weir's side of client's connection to
        port (default: self.port), or None (not accepted yet; any_state:
        or closed by weir, where a connection weir shut but lingers on
        still counts)."""
        ino = tcp_inode(port or self.port, client.local_port, any_state)
        if ino is None:
            return None
        for pid in self.worker_pids():
            if ino in socket_inodes(pid):
                return pid
        return None

    def all_pids(self):
        """Every live process started from this config (master, workers, orphans)."""
        return pids_with_arg(self.conf)

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=2.0):
        """The first match of regex pattern in the log, waiting up to timeout."""
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log()), timeout, 0.05)

    def check_error_logged(self, client_port, status, timeout=2.0):
        """Assert the warn line "client IP:PORT: STATUS ..." for that client."""
        pat = r"\[warn\].*client \S+:%d: %d " % (client_port, status)
        m = self.wait_log(pat, timeout)
        check(m, "no log line matching %r; log tail:\n%s" % (pat, self.log()[-1500:]))
        return m

    def check_workers_unchanged(self):
        now = self.worker_pids()
        check(now == self.initial_workers,
              "worker pids changed: %s -> %s (a worker crashed?); log tail:\n%s"
              % (self.initial_workers, now, self.log()[-1500:]))

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signal the master, wait, SIGKILL after timeout, then kill leftovers.

        Returns a dict: rc, elapsed, killed_master (bool), leftovers (pids
        still running from this config once the master was gone).
        """
        if self.proc is None:
            return None
        res = {"rc": None, "elapsed": 0.0, "killed_master": False, "leftovers": []}
        workers = self.worker_pids()
        t0 = time.monotonic()
        if self.proc.poll() is None:
            kill_pid(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                res["killed_master"] = True
                kill_pid(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        res["rc"] = self.proc.returncode
        res["elapsed"] = time.monotonic() - t0
        # Workers may need a moment to notice the master left.
        def left():
            return sorted(set(self.all_pids()) | {p for p in workers if alive(p)})
        if not wait_until(lambda: not left(), 1.0):
            res["leftovers"] = left()
        for p in res["leftovers"]:
            kill_pid(p)
        self.stopped = res
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None
        return res

    def kill(self):
        """Cleanup: SIGTERM, SIGKILL after 5s, then anything left from this config."""
        if self.proc is not None and self.stopped is None:
            self.stop(signal.SIGTERM, 5.0)
        for p in self.all_pids():
            kill_pid(p)

    def check_clean_stop(self, allow_respawn=False):
        """Stop with SIGTERM and assert: exit 0, no orphans, pidfile gone,
        and (unless allowed) no worker died during the run."""
        if not allow_respawn:
            self.check_workers_unchanged()
            check("respawn" not in self.log(),
                  "log mentions respawn:\n" + self.log()[-1500:])
        res = self.stop()
        check(not res["killed_master"], "master ignored SIGTERM for 5s")
        check_eq(res["rc"], 0, "master exit status after SIGTERM")
        check(not res["leftovers"], "processes left after master exit: %s" % res["leftovers"])
        if self.pidfile:
            check(not os.path.exists(self.pidfile), "pidfile %s not removed" % self.pidfile)
        return res

    def rewrite(self, global_=None, frontends=None, backends=None, admin=None,
                sections=None):
        """Write a new config to the same file (for a reload): global_ keys
        are merged into the current ones, frontends / backends / sections
        replace theirs when given. Listen entries "HOST:auto" get a free port, the
        others stay; self.ports is updated. The file is replaced by a
        rename, so a reload never reads half of it. Returns the text."""
        if global_:
            self.global_.update(global_)
        # Without new frontends the resolved ones stay (no new "auto" ports).
        self.frontends_tmpl = frontends if frontends is not None else self.frontends
        if backends is not None:
            self.backends = backends
        if admin is not None:
            self.admin_tmpl = admin
        if sections is not None:
            self.sections = sections
        self._resolve_ports()
        tmp = self.conf + ".tmp"
        text = write_config(tmp, self.global_, self.frontends, self.backends,
                            self.admin, self.sections)
        os.rename(tmp, self.conf)
        return text

    def reload(self, timeout=5.0):
        """SIGHUP the master and wait for "reload complete" or "reload
        failed" after this point of the log; returns that line (None if
        neither came within timeout)."""
        off = len(self.log())
        kill_pid(self.proc.pid, signal.SIGHUP)
        rx = re.compile(r"reload (complete|failed)")

        def find():
            for line in self.log()[off:].splitlines():
                if rx.search(line):
                    return line
            return None
        return wait_until(find, timeout, 0.02)

    def lines_after(self, offset, pattern):
        """Log lines after byte offset that match regex pattern."""
        rx = re.compile(pattern)
        return [l for l in self.log()[offset:].splitlines() if rx.search(l)]

    def wait_line(self, offset, pattern, timeout=2.0):
        """The first log line after byte offset matching pattern, waiting up
        to timeout; raises AssertionError with the log tail if none came."""
        line = wait_until(lambda: (self.lines_after(offset, pattern) or [None])[0],
                          timeout, 0.02)
        check(line, "no log line matching %r within %.1fs; log tail:\n%s"
              % (pattern, timeout, self.log()[-2500:]))
        return line


# ---------------------------------------------------------------- HTTP client

class ProtocolError(Exception):
    """The peer sent something that is not valid HTTP/1.1."""


class Response:
    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []
        self.body = b""
        self.framing = None      # "length", "chunked", "eof", "none"
        self.trailers = []
        self.raw_head = b""
        self.interim = []
        self.client_port = None

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def get(self, name):
        v = self.all(name)
        return v[-1] if v else None

    def has(self, name):
        return bool(self.all(name))

    def conn_tokens(self):
        out = []
        for v in self.all("connection"):
            out += [t.strip().lower() for t in v.split(",") if t.strip()]
        return out

    def json(self):
        return json.loads(self.body)

    def summary(self):
        return "%r + %d body bytes (%s)" % (self.raw_head.decode("latin-1"),
                                             len(self.body), self.framing)

    def __repr__(self):
        return "<Response %s %s>" % (self.status, self.summary())


def build_request(method="GET", path="/echo", headers=None, body=None,
                  version="HTTP/1.1", host="weir.test"):
    """Bytes of a request; adds Host (unless host is None) and Content-Length
    (when a body is given and no framing header is)."""
    hs = []
    if host is not None:
        hs.append(("Host", host))
    hs += list(headers or [])
    names = {n.lower() for n, _ in hs}
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        hs.append(("Content-Length", str(len(body))))
    out = "%s %s %s\r\n" % (method, path, version)
    out += "".join("%s: %s\r\n" % h for h in hs) + "\r\n"
    return out.encode("latin-1") + (body or b"")


class Client:
    """A raw TCP client with a strict HTTP/1.1 response reader."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, source=None):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source is not None:
            # A source address of our own, e.g. 127.0.0.7 (any of 127/8 works).
            try:
                self.sock.bind((source, 0))
            except OSError:
                self.sock.close()
                raise
        self.sock.connect((host, port))
        self.timeout = timeout
        self.local_port = self.sock.getsockname()[1]
        self.buf = bytearray()
        self.eof = False
        self.extra = b""

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method="GET", path="/echo", headers=None, body=None,
                version="HTTP/1.1", host="weir.test"):
        self.send(build_request(method, path, headers, body, version, host))

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def _fill(self):
        if self.eof:
            raise EOFError("connection closed by peer")
        try:
            d = self.sock.recv(262144)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            raise EOFError("connection closed by peer")
        self.buf += d

    def _take(self, n):
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        return self._take(n)

    def read_line(self, limit=65536):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = self._take(i + 1)
                if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
                    raise ProtocolError("line not ending in CRLF: %r" % line)
                return line[:-2]
            if len(self.buf) > limit:
                raise ProtocolError("line too long")
            self._fill()

    def read_to_eof(self, limit=1 << 30):
        while True:
            try:
                self._fill()
            except EOFError:
                break
            if len(self.buf) > limit:
                raise ProtocolError("body over limit")
        return self._take(len(self.buf))

    def read_some(self, timeout=1.0):
        """Whatever arrives within timeout (b"" at EOF or when nothing came)."""
        if self.buf:
            return self._take(len(self.buf))
        self.sock.settimeout(timeout)
        try:
            self._fill()
        except (EOFError, socket.timeout):
            pass
        finally:
            self.sock.settimeout(self.timeout)
        return self._take(len(self.buf))

    def read_until_len(self, n, timeout=5.0):
        """Read exactly n bytes of raw stream data (tunnel payloads)."""
        self.sock.settimeout(timeout)
        try:
            return self.read_exact(n)
        finally:
            self.sock.settimeout(self.timeout)

    def read_head(self):
        """Status line and fields of one response (strictly checked)."""
        r = Response()
        raw = []
        line = self.read_line()
        raw.append(line)
        m = re.match(rb"^HTTP/(1\.[01]) (\d{3}) ([\t \x21-\x7e\x80-\xff]*)$", line)
        if not m:
            raise ProtocolError("bad status line %r" % line)
        r.version = "HTTP/" + m.group(1).decode()
        r.status = int(m.group(2))
        r.reason = m.group(3).decode("latin-1")
        while True:
            line = self.read_line()
            raw.append(line)
            if not line:
                break
            if b":" not in line:
                raise ProtocolError("header line without colon %r" % line)
            name, value = line.split(b":", 1)
            if not TOKEN_RE.match(name):
                raise ProtocolError("bad header name %r" % name)
            if any(c < 0x20 and c != 9 or c == 0x7F for c in value):
                raise ProtocolError("control byte in header %r" % line)
            r.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        r.raw_head = b"\r\n".join(raw) + b"\r\n"
        return r

    def read_response(self, method="GET"):
        """One response, which may be a 1xx; body read by its framing."""
        r = self.read_head()
        r.client_port = self.local_port
        te = r.all("transfer-encoding")
        cl = r.all("content-length")
        if te and cl:
            raise ProtocolError("response has both Transfer-Encoding and Content-Length")
        if len(set(cl)) > 1:
            raise ProtocolError("response has differing Content-Length %r" % cl)
        if cl and not re.match(r"^\d+$", cl[0]):
            raise ProtocolError("bad Content-Length %r" % cl[0])
        if method == "HEAD" or r.status < 200 or r.status in (204, 304):
            r.framing = "none"
            if r.status in (101,):
                r.framing = "tunnel"
            if te and r.status in (204,) or (r.status < 200 and (te or cl)):
                raise ProtocolError("%d response with framing headers" % r.status)
            return r
        if te:
            codings = [t.strip().lower() for v in te for t in v.split(",")]
            if codings != ["chunked"]:
                raise ProtocolError("unexpected Transfer-Encoding %r" % te)
            r.framing = "chunked"
            r.body, r.trailers = self.read_chunked_body()
        elif cl:
            r.framing = "length"
            r.body = self.read_exact(int(cl[0]))
        else:
            r.framing = "eof"
            r.body = self.read_to_eof()
        return r

    def read_chunked_body(self):
        body = bytearray()
        while True:
            line = self.read_line()
            size = line.split(b";", 1)[0]
            if not re.match(rb"^[0-9a-fA-F]{1,16}$", size):
                raise ProtocolError("bad chunk size line %r" % line)
            n = int(size, 16)
            if n == 0:
                break
            body += self.read_exact(n)
            if self.read_exact(2) != b"\r\n":
                raise ProtocolError("chunk not followed by CRLF")
        trailers = []
        while True:
            line = self.read_line()
            if not line:
                break
            trailers.append(line.decode("latin-1"))
        return bytes(body), trailers

    def response(self, method="GET"):
        """The final response; 1xx responses before it land in .interim."""
        interim = []
        while True:
            r = self.read_response(method)
            if 100 <= r.status < 200 and r.status != 101:
                interim.append(r)
                continue
            r.interim = interim
            return r

    def wait_closed(self, timeout=3.0):
        """True if the peer closes (FIN or RST) within timeout. Bytes that
        arrive meanwhile are kept in self.extra."""
        if self.eof:
            return True
        deadline = time.monotonic() + timeout
        extra = bytearray(self.buf)
        self.buf.clear()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                try:
                    d = self.sock.recv(65536)
                except socket.timeout:
                    return False
                except (ConnectionResetError, BrokenPipeError):
                    self.eof = True
                    return True
                if not d:
                    self.eof = True
                    return True
                extra += d
        finally:
            self.extra = bytes(extra)
            self.sock.settimeout(self.timeout)


def http(port, method="GET", path="/echo", headers=None, body=None,
         version="HTTP/1.1", host="weir.test", timeout=5.0, addr="127.0.0.1"):
    """One request on a new connection; returns the final Response."""
    with Client(port, addr, timeout) as c:
        c.request(method, path, headers, body, version, host)
        r = c.response(method)
        r.client_port = c.local_port
        return r


def spread(port, n):
    """n GETs on new connections, each checked 200: {X-Backend: count}."""
    out = {}
    for i in range(n):
        r = http(port, path="/echo?n=%d" % i)
        check_eq(r.status, 200, "request %d" % i)
        out[r.get("X-Backend")] = out.get(r.get("X-Backend"), 0) + 1
    return out


def wait_serving(port, names, timeout=10):
    """Wait until rounds of requests to port all succeed and reach exactly
    the backends names (while members are still coming, weir answers
    503); fail naming what the last round reached."""
    want = sorted(names)

    def round_():
        got = set()
        for i in range(3 * len(want)):
            r = http(port, path="/echo?w=%d" % i)
            if r.status != 200:
                return None
            got.add(r.get("X-Backend"))
        return sorted(got)
    got = wait_until(lambda: round_() == want and round_() == want and want,
                     timeout, 0.1)
    check_eq(got, want, "servers answering (last round: %r)" % round_())


def raw_exchange(port, data, timeout=5.0, method="GET", close_wait=3.0):
    """Send raw bytes on a new connection; return (response or None,
    closed-afterwards bool, client port, bytes after the response, or a
    description of what arrived when no response could be parsed)."""
    with Client(port, timeout=timeout) as c:
        try:
            c.send(data)
        except OSError:
            pass
        try:
            r = c.response(method)
        except (EOFError, ProtocolError, socket.timeout, OSError) as e:
            return None, True, c.local_port, "%s: %r" % (type(e).__name__, bytes(c.buf))
        closed = c.wait_closed(close_wait)
        return r, closed, c.local_port, c.extra


def pattern(n, offset=0):
    """The bytes backend.py sends for a body of n bytes starting at offset."""
    out = bytearray()
    pos = offset
    while len(out) < n:
        i = pos % len(BLOCK)
        k = min(len(BLOCK) - i, n - len(out))
        out += BLOCK[i:i + k]
        pos += k
    return bytes(out)


def run_cmd(args, timeout=10, **kw):
    """Run a short command; returns CompletedProcess (text mode)."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


# ---------------------------------------------------------------- log times

LOG_TS_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z ")


def log_time(line):
    """The wall-clock time (seconds since the epoch) a weir log line carries."""
    import calendar
    m = LOG_TS_RE.match(line)
    check(m, "log line without a timestamp: %r" % line)
    y, mo, d, h, mi, s, ms = (int(x) for x in m.groups())
    return calendar.timegm((y, mo, d, h, mi, s)) + ms / 1000.0


# ---------------------------------------------------------------- load

class Load:
    """A bounded load generator: threads sending GETs to one port until
    stop() or duration seconds. "keepalive" threads reuse a connection until
    a response says Connection: close (or is close-delimited), or until the
    server closes it while idle (seen before the next request is sent); the
    "fresh" threads open a new connection per request. Every request that
    does not end in a complete 200 is a failure and is never retried:
    connect errors, send errors, resets, timeouts, short reads, protocol
    errors and other statuses each count once.
    """

    def __init__(self, port, keepalive=2, fresh=2, duration=6.0, path="/echo",
                 timeout=5.0, host="127.0.0.1"):
        import threading
        self.port = port
        self.host = host
        self.nkeep = keepalive
        self.nfresh = fresh
        self.duration = duration
        self.path = path
        self.timeout = timeout
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = []
        self.ok = []             # (monotonic end time, backend, reused conn)
        self.failures = []       # (monotonic time, thread, what)
        self.connections = 0
        self.closed_by_header = 0
        self.closed_idle = 0     # closed by the server while idle (not failures)
        self.t0 = None

    def start(self):
        import threading
        self.t0 = time.monotonic()
        self.deadline = self.t0 + self.duration
        for i in range(self.nkeep):
            self.threads.append(threading.Thread(
                target=self._run, args=("ka%d" % i, True), daemon=True))
        for i in range(self.nfresh):
            self.threads.append(threading.Thread(
                target=self._run, args=("new%d" % i, False), daemon=True))
        for th in self.threads:
            th.start()
        return self

    def stop(self):
        self.stop_ev.set()
        self.join()

    def join(self):
        for th in self.threads:
            th.join(self.duration + self.timeout + 5)

    def running(self):
        return any(th.is_alive() for th in self.threads)

    @property
    def requests(self):
        return len(self.ok) + len(self.failures)

    def backends(self, since=None):
        """{backend name: successful requests}, optionally only those that
        ended after monotonic time since."""
        out = {}
        with self.lock:
            for end, name, _ in self.ok:
                if since is None or end >= since:
                    out[name] = out.get(name, 0) + 1
        return out

    def summary(self):
        return ("%d requests (%d ok, %d failed) on %d connections in %.1fs; "
                "%d closed after Connection: close, %d closed while idle"
                % (self.requests, len(self.ok), len(self.failures),
                   self.connections, time.monotonic() - self.t0,
                   self.closed_by_header, self.closed_idle))

    def _fail(self, name, what):
        with self.lock:
            self.failures.append((time.monotonic(), name, what))

    def _idle_closed(self, c):
        """True if the server closed (or reset) c while it sat idle; False
        if it is still open. Unsolicited bytes raise ProtocolError."""
        import select
        r, _, _ = select.select([c.sock], [], [], 0)
        if not r:
            return False
        try:
            d = c.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if d:
            raise ProtocolError("%d unsolicited bytes on an idle connection"
                                % len(c.sock.recv(65536)))
        return True

    def _run(self, name, keepalive):
        c = None
        n = 0
        while not self.stop_ev.is_set() and time.monotonic() < self.deadline:
            n += 1
            stage = "connect"
            reused = False
            try:
                if c is not None:
                    try:
                        if self._idle_closed(c):
                            with self.lock:
                                self.closed_idle += 1
                            c.close()
                            c = None
                    except ProtocolError as e:
                        c.close()
                        c = None
                        self._fail(name, "before request %d: %s" % (n, e))
                        continue
                if c is None:
                    c = Client(self.port, self.host, self.timeout)
                    with self.lock:
                        self.connections += 1
                else:
                    reused = True
                stage = "send"
                c.request("GET", "%s?load=%s-%d" % (self.path, name, n))
                stage = "response"
                r = c.response()
            except Exception as e:
                got = len(c.buf) if c is not None else 0
                self._fail(name, "request %d (%s connection) at %s: %s: %s "
                           "(%d bytes of a response)"
                           % (n, "reused" if reused else "new", stage,
                              type(e).__name__, e, got))
                if c is not None:
                    c.close()
                c = None
                continue
            if r.status != 200:
                self._fail(name, "request %d: %s" % (n, r.summary()[:300]))
            else:
                with self.lock:
                    self.ok.append((time.monotonic(), r.get("X-Backend"), reused))
            if not keepalive or "close" in r.conn_tokens() or r.framing == "eof":
                if keepalive:
                    with self.lock:
                        self.closed_by_header += 1
                c.close()
                c = None
        if c is not None:
            c.close()
