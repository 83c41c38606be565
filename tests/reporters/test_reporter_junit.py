"""JUnit XML: both schemas, an independent parser, CI consumers' rules, byte-identical output."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List

import pytest
import xmlschema
from junitparser import Error, Failure, JUnitXml, Skipped
from reportkit import SCHEMAS, TIMESTAMP, XSS, failing_report, make_report, options, result

from sriovcheck.model import HostFacts, SourceInfo
from sriovcheck.reporters import junit
from sriovcheck.results import Report, Severity, Status, Subject


@pytest.fixture(scope="module")
def schemas() -> List[xmlschema.XMLSchema]:
    return [xmlschema.XMLSchema(str(SCHEMAS / "junit-ant-strict.xsd")),
            xmlschema.XMLSchema(str(SCHEMAS / "junit-jenkins-10.xsd"))]


def _validate(text: str, schemas: List[xmlschema.XMLSchema]) -> None:
    for schema in schemas:
        errors = list(schema.iter_errors(text))
        assert not errors, f"{schema.url}: {errors[0]}"


@pytest.mark.parametrize("policy", ["failure", "skipped", "pass"])
def test_valid_under_both_schemas(fleet: List[Report], hostile: Report, schemas, policy: str) -> None:
    for reports in ([fleet[0]], fleet, [hostile]):
        _validate(junit.render(reports, options(junit_warnings=policy)), schemas)


def test_an_empty_run_is_valid(schemas) -> None:
    text = junit.render([], options())
    _validate(text, schemas)
    assert ET.fromstring(text.encode()).tag == "testsuites"


def test_layout_per_host(fleet: List[Report]) -> None:
    text = junit.render(fleet, options())
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>')
    root = ET.fromstring(text.encode())
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["web01.example.com", "web02", "/srv/captures/broken.tar.gz"]
    assert [s.get("id") for s in suites] == ["0", "1", "2"]
    for suite in suites:
        assert suite.get("timestamp") == TIMESTAMP
        assert suite.get("package") == "sriovcheck"
        assert suite.get("time") == "0.000"
        assert [child.tag for child in suite][0] == "properties"
        assert [child.tag for child in suite][-2:] == ["system-out", "system-err"]
    props = {p.get("name"): p.get("value") for p in suites[0].find("properties")}
    assert props["sriovcheck.version"] == "0.1.0"
    assert props["host.kernel"] == "5.14.0-70.el9.x86_64"
    assert props["source.kind"] == "capture"
    assert props["source.location"] == "/srv/captures/web01.tar.gz"
    assert props["sriovcheck.profile"] == "default"
    assert suites[1].get("hostname") == "web02"
    assert suites[2].get("hostname") == "unknown"  # unknown is not "localhost"


def test_read_back_by_junitparser(fleet: List[Report], tmp_path: Path) -> None:
    path = tmp_path / "sriov.xml"
    path.write_text(junit.render(fleet, options()), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 3

    first = suites[0]
    counts = fleet[0].counts()
    assert first.tests == len(fleet[0].results)
    assert first.failures == counts["fail"]
    assert first.errors == counts["error"]
    assert first.skipped == counts["skip"] + counts["manual"] + counts["waived"]
    cases = {case.name: case for case in first}
    zero_mac = cases["SRIOV201 vf-zero-mac enp1s0f0 vf 0 (0000:01:10.0)"]
    assert zero_mac.classname == "sriovcheck.vf.vf-zero-mac"
    (failure,) = zero_mac.result
    assert isinstance(failure, Failure)
    assert failure.type == "error"
    assert failure.message.startswith("VF 0 of enp1s0f0 (0000:01:10.0) has MAC 00:00:00:00:00:00")
    # GitLab shows only the body: it has the message, the evidence and the fix.
    assert "ip link show enp1s0f0: vf 0 link/ether 00:00:00:00:00:00" in failure.text
    assert "ip link set enp1s0f0 vf 0 mac 02:00:00:01:00:00" in failure.text

    crash = cases["SRIOV902 sample-crash host"]
    assert isinstance(crash.result[0], Error)
    waived = cases["SRIOV203 vf-passthrough-driver enp1s0f0 vf 1 (0000:01:10.4)"]
    assert isinstance(waived.result[0], Skipped)
    assert waived.result[0].message == "waived: lab host; accepted until 2026-06-30"
    manual = cases["SRIOV303 guest-vf-driver guest win2k8"]
    assert manual.result[0].message.startswith("manual check: ")
    passed = cases["SRIOV202 vf-duplicate-mac host"]
    assert passed.is_passed and not passed.result

    broken = suites[2]
    assert broken.errors == 1 and broken.tests == 1
    (case,) = list(broken)
    assert case.classname == "sriovcheck.source"
    assert "not a gzip archive" in case.result[0].message


def test_skipped_is_never_bare(fleet: List[Report]) -> None:
    root = ET.fromstring(junit.render(fleet, options(junit_warnings="skipped")).encode())
    skipped = root.iter("skipped")
    for element in skipped:
        assert element.get("message"), ET.tostring(element)
        assert (element.text or "").strip()


def test_failure_and_error_have_a_type(fleet: List[Report]) -> None:
    root = ET.fromstring(junit.render(fleet, options()).encode())
    assert {e.get("type") for e in root.iter("failure")} == {"error", "warning", "info"}
    assert {e.get("type") for e in root.iter("error")} == {"check-error", "source-error"}


@pytest.mark.parametrize("policy, failures, skipped", [
    ("failure", 8, 3), ("skipped", 4, 7), ("pass", 4, 3)])
def test_warning_policy(failing: Report, policy: str, failures: int, skipped: int) -> None:
    root = ET.fromstring(junit.render([failing], options(junit_warnings=policy)).encode())
    suite = root.find("testsuite")
    assert (suite.get("failures"), suite.get("skipped")) == (str(failures), str(skipped))
    assert suite.get("tests") == str(len(failing.results))
    assert len(list(root.iter("failure"))) == failures
    out = suite.find("system-out").text
    if policy == "pass":
        assert "warning reported as pass: SRIOV102 vfs-enabled" in out
        assert "info" not in [f.get("type") for f in root.iter("failure")]
    else:
        assert "reported as pass" not in out
    severities = {f.get("type") for f in root.iter("failure")}
    assert severities == ({"error", "warning", "info"} if policy == "failure" else {"error"})


def test_testcase_names_are_unique(tmp_path: Path) -> None:
    facts = HostFacts(source=SourceInfo(kind="fixture", location="x"), hostname="h")
    same_label = [result("SRIOV202", "vf-duplicate-mac", Status.FAIL, Severity.ERROR,
                         Subject("mac", f"52:54:00:00:00:0{i}", "duplicate MAC"), "dup") for i in range(3)]
    no_id = [result("SRIOV999", "x", Status.PASS, Severity.INFO, Subject("host", "", "host"), "ok")] * 2
    report = make_report(facts, same_label + no_id)
    root = ET.fromstring(junit.render([report], options()).encode())
    names = [c.get("name") for c in root.iter("testcase")]
    assert len(names) == len(set(names)) == 5
    assert "SRIOV202 vf-duplicate-mac duplicate MAC (mac 52:54:00:00:00:01)" in names
    assert "SRIOV999 x host #2" in names


def test_suite_names_are_unique_for_two_snapshots_of_one_host() -> None:
    reports = [failing_report(), failing_report()]
    reports[1] = Report(facts=HostFacts(**{**reports[1].facts.__dict__,
                                            "source": SourceInfo(kind="capture", location="/b.tar.gz")}),
                        results=reports[1].results, tool_version="0.1.0")
    root = ET.fromstring(junit.render(reports, options()).encode())
    assert [s.get("name") for s in root.iter("testsuite")] == [
        "web01.example.com [/srv/captures/web01.tar.gz]", "web01.example.com [/b.tar.gz]"]


def test_byte_identical_for_the_same_input_and_timestamp(fleet: List[Report]) -> None:
    first = junit.render(fleet, options())
    again = junit.render([failing_report(), *fleet[1:]], options())
    assert first == again
    assert junit.render(fleet, options(timestamp="2026-02-01T13:00:00+01:00")) == first  # same instant
    assert junit.render(fleet, options(timestamp="2026-02-02T00:00:00")) != first


def test_hostile_values_are_text(hostile: Report) -> None:
    text = junit.render([hostile], options())
    assert "\x1b" not in text and "\x00" not in text
    root = ET.fromstring(text.encode())
    suite = root.find("testsuite")
    assert suite.get("hostname") == XSS
    assert suite.get("name") == XSS
    names = [c.get("name") for c in suite.iter("testcase")]
    assert any("\\x1b[31m" in n and "\n" not in n for n in names)
    bodies = "".join(e.text or "" for e in suite.iter("failure"))
    assert "$(touch" in bodies and "\\x00" in bodies
    assert suite.find("system-err").text.startswith("collection problem: " + XSS)


def test_lone_surrogates_and_xml_invalid_characters_are_escaped(schemas) -> None:
    facts = HostFacts(source=SourceInfo(kind="fixture", location="\ud800\x0c\ufffe"), hostname="a\x01b")
    report = make_report(facts, [result("SRIOV001", "iommu-enabled", Status.FAIL, Severity.ERROR,
                                        Subject("host", "", "h\x0bost"), "m\x1f", fix="f\x08")])
    text = junit.render([report], options())
    text.encode("utf-8")  # no lone surrogate left
    _validate(text, schemas)
    suite = ET.fromstring(text.encode()).find("testsuite")
    assert suite.get("hostname") == "a\\x01b"

