"""Output paths: what sriovcheck writes, where, and what a failure leaves behind.

Every output file (``-o``, ``--json``, ``--junit-xml``, ``--html``, ``--markdown``, ``--fix-script``,
capture's archive) is written by ``sriovcheck/output.py``: a temporary file beside the target,
renamed into place when complete.  Only a new path or a regular file is replaced; a device, fifo,
directory or symbolic link is refused.  Two outputs on one path, an output that is an input, a
full disk and a failing standard output are one error line and exit code 2.
"""
from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Callable, List, Tuple

import pytest
from hostilekit import child_env, one_clear_line, synth_root

from sriovcheck import output

Cli = Callable[..., Tuple[int, str, str]]

#: Every file output of ``check``, with the file name each test gives it.
CHECK_OUTPUTS = (("-o", "r.txt"), ("--json", "r.json"), ("--junit-xml", "r.xml"), ("--html", "r.html"),
                 ("--markdown", "r.md"), ("--fix-script", "fix.sh"), ("--fix-ansible", "fix.yml"))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_root(tmp_path_factory.mktemp("outputs") / "root")


@pytest.fixture(scope="module")
def capture(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sriovcheck.cli import main

    path = tmp_path_factory.mktemp("cap") / "cap.tar.gz"
    assert main(["capture", "--root", str(root), "--no-commands", "-o", str(path)]) == 0
    return path


def _cli(args: List[str], tmp_path: Path, shell_redirect: str = "") -> subprocess.CompletedProcess:
    """The real command in a child (its own stdout), optionally with a shell redirection of stdout."""
    argv = [sys.executable, "-m", "sriovcheck", *args]
    if shell_redirect:
        argv = ["sh", "-c", f'exec "$@" {shell_redirect}', "sh", *argv]
    return subprocess.run(argv, stdout=None if shell_redirect else subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=300,
                          env=child_env(TMPDIR=str(tmp_path), NO_COLOR="1"), cwd=str(tmp_path))


def _no_temp_files(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# -- only regular files are replaced ---------------------------------------------------------------

def _special_targets(tmp_path: Path) -> List[Tuple[str, Path, Callable[[Path], bool]]]:
    out: List[Tuple[str, Path, Callable[[Path], bool]]] = []
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out.append(("fifo", fifo, lambda p: stat.S_ISFIFO(os.lstat(p).st_mode)))
    link = tmp_path / "stdout-link"
    os.symlink("/dev/stdout", link)
    out.append(("symbolic link", link, lambda p: os.path.islink(p) and os.readlink(p) == "/dev/stdout"))
    to_file = tmp_path / "link-to-file"
    (tmp_path / "real-file").write_text("keep\n")
    os.symlink("real-file", to_file)
    out.append(("symbolic link", to_file, lambda p: os.path.islink(p) and (tmp_path / "real-file").read_text() == "keep\n"))
    folder = tmp_path / "a-folder"
    folder.mkdir()
    out.append(("directory", folder, lambda p: p.is_dir() and not list(p.iterdir())))
    try:
        null = tmp_path / "null"
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a private copy of /dev/null's node
        out.append(("device", null, lambda p: stat.S_ISCHR(os.lstat(p).st_mode)))
    except PermissionError:
        pass  # not root: the device case is covered by /dev/null itself below
    return out


@pytest.mark.parametrize("option", [name for name, _ in CHECK_OUTPUTS])
def test_check_refuses_special_files_for_every_output(option: str, root: Path, tmp_path: Path, cli: Cli,
                                                      private_tmp: Path) -> None:
    for what, target, unchanged in _special_targets(tmp_path):
        code, out, err = cli("check", str(root), option, str(target))
        assert code == 2, (what, err)
        assert out == ""
        line = one_clear_line(err)
        assert "refusing to write" in line and what in line, line
        assert unchanged(target), what
        _no_temp_files(target.parent)


def test_capture_refuses_a_device_node_and_dev_stdout(root: Path, tmp_path: Path, private_tmp: Path) -> None:
    for what, target, unchanged in _special_targets(tmp_path):
        if what == "directory":
            continue  # capture -o DIR writes the default name inside DIR
        done = _cli(["capture", "--root", str(root), "--no-commands", "-o", str(target)], tmp_path)
        assert done.returncode == 2, done.stderr
        assert "refusing to write" in one_clear_line(done.stderr)
        assert unchanged(target), what
        _no_temp_files(tmp_path)
    for target in ("/dev/null", "/dev/stdout"):
        before = os.lstat(target)
        done = _cli(["capture", "--root", str(root), "--no-commands", "-o", target], tmp_path)
        assert done.returncode == 2 and "refusing to write" in one_clear_line(done.stderr)
        after = os.lstat(target)
        assert (after.st_ino, after.st_mode, after.st_rdev) == (before.st_ino, before.st_mode, before.st_rdev)


def test_capture_help_text(capsys: pytest.CaptureFixture) -> None:
    from sriovcheck.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["capture", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "/dev/stdout" in text and "refused" in text and "never streamed" in text


# -- every output is replaced whole, by rename ------------------------------------------------------

def test_every_output_replaces_the_previous_file_by_rename(root: Path, tmp_path: Path, cli: Cli,
                                                           private_tmp: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    witnesses = tmp_path / "witnesses"
    witnesses.mkdir()
    args = ["check", str(root)]
    for option, name in CHECK_OUTPUTS:
        (out / name).write_text(f"previous {name}\n")
        os.chmod(out / name, 0o640)
        os.link(out / name, witnesses / name)  # a second name for the old inode
        args += [option, str(out / name)]
    code, stdout, err = cli(*args)
    assert code in (0, 1), err
    assert stdout == ""
    for _, name in CHECK_OUTPUTS:
        # Written to a new file and renamed: the old inode (seen through the witness) is untouched.
        assert (witnesses / name).read_text() == f"previous {name}\n"
        assert (out / name).read_text() != f"previous {name}\n"
        assert os.stat(out / name).st_ino != os.stat(witnesses / name).st_ino
        assert stat.S_IMODE(os.stat(out / name).st_mode) == 0o640  # the replaced file's mode is kept
    _no_temp_files(out)


def test_a_new_report_follows_the_umask(root: Path, tmp_path: Path) -> None:
    done = subprocess.run(["sh", "-c", 'umask 027 && exec "$@"', "sh", sys.executable, "-m", "sriovcheck", "check",
                           str(root), "--json", str(tmp_path / "r.json"), "-o", str(tmp_path / "r.txt")],
                          capture_output=True, text=True, env=child_env(NO_COLOR="1"), timeout=300)
    assert done.returncode in (0, 1), done.stderr
    assert stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode) == 0o640


def test_other_commands_write_atomically_too(root: Path, capture: Path, tmp_path: Path, cli: Cli) -> None:
    for args in (["facts", str(root)], ["fix-script", str(root)], ["diff", str(capture), str(root)]):
        target = tmp_path / f"{args[0]}.out"
        target.write_text("previous\n")
        os.link(target, tmp_path / f"{args[0]}.witness")
        code, out, err = cli(*args, "-o", str(target))
        assert code in (0, 1), err
        assert (tmp_path / f"{args[0]}.witness").read_text() == "previous\n"
        assert target.read_text() != "previous\n"
        code, out, err = cli(*args, "-o", "/dev/null")
        assert code == 2 and "refusing to write" in one_clear_line(err)
    _no_temp_files(tmp_path)


# -- a full disk -------------------------------------------------------------------------------------

def test_enospc_names_the_file_and_keeps_the_previous_one(root: Path, tmp_path: Path, cli: Cli,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.html"
    target.write_text("previous complete report\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "fsync", full)
    code, out, err = cli("check", str(root), "--html", str(target))
    assert code == 2
    line = one_clear_line(err)
    assert str(target) in line and "no space left" in line
    assert target.read_text() == "previous complete report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


ENOSPC_SCRIPT = """
set -e
small="$1"; shift
mount -t tmpfs -o size=64k tmpfs "$small"
printf 'previous\\n' > "$small/r.html"
head -c 56000 /dev/zero > "$small/filler"
set +e
"$@"
code=$?
cat "$small/r.html"
ls -a "$small"
exit $code
"""


def test_enospc_on_a_real_full_file_system(root: Path, tmp_path: Path) -> None:
    # A 64 KiB tmpfs in a private mount namespace (nothing on this machine changes).
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare (util-linux) to mount a small tmpfs privately")
    small = tmp_path / "small"
    small.mkdir()
    done = subprocess.run([unshare, "-m", "--propagation", "private", "sh", "-c", ENOSPC_SCRIPT, "sh", str(small),
                           sys.executable, "-m", "sriovcheck", "check", str(root), "--html",
                           str(small / "r.html"), "-o", str(tmp_path / "r.txt")],
                          capture_output=True, text=True, env=child_env(NO_COLOR="1"), timeout=300)
    if done.returncode != 2 and "mount" in done.stderr:
        pytest.skip(f"mounting tmpfs is not permitted here: {done.stderr.strip()}")
    assert done.returncode == 2, done.stderr
    assert f"cannot write {small / 'r.html'}: no space left on device" in one_clear_line(done.stderr)
    shown = done.stdout.splitlines()
    assert shown[0] == "previous"  # the previous report, whole
    assert sorted(shown[1:]) == [".", "..", "filler", "r.html"]  # and no partial temporary file
    assert (tmp_path / "r.txt").exists()


# -- outputs that collide with each other or with an input -----------------------------------------

def test_two_outputs_on_one_path_are_refused(root: Path, tmp_path: Path, cli: Cli) -> None:
    report = tmp_path / "r"
    for pair in (["--json", str(report), "--html", str(report)], ["-o", str(report), "--markdown", str(report)],
                 ["--json", str(report), "--fix-script", str(tmp_path / "." / "r")]):
        code, out, err = cli("check", str(root), *pair)
        assert code == 2
        assert "both write" in one_clear_line(err)
        assert not report.exists()


def test_an_output_that_is_an_input_is_refused(root: Path, capture: Path, tmp_path: Path, cli: Cli) -> None:
    copy = tmp_path / "cap.tar.gz"
    shutil.copy(capture, copy)
    before = copy.read_bytes()
    rules = tmp_path / "site.yaml"
    rules.write_text("rules: []\n")
    for args in (["check", str(copy), "-o", str(copy)], ["check", str(copy), "--html", str(copy)],
                 ["check", str(tmp_path), "--json", str(copy)],  # a folder of snapshots holding it
                 ["check", str(root), "--rules", str(rules), "--markdown", str(rules)],
                 ["facts", str(copy), "-o", str(copy)], ["fix-script", str(copy), "-o", str(copy)],
                 ["diff", str(copy), str(root), "-o", str(copy)]):
        code, out, err = cli(*args)
        assert code == 2, args
        assert "also an input" in one_clear_line(err)
        assert copy.read_bytes() == before
    assert rules.read_text() == "rules: []\n"


# -- standard output that fails ----------------------------------------------------------------------

@pytest.mark.parametrize("redirect", ["> /dev/full", ">&-"])
@pytest.mark.parametrize("command", ["check", "facts", "rules"])
def test_a_failing_stdout_is_one_line_and_exit_2(redirect: str, command: str, root: Path, tmp_path: Path) -> None:
    args = [command] if command == "rules" else [command, str(root)]
    done = _cli(args, tmp_path, shell_redirect=redirect)
    assert done.returncode == 2, done.stderr
    line = one_clear_line(done.stderr)
    assert "standard output" in line


def test_a_failing_stdout_still_leaves_the_report_files(root: Path, tmp_path: Path) -> None:
    done = _cli(["check", str(root), "--json", str(tmp_path / "r.json")], tmp_path, shell_redirect="> /dev/full")
    assert done.returncode == 2
    assert "standard output" in one_clear_line(done.stderr)
    assert (tmp_path / "r.json").read_text().startswith("{")


def test_a_reader_that_goes_away_is_not_an_error(root: Path, tmp_path: Path) -> None:
    done = _cli(["check", str(root), "-v"], tmp_path, shell_redirect="| head -c 10 > /dev/null")
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
