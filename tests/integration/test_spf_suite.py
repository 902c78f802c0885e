"""SPF (src/mailauth/spf) against the RFC 7208 test suite, and pyspf.

tests/data/spf/rfc7208-tests.yml is the openspf.org suite (licence next to
it). Every case is its own test: `mailauth_spf_check` (built from
tests/unit/mailauth/spf_check.c, next to the outpost binary in tests/unit/)
gets the scenario's zone data and the case's query on stdin, answers from
them synchronously, and prints the result; the test compares it (and the
explanation, where the suite gives one) with the suite's.

The zone data is read as the suite's own drivers read it: records of the
obsolete type SPF become TXT records unless the name has TXT records of its
own, "NONE" is no record, and "TIMEOUT" times out every query of a type
without a record listed before it.

pyspf (python3-spf) is a second opinion: each case also runs through pyspf
with the same zone data (spf.DNSLookup replaced, as its own test driver
does). Where pyspf agrees with the suite, outpost must agree with pyspf;
where pyspf itself departs from the suite, the case is reported
(test_pyspf_disagreements prints them) and does not fail.
"""
import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, SAN_ENV

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "data" / "spf" / "rfc7208-tests.yml"
CHECK = os.environ.get("SPF_CHECK_BIN") or str(
    Path(BIN).resolve().parent / "tests" / "unit" / "mailauth_spf_check")


def load_suite():
    cases = []
    with open(SUITE, "rb") as f:
        for scenario in yaml.safe_load_all(f):
            zone = zone_entries(scenario["zonedata"])
            for name, case in scenario["tests"].items():
                cases.append((scenario["description"], name, zone, case))
    return cases


def zone_entries(zonedata):
    """[(name, type, value)] in the suite drivers' order, TXT values as a
    tuple of strings, 'TIMEOUT' entries as (name, 'TIMEOUT', None)."""
    out = []
    for name, rrs in zonedata.items():
        generated, gen = [], True
        for rr in rrs:
            if rr == "TIMEOUT":
                out.append((name, "TIMEOUT", None))
                continue
            for t, v in rr.items():
                if t in ("TXT", "SPF") and isinstance(v, str):
                    v = (v,)
                if t == "TXT":
                    gen = False
                elif t == "SPF" and gen:
                    generated.append((name, "TXT", tuple(v)))
                if v == ("NONE",) or t == "SPF":
                    continue
                out.append((name, t, tuple(v) if t == "TXT" else v))
        if gen:
            out.extend(generated)
    return out


def hexs(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return b.hex() if b else "-"


def driver_input(zone, case):
    lines = []
    mx = []
    for name, t, v in zone:
        if t == "TIMEOUT":
            lines.append(f"TIMEOUT\t{hexs(name)}")
        elif t == "TXT":
            lines.append(f"RR\t{hexs(name)}\tTXT\t{hexs(''.join(v))}")
        elif t == "MX":
            mx.append((v[0], len(mx), name, v[1]))
        else:
            lines.append(f"RR\t{hexs(name)}\t{t}\t{hexs(v)}")
    # core/dns hands MX records over sorted by preference.
    for _, _, name, host in sorted(mx):
        lines.append(f"RR\t{hexs(name)}\tMX\t{hexs(host)}")
    lines.append(f"QUERY\t{case['host']}\t{hexs(case['helo'])}\t{hexs(case['mailfrom'])}")
    return "\n".join(lines) + "\n"


def run_outpost(zone, case):
    r = subprocess.run([CHECK], input=driver_input(zone, case), capture_output=True,
                       text=True, timeout=30, env=dict(os.environ, **SAN_ENV))
    assert r.returncode == 0, r.stderr
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    exp = out["explanation"]
    return out["result"], (None if exp == "-" else bytes.fromhex(exp).decode()), out


def expected(case):
    r = case["result"]
    return r if isinstance(r, list) else [r]


# --- pyspf with the same zone ---

def pyspf_check(zone, case):
    import spf

    records = {}
    for name, t, v in zone:
        records.setdefault(name.lower(), []).append((name, t, v))

    def lookup(name, qtype, strict=True, timeout=None, level=0):
        labels = [l for l in name.split(".") if l]
        if any(len(l) > 63 for l in labels):
            raise spf.TempError("DNS label too long")
        name = ".".join(labels)
        seen = False
        for owner, t, v in records.get(name.lower(), []):
            if t == "TIMEOUT":
                if not seen:
                    raise spf.TempError("DNS timeout")
                return
            if t == qtype:
                seen = True
            if t == "AAAA":
                v = bytes(socket.inet_pton(socket.AF_INET6, v))
            elif t == "TXT":
                v = tuple(s.encode("utf-8") for s in v)
            yield ((owner, t), v)
            if not level and t == "CNAME":
                yield from lookup(v, qtype, strict, timeout, 1)

    saved = spf.DNSLookup
    spf.DNSLookup = lookup
    try:
        q = spf.query(i=case["host"], s=case["mailfrom"], h=case["helo"],
                      strict=case.get("strict", True))
        q.set_default_explanation("DEFAULT")
        res, _, exp = q.check()
    finally:
        spf.DNSLookup = saved
    res = {"unknown": "permerror", "error": "temperror"}.get(res, res)
    return res, exp


CASES = load_suite()
IDS = [f"{desc}/{name}" for desc, name, _, _ in CASES]


@pytest.mark.parametrize("desc,name,zone,case", CASES, ids=IDS)
def test_rfc7208_suite(desc, name, zone, case):
    assert Path(CHECK).exists(), f"{CHECK} not built"
    result, exp, out = run_outpost(zone, case)
    assert result in expected(case), (
        f"{name}: {result}, expected {expected(case)}; problem {out['problem']}")
    if "explanation" in case and result == "fail":
        want = None if case["explanation"] == "DEFAULT" else case["explanation"]
        assert exp == want


def pyspf_agrees_with_suite(zone, case):
    res, exp = pyspf_check(zone, case)
    ok = res in expected(case)
    if ok and "explanation" in case and res == "fail":
        ok = exp == case["explanation"]
    return ok, res, exp


@pytest.mark.parametrize("desc,name,zone,case", CASES, ids=IDS)
def test_pyspf_second_opinion(desc, name, zone, case):
    pytest.importorskip("spf")
    ok, res, exp = pyspf_agrees_with_suite(zone, case)
    if not ok:
        pytest.skip(f"pyspf departs from the suite here: {res} {exp!r}")
    ours, our_exp, out = run_outpost(zone, case)
    assert ours == res, f"outpost {ours} ({out['problem']}), pyspf {res}"
    if res == "fail" and "explanation" in case:
        assert (our_exp or "DEFAULT") == exp


def test_pyspf_disagreements(capsys):
    """Lists the cases where pyspf departs from the suite (not a failure)."""
    pytest.importorskip("spf")
    bad = []
    for desc, name, zone, case in CASES:
        ok, res, exp = pyspf_agrees_with_suite(zone, case)
        if not ok:
            bad.append(f"{desc}/{name}: pyspf {res} {exp!r}, suite {case['result']}")
    with capsys.disabled():
        print(f"\npyspf departs from the RFC 7208 suite in {len(bad)} of {len(CASES)} cases")
        for line in bad:
            print("  " + line)
