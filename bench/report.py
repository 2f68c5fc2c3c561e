#!/usr/bin/env python3
"""Turns the raw files bench/run.sh leaves in its temp dir into markdown tables.

  report.py throughput DIR TARGET...   wrk-TARGET-ROUND.txt, rss-TARGET
  report.py counts DIR N TARGET...     cg-TARGET-{0,N}/, strace-TARGET.txt
"""
import glob
import os
import re
import statistics
import sys

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
# Targets whose table label is not their name.
LABELS = {"weirlog": "weir with access log"}


def label(t):
    return LABELS.get(t, t)


def ms(text):
    """wrk duration ("812.00us", "1.20ms", "2.01s") to milliseconds."""
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if m is None:
        raise ValueError("bad wrk duration %r" % text)
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def parse_wrk(path):
    """Req/s, p50, p99 (ms), requests, and error notes from one wrk --latency run."""
    text = open(path).read()
    r = {"errors": []}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if m is None:
        raise ValueError("%s: no Requests/sec line:\n%s" % (path, text))
    r["rps"] = float(m.group(1))
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s(?:\.0+)?%%\s+(\S+)" % pct, text, re.M)
        r["p" + pct] = ms(m.group(1)) if m else float("nan")
    m = re.search(r"(\d+) requests in", text)
    r["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r["errors"].append(m.group(0))
    m = re.search(r"Socket errors: .*", text)
    if m:
        r["errors"].append(m.group(0))
    return r


def fmt(x, digits):
    return "n/a" if x is None or x != x else "%.*f" % (digits, x)


def ratio(a, b):
    return None if not a or not b or a != a or b != b else a / b


def throughput(d, targets):
    rows = {}
    notes = []
    for t in targets:
        runs = [parse_wrk(p) for p in sorted(glob.glob(
            os.path.join(d, "wrk-%s-[0-9]*.txt" % t)))]
        if not runs:
            continue
        try:
            rss = int(open(os.path.join(d, "rss-" + t)).read().split()[0])
        except (OSError, IndexError, ValueError):
            rss = None
        rows[t] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "p50": statistics.median(r["p50"] for r in runs),
            "p99": statistics.median(r["p99"] for r in runs),
            "rss": rss,
            "rounds": len(runs),
            "all": " / ".join("%.0f" % r["rps"] for r in runs),
        }
        for i, r in enumerate(runs, 1):
            for e in r["errors"]:
                notes.append("%s round %d (%d requests): %s" % (t, i, r["requests"], e))
    print("| target | req/s (median) | p50 ms | p99 ms | worker RSS KiB | req/s per round |")
    print("|---|---:|---:|---:|---:|---|")
    for t, r in rows.items():
        print("| %s | %.0f | %s | %s | %s | %s |" % (
            label(t), r["rps"], fmt(r["p50"], 3), fmt(r["p99"], 3),
            "-" if r["rss"] is None else r["rss"], r["all"]))
    if "weir" in rows:
        w = rows["weir"]
        if "weirlog" in rows:
            o = rows["weirlog"]
            print("| %s/weir | %s× | %s× | %s× | %s× | |" % (
                label("weirlog"), fmt(ratio(o["rps"], w["rps"]), 2),
                fmt(ratio(o["p50"], w["p50"]), 2),
                fmt(ratio(o["p99"], w["p99"]), 2),
                fmt(ratio(o["rss"], w["rss"]), 2)))
        for other in ("nginx", "haproxy"):
            if other not in rows:
                continue
            o = rows[other]
            print("| weir/%s | %s× | %s× | %s× | %s× | |" % (
                other, fmt(ratio(w["rps"], o["rps"]), 2),
                fmt(ratio(w["p50"], o["p50"]), 2), fmt(ratio(w["p99"], o["p99"]), 2),
                fmt(ratio(w["rss"], o["rss"]), 2)))
    print()
    if notes:
        print("wrk errors:")
        for n in notes:
            print("- " + n)
    else:
        print("wrk errors: none (no non-2xx responses, no socket errors)")


def callgrind_ir(run_dir):
    """Ir of the worker: the one callgrind.out file, or all but the master's."""
    files = glob.glob(os.path.join(run_dir, "callgrind.out.*"))
    if len(files) > 1:
        master = open(os.path.join(run_dir, "master.pid")).read().strip()
        files = [f for f in files if not f.endswith("." + master)]
    if not files:
        raise ValueError("%s: no worker callgrind output" % run_dir)
    total = 0
    for f in files:
        m = re.search(r"^(?:totals|summary):\s+(\d+)", open(f).read(), re.M)
        if m is None:
            raise ValueError("%s: no totals line" % f)
        total += int(m.group(1))
    return total


def parse_strace(path):
    """{syscall: calls} and the total from strace -c -U name,calls,errors."""
    calls = {}
    total = None
    for line in open(path):
        f = line.split()
        if len(f) < 2 or not f[1].isdigit():
            continue
        if f[0] == "total":
            total = int(f[1])
        else:
            calls[f[0]] = int(f[1])
    if total is None:
        total = sum(calls.values())
    return calls, total


def counts(d, n, targets):
    ir, sc = {}, {}
    for t in targets:
        try:
            ir[t] = (callgrind_ir(os.path.join(d, "cg-%s-%d" % (t, n)))
                     - callgrind_ir(os.path.join(d, "cg-%s-0" % t))) / n
        except (OSError, ValueError) as e:
            print("callgrind %s: %s" % (t, e), file=sys.stderr)
        try:
            sc[t] = parse_strace(os.path.join(d, "strace-%s.txt" % t))
        except OSError as e:
            print("strace %s: %s" % (t, e), file=sys.stderr)
    print("| per request (%d requests, 1 worker) | %s | weir/nginx |"
          % (n, " | ".join(label(t) for t in targets)))
    print("|---|%s---:|" % ("---:|" * len(targets)))
    cells = [fmt(ir.get(t), 0) for t in targets]
    print("| user-space instructions (callgrind Ir) | %s | %s× |" % (
        " | ".join(cells), fmt(ratio(ir.get("weir"), ir.get("nginx")), 2)))
    per = {t: (sc[t][1] / n if t in sc else None) for t in targets}
    print("| syscalls (strace -c) | %s | %s× |" % (
        " | ".join(fmt(per[t], 2) for t in targets),
        fmt(ratio(per.get("weir"), per.get("nginx")), 2)))
    names = []
    for t in targets:
        if t in sc:
            top = sorted(sc[t][0].items(), key=lambda kv: -kv[1])[:6]
            names += [k for k, v in top if k not in names and v / n >= 0.01]
    for name in names:
        vals = [sc[t][0].get(name, 0) / n if t in sc else None for t in targets]
        print("| &nbsp;&nbsp;%s | %s | |" % (name, " | ".join(fmt(v, 2) for v in vals)))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "throughput":
        throughput(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "counts":
        counts(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
