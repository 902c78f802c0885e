"""CONDSTORE and QRESYNC (RFC 7162) against the real server, over a raw
connection: imaplib knows neither, and these tests need every response as
sent. The RFC's example exchanges are adapted to our data (our MODSEQs and
UIDs are small numbers).

A session hears of its own flag changes again through the store's events,
as an unsolicited FETCH in a later command; the assertions allow for those
(the command's own answers come last, or are told apart by their form)."""
import re
import socket
import time

import pytest

from conftest import tls_client_context

USER = "carol@example.test"
PASSWORD = "carol's imap password"


@pytest.fixture
def srv(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    return s.start()


class Client:
    """One IMAP session: cmd() sends a command and returns its untagged
    responses (literals inlined) and its tagged reply, as str."""

    def __init__(self, srv):
        sock = socket.create_connection(("127.0.0.1", srv.port("imaps")), timeout=10)
        self.sock = tls_client_context().wrap_socket(sock)
        self.f = self.sock.makefile("rb")
        self.n = 0
        assert self.f.readline().startswith(b"* OK")
        _, ok = self.cmd(f'LOGIN "{USER}" "{PASSWORD}"')
        assert ok.startswith("OK "), ok

    def line(self):
        raw = self.f.readline()
        assert raw.endswith(b"\r\n"), raw
        while (m := re.search(rb"\{(\d+)\}\r\n$", raw)):
            raw = raw[:m.start()] + self.f.read(int(m.group(1))) + self.f.readline()
        return raw[:-2].decode()

    def send(self, text):
        self.n += 1
        tag = f"t{self.n}"
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        return tag

    def until_tagged(self, tag):
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                return untagged, line[len(tag) + 1:]
            untagged.append(line)

    def cmd(self, text):
        return self.until_tagged(self.send(text))

    def ok(self, text):
        untagged, tagged = self.cmd(text)
        assert tagged.startswith("OK"), (text, untagged, tagged)
        return untagged, tagged

    def append(self, subject, flags="", mailbox="INBOX"):
        msg = f"From: bob@remote.test\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n".encode()
        tag = self.send(f"APPEND {mailbox} ({flags}) {{{len(msg)}+}}")
        self.sock.sendall(msg + b"\r\n")
        untagged, tagged = self.until_tagged(tag)
        assert tagged.startswith("OK"), tagged
        self.appended = untagged   # EXISTS, into the selected mailbox
        return int(re.search(r"APPENDUID \d+ (\d+)", tagged).group(1))

    def poll(self, pred, timeout=3):
        """NOOPs until pred(all untagged responses so far) holds; returns them."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got += self.ok("NOOP")[0]
            if pred(got):
                return got
            time.sleep(0.05)
        raise AssertionError(f"not seen: {got}")

    def close(self):
        self.cmd("LOGOUT")
        self.sock.close()


def code(lines, name):
    """The value of a response code among untagged OKs: "[NAME value]"."""
    for line in lines:
        m = re.match(rf"\* OK \[{name} ([^\]]*)\]", line)
        if m:
            return m.group(1)
    return None


def fetches(lines):
    """{uid: (msn, items)} of the FETCH responses, items as one string."""
    out = {}
    for line in lines:
        m = re.match(r"\* (\d+) FETCH \((.*)\)$", line)
        if m:
            uid = re.search(r"\bUID (\d+)", m.group(2))
            out[int(uid.group(1)) if uid else -int(m.group(1))] = (int(m.group(1)), m.group(2))
    return out


def matching(lines, pattern):
    """The lines that match a regular expression from their start."""
    return [line for line in lines if re.match(pattern, line)]


def modseq_of(items):
    return int(re.search(r"MODSEQ \((\d+)\)", items).group(1))


def uid_set(text):
    """"3:4,7" -> {3, 4, 7}"""
    out = set()
    for part in text.split(","):
        a, _, b = part.partition(":")
        out.update(range(int(a), int(b or a) + 1))
    return out


def vanished(lines, earlier):
    prefix = "* VANISHED (EARLIER) " if earlier else "* VANISHED "
    out = set()
    for line in lines:
        if line.startswith(prefix) and (earlier or not line.startswith("* VANISHED (")):
            out |= uid_set(line[len(prefix):])
    return out


def test_capabilities_and_enable(srv):
    c = Client(srv)
    caps = c.ok("CAPABILITY")[0][0].split()
    assert "CONDSTORE" in caps and "QRESYNC" in caps
    assert c.ok("ENABLE CONDSTORE")[0] == ["* ENABLED CONDSTORE"]
    # QRESYNC implies CONDSTORE; only what is new is listed.
    assert c.ok("ENABLE QRESYNC CONDSTORE")[0] == ["* ENABLED QRESYNC"]
    c.close()


def test_a_rev1_client_that_enables_nothing_sees_no_modseq(srv):
    a, b = Client(srv), Client(srv)
    for i in range(3):
        a.append(f"m{i}")
    untagged, _ = a.ok("SELECT INBOX")
    # RFC 7162 §3.1.2.1 asks for HIGHESTMODSEQ on every SELECT; a client
    # that does not know the code ignores it. Nothing else changes.
    assert code(untagged, "HIGHESTMODSEQ")
    b.ok("SELECT INBOX")
    seen = []
    seen += a.ok("FETCH 1:* (FLAGS)")[0]
    untagged, _ = a.ok("STORE 1 +FLAGS (\\Seen)")
    seen += untagged
    # a is the first to select INBOX: its messages are \Recent for it.
    assert untagged[-1] == "* 1 FETCH (FLAGS (\\Seen \\Recent))"
    untagged, _ = a.ok("STORE 2 +FLAGS.SILENT (\\Seen)")
    seen += untagged
    assert not matching(untagged, r"\* 2 FETCH")
    seen += a.ok("FETCH 3 (BODY[TEXT])")[0]       # sets \Seen as a side effect
    b.ok("STORE 2 +FLAGS (\\Flagged)")
    seen += a.poll(lambda got: any("\\Flagged" in g for g in got))
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    seen += a.poll(lambda got: "* 1 EXPUNGE" in got)
    assert not [s for s in seen if "MODSEQ" in s or "VANISHED" in s], seen
    assert "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Seen \\Recent))" in seen
    a.close()
    b.close()


def test_condstore_select_fetch_store_status(srv):
    c = Client(srv)
    for i in range(3):
        c.append(f"m{i}")
    c.ok("ENABLE CONDSTORE")
    untagged, tagged = c.ok("SELECT INBOX")
    h = int(code(untagged, "HIGHESTMODSEQ"))
    assert tagged.startswith("OK [READ-WRITE]")
    # RFC 7162 §3.1.4.2: "a FETCH 1:3 (MODSEQ)"
    f = fetches(c.ok("FETCH 1:3 (MODSEQ)")[0])
    assert sorted(msn for msn, _ in f.values()) == [1, 2, 3]
    mods = [modseq_of(items) for _, items in f.values()]
    assert len(set(mods)) == 3 and max(mods) == h
    # A STORE's FETCH carries UID and the new MODSEQ.
    untagged, _ = c.ok("STORE 2 +FLAGS (\\Answered)")
    # c is the first to select INBOX: its messages are \Recent for it.
    assert untagged[-1] == f"* 2 FETCH (UID 2 FLAGS (\\Answered \\Recent) MODSEQ ({h + 1}))"
    # .SILENT drops FLAGS, not the MODSEQ.
    untagged, _ = c.ok("STORE 3 +FLAGS.SILENT (\\Flagged)")
    assert untagged[-1] == f"* 3 FETCH (UID 3 MODSEQ ({h + 2}))"
    assert not matching(untagged, r"\* 3 FETCH \(UID 3 FLAGS")
    # Flags already there: nothing changes, the MODSEQ stays.
    untagged, _ = c.ok("STORE 3 +FLAGS (\\Flagged)")
    assert untagged[-1] == f"* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent) MODSEQ ({h + 2}))"
    # RFC 7162 §3.1.4.1: "s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)".
    # The answers put MODSEQ right after UID; unsolicited ones after FLAGS.
    untagged, _ = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h})")
    assert matching(untagged, r"\* \d+ FETCH \(UID \d+ MODSEQ") == [
        f"* 2 FETCH (UID 2 MODSEQ ({h + 1}) FLAGS (\\Answered \\Recent))",
        f"* 3 FETCH (UID 3 MODSEQ ({h + 2}) FLAGS (\\Flagged \\Recent))"]
    untagged, _ = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {h + 1})")
    assert matching(untagged, r"\* \d+ FETCH \(MODSEQ") == [
        f"* 3 FETCH (MODSEQ ({h + 2}) FLAGS (\\Flagged \\Recent))"]
    untagged, _ = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {h + 2})")
    assert not matching(untagged, r"\* \d+ FETCH \(MODSEQ")
    # A FETCH that sets \Seen reports it with UID and MODSEQ.
    untagged, _ = c.ok("FETCH 1 (BODY[TEXT])")
    assert re.fullmatch(rf"\* 1 FETCH \(UID 1 MODSEQ \({h + 3}\) BODY\[TEXT\] .*"
                        rf" FLAGS \(\\Seen \\Recent\)\)", untagged[-1], re.S), untagged
    untagged, _ = c.ok("STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
    assert matching(untagged, r"\* STATUS") == [
        f'* STATUS "INBOX" (MESSAGES 3 HIGHESTMODSEQ {h + 3})']
    # EXAMINE (CONDSTORE) on another mailbox: a fresh one starts at 1.
    untagged, tagged = c.ok("EXAMINE Archive (CONDSTORE)")
    assert code(untagged, "HIGHESTMODSEQ") == "1" and "READ-ONLY" in tagged
    c.close()


def test_two_sessions_see_the_modseq_move(srv):
    a, b = Client(srv), Client(srv)
    for i in range(3):
        a.append(f"m{i}")
    a.ok("ENABLE CONDSTORE")
    h = int(code(a.ok("SELECT INBOX")[0], "HIGHESTMODSEQ"))
    b.ok("SELECT INBOX (CONDSTORE)")   # enables CONDSTORE too (§3.1.8)
    a.ok("STORE 2 +FLAGS ($Work)")
    got = b.poll(lambda got: any("$Work" in g for g in got))
    assert f"* 2 FETCH (UID 2 FLAGS ($Work) MODSEQ ({h + 1}))" in got
    b.ok("UID STORE 2 -FLAGS ($Work)")
    got = a.poll(lambda got: any(f"MODSEQ ({h + 2})" in g for g in got))
    assert f"* 2 FETCH (UID 2 FLAGS (\\Recent) MODSEQ ({h + 2}))" in got   # a selected first
    # Delivery to the mailbox moves it as well.
    b.append("late")
    got = a.poll(lambda got: "* 4 EXISTS" in got)
    f = fetches(a.ok("FETCH 4 (UID MODSEQ)")[0])
    assert f[4] == (4, f"UID 4 MODSEQ ({h + 3})")
    a.close()
    b.close()


def test_unchangedsince_conflicts_give_modified(srv):
    a, b = Client(srv), Client(srv)
    for i in range(5):
        a.append(f"m{i}")
    a.ok("ENABLE CONDSTORE")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    # Make MSNs and UIDs differ: UID 1 goes.
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    mods = {uid: modseq_of(items)
            for uid, (_, items) in fetches(a.ok("FETCH 1:4 (UID MODSEQ)")[0]).items()}
    known = max(mods.values())
    # Another session changes UIDs 3 and 5 after our FETCH.
    b.poll(lambda got: "* 1 EXPUNGE" in got)
    b.ok("UID STORE 3,5 +FLAGS (\\Seen)")
    # RFC 7162 §3.1.3: "d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338)
    # +FLAGS.SILENT (\Deleted)": the others are changed, these are named.
    untagged, tagged = a.ok(f"STORE 1:4 (UNCHANGEDSINCE {known}) +FLAGS.SILENT (\\Deleted)")
    assert tagged == "OK [MODIFIED 2,4] Conditional STORE failed"
    mine = {uid: v for uid, v in fetches(untagged).items() if "FLAGS" not in v[1]}
    assert sorted(mine) == [2, 4]
    assert mine[2][0] == 1 and mine[4][0] == 3
    assert all(modseq_of(v[1]) > known for v in mine.values())
    flags = {uid: items for uid, (_, items) in fetches(a.ok("FETCH 1:4 (UID FLAGS)")[0]).items()}
    assert "\\Deleted" in flags[2] and "\\Deleted" in flags[4]
    assert "\\Deleted" not in flags[3] and "\\Deleted" not in flags[5]
    # UID STORE names UIDs.
    untagged, tagged = a.ok(f"UID STORE 2:5 (UNCHANGEDSINCE {known}) -FLAGS (\\Deleted)")
    assert tagged == "OK [MODIFIED 2:5] Conditional STORE failed"
    # UNCHANGEDSINCE 0 always fails (RFC 7162 §3.1.3, "a105 STORE 50,60
    # (UNCHANGEDSINCE 0) -FLAGS ($NoJunk)").
    untagged, tagged = a.ok("STORE 2,4 (UNCHANGEDSINCE 0) -FLAGS ($NoJunk)")
    assert tagged == "OK [MODIFIED 2,4] Conditional STORE failed"
    assert not [u for u in untagged if "MODSEQ" in u and "FLAGS" not in u]
    # Up to date: it succeeds, with FLAGS and the new MODSEQ.
    cur = modseq_of(fetches(a.ok("UID FETCH 3 (MODSEQ)")[0])[3][1])
    untagged, tagged = a.ok(f"UID STORE 3 (UNCHANGEDSINCE {cur}) FLAGS (\\Answered)")
    assert tagged == "OK STORE completed"
    m = re.fullmatch(r"\* 2 FETCH \(UID 3 FLAGS \(\\Answered \\Recent\) MODSEQ \((\d+)\)\)",
                     untagged[-1])
    assert m and int(m.group(1)) > cur, untagged
    a.close()
    b.close()


def test_a_conditional_store_enables_condstore_for_the_session(srv):
    a, b = Client(srv), Client(srv)
    a.append("one")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS ($A)")
    assert "MODSEQ" not in " ".join(a.poll(lambda got: any("$A" in g for g in got)))
    untagged, _ = a.ok("STORE 1 (UNCHANGEDSINCE 1000) +FLAGS ($B)")
    assert "MODSEQ (" in untagged[-1]
    b.ok("STORE 1 +FLAGS ($C)")
    got = a.poll(lambda got: any("$C" in g for g in got))
    # a selected INBOX first: the message is \Recent for it.
    assert any(re.search(r"FLAGS \(\$A \$B \$C \\Recent\) MODSEQ \(\d+\)", g) for g in got), got
    a.close()
    b.close()


def test_status_highestmodseq_enables_condstore(srv):
    c = Client(srv)
    c.append("one")
    c.ok("SELECT INBOX")
    untagged, _ = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert re.fullmatch(r'\* STATUS "INBOX" \(HIGHESTMODSEQ \d+\)', untagged[0])
    assert "MODSEQ (" in c.ok("STORE 1 +FLAGS (\\Seen)")[0][-1]
    c.close()


def test_search_modseq_and_esearch(srv):
    c = Client(srv)
    for i in range(5):
        c.append(f"m{i}")
    c.ok("ENABLE CONDSTORE")
    h = int(code(c.ok("SELECT INBOX")[0], "HIGHESTMODSEQ"))
    c.ok("STORE 2 +FLAGS (\\Draft)")             # h+1
    c.ok("STORE 4 +FLAGS (\\Draft)")             # h+2
    c.ok("STORE 1 +FLAGS (\\Seen)")              # h+3

    def search(text):
        return matching(c.ok(text)[0], r"\* E?SEARCH")

    # RFC 7162 §3.1.5: "a SEARCH MODSEQ "/flags/\\draft" all 620162338"
    assert search(f'SEARCH MODSEQ "/flags/\\\\draft" all {h + 1}') == [
        f"* SEARCH 1 2 4 (MODSEQ {h + 3})"]
    assert search(f"SEARCH MODSEQ {h + 1} DRAFT") == [f"* SEARCH 2 4 (MODSEQ {h + 2})"]
    # Nothing found: no MODSEQ.
    assert search(f"SEARCH MODSEQ {h + 4}") == ["* SEARCH"]
    # Without a MODSEQ key: as before.
    assert search("SEARCH DRAFT") == ["* SEARCH 2 4"]
    # "t SEARCH OR NOT MODSEQ 720162338 LARGER 50000"
    assert search(f"SEARCH OR NOT MODSEQ {h + 1} LARGER 50000") == [f"* SEARCH 3 5 (MODSEQ {h})"]
    # ESEARCH: the highest of what is returned; with MIN/MAX alone, of those.
    assert search(f"UID SEARCH RETURN (ALL) MODSEQ {h + 1}") == [
        f'* ESEARCH (TAG "t{c.n}") UID ALL 1:2,4 MODSEQ {h + 3}']
    assert search(f"SEARCH RETURN (MAX) MODSEQ {h + 1}") == [
        f'* ESEARCH (TAG "t{c.n}") MAX 4 MODSEQ {h + 2}']
    assert search(f"SEARCH RETURN (MIN MAX) MODSEQ {h + 1}") == [
        f'* ESEARCH (TAG "t{c.n}") MIN 1 MAX 4 MODSEQ {h + 3}']
    assert search(f"SEARCH RETURN (COUNT) MODSEQ {h + 1} DRAFT") == [
        f'* ESEARCH (TAG "t{c.n}") COUNT 2 MODSEQ {h + 2}']
    assert search(f"SEARCH RETURN (MIN) MODSEQ {h + 9}") == [f'* ESEARCH (TAG "t{c.n}")']
    c.close()


def test_qresync_select_after_expunges_elsewhere(srv):
    c = Client(srv)
    uids = [c.append(f"m{i}") for i in range(10)]
    assert uids == list(range(1, 11))
    c.ok("ENABLE QRESYNC")
    # UID 2 goes before the client's last sync: it must not be reported.
    c.ok("SELECT INBOX")
    c.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    untagged, _ = c.ok("SELECT INBOX")
    v = int(code(untagged, "UIDVALIDITY"))
    h = int(code(untagged, "HIGHESTMODSEQ"))
    c.close()

    # Meanwhile, elsewhere: 3, 4 and 7 go; 5's flags change; 11 comes and
    # goes; 12 comes and stays.
    o = Client(srv)
    o.ok("SELECT INBOX")
    o.ok("UID STORE 3,4,7 +FLAGS.SILENT (\\Deleted)")
    o.ok("UID EXPUNGE 3:7")
    o.ok("UID STORE 5 +FLAGS (\\Flagged)")
    assert o.append("gone") == 11
    assert "* 7 EXISTS" in o.appended         # the session's view has it now
    o.ok("UID STORE 11 +FLAGS (\\Deleted)")
    o.ok("EXPUNGE")
    assert o.append("new") == 12
    o.close()

    c = Client(srv)
    # Without ENABLE QRESYNC the parameter is refused.
    _, tagged = c.cmd(f"SELECT INBOX (QRESYNC ({v} {h}))")
    assert tagged.startswith("BAD")
    c.ok("ENABLE QRESYNC")
    # RFC 7162 §3.2.5.2: "A03 SELECT INBOX (QRESYNC (67890007 90060115194045000))"
    untagged, tagged = c.ok(f"SELECT INBOX (QRESYNC ({v} {h}))")
    assert tagged.startswith("OK [READ-WRITE]")
    assert untagged[0] == "* 7 EXISTS"
    assert vanished(untagged, earlier=True) == {3, 4, 7, 11}
    assert [u for u in untagged if u.startswith("* VANISHED")] == ["* VANISHED (EARLIER) 3:4,7,11"]
    f = fetches(untagged)
    assert sorted(f) == [5, 12]
    assert re.fullmatch(r"UID 5 FLAGS \(\\Flagged\) MODSEQ \(\d+\)", f[5][1]) and f[5][0] == 2
    assert f[12][0] == 7 and modseq_of(f[12][1]) > h
    # The responses for the new mailbox follow a CLOSED (§3.2.11), and the
    # known UIDs limit what VANISHED names: "B142 SELECT INBOX (QRESYNC
    # (67890007 90060115194045000 41:211,214:541))".
    untagged, _ = c.ok(f"EXAMINE INBOX (QRESYNC ({v} {h} 1:3,5:10))")
    assert untagged[0] == "* OK [CLOSED] Previous mailbox closed"
    assert [u for u in untagged if u.startswith("* VANISHED")] == ["* VANISHED (EARLIER) 3,7"]
    # seq-match-data is accepted (the store forgets no expunge, so it is
    # not needed): "B143 SELECT INBOX (QRESYNC (67890007 90060115194045000
    # 1:29997 (5000,7500,9000,9990:9999 15000,...)))"
    untagged, _ = c.ok(f"SELECT INBOX (QRESYNC ({v} {h} 1:12 (1,3 1,5)))")
    assert vanished(untagged, earlier=True) == {3, 4, 7, 11}
    # Since the latest MODSEQ: nothing to report.
    h2 = int(code(untagged, "HIGHESTMODSEQ"))
    untagged, _ = c.ok(f"SELECT INBOX (QRESYNC ({v} {h2}))")
    assert not vanished(untagged, earlier=True) and not fetches(untagged)
    # Another UIDVALIDITY: a plain SELECT, the client must resync in full.
    untagged, _ = c.ok(f"SELECT INBOX (QRESYNC ({v + 1} {h}))")
    assert not [u for u in untagged if "VANISHED" in u] and not fetches(untagged)
    c.close()


def test_qresync_reports_vanished_instead_of_expunge(srv):
    a, b = Client(srv), Client(srv)
    for i in range(8):
        a.append(f"m{i}")
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    a.ok("STORE 1,2,4 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = a.ok("EXPUNGE")
    assert matching(untagged, r"\* (VANISHED|\d+ EXPUNGE)") == ["* VANISHED 1:2,4"]
    a.ok("UID STORE 5,6 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = a.ok("UID EXPUNGE 3:5")
    assert matching(untagged, r"\* (VANISHED|\d+ EXPUNGE)") == ["* VANISHED 5"]
    untagged, tagged = a.ok("UID MOVE 3 Archive")
    assert matching(untagged, r"\* (VANISHED|\d+ EXPUNGE)") == ["* VANISHED 3"]
    # Another session's expunge reaches an idling client as VANISHED.
    tag = a.send("IDLE")
    assert a.line().startswith("+ ")
    heard = b.ok("UID STORE 7 +FLAGS.SILENT (\\Deleted)")[0]
    heard += b.ok("UID EXPUNGE 7")[0]
    a.sock.settimeout(5)
    while (line := a.line()).startswith("* ") and " FETCH " in line:
        pass                               # our own flag changes, heard again
    assert line == "* VANISHED 7"
    a.sock.sendall(b"DONE\r\n")
    untagged, tagged = a.until_tagged(tag)
    assert tagged.startswith("OK")
    untagged, _ = a.ok("UID FETCH 1:* (UID)")
    assert sorted(fetches(untagged)) == [6, 8]
    # The other session, without QRESYNC, still gets EXPUNGE.
    heard += b.poll(lambda got: len(matching(heard + got, r"\* \d+ EXPUNGE")) == 6)
    assert not [g for g in heard if "VANISHED" in g]
    a.close()
    b.close()


def test_uid_fetch_changedsince_vanished(srv):
    a, b = Client(srv), Client(srv)
    for i in range(6):
        a.append(f"m{i}")
    a.ok("ENABLE CONDSTORE")
    h = int(code(a.ok("SELECT INBOX")[0], "HIGHESTMODSEQ"))
    # VANISHED needs QRESYNC.
    assert a.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h} VANISHED)")[1].startswith("BAD")
    a.close()
    a = Client(srv)
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("UID STORE 2,4,6 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    b.ok("UID STORE 3 +FLAGS (\\Answered)")
    # RFC 7162 §3.2.6: "s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345
    # VANISHED)". The highest UID is among the expunged: 1:* still covers it.
    untagged, _ = a.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h} VANISHED)")
    seen = untagged
    assert vanished(untagged, earlier=True) == {2, 4, 6}
    assert matching(untagged, r"\* \d+ FETCH \(UID \d+ MODSEQ") == [
        f"* {fetches(untagged)[3][0]} FETCH (UID 3 MODSEQ ({h + 3}) FLAGS (\\Answered))"]
    untagged, _ = a.ok(f"UID FETCH 3:5 (FLAGS) (CHANGEDSINCE {h} VANISHED)")
    seen += untagged
    assert vanished(untagged, earlier=True) == {4}
    # EARLIER does not renumber; the untagged VANISHED for what went does
    # (maybe already in the UID FETCH: the store's events come when they come).
    if vanished(seen, earlier=False) != {2, 4, 6}:
        seen += a.poll(lambda got: vanished(seen + got, earlier=False) == {2, 4, 6})
    assert vanished(seen, earlier=False) == {2, 4, 6}
    untagged, _ = a.ok("FETCH 1:* (UID)")
    assert sorted((msn, uid) for uid, (msn, _) in fetches(untagged).items()) == \
        [(1, 1), (2, 3), (3, 5)]
    a.close()
    b.close()
