"""POP3 against the real server: Python's poplib for every command (over STLS
and POP3S), raw sockets for the wire, fetchmail and getmail as real clients,
and IMAP to see what POP3 did to the mailbox."""
import base64
import imaplib
import os
import poplib
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import tls_client_context
from imapwire import ScramClient, Wire

USER = "alice@example.test"
PASSWORD = "alice's pop3 password"
OTHER = "bob@example.test"
OTHER_PASSWORD = "bob's password here"


@pytest.fixture
def srv(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    s.add_account(OTHER, OTHER_PASSWORD)
    s.set("auth", "failure_delay", "200ms")
    return s.start()


def message(subject, body="Hello there.\r\n"):
    return (f"From: Carol <carol@remote.test>\r\nTo: {USER}\r\nSubject: {subject}\r\n"
            f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '.')}"
            f"@remote.test>\r\n\r\n{body}").encode()


def deliver(srv, subject, body="Hello there.\r\n", to=USER):
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=10) as c:
        c.sendmail("carol@remote.test", [to], message(subject, body))


def imap(srv, user=USER, password=PASSWORD):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.port("imaps"), ssl_context=tls_client_context(),
                          timeout=10)
    m.login(user, password)
    return m


def append(srv, raw):
    """Stores `raw` in INBOX byte for byte: IMAP APPEND keeps bare LFs
    (imaplib would turn them into CRLF, so the wire is ours)."""
    w = Wire.connect(srv)
    w.send(f'a LOGIN "{USER}" "{PASSWORD}"\r\n')
    assert w.until_tagged("a")[1].startswith(b"a OK")
    w.send(f"b APPEND INBOX {{{len(raw)}+}}\r\n".encode() + raw + b"\r\n")
    assert w.until_tagged("b")[1].startswith(b"b OK")
    w.send("c LOGOUT\r\n")
    w.sock.close()


def pop3(srv, service="pop3s", login=True):
    if service == "pop3s":
        p = poplib.POP3_SSL("127.0.0.1", srv.port("pop3s"), timeout=10,
                            context=tls_client_context())
    else:
        p = poplib.POP3("127.0.0.1", srv.port("pop3"), timeout=10)
        p.stls(tls_client_context())
    if login:
        p.user(USER)
        p.pass_(PASSWORD)
    return p


class Raw:
    """A POP3 conversation on a socket, for what poplib hides."""

    def __init__(self, srv, service="pop3s"):
        self.sock = srv.connect(service, timeout=10)
        self.f = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self):
        return self.f.readline()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def cmd(self, data):
        self.send(data + "\r\n")
        return self.line()

    def multiline(self):
        """The lines of a multi-line response up to its terminator, raw
        (stuffed, with their CRLF)."""
        lines = []
        while True:
            line = self.line()
            assert line, "connection closed inside a multi-line response"
            if line == b".\r\n":
                return lines
            lines.append(line)

    def login(self, user=USER, password=PASSWORD):
        assert self.cmd(f"USER {user}").startswith(b"+OK")
        return self.cmd(f"PASS {password}")

    def close(self):
        self.f.close()
        self.sock.close()


def uidvalidity_and_uids(srv):
    m = imap(srv)
    typ, _ = m.select("INBOX")
    assert typ == "OK"
    uidvalidity = int(m.response("UIDVALIDITY")[1][0])
    typ, data = m.uid("SEARCH", None, "ALL")
    uids = [int(u) for u in data[0].split()]
    m.logout()
    return uidvalidity, uids


# ---- CAPA, STLS, login ----

def test_capa_before_and_after_stls_and_no_password_in_plaintext(srv):
    p = poplib.POP3("127.0.0.1", srv.port("pop3"), timeout=10)
    assert p.getwelcome().startswith(b"+OK ")
    caps = p.capa()
    assert "STLS" in caps and "TOP" in caps and "UIDL" in caps and "PIPELINING" in caps
    assert "RESP-CODES" in caps and "AUTH-RESP-CODE" in caps
    assert caps["IMPLEMENTATION"] == ["outpost"]
    assert "USER" not in caps and "SASL" not in caps
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Log in over TLS"):
        p.user(USER)
    p.stls(tls_client_context())
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps
    assert caps["SASL"][:2] == ["PLAIN", "SCRAM-SHA-256"]
    p.user(USER)
    assert p.pass_(PASSWORD).startswith(b"+OK Logged in")
    caps = p.capa()
    assert "USER" not in caps and "SASL" not in caps and "TOP" in caps
    p.quit()
    srv.wait_log(" pop3 auth ")


def test_plaintext_login_on_loopback_when_allowed(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    s.set("auth", "plaintext_on_loopback", "true")
    s.start()
    p = poplib.POP3("127.0.0.1", s.port("pop3"), timeout=10)
    caps = p.capa()
    assert "USER" in caps and "STLS" in caps
    p.user(USER)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()


@pytest.mark.parametrize("service", ["pop3", "pop3s"])
def test_every_command_with_poplib(srv, service):
    deliver(srv, "first", "one\r\n")
    deliver(srv, "second", "two\r\nlines\r\n")
    deliver(srv, "third", "three\r\n")
    stored = srv.messages(USER)
    sizes = [len(m) for m in stored]  # SMTP stores CRLF: the wire size is the stored one
    p = pop3(srv, service)
    assert p.noop().startswith(b"+OK")
    assert p.stat() == (3, sum(sizes))
    resp, listing, _ = p.list()
    assert resp.startswith(b"+OK 3 messages")
    assert listing == [f"{i + 1} {n}".encode() for i, n in enumerate(sizes)]
    assert p.list(2) == f"+OK 2 {sizes[1]}".encode()
    resp, uidls, _ = p.uidl()
    assert len(uidls) == 3 and p.uidl(3) == b"+OK " + uidls[2]
    resp, lines, octets = p.retr(2)
    assert resp == f"+OK {sizes[1]} octets".encode()
    assert b"\r\n".join(lines) + b"\r\n" == stored[1] and octets == sizes[1]
    resp, lines, _ = p.top(1, 0)
    assert b"Subject: first" in lines and lines[-1] == b"" and b"one" not in lines
    assert p.dele(1) == b"+OK Message 1 deleted"
    with pytest.raises(poplib.error_proto, match="Message 1 is deleted"):
        p.retr(1)
    with pytest.raises(poplib.error_proto, match="No such message"):
        p.list(4)
    assert p.stat() == (2, sizes[1] + sizes[2])
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (3, sum(sizes))
    p.dele(3)
    assert p.quit().startswith(b"+OK")
    assert srv.messages(USER) == stored[:2]
    srv.wait_log(" pop3 update ")


def test_auth_plain_and_scram(srv):
    deliver(srv, "sasl")
    r = Raw(srv)
    assert r.cmd("AUTH") == b"+OK Mechanisms follow\r\n"
    assert b"".join(r.multiline()).startswith(b"PLAIN\r\nSCRAM-SHA-256\r\n")
    plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert r.cmd(f"AUTH PLAIN {plain}").startswith(b"+OK Logged in; 1 messages")
    assert r.cmd("QUIT").startswith(b"+OK")
    r.close()

    r = Raw(srv)
    c = ScramClient(USER, PASSWORD)
    line = r.cmd("AUTH SCRAM-SHA-256 " + base64.b64encode(c.first()).decode())
    assert line.startswith(b"+ ")
    line = r.cmd(base64.b64encode(c.final(base64.b64decode(line[2:].strip()))).decode())
    assert line.startswith(b"+ ")  # the server-final, then our empty line
    c.verify(base64.b64decode(line[2:].strip()))
    assert r.cmd("").startswith(b"+OK Logged in")
    assert r.cmd("STAT").startswith(b"+OK 1 ")
    r.cmd("QUIT")
    r.close()


def test_wrong_password_and_unknown_user_look_the_same(srv):
    answers = []
    for user, password in ((USER, "wrong password"), ("nobody@example.test", PASSWORD)):
        p = pop3(srv, login=False)
        assert p.user(user) == b"+OK Send your password"
        with pytest.raises(poplib.error_proto) as e:
            p.pass_(password)
        answers.append(e.value.args[0])
        p.quit()
    assert answers[0] == answers[1] == b"-ERR [AUTH] Authentication failed"
    # Both went through the shared login code: logged for fail2ban, delayed
    # alike (the throttle's delay applies to every failure).
    srv.wait_log(" pop3 auth-failed ", count=2)
    fails = [l for l in srv.log().splitlines() if " pop3 auth-failed " in l]
    assert all(re.search(r"^\S+ info (smtp|imap|pop3) auth-failed session=\S+ ip=127\.0\.0\.1 ", l)
               for l in fails), fails


def test_in_use_for_a_second_pop3_session_but_not_for_imap(srv):
    deliver(srv, "locked")
    first = pop3(srv)
    second = pop3(srv, login=False)
    second.user(USER)
    with pytest.raises(poplib.error_proto, match=r"^b?'?-ERR \[IN-USE\]"):
        second.pass_(PASSWORD)
    srv.wait_log(" pop3 in-use ")
    # IMAP is not locked out, and another account is not affected.
    m = imap(srv)
    assert m.select("INBOX")[1] == [b"1"]
    m.logout()
    other = poplib.POP3_SSL("127.0.0.1", srv.port("pop3s"), timeout=10,
                            context=tls_client_context())
    other.user(OTHER)
    assert other.pass_(OTHER_PASSWORD).startswith(b"+OK")
    other.quit()
    first.quit()
    # The lock went with the first session: the same connection may try again.
    second.user(USER)
    assert second.pass_(PASSWORD).startswith(b"+OK")
    second.quit()


# ---- the maildrop and the store ----

def test_deleted_through_pop3_is_gone_from_imap(srv):
    for s in ("keep me", "delete me", "keep me too"):
        deliver(srv, s)
    watcher = imap(srv)
    watcher.select("INBOX")
    p = pop3(srv)
    p.dele(2)
    p.quit()
    srv.wait_log(" pop3 update ")
    m = imap(srv)
    m.select("INBOX")
    typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (Subject)])")
    subjects = [d[1].strip() for d in data if isinstance(d, tuple)]
    assert subjects == [b"Subject: keep me", b"Subject: keep me too"]
    m.logout()
    # An IMAP session that had the mailbox selected hears of the expunge.
    typ, _ = watcher.noop()
    assert watcher.untagged_responses.get("EXPUNGE") == [b"2"]
    watcher.logout()


def test_a_dropped_session_deletes_nothing(srv):
    deliver(srv, "one")
    deliver(srv, "two")
    p = pop3(srv)
    p.dele(1)
    p.dele(2)
    p.file.close()
    p.sock.close()  # no QUIT
    # The lock goes with the connection (once the server has seen it go).
    for _ in range(200):
        q = pop3(srv, login=False)
        q.user(USER)
        try:
            q.pass_(PASSWORD)
            break
        except poplib.error_proto as e:
            assert b"[IN-USE]" in e.args[0]
            q.quit()
            time.sleep(0.05)
    assert q.stat()[0] == 2
    q.quit()
    assert len(srv.messages(USER)) == 2
    assert " pop3 update " not in srv.log()


def test_maildrop_is_fixed_at_login(srv):
    deliver(srv, "before")
    p = pop3(srv)
    deliver(srv, "after")
    assert p.stat()[0] == 1
    assert len(p.uidl()[1]) == 1
    p.quit()
    p = pop3(srv)
    assert p.stat()[0] == 2
    p.quit()


def test_uidl_is_stable_and_derived_from_the_imap_uid(srv):
    for s in ("a", "b", "c"):
        deliver(srv, s)
    p = pop3(srv)
    first = p.uidl()[1]
    p.dele(1)
    p.quit()
    uidvalidity, uids = uidvalidity_and_uids(srv)
    assert len(uids) == 2
    p = pop3(srv)
    second = p.uidl()[1]
    p.quit()
    # "<UIDVALIDITY>.<UID>", the same message keeps its unique-id.
    assert [l.split()[1] for l in second] == [f"{uidvalidity}.{u}".encode() for u in uids]
    assert [l.split()[1] for l in second] == [l.split()[1] for l in first[1:]]


# ---- the wire form of messages ----

def test_dot_stuffing(srv):
    body = ".\r\n..\r\n.leading dot\r\nmiddle . dot\r\n. \r\n"
    deliver(srv, "dots", body)
    stored = srv.messages(USER)[0]
    assert b"\r\n.\r\n..\r\n.leading" in stored  # stored unstuffed
    r = Raw(srv)
    assert r.login().startswith(b"+OK")
    status = r.cmd("RETR 1")
    lines = r.multiline()
    wire = b"".join(lines)
    assert b"\r\n..\r\n...\r\n..leading dot\r\nmiddle . dot\r\n.. \r\n" in wire
    # Unstuffed, it is the stored message, and the size announced is its size.
    unstuffed = b"".join(l[1:] if l.startswith(b".") else l for l in lines)
    assert unstuffed == stored
    assert status == f"+OK {len(stored)} octets\r\n".encode()
    r.cmd("QUIT")
    r.close()
    # poplib unstuffs the same way.
    p = pop3(srv)
    assert b"\r\n".join(p.retr(1)[1]) + b"\r\n" == stored
    p.quit()


def test_top(srv):
    deliver(srv, "top", "line 1\r\n.line 2\r\nline 3\r\nline 4\r\n")
    stored = srv.messages(USER)[0]
    header, body = stored.split(b"\r\n\r\n", 1)
    p = pop3(srv)
    resp, lines, _ = p.top(1, 0)
    assert resp.startswith(b"+OK")
    assert b"\r\n".join(lines) == header + b"\r\n"
    resp, lines, _ = p.top(1, 2)
    assert b"\r\n".join(lines) == header + b"\r\n\r\nline 1\r\n.line 2"
    resp, lines, _ = p.top(1, 100)
    assert b"\r\n".join(lines) + b"\r\n" == stored
    with pytest.raises(poplib.error_proto, match="TOP needs"):
        p._shortcmd("TOP 1")
    p.quit()


def test_a_bare_lf_message_is_sent_with_crlf_and_its_size_is_what_is_sent(srv):
    raw = b"From: lf@remote.test\nSubject: bare LF\n\nfirst\n.dot\nlast line without end"
    append(srv, raw)
    assert srv.messages(USER) == [raw]
    want = raw.replace(b"\n", b"\r\n") + b"\r\n"
    r = Raw(srv)
    r.login()
    assert r.cmd("STAT") == f"+OK 1 {len(want)}\r\n".encode()
    assert r.cmd("LIST 1") == f"+OK 1 {len(want)}\r\n".encode()
    assert r.cmd("RETR 1") == f"+OK {len(want)} octets\r\n".encode()
    lines = r.multiline()
    wire = b"".join(lines)
    assert re.search(rb"(?<!\r)\n", wire) is None, wire
    assert b"".join(l[1:] if l.startswith(b".") else l for l in lines) == want
    assert r.cmd("TOP 1 1").startswith(b"+OK")
    assert b"".join(r.multiline()) == b"From: lf@remote.test\r\nSubject: bare LF\r\n\r\nfirst\r\n"
    r.cmd("QUIT")
    r.close()
    p = pop3(srv)
    resp, lines, octets = p.retr(1)
    assert octets == len(want) == int(p.list(1).split()[2])
    p.quit()


def test_a_large_message_streams_whole(srv):
    body = "".join(f"line {i:07d} of a large message, padded to be long enough\r\n"
                   for i in range(120000))  # about 7 MB
    raw = message("large", body)
    append(srv, raw)
    p = pop3(srv)
    size = int(p.list(1).split()[2])
    assert size == len(raw)
    resp, lines, octets = p.retr(1)
    assert octets == size and b"\r\n".join(lines) + b"\r\n" == raw
    # A client that asks and does not read: the server stops sending, and
    # the session still works once it reads.
    p._putcmd("RETR 1")
    p._putcmd("NOOP")
    resp, lines, octets = p._getlongresp()
    assert octets == size
    assert p._getresp() == b"+OK"
    p.quit()


# ---- bad input ----

def test_bad_input_gets_err_and_the_session_goes_on(srv):
    r = Raw(srv)
    assert r.cmd("X" * 3000).startswith(b"-ERR Line too long")
    assert r.cmd("CAPA").startswith(b"+OK")
    r.multiline()
    assert r.cmd("HELO there") == b"-ERR Unknown command\r\n"
    assert r.cmd("RETR 1") == b"-ERR Log in first\r\n"
    assert r.cmd("USER a\x01b").startswith(b"-ERR")
    assert r.login().startswith(b"+OK")
    assert r.cmd("RETR x") == b"-ERR Invalid message number\r\n"
    assert r.cmd("STAT 1") == b"-ERR This command takes no arguments\r\n"
    assert r.cmd("NOOP") == b"+OK\r\n"
    r.close()
    srv.wait_log(" pop3 protocol-error ")


def test_too_many_errors_end_the_session(srv):
    r = Raw(srv)
    for _ in range(9):
        assert r.cmd("BOGUS").startswith(b"-ERR")
    last = r.cmd("BOGUS")
    assert last.startswith(b"-ERR") and b"too many errors" in last
    assert r.line() == b""
    r.close()
    srv.wait_log(" pop3 too-many-errors ")


def test_pipelined_commands_are_answered_in_order(srv):
    deliver(srv, "pipe")
    r = Raw(srv)
    r.send(f"USER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nUIDL 1\r\nRETR 1\r\nNOOP\r\nQUIT\r\n")
    assert r.line().startswith(b"+OK Send")
    assert r.line().startswith(b"+OK Logged in")
    assert r.line().startswith(b"+OK 1 ")
    assert r.line().startswith(b"+OK 1 ")
    assert r.line().endswith(b"octets\r\n")
    r.multiline()
    assert r.line() == b"+OK\r\n"
    assert r.line().startswith(b"+OK")
    assert r.line() == b""
    r.close()


def test_stls_drops_what_came_with_it(srv):
    sock = srv.connect("pop3")
    f = sock.makefile("rb")
    assert f.readline().startswith(b"+OK")
    sock.sendall(b"STLS\r\nUSER injected\r\n")
    assert f.readline() == b"+OK Begin TLS negotiation now\r\n"
    tls = tls_client_context().wrap_socket(sock)
    tf = tls.makefile("rb")
    tls.sendall(b"PASS x\r\n")
    assert tf.readline() == b"-ERR Send USER first\r\n"
    tls.close()


def test_idle_timeout_says_why_and_deletes_nothing(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    s.set("pop3", "idle_timeout", "10s")
    s.start()
    deliver(s, "stay")
    r = Raw(s)
    r.sock.settimeout(30)
    r.login()
    assert r.cmd("DELE 1").startswith(b"+OK")
    line = r.line()
    assert line.startswith(b"-ERR ") and b"timeout" in line, line
    assert r.line() == b""
    r.close()
    assert len(s.messages(USER)) == 1


# ---- real clients ----

def test_fetchmail_retrieves_over_tls_and_deletes(srv, tmp_path):
    for s in ("for fetchmail 1", "for fetchmail 2"):
        deliver(srv, s)
    out = tmp_path / "delivered"
    out.mkdir()
    mda = tmp_path / "mda.sh"
    mda.write_text(f'#!/bin/sh\ncat > "{out}/$(date +%s%N)-$$"\n')
    mda.chmod(0o755)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f'poll 127.0.0.1 service {srv.port("pop3s")} proto pop3 auth password uidl\n'
        f'  user "{USER}" there with password "{PASSWORD}" is "root" here\n'
        f'  ssl sslproto "tls1.2+" no sslcertck\n'
        f'  mda "{mda}"\n')
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    r = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog", "-v", "--nodetach"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    got = sorted(p.read_bytes() for p in out.iterdir())
    assert len(got) == 2
    assert any(b"Subject: for fetchmail 1" in g for g in got)
    assert srv.messages(USER) == []  # fetchmail deleted them


def test_getmail_retrieves_into_a_maildir_and_deletes(srv, tmp_path):
    for s in ("for getmail 1", "for getmail 2", "for getmail 3"):
        deliver(srv, s)
    # getmail will not deliver as root: as root, it delivers as `outpost`,
    # into a Maildir that user can reach.
    as_root = os.geteuid() == 0
    maildir = (srv.dir.parent if as_root else tmp_path) / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
        if as_root:
            shutil.chown(maildir / sub, "outpost")
    if as_root:
        shutil.chown(maildir, "outpost")
    rc = tmp_path / "getmailrc"
    rc.write_text(
        "[retriever]\n"
        "type = SimplePOP3SSLRetriever\n"
        "server = 127.0.0.1\n"
        f"port = {srv.port('pop3s')}\n"
        f"username = {USER}\n"
        f"password = {PASSWORD}\n"
        "[destination]\n"
        "type = Maildir\n"
        f"path = {maildir}/\n"
        + ("user = outpost\n" if as_root else "") +
        "[options]\n"
        "delete = true\n"
        "read_all = true\n"
        "message_log_syslog = false\n")
    r = subprocess.run(["getmail", "--getmaildir", str(tmp_path), "--rcfile", str(rc)],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    got = [p.read_bytes() for p in (maildir / "new").iterdir()]
    assert len(got) == 3, r.stdout + r.stderr
    assert all(b"Subject: for getmail" in g for g in got)
    assert srv.messages(USER) == []
