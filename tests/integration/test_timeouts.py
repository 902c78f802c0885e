"""Idle timeouts say why before closing: SMTP 421 4.4.2 (RFC 5321 4.5.3.2),
IMAP * BYE (RFC 9051 5.4), also in the middle of IDLE. Both run at once on
the shortest timeouts the settings allow (10 s)."""
import socket
import time

import pytest

from conftest import tls_client_context

USER = "slow@example.test"
PASSWORD = "a slow client's password"


@pytest.fixture
def srv(make_server):
    s = make_server()
    s.quickstart()
    s.add_account(USER, PASSWORD)
    s.set("smtp", "command_timeout", "10s")
    s.set("imap", "idle_timeout", "10s")
    return s.start()


def read_all(sock, limit=30):
    sock.settimeout(limit)
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def test_idle_clients_are_told_before_being_closed(srv):
    smtp = srv.connect("smtp", timeout=30)
    assert smtp.recv(512).startswith(b"220 ")
    smtp.sendall(b"EHLO slow.example\r\n")
    time.sleep(0.5)
    smtp.recv(4096)
    imap = srv.connect("imaps", timeout=30)
    assert imap.recv(512).startswith(b"* OK")
    imap.sendall(f'a1 LOGIN "{USER}" "{PASSWORD}"\r\n'.encode())
    line = b""
    while b"a1 " not in line:
        line += imap.recv(4096)
    assert b"a1 OK" in line
    imap.sendall(b"a2 SELECT INBOX\r\n")
    line = b""
    while b"a2 " not in line:
        line += imap.recv(4096)
    imap.sendall(b"a3 IDLE\r\n")
    assert imap.recv(512).startswith(b"+ ")
    started = time.monotonic()
    smtp_rest = read_all(smtp)
    imap_rest = read_all(imap)
    assert time.monotonic() - started < 25
    assert smtp_rest.startswith(b"421 4.4.2 ") and smtp_rest.endswith(b"\r\n"), smtp_rest
    assert imap_rest.startswith(b"* BYE "), imap_rest
