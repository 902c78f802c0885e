"""FETCH beyond the basics, against the real server over raw sockets:

- SEARCHRES (RFC 5182, in IMAP4rev2): SEARCH RETURN (SAVE) and "$" in every
  command that takes a set, kept as UIDs, emptied when it must be.
- BINARY (RFC 3516, in IMAP4rev2): BINARY[section], BINARY.PEEK, BINARY.SIZE
  with the transfer encoding undone, literal8 when the bytes hold NUL, and
  APPEND of a literal8.
- Streaming: FETCH 1:* over a mailbox far larger than what the server may
  hold for one connection goes out in batches, paced by the client's
  reading; memory (the server's RSS, from /proc) stays flat whether the
  client reads slowly or not at all.
"""
import base64
import re
import socket
import threading
import time

import pytest

import conftest

USER = "alice@example.test"
PASSWORD = "alice's fetch password"

LITERAL_AT_END = re.compile(rb"(~?)\{(\d+)\+?\}\r\n$")


@pytest.fixture
def srv(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    # Plain IMAP on loopback: the big FETCHes should cost the test TLS on
    # neither side.
    s.set("auth", "plaintext_on_loopback", "true")
    return s.start()


class Client:
    """A raw IMAP client: sends lines as written, reads whole responses
    (literals and literal8s included) from its own buffer, `recv_size`
    bytes at a time with `pause` seconds before each read, so a test can
    read as slowly as it likes."""

    def __init__(self, sock, timeout=30):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.recv_size = 65536
        self.pause = 0.0
        self.greeting = self.response()

    @classmethod
    def login(cls, srv):
        c = cls(srv.connect("imap"))
        untagged, tagged = c.command("L", f'LOGIN {USER} "{PASSWORD}"')
        assert tagged.startswith(b"L OK "), tagged
        return c

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self):
        if self.pause:
            time.sleep(self.pause)
        data = self.sock.recv(self.recv_size)
        if not data:
            raise EOFError(f"connection closed; buffered {bytes(self.buf[:200])!r}")
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return line
            self._fill()

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def response(self):
        out = b""
        while True:
            line = self._line()
            out += line
            m = LITERAL_AT_END.search(line)
            if not m:
                return out
            out += self._take(int(m.group(2)))

    def until_tagged(self, tag):
        untagged = []
        prefix = tag.encode() + b" "
        while True:
            r = self.response()
            if r.startswith(prefix):
                return untagged, r
            untagged.append(r)

    def command(self, tag, text):
        self.send(f"{tag} {text}\r\n")
        return self.until_tagged(tag)

    def ok(self, tag, text):
        untagged, tagged = self.command(tag, text)
        assert tagged.startswith(tag.encode() + b" OK"), (text, tagged)
        return untagged

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def message(subject, body=b"Hello.\r\n", headers=b""):
    if isinstance(body, str):
        body = body.encode()
    return (b"From: Bob <bob@remote.test>\r\nTo: " + USER.encode() + b"\r\nSubject: " +
            subject.encode() + b"\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n" + headers +
            b"\r\n" + body)


def append(c, data, flags="", mailbox="INBOX"):
    """APPEND with a non-synchronizing literal; returns the new UID."""
    flags = f" ({flags})" if flags else ""
    c.send(f"A APPEND {mailbox}{flags} {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
    untagged, tagged = c.until_tagged("A")
    m = re.match(rb"A OK \[APPENDUID \d+ (\d+)\]", tagged)
    assert m, tagged
    return int(m.group(1))


def fetch_uids(untagged):
    """[(msn, uid)] of FETCH responses carrying a UID."""
    out = []
    for r in untagged:
        m = re.match(rb"\* (\d+) FETCH \(.*UID (\d+)", r)
        assert m, r
        out.append((int(m.group(1)), int(m.group(2))))
    return out


def test_capabilities_include_searchres_and_binary(srv):
    c = Client.login(srv)
    untagged = c.ok("c", "CAPABILITY")
    caps = untagged[0].split()
    assert b"SEARCHRES" in caps and b"BINARY" in caps, untagged


# ---------------------------------------------------------------------------
# SEARCHRES
# ---------------------------------------------------------------------------

def six_messages(c):
    """m1..m6 in INBOX (UIDs 1..6); m2, m4 and m5 flagged."""
    for i in range(1, 7):
        assert append(c, message(f"m{i}"), "\\Flagged" if i in (2, 4, 5) else "") == i
    c.ok("s", "SELECT INBOX")


def test_search_save_then_dollar_in_every_command(srv):
    c = Client.login(srv)
    c.ok("cr", "CREATE Kept")
    six_messages(c)
    # SAVE alone: no ESEARCH at all (RFC 5182 2.4).
    assert c.ok("a", "SEARCH RETURN (SAVE) FLAGGED") == []
    assert fetch_uids(c.ok("b", "FETCH $ (UID)")) == [(2, 2), (4, 4), (5, 5)]
    assert fetch_uids(c.ok("c", "UID FETCH $ (UID)")) == [(2, 2), (4, 4), (5, 5)]
    # "$" within a set, with ranges.
    assert fetch_uids(c.ok("d", "FETCH 1,$ (UID)")) == [(1, 1), (2, 2), (4, 4), (5, 5)]
    assert c.ok("e", "SEARCH $") == [b"* SEARCH 2 4 5\r\n"]
    assert c.ok("f", "UID SEARCH UID $ SUBJECT m4") == [b"* SEARCH 4\r\n"]
    assert c.ok("g", "SEARCH NOT $") == [b"* SEARCH 1 3 6\r\n"]
    stored = c.ok("h", "STORE $ +FLAGS.SILENT (\\Seen)")
    assert stored == []
    assert c.ok("i", "SEARCH SEEN") == [b"* SEARCH 2 4 5\r\n"]
    untagged, tagged = c.command("j", "COPY $ Kept")
    assert re.match(rb"j OK \[COPYUID \d+ 2,4:5 1,2:3\]", tagged), tagged
    # Another session expunges m2: once this one is told, "$" no longer
    # holds it, and the UIDs saved by a non-UID SEARCH still name m4 and m5
    # under their new numbers.
    other = Client.login(srv)
    other.ok("s", "SELECT INBOX")
    other.ok("d", "UID STORE 2 +FLAGS.SILENT (\\Deleted)")
    other.ok("x", "UID EXPUNGE 2")
    other.ok("z", "LOGOUT")
    deadline = time.monotonic() + 5
    told = []
    while not told and time.monotonic() < deadline:
        told = [r for r in c.ok("n", "NOOP") if r.endswith(b"EXPUNGE\r\n")]
        time.sleep(0.05)
    assert told == [b"* 2 EXPUNGE\r\n"]
    assert fetch_uids(c.ok("k", "FETCH $ (UID)")) == [(3, 4), (4, 5)]
    # MOVE and UID EXPUNGE take "$" as well.
    untagged, tagged = c.command("l", "UID MOVE $ Kept")
    assert tagged.startswith(b"l OK"), tagged
    assert [r for r in untagged if r.endswith(b"EXPUNGE\r\n")] == [b"* 3 EXPUNGE\r\n",
                                                                    b"* 3 EXPUNGE\r\n"]
    assert c.ok("m", "FETCH $ (UID)") == []
    assert fetch_uids(c.ok("o", "FETCH 1:* (UID)")) == [(1, 1), (2, 3), (3, 6)]
    assert c.ok("p", "SEARCH RETURN (SAVE) SUBJECT m6") == []
    c.ok("q", "STORE $ +FLAGS.SILENT (\\Deleted)")
    assert c.ok("r", "UID EXPUNGE $") == [b"* 3 EXPUNGE\r\n"]
    c.ok("t", "SELECT Kept")
    assert c.ok("u", "SEARCH RETURN (SAVE) SUBJECT m4") == []
    assert fetch_uids(c.ok("v", "UID FETCH $ (UID)")) == [(2, 2), (4, 4)]


def test_save_with_min_max_count_and_all(srv):
    c = Client.login(srv)
    six_messages(c)
    # With MIN and/or MAX alone only those are saved (RFC 5182 2.4).
    assert c.ok("a", "SEARCH RETURN (SAVE MIN) FLAGGED") == [b'* ESEARCH (TAG "a") MIN 2\r\n']
    assert fetch_uids(c.ok("a2", "FETCH $ (UID)")) == [(2, 2)]
    assert c.ok("b", "SEARCH RETURN (MAX SAVE) FLAGGED") == [b'* ESEARCH (TAG "b") MAX 5\r\n']
    assert fetch_uids(c.ok("b2", "FETCH $ (UID)")) == [(5, 5)]
    assert c.ok("c", "SEARCH RETURN (SAVE MIN MAX) FLAGGED") == [
        b'* ESEARCH (TAG "c") MIN 2 MAX 5\r\n']
    assert fetch_uids(c.ok("c2", "FETCH $ (UID)")) == [(2, 2), (5, 5)]
    # With COUNT or ALL, every match.
    assert c.ok("d", "SEARCH RETURN (SAVE COUNT MIN) FLAGGED") == [
        b'* ESEARCH (TAG "d") MIN 2 COUNT 3\r\n']
    assert fetch_uids(c.ok("d2", "FETCH $ (UID)")) == [(2, 2), (4, 4), (5, 5)]
    assert c.ok("e", "UID SEARCH RETURN (SAVE ALL) UNFLAGGED") == [
        b'* ESEARCH (TAG "e") UID ALL 1,3,6\r\n']
    assert fetch_uids(c.ok("e2", "FETCH $ (UID)")) == [(1, 1), (3, 3), (6, 6)]
    # A search that uses "$" and saves sees the old result, then replaces it.
    assert c.ok("f", "SEARCH RETURN (SAVE) $ SUBJECT m3") == []
    assert fetch_uids(c.ok("f2", "FETCH $ (UID)")) == [(3, 3)]
    # No match: "$" is empty, and a command on it does nothing, OK.
    assert c.ok("g", "SEARCH RETURN (SAVE) SUBJECT nothing-like-this") == []
    assert c.ok("g2", "FETCH $ (UID)") == []
    assert c.ok("g3", "STORE $ +FLAGS (\\Seen)") == []


def test_the_saved_result_is_emptied_when_it_must_be(srv):
    c = Client.login(srv)
    six_messages(c)
    # Before any SAVE, "$" is empty.
    assert c.ok("a", "FETCH $ (UID)") == []

    def save():
        assert c.ok("s", "SEARCH RETURN (SAVE) FLAGGED") == []
        assert len(c.ok("f", "FETCH $ (UID)")) == 3

    save()
    c.ok("sel", "SELECT INBOX")
    assert c.ok("b", "FETCH $ (UID)") == []
    save()
    c.ok("ex", "EXAMINE INBOX")
    assert c.ok("c", "FETCH $ (UID)") == []
    c.ok("sel", "SELECT INBOX")
    save()
    c.ok("un", "UNSELECT")
    c.ok("sel", "SELECT INBOX")
    assert c.ok("d", "FETCH $ (UID)") == []
    save()
    c.ok("cl", "CLOSE")
    c.ok("sel", "SELECT INBOX")
    assert c.ok("e", "FETCH $ (UID)") == []
    # A SEARCH RETURN (SAVE) that fails leaves "$" empty (RFC 5182 2.1).
    save()
    untagged, tagged = c.command("g", "SEARCH RETURN (SAVE) CHARSET KOI8-Q TEXT xxxx")
    assert tagged.startswith(b"g NO [BADCHARSET"), tagged
    assert c.ok("h", "FETCH $ (UID)") == []
    # A SEARCH without SAVE leaves it alone.
    save()
    c.ok("i", "SEARCH UNFLAGGED")
    assert len(c.ok("j", "FETCH $ (UID)")) == 3


# ---------------------------------------------------------------------------
# BINARY
# ---------------------------------------------------------------------------

BLOB = bytes(range(256)) * 4
QP_TEXT = "café au lait, soft break".encode()
MULTIPART = (
    b"From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: parts\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
    b"--b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    b"Plain text =41 stays.\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(BLOB).replace(b"\n", b"\r\n") +
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"caf=C3=A9 au lait, soft=\r\n break\r\n"
    b"--b\r\nContent-Type: application/x-stuff\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
    b"begin 644 stuff\r\n"
    b"--b--\r\n")


def items(resp):
    """`* N FETCH (...)` -> {name: value}: values are literals' bytes, or atoms."""
    m = re.match(rb"\* \d+ FETCH \(", resp)
    assert m, resp
    out, i = {}, m.end()
    while resp[i:i + 1] != b")":
        name = re.compile(rb"[A-Z0-9.]+(\[[^\]]*\])?(<\d+>)?").match(resp, i)
        assert name, resp[i:]
        i = name.end() + 1
        lit = re.compile(rb"(~?)\{(\d+)\}\r\n").match(resp, i)
        if lit:
            n = int(lit.group(2))
            out[name.group(0).decode()] = (lit.group(1) + b"{}", resp[lit.end():lit.end() + n])
            i = lit.end() + n
        elif resp[i:i + 1] == b"(":
            j = resp.index(b")", i) + 1
            out[name.group(0).decode()] = resp[i:j]
            i = j
        else:
            j = re.compile(rb"[^ )]*").match(resp, i).end()
            out[name.group(0).decode()] = resp[i:j]
            i = j
        if resp[i:i + 1] == b" ":
            i += 1
    assert resp[i:] == b")\r\n", resp
    return out


def fetch_one(c, tag, uid, what):
    untagged = c.ok(tag, f"UID FETCH {uid} ({what})")
    assert len(untagged) == 1, untagged
    return items(untagged[0])


def test_binary_decodes_each_part(srv):
    c = Client.login(srv)
    uid = append(c, MULTIPART)
    single = message("single", base64.encodebytes(b"\x00\x01 single part").replace(b"\n", b"\r\n"),
                     b"Content-Transfer-Encoding: base64\r\n")
    uid2 = append(c, single)
    c.ok("s", "SELECT INBOX")
    got = fetch_one(c, "a", uid, "BINARY.PEEK[2] BINARY.SIZE[2]")
    # The decoded bytes hold NUL: a literal8 (RFC 3516 4.2).
    assert got["BINARY[2]"] == (b"~{}", BLOB)
    assert got["BINARY.SIZE[2]"] == b"1024"
    # 7bit as it is; quoted-printable decoded (soft break and all): no NUL,
    # so a plain literal.
    got = fetch_one(c, "b", uid, "BINARY.PEEK[1] BINARY.PEEK[3] BINARY.SIZE[3]")
    assert got["BINARY[1]"] == (b"{}", b"Plain text =41 stays.")
    assert got["BINARY[3]"] == (b"{}", QP_TEXT)
    assert got["BINARY.SIZE[3]"] == str(len(QP_TEXT)).encode()
    # <partial> counts in the decoded data; literal8 only if the range
    # holds a NUL.
    got = fetch_one(c, "c", uid, "BINARY.PEEK[2]<256.16> BINARY.PEEK[2]<1.10>")
    assert got["BINARY[2]<256>"] == (b"~{}", bytes(range(16)))
    assert got["BINARY[2]<1>"] == (b"{}", bytes(range(1, 11)))
    # BINARY[] is the message as stored; a missing part is empty.
    got = fetch_one(c, "d", uid, "BINARY.PEEK[] BINARY.PEEK[9] BODY.PEEK[]")
    assert got["BINARY[]"] == (b"{}", MULTIPART) and got["BODY[]"] == (b"{}", MULTIPART)
    assert got["BINARY[9]"] == (b"{}", b"")
    # A single-part message: part 1 is its body, decoded.
    got = fetch_one(c, "e", uid2, "BINARY.PEEK[1] BINARY.SIZE[1]")
    assert got["BINARY[1]"] == (b"~{}", b"\x00\x01 single part")
    assert got["BINARY.SIZE[1]"] == b"14"
    # An encoding we cannot undo: NO [UNKNOWN-CTE].
    untagged, tagged = c.command("f", f"UID FETCH {uid} (BINARY.PEEK[4])")
    assert untagged == [] and tagged.startswith(b"f NO [UNKNOWN-CTE]"), (untagged, tagged)
    # BINARY without PEEK sets \Seen, and says so; BINARY.SIZE does not.
    assert b"\\Seen" not in fetch_one(c, "g", uid, "FLAGS BINARY.SIZE[1]")["FLAGS"]
    got = fetch_one(c, "h", uid, "BINARY[1]")
    assert b"\\Seen" in got["FLAGS"], got


def test_append_takes_a_literal8(srv):
    c = Client.login(srv)
    body = bytes(range(256)) + b"\r\nafter the NULs\r\n"
    data = (b"From: Bob <bob@remote.test>\r\nSubject: binary\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
            b"\r\n" + body)
    # Synchronizing: "+" first.
    c.send(f"A1 APPEND INBOX ~{{{len(data)}}}\r\n")
    cont = c.response()
    assert cont.startswith(b"+ "), cont
    c.send(data + b"\r\n")
    untagged, tagged = c.until_tagged("A1")
    m = re.match(rb"A1 OK \[APPENDUID \d+ (\d+)\]", tagged)
    assert m, tagged
    uid = int(m.group(1))
    # Non-synchronizing (LITERAL+), with flags.
    c.send(f"A2 APPEND INBOX (\\Seen) ~{{{len(data)}+}}\r\n".encode() + data + b"\r\n")
    untagged, tagged = c.until_tagged("A2")
    assert tagged.startswith(b"A2 OK [APPENDUID "), tagged
    c.ok("s", "SELECT INBOX")
    for u in (uid, uid + 1):
        got = fetch_one(c, "f", u, "RFC822.SIZE BINARY.PEEK[] BINARY.PEEK[1] BINARY.SIZE[1]")
        assert got["RFC822.SIZE"] == str(len(data)).encode()
        assert got["BINARY[]"] == (b"~{}", data)
        assert got["BINARY[1]"] == (b"~{}", body)
        assert got["BINARY.SIZE[1]"] == str(len(body)).encode()


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------

DISTINCT = 16
DOUBLINGS = 8            # 16 * 2**8 = 4096 messages
BODY_LINES = 300         # ~24 KB each: ~83 MB for FETCH 1:* BODY.PEEK[]


def big_message(i):
    line = f"line of message {i:03d}, filling the mailbox for the streaming test....\r\n"
    return message(f"big {i}", line * BODY_LINES)


def fill(c):
    """INBOX with DISTINCT * 2**DOUBLINGS messages, UID u holding
    big_message((u - 1) % DISTINCT): a few appends, then COPY 1:* into the
    mailbox itself, which doubles it each time (copies share files)."""
    msgs = [big_message(i) for i in range(DISTINCT)]
    for m in msgs:
        append(c, m)
    c.ok("s", "SELECT INBOX")
    for k in range(DOUBLINGS):
        c.ok(f"c{k}", "COPY 1:* INBOX")
    c.ok("n", "NOOP")
    total = DISTINCT << DOUBLINGS
    untagged = c.ok("st", "STATUS INBOX (MESSAGES)")
    assert len(untagged) == 1 and f"(MESSAGES {total})".encode() in untagged[0], untagged
    return msgs, total


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class RssSampler:
    """The server's highest RSS (KB) while a block runs, sampled every 10 ms."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            v = rss_kb(self.pid)
            self.samples.append(v)
            self.peak = max(self.peak, v)
            time.sleep(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.fixture
def lean_asan(monkeypatch):
    """ASan keeps freed memory in a quarantine (256 MB by default) to catch
    use-after-free, which would show up as RSS growth that is not ours: keep
    it small for the servers of these tests."""
    monkeypatch.setitem(conftest.SAN_ENV, "ASAN_OPTIONS",
                        conftest.SAN_ENV["ASAN_OPTIONS"] + ":quarantine_size_mb=1")


@pytest.fixture
def big(lean_asan, srv):
    c = Client.login(srv)
    msgs, total = fill(c)
    return srv, c, msgs, total


def read_fetch(c, tag, msgs, total, first_uid=1):
    """Reads a FETCH 1:* (UID FLAGS BODY.PEEK[]) answer, checking each
    message; returns (the MSNs seen, what came that was not a FETCH, the
    tagged response)."""
    seen, other = [], []
    prefix = tag.encode() + b" "
    while True:
        r = c.response()
        if r.startswith(prefix):
            return seen, other, r
        m = re.match(rb"\* (\d+) FETCH \(UID (\d+) FLAGS \([^)]*\) BODY\[\] \{(\d+)\}\r\n", r)
        if not m:
            other.append(r)
            continue
        msn, uid, n = int(m.group(1)), int(m.group(2)), int(m.group(3))
        assert uid == msn + first_uid - 1, r[:100]
        assert r[m.end():] == msgs[(uid - 1) % DISTINCT] + b")\r\n", r[:100]
        seen.append(msn)


def test_a_huge_fetch_streams_in_bounded_memory(big):
    srv, c, msgs, total = big
    fetched = sum(len(msgs[i % DISTINCT]) for i in range(total))
    assert fetched > 40 << 20
    pid = srv.proc.pid
    before = rss_kb(pid)
    # Read slowly: small reads with pauses, so the server has to wait.
    c.recv_size = 16384
    c.pause = 0.0005
    with RssSampler(pid) as rss:
        c.send("f FETCH 1:* (UID FLAGS BODY.PEEK[])\r\n")
        seen, other, tagged = read_fetch(c, "f", msgs, total)
    assert tagged.startswith(b"f OK "), tagged
    assert seen == list(range(1, total + 1)) and other == []
    growth = rss.peak - before
    print(f"RSS before {before} KB, peak {rss.peak} KB, growth {growth} KB, "
          f"fetched {fetched >> 10} KB, {len(rss.samples)} samples")
    # Whole, the answer would be ~83 MB (and more than twice that in
    # memory); a few batches in flight are a small fraction of it (under
    # 1 MB in a release build; ASan's allocator adds a few MB), and it
    # does not creep: the second half of the FETCH costs what the first did.
    assert growth * 1024 < fetched // 10, (before, rss.peak, fetched)
    half = len(rss.samples) // 2
    assert max(rss.samples[half:]) - max(rss.samples[:half]) < 2048, rss.samples
    c.ok("z", "LOGOUT")


def test_a_client_that_does_not_read_costs_no_memory(big):
    srv, c, msgs, total = big
    pid = srv.proc.pid
    before = rss_kb(pid)
    c.send("f FETCH 1:* (UID FLAGS BODY.PEEK[])\r\n")
    with RssSampler(pid) as rss:
        time.sleep(3)
    growth = rss.peak - before
    print(f"RSS before {before} KB, peak {rss.peak} KB while not reading; "
          f"last {rss.samples[-1]} KB")
    assert growth < 8 * 1024, (before, rss.peak)
    # It went as far as the client let it, and no further: flat at the end.
    assert rss.samples[-1] - rss.samples[len(rss.samples) // 2] < 1024, rss.samples
    # Then reading picks up where it stopped, to the end.
    seen, other, tagged = read_fetch(c, "f", msgs, total)
    assert tagged.startswith(b"f OK ") and seen == list(range(1, total + 1)), tagged
    # A client that leaves in the middle leaves nothing behind (LeakSanitizer
    # checks at exit), and the server goes on serving.
    d = Client.login(srv)
    d.ok("s", "SELECT INBOX")
    d.send("f FETCH 1:* (UID FLAGS BODY.PEEK[])\r\n")
    time.sleep(0.5)
    d.sock.shutdown(socket.SHUT_RDWR)
    d.close()
    c.ok("n", "NOOP")
    c.ok("z", "LOGOUT")


def test_nothing_comes_between_the_batches_of_a_fetch(big):
    srv, c, msgs, total = big
    # The FETCH and, pipelined behind it, a NOOP; the client reads nothing
    # at first, so the FETCH waits between two batches.
    c.send("f FETCH 1:* (UID FLAGS BODY.PEEK[])\r\nn NOOP\r\n")
    time.sleep(0.5)
    # Meanwhile another session expunges the first ten messages and the
    # last ten, and new mail arrives.
    other = Client.login(srv)
    other.ok("s", "SELECT INBOX")
    other.ok("d", f"STORE 1:10,{total - 9}:{total} +FLAGS.SILENT (\\Deleted)")
    other.ok("x", "EXPUNGE")
    append(other, message("new"))
    other.ok("z", "LOGOUT")
    time.sleep(0.3)
    seen, other_responses, tagged = read_fetch(c, "f", msgs, total)
    # Not one EXPUNGE or EXISTS inside the FETCH (RFC 9051 7.5.1): numbers
    # mean what they meant when it began. Messages expunged before their
    # batch was read are left out; the others all come, in order.
    assert tagged.startswith(b"f OK "), tagged
    assert other_responses == [], other_responses[:5]
    assert seen == sorted(seen) and set(range(11, total - 9)) <= set(seen), len(seen)
    # The NOOP ran only after the FETCH, and reports the changes.
    untagged, tagged = c.until_tagged("n")
    assert tagged.startswith(b"n OK ")
    expunges = [r for r in untagged if r.endswith(b" EXPUNGE\r\n")]
    assert len(expunges) == 20, untagged
    assert f"* {total - 19} EXISTS\r\n".encode() in untagged, untagged
    c.ok("z", "LOGOUT")
