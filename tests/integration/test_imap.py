"""IMAP with Python's imaplib: what a mail client does, against the real server."""
import imaplib
import re
import smtplib
import socket
import time

import pytest

from conftest import tls_client_context

USER = "alice@example.test"
PASSWORD = "alice's imap password"


@pytest.fixture
def srv(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    s.set("auth", "failure_delay", "200ms")
    return s.start()


def deliver(srv, subject, body="Hello there.\r\n", to=USER):
    msg = (f"From: Bob <bob@remote.test>\r\nTo: {to}\r\nSubject: {subject}\r\n"
           f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '.')}"
           f"@remote.test>\r\n\r\n{body}").encode()
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=10) as c:
        c.sendmail("bob@remote.test", [to], msg)


def connect(srv, service="imaps"):
    if service == "imaps":
        return imaplib.IMAP4_SSL("127.0.0.1", srv.port("imaps"), ssl_context=tls_client_context(),
                                 timeout=10)
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=10)
    return m


def logged_in(srv):
    m = connect(srv)
    m.login(USER, PASSWORD)
    return m


def test_plain_port_offers_starttls_and_refuses_login_before_it(srv):
    m = connect(srv, "imap")
    assert "STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        m.login(USER, PASSWORD)
    m.starttls(ssl_context=tls_client_context())
    typ, data = m.login(USER, PASSWORD)
    assert typ == "OK" and b"[CAPABILITY IMAP4rev2" in data[0]
    m.logout()


def test_wrong_password_and_unknown_user_look_the_same(srv):
    answers = []
    for user, pw in ((USER, "wrong"), ("nobody@example.test", PASSWORD)):
        m = connect(srv)
        with pytest.raises(imaplib.IMAP4.error) as e:
            m.login(user, pw)
        answers.append(str(e.value))
        m.logout()
    assert answers[0] == answers[1]
    assert "AUTHENTICATIONFAILED" in answers[0]
    srv.wait_log(" imap auth-failed ")


def test_list_select_fetch_and_bodystructure(srv):
    deliver(srv, "first")
    deliver(srv, "second", body="line one\r\nline two\r\n")
    m = logged_in(srv)
    typ, boxes = m.list()
    names = [re.search(rb'"([^"]+)"$', b).group(1) for b in boxes]
    assert b"INBOX" in names and b"Sent" in names
    assert any(b"\\Sent" in b for b in boxes)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"2"]
    typ, data = m.fetch("1:*", "(UID FLAGS RFC822.SIZE ENVELOPE)")
    assert typ == "OK"
    assert b'"first"' in data[0] and b'(("Bob" NIL "bob" "remote.test"))' in data[0]
    typ, data = m.fetch("2", "(BODYSTRUCTURE)")
    assert b'BODYSTRUCTURE ("text" "plain"' in data[0]
    typ, data = m.fetch("2", "(BODY.PEEK[TEXT])")
    assert data[0][1] == b"line one\r\nline two\r\n"
    typ, data = m.fetch("2", "(BODY.PEEK[HEADER.FIELDS (Subject)])")
    assert data[0][1] == b"Subject: second\r\n\r\n"
    typ, data = m.fetch("2", "(BODY[]<0.10>)")
    assert data[0][0].endswith(b"BODY[]<0> {10}") and data[0][1] == b"Return-Pat"
    # BODY[] without PEEK set \Seen.
    typ, data = m.fetch("2", "(FLAGS)")
    assert b"\\Seen" in data[0]
    m.logout()


def test_store_search_copy_move_expunge(srv):
    for i in range(5):
        deliver(srv, f"note {i}", body=f"word{i} common\r\n")
    m = logged_in(srv)
    m.select("INBOX")
    assert m.search(None, "ALL")[1] == [b"1 2 3 4 5"]
    assert m.search(None, "SUBJECT", "\"note 3\"")[1] == [b"4"]
    assert m.search(None, "TEXT", "word2")[1] == [b"3"]
    assert m.search(None, "BODY", "common", "NOT", "SUBJECT", "\"note 0\"")[1] == [b"2 3 4 5"]
    typ, data = m.store("1:2", "+FLAGS", "(\\Flagged)")
    assert typ == "OK" and len([d for d in data if b"\\Flagged" in d]) >= 2
    assert m.search(None, "FLAGGED")[1] == [b"1 2"]
    assert m.search(None, "OR", "FLAGGED", "SUBJECT", "\"note 4\"")[1] == [b"1 2 5"]
    typ, data = m.copy("1:2", "Archive")
    assert typ == "OK" and b"COPYUID" in data[0]
    typ, data = m.uid("MOVE", "5", "Trash")
    assert typ == "OK"
    m.store("1", "+FLAGS", "(\\Deleted)")
    assert m.untagged_responses.pop("EXPUNGE") == [b"5"]  # from the MOVE
    typ, data = m.expunge()
    assert data == [b"1"]
    assert m.search(None, "ALL")[1] == [b"1 2 3"]
    assert m.status("Archive", "(MESSAGES)")[1] == [b'"Archive" (MESSAGES 2)']
    assert m.status("Trash", "(MESSAGES)")[1] == [b'"Trash" (MESSAGES 1)']
    m.logout()


def test_append_gives_appenduid_and_the_message_is_there(srv):
    m = logged_in(srv)
    typ, data = m.append("Drafts", "(\\Draft)", None, b"Subject: draft\r\n\r\nunfinished\r\n")
    assert typ == "OK" and re.match(rb"\[APPENDUID \d+ 1\]", data[0])
    m.select("Drafts")
    typ, data = m.fetch("1", "(FLAGS BODY.PEEK[])")
    assert b"\\Draft" in data[0][0] and data[0][1] == b"Subject: draft\r\n\r\nunfinished\r\n"
    m.logout()


def test_create_rename_delete_subscribe(srv):
    m = logged_in(srv)
    assert m.create("Projects/2026")[0] == "OK"
    assert m.rename("Projects/2026", "Projects/Done")[0] == "OK"
    assert m.subscribe("Projects/Done")[0] == "OK"
    typ, data = m.lsub('""', "Projects/*")
    assert data == [b'() "/" "Projects/Done"']
    assert m.delete("Projects/Done")[0] == "OK"
    typ, data = m.list('""', "Projects*")
    assert data == [b'(\\HasNoChildren) "/" "Projects"']
    assert m.select("Nope")[0] == "NO"
    m.logout()


def test_international_mailbox_names_in_modified_utf7(srv):
    m = logged_in(srv)
    assert m.create("Entw&APw-rfe")[0] == "OK"
    typ, data = m.list('""', "Entw*")
    assert data == [b'(\\HasNoChildren) "/" "Entw&APw-rfe"']
    m.logout()


def test_idle_hears_of_new_mail_within_a_second(srv):
    m = logged_in(srv)
    m.select("INBOX")
    tag = m._new_tag().decode()
    m.send(f"{tag} IDLE\r\n".encode())
    assert m.readline().startswith(b"+ ")
    t0 = time.monotonic()
    deliver(srv, "while idling")
    m.sock.settimeout(5)
    line = m.readline()
    assert line == b"* 1 EXISTS\r\n", line
    assert time.monotonic() - t0 < 1.5
    m.send(b"DONE\r\n")
    assert m.readline().startswith(f"{tag} OK".encode())
    m.logout()


def test_two_sessions_see_each_others_changes(srv):
    deliver(srv, "shared")
    a, b = logged_in(srv), logged_in(srv)
    a.select("INBOX")
    b.select("INBOX")
    a.store("1", "+FLAGS", "(\\Flagged)")

    def noop_until(session, kind, want):
        # The change reaches the other session on the server's loop; a NOOP
        # or two later it is there.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            session.noop()
            got = session.untagged_responses.pop(kind, [])
            if any(want in (g or b"") for g in got):
                return True
            time.sleep(0.05)
        return False

    assert noop_until(b, "FETCH", b"\\Flagged")
    a.store("1", "+FLAGS", "(\\Deleted)")
    a.expunge()
    assert noop_until(b, "EXPUNGE", b"1")
    a.logout()
    b.logout()


def test_bad_commands_get_bad_and_the_session_goes_on(srv):
    s = socket.create_connection(("127.0.0.1", srv.port("imap")), timeout=5)
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK [CAPABILITY ")
    s.sendall(b"a1 FROB\r\na2 LOGIN\r\n* NOOP\r\na3 NOOP\r\n")
    assert f.readline() == b"a1 BAD Unknown command\r\n"
    assert f.readline().startswith(b"a2 BAD ")
    assert f.readline().startswith(b"* BAD ")
    assert f.readline() == b"a3 OK NOOP completed\r\n"
    # A synchronizing literal over the limit is refused before it is sent.
    s.sendall(b"a4 LOGIN {100000000}\r\n")
    assert f.readline().startswith(b"a4 NO [TOOBIG] ")
    s.sendall(b"a5 LOGOUT\r\n")
    assert f.readline().startswith(b"* BYE ")
    s.close()


# ---- found in review: each of these once went wrong ----

def raw_session(srv):
    s = socket.create_connection(("127.0.0.1", srv.port("imap")), timeout=10)
    f = s.makefile("rb")
    f.readline()
    return s, f


def test_a_literal_before_login_is_held_to_the_small_limit(srv):
    s, f = raw_session(srv)
    s.sendall(b"x APPEND INBOX {20000000}\r\n")
    assert f.readline().startswith(b"x NO [TOOBIG] ")
    s.close()


def test_list_patterns_with_many_stars_stay_fast(srv):
    m = logged_in(srv)
    assert m.create("a" * 300)[0] == "OK"
    # A backtracking matcher needs hours for this; the automaton, no time.
    typ, data = m.list('""', "*a*a*a*a*a*a*a*a*b")
    assert typ == "OK" and data == [None]
    typ, data = m.list('""', "*a*a*a*a*a*a*a*a*")
    assert len(data) == 1
    m.logout()


def test_uid_fetch_sees_new_mail_and_copyuid_names_every_message(srv):
    m = logged_in(srv)
    m.select("INBOX")
    for i in range(40):
        deliver(srv, f"bulk {i}")
    typ, data = m.uid("FETCH", "1:*", "(UID)")
    assert len([d for d in data if d]) == 40
    typ, data = m.copy("1:40", "Archive")
    assert typ == "OK"
    code = re.search(rb"\[COPYUID (\d+) (\S+) (\S+)\]", data[0])
    assert code and code.group(2) == b"1:40" and code.group(3) == b"1:40", data
    m.logout()


def test_expunges_by_others_are_reported_after_a_fetch_deferred_them(srv):
    for i in range(3):
        deliver(srv, f"m{i}")
    a, b = logged_in(srv), logged_in(srv)
    a.select("INBOX")
    b.select("INBOX")
    b.store("2", "+FLAGS", "(\\Deleted)")
    b.expunge()
    time.sleep(0.2)
    a.fetch("1:*", "(FLAGS)")           # may not renumber: no EXPUNGE yet
    deadline = time.monotonic() + 2
    while "EXPUNGE" not in a.untagged_responses and time.monotonic() < deadline:
        a.noop()
    assert a.untagged_responses.get("EXPUNGE") == [b"2"]
    assert a.search(None, "ALL")[1] == [b"1 2"]
    a.logout()
    b.logout()


def test_a_mailbox_renamed_under_a_session_is_not_confused_with_its_successor(srv):
    a, b = logged_in(srv), logged_in(srv)
    assert a.create("Foo")[0] == "OK"
    a.append("Foo", None, None, b"Subject: old\r\n\r\nx\r\n")
    a.select("Foo")
    b.rename("Foo", "Bar")
    b.create("Foo")
    b.append("Foo", None, None, b"Subject: new\r\n\r\ny\r\n")
    typ, data = a.uid("STORE", "1:*", "+FLAGS", "(\\Deleted)")
    assert typ == "NO"
    assert b.select("Foo")[1] == [b"1"]
    # b is the first to select the new Foo: its message is \Recent (RFC 3501).
    assert b.fetch("1", "(FLAGS)")[1] == [b"1 (FLAGS (\\Recent))"]
    a.logout()
    b.logout()


def auth_lines(srv):
    return [l for l in srv.log().splitlines() if " imap auth " in l]


def test_a_repeated_login_is_served_from_the_login_cache(srv):
    """The second login with the same password skips argon2id (logged as
    cached=yes); a wrong password is never a cache hit; a password change
    misses at once; SMTP AUTH shares the cache."""
    for _ in range(2):
        logged_in(srv).logout()
    lines = auth_lines(srv)
    assert len(lines) == 2
    assert "cached=yes" not in lines[0] and "cached=yes" in lines[1]
    m = connect(srv)
    with pytest.raises(imaplib.IMAP4.error):
        m.login(USER, PASSWORD + "x")
    m.logout()
    # A new password: the old one fails at once, the new one hashes once.
    r = srv.cli("account", "passwd", USER, "--password-stdin", input="a brand new one\n")
    assert r.returncode == 0, r.stderr
    m = connect(srv)
    with pytest.raises(imaplib.IMAP4.error):
        m.login(USER, PASSWORD)
    m.logout()
    for _ in range(2):
        m = connect(srv)
        m.login(USER, "a brand new one")
        m.logout()
    lines = auth_lines(srv)
    assert len(lines) == 4
    assert "cached=yes" not in lines[2] and "cached=yes" in lines[3]
    with smtplib.SMTP("127.0.0.1", srv.port("submission"), timeout=10) as c:
        c.starttls(context=tls_client_context())
        c.login(USER, "a brand new one")
    smtp_auth = [l for l in srv.log().splitlines() if " smtp auth " in l]
    assert len(smtp_auth) == 1 and "cached=yes" in smtp_auth[0]


def test_the_login_cache_can_be_turned_off(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    s.set("auth", "login_cache", "0")
    s.start()
    for _ in range(3):
        logged_in(s).logout()
    lines = auth_lines(s)
    assert len(lines) == 3 and not any("cached=yes" in l for l in lines)


def test_connections_per_user_are_limited(make_server):
    """Past [imap] max_connections_per_user a login gets NO [LIMIT] (the
    session stays usable and may log in as someone else); closing one lets
    the next in."""
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    s.add_account("other@example.test", "other password")
    s.set("imap", "max_connections_per_user", "2")
    s.start()
    a, b = logged_in(s), logged_in(s)
    c = connect(s)
    with pytest.raises(imaplib.IMAP4.error, match=r"\[LIMIT\]"):
        c.login(USER, PASSWORD)
    assert "user-limit" in s.log()
    c.login("other@example.test", "other password")
    c.logout()
    a.logout()
    # The server counts the session out when it sees the connection close.
    for _ in range(50):
        try:
            d = logged_in(s)
            break
        except imaplib.IMAP4.error:
            time.sleep(0.1)
    assert d.select("INBOX")[0] == "OK"
    for m in (b, d):
        m.logout()


def test_search_subject_decodes_and_unfolds_the_subject(srv):
    """SUBJECT matches the envelope's subject decoded (RFC 2047) and unfolded,
    case-insensitively; not other header fields."""
    msg = (b"From: Bob <bob@remote.test>\r\nTo: " + USER.encode() + b"\r\n"
           b"Subject: =?UTF-8?Q?Caf=C3=A9_menu?= for the\r\n long weekend\r\n"
           b"X-Note: zebra crossing\r\n\r\nbody\r\n")
    m = logged_in(srv)
    m.append("INBOX", None, None, msg)
    m.append("INBOX", None, None, b"Subject: unrelated\r\nX-Subject: weekend\r\n\r\nx\r\n")
    m.select("INBOX")
    assert m.uid("SEARCH", "SUBJECT", '"the long WEEKEND"')[1] == [b"1"]
    assert m.uid("SEARCH", "SUBJECT", "zebra")[1] == [b""]
    m.literal = "café menu".encode()
    assert m.uid("SEARCH", "CHARSET", "UTF-8", "SUBJECT")[1] == [b"1"]
    assert m.uid("SEARCH", "SUBJECT", "unrelated")[1] == [b"2"]
    m.logout()
