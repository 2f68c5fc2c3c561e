#!/usr/bin/env python3
"""The systemd unit etc/weir.service: its sandbox scores an exposure of
2.0 or less, systemd accepts it, and it waits long enough for a graceful
stop. Needs systemd-analyze (Debian package systemd), not a running
systemd."""
import os
import re
import shutil
import sys
import tempfile

from harness import REPO, WEIR_BIN, Skip, Tap, check, check_eq, run_cmd

UNIT = os.path.join(REPO, "etc", "weir.service")
MAX_EXPOSURE = 2.0

if shutil.which("systemd-analyze") is None:
    print("1..0 # SKIP systemd-analyze not installed (Debian package systemd)")
    sys.exit(0)

t = Tap()


def unit_value(key):
    """The last value of key= in the unit (what systemd would use)."""
    value = None
    with open(UNIT) as f:
        for line in f:
            m = re.match(r"^%s=(.*)$" % re.escape(key), line.strip())
            if m:
                value = m.group(1).strip()
    return value


def seconds(text):
    """'45s', '1min', '500ms', '30' (seconds) -> seconds."""
    m = re.match(r"^(\d+)\s*(ms|s|sec|m|min|h)?$", text or "")
    check(m, "cannot read duration %r" % text)
    scale = {None: 1, "s": 1, "sec": 1, "ms": 0.001, "m": 60, "min": 60,
             "h": 3600}[m.group(2)]
    return int(m.group(1)) * scale


@t.test("systemd-analyze security: overall exposure of etc/weir.service <= 2.0")
def _():
    p = run_cmd(["systemd-analyze", "security", "--offline=yes", UNIT], timeout=60)
    m = re.search(r"Overall exposure level for weir\.service: (\d+\.\d+)", p.stdout)
    check(m, "no exposure level (exit %d); stdout %r stderr %r"
          % (p.returncode, p.stdout[-2000:], p.stderr))
    level = float(m.group(1))
    t.diag("  exposure level %.1f" % level)
    check(level <= MAX_EXPOSURE, "exposure level %.1f is above %.1f:\n%s"
          % (level, MAX_EXPOSURE, "\n".join(ln for ln in p.stdout.splitlines()
                                            if "\u2717" in ln)))


@t.test("systemd-analyze verify accepts the unit (in a scratch root)")
def _():
    # verify needs the unit's commands and its dependencies (sysinit.target
    # ...) to exist: a scratch root gets the host's units, weir as
    # /usr/sbin/weir and a stand-in /bin/kill.
    units = next((d for d in ("/lib/systemd/system", "/usr/lib/systemd/system")
                  if os.path.isfile(os.path.join(d, "sysinit.target"))), None)
    if units is None:
        raise Skip("no systemd unit directory with sysinit.target on this host")
    check(os.access(WEIR_BIN, os.X_OK), "%s is not built" % WEIR_BIN)
    with tempfile.TemporaryDirectory(prefix="weir-unit-") as root:
        shutil.copytree(units, os.path.join(root, "lib/systemd/system"),
                        symlinks=True)
        os.makedirs(os.path.join(root, "etc/systemd/system"))
        shutil.copy(UNIT, os.path.join(root, "etc/systemd/system/weir.service"))
        os.makedirs(os.path.join(root, "usr/sbin"))
        shutil.copy(WEIR_BIN, os.path.join(root, "usr/sbin/weir"))
        os.makedirs(os.path.join(root, "bin"), exist_ok=True)
        kill = os.path.join(root, "bin/kill")
        with open(kill, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(kill, 0o755)
        # --man=no: weir(8) and weir.ini(5) need not be installed here.
        p = run_cmd(["systemd-analyze", "verify", "--man=no", "--root=" + root,
                     "weir.service"], timeout=60)
    out = (p.stdout + p.stderr).strip()
    check_eq(p.returncode, 0, "exit status of systemd-analyze verify (%r)" % out)
    # Unknown keys and bad values are only warnings: any output fails.
    check(out == "", "systemd-analyze verify complains:\n%s" % out)


@t.test("TimeoutStopSec outlasts drain_timeout plus weir's own kill grace")
def _():
    # On SIGQUIT weir drains for drain_timeout, SIGKILLs the workers left
    # MASTER_STOP_GRACE_MS later, then exits: systemd must not kill first.
    with open(os.path.join(REPO, "master", "master.c")) as f:
        m = re.search(r"#define\s+MASTER_STOP_GRACE_MS\s+(\d+)", f.read())
    check(m, "MASTER_STOP_GRACE_MS not found in master/master.c")
    grace = int(m.group(1)) / 1000
    with open(os.path.join(REPO, "etc", "weir.ini")) as f:
        d = re.search(r"^drain_timeout\s*=\s*(\S+)", f.read(), re.M)
    check(d, "no drain_timeout in etc/weir.ini")
    drain = seconds(d.group(1))
    check_eq(unit_value("KillSignal"), "SIGQUIT", "KillSignal (graceful stop)")
    stop = seconds(unit_value("TimeoutStopSec"))
    check(stop > drain + grace, "TimeoutStopSec=%gs is not above drain_timeout "
          "%gs + %gs" % (stop, drain, grace))


t.run()
