"""IMAP COMPRESS=DEFLATE (RFC 4978) over a raw TLS socket, with Python's zlib
as the client's compressor: replies inflate to what they would have been,
commands sent compressed work, a big FETCH streams through, a second
COMPRESS is refused, and a client sending garbage is cut off alone."""
import imaplib
import socket
import time
import zlib

import pytest

from conftest import tls_client_context

USER = "zip@example.test"
PASSWORD = "zip zap zop"


@pytest.fixture
def srv(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    return s.start()


class Client:
    """IMAP over TLS that can switch to DEFLATE after the tagged OK."""

    def __init__(self, srv):
        raw = socket.create_connection(("127.0.0.1", srv.port("imaps")), timeout=10)
        self.sock = tls_client_context().wrap_socket(raw)
        self.buf = b""
        self.out = self.inf = None
        self.line()  # greeting

    def send(self, data):
        if self.out:
            data = self.out.compress(data) + self.out.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("closed")
        self.buf += self.inf.decompress(chunk) if self.inf else chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def cmd(self, tag, text):
        """Sends a command; returns (untagged lines with literals inlined, tagged line)."""
        self.send(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            l = self.line()
            while l.endswith(b"}\r\n") and b"{" in l:
                n = int(l[l.rindex(b"{") + 1:-3])
                l += self.exact(n) + self.line()
            if l.startswith(tag.encode() + b" "):
                return lines, l
            lines.append(l)

    def start_compress(self, tag="z1"):
        _, done = self.cmd(tag, "COMPRESS DEFLATE")
        assert done.startswith(f"{tag} OK".encode()), done
        assert self.buf == b""
        self.out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inf = zlib.decompressobj(-15)


def test_compressed_session(srv):
    body = b"".join(b"line %06d of a long message body, compressible\r\n" % i
                    for i in range(6000))
    msg = (b"From: a@remote.test\r\nTo: " + USER.encode() + b"\r\nSubject: big\r\n\r\n" + body)
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.port("imaps"), ssl_context=tls_client_context())
    m.login(USER, PASSWORD)
    assert b"COMPRESS=DEFLATE" in m.capability()[1][0].split()
    m.append("INBOX", None, None, msg)
    m.logout()

    c = Client(srv)
    _, done = c.cmd("a1", f'LOGIN "{USER}" "{PASSWORD}"')
    assert done.startswith(b"a1 OK")
    c.start_compress()
    untagged, done = c.cmd("a2", "SELECT INBOX")
    assert done.startswith(b"a2 OK")
    assert b"* 1 EXISTS\r\n" in untagged
    untagged, done = c.cmd("a3", "FETCH 1 BODY.PEEK[]")
    assert done.startswith(b"a3 OK")
    fetched = untagged[0]
    assert fetched.startswith(b"* 1 FETCH (BODY[] {%d}\r\n" % len(msg))
    assert msg in fetched
    _, done = c.cmd("a4", "COMPRESS DEFLATE")
    assert done.startswith(b"a4 NO [COMPRESSIONACTIVE]")
    # Several commands in one compressed write.
    c.send(b"a5 NOOP\r\na6 NOOP\r\n")
    assert c.line().startswith(b"a5 OK")
    assert c.line().startswith(b"a6 OK")
    untagged, done = c.cmd("a7", "LOGOUT")
    assert untagged[0].startswith(b"* BYE") and done.startswith(b"a7 OK")


def test_compress_refusals(srv):
    c = Client(srv)
    _, done = c.cmd("b1", "COMPRESS DEFLATE")
    assert done.startswith(b"b1 BAD")  # not logged in
    _, done = c.cmd("b2", f'LOGIN "{USER}" "{PASSWORD}"')
    assert done.startswith(b"b2 OK")
    _, done = c.cmd("b3", "COMPRESS GZIP")
    assert done.startswith(b"b3 BAD")
    # Still uncompressed and usable.
    _, done = c.cmd("b4", "NOOP")
    assert done.startswith(b"b4 OK")


def test_garbage_after_compress_ends_only_that_session(srv):
    c = Client(srv)
    c.cmd("c1", f'LOGIN "{USER}" "{PASSWORD}"')
    c.start_compress("c2")
    c.sock.sendall(b"\x07this is not deflate\r\n")
    with pytest.raises((EOFError, ConnectionError, OSError)):
        for _ in range(10):
            c._fill()
    srv.wait_log("compress-error")
    assert srv.log().count("compress-error") == 1
    # Everyone else is served.
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.port("imaps"), ssl_context=tls_client_context())
    m.login(USER, PASSWORD)
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_idle_updates_arrive_compressed(srv):
    c = Client(srv)
    c.cmd("d1", f'LOGIN "{USER}" "{PASSWORD}"')
    c.start_compress("d2")
    c.cmd("d3", "SELECT INBOX")
    c.send(b"d4 IDLE\r\n")
    assert c.line().startswith(b"+ ")
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.port("imaps"), ssl_context=tls_client_context())
    m.login(USER, PASSWORD)
    m.append("INBOX", None, None, b"Subject: ping\r\n\r\nhi\r\n")
    m.logout()
    deadline = time.monotonic() + 5
    seen = []
    while time.monotonic() < deadline:
        l = c.line()
        seen.append(l)
        if l.endswith(b" EXISTS\r\n"):
            break
    assert seen[-1] == b"* 1 EXISTS\r\n", seen
    c.send(b"DONE\r\n")
    assert c.line().startswith(b"d4 OK")


def test_a_streamed_fetch_goes_through_compression(srv):
    """A FETCH big enough to go out in batches (and to fill the layers under
    DEFLATE) completes: the next batch follows as the client reads."""
    import base64
    import os
    body = base64.encodebytes(os.urandom(400_000)).replace(b"\n", b"\r\n")
    msg = b"From: a@remote.test\r\nSubject: big\r\n\r\n" + body
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.port("imaps"), ssl_context=tls_client_context())
    m.login(USER, PASSWORD)
    for _ in range(3):
        m.append("INBOX", None, None, msg)
    m.logout()
    c = Client(srv)
    c.cmd("f1", f'LOGIN "{USER}" "{PASSWORD}"')
    c.start_compress("f2")
    c.cmd("f3", "SELECT INBOX")
    untagged, done = c.cmd("f4", "FETCH 1:* BODY.PEEK[]")
    assert done.startswith(b"f4 OK"), done
    assert len(untagged) == 3 and all(msg in u for u in untagged)


def test_a_compressed_append_that_inflates_far_completes(srv):
    """A megabyte of very compressible APPEND arrives in a few kilobytes:
    inflating stops ahead of the engine and must go on without new bytes
    from the client."""
    c = Client(srv)
    c.cmd("g1", f'LOGIN "{USER}" "{PASSWORD}"')
    c.start_compress("g2")
    msg = b"Subject: big\r\n\r\n" + (b"A" * 998 + b"\r\n") * 1000
    c.send(b"g3 APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
    assert c.line().startswith(b"g3 OK [APPENDUID ")
    untagged, done = c.cmd("g4", "STATUS INBOX (MESSAGES SIZE)")
    assert done.startswith(b"g4 OK")
    assert b"MESSAGES 1" in untagged[0] and b"SIZE %d" % len(msg) in untagged[0]
