"""results.passed/failed build a Finding without the dataclass __init__ (a 4,096-VF host makes 8,000+):
the object must be the one the constructor makes, every field set."""
from __future__ import annotations

from dataclasses import fields

from sriovcheck.results import Evidence, Finding, Severity, Status, Subject, failed, passed


def _same(fast: Finding, slow: Finding) -> None:
    assert fast == slow
    assert hash(fast.subject) == hash(slow.subject)
    assert {f.name for f in fields(Finding)} == set(vars(fast)) == set(vars(slow))
    for f in fields(Finding):
        assert getattr(fast, f.name) == getattr(slow, f.name), f.name
    assert repr(fast) == repr(slow)


def test_passed_is_the_constructors_finding() -> None:
    subject = Subject("vf", "0000:06:10.0", "enp6s0f0 vf 0 (0000:06:10.0)")
    fast = passed(subject, "mtu 1500 within 9000", Evidence("/sys/class/net/enp6s0f0/mtu", "mtu 9000"),
                  ("ip link show", "mtu 1500"), pf="enp6s0f0")
    slow = Finding(Status.PASS, subject, "mtu 1500 within 9000",
                   (Evidence("/sys/class/net/enp6s0f0/mtu", "mtu 9000"), Evidence("ip link show", "mtu 1500")),
                   {"pf": "enp6s0f0"})
    _same(fast, slow)


def test_failed_is_the_constructors_finding_with_its_severity() -> None:
    subject = Subject("pf", "0000:06:00.0", "enp6s0f0 (0000:06:00.0)")
    for severity in (None, Severity.WARNING):
        fast = failed(subject, "no VFs", "lspci -vvv", severity=severity, want=8)
        slow = Finding(Status.FAIL, subject, "no VFs", (Evidence("lspci -vvv"),), {"want": 8}, severity)
        _same(fast, slow)
        assert fast.missing_facts is False and fast.needs == () and fast.needs_then == ""
