"""A client for weir's admin API in tests: one request per connection, over
TCP or a unix socket, and the token file writes need."""
import http.client as httpclient
import json
import os
import socket

from harness import check

TOKEN = "t0k3n-of-the-admin_API.v1"


class UnixHTTPConnection(httpclient.HTTPConnection):
    """http.client over an AF_UNIX stream socket."""

    def __init__(self, path, timeout=5.0):
        super().__init__("weir", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def get(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        check(self.get("Content-Type") == "application/json",
              "Content-Type %r, body %r" % (self.get("Content-Type"), self.body))
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


def api(w, method, path, body=None, token=None, headers=None, unix=None,
        timeout=5.0):
    """One request to w's admin API on a new connection."""
    if unix is not None:
        conn = UnixHTTPConnection(unix, timeout)
    else:
        conn = httpclient.HTTPConnection("127.0.0.1", w.admin_port,
                                          timeout=timeout)
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return Answer(r.status, r.msg, r.read())
    finally:
        conn.close()


def write_token(env, name="token", text=TOKEN + "\n", mode=0o600):
    """A token file in env's directory; its path."""
    path = env.path(name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path
