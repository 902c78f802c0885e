"""Outbound delivery: outpost's queue runner sends to a real Postfix found
through a real DNS server (NSD) on loopback, as it would on the internet.

The world: NSD serves test zones whose MX point at 127.0.0.x; a Postfix on
127.0.0.2 takes mail for them into Maildirs, refusing or deferring chosen
recipients through an access map. Retries are made quick (retry_min 1s) so
that no test waits for minutes.
"""
import email
import email.policy
import re
import smtplib
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
from postfix import Postfix  # noqa: E402
from conftest import free_port_base, port_free, tls_client_context  # noqa: E402
from dnsserver import DnsServer  # noqa: E402

ZONES = {
    "remote.test": "@ MX 10 mx\nmx A 127.0.0.2\n",
    # The preferred MX is down (nothing listens on 127.0.0.3): the next one.
    "fallback.test": "@ MX 10 dead\n@ MX 20 mx\ndead A 127.0.0.3\nmx A 127.0.0.2\n",
    "nullmx.test": "@ MX 0 .\n",
    # No MX at all: the domain's own address (RFC 5321 §5.1).
    "nomx.test": "@ A 127.0.0.2\n",
    # A server that misbehaves (see garbage_server).
    "broken.test": "@ MX 10 mx\nmx A 127.0.0.4\n",
    # We are a backup MX; the primary (127.0.0.3) is down: defer, not a loop.
    "backup.test": "@ MX 10 primary\n@ MX 20 mail.example.test.\nprimary A 127.0.0.3\n",
    # IPv6 first (nothing listens on [::1] at the remote's port), then IPv4.
    "dual.test": "@ MX 10 mx\nmx A 127.0.0.2\nmx AAAA ::1\n",
}
MAILBOXES = ["bob@remote.test", "later@remote.test", "carol@fallback.test", "dave@nomx.test",
             "dee@dual.test"]
ACCESS = "later@remote.test 451 4.7.1 Greylisted, please try again later\n"


def wait_for(fn, timeout=30, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    return fn()


def submit(srv, user, password, to, msg, sender=None):
    rcpts = [to] if isinstance(to, str) else to
    with smtplib.SMTP("127.0.0.1", srv.port("submission"), local_hostname="laptop.test",
                      timeout=10) as c:
        c.starttls(context=tls_client_context())
        c.login(user, password)
        return c.sendmail(sender or user, rcpts, msg)


def message(to, subject="hello", body="Hello from outpost.\r\n", frm="alice@example.test"):
    return (f"From: Alice <{frm}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@example.test>\r\n\r\n{body}").encode()


class World:
    pass


@pytest.fixture
def world(make_server, server_root):
    w = World()
    base = free_port_base()
    w.port = next(p for p in range(base + 1, 65000)
                  if port_free(p, "127.0.0.2") and port_free(p, "127.0.0.3")
                  and port_free(p, "127.0.0.4"))
    w.dns = DnsServer(server_root / "dns", zones=ZONES)
    w.dns.start()
    w.access = server_root / "access"
    w.access.write_text(ACCESS)
    w.discard = server_root / "discard.cidr"
    w.discard.write_text("127.0.0.1/32 8bitmime\n"
                         "127.0.0.6/32 8bitmime, chunking, pipelining, dsn, smtputf8\n")
    w.pf = Postfix(server_root / "postfix", ip="127.0.0.2", port=w.port,
                   relay_domains=["remote.test", "fallback.test", "nomx.test", "dual.test"],
                   virtual_maildir=server_root / "maildir", mailboxes=MAILBOXES,
                   extra={"smtpd_recipient_restrictions":
                          f"check_recipient_access texthash:{w.access}, permit_mynetworks, "
                          "reject_unauth_destination",
                          # What Postfix hides from each client address: from
                          # 127.0.0.1 8BITMIME (8-bit mail must come converted);
                          # from 127.0.0.6 nearly everything (a bare server: no
                          # PIPELINING, CHUNKING, DSN or SMTPUTF8 either).
                          "smtpd_discard_ehlo_keyword_address_maps": f"cidr:{w.discard}"})
    w.pf.start()
    w.srv = make_server()
    w.srv.quickstart()
    w.srv.set("dns", "servers", w.dns.server)
    w.srv.set("delivery", "port", str(w.port))
    w.srv.set("queue", "retry_min", "1s")
    w.srv.set("queue", "retry_max", "2s")
    # A remote that stalls costs this long (misbehaving-remote tests).
    w.srv.set("delivery", "command_timeout", "3s")
    w.password = w.srv.add_account("alice@example.test")
    w.srv.start()
    yield w
    w.pf.stop()
    w.dns.stop()


def maildir(w, address):
    return [p.read_bytes() for p in w.pf.maildir_messages(address)]


def inbox(w, address="alice@example.test"):
    try:
        return w.srv.messages(address)
    except sqlite3.OperationalError:
        return []  # the account's index is being made by its first message


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def delivery_status(report):
    """The per-recipient fields of a multipart/report's message/delivery-status."""
    part = [p for p in report.walk() if p.get_content_type() == "message/delivery-status"][0]
    blocks = part.get_payload()
    return [dict(b.items()) for b in blocks[1:]]


def test_a_submitted_message_reaches_the_remote_mx(world):
    w = world
    submit(w.srv, "alice@example.test", w.password, "bob@remote.test", message("bob@remote.test"))
    got = wait_for(lambda: maildir(w, "bob@remote.test"))
    assert got, f"nothing arrived\n{w.pf.log()}\n{w.srv.log()}"
    m = got[0]
    assert b"Subject: hello\r\n" in m or b"Subject: hello\n" in m
    # Postfix's Received shows our EHLO name and that we used STARTTLS.
    assert b"from mail.example.test" in m
    w.srv.wait_log(" delivery sent ")
    assert re.search(r"delivery sent id=\w+ rcpt=bob@remote.test host=mx.remote.test\[127.0.0.2:",
                     w.srv.log())
    assert wait_for(lambda: w.srv.queue() == [])
    assert "status=sent" in w.pf.log()


def test_a_451_is_retried_until_it_is_accepted(world):
    w = world
    submit(w.srv, "alice@example.test", w.password, "later@remote.test",
           message("later@remote.test", "greylisted"))
    w.srv.wait_log(" delivery deferred ", timeout=20)
    assert re.search(r"reply=\"451 4.7.1 .*Greylisted", w.srv.log())
    r = w.srv.cli("queue", "list")
    assert r.returncode == 0, r.stderr
    assert "later@remote.test" in r.stdout and "Greylisted" in r.stdout
    # The remote lifts its refusal; the next attempt (retry_min 1s) gets in.
    w.access.write_text("")
    w.pf._run("reload")
    got = wait_for(lambda: maildir(w, "later@remote.test"), timeout=30)
    assert got, w.srv.log()
    assert wait_for(lambda: w.srv.queue() == [])
    assert re.search(r"delivery sent id=\w+ rcpt=later@remote.test .* attempt=[2-9]", w.srv.log())


def test_a_550_brings_the_sender_a_bounce(world):
    w = world
    submit(w.srv, "alice@example.test", w.password, "nobody@remote.test",
           message("nobody@remote.test", "to nobody"))
    got = wait_for(lambda: inbox(w), timeout=30)
    assert got, w.srv.log()
    rep = parse(got[0])
    assert rep.get_content_type() == "multipart/report"
    assert rep.get_param("report-type") == "delivery-status"
    assert rep["Auto-Submitted"] == "auto-replied"
    assert "MAILER-DAEMON@mail.example.test" in rep["From"]
    [st] = delivery_status(rep)
    assert st["Action"] == "failed"
    assert st["Status"] == "5.1.1"
    assert "nobody@remote.test" in st["Final-Recipient"]
    assert "User unknown" in st["Diagnostic-Code"]
    # The plain-words part says what happened, quoting the remote.
    text = rep.get_payload()[0].get_content()
    assert "nobody@remote.test" in text and "does not exist" in text
    # The original's header comes back.
    assert any(p.get_content_type() in ("message/rfc822", "text/rfc822-headers")
               for p in rep.walk())
    assert b"Subject: to nobody" in got[0]
    assert wait_for(lambda: w.srv.queue() == [])
    assert not rep.defects


def test_the_next_mx_takes_over_when_the_first_is_down(world):
    w = world
    submit(w.srv, "alice@example.test", w.password, "carol@fallback.test",
           message("carol@fallback.test", "fallback"))
    got = wait_for(lambda: maildir(w, "carol@fallback.test"))
    assert got, w.srv.log()
    log = w.srv.log()
    assert "delivery connect-failed domain=fallback.test host=dead.fallback.test" in log
    assert "host=mx.fallback.test[127.0.0.2:" in log


def test_a_domain_without_mx_gets_its_own_address(world):
    w = world
    submit(w.srv, "alice@example.test", w.password, "dave@nomx.test", message("dave@nomx.test"))
    assert wait_for(lambda: maildir(w, "dave@nomx.test")), w.srv.log()


def test_a_null_mx_bounces_at_once(world):
    w = world
    submit(w.srv, "alice@example.test", w.password, "x@nullmx.test", message("x@nullmx.test"))
    got = wait_for(lambda: inbox(w), timeout=30)
    assert got, w.srv.log()
    [st] = delivery_status(parse(got[0]))
    assert st["Status"] == "5.1.10"
    assert "accepts no mail" in st["Diagnostic-Code"]


def test_a_nonexistent_domain_bounces(world):
    w = world
    submit(w.srv, "alice@example.test", w.password, "x@nowhere.remote.test",
           message("x@nowhere.remote.test"))
    got = wait_for(lambda: inbox(w), timeout=30)
    assert got, w.srv.log()
    [st] = delivery_status(parse(got[0]))
    assert st["Status"] == "5.1.2"


def test_queued_mail_survives_a_restart_and_goes_out(world):
    w = world
    w.pf.stop()
    submit(w.srv, "alice@example.test", w.password, "bob@remote.test",
           message("bob@remote.test", "after restart"))
    w.srv.wait_log(" delivery deferred ", timeout=20)
    assert w.srv.stop() == 0
    assert [r[3] for r in w.srv.queue()] == ["queued"]
    w.pf.start()
    w.srv.start(wait=False)
    w.srv.wait_log(" ready ", count=2)
    got = wait_for(lambda: maildir(w, "bob@remote.test"), timeout=30)
    assert got and b"after restart" in got[0], w.srv.log()
    assert len(got) == 1
    assert wait_for(lambda: w.srv.queue() == [])


def test_queue_commands_hold_release_retry_and_drop(world):
    w = world
    w.pf.stop()
    submit(w.srv, "alice@example.test", w.password, "bob@remote.test",
           message("bob@remote.test", "held one"))
    w.srv.wait_log(" delivery deferred ", timeout=20)
    [(qid, sender, rcpt, state)] = w.srv.queue()
    r = w.srv.cli("queue", "hold", qid)
    assert r.returncode == 0 and "1 message held" in r.stdout, r.stderr
    r = w.srv.cli("queue", "list")
    assert qid in r.stdout and "HELD" in r.stdout and "next when released" in r.stdout
    r = w.srv.cli("queue", "show", qid)
    assert "Subject: held one" in r.stdout and "attempts 1" in r.stdout, r.stdout
    w.pf.start()
    time.sleep(3)  # held: no attempt although the remote is back
    assert maildir(w, "bob@remote.test") == []
    r = w.srv.cli("queue", "release", qid)
    assert r.returncode == 0 and "1 message released" in r.stdout
    r = w.srv.cli("queue", "retry")
    assert r.returncode == 0
    assert wait_for(lambda: maildir(w, "bob@remote.test")), w.srv.log()
    # drop: removed without a bounce.
    w.pf.stop()
    submit(w.srv, "alice@example.test", w.password, "bob@remote.test",
           message("bob@remote.test", "dropped one"))
    w.srv.wait_log(" delivery deferred ", timeout=20, count=2)
    [(qid2, _, _, _)] = w.srv.queue()
    r = w.srv.cli("queue", "drop", qid2)
    assert r.returncode == 0 and "1 message dropped" in r.stdout
    assert w.srv.queue() == []
    r = w.srv.cli("queue", "drop", qid2)
    assert r.returncode == 1 and "no message" in r.stderr
    assert inbox(w) == []


def scripted_smtp(c, mode, counter):
    """A small SMTP server on one connection, misbehaving as `mode` says."""
    f = c.makefile("rb")
    n = counter.setdefault("conns", 0) + 1
    counter["conns"] = n
    if mode == "busy" and n > 1:
        c.sendall(b"421 4.7.0 too many connections from you\r\n")
        return
    if mode == "421":
        c.sendall(b"421 4.3.2 service not available, closing\r\n")
        return
    c.sendall(b"220 broken.test ESMTP\r\n")
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line[:4].upper()
        if cmd in (b"EHLO", b"HELO"):
            c.sendall(b"250-broken.test\r\n250 8BITMIME\r\n")
        elif cmd == b"MAIL":
            counter["rcpts"] = 0
            c.sendall(b"250 2.0.0 ok\r\n")
        elif cmd == b"RCPT":
            counter["rcpts"] = counter.get("rcpts", 0) + 1
            if mode == "toomany" and counter["rcpts"] > 2:
                c.sendall(b"452 4.5.3 Too many recipients\r\n")
            else:
                c.sendall(b"250 2.1.5 ok\r\n")
        elif cmd == b"RSET":
            c.sendall(b"250 2.0.0 ok\r\n")
        elif cmd == b"DATA":
            c.sendall(b"354 go\r\n")
            if mode == "midbody":
                f.readline()
                c.sendall(b"552 5.3.4 Message too big for this system\r\n")
                c.close()
                return
            if mode == "early":
                # The verdict after the first line; then it reads on,
                # answering whatever comes as commands.
                f.readline()
                c.sendall(b"552 5.3.4 Message too big for this system\r\n")
                continue
            while f.readline() not in (b".\r\n", b""):
                pass
            counter["messages"] = counter.get("messages", 0) + 1
            # "extra": one reply too many, which must not answer the next
            # message's commands.
            c.sendall(b"250 2.0.0 queued\r\n250 2.0.0 and again\r\n" if mode == "extra"
                      else b"250 2.0.0 queued\r\n")
            if mode == "busy":
                import time as _t
                _t.sleep(2)
        elif cmd == b"QUIT":
            c.sendall(b"221 bye\r\n")
            return
        else:
            c.sendall(b"500 what\r\n")


def garbage_server(ip, port, mode, counter=None):
    """A remote that misbehaves: sends garbage, stalls, or hangs up mid-reply;
    or a scripted server (see scripted_smtp)."""
    counter = {} if counter is None else counter
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(5)
    conns = []

    def run():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            conns.append(c)
            if mode in ("421", "midbody", "extra", "busy", "toomany", "early", "ok"):
                threading.Thread(target=lambda c=c: _safe(scripted_smtp, c, mode, counter),
                                 daemon=True).start()
                continue
            try:
                if mode == "garbage":
                    c.sendall(b"\x00\xffHELLO THERE\r\n")
                elif mode == "midreply":
                    c.sendall(b"220-broken.test ESMTP\r\n220-more")
                    c.close()
                # "stall": say nothing
            except OSError:
                pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return ls, conns


def _safe(fn, *a):
    try:
        fn(*a)
    except OSError:
        pass


@pytest.mark.parametrize("mode", ["garbage", "midreply", "stall", "421"])
def test_a_misbehaving_remote_costs_one_attempt_and_nothing_else(world, mode):
    w = world
    ls, conns = garbage_server("127.0.0.4", w.port, mode)
    try:
        submit(w.srv, "alice@example.test", w.password, ["x@broken.test", "bob@remote.test"],
               message("x@broken.test", "two places"))
        # The good destination is not held up by the bad one.
        assert wait_for(lambda: maildir(w, "bob@remote.test")), w.srv.log()
        w.srv.wait_log(" delivery deferred ", timeout=20)
        rows = w.srv.queue()
        # The message stays for the one it still owes; the other is done.
        assert sorted((r[2], r[3]) for r in rows) == [("bob@remote.test", "delivered"),
                                                      ("x@broken.test", "queued")]
    finally:
        ls.close()
        for c in conns:
            c.close()


def test_8bit_mail_is_converted_for_a_server_without_8bitmime(world):
    w = world
    body = "Grüße aus Köln, café crème.\r\n.leading dot line\r\n"
    raw = (f"From: Alice <alice@example.test>\r\nTo: <bob@remote.test>\r\n"
           f"Subject: eight bit\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n"
           f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}").encode()
    with smtplib.SMTP("127.0.0.1", w.srv.port("submission"), timeout=10) as c:
        c.starttls(context=tls_client_context())
        c.login("alice@example.test", w.password)
        c.sendmail("alice@example.test", ["bob@remote.test"], raw,
                   mail_options=["BODY=8BITMIME"])
    got = wait_for(lambda: maildir(w, "bob@remote.test"))
    assert got, w.srv.log()
    m = parse(got[0])
    assert m["Content-Transfer-Encoding"] == "quoted-printable"
    assert all(b < 0x80 for b in got[0])
    assert m.get_content() == body.replace("\r\n", "\n")


def test_the_smarthost_path_with_auth(world, make_server):
    """All mail through a relay (another outpost) over verified TLS with AUTH;
    the relay delivers to the MX."""
    w = world
    relay = make_server("relay", domain="example.test", hostname="relay.test")
    relay.quickstart()
    relay.set("dns", "servers", w.dns.server)
    relay.set("delivery", "port", str(w.port))
    relay_pw = relay.add_account("alice@example.test", "relay password 1")
    relay.start()
    w.dns.set_zone("relay.test", "@ A 127.0.0.1\n")
    pwfile = w.srv.dir / "relay-password"
    pwfile.write_text(relay_pw + "\n")
    pwfile.chmod(0o644)
    w.srv.stop()
    w.srv.set("delivery", "relay", f"relay.test:{relay.port('submission')}")
    w.srv.set("delivery", "relay_user", "alice@example.test")
    w.srv.set("delivery", "relay_password_file", str(pwfile))
    # The relay's self-signed certificate is what we trust for it.
    w.srv.set("delivery", "tls_ca_file", str(relay.dir / "tls" / "cert.pem"))
    w.srv.start(wait=False)
    w.srv.wait_log(" ready ", count=2)
    submit(w.srv, "alice@example.test", w.password, "bob@remote.test",
           message("bob@remote.test", "via the smarthost"))
    got = wait_for(lambda: maildir(w, "bob@remote.test"))
    assert got and b"via the smarthost" in got[0], w.srv.log() + relay.log()
    log = w.srv.log()
    assert "host=relay.test policy=relay" in log and "verified=yes" in log, log
    assert re.search(r"delivery sent id=\w+ rcpt=bob@remote.test host=relay.test\[127.0.0.1:", log)
    assert "smtp auth " in relay.log() and "user=alice@example.test" in relay.log()
    # The password is nowhere in either log.
    assert relay_pw not in log and relay_pw not in relay.log()
    # The relay delivered it on to the MX.
    assert "delivery sent" in relay.log()
    # Only chosen domains through the relay: the others go direct again.
    w.srv.stop()
    w.srv.set("delivery", "relay_domains", "nomx.test")
    w.srv.start(wait=False)
    w.srv.wait_log(" ready ", count=3)
    submit(w.srv, "alice@example.test", w.password, "bob@remote.test",
           message("bob@remote.test", "direct again"))
    assert wait_for(lambda: len(maildir(w, "bob@remote.test")) == 2), w.srv.log()
    assert re.search(r"delivery sent id=\w+ rcpt=bob@remote.test host=mx.remote.test\[", w.srv.log())


def test_a_wrong_relay_password_defers(world, make_server):
    w = world
    relay = make_server("relay", domain="example.test", hostname="relay.test")
    relay.quickstart()
    relay.add_account("alice@example.test", "relay password 1")
    relay.start()
    w.dns.set_zone("relay.test", "@ A 127.0.0.1\n")
    pwfile = w.srv.dir / "relay-password"
    pwfile.write_text("not the password\n")
    pwfile.chmod(0o644)
    w.srv.stop()
    w.srv.set("delivery", "relay", f"relay.test:{relay.port('submission')}")
    w.srv.set("delivery", "relay_user", "alice@example.test")
    w.srv.set("delivery", "relay_password_file", str(pwfile))
    w.srv.set("delivery", "tls_ca_file", str(relay.dir / "tls" / "cert.pem"))
    w.srv.start(wait=False)
    w.srv.wait_log(" ready ", count=2)
    submit(w.srv, "alice@example.test", w.password, "bob@remote.test",
           message("bob@remote.test", "wrong password"))
    w.srv.wait_log(" delivery deferred ", timeout=30)
    assert re.search(r"delivery deferred .*reply=\"[^\"]*535", w.srv.log()), w.srv.log()
    assert "not the password" not in w.srv.log()


def restart_with(w, **settings):
    w.srv.stop()
    for key, value in settings.items():
        section, name = key.split("__")
        w.srv.set(section, name, value)
    w.srv.start(wait=False)
    w.srv.wait_log(" ready ", count=2)


def test_a_bare_server_gets_dot_stuffed_data_one_command_at_a_time(world):
    """From source address 127.0.0.6 ([delivery] source_ipv4) Postfix offers no
    PIPELINING, CHUNKING or DSN: MAIL, RCPT, DATA in turn, the body
    dot-stuffed, and the lines starting with a dot arrive intact."""
    w = world
    restart_with(w, delivery__source_ipv4="127.0.0.6")
    body = ".starts with a dot\r\n..two dots\r\nplain\r\n.\r\nafter a lone dot\r\n"
    submit(w.srv, "alice@example.test", w.password, ["bob@remote.test", "later@remote.test"],
           message("bob@remote.test", "dots", body=body))
    got = wait_for(lambda: maildir(w, "bob@remote.test"))
    assert got, w.srv.log() + w.pf.log()
    assert got[0].replace(b"\r\n", b"\n").endswith(body.replace("\r\n", "\n").encode())
    assert "client=localhost[127.0.0.6]" in w.pf.log() or "[127.0.0.6]" in w.pf.log()
    # One recipient refused (451) in the same transaction: the other went.
    assert re.search(r"delivery deferred id=\w+ rcpt=later@remote.test", w.srv.log())


def test_smtputf8_mail_to_a_server_without_it_bounces(world):
    w = world
    restart_with(w, delivery__source_ipv4="127.0.0.6")
    raw = ("From: Alice <alice@example.test>\r\nTo: <bob@remote.test>\r\n"
           "Subject: Grüße\r\n\r\nHallo\r\n").encode()
    with smtplib.SMTP("127.0.0.1", w.srv.port("submission"), timeout=10) as c:
        c.starttls(context=tls_client_context())
        c.login("alice@example.test", w.password)
        c.sendmail("alice@example.test", ["bob@remote.test"], raw,
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    got = wait_for(lambda: inbox(w), timeout=30)
    assert got, w.srv.log()
    [st] = delivery_status(parse(got[0]))
    assert st["Status"] == "5.6.7"
    assert maildir(w, "bob@remote.test") == []


def test_requiretls_mail_is_never_sent_without_verified_tls(world):
    w = world
    with smtplib.SMTP("127.0.0.1", w.srv.port("submission"), timeout=10) as c:
        c.starttls(context=tls_client_context())
        c.login("alice@example.test", w.password)
        c.sendmail("alice@example.test", ["bob@remote.test"],
                   message("bob@remote.test", "secret stuff"), mail_options=["REQUIRETLS"])
    got = wait_for(lambda: inbox(w), timeout=30)
    assert got, w.srv.log()
    [st] = delivery_status(parse(got[0]))
    assert st["Status"] == "5.7.30"
    assert maildir(w, "bob@remote.test") == []


def test_a_delay_notice_then_a_bounce_when_the_lifetime_ends(world):
    w = world
    w.pf.stop()
    restart_with(w, queue__delay_warning="2s", queue__max_lifetime="6s")
    submit(w.srv, "alice@example.test", w.password, "bob@remote.test",
           message("bob@remote.test", "never arrives"))
    first = wait_for(lambda: inbox(w), timeout=30)
    assert first, w.srv.log()
    notice = parse(first[0])
    assert notice["Subject"].startswith("Delayed mail")
    [st] = delivery_status(notice)
    assert st["Action"] == "delayed" and st["Status"].startswith("4.")
    assert "Will-Retry-Until" in st
    both = wait_for(lambda: len(inbox(w)) >= 2 and inbox(w), timeout=30)
    assert both, w.srv.log()
    bounce = parse(both[1])
    assert bounce["Subject"].startswith("Undelivered mail")
    [st] = delivery_status(bounce)
    assert st["Action"] == "failed"
    assert wait_for(lambda: w.srv.queue() == [])
    # Exactly one notice and one bounce.
    time.sleep(3)
    assert len(inbox(w)) == 2


def test_kill_9_while_delivering_loses_nothing(world):
    """At-least-once: the server is killed with SIGKILL while it delivers;
    after a restart every accepted message reaches the remote (a message in
    flight at the kill may arrive twice, none may be missing)."""
    import signal as sig
    w = world
    n = 150
    with smtplib.SMTP("127.0.0.1", w.srv.port("submission"), timeout=30) as c:
        c.starttls(context=tls_client_context())
        c.login("alice@example.test", w.password)
        for i in range(n):
            c.sendmail("alice@example.test", ["bob@remote.test"],
                       message("bob@remote.test", f"load {i}"))
            if i == n // 2:
                w.srv.proc.send_signal(sig.SIGKILL)
                break
    accepted = n // 2 + 1
    w.srv.proc.wait()
    w.srv.start(wait=False)
    w.srv.wait_log(" ready ", count=2)
    got = wait_for(lambda: len(maildir(w, "bob@remote.test")) >= accepted and
                   w.srv.queue() == [], timeout=60)
    assert got, (len(maildir(w, "bob@remote.test")), w.srv.queue())
    subjects = set()
    for m in maildir(w, "bob@remote.test"):
        subjects.add(re.search(rb"Subject: (load \d+)", m).group(1))
    assert subjects == {f"load {i}".encode() for i in range(accepted)}


def test_a_refusal_in_the_middle_of_the_message_is_the_verdict(world):
    w = world
    ls, conns = garbage_server("127.0.0.4", w.port, "midbody")
    try:
        submit(w.srv, "alice@example.test", w.password, "x@broken.test",
               message("x@broken.test", "too big", body="line\r\n" * 2000))
        got = wait_for(lambda: inbox(w), timeout=30)
        assert got, w.srv.log()
        [st] = delivery_status(parse(got[0]))
        assert st["Status"] == "5.3.4" and "too big" in st["Diagnostic-Code"]
    finally:
        ls.close()


def test_a_reply_too_many_does_not_mark_the_next_message_delivered(world):
    w = world
    counter = {}
    # Queued while the remote is down, so that all three go over one
    # connection once it is up.
    restart_with(w, queue__max_connections_per_domain="1")
    with smtplib.SMTP("127.0.0.1", w.srv.port("submission"), timeout=10) as c:
        c.starttls(context=tls_client_context())
        c.login("alice@example.test", w.password)
        for i in range(3):
            c.sendmail("alice@example.test", ["x@broken.test"],
                       message("x@broken.test", f"desync {i}"))
    w.srv.wait_log(" delivery deferred ", timeout=30, count=3)
    ls, conns = garbage_server("127.0.0.4", w.port, "extra", counter)
    try:
        assert w.srv.cli("queue", "retry").returncode == 0
        w.srv.wait_log(" protocol-error ", timeout=30)
        time.sleep(1)
        sent = len(re.findall(r"delivery sent id=\w+ rcpt=x@broken.test", w.srv.log()))
        # Every "sent" is a message the server really took.
        assert 1 <= sent <= counter.get("messages", 0), w.srv.log()
        assert "replies nobody asked for" in w.srv.log()
    finally:
        ls.close()


def test_a_server_that_refuses_extra_connections_is_not_hammered(world):
    w = world
    counter = {}
    w.srv.stop()
    w.srv.set("queue", "max_messages_per_connection", "1")
    w.srv.start(wait=False)
    w.srv.wait_log(" ready ", count=2)
    ls, conns = garbage_server("127.0.0.4", w.port, "busy", counter)
    try:
        with smtplib.SMTP("127.0.0.1", w.srv.port("submission"), timeout=10) as c:
            c.starttls(context=tls_client_context())
            c.login("alice@example.test", w.password)
            for i in range(6):
                c.sendmail("alice@example.test", ["x@broken.test"],
                           message("x@broken.test", f"busy {i}"))
        time.sleep(5)
        # One session at a time after the first refusal, not a storm.
        assert counter["conns"] < 40, counter
    finally:
        ls.close()


def test_notify_success_through_a_server_without_dsn_brings_a_relayed_notice(world):
    w = world
    restart_with(w, delivery__source_ipv4="127.0.0.6")  # no DSN from Postfix
    with smtplib.SMTP("127.0.0.1", w.srv.port("submission"), timeout=10) as c:
        c.starttls(context=tls_client_context())
        c.login("alice@example.test", w.password)
        c.sendmail("alice@example.test", ["bob@remote.test"],
                   message("bob@remote.test", "tell me"), rcpt_options=["NOTIFY=SUCCESS"])
    assert wait_for(lambda: maildir(w, "bob@remote.test")), w.srv.log()
    got = wait_for(lambda: inbox(w), timeout=30)
    assert got, w.srv.log()
    [st] = delivery_status(parse(got[0]))
    assert st["Action"] == "relayed" and st["Status"].startswith("2.")


def test_ipv6_is_tried_first_then_ipv4(world):
    w = world
    submit(w.srv, "alice@example.test", w.password, "dee@dual.test", message("dee@dual.test"))
    assert wait_for(lambda: maildir(w, "dee@dual.test")), w.srv.log()
    log = w.srv.log()
    v6 = log.find("mx.dual.test ([::1]:")
    v4 = log.find("host=mx.dual.test[127.0.0.2:")
    assert 0 <= v6 < v4, log


def test_too_many_recipients_go_again_at_once_in_another_transaction(world):
    w = world
    counter = {}
    ls, conns = garbage_server("127.0.0.4", w.port, "toomany", counter)
    try:
        rcpts = [f"x{i}@broken.test" for i in range(5)]
        submit(w.srv, "alice@example.test", w.password, rcpts, message(rcpts[0], "five"))
        assert wait_for(lambda: w.srv.queue() == [], timeout=30), w.srv.log()
        log = w.srv.log()
        assert len(re.findall(r"delivery sent id=\w+ rcpt=x\d@broken.test", log)) == 5, log
        assert "delivery deferred" not in log
        assert counter["messages"] == 3  # 2 + 2 + 1 recipients
    finally:
        ls.close()


def test_a_verdict_before_the_message_has_left_ends_the_connection(world):
    """The server refuses after the first line of a large message and reads
    on: the rest of the message must not be taken for commands, nor the
    next message's replies be shifted."""
    w = world
    restart_with(w, queue__max_connections_per_domain="1")
    counter = {}
    with smtplib.SMTP("127.0.0.1", w.srv.port("submission"), timeout=10) as c:
        c.starttls(context=tls_client_context())
        c.login("alice@example.test", w.password)
        for i in range(2):
            c.sendmail("alice@example.test", ["x@broken.test"],
                       message("x@broken.test", f"early {i}",
                               body="MAIL FROM:<spoof@evil.test>\r\n" * 40000))
    w.srv.wait_log(" delivery deferred ", timeout=30, count=2)
    ls, conns = garbage_server("127.0.0.4", w.port, "early", counter)
    try:
        assert w.srv.cli("queue", "retry").returncode == 0
        got = wait_for(lambda: len(inbox(w)) >= 2, timeout=40)
        assert got, w.srv.log()
        for raw in inbox(w):
            [st] = delivery_status(parse(raw))
            assert st["Status"] == "5.3.4", st
        assert "500 what" not in w.srv.log()
    finally:
        ls.close()


def test_as_a_backup_mx_we_defer_while_the_primary_is_down(world):
    w = world
    submit(w.srv, "alice@example.test", w.password, "x@backup.test", message("x@backup.test"))
    w.srv.wait_log(" delivery deferred ", timeout=20)
    log = w.srv.log()
    assert "loops back" not in log
    assert re.search(r"delivery deferred id=\w+ rcpt=x@backup.test", log)
    time.sleep(2)
    assert inbox(w) == []
