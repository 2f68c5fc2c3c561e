#!/usr/bin/env python3
"""Basic authentication (issue 12 section 5): auth = basic with an
htpasswd file (bcrypt from htpasswd -B, sha512-crypt and yescrypt from
mkpasswd, made at test time) on a frontend and on routes, the 401 and its
WWW-Authenticate, Authorization kept from the backend unless
auth_forward = yes, one crypt(3) per connection and credentials (counted
in the debug log), reloads with a changed and with a bad file, and weir -t
naming FILE:LINE of a bad htpasswd line."""
import base64
import os
import shutil
import subprocess

from harness import (WEIR_BIN, Client, Env, Tap, Weir, check, check_eq,
                     free_port, line_of, run_cmd)

t = Tap(budget=120.0)
env = Env("auth")
b1 = w = None
USERS = env.path("users.htpasswd")
ADMINS = env.path("admins.htpasswd")


def need(tool, package):
    check(shutil.which(tool), "%s not found: install the Debian package %s "
          "(scripts/deps)" % (tool, package))


def bcrypt(user, password):
    need("htpasswd", "apache2-utils")
    p = run_cmd(["htpasswd", "-nbB", user, password])
    check_eq(p.returncode, 0, "htpasswd -nbB: %r" % p.stderr)
    return p.stdout.strip()


def mkpasswd(method, user, password):
    need("mkpasswd", "whois")
    p = subprocess.run(["mkpasswd", "-m", method, "--stdin"], input=password,
                       capture_output=True, text=True, timeout=10)
    check_eq(p.returncode, 0, "mkpasswd -m %s: %r" % (method, p.stderr))
    return "%s:%s" % (user, p.stdout.strip())


def write(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(tmp, path)


class RoutedWeir(Weir):
    """weir with [route] sections appended to the generated file."""

    extra = ""

    def _start_once(self, timeout):
        with open(self.conf, "a") as f:
            f.write(self.extra)
        super()._start_once(timeout)


ROUTES = """
[route admin]
frontend = web
path_prefix = /admin/
backend = app
auth = basic
auth_file = %(admins)s
auth_realm = admins only

[route open]
frontend = web
path_prefix = /open/
backend = app
auth = off

[route moved]
frontend = web
path_exact = /old
redirect = 301 /new

[route hello]
frontend = web
path_exact = /hello
return = 200 hello
""" % {"admins": ADMINS}


def setup():
    global b1, w
    write(USERS, ["# users of the web frontend", "",
                  bcrypt("alice", "wonder land"),
                  mkpasswd("sha-512", "bob", "b:ob\u00e9"),
                  mkpasswd("yescrypt", "carol", "carol-pw")])
    write(ADMINS, [bcrypt("root", "toor")])
    b1 = env.backend("b1")
    w = RoutedWeir(env, workers=2, log_level="debug", frontends={
        "web": {"listen": "127.0.0.1:auto", "backend": "app",
                "auth": "basic", "auth_file": USERS,
                "auth_realm": "weir test"},
        "fwd": {"listen": "127.0.0.1:auto", "backend": "app",
                "auth": "basic", "auth_file": USERS, "auth_forward": "yes"},
        "plain": {"listen": "127.0.0.1:auto", "backend": "app"},
    }, backends={"app": {"server": [b1.addr]}})
    w.extra = ROUTES
    env.procs.append(w)
    w.start()


def basic(user, password):
    raw = ("%s:%s" % (user, password)).encode("utf-8")
    return [("Authorization", "Basic " + base64.b64encode(raw).decode())]


def get(front, headers=None, path="/echo"):
    with Client(w.ports[front][0]) as c:
        c.request("GET", path, headers)
        r = c.response("GET")
        r.client_port = c.local_port
        r.closed = c.wait_closed(2.0) if r.status == 401 else None
        return r


def auth_values(r):
    return [v for n, v in r.json()["headers"] if n.lower() == "authorization"]


def crypts(port):
    """The debug lines of crypt(3) calls for the client on port."""
    return w.lines_after(0, r"client 127\.0\.0\.1:%d: auth: crypt\(3\)" % port)


def refused(r, realm, what):
    check_eq(r.status, 401, what + ": " + r.summary())
    check_eq(r.all("www-authenticate"),
             ['Basic realm="%s", charset="UTF-8"' % realm],
             what + ": WWW-Authenticate")
    check(r.closed, what + ": the connection stayed open after the 401")


@t.test("no credentials: 401 with WWW-Authenticate naming the realm; the "
        "backend never sees the request")
def _():
    before = b1.stats()["requests"]
    refused(get("web"), "weir test", "no Authorization")
    refused(get("fwd"), "weir", "default realm")
    check_eq(b1.stats()["requests"], before, "requests that reached the "
             "backend")


@t.test("wrong password, unknown user, another scheme, bad base64, "
        "non-ASCII, two Authorization fields, a NUL in the password: 401, "
        "never 400")
def _():
    bad = {
        "wrong password": basic("alice", "wonder"),
        "unknown user": basic("mallory", "wonder land"),
        "user of another file": basic("root", "toor"),
        "Bearer": [("Authorization", "Bearer abc")],
        "bad base64": [("Authorization", "Basic YWxpY2U6!!!")],
        "non-ASCII value": [("Authorization", "Basic YWxp\u00e9")],
        "no colon": [("Authorization", "Basic YWxpY2U=")],
        "NUL in the password": [("Authorization",
                                 "Basic YWxpY2U6d29uZGVyAGxhbmQ=")],
        "two fields": basic("alice", "wonder land") * 2,
    }
    for what, hs in bad.items():
        refused(get("web", hs), "weir test", what)


@t.test("right password (bcrypt, sha512-crypt, yescrypt with UTF-8): 200, "
        "the backend does not see Authorization")
def _():
    for user, pw in (("alice", "wonder land"), ("bob", "b:ob\u00e9"),
                     ("carol", "carol-pw")):
        r = get("web", basic(user, pw))
        check_eq(r.status, 200, user + ": " + r.summary())
        check_eq(auth_values(r), [], user + ": Authorization at the backend")


@t.test("auth_forward = yes: the backend gets the Authorization field")
def _():
    hs = basic("alice", "wonder land")
    r = get("fwd", hs)
    check_eq(r.status, 200, r.summary())
    check_eq(auth_values(r), [hs[0][1]], "Authorization at the backend")
    r = get("plain", [("Authorization", "Bearer x")])
    check_eq(r.status, 200, "a frontend without auth: " + r.summary())
    check_eq(auth_values(r), ["Bearer x"], "untouched without auth")


@t.test("routes: one with its own file and realm, one with auth = off, a "
        "redirect and a return route that keep the frontend's auth")
def _():
    refused(get("web", path="/admin/x"), "admins only", "admin, nothing")
    refused(get("web", basic("alice", "wonder land"), "/admin/x"),
            "admins only", "admin, a user of the frontend's file")
    r = get("web", basic("root", "toor"), "/admin/x")
    check_eq(r.status, 200, "admin with root: " + r.summary())
    check_eq(auth_values(r), [], "Authorization at the backend")
    r = get("web", path="/open/x")
    check_eq(r.status, 200, "auth = off route: " + r.summary())
    refused(get("web", path="/old"), "weir test", "redirect route")
    r = get("web", basic("alice", "wonder land"), "/old")
    check_eq(r.status, 301, "redirect with credentials: " + r.summary())
    check_eq(r.get("location"), "/new", "Location")
    refused(get("web", path="/hello"), "weir test", "return route")
    r = get("web", basic("carol", "carol-pw"), "/hello")
    check_eq((r.status, r.body), (200, b"hello"), "return route: " +
             r.summary())


@t.test("one crypt(3) per connection and credentials: 100 requests on one "
        "keep-alive connection cost one; other credentials cost one more; "
        "each new connection costs one")
def _():
    ok = basic("alice", "wonder land")
    with Client(w.ports["web"][0]) as c:
        for i in range(100):
            c.request("GET", "/echo", ok)
            r = c.response("GET")
            check_eq(r.status, 200, "request %d: %s" % (i, r.summary()))
        port = c.local_port
        check_eq(len(crypts(port)), 1, "crypt(3) calls for 100 requests")
        check("user 'alice': passed" in crypts(port)[0], crypts(port)[0])
        for i in range(10):
            c.request("GET", "/echo", basic("carol", "carol-pw"))
            check_eq(c.response("GET").status, 200, "carol %d" % i)
        check_eq(len(crypts(port)), 2, "crypt(3) calls after carol")
        # The cache holds the last credentials only.
        c.request("GET", "/echo", ok)
        check_eq(c.response("GET").status, 200, "alice again")
        check_eq(len(crypts(port)), 3, "crypt(3) calls after alice again")
        c.request("GET", "/echo", basic("alice", "wonder lan"))
        check_eq(c.response("GET").status, 401, "a wrong password after "
                 "right ones on the same connection")
        check_eq(len(crypts(port)), 4, "crypt(3) calls after the 401")
        check("user 'alice': refused" in crypts(port)[-1], crypts(port)[-1])
    ports = [get("web", ok).client_port for _ in range(3)]
    check_eq([len(crypts(p)) for p in ports], [1, 1, 1],
             "crypt(3) calls of three connections")
    r = get("web", basic("nobody", "x"))
    check_eq(len(crypts(r.client_port)), 1, "an unknown user costs a "
             "crypt(3) too")
    check("an unknown user: refused" in crypts(r.client_port)[0],
          crypts(r.client_port)[0])


@t.test("reload with a changed file: the new password works, the old one "
        "is refused")
def _():
    write(USERS, [bcrypt("alice", "new password"),
                  mkpasswd("yescrypt", "carol", "carol-pw")])
    line = w.reload()
    check(line and "reload complete" in line, "reload: %r" % line)
    check_eq(get("web", basic("alice", "new password")).status, 200,
             "new password")
    refused(get("web", basic("alice", "wonder land")), "weir test",
            "old password")
    refused(get("web", basic("bob", "b:ob\u00e9")), "weir test",
            "a user the new file dropped")


@t.test("reload with a bad file: 'reload failed: FILE:LINE: reason', the "
        "old file keeps serving")
def _():
    write(USERS, [bcrypt("alice", "newer"), "# a comment",
                  "dave:plain-text-password"])
    line = w.reload()
    want = "reload failed: %s:3: plain text" % USERS
    check(line and want in line, "reload: %r, want %r" % (line, want))
    check_eq(get("web", basic("alice", "new password")).status, 200,
             "the old file's password")
    refused(get("web", basic("alice", "newer")), "weir test",
            "the bad file's password")
    write(USERS, [bcrypt("alice", "new password")])


def conf_with(name, users_lines=None, keys=None):
    """A config file whose frontend uses auth; returns its path."""
    path = env.path(name + ".ini")
    users = env.path(name + ".htpasswd")
    if users_lines is not None:
        write(users, users_lines)
    keys = keys if keys is not None else {"auth": "basic",
                                          "auth_file": users}
    with open(path, "w") as f:
        f.write("[global]\nworkers = 1\n\n[frontend web]\n"
                "listen = 127.0.0.1:%d\nbackend = app\n" % free_port())
        for k, v in keys.items():
            f.write("%s = %s\n" % (k, v))
        f.write("\n[backend app]\nserver = 127.0.0.1:9\n")
    return path, users


@t.test("weir -t: an htpasswd line that is not a hash (plain text, {SHA}, "
        "$apr1$, no ':', a hash cut short) gives FILE:LINE of the htpasswd "
        "file and exit 2; a good file passes")
def _():
    need("htpasswd", "apache2-utils")
    sha = run_cmd(["htpasswd", "-nbs", "bob", "x"]).stdout.strip()
    apr = run_cmd(["htpasswd", "-nbm", "bob", "x"]).stdout.strip()
    good = bcrypt("alice", "pw")
    cases = {
        "plain": ("bob:secret", "plain text or traditional DES crypt"),
        "sha": (sha, "{SHA} (htpasswd -s) is unsalted SHA-1"),
        "apr1": (apr, "$apr1$ (htpasswd -m, Apache's own MD5)"),
        "nocolon": ("bob", "expected 'user:hash'"),
        "short": (good[:-10].replace("alice", "bob"),
                  "the hash is cut short"),
    }
    for what, (bad, reason) in cases.items():
        path, users = conf_with("t-" + what, ["# first", good, "", bad])
        p = run_cmd([WEIR_BIN, "-t", "-c", path], timeout=20)
        check_eq(p.returncode, 2, "%s: exit status (stderr %r)" %
                 (what, p.stderr))
        want = "%s:4: %s" % (users, reason)
        check(want in p.stderr, "%s: stderr %r has no %r" %
              (what, p.stderr, want))
        t.diag("  %s: %s" % (what, p.stderr.strip()))
    path, _ = conf_with("t-good", ["# first", good])
    p = run_cmd([WEIR_BIN, "-t", "-c", path], timeout=20)
    check_eq(p.returncode, 0, "a good file: %r" % p.stderr)
    path, users = conf_with("t-missing")
    p = run_cmd([WEIR_BIN, "-t", "-c", path], timeout=20)
    check_eq(p.returncode, 2, "a missing file: %r" % p.stderr)
    check("%s: No such file" % users in p.stderr, p.stderr)


@t.test("weir -t: auth = basic without auth_file, auth settings without "
        "auth, a bad realm or value: exit 2 at the key's line")
def _():
    cases = {
        "nofile": ({"auth": "basic"}, "auth", "auth = basic needs "
                   "'auth_file'"),
        "stray": ({"auth_realm": "x"}, "auth_realm", "auth settings "
                  "without 'auth = basic'"),
        "realm": ({"auth": "basic", "auth_file": USERS,
                   "auth_realm": 'a"b'}, "auth_realm", "auth_realm: up "
                  "to 128"),
        "value": ({"auth": "digest"}, "auth", "auth: invalid value "
                  "'digest'"),
        "forward": ({"auth": "basic", "auth_file": USERS,
                     "auth_forward": "maybe"}, "auth_forward",
                    "auth_forward: invalid value"),
    }
    for what, (keys, key, reason) in cases.items():
        path, _ = conf_with("k-" + what, keys=keys)
        p = run_cmd([WEIR_BIN, "-t", "-c", path], timeout=20)
        check_eq(p.returncode, 2, "%s: exit status (stderr %r)" %
                 (what, p.stderr))
        want = "%s:%d: %s" % (path, line_of(path, key), reason)
        check(want in p.stderr, "%s: stderr %r has no %r" %
              (what, p.stderr, want))


@t.test("weir stops cleanly on SIGTERM: exit 0, no orphans, no worker died")
def _():
    w.check_clean_stop(allow_respawn=True)


t.run(setup, env)
