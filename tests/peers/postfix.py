"""A private Postfix instance for tests and benchmarks: Debian's postfix
binaries with their own configuration, queue and data directories, listening
on one loopback address and port. Nothing of the system's Postfix is used or
touched (its service stays disabled; scripts/deps.sh installs it that way).

    pf = Postfix(Path("/tmp/x/pf"), ip="127.0.0.2", port=2525,
                 relay_domains=["example.test"], relayhost="[127.0.0.1]:10025")
    pf = Postfix(..., relay_domains=["example.test"], virtual_maildir=Path("/tmp/x/md"),
                 mailboxes=["bench@example.test"])   # delivers into Maildirs
    pf.start(); ...; pf.stop()

Postfix runs as root (the master) and its `postfix` user (the daemons); so the
directory must be reachable by that user.
"""
import os
import shutil
import subprocess
import time
from pathlib import Path

MASTER_CF = """\
# service type private unpriv chroot wakeup maxproc command
{listen} inet n - n - {smtpd_procs} smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
local     unix - n n - - local
virtual   unix - n n - - virtual
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    def __init__(self, directory: Path, ip="127.0.0.2", port=2525, hostname="relay.test",
                 relay_domains=(), relayhost=None, virtual_maildir=None, mailboxes=(),
                 smtpd_procs=100, extra=None):
        self.dir = Path(directory)
        self.ip = ip
        self.port = port
        self.etc = self.dir / "etc"
        self.spool = self.dir / "spool"
        self.data = self.dir / "data"
        self.maillog = self.dir / "maillog"
        self.maildir_root = Path(virtual_maildir) if virtual_maildir else None
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        for d in (self.etc, self.spool, self.data):
            d.mkdir(exist_ok=True)
        shutil.chown(self.data, "postfix", "postfix")
        main = {
            "compatibility_level": "3.6",
            "myhostname": hostname,
            "mydomain": hostname,
            "myorigin": hostname,
            # 127.0.0.2 is no interface address of its own (lo has 127.0.0.1/8), so
            # Postfix would refuse it here; master.cf binds the listener to it.
            "inet_interfaces": "all",
            "inet_protocols": "ipv4",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": " ".join(relay_domains),
            "queue_directory": str(self.spool),
            "data_directory": str(self.data),
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.dir),
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "smtpd_tls_security_level": "none",
            "smtp_tls_security_level": "may",
            "smtp_tls_loglevel": "1",
            "smtpd_banner": "$myhostname ESMTP",
            "smtpd_recipient_restrictions": "permit_mynetworks, reject_unauth_destination",
            "default_process_limit": "200",
            "import_environment": "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C",
            "shlib_directory": "/usr/lib/postfix",
            "daemon_directory": "/usr/lib/postfix/sbin",
            "meta_directory": "/etc/postfix",
            "command_directory": "/usr/sbin",
        }
        if relayhost:
            main["relayhost"] = relayhost
            main["smtp_connection_cache_on_demand"] = "yes"
        if self.maildir_root:
            # Mail for these domains goes into Maildirs, one per address.
            self.maildir_root.mkdir(parents=True, exist_ok=True)
            shutil.chown(self.maildir_root, "postfix", "postfix")
            vmap = self.etc / "vmailbox"
            main.update({
                "virtual_mailbox_domains": " ".join(relay_domains),
                "virtual_mailbox_base": str(self.maildir_root),
                "virtual_mailbox_maps": f"texthash:{vmap}",
                "virtual_uid_maps": "static:%d" % _uid("postfix"),
                "virtual_gid_maps": "static:%d" % _gid("postfix"),
                "relay_domains": "",
            })
            # address -> DOMAIN/LOCAL/ (the trailing slash: Maildir format)
            vmap.write_text("".join(f"{a} {a.split('@')[1]}/{a.split('@')[0]}/\n"
                                    for a in mailboxes))
        if extra:
            main.update(extra)
        (self.etc / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
        (self.etc / "master.cf").write_text(MASTER_CF.format(listen=f"{ip}:{port}",
                                                              smtpd_procs=smtpd_procs))
        (self.etc / "dynamicmaps.cf").write_text("")

    def _run(self, *args, check=True):
        env = dict(os.environ, MAIL_CONFIG=str(self.etc))
        # Postfix reports start-up errors only on a terminal (or syslog):
        # give it one through script(1), so a failure says why.
        cmd = " ".join(["/usr/sbin/postfix", "-c", str(self.etc), *args])
        r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                           env=env)
        if check and r.returncode != 0:
            raise AssertionError(f"postfix {' '.join(args)} failed: {r.stdout}{r.stderr}")
        return r

    def start(self, timeout=20):
        self._run("check")
        self._run("start")
        deadline = time.monotonic() + timeout
        import socket
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.ip, self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"220 "):
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"postfix did not start on {self.ip}:{self.port}:\n{self.log()}")

    def stop(self):
        pidfile = self.spool / "pid" / "master.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        self._run("stop", check=False)
        deadline = time.monotonic() + 10
        while pid and os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.05)

    def flush(self):
        self._run("flush", check=False)

    def log(self):
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def queue_empty(self):
        for sub in ("incoming", "active", "deferred", "maildrop"):
            d = self.spool / sub
            if d.exists() and any(p.is_file() for p in d.rglob("*")):
                return False
        return True

    def maildir_messages(self, address):
        local, domain = address.rsplit("@", 1)
        new = self.maildir_root / domain / local / "new"
        return sorted(new.iterdir()) if new.exists() else []


def _uid(name):
    import pwd
    return pwd.getpwnam(name).pw_uid


def _gid(name):
    import grp
    return grp.getgrnam(name).gr_gid
