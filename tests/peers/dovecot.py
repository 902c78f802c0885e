"""A private Dovecot instance for tests and benchmarks: Debian's dovecot-imapd
(2.3) with its own configuration file, base_dir, state_dir, log and Maildirs,
all under one directory, serving IMAP on one loopback address and port. The
system's Dovecot (its service stays disabled) and /etc/dovecot are not used:
`dovecot -c FILE` reads only the file written here.

    dc = Dovecot(Path("/tmp/x/dc"), ip="127.0.0.3", port=10143,
                 users={"bench@example.test": "secret"})
    dc.populate("bench@example.test", messages)   # before start: Maildir files
    dc.start(); ...; dc.memory_kb(); ...; dc.stop()

Choices (see the class for the settings):
  - Passwords: scheme "ARGON2ID" (default) stores an argon2id string made with
    libsodium's INTERACTIVE limits (t=2, m=64 MiB), the same cost as outpost's
    own hashes, so a login costs both servers one equal hash; "PLAIN" and
    "SHA512-CRYPT" are there for tests and for runs that leave logins out of
    the picture. `password_scheme` records what was used. No auth cache
    (Dovecot's default): every login verifies the hash, as outpost does.
  - Mail: Maildir under DIR/mail/<user>/Maildir, owned by `mail_user` (the
    `nobody` user by default: it always exists and owns nothing else we use).
    fsync is left at Dovecot's default (mail_fsync = optimized), no FTS plugin
    (Debian's default config has none: SEARCH TEXT reads the messages).
  - Processes: Dovecot's model, one `imap` process per logged-in connection
    (service_count = 1, client_limit = 1), with its process limits raised so
    that 10,000 connections can be held at once (see LIMITS below), and
    mail_max_userip_connections raised from 10 (many clients of one user
    come from 127.0.0.1). The master's descriptor limit is raised to 65,536
    where allowed. login_mode "performance" (default) is Dovecot's documented
    high-performance login mode (imap-login processes reused, service_count =
    0, one per core kept ready); "security" is Dovecot's shipped default (a new
    imap-login per connection). hibernate=SECONDS turns on
    imap_hibernate_timeout, Dovecot's own way to hold many IDLE connections
    (moved to one imap-hibernate process).
  - IDLE: Dovecot watches a mailbox with one inotify instance per imap process;
    all run as the one mail user, so past fs.inotify.max_user_instances (128 on
    Debian) the rest fall back to polling every 30 s (a warning in the log), and
    hibernation needs those instances too. The machine's limit is left alone.

Dovecot's master runs as root; the directory must be reachable by the
`dovecot`, `dovenull` and mail users (it is made 0755).
"""
import ctypes
import ctypes.util
import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"

# The limits for 10,000 held connections. Each logged-in connection is one
# `imap` process; the master, auth and anvil must accept that many clients.
LIMITS = {
    "imap_processes": 12000,     # service imap { process_limit }: one per connection
    "login_processes": 12000,    # security mode: one imap-login per connection being
                                 # logged in (they exit after the hand-over)
    "login_clients": 1000,       # performance mode: connections per imap-login
    "internal_clients": 15000,   # auth, anvil, stats...: a client per process
}


def _uid(name):
    return pwd.getpwnam(name).pw_uid


def _gid_of_user(name):
    return pwd.getpwnam(name).pw_gid


def _sodium():
    path = ctypes.util.find_library("sodium") or "libsodium.so.23"
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    if lib.sodium_init() < 0:
        return None
    return lib


def argon2id_hash(password: str):
    """An argon2id string with libsodium's INTERACTIVE limits, exactly what
    outpost's auth_credentials_make stores; None without libsodium."""
    lib = _sodium()
    if lib is None:
        return None
    lib.crypto_pwhash_argon2id_opslimit_interactive.restype = ctypes.c_size_t
    lib.crypto_pwhash_argon2id_memlimit_interactive.restype = ctypes.c_size_t
    lib.crypto_pwhash_argon2id_strbytes.restype = ctypes.c_size_t
    ops = lib.crypto_pwhash_argon2id_opslimit_interactive()
    mem = lib.crypto_pwhash_argon2id_memlimit_interactive()
    out = ctypes.create_string_buffer(lib.crypto_pwhash_argon2id_strbytes())
    pw = password.encode()
    rc = lib.crypto_pwhash_argon2id_str(out, pw, ctypes.c_ulonglong(len(pw)),
                                        ctypes.c_ulonglong(ops), ctypes.c_size_t(mem))
    return out.value.decode() if rc == 0 else None


def doveadm_hash(password: str, scheme: str):
    r = subprocess.run([DOVEADM, "-c", "/dev/null", "pw", "-s", scheme, "-p", password],
                       capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.startswith("{"):
        # doveadm needs a config; fall back to the system's for this one call.
        r = subprocess.run([DOVEADM, "pw", "-s", scheme, "-p", password],
                           capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.startswith("{"):
        return None
    return r.stdout.strip()


def supported_schemes():
    r = subprocess.run([DOVEADM, "pw", "-l"], capture_output=True, text=True)
    return set(r.stdout.split())


def make_self_signed(cert_path: Path, key_path: Path, hostname="imap.test"):
    """A P-256 self-signed certificate (python3-cryptography)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), False)
            .sign(key, hashes.SHA256()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_path, 0o600)


def mem_kb(pid):
    """(RSS, PSS, anonymous) of one process in KB, from /proc/PID/smaps_rollup.
    RSS includes mapped file pages (page cache: shared libraries, mmap'd
    databases); anonymous memory is what the process allocated itself."""
    rss = pss = anon = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Anonymous:"):
                    anon = int(line.split()[1])
                    break
    except OSError:
        pass
    return rss, pss, anon


def process_tree(root_pid):
    """root_pid and all its descendants (from /proc/*/stat)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


class Dovecot:
    def __init__(self, directory: Path, ip="127.0.0.3", port=10143, users=None,
                 scheme="ARGON2ID", mail_user="nobody", login_mode="performance",
                 hibernate=None, tls=False, tls_port=None, quiet=False, extra=None):
        """users: {name: plaintext password}. port: the plain IMAP listener.
        tls: also an IMAPS listener on tls_port (and STARTTLS on port), with a
        self-signed certificate. quiet: info lines (one per login and logout)
        to /dev/null, warnings and errors still to the log; the benchmark's
        setting, as it runs outpost with log_level = warn. extra: more lines
        for the config file."""
        self.dir = Path(directory).resolve()
        self.ip = ip
        self.port = port
        self.users = dict(users or {})
        self.mail_user = mail_user
        self.login_mode = login_mode
        self.hibernate = hibernate
        self.tls = tls
        self.tls_port = tls_port
        self.extra = extra or ""
        self.quiet = quiet
        self.conf = self.dir / "dovecot.conf"
        self.state = self.dir / "state"
        self.mail = self.dir / "mail"
        self.log_path = self.dir / "dovecot.log"
        self.passwd = self.dir / "passwd"
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        # UNIX socket paths are limited to 107 bytes; base_dir holds sockets
        # up to ~30 bytes deep (login/imap-hibernate, token-login/tokenlogin).
        run = self.dir / "run"
        if len(str(run)) > 70:
            run = Path(tempfile.mkdtemp(prefix="dovecot-run-"))
            self._own_run = run
        else:
            self._own_run = None
        self.base_dir = run
        for d in (self.base_dir, self.state, self.mail):
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o755)
        self.mail_uid = _uid(mail_user)
        self.mail_gid = _gid_of_user(mail_user)
        shutil.chown(self.mail, self.mail_uid, self.mail_gid)
        self.password_scheme = self._pick_scheme(scheme)
        self._write_passwd()
        if tls:
            self.cert = self.dir / "cert.pem"
            self.key = self.dir / "key.pem"
            make_self_signed(self.cert, self.key)
        self._write_conf()
        self.master_pid = None
        self.proc = None

    # -- configuration -------------------------------------------------

    def _pick_scheme(self, scheme):
        scheme = scheme.upper()
        if scheme == "ARGON2ID":
            if "ARGON2ID" in supported_schemes() and argon2id_hash("probe"):
                return "ARGON2ID"
            scheme = "SHA512-CRYPT"  # this Dovecot or libsodium lacks it
        return scheme

    def _hash(self, password, cache={}):
        # One hash per password (users sharing one share its salt): the cost
        # of verifying it is what matters here, not its uniqueness.
        key = (self.password_scheme, password)
        if key not in cache:
            if self.password_scheme == "PLAIN":
                h = "{PLAIN}" + password
            elif self.password_scheme == "ARGON2ID":
                h = "{ARGON2ID}" + argon2id_hash(password)
            else:
                h = doveadm_hash(password, self.password_scheme)
                if h is None:
                    raise AssertionError(f"doveadm pw -s {self.password_scheme} failed")
            cache[key] = h
        return cache[key]

    def user_dir(self, user):
        return self.mail / user

    def maildir(self, user):
        return self.user_dir(user) / "Maildir"

    def _write_passwd(self):
        # user:password:uid:gid::home  (passwd-file, used as passdb and userdb)
        lines = []
        for user, password in self.users.items():
            if ":" in user or "\n" in user or "/" in user:
                raise ValueError(f"bad user name {user!r}")
            lines.append(f"{user}:{self._hash(password)}:{self.mail_uid}:{self.mail_gid}::"
                         f"{self.user_dir(user)}\n")
            for sub in ("", "Maildir", "Maildir/cur", "Maildir/new", "Maildir/tmp"):
                d = self.user_dir(user) / sub
                d.mkdir(exist_ok=True)
                os.chown(d, self.mail_uid, self.mail_gid)
                os.chmod(d, 0o700)
        self.passwd.write_text("".join(lines))
        shutil.chown(self.passwd, "root", "dovecot")
        os.chmod(self.passwd, 0o640)

    def add_user(self, user, password):
        """Adds a user (before start, or followed by reload())."""
        self.users[user] = password
        self._write_passwd()

    def _write_conf(self):
        L = LIMITS
        if self.login_mode == "performance":
            login = (f"  service_count = 0\n  process_min_avail = {os.cpu_count() or 1}\n"
                     f"  client_limit = {L['login_clients']}\n"
                     f"  process_limit = {max(4, L['imap_processes'] // L['login_clients'] + 2)}\n")
        elif self.login_mode == "security":
            login = (f"  service_count = 1\n  client_limit = 1\n"
                     f"  process_limit = {L['login_processes']}\n")
        else:
            raise ValueError(f"login_mode {self.login_mode!r}")
        imaps = (f"  inet_listener imaps {{\n    address = {self.ip}\n    port = {self.tls_port}\n"
                 f"    ssl = yes\n  }}\n") if self.tls else \
            "  inet_listener imaps {\n    port = 0\n  }\n"
        ssl = (f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{self.key}\n"
               f"ssl_min_protocol = TLSv1.2\n") if self.tls else "ssl = no\n"
        hib = ""
        if self.hibernate is not None:
            # As Dovecot's documentation sets it up: imap processes (the mail
            # user, with the dovecot group) hand idle clients to imap-hibernate
            # (the dovecot user), which hands them back through imap-master.
            hib = (f"imap_hibernate_timeout = {self.hibernate}s\n"
                   f"service imap-hibernate {{\n  client_limit = {L['internal_clients']}\n"
                   f"  unix_listener imap-hibernate {{\n    mode = 0660\n"
                   f"    group = $default_internal_group\n  }}\n}}\n"
                   f"service imap {{\n  unix_listener imap-master {{\n"
                   f"    user = $default_internal_user\n  }}\n}}\n")
        conf = f"""\
# Written by tests/peers/dovecot.py; only this file is read (dovecot -c).
protocols = imap
listen = {self.ip}
base_dir = {self.base_dir}
state_dir = {self.state}
instance_name = dovecot-peer-{os.getpid()}-{self.port}
log_path = {self.log_path}
info_log_path = {"/dev/null" if self.quiet else self.log_path}
debug_log_path = {"/dev/null" if self.quiet else self.log_path}
login_greeting = Dovecot peer ready.
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
# Every login verifies the password hash (no cache, Dovecot's default).
auth_cache_size = 0
passdb {{
  driver = passwd-file
  args = {self.passwd}
}}
userdb {{
  driver = passwd-file
  args = {self.passwd}
}}
mail_location = maildir:~/Maildir
first_valid_uid = 1
first_valid_gid = 1
mail_privileged_group =
# Many clients of one user from one address (the benchmark's 50, the IDLE test's
# 10,000): Dovecot's default is 10 per user and IP.
protocol imap {{
  mail_max_userip_connections = 100000
}}
# Limits raised for 10,000 connections at once; everything else is Dovecot's
# default (fsync: mail_fsync = optimized; no FTS plugin).
default_process_limit = 1000
default_client_limit = {L['internal_clients']}
service imap-login {{
  inet_listener imap {{
    address = {self.ip}
    port = {self.port}
  }}
{imaps}{login}}}
service imap {{
  # One process per logged-in connection (Dovecot's default model).
  service_count = 1
  client_limit = 1
  process_limit = {L['imap_processes']}
}}
service auth {{
  client_limit = {L['internal_clients']}
}}
service anvil {{
  client_limit = {L['internal_clients']}
}}
service config {{
  client_limit = {L['internal_clients']}
}}
service stats {{
  client_limit = {L['internal_clients']}
}}
service imap-urlauth-login {{
  inet_listener imap-urlauth {{
    port = 0
  }}
}}
{hib}{self.extra}
"""
        self.conf.write_text(conf)

    # -- mail ------------------------------------------------------------

    def populate(self, user, messages, seen_every=3, start_time=None):
        """Writes messages (bytes, CRLF or LF) straight into USER's Maildir cur/,
        oldest first, one second apart in mtime (the INTERNALDATE). Best before
        start(); Dovecot picks up the files at the next SELECT. Returns the count."""
        cur = self.maildir(user) / "cur"
        t = int(start_time or (time.time() - len(messages) - 60))
        host = socket.gethostname().replace("/", "_").replace(":", "_")
        n = 0
        for i, raw in enumerate(messages):
            data = raw.replace(b"\r\n", b"\n")  # Maildir files use LF
            flags = "S" if seen_every and i % seen_every == 0 else ""
            name = f"{t + i}.M{i}P{os.getpid()}.{host},S={len(data)}:2,{flags}"
            p = cur / name
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
                os.fchown(fd, self.mail_uid, self.mail_gid)
            finally:
                os.close(fd)
            os.utime(p, (t + i, t + i))
            n += 1
        return n

    def message_count(self, user):
        md = self.maildir(user)
        return sum(len(os.listdir(md / sub)) for sub in ("cur", "new"))

    # -- running ---------------------------------------------------------

    def check_config(self):
        r = subprocess.run([DOVECOT, "-c", str(self.conf), "-n"], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise AssertionError(f"dovecot config error: {r.stderr}{r.stdout}")
        return r.stderr  # warnings

    def start(self, timeout=20):
        """Starts the master in the foreground (dovecot -F, our child, in its
        own session) and waits for the IMAP greeting."""
        self.check_config()

        def raise_limits():
            raise_nofile(65536)
        self._out = open(self.dir / "dovecot.out", "ab")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)],
                                     stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=subprocess.STDOUT, preexec_fn=raise_limits,
                                     start_new_session=True)
        self.master_pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection((self.ip, self.port), timeout=2) as s:
                    if s.recv(200).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        out = (self.dir / "dovecot.out").read_text(errors="replace")
        self.stop()
        raise AssertionError(f"dovecot did not greet on {self.ip}:{self.port}:\n{out}\n"
                             f"{self.log()}")

    def reload(self):
        self._write_conf()
        if self.master_pid:
            os.kill(self.master_pid, signal.SIGHUP)

    def pids(self):
        """The master and all its descendants."""
        pid = self.master_pid
        return process_tree(pid) if pid and running(pid) else []

    def memory_kb(self):
        """(RSS, PSS, processes, anonymous): summed over every Dovecot process,
        in KB. RSS counts shared pages once per process; PSS shares them out,
        so its sum is the memory the instance really takes."""
        rss = pss = anon = 0
        pids = self.pids()
        for p in pids:
            r, s, a = mem_kb(p)
            rss += r
            pss += s
            anon += a
        return rss, pss, len(pids), anon

    def stop(self, timeout=30):
        """SIGTERM to the master (it stops its children); returns once every
        process of the instance is gone, and the master's exit code."""
        code = None
        if self.proc is not None:
            tree = self.pids()
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and any(running(p) for p in tree):
                time.sleep(0.05)
            for p in tree:  # stragglers: only the instance's own processes, by PID
                if running(p):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self.proc = None
            self._out.close()
        self.master_pid = None
        if self._own_run:
            shutil.rmtree(self._own_run, ignore_errors=True)
        return code

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def raise_nofile(want):
    """Raises this process's RLIMIT_NOFILE towards WANT, as far as allowed
    (root may raise the hard limit too); returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for lim in ((max(want, soft), max(want, hard)), (min(max(want, soft), hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, lim)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def running(pid):
    """Whether PID is a process that has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
