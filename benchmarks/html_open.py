#!/usr/bin/env python3
"""How long an HTML report takes to open in headless Chromium (issue 13: the large host's report opens in
under 2 s).

    python benchmarks/html_open.py REPORT.html [REPORT2.html ...] [--rounds 7]

Chromium is driven through chromedriver's W3C WebDriver HTTP interface with nothing but the standard
library (no selenium needed in the benchmark's interpreter).  Every round opens the file in a fresh tab
of one browser (each navigation parses and lays out the whole page again; nothing is cached between
``file://`` loads that would matter), then reads the page's own clocks:

* ``loadEventEnd`` of the Navigation Timing entry: from the start of the navigation until the page,
  its inline style and script are loaded and run (the script wires the filters over every result);
* ``first-contentful-paint`` from the Paint Timing entries;
* the wall time of the WebDriver ``navigate`` call, which returns once the document is complete.

An ``about:blank``-sized page (an empty HTML file) is measured the same way, interleaved, as the
browser's fixed cost.  It is a script, not a test: nothing here asserts.  Prints one JSON object per
file: {"file", "bytes", "rounds", "load_ms", "fcp_ms", "navigate_ms", "blank_load_ms"} (medians).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage",
                  "--disable-extensions", "--window-size=1280,900")

#: Read once the page has loaded: the navigation entry and the first contentful paint, in ms.
TIMING_SCRIPT = """
var nav = performance.getEntriesByType('navigation')[0];
var fcp = performance.getEntriesByType('paint').filter(function (e) { return e.name === 'first-contentful-paint'; })[0];
return {load: nav ? nav.loadEventEnd : null, dcl: nav ? nav.domContentLoadedEventEnd : null,
        fcp: fcp ? fcp.startTime : null};
"""


def find(name: str) -> Optional[str]:
    found = shutil.which(name)
    if found is None and name == "chromium" and os.access("/usr/bin/chromium", os.X_OK):
        found = "/usr/bin/chromium"
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Driver:
    """A chromedriver process and one Chromium session, spoken to over HTTP (W3C WebDriver)."""

    def __init__(self, chromium: str, chromedriver: str, profile: Path) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen([chromedriver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/status")
                break
            except (OSError, urllib.error.URLError) as problem:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    raise RuntimeError(f"chromedriver did not start: {problem}") from problem
                time.sleep(0.05)
        capabilities = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": chromium,
                                   "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]}}}}
        try:
            self.session = self._call("POST", "/session", capabilities)["sessionId"]
        except Exception:
            self.process.kill()
            raise

    def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as answer:
            return json.loads(answer.read().decode())["value"]

    def navigate(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def script(self, code: str) -> Any:
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": code, "args": []})

    def close(self) -> None:
        try:
            self._call("DELETE", f"/session/{self.session}")
        except (OSError, urllib.error.URLError):
            pass
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _open(driver: Driver, url: str) -> Dict[str, float]:
    driver.navigate("about:blank")
    started = time.perf_counter()
    driver.navigate(url)
    navigate = (time.perf_counter() - started) * 1000
    timing = driver.script(TIMING_SCRIPT)
    return {"load": float(timing["load"]), "fcp": float(timing["fcp"] or "nan"), "navigate": navigate}


def measure(files: Sequence[Path], rounds: int) -> List[Dict[str, Any]]:
    """Median timings per file over ``rounds`` interleaved rounds (after one untimed warm-up each)."""
    chromium, chromedriver = find("chromium"), find("chromedriver")
    if not chromium or not chromedriver:
        raise RuntimeError("chromium and chromedriver are needed (Debian packages chromium, chromium-driver)")
    with tempfile.TemporaryDirectory(prefix="sriovcheck-html-bench-") as scratch:
        blank = Path(scratch) / "blank.html"
        blank.write_text("<!DOCTYPE html><title>blank</title>", encoding="utf-8")
        pages = [blank, *files]
        driver = Driver(chromium, chromedriver, Path(scratch) / "profile")
        try:
            samples: Dict[Path, List[Dict[str, float]]] = {page: [] for page in pages}
            for page in pages:
                _open(driver, page.resolve().as_uri())
            for number in range(rounds):
                for page in pages if number % 2 == 0 else list(reversed(pages)):
                    samples[page].append(_open(driver, page.resolve().as_uri()))
        finally:
            driver.close()
    blank_load = statistics.median(s["load"] for s in samples[blank])
    return [{"file": str(page), "bytes": page.stat().st_size, "rounds": rounds,
             "load_ms": statistics.median(s["load"] for s in samples[page]),
             "fcp_ms": statistics.median(s["fcp"] for s in samples[page]),
             "navigate_ms": statistics.median(s["navigate"] for s in samples[page]),
             "blank_load_ms": blank_load} for page in files]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    for result in measure(args.files, args.rounds):
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
