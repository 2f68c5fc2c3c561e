#!/usr/bin/env python3
"""Fixed-count HTTP/1.1 load for bench/run.sh: exactly N GET requests over C
keep-alive connections, one request in flight per connection, one thread.

Usage: client.py HOST:PORT N [CONNS]
Prints "requests=N ok=N errors=E seconds=S"; exits 1 if any request did not
get a 200. Fast enough (tens of thousands of requests a second) that a proxy
under valgrind or strace, not this client, sets the pace.
"""
import selectors
import socket
import sys
import time

REQ = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: weir-bench\r\n\r\n"


class Conn:
    """One keep-alive connection and the response it is reading."""

    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.busy = False

    def responses(self):
        """Yield the status of each complete response in the buffer."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].split(b"\r\n")
            clen = 0
            for line in head[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    clen = int(value)
                elif name.strip().lower() == b"transfer-encoding":
                    raise ValueError("chunked response not supported")
            if len(self.buf) < end + 4 + clen:
                return
            self.buf = self.buf[end + 4 + clen:]
            yield int(head[0].split()[1])


def main():
    host, _, port = sys.argv[1].rpartition(":")
    total = int(sys.argv[2])
    nconns = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    addr = (host, int(port))
    sel = selectors.DefaultSelector()
    sent = ok = errors = 0
    done = 0
    t0 = time.monotonic()
    conns = [Conn(addr) for _ in range(min(nconns, max(total, 1)))]
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
        if sent < total:
            c.sock.sendall(REQ)
            c.busy = True
            sent += 1
    deadline = t0 + 600
    while done < total:
        if time.monotonic() > deadline:
            sys.exit("client.py: timed out after %d of %d" % (done, total))
        for key, _ in sel.select(timeout=5):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                # The server closed: count what was in flight, reconnect.
                sel.unregister(c.sock)
                c.sock.close()
                if c.busy:
                    errors += 1
                    done += 1
                nc = Conn(addr)
                conns[conns.index(c)] = nc
                sel.register(nc.sock, selectors.EVENT_READ, nc)
                c = nc
            else:
                c.buf += data
                for status in c.responses():
                    done += 1
                    c.busy = False
                    if status == 200:
                        ok += 1
                    else:
                        errors += 1
            if not c.busy and sent < total:
                c.sock.sendall(REQ)
                c.busy = True
                sent += 1
    secs = time.monotonic() - t0
    for c in conns:
        c.sock.close()
    print("requests=%d ok=%d errors=%d seconds=%.3f" % (total, ok, errors, secs))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
