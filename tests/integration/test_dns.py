"""DNS lookups (core/dns) through `outpost dns TYPE NAME`, against a real
authoritative server (NSD, tests/integration/dnsserver.py) on loopback
serving the zones in tests/integration/dns/: one unsigned, one signed (its
DS is outpost's trust anchor), one signed with expired signatures, and two
reverse zones. outpost forwards to NSD and validates what it can: the
signed zone is secure, the unsigned ones insecure (never bogus), a broken
signature bogus and so a temporary failure.
"""
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from conftest import free_port_base, run_cli
from dnsserver import DnsServer, zone_template

ZONES = ["example.test", "dane.test", "expired.test", "10.in-addr.arpa", "d.f.ip6.arpa"]


def make_dns(directory):
    return DnsServer(directory, zones={z: zone_template(z) for z in ZONES},
                     signed={"dane.test"}, expired={"expired.test"})


def make_config(directory, servers, trust_anchor, timeout="5s"):
    """An outpost config (quickstart) with these [dns] settings."""
    conf_dir = directory / "outpost"
    r = run_cli("quickstart", "--dir", str(conf_dir), "--domain", "example.test",
                "--hostname", "mail.example.test", "--listen", "127.0.0.1",
                "--port-base", str(free_port_base()))
    assert r.returncode == 0, r.stderr
    conf = conf_dir / "outpost.conf"
    set_dns(conf, servers=servers, trust_anchor=trust_anchor, timeout=timeout)
    return conf


def set_dns(conf, **settings):
    """Replaces the [dns] section of a config with these settings."""
    lines, skip = [], False
    for line in conf.read_text().splitlines():
        if line.strip().startswith("["):
            skip = line.strip() == "[dns]"
        if not skip:
            lines.append(line)
    lines.append("[dns]")
    lines += [f"{k} = {v}" for k, v in settings.items()]
    conf.write_text("\n".join(lines) + "\n")


class Answer:
    def __init__(self, r):
        self.code = r.returncode
        self.stderr = r.stderr
        out = r.stdout.splitlines()
        assert out and out[0].startswith("status="), (r.stdout, r.stderr)
        self.fields = dict(f.split("=", 1) for f in out[0].split())
        self.status = self.fields["status"]
        self.secure = self.fields["secure"] == "yes"
        self.bogus = self.fields.get("bogus") == "yes"
        self.records = out[1:]

    def __repr__(self):
        return f"<{self.fields} {self.records} rc={self.code} {self.stderr!r}>"


@pytest.fixture(scope="module")
def env():
    """One NSD with every zone, and a config that forwards to it with its
    trust anchor. (Not in tmp_path: quickstart run as root gives data/ to
    the `outpost` user, who must be able to reach it.)"""
    d = Path(tempfile.mkdtemp(prefix="outpost-dns-"))
    os.chmod(d, 0o755)
    srv = make_dns(d / "nsd").start()
    try:
        conf = make_config(d, srv.server, srv.trust_anchor_file())
    except BaseException:
        srv.stop()
        raise

    class Env:
        server = srv
        config = conf

        @staticmethod
        def dns(qtype, name, config=None):
            return Answer(run_cli("dns", qtype, name, "-c", str(config or conf)))

    yield Env
    srv.stop()
    shutil.rmtree(d, ignore_errors=True)


def test_mx_sorted_by_preference_equal_ones_in_random_order(env):
    orders = set()
    for _ in range(12):
        a = env.dns("mx", "example.test")
        assert (a.status, a.code, a.secure, a.bogus) == ("ok", 0, False, False), a
        assert a.fields["ttl"] == "300"
        prefs = [int(r.split()[1]) for r in a.records]
        assert prefs == [10, 10, 20], a
        assert a.records[2] == "mx 20 mx2.example.test"
        orders.add(tuple(a.records[:2]))
    assert orders == {("mx 10 mx1.example.test", "mx 10 mx3.example.test"),
                      ("mx 10 mx3.example.test", "mx 10 mx1.example.test")}


def test_mx_host_lowercased_and_trailing_dot_accepted(env):
    a = env.dns("mx", "UPPER.example.test.")
    assert a.status == "ok" and a.records == ["mx 5 mx1.example.test"], a


def test_null_mx(env):
    a = env.dns("mx", "nullmx.example.test")
    assert (a.status, a.code) == ("ok", 0), a
    assert a.fields.get("null_mx") == "yes"
    assert a.records == ["mx 0 ."]


def test_implicit_mx_when_no_mx(env):
    a = env.dns("mx", "nomx.example.test")
    assert (a.status, a.code) == ("ok", 0), a
    assert a.fields.get("implicit") == "yes"
    assert a.records == ["mx 0 nomx.example.test"]


def test_nxdomain_stays_nxdomain(env):
    a = env.dns("mx", "nothere.example.test")
    assert (a.status, a.code, a.records) == ("nxdomain", 0, []), a
    assert "implicit" not in a.fields


def test_nodata(env):
    a = env.dns("aaaa", "v4only.example.test")
    assert (a.status, a.code, a.records) == ("nodata", 0, []), a
    a = env.dns("txt", "nomx.example.test")
    assert (a.status, a.code, a.records) == ("nodata", 0, []), a


def test_a_and_aaaa_together_ipv6_first(env):
    a = env.dns("addr", "both.example.test")
    assert (a.status, a.code) == ("ok", 0), a
    assert a.records == ["aaaa 2001:db8::10", "a 192.0.2.10"]
    assert a.fields["secure6"] == "no" and a.fields["secure4"] == "no"
    a = env.dns("addr", "v6only.example.test")
    assert (a.status, a.records) == ("ok", ["aaaa 2001:db8::11"]), a
    a = env.dns("addr", "v4only.example.test")
    assert (a.status, a.records) == ("ok", ["a 192.0.2.11"]), a
    a = env.dns("addr", "nothere.example.test")
    assert (a.status, a.records) == ("nxdomain", []), a
    a = env.dns("addr", "example.test")
    assert (a.status, a.records) == ("nodata", []), a


def test_single_families_and_cname(env):
    assert env.dns("a", "mx1.example.test").records == ["a 192.0.2.1"]
    assert env.dns("aaaa", "mx1.example.test").records == ["aaaa 2001:db8::1"]
    a = env.dns("a", "alias.example.test")
    assert (a.status, a.records) == ("ok", ["a 192.0.2.1"]), a


def test_txt_strings_concatenated_per_record(env):
    a = env.dns("txt", "multi.example.test")
    assert (a.status, a.code) == ("ok", 0), a
    assert sorted(a.records) == sorted(['txt "v=spf1 ip4:192.0.2.0/24 -all"',
                                        'txt "second record"'])
    a = env.dns("txt", "quoted.example.test")
    assert a.records == ['txt "say \\"hi\\"\\\\"'], a


def test_tlsa_from_the_signed_zone_is_secure(env):
    a = env.dns("tlsa", "_25._tcp.mx.dane.test")
    assert (a.status, a.code, a.secure, a.bogus) == ("ok", 0, True, False), a
    assert a.records == ["tlsa 3 1 1 8f3c2f6a5b6e4d1c0a9b8c7d6e5f4031"
                         "2233445566778899aabbccddeeff0011"]
    a = env.dns("mx", "dane.test")
    assert (a.status, a.secure, a.records) == ("ok", True, ["mx 10 mx.dane.test"]), a
    a = env.dns("addr", "mx.dane.test")
    assert (a.status, a.secure, a.records) == ("ok", True, ["a 192.0.2.20"]), a
    assert a.fields["secure6"] == "yes" and a.fields["secure4"] == "yes"


def test_denials_in_the_signed_zone_are_secure(env):
    a = env.dns("tlsa", "_25._tcp.nothere.dane.test")
    assert (a.status, a.code, a.secure) == ("nxdomain", 0, True), a
    a = env.dns("tlsa", "mx.dane.test")
    assert (a.status, a.code, a.secure) == ("nodata", 0, True), a


def test_unsigned_zone_is_insecure_not_bogus(env):
    # The anchor is for dane.test and expired.test only: example.test is
    # outside it, so its answers are insecure, and nothing fails.
    for qtype, name in [("mx", "example.test"), ("tlsa", "_25._tcp.mx1.example.test"),
                        ("a", "mx1.example.test"), ("ptr", "10.0.0.1")]:
        a = env.dns(qtype, name)
        assert a.code == 0 and not a.secure and not a.bogus, (qtype, name, a)


def test_expired_signatures_are_bogus_tempfail(env):
    a = env.dns("mx", "expired.test")
    assert (a.status, a.code, a.secure, a.bogus, a.records) == ("tempfail", 1, False, True, []), a
    assert "expired" in a.stderr, a.stderr


def test_ptr(env):
    a = env.dns("ptr", "10.0.0.1")
    assert (a.status, a.code, a.records) == ("ok", 0, ["ptr mx1.example.test"]), a
    a = env.dns("ptr", "10.0.0.2")
    assert sorted(a.records) == ["ptr both.example.test", "ptr www.example.test"], a
    a = env.dns("ptr", "fd00::1")
    assert (a.status, a.records) == ("ok", ["ptr mx1.example.test"]), a
    # A dual-stack socket's view of an IPv4 peer is looked up as IPv4.
    a = env.dns("ptr", "::ffff:10.0.0.1")
    assert (a.status, a.records) == ("ok", ["ptr mx1.example.test"]), a
    a = env.dns("ptr", "10.0.0.99")
    assert (a.status, a.code) == ("nxdomain", 0), a


def test_names_that_cannot_be_asked_are_permfail(env):
    for name in ["a..example.test", "x" * 64 + ".example.test",
                 ".".join(["abcdefghi"] * 26), "sp ace.example.test"]:
        a = env.dns("mx", name)
        assert (a.status, a.code) == ("permfail", 1), (name, a)
        assert a.stderr.startswith("outpost dns: permfail: "), a.stderr


def test_usage(env):
    r = run_cli("dns", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: outpost dns")
    for args in [[], ["mx"], ["srv", "example.test"], ["ptr", "example.test"],
                 ["mx", "a.test", "extra"]]:
        r = run_cli("dns", *args, "-c", str(env.config))
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "usage: outpost dns" in r.stderr


def test_without_trust_anchor_nothing_is_secure_or_bogus(env, server_root):
    conf = make_config(server_root, env.server.server, "")
    a = env.dns("tlsa", "_25._tcp.mx.dane.test", config=conf)
    assert (a.status, a.secure) == ("ok", False), a
    a = env.dns("mx", "expired.test", config=conf)
    assert (a.status, a.secure, a.bogus) == ("ok", False, False), a


def test_a_server_that_does_not_answer_is_tempfail_after_the_timeout(server_root):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        conf = make_config(server_root, f"127.0.0.1@{port}", "", timeout="1s")
        start = time.monotonic()
        r = run_cli("dns", "mx", "example.test", "-c", str(conf))
        took = time.monotonic() - start
        assert silent.recv(512), "the query never reached the server"
    a = Answer(r)
    assert (a.status, a.code) == ("tempfail", 1), a
    assert "timed out" in a.stderr
    assert 0.9 < took < 8, took


def test_a_forged_record_is_bogus(server_root):
    srv = make_dns(server_root / "nsd").start()
    try:
        conf = make_config(server_root, srv.server, srv.trust_anchor_file())
        a = Answer(run_cli("dns", "txt", "forged.dane.test", "-c", str(conf)))
        assert (a.status, a.secure, a.records) == ("ok", True, ['txt "genuine"']), a
        # The record changed after signing: its RRSIG no longer matches.
        srv.tamper("dane.test", '"genuine"', '"forged"')
        a = Answer(run_cli("dns", "txt", "forged.dane.test", "-c", str(conf)))
        assert (a.status, a.code, a.bogus, a.records) == ("tempfail", 1, True, []), a
        # The other records of the zone are still good.
        a = Answer(run_cli("dns", "mx", "dane.test", "-c", str(conf)))
        assert (a.status, a.secure) == ("ok", True), a
    finally:
        srv.stop()


def test_records_change_while_the_server_runs(server_root):
    srv = make_dns(server_root / "nsd").start()
    try:
        conf = make_config(server_root, srv.server, srv.trust_anchor_file())
        srv.set_zone("dane.test", zone_template("dane.test").replace(
            "mx            A     192.0.2.20", "mx            A     192.0.2.21"))
        a = Answer(run_cli("dns", "a", "mx.dane.test", "-c", str(conf)))
        assert (a.status, a.secure, a.records) == ("ok", True, ["a 192.0.2.21"]), a
        srv.set_zone("example.test", "@ MX 30 other.example.test.\n")
        a = Answer(run_cli("dns", "mx", "example.test", "-c", str(conf)))
        assert a.records == ["mx 30 other.example.test"], a
    finally:
        srv.stop()


# ---- the [dns] settings ----

def config_check(conf):
    return run_cli("config", "check", "-c", str(conf))


@pytest.mark.parametrize("servers,error", [
    ("not-an-ip", "'not-an-ip' is not an IP address"),
    ("127.0.0.1@0", "port out of range"),
    ("127.0.0.1@65536", "port out of range"),
    ("127.0.0.1,,127.0.0.2", "an empty entry"),
    ("127.0.0.1@53x", "port out of range"),
])
def test_bad_servers_are_config_errors(server_root, servers, error):
    conf = make_config(server_root, servers, "")
    r = config_check(conf)
    assert r.returncode == 1 and "[dns] servers" in r.stderr and error in r.stderr, r.stderr


def test_good_servers(server_root):
    conf = make_config(server_root, "192.0.2.53, 2001:db8::53@5353,127.0.0.1@53", "")
    r = config_check(conf)
    assert r.returncode == 0, r.stderr


def test_a_named_trust_anchor_must_exist(server_root):
    conf = make_config(server_root, "127.0.0.1@53", "/nonexistent/root.key")
    r = config_check(conf)
    assert r.returncode == 1, r.stderr
    assert "[dns] trust_anchor: /nonexistent/root.key" in r.stderr, r.stderr


def test_a_trust_anchor_that_is_not_one_fails_at_start(server_root):
    bad = server_root / "bad.key"
    bad.write_text("this is not a zone file\n")
    conf = make_config(server_root, "127.0.0.1@53", str(bad))
    r = run_cli("dns", "mx", "example.test", "-c", str(conf))
    assert r.returncode == 1 and r.stdout == "", (r.stdout, r.stderr)
    assert "cannot start the DNS resolver" in r.stderr, r.stderr


@pytest.mark.skipif(Path("/usr/share/dns/root.key").exists(),
                    reason="dns-root-data is installed: the default anchor exists")
def test_a_missing_default_trust_anchor_runs_without_validation(env, server_root):
    conf = make_config(server_root, env.server.server, "")
    # Left at its default, or written out as `config defaults` writes it.
    for settings in [{}, {"trust_anchor": "/usr/share/dns/root.key"}]:
        set_dns(conf, servers=env.server.server, **settings)
        r = config_check(conf)
        assert r.returncode == 0, r.stderr
        a = env.dns("tlsa", "_25._tcp.mx.dane.test", config=conf)
        assert (a.status, a.secure, a.bogus) == ("ok", False, False), a
