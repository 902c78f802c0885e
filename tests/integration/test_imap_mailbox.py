"""IMAP mailbox commands against the real server, raw and with imaplib:
SELECT's UNSEEN and LIST responses, the response codes of refusals,
subscriptions to names without a mailbox, LIST-STATUS, APPEND into the
selected mailbox, \\Recent for IMAP4rev1 clients, MULTIAPPEND, APPENDLIMIT
and QUOTA. Each behaviour is checked for IMAP4rev1 clients and after ENABLE
IMAP4rev2 where the two differ."""
import imaplib
import re
import smtplib
import sqlite3
import time

import pytest

from conftest import tls_client_context
from imapwire import Wire, fetch_items, flag_set

USER = "alice@example.test"
PASSWORD = "alice's mailbox password"


def configure(s):
    s.quickstart()
    s.add_account(USER, PASSWORD)
    s.set("auth", "failure_delay", "200ms")


@pytest.fixture
def srv(make_server):
    s = make_server()
    configure(s)
    return s.start()


def session(srv, rev2=False, user=USER, password=PASSWORD):
    """A raw session, logged in; after ENABLE IMAP4rev2 with rev2."""
    w = Wire.connect(srv)
    untagged, tagged = w.command("L", f'LOGIN {user} "{password}"')
    assert tagged.startswith(b"L OK "), tagged
    if rev2:
        untagged, tagged = w.command("E", "ENABLE IMAP4rev2")
        assert untagged == [b"* ENABLED IMAP4rev2\r\n"], untagged
    return w


def logged_in(srv, user=USER, password=PASSWORD):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.port("imaps"), ssl_context=tls_client_context(),
                          timeout=10)
    m.login(user, password)
    return m


def message(i, size=None):
    m = b"From: Filler <filler@remote.test>\r\nSubject: message %d\r\n\r\nbody %d\r\n" % (i, i)
    if size is not None:
        assert size >= len(m)
        m = m[:-2] + b"x" * (size - len(m)) + b"\r\n"
    return m


def append(w, tag, mailbox, msg, flags=""):
    """APPEND with a non-synchronizing literal: (untagged, tagged)."""
    w.send(b"%s APPEND %s %s{%d+}\r\n%s\r\n" % (tag.encode(), mailbox.encode(),
                                                b"(%s) " % flags.encode() if flags else b"",
                                                len(msg), msg))
    return w.until_tagged(tag)


def fill(srv, mailbox, flags_list, user=USER, password=PASSWORD):
    """Appends one message per entry (its flags, "" for none) with imaplib,
    a session that never selects the mailbox."""
    m = logged_in(srv, user, password)
    if mailbox != "INBOX":
        m.create(mailbox)
    for i, flags in enumerate(flags_list, 1):
        typ, data = m.append(mailbox, flags or None, None, message(i))
        assert typ == "OK", data
    m.logout()


def deliver(srv, subject):
    msg = (f"From: Bob <bob@remote.test>\r\nTo: {USER}\r\nSubject: {subject}\r\n"
           f"\r\nHello.\r\n").encode()
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=10) as c:
        c.sendmail("bob@remote.test", [USER], msg)


def lines(untagged):
    return [u.decode().rstrip("\r\n") for u in untagged]


def select_lines(untagged, kind):
    """The untagged responses of one kind in a SELECT answer."""
    pats = {"RECENT": r"\* \d+ RECENT", "UNSEEN": r"\* OK \[UNSEEN \d+\] .*",
            "LIST": r"\* LIST .*", "EXISTS": r"\* \d+ EXISTS"}
    return [x for x in lines(untagged) if re.fullmatch(pats[kind], x)]


def index_db(srv, user=USER):
    acct = srv.dir / "data" / "accounts" / str(srv.account_id(user)) / "index.db"
    return sqlite3.connect(f"file:{acct}?mode=ro", uri=True)


# ---- 1. SELECT's [UNSEEN n] for IMAP4rev1 ----

def test_select_and_examine_report_the_first_unseen_message_to_rev1_clients_only(srv):
    fill(srv, "INBOX", ["\\Seen", "\\Seen", "", "\\Flagged", ""])
    w = session(srv)
    for tag, cmd in (("s", "SELECT INBOX"), ("e", "EXAMINE INBOX")):
        untagged, tagged = w.command(tag, cmd)
        assert tagged.startswith(tag.encode() + b" OK ")
        assert select_lines(untagged, "UNSEEN") == ["* OK [UNSEEN 3] First unseen message"]
    # After an expunge the number follows the message.
    w.command("s", "SELECT INBOX")
    w.command("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    w.command("x", "EXPUNGE")
    untagged, _ = w.command("s2", "SELECT INBOX")
    assert select_lines(untagged, "UNSEEN") == ["* OK [UNSEEN 2] First unseen message"]
    # Every message seen: no UNSEEN at all (RFC 3501 6.3.1 gives no number).
    w.command("a", "STORE 1:* +FLAGS.SILENT (\\Seen)")
    untagged, _ = w.command("s3", "SELECT INBOX")
    assert select_lines(untagged, "UNSEEN") == []
    # RFC 9051 has no UNSEEN response code in SELECT.
    fill(srv, "Other", ["", "\\Seen"])
    v2 = session(srv, rev2=True)
    untagged, tagged = v2.command("s", "SELECT Other")
    assert tagged.startswith(b"s OK [READ-WRITE] ")
    assert select_lines(untagged, "UNSEEN") == [] and select_lines(untagged, "RECENT") == []
    assert select_lines(untagged, "EXISTS") == ["* 2 EXISTS"]


# ---- 2. SELECT's LIST response for IMAP4rev2 ----

def test_a_rev2_select_sends_the_mailboxs_list_response_as_list_gives_it(srv):
    w = session(srv, rev2=True)
    for name in ("Projects/2026", "Café"):
        assert w.command("c", f'CREATE "{name}"')[1].startswith(b"c OK ")
    for name in ("inbox", "Sent", "Projects", "Projects/2026", "Café"):
        untagged, _ = w.command("l", f'LIST "" "{name}"')
        assert len(untagged) == 1 and untagged[0].startswith(b"* LIST "), untagged
        listed = untagged[0]
        for cmd in ("SELECT", "EXAMINE"):
            untagged, tagged = w.command("s", f'{cmd} "{name}"')
            assert tagged.startswith(b"s OK "), tagged
            got = [u for u in untagged if u.startswith(b"* LIST ")]
            assert got == [listed], (name, untagged)
    # The name as the server spells it, in UTF-8 after ENABLE IMAP4rev2.
    untagged, _ = w.command("s", "SELECT inbox")
    assert b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n' in untagged
    untagged, _ = w.command("s", 'SELECT "Café"')
    assert '* LIST (\\HasNoChildren) "/" "Café"\r\n'.encode() in untagged
    untagged, _ = w.command("s", "SELECT Sent")
    assert b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"\r\n' in untagged
    # An IMAP4rev1 client gets none.
    w1 = session(srv)
    untagged, tagged = w1.command("s", "SELECT INBOX")
    assert tagged.startswith(b"s OK ") and select_lines(untagged, "LIST") == []


# ---- 3. refusals and their response codes ----

def test_refusals_carry_the_precise_response_code(srv):
    w = session(srv)
    assert w.command("c", "CREATE foo/bar")[1].startswith(b"c OK ")
    assert w.command("d", "DELETE foo")[1].startswith(b"d OK ")       # foo stays \Noselect
    untagged, tagged = w.command("d2", "DELETE foo")
    assert untagged == [] and tagged.startswith(b"d2 NO [HASCHILDREN] "), tagged
    codes = {
        "DELETE nonesuch": b"NONEXISTENT",
        "DELETE INBOX": b"CANNOT",
        "CREATE Sent": b"ALREADYEXISTS",
        "CREATE inbox": b"ALREADYEXISTS",
        "CREATE a//b": b"CANNOT",
        "RENAME Sent Drafts": b"ALREADYEXISTS",
        "RENAME nonesuch other": b"NONEXISTENT",
        "RENAME Sent Sent/inner": b"CANNOT",
        "SELECT foo": b"NONEXISTENT",
        "SELECT nonesuch": b"NONEXISTENT",
        "STATUS nonesuch (MESSAGES)": b"NONEXISTENT",
        "SUBSCRIBE a//b": b"CANNOT",
    }
    for cmd, code in codes.items():
        tagged = w.command("t", cmd)[1]
        assert tagged.startswith(b"t NO [%s] " % code), (cmd, tagged)
    # APPEND and COPY: TRYCREATE where a CREATE would help, not otherwise.
    for box, code in (("nonesuch", b"TRYCREATE"), ("foo", b"TRYCREATE"), ("a//b", b"CANNOT")):
        tagged = append(w, "a", box, message(1))[1]
        assert tagged.startswith(b"a NO [%s] " % code), (box, tagged)
    assert append(w, "a", "INBOX", message(1))[1].startswith(b"a OK ")
    w.command("s", "SELECT INBOX")
    for box, code in (("nonesuch", b"TRYCREATE"), ("foo", b"TRYCREATE"), ("a//b", b"CANNOT")):
        for cmd in ("COPY", "MOVE"):
            tagged = w.command("c", f"{cmd} 1 {box}")[1]
            assert tagged.startswith(b"c NO [%s] " % code), (cmd, box, tagged)
    # None of them is an internal error.
    assert "store-failed" not in srv.log() and "SERVERBUG" not in srv.log()
    # foo goes once its child is gone.
    assert w.command("d", "DELETE foo/bar")[1].startswith(b"d OK ")
    assert w.command("d", "DELETE foo")[1].startswith(b"d OK ")


# ---- 4. subscriptions without a mailbox ----

def test_subscriptions_to_names_without_a_mailbox_are_kept_and_listed(srv):
    w = session(srv)
    for name in ("Fruit", "Fruit/Apple", "Fruit/Banana"):
        assert w.command("c", f"CREATE {name}")[1].startswith(b"c OK ")
    assert w.command("s", "SUBSCRIBE #news.comp.mail.mime")[1].startswith(b"s OK ")
    assert w.command("s", "SUBSCRIBE Fruit/Peach")[1].startswith(b"s OK ")
    assert w.command("s", "SUBSCRIBE Fruit/Banana")[1].startswith(b"s OK ")
    with index_db(srv) as db:
        subs = {n for (n,) in db.execute("SELECT name FROM subscriptions")}
    assert {"#news.comp.mail.mime", "Fruit/Peach", "Fruit/Banana"} <= subs
    untagged, _ = w.command("l", 'LIST (SUBSCRIBED) "" "*"')
    got = lines(untagged)
    assert '* LIST (\\Subscribed \\NonExistent) "/" "#news.comp.mail.mime"' in got
    assert '* LIST (\\Subscribed \\NonExistent) "/" "Fruit/Peach"' in got
    assert '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"' in got
    assert '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"' in got
    assert not any("Fruit/Apple" in x or x.endswith('"Fruit"') for x in got), got
    untagged, _ = w.command("l", 'LSUB "" "*"')
    got = lines(untagged)
    assert '* LSUB () "/" "#news.comp.mail.mime"' in got
    assert '* LSUB () "/" "Fruit/Peach"' in got and '* LSUB () "/" "Fruit/Banana"' in got
    # A plain LIST shows mailboxes only; RETURN (SUBSCRIBED) marks them.
    untagged, _ = w.command("l", 'LIST "" "*" RETURN (SUBSCRIBED)')
    got = lines(untagged)
    assert not any("Peach" in x or "#news" in x for x in got), got
    assert '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"' in got
    assert '* LIST (\\HasNoChildren) "/" "Fruit/Apple"' in got
    # LSUB "%" stops at Fruit, which is not subscribed: \Noselect (RFC 3501
    # 6.3.9); the subscribed names below it do not match.
    untagged, _ = w.command("l", 'LSUB "" "%"')
    got = lines(untagged)
    assert '* LSUB (\\Noselect) "/" "Fruit"' in got and not any("Fruit/" in x for x in got)
    assert '* LSUB () "/" "#news.comp.mail.mime"' in got
    # RECURSIVEMATCH: Fruit comes back for its subscribed children (RFC 5258).
    untagged, _ = w.command("l", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    got = lines(untagged)
    assert '* LIST (\\HasChildren) "/" "Fruit" ("CHILDINFO" ("SUBSCRIBED"))' in got, got
    untagged, _ = w.command("l", 'LIST (SUBSCRIBED) "" "%"')
    assert not any('"Fruit"' in x for x in lines(untagged))
    # Made later, the name is a subscribed mailbox like any other; gone
    # again, it stays subscribed.
    assert w.command("c", "CREATE Fruit/Peach")[1].startswith(b"c OK ")
    untagged, _ = w.command("l", 'LIST (SUBSCRIBED) "" "Fruit/Peach"')
    assert lines(untagged) == ['* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Peach"']
    assert w.command("d", "DELETE Fruit/Peach")[1].startswith(b"d OK ")
    untagged, _ = w.command("l", 'LIST (SUBSCRIBED) "" "Fruit/Peach"')
    assert lines(untagged) == ['* LIST (\\Subscribed \\NonExistent) "/" "Fruit/Peach"']
    assert w.command("u", "UNSUBSCRIBE #news.comp.mail.mime")[1].startswith(b"u OK ")
    untagged, _ = w.command("l", 'LSUB "" "#*"')
    assert untagged == []
    # imaplib, a client that knows only LSUB, sees the same.
    m = logged_in(srv)
    typ, data = m.lsub('""', "Fruit/*")
    assert typ == "OK" and sorted(data) == [b'() "/" "Fruit/Banana"', b'() "/" "Fruit/Peach"']
    m.logout()


# ---- 5. LIST-STATUS ----

def test_list_return_status_follows_each_selectable_mailbox(srv):
    fill(srv, "INBOX", ["\\Seen", "", ""])
    w = session(srv)
    assert w.command("c", "CREATE Old/Sub")[1].startswith(b"c OK ")
    assert w.command("d", "DELETE Old")[1].startswith(b"d OK ")    # Old is \Noselect
    untagged, tagged = w.command("l", 'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))')
    assert tagged.startswith(b"l OK ")
    got = lines(untagged)
    lists = [x for x in got if x.startswith("* LIST ")]
    assert len(lists) == 8
    for i, x in enumerate(got):
        if not x.startswith("* LIST "):
            continue
        name = x.rsplit(' "/" ', 1)[1]
        if "\\Noselect" in x:
            assert name == '"Old"'
            assert i + 1 == len(got) or not got[i + 1].startswith("* STATUS "), got
        else:
            assert got[i + 1].startswith(f"* STATUS {name} ("), got
    assert got[:2] == ['* LIST (\\HasNoChildren) "/" "INBOX"',
                       '* STATUS "INBOX" (MESSAGES 3 UIDNEXT 4 UNSEEN 2)']
    assert '* STATUS "Old/Sub" (MESSAGES 0 UIDNEXT 1 UNSEEN 0)' in got
    assert len(got) == 8 + 7
    # With SUBSCRIBED: a name without a mailbox gets no STATUS.
    w.command("s", "SUBSCRIBE Nowhere")
    untagged, _ = w.command("l", 'LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES))')
    got = lines(untagged)
    k = got.index('* LIST (\\Subscribed \\NonExistent) "/" "Nowhere"')
    assert k + 1 == len(got) or not got[k + 1].startswith("* STATUS "), got
    assert '* STATUS "INBOX" (MESSAGES 3)' in got
    # The same after ENABLE IMAP4rev2 (LIST-STATUS is part of it).
    v2 = session(srv, rev2=True)
    untagged, _ = v2.command("l", 'LIST "" "INBOX" RETURN (STATUS (MESSAGES SIZE))')
    size = sum(len(message(i)) for i in range(1, 4))
    assert lines(untagged) == ['* LIST (\\HasNoChildren) "/" "INBOX"',
                               f'* STATUS "INBOX" (MESSAGES 3 SIZE {size})']


# ---- 6. APPEND into the selected mailbox ----

@pytest.mark.parametrize("rev2", [False, True])
def test_append_to_the_selected_mailbox_sends_exists_before_its_ok(srv, rev2):
    w = session(srv, rev2=rev2)
    w.command("s", "SELECT INBOX")
    untagged, tagged = append(w, "a1", "INBOX", message(1))
    assert tagged.startswith(b"a1 OK [APPENDUID ") and untagged == [b"* 1 EXISTS\r\n"]
    # Elsewhere: nothing to tell.
    untagged, tagged = append(w, "a2", "Drafts", message(2))
    assert tagged.startswith(b"a2 OK [APPENDUID ") and untagged == []
    # Mail that came meanwhile is counted in the same EXISTS.
    deliver(srv, "meanwhile")
    time.sleep(0.3)
    untagged, tagged = append(w, "a3", "inbox", message(3))
    assert untagged == [b"* 3 EXISTS\r\n"], untagged
    # No second EXISTS for the same messages later.
    time.sleep(0.3)
    assert w.command("n", "NOOP")[0] == []
    untagged, _ = w.command("f", "UID FETCH 1:* (UID)")
    assert [fetch_items(u)[1]["UID"] for u in untagged] == [b"1", b"2", b"3"]


# ---- 7. \Recent for IMAP4rev1 clients ----

def recent_count(untagged):
    (line,) = select_lines(untagged, "RECENT")
    return int(line.split()[1])


def fetch_flags(w):
    untagged, tagged = w.command("f", "FETCH 1:* (FLAGS)")
    assert tagged.startswith(b"f OK ")
    return {n: flag_set(items["FLAGS"]) for n, items in map(fetch_items, untagged)}


def test_recent_goes_to_the_first_session_that_selects_the_mailbox(srv):
    fill(srv, "INBOX", ["", "\\Seen"])
    # STATUS and EXAMINE look without taking.
    w0 = session(srv)
    assert w0.command("st", "STATUS INBOX (RECENT MESSAGES)")[0] == [
        b'* STATUS "INBOX" (MESSAGES 2 RECENT 2)\r\n']
    untagged, _ = w0.command("e", "EXAMINE INBOX")
    assert recent_count(untagged) == 2
    assert fetch_flags(w0) == {1: {"\\Recent"}, 2: {"\\Seen", "\\Recent"}}
    # The first SELECT takes them: \Recent in FLAGS, SEARCH RECENT/NEW/OLD.
    a = session(srv)
    untagged, _ = a.command("s", "SELECT INBOX")
    assert recent_count(untagged) == 2
    assert fetch_flags(a) == {1: {"\\Recent"}, 2: {"\\Seen", "\\Recent"}}
    assert a.command("q", "SEARCH RECENT")[0] == [b"* SEARCH 1 2\r\n"]
    assert a.command("q", "SEARCH NEW")[0] == [b"* SEARCH 1\r\n"]
    assert a.command("q", "SEARCH OLD")[0] == [b"* SEARCH\r\n"]
    assert a.command("q", "UID SEARCH NOT RECENT")[0] == [b"* SEARCH\r\n"]
    # A STORE's FETCH shows it too.
    untagged, _ = a.command("t", "STORE 1 +FLAGS (\\Seen)")
    assert flag_set(fetch_items(untagged[0])[1]["FLAGS"]) == {"\\Seen", "\\Recent"}
    assert a.command("q", "SEARCH NEW")[0] == [b"* SEARCH\r\n"]
    # Nobody else sees them as recent now, not even the EXAMINE session
    # nor a later one; STATUS agrees.
    b = session(srv)
    untagged, _ = b.command("s", "SELECT INBOX")
    assert recent_count(untagged) == 0
    assert fetch_flags(b) == {1: {"\\Seen"}, 2: {"\\Seen"}}
    assert b.command("q", "SEARCH OLD")[0] == [b"* SEARCH 1 2\r\n"]
    assert b.command("q", "SEARCH RECENT")[0] == [b"* SEARCH\r\n"]
    assert session(srv).command("st", "STATUS INBOX (RECENT)")[0] == [
        b'* STATUS "INBOX" (RECENT 0)\r\n']
    # The EXAMINE session keeps what it was told: 1 is still \Recent there.
    deadline = time.monotonic() + 3
    got = []
    while not got and time.monotonic() < deadline:
        got = w0.command("n", "NOOP")[0]
    assert got == [b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))\r\n"]
    # Mail arriving while a and b have the mailbox: EXISTS, no RECENT, and
    # not \Recent for them: it is the next selecting session's.
    deliver(srv, "third")
    deadline = time.monotonic() + 3
    got = []
    while b"* 3 EXISTS\r\n" not in got and time.monotonic() < deadline:
        got += a.command("n", "NOOP")[0]
    assert got == [b"* 3 EXISTS\r\n"]
    assert fetch_flags(a)[3] == set()
    c = session(srv)
    untagged, _ = c.command("s", "SELECT INBOX")
    assert recent_count(untagged) == 1
    assert fetch_flags(c) == {1: {"\\Seen"}, 2: {"\\Seen"}, 3: {"\\Recent"}}
    # A copy arrives as recent in its mailbox (RFC 3501 6.4.7).
    c.command("c", "COPY 1:2 Archive")
    untagged, _ = c.command("s", "SELECT Archive")
    assert recent_count(untagged) == 2


def test_rev2_clients_never_see_recent_and_take_none(srv):
    fill(srv, "INBOX", ["", ""])
    v2 = session(srv, rev2=True)
    untagged, _ = v2.command("s", "SELECT INBOX")
    assert select_lines(untagged, "RECENT") == []
    assert fetch_flags(v2) == {1: set(), 2: set()}
    untagged, _ = v2.command("st", "STATUS INBOX (MESSAGES RECENT)")
    assert untagged == [b'* STATUS "INBOX" (MESSAGES 2)\r\n']
    # The messages are still recent for the first IMAP4rev1 session.
    w = session(srv)
    untagged, _ = w.command("s", "SELECT INBOX")
    assert recent_count(untagged) == 2
    # imaplib (IMAP4rev1) sees the count and the flag.
    m = logged_in(srv)
    m.append("INBOX", None, None, message(3))
    typ, data = m.select("INBOX")
    assert typ == "OK" and m.untagged_responses.get("RECENT") == [b"1"]
    typ, data = m.fetch("3", "(FLAGS)")
    assert data == [b"3 (FLAGS (\\Recent))"]
    m.logout()


# ---- 8. MULTIAPPEND ----

def multiappend(w, tag, mailbox, parts):
    """APPEND mailbox with (flags, date, message) parts, non-synchronizing."""
    out = b"%s APPEND %s" % (tag.encode(), mailbox.encode())
    for flags, date, msg in parts:
        out += b" (%s)" % flags.encode()
        if date:
            out += b' "%s"' % date.encode()
        out += b" {%d+}\r\n" % len(msg) + msg
    w.send(out + b"\r\n")
    return w.until_tagged(tag)


def test_multiappend_appends_all_or_nothing(make_server):
    srv = make_server()
    configure(srv)
    srv.start()
    r = srv.cli("account", "add", "small@example.test", "--password-stdin", "--quota", "2K",
                input="small password\n")
    assert r.returncode == 0, r.stderr
    w = session(srv)
    caps = w.command("c", "CAPABILITY")[0][0].split()
    assert b"MULTIAPPEND" in caps
    untagged, tagged = multiappend(w, "a", "Drafts", [
        ("\\Seen", None, message(1)), ("\\Flagged $Later", "05-Mar-2026 10:00:00 +0100",
                                       message(2)), ("", None, message(3))])
    with index_db(srv) as db:
        (v,) = db.execute("SELECT uidvalidity FROM mailboxes WHERE name = 'Drafts'").fetchone()
    assert tagged.startswith(b"a OK [APPENDUID %d 1:3] " % v), tagged
    w.command("s", "SELECT Drafts")
    untagged, _ = w.command("f", "FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])")
    got = [fetch_items(u)[1] for u in untagged]
    # This session is the first to select Drafts: all three are \Recent.
    assert [flag_set(g["FLAGS"]) for g in got] == [
        {"\\Seen", "\\Recent"}, {"\\Flagged", "$Later", "\\Recent"}, {"\\Recent"}]
    assert got[1]["INTERNALDATE"] in (b'"05-Mar-2026 09:00:00 +0000"',
                                      b'"05-Mar-2026 10:00:00 +0100"')
    assert [g["BODY[]"].split(b"\r\n", 1)[1] for g in got] == [message(i) for i in (1, 2, 3)]
    # Into the selected mailbox: one EXISTS for both.
    untagged, tagged = multiappend(w, "b", "Drafts", [("", None, message(4)),
                                                      ("", None, message(5))])
    assert untagged == [b"* 5 EXISTS\r\n"] and tagged.startswith(b"b OK [APPENDUID %d 4:5] " % v)
    # Over the quota with the second message: neither goes in.
    s = session(srv, user="small@example.test", password="small password")
    untagged, tagged = multiappend(s, "q", "INBOX", [("", None, message(1, 1200)),
                                                     ("", None, message(2, 1200))])
    assert tagged.startswith(b"q NO [OVERQUOTA] "), tagged
    assert s.command("st", "STATUS INBOX (MESSAGES UIDNEXT)")[0] == [
        b'* STATUS "INBOX" (MESSAGES 0 UIDNEXT 1)\r\n']
    untagged, tagged = multiappend(s, "q", "INBOX", [("", None, message(1, 1200))])
    assert tagged.startswith(b"q OK [APPENDUID "), tagged
    # A mailbox that is not there: TRYCREATE, nothing stored anywhere.
    untagged, tagged = multiappend(w, "n", "Nonesuch", [("", None, message(1)),
                                                        ("", None, message(2))])
    assert tagged.startswith(b"n NO [TRYCREATE] "), tagged
    with index_db(srv) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (5,)


# ---- 9. APPENDLIMIT ----

def test_appendlimit_is_advertised_and_enforced(make_server):
    srv = make_server()
    configure(srv)
    srv.set("smtp", "max_message_size", "20000")
    srv.start()
    w = session(srv)
    caps = w.command("c", "CAPABILITY")[0][0].split()
    assert b"APPENDLIMIT=20000" in caps
    untagged, _ = w.command("st", "STATUS INBOX (MESSAGES APPENDLIMIT)")
    assert untagged == [b'* STATUS "INBOX" (MESSAGES 0 APPENDLIMIT 20000)\r\n']
    # One octet over: NO [TOOBIG] before the literal is sent.
    w.send(b"a1 APPEND INBOX {20001}\r\n")
    assert w.response().startswith(b"a1 NO [TOOBIG] ")
    # The limit itself is fine.
    cont, untagged, tagged = w.command_literal("a2", "APPEND INBOX", message(1, 20000))
    assert cont.startswith(b"+ ") and tagged.startswith(b"a2 OK [APPENDUID "), tagged
    # The second message of a MULTIAPPEND over it: refused, the first too.
    w.send(b"a3 APPEND INBOX {%d+}\r\n%s {20001}\r\n" % (len(message(2)), message(2)))
    assert w.response().startswith(b"a3 NO [TOOBIG] ")
    assert w.command("st", "STATUS INBOX (MESSAGES)")[0] == [
        b'* STATUS "INBOX" (MESSAGES 1)\r\n']
    # imaplib sees it among the capabilities after login.
    m = logged_in(srv)
    typ, data = m.capability()
    assert typ == "OK" and b"APPENDLIMIT=20000" in data[0].split()
    m.logout()
    # A non-synchronizing literal over it is on its way: the session ends.
    w.send(b"a4 APPEND INBOX {20001+}\r\n")
    assert w.response().startswith(b"* BYE [TOOBIG] ")
    assert w.at_eof()


# ---- 10. QUOTA ----

def test_quota_reports_the_accounts_storage(srv):
    r = srv.cli("account", "add", "bob@example.test", "--password-stdin", "--quota", "1M",
                input="bob's password\n")
    assert r.returncode == 0, r.stderr
    w = session(srv, user="bob@example.test", password="bob's password")
    caps = w.command("c", "CAPABILITY")[0][0].split()
    assert b"QUOTA" in caps and b"QUOTA=RES-STORAGE" in caps and b"QUOTASET" not in caps
    untagged, tagged = w.command("q", "GETQUOTAROOT INBOX")
    assert untagged == [b'* QUOTAROOT "INBOX" ""\r\n', b'* QUOTA "" (STORAGE 0 1024)\r\n']
    assert tagged.startswith(b"q OK ")
    sizes = [1500, 3000]
    for i, size in enumerate(sizes, 1):
        assert append(w, "a", "INBOX", message(i, size))[1].startswith(b"a OK ")
    kib = (sum(sizes) + 1023) // 1024
    quota_line = b'* QUOTA "" (STORAGE %d 1024)\r\n' % kib
    untagged, _ = w.command("q", "GETQUOTAROOT Archive")
    assert untagged == [b'* QUOTAROOT "Archive" ""\r\n', quota_line]
    # A copy costs nothing (the file is shared).
    w.command("s", "SELECT INBOX")
    assert w.command("c", "COPY 1:2 Archive")[1].startswith(b"c OK ")
    assert w.command("q", 'GETQUOTA ""')[0] == [quota_line]
    # Only the root "" exists, and nobody sets quotas over IMAP.
    assert w.command("q", "GETQUOTA user.bob")[1].startswith(b"q NO [NONEXISTENT] ")
    assert w.command("q", "GETQUOTAROOT nonesuch")[1].startswith(b"q NO [NONEXISTENT] ")
    untagged, tagged = w.command("q", 'SETQUOTA "" (STORAGE 10)')
    assert untagged == [] and tagged.startswith(b"q NO [NOPERM] ")
    # Past the quota: OVERQUOTA.
    untagged, tagged = append(w, "a", "INBOX", message(3, 1048576))
    assert tagged.startswith(b"a NO [OVERQUOTA] "), tagged
    # imaplib's view.
    m = logged_in(srv, "bob@example.test", "bob's password")
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK" and data == [[b'"INBOX" ""'], [b'"" (STORAGE %d 1024)' % kib]]
    m.logout()


def test_an_account_without_a_quota_has_a_root_and_no_limits(srv):
    w = session(srv, rev2=True)
    untagged, tagged = w.command("q", "GETQUOTAROOT INBOX")
    assert untagged == [b'* QUOTAROOT "INBOX" ""\r\n'] and tagged.startswith(b"q OK ")
    untagged, tagged = w.command("q", 'GETQUOTA ""')
    assert untagged == [] and tagged.startswith(b"q OK ")
