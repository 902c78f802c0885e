"""outpost's IMAP server driven by real clients and by the RFCs' own examples.

- mbsync (isync) keeps a local Maildir and the server in step, both ways:
  new mail, flags, expunges, new folders; a sync right after changes nothing.
- neomutt reads a message over IMAPS (in a pseudo-terminal from `script`, as
  it has no batch mode) and pipes or shows it.
- The example exchanges of RFC 9051 (and RFC 3501 section 8) replayed over a
  raw TLS socket, response by response, with our data put in so that the
  RFC's numbers come out where the protocol fixes them.
"""
import base64
import datetime
import imaplib
import os
import re
import shlex
import smtplib
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conftest import tls_client_context
from imapwire import ScramClient, Wire, fetch_items, flag_set

USER = "alice@example.test"
PASSWORD = "alice's client password"


@pytest.fixture
def srv(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    s.set("auth", "failure_delay", "200ms")
    return s.start()


def deliver(srv, subject, body="Hello there.\r\n", to=USER, headers=""):
    msg = (f"From: Bob <bob@remote.test>\r\nTo: {to}\r\nSubject: {subject}\r\n"
           f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '.')}"
           f"@remote.test>\r\n{headers}\r\n{body}").encode()
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=10) as c:
        c.sendmail("bob@remote.test", [to], msg)


def logged_in(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.port("imaps"), ssl_context=tls_client_context(),
                          timeout=10)
    m.login(USER, PASSWORD)
    return m


def mailboxes(m):
    typ, data = m.list('""', "*")
    assert typ == "OK"
    names = []
    for d in data:
        mm = re.match(rb'\(([^)]*)\) "/" "((?:[^"\\]|\\.)*)"$', d)
        assert mm, d
        if b"\\Noselect" not in mm.group(1):
            names.append(mm.group(2).decode())
    return sorted(names)


def mailbox_content(m, name):
    """[(uid, flags, message bytes)] of a mailbox, read without changing it."""
    typ, data = m.select(f'"{name}"', readonly=True)
    assert typ == "OK", (name, data)
    out = []
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    for d in data:
        if not isinstance(d, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", d[0]).group(1))
        flags = frozenset(re.search(rb"FLAGS \(([^)]*)\)", d[0]).group(1).decode().split())
        # \Recent belongs to the session, not to the mailbox (RFC 3501
        # 2.3.2): a look shows it until some session has selected the box.
        out.append((uid, flags - {"\\Recent"}, d[1]))
    return sorted(out)


def server_state(srv):
    """Every selectable mailbox's messages (UID, flags, bytes), its UIDVALIDITY,
    UIDNEXT and HIGHESTMODSEQ: what a sync that changes nothing must leave
    exactly as it was."""
    m = logged_in(srv)
    state = {name: mailbox_content(m, name) for name in mailboxes(m)}
    m.logout()
    acct = srv.dir / "data" / "accounts" / str(srv.account_id(USER)) / "index.db"
    with sqlite3.connect(f"file:{acct}?mode=ro", uri=True) as db:
        meta = {name: (v, n, ms) for name, v, n, ms in db.execute(
            "SELECT name, uidvalidity, uidnext, highestmodseq FROM mailboxes")}
    return state, meta


# ---------------------------------------------------------------------------
# mbsync
# ---------------------------------------------------------------------------

MBSYNC_COUNTERS = re.compile(
    r"C: (\d+)/(\d+)  B: (\d+)/(\d+)  "
    r"F: \+(\d+)/(\d+) \*(\d+)/(\d+) #(\d+)/(\d+)  "
    r"N: \+(\d+)/(\d+) \*(\d+)/(\d+) #(\d+)/(\d+)")

FLAG_LETTERS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                "T": "\\Deleted"}


class Mbsync:
    """A private mbsync: its own HOME, config and Maildir under `root`."""

    def __init__(self, srv, root: Path, tls="IMAPS", patterns="*"):
        self.home = root / "home"
        self.maildir = root / "mail"
        self.home.mkdir(parents=True)
        self.maildir.mkdir(parents=True)
        port = srv.port("imaps" if tls == "IMAPS" else "imap")
        self.conf = self.home / ".mbsyncrc"
        self.conf.write_text(f"""\
IMAPAccount outpost
Host 127.0.0.1
Port {port}
User {USER}
Pass "{PASSWORD}"
SSLType {tls}
SSLVersions TLSv1.2 TLSv1.3
CertificateFile {srv.dir / "tls" / "cert.pem"}

IMAPStore far
Account outpost

MaildirStore near
Path {self.maildir}/
Inbox {self.maildir}/INBOX
SubFolders Verbatim

Channel outpost
Far :far:
Near :near:
Patterns {patterns}
Create Both
Remove None
Expunge Both
SyncState *
Sync All
""")

    def sync(self):
        """Runs `mbsync -a` in a pseudo-terminal (it prints its counters only to
        a terminal) and returns the final counters as a dict."""
        cmd = shlex.join(["mbsync", "-c", str(self.conf), "-a"])
        r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=120,
                           env=dict(os.environ, HOME=str(self.home), TERM="dumb"))
        out = r.stdout.decode(errors="replace")
        assert r.returncode == 0, f"mbsync failed ({r.returncode}):\n{out}\n{r.stderr!r}"
        found = MBSYNC_COUNTERS.findall(out)
        assert found, f"no counters in mbsync's output:\n{out}"
        n = [int(x) for x in found[-1]]
        keys = ("channels", "channels_total", "boxes", "boxes_total",
                "far_new", "far_new_total", "far_flags", "far_flags_total",
                "far_trash", "far_trash_total",
                "near_new", "near_new_total", "near_flags", "near_flags_total",
                "near_trash", "near_trash_total")
        counters = dict(zip(keys, n))
        self.last_output = out
        return counters

    def folder(self, name):
        return self.maildir / name

    def messages(self, folder="INBOX"):
        """[(path, flags, bytes)] of a Maildir folder, sorted by content."""
        out = []
        for sub in ("new", "cur"):
            for p in (self.folder(folder) / sub).iterdir():
                info = p.name.split(":2,", 1)[1] if ":2," in p.name else ""
                flags = frozenset(FLAG_LETTERS[c] for c in info if c in FLAG_LETTERS)
                out.append((p, flags, p.read_bytes()))
        return sorted(out, key=lambda t: t[2])

    def state(self):
        """Every message file of every folder: {relative path: bytes}."""
        return {str(p.relative_to(self.maildir)): p.read_bytes()
                for p in sorted(self.maildir.rglob("*"))
                if p.is_file() and p.parent.name in ("cur", "new")}

    def find(self, needle, folder="INBOX"):
        hits = [t for t in self.messages(folder) if needle in t[2]]
        assert len(hits) == 1, (needle, [h[0].name for h in hits])
        return hits[0]

    def set_flags(self, path, letters):
        """Renames a message file to carry these Maildir flags (in cur/)."""
        base = path.name.split(":2,", 1)[0]
        new = path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(letters))}"
        path.rename(new)
        return new


def lf(b):
    return b.replace(b"\r\n", b"\n")


def without_tuid(b):
    # mbsync marks each message it copies with an X-TUID header (to find it
    # again after an interrupted run).
    return re.sub(rb"(?m)^X-TUID: [^\r\n]*\r?\n", b"", b, count=1)


def assert_nothing_changed(mb, srv, before_near, before_far, counters):
    changes = {k: v for k, v in counters.items()
               if k.startswith(("far_", "near_")) and v != 0}
    assert changes == {}, f"a second sync reported changes: {changes}\n{mb.last_output}"
    assert mb.state() == before_near
    assert server_state(srv) == before_far


def test_mbsync_copies_mail_both_ways_and_a_second_sync_changes_nothing(srv, tmp_path):
    deliver(srv, "by smtp one", body="first body\r\n")
    deliver(srv, "by smtp two", body="second body\r\n")
    m = logged_in(srv)
    appended = b"From: Carol <carol@remote.test>\r\nSubject: by append\r\n\r\nflagged one\r\n"
    assert m.append("INBOX", "(\\Flagged)", None, appended)[0] == "OK"
    archived = b"Subject: archived\r\n\r\nold and read\r\n"
    assert m.append("Archive", "(\\Seen)", None, archived)[0] == "OK"
    m.logout()

    mb = Mbsync(srv, tmp_path)
    c = mb.sync()
    assert (c["near_new"], c["far_new"], c["near_flags"], c["far_flags"]) == (4, 0, 0, 0), c

    # What the server has, byte for byte (Maildir keeps LF line ends), with
    # the flags as Maildir letters.
    server_inbox = srv.messages(USER)
    assert len(server_inbox) == 3
    local = mb.messages("INBOX")
    assert sorted(without_tuid(t[2]) for t in local) == sorted(lf(b) for b in server_inbox)
    assert mb.find(b"flagged one")[1] == {"\\Flagged"}
    assert mb.find(b"first body")[1] == set()
    assert [(t[1], without_tuid(t[2])) for t in mb.messages("Archive")] == [
        ({"\\Seen"}, lf(archived))]

    # Mail written into the Maildir goes up: into INBOX, and into a folder
    # that only exists locally (Create Both makes it on the server).
    note = (b"From: alice@example.test\nTo: bob@remote.test\nSubject: written locally\n"
            b"Message-ID: <local-1@example.test>\n\nfrom the maildir\n")
    (mb.folder("INBOX") / "new" / "1790000000.local1.testhost").write_bytes(note)
    for sub in ("cur", "new", "tmp"):
        (mb.folder("Projects") / sub).mkdir(parents=True)
    plan = b"Subject: plan\n\nstep one\n"
    (mb.folder("Projects") / "cur" / "1790000001.local2.testhost:2,S").write_bytes(plan)

    c = mb.sync()
    assert (c["near_new"], c["far_new"]) == (0, 2), c
    m = logged_in(srv)
    inbox = mailbox_content(m, "INBOX")
    assert len(inbox) == 4
    uploaded = [t for t in inbox if b"from the maildir" in t[2]]
    assert len(uploaded) == 1
    assert without_tuid(uploaded[0][2]) == note.replace(b"\n", b"\r\n")
    assert uploaded[0][1] == frozenset()
    assert "Projects" in mailboxes(m)
    projects = mailbox_content(m, "Projects")
    assert [(f, without_tuid(b)) for _, f, b in projects] == [
        (frozenset({"\\Seen"}), plan.replace(b"\n", b"\r\n"))]
    m.logout()

    before_near, before_far = mb.state(), server_state(srv)
    c = mb.sync()
    assert_nothing_changed(mb, srv, before_near, before_far, c)


@pytest.mark.parametrize("tls", ["STARTTLS", "IMAPS"])
def test_mbsync_carries_flags_and_expunges_both_ways(srv, tmp_path, tls):
    for i in range(1, 7):
        deliver(srv, f"msg {i}", body=f"body number {i}\r\n")
    mb = Mbsync(srv, tmp_path, tls=tls, patterns="INBOX")
    c = mb.sync()
    assert c["near_new"] == 6, c

    # Flags changed locally (files renamed) and on the server (STORE).
    mb.set_flags(mb.find(b"body number 1")[0], "S")
    mb.set_flags(mb.find(b"body number 2")[0], "FS")
    m = logged_in(srv)
    m.select("INBOX")
    assert m.store("3", "+FLAGS", "(\\Answered)")[0] == "OK"
    assert m.store("4", "+FLAGS", "(\\Seen \\Flagged)")[0] == "OK"
    m.logout()
    c = mb.sync()
    assert (c["far_flags"], c["near_flags"], c["far_new"], c["near_new"]) == (2, 2, 0, 0), c
    m = logged_in(srv)
    flags = {b.split(b"body number ")[1][:1].decode(): f
             for _, f, b in mailbox_content(m, "INBOX")}
    m.logout()
    assert flags == {"1": {"\\Seen"}, "2": {"\\Seen", "\\Flagged"}, "3": {"\\Answered"},
                     "4": {"\\Seen", "\\Flagged"}, "5": set(), "6": set()}
    assert mb.find(b"body number 3")[1] == {"\\Answered"}
    assert mb.find(b"body number 4")[1] == {"\\Seen", "\\Flagged"}

    # Deletions: a file removed locally, a message marked trashed locally, a
    # message expunged on the server. Expunge Both carries each across.
    mb.find(b"body number 1")[0].unlink()
    mb.set_flags(mb.find(b"body number 5")[0], "T")
    m = logged_in(srv)
    m.select("INBOX")
    typ, data = m.uid("SEARCH", "BODY", '"body number 2"')
    assert typ == "OK" and len(data[0].split()) == 1
    m.uid("STORE", data[0].decode(), "+FLAGS", "(\\Deleted)")
    assert m.expunge()[0] == "OK"
    m.logout()
    mb.sync()
    m = logged_in(srv)
    left = sorted(b.split(b"body number ")[1][:1].decode()
                  for _, _, b in mailbox_content(m, "INBOX"))
    m.logout()
    assert left == ["3", "4", "6"]
    assert sorted(without_tuid(t[2]) for t in mb.messages("INBOX")) == sorted(
        lf(b) for b in srv.messages(USER))
    assert all(b"body number 2" not in t[2] for t in mb.messages("INBOX"))

    before_near, before_far = mb.state(), server_state(srv)
    c = mb.sync()
    assert_nothing_changed(mb, srv, before_near, before_far, c)


# ---------------------------------------------------------------------------
# neomutt
# ---------------------------------------------------------------------------

MENU = ("From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\n"
        "Subject: =?UTF-8?Q?caf=C3=A9?= menu\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        "Message-ID: <menu@remote.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
        "\r\nSoup of the day: cr=C3=A8me br=C3=BBl=C3=A9e\r\nBread: sourdough\r\n")


def neomutt(srv, tmp_path, keys):
    """Runs neomutt on INBOX over IMAPS with `keys` pushed, in a pseudo-terminal
    (`script`): neomutt has no batch mode for reading mail. Returns what it
    wrote to the terminal."""
    home = tmp_path / "mutt-home"
    home.mkdir(exist_ok=True)
    rc = home / "muttrc"
    url = f"imaps://127.0.0.1:{srv.port('imaps')}/"
    rc.write_text(f"""\
set imap_user = "{USER}"
set imap_pass = "{PASSWORD}"
set folder = "{url}"
set spoolfile = "+INBOX"
set certificate_file = "{srv.dir / 'tls' / 'cert.pem'}"
set ssl_verify_host = no
set header_cache = ""
set message_cachedir = ""
set record = ""
set postponed = ""
set imap_check_subscribed = no
set mail_check_stats = no
set wait_key = no
set prompt_after = no
set pager = "cat"
set charset = "utf-8"
set quit = yes
set mark_old = no
""")
    cmd = shlex.join(["neomutt", "-n", "-F", str(rc), "-f", url + "INBOX",
                      "-e", f'push "{keys}"'])
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60,
                       env=dict(os.environ, HOME=str(home), TERM="xterm", LANG="C.UTF-8",
                                LC_ALL="C.UTF-8"))
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def test_neomutt_pipes_a_message_byte_for_byte(srv, tmp_path):
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=10) as c:
        c.sendmail("bob@remote.test", [USER], MENU.encode())
    out = tmp_path / "piped"
    neomutt(srv, tmp_path, f"<pipe-message>cat > {out}<enter><quit>")
    (stored,) = srv.messages(USER)
    assert out.read_bytes() == lf(stored)
    # Piping is not reading: the message stays unseen.
    m = logged_in(srv)
    assert mailbox_content(m, "INBOX")[0][1] == frozenset()
    m.logout()


def test_neomutt_shows_a_decoded_message_and_marks_it_seen(srv, tmp_path):
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=10) as c:
        c.sendmail("bob@remote.test", [USER], MENU.encode())
    screen = neomutt(srv, tmp_path, "<display-message><quit>")
    text = screen.decode("utf-8", errors="replace")
    assert "Subject: café menu" in text
    assert "Soup of the day: crème brûlée" in text
    assert "Bread: sourdough" in text
    m = logged_in(srv)
    assert mailbox_content(m, "INBOX")[0][1] == frozenset({"\\Seen"})
    m.logout()


# ---------------------------------------------------------------------------
# The RFCs' example exchanges, over a raw socket
# ---------------------------------------------------------------------------

SYSTEM_FLAGS = b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"


def terry_gray_header(rev):
    """The header of RFC 3501/9051 section 8's message 12: 342 octets, as the
    RFC's BODY[HEADER] {342} says."""
    h = (b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
         b"From: Terry Gray <gray@cac.washington.edu>\r\n"
         b"Subject: IMAP4rev%d WG mtg summary and minutes\r\n"
         b"To: imap@cac.washington.edu\r\n"
         b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
         b"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
         b"\r\n") % rev
    assert len(h) == 342
    return h


# Its body as BODY describes it: 3028 octets in 92 lines.
TERRY_GRAY_BODY = b"".join((b"m" * 31 if i < 84 else b"n" * 30) + b"\r\n" for i in range(92))
assert len(TERRY_GRAY_BODY) == 3028


def terry_gray_envelope(rev):
    return (b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" '
            b'"IMAP4rev%d WG mtg summary and minutes" '
            b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
            b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
            b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
            b'((NIL NIL "imap" "cac.washington.edu")) '
            b'((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) '
            b'NIL NIL "<B27397-0100000@cac.washington.edu>")') % rev


def append_all(srv, mailbox, messages, user=USER, password=PASSWORD):
    """APPENDs (flags, date-time or None, message) tuples through imaplib."""
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.port("imaps"), ssl_context=tls_client_context(),
                          timeout=10)
    m.login(user, password)
    if mailbox != "INBOX" and mailbox not in mailboxes(m):
        assert m.create(mailbox)[0] == "OK"
    for flags, date, msg in messages:
        typ, data = m.append(mailbox, flags, date, msg)
        assert typ == "OK", data
    m.logout()


def filler(i):
    return b"From: Filler <filler@remote.test>\r\nSubject: filler %d\r\n\r\nnothing here\r\n" % i


def sample_mailbox(srv, rev, user=USER, password=PASSWORD):
    """INBOX as section 8 has it: 18 messages, 12 is Terry Gray's minutes
    (\\Seen, internal date 17-Jul-1996 02:44:25 -0700), 17 is the first unseen."""
    msgs = []
    for i in range(1, 19):
        if i == 12:
            msgs.append(("(\\Seen)", '"17-Jul-1996 02:44:25 -0700"',
                         terry_gray_header(rev) + TERRY_GRAY_BODY))
        else:
            msgs.append(("(\\Seen)" if i < 17 else None, None, filler(i)))
    append_all(srv, "INBOX", msgs, user, password)


def mailbox_meta(srv, mailbox, user=USER):
    """(UIDVALIDITY, HIGHESTMODSEQ) of a mailbox, from the store."""
    acct = srv.dir / "data" / "accounts" / str(srv.account_id(user)) / "index.db"
    with sqlite3.connect(f"file:{acct}?mode=ro", uri=True) as db:
        return db.execute("SELECT uidvalidity, highestmodseq FROM mailboxes WHERE name = ?",
                          (mailbox,)).fetchone()


def uidvalidity(srv, mailbox, user=USER):
    return mailbox_meta(srv, mailbox, user)[0]


def check_select(untagged, exists, uidnext, meta, rev2=False, read_only=False, allow=(),
                 recent=0, unseen=0):
    """The untagged part of a SELECT/EXAMINE answer (RFC 9051 6.3.2, RFC 3501
    6.3.1): each required response once, nothing else but `allow` (and
    HIGHESTMODSEQ, which a CONDSTORE server sends). `meta` is the mailbox's
    (UIDVALIDITY, HIGHESTMODSEQ); an IMAP4rev1 client gets `recent` in
    RECENT and, when `unseen` is not 0, [UNSEEN unseen]. Returns the
    optional ones found, by name."""
    uidvalidity, highestmodseq = meta
    permanent = (rb"\* OK \[PERMANENTFLAGS \(\)\] .*" if read_only else
                 rb"\* OK \[PERMANENTFLAGS \(\\Answered \\Flagged \\Deleted \\Seen "
                 rb"\\Draft \\\*\)\] .*")
    kinds = {
        "EXISTS": (rb"\* %d EXISTS" % exists, True),
        "FLAGS": (re.escape(SYSTEM_FLAGS.rstrip()), True),
        "PERMANENTFLAGS": (permanent, True),
        "UIDVALIDITY": (rb"\* OK \[UIDVALIDITY %d\] .*" % uidvalidity, True),
        "UIDNEXT": (rb"\* OK \[UIDNEXT %d\] .*" % uidnext, True),
        # RFC 9051 dropped \Recent and UNSEEN; RFC 3501 has both.
        "RECENT": (rb"\* %d RECENT" % recent, not rev2),
        "UNSEEN": (rb"\* OK \[UNSEEN %s\] .*" % (b"%d" % unseen if unseen else rb"\d+"),
                   bool(unseen) and not rev2),
        "LIST": (rb"\* LIST \(.*", False),
        "CLOSED": (rb"\* OK \[CLOSED\] .*", False),
        "HIGHESTMODSEQ": (rb"\* OK \[HIGHESTMODSEQ %d\] .*" % highestmodseq, False),
    }
    found = {}
    for line in untagged:
        assert line.endswith(b"\r\n"), line
        names = [k for k, (rx, _) in kinds.items() if re.fullmatch(rx, line[:-2])]
        assert len(names) == 1, f"unexpected in the SELECT answer: {line!r}"
        assert names[0] not in found, f"{names[0]} twice: {untagged}"
        found[names[0]] = line
    for k, (_, required) in kinds.items():
        if required:
            assert k in found, f"no {k} in the SELECT answer: {untagged}"
    for k in found:
        if not kinds[k][1] and k != "HIGHESTMODSEQ":
            assert k in allow, f"{k} in the SELECT answer: {untagged}"
    return found


def internaldate(raw):
    s = raw.decode().strip('"').strip()
    return datetime.datetime.strptime(s, "%d-%b-%Y %H:%M:%S %z")


RFC_INTERNALDATE = datetime.datetime(1996, 7, 17, 2, 44, 25,
                                     tzinfo=datetime.timezone(datetime.timedelta(hours=-7)))


def check_sample_fetches(w, rev):
    """a003 FETCH FULL, a004 BODY[HEADER], a005 STORE and a006 LOGOUT of the
    section 8 sample session."""
    untagged, tagged = w.command("a003", "fetch 12 full")
    assert tagged.startswith(b"a003 OK ")
    assert len(untagged) == 1
    n, items = fetch_items(untagged[0])
    assert n == 12
    assert list(items) == ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"]
    # The IMAP4rev1 session is the first to select INBOX: \Recent (RFC 3501).
    recent = {"\\Recent"} if rev == 1 else set()
    assert flag_set(items["FLAGS"]) == {"\\Seen"} | recent
    # The same moment; a server may give it in another zone (outpost: UTC).
    assert internaldate(items["INTERNALDATE"]) == RFC_INTERNALDATE
    # The RFC's 4286 came from a longer original; ours is 342 + 3028.
    assert items["RFC822.SIZE"] == b"3370"
    assert items["ENVELOPE"] == terry_gray_envelope(rev)
    assert items["BODY"] == b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)'

    untagged, tagged = w.command("a004", "fetch 12 body[header]")
    assert tagged.startswith(b"a004 OK ")
    assert len(untagged) == 1
    n, items = fetch_items(untagged[0])
    assert n == 12
    # Section names are case-insensitive (outpost echoes the client's case).
    body = {k.upper(): v for k, v in items.items()}
    assert body.pop("BODY[HEADER]") == b"{342}\r\n" + terry_gray_header(rev)
    # FLAGS may come along although \Seen was already set.
    assert body in ({}, {"FLAGS": b"(\\Seen \\Recent)" if rev == 1 else b"(\\Seen)"}), items

    untagged, tagged = w.command("a005", "store 12 +flags \\deleted")
    assert tagged.startswith(b"a005 OK ")
    assert len(untagged) == 1
    n, items = fetch_items(untagged[0])
    assert n == 12 and list(items) == ["FLAGS"]
    assert flag_set(items["FLAGS"]) == {"\\Seen", "\\Deleted"} | recent

    untagged, tagged = w.command("a006", "logout")
    assert len(untagged) == 1 and untagged[0].startswith(b"* BYE ")
    assert tagged.startswith(b"a006 OK ")
    assert w.at_eof()


def test_rfc3501_section8_sample_session(srv):
    srv.add_account("mrc@example.test", "secret")
    sample_mailbox(srv, 1, "mrc@example.test", "secret")
    w = Wire.connect(srv)
    assert w.greeting.startswith(b"* OK ")
    untagged, tagged = w.command("a001", "login mrc@example.test secret")
    assert untagged == [] and tagged.startswith(b"a001 OK ")
    untagged, tagged = w.command("a002", "select inbox")
    assert tagged.startswith(b"a002 OK [READ-WRITE] ")
    # 18 RECENT, not the RFC's 2: no session has selected INBOX before.
    check_select(untagged, 18, 19, mailbox_meta(srv, "INBOX", "mrc@example.test"),
                 recent=18, unseen=17)
    check_sample_fetches(w, 1)


def test_rfc3501_select_reports_the_first_unseen_message(srv):
    sample_mailbox(srv, 1)
    w = Wire.connect(srv)
    w.command("a001", f'login {USER} "{PASSWORD}"')
    untagged, tagged = w.command("a002", "select inbox")
    found = check_select(untagged, 18, 19, mailbox_meta(srv, "INBOX"), allow={"UNSEEN"},
                         recent=18)
    assert re.match(rb"\* OK \[UNSEEN 17\] ", found.get("UNSEEN", b"")), untagged


def scram_authenticate(w, tag, user, password):
    """RFC 9051 section 8's A001: AUTHENTICATE SCRAM-SHA-256 with an initial
    response, the server's challenge, the proof, its signature, an empty line."""
    sc = ScramClient(user, password)
    w.send(f"{tag} AUTHENTICATE SCRAM-SHA-256 {base64.b64encode(sc.first()).decode()}\r\n")
    challenge = w.response()
    assert challenge.startswith(b"+ ") and challenge.endswith(b"\r\n"), challenge
    final = sc.final(base64.b64decode(challenge[2:-2], validate=True))
    w.send(base64.b64encode(final) + b"\r\n")
    verifier = w.response()
    assert verifier.startswith(b"+ ") and verifier.endswith(b"\r\n"), verifier
    sc.verify(base64.b64decode(verifier[2:-2], validate=True))
    w.send(b"\r\n")
    return w.until_tagged(tag)


def test_rfc9051_section8_sample_session(srv):
    sample_mailbox(srv, 2)
    w = Wire.connect(srv, "imap")
    m = re.match(rb"\* OK \[CAPABILITY ([^\]]*)\] ", w.greeting)
    assert m, w.greeting
    caps = m.group(1).split()
    assert {b"STARTTLS", b"LOGINDISABLED", b"IMAP4rev2"} <= set(caps)
    untagged, tagged = w.command("a000", "starttls")
    assert untagged == [] and tagged.startswith(b"a000 OK ")
    w.starttls(tls_client_context())
    untagged, tagged = scram_authenticate(w, "A001", USER, PASSWORD)
    assert untagged == [] and tagged.startswith(b"A001 OK "), tagged
    untagged, tagged = w.command("babc", "ENABLE IMAP4rev2")
    assert untagged == [b"* ENABLED IMAP4rev2\r\n"] and tagged.startswith(b"babc OK ")
    untagged, tagged = w.command("a002", "select inbox")
    assert tagged.startswith(b"a002 OK [READ-WRITE] ")
    check_select(untagged, 18, 19, mailbox_meta(srv, "INBOX"), rev2=True, allow={"LIST"})
    check_sample_fetches(w, 2)


def rev2_session(srv, service="imaps"):
    w = Wire.connect(srv, service)
    untagged, tagged = w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    assert tagged.startswith(b"L OK "), tagged
    untagged, tagged = w.command("E", "ENABLE IMAP4rev2")
    assert untagged == [b"* ENABLED IMAP4rev2\r\n"], untagged
    return w


def test_rfc9051_select_sends_the_mailbox_list_response(srv):
    w = rev2_session(srv)
    untagged, tagged = w.command("l", 'LIST "" INBOX')
    assert len(untagged) == 1 and untagged[0].startswith(b"* LIST ")
    listed = untagged[0]
    untagged, tagged = w.command("A142", "SELECT INBOX")
    found = check_select(untagged, 0, 1, mailbox_meta(srv, "INBOX"), rev2=True, allow={"LIST"})
    assert found.get("LIST") == listed, untagged


def plain_b64(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def test_rfc9051_capability_starttls_login_and_authenticate_examples(srv):
    srv.add_account("smith@example.test", "SESAME")
    # 6.2.1: CAPABILITY, STARTTLS, CAPABILITY again, AUTHENTICATE PLAIN.
    w = Wire.connect(srv, "imap")
    greeting_caps = re.match(rb"\* OK \[CAPABILITY ([^\]]*)\] ", w.greeting).group(1)
    untagged, tagged = w.command("a001", "CAPABILITY")
    assert tagged.startswith(b"a001 OK ")
    assert len(untagged) == 1 and untagged[0].startswith(b"* CAPABILITY ")
    before = untagged[0][len(b"* CAPABILITY "):-2].split()
    assert before == greeting_caps.split()
    assert {b"IMAP4rev2", b"IMAP4rev1", b"STARTTLS", b"LOGINDISABLED"} <= set(before)
    assert not any(c.startswith(b"AUTH=") for c in before)   # no passwords in clear
    untagged, tagged = w.command("a002", "STARTTLS")
    assert untagged == [] and tagged.startswith(b"a002 OK ")
    w.starttls(tls_client_context())
    untagged, tagged = w.command("a003", "CAPABILITY")
    after = untagged[0][len(b"* CAPABILITY "):-2].split()
    assert b"IMAP4rev2" in after and b"AUTH=PLAIN" in after
    assert b"STARTTLS" not in after and b"LOGINDISABLED" not in after
    untagged, tagged = w.command("a004", "AUTHENTICATE PLAIN " + plain_b64(USER, PASSWORD))
    assert untagged == [] and tagged.startswith(b"a004 OK "), tagged
    w.command("z", "LOGOUT")

    # 6.2.2: no initial response: an empty challenge, "+ " with its space.
    w = Wire.connect(srv)
    w.send("A01 AUTHENTICATE PLAIN\r\n")
    assert w.response() == b"+ \r\n"
    w.send(plain_b64(USER, PASSWORD) + "\r\n")
    untagged, tagged = w.until_tagged("A01")
    assert untagged == [] and tagged.startswith(b"A01 OK ")
    w.command("z", "LOGOUT")

    # 6.2.2: "*" cancels (tagged BAD), so does an invalid base64 response.
    w = Wire.connect(srv)
    w.send("A02 AUTHENTICATE PLAIN\r\n")
    assert w.response() == b"+ \r\n"
    w.send("*\r\n")
    untagged, tagged = w.until_tagged("A02")
    assert untagged == [] and tagged.startswith(b"A02 BAD "), tagged
    untagged, tagged = w.command("A03", "AUTHENTICATE PLAIN =AAA")
    assert untagged == [] and tagged.startswith(b"A03 BAD "), tagged
    # 6.2.1: STARTTLS on an implicit-TLS port is always a tagged BAD.
    untagged, tagged = w.command("A04", "STARTTLS")
    assert untagged == [] and tagged.startswith(b"A04 BAD "), tagged
    # 6.2.3: LOGIN SMITH SESAME (user names compare without case).
    untagged, tagged = w.command("a001", "LOGIN SMITH@EXAMPLE.TEST SESAME")
    assert untagged == [] and tagged.startswith(b"a001 OK "), tagged
    untagged, tagged = w.command("A023", "LOGOUT")
    assert len(untagged) == 1 and untagged[0].startswith(b"* BYE ")
    assert tagged.startswith(b"A023 OK ")
    assert w.at_eof()


def test_rfc9051_enable_example(srv):
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    untagged, tagged = w.command("t1", "CAPABILITY")
    caps = untagged
    # Only what the server supports is enabled: CONDSTORE if it says so,
    # never the unknown X-GOOD-IDEA.
    enabled = b" CONDSTORE" if b"CONDSTORE" in caps[0].split() else b""
    untagged, tagged = w.command("t2", "ENABLE CONDSTORE X-GOOD-IDEA")
    assert untagged == [b"* ENABLED%s\r\n" % enabled] and tagged.startswith(b"t2 OK ")
    untagged, tagged = w.command("t3", "CAPABILITY")
    assert untagged == caps and tagged.startswith(b"t3 OK ")
    untagged, tagged = w.command("t4", "ENABLE IMAP4rev2")
    assert untagged == [b"* ENABLED IMAP4rev2\r\n"] and tagged.startswith(b"t4 OK ")
    untagged, tagged = w.command("t5", "CAPABILITY")
    assert untagged == caps


def test_rfc9051_select_examine_close_unselect_examples(srv):
    append_all(srv, "INBOX", [(None, None, filler(i)) for i in range(1, 4)])
    append_all(srv, "blurdybloop", [(None, None, filler(i)) for i in range(1, 3)])
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    untagged, tagged = w.command("A142", "SELECT INBOX")
    assert tagged.startswith(b"A142 OK [READ-WRITE] ")
    check_select(untagged, 3, 4, mailbox_meta(srv, "INBOX"), recent=3, unseen=1)
    # Another SELECT: [CLOSED] first, as the boundary between the two.
    untagged, tagged = w.command("A143", "SELECT Drafts")
    assert tagged.startswith(b"A143 OK [READ-WRITE] ")
    assert re.match(rb"\* OK \[CLOSED\] ", untagged[0]), untagged
    check_select(untagged[1:], 0, 1, mailbox_meta(srv, "Drafts"))
    untagged, tagged = w.command("A932", "EXAMINE blurdybloop")
    assert tagged.startswith(b"A932 OK [READ-ONLY] ")
    assert re.match(rb"\* OK \[CLOSED\] ", untagged[0]), untagged
    # EXAMINE shows the recent messages without taking them.
    check_select(untagged[1:], 2, 3, mailbox_meta(srv, "blurdybloop"), read_only=True,
                 recent=2, unseen=1)
    untagged, tagged = w.command("A933", "STORE 1 +FLAGS (\\Deleted)")
    assert tagged.startswith(b"A933 NO ")
    # CLOSE after EXAMINE removes nothing.
    assert w.command("A934", "CLOSE")[1].startswith(b"A934 OK ")

    w.command("s", "SELECT INBOX")
    untagged, tagged = w.command("d", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert untagged == [] and tagged.startswith(b"d OK ")
    # UNSELECT keeps \Deleted messages; CLOSE removes them, with no EXPUNGE.
    untagged, tagged = w.command("A342", "UNSELECT")
    assert untagged == [] and tagged.startswith(b"A342 OK ")
    untagged, tagged = w.command("st", "STATUS INBOX (MESSAGES DELETED)")
    assert untagged == [b'* STATUS "INBOX" (MESSAGES 3 DELETED 1)\r\n']
    w.command("s2", "SELECT INBOX")
    untagged, tagged = w.command("A341", "CLOSE")
    assert untagged == [] and tagged.startswith(b"A341 OK ")
    untagged, tagged = w.command("st2", "STATUS INBOX (MESSAGES DELETED)")
    assert untagged == [b'* STATUS "INBOX" (MESSAGES 2 DELETED 0)\r\n']
    untagged, tagged = w.command("st3", "STATUS blurdybloop (MESSAGES)")
    assert untagged == [b'* STATUS "blurdybloop" (MESSAGES 2)\r\n']


def list_lines(w, tag, args):
    untagged, tagged = w.command(tag, f"LIST {args}")
    assert tagged.startswith(tag.encode() + b" OK "), tagged
    return [u.decode().rstrip("\r\n") for u in untagged]


DEFAULT_BOXES = [
    '* LIST (\\HasNoChildren) "/" "INBOX"',
    '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
    '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
    '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
    '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
    '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
]


def test_rfc9051_create_delete_rename_examples(srv):
    append_all(srv, "INBOX", [(None, None, filler(i)) for i in range(1, 3)])
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    # 6.3.4: a trailing delimiter declares a parent; the name has none.
    assert w.command("A003", "CREATE owatagusiam/")[1].startswith(b"A003 OK ")
    assert w.command("A004", "CREATE owatagusiam/blurdybloop")[1].startswith(b"A004 OK ")
    assert list_lines(w, "l1", '"" owatagusiam*') == [
        '* LIST (\\HasChildren) "/" "owatagusiam"',
        '* LIST (\\HasNoChildren) "/" "owatagusiam/blurdybloop"']
    assert w.command("A005", "CREATE INBOX")[1].startswith(b"A005 NO ")

    # 6.3.5: deleting a parent that has children leaves it \Noselect.
    for name in ("blurdybloop", "foo/bar"):
        assert w.command("c", f"CREATE {name}")[1].startswith(b"c OK ")
    assert list_lines(w, "A682", '"" *') == sorted(DEFAULT_BOXES + [
        '* LIST (\\HasNoChildren) "/" "blurdybloop"',
        '* LIST (\\HasChildren) "/" "foo"',
        '* LIST (\\HasNoChildren) "/" "foo/bar"',
        '* LIST (\\HasChildren) "/" "owatagusiam"',
        '* LIST (\\HasNoChildren) "/" "owatagusiam/blurdybloop"'], key=list_key)
    assert w.command("A683", "DELETE blurdybloop")[1].startswith(b"A683 OK ")
    assert w.command("A684", "DELETE foo")[1].startswith(b"A684 OK ")
    assert list_lines(w, "A686", '"" foo*') == [
        '* LIST (\\Noselect \\HasChildren) "/" "foo"',
        '* LIST (\\HasNoChildren) "/" "foo/bar"']
    assert w.command("A685", "DELETE foo/bar")[1].startswith(b"A685 OK ")
    assert list_lines(w, "A687", '"" foo*') == ['* LIST (\\Noselect \\HasNoChildren) "/" "foo"']
    assert w.command("A688", "DELETE foo")[1].startswith(b"A688 OK ")
    assert list_lines(w, "A689", '"" foo*') == []
    assert w.command("A690", "DELETE INBOX")[1].startswith(b"A690 NO ")
    assert w.command("A691", "DELETE nonesuch")[1].startswith(b"A691 NO ")

    # 6.3.6: renames carry the inferior names along; RENAME INBOX moves its
    # messages and leaves it empty.
    for name in ("blurdybloop", "foo/bar"):
        assert w.command("c", f"CREATE {name}")[1].startswith(b"c OK ")
    assert w.command("A683", "RENAME blurdybloop sarasoop")[1].startswith(b"A683 OK ")
    assert w.command("A684", "RENAME foo zowie")[1].startswith(b"A684 OK ")
    listed = list_lines(w, "A685", '"" *')
    assert [x for x in listed if re.search(r'"(sarasoop|zowie.*|foo.*|blurdybloop)"$', x)] == [
        '* LIST (\\HasNoChildren) "/" "sarasoop"',
        '* LIST (\\HasChildren) "/" "zowie"',
        '* LIST (\\HasNoChildren) "/" "zowie/bar"']
    assert w.command("Z433", "RENAME INBOX old-mail")[1].startswith(b"Z433 OK ")
    untagged, _ = w.command("s1", "STATUS INBOX (MESSAGES)")
    assert untagged == [b'* STATUS "INBOX" (MESSAGES 0)\r\n']
    untagged, _ = w.command("s2", "STATUS old-mail (MESSAGES)")
    assert untagged == [b'* STATUS "old-mail" (MESSAGES 2)\r\n']
    # 7.1: ALREADYEXISTS and NONEXISTENT.
    untagged, tagged = w.command("o356", "RENAME sarasoop zowie")
    assert tagged.startswith(b"o356 NO [ALREADYEXISTS] ")
    untagged, tagged = w.command("p", "RENAME this that")
    assert tagged.startswith(b"p NO [NONEXISTENT] ")


def list_key(line):
    # Server order: INBOX first, then by name.
    name = line.rsplit(' "/" ', 1)[1]
    return (name != '"INBOX"', name)


def test_rfc9051_delete_of_a_noselect_parent_with_children_says_haschildren(srv):
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    assert w.command("c", "CREATE foo/bar")[1].startswith(b"c OK ")
    assert w.command("A684", "DELETE foo")[1].startswith(b"A684 OK ")
    untagged, tagged = w.command("A686", "DELETE foo")
    assert untagged == [] and tagged.startswith(b"A686 NO [HASCHILDREN] "), tagged


def fruit_and_vegetables(w):
    """The hierarchy of RFC 9051 6.3.9.8's extended examples."""
    for name in ("Fruit", "Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable",
                 "Vegetable/Broccoli", "Vegetable/Corn"):
        assert w.command("c", f"CREATE {name}")[1].startswith(b"c OK ")


def test_rfc9051_list_examples(srv):
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    fruit_and_vegetables(w)
    # A101: the hierarchy delimiter and root.
    assert list_lines(w, "A101", '"" ""') == ['* LIST (\\Noselect) "/" ""']
    # Example 1: everything.
    everything = sorted(DEFAULT_BOXES + [
        '* LIST (\\HasChildren) "/" "Fruit"',
        '* LIST (\\HasNoChildren) "/" "Fruit/Apple"',
        '* LIST (\\HasNoChildren) "/" "Fruit/Banana"',
        '* LIST (\\HasNoChildren) "/" "Tofu"',
        '* LIST (\\HasChildren) "/" "Vegetable"',
        '* LIST (\\HasNoChildren) "/" "Vegetable/Broccoli"',
        '* LIST (\\HasNoChildren) "/" "Vegetable/Corn"'], key=list_key)
    assert list_lines(w, "A01", '"" "*"') == everything
    # Example 3: the top level, with CHILDREN; "%" stops at the delimiter.
    top = [x for x in everything if "/" not in x.rsplit(' "/" ', 1)[1]]
    assert list_lines(w, "A03", '() "" "%" RETURN (CHILDREN)') == top
    assert list_lines(w, "A03b", '"" %') == top
    # A reference is a context the pattern is read in.
    assert list_lines(w, "A202", 'Fruit/ %') == [
        '* LIST (\\HasNoChildren) "/" "Fruit/Apple"',
        '* LIST (\\HasNoChildren) "/" "Fruit/Banana"']
    assert list_lines(w, "A203", '"" Vegetable/%') == [
        '* LIST (\\HasNoChildren) "/" "Vegetable/Broccoli"',
        '* LIST (\\HasNoChildren) "/" "Vegetable/Corn"']
    assert list_lines(w, "A204", '"" */Corn') == ['* LIST (\\HasNoChildren) "/" "Vegetable/Corn"']
    assert list_lines(w, "A205", '"" %/%an%') == ['* LIST (\\HasNoChildren) "/" "Fruit/Banana"']
    assert list_lines(w, "A206", '"" inbox') == ['* LIST (\\HasNoChildren) "/" "INBOX"']
    # Example 9: a list of patterns.
    assert list_lines(w, "a1", '"" ("Tofu" "Fruit/*")') == [
        '* LIST (\\HasNoChildren) "/" "Fruit/Apple"',
        '* LIST (\\HasNoChildren) "/" "Fruit/Banana"',
        '* LIST (\\HasNoChildren) "/" "Tofu"']
    # No match is OK with nothing.
    assert list_lines(w, "A207", '"" Meat/*') == []
    # Example 2, without a subscribed name that does not exist (see below).
    for name in ("Fruit/Banana", "Vegetable", "Vegetable/Broccoli"):
        assert w.command("s", f"SUBSCRIBE {name}")[1].startswith(b"s OK ")
    assert w.command("u", "UNSUBSCRIBE Archive")[1].startswith(b"u OK ")
    subscribed = list_lines(w, "A02", '(SUBSCRIBED) "" "*"')
    assert [x for x in subscribed if "Fruit" in x or "Vegetable" in x or "Archive" in x] == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"',
        '* LIST (\\HasChildren \\Subscribed) "/" "Vegetable"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Vegetable/Broccoli"']


def test_rfc9051_subscribed_names_without_a_mailbox_are_listed(srv):
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    fruit_and_vegetables(w)
    assert w.command("A002", "SUBSCRIBE #news.comp.mail.mime")[1].startswith(b"A002 OK ")
    assert w.command("A003", "SUBSCRIBE Fruit/Peach")[1].startswith(b"A003 OK ")
    subscribed = list_lines(w, "A02", '(SUBSCRIBED) "" "*"')
    assert '* LIST (\\Subscribed \\NonExistent) "/" "Fruit/Peach"' in subscribed, subscribed
    assert '* LIST (\\Subscribed \\NonExistent) "/" "#news.comp.mail.mime"' in subscribed
    untagged, _ = w.command("A04", 'LSUB "" *')
    assert b'* LSUB () "/" "Fruit/Peach"\r\n' in untagged, untagged


def test_rfc9051_list_return_status_example(srv):
    append_all(srv, "INBOX", [("(\\Seen)" if i == 1 else None, None, filler(i))
                              for i in range(1, 4)])
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    untagged, tagged = w.command("A01", 'LIST "" % RETURN (STATUS (MESSAGES UNSEEN))')
    assert tagged.startswith(b"A01 OK ")
    assert untagged[:2] == [b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n',
                            b'* STATUS "INBOX" (MESSAGES 3 UNSEEN 2)\r\n'], untagged
    assert len(untagged) == 12


def test_rfc9051_namespace_and_status_examples(srv):
    append_all(srv, "blurdybloop", [("(\\Seen \\Deleted)" if i == 1 else None, None, filler(i))
                                    for i in range(1, 4)])
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    untagged, tagged = w.command("A001", "NAMESPACE")
    assert untagged == [b'* NAMESPACE (("" "/")) NIL NIL\r\n'] and tagged.startswith(b"A001 OK ")
    untagged, tagged = w.command("A042", "STATUS blurdybloop (UIDNEXT MESSAGES)")
    assert untagged == [b'* STATUS "blurdybloop" (MESSAGES 3 UIDNEXT 4)\r\n']
    assert tagged.startswith(b"A042 OK ")
    size = sum(len(filler(i)) for i in range(1, 4))
    untagged, tagged = w.command("A043", "STATUS blurdybloop (UIDVALIDITY UNSEEN DELETED SIZE)")
    assert untagged == [b'* STATUS "blurdybloop" (UIDVALIDITY %d UNSEEN 2 SIZE %d DELETED 1)\r\n'
                        % (uidvalidity(srv, "blurdybloop"), size)], untagged
    assert w.command("A044", "STATUS nonesuch (MESSAGES)")[1].startswith(b"A044 NO ")


APPEND_326 = (b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
              b"From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
              b"Subject: afternoon meeting\r\n"
              b"To: mooch@owatagu.siam.edu.example\r\n"
              b"Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
              b"MIME-Version: 1.0\r\n"
              b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
              b"\r\n"
              b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n")
APPEND_297 = (b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
              b"From: Fred Foobar <foobar@example.com>\r\n"
              b"Subject: afternoon meeting\r\n"
              b"To: mooch@example.com\r\n"
              b"Message-Id: <B27397-0100000@example.com>\r\n"
              b"MIME-Version: 1.0\r\n"
              b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
              b"\r\n"
              b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n")


def uid_set(s):
    out = []
    for part in s.split(b","):
        a, _, b = part.partition(b":")
        a, b = int(a), int(b or a)
        out.extend(range(a, b + 1) if a <= b else range(b, a + 1))
    return out


def test_rfc9051_append_and_copy_examples(srv):
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    assert w.command("c", "CREATE saved-messages")[1].startswith(b"c OK ")
    v = uidvalidity(srv, "saved-messages")
    # A synchronizing literal: "+" first, then APPENDUID.
    assert len(APPEND_326) == 326
    cont, untagged, tagged = w.command_literal("A003", "APPEND saved-messages (\\Seen)",
                                               APPEND_326)
    assert cont.startswith(b"+ ") and untagged == []
    assert tagged.startswith(b"A003 OK [APPENDUID %d 1] " % v), tagged
    # A non-synchronizing one (LITERAL+): no "+" at all.
    assert len(APPEND_297) == 297
    w.send(b"A004 APPEND saved-messages (\\Seen) {297+}\r\n" + APPEND_297 + b"\r\n")
    untagged, tagged = w.until_tagged("A004")
    assert untagged == [] and tagged.startswith(b"A004 OK [APPENDUID %d 2] " % v), tagged
    m = logged_in(srv)
    assert mailbox_content(m, "saved-messages") == [
        (1, frozenset({"\\Seen"}), APPEND_326), (2, frozenset({"\\Seen"}), APPEND_297)]
    m.logout()
    # No such mailbox: NO [TRYCREATE], for APPEND and COPY alike.
    w.send(b"A005 APPEND nonesuch {297+}\r\n" + APPEND_297 + b"\r\n")
    assert w.until_tagged("A005")[1].startswith(b"A005 NO [TRYCREATE] ")

    # COPY 2:4 with a gap in the UIDs: COPYUID pairs them in order.
    for i in range(3, 7):
        w.send(b"a APPEND saved-messages {%d+}\r\n%s\r\n" % (len(filler(i)), filler(i)))
        assert w.until_tagged("a")[1].startswith(b"a OK ")
    w.command("s", "SELECT saved-messages")
    w.command("d", "UID STORE 3 +FLAGS.SILENT (\\Deleted)")
    w.command("x", "UID EXPUNGE 3")
    assert w.command("c", "CREATE meeting")[1].startswith(b"c OK ")
    untagged, tagged = w.command("A004", "COPY 2:4 meeting")
    m = re.match(rb"A004 OK \[COPYUID (\d+) (\S+) (\S+)\] ", tagged)
    assert m, tagged
    assert int(m.group(1)) == uidvalidity(srv, "meeting")
    assert uid_set(m.group(2)) == [2, 4, 5] and uid_set(m.group(3)) == [1, 2, 3]
    # UIDs that do not exist: OK, nothing copied, no COPYUID.
    untagged, tagged = w.command("A005", "UID COPY 3 meeting")
    assert untagged == [] and re.match(rb"A005 OK (?!\[COPYUID)", tagged), tagged
    untagged, tagged = w.command("A006", "COPY 2 funny")
    assert tagged.startswith(b"A006 NO [TRYCREATE] "), tagged
    untagged, tagged = w.command("st", "STATUS meeting (MESSAGES UIDNEXT)")
    assert untagged == [b'* STATUS "meeting" (MESSAGES 3 UIDNEXT 4)\r\n']


def test_rfc9051_append_to_the_selected_mailbox_reports_exists(srv):
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    w.command("s", "SELECT INBOX")
    w.send(b"A003 APPEND INBOX {297+}\r\n" + APPEND_297 + b"\r\n")
    untagged, tagged = w.until_tagged("A003")
    assert tagged.startswith(b"A003 OK [APPENDUID ")
    assert untagged == [b"* 1 EXISTS\r\n"], untagged


def subject_of(fetch_response):
    """The subject in a FETCH response's ENVELOPE (a quoted string here)."""
    _, items = fetch_items(fetch_response)
    m = re.match(rb'\("(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"', items["ENVELOPE"])
    assert m, items["ENVELOPE"]
    return m.group(1).decode()


def idle_until(w, wanted, exists_now=None):
    """Reads what the server sends during IDLE until every line of `wanted`
    came, in order. A "+" continuation may come before or among them, and an
    EXISTS that only restates the count after an EXPUNGE (as RFC 9051's IDLE
    example shows) is allowed; anything else fails. Returns True when the "+"
    was among what was read."""
    got, plus = [], False
    while got != wanted:
        r = w.response()
        if r.startswith(b"+ "):
            assert not plus, r
            plus = True
            continue
        if exists_now is not None and r == b"* %d EXISTS\r\n" % exists_now:
            continue
        got.append(r)
        assert got == wanted[:len(got)], f"during IDLE: {got} but wanted {wanted}"
    return plus


def test_rfc9051_idle_example(srv):
    for i in range(1, 4):
        deliver(srv, f"idle {i}")
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    untagged, tagged = w.command("A001", "SELECT INBOX")
    check_select(untagged, 3, 4, mailbox_meta(srv, "INBOX"), recent=3, unseen=1)
    w.send("A002 IDLE\r\n")
    assert w.response().startswith(b"+ ")
    deliver(srv, "idle 4")                      # ...time passes; new mail arrives...
    assert w.response() == b"* 4 EXISTS\r\n"
    w.send("DONE\r\n")
    assert w.until_tagged("A002") == ([], b"A002 OK IDLE terminated\r\n")

    other = logged_in(srv)
    other.select("INBOX")
    assert other.uid("MOVE", "2", "Trash")[0] == "OK"  # ...another client expunges message 2...
    time.sleep(0.5)
    # No EXPUNGE during a FETCH: message 4 is still number 4.
    untagged, tagged = w.command("A003", "FETCH 4 ALL")
    assert tagged.startswith(b"A003 OK ")
    assert len(untagged) == 1 and untagged[0].startswith(b"* 4 FETCH ("), untagged
    assert list(fetch_items(untagged[0])[1]) == ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]
    assert subject_of(untagged[0]) == "idle 4"
    # The next IDLE reports it.
    w.send("A004 IDLE\r\n")
    plus = idle_until(w, [b"* 2 EXPUNGE\r\n"], exists_now=3)
    if not plus:
        assert w.response().startswith(b"+ ")
    assert other.uid("MOVE", "4", "Trash")[0] == "OK"  # ...expunges message 3...
    idle_until(w, [b"* 3 EXPUNGE\r\n"], exists_now=2)
    deliver(srv, "idle 5")                      # ...new mail arrives...
    idle_until(w, [b"* 3 EXISTS\r\n"])
    # A flag change during IDLE comes as a FETCH with the UID (6.3.13: MUST).
    assert other.uid("STORE", "1", "+FLAGS", "(\\Flagged)")[0] == "OK"
    r = w.response()
    n, items = fetch_items(r)
    # w was the first to select INBOX: 1 is \Recent for it.
    assert n == 1 and items.get("UID") == b"1" and flag_set(items["FLAGS"]) == {
        "\\Flagged", "\\Recent"}, r
    w.send("DONE\r\n")
    assert w.until_tagged("A004") == ([], b"A004 OK IDLE terminated\r\n")
    untagged, tagged = w.command("A005", "FETCH 3 ALL")
    assert len(untagged) == 1 and subject_of(untagged[0]) == "idle 5"
    other.logout()


def twelve(srv, flags):
    append_all(srv, "INBOX", [(flags.get(i), None, filler(i)) for i in range(1, 13)])


def test_rfc9051_store_example(srv):
    twelve(srv, {2: "(\\Seen)", 4: "(\\Flagged \\Seen)"})
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    w.command("s", "SELECT INBOX")
    untagged, tagged = w.command("A003", "STORE 2:4 +FLAGS (\\Deleted)")
    assert tagged.startswith(b"A003 OK ")
    got = [fetch_items(u) for u in untagged]
    assert [n for n, _ in got] == [2, 3, 4]
    assert all(list(items) == ["FLAGS"] for _, items in got), untagged
    # This IMAP4rev1 session is the first to select INBOX: all are \Recent.
    assert [flag_set(items["FLAGS"]) for _, items in got] == [
        {"\\Deleted", "\\Seen", "\\Recent"}, {"\\Deleted", "\\Recent"},
        {"\\Deleted", "\\Flagged", "\\Seen", "\\Recent"}]
    # 6.4.9: a UID STORE's FETCH responses carry the UID. (A new session:
    # see test_rfc9051_store_silent_sends_no_fetch_later_either.)
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    w.command("s", "SELECT INBOX")
    untagged, tagged = w.command("A004", "UID STORE 3 FLAGS (\\Answered)")
    assert len(untagged) == 1
    n, items = fetch_items(untagged[0])
    assert n == 3 and sorted(items) == ["FLAGS", "UID"] and items["UID"] == b"3"
    assert flag_set(items["FLAGS"]) == {"\\Answered"}


def test_rfc9051_store_silent_sends_no_fetch_later_either(srv):
    twelve(srv, {})
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    w.command("s", "SELECT INBOX")
    untagged, tagged = w.command("A003", "STORE 1 +FLAGS.SILENT (\\Flagged)")
    assert untagged == [] and tagged.startswith(b"A003 OK ")
    time.sleep(0.3)
    untagged, tagged = w.command("A004", "NOOP")
    assert untagged == [], untagged
    untagged, tagged = w.command("A005", "STORE 1 -FLAGS (\\Flagged)")
    assert untagged == [b"* 1 FETCH (FLAGS (\\Recent))\r\n"]   # the first to select INBOX
    time.sleep(0.3)
    untagged, tagged = w.command("A006", "NOOP")
    assert untagged == [], untagged


def test_rfc9051_expunge_example(srv):
    twelve(srv, {3: "(\\Deleted)", 4: "(\\Deleted \\Seen)", 7: "(\\Deleted)",
                 11: "(\\Deleted)"})
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    w.command("s", "SELECT INBOX")
    untagged, tagged = w.command("A202", "EXPUNGE")
    assert untagged == [b"* 3 EXPUNGE\r\n", b"* 3 EXPUNGE\r\n", b"* 5 EXPUNGE\r\n",
                        b"* 8 EXPUNGE\r\n"]
    assert tagged.startswith(b"A202 OK ")
    untagged, tagged = w.command("A203", "UID SEARCH ALL")
    assert untagged == [b"* SEARCH 1 2 5 6 8 9 10 12\r\n"]


def test_rfc9051_fetch_examples(srv):
    msgs = []
    for i in range(1, 6):
        msgs.append((None, None, b"Date: Mon, %d Feb 1994 21:52:25 -0800\r\nFrom: Fred Foobar "
                     b"<foobar@example.com>\r\nSubject: %d\r\nTo: mooch@example.com\r\n\r\n"
                     b"hello\r\n" % (i, i)))
    big = b"Subject: big\r\n\r\n" + b"x" * (1500 - 18) + b"\r\n"
    assert len(big) == 1500
    msgs.append((None, None, big))
    append_all(srv, "INBOX", msgs)
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    w.command("s", "SELECT INBOX")
    # 6.4.5: BODY[]<0.2048> of a 1500-octet message is BODY[]<0>, 1500 octets.
    untagged, tagged = w.command("A1", "FETCH 6 BODY.PEEK[]<0.2048>")
    assert untagged == [b"* 6 FETCH (BODY[]<0> {1500}\r\n" + big + b")\r\n"]
    untagged, tagged = w.command("A2", "FETCH 6 BODY.PEEK[]<1490.20>")
    assert untagged == [b"* 6 FETCH (BODY[]<1490> {10}\r\n" + big[1490:] + b")\r\n"]
    # Starting past the end: an empty string.
    untagged, tagged = w.command("A3", "FETCH 6 BODY.PEEK[]<2000.10>")
    assert len(untagged) == 1
    _, items = fetch_items(untagged[0])
    assert items in ({"BODY[]<2000>": b'""'}, {"BODY[]<2000>": b"{0}\r\n"}), untagged
    # A654: FLAGS and two header fields of 2:4; BODY[...] sets \Seen, and the
    # flags returned show it.
    untagged, tagged = w.command("A654", "FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")
    assert tagged.startswith(b"A654 OK ")
    got = [fetch_items(u) for u in untagged]
    assert [n for n, _ in got] == [2, 3, 4], untagged
    for n, items in got:
        assert len(items) == 2
        assert flag_set(items["FLAGS"]) == {"\\Seen", "\\Recent"}   # first to select INBOX
        (section,) = [k for k in items if k != "FLAGS"]
        # Field names are astrings: outpost quotes them ("DATE" "FROM").
        assert re.fullmatch(r'BODY\[HEADER\.FIELDS \("?DATE"? "?FROM"?\)\]', section), section
        hdr = (b"Date: Mon, %d Feb 1994 21:52:25 -0800\r\n"
               b"From: Fred Foobar <foobar@example.com>\r\n\r\n" % n)
        assert items[section] == b"{%d}\r\n" % len(hdr) + hdr


def test_rfc9051_uid_command_examples(srv):
    twelve(srv, {1: "(\\Seen)", 5: "(\\Seen)", 8: "(\\Seen)"})
    m = logged_in(srv)
    m.select("INBOX")
    for uid in (3, 4, 7, 11):
        m.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
    m.expunge()                                   # UIDs left: 1 2 5 6 8 9 10 12
    for uid in (5, 6, 8, 12):
        m.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
    m.logout()
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    w.command("s", "SELECT INBOX")
    # A999 UID FETCH: sequence numbers before "FETCH", UIDs in the data.
    untagged, tagged = w.command("A999", "UID FETCH 4:9 FLAGS")
    assert tagged.startswith(b"A999 OK ")
    got = [fetch_items(u) for u in untagged]
    assert [(n, items["UID"], flag_set(items["FLAGS"])) for n, items in got] == [
        (3, b"5", {"\\Seen", "\\Deleted"}), (4, b"6", {"\\Deleted"}),
        (5, b"8", {"\\Deleted", "\\Seen"}), (6, b"9", set())]
    assert all(sorted(items) == ["FLAGS", "UID"] for _, items in got)
    # Non-existent UIDs are ignored; 559:* always includes the last message.
    assert w.command("A1000", "UID FETCH 100:200 FLAGS")[0] == []
    untagged, _ = w.command("A1001", "UID FETCH 559:* (UID)")
    assert untagged == [b"* 8 FETCH (UID 12)\r\n"]
    # A003 UID EXPUNGE: only \Deleted messages in the set (UID 12 stays).
    untagged, tagged = w.command("A003", "UID EXPUNGE 5:8")
    assert untagged == [b"* 3 EXPUNGE\r\n"] * 3 and tagged.startswith(b"A003 OK ")
    untagged, _ = w.command("A004", "UID SEARCH DELETED")
    assert untagged == [b"* SEARCH 12\r\n"]
    # UID MOVE: COPYUID in an untagged OK before the EXPUNGEs (6.4.8).
    assert w.command("c", "CREATE foo")[1].startswith(b"c OK ")
    untagged, tagged = w.command("a", "UID MOVE 9:10 foo")
    assert untagged == [b"* OK [COPYUID %d 9:10 1:2] " % uidvalidity(srv, "foo")
                        + untagged[0].split(b"] ", 1)[1],
                        b"* 3 EXPUNGE\r\n", b"* 3 EXPUNGE\r\n"], untagged
    assert tagged.startswith(b"a OK ")
    untagged, _ = w.command("A005", "UID SEARCH ALL")
    assert untagged == [b"* SEARCH 1 2 12\r\n"]


def search_mailbox(srv):
    """Twelve messages for the SEARCH examples: FLAGGED SINCE 1-Feb-1994 NOT
    FROM "Smith" is 2, 10 and 11 (5 is Smith's, 7 is from 1990); 4 is the
    first unseen; 6 and 8 are deleted; 12 says "отпуск"."""
    msgs = []
    for i in range(1, 13):
        frm = b"Smith <smith@remote.test>" if i == 5 else b"Jones <jones@remote.test>"
        body = b"nothing here\r\n"
        ctype = b""
        if i == 12:
            body = "В отпуске до понедельника\r\n".encode()
            ctype = (b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     b"Content-Transfer-Encoding: 8bit\r\n")
        msg = b"From: %s\r\nSubject: note %d\r\n%s\r\n%s" % (frm, i, ctype, body)
        flags = {2: "(\\Flagged \\Seen)", 5: "(\\Flagged)", 6: "(\\Deleted \\Seen)",
                 7: "(\\Flagged)", 8: "(\\Deleted \\Seen)", 10: "(\\Flagged \\Seen)",
                 11: "(\\Flagged)"}.get(i, None if i == 4 else "(\\Seen)")
        date = '"01-Jan-1990 12:00:00 +0000"' if i == 7 else None
        msgs.append((flags, date, msg))
    append_all(srv, "INBOX", msgs)


OTPUSK = "отпуск".encode()


def test_rfc9051_search_examples(srv):
    search_mailbox(srv)
    w = rev2_session(srv)
    w.command("s", "SELECT INBOX")
    untagged, tagged = w.command(
        "A282", 'SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"')
    assert untagged == [b'* ESEARCH (TAG "A282") MIN 2 COUNT 3\r\n']
    assert tagged.startswith(b"A282 OK ")
    untagged, tagged = w.command(
        "A283", 'SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"')
    assert untagged == [b'* ESEARCH (TAG "A283") ALL 2,10:11\r\n']
    untagged, tagged = w.command("A284", 'SEARCH TEXT "string not in mailbox"')
    assert untagged == [b'* ESEARCH (TAG "A284")\r\n'] and tagged.startswith(b"A284 OK ")
    cont, untagged, tagged = w.command_literal("A285", "SEARCH CHARSET UTF-8 TEXT", OTPUSK)
    assert len(OTPUSK) == 12 and cont.startswith(b"+ ")
    assert untagged == [b'* ESEARCH (TAG "A285") ALL 12\r\n'] and tagged.startswith(b"A285 OK ")
    untagged, tagged = w.command("A286", "SEARCH RETURN (MIN) UNSEEN")
    assert untagged == [b'* ESEARCH (TAG "A286") MIN 4\r\n']
    untagged, tagged = w.command("A287", "UID SEARCH RETURN (MIN MAX) 1:5000")
    assert untagged == [b'* ESEARCH (TAG "A287") UID MIN 1 MAX 12\r\n']
    untagged, tagged = w.command("A288", "SEARCH RETURN (COUNT) DELETED")
    assert untagged == [b'* ESEARCH (TAG "A288") COUNT 2\r\n']
    # A charset we do not know: NO [BADCHARSET], not BAD.
    untagged, tagged = w.command("A289", "SEARCH CHARSET KOI8-Q TEXT xxxx")
    assert tagged.startswith(b"A289 NO [BADCHARSET"), tagged


def test_rfc3501_search_examples(srv):
    search_mailbox(srv)
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    w.command("s", "SELECT INBOX")
    untagged, tagged = w.command("A282", 'SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"')
    assert untagged == [b"* SEARCH 2 10 11\r\n"] and tagged.startswith(b"A282 OK ")
    untagged, tagged = w.command("A283", 'SEARCH TEXT "string not in mailbox"')
    assert untagged == [b"* SEARCH\r\n"] and tagged.startswith(b"A283 OK ")
    cont, untagged, tagged = w.command_literal("A284", "SEARCH CHARSET UTF-8 TEXT", OTPUSK)
    assert cont.startswith(b"+ ")
    assert untagged == [b"* SEARCH 12\r\n"] and tagged.startswith(b"A284 OK ")
    untagged, tagged = w.command("A285", "UID SEARCH UNSEEN")
    assert untagged == [b"* SEARCH 4 5 7 11\r\n"]


def test_rfc9051_search_save_example(srv):
    search_mailbox(srv)
    w = rev2_session(srv)
    w.command("s", "SELECT INBOX")
    untagged, tagged = w.command(
        "A282", 'SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"')
    assert untagged == [] and tagged.startswith(b"A282 OK "), tagged
    untagged, tagged = w.command("A283", "FETCH $ (UID)")
    assert untagged == [b"* 2 FETCH (UID 2)\r\n", b"* 10 FETCH (UID 10)\r\n",
                        b"* 11 FETCH (UID 11)\r\n"], untagged


def test_rfc9051_noop_example(srv):
    for i in range(1, 5):
        deliver(srv, f"noop {i}")
    w = Wire.connect(srv)
    w.command("L", f'LOGIN {USER} "{PASSWORD}"')
    w.command("s", "SELECT INBOX")
    untagged, tagged = w.command("a002", "NOOP")
    assert untagged == [] and tagged.startswith(b"a002 OK ")
    # Another client expunges one message and changes another's flags; new
    # mail arrives. NOOP reports each once, and they add up.
    other = logged_in(srv)
    other.select("INBOX")
    assert other.uid("MOVE", "1", "Trash")[0] == "OK"
    assert other.uid("STORE", "3", "+FLAGS", "(\\Seen \\Deleted)")[0] == "OK"
    other.logout()
    deliver(srv, "noop 5")
    view = [1, 2, 3, 4]
    seen = {"EXPUNGE": 0, "EXISTS": 0, "FETCH": 0}
    deadline = time.monotonic() + 3
    while seen != {"EXPUNGE": 1, "EXISTS": 1, "FETCH": 1} and time.monotonic() < deadline:
        untagged, tagged = w.command("a047", "NOOP")
        assert tagged.startswith(b"a047 OK ")
        for r in untagged:
            if m := re.fullmatch(rb"\* (\d+) EXPUNGE\r\n", r):
                seen["EXPUNGE"] += 1
                assert view[int(m.group(1)) - 1] == 1, (r, view)
                del view[int(m.group(1)) - 1]
            elif m := re.fullmatch(rb"\* (\d+) EXISTS\r\n", r):
                seen["EXISTS"] += 1
                assert int(m.group(1)) == len(view) + 1, (r, view)
                view.append(5)
            else:
                seen["FETCH"] += 1
                n, items = fetch_items(r)
                assert view[n - 1] == 3, (r, view)
                assert items.get("UID", b"3") == b"3"
                # w was the first to select INBOX: 3 is \Recent for it.
                assert flag_set(items["FLAGS"]) == {"\\Seen", "\\Deleted", "\\Recent"}, r
        time.sleep(0.1)
    assert seen == {"EXPUNGE": 1, "EXISTS": 1, "FETCH": 1}, seen
    assert view == [2, 3, 4, 5]
    untagged, tagged = w.command("a048", "NOOP")
    assert untagged == []
