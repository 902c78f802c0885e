"""`outpost serve`: listeners, TLS, signals, reload, privilege drop, logging."""
import datetime
import hashlib
import os
import re
import signal
import socket
import ssl
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import IMPLICIT_TLS, LOG_LINE, PORT_OFFSETS, run_cli, tls_client_context

# Listeners whose protocol is not built yet refuse in their own protocol.
REFUSALS = {
    "http": b"HTTP/1.1 503 ", "https": b"HTTP/1.1 503 ",
}


def read_all(sock, limit=4096):
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(limit)
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        data += chunk
    return data


def make_cert(path_cert, path_key, names):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    tmp_key = str(path_key) + ".new"
    tmp_cert = str(path_cert) + ".new"
    with open(tmp_key, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(tmp_key, 0o644)  # readable by the unprivileged user after the drop
    with open(tmp_cert, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, path_key)
    os.replace(tmp_cert, path_cert)
    return cert.fingerprint(hashes.SHA256())


def peer_fingerprint(server, service="imaps", sni=None):
    ctx = tls_client_context()
    raw = socket.create_connection(("127.0.0.1", server.port(service)), timeout=5)
    with ctx.wrap_socket(raw, server_hostname=sni) as s:
        return hashlib.sha256(s.getpeercert(binary_form=True)).digest()


def test_ready_line_names_every_listener(server):
    ready = [l for l in server.log().splitlines() if " core ready " in l][0]
    for service in PORT_OFFSETS:
        assert f" {service}=127.0.0.1:{server.port(service)}" in ready


@pytest.mark.parametrize("service", sorted(REFUSALS))
def test_every_unbuilt_listener_refuses_in_its_own_protocol(server, service):
    with server.connect(service) as s:
        data = read_all(s)
    assert data.startswith(REFUSALS[service]), data
    assert data.endswith(b"\r\n") or service in ("http", "https")


@pytest.mark.parametrize("service", sorted(IMPLICIT_TLS))
def test_implicit_tls_listeners_speak_tls13(server, service):
    raw = socket.create_connection(("127.0.0.1", server.port(service)), timeout=5)
    with tls_client_context().wrap_socket(raw) as s:
        assert s.version() == "TLSv1.3"
        cert = x509.load_der_x509_certificate(s.getpeercert(binary_form=True))
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
            server.hostname


def test_tls12_is_accepted_with_a_forward_secret_aead_cipher(server):
    ctx = tls_client_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    raw = socket.create_connection(("127.0.0.1", server.port("imaps")), timeout=5)
    with ctx.wrap_socket(raw) as s:
        assert s.version() == "TLSv1.2"
        name = s.cipher()[0]
        assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name), name


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls10_and_tls11_are_refused(server, version):
    ctx = tls_client_context()
    ctx.minimum_version = version
    ctx.maximum_version = version
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    raw = socket.create_connection(("127.0.0.1", server.port("imaps")), timeout=5)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        with ctx.wrap_socket(raw) as s:
            s.recv(10)
    server.wait_log(" tls handshake-failed ")
    assert "unsupported protocol" in server.log()


def test_sigterm_stops_the_server_within_two_seconds(server):
    server.signal(signal.SIGTERM)
    assert server.proc.wait(timeout=2) == 0
    log = server.log()
    assert " core shutdown signal=TERM" in log
    assert " core stopped " in log


def test_sigint_stops_the_server_too(server):
    server.signal(signal.SIGINT)
    assert server.proc.wait(timeout=2) == 0
    assert " core shutdown signal=INT" in server.log()


def test_listeners_are_closed_after_shutdown(server):
    port = server.port("smtp")
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_sighup_picks_up_a_replaced_certificate(server):
    before = peer_fingerprint(server)
    tls = server.dir / "tls"
    new = make_cert(tls / "cert.pem", tls / "key.pem", [server.hostname])
    assert new != before
    server.signal(signal.SIGHUP)
    server.wait_log(" core reloaded ")
    assert peer_fingerprint(server) == new
    assert peer_fingerprint(server, "https") == new
    assert server.proc.poll() is None


def test_sighup_with_a_broken_config_keeps_serving(server):
    before = peer_fingerprint(server)
    good = server.conf.read_text()
    server.conf.write_text(good + "\n[server]\nbogus = 1\n")
    server.signal(signal.SIGHUP)
    server.wait_log(" core reload-failed ")
    assert "unknown section" in server.log() or "unknown setting" in server.log()
    assert peer_fingerprint(server) == before
    server.conf.write_text(good)


def test_sni_chooses_among_several_certificates(make_server):
    srv = make_server()
    srv.quickstart()
    tls = srv.dir / "tls"
    other = make_cert(tls / "other.pem", tls / "other.key", ["mail.other.test", "*.wild.test"])
    text = srv.conf.read_text().replace("key = tls/key.pem\n",
                                        "key = tls/key.pem\nextra_certs = tls/other.pem:tls/other.key\n")
    srv.conf.write_text(text)
    srv.start()
    default = peer_fingerprint(srv)
    assert default != other
    assert peer_fingerprint(srv, sni="mail.other.test") == other
    assert peer_fingerprint(srv, sni="MAIL.OTHER.TEST") == other
    assert peer_fingerprint(srv, sni="x.wild.test") == other
    assert peer_fingerprint(srv, sni="a.b.wild.test") == default
    assert peer_fingerprint(srv, sni="unknown.test") == default


def test_second_serve_on_the_same_ports_fails_cleanly(server):
    r = run_cli("serve", "-c", str(server.conf), timeout=15)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert f"cannot listen on 127.0.0.1:{server.port('smtp')}: Address already in use" in lines[0]
    assert lines[0].startswith(f"outpost: {server.conf}:")
    # The first server is untouched.
    assert server.proc.poll() is None
    with server.connect("smtp") as s:
        assert s.recv(100).startswith(b"220 ")


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop needs root")
def test_started_as_root_it_runs_as_the_configured_user(server):
    import pwd
    outpost_uid = pwd.getpwnam("outpost").pw_uid
    status = open(f"/proc/{server.proc.pid}/status").read()
    uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
    assert uids == (str(outpost_uid),) * 4
    gids = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
    assert "0" not in gids


def test_every_log_line_has_the_documented_shape(server):
    with server.connect("http") as s:
        read_all(s)
    server.wait_log(" http refused ")
    server.signal(signal.SIGHUP)
    server.wait_log(" core reloaded ")
    server.stop()
    lines = server.log().splitlines()
    assert lines
    for line in lines:
        assert LOG_LINE.match(line), line
    refused = [l for l in lines if " http refused " in l][0]
    assert re.search(r" session=[0-9a-f]{10} peer=127\.0\.0\.1:\d+ ", refused)


def test_many_connections_at_once_are_all_answered(server):
    socks = [socket.create_connection(("127.0.0.1", server.port("http")), timeout=5)
             for _ in range(100)]
    for s in socks:
        assert read_all(s).startswith(b"HTTP/1.1 503 ")
        s.close()


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_listens_on_ipv4_and_ipv6(make_server):
    srv = make_server()
    srv.quickstart("--listen", "::1")
    srv.start()
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family) as s:
            s.settimeout(5)
            s.connect((host, srv.port("imap")))
            assert s.recv(300).startswith(b"* OK [CAPABILITY ")
    ready = [l for l in srv.log().splitlines() if " core ready " in l][0]
    assert f" imap=127.0.0.1:{srv.port('imap')},[::1]:{srv.port('imap')}" in ready


def test_sighup_keeps_open_connections_on_their_certificate(make_server):
    server = make_server()
    server.quickstart()
    tls = server.dir / "tls"
    make_cert(tls / "other.pem", tls / "other.key", ["mail.other.test"])
    server.conf.write_text(server.conf.read_text().replace("log_level = info",
                                                           "log_level = debug").replace(
        "key = tls/key.pem\n", "key = tls/key.pem\nextra_certs = tls/other.pem:tls/other.key\n"))
    server.start()
    before = peer_fingerprint(server)
    before_other = peer_fingerprint(server, sni="mail.other.test")
    # Clients that have connected but not yet said hello: their TLS state
    # (and its SNI choice) was made with the old certificates, and a reload
    # must neither drop them nor free what they still use.
    waiting = socket.create_connection(("127.0.0.1", server.port("imaps")), timeout=5)
    waiting_sni = socket.create_connection(("127.0.0.1", server.port("imaps")), timeout=5)
    server.wait_log(" debug imaps connect ", count=4)
    new = make_cert(tls / "cert.pem", tls / "key.pem", [server.hostname])
    new_other = make_cert(tls / "other.pem", tls / "other.key", ["mail.other.test"])
    server.signal(signal.SIGHUP)
    server.wait_log(" core reloaded ")
    with tls_client_context().wrap_socket(waiting) as s:
        assert hashlib.sha256(s.getpeercert(binary_form=True)).digest() == before
        assert s.recv(300).startswith(b"* OK [CAPABILITY ")
    with tls_client_context().wrap_socket(waiting_sni, server_hostname="mail.other.test") as s:
        assert hashlib.sha256(s.getpeercert(binary_form=True)).digest() == before_other
    assert peer_fingerprint(server) == new
    assert peer_fingerprint(server, sni="mail.other.test") == new_other


def test_log_level_debug_shows_connections_and_handshakes(make_server):
    srv = make_server()
    srv.quickstart()
    srv.conf.write_text(srv.conf.read_text().replace("log_level = info", "log_level = debug"))
    srv.start()
    with srv.connect("https") as s:
        read_all(s)
    srv.wait_log(" tls handshake ")
    log = srv.log()
    assert re.search(r" debug https connect session=[0-9a-f]{10} peer=127\.0\.0\.1:\d+ "
                     r"listener=127\.0\.0\.1:\d+", log)
    assert re.search(r" debug tls handshake session=\S+ peer=\S+ version=TLSv1\.3 cipher=\S+", log)


def test_log_level_warn_hides_info(make_server):
    srv = make_server()
    srv.quickstart()
    srv.conf.write_text(srv.conf.read_text().replace("log_level = info", "log_level = warn"))
    srv.start(wait=False)
    with pytest.raises(AssertionError):
        srv.wait_log(" ready ", timeout=1.5)
    with srv.connect("http") as s:
        assert read_all(s).startswith(b"HTTP/1.1 503 ")
    assert " info " not in srv.log()


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop needs root")
def test_unknown_user_is_a_clear_start_up_error(make_server):
    srv = make_server()
    srv.quickstart()
    srv.conf.write_text(srv.conf.read_text().replace("user = outpost", "user = nosuchuser"))
    r = run_cli("serve", "-c", str(srv.conf))
    assert r.returncode == 1
    assert r.stderr.strip() == (f"outpost: {srv.conf}:7: [server] user: no such user "
                                "'nosuchuser' (create it, e.g. useradd --system nosuchuser, "
                                "or name another)")


def test_out_of_file_descriptors_pauses_accepting_then_recovers(make_server):
    import resource
    srv = make_server()
    srv.quickstart()
    srv.start(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
    # Clients that connect to an implicit-TLS port and never say hello keep a
    # descriptor each on the server, until it runs out.
    idle = []
    for _ in range(80):
        idle.append(socket.create_connection(("127.0.0.1", srv.port("imaps")), timeout=5))
    srv.wait_log(" core accept-failed ")
    assert srv.proc.poll() is None
    for s in idle:
        s.close()
    # Once descriptors are free again, new clients are served.
    deadline = time.monotonic() + 10
    while True:
        with srv.connect("http") as s:
            data = read_all(s)
        if data.startswith(b"HTTP/1.1 503 "):
            break
        assert time.monotonic() < deadline, data
        time.sleep(0.1)
    # The pause keeps the log from flooding: far fewer lines than attempts.
    assert srv.log().count(" accept-failed ") < 200


def test_a_client_that_never_finishes_its_handshake_is_disconnected(make_server):
    srv = make_server()
    srv.quickstart()
    srv.conf.write_text(srv.conf.read_text().replace("key = tls/key.pem\n",
                                                     "key = tls/key.pem\nhandshake_timeout = 1s\n"))
    srv.start()
    with socket.create_connection(("127.0.0.1", srv.port("imaps")), timeout=10) as s:
        assert s.recv(100) == b""  # closed by the server, not by our timeout
    srv.wait_log(" tls handshake-timeout ")


def test_sigterm_with_a_silent_tls_client_still_stops_at_once(server):
    # A client that connected to an implicit-TLS port and never said hello
    # has no session to finish: it must not hold up the shutdown.
    silent = socket.create_connection(("127.0.0.1", server.port("imaps")), timeout=5)
    server.wait_log(" core ready ")
    time.sleep(0.1)
    server.signal(signal.SIGTERM)
    assert server.proc.wait(timeout=2) == 0
    assert "shutdown-deadline" not in server.log()
    silent.close()


def test_min_version_13_refuses_tls12(make_server):
    srv = make_server()
    srv.quickstart()
    srv.conf.write_text(srv.conf.read_text().replace("key = tls/key.pem\n",
                                                     "key = tls/key.pem\nmin_version = 1.3\n"))
    srv.start()
    ctx = tls_client_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    raw = socket.create_connection(("127.0.0.1", srv.port("imaps")), timeout=5)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        ctx.wrap_socket(raw).recv(10)
    raw = socket.create_connection(("127.0.0.1", srv.port("imaps")), timeout=5)
    with tls_client_context().wrap_socket(raw) as s:
        assert s.version() == "TLSv1.3"


def test_connections_per_ip_are_limited(make_server):
    srv = make_server()
    srv.quickstart()
    srv.conf.write_text(srv.conf.read_text().replace(
        "log_level = info\n", "log_level = info\nmax_connections_per_ip = 3\n"))
    srv.start()
    # Three silent TLS clients hold their connections (no hello yet)...
    held = [socket.create_connection(("127.0.0.1", srv.port("imaps")), timeout=5)
            for _ in range(3)]
    time.sleep(0.2)
    # ...so the fourth is told to come back later, in its own protocol.
    with srv.connect("smtp") as s:
        assert read_all(s).startswith(b"421 4.7.0 mail.example.test Too many connections")
    srv.wait_log(" smtp too-many-connections ")
    assert "limit=max_connections_per_ip" in srv.log()
    for h in held:
        h.close()
    time.sleep(0.3)
    with srv.connect("smtp") as s:
        assert s.recv(100).startswith(b"220 ")


def test_a_passphrase_protected_key_is_refused_not_prompted_for(make_server):
    import subprocess
    srv = make_server()
    srv.quickstart()
    tls = srv.dir / "tls"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:secret",
                    "-out", str(tls / "enc.key")], check=True, capture_output=True)
    os.chmod(tls / "enc.key", 0o644)
    srv.conf.write_text(srv.conf.read_text().replace("key = tls/key.pem", "key = tls/enc.key"))
    for cmd in (["config", "check"], ["serve"]):
        r = run_cli(*cmd, "-c", str(srv.conf), timeout=10)  # a prompt would hang here
        assert r.returncode == 1
        assert "[tls] key: cannot load private key tls/enc.key: it is protected by a " \
               "passphrase" in r.stderr
    # On reload, the running server keeps its old key and stays responsive.
    srv.conf.write_text(srv.conf.read_text().replace("key = tls/enc.key", "key = tls/key.pem"))
    srv.start()
    srv.conf.write_text(srv.conf.read_text().replace("key = tls/key.pem", "key = tls/enc.key"))
    srv.signal(signal.SIGHUP)
    srv.wait_log(" core reload-failed ")
    with srv.connect("imaps") as s:
        assert s.recv(300).startswith(b"* OK [CAPABILITY ")


def test_quickstart_under_a_strict_umask_still_makes_a_reloadable_server(make_server):
    srv = make_server()
    # quickstart with umask 077, through the shell.
    import subprocess
    from conftest import BIN
    subprocess.run(["sh", "-c", f"umask 077 && exec {BIN} quickstart --dir {srv.dir} "
                    f"--domain example.test --hostname mail.example.test --listen 127.0.0.1 "
                    f"--port-base {srv.port_base}"], check=True, capture_output=True)
    assert oct(srv.conf.stat().st_mode & 0o777) in ("0o640", "0o644")
    assert oct((srv.dir / "tls" / "key.pem").stat().st_mode & 0o777) in ("0o640", "0o600")
    srv.start()
    srv.signal(signal.SIGHUP)
    srv.wait_log(" core reloaded ")
    assert "reload-failed" not in srv.log()
