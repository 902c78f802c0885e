"""Fixtures for integration tests: the real `outpost` binary, driven by real clients.

`server` runs `outpost quickstart` into a temporary directory with a free port
base, starts `outpost serve`, waits for its `ready` line, and at the end stops
it by PID with SIGTERM. The server's log is printed when a test fails, and a
server that exits non-zero (a sanitizer report, a leak) fails the test.
"""
import os
import random
import shutil
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("OUTPOST_BIN", str(ROOT / "build" / "outpost"))

# Offsets of each listener from --port-base (the CLI contract).
PORT_OFFSETS = {
    "smtp": 25, "submission": 587, "submissions": 465, "imap": 143, "imaps": 993,
    "pop3": 110, "pop3s": 995, "http": 80, "https": 443,
}
IMPLICIT_TLS = {"submissions", "imaps", "pop3s", "https"}

# Sanitizer builds: fail loudly, and report leaks at exit.
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=24",
}

LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) [a-z0-9-]+ [a-z0-9-]+( .*)?$")


def run_cli(*args, input=None, env=None, timeout=30):
    """Runs `outpost ARGS...`; returns the CompletedProcess (text mode)."""
    e = dict(os.environ, **SAN_ENV)
    if env:
        e.update(env)
    return subprocess.run([BIN, *args], input=input, capture_output=True, text=True,
                          timeout=timeout, env=e)


def port_free(port, host="127.0.0.1"):
    with socket.socket() as s:
        # As the server does: connections it closed linger in TIME_WAIT on its
        # ports, and must not make a port look taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port_base():
    """A base N such that every listener port N+offset is free on 127.0.0.1."""
    for _ in range(200):
        base = random.randrange(20000, 64000, 10)
        if all(port_free(base + off) for off in PORT_OFFSETS.values()):
            return base
    raise RuntimeError("no free port base")


def tls_client_context(**kw):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


class Server:
    def __init__(self, directory: Path, port_base: int, domain="example.test",
                 hostname="mail.example.test"):
        self.dir = directory
        self.port_base = port_base
        self.domain = domain
        self.hostname = hostname
        self.conf = directory / "outpost.conf"
        self.log_path = directory.parent / (directory.name + ".log")
        self.proc = None
        self._log_file = None

    def quickstart(self, *extra):
        r = run_cli("quickstart", "--dir", str(self.dir), "--domain", self.domain,
                    "--hostname", self.hostname, "--listen", "127.0.0.1",
                    "--port-base", str(self.port_base), *extra)
        assert r.returncode == 0, r.stderr
        m = re.search(r"Password \(shown only now\): (\S+)", r.stdout)
        self.admin = f"postmaster@{self.domain}"
        self.admin_password = m.group(1) if m else None
        # Tests greet at once; the early-talker test sets the pause itself.
        self.set("smtp", "greet_pause", "0")
        # No test reaches the internet: the queue runner's lookups go to a
        # loopback port where nothing answers (tests of delivery point it at
        # their own DNS server instead).
        self.set("dns", "servers", "127.0.0.1@9")
        self.set("dns", "trust_anchor", "")
        self.set("dns", "timeout", "2s")
        return r

    def set(self, section, key, value):
        """Sets `key = value` in [section] of the config, replacing it if set."""
        lines = self.conf.read_text().splitlines()
        out, cur, done = [], None, False
        for line in lines:
            st = line.strip()
            if st.startswith("[") and st.endswith("]"):
                if cur == section and not done:
                    out.append(f"{key} = {value}")
                    done = True
                cur = st[1:-1]
                out.append(line)
                continue
            if cur == section and re.match(rf"{re.escape(key)}\s*=", st):
                if not done:
                    out.append(f"{key} = {value}")
                    done = True
                continue
            out.append(line)
        if not done:
            if cur != section:
                out.append(f"[{section}]")
            out.append(f"{key} = {value}")
        self.conf.write_text("\n".join(out) + "\n")

    def add_account(self, address, password="correct horse battery"):
        r = self.cli("account", "add", address, "--password-stdin", input=password + "\n")
        assert r.returncode == 0, r.stderr
        return password

    def account_id(self, address):
        local, domain = address.rsplit("@", 1)
        with sqlite3.connect(self.dir / "data" / "outpost.db") as db:
            row = db.execute("SELECT a.id FROM accounts a JOIN domains d ON d.id = a.domain_id "
                             "WHERE d.name = ? AND a.localpart_key = ?",
                             (domain.lower(), local.lower())).fetchone()
        assert row, f"no account {address}"
        return row[0]

    def messages(self, address, mailbox="INBOX"):
        """The raw messages in an account's mailbox, in UID order (bytes)."""
        acct = self.dir / "data" / "accounts" / str(self.account_id(address))
        if not (acct / "index.db").exists():
            return []
        with sqlite3.connect(f"file:{acct / 'index.db'}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT m.file FROM messages m JOIN mailboxes b "
                              "ON b.id = m.mailbox_id WHERE b.name = ? ORDER BY m.uid",
                              (mailbox,)).fetchall()
        return [(acct / "msg" / f[:2] / f).read_bytes() for (f,) in rows]

    def queue(self):
        """The outbound queue: a list of (id, sender, recipient, state) rows."""
        db_path = self.dir / "data" / "queue" / "queue.db"
        if not db_path.exists():
            return []
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
            return db.execute("SELECT m.id, m.sender, r.address, r.state FROM queue_messages m "
                              "JOIN queue_recipients r ON r.message_id = m.id "
                              "ORDER BY m.created, r.id").fetchall()

    def queued_message(self, queue_id):
        return (self.dir / "data" / "queue" / "msg" / queue_id[:2] / queue_id).read_bytes()

    def port(self, service):
        return self.port_base + PORT_OFFSETS[service]

    def start(self, wait=True, preexec_fn=None):
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "serve", "-c", str(self.conf)],
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **SAN_ENV), preexec_fn=preexec_fn)
        if wait:
            self.wait_log(" ready ", timeout=15)
        return self

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, needle, timeout=10, count=1):
        """Waits until `needle` appears `count` times in the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(needle) >= count:
                return
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"server exited ({self.proc.returncode}) waiting for "
                                     f"{needle!r}:\n{self.log()}")
            time.sleep(0.02)
        raise AssertionError(f"no {needle!r} in the log after {timeout}s:\n{self.log()}")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        """SIGTERM, wait, and return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        return self.proc.returncode

    def cli(self, *args, **kw):
        return run_cli(*args, "-c", str(self.conf), **kw)

    def connect(self, service, timeout=5):
        s = socket.create_connection(("127.0.0.1", self.port(service)), timeout=timeout)
        if service in IMPLICIT_TLS:
            s = tls_client_context().wrap_socket(s)
        return s


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _finish(request, servers):
    codes = [(s, s.stop()) for s in servers]
    failed = getattr(request.node, "rep_call", None)
    failed = failed is not None and failed.failed
    for s, code in codes:
        if failed:
            print(f"\n----- outpost log ({s.dir}) -----\n{s.log()}")
    for s, code in codes:
        assert code in (0, None), f"outpost exited with {code}:\n{s.log()}"
        for line in s.log().splitlines():
            assert "Sanitizer" not in line and "runtime error" not in line, s.log()


@pytest.fixture
def server_root():
    """A directory for servers that the unprivileged `outpost` user can reach.

    pytest's tmp_path sits below a root-only (0700) directory; a server started
    as root drops to `outpost`, and SQLite opens its files by absolute path, so
    every directory above the data must be searchable, as in a real install.
    """
    d = Path(tempfile.mkdtemp(prefix="outpost-test-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def make_server(server_root, request):
    """A factory: make_server() -> a quickstarted Server, not started."""
    servers = []

    def make(name="srv", **kw):
        srv = Server(server_root / name, free_port_base(), **kw)
        servers.append(srv)
        return srv

    yield make
    _finish(request, servers)


@pytest.fixture
def server(make_server):
    srv = make_server()
    srv.quickstart()
    srv.start()
    return srv
