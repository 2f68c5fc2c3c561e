#!/usr/bin/env python3
"""Turns the raw files bench/run.sh leaves in its temp dir into markdown tables.

  report.py throughput DIR TARGET...   wrk-TARGET-ROUND.txt, rss-TARGET
  report.py counts DIR N TARGET...     cg-TARGET-{0,N}/, strace-TARGET.txt
  report.py tls DIR TARGET...          wrk- and close-TARGET-ROUND.txt,
      st{new,reuse}-TARGET-ROUND-CLIENT.log, resume-TARGET.log, tlsparams-TARGET
"""
import glob
import os
import re
import statistics
import sys

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
# Targets whose table label is not their name.
LABELS = {"weirlog": "weir with access log",
          "weirroutes": "weir with 50 routes"}


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


def numbers(path, prefix, t):
    """The numbers after PREFIX-T- in PATH's name: [ROUND, ...]."""
    return [int(x) for x in re.findall(
        r"\d+", os.path.basename(path)[len(prefix) + len(t) + 2:])]


def rounds(d, prefix, t):
    """The ROUND files PREFIX-T-ROUND* in D, in round order."""
    paths = glob.glob(os.path.join(d, "%s-%s-[0-9]*" % (prefix, t)))
    return sorted(paths, key=lambda p: numbers(p, prefix, t))


def cpu_us(d, name, t, counts):
    """Median over rounds of the workers' CPU µs per request or connection:
    the ticks in cpu-NAME-T-ROUND over COUNTS[ROUND]."""
    try:
        hz = int(open(os.path.join(d, "clk_tck")).read())
    except (OSError, ValueError):
        return None
    per = []
    for p in rounds(d, "cpu-" + name, t):
        n = counts.get(numbers(p, "cpu-" + name, t)[0])
        if n:
            per.append(int(open(p).read()) * 1e6 / hz / n)
    return statistics.median(per) if per else None


def wrk_summary(d, prefix, t, notes):
    """Medians of the wrk runs PREFIX-T-ROUND.txt (None if none); their
    errors appended to NOTES."""
    paths = rounds(d, prefix, t)
    runs = [parse_wrk(p) for p in paths]
    if not runs:
        return None
    for i, r in enumerate(runs, 1):
        for e in r["errors"]:
            notes.append("%s %s round %d (%d requests): %s"
                         % (t, prefix, i, r["requests"], e))
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50": statistics.median(r["p50"] for r in runs),
        "p99": statistics.median(r["p99"] for r in runs),
        "rounds": len(runs),
        "all": " / ".join("%.0f" % r["rps"] for r in runs),
        "counts": {numbers(p, prefix, t)[0]: r["requests"]
                   for p, r in zip(paths, runs)},
        "cpu": cpu_us(d, prefix, t, {numbers(p, prefix, t)[0]: r["requests"]
                                     for p, r in zip(paths, runs)}),
    }


def print_notes(notes):
    if notes:
        print("wrk errors:")
        for n in notes:
            print("- " + n)
    else:
        print("wrk errors: none (no non-2xx responses, no socket errors)")


def rss(d, t):
    """The KiB in rss-T, or None."""
    try:
        return int(open(os.path.join(d, "rss-" + t)).read().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def throughput(d, targets):
    rows = {}
    notes = []
    for t in targets:
        r = wrk_summary(d, "wrk", t, notes)
        if r is None:
            continue
        r["rss"] = rss(d, t)
        rows[t] = r
    print("| target | req/s (median) | p50 ms | p99 ms | worker RSS KiB | req/s per round |")
    print("|---|---:|---:|---:|---:|---|")
    for t, r in rows.items():
        print("| %s | %.0f | %s | %s | %s | %s |" % (
            label(t), r["rps"], fmt(r["p50"], 3), fmt(r["p99"], 3),
            "-" if r["rss"] is None else r["rss"], r["all"]))
    if "weir" in rows:
        w = rows["weir"]
        for variant in ("weirlog", "weirroutes"):
            if variant not in rows:
                continue
            o = rows[variant]
            print("| %s/weir | %s× | %s× | %s× | %s× | |" % (
                label(variant), fmt(ratio(o["rps"], w["rps"]), 2),
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
    print_notes(notes)


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


def parse_s_time(path):
    """(connections, resumed, wall seconds) of one timed s_time client."""
    text = open(path).read()
    m = re.search(r"(\d+) connections in [0-9.]+s", text)
    w = re.search(r"^wall_ns (\d+)", text, re.M)
    if m is None or w is None:
        raise ValueError("%s: no s_time summary:\n%s" % (path, text[-500:]))
    marks = re.findall(r"^[*r.t3]+$", text, re.M)
    return int(m.group(1)), "".join(marks).count("r"), int(w.group(1)) / 1e9


def s_time_summary(d, mode, t):
    """Median over rounds of connections/s summed over the clients of each
    round, and the share of connections resumed over all rounds."""
    per_round = {}
    for p in rounds(d, "st" + mode, t):
        rnd = numbers(p, "st" + mode, t)[0]
        per_round.setdefault(rnd, []).append(parse_s_time(p))
    if not per_round:
        return None
    rates = [sum(c / w for c, _, w in runs) for _, runs in
             sorted(per_round.items())]
    counts = {rnd: sum(c for c, _, _ in runs) for rnd, runs in per_round.items()}
    resumed = sum(r for runs in per_round.values() for _, r, _ in runs)
    return {"rps": statistics.median(rates), "conns": sum(counts.values()),
            "resumed": resumed, "all": " / ".join("%.0f" % x for x in rates),
            "cpu": cpu_us(d, "st" + mode, t, counts)}


def parse_resume(path):
    """{"before": (attempts, reused), "after": ...} of tlsresume.py."""
    out = {}
    try:
        text = open(path).read()
    except OSError:
        return out
    for m in re.finditer(r"^(before|after) attempts=(\d+) reused=(\d+)",
                         text, re.M):
        out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


def tls(d, targets):
    notes = []
    keep = {t: wrk_summary(d, "wrk", t, notes) for t in targets}
    close = {t: wrk_summary(d, "close", t, notes) for t in targets}
    full = {t: s_time_summary(d, "new", t) for t in targets}
    res = {t: s_time_summary(d, "reuse", t) for t in targets}
    resume = {t: parse_resume(os.path.join(d, "resume-%s.log" % t))
              for t in targets}
    others = [o for o in ("nginx", "haproxy") if o in targets and "weir" in targets]

    def get(table, key):
        return {t: (table[t] or {}).get(key) for t in targets}

    def row(name, vals, digits, ratios=True):
        cells = [fmt(vals[t], digits) for t in targets]
        ratios = [fmt(ratio(vals.get("weir"), vals[o]), 2) + "×" if ratios
                  else "" for o in others]
        print("| %s | %s |" % (name, " | ".join(cells + ratios)))

    def pct(vals):
        """Resumed share: (attempts, reused) to a percentage cell."""
        return {t: None if not v else 100.0 * v[1] / v[0] for t, v in vals.items()}

    print("| TLS | %s |" % " | ".join(targets + ["weir/" + o for o in others]))
    print("|---|%s" % ("---:|" * (len(targets) + len(others))))
    row("keep-alive HTTPS req/s (wrk)", get(keep, "rps"), 0)
    row("keep-alive HTTPS p99 ms", get(keep, "p99"), 3)
    row("keep-alive HTTPS: worker CPU µs per request", get(keep, "cpu"), 1)
    row("worker RSS KiB after keep-alive", {t: rss(d, t) for t in targets}, 0)
    row("full handshakes/s (s_time -new)", get(full, "rps"), 0)
    row("full handshake: worker CPU µs per connection", get(full, "cpu"), 1)
    row("resumed handshakes/s (s_time -reuse)", get(res, "rps"), 0)
    row("resumed handshake: worker CPU µs per connection", get(res, "cpu"), 1)
    row("new connection per request, resumed by wrk: req/s", get(close, "rps"), 0)
    row("new connection per request, resumed by wrk: p99 ms", get(close, "p99"), 3)
    row("new connection per request, resumed by wrk: worker CPU µs", get(close, "cpu"), 1)
    row("s_time -reuse connections resumed %",
        pct({t: res[t] and (res[t]["conns"], res[t]["resumed"]) for t in targets}), 1, False)
    row("s_time -new connections resumed %",
        pct({t: full[t] and (full[t]["conns"], full[t]["resumed"]) for t in targets}), 1, False)
    row("resumption, chain of new connections %",
        pct({t: resume[t].get("before") for t in targets}), 1, False)
    row("resumption after reload %",
        pct({t: resume[t].get("after") for t in targets}), 1, False)
    print()
    for name, table in (("keep-alive req/s", keep), ("full handshakes/s", full),
                        ("resumed handshakes/s", res),
                        ("new connection per request req/s", close)):
        print("- %s per round: %s" % (name, "; ".join(
            "%s %s" % (t, table[t]["all"]) for t in targets if table[t])))
    for t in targets:
        b, a = resume[t].get("before"), resume[t].get("after")
        try:
            params = open(os.path.join(d, "tlsparams-" + t)).read().strip()
        except OSError:
            params = "?"
        print("- %s: negotiated %s; resumed %s before the reload, %s after" % (
            t, params, "%d/%d" % (b[1], b[0]) if b else "n/a",
            "%d/%d" % (a[1], a[0]) if a else "n/a"))
    print()
    print_notes(notes)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "throughput":
        throughput(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "tls":
        tls(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "counts":
        counts(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
