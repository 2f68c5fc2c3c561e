"""A throwaway standalone ZooKeeper server for integration tests: Debian's
zookeeper package run straight from its jar, on a free loopback port with a
data dir of its own, that a test can kill and start again on the same port
and data (sessions and nodes survive, as on a real restart).

Python 3 standard library only. A missing java or ZooKeeper jar is an
error, never a skip: the tests that need it must fail loudly.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

from harness import free_port

JAR_DIRS = ("/usr/share/java", "/usr/share/zookeeper")
MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"


def zookeeper_jar():
    """Path of Debian's zookeeper.jar (its manifest names the other jars)."""
    for d in JAR_DIRS:
        p = os.path.join(d, "zookeeper.jar")
        if os.path.exists(p):
            return p
    raise RuntimeError("zookeeper.jar not found in %s: install the Debian "
                       "package zookeeper (scripts/deps)" % ", ".join(JAR_DIRS))


class ZkServer:
    """One standalone server in env's temp dir. tick_ms bounds the session
    timeouts it grants: 2 to 20 ticks, capped by max_session_ms."""

    def __init__(self, env, name="zk", tick_ms=500, max_session_ms=2000):
        self.env = env
        self.dir = env.path(name)
        self.port = free_port()
        self.proc = None
        self.logpath = os.path.join(self.dir, "server.log")
        self.java = shutil.which("java")
        if self.java is None:
            raise RuntimeError("java not found: install the Debian package "
                               "zookeeper (it brings a JRE)")
        self.jar = zookeeper_jar()
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.cfg = os.path.join(self.dir, "zoo.cfg")
        with open(self.cfg, "w") as f:
            f.write("tickTime=%d\n" % tick_ms)
            f.write("dataDir=%s\n" % os.path.join(self.dir, "data"))
            f.write("clientPort=%d\n" % self.port)
            f.write("clientPortAddress=127.0.0.1\n")
            f.write("admin.enableServer=false\n")
            # ruok answers "imok" once the server listens: the wait below.
            f.write("4lw.commands.whitelist=ruok\n")
            f.write("minSessionTimeout=%d\n" % (2 * tick_ms))
            f.write("maxSessionTimeout=%d\n" % max_session_ms)
        env.procs.append(self)

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=30.0):
        """Start the server and wait until it answers ruok."""
        logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [self.java, "-Xmx128m", "-XX:+UseSerialGC",
             "-Dzookeeper.log.dir=" + self.dir,
             "-Dzookeeper.jmx.log4j.disable=true",
             "-cp", self.jar, MAIN, self.cfg],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
            cwd=self.dir)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("zookeeper exited with %d:\n%s"
                                   % (self.proc.returncode, self.log()[-2000:]))
            if self.ruok():
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("zookeeper did not answer within %.0fs:\n%s"
                           % (timeout, self.log()[-2000:]))

    def ruok(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), 1) as s:
                s.settimeout(1)
                s.sendall(b"ruok")
                return s.recv(16) == b"imok"
        except OSError:
            return False

    def kill(self, sig=signal.SIGKILL):
        """Stop the server (SIGKILL: no goodbye to its clients)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def restart(self, timeout=30.0):
        """Kill, then start again on the same port and data dir."""
        self.kill()
        self.start(timeout)

    def log(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""
