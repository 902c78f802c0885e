"""Domains, accounts and aliases through the command line (docs/cli.md)."""
import concurrent.futures
import hashlib
import hmac
import re
import sqlite3

import nacl.pwhash
import pytest

from conftest import run_cli


@pytest.fixture
def srv(make_server):
    s = make_server()
    r = s.quickstart()
    s.quickstart_output = r.stdout
    return s


def db(srv):
    return sqlite3.connect(f"file:{srv.dir / 'data' / 'outpost.db'}?mode=ro", uri=True)


def ok(r):
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout


def fails(r, code=1):
    assert r.returncode == code, (r.stdout, r.stderr)
    return r.stderr


def password_of(srv, address):
    row = db(srv).execute(
        "SELECT a.password_hash, a.scram_salt, a.scram_iterations, a.scram_stored_key,"
        " a.scram_server_key FROM accounts a JOIN domains d ON d.id = a.domain_id"
        " WHERE a.localpart_key || '@' || d.name = ?", (address.lower(),)).fetchone()
    assert row, f"no account {address}"
    return row


def check_password(srv, address, password):
    """The stored argon2id hash and SCRAM-SHA-256 keys both match `password`."""
    hash_, salt, iterations, stored, server = password_of(srv, address)
    assert hash_.startswith("$argon2id$")
    assert nacl.pwhash.verify(hash_.encode(), password.encode())
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    assert hashlib.sha256(client_key).digest() == stored
    assert hmac.new(salted, b"Server Key", "sha256").digest() == server
    assert iterations >= 4096


def test_quickstart_makes_the_domain_and_the_administrator(srv):
    m = re.search(r"Administrator: (\S+)\nPassword \(shown only now\): (\S+)\n",
                  srv.quickstart_output)
    assert m, srv.quickstart_output
    assert m.group(1) == "postmaster@example.test"
    check_password(srv, "postmaster@example.test", m.group(2))
    assert ok(srv.cli("domain", "list")) == "example.test\taccounts=1\taliases=0\n"
    assert ok(srv.cli("account", "list")) == \
        "postmaster@example.test\tname=Administrator\tquota=none\tenabled\n"


def test_quickstart_admin_name(make_server):
    s = make_server()
    s.quickstart("--admin", "boss")
    assert ok(s.cli("account", "list")).startswith("boss@example.test\t")


def test_domains(srv):
    assert "Added domain" in ok(srv.cli("domain", "add", "Other.TEST"))
    ok(srv.cli("domain", "add", "bücher.example"))
    assert "exists already" in fails(srv.cli("domain", "add", "other.test"))
    assert "exists already" in fails(srv.cli("domain", "add", "xn--bcher-kva.example"))
    assert ok(srv.cli("domain", "list")) == (  # in A-label order
        "example.test\taccounts=1\taliases=0\n"
        "other.test\taccounts=0\taliases=0\n"
        "bücher.example (xn--bcher-kva.example)\taccounts=0\taliases=0\n")
    for bad in ["nodots", "bad_domain.test", "-x.test", "a..b.test", "x" * 64 + ".test"]:
        err = fails(srv.cli("domain", "add", bad))
        assert err.startswith(f"outpost domain add: {bad}: "), err
    ok(srv.cli("domain", "del", "OTHER.test"))
    assert "no domain other.test" in fails(srv.cli("domain", "del", "other.test"))
    err = fails(srv.cli("domain", "del", "example.test"))
    assert "still has 1 account and 0 aliases; delete them first" in err


def test_account_with_password_from_stdin(srv):
    out = ok(srv.cli("account", "add", "Alice@Example.TEST", "--name", "Alice Liddell",
                     "--quota", "2G", "--password-stdin", input="correct horse\n"))
    assert "Password" not in out
    check_password(srv, "alice@example.test", "correct horse")
    listing = ok(srv.cli("account", "list", "example.test"))
    assert "Alice@example.test\tname=Alice Liddell\tquota=2G\tenabled\n" in listing


def test_account_generated_password_is_shown_once_and_works(srv):
    out = ok(srv.cli("account", "add", "bob@example.test"))
    pw = re.search(r"Password \(shown only now\): (\S+)", out).group(1)
    assert len(pw) == 20
    check_password(srv, "bob@example.test", pw)
    # Changing it: the old one stops working, the new one works.
    out = ok(srv.cli("account", "passwd", "BOB@example.test"))
    new = re.search(r"Password \(shown only now\): (\S+)", out).group(1)
    assert new != pw
    check_password(srv, "bob@example.test", new)
    with pytest.raises(Exception):
        check_password(srv, "bob@example.test", pw)
    ok(srv.cli("account", "passwd", "bob@example.test", "--password-stdin", input="s3cret\n"))
    check_password(srv, "bob@example.test", "s3cret")


def test_account_errors(srv):
    ok(srv.cli("account", "add", "carol@example.test"))
    assert "exists already" in fails(srv.cli("account", "add", "CAROL@example.test"))
    assert "not one of our domains" in fails(srv.cli("account", "add", "dave@elsewhere.test"))
    assert "needs an @" in fails(srv.cli("account", "add", "carol"))
    assert "no account" in fails(srv.cli("account", "del", "nobody@example.test"))
    assert "no account" in fails(srv.cli("account", "passwd", "nobody@example.test"))
    assert "empty" in fails(srv.cli("account", "add", "e@example.test", "--password-stdin",
                                    input="\n"))
    assert "longer than" in fails(srv.cli("account", "add", "f@example.test",
                                          "--password-stdin", input="x" * 2000 + "\n"))
    fails(srv.cli("account", "add", "g@example.test", "--quota", "lots"), code=2)
    fails(srv.cli("account", "del"), code=2)
    fails(srv.cli("account", "list", "--name", "x"), code=2)
    ok(srv.cli("account", "del", "Carol@Example.Test"))
    assert "carol@" not in ok(srv.cli("account", "list"))


def test_aliases_and_catch_all(srv):
    ok(srv.cli("account", "add", "alice@example.test"))
    out = ok(srv.cli("alias", "add", "team@example.test", "alice@example.test",
                     "Bob@Remote.TEST"))
    assert "added 2 targets" in out
    ok(srv.cli("alias", "add", "team@example.test", "carol@remote.test"))
    ok(srv.cli("alias", "add", "@example.test", "alice@example.test"))
    assert ok(srv.cli("alias", "list")) == (
        "@example.test\talice@example.test\n"
        "team@example.test\talice@example.test Bob@remote.test carol@remote.test\n")
    assert "is an account" in fails(srv.cli("alias", "add", "alice@example.test",
                                            "x@remote.test"))
    assert "exists already" in fails(srv.cli("account", "add", "team@example.test"))
    assert "not one of our domains" in fails(srv.cli("alias", "add", "a@remote.test",
                                                     "alice@example.test"))
    ok(srv.cli("alias", "del", "team@example.test", "carol@remote.test"))
    assert "carol" not in ok(srv.cli("alias", "list"))
    assert "is not a target" in fails(srv.cli("alias", "del", "team@example.test",
                                              "zed@remote.test"))
    ok(srv.cli("alias", "del", "team@example.test"))
    ok(srv.cli("alias", "del", "@example.test"))
    assert ok(srv.cli("alias", "list")) == ""
    assert "no alias" in fails(srv.cli("alias", "del", "team@example.test"))


def test_removing_the_last_target_removes_the_alias(srv):
    ok(srv.cli("alias", "add", "solo@example.test", "x@remote.test"))
    ok(srv.cli("alias", "del", "solo@example.test", "x@remote.test"))
    assert ok(srv.cli("alias", "list")) == ""
    assert ok(srv.cli("domain", "list")) == "example.test\taccounts=1\taliases=0\n"


def test_concurrent_commands_all_succeed(srv):
    def add(i):
        return srv.cli("account", "add", f"user{i}@example.test", "--password-stdin",
                       input=f"pw{i}\n")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(add, range(16)))
    for r in results:
        assert r.returncode == 0, r.stderr
    assert ok(srv.cli("account", "list")).count("@example.test\t") == 17


def test_store_files_belong_to_the_server_user(srv):
    import os
    import pwd
    if os.geteuid() != 0:
        pytest.skip("ownership only changes when run as root")
    ok(srv.cli("account", "add", "z@example.test"))
    uid = pwd.getpwnam("outpost").pw_uid
    for f in (srv.dir / "data").iterdir():
        assert f.stat().st_uid == uid, f
        assert f.stat().st_mode & 0o007 == 0, f


def test_commands_work_while_serve_runs(server):
    # serve holds the store open; the commands change it at the same time.
    ok(server.cli("domain", "add", "live.test"))
    ok(server.cli("account", "add", "x@live.test", "--password-stdin", input="pw\n"))
    ok(server.cli("alias", "add", "y@live.test", "x@live.test"))
    check_password(server, "x@live.test", "pw")
    assert "x@live.test" in ok(server.cli("account", "list", "live.test"))
    assert server.proc.poll() is None


def test_serve_reports_an_unreachable_data_directory(make_server):
    import os
    if os.geteuid() != 0:
        pytest.skip("needs root to make a directory the server user cannot enter")
    s = make_server()
    s.quickstart()
    os.chmod(s.dir / "data", 0o000)
    try:
        r = fails(run_cli("serve", "-c", str(s.conf)))
        assert "data/outpost.db" in r
    finally:
        os.chmod(s.dir / "data", 0o700)


def test_a_deleted_accounts_mail_is_set_aside_and_never_inherited(srv):
    ok(srv.cli("account", "add", "old@example.test"))
    old_id = db(srv).execute("SELECT id FROM accounts WHERE localpart_key = 'old'").fetchone()[0]
    maildir = srv.dir / "data" / "accounts" / str(old_id)
    maildir.mkdir(parents=True)
    (maildir / "index.db").write_text("the old account's mail")
    import os
    import pwd
    if os.geteuid() == 0:  # as the server would have made them
        uid = pwd.getpwnam("outpost").pw_uid
        for p in (maildir.parent, maildir, maildir / "index.db"):
            os.chown(p, uid, uid)
    ok(srv.cli("account", "del", "old@example.test"))
    assert not maildir.exists()
    aside = [p.name for p in (srv.dir / "data" / "accounts").iterdir()]
    assert any(n.startswith(f"{old_id}.deleted-") for n in aside), aside
    ok(srv.cli("account", "add", "new@example.test"))
    new_id = db(srv).execute("SELECT id FROM accounts WHERE localpart_key = 'new'").fetchone()[0]
    assert new_id > old_id
