"""The private Dovecot of tests/peers/dovecot.py (the IMAP benchmark's peer,
later an IMAP client's peer) starts on 127.0.0.3, lets a user in with the
benchmark's settings, shows the messages written into its Maildir, and stops
with all its processes."""
import imaplib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
from dovecot import Dovecot, running  # noqa: E402
from conftest import free_port_base, port_free  # noqa: E402

USER = "bench@example.test"


def message(i):
    return (f"From: Carol <carol@remote.test>\r\nTo: {USER}\r\nSubject: note {i}"
            f"{' zephyr' if i == 3 else ''}\r\nMessage-ID: <{i}@remote.test>\r\n\r\n"
            f"Body of message {i}.\r\n").encode()


@pytest.fixture
def dovecot(server_root):
    port = next(p for p in range(free_port_base() + 1, 65000) if port_free(p, "127.0.0.3"))
    dc = Dovecot(server_root / "dovecot", ip="127.0.0.3", port=port,
                 users={USER: "correct horse battery"})
    dc.populate(USER, [message(i) for i in range(1, 21)])
    dc.start()
    yield dc
    dc.stop()


def test_dovecot_peer_serves_the_populated_inbox(dovecot):
    # The benchmark's password scheme: argon2id with outpost's cost.
    assert dovecot.password_scheme in ("ARGON2ID", "SHA512-CRYPT")
    if dovecot.password_scheme == "ARGON2ID":
        assert "$argon2id$v=19$m=65536,t=2,p=1$" in dovecot.passwd.read_text()
    pids = dovecot.pids()
    assert len(pids) >= 3, pids
    rss, pss, n, anon = dovecot.memory_kb()
    assert n == len(pids) and rss > pss > anon > 0

    with imaplib.IMAP4(dovecot.ip, dovecot.port, timeout=10) as c:
        with pytest.raises(imaplib.IMAP4.error):
            c.login(USER, "wrong password")
    with imaplib.IMAP4(dovecot.ip, dovecot.port, timeout=10) as c:
        assert c.login(USER, "correct horse battery")[0] == "OK"
        typ, data = c.select("INBOX")
        assert (typ, data) == ("OK", [b"20"])
        typ, data = c.fetch("3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and data[0][1] == b"Subject: note 3 zephyr\r\n\r\n"
        typ, data = c.fetch("20", "(BODY.PEEK[])")
        assert data[0][1].endswith(b"\r\n\r\nBody of message 20.\r\n")
        assert c.uid("SEARCH", "SUBJECT", "zephyr")[1] != [b""]
        typ, _ = c.append("INBOX", None, None, message(21))
        assert typ == "OK"
        assert c.select("INBOX")[1] == [b"21"]
        c.logout()
    assert dovecot.message_count(USER) == 21
    assert " Error: " not in dovecot.log() and " Fatal: " not in dovecot.log(), dovecot.log()

    code = dovecot.stop()
    assert code == 0, dovecot.log()
    # (A zombie waiting for init to reap it is not running.)
    assert not any(running(p) for p in pids), pids


def test_dovecot_peer_with_tls(server_root):
    """The TLS option: IMAPS on its own port and STARTTLS on the plain one,
    with a self-signed certificate; Dovecot's shipped login mode."""
    import ssl
    ports = [p for p in range(free_port_base() + 1, 65000) if port_free(p, "127.0.0.3")][:2]
    dc = Dovecot(server_root / "dovecot-tls", ip="127.0.0.3", port=ports[0], tls=True,
                 tls_port=ports[1], users={"u@example.test": "pw"}, scheme="PLAIN",
                 login_mode="security")
    dc.start()
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with imaplib.IMAP4_SSL(dc.ip, dc.tls_port, ssl_context=ctx, timeout=10) as c:
            assert c.login("u@example.test", "pw")[0] == "OK"
            assert c.select("INBOX") == ("OK", [b"0"])
            c.logout()
        with imaplib.IMAP4(dc.ip, dc.port, timeout=10) as c:
            c.starttls(ssl_context=ctx)
            assert c.login("u@example.test", "pw")[0] == "OK"
            c.logout()
    finally:
        assert dc.stop() == 0, dc.log()
