"""Outbound TLS policy: DANE (RFC 7672) and MTA-STS (RFC 8461), with a real
Postfix offering STARTTLS, NSD serving a DNSSEC-signed zone with TLSA
records, and an HTTPS server publishing MTA-STS policies.

One Postfix on 127.0.0.2 presents one certificate (from a CA made for the
test) naming mx.dane.test and mx.sts.test. So:
- dane.test: signed, TLSA 3 1 1 of that certificate's key: DANE, verified;
- bad.dane.test: signed, a TLSA record that matches nothing: no delivery,
  and never in plaintext;
- sts.test: an MTA-STS policy in enforce mode naming mx.sts.test: TLS with
  the certificate verified for that name;
- stsbad.test: enforce, but its MX (mx.stsbad.test) is not in the
  certificate: no delivery;
- ststest.test: the same bad certificate, the policy in testing mode: the
  mail goes (RFC 8461 §5: testing never blocks).
"""
import http.server
import ssl
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
from postfix import Postfix  # noqa: E402
from conftest import free_port_base, port_free  # noqa: E402
from dnsserver import DnsServer  # noqa: E402
from test_delivery import garbage_server, maildir, message, submit, wait_for  # noqa: E402
from testpki import cert_sha256, leaf_cert, make_ca, spki_sha256, write_pem  # noqa: E402

STS_IP = "127.0.0.5"
POLICIES = {
    "sts.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n",
    "stsbad.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.stsbad.test\r\nmax_age: 86400\r\n",
    "ststest.test": ("version: STSv1\r\nmode: testing\r\nmx: mx.ststest.test\r\n"
                     "max_age: 86400\r\n"),
}
MAILBOXES = ["dan@dane.test", "bea@bad.dane.test", "tia@ta.dane.test", "sam@sts.test", "sid@stsbad.test",
             "tim@ststest.test"]


def policy_server(cert, key):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0]
            domain = host.removeprefix("mta-sts.")
            body = POLICIES.get(domain)
            if self.path != "/.well-known/mta-sts.txt" or body is None:
                self.send_response(404)
                self.end_headers()
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer((STS_IP, 443), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class World:
    pass


@pytest.fixture
def tls_world(make_server, server_root):
    if not port_free(443, STS_IP):
        pytest.skip(f"{STS_IP}:443 is taken")
    w = World()
    pki = server_root / "pki"
    pki.mkdir()
    ca_key, ca = make_ca()
    w.ca = write_pem(pki / "ca", ca_key, ca)[0]
    mx_key, mx_cert = leaf_cert(ca_key, ca, ["mx.dane.test", "mx.sts.test", "mxta.dane.test"])
    w.mx_cert, w.mx_key = write_pem(pki / "mx", mx_key, mx_cert)
    # The MX presents an EE certificate signed by the test CA; the CA, not
    # the system's store, is what outpost trusts for MTA-STS.
    (pki / "mx-chain.pem").write_bytes(w.mx_cert.read_bytes() + w.ca.read_bytes())
    sts_key, sts_cert = leaf_cert(ca_key, ca, [f"mta-sts.{d}" for d in POLICIES])
    w.sts_cert, w.sts_key = write_pem(pki / "sts", sts_key, sts_cert)
    for p in pki.iterdir():
        p.chmod(0o644)
    pki.chmod(0o755)

    base = free_port_base()
    w.port = next(p for p in range(base + 1, 65000)
                  if port_free(p, "127.0.0.2") and port_free(p, "127.0.0.4"))
    tlsa = spki_sha256(mx_cert)
    zones = {
        "dane.test": (f"@ MX 10 mx\nmx A 127.0.0.2\n_{w.port}._tcp.mx TLSA 3 1 1 {tlsa}\n"
                      f"bad MX 10 mxbad\nmxbad A 127.0.0.2\n"
                      f"_{w.port}._tcp.mxbad TLSA 3 1 1 {'00' * 32}\n"
                      # DANE-TA: the CA that signed the MX's certificate (sent
                      # in its chain), and the name checked.
                      f"ta MX 10 mxta\nmxta A 127.0.0.2\n"
                      f"_{w.port}._tcp.mxta TLSA 2 0 1 {cert_sha256(ca)}\n"
                      # TLSA records none of which SMTP may use (PKIX-EE):
                      # TLS is still mandatory (RFC 7672 §2.2); this MX has none.
                      f"plain MX 10 mxplain\nmxplain A 127.0.0.4\n"
                      f"_{w.port}._tcp.mxplain TLSA 1 1 1 {tlsa}\n"),
        "sts.test": (f"@ MX 10 mx\nmx A 127.0.0.2\n_mta-sts TXT \"v=STSv1; id=20261125\"\n"
                     f"mta-sts A {STS_IP}\n"),
        "stsbad.test": (f"@ MX 10 mx\nmx A 127.0.0.2\n_mta-sts TXT \"v=STSv1; id=1\"\n"
                        f"mta-sts A {STS_IP}\n"),
        "ststest.test": (f"@ MX 10 mx\nmx A 127.0.0.2\n_mta-sts TXT \"v=STSv1; id=1\"\n"
                         f"mta-sts A {STS_IP}\n"),
    }
    # mx.stsbad.test and mx.ststest.test are not in the MX's certificate.
    w.dns = DnsServer(server_root / "dns", zones=zones, signed={"dane.test"})
    w.dns.start()
    w.https = policy_server(w.sts_cert, w.sts_key)
    w.pf = Postfix(server_root / "postfix", ip="127.0.0.2", port=w.port,
                   relay_domains=["dane.test", "bad.dane.test", "ta.dane.test", "sts.test", "stsbad.test",
                                  "ststest.test"],
                   virtual_maildir=server_root / "maildir", mailboxes=MAILBOXES,
                   extra={"smtpd_tls_security_level": "may",
                          "smtpd_tls_cert_file": str(pki / "mx-chain.pem"),
                          "smtpd_tls_key_file": str(w.mx_key)})
    w.pf.start()
    w.srv = make_server()
    w.srv.quickstart()
    w.srv.set("dns", "servers", w.dns.server)
    w.srv.set("dns", "trust_anchor", str(w.dns.trust_anchor_file()))
    w.srv.set("delivery", "port", str(w.port))
    w.srv.set("delivery", "tls_ca_file", str(w.ca))
    w.srv.set("queue", "retry_min", "1s")
    w.srv.set("queue", "retry_max", "2s")
    w.password = w.srv.add_account("alice@example.test")
    w.srv.start()
    yield w
    w.https.shutdown()
    w.https.server_close()
    w.pf.stop()
    w.dns.stop()


def send(w, to, subject):
    submit(w.srv, "alice@example.test", w.password, to, message(to, subject))


def test_dane_with_a_matching_tlsa_record_delivers_verified(tls_world):
    w = tls_world
    send(w, "dan@dane.test", "dane ok")
    assert wait_for(lambda: maildir(w, "dan@dane.test")), w.srv.log()
    log = w.srv.log()
    assert "host=mx.dane.test policy=dane" in log and "verified=dane" in log, log


def test_dane_with_a_mismatching_tlsa_record_defers_and_never_goes_plain(tls_world):
    w = tls_world
    send(w, "bea@bad.dane.test", "dane bad")
    w.srv.wait_log(" delivery deferred ", timeout=20)
    log = w.srv.log()
    assert "host=mxbad.dane.test policy=dane" in log and "verified=no" in log, log
    assert "certificate verification failed" in log
    time.sleep(3)  # retries keep failing; none in plaintext
    assert maildir(w, "bea@bad.dane.test") == []
    assert "policy=none" not in log


def test_mta_sts_enforce_with_a_valid_certificate_delivers(tls_world):
    w = tls_world
    send(w, "sam@sts.test", "sts ok")
    assert wait_for(lambda: maildir(w, "sam@sts.test")), w.srv.log()
    log = w.srv.log()
    assert "delivery mta-sts domain=sts.test mode=enforce id=20261125 source=fetched" in log
    assert "host=mx.sts.test policy=mta-sts" in log and "verified=yes" in log


def test_mta_sts_enforce_with_a_bad_certificate_defers(tls_world):
    w = tls_world
    send(w, "sid@stsbad.test", "sts bad")
    w.srv.wait_log(" delivery deferred ", timeout=20)
    log = w.srv.log()
    assert "delivery mta-sts domain=stsbad.test mode=enforce" in log
    assert "host=mx.stsbad.test policy=mta-sts" in log and "verified=no" in log
    time.sleep(3)
    assert maildir(w, "sid@stsbad.test") == []
    [(qid, _, rcpt, state)] = w.srv.queue()
    assert (rcpt, state) == ("sid@stsbad.test", "queued")
    r = w.srv.cli("queue", "list")
    assert "certificate verification failed" in r.stdout, r.stdout


def test_mta_sts_testing_mode_does_not_block(tls_world):
    w = tls_world
    send(w, "tim@ststest.test", "sts testing")
    assert wait_for(lambda: maildir(w, "tim@ststest.test")), w.srv.log()
    assert "delivery mta-sts domain=ststest.test mode=testing" in w.srv.log()


def tls_results(w):
    import sqlite3
    db = w.srv.dir / "data" / "queue" / "queue.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return {(d, p, mx, res) for d, p, mx, res in
                c.execute("SELECT domain, policy, mx, result FROM tls_results")}


def test_tls_results_are_kept_for_reports(tls_world):
    """RFC 8460 data: per domain, policy type, MX and result."""
    w = tls_world
    for to in ("dan@dane.test", "bea@bad.dane.test", "sam@sts.test", "sid@stsbad.test"):
        send(w, to, "for the report")
    want = {("dane.test", "tlsa", "mx.dane.test", "success"),
            ("bad.dane.test", "tlsa", "mxbad.dane.test", "validation-failure"),
            ("sts.test", "sts", "mx.sts.test", "success"),
            ("stsbad.test", "sts", "mx.stsbad.test", "certificate-host-mismatch")}
    assert wait_for(lambda: want <= tls_results(w), timeout=30), (tls_results(w), w.srv.log())


def test_an_mta_sts_policy_survives_a_restart(tls_world):
    w = tls_world
    send(w, "sam@sts.test", "first")
    assert wait_for(lambda: maildir(w, "sam@sts.test")), w.srv.log()
    assert w.srv.stop() == 0
    # The policy server is gone; the kept policy still holds after a restart.
    w.https.shutdown()
    w.https.server_close()
    w.srv.start(wait=False)
    w.srv.wait_log(" ready ", count=2)
    send(w, "sam@sts.test", "second")
    assert wait_for(lambda: len(maildir(w, "sam@sts.test")) == 2), w.srv.log()
    assert "delivery mta-sts domain=sts.test mode=enforce id=20261125 source=cache" in w.srv.log()
    w.https = policy_server(w.sts_cert, w.sts_key)  # for the fixture's teardown


def test_dane_ta_with_the_issuing_ca_delivers_verified(tls_world):
    w = tls_world
    send(w, "tia@ta.dane.test", "dane-ta")
    assert wait_for(lambda: maildir(w, "tia@ta.dane.test")), w.srv.log()
    log = w.srv.log()
    assert "host=mxta.dane.test policy=dane" in log and "verified=dane" in log, log


def test_unusable_tlsa_records_still_forbid_plaintext(tls_world):
    w = tls_world
    counter = {}
    ls, conns = garbage_server("127.0.0.4", w.port, "ok", counter)
    try:
        send(w, "pat@plain.dane.test", "no tls here")
        w.srv.wait_log(" delivery deferred ", timeout=30)
        log = w.srv.log()
        assert "dane-unusable domain=plain.dane.test host=mxplain.dane.test" in log, log
        assert "does not offer STARTTLS" in log
        assert counter.get("messages", 0) == 0
    finally:
        ls.close()
