"""Test certificates, made at run time with the openssl command line tool.

A CA signs leaf certificates for server names (ECDSA P-256 or RSA 2048),
an expired one, and client certificates; a second, unrelated CA is the
"wrong CA". Everything lives in one directory; each file is made once.
Every PEM a weir tls_cert takes holds the chain (leaf, then the CA) and the
key, as an operator's file would.
"""
import datetime
import os
import subprocess


def _run(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), r.stderr))


def _keygen(path, kind, cwd):
    if kind == "rsa":
        _run(["genpkey", "-algorithm", "RSA", "-pkeyopt",
              "rsa_keygen_bits:2048", "-out", path], cwd)
    else:
        _run(["genpkey", "-algorithm", "EC", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-out", path], cwd)


def _cat(out, *paths):
    with open(out, "w") as o:
        for p in paths:
            with open(p) as f:
                o.write(f.read())


class CA:
    """A test certificate authority in directory d, named name."""

    def __init__(self, d, name="weir test CA"):
        self.dir = d
        self.name = name
        os.makedirs(d, exist_ok=True)
        tag = name.replace(" ", "_")
        self.key = os.path.join(d, tag + ".key")
        self.cert = os.path.join(d, tag + ".pem")
        self.serial = 1
        if not os.path.exists(self.cert):
            _keygen(self.key, "ec", d)
            _run(["req", "-x509", "-new", "-key", self.key, "-out",
                  self.cert, "-days", "30", "-subj", "/CN=" + name,
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)

    def _sign(self, tag, kind, subj, ext, days=30, start=None, end=None):
        d = self.dir
        key = os.path.join(d, tag + ".key")
        csr = os.path.join(d, tag + ".csr")
        crt = os.path.join(d, tag + ".crt")
        extf = os.path.join(d, tag + ".ext")
        _keygen(key, kind, d)
        _run(["req", "-new", "-key", key, "-out", csr, "-subj", subj], d)
        with open(extf, "w") as f:
            f.write(ext)
        self.serial += 1
        args = ["x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey",
                self.key, "-out", crt, "-extfile", extf,
                "-set_serial", str(self.serial + os.getpid() * 1000)]
        if start is not None:
            # openssl 3.0's x509 has no -not_before: use "ca" for dates
            return self._sign_dated(tag, csr, extf, start, end)
        args += ["-days", str(days)]
        _run(args, d)
        return key, crt

    def _sign_dated(self, tag, csr, extf, start, end):
        d = self.dir
        crt = os.path.join(d, tag + ".crt")
        db = os.path.join(d, tag + ".db")
        open(db, "w").close()
        conf = os.path.join(d, tag + ".cnf")
        with open(conf, "w") as f:
            f.write("[ca]\ndefault_ca=c\n[c]\ndatabase=%s\n"
                    "new_certs_dir=%s\nserial=%s\npolicy=p\n"
                    "default_md=sha256\nunique_subject=no\n"
                    "[p]\ncommonName=supplied\n" %
                    (db, d, os.path.join(d, tag + ".srl")))
        with open(os.path.join(d, tag + ".srl"), "w") as f:
            f.write("%04X\n" % (self.serial + 4096))
        fmt = "%Y%m%d%H%M%SZ"
        _run(["ca", "-batch", "-config", conf, "-in", csr, "-out", crt,
              "-cert", self.cert, "-keyfile", self.key, "-extfile", extf,
              "-startdate", start.strftime(fmt), "-enddate",
              end.strftime(fmt), "-notext"], d)
        return os.path.join(d, tag + ".key"), crt

    def server(self, tag, names, kind="ec", expired=False):
        """A PEM (leaf, CA, key) for DNS names; returns its path."""
        pem = os.path.join(self.dir, tag + ".pem")
        if os.path.exists(pem):
            return pem
        san = ",".join("DNS:" + n for n in names)
        ext = ("subjectAltName=%s\nextendedKeyUsage=serverAuth\n"
               "basicConstraints=CA:FALSE\n" % san)
        start = end = None
        if expired:
            now = datetime.datetime.now(datetime.timezone.utc)
            start = now - datetime.timedelta(days=10)
            end = now - datetime.timedelta(days=1)
        key, crt = self._sign(tag, kind, "/CN=" + names[0], ext,
                              start=start, end=end)
        _cat(pem, crt, self.cert, key)
        return pem

    def server_ip(self, tag, ip="127.0.0.1", kind="ec"):
        """A server certificate for an IP address (backend tests)."""
        pem = os.path.join(self.dir, tag + ".pem")
        if os.path.exists(pem):
            return pem
        ext = ("subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n"
               "basicConstraints=CA:FALSE\n" % ip)
        key, crt = self._sign(tag, kind, "/CN=" + ip, ext)
        _cat(pem, crt, self.cert, key)
        return pem

    def split(self, pem):
        """(certfile, keyfile) of a PEM made here, for Python's ssl."""
        base = pem[:-len(".pem")]
        return base + ".crt", base + ".key"

    def client(self, tag, cn):
        """A client certificate with subject CN=cn, O=weir tests:
        returns (certfile, keyfile)."""
        crt = os.path.join(self.dir, tag + ".crt")
        if os.path.exists(crt):
            return crt, os.path.join(self.dir, tag + ".key")
        ext = "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n"
        key, crt = self._sign(tag, "ec", "/O=weir tests/CN=" + cn, ext)
        return crt, key
