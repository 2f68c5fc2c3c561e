#!/usr/bin/env python3
"""Command line: -t config check (exit 0 / exit 2 with FILE:LINE:), -V,
usage errors."""
import os
import re
import time

from harness import (WEIR_BIN, Env, Tap, check, check_eq, free_port,
                     listen_inodes, pids_with_arg, run_cmd)

t = Tap()
env = Env("cli")


def config(extra_global="", extra_front="", extra_back="", port=None):
    """A config whose line numbers the tests rely on (see comments)."""
    port = port or free_port()
    lines = [
        "[global]",                           # 1
        "workers = 2",                        # 2
        "log_level = info",                   # 3
        extra_global or "; nothing",          # 4
        "",                                   # 5
        "[frontend web]",                     # 6
        "listen = 127.0.0.1:%d" % port,       # 7
        "backend = app",                      # 8
        extra_front or "; nothing",           # 9
        "",                                   # 10
        "[backend app]",                      # 11
        "server = 127.0.0.1:%d" % free_port(),  # 12
        extra_back or "; nothing",            # 13
    ]
    return "\n".join(lines) + "\n"


def write(name, text):
    p = env.path(name)
    with open(p, "w") as f:
        f.write(text)
    return p


def weir(*args):
    return run_cmd([WEIR_BIN] + list(args), timeout=10)


def check_line_error(path, line, p):
    check_eq(p.returncode, 2, "exit status of weir -t on %s (stderr %r)" % (path, p.stderr))
    prefix = "%s:%d: " % (path, line)
    check(any(ln.startswith(prefix) for ln in p.stderr.splitlines()),
          "no stderr line starting with %r; stderr: %r" % (prefix, p.stderr))


@t.test("-t with a valid config exits 0 and does not listen")
def _():
    port = free_port()
    path = write("good.ini", config(port=port))
    t0 = time.monotonic()
    p = weir("-t", "-c", path)
    check_eq(p.returncode, 0, "exit status (stderr %r)" % p.stderr)
    check(time.monotonic() - t0 < 5, "weir -t took too long")
    check(not listen_inodes(port), "port %d is listening after weir -t" % port)


@t.test("-t with an invalid value exits 2 with FILE:LINE: on stderr")
def _():
    path = write("badvalue.ini", config().replace("workers = 2", "workers = banana"))
    check_line_error(path, 2, weir("-t", "-c", path))


@t.test("-t with a missing file exits 2 and names the file")
def _():
    path = env.path("does-not-exist.ini")
    p = weir("-t", "-c", path)
    check_eq(p.returncode, 2, "exit status (stderr %r)" % p.stderr)
    check(path in p.stderr, "stderr does not name %s: %r" % (path, p.stderr))


@t.test("unknown key is reported with its exact line number")
def _():
    path = write("unknown.ini", config(extra_front="bogus_key = 1"))
    check_line_error(path, 9, weir("-t", "-c", path))


@t.test("unknown key in [global] is reported with its exact line number")
def _():
    path = write("unknown-global.ini", config(extra_global="frobnicate = yes"))
    check_line_error(path, 4, weir("-t", "-c", path))


@t.test("invalid listen address is reported with its line")
def _():
    path = write("listen.ini", re.sub(r"listen = \S+", "listen = 127.0.0.1:notaport", config()))
    check_line_error(path, 7, weir("-t", "-c", path))


@t.test("server weight out of range is reported with its line")
def _():
    text = config()
    text = re.sub(r"(server = \S+)", r"\1 weight=100000", text)
    path = write("weight.ini", text)
    check_line_error(path, 12, weir("-t", "-c", path))


@t.test("frontend naming an unknown backend is an error at the backend = line")
def _():
    path = write("nobackend.ini", config().replace("backend = app", "backend = nope"))
    check_line_error(path, 8, weir("-t", "-c", path))


@t.test("a line that is not INI syntax is reported with its line")
def _():
    path = write("syntax.ini", config(extra_back="this is not ini"))
    check_line_error(path, 13, weir("-t", "-c", path))


@t.test("-V prints 'weir X.Y.Z' and the libevent, http-parser and inih versions")
def _():
    p = weir("-V")
    check_eq(p.returncode, 0, "exit status (stderr %r)" % p.stderr)
    lines = p.stdout.splitlines()
    check(lines and re.match(r"^weir \d+\.\d+\.\d+", lines[0]),
          "first stdout line %r" % (lines[:1],))
    low = p.stdout.lower()
    for lib in ("libevent", "http-parser", "inih"):
        check(lib in low, "-V output does not mention %s: %r" % (lib, p.stdout))


@t.test("no arguments: the default config path is used (exit 2 if missing)")
def _():
    # Like nginx, weir without -c reads its compiled-in default config.
    p = weir()
    check_eq(p.returncode, 2, "exit status (stdout %r, stderr %r)" % (p.stdout, p.stderr))
    check("weir/weir.ini" in p.stderr, "default path not named: %r" % p.stderr)


@t.test("a stray argument: usage on stderr, exit 2")
def _():
    p = weir("stray")
    check_eq(p.returncode, 2, "exit status (stdout %r, stderr %r)" % (p.stdout, p.stderr))
    check("usage" in p.stderr.lower(), "no usage text on stderr: %r" % p.stderr)


@t.test("unknown option: exit 2")
def _():
    p = weir("-Z")
    check_eq(p.returncode, 2, "exit status (stderr %r)" % p.stderr)


@t.test("weir -c with an invalid config exits non-zero and leaves no process")
def _():
    path = write("run-bad.ini", config(extra_front="bogus_key = 1"))
    p = weir("-c", path)
    check(p.returncode != 0, "exit status 0 for an invalid config")
    check(path in p.stderr, "stderr does not name the file: %r" % p.stderr)
    check(not pids_with_arg(path), "processes left: %s" % pids_with_arg(path))


@t.test("-h and --help print the usage on stdout and exit 0")
def _():
    for opt in ("-h", "--help"):
        p = weir(opt)
        check_eq(p.returncode, 0, "%s: exit status (stderr %r)" % (opt, p.stderr))
        check(p.stdout.startswith("usage: weir"), "%s: stdout %r" % (opt, p.stdout))
        check("SIGHUP" in p.stdout or "HUP reload" in p.stdout,
              "%s: the signals are not named: %r" % (opt, p.stdout))


@t.test("--version prints what -V prints")
def _():
    a, b = weir("-V"), weir("--version")
    check_eq(b.returncode, 0, "exit status (stderr %r)" % b.stderr)
    check_eq(b.stdout, a.stdout, "--version output")


def build_paths():
    """prefix and sysconfdir of the build under test, from its Makefile."""
    vals = {}
    with open(os.path.join(os.path.dirname(WEIR_BIN), "Makefile")) as f:
        for line in f:
            m = re.match(r"^(prefix|sysconfdir) = (.*)$", line.rstrip("\n"))
            if m:
                vals[m.group(1)] = m.group(2)
    return vals["sysconfdir"].replace("${prefix}", vals["prefix"])


@t.test("the default config is SYSCONFDIR/weir/weir.ini of this build's configure")
def _():
    p = weir("-h")
    want = os.path.join(build_paths(), "weir", "weir.ini")
    check("(default %s)" % want in p.stdout, "want %s in %r" % (want, p.stdout))


@t.test("-t: a log_file in a missing directory exits 2 with FILE:LINE")
def _():
    path = write("logdir.ini", config(extra_global="log_file = %s/no/such/dir/weir.log"
                                      % env.dir))
    p = weir("-t", "-c", path)
    check_line_error(path, 4, p)
    check("does not exist" in p.stderr, "stderr %r" % p.stderr)


@t.test("-t: user or group that does not exist, or group without user: FILE:LINE")
def _():
    for extra, line, word in (("user = weir-no-such-user", 4, "no such user"),
                              ("group = weir-no-such-group", 4, "no such group"),
                              ("group = root", 0, "user is not")):
        path = write("user.ini", config(extra_global=extra))
        p = weir("-t", "-c", path)
        check_eq(p.returncode, 2, "%s: exit status (stderr %r)" % (extra, p.stderr))
        if line:
            check_line_error(path, line, p)
        check(word in p.stderr, "%s: stderr %r" % (extra, p.stderr))


t.run(None, env)
