#!/usr/bin/env python3
"""Routes (issue 12 section 1): host, path, method and header conditions
tried in file order, strip_prefix, redirects with {host}/{path}/{target},
answers of weir's own (return), 404 from a frontend without a backend,
path normalisation (dot segments and encoded slashes refused, the normal
form forwarded), absolute-form targets routed on their authority, and
routes changed by a reload. Two workers throughout."""
import http.client as httpclient
import json

from harness import (WEIR_BIN, Client, Env, Tap, check, check_eq, http,
                     raw_exchange, run_cmd, wait_until)

t = Tap(budget=90.0)
env = Env("routes")
app = api = canary = w = None
LOG = env.path("access.log")

ROUTES = [
    ("route api", {"frontend": "web", "path_prefix": "/api/",
                   "strip_prefix": "yes", "backend": "api"}),
    ("route canary", {"frontend": "web", "header": "X-Canary: 1",
                      "backend": "canary"}),
    ("route images", {"frontend": "web", "host": "*.example.test",
                      "path_prefix": "/img", "backend": "api"}),
    ("route submit", {"frontend": "web", "path_exact": "/submit",
                      "method": "POST, PUT", "backend": "canary"}),
    ("route old", {"frontend": "web", "path_prefix": "/old/",
                   "redirect": "301 https://{host}/new{path}"}),
    ("route moved", {"frontend": "web", "path_exact": "/moved",
                     "redirect": "308 http://other.test{target}"}),
    ("route health", {"frontend": "web", "path_exact": "/healthz",
                      "return": "200 all good"}),
    ("route gone", {"frontend": "web", "path_prefix": "/gone",
                    "return": "410"}),
    ("route only_x", {"frontend": "bare", "path_prefix": "/x/",
                      "backend": "app"}),
    ("route nothing", {"frontend": "web", "path_exact": "/nothing",
                       "return": "204"}),
    ("route long", {"frontend": "web", "path_prefix": "/long/",
                    "redirect": "302 https://www.example.com/new{target}"
                                "{target}{target}{target}{target}"}),
    ("route deny", {"frontend": "web", "path_prefix": "/admin",
                    "return": "403 no"}),
    ("route sapi", {"frontend": "secure", "path_prefix": "/api/",
                    "strip_prefix": "yes", "backend": "api"}),
]


def setup():
    global app, api, canary, w
    app = env.backend("app")
    api = env.backend("api")
    canary = env.backend("canary")
    w = env.weir(workers=2, frontends={
        "web": {"listen": "127.0.0.1:auto", "backend": "app",
                "access_log": LOG},
        "bare": {"listen": "127.0.0.1:auto"},
        "secure": {"listen": "127.0.0.1:auto", "backend": "app",
                   "redirect_https": "yes"},
    }, backends={
        "app": {"server": [app.addr]},
        "api": {"server": [api.addr]},
        "canary": {"server": [canary.addr]},
    }, sections=ROUTES, admin={"listen": "127.0.0.1:auto"})


def get(path, headers=None, method="GET", front="web", host="weir.test",
        body=None):
    return http(w.ports[front][0], method, path, headers, body=body, host=host)


def where(r):
    """(backend name, target it received) of an echoed request."""
    check_eq(r.status, 200, "status: " + r.summary())
    j = r.json()
    return j["backend"], j["target"]


@t.test("path_prefix with strip_prefix: /api/v1/x?q=1 reaches api as /v1/x?q=1")
def _():
    check_eq(where(get("/api/v1/x?q=1")), ("api", "/v1/x?q=1"), "/api/v1/x")
    check_eq(where(get("/api/")), ("api", "/"), "/api/")
    check_eq(where(get("/api/?a=b")), ("api", "/?a=b"), "/api/?a=b")
    # "/api/" is a directory prefix: neither "/api" nor "/apix" is in it.
    check_eq(where(get("/api")), ("app", "/api"), "/api")
    check_eq(where(get("/apix/y")), ("app", "/apix/y"), "/apix/y")


@t.test("a header condition: X-Canary: 1 goes to canary, any other value not")
def _():
    check_eq(where(get("/echo", [("x-canary", "1")]))[0], "canary", "1")
    check_eq(where(get("/echo", [("X-Canary", "2")]))[0], "app", "2")
    check_eq(where(get("/echo"))[0], "app", "absent")


@t.test("routes are tried in file order: /api/ with X-Canary: 1 takes api")
def _():
    check_eq(where(get("/api/z", [("X-Canary", "1")])), ("api", "/z"), "first")


@t.test("host *.example.test (port ignored, any case) with a segment prefix /img")
def _():
    check_eq(where(get("/img/a.png", host="A.Example.Test:8080")),
             ("api", "/img/a.png"), "wildcard host")
    check_eq(where(get("/img", host="x.y.example.test")), ("api", "/img"),
             "two labels")
    check_eq(where(get("/imgs", host="a.example.test"))[0], "app", "/imgs")
    check_eq(where(get("/img/a.png", host="example.test"))[0], "app",
             "the bare domain")


@t.test("method condition: POST and PUT /submit go to canary, GET not")
def _():
    check_eq(where(get("/submit", method="POST", body=b"x"))[0], "canary",
             "POST")
    check_eq(where(get("/submit", method="PUT", body=b"x"))[0], "canary",
             "PUT")
    check_eq(where(get("/submit"))[0], "app", "GET")


@t.test("redirect fills {host} (no port), {path} and {target}")
def _():
    before = app.stats()["requests"] + api.stats()["requests"]
    r = get("/old/a/b?x=1", host="h.test:8080")
    check_eq(r.status, 301, "status: " + r.summary())
    check_eq(r.get("location"), "https://h.test/new/old/a/b", "Location")
    r = get("/moved?a=1&b=2")
    check_eq(r.status, 308, "status: " + r.summary())
    check_eq(r.get("location"), "http://other.test/moved?a=1&b=2", "Location")
    check_eq(app.stats()["requests"] + api.stats()["requests"], before,
             "requests that reached a backend")


@t.test("return answers with its text (HEAD: its length only), or the status's")
def _():
    r = get("/healthz")
    check_eq((r.status, r.body), (200, b"all good"), "GET /healthz")
    check_eq(r.get("content-type"), "text/plain", "Content-Type")
    r = get("/healthz", method="HEAD")
    check_eq((r.status, r.get("content-length"), r.body), (200, "8", b""),
             "HEAD /healthz")
    r = get("/gone/x")
    check_eq((r.status, r.body), (410, b"410 Gone\n"), "GET /gone/x")


@t.test("route answers keep the connection (pipelined too); with a body they close")
def _():
    port = w.ports["web"][0]
    with Client(port) as c:
        c.request("GET", "/healthz")
        r = c.response("GET")
        check_eq((r.status, r.body), (200, b"all good"), "first answer")
        check("close" not in r.conn_tokens(), "Connection: %r" % r.get("connection"))
        c.request("GET", "/old/k")
        check_eq(c.response("GET").status, 301, "second, on the same connection")
        c.request("GET", "/echo")
        r = c.response("GET")
        check_eq(where(r)[0], "app", "third, forwarded")
        # Two requests in one write: both answered, in order.
        c.send(b"GET /gone HTTP/1.1\r\nHost: a\r\n\r\n"
               b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        check_eq(c.response("GET").status, 410, "pipelined first")
        check_eq(c.response("GET").body, b"all good", "pipelined second")
    with Client(port) as c:
        c.request("GET", "/healthz", version="HTTP/1.0",
                  headers=[("Connection", "keep-alive")])
        r = c.response("GET")
        check_eq(r.get("connection"), "keep-alive", "HTTP/1.0 keep-alive")
        c.request("GET", "/healthz", version="HTTP/1.0")
        r = c.response("GET")
        check("close" in r.conn_tokens(), "HTTP/1.0 without keep-alive: %r"
              % r.get("connection"))
        check(c.wait_closed(3.0), "HTTP/1.0 connection not closed")
    with Client(port) as c:
        c.request("POST", "/healthz", body=b"x" * 100)
        r = c.response("POST")
        check_eq(r.status, 200, "POST /healthz")
        check("close" in r.conn_tokens(), "with a body: %r" % r.get("connection"))
        check(c.wait_closed(3.0), "connection with a body not closed")


@t.test("a 204 answer has neither a body nor Content-Length")
def _():
    r = get("/nothing")
    check_eq((r.status, r.body, r.get("content-length")), (204, b"", None),
             "GET /nothing")


@t.test("HTTP/1.0 without Host: routes still work; {host} in a redirect gets 400")
def _():
    for path, status in (("/healthz", 200), ("/gone", 410), ("/old/x", 400),
                         ("/echo", 200)):
        req = ("GET %s HTTP/1.0\r\n\r\n" % path).encode()
        r, _, _, extra = raw_exchange(w.ports["web"][0], req)
        check(r is not None, "%s: no response: %s" % (path, extra))
        check_eq(r.status, status, path)
    w.check_workers_unchanged()


@t.test("a redirect longer than weir's answer buffer gets 414, the worker lives")
def _():
    r = get("/long/" + "a" * 3900)
    check_eq(r.status, 302, "a 20 KiB Location still fits")
    check(len(r.get("location")) > 5 * 3900, "Location length")
    r = get("/long/" + "a" * 9000)
    check_eq(r.status, 414, "a 45 KiB Location")
    check_eq(get("/healthz").status, 200, "afterwards")
    w.check_workers_unchanged()


@t.test("';' parameters and encoded sub-delims do not get past a /admin route")
def _():
    before = app.stats()["requests"]
    for target in ("/admin", "/admin;jsessionid=1", "/admin;/x",
                   "/admin%3bx/y", "/%61dmin/z"):
        r = get(target)
        check_eq((r.status, r.body), (403, b"no"), target)
    for target in ("/x/..;/admin", "/x/..%3B/admin"):
        req = ("GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % target).encode()
        r, _, _, extra = raw_exchange(w.ports["web"][0], req)
        check(r is not None, "%s: no response: %s" % (target, extra))
        check_eq(r.status, 400, target)
    check_eq(app.stats()["requests"], before, "requests that reached app")


@t.test("redirect_https keeps the whole path; strip_prefix cuts only upstream")
def _():
    r = get("/api/users?x=1", front="secure", host="a.test")
    check_eq(r.status, 308, "status")
    check_eq(r.get("location"), "https://a.test/api/users?x=1", "Location")


@t.test("a frontend without a backend: its route forwards, anything else is 404")
def _():
    before = app.stats()["requests"]
    check_eq(where(get("/x/1", front="bare")), ("app", "/x/1"), "/x/1")
    r = get("/y", front="bare")
    check_eq(r.status, 404, "/y: " + r.summary())
    check_eq(app.stats()["requests"], before + 1, "requests at app")


@t.test("dot segments, encoded '/', '\\' or NUL and bad escapes get 400")
def _():
    for target in ("/api/../admin", "/api/%2e%2e/admin", "/api/.%2E/x",
                   "/api%2F..%2Fadmin", "/a%5cb", "/a%00", "/a/./b",
                   "/api/..", "/%zz", "/a\\b"):
        req = ("GET %s HTTP/1.1\r\nHost: weir.test\r\n\r\n" % target).encode()
        r, closed, _, extra = raw_exchange(w.ports["web"][0], req)
        check(r is not None, "%s: no response: %s" % (target, extra))
        check_eq(r.status, 400, target)


@t.test("the normal form is what routes see and what backends get")
def _():
    check_eq(where(get("/%61pi/x%2dy")), ("api", "/x-y"), "/%61pi/x%2dy")
    check_eq(where(get("//api//x//")), ("api", "/x/"), "//api//x//")
    check_eq(where(get("/plain/%7euser/%3f?q=%2e")),
             ("app", "/plain/~user/%3F?q=%2e"), "query kept as received")


@t.test("an absolute-form target is routed on its authority as the host")
def _():
    req = (b"GET http://a.example.test/img/x HTTP/1.1\r\n"
           b"Host: a.example.test\r\n\r\n")
    r, _, _, extra = raw_exchange(w.ports["web"][0], req)
    check(r is not None, "no response: %s" % extra)
    check_eq(where(r), ("api", "/img/x"), "absolute form")


@t.test("route answers are in the access log with no backend")
def _():
    get("/healthz", host="log.test")
    get("/old/z", host="log.test")

    def lines():
        try:
            with open(LOG) as f:
                return [json.loads(x) for x in f if '"log.test' in x or
                        "/healthz" in x or "/old/z" in x]
        except (OSError, ValueError):
            return []
    check(wait_until(lambda: any(j["target"] == "/old/z" for j in lines()),
                     3.0), "no access log line for /old/z")
    got = {j["target"]: (j["status"], j["backend"]) for j in lines()}
    check_eq(got.get("/old/z"), (301, None), "/old/z")
    check_eq(got.get("/healthz"), (200, None), "/healthz")


@t.test("the admin API lists a frontend without a backend with backend null")
def _():
    conn = httpclient.HTTPConnection("127.0.0.1", w.admin_port, timeout=5)
    conn.request("GET", "/api/v1/frontends")
    r = conn.getresponse()
    body = r.read()
    conn.close()
    check_eq(r.status, 200, "status")
    doc = json.loads(body)
    fronts = {f["name"]: f for f in doc.get("frontends", doc)}
    check_eq(fronts["bare"]["backend"], None, "bare")
    check_eq(fronts["web"]["backend"], "app", "web")
    # Earlier tests got 301 and 308 answers, 200 and 410 from return.
    check(fronts["web"]["responses"]["3xx"] >= 3,
          "3xx counted: %r" % fronts["web"]["responses"])
    check(fronts["web"]["responses"]["4xx"] >= 2,
          "4xx counted: %r" % fronts["web"]["responses"])


@t.test("weir -t: a route to an unknown backend and a bad rate name FILE:LINE")
def _():
    base = ("[frontend web]\nlisten = 127.0.0.1:1\nbackend = app\n"
            "[backend app]\nserver = 127.0.0.1:2\n")
    cases = [
        ("[route r]\nfrontend = web\nbackend = nope\n", 8,
         "unknown backend 'nope'"),
        ("[limit l]\nrate = 5/week\n", 7, "rate: invalid value '5/week'"),
        ("[route r]\nfrontend = web\npath_prefix = /a/../b\n"
         "backend = app\n", 8, "'..' segment"),
    ]
    for i, (extra, line, why) in enumerate(cases):
        path = env.path("bad-%d.ini" % i)
        with open(path, "w") as f:
            f.write(base + extra)
        p = run_cmd([WEIR_BIN, "-t", "-c", path], timeout=10)
        check_eq(p.returncode, 2, "exit status for %r" % extra)
        want = "%s:%d: " % (path, line)
        check(any(ln.startswith(want) and why in ln
                  for ln in p.stderr.splitlines()),
              "no %r ... %r in %r" % (want, why, p.stderr))


@t.test("a reload changes the routes: /api/ then goes to canary, /healthz away")
def _():
    new = [s for s in ROUTES if s[0] not in ("route api", "route health")]
    new.insert(0, ("route api", {"frontend": "web", "path_prefix": "/api/",
                                 "backend": "canary"}))
    w.rewrite(sections=new)
    line = w.reload()
    check(line is not None and "complete" in line, "reload: %r" % line)
    check_eq(where(get("/api/v1")), ("canary", "/api/v1"), "after reload")
    before = app.stats()["health_checks"]
    r = get("/healthz")  # now the backend's own health endpoint
    check_eq(r.status, 200, "/healthz after reload: " + r.summary())
    check_eq(app.stats()["health_checks"], before + 1, "reached app")
    w.rewrite(sections=ROUTES)
    check("complete" in (w.reload() or ""), "reload back")


if __name__ == "__main__":
    t.run(setup, env)
