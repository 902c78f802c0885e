"""Delivery reports (src/smtp/bounce) read by an independent parser.

`smtp_bounce_sample` (built next to the outpost binary, in tests/unit/, from
tests/unit/smtp/bounce_sample.c) writes one report per case; Python's email
package parses each with the default policy, and the test checks what a mail
client or a bounce processor would rely on: a multipart/report of three
parts, the delivery-status fields of each recipient, the original message or
its header, no parser defects anywhere, and nothing a hostile remote server
wrote turned into a header field or a MIME part.
"""
import email
import email.policy
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, SAN_ENV

SAMPLE = os.environ.get("BOUNCE_SAMPLE_BIN") or str(
    Path(BIN).resolve().parent / "tests" / "unit" / "smtp_bounce_sample")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    assert Path(SAMPLE).exists(), f"{SAMPLE} not built"
    r = subprocess.run([SAMPLE, str(d)], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **SAN_ENV))
    assert r.returncode == 0, r.stderr
    return {p.stem: p.read_bytes() for p in d.glob("*.eml")}


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def all_defects(msg):
    """Defects of the message and of every part, at any depth."""
    found = list(msg.defects)
    for part in msg.walk():
        found += part.defects
        if part.get_content_maintype() == "message" and isinstance(part.get_payload(), list):
            for inner in part.get_payload():
                found += all_defects(inner)
    return found


def recipient_blocks(msg):
    """The per-recipient field blocks of the message/delivery-status part."""
    ds = list(msg.iter_parts())[1]
    assert ds.get_content_type() == "message/delivery-status"
    blocks = ds.get_payload()
    assert blocks[0]["Reporting-MTA"] == "dns; mail.example.test"
    return blocks[1:]


def check_report(raw, third):
    msg = parse(raw)
    assert msg.is_multipart()
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") in ("delivery-status", "global-delivery-status")
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["From"].addresses[0].addr_spec == "MAILER-DAEMON@mail.example.test"
    assert msg["To"].addresses[0].addr_spec == "alice@example.test"
    assert msg["Message-ID"] == "<q1.dsn@mail.example.test>"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts][0] == "text/plain"
    assert parts[2].get_content_type() == third
    assert all_defects(msg) == []
    # Every line ends in CRLF and fits in 998 octets.
    for line in raw.split(b"\r\n")[:-1]:
        assert b"\n" not in line and b"\r" not in line and len(line) <= 998
    assert raw.endswith(b"\r\n")
    return msg


def test_failure_report(reports):
    msg = check_report(reports["failure"], "message/rfc822")
    assert msg["Subject"] == "Undelivered mail: Lunch on Friday?"
    assert msg["In-Reply-To"] == "<abc.123@example.test>"
    assert msg["References"] == "<abc.123@example.test>"
    jane, bob = recipient_blocks(msg)
    assert jane["Original-Recipient"] == "rfc822; Jane@Example.org"
    assert jane["Final-Recipient"] == "rfc822; jane@example.org"
    assert jane["Action"] == "failed"
    assert jane["Status"] == "5.1.1"
    assert jane["Remote-MTA"] == "dns; mx.example.org"
    # The reply on one line, its code once, the lines joined.
    assert jane["Diagnostic-Code"] == (
        "smtp; 550 5.1.1 The email account that you tried to reach does not exist. Please try "
        "double-checking the recipient's email address for typos or unnecessary spaces. For "
        "more information, go to https://support.google.com/mail/?p=NoSuchUser a1si gsmtp")
    assert bob["Final-Recipient"] == "rfc822; bob@example.net"
    assert bob["Status"] == "5.7.1"
    assert "blocked using zen.spamhaus.org" in bob["Diagnostic-Code"]

    text = list(msg.iter_parts())[0].get_content()
    assert "The address jane@example.org does not exist at example.org." in " ".join(text.split())
    assert "blocklist" in text and "outpost reputation status" in text
    assert "postmaster@example.test" in text

    # The whole original comes back, as a message.
    orig = list(msg.iter_parts())[2].get_payload()[0]
    assert orig["Message-ID"] == "<abc.123@example.test>"
    assert orig["Subject"] == "Lunch on Friday?"
    assert orig.get_content().rstrip() == "Shall we?"


def test_delay_report(reports):
    msg = check_report(reports["delay"], "text/rfc822-headers")
    assert msg["Subject"] == "Delayed mail (still trying): Lunch on Friday?"
    (bob,) = recipient_blocks(msg)
    assert bob["Action"] == "delayed"
    assert bob["Status"] == "4.2.0"
    assert bob["Will-Retry-Until"] == "Sun, 29 Nov 2026 19:51:38 +0000"
    assert bob["Last-Attempt-Date"] == "Tue, 24 Nov 2026 19:51:38 +0000"
    text = " ".join(list(msg.iter_parts())[0].get_content().split())
    assert "greylisting" in text
    assert "We will keep trying until Sun, 29 Nov 2026 19:51 UTC" in text
    # The header of the original, parsed as one: no body.
    headers = parse(list(msg.iter_parts())[2].get_content().encode())
    assert headers["Message-ID"] == "<abc.123@example.test>"
    assert "Shall we?" not in list(msg.iter_parts())[2].get_content()


def test_success_report(reports):
    msg = check_report(reports["success"], "text/rfc822-headers")
    assert msg["Subject"] == "Delivered: Lunch on Friday?"
    (bob,) = recipient_blocks(msg)
    assert bob["Action"] == "delivered"
    assert bob["Status"] == "2.0.0"
    assert bob["Diagnostic-Code"] == "smtp; 250 2.0.0 OK 1795549898 a1-20020a05"


def test_hostile_reply_injects_nothing(reports):
    raw = reports["hostile"]
    msg = check_report(raw, "message/rfc822")
    assert "X-Injected" not in msg
    for part in msg.walk():
        assert "X-Injected" not in part
        assert part.get_content_type() != "text/html"
    assert len(list(msg.iter_parts())) == 3
    (jane,) = recipient_blocks(msg)
    assert set(jane.keys()) == {"Final-Recipient", "Action", "Status", "Remote-MTA",
                                "Diagnostic-Code"}
    assert jane["Remote-MTA"] == "dns; mx.example.org"
    diag = jane["Diagnostic-Code"]
    assert diag.startswith("smtp; 550 5.1.1 no such user X-Injected: yes --=_outpost_q1_0")
    assert diag.endswith("AAA...")
    assert "\x01" not in diag and "\x1b" not in diag
    # The original held two candidate boundaries; a third was chosen.
    assert msg.get_boundary() == "=_outpost_q1_2"
    orig = list(msg.iter_parts())[2].get_payload()[0]
    assert orig["X-Note"] == "--=_outpost_q1_1"


def test_utf8_report_without_smtputf8(reports):
    raw = reports["utf8"]
    assert all(b < 0x80 for b in raw)  # sendable anywhere
    msg = check_report(raw, "text/rfc822-headers")
    assert msg["Subject"] == "Undelivered mail: R\u00e9union \u20ac 2026"
    (j,) = recipient_blocks(msg)
    assert j["Final-Recipient"] == "utf-8; j\\x{F8}rn@ex\\x{E4}mple.org"
    assert j["Original-Recipient"] == "utf-8; J\\x{F8}rn@ex\\x{E4}mple.org"
    text = list(msg.iter_parts())[0].get_content()
    assert "j\u00f8rn@ex\u00e4mple.org" in text
    assert "R\u00e9union" in text
    assert "From: J\u00f8rn <j@example.test>" in list(msg.iter_parts())[2].get_content()


def test_utf8_report_with_smtputf8(reports):
    msg = check_report(reports["global"], "message/global")
    assert msg.get_param("report-type") == "global-delivery-status"
    parts = list(msg.iter_parts())
    assert parts[1].get_content_type() == "message/global-delivery-status"
    assert "Final-Recipient: utf-8; j\u00f8rn@ex\u00e4mple.org" in reports["global"].decode()
    assert "j\u00f8rn@ex\u00e4mple.org" in parts[0].get_content()
    orig = parts[2].get_payload()[0]
    assert orig["Subject"] == "R\u00e9union \u20ac 2026"


def test_our_own_reasons(reports):
    msg = check_report(reports["ours"], "text/rfc822-headers")
    a, b = recipient_blocks(msg)
    assert a["Status"] == "5.1.2"
    assert a["Diagnostic-Code"] == "X-Outpost; the domain nowhere.invalid does not exist"
    assert "Remote-MTA" not in a
    assert b["Status"] == "4.4.1"
    text = " ".join(list(msg.iter_parts())[0].get_content().split())
    assert "The domain nowhere.invalid does not exist, or has no mail servers." in text
    assert "We could not reach the mail server of example.org" in text
