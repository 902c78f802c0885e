"""A real Postfix (Debian's, with its own configuration on 127.0.0.2) relays
mail to outpost's MX, as a remote mail server would."""
import smtplib
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
from postfix import Postfix  # noqa: E402
from conftest import free_port_base, port_free  # noqa: E402


@pytest.fixture
def relay_pair(make_server, server_root):
    srv = make_server()
    srv.quickstart()
    srv.add_account("bob@example.test")
    srv.start()
    port = next(p for p in range(free_port_base() + 1, 65000) if port_free(p, "127.0.0.2"))
    pf = Postfix(server_root / "postfix", ip="127.0.0.2", port=port,
                 relay_domains=["example.test"],
                 relayhost=f"[127.0.0.1]:{srv.port('smtp')}")
    pf.start()
    yield srv, pf
    pf.stop()


def wait_for(fn, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return fn()


def test_postfix_relays_a_message_into_the_inbox(relay_pair):
    srv, pf = relay_pair
    msg = (b"From: Carol <carol@remote.test>\r\nTo: bob@example.test\r\n"
           b"Subject: through postfix\r\nMessage-ID: <pf-1@remote.test>\r\n\r\n"
           b"Hello Bob, via a real MTA.\r\n")
    with smtplib.SMTP(pf.ip, pf.port, timeout=10) as c:
        c.sendmail("carol@remote.test", ["bob@example.test"], msg)
    got = wait_for(lambda: srv.messages("bob@example.test"))
    assert got, f"nothing arrived\n--- postfix log ---\n{pf.log()}"
    stored = got[0]
    assert stored.startswith(b"Return-Path: <carol@remote.test>\r\nReceived: from relay.test "
                             b"([127.0.0.1])\r\n\tby mail.example.test (outpost) with ESMTPS id ")
    # Postfix used STARTTLS with outpost (opportunistic, as on the internet).
    assert b"(version=TLSv1.3 cipher=" in stored.split(b"\r\n\r\n")[0]
    assert b"by relay.test (Postfix)" in stored
    assert b"\r\nSubject: through postfix\r\nMessage-ID: <pf-1@remote.test>\r\n" in stored
    assert stored.endswith(b"\r\n\r\nHello Bob, via a real MTA.\r\n")
    assert "status=sent" in pf.log()
    srv.wait_log(" smtp deliver ")


def test_postfix_gets_a_permanent_refusal_for_an_unknown_user(relay_pair):
    srv, pf = relay_pair
    with smtplib.SMTP(pf.ip, pf.port, timeout=10) as c:
        c.sendmail("carol@remote.test", ["nobody@example.test"], b"Subject: x\r\n\r\nx\r\n")
    assert wait_for(lambda: "status=bounced" in pf.log()), pf.log()
    assert "550 5.1.1 <nobody@example.test>: No such user here" in pf.log()
