#!/usr/bin/env python3
"""Man pages: every key of the config parser's table (common/config.c) is
documented in its section of man/weir.ini.5, and mandoc finds nothing to
warn about in man/weir.8 and man/weir.ini.5.

weir.ini.5 convention: each key is an ".It Ic KEY" item of the top-level
list under ".Sh GLOBAL SECTION", ".Sh FRONTEND SECTIONS", ".Sh BACKEND
SECTIONS", ".Sh ADMIN SECTION", ".Sh ROUTE SECTIONS", ".Sh LIMIT SECTIONS"
or ".Sh REQUEST POLICY" (keys of frontends and routes both), and its entry says "Default" and
"Reload:". Nested lists (values,
server options) use other macros (".It Cm"), so they are not keys.
"""
import os
import re
import shutil

from harness import REPO, Skip, Tap, check, run_cmd

t = Tap()

CONFIG_C = os.path.join(REPO, "common", "config.c")
PAGES = [os.path.join(REPO, "man", p) for p in ("weir.8", "weir.ini.5")]
INI5 = PAGES[1]

# The table's row macros and the .Sh heading that documents their keys.
SECTIONS = {
    "G": "GLOBAL SECTION",
    "F": "FRONTEND SECTIONS",
    "B": "BACKEND SECTIONS",
    "A": "ADMIN SECTION",
    "R": "ROUTE SECTIONS",
    "L": "LIMIT SECTIONS",
    "P": "REQUEST POLICY",
}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def table_keys(source):
    """{'G': [key, ...], 'F': [...], 'B': [...], 'A': [...]}: the rows of config_keys[]
    in common/config.c, in table order, read from the macro calls."""
    m = re.search(r"config_keys\[\]\s*=\s*\{(.*?)\n\};", source, re.S)
    check(m, "config_keys[] table not found in common/config.c")
    keys = {s: [] for s in SECTIONS}
    for sect, key in re.findall(r'^\s*([GFBARLP])\(\s*"([^"]+)"', m.group(1),
                                re.M):
        keys[sect].append(key)
    return keys


def page_entries(text):
    """{heading: {key: entry text}} for the ".It Ic KEY" items of the
    top-level list of each .Sh section, plus duplicates as a list."""
    entries, dups = {}, []
    heading, depth, cur = None, 0, None
    for line in text.splitlines():
        if line.startswith(".Sh "):
            heading = line[4:].strip().strip('"')
            entries.setdefault(heading, {})
            depth, cur = 0, None
            continue
        if line.startswith(".Bl"):
            depth += 1
        elif line.startswith(".El"):
            depth -= 1
        m = re.match(r"\.It\s+Ic\s+(\S+)", line)
        if heading is not None and depth == 1 and m:
            cur = m.group(1)
            if cur in entries[heading]:
                dups.append((heading, cur))
            entries[heading][cur] = ""
        if heading is not None and cur is not None:
            entries[heading][cur] += line + "\n"
    return entries, dups


def check_page(keys, text):
    """Problems with the page text against the table's keys, one string
    each; [] when every key is documented in its own section."""
    entries, dups = page_entries(text)
    problems = ["%s: %s documented twice" % d for d in dups]
    for sect, heading in SECTIONS.items():
        if heading not in entries:
            problems.append("no .Sh %s" % heading)
            continue
        for key in keys[sect]:
            entry = entries[heading].get(key)
            if entry is None:
                problems.append("%s: key %s is not documented" %
                                (heading, key))
                continue
            for word in ("Default", "Reload:"):
                if word not in entry:
                    problems.append("%s: key %s does not say %r" %
                                    (heading, key, word))
    return problems


def drop_entry(text, heading, key):
    """text without the ".It Ic key" item of heading's list (up to the
    next key item or the end of the list)."""
    out, inside, skipping, depth = [], False, False, 0
    for line in text.splitlines():
        if line.startswith(".Sh "):
            inside = line[4:].strip() == heading
            depth = 0
        if line.startswith(".Bl"):
            depth += 1
        elif line.startswith(".El"):
            depth -= 1
            if skipping and depth == 0:
                skipping = False
        if inside and depth == 1 and line.startswith(".It Ic "):
            skipping = line.split()[2] == key
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


@t.test("the key table of common/config.c parses into every section")
def _():
    keys = table_keys(read(CONFIG_C))
    for sect, heading in SECTIONS.items():
        check(keys[sect], "no %s() rows found for %s" % (sect, heading))
    n = sum(len(v) for v in keys.values())
    rows = len(re.findall(r'^\s*[GFBARLP]\(\s*"', read(CONFIG_C), re.M))
    check(n == rows, "parsed %d keys but config.c has %d row macros" % (n, rows))


@t.test("weir.ini.5 documents every key of the table in its own section")
def _():
    problems = check_page(table_keys(read(CONFIG_C)), read(INI5))
    check(not problems, "\n".join(problems))


@t.test("the checker reports each key whose entry is removed from weir.ini.5")
def _():
    keys = table_keys(read(CONFIG_C))
    text = read(INI5)
    for sect, heading in SECTIONS.items():
        for key in keys[sect]:
            cut = drop_entry(text, heading, key)
            check(cut != text, "could not remove %s from %s" % (key, heading))
            want = "%s: key %s is not documented" % (heading, key)
            got = check_page(keys, cut)
            check(got == [want], "without %s: expected [%r], got %r"
                  % (key, want, got))


@t.test("the checker reports a key documented in the wrong section")
def _():
    keys = table_keys(read(CONFIG_C))
    text = read(INI5)
    key = keys["F"][0]
    entry = page_entries(text)[0]["FRONTEND SECTIONS"][key]
    check(".El" not in entry.split("\n")[-2:], "pick a key that is not "
          "last in its list: %s" % key)
    moved = drop_entry(text, "FRONTEND SECTIONS", key)
    at = moved.index("\n.Bl", moved.index(".Sh BACKEND SECTIONS"))
    at = moved.index("\n", at + 1) + 1
    moved = moved[:at] + entry + moved[at:]
    got = check_page(keys, moved)
    want = "FRONTEND SECTIONS: key %s is not documented" % key
    check(got == [want], "moving %s under BACKEND SECTIONS: expected [%r], "
          "got %r" % (key, want, got))


@t.test("the checker reports an entry that does not say whether it reloads")
def _():
    keys = table_keys(read(CONFIG_C))
    key = keys["B"][0]
    text = read(INI5)
    m = re.search(r"^\.It Ic %s .*?(?=^\.It Ic )" % re.escape(key), text,
                  re.S | re.M)
    check(m, "entry of %s not found" % key)
    cut = text[:m.start()] + m.group(0).replace("Reload:", "Reloads") + \
        text[m.end():]
    got = check_page(keys, cut)
    check(got == ["BACKEND SECTIONS: key %s does not say 'Reload:'" % key],
          "got %r" % got)


def mandoc_lint(page):
    if shutil.which("mandoc") is None:
        raise Skip("mandoc is not installed (apt-get install mandoc)")
    p = run_cmd(["mandoc", "-Tlint", "-Wwarning", page], timeout=30)
    out = (p.stdout + p.stderr).strip()
    check(p.returncode == 0 and not out,
          "mandoc -Tlint -Wwarning %s: exit %d\n%s" % (page, p.returncode, out))


@t.test("mandoc -Tlint -Wwarning man/weir.8 prints nothing")
def _():
    mandoc_lint(PAGES[0])


@t.test("mandoc -Tlint -Wwarning man/weir.ini.5 prints nothing")
def _():
    mandoc_lint(PAGES[1])


t.run()
