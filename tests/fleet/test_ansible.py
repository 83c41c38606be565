"""contrib/ansible/capture.yml run for real with ansible-core against localhost (-c local).

Two inventory hosts, both this machine, each capturing a synthetic root
(``capture --root``) so the run needs no root and no SR-IOV hardware; the
play copies the zipapp, captures, fetches and cleans up, then checks both
archives in one run that writes JUnit XML and HTML.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from jsoncontract import validate_json
from toolreq import need_tool

from sriovcheck.cli import main

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "contrib" / "ansible" / "capture.yml"

pytestmark = pytest.mark.slow


def _ansible_playbook() -> str:
    return need_tool("ansible-playbook")


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zipapp") / "sriovcheck.pyz"
    subprocess.run([sys.executable, str(REPO / "contrib" / "zipapp" / "build.py"), "-o", str(out)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=240)
    return out


def test_the_zipapp_runs_with_nothing_installed(pyz: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # -I: isolated mode, no site-packages, so nothing but the archive's own contents is importable.
    env = {"PATH": os.environ.get("PATH", ""), "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-I", str(pyz), "rules"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    # The same rules as the installed package: packaged rules, checks and profiles all made it in.
    assert main(["rules"]) == 0
    assert done.stdout == capsys.readouterr().out
    unpacked = [p for p in tmp_path.iterdir() if p.name.startswith("sriovcheck-pyz-")]
    assert len(unpacked) == 1 and (unpacked[0].stat().st_mode & 0o077) == 0


def test_playbook_captures_every_host_and_checks_them_in_one_run(pyz: Path, synth: ModuleType,
                                                                 tmp_path: Path) -> None:
    playbook = _ansible_playbook()
    roots = {}
    for name in ("host-a", "host-b"):
        roots[name] = tmp_path / "roots" / name
        synth.write_root(replace(synth.SMALL, hostname=name, seed=len(roots)), roots[name])
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[fleet]\n" + "".join(
        f"{name} sriovcheck_capture_args='--root {root}'\n" for name, root in roots.items())
        + f"\n[all:vars]\nansible_python_interpreter={sys.executable}\n")
    out = tmp_path / "fleet"
    remote_tmp = tmp_path / "host-tmp"
    remote_tmp.mkdir()
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
               ANSIBLE_REMOTE_TEMP=str(tmp_path / "ansible-remote"), ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="False", TMPDIR=str(remote_tmp))
    done = subprocess.run([playbook, "-i", str(inventory), "-c", "local", str(PLAYBOOK),
                           "-e", f"sriovcheck_pyz={pyz}", "-e", f"sriovcheck_output_dir={out}"],
                          capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "failed=0" in done.stdout

    captures = sorted(p.name for p in (out / "captures").iterdir())
    assert captures == ["host-a.tar.gz", "host-b.tar.gz"]
    for archive in (out / "captures").iterdir():  # written by the zipapp on the "hosts": validate here
        with tarfile.open(archive) as tar:
            manifest = next(m for m in tar.getmembers() if m.name.endswith("/sriovcheck-manifest.json"))
            validate_json(tar.extractfile(manifest).read().decode("utf-8"))
    suites = ET.parse(out / "sriovcheck.xml").getroot().findall("testsuite")
    assert len(suites) == 2
    assert all(any(h in (s.get("name") or "") + (s.get("hostname") or "") for h in roots) for s in suites)
    html = (out / "sriovcheck.html").read_text(encoding="utf-8")
    assert "host-a" in html and "host-b" in html
    text = (out / "sriovcheck.txt").read_text(encoding="utf-8")
    assert "host-a" in text and "host-b" in text
    # The hosts are left as they were: the private work directories are gone.
    assert list(remote_tmp.iterdir()) == []
