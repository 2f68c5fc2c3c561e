#!/usr/bin/env python3
"""ZooKeeper discovery (discovery/zk.c) against a real ZooKeeper server,
through test/zkwatch, which runs one watch and prints each member list it
delivers and each state change. Children as host:port and as JSON; added,
changed and deleted children; malformed ones skipped with one log line;
an ephemeral child gone with its session; the server killed (members kept,
no list delivered) and restarted (re-read); the watch's own session
expired while it was stopped, and the children changed meanwhile."""
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

try:
    from kazoo.client import KazooClient
except ImportError:
    # make check may run a python3 without Debian's modules: python3-kazoo
    # is installed for /usr/bin/python3 (PLATFORM.md). Without it anywhere,
    # the import fails and so does the test.
    if sys.executable != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

from harness import WEIR_BIN, Env, Tap, check, check_eq, wait_until
from zkserver import ZkServer

ZKWATCH = os.environ.get("ZKWATCH_BIN") or os.path.join(
    os.path.dirname(WEIR_BIN), "test", "zkwatch")
PATH = "/services/app"

logging.getLogger("kazoo").setLevel(logging.CRITICAL)
t = Tap(budget=60)
env = Env("zk")
state = {}


class ZkWatch:
    """test/zkwatch in its own process; stdout lines collected by a thread."""
    is_weir = True      # Env.sanitizer_reports() reads its log

    def __init__(self, hosts, path):
        self.logpath = env.path("zkwatch-%d.log" % env.next_id())
        self.lines = []
        self.lock = threading.Lock()
        logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen([ZKWATCH, hosts, path],
                                     stdout=subprocess.PIPE, stderr=logf,
                                     text=True)
        logf.close()
        env.procs.append(self)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def out(self):
        with self.lock:
            return list(self.lines)

    def lists(self):
        return [ln for ln in self.out() if ln.startswith("LIST")]

    def last_list(self):
        ls = self.lists()
        return ls[-1] if ls else None

    def state(self):
        st = [ln for ln in self.out() if ln.startswith("STATE ")]
        return st[-1][6:] if st else None

    def wait_list(self, want, timeout=10):
        """Wait until the last list is want (a list of member strings)."""
        line = "LIST" + "".join(" " + m for m in want)
        got = wait_until(lambda: self.last_list() == line, timeout)
        check(got, "expected %r, last list %r; output:\n%s\nlog:\n%s"
              % (line, self.last_list(), "\n".join(self.out()[-15:]),
                 self.log()[-3000:]))

    def wait_state(self, want, timeout=10):
        check(wait_until(lambda: self.state() == want, timeout),
              "state %r, expected %r; log:\n%s"
              % (self.state(), want, self.log()[-3000:]))

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def kazoo(hosts):
    kz = KazooClient(hosts=hosts, timeout=10)
    kz.start(timeout=15)
    return kz


def setup():
    zk = state["zk"] = ZkServer(env)
    zk.start()
    kz = state["kz"] = kazoo(zk.hosts)
    kz.ensure_path(PATH)
    kz.create(PATH + "/a", b"127.0.0.1:8001")
    kz.create(PATH + "/b", json.dumps({"address": "[::1]:8002",
                                       "weight": 5}).encode())
    state["w"] = ZkWatch(zk.hosts, PATH)


@t.test("connects and delivers both children, plain and JSON, by address")
def test_initial():
    w = state["w"]
    w.wait_state("ok")
    w.wait_list(["127.0.0.1:8001=1@a", "[::1]:8002=5@b"])
    check_eq(len(w.lists()), 1, "lists delivered")


@t.test("a child added: the new list")
def test_add():
    state["kz"].create(PATH + "/c", b" host-c.example:80\n")
    state["w"].wait_list(["127.0.0.1:8001=1@a", "[::1]:8002=5@b",
                          "host-c.example:80=1@c"])


@t.test("a child's data changed: the new list")
def test_change():
    state["kz"].set(PATH + "/a", b'{"address": "127.0.0.1:8011"}')
    state["w"].wait_list(["127.0.0.1:8011=1@a", "[::1]:8002=5@b",
                          "host-c.example:80=1@c"])


@t.test("a child deleted: the list without it")
def test_delete():
    state["kz"].delete(PATH + "/b")
    state["w"].wait_list(["127.0.0.1:8011=1@a", "host-c.example:80=1@c"])


@t.test("malformed children are skipped with one log line each, naming "
        "the node, not repeated while their data stays the same")
def test_malformed():
    kz, w = state["kz"], state["w"]
    bad = {"bad1": b"not an address", "bad2": b'{"weight": 3}',
           "bad3": b'{"address": "127.0.0.1:1", "weight": 999}',
           "bad4": b"127.0.0.1:99999"}
    n0 = len(w.lists())
    for name, data in bad.items():
        kz.create(PATH + "/" + name, data)
    kz.create(PATH + "/d", b"127.0.0.1:8004")
    want = ["127.0.0.1:8004=1@d", "127.0.0.1:8011=1@a",
            "host-c.example:80=1@c"]
    w.wait_list(want)
    # Another change, another round: the bad ones are not logged again.
    kz.delete(PATH + "/d")
    w.wait_list(want[1:])
    check(len(w.lists()) > n0, "lists delivered")
    for ln in w.lists()[n0:]:
        check("bad" not in ln, "a malformed child delivered: %r" % ln)
    log = w.log()
    for name in bad:
        lines = [ln for ln in log.splitlines()
                 if "%s/%s skipped" % (PATH, name) in ln]
        check_eq(len(lines), 1, "log lines naming %s" % name)
    for name in bad:
        kz.delete(PATH + "/" + name)


@t.test("an ephemeral child is gone when its session closes")
def test_ephemeral():
    w = state["w"]
    kz2 = kazoo(state["zk"].hosts)
    kz2.create(PATH + "/eph", b"127.0.0.1:8009", ephemeral=True)
    w.wait_list(["127.0.0.1:8009=1@eph", "127.0.0.1:8011=1@a",
                 "host-c.example:80=1@c"])
    kz2.stop()
    kz2.close()
    w.wait_list(["127.0.0.1:8011=1@a", "host-c.example:80=1@c"])


@t.test("ZooKeeper killed: state lost, members kept (logged), no list; "
        "restarted: state ok, and a deletion right after is seen")
def test_restart():
    zk, w = state["zk"], state["w"]
    state["kz"].stop()
    state["kz"].close()
    n0 = len(w.lists())
    zk.kill()
    w.wait_state("lost")
    check(wait_until(lambda: "keeping 2 members" in w.log(), 5),
          "no 'keeping 2 members' line:\n" + w.log()[-2000:])
    time.sleep(1.5)     # the watch retries meanwhile
    check_eq(len(w.lists()), n0, "lists delivered while ZooKeeper was down")
    zk.start()
    kz = state["kz"] = kazoo(zk.hosts)
    kz.delete(PATH + "/c")
    w.wait_state("ok", timeout=40)
    w.wait_list(["127.0.0.1:8011=1@a"], timeout=10)
    for ln in w.lists()[n0:]:
        check(ln != "LIST", "an empty list was delivered")


@t.test("the watch's session expires while it is stopped and the children "
        "change: a new session, and the list re-read")
def test_expired():
    kz, w = state["kz"], state["w"]
    w.proc.send_signal(signal.SIGSTOP)
    try:
        kz.create(PATH + "/e", b"127.0.0.1:8005")
        # maxSessionTimeout is 2 s: the server expires the session.
        time.sleep(4)
    finally:
        w.proc.send_signal(signal.SIGCONT)
    check(wait_until(lambda: "session expired" in w.log(), 15),
          "no expiry logged:\n" + w.log()[-3000:])
    w.wait_list(["127.0.0.1:8005=1@e", "127.0.0.1:8011=1@a"], timeout=20)
    w.wait_state("ok")
    kz.delete(PATH + "/a")
    w.wait_list(["127.0.0.1:8005=1@e"])


@t.test("one unreachable host in zk_hosts: the watch uses the other")
def test_two_hosts():
    zk = state["zk"]
    dead = ZkServer(env, "zk-dead")     # a free port nobody listens on
    w2 = ZkWatch("127.0.0.1:%d,%s" % (dead.port, zk.hosts), PATH)
    w2.wait_state("ok", timeout=20)
    w2.wait_list(["127.0.0.1:8005=1@e"])
    w2.proc.send_signal(signal.SIGTERM)
    check_eq(w2.proc.wait(10), 0, "exit status")


@t.test("the path deleted, then created: an empty list, then members")
def test_path_gone():
    kz, w = state["kz"], state["w"]
    kz.delete(PATH, recursive=True)
    w.wait_list([])
    kz.create(PATH + "/f", b"127.0.0.1:8006", makepath=True)
    w.wait_list(["127.0.0.1:8006=1@f"])


@t.test("a relative zk_path or a zk_hosts without ports: zk_watch_new() "
        "fails and says why")
def test_bad_args():
    for hosts, path, want in (("127.0.0.1:1", "services/app", "zk_path"),
                              ("127.0.0.1", "/services/app", "zk_hosts")):
        p = subprocess.run([ZKWATCH, hosts, path], capture_output=True,
                           text=True, timeout=10)
        check(p.returncode != 0 and want in p.stderr,
              "%s %s: exit %d, stderr %r" % (hosts, path, p.returncode,
                                             p.stderr))


@t.test("SIGTERM: the watch is freed and the driver exits 0")
def test_exit():
    w = state["w"]
    state["kz"].stop()
    state["kz"].close()
    w.proc.send_signal(signal.SIGTERM)
    check_eq(w.proc.wait(10), 0, "exit status")
    check(wait_until(lambda: w.out() and w.out()[-1] == "EXIT", 2),
          "no EXIT line: %r" % w.out()[-3:])


t.run(setup, env)
