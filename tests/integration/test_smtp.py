"""The SMTP server: the MX (port 25), submission (587, STARTTLS) and submissions (465).

Clients are real ones where they can be (smtplib, swaks); where a test needs
exact bytes on the wire (pipelining, smuggling, chunking) it talks through
`Session`, a raw socket that reads whole replies.
"""
import base64
import hashlib
import hmac
import os
import random
import re
import select
import signal
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import time

import pytest

from conftest import tls_client_context

ALICE = "alice@example.test"
ALICE_PASSWORD = "alice's long password"
BOB = "bob@example.test"
OUTSIDER = "sender@remote.test"


# ---- clients ----

class Session:
    """A raw SMTP conversation: send bytes, read whole (multi-line) replies.

    A reply comes back as text with its lines joined by "\\n" and without the
    CRLFs, e.g. "250 2.1.5 Recipient OK".
    """

    def __init__(self, server, service="smtp", sock=None, greet=True):
        self.server = server
        self.sock = sock or server.connect(service, timeout=10)
        self.buf = b""
        self.greeting = self.reply() if greet else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed; unread: {self.buf!r}")
        self.buf += chunk

    def reply(self):
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return "\n".join(lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply()

    def ehlo(self, name="client.test"):
        """The EHLO keywords offered (the lines after the greeting line)."""
        r = self.cmd(f"EHLO {name}")
        assert r.startswith("250"), r
        return [l[4:] for l in r.split("\n")[1:]]

    def starttls(self, **ctx_options):
        r = self.cmd("STARTTLS")
        assert r == "220 2.0.0 Ready to start TLS", r
        assert self.buf == b"", "the server spoke in plaintext after its 220"
        self.sock = tls_client_context(**ctx_options).wrap_socket(self.sock)
        return r

    def is_closed(self, timeout=5):
        """True when the server closes the connection with nothing more to say."""
        self.sock.settimeout(timeout)
        try:
            extra = self.sock.recv(4096)
        except ConnectionResetError:
            return True
        assert extra == b"", f"more from the server: {self.buf + extra!r}"
        return True

    def login_plain(self, user, password):
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd(f"AUTH PLAIN {token}")

    def mail(self, sender, rcpts, message, params=""):
        """One transaction with DATA; the replies to MAIL, each RCPT, DATA and the end."""
        out = [self.cmd(f"MAIL FROM:<{sender}>{params}")]
        out += [self.cmd(f"RCPT TO:<{r}>") for r in rcpts]
        out.append(self.cmd("DATA"))
        if out[-1].startswith("354"):
            self.send(message + b".\r\n")
            out.append(self.reply())
        return out


def message(subject="hello", sender=OUTSIDER, to=ALICE, body="Hi there.\r\n", headers=()):
    """A small RFC 5322 message with CRLF line ends (bytes)."""
    head = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def send_from_outside(server, to, msg=None, sender=OUTSIDER, helo="client.test", **kw):
    """What another mail server does: EHLO, MAIL, RCPT, DATA on the MX port."""
    rcpts = [to] if isinstance(to, str) else to
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), local_hostname=helo, timeout=10) as c:
        return c.sendmail(sender, rcpts, msg or message(to=rcpts[0]), **kw)


def submit(server, user, password, to, msg, sender=None, service="submission", mech="PLAIN"):
    """What a mail client does: STARTTLS (or implicit TLS), AUTH, send."""
    rcpts = [to] if isinstance(to, str) else to
    ctx = tls_client_context()
    if service == "submissions":
        c = smtplib.SMTP_SSL("127.0.0.1", server.port(service), local_hostname="laptop.test",
                             timeout=10, context=ctx)
    else:
        c = smtplib.SMTP("127.0.0.1", server.port(service), local_hostname="laptop.test",
                         timeout=10)
        c.starttls(context=ctx)
    with c:
        c.ehlo()
        c.user, c.password = user, password
        c.auth(mech, getattr(c, "auth_" + mech.lower()))
        return c.sendmail(sender or user, rcpts, msg)


def subjects(msgs):
    return [re.search(rb"^Subject: (.*?)\r$", m, re.M).group(1).decode() for m in msgs]


def add_alias(server, alias, *targets):
    r = server.cli("alias", "add", alias, *targets)
    assert r.returncode == 0, r.stderr


def queue_db(server, sql, *args):
    path = server.dir / "data" / "queue" / "queue.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute(sql, args).fetchall()


def queue_origins(server):
    return queue_db(server, "SELECT origin, account_id FROM queue_messages")


def swaks_has_tls():
    r = subprocess.run(["swaks", "--support"], capture_output=True, text=True)
    return "=== TLS supported" in r.stdout + r.stderr


needs_swaks_tls = pytest.mark.skipif(
    not swaks_has_tls(), reason="swaks without TLS: install libnet-ssleay-perl and "
    "libio-socket-ssl-perl (swaks only recommends them)")


def swaks(*args):
    r = subprocess.run(["swaks", "--timeout", "10", *args], capture_output=True, text=True,
                       timeout=30)
    return r


# ---- SCRAM (RFC 5802, RFC 7677) ----

def _b64(b):
    return base64.b64encode(b).decode()


def _hmac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def scram_login(session, user, password, channel_binding=None):
    """AUTH SCRAM-SHA-256, or SCRAM-SHA-256-PLUS with tls-exporter when
    channel_binding (the exporter bytes) is given. Returns the final reply."""
    mech = "SCRAM-SHA-256-PLUS" if channel_binding is not None else "SCRAM-SHA-256"
    gs2 = b"p=tls-exporter,," if channel_binding is not None else b"n,,"
    cnonce = _b64(os.urandom(18))
    name = user.replace("=", "=3D").replace(",", "=2C")
    client_first_bare = f"n={name},r={cnonce}".encode()
    r = session.cmd(f"AUTH {mech} {_b64(gs2 + client_first_bare)}")
    if not r.startswith("334 "):
        return r
    server_first = base64.b64decode(r[4:])
    attrs = dict(kv.split(b"=", 1) for kv in server_first.split(b","))
    session.scram_server_first = attrs
    assert attrs[b"r"].startswith(cnonce.encode()), server_first
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs[b"s"]),
                                 int(attrs[b"i"]))
    client_key = _hmac(salted, b"Client Key")
    stored_key = hashlib.sha256(client_key).digest()
    cbind = _b64(gs2 + (channel_binding or b""))
    without_proof = f"c={cbind},r={attrs[b'r'].decode()}".encode()
    auth_message = client_first_bare + b"," + server_first + b"," + without_proof
    signature = _hmac(stored_key, auth_message)
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    r = session.cmd(_b64(without_proof + b",p=" + _b64(proof).encode()))
    if not r.startswith("334 "):
        return r
    server_final = base64.b64decode(r[4:])
    expected = _hmac(_hmac(salted, b"Server Key"), auth_message)
    assert server_final == b"v=" + _b64(expected).encode(), "the server did not prove itself"
    return session.cmd("")


class _PyOpenSSLSocket:
    """pyOpenSSL's Connection with the blocking-with-timeout recv/sendall Session uses."""

    def __init__(self, conn, timeout=10):
        self.conn, self.timeout = conn, timeout

    def _wait(self, call):
        from OpenSSL import SSL
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return call()
            except SSL.WantReadError:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.conn], [], [], left)[0]:
                    raise socket.timeout("no reply")
            except SSL.ZeroReturnError:
                return b""

    def recv(self, n):
        return self._wait(lambda: self.conn.recv(n))

    def sendall(self, data):
        self._wait(lambda: self.conn.sendall(data))

    def close(self):
        self.conn.close()


def tls13_with_exporter(server, service="submissions"):
    """An implicit-TLS 1.3 connection and its tls-exporter channel binding
    (RFC 9266): through ssl if this Python has it, else pyOpenSSL."""
    raw = socket.create_connection(("127.0.0.1", server.port(service)), timeout=10)
    if "tls-exporter" in ssl.CHANNEL_BINDING_TYPES:
        s = tls_client_context(minimum_version=ssl.TLSVersion.TLSv1_3).wrap_socket(raw)
        return s, s.get_channel_binding("tls-exporter")
    try:
        from OpenSSL import SSL
    except ImportError:
        raw.close()
        pytest.skip("neither ssl (no 'tls-exporter' before Python 3.13?) nor pyOpenSSL "
                    "gives the tls-exporter channel binding")
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    conn = SSL.Connection(ctx, raw)
    conn.set_connect_state()
    sock = _PyOpenSSLSocket(conn)
    sock._wait(conn.do_handshake)
    return sock, conn.export_keying_material(b"EXPORTER-Channel-Binding", 32)


# ---- fixtures ----

@pytest.fixture
def mx(make_server):
    """A started server with accounts alice@ and bob@example.test, default settings."""
    srv = make_server()
    srv.quickstart()
    srv.add_account(ALICE, ALICE_PASSWORD)
    srv.add_account(BOB, "bob's long password")
    return srv.start()


@pytest.fixture
def configured(make_server):
    """make_server for tests that change settings: configured(smtp={"key": "value"}, ...)
    -> a started server with alice@ and bob@, failed logins answered in 200 ms."""
    def make(**sections):
        srv = make_server()
        srv.quickstart()
        srv.add_account(ALICE, ALICE_PASSWORD)
        srv.add_account(BOB, "bob's long password")
        srv.set("auth", "failure_delay", "200ms")
        for section, settings in sections.items():
            for key, value in settings.items():
                srv.set(section, key, value)
        return srv.start()
    return make


@pytest.fixture
def sub(configured):
    """A server for submission tests (alice@ and bob@, quick login failures)."""
    return configured()


# ---- the MX: greeting, EHLO, recipients ----

def test_greeting_names_the_host(mx):
    with Session(mx) as s:
        assert s.greeting == "220 mail.example.test ESMTP ready"


def test_ehlo_on_the_mx_offers_the_extensions_but_not_auth(mx):
    with Session(mx) as s:
        assert s.ehlo() == ["PIPELINING", "SIZE 26214400", "8BITMIME", "SMTPUTF8",
                            "ENHANCEDSTATUSCODES", "CHUNKING", "DSN", "STARTTLS"]


def test_ehlo_after_starttls_offers_requiretls_instead_of_starttls(mx):
    with Session(mx) as s:
        s.ehlo()
        s.starttls()
        keywords = s.ehlo()
    assert "REQUIRETLS" in keywords
    assert "STARTTLS" not in keywords
    assert not any(k.startswith("AUTH") for k in keywords)


def test_auth_on_the_mx_is_refused(mx):
    with Session(mx) as s:
        s.ehlo()
        assert s.login_plain(ALICE, ALICE_PASSWORD).startswith("503 5.5.1 ")


@pytest.mark.parametrize("rcpt, expected", [
    (ALICE, "250 2.1.5 "),
    ("ALICE@Example.TEST", "250 2.1.5 "),
    ("alice+lists@example.test", "250 2.1.5 "),
    ("team@example.test", "250 2.1.5 "),
    ("team+tag@example.test", "250 2.1.5 "),
    ("Postmaster", "250 2.1.5 "),
    ("nobody@example.test", "550 5.1.1 "),
    ("someone@remote.test", "554 5.7.1 "),
])
def test_rcpt_answers_for_ours_unknown_and_foreign_addresses(mx, rcpt, expected):
    add_alias(mx, "team@example.test", ALICE)
    with Session(mx) as s:
        s.ehlo()
        assert s.cmd(f"MAIL FROM:<{OUTSIDER}>") == "250 2.1.0 Sender OK"
        r = s.cmd(f"RCPT TO:<{rcpt}>")
    assert r.startswith(expected), r
    if expected.startswith("554"):
        assert r.endswith("Relay access denied")


def test_message_lands_in_the_inbox_with_return_path_and_received(mx):
    send_from_outside(mx, ALICE, message("first contact", body="Hello Alice.\r\n"),
                      helo="mx.remote.test")
    [stored] = mx.messages(ALICE)
    assert re.match(
        rb"Return-Path: <sender@remote\.test>\r\n"
        rb"Received: from mx\.remote\.test \(\[127\.0\.0\.1\]\)\r\n"
        rb"\tby mail\.example\.test \(outpost\) with ESMTP id \S+\r\n"
        rb"\tfor <alice@example\.test>;\r\n"
        rb"\t\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n"
        rb"From: sender@remote\.test\r\n", stored), stored
    assert stored.endswith(b"Subject: first contact\r\n\r\nHello Alice.\r\n")


def test_received_has_no_for_clause_with_several_recipients(mx):
    send_from_outside(mx, [ALICE, BOB])
    for rcpt in (ALICE, BOB):
        [stored] = mx.messages(rcpt)
        assert b"\tfor <" not in stored
        assert stored.startswith(b"Return-Path: <sender@remote.test>\r\nReceived: ")


@pytest.mark.parametrize("how, protocol", [
    ("HELO", b"SMTP"), ("EHLO", b"ESMTP"), ("STARTTLS", b"ESMTPS")])
def test_received_names_the_protocol_used(mx, how, protocol):
    with Session(mx) as s:
        if how == "HELO":
            assert s.cmd("HELO client.test") == "250 mail.example.test"
        else:
            s.ehlo()
            if how == "STARTTLS":
                s.starttls()
                s.ehlo()
        replies = s.mail(OUTSIDER, [ALICE], message(how))
    assert replies[-1].startswith("250 2.0.0 "), replies
    [stored] = mx.messages(ALICE)
    assert re.search(rb"\(outpost\) with " + protocol + rb" id ", stored), stored


def test_each_message_is_stored_before_its_250(mx):
    with Session(mx) as s:
        s.ehlo()
        for i in range(1, 6):
            replies = s.mail(OUTSIDER, [ALICE], message(f"number {i}"))
            assert re.fullmatch(r"250 2\.0\.0 OK: message \S+ accepted", replies[-1]), replies
            # No waiting: once the client has its 250, the message is there.
            assert subjects(mx.messages(ALICE)) == [f"number {n}" for n in range(1, i + 1)]


def test_dots_at_line_starts_are_unstuffed(mx):
    with Session(mx) as s:
        s.ehlo()
        s.mail(OUTSIDER, [ALICE], message(body="..leading dot\r\n"))
    [stored] = mx.messages(ALICE)
    assert stored.endswith(b"\r\n\r\n.leading dot\r\n")


# ---- aliases, catch-all, sub-addresses ----

def test_alias_delivers_to_each_account(mx):
    add_alias(mx, "team@example.test", ALICE, BOB)
    send_from_outside(mx, "team@example.test", message("to the team"))
    assert subjects(mx.messages(ALICE)) == ["to the team"]
    assert subjects(mx.messages(BOB)) == ["to the team"]
    assert mx.queue() == []


def test_alias_to_an_external_address_is_queued_for_forwarding(mx):
    add_alias(mx, "old@example.test", "someone@remote.test")
    send_from_outside(mx, "old@example.test", message("please forward"))
    [(qid, sender, rcpt, state)] = mx.queue()
    assert (sender, rcpt, state) == (OUTSIDER, "someone@remote.test", "queued")
    assert queue_origins(mx) == [("forward", 0)]
    queued = mx.queued_message(qid)
    assert queued.startswith(b"Received: from client.test ")  # no Return-Path in the queue
    assert queued.endswith(b"Subject: please forward\r\n\r\nHi there.\r\n")


def test_alias_with_local_and_external_targets_does_both(mx):
    add_alias(mx, "team@example.test", ALICE, "someone@remote.test")
    send_from_outside(mx, "team@example.test", message("mixed"))
    assert subjects(mx.messages(ALICE)) == ["mixed"]
    assert [row[2:] for row in mx.queue()] == [("someone@remote.test", "queued")]


def test_catch_all_takes_mail_for_unknown_users(mx):
    add_alias(mx, "@example.test", ALICE)
    send_from_outside(mx, "whoever@example.test", message("to anyone"))
    [stored] = mx.messages(ALICE)
    assert b"\tfor <whoever@example.test>;" in stored
    # Accounts still get their own mail.
    send_from_outside(mx, BOB, message("for bob"))
    assert subjects(mx.messages(BOB)) == ["for bob"]
    assert subjects(mx.messages(ALICE)) == ["to anyone"]


def test_sub_address_reaches_the_user(mx):
    send_from_outside(mx, "alice+newsletters@example.test", message("tagged"))
    [stored] = mx.messages(ALICE)
    assert b"\tfor <alice+newsletters@example.test>;" in stored


# ---- DSN, SMTPUTF8, 8BITMIME ----

@pytest.mark.parametrize("mail_params, rcpt_params, ret, envid, notify, orcpt", [
    (" RET=HDRS ENVID=QQ+2B1", " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;old@example.test",
     2, "QQ+1", 6, ("rfc822", "old@example.test")),
    (" RET=FULL", " NOTIFY=NEVER", 1, None, 1, ("rfc822", "old@example.test")),
    ("", " NOTIFY=DELAY ORCPT=rfc822;first+2Bx@example.test", 0, None, 8,
     ("rfc822", "first+x@example.test")),
], ids=["RET=HDRS-ENVID-NOTIFY=SUCCESS,FAILURE", "RET=FULL-NOTIFY=NEVER", "NOTIFY=DELAY-ORCPT"])
def test_dsn_parameters_travel_with_a_forwarded_message(mx, mail_params, rcpt_params, ret,
                                                        envid, notify, orcpt):
    add_alias(mx, "old@example.test", "someone@remote.test")
    with Session(mx) as s:
        s.ehlo()
        assert s.cmd(f"MAIL FROM:<{OUTSIDER}>{mail_params}").startswith("250 ")
        assert s.cmd(f"RCPT TO:<old@example.test>{rcpt_params}").startswith("250 2.1.5")
        assert s.cmd("DATA").startswith("354")
        s.send(message("dsn") + b".\r\n")
        assert s.reply().startswith("250 2.0.0 ")
    assert queue_db(mx, "SELECT envid, ret FROM queue_messages") == [(envid, ret)]
    assert queue_db(mx, "SELECT notify, orcpt_type, orcpt FROM queue_recipients") == \
        [(notify, *orcpt)]


def test_smtputf8_addresses_are_accepted_and_delivered(mx):
    assert mx.cli("domain", "add", "bücher.test").returncode == 0
    mx.add_account("jörg@bücher.test", "jörg's long password")
    with Session(mx) as s:
        s.ehlo()
        replies = s.mail("δοκιμή@παράδειγμα.test", ["jörg@bücher.test"],
                         "Subject: grüße\r\n\r\nschön\r\n".encode(), params=" SMTPUTF8")
    assert replies[0] == "250 2.1.0 Sender OK"
    assert replies[1].startswith("250 2.1.5 ")
    assert replies[-1].startswith("250 2.0.0 ")
    [stored] = mx.messages("jörg@xn--bcher-kva.test")
    assert stored.startswith("Return-Path: <δοκιμή@παράδειγμα.test>\r\n".encode())
    assert b" with UTF8SMTP id " in stored
    assert stored.endswith("Subject: grüße\r\n\r\nschön\r\n".encode())


@pytest.mark.parametrize("sender, rcpt", [
    ("jörg@remote.test", ALICE), (OUTSIDER, "jörg@example.test")], ids=["MAIL", "RCPT"])
def test_non_ascii_address_without_smtputf8_is_refused(mx, sender, rcpt):
    with Session(mx) as s:
        s.ehlo()
        r = s.cmd(f"MAIL FROM:<{sender}>")
        if sender == OUTSIDER:
            assert r.startswith("250 ")
            r = s.cmd(f"RCPT TO:<{rcpt}>")
    assert r.startswith("553 5.6.7 "), r


def test_requiretls_is_offered_and_kept_only_over_tls(mx):
    add_alias(mx, "old@example.test", "someone@remote.test")
    with Session(mx) as s:
        s.ehlo()
        assert s.cmd(f"MAIL FROM:<{OUTSIDER}> REQUIRETLS").startswith("555 5.5.4 ")
        s.starttls()
        s.ehlo()
        replies = s.mail(OUTSIDER, ["old@example.test"], message("secret"), params=" REQUIRETLS")
    assert replies[-1].startswith("250 2.0.0 "), replies
    assert queue_db(mx, "SELECT requiretls FROM queue_messages") == [(1,)]


def test_8bit_body_is_kept_byte_for_byte(mx):
    body = b"caf\xc3\xa9 na\xefve \xff\xfe\x80\r\n\tindented \x7f\r\n"
    msg = b"Subject: eight bits\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
    with Session(mx) as s:
        s.ehlo()
        replies = s.mail(OUTSIDER, [ALICE], msg, params=" BODY=8BITMIME")
    assert replies[-1].startswith("250 2.0.0 "), replies
    [stored] = mx.messages(ALICE)
    assert stored.endswith(msg)


# ---- BDAT (CHUNKING) ----

def bdat(s, data, last=False):
    s.send(f"BDAT {len(data)}{' LAST' if last else ''}\r\n".encode() + data)
    return s.reply()


@pytest.mark.parametrize("empty_last", [False, True], ids=["last-chunk", "BDAT-0-LAST"])
def test_bdat_chunks_make_one_message(mx, empty_last):
    with Session(mx) as s:
        s.ehlo()
        s.cmd(f"MAIL FROM:<{OUTSIDER}>")
        s.cmd(f"RCPT TO:<{ALICE}>")
        assert bdat(s, b"Subject: in chunks\r\n\r\n") == "250 2.0.0 22 octets received"
        # A chunk may hold what would end DATA; it is just message text here.
        assert bdat(s, b"part one\r\n.\r\n") == "250 2.0.0 35 octets received"
        if empty_last:
            assert bdat(s, b"part two\r\n") == "250 2.0.0 45 octets received"
            r = bdat(s, b"", last=True)
        else:
            r = bdat(s, b"part two\r\n", last=True)
    assert re.fullmatch(r"250 2\.0\.0 OK: message \S+ accepted", r), r
    [stored] = mx.messages(ALICE)
    assert stored.endswith(b"\r\nSubject: in chunks\r\n\r\npart one\r\n.\r\npart two\r\n")


def test_bdat_without_mail_swallows_its_bytes_then_refuses(mx):
    with Session(mx) as s:
        s.ehlo()
        # The chunk looks like commands; none of it may run.
        s.send(b"BDAT 12\r\nNOOP\r\nNOOP\r\nHELP\r\n")
        assert s.reply() == "503 5.5.1 Need MAIL before BDAT"
        assert s.reply().startswith("214 ")


def test_data_after_bdat_is_refused(mx):
    with Session(mx) as s:
        s.ehlo()
        s.cmd(f"MAIL FROM:<{OUTSIDER}>")
        s.cmd(f"RCPT TO:<{ALICE}>")
        assert bdat(s, b"Subject: x\r\n") == "250 2.0.0 12 octets received"
        assert s.cmd("DATA").startswith("503 5.5.1 ")


def test_bdat_with_a_bare_lf_is_refused(mx):
    with Session(mx) as s:
        s.ehlo()
        s.cmd(f"MAIL FROM:<{OUTSIDER}>")
        s.cmd(f"RCPT TO:<{ALICE}>")
        assert bdat(s, b"Subject: x\n\nbody\n", last=True).startswith("550 5.6.0 ")
    assert mx.messages(ALICE) == []


# ---- limits ----

def test_size_parameter_over_the_limit_is_refused_at_mail(configured):
    srv = configured(smtp={"max_message_size": "10K"})
    with Session(srv) as s:
        assert "SIZE 10240" in s.ehlo()
        assert s.cmd(f"MAIL FROM:<{OUTSIDER}> SIZE=10241").startswith("552 5.3.4 ")
        assert s.cmd(f"MAIL FROM:<{OUTSIDER}> SIZE=10240") == "250 2.1.0 Sender OK"


@pytest.mark.parametrize("command", ["DATA", "BDAT"])
def test_message_over_the_limit_is_refused_after_its_data(configured, command):
    srv = configured(smtp={"max_message_size": "10K"})
    big = message("too big", body=("y" * 78 + "\r\n") * 200)  # 16 KB
    with Session(srv) as s:
        s.ehlo()
        s.cmd(f"MAIL FROM:<{OUTSIDER}>")
        s.cmd(f"RCPT TO:<{ALICE}>")
        if command == "DATA":
            assert s.cmd("DATA").startswith("354")
            s.send(big + b".\r\n")
            r = s.reply()
        else:
            r = bdat(s, big, last=True)
        assert r.startswith("552 5.3.4 "), r
        # The session goes on, and a message that fits gets through.
        replies = s.mail(OUTSIDER, [ALICE], message("fits"))
        assert replies[-1].startswith("250 2.0.0 "), replies
    assert subjects(srv.messages(ALICE)) == ["fits"]


def test_recipients_past_the_limit_get_452_and_the_rest_are_delivered(configured):
    srv = configured(smtp={"max_recipients": "2"})
    with Session(srv) as s:
        s.ehlo()
        s.cmd(f"MAIL FROM:<{OUTSIDER}>")
        assert s.cmd(f"RCPT TO:<{ALICE}>").startswith("250 2.1.5 ")
        assert s.cmd(f"RCPT TO:<{BOB}>").startswith("250 2.1.5 ")
        assert s.cmd("RCPT TO:<postmaster@example.test>").startswith("452 4.5.3 ")
        assert s.cmd("DATA").startswith("354")
        s.send(message("two of three") + b".\r\n")
        assert s.reply().startswith("250 2.0.0 ")
    assert subjects(srv.messages(ALICE)) == ["two of three"]
    assert subjects(srv.messages(BOB)) == ["two of three"]
    assert srv.messages(srv.admin) == []


@pytest.mark.parametrize("length", [600, 20000])
def test_over_long_command_line_is_refused_and_the_session_goes_on(configured, length):
    srv = configured(smtp={"max_line_length": "512"})
    with Session(srv) as s:
        s.ehlo()
        assert s.cmd("NOOP " + "x" * length).startswith("500 5.5.2 ")
        assert s.cmd("NOOP") == "250 2.0.0 OK"
        assert s.cmd(f"MAIL FROM:<{OUTSIDER}>") == "250 2.1.0 Sender OK"


def test_the_tenth_error_ends_the_session_with_421(mx):
    with Session(mx) as s:
        s.ehlo()
        for _ in range(9):
            assert s.cmd("BOGUS") == "500 5.5.1 Command unrecognized"
        assert s.cmd("BOGUS") == "500 5.5.1 Command unrecognized"
        assert s.reply() == \
            "421 4.7.0 mail.example.test Too many errors; closing the connection"
        assert s.is_closed()
    mx.wait_log(" smtp too-many-errors ")


def test_early_talker_is_told_off_and_disconnected(configured):
    srv = configured(smtp={"greet_pause": "1s"})
    with Session(srv, greet=False) as s:
        s.send("EHLO impatient.test\r\n")
        assert s.reply().startswith("554 5.5.1 ")
        assert s.is_closed()
    srv.wait_log(" smtp early-talker ")


def test_a_patient_client_is_greeted_after_the_pause(configured):
    srv = configured(smtp={"greet_pause": "1s"})
    t0 = time.monotonic()
    with Session(srv) as s:
        assert s.greeting == "220 mail.example.test ESMTP ready"
        assert time.monotonic() - t0 >= 0.9
        assert s.ehlo()[0] == "PIPELINING"
    # Submission greets at once.
    t0 = time.monotonic()
    with Session(srv, "submission") as s:
        assert s.greeting == "220 mail.example.test ESMTP ready"
        assert time.monotonic() - t0 < 0.9


def test_connections_per_ip_are_limited(configured):
    srv = configured(server={"max_connections_per_ip": "2"})
    with Session(srv), Session(srv):
        with Session(srv, greet=False) as s:
            assert s.reply().startswith("421 4.7.0 ")
    time.sleep(0.3)
    with Session(srv) as s:
        assert s.greeting == "220 mail.example.test ESMTP ready"


# ---- malformed commands and message text ----

def test_unknown_command(mx):
    with Session(mx) as s:
        s.ehlo()
        assert s.cmd("FROBNICATE now") == "500 5.5.1 Command unrecognized"


def test_nul_byte_in_a_command(mx):
    with Session(mx) as s:
        s.ehlo()
        assert s.cmd(b"NOOP \0 x").startswith("500 5.5.2 ")
        assert s.cmd("NOOP") == "250 2.0.0 OK"


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r"],
                         ids=["LF.LF", "LF.CRLF", "CRLF.LF", "CR.CRLF", "CRLF.CR"])
def test_smuggled_message_after_a_fake_end_of_data_is_refused(mx, fake_end):
    smuggled = (b"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
                b"Subject: smuggled\r\n\r\npay this invoice\r\n")
    with Session(mx) as s:
        s.ehlo()
        s.cmd(f"MAIL FROM:<{OUTSIDER}>")
        s.cmd(f"RCPT TO:<{ALICE}>")
        assert s.cmd("DATA").startswith("354")
        s.send(b"Subject: real\r\n\r\nhello" + fake_end + smuggled + b".\r\nNOOP\r\n")
        assert s.reply().startswith("550 5.6.0 ")
        assert s.reply() == "250 2.0.0 OK"  # the NOOP: nothing ran in between
    assert mx.messages(ALICE) == []
    assert mx.messages(BOB) == []


def test_nul_byte_in_data_is_refused(mx):
    with Session(mx) as s:
        s.ehlo()
        replies = s.mail(OUTSIDER, [ALICE], b"Subject: nul\r\n\r\nhel\0lo\r\n")
    assert replies[-1].startswith("550 5.6.0 "), replies
    assert mx.messages(ALICE) == []


# ---- pipelining ----

def test_pipelined_transactions_are_answered_in_order(mx):
    with Session(mx) as s:
        s.ehlo()
        s.send(f"MAIL FROM:<{OUTSIDER}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n".encode()
               + message("first") + b".\r\n"
               + f"MAIL FROM:<{OUTSIDER}>\r\nRCPT TO:<nobody@example.test>\r\n"
                 f"RCPT TO:<{BOB}>\r\nDATA\r\n".encode()
               + message("second") + b".\r\n"
               + f"MAIL FROM:<{OUTSIDER}>\r\nRSET\r\nNOOP\r\nQUIT\r\n".encode())
        replies = s.replies(4 + 5 + 4)
        assert s.is_closed()
    assert [r[:9] for r in replies] == [
        "250 2.1.0", "250 2.1.5", "354 Start", "250 2.0.0",
        "250 2.1.0", "550 5.1.1", "250 2.1.5", "354 Start", "250 2.0.0",
        "250 2.1.0", "250 2.0.0", "250 2.0.0", "221 2.0.0"], replies
    assert subjects(mx.messages(ALICE)) == ["first"]
    assert subjects(mx.messages(BOB)) == ["second"]


def test_many_pipelined_messages_are_all_stored(mx):
    with Session(mx) as s:
        s.ehlo()
        batch = b"".join(f"MAIL FROM:<{OUTSIDER}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n".encode()
                         + message(f"number {i}") + b".\r\n" for i in range(20))
        s.send(batch + b"QUIT\r\n")
        replies = s.replies(20 * 4 + 1)
    assert [r[:3] for r in replies] == ["250", "250", "354", "250"] * 20 + ["221"]
    assert subjects(mx.messages(ALICE)) == [f"number {i}" for i in range(20)]


def test_swaks_delivers_with_pipelining(mx):
    r = swaks("--server", f"127.0.0.1:{mx.port('smtp')}", "--helo", "client.test",
              "--from", OUTSIDER, "--to", ALICE, "--pipeline",
              "--header", "Subject: from swaks", "--body", "Pipelined.")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<** " not in r.stdout
    assert subjects(mx.messages(ALICE)) == ["from swaks"]


@needs_swaks_tls
def test_swaks_delivers_over_starttls(mx):
    r = swaks("--server", f"127.0.0.1:{mx.port('smtp')}", "--helo", "client.test",
              "--from", OUTSIDER, "--to", ALICE, "--tls",
              "--header", "Subject: encrypted", "--body", "Over TLS.")
    assert r.returncode == 0, r.stdout + r.stderr
    [stored] = mx.messages(ALICE)
    assert b" with ESMTPS id " in stored
    assert re.search(rb"\r\n\t\(version=TLSv1\.[23] cipher=\S+\)", stored), stored


# ---- STARTTLS ----

def test_commands_pipelined_after_starttls_are_discarded(mx):
    with Session(mx) as s:
        s.ehlo()
        s.send("STARTTLS\r\nNOOP\r\n")
        assert s.reply() == "220 2.0.0 Ready to start TLS"
        time.sleep(0.2)  # time for a (wrong) answer to the NOOP to arrive
        assert s.buf == b""
        s.sock = tls_client_context().wrap_socket(s.sock)
        # The session starts over: no EHLO yet, and the NOOP never ran.
        assert s.cmd(f"MAIL FROM:<{OUTSIDER}>").startswith("503 5.5.1 ")
        assert "REQUIRETLS" in s.ehlo()


def test_starttls_twice_is_refused(mx):
    with Session(mx) as s:
        s.ehlo()
        s.starttls()
        s.ehlo()
        assert s.cmd("STARTTLS").startswith("503 5.5.1 ")


# ---- submission: before and after TLS ----

def test_submission_before_tls_offers_no_auth_and_refuses_it(sub):
    with Session(sub, "submission") as s:
        keywords = s.ehlo()
        assert "STARTTLS" in keywords
        assert not any(k.startswith("AUTH") for k in keywords)
        assert s.login_plain(ALICE, ALICE_PASSWORD).startswith("538 5.7.11 ")


def test_submission_needs_auth_before_mail(sub):
    with Session(sub, "submission") as s:
        s.ehlo()
        s.starttls()
        s.ehlo()
        assert s.cmd(f"MAIL FROM:<{ALICE}>") == "530 5.7.0 Authentication required"


@pytest.mark.parametrize("version, mechanisms", [
    (ssl.TLSVersion.TLSv1_3, "AUTH PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS"),
    (ssl.TLSVersion.TLSv1_2, "AUTH PLAIN LOGIN SCRAM-SHA-256"),
], ids=["tls13", "tls12"])
def test_submission_after_starttls_offers_auth(sub, version, mechanisms):
    with Session(sub, "submission") as s:
        s.ehlo()
        s.starttls(minimum_version=version, maximum_version=version)
        keywords = s.ehlo()
    assert mechanisms in keywords, keywords
    assert "STARTTLS" not in keywords


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_user_logs_in_and_sends_to_a_local_user(sub, mech):
    refused = submit(sub, ALICE, ALICE_PASSWORD, BOB, message("hi bob", ALICE, BOB), mech=mech)
    assert refused == {}
    [stored] = sub.messages(BOB)
    assert stored.startswith(b"Return-Path: <alice@example.test>\r\nReceived: from laptop.test ")
    assert b" with ESMTPSA id " in stored
    sub.wait_log(" smtp auth ")
    assert f"user={ALICE}" in sub.log()


def test_scram_sha_256_login(sub):
    with Session(sub, "submission") as s:
        s.ehlo()
        s.starttls()
        s.ehlo()
        assert scram_login(s, ALICE, ALICE_PASSWORD) == "235 2.7.0 Authentication successful"
        replies = s.mail(ALICE, [BOB], message("via scram", ALICE, BOB))
    assert replies[-1].startswith("250 2.0.0 "), replies
    assert subjects(sub.messages(BOB)) == ["via scram"]


def test_scram_sha_256_with_a_wrong_password(sub):
    with Session(sub, "submission") as s:
        s.ehlo()
        s.starttls()
        s.ehlo()
        assert scram_login(s, ALICE, "not her password").startswith("535 5.7.8 ")
        assert s.cmd(f"MAIL FROM:<{ALICE}>").startswith("530 5.7.0 ")


@pytest.mark.parametrize("binding_ok", [True, False], ids=["right-binding", "wrong-binding"])
def test_scram_sha_256_plus_binds_to_the_tls_connection(sub, binding_ok):
    sock, exporter = tls13_with_exporter(sub)
    with Session(sub, sock=sock) as s:
        assert "AUTH PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS" in s.ehlo()
        binding = exporter if binding_ok else bytes(32)
        r = scram_login(s, ALICE, ALICE_PASSWORD, channel_binding=binding)
    if binding_ok:
        assert r == "235 2.7.0 Authentication successful"
    else:
        assert r.startswith("535 5.7.8 "), r


def test_scram_for_an_unknown_user_looks_like_a_real_account(sub):
    def attempt(user):
        with Session(sub, "submissions") as s:
            s.ehlo()
            r = scram_login(s, user, "some password")
            return r, s.scram_server_first
    alice_reply, alice_first = attempt(ALICE)
    first_reply, first = attempt("nobody@example.test")
    again_reply, again = attempt("Nobody@example.test")
    assert alice_reply == first_reply == again_reply == \
        "535 5.7.8 Authentication credentials invalid"
    # A salt and iteration count like a real account's, the same each time:
    # a client cannot tell which users exist.
    assert first[b"i"] == alice_first[b"i"]
    assert len(first[b"s"]) == len(alice_first[b"s"])
    assert first[b"s"] == again[b"s"] != alice_first[b"s"]


def test_unknown_mechanism(sub):
    with Session(sub, "submission") as s:
        s.ehlo()
        s.starttls()
        s.ehlo()
        assert s.cmd("AUTH CRAM-MD5").startswith("504 5.5.4 ")


def test_wrong_password_and_unknown_user_get_the_same_answer_after_the_delay(mx):
    # The default failure delay (2 s).
    answers = []
    for user, password in ((ALICE, "wrong password"), ("nobody@example.test", "whatever")):
        with Session(mx, "submission") as s:
            s.ehlo()
            s.starttls()
            s.ehlo()
            t0 = time.monotonic()
            r = s.login_plain(user, password)
            answers.append((r, time.monotonic() - t0 >= 1.0))
    assert answers == [("535 5.7.8 Authentication credentials invalid", True)] * 2


def test_failed_logins_are_logged_for_fail2ban(sub):
    for user in (ALICE, "nobody@example.test"):
        with Session(sub, "submission") as s:
            s.ehlo()
            s.starttls()
            s.ehlo()
            assert s.login_plain(user, "guess").startswith("535 5.7.8 ")
    sub.wait_log(" smtp auth-failed ", count=2)
    lines = [l for l in sub.log().splitlines() if " smtp auth-failed " in l]
    assert " ip=127.0.0.1 " in lines[0] and f" user={ALICE} " in lines[0], lines
    assert " ip=127.0.0.1 " in lines[1] and " user=nobody@example.test " in lines[1], lines


def test_too_many_failures_block_the_address_even_with_the_right_password(configured):
    srv = configured(auth={"max_failures_per_ip": "3"})
    with Session(srv, "submission") as s:
        s.ehlo()
        s.starttls()
        s.ehlo()
        for _ in range(3):
            assert s.login_plain(ALICE, "guess").startswith("535 5.7.8 ")
        assert s.login_plain(ALICE, ALICE_PASSWORD).startswith("454 4.7.0 ")
    with Session(srv, "submissions") as s:
        s.ehlo()
        assert s.login_plain(ALICE, ALICE_PASSWORD).startswith("454 4.7.0 ")


def test_submissions_port_is_implicit_tls_with_auth(sub):
    with Session(sub, "submissions") as s:
        assert s.greeting == "220 mail.example.test ESMTP ready"
        keywords = s.ehlo()
        assert "STARTTLS" not in keywords
        assert "AUTH PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS" in keywords
    submit(sub, ALICE, ALICE_PASSWORD, BOB, message("over 465", ALICE, BOB),
           service="submissions", mech="LOGIN")
    [stored] = sub.messages(BOB)
    assert b" with ESMTPSA id " in stored


@needs_swaks_tls
def test_swaks_submits_with_auth_plain(sub):
    r = swaks("--server", f"127.0.0.1:{sub.port('submission')}", "--tls",
              "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", ALICE_PASSWORD,
              "--from", ALICE, "--to", BOB,
              "--header", f"From: {ALICE}", "--header", "Subject: swaks submits",
              "--body", "Hello.")
    assert r.returncode == 0, r.stdout + r.stderr
    assert subjects(sub.messages(BOB)) == ["swaks submits"]


def test_plaintext_auth_on_loopback_when_allowed(configured):
    srv = configured(auth={"plaintext_on_loopback": "true"})
    with Session(srv, "submission") as s:
        assert "AUTH PLAIN LOGIN SCRAM-SHA-256" in s.ehlo()
        assert s.login_plain(ALICE, ALICE_PASSWORD) == "235 2.7.0 Authentication successful"
        replies = s.mail(ALICE, [BOB], message("no tls", ALICE, BOB))
    assert replies[-1].startswith("250 2.0.0 "), replies
    [stored] = srv.messages(BOB)
    assert b" with ESMTPA id " in stored


# ---- submission: who may send as whom ----

def logged_in(server, user=ALICE, password=ALICE_PASSWORD):
    s = Session(server, "submissions")
    s.ehlo()
    r = s.login_plain(user, password)
    assert r == "235 2.7.0 Authentication successful", r
    return s


def test_mail_from_someone_else_is_refused(sub):
    with logged_in(sub) as s:
        r = s.cmd(f"MAIL FROM:<{BOB}>")
    assert r.startswith("553 5.7.1 "), r


@pytest.mark.parametrize("from_header", [
    f"Bob <{BOB}>", f"Alice <{ALICE}>, Bob <{BOB}>", "ceo@remote.test"])
def test_from_header_of_someone_else_is_refused_at_the_end_of_data(sub, from_header):
    with logged_in(sub) as s:
        replies = s.mail(ALICE, [BOB], message("forged", sender=from_header, to=BOB))
    assert replies[:3] == ["250 2.1.0 Sender OK", "250 2.1.5 Recipient OK",
                           "354 Start mail input; end with <CRLF>.<CRLF>"]
    assert replies[-1].startswith("553 5.7.1 "), replies
    assert sub.messages(BOB) == []


@pytest.mark.parametrize("address", [ALICE, "Alice@Example.TEST", "alice+work@example.test",
                                     "sales@example.test"])
def test_user_sends_as_own_address_sub_address_or_alias(sub, address):
    add_alias(sub, "sales@example.test", ALICE)
    with logged_in(sub) as s:
        replies = s.mail(address, [BOB], message("as me", sender=f"Alice <{address}>", to=BOB))
    assert replies[-1].startswith("250 2.0.0 "), replies
    [stored] = sub.messages(BOB)
    assert stored.startswith(f"Return-Path: <{address}>\r\n".encode())


def test_message_id_and_date_are_added_when_missing(sub):
    submit(sub, ALICE, ALICE_PASSWORD, BOB, message("bare", ALICE, BOB))
    [stored] = sub.messages(BOB)
    assert re.search(rb"\r\nMessage-ID: <[^@>\s]+@mail\.example\.test>\r\n", stored), stored
    assert re.search(rb"\r\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n",
                     stored), stored


def test_message_id_and_date_are_kept_when_present(sub):
    headers = ["Date: Mon, 1 Jan 2024 10:00:00 +0100", "Message-ID: <mine.1@laptop.test>"]
    submit(sub, ALICE, ALICE_PASSWORD, BOB, message("complete", ALICE, BOB, headers=headers))
    [stored] = sub.messages(BOB)
    assert stored.count(b"Message-ID:") == 1 and b"Message-ID: <mine.1@laptop.test>\r\n" in stored
    assert stored.count(b"Date:") == 1 and b"Date: Mon, 1 Jan 2024 10:00:00 +0100\r\n" in stored


def test_submitted_message_goes_to_local_inboxes_and_the_queue(sub):
    submit(sub, ALICE, ALICE_PASSWORD, [BOB, "carol@remote.test"],
           message("out and in", ALICE, f"{BOB}, carol@remote.test"))
    assert subjects(sub.messages(BOB)) == ["out and in"]
    [(qid, sender, rcpt, state)] = sub.queue()
    assert (sender, rcpt, state) == (ALICE, "carol@remote.test", "queued")
    assert queue_origins(sub) == [("submission", sub.account_id(ALICE))]
    assert subjects([sub.queued_message(qid)]) == ["out and in"]


# ---- shutdown and hostile input ----

def test_sigterm_says_421_to_open_sessions(mx):
    with Session(mx) as s:
        s.ehlo()
        s.cmd(f"MAIL FROM:<{OUTSIDER}>")
        mx.signal(signal.SIGTERM)
        assert s.reply() == "421 4.3.2 mail.example.test Service shutting down"
        assert s.is_closed()
    assert mx.proc.wait(timeout=5) == 0


def test_sigterm_in_the_middle_of_data_says_421(mx):
    with Session(mx) as s:
        s.ehlo()
        s.cmd(f"MAIL FROM:<{OUTSIDER}>")
        s.cmd(f"RCPT TO:<{ALICE}>")
        assert s.cmd("DATA").startswith("354")
        s.send(b"Subject: half\r\n\r\nhalf a mess")
        time.sleep(0.2)
        mx.signal(signal.SIGTERM)
        assert s.reply() == "421 4.3.2 mail.example.test Service shutting down"
        assert s.is_closed()
    assert mx.proc.wait(timeout=5) == 0
    assert mx.messages(ALICE) == []


def test_sigterm_during_a_failed_login_answers_it_first(sub):
    with Session(sub, "submissions") as s:
        s.ehlo()
        s.send("AUTH PLAIN " + _b64(f"\0{ALICE}\0wrong".encode()) + "\r\n")
        sub.wait_log(" smtp auth-failed ")  # the 200 ms failure delay has begun
        sub.signal(signal.SIGTERM)
        assert s.reply().startswith("535 5.7.8 ")
        assert s.reply() == "421 4.3.2 mail.example.test Service shutting down"
        assert s.is_closed()
    assert sub.proc.wait(timeout=5) == 0


@pytest.mark.parametrize("when", ["after-the-message", "during-the-password-check",
                                  "during-the-failure-delay"])
def test_client_that_hangs_up_early_does_not_upset_the_server(sub, when):
    with Session(sub, "submissions") as s:
        s.ehlo()
        if when == "after-the-message":
            assert s.login_plain(ALICE, ALICE_PASSWORD).startswith("235 ")
            s.send(f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n".encode()
                   + message("gone", ALICE, BOB) + b".\r\n")
        else:
            password = "wrong" if when == "during-the-failure-delay" else ALICE_PASSWORD
            s.send("AUTH PLAIN " + _b64(f"\0{ALICE}\0{password}".encode()) + "\r\n")
            if when == "during-the-failure-delay":
                sub.wait_log(" smtp auth-failed ")
    time.sleep(0.5)  # whatever was under way finishes without its client
    assert submit(sub, ALICE, ALICE_PASSWORD, BOB, message("still here", ALICE, BOB)) == {}
    assert "still here" in subjects(sub.messages(BOB))
    assert sub.stop() == 0


def test_random_bytes_never_bring_the_server_down(mx):
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"random seed {seed}")
    rnd = random.Random(seed)
    prefix_data = (f"EHLO fuzz.test\r\nMAIL FROM:<{OUTSIDER}>\r\nRCPT TO:<{ALICE}>\r\n"
                   "DATA\r\n").encode()
    prefix_bdat = (f"EHLO fuzz.test\r\nMAIL FROM:<{OUTSIDER}>\r\nRCPT TO:<{ALICE}>\r\n"
                   "BDAT 3000 LAST\r\n").encode()
    cases = [("smtp", b""), ("smtp", b"EHLO fuzz.test\r\n"), ("smtp", prefix_data),
             ("smtp", prefix_bdat), ("submission", b"EHLO fuzz.test\r\n"),
             ("submissions", b"")]
    for service, prefix in cases:
        raw = socket.create_connection(("127.0.0.1", mx.port(service)), timeout=3)
        try:
            raw.sendall(prefix)
            for _ in range(4):
                raw.sendall(rnd.randbytes(1024))
            raw.sendall(b"\r\n.\r\nQUIT\r\n")
            while raw.recv(65536):
                pass
        except (OSError, socket.timeout):
            pass  # the server may close on us, or wait for more; either is fine
        finally:
            raw.close()
    send_from_outside(mx, ALICE, message("still here"))
    assert "still here" in subjects(mx.messages(ALICE))
    assert mx.stop() == 0


# ---- found in review: each of these once went wrong ----

def test_refused_recipients_and_452_do_not_end_the_session(configured):
    """Only permanent errors count towards max_errors, and a 452 for too many
    recipients is a request to send the rest later, not an error."""
    srv = configured(smtp={"max_recipients": "3", "max_errors": "3"})
    with Session(srv) as s:
        s.ehlo()
        s.cmd(f"MAIL FROM:<{OUTSIDER}>")
        for r in (ALICE, BOB, srv.admin):
            assert s.cmd(f"RCPT TO:<{r}>").startswith("250 ")
        for _ in range(10):
            assert s.cmd("RCPT TO:<more@example.test>").startswith("452 4.5.3 ")
        assert s.cmd("DATA").startswith("354")
        s.send(message("three of many") + b".\r\n")
        assert s.reply().startswith("250 2.0.0 ")
    assert subjects(srv.messages(BOB)) == ["three of many"]


def test_a_full_mailbox_among_others_is_queued_not_a_451_for_all(configured):
    """One recipient over quota must not make the sender retry (and duplicate
    the message) for the others: they get it once, the full one is queued."""
    srv = configured()
    r = srv.cli("account", "add", "tiny@example.test", "--password-stdin", "--quota", "1K",
                input="tiny's password\n")
    assert r.returncode == 0, r.stderr
    body = "x" * 3000 + "\r\n"
    for _ in range(2):
        send_from_outside(srv, [ALICE, "tiny@example.test"], message("mixed", body=body))
    assert subjects(srv.messages(ALICE)) == ["mixed", "mixed"]
    assert srv.messages("tiny@example.test") == []
    rows = srv.queue()
    assert [(row[2], row[3]) for row in rows] == [("tiny@example.test", "queued")] * 2
    with sqlite3.connect(srv.dir / "data" / "queue" / "queue.db") as db:
        assert {o for (o,) in db.execute("SELECT origin FROM queue_messages")} == {"local-retry"}
    srv.wait_log(" smtp deliver-deferred ")


def test_a_full_mailbox_alone_gets_452(configured):
    srv = configured()
    r = srv.cli("account", "add", "tiny@example.test", "--password-stdin", "--quota", "1K",
                input="tiny's password\n")
    assert r.returncode == 0, r.stderr
    with Session(srv) as s:
        s.ehlo()
        replies = s.mail(OUTSIDER, ["tiny@example.test"], message("big", body="y" * 3000 + "\r\n"))
    assert replies[-1] == "452 4.2.2 Mailbox full; try again later"
    assert srv.queue() == []


def test_from_header_with_more_than_100_addresses_is_checked_in_full(sub):
    many = ", ".join([ALICE] * 100 + ["ceo@bank.test"])
    with logged_in(sub) as s:
        replies = s.mail(ALICE, [BOB], message("hidden forgery", sender=many, to=BOB))
    assert replies[-1].startswith("553 5.7.1 "), replies
    assert sub.messages(BOB) == []


def test_a_client_that_never_reads_its_replies_cannot_grow_the_server(mx):
    """Pipelined commands from a client that reads nothing: the server stops
    reading once its replies pile up, instead of buffering them all."""
    def rss_kb():
        for line in open(f"/proc/{mx.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    before = rss_kb()
    s = socket.create_connection(("127.0.0.1", mx.port("smtp")), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    sent, chunk = 0, b"NOOP\r\n" * 10000
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
    s.close()
    # The server read only until its output filled (256 KB of replies, plus
    # socket buffers): far less than what the client tried to send.
    assert rss_kb() - before < 64 * 1024, (before, rss_kb())
    with Session(mx) as t:
        assert t.cmd("NOOP") == "250 2.0.0 OK"


def test_input_while_a_login_fails_slowly_is_not_buffered_without_bound(configured):
    """A wrong SCRAM proof waits out the failure delay; a client streaming
    commands meanwhile is not read (and not buffered) until the answer."""
    srv = configured(auth={"failure_delay": "2s"})

    def rss_kb():
        for line in open(f"/proc/{srv.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    before = rss_kb()
    sock = srv.connect("submissions", timeout=5)
    s = Session(srv, "submissions", sock=sock)
    s.ehlo()
    s.send("AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0wrong").decode() + "\r\n")
    sock.setblocking(False)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            sock.send(b"NOOP\r\n" * 5000)
        except (BlockingIOError, ssl.SSLWantWriteError):
            time.sleep(0.01)
    assert rss_kb() - before < 64 * 1024, (before, rss_kb())
    sock.close()
