#!/usr/bin/python3
"""A DNS server for tests, on loopback, UDP and TCP on one free port.

Usage: dnsserver.py TABLE COUNTS

Prints the port on stdout, then answers A and AAAA queries from TABLE, a
JSON file read again for every query so a test can change it at any time
(write a new file and rename it over TABLE):

    {"app.weir.test": {"a": ["10.0.0.1"], "aaaa": ["::1"], "ttl": 30},
     "bad.weir.test": {"rcode": "SERVFAIL"},
     "slow.weir.test": {"drop": true}}

"rcode" is NOERROR (the default), SERVFAIL, NXDOMAIN or REFUSED; "drop"
sends no answer at all (the client times out); a name missing from the
table is NXDOMAIN; a name with no records of the asked type is NODATA.
After every query it rewrites COUNTS with one "NAME COUNT" line per name
asked (queries of any type, retries included), so a test can assert
re-resolution by count rather than by wall clock. A UDP answer over 512
bytes is sent truncated, so the client asks again over TCP. It exits
when stdin closes (its parent is gone) or on SIGTERM.
"""

import json
import os
import selectors
import socket
import struct
import sys
import threading

RCODES = {"NOERROR": 0, "SERVFAIL": 2, "NXDOMAIN": 3, "REFUSED": 5}
TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
UDP_MAX = 512


class Server:
    def __init__(self, table, counts):
        self.table_path = table
        self.counts_path = counts
        self.counts = {}
        self.lock = threading.Lock()

    def table(self):
        try:
            with open(self.table_path) as f:
                return {k.lower().rstrip("."): v
                        for k, v in json.load(f).items()}
        except (OSError, ValueError):
            return {}

    def count(self, name):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            tmp = self.counts_path + ".tmp"
            with open(tmp, "w") as f:
                for k, v in sorted(self.counts.items()):
                    f.write("%s %d\n" % (k, v))
            os.replace(tmp, self.counts_path)

    def answer(self, query, udp):
        """The reply to one query message, or None to send nothing."""
        if len(query) < 12:
            return None
        qid, flags, qdcount = struct.unpack("!HHH", query[:6])
        if flags & 0x8000 or qdcount != 1:
            return None
        labels, off = [], 12
        while off < len(query) and query[off] != 0:
            n = query[off]
            if n > 63 or off + 1 + n > len(query):
                return None
            labels.append(query[off + 1:off + 1 + n].decode("ascii",
                                                            "replace"))
            off += 1 + n
        if off + 5 > len(query):
            return None
        qtype, qclass = struct.unpack("!HH", query[off + 1:off + 5])
        question = query[12:off + 5]
        name = ".".join(labels).lower()
        self.count(name)
        entry = self.table().get(name)
        if entry is not None and entry.get("drop"):
            return None
        rcode = RCODES["NXDOMAIN"] if entry is None else \
            RCODES[entry.get("rcode", "NOERROR")]
        records = []
        if rcode == 0 and qclass == CLASS_IN:
            ttl = int(entry.get("ttl", 60))
            if qtype == TYPE_A:
                records = [(TYPE_A, ttl, socket.inet_pton(socket.AF_INET, a))
                           for a in entry.get("a", [])]
            elif qtype == TYPE_AAAA:
                records = [(TYPE_AAAA, ttl,
                            socket.inet_pton(socket.AF_INET6, a))
                           for a in entry.get("aaaa", [])]
        body = b"".join(struct.pack("!HHHIH", 0xC00C, t, CLASS_IN, ttl,
                                    len(rd)) + rd
                        for t, ttl, rd in records)
        # QR, AA, RA set; opcode and RD copied from the query.
        rflags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode
        if udp and 12 + len(question) + len(body) > UDP_MAX:
            rflags |= 0x0200
            records, body = [], b""
        head = struct.pack("!HHHHHH", qid, rflags, 1, len(records), 0, 0)
        return head + question + body

    def serve_tcp(self, conn):
        """Answer length-prefixed queries on one TCP connection."""
        with conn:
            conn.settimeout(10)
            try:
                while True:
                    n = self.recv_exact(conn, 2)
                    if n is None:
                        return
                    msg = self.recv_exact(conn, struct.unpack("!H", n)[0])
                    if msg is None:
                        return
                    reply = self.answer(msg, udp=False)
                    if reply is not None:
                        conn.sendall(struct.pack("!H", len(reply)) + reply)
            except OSError:
                return

    @staticmethod
    def recv_exact(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf


def bind_pair():
    """A UDP and a TCP socket on the same free loopback port."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(16)
        return udp, tcp, port
    sys.exit("dnsserver: no free port for both UDP and TCP")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    server = Server(sys.argv[1], sys.argv[2])
    udp, tcp, port = bind_pair()
    print(port, flush=True)
    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ, "udp")
    sel.register(tcp, selectors.EVENT_READ, "tcp")
    sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    while True:
        for key, _ in sel.select():
            if key.data == "udp":
                msg, peer = udp.recvfrom(4096)
                reply = server.answer(msg, udp=True)
                if reply is not None:
                    udp.sendto(reply, peer)
            elif key.data == "tcp":
                conn, _ = tcp.accept()
                threading.Thread(target=server.serve_tcp, args=(conn,),
                                 daemon=True).start()
            elif not sys.stdin.buffer.read1(4096):
                return


if __name__ == "__main__":
    main()
