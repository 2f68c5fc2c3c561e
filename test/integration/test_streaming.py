#!/usr/bin/env python3
"""Bodies are streamed with backpressure both ways: a slow client reading a
1 GiB response and a slow backend reading a large upload leave the worker's
RSS (VmRSS of the worker children) within 40 MB of where it started."""
import hashlib
import socket
import threading
import time

from harness import (BLOCK, Client, Env, Tap, check, check_eq, http, rss_kb)

t = Tap(budget=80)
env = Env("streaming")
b1 = w = None

GiB = 1 << 30
MiB = 1 << 20
RSS_LIMIT_KB = 40 * 1024
DEADLINE = 70          # seconds for the whole file's transfers
T_START = time.monotonic()
# Any slice of up to 1 MiB starting inside the block can be checked against this.
BIG = BLOCK * 18


def setup():
    global b1, w
    b1 = env.backend("b1")
    w = env.weir(workers=2,
                 frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app",
                                    "max_body_size": "1024m"}},
                 backends={"app": {"server": [b1.addr]}})
    for i in range(4):     # let both workers allocate what they normally use
        http(w.port, "GET", "/big?bytes=200000&warm=%d" % i)
        http(w.port, "POST", "/echo", body=b"x" * 100000)


class RssSampler:
    """Samples VmRSS of every worker every 50 ms; growth over each worker's
    own baseline taken at start."""

    def __init__(self):
        for p in w.worker_pids():
            reset_hwm(p)
        self.base = {p: rss_kb(p) for p in w.worker_pids()}
        self.peak = dict(self.base)
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self.loop, daemon=True)
        self.th.start()

    def loop(self):
        while not self.stop_ev.wait(0.05):
            self.sample()

    def sample(self):
        for p in self.base:
            self.peak[p] = max(self.peak[p], rss_kb(p), hwm_kb(p))

    def finish(self):
        self.stop_ev.set()
        self.th.join(2)
        self.sample()
        growth = {p: self.peak[p] - self.base[p] for p in self.base}
        t.diag("worker RSS baseline kB %s, peak growth kB %s" % (self.base, growth))
        return max(growth.values()) if growth else 0


def reset_hwm(pid):
    """Reset VmHWM (peak RSS) so it covers only this test (Linux >= 4.0)."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
    except OSError:
        pass


def hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def time_left():
    """Seconds left of DEADLINE, stretched like the file's budget by the
    load measured during the run (a hang guard, not a speed check)."""
    return DEADLINE * t.budget_now()[1] - (time.monotonic() - T_START)


def small_rcvbuf_client():
    c = Client.__new__(Client)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
    s.settimeout(10)
    s.connect(("127.0.0.1", w.port))
    c.sock, c.timeout, c.local_port = s, 10, s.getsockname()[1]
    c.buf, c.eof, c.extra = bytearray(), False, b""
    return c


@t.test("slow client reading a 1 GiB response: body intact, worker RSS growth < 40 MB")
def _():
    total = GiB
    b1.reset()
    rss = RssSampler()
    c = small_rcvbuf_client()
    try:
        c.request("GET", "/big?bytes=%d" % total)
        r = c.read_head()
        check_eq(r.status, 200, "status")
        check_eq(r.get("content-length"), str(total), "Content-Length")
        got = len(c.buf)
        check(bytes(c.buf) == BIG[:got], "first body bytes differ")
        c.buf.clear()
        buf = bytearray(MiB)
        mv = memoryview(buf)
        stalls = [16 * MiB, 256 * MiB, 512 * MiB, 768 * MiB]
        while got < total:
            if stalls and got >= stalls[0]:
                stalls.pop(0)
                time.sleep(2.0 if got < 32 * MiB else 1.0)
                ahead = b1.stats()["bytes_out"] - got
                t.diag("stalled at %d MiB: backend is %.1f MiB ahead of the client"
                       % (got >> 20, ahead / MiB))
            check(time_left() > 0, "1 GiB download too slow: %d MiB after %.0fs"
                  % (got >> 20, time.monotonic() - T_START))
            n = c.sock.recv_into(buf, min(MiB, total - got))
            check(n > 0, "connection closed after %d of %d bytes" % (got, total))
            off = got % len(BLOCK)
            if mv[:n] != BIG[off:off + n]:
                raise AssertionError("body differs at offset %d" % got)
            got += n
    finally:
        c.close()
        growth = rss.finish()
    check(growth < RSS_LIMIT_KB, "worker RSS grew by %d kB (limit %d kB)"
          % (growth, RSS_LIMIT_KB))


def upload(size, chunked, stall_query):
    """Send a size-byte body of repeated BLOCKs to /sink; return (json, growth)."""
    rss = RssSampler()
    c = Client(w.port, timeout=30)
    want = hashlib.sha256()
    err = []
    try:
        hdr = [("Transfer-Encoding", "chunked")] if chunked else [("Content-Length", str(size))]
        c.request("POST", "/sink?" + stall_query, hdr)
        frame = (b"%x\r\n" % len(BLOCK) + BLOCK + b"\r\n") if chunked else BLOCK

        def sender():
            try:
                for _i in range(size // len(BLOCK)):
                    c.sock.sendall(frame)
                    want.update(BLOCK)
                if chunked:
                    c.sock.sendall(b"0\r\n\r\n")
            except OSError as e:
                err.append(e)
        th = threading.Thread(target=sender, daemon=True)
        th.start()
        th.join(max(1, time_left()))
        check(not th.is_alive(), "upload of %d MiB not finished in time" % (size >> 20))
        check(not err, "send failed: %s" % err)
        r = c.response("POST")
    finally:
        c.close()
        growth = rss.finish()
    check_eq(r.status, 200, "status: " + r.summary())
    j = r.json()
    check_eq((j["body_len"], j["body_sha256"]), (size, want.hexdigest()), "body at backend")
    return j, growth


@t.test("large upload (320 MiB) to a slow backend: intact, worker RSS growth < 40 MB")
def _():
    j, growth = upload(320 * MiB, False,
                       "stall_ms=2000&stall_every=67108864&stall_each_ms=500")
    check_eq(j["framing"], "length", "framing toward backend")
    check(growth < RSS_LIMIT_KB, "worker RSS grew by %d kB (limit %d kB)"
          % (growth, RSS_LIMIT_KB))


@t.test("chunked upload (128 MiB) to a slow backend: intact, worker RSS growth < 40 MB")
def _():
    j, growth = upload(128 * MiB, True,
                       "stall_ms=1500&stall_every=33554432&stall_each_ms=300")
    check_eq(j["framing"], "chunked", "framing toward backend")
    check(growth < RSS_LIMIT_KB, "worker RSS grew by %d kB (limit %d kB)"
          % (growth, RSS_LIMIT_KB))


@t.test("slow client reading a 256 MiB chunked response: intact, RSS growth < 40 MB")
def _():
    total = 256 * MiB
    rss = RssSampler()
    c = small_rcvbuf_client()
    got = 0
    try:
        c.request("GET", "/bigchunked?bytes=%d" % total)
        r = c.read_head()
        check_eq(r.status, 200, "status")
        check_eq(r.get("transfer-encoding"), "chunked", "Transfer-Encoding")
        stalled = False
        while True:
            check(time_left() > 0, "chunked download too slow: %d MiB" % (got >> 20))
            line = c.read_line()
            n = int(line.split(b";")[0], 16)
            if n == 0:
                break
            while n:
                if not c.buf:
                    c._fill()
                k = min(n, len(c.buf))
                off = got % len(BLOCK)
                if c.buf[:k] != BIG[off:off + k]:
                    raise AssertionError("body differs at offset %d" % got)
                del c.buf[:k]
                got += k
                n -= k
            check_eq(c.read_exact(2), b"\r\n", "chunk terminator")
            if not stalled and got >= 16 * MiB:
                stalled = True
                time.sleep(2.0)
        check_eq(c.read_line(), b"", "end of trailer section")
    finally:
        c.close()
        growth = rss.finish()
    check_eq(got, total, "body length")
    check(growth < RSS_LIMIT_KB, "worker RSS grew by %d kB (limit %d kB)"
          % (growth, RSS_LIMIT_KB))


@t.test("weir stops cleanly on SIGTERM: exit 0, no orphans, no worker died")
def _():
    w.check_clean_stop()


t.run(setup, env)
