"""A private authoritative DNS server for tests: Debian's NSD with its own
config, zone files and keys under the test's directory, listening on one
loopback address and port. Zones listed in `signed` are signed with
ldns-signzone (one ECDSA P-256 key each, made once per server), and
trust_anchor_file() gives their DS records: outpost with
`[dns] servers = IP@PORT` and `trust_anchor = that file` forwards to NSD and
validates the signed zones, while the unsigned ones, outside every anchor,
come back insecure (not bogus).

    srv = DnsServer(Path("/tmp/x/dns"), zones={"example.test": "@ MX 10 mx\\n..."},
                    signed={"dane.test"})
    srv.start(); srv.server  # "127.0.0.1@53053"
    srv.set_zone("example.test", "...")  # rewrite, re-sign, restart
    srv.tamper("dane.test", "old text", "new text")  # edit after signing: bogus
    srv.stop()

Zone text is records relative to the zone ($ORIGIN is set, $TTL is `ttl`,
300 by default: a running outpost caches answers that long, so a test that
changes records under a running server wants a small one); SOA and NS are
added unless the text has its own. Zones in `expired` are signed with
signatures that ended yesterday (bogus, as a stale signer would make them).
NSD runs in the foreground (-d) as the test's user, started and stopped by
PID; nothing of the system's NSD is used or touched.
"""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

NSD = "/usr/sbin/nsd"
LDNS_KEYGEN = "/usr/bin/ldns-keygen"
LDNS_SIGNZONE = "/usr/bin/ldns-signzone"

ZONE_DIR = Path(__file__).resolve().parent / "dns"


def free_udp_tcp_port(ip="127.0.0.1"):
    """A port free for both UDP and TCP on ip."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((ip, 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    t.bind((ip, port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port")


def zone_template(name):
    """The text of tests/integration/dns/NAME.zone."""
    return (ZONE_DIR / f"{name}.zone").read_text()


class DnsServer:
    def __init__(self, directory: Path, ip="127.0.0.1", port=None, zones=None, signed=(),
                 expired=(), ttl=300):
        self.dir = Path(directory)
        self.ip = ip
        self.port = port or free_udp_tcp_port(ip)
        self.zones = dict(zones or {})
        self.signed = set(signed) | set(expired)
        self.expired = set(expired)
        self.ttl = ttl
        for z in self.signed:
            if z not in self.zones:
                raise ValueError(f"signed zone {z} has no text")
        self.serial = int(time.time())
        self.proc = None
        self.keys = {}  # zone -> key base path (without .key/.private)
        self._own_soa = {}  # zone -> its text has its own SOA (serial unknown)
        self.conf = self.dir / "nsd.conf"
        self.zone_dir = self.dir / "zones"
        self.key_dir = self.dir / "keys"
        self.log_path = self.dir / "nsd.log"

    @property
    def server(self):
        """The address as [dns] servers takes it."""
        return f"{self.ip}@{self.port}"

    # ---- files ----

    def _write_conf(self):
        lines = [
            "server:",
            f"    ip-address: {self.ip}@{self.port}",
            "    do-ip6: no",
            "    username: \"\"",
            "    chroot: \"\"",
            f"    zonesdir: \"{self.zone_dir}\"",
            f"    zonelistfile: \"{self.dir / 'zone.list'}\"",
            "    database: \"\"",
            f"    xfrdfile: \"{self.dir / 'xfrd.state'}\"",
            f"    xfrdir: \"{self.dir / 'xfr'}\"",
            f"    pidfile: \"{self.dir / 'nsd.pid'}\"",
            f"    logfile: \"{self.log_path}\"",
            "    server-count: 1",
            "    verbosity: 1",
            "    hide-version: yes",
            "remote-control:",
            "    control-enable: no",
        ]
        for name in sorted(self.zones):
            lines += ["zone:", f"    name: \"{name}\"", f"    zonefile: \"{self._served(name).name}\""]
        self.conf.write_text("\n".join(lines) + "\n")

    def _source(self, name):
        return self.zone_dir / f"{name}.zone"

    def _served(self, name):
        return self.zone_dir / (f"{name}.zone.signed" if name in self.signed else f"{name}.zone")

    def _zone_text(self, name):
        text = self.zones[name]
        head = [f"$ORIGIN {name}.", f"$TTL {self.ttl}"]
        words = {w.upper() for line in text.splitlines() for w in line.split(";")[0].split()}
        self._own_soa[name] = "SOA" in words
        if "SOA" not in words:
            head.append(f"@ IN SOA ns.{name}. hostmaster.{name}. {self.serial} 3600 600 86400 "
                        f"{self.ttl}")
        if "NS" not in words:
            head.append(f"@ IN NS ns.{name}.")
            head.append(f"ns IN A {self.ip}")
        return "\n".join(head) + "\n" + text.rstrip("\n") + "\n"

    def _keygen(self, name):
        if name in self.keys:
            return self.keys[name]
        self.key_dir.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k", "-r", "/dev/urandom",
                            name], cwd=self.key_dir, capture_output=True, text=True, check=True)
        base = self.key_dir / r.stdout.strip()
        self.keys[name] = base
        return base

    def _sign(self, name):
        key = self._keygen(name)
        now = int(time.time())
        if name in self.expired:
            inception, expiration = now - 30 * 86400, now - 86400
        else:
            # An hour back: validators allow little clock skew either way.
            inception, expiration = now - 3600, now + 30 * 86400
        subprocess.run([LDNS_SIGNZONE, "-i", str(inception), "-e", str(expiration),
                        "-f", str(self._served(name)), str(self._source(name)), str(key)],
                       capture_output=True, text=True, check=True)

    def _write_zone(self, name):
        self.zone_dir.mkdir(parents=True, exist_ok=True)
        self._source(name).write_text(self._zone_text(name))
        if name in self.signed:
            self._sign(name)

    def trust_anchor_file(self):
        """A file of the signed zones' DS records (for [dns] trust_anchor)."""
        path = self.dir / "trust-anchor.ds"
        text = ""
        for name in sorted(self.signed):
            text += Path(str(self._keygen(name)) + ".ds").read_text()
        path.write_text(text)
        return path

    # ---- the process ----

    def start(self, timeout=15):
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        (self.dir / "xfr").mkdir(exist_ok=True)
        for name in self.zones:
            self._write_zone(name)
        self._write_conf()
        self._launch(timeout)
        return self

    def _launch(self, timeout):
        self._log = open(self.dir / "nsd.stderr", "ab")
        self.proc = subprocess.Popen([NSD, "-d", "-c", str(self.conf)], stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        pending = set(self.zones)
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nsd exited ({self.proc.returncode}):\n{self.log()}")
            for name in list(pending):
                if self.answers_soa(name):
                    pending.discard(name)
            if pending:
                time.sleep(0.05)
        if pending:
            self.stop()
            raise AssertionError(f"nsd does not serve {sorted(pending)}:\n{self.log()}")

    def answers_soa(self, name):
        """Whether the server answers the zone's SOA with its current serial."""
        try:
            q = dns.message.make_query(name + ".", "SOA")
            r = dns.query.udp(q, self.ip, port=self.port, timeout=0.5)
        except (OSError, dns.exception.DNSException):
            return False
        if r.rcode() != dns.rcode.NOERROR or not r.answer:
            return False
        if self._own_soa.get(name):
            return True
        return any(rr.serial == self.serial for rrset in r.answer for rr in rrset
                   if rrset.rdtype == dns.rdatatype.SOA)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self._log.close()

    def restart(self, timeout=15):
        self.stop()
        self._launch(timeout)

    # ---- changes while running ----

    def set_zone(self, name, text):
        """Replaces a zone's records (re-signed if signed, with a new serial)
        and restarts the server so that it serves them."""
        self.zones[name] = text
        self.serial += 1
        for z in self.zones:  # every zone gets the serial start() waits for
            self._write_zone(z)
        self._write_conf()
        self.restart()

    def tamper(self, name, old, new):
        """Edits the served (signed) zone file after signing: its signatures
        no longer match, and a validator calls the answer bogus."""
        path = self._served(name)
        text = path.read_text()
        if old not in text:
            raise ValueError(f"{old!r} not in {path}")
        path.write_text(text.replace(old, new))
        self.restart()

    def log(self):
        out = ""
        for p in (self.log_path, self.dir / "nsd.stderr"):
            try:
                out += p.read_text(errors="replace")
            except FileNotFoundError:
                pass
        return out
