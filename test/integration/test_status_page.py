#!/usr/bin/env python3
"""The status page in a real browser: headless Chromium loads /status from
the admin listener, runs its script under the page's own
Content-Security-Policy, and the rendered DOM names every server with its
state as a word (up, down, maint, draining); the frontends table shows the
requests made. A screenshot is saved as status-page.png beside the test
logs."""
import html.parser
import json
import os
import shutil
import subprocess
import urllib.request

from harness import Env, Skip, Tap, check, check_eq, free_port, http, wait_until

t = Tap(budget=90)
env = Env("status-page")
CHROMIUM = shutil.which("chromium")
w = admin = None
up = dead = maint = None


class Rows(html.parser.HTMLParser):
    """Server rows (data-server, data-state, their cell texts) and frontend
    rows of the rendered page."""

    def __init__(self):
        super().__init__()
        self.servers, self.frontends = {}, {}
        self.row = None
        self.cells = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and ("data-server" in a or "data-frontend" in a):
            self.row = a
            self.cells = []
        elif tag == "td" and self.cells is not None:
            self.cells.append("")

    def handle_data(self, data):
        if self.cells:
            self.cells[-1] += data

    def handle_endtag(self, tag):
        if tag != "tr" or self.row is None:
            return
        if "data-server" in self.row:
            self.servers[self.row["data-server"]] = (self.row["data-state"], self.cells)
        else:
            self.frontends[self.row["data-frontend"]] = self.cells
        self.row = self.cells = None


def chromium(*args):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-dev-shm-usage", "--no-first-run", "--enable-logging=stderr",
           "--user-data-dir=" + env.path("chromium-profile"),
           "--virtual-time-budget=5000"] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def server_health(addr):
    """health of addr as /api/v1/backends says."""
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/backends" % admin,
                                timeout=5) as f:
        doc = json.load(f)
    for b in doc.get("backends", doc) if isinstance(doc, dict) else doc:
        for s in b["servers"]:
            if s["address"] == addr:
                return s["health"]
    return None


def setup():
    global w, admin, up, dead, maint
    if CHROMIUM is None:
        return
    b1 = env.backend("b1")
    admin = free_port()
    up, dead, maint = b1.addr, "127.0.0.1:%d" % free_port(), "127.0.0.1:%d" % free_port()
    w = env.weir(workers=2,
                 frontends={"web": {"listen": "127.0.0.1:auto", "backend": "app"}},
                 backends={"app": {"server": [up, dead, maint + " disabled"],
                                   "health_check": "tcp", "health_interval": "200ms",
                                   "health_fall": 1}},
                 admin={"listen": "127.0.0.1:%d" % admin})
    for _ in range(10):
        http(w.port, "GET", "/echo")


@t.test("headless Chromium renders /status: every server with its state word, "
        "the frontend's requests, no Content-Security-Policy violation")
def _():
    if CHROMIUM is None:
        raise Skip("chromium is not installed (apt-get install chromium)")
    # The dead server is down once its check has failed.
    check(wait_until(lambda: server_health(dead) == "down", 5),
          "the dead server never went down")
    p = chromium("--dump-dom", "http://127.0.0.1:%d/status" % admin)
    check_eq(p.returncode, 0, "chromium exit status; stderr:\n" + p.stderr[-2000:])
    rows = Rows()
    rows.feed(p.stdout)
    t.diag("servers: %s" % {k: v[0] for k, v in rows.servers.items()})
    check_eq(sorted(rows.servers), sorted([up, dead, maint]), "servers on the page")
    check_eq(rows.servers[up][0], "up", "state of %s" % up)
    check_eq(rows.servers[dead][0], "down", "state of %s" % dead)
    check_eq(rows.servers[maint][0], "maint", "state of %s" % maint)
    for addr, (state, cells) in rows.servers.items():
        check(state in cells[1], "%s: the state is not written out: %r" % (addr, cells))
    check("web" in rows.frontends, "frontend web missing: %r" % rows.frontends)
    check(int(rows.frontends["web"][3].replace(",", "")) >= 10,
          "frontend requests %r" % rows.frontends["web"])
    refused = [ln for ln in p.stderr.splitlines() if "Content Security Policy" in ln
               or "Refused to" in ln]
    check(not refused, "CSP violations: %r" % refused)


@t.test("a screenshot of the page is saved (status-page.png)")
def _():
    if CHROMIUM is None:
        raise Skip("chromium is not installed (apt-get install chromium)")
    shot = os.path.abspath("status-page.png")
    if os.path.exists(shot):
        os.unlink(shot)
    p = chromium("--window-size=1280,800", "--screenshot=" + shot,
                 "http://127.0.0.1:%d/status" % admin)
    check_eq(p.returncode, 0, "chromium exit status; stderr:\n" + p.stderr[-2000:])
    check(os.path.getsize(shot) > 10000, "screenshot too small")
    t.diag("screenshot: %s" % shot)


@t.test("the page's responses carry a strict Content-Security-Policy")
def _():
    if CHROMIUM is None:
        raise Skip("chromium is not installed (apt-get install chromium)")
    for path in ("/status", "/status.js", "/status.css"):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (admin, path),
                                    timeout=5) as f:
            check_eq(f.status, 200, "%s status" % path)
            csp = f.headers.get("Content-Security-Policy", "")
        check("default-src 'none'" in csp and "script-src 'self'" in csp,
              "%s: CSP %r" % (path, csp))


t.run(setup=setup, env=env)
