"""A raw IMAP client for tests that check the server's responses byte for byte.

`Wire` sends command lines exactly as written and reads whole responses: a
line, and when it ends with a literal announcement `{n}`, the n octets and the
rest of the response after them, so a response with a literal comes back as
one bytes object, as it was on the wire. `fetch_items` splits a FETCH
response into its data items (raw bytes, so comparisons stay exact), and
`ScramClient` is the client side of SCRAM-SHA-256 (RFC 5802, RFC 7677).
"""
import base64
import hashlib
import hmac
import os
import re
import socket

LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")


class Wire:
    def __init__(self, sock, timeout=10):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.f = sock.makefile("rb")
        self.greeting = None

    @classmethod
    def connect(cls, srv, service="imaps", timeout=10):
        w = cls(srv.connect(service, timeout=timeout), timeout)
        w.greeting = w.response()
        return w

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _read(self, n):
        data = self.f.read(n)
        if data is None or len(data) < n:
            raise EOFError(f"connection closed inside a {n}-octet literal")
        return data

    def response(self):
        """One whole response (its literals included), or EOFError."""
        out = b""
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError(f"connection closed; partial response {out!r}")
            out += line
            m = LITERAL_AT_END.search(line)
            if not m:
                return out
            out += self._read(int(m.group(1)))

    def until_tagged(self, tag):
        """Responses up to the tagged one: (list of untagged, tagged)."""
        untagged = []
        prefix = tag.encode() + b" " if isinstance(tag, str) else tag + b" "
        while True:
            r = self.response()
            if r.startswith(prefix):
                return untagged, r
            untagged.append(r)

    def command(self, tag, text):
        """Sends `TAG TEXT` and returns (untagged responses, tagged response)."""
        self.send(f"{tag} {text}\r\n")
        return self.until_tagged(tag)

    def command_literal(self, tag, head, literal, tail=b""):
        """`TAG HEAD {n}` + continuation + literal + TAIL: returns
        (continuation line, untagged, tagged)."""
        if isinstance(head, str):
            head = head.encode()
        self.send(b"%s %s {%d}\r\n" % (tag.encode(), head, len(literal)))
        cont = self.response()
        if not cont.startswith(b"+"):
            return cont, [], cont
        self.send(literal + tail + b"\r\n")
        untagged, tagged = self.until_tagged(tag)
        return cont, untagged, tagged

    def starttls(self, ctx):
        self.sock = ctx.wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")

    def at_eof(self, timeout=5):
        """True when the server has closed the connection (after what it sent)."""
        self.sock.settimeout(timeout)
        try:
            rest = self.f.read()
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True
        return rest == b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- FETCH responses ----

FETCH_HEAD = re.compile(rb"^\* (\d+) FETCH \(")


def _skip_value(b, i):
    """Index just past the value starting at b[i] (list, string, literal, atom)."""
    c = b[i:i + 1]
    if c == b"(":
        depth = 0
        while True:
            c = b[i:i + 1]
            if c == b"":
                raise ValueError(f"unbalanced parentheses in {b!r}")
            if c == b'"':
                i = _skip_value(b, i)
                continue
            if c == b"{":
                i = _skip_value(b, i)
                continue
            i += 1
            if c == b"(":
                depth += 1
            elif c == b")":
                depth -= 1
                if depth == 0:
                    return i
    if c == b'"':
        i += 1
        while b[i:i + 1] != b'"':
            i += 2 if b[i:i + 1] == b"\\" else 1
            if i >= len(b):
                raise ValueError(f"unterminated string in {b!r}")
        return i + 1
    if c == b"{":
        m = re.compile(rb"\{(\d+)\+?\}\r\n").match(b, i)
        if not m:
            raise ValueError(f"bad literal at {i} in {b!r}")
        return m.end() + int(m.group(1))
    # An atom; a section spec [...] may hold spaces and parentheses.
    while i < len(b) and b[i:i + 1] not in (b" ", b")", b"\r"):
        if b[i:i + 1] == b"[":
            i = b.index(b"]", i) + 1
        else:
            i += 1
    return i


def fetch_items(resp):
    """`* N FETCH (...)` -> (N, {item name: raw value bytes}), in wire order."""
    m = FETCH_HEAD.match(resp)
    assert m, f"not a FETCH response: {resp!r}"
    items = {}
    i = m.end()
    while True:
        if resp[i:i + 1] == b")":
            assert resp[i + 1:] == b"\r\n", f"junk after FETCH response: {resp!r}"
            return int(m.group(1)), items
        j = _skip_value(resp, i)
        name = resp[i:j].decode()
        assert resp[j:j + 1] == b" ", f"no value after {name} in {resp!r}"
        k = _skip_value(resp, j + 1)
        assert name not in items, f"{name} twice in {resp!r}"
        items[name] = resp[j + 1:k]
        i = k
        if resp[i:i + 1] == b" ":
            i += 1


def flag_set(raw):
    """b'(\\Seen \\Deleted)' -> {'\\Seen', '\\Deleted'}"""
    assert raw.startswith(b"(") and raw.endswith(b")"), raw
    return set(raw[1:-1].decode().split())


# ---- SCRAM-SHA-256 (client side) ----

def _b64(b):
    return base64.b64encode(b).decode()


class ScramClient:
    def __init__(self, user, password):
        self.user = user.replace("=", "=3D").replace(",", "=2C")
        self.password = password.encode()
        self.nonce = _b64(os.urandom(18))
        self.first_bare = f"n={self.user},r={self.nonce}"

    def first(self):
        return ("n,," + self.first_bare).encode()

    def final(self, server_first):
        server_first = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        assert attrs["r"].startswith(self.nonce), server_first
        salt = base64.b64decode(attrs["s"])
        salted = hashlib.pbkdf2_hmac("sha256", self.password, salt, int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth_message = f"{self.first_bare},{server_first},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.expected_server_signature = hmac.new(server_key, auth_message,
                                                  hashlib.sha256).digest()
        return f"{without_proof},p={_b64(proof)}".encode()

    def verify(self, server_final):
        assert server_final.decode() == "v=" + _b64(self.expected_server_signature), server_final
