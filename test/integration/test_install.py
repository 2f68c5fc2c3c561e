#!/usr/bin/env python3
"""The source install, on a copy of this build tree: reconfiguring with
other paths rebuilds the binary with them (the paths reach the code through
a header make regenerates), make install puts the config in place only
where none exists, and make uninstall removes it only while unchanged."""
import os
import shlex
import shutil
import subprocess

from harness import WEIR_BIN, Env, Tap, check, check_eq

t = Tap(budget=150)
env = Env("install")
BUILD = os.path.dirname(WEIR_BIN)
tree = env.path("tree")
dest = env.path("dest")
PREFIX = "/opt/weir-install-test"
ETC = PREFIX + "/etc-custom"


def sh(cmd, timeout=120):
    p = subprocess.run(cmd, cwd=tree, shell=True, capture_output=True, text=True,
                       timeout=timeout)
    check_eq(p.returncode, 0, "%s: exit status; output:\n%s%s" % (
        cmd, p.stdout[-2000:], p.stderr[-2000:]))
    return p.stdout + p.stderr


def setup():
    shutil.copytree(BUILD, tree, symlinks=True)
    # Reconfigure the copy as its owner did, but for other paths.
    args = subprocess.run(["./config.status", "--config"], cwd=tree,
                          capture_output=True, text=True).stdout.strip()
    sh("./configure %s --prefix=%s --sysconfdir=%s >/dev/null" % (
        args, PREFIX, shlex.quote(ETC)))


@t.test("after reconfiguring with another sysconfdir, make rebuilds weir with it")
def _():
    sh("make -s weir >/dev/null")
    out = subprocess.run([os.path.join(tree, "weir"), "-h"], capture_output=True,
                         text=True).stdout
    check("(default %s/weir/weir.ini)" % ETC in out, "weir -h: %r" % out)


@t.test("make install puts weir, the config, an example and the man pages in place")
def _():
    sh("make -s install DESTDIR=%s >/dev/null" % dest)
    conf = dest + ETC + "/weir/weir.ini"
    with open(os.path.join(tree, "etc", "weir.ini")) as f:
        shipped = f.read()
    with open(conf) as f:
        check_eq(f.read(), shipped, "installed config")
    for p in (PREFIX + "/sbin/weir", PREFIX + "/share/doc/weir/examples/weir.ini",
              PREFIX + "/share/man/man8/weir.8", PREFIX + "/share/man/man5/weir.ini.5"):
        check(os.path.exists(dest + p), "%s not installed" % p)


@t.test("make install again keeps an edited config; make uninstall keeps it too")
def _():
    conf = dest + ETC + "/weir/weir.ini"
    with open(conf, "a") as f:
        f.write("; the operator's edit\n")
    out = sh("make install DESTDIR=%s" % dest)
    check("keeping the existing" in out, "no word about the kept config: %r" % out[-800:])
    with open(conf) as f:
        check(f.read().endswith("; the operator's edit\n"), "edit lost on make install")
    out = sh("make uninstall DESTDIR=%s" % dest)
    check(os.path.exists(conf), "make uninstall removed an edited config")
    check("keeping the changed" in out, "no word about the kept config: %r" % out[-800:])
    check(not os.path.exists(dest + PREFIX + "/sbin/weir"), "weir not uninstalled")


@t.test("make uninstall removes the config when it is as shipped")
def _():
    conf = dest + ETC + "/weir/weir.ini"
    os.unlink(conf)
    sh("make -s install DESTDIR=%s >/dev/null" % dest)
    check(os.path.exists(conf), "config not installed")
    sh("make -s uninstall DESTDIR=%s >/dev/null" % dest)
    check(not os.path.exists(conf), "unchanged config left after make uninstall")


t.run(setup=setup, env=env)
