"""IMAP SORT and THREAD (RFC 5256, DISPLAYFROM/DISPLAYTO of RFC 5957) with
Python's imaplib, against the real server. Messages go in with APPEND, so
their bytes (hence sizes) and INTERNALDATEs are exactly what the test says;
every expected order is worked out by hand in the comments."""
import imaplib
import smtplib

import pytest

from conftest import tls_client_context

USER = "carol@example.test"
PASSWORD = "carol's sorting password"


@pytest.fixture
def srv(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    return s.start()


def logged_in(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.port("imaps"), ssl_context=tls_client_context(),
                          timeout=10)
    m.login(USER, PASSWORD)
    return m


def message(fields, size=None):
    """A message from header lines; padded with body text to `size` bytes."""
    head = "".join(f"{f}\r\n" for f in fields).encode() + b"\r\n"
    body = b"text\r\n"
    if size is not None:
        pad = size - len(head) - len(body)
        assert pad >= 0
        body = b"x" * pad + body
    return head + body


def append(m, mailbox, internal, fields, size=None):
    typ, data = m.append(mailbox, None, f'"{internal} +0000"', message(fields, size))
    assert typ == "OK", data


def test_capabilities_offer_sort_and_both_thread_algorithms(srv):
    m = logged_in(srv)
    typ, data = m.capability()
    caps = data[0].split()
    assert b"SORT" in caps and b"THREAD=ORDEREDSUBJECT" in caps and b"THREAD=REFERENCES" in caps
    m.logout()


# Five messages (UIDs 1..5):
#       INTERNALDATE  size  sent date (UTC)        base subject  from   to (display)  cc
#   1   05-Jan-2023   3000  2023-01-02 10:00       banana        zed    bob           -
#   2   01-Jan-2020   1000  (none: 2020-01-01)     apple         alice  carol (Zoe)   -
#   3   07-Jan-2023   2000  2023-01-02 09:00       Cherry        Bob    group         dave
#   4   05-Jan-2023   2000  (bad: 2023-01-05)      APPLE         emile  alice         carl
#   5   03-Jan-2023   4000  2023-01-02 04:00       ""            -      -             -
SORT_MESSAGES = [
    ("05-Jan-2023 00:00:00", 3000,
     ["Date: Mon, 02 Jan 2023 10:00:00 +0000", "Subject: Re: banana",
      "From: Zed <zed@x.test>", "To: bob@y.test"]),
    ("01-Jan-2020 00:00:00", 1000,
     ["Subject: apple", "From: alice@x.test", "To: Zoe <carol@z.test>"]),
    ("07-Jan-2023 00:00:00", 2000,
     ["Date: Mon, 02 Jan 2023 11:00:00 +0200", "Subject: [list] Cherry",
      'From: "Bob" <Bob@x.test>', "To: Undisclosed:;", "Cc: dave@w.test"]),
    ("05-Jan-2023 00:00:00", 2000,
     ["Date: garbage", "Subject: APPLE", "From: =?UTF-8?Q?=C3=89mile?= <emile@x.test>",
      "To: alice@y.test", "Cc: Carl <carl@w.test>"]),
    ("03-Jan-2023 00:00:00", 4000,
     ["Date: Sun, 01 Jan 2023 23:00:00 -0500"]),
]


def sort(m, criteria, *search, charset="UTF-8", uid=False):
    if uid:
        typ, data = m.uid("SORT", criteria, charset, *(search or ("ALL",)))
    else:
        typ, data = m.sort(criteria, charset, *(search or ("ALL",)))
    assert typ == "OK", data
    assert len(data) == 1, data
    return (data[0] or b"").decode()


def test_sort_by_every_key(srv):
    m = logged_in(srv)
    for internal, size, fields in SORT_MESSAGES:
        append(m, "INBOX", internal, fields, size)
    m.select("INBOX")
    # Ties (1 and 4 arrived at once) go by sequence number, REVERSE or not.
    assert sort(m, "(ARRIVAL)") == "2 5 1 4 3"
    assert sort(m, "(REVERSE ARRIVAL)") == "3 1 4 5 2"
    assert sort(m, "(SIZE)") == "2 3 4 1 5"
    assert sort(m, "(REVERSE SIZE)") == "5 1 3 4 2"
    # No Date, or one that does not parse: the INTERNALDATE. Zones count.
    assert sort(m, "(DATE)") == "2 5 3 1 4"
    assert sort(m, "(REVERSE DATE)") == "4 1 3 5 2"
    # "" < APPLE = apple < BANANA < CHERRY: Re: and [list] are not counted.
    assert sort(m, "(SUBJECT)") == "5 2 4 1 3"
    assert sort(m, "(SUBJECT REVERSE ARRIVAL)") == "5 4 2 1 3"
    # The local part of the first address (a group's name).
    assert sort(m, "(FROM)") == "5 2 3 4 1"
    assert sort(m, "(TO)") == "5 4 1 2 3"
    assert sort(m, "(CC)") == "1 2 5 4 3"
    assert sort(m, "(REVERSE CC SUBJECT)") == "3 4 5 2 1"
    # The display name, decoded, else the address: "", alice@x.test, Bob,
    # Zed, then the 8-bit "\u00c9mile".
    assert sort(m, "(DISPLAYFROM)") == "5 2 3 1 4"
    assert sort(m, "(DISPLAYTO)") == "5 4 1 3 2"
    # The search program picks the messages; US-ASCII is fine too.
    assert sort(m, "(SIZE)", "FROM", "x.test") == "2 3 4 1"
    assert sort(m, "(DATE)", "NOT", "SUBJECT", "apple", charset="US-ASCII") == "5 3 1"
    assert sort(m, "(DATE)", "SUBJECT", "nothing-like-this") == ""
    # UID SORT answers UIDs, SORT sequence numbers: after 2 goes, UIDs
    # 1 3 4 5 are MSNs 1 2 3 4.
    m.store("2", "+FLAGS", "(\\Deleted)")
    m.expunge()
    assert sort(m, "(SUBJECT)", uid=True) == "5 4 1 3"
    assert sort(m, "(SUBJECT)") == "4 3 1 2"
    assert sort(m, "(REVERSE SIZE)", "UID", "3:5", uid=True) == "5 3 4"
    m.logout()


def test_sort_refuses_what_it_cannot_do(srv):
    m = logged_in(srv)
    m.select("INBOX")
    assert sort(m, "(DATE)") == ""  # an empty mailbox
    # imaplib raises for BAD only; NO comes back as the result.
    typ, data = m.sort("(DATE)", "ISO-8859-1", "ALL")
    assert typ == "NO" and data[0].startswith(b"[BADCHARSET (UTF-8 US-ASCII)]"), data
    typ, data = m.thread("REFERENCES", "KOI8-R", "ALL")
    assert typ == "NO" and data[0].startswith(b"[BADCHARSET (UTF-8 US-ASCII)]"), data
    with pytest.raises(imaplib.IMAP4.error, match="Invalid sort criteria"):
        m.sort("(WEIGHT)", "UTF-8", "ALL")
    with pytest.raises(imaplib.IMAP4.error, match="Unknown threading algorithm"):
        m.thread("BY-MOOD", "UTF-8", "ALL")
    m.logout()


# Nine messages for THREAD, in a mailbox of their own (UIDs 1..9):
#   1 <1@t> "hello";  2, 3, 4 reply to it (3 through 2; 4 by In-Reply-To)
#   5 <5@t> "Re: other", whose parent is lost; 6 <6@t> "other", later
#   7 <a@t> and 8 <b@t> reference each other (a loop)
#   9 no Message-ID, no Date: its INTERNALDATE (2020) makes it the oldest
THREAD_MESSAGES = [
    ["Message-ID: <1@t>", "Subject: hello"],
    ["Message-ID: <2@t>", "References: <1@t>", "Subject: Re: hello"],
    ["Message-ID: <3@t>", "References: <1@t> <2@t>", "Subject: Re: hello"],
    ["Message-ID: <4@t>", "In-Reply-To: <1@t>", "Subject: Re: hello"],
    ["Message-ID: <5@t>", "References: <lost@t>", "Subject: Re: other"],
    ["Message-ID: <6@t>", "Subject: other"],
    ["Message-ID: <a@t>", "References: <b@t>", "Subject: loop a"],
    ["Message-ID: <b@t>", "References: <a@t>", "Subject: loop b"],
    ["Subject: solo"],
]


def thread(m, algorithm, *search, uid=False):
    if uid:
        typ, data = m.uid("THREAD", algorithm, "UTF-8", *(search or ("ALL",)))
    else:
        typ, data = m.thread(algorithm, "UTF-8", *(search or ("ALL",)))
    assert typ == "OK", data
    assert len(data) == 1, data
    return (data[0] or b"").decode()


def test_thread_references_and_orderedsubject(srv):
    m = logged_in(srv)
    assert m.create("Lists")[0] == "OK"
    for i, fields in enumerate(THREAD_MESSAGES, 1):
        if i < 9:
            fields = [f"Date: {i} Jan 2023 12:00:00 +0000"] + fields
        append(m, "Lists", "01-Jan-2020 00:00:00", fields)
    m.select("Lists")
    # 1 has 2 (with 3 below) and 4; 5 lost its parent and, a reply to
    # "other", goes under 6 (step 5); 8 cannot go under 7, its own child;
    # the top level by sent date.
    assert thread(m, "REFERENCES") == "(9)(1 (2 3)(4))(6 5)(8 7)"
    # By base subject, each thread's first message the parent of the rest.
    assert thread(m, "ORDEREDSUBJECT") == "(9)(1 (2)(3)(4))(5 6)(7)(8)"
    # Without 2, 3's References still put it below 1 (through a dummy
    # that gives way).
    assert thread(m, "REFERENCES", "NOT", "UID", "2", "NOT", "SUBJECT", "loop") == \
        "(9)(1 (3)(4))(6 5)"
    assert thread(m, "REFERENCES", "SUBJECT", "nothing-like-this") == ""
    # After 7 goes, 8's parent is missing; sequence numbers shift for 8, 9.
    m.store("7", "+FLAGS", "(\\Deleted)")
    m.expunge()
    assert thread(m, "REFERENCES", uid=True) == "(9)(1 (2 3)(4))(6 5)(8)"
    assert thread(m, "REFERENCES") == "(8)(1 (2 3)(4))(6 5)(7)"
    assert thread(m, "ORDEREDSUBJECT", uid=True) == "(9)(1 (2)(3)(4))(5 6)(8)"
    m.logout()


def test_sort_of_delivered_mail_and_a_big_mailbox(srv):
    """Mail delivered by SMTP (Received: and Return-Path: added in front)
    sorts by its own header fields; a few hundred messages take no time."""
    subjects = ["delta", "Re: alpha", "charlie", "[x] bravo"]
    for i, s in enumerate(subjects):
        msg = (f"From: Sender{i} <s{i}@remote.test>\r\nTo: {USER}\r\nSubject: {s}\r\n"
               f"Date: Tue, {10 - i} Jan 2023 10:00:00 +0000\r\n"
               f"Message-ID: <d{i}@remote.test>\r\n\r\nbody\r\n").encode()
        with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=10) as c:
            c.sendmail(f"s{i}@remote.test", [USER], msg)
    m = logged_in(srv)
    for i in range(300):
        append(m, "Archive", "01-Jan-2023 00:00:00",
               [f"Subject: item {i % 7}", f"Date: {1 + i % 28} Feb 2023 10:00:00 +0000",
                f"Message-ID: <i{i}@t>", f"References: <i{i // 2}@t>" if i else "X: y"])
    m.select("INBOX")
    assert sort(m, "(SUBJECT)") == "2 4 3 1"      # alpha bravo charlie delta
    assert sort(m, "(DATE)") == "4 3 2 1"         # Jan 7, 8, 9, 10
    assert sort(m, "(DISPLAYFROM)") == "1 2 3 4"  # Sender0 .. Sender3
    m.select("Archive")
    got = sort(m, "(SUBJECT DATE)").split()
    assert len(got) == 300 and sorted(got, key=int) == [str(i) for i in range(1, 301)]
    # Message i (MSN i + 1) is "item i%7", sent on Feb 1 + i%28: by
    # subject, then date, then MSN.
    want = sorted(range(300), key=lambda i: (i % 7, i % 28, i))
    assert got == [str(i + 1) for i in want]
    # i's parent is i // 2: one tree below message 0, each set of siblings
    # by sent date, then MSN.
    def members(i):
        kids = [j for j in (2 * i, 2 * i + 1) if 0 < j < 300 and j != i]
        kids.sort(key=lambda j: (j % 28, j))
        out = str(i + 1)
        if len(kids) == 1:
            out += " " + members(kids[0])
        elif kids:
            out += " " + "".join(f"({members(k)})" for k in kids)
        return out
    assert thread(m, "REFERENCES") == f"({members(0)})"
    m.logout()
