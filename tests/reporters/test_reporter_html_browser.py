"""The HTML report in a real browser: Debian's headless Chromium driven by selenium + chromedriver.

Checks: no console errors (a wrong CSP hash or a script error would be one),
no network request other than the page itself, the filters hide and show
rows, the copy button works, hostile names render as text and run nothing,
the page reads without JavaScript and prints without the filters.
Screenshots go to test-artifacts/ (gitignored) for a person to look at.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest
from reportkit import ARTIFACTS, XSS, large_host_report, loose_interfaces_report, options
from toolreq import find_tool, requires_tool

from sriovcheck.reporters import html
from sriovcheck.results import Report

pytestmark = [pytest.mark.browser, requires_tool("chromium", "chromedriver")]
CHROMIUM = find_tool("chromium")
CHROMEDRIVER = find_tool("chromedriver")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the [test] extra")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _driver(profile: Path, javascript: bool = True) -> Any:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
                 "--window-size=1280,900"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    if not javascript:
        opts.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path))
    driver = _driver(profile)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: Any, reports: List[Report], path: Path) -> str:
    path.write_text(html.render(reports, options()), encoding="utf-8")
    url = path.resolve().as_uri()
    driver.get("about:blank")
    for log in ("browser", "performance"):  # drop what the start page logged: only this page counts
        driver.get_log(log)
    driver.get(url)
    assert driver.execute_script("return document.readyState") == "complete"
    return url


def _console_errors(driver: Any) -> List[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]


def _requests(driver: Any) -> List[Tuple[str, str]]:
    """(url, document that asked for it) of every request and websocket the browser logged."""
    found = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            found.append((params["request"]["url"], params.get("documentURL", "")))
        elif message["method"] == "Network.webSocketCreated":
            found.append((params["url"], ""))
    return found


def _screenshot(driver: Any, name: str, width: int = 1280, mobile: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": min(max(height, 600), 12000), "deviceScaleFactor": 1, "mobile": mobile})
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": min(max(height, 600), 12000), "deviceScaleFactor": 1, "mobile": mobile})
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


def _visible(driver: Any) -> List[str]:
    """Statuses of the results the filters leave in (a collapsed section may still hide them from view)."""
    return [row.get_attribute("data-status") for row in driver.find_elements(By.CSS_SELECTOR, "details.result")
            if row.get_attribute("hidden") is None]


def _on_screen(driver: Any) -> List[str]:
    return [row.get_attribute("data-status") for row in driver.find_elements(By.CSS_SELECTOR, "details.result")
            if row.is_displayed()]


def test_loads_without_errors_or_network(browser: Any, fleet: List[Report], tmp_path: Path) -> None:
    url = _open(browser, fleet, tmp_path / "fleet.html")
    assert "js" in browser.find_element(By.TAG_NAME, "html").get_attribute("class").split()  # the script ran
    assert _console_errors(browser) == []
    requests = _requests(browser)
    # The page itself and nothing else: no request made by this document but for itself or data:
    # URLs, and no request to the network at all from anywhere in the browser.
    assert (url, url) in requests
    assert all(u == url or u.startswith("data:") for u, document in requests if document == url), requests
    assert not [u for u, _ in requests if u.split(":", 1)[0].lower() in ("http", "https", "ws", "wss", "ftp")]
    assert browser.find_element(By.CSS_SELECTOR, "#filters").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "output.shown").text == "17 results"
    assert _screenshot(browser, "html-report-fleet").stat().st_size > 10_000
    assert _screenshot(browser, "html-report-fleet-narrow", width=390, mobile=True).stat().st_size > 10_000
    # Narrow screen: nothing wider than the viewport except inside scrollable tables.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1
    assert _console_errors(browser) == []


def test_filters_hide_and_show_rows(browser: Any, failing: Report, tmp_path: Path) -> None:
    _open(browser, [failing], tmp_path / "report.html")
    total = len(failing.results)
    assert len(_visible(browser)) == total
    shown = browser.find_element(By.CSS_SELECTOR, "output.shown")

    browser.find_element(By.CSS_SELECTOR, "input[name=status][value=pass]").click()
    visible = _visible(browser)
    assert "pass" not in visible and len(visible) == total - 3
    assert shown.text == f"{total - 3} of {total} results shown"
    browser.find_element(By.CSS_SELECTOR, "input[name=status][value=pass]").click()
    assert len(_visible(browser)) == total

    browser.find_element(By.CSS_SELECTOR, "input[name=severity][value=error]").click()
    assert len(_visible(browser)) == total - sum(1 for r in failing.results if r.severity.value == "error")
    browser.find_element(By.CSS_SELECTOR, "input[name=severity][value=error]").click()

    Select(browser.find_element(By.CSS_SELECTOR, "select[name=rule]")).select_by_value("SRIOV201")
    rows = [r for r in browser.find_elements(By.CSS_SELECTOR, "details.result") if r.is_displayed()]
    assert [r.get_attribute("data-rule") for r in rows] == ["SRIOV201"]
    Select(browser.find_element(By.CSS_SELECTOR, "select[name=rule]")).select_by_value("")

    search = browser.find_element(By.CSS_SELECTOR, "input[name=q]")
    search.send_keys("WIN2K8")  # case-insensitive, over the whole result text
    rules = sorted(r.get_attribute("data-rule") for r in browser.find_elements(By.CSS_SELECTOR, "details.result")
                   if r.is_displayed())
    assert rules == ["SRIOV301", "SRIOV302", "SRIOV303", "SRIOV304"]
    search.send_keys("nothing matches this")
    assert _visible(browser) == []
    assert browser.find_element(By.CSS_SELECTOR, ".none-shown").is_displayed()

    browser.find_element(By.CSS_SELECTOR, "button[type=reset]").click()
    # The form's "reset" event fires before the fields are cleared, so the filters run on the next tick
    # (report.js): wait for that tick instead of racing it.
    WebDriverWait(browser, 5, poll_frequency=0.02).until(lambda b: len(_visible(b)) == total)
    assert not browser.find_element(By.CSS_SELECTOR, ".none-shown").is_displayed()
    assert _console_errors(browser) == []
    _screenshot(browser, "html-report-single")
    _screenshot(browser, "html-report-single-narrow", width=390, mobile=True)


def test_copy_button(browser: Any, failing: Report, tmp_path: Path) -> None:
    _open(browser, [failing], tmp_path / "report.html")
    button = browser.find_element(By.CSS_SELECTOR, "details.result button.copy")
    assert button.is_displayed() and button.text == "Copy"
    button.click()
    # The clipboard answers asynchronously; the label then says what happened (and reverts later).
    WebDriverWait(browser, 5, poll_frequency=0.02).until(
        lambda _: button.text in ("Copied", "Selected: press Ctrl+C"))
    assert _console_errors(browser) == []


def test_hostile_names_render_as_text(browser: Any, hostile: Report, tmp_path: Path) -> None:
    _open(browser, [hostile], tmp_path / "hostile.html")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 -- raises when no alert() ran
    assert browser.find_element(By.CSS_SELECTOR, ".title-host").text == XSS
    assert browser.find_element(By.CSS_SELECTOR, "h2 .host-name").text == XSS
    guest_cells = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "td.guest")]
    assert any(c.startswith(XSS) for c in guest_cells)
    assert XSS in browser.find_element(By.CSS_SELECTOR, ".iface").text
    assert browser.execute_script("return document.images.length") == 0
    assert browser.execute_script("return document.scripts.length") == 1
    assert _console_errors(browser) == []
    _screenshot(browser, "html-report-hostile")


def test_readable_without_javascript(tmp_path: Path, failing: Report) -> None:
    driver = _driver(Path(tempfile.mkdtemp(prefix="chromium-nojs-", dir=tmp_path)), javascript=False)
    try:
        _open(driver, [failing], tmp_path / "report.html")
        assert "no-js" in driver.find_element(By.TAG_NAME, "html").get_attribute("class").split()
        assert not driver.find_element(By.CSS_SELECTOR, "#filters").is_displayed()
        # Everything but the passes and not-applicable skips is open to read; those are one click away.
        collapsed = ("pass",) + tuple("skip" for r in failing.results if r.status.value == "skip")
        assert sorted(_on_screen(driver)) == sorted(r.status.value for r in failing.results
                                                     if r.status.value not in collapsed)
        driver.find_element(By.CSS_SELECTOR, "details.sec-pass > summary").click()
        assert _on_screen(driver).count("pass") == sum(1 for r in failing.results if r.status.value == "pass")
        assert not any(b.is_displayed() for b in driver.find_elements(By.CSS_SELECTOR, "button.copy"))
        fix = driver.find_element(By.CSS_SELECTOR, "details.result[data-rule=SRIOV201] pre")
        assert fix.is_displayed() and "ip link set enp1s0f0 vf 0 mac 02:00:00:01:00:00" in fix.text
        _screenshot(driver, "html-report-no-javascript")
    finally:
        driver.quit()


def test_print_layout(browser: Any, failing: Report, tmp_path: Path) -> None:
    _open(browser, [failing], tmp_path / "report.html")
    browser.execute_script("window.dispatchEvent(new Event('beforeprint'))")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.CSS_SELECTOR, "#filters").is_displayed()
    assert all(r.get_attribute("open") is not None for r in browser.find_elements(By.CSS_SELECTOR, "details.result"))
    pdf = browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": False})
    assert len(pdf["data"]) > 1000
    assert _console_errors(browser) == []


def test_guest_problems_device_names_and_phone_fleet(browser: Any, fleet: List[Report], tmp_path: Path) -> None:
    from dataclasses import replace as dc_replace

    from sriovcheck.results import Result, Severity, Status, Subject

    failing = fleet[0]
    # A guest rule keyed guest/BDF (as SRIOV304 reports it) marks the guest's PROBLEMS cell.
    device_rule = Result(rule="SRIOV304", name="guest-vf-exists", title="Assigned VFs exist", status=Status.FAIL,
                         severity=Severity.ERROR, subject=Subject("guest", "db01/0000:01:10.0",
                                                                   "guest db01: 0000:01:10.0"),
                         message="0000:01:10.0 is assigned to db01 and to win2k8")
    pci = tuple(dc_replace(fn, device_name="Intel Corporation Device 10c9") if fn.address == "0000:01:00.0" else fn
                for fn in failing.facts.pci or ())
    failing = dc_replace(failing, results=failing.results + (device_rule,),
                         facts=dc_replace(failing.facts, pci=pci))
    _open(browser, [failing, *fleet[1:]], tmp_path / "fleet.html")
    rows = {r.find_element(By.CSS_SELECTOR, "td.guest").text: r
            for r in browser.find_elements(By.CSS_SELECTOR, "table.guests tbody tr")}
    assert "SRIOV304" in rows["db01"].find_elements(By.TAG_NAME, "td")[-1].text
    devices = [d.text for d in browser.find_elements(By.CSS_SELECTOR, ".pf-facts dd")]
    assert any(d.startswith("Intel Corporation Device 10c9") for d in devices)
    assert not any("Intel Corporation Intel Corporation" in d for d in devices)
    # No installed path as a subtitle: the rule file's name and line, in the details only.
    assert not browser.find_elements(By.CSS_SELECTOR, ".rule-title .muted")
    origins = [o.get_attribute("textContent") for o in browser.find_elements(By.CSS_SELECTOR, "p.origin")]
    assert origins and all("/" not in o.split(" is defined in ")[1].split(";")[0] for o in origins)
    # Passes and skips carry a neutral severity badge.
    sev = browser.find_elements(By.CSS_SELECTOR, "details.result[data-status=pass] .sev")
    assert sev and all("neutral" in s.get_attribute("class").split() for s in sev)
    # Phone width: host, verdict and worst finding of every fleet row are on screen.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    for row in browser.find_elements(By.CSS_SELECTOR, "table.fleet tbody tr"):
        cells = row.find_elements(By.TAG_NAME, "td")[:3]
        for cell in cells:
            rect = browser.execute_script("var r = arguments[0].getBoundingClientRect(); return [r.left, r.right];",
                                          cell)
            assert 0 <= rect[0] and rect[1] <= 391, (cell.text, rect)
    _screenshot(browser, "html-report-fleet-phone", width=390, mobile=True)
    assert _console_errors(browser) == []


def test_prose_fixes_wrap_and_commands_scroll(browser: Any, failing: Report, tmp_path: Path) -> None:
    """Issue 13 section 5: on a phone, a fix's prose wraps inside its box; its commands stay one line each,
    scrolled sideways inside their block, never wrapped (a wrapped command pastes wrongly)."""
    _open(browser, [failing], tmp_path / "report.html")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    measure = ("var e = arguments[0], s = getComputedStyle(e); "
               "return [e.scrollWidth, e.clientWidth, s.whiteSpace, s.overflowX, s.overflowWrap];")
    prose = [browser.execute_script(measure, p) for p in browser.find_elements(By.CSS_SELECTOR, ".fix .prose")
             if p.is_displayed()]
    assert prose and max(len(p.text) for p in browser.find_elements(By.CSS_SELECTOR, ".fix .prose")) > 80
    for scroll, client, white_space, _, wrap in prose:
        assert scroll <= client + 1 and white_space == "pre-line" and wrap == "anywhere"
    commands = [browser.execute_script(measure, p) for p in browser.find_elements(By.CSS_SELECTOR, ".fix .code pre")
                if p.is_displayed()]
    assert commands
    for _, _, white_space, overflow_x, _ in commands:
        assert white_space == "pre" and overflow_x == "auto"
    assert any(scroll > client for scroll, client, *_ in commands)  # at 390 px some command is wider: it scrolls
    assert browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 1
    assert _console_errors(browser) == []


def test_interfaces_without_a_pci_function_are_shown(browser: Any, tmp_path: Path) -> None:
    _open(browser, [loose_interfaces_report()], tmp_path / "loose.html")
    articles = browser.find_elements(By.CSS_SELECTOR, "section.topology article.loose")
    assert len(articles) == 2
    browser.execute_script("arguments[0].scrollIntoView()", articles[0])
    heading = articles[0].find_element(By.TAG_NAME, "h4").text
    assert "ens9f0" in heading and "PCI address unknown" in heading
    rows = [[c.text for c in r.find_elements(By.TAG_NAME, "td")]
            for r in articles[0].find_elements(By.CSS_SELECTOR, "table.vfs tbody tr")]
    assert rows == [["0", "00:00:00:00:00:00", "0", "yes", "no", "auto", "SRIOV201"],
                    ["1", "02:11:22:33:44:55", "42", "no", "yes", "enable", ""]]
    headings = [h.text for h in articles[0].find_elements(By.CSS_SELECTOR, "table.vfs th")]
    assert headings == ["VF", "MAC", "VLAN", "SPOOFCHK", "TRUST", "LINK", "PROBLEMS"]  # th text is upper-cased
    assert "BDF, Driver, Guest" in articles[0].text
    browser.execute_script("arguments[0].scrollIntoView()", articles[1])
    assert "PCI address 0000:af:00.0 not in the PCI device list" in articles[1].text
    assert _console_errors(browser) == []
    _screenshot(browser, "html-report-loose-interfaces")


@pytest.mark.slow
def test_large_host_report_in_the_browser(tmp_path: Path) -> None:
    """The 4,096-VF / 512-guest host: loads without errors, failures first and readable without JavaScript,
    the filters work over grouped entries, every VF row is in the topology.  (How long it takes to open is
    measured by `benchmarks/run.py --only html`, not here.)"""
    report = large_host_report(tmp_path / "sos")
    page = tmp_path / "large.html"
    driver = _driver(Path(tempfile.mkdtemp(prefix="chromium-large-", dir=tmp_path)))
    try:
        _open(driver, [report], page)
        assert _console_errors(driver) == []
        first = driver.find_element(By.CSS_SELECTOR, "details.sec-attention details.result")
        assert first.is_displayed() and first.get_attribute("data-status") == "fail"
        topology = driver.find_element(By.CSS_SELECTOR, "section.topology")
        assert driver.execute_script("return arguments[0].getBoundingClientRect().top", first) < \
            driver.execute_script("return arguments[0].getBoundingClientRect().top", topology)
        assert len(driver.find_elements(By.CSS_SELECTOR, "table.vfs tbody tr")) == 4096
        last_pf = driver.find_elements(By.CSS_SELECTOR, "section.topology article.pf")[-1]
        driver.execute_script("arguments[0].scrollIntoView()", last_pf)  # laid out when near the viewport
        assert last_pf.is_displayed() and len(last_pf.find_elements(By.CSS_SELECTOR, "tbody tr")) == 256
        Select(driver.find_element(By.CSS_SELECTOR, "select[name=rule]")).select_by_value("SRIOV004")
        shown = [r for r in driver.find_elements(By.CSS_SELECTOR, "details.result") if r.get_attribute("hidden") is None]
        assert shown and {r.get_attribute("data-rule") for r in shown} == {"SRIOV004"}
        assert _console_errors(driver) == []
    finally:
        driver.quit()
    nojs = _driver(Path(tempfile.mkdtemp(prefix="chromium-large-nojs-", dir=tmp_path)), javascript=False)
    try:
        nojs.get(page.resolve().as_uri())
        failing = {r.rule for r in report.results if r.status.value == "fail"}
        on_screen = {r.get_attribute("data-rule") for r in nojs.find_elements(By.CSS_SELECTOR,
                                                                            "details.sec-attention details.result")
                     if r.is_displayed()}
        assert failing <= on_screen
    finally:
        nojs.quit()
