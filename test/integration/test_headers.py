#!/usr/bin/env python3
"""Header rules (issue 12 section 2): request_header_set/add/del on the
head weir forwards ({client_ip} behind a trusted proxy, {request_id},
{host}), a set Host and rules on weir's own lines, response_header_*
on a backend's response, a route's rules on that route only (after the
frontend's), and weir -t refusing rules on framing and hop-by-hop fields
with FILE:LINE and exit 2. Two workers."""
import re

from harness import (WEIR_BIN, Client, Env, Tap, check, check_eq, run_cmd,
                     write_config)

t = Tap(budget=60.0)
env = Env("headers")
b1 = b2 = w = None

FRONT_RULES = {
    "request_header_set": ["X-Client: {client_ip}", "X-Rid: <{request_id}>",
                           "X-Tier: edge"],
    "request_header_add": ["X-Host: {host}", "X-Multi: a",
                           "X-Braces: {{x}}"],
    "request_header_del": "X-Secret",
    "response_header_del": "x-backend",
    "response_header_set": "Content-Type: text/x-weir",
    "response_header_add": "X-Served: {client_ip} {host} {request_id}",
}


def setup():
    global b1, b2, w
    b1 = env.backend("b1")
    b2 = env.backend("b2")
    web = {"listen": "127.0.0.1:auto", "backend": "app",
           "request_id": "X-Request-Id",
           "trusted_proxies": "127.0.0.2"}
    web.update(FRONT_RULES)
    w = env.weir(workers=2, frontends={
        "web": web,
        "plain": {"listen": "127.0.0.1:auto", "backend": "app"},
        "hostset": {"listen": "127.0.0.1:auto", "backend": "app",
                    "request_header_set": "Host: internal.example",
                    "request_header_del": ["X-Forwarded-For",
                                           "X-Forwarded-Proto"]},
    }, backends={
        "app": {"server": [b1.addr]},
        "api": {"server": [b2.addr]},
    }, sections={
        "route api": {"frontend": "web", "path_prefix": "/api/",
                      "backend": "api",
                      "request_header_set": "X-Tier: api",
                      "request_header_add": "X-Route: api",
                      "response_header_add": "X-Route: api",
                      "response_header_del": "Content-Type"},
    })


def port(name):
    return w.ports[name][0]


def values(headers, name):
    return [v for n, v in headers if n.lower() == name.lower()]


def get(name, path="/echo", headers=None, source=None, host="weir.test"):
    with Client(port(name), source=source) as c:
        c.request("GET", path, headers, host=host)
        r = c.response()
        r.client_port = c.local_port
        return r


@t.test("request rules: set replaces, add appends, del removes, with "
        "{client_ip} {request_id} {host}, over 8 connections")
def _():
    for i in range(8):
        r = get("web", headers=[("X-Secret", "s"), ("x-secret", "t"),
                                ("X-Multi", "client"), ("X-Client", "forged"),
                                ("X-Tier", "mine")],
                host="h%d.example:81" % i)
        check_eq(r.status, 200, "status: " + r.summary())
        hs = r.json()["headers"]
        check_eq(values(hs, "x-secret"), [], "X-Secret removed")
        check_eq(values(hs, "x-multi"), ["client", "a"], "X-Multi appended")
        check_eq(values(hs, "x-client"), ["127.0.0.1"], "X-Client set")
        check_eq(values(hs, "x-tier"), ["edge"], "X-Tier set")
        check_eq(values(hs, "x-host"), ["h%d.example:81" % i], "X-Host")
        check_eq(values(hs, "x-braces"), ["{x}"], "literal braces")
        rid = values(hs, "x-request-id")
        check(len(rid) == 1 and re.fullmatch(r"[0-9a-f-]{36}", rid[0]),
              "one request id at the backend: %r" % rid)
        check_eq(values(hs, "x-rid"), ["<%s>" % rid[0]], "X-Rid")
        check_eq(r.all("x-request-id"), rid, "the client's request id")
    # Frontend without rules: the same request passes untouched.
    hs = get("plain", headers=[("X-Secret", "s"), ("X-Multi", "client")]
             ).json()["headers"]
    check_eq(values(hs, "x-secret"), ["s"], "plain: X-Secret kept")
    check_eq(values(hs, "x-multi"), ["client"], "plain: X-Multi")
    check_eq(values(hs, "x-client"), [], "plain: no X-Client")


@t.test("{client_ip} is the client behind a trusted proxy, not the proxy")
def _():
    r = get("web", headers=[("X-Forwarded-For", "203.0.113.7")],
            source="127.0.0.2")
    check_eq(r.status, 200, "status: " + r.summary())
    hs = r.json()["headers"]
    check_eq(values(hs, "x-client"), ["203.0.113.7"], "X-Client")
    check_eq(values(hs, "x-real-ip"), ["203.0.113.7"], "X-Real-IP")
    check((r.get("x-served") or "").startswith("203.0.113.7 "),
          "response {client_ip}: %r" % r.get("x-served"))


@t.test("response rules on a backend's response: del, set, add with "
        "variables")
def _():
    r = get("web", host="resp.example")
    check_eq(r.status, 200, "status: " + r.summary())
    check_eq(r.all("x-backend"), [], "X-Backend removed")
    check_eq(r.all("content-type"), ["text/x-weir"], "Content-Type set")
    rid = r.all("x-request-id")
    check_eq(len(rid), 1, "request id returned")
    check_eq(r.all("x-served"), ["127.0.0.1 resp.example %s" % rid[0]],
             "X-Served")
    check_eq(r.json()["backend"], "b1", "the frontend's backend")
    # Framing is still weir's: the body is read whole by its length.
    check_eq(r.framing, "length", "framing")
    # A frontend without rules keeps the backend's header.
    check_eq(get("plain").all("x-backend"), ["b1"], "plain: X-Backend")


@t.test("a route's rules apply on that route only, after the frontend's")
def _():
    r = get("web", "/api/echo", headers=[("X-Secret", "s")])
    check_eq(r.status, 200, "status: " + r.summary())
    j = r.json()
    check_eq(j["backend"], "b2", "the route's backend")
    hs = j["headers"]
    check_eq(values(hs, "x-tier"), ["api"], "X-Tier set by the route")
    check_eq(values(hs, "x-route"), ["api"], "X-Route added by the route")
    check_eq(values(hs, "x-secret"), [], "the frontend's del still applies")
    check_eq(values(hs, "x-client"), ["127.0.0.1"], "the frontend's set")
    check_eq(r.all("x-route"), ["api"], "response X-Route")
    check_eq(r.all("content-type"), [], "the route's del after the "
             "frontend's set")
    check_eq(len(r.all("x-served")), 1, "the frontend's response add")
    r = get("web", "/apix")
    hs = r.json()["headers"]
    check_eq(values(hs, "x-route"), [], "no X-Route off the route")
    check_eq(values(hs, "x-tier"), ["edge"], "X-Tier off the route")
    check_eq(r.all("x-route"), [], "no response X-Route off the route")
    check_eq(r.all("content-type"), ["text/x-weir"], "Content-Type off "
             "the route")


@t.test("set Host replaces the Host line (X-Forwarded-Host keeps the "
        "client's); del removes weir's own X-Forwarded-* lines")
def _():
    r = get("hostset", headers=[("X-Forwarded-For", "6.6.6.6")])
    check_eq(r.status, 200, "status: " + r.summary())
    hs = r.json()["headers"]
    check_eq(values(hs, "host"), ["internal.example"], "Host")
    check_eq(values(hs, "x-forwarded-host"), ["weir.test"],
             "X-Forwarded-Host")
    check_eq(values(hs, "x-forwarded-for"), [], "X-Forwarded-For")
    check_eq(values(hs, "x-forwarded-proto"), [], "X-Forwarded-Proto")
    check_eq(values(hs, "x-real-ip"), ["127.0.0.1"], "X-Real-IP kept")


def check_t(name, front, line, words):
    """weir -t on a config whose frontend has the keys front: exit 2 and
    a stderr line FILE:LINE: ... words."""
    path = env.path(name)
    opts = {"listen": "127.0.0.1:1", "backend": "app"}
    opts.update(front)
    text = write_config(path, {"workers": 1}, {"web": opts},
                        {"app": {"server": "127.0.0.1:2"}})
    p = run_cmd([WEIR_BIN, "-t", "-c", path])
    check_eq(p.returncode, 2, "exit of weir -t on %s (stderr %r)" %
             (name, p.stderr))
    prefix = "%s:%d: " % (path, line)
    check(any(ln.startswith(prefix) and words in ln
              for ln in p.stderr.splitlines()),
          "no line %r...%r in stderr %r (config:\n%s)" %
          (prefix, words, p.stderr, text))


@t.test("weir -t refuses rules on framing and hop-by-hop fields, del Host, "
        "unknown variables and {request_id} without request_id: FILE:LINE, "
        "exit 2")
def _():
    # Line 7: [global], workers, blank, [frontend web], listen, backend.
    check_t("cl.ini", {"request_header_del": "Content-Length"}, 7,
            "request_header_del: Content-Length is a framing or "
            "hop-by-hop field")
    check_t("host.ini", {"request_header_del": "Host"}, 7,
            "request_header_del: Host can only be set")
    check_t("te.ini", {"request_header_set": "Transfer-Encoding: chunked"},
            7, "request_header_set: Transfer-Encoding is a framing")
    check_t("conn.ini", {"response_header_add": "Connection: close"}, 7,
            "response_header_add: Connection is a framing")
    check_t("var.ini", {"request_header_set": "X-A: {nope}"}, 7,
            "unknown variable '{nope}'")
    check_t("rid.ini", {"request_header_set": ["X-A: 1", "X-B: {request_id}"]},
            8, "{request_id} needs request_id in frontend 'web'")
    path = env.path("ok.ini")
    write_config(path, {"workers": 1}, {"web": dict(
        {"listen": "127.0.0.1:1", "backend": "app",
         "request_id": "X-Request-Id"}, **FRONT_RULES)},
        {"app": {"server": "127.0.0.1:2"}})
    p = run_cmd([WEIR_BIN, "-t", "-c", path])
    check_eq(p.returncode, 0, "weir -t on the rules this test runs with "
             "(stderr %r)" % p.stderr)



@t.test("weir stops cleanly")
def _():
    w.check_clean_stop()


t.run(setup, env)
