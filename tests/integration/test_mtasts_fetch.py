"""Fetching MTA-STS policies (src/smtp/mtasts_fetch) from a real HTTPS server.

Python's http.server, wrapped in TLS with a certificate from a CA made for the
test, serves https://mta-sts.<case>.example.test/.well-known/mta-sts.txt on
127.0.0.1 and answers by the Host the fetcher sends: a good policy (plain,
chunked, to the end of the connection), a 404, a redirect, the wrong
Content-Type, a body too large, an invalid policy, a body that never comes.
Certificates: the right name, a wildcard, another name, a partial wildcard, a
common name only, an expired one. Other endpoints: a port that never answers
the handshake, a closed port, a server that does not speak TLS.

Each case runs `smtp_test_mtasts_fetch` (built next to the outpost binary,
in tests/unit/) and checks what it reports: the result, the SMTP TLS report
type (RFC 8460) and the error a log would show.
"""
import os
import re
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import BIN, SAN_ENV
from testpki import leaf_cert, make_ca, write_pem

FETCH = os.environ.get("MTASTS_FETCH_BIN") or str(
    Path(BIN).resolve().parent / "tests" / "unit" / "smtp_test_mtasts_fetch")

POLICY = ("version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\n"
          "mx: *.mx.example.test\r\nmax_age: 604800\r\n")

# Hosts the server's main certificate names (besides a wildcard and a partial one).
CASES = ["good", "chunked", "closed", "dirty", "notfound", "redirect", "html", "notype",
         "large", "largechunked", "badpolicy", "slow", "cnonly", "expired"]


# --- certificates (testpki.py) ---

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("mtasts-pki")
    ca_key, ca = make_ca()
    out = {"ca": write_pem(d / "ca", ca_key, ca)[0]}
    names = (["mta-sts.example.test"] + [f"mta-sts.{c}.example.test" for c in CASES
                                         if c not in ("cnonly", "expired")]
             + ["*.wild.example.test", "mta-*.partial.example.test"])
    out["main"] = write_pem(d / "main", *leaf_cert(ca_key, ca, names))
    out["cnonly"] = write_pem(d / "cnonly", *leaf_cert(ca_key, ca, [],
                                                 cn="mta-sts.cnonly.example.test"))
    out["expired"] = write_pem(d / "expired", *leaf_cert(ca_key, ca, ["mta-sts.expired.example.test"],
                                                   expired=True))
    return out


# --- the HTTPS server ---

def _respond(h, status, headers, body=b""):
    h.send_response(status)
    for k, v in headers:
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


def _chunked(h, body, piece=1000):
    _respond(h, 200, [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
    for i in range(0, len(body), piece):
        part = body[i:i + piece]
        h.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
    h.wfile.write(b"0\r\n\r\n")


def _to_the_end(h, clean):
    h.close_connection = True
    _respond(h, 200, [("Content-Type", "text/plain"), ("Connection", "close")], POLICY.encode())
    h.wfile.flush()
    if clean:
        try:
            h.connection.unwrap()  # sends close_notify
        except (OSError, ssl.SSLError):
            pass  # the client may not answer with its own


def _slow(h):
    _respond(h, 200, [("Content-Type", "text/plain"), ("Content-Length", "100")], b"version")
    h.wfile.flush()
    h.server.release.wait(20)


def _plain(status, ctype="text/plain; charset=utf-8", body=POLICY.encode(), extra=()):
    def route(h):
        headers = [("Content-Length", str(len(body)))] + list(extra)
        if ctype:
            headers.append(("Content-Type", ctype))
        _respond(h, status, headers, body)
    return route


ROUTES = {
    "good": _plain(200),
    "chunked": lambda h: _chunked(h, POLICY.encode()),
    "closed": lambda h: _to_the_end(h, clean=True),
    "dirty": lambda h: _to_the_end(h, clean=False),
    "notfound": _plain(404, "text/html", b"<h1>Not Found</h1>"),
    "redirect": _plain(301, "text/html", b"moved", extra=[
        ("Location", "https://mta-sts.good.example.test/.well-known/mta-sts.txt")]),
    "html": _plain(200, "text/html"),
    "notype": _plain(200, None),
    "large": _plain(200, "text/plain", POLICY.encode() + b"#" * 70000),
    "largechunked": lambda h: _chunked(h, POLICY.encode() + b"\n" * 70000),
    "badpolicy": _plain(200, "text/plain", b"version: STSv1\nmode: bogus\nmax_age: 1\n"),
    "slow": _slow,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0].removeprefix("mta-sts.").removesuffix(".example.test")
        self.server.requests.append({"host": host, "path": self.path,
                                     "headers": dict(self.headers)})
        try:
            ROUTES.get(name, ROUTES["good"])(self)
        except (OSError, ssl.SSLError):
            self.close_connection = True  # the client hung up first (a cap, a timeout)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        pass  # handshakes the client refuses, clients that hang up: expected here


@pytest.fixture(scope="module")
def https(pki):
    def context(cert):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        return ctx
    main = context(pki["main"])
    special = {"mta-sts.cnonly.example.test": context(pki["cnonly"]),
               "mta-sts.expired.example.test": context(pki["expired"])}
    sni = []

    def pick(sslobj, server_name, ctx):
        sni.append(server_name)
        if server_name in special:
            sslobj.context = special[server_name]
    main.sni_callback = pick
    srv = Server(("127.0.0.1", 0), Handler)
    srv.socket = main.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    srv.requests, srv.sni, srv.release = [], sni, threading.Event()
    srv.port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


# --- running the fetcher ---

RESULT = re.compile(r"^result=(\S+) tlsrpt=(\S+) error=(.*?)"
                    r"(?: mode=(\S+) max_age=(\d+) mx=(\S*))?$")


def fetch(domain, port, *addrs, ca=None, timeout_ms=5000, extra=()):
    assert os.access(FETCH, os.X_OK), f"{FETCH} not built (ninja builds it with outpost)"
    args = [FETCH, "--domain", domain, "--port", str(port), "--timeout-ms", str(timeout_ms)]
    for a in addrs or ("127.0.0.1",):
        args += ["--addr", a]
    if ca:
        args += ["--ca", str(ca)]
    args += list(extra)
    start = time.monotonic()
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout_ms / 1000 + 30,
                       env=dict(os.environ, **SAN_ENV))
    elapsed = time.monotonic() - start
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    line = r.stdout.strip()
    if line == "result=cancelled":
        return {"result": "cancelled", "elapsed": elapsed}
    m = RESULT.match(line)
    assert m, line
    out = {"result": m[1], "tlsrpt": m[2], "error": m[3], "elapsed": elapsed}
    if m[4]:
        out.update(mode=m[4], max_age=int(m[5]), mx=m[6].split(",") if m[6] else [])
    return out


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the cases ---

def test_good_policy_is_fetched_with_the_right_request(https, pki):
    r = fetch("good.example.test", https.port, ca=pki["ca"])
    assert r["result"] == "ok", r
    assert r["error"] == "-"
    assert r["mode"] == "enforce" and r["max_age"] == 604800
    assert r["mx"] == ["mail.example.test", "*.mx.example.test"]
    req = https.requests[-1]
    assert req["path"] == "/.well-known/mta-sts.txt"
    assert req["host"] == f"mta-sts.good.example.test:{https.port}"
    assert req["headers"]["Connection"] == "close"
    assert req["headers"]["User-Agent"].startswith("outpost/")
    assert https.sni[-1] == "mta-sts.good.example.test"


def test_domain_is_lowercased_and_its_trailing_dot_dropped(https, pki):
    r = fetch("Good.EXAMPLE.test.", https.port, ca=pki["ca"])
    assert r["result"] == "ok", r
    assert https.sni[-1] == "mta-sts.good.example.test"


@pytest.mark.parametrize("domain", ["example.test", "chunked.example.test",
                                    "closed.example.test", "wild.example.test"])
def test_policy_is_read_whatever_its_framing_and_by_wildcard_certificate(https, pki, domain):
    r = fetch(domain, https.port, ca=pki["ca"])
    assert r["result"] == "ok", r
    assert r["mx"] == ["mail.example.test", "*.mx.example.test"]


@pytest.mark.parametrize("domain,result,tlsrpt,error", [
    ("notfound", "status", "sts-policy-fetch-error", "HTTP status 404"),
    ("redirect", "status", "sts-policy-fetch-error", "HTTP status 301: a redirect, not followed"),
    ("html", "content-type", "sts-policy-fetch-error", 'Content-Type "text/html" is not text/plain'),
    ("notype", "content-type", "sts-policy-fetch-error", "no Content-Type"),
    ("large", "too-large", "sts-policy-fetch-error", "policy larger than 65536 bytes"),
    ("largechunked", "too-large", "sts-policy-fetch-error", "policy larger than 65536 bytes"),
    ("badpolicy", "policy", "sts-policy-invalid",
     "invalid policy: line 2: mode: expected enforce, testing or none"),
    ("dirty", "http", "sts-policy-fetch-error", "without TLS close_notify"),
    ("othername", "cert", "sts-webpki-invalid", "hostname mismatch"),
    ("partial", "cert", "sts-webpki-invalid", "hostname mismatch"),
    ("cnonly", "cert", "sts-webpki-invalid", "hostname mismatch"),
    ("expired", "cert", "sts-webpki-invalid", "certificate has expired"),
])
def test_bad_answers_are_refused(https, pki, domain, result, tlsrpt, error):
    r = fetch(f"{domain}.example.test", https.port, ca=pki["ca"])
    assert (r["result"], r["tlsrpt"]) == (result, tlsrpt), r
    assert error in r["error"], r
    assert r["error"].startswith(f"127.0.0.1:{https.port}: "), r
    assert "mode" not in r


def test_redirect_is_not_followed(https, pki):
    before = len(https.requests)
    fetch("redirect.example.test", https.port, ca=pki["ca"])
    assert [q["host"].split(":")[0] for q in https.requests[before:]] == [
        "mta-sts.redirect.example.test"]


def test_system_trust_store_does_not_know_the_test_ca(https):
    r = fetch("good.example.test", https.port)
    assert r["result"] == "cert", r
    assert "certificate not valid for mta-sts.good.example.test" in r["error"]


def test_server_that_never_answers_times_out(pki):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the connection; nobody speaks
        r = fetch("good.example.test", silent.getsockname()[1], ca=pki["ca"], timeout_ms=1500)
    assert r["result"] == "timeout", r
    assert "timed out after 1500 ms in the TLS handshake with 127.0.0.1:" in r["error"]
    assert 1.4 < r["elapsed"] < 10, r


def test_body_that_never_comes_times_out(https, pki):
    r = fetch("slow.example.test", https.port, ca=pki["ca"], timeout_ms=1500)
    assert r["result"] == "timeout", r
    assert "waiting for the response from 127.0.0.1:" in r["error"]


def test_closed_port_is_a_connect_failure(pki):
    r = fetch("good.example.test", closed_port(), ca=pki["ca"])
    assert (r["result"], r["tlsrpt"]) == ("connect", "sts-policy-fetch-error"), r
    assert "Connection refused" in r["error"]


def test_server_without_tls_is_a_tls_failure(pki):
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen(1)

        def answer():
            c, _ = plain.accept()
            with c:
                c.recv(4096)
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        t = threading.Thread(target=answer, daemon=True)
        t.start()
        r = fetch("good.example.test", plain.getsockname()[1], ca=pki["ca"])
        t.join(5)
    assert r["result"] == "tls", r
    assert "TLS handshake failed" in r["error"]


def test_next_address_is_tried_after_a_refused_one(https, pki):
    # Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1 only).
    r = fetch("good.example.test", https.port, "127.0.0.2", "127.0.0.1", ca=pki["ca"])
    assert r["result"] == "ok", r


def test_silent_address_uses_only_its_share_of_the_time(https, pki):
    with socket.socket() as silent:
        silent.bind(("127.0.0.3", https.port))
        silent.listen(8)
        r = fetch("good.example.test", https.port, "127.0.0.3", "127.0.0.1", ca=pki["ca"],
                  timeout_ms=4000)
    assert r["result"] == "ok", r
    assert r["elapsed"] > 1.9, r  # the first address had half of the 4 s


def test_when_every_address_fails_the_most_telling_failure_is_reported(https, pki):
    r = fetch("othername.example.test", https.port, "127.0.0.1", "127.0.0.2", ca=pki["ca"])
    assert r["result"] == "cert", r
    assert r["error"].endswith("(2 addresses tried)"), r


def test_cancelled_fetch_never_reports(https, pki):
    r = fetch("slow.example.test", https.port, ca=pki["ca"], timeout_ms=3000,
              extra=["--cancel-after-ms", "300"])
    assert r["result"] == "cancelled", r


@pytest.mark.parametrize("domain,addrs", [
    ("bad_name.example.test", ("127.0.0.1",)),
    ("-bad.example.test", ("127.0.0.1",)),
    ("good.example.test\r\nX-Injected: 1", ("127.0.0.1",)),
])
def test_bad_domain_is_refused_before_connecting(https, domain, addrs):
    before = len(https.requests)
    r = fetch(domain, https.port, *addrs)
    assert (r["result"], r["error"]) == ("invalid", "not a domain name in A-label form"), r
    assert len(https.requests) == before
