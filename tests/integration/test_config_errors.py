"""A bad config gives one line, FILE:LINE: what is wrong, and exit 1 — never a crash."""
import os

import pytest

from conftest import run_cli

BASE = """[server]
hostname = mail.example.test
user = outpost

[tls]
cert = tls/cert.pem
key = tls/key.pem

[listen]
smtp = 127.0.0.1:{smtp}
submission =
submissions =
imap =
imaps =
pop3 =
pop3s =
http =
https =
"""


@pytest.fixture
def confdir(make_server):
    """A quickstarted directory whose config we rewrite per test."""
    srv = make_server()
    srv.quickstart()
    return srv


CASES = [
    # (edit: (old, new) applied to BASE, expected line number, expected message)
    (("user = outpost\n", "user = outpost\ncolour = blue\n"), 4,
     "unknown setting [server] colour"),
    (("[tls]\n", "[tsl]\n"), 5, "unknown section [tsl]"),
    (("smtp = 127.0.0.1:{smtp}", "smtp = 127.0.0.1:70000"), 10,
     "[listen] smtp: port out of range 1-65535"),
    (("smtp = 127.0.0.1:{smtp}", "smtp = localhost:25"), 10,
     "[listen] smtp: not an IP address"),
    (("cert = tls/cert.pem", "cert = tls/missing.pem"), 6,
     "[tls] cert: tls/missing.pem: No such file or directory"),
    (("user = outpost\n", "user = outpost\nworkers = 0\n"), 4,
     "[server] workers: 0 is out of range 1-64"),
    (("user = outpost\n", "user = outpost\nshutdown_timeout = soon\n"), 4,
     "[server] shutdown_timeout: 'soon' is not a duration"),
    (("user = outpost\n", "user = outpost\nlog_level = loud\n"), 4,
     "[server] log_level: must be debug, info, warn or error"),
    (("user = outpost\n", "user = outpost\nuser = root\n"), 4,
     "[server] user is set twice (first on line 3)"),
    (("[tls]\n", "[tls\n"), 5, "expected \"key = value\" or \"[section]\""),
    (("submission =\n", "submission = 127.0.0.1:{smtp}\n"), 11,
     "[listen] submission: 127.0.0.1:{smtp} is also used by [listen] smtp"),
    (("user = outpost\n", "user = outpost\n  more\n"), 4,
     "[server] user: only a list continues on an indented line"),
]


@pytest.mark.parametrize("edit,line,message", CASES, ids=[c[2][:40] for c in CASES])
@pytest.mark.parametrize("command", [["config", "check"], ["serve"]])
def test_bad_config_is_one_line_with_file_and_line(confdir, command, edit, line, message):
    smtp = str(confdir.port("smtp"))
    text = BASE.replace(edit[0], edit[1]).replace("{smtp}", smtp)
    confdir.conf.write_text(text)
    r = run_cli(*command, "-c", str(confdir.conf))
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"outpost: {confdir.conf}:{line}: "), lines[0]
    assert message.replace("{smtp}", smtp) in lines[0]


def test_good_base_config_passes(confdir):
    confdir.conf.write_text(BASE.replace("{smtp}", str(confdir.port("smtp"))))
    r = run_cli("config", "check", "-c", str(confdir.conf))
    assert r.returncode == 0, r.stderr


def test_missing_config_file(tmp_path):
    r = run_cli("serve", "-c", str(tmp_path / "nope.conf"))
    assert r.returncode == 1
    assert r.stderr.strip() == f"outpost: {tmp_path / 'nope.conf'}: No such file or directory"


def test_default_certificate_missing_names_the_setting(confdir):
    (confdir.dir / "tls" / "cert.pem").unlink()
    confdir.conf.write_text(BASE.replace("{smtp}", str(confdir.port("smtp")))
                            .replace("cert = tls/cert.pem\n", ""))
    r = run_cli("config", "check", "-c", str(confdir.conf))
    assert r.returncode == 1
    assert '[tls] cert (default "tls/cert.pem"): tls/cert.pem: No such file' in r.stderr


def test_certificate_that_does_not_load(confdir):
    (confdir.dir / "tls" / "cert.pem").write_text("not a certificate\n")
    confdir.conf.write_text(BASE.replace("{smtp}", str(confdir.port("smtp"))))
    r = run_cli("serve", "-c", str(confdir.conf))
    assert r.returncode == 1
    assert f"{confdir.conf}:6: [tls] cert: cannot load certificate tls/cert.pem" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_binary_garbage_is_an_error_not_a_crash(confdir):
    confdir.conf.write_bytes(b"[server]\nhostname = \x00\xff\xfe\n" + bytes(range(256)) * 4)
    r = run_cli("config", "check", "-c", str(confdir.conf))
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1


def test_config_check_loads_the_certificates_as_serve_does(confdir):
    confdir.conf.write_text(BASE.replace("{smtp}", str(confdir.port("smtp")))
                            .replace("key = tls/key.pem\n", "key = tls/key.pem\nciphers = NOPE\n"))
    for command in (["config", "check"], ["serve"]):
        r = run_cli(*command, "-c", str(confdir.conf))
        assert r.returncode == 1
        assert f"{confdir.conf}:8: [tls] ciphers: no usable cipher" in r.stderr


def test_a_wildcard_listener_clashes_with_a_specific_one(confdir):
    text = BASE.replace("smtp = 127.0.0.1:{smtp}", "smtp = *:{smtp}").replace(
        "submission =\n", "submission = 127.0.0.1:{smtp}\n").replace("{smtp}", str(confdir.port("smtp")))
    confdir.conf.write_text(text)
    r = run_cli("config", "check", "-c", str(confdir.conf))
    assert r.returncode == 1
    assert f":11: [listen] submission: 127.0.0.1:{confdir.port('smtp')} is also used by " \
           "[listen] smtp" in r.stderr or "is also used by" in r.stderr


def test_an_indented_setting_is_named(confdir):
    text = BASE.replace("{smtp}", str(confdir.port("smtp"))).replace(
        "submission =\n", "  submission =\n")
    confdir.conf.write_text(text)
    r = run_cli("config", "check", "-c", str(confdir.conf))
    assert r.returncode == 1
    assert f"{confdir.conf}:11: [listen] an indented setting reads as a continuation of smtp" \
        in r.stderr


def test_a_fifo_named_as_certificate_does_not_hang(confdir):
    os.mkfifo(confdir.dir / "tls" / "fifo.pem")
    confdir.conf.write_text(BASE.replace("{smtp}", str(confdir.port("smtp")))
                            .replace("cert = tls/cert.pem", "cert = tls/fifo.pem"))
    r = run_cli("config", "check", "-c", str(confdir.conf), timeout=10)
    assert r.returncode == 1
    assert "[tls] cert: tls/fifo.pem: not a regular file" in r.stderr
