"""DKIM (src/mailauth/dkim) against an independent implementation: dkimpy.

`mailauth_dkim_tool` (built next to the outpost binary, in tests/unit/, from
tests/unit/mailauth/dkim_tool.c) makes keys, signs and verifies. Our
signatures, RSA and Ed25519, must verify with dkimpy (its DNS answered from
the TXT records our keygen printed); messages dkimpy signed — rsa-sha256 and
ed25519-sha256, simple and relaxed, with l= — must verify with us, and fail
the way the RFCs say when the body, a header or the key is not right.
"""
import base64
import os
import subprocess
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from conftest import BIN, SAN_ENV

TOOL = os.environ.get("DKIM_TOOL_BIN") or str(
    Path(BIN).resolve().parent / "tests" / "unit" / "mailauth_dkim_tool")

MSG = (b"From: Alice <alice@example.test>\r\n"
       b"To: bob@example.org\r\n"
       b"Subject: Lunch  on\r\n Friday?\r\n"
       b"Date: Tue, 24 Nov 2026 19:00:00 +0000\r\n"
       b"Message-ID: <abc.123@example.test>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: text/plain; charset=us-ascii\r\n"
       b"\r\n"
       b"Shall we?  \r\n"
       b"\tSee you there.\r\n"
       b"\r\n\r\n")


def tool(*args, input=None):
    assert Path(TOOL).exists(), f"{TOOL} not built"
    r = subprocess.run([TOOL, *map(str, args)], input=input, capture_output=True,
                       timeout=60, env=dict(os.environ, **SAN_ENV))
    assert r.returncode == 0, r.stderr
    return r.stdout


def dnsfunc_for(records):
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        txt = records.get(name.rstrip("."))
        return txt.encode() if txt else None
    return dnsfunc


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    """Our keys: {kind: (pem path, TXT text)}."""
    d = tmp_path_factory.mktemp("dkimkeys")
    keys = {}
    for kind in ("rsa", "ed25519"):
        pem = d / f"{kind}.pem"
        txt = tool("keygen", kind, pem).decode().strip()
        keys[kind] = (pem, txt)
    return keys


def test_keygen_records(ours):
    assert ours["rsa"][1].startswith("v=DKIM1; k=rsa; p=")
    assert ours["ed25519"][1].startswith("v=DKIM1; k=ed25519; p=")
    raw = base64.b64decode(ours["ed25519"][1].split("p=")[1])
    assert len(raw) == 32  # RFC 8463 §4: the raw key, not SubjectPublicKeyInfo
    pub = serialization.load_der_public_key(base64.b64decode(ours["rsa"][1].split("p=")[1]))
    assert pub.key_size == 2048


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_our_signature_verified_by_dkimpy(ours, kind):
    pem, txt = ours[kind]
    signed = tool("sign", pem, "example.test", "sel", input=MSG)
    assert signed.startswith(b"DKIM-Signature:")
    for line in signed.split(b"\r\n\r\n")[0].split(b"\r\n"):
        assert len(line) <= 78
    dns = dnsfunc_for({"sel._domainkey.example.test": txt})
    assert dkim.verify(signed, dnsfunc=dns)
    # Tampering seen by dkimpy too: a changed body, an added From.
    assert not dkim.verify(signed.replace(b"Shall we?", b"Shall we!"), dnsfunc=dns)
    added = signed.replace(b"From: Alice", b"From: Mallory <m@evil.test>\r\nFrom: Alice", 1)
    assert not dkim.verify(added, dnsfunc=dns)


def test_both_signatures_verified_by_dkimpy(ours):
    signed = tool("sign", ours["rsa"][0], "example.test", "r", input=MSG)
    signed = tool("sign", ours["ed25519"][0], "example.test", "e", input=signed)
    dns = dnsfunc_for({"r._domainkey.example.test": ours["rsa"][1],
                       "e._domainkey.example.test": ours["ed25519"][1]})
    d = dkim.DKIM(signed)
    assert d.verify(idx=0, dnsfunc=dns)
    assert d.verify(idx=1, dnsfunc=dns)
    # And by us.
    keys = "".join(f"{n} {t}\n" for n, t in [("r._domainkey.example.test", ours["rsa"][1]),
                                             ("e._domainkey.example.test", ours["ed25519"][1])])
    assert verify_ours(signed, keys) == ["pass", "pass"]


def test_our_expiry_seen_by_dkimpy(ours):
    signed = tool("sign", ours["rsa"][0], "example.test", "sel", 1000000000, 3600, input=MSG)
    assert b"t=1000000000;" in signed and b"x=1000003600;" in signed
    dns = dnsfunc_for({"sel._domainkey.example.test": ours["rsa"][1]})
    assert not dkim.verify(signed, dnsfunc=dns)  # long expired


# ---- dkimpy signs, we verify ----

@pytest.fixture(scope="module")
def theirs():
    """dkimpy-format keys: {kind: (private key bytes, TXT text)}."""
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                          serialization.NoEncryption())
    spki = k.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    e = ed25519.Ed25519PrivateKey.generate()
    seed = e.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                           serialization.NoEncryption())
    pub = e.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "rsa": (pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode()),
        "ed25519": (base64.b64encode(seed), "v=DKIM1; k=ed25519; p=" + base64.b64encode(pub).decode()),
    }


def verify_ours(msg, keys, tmp=None, now=1700000000):
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"dkimkeys-{os.getpid()}"
    path.write_text(keys)
    try:
        out = tool("verify", now, path, input=msg).decode()
    finally:
        path.unlink()
    return [line.split()[0] for line in out.splitlines()]


def their_sign(theirs, kind, canon, length=False, msg=MSG):
    key, _ = theirs[kind]
    alg = b"rsa-sha256" if kind == "rsa" else b"ed25519-sha256"
    sig = dkim.sign(msg, b"them", b"example.net", key, canonicalize=canon, length=length,
                    signature_algorithm=alg,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + msg


CASES = [(kind, canon, length)
         for kind in ("rsa", "ed25519")
         for canon in ((b"relaxed", b"relaxed"), (b"simple", b"simple"),
                       (b"relaxed", b"simple"), (b"simple", b"relaxed"))
         for length in (False, True)]


@pytest.mark.parametrize("kind,canon,length", CASES)
def test_dkimpy_signature_verified_by_us(theirs, kind, canon, length):
    signed = their_sign(theirs, kind, canon, length)
    if length:
        assert b"l=" in signed
    keys = f"them._domainkey.example.net {theirs[kind][1]}\n"
    assert verify_ours(signed, keys) == ["pass"]
    # Body changed.
    changed = signed.replace(b"Shall we?", b"Shall we!")
    assert verify_ours(changed, keys) == ["fail"]
    # Header changed.
    changed = signed.replace(b"Subject: Lunch", b"Subject: Dinner")
    assert verify_ours(changed, keys) == ["fail"]
    # Text added after the signed length: still a pass with l=, a fail without.
    appended = signed + b"-- \r\nadded by a list\r\n"
    assert verify_ours(appended, keys) == (["pass"] if length else ["fail"])


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_dkimpy_key_problems(theirs, kind):
    signed = their_sign(theirs, kind, (b"relaxed", b"relaxed"))
    # No key record at all: a permanent error; a DNS failure: temporary.
    assert verify_ours(signed, "") == ["permerror"]
    assert verify_ours(signed, "them._domainkey.example.net !temp\n") == ["temperror"]
    # Revoked key, a key of the other type.
    assert verify_ours(signed, "them._domainkey.example.net v=DKIM1; p=\n") == ["permerror"]
    other = theirs["ed25519" if kind == "rsa" else "rsa"][1]
    assert verify_ours(signed, f"them._domainkey.example.net {other}\n") == ["permerror"]
    assert verify_ours(signed, "them._domainkey.example.net v=DKIM1; p=!!!\n") == ["permerror"]


def test_dkimpy_rsa_sha1_is_policy(theirs):
    key, txt = theirs["rsa"]
    sig = dkim.sign(MSG, b"them", b"example.net", key, signature_algorithm=b"rsa-sha1")
    assert verify_ours(sig + MSG, f"them._domainkey.example.net {txt}\n") == ["policy"]


def test_unsigned():
    assert verify_ours(MSG, "") == ["none"]
