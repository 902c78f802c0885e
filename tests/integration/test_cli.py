"""The command line contract (docs/cli.md): dispatch, --help, exit codes."""
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from conftest import ROOT, run_cli

ALL_COMMANDS = ["quickstart", "serve", "account", "alias", "domain", "queue", "check", "config",
                "dns"]


def test_no_command_is_wrong_usage():
    r = run_cli()
    assert r.returncode == 2
    assert "usage: outpost COMMAND" in r.stderr


def test_unknown_command_is_wrong_usage():
    r = run_cli("frobnicate")
    assert r.returncode == 2
    assert "unknown command 'frobnicate'" in r.stderr


def test_top_level_help():
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ALL_COMMANDS:
        assert f"  {cmd} " in r.stdout


@pytest.mark.parametrize("cmd", ALL_COMMANDS)
def test_every_command_has_help(cmd):
    r = run_cli(cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: outpost {cmd}")


@pytest.mark.parametrize("args", [
    ["domain", "dns", "example.test"],
    ["check", "example.test"],
])
def test_unbuilt_commands_say_so(args):
    r = run_cli(*args)
    assert r.returncode == 2
    assert "not built yet" in r.stderr


@pytest.mark.parametrize("args", [
    ["account", "frob"],
    ["account"],
    ["queue", "explode"],
    ["queue", "show"],
    ["queue", "drop"],
    ["queue", "list", "extra"],
    ["queue", "hold", "--bogus"],
    ["config"],
    ["config", "frob"],
    ["config", "defaults", "--yaml"],
    ["serve", "extra-arg"],
    ["quickstart", "--dir", "/tmp/x"],
    ["quickstart", "--bogus"],
    ["quickstart", "--dir", "/tmp/x", "--domain", "bad domain", "--hostname", "h.test"],
    ["quickstart", "--dir", "/tmp/x", "--domain", "d.test", "--hostname", "h.test",
     "--port-base", "70000"],
    ["quickstart", "--dir", "/tmp/x", "--domain", "d.test", "--hostname", "h.test",
     "--listen", "not-an-ip"],
])
def test_wrong_usage_exits_2_with_usage(args):
    r = run_cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "usage: outpost" in r.stderr


def test_quickstart_writes_config_certificate_and_data(make_server):
    srv = make_server()
    r = srv.quickstart()
    assert "outpost serve -c" in r.stdout
    text = srv.conf.read_text()
    for service, off in [("smtp", 25), ("submission", 587), ("submissions", 465),
                         ("imap", 143), ("imaps", 993), ("pop3", 110), ("pop3s", 995),
                         ("http", 80), ("https", 443)]:
        assert f"{service} = 127.0.0.1:{srv.port_base + off}\n" in text
    assert (srv.dir / "data").is_dir()
    cert = x509.load_pem_x509_certificate((srv.dir / "tls" / "cert.pem").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == srv.hostname
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [srv.hostname]
    assert (srv.dir / "tls" / "key.pem").stat().st_mode & 0o007 == 0  # not world-readable
    assert srv.cli("config", "check").returncode == 0


def test_quickstart_refuses_to_overwrite(make_server):
    srv = make_server()
    srv.quickstart()
    before = srv.conf.read_text()
    r = run_cli("quickstart", "--dir", str(srv.dir), "--domain", "other.test",
                "--hostname", "other.test")
    assert r.returncode == 1
    assert "exists; not overwriting" in r.stderr
    assert srv.conf.read_text() == before


def test_quickstart_ipv6_and_several_listen_addresses(make_server):
    srv = make_server()
    srv.quickstart("--listen", "::1")
    text = srv.conf.read_text()
    assert f"imap = 127.0.0.1:{srv.port_base + 143} [::1]:{srv.port_base + 143}\n" in text


def test_config_defaults_is_a_valid_config(make_server):
    r = run_cli("config", "defaults")
    assert r.returncode == 0
    # The defaults name tls/cert.pem and tls/key.pem next to the file:
    # quickstart's will do.
    srv = make_server()
    srv.quickstart()
    conf = srv.conf
    conf.write_text(r.stdout)
    check = run_cli("config", "check", "-c", str(conf))
    assert check.returncode == 0, check.stderr
    assert "[listen]" in r.stdout and "shutdown_timeout = 10s" in r.stdout


def test_docs_config_md_is_generated_from_the_schema():
    r = run_cli("config", "defaults", "--markdown")
    assert r.returncode == 0
    doc = (ROOT / "docs" / "config.md").read_text()
    assert doc == r.stdout, "docs/config.md is out of date: run `make docs`"


def test_config_path_from_environment(make_server):
    srv = make_server()
    srv.quickstart()
    r = run_cli("config", "check", env={"OUTPOST_CONFIG": str(srv.conf)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{srv.conf}: ok"
