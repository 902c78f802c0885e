"""Never acknowledge mail before it is on disk: clients deliver over SMTP as
fast as they can, the server is killed with SIGKILL in the middle, restarted,
and every message that got its 250 must be in the mailbox."""
import re
import signal
import smtplib
import threading
import time


def sender(srv, tid, acked, stop):
    i = 0
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=10) as c:
                c.ehlo("load.test")
                while not stop.is_set():
                    i += 1
                    seq = f"{tid}-{i}"
                    msg = (f"From: load@remote.test\r\nTo: box@example.test\r\n"
                           f"Subject: load {seq}\r\nX-Seq: {seq}\r\n\r\n" + "x" * 2000 +
                           "\r\n").encode()
                    c.sendmail("load@remote.test", ["box@example.test"], msg)
                    acked.append(seq)  # only after the 250
        except (OSError, smtplib.SMTPException):
            time.sleep(0.01)  # the server is down: try again until told to stop


def wait_smtp(srv, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        try:
            smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=2).quit()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def stored_seqs(srv):
    out = []
    for m in srv.messages("box@example.test"):
        match = re.search(rb"\r\nX-Seq: (\S+)\r\n", m)
        assert match, m[:300]
        out.append(match.group(1).decode())
    return out


def test_sigkill_under_load_loses_no_acknowledged_message(make_server):
    srv = make_server()
    srv.quickstart()
    srv.set("server", "log_level", "warn")
    srv.add_account("box@example.test")
    acked = []
    rounds = 3
    for r in range(rounds):
        srv.start(wait=False)
        wait_smtp(srv)
        stop = threading.Event()
        threads = [threading.Thread(target=sender, args=(srv, f"r{r}t{t}", acked, stop))
                   for t in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        srv.stop()
    srv.start(wait=False)
    wait_smtp(srv)
    stored = stored_seqs(srv)
    missing = sorted(set(acked) - set(stored))
    assert not missing, f"{len(missing)} acknowledged messages lost: {missing[:10]}"
    assert len(acked) > 100, "the load never got going"
    # Extra messages (stored, but the 250 never reached the client) are allowed:
    # at-least-once. Each one is whole.
    assert len(set(stored)) >= len(acked)
    print(f"{len(acked)} acknowledged, {len(stored)} stored over {rounds} kills")
