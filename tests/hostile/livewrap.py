"""Run the sriovcheck command line in live mode under watch (a script, run by test_hostile_live.py).

Usage: python livewrap.py CONFIG.json

CONFIG holds ``argv`` (the command line), ``shims`` (the directory live mode runs its commands
from: logging fakes), ``result`` (where to write what was seen), and optional faults: ``deny``
(testbed-relative /sys paths made mode 000), ``vanish`` (host paths whose open fails with ENOENT,
as when a device goes away between listing and reading) and ``gone_on_read`` (host paths whose
read fails with ENODEV, as sysfs does for a removed device).

What is seen, through a Python audit hook installed once sriovcheck is imported: every file opened
(and how), every directory listed, every file-system change, every process started (argv, env,
cwd), every signal sent; and a hash of the umockdev testbed (the fake /sys) before and after.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import sys
from typing import Any, Dict, List, Tuple

CONFIG = json.loads(open(sys.argv[1], encoding="utf-8").read())

import sriovcheck.builtin_rules  # noqa: E402
import sriovcheck.checks  # noqa: E402
import sriovcheck.templates  # noqa: E402

import sriovcheck  # noqa: E402 - after reading the configuration, before watching
import sriovcheck.cli as cli  # noqa: E402
import sriovcheck.sources.live as live  # noqa: E402
import sriovcheck.sources.tree as tree  # noqa: E402

live.SAFE_PATH = CONFIG["shims"]
TESTBED = os.environ.get("UMOCKDEV_DIR")
OWN_FILES = {os.path.realpath(p) for p in (sys.argv[1], CONFIG["result"], CONFIG.get("control", ""))}
#: Where Python code and sriovcheck's own data live (its rules, checks and report templates): reading
#: them is the program loading itself, not live mode reading the host.
CODE_ROOTS = tuple({os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)}
                   | {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix),
                      os.path.dirname(os.path.realpath(sriovcheck.__file__))}
                   | {os.path.realpath(p) for package in (sriovcheck.builtin_rules, sriovcheck.checks,
                                                            sriovcheck.templates) for p in package.__path__})

MUTATING = ("os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.chmod", "os.chown", "os.lchown", "os.symlink",
            "os.link", "os.truncate", "os.utime", "os.chflags", "os.setxattr", "os.removexattr", "os.mkfifo",
            "os.mknod", "shutil.", "tempfile.", "socket.connect", "socket.bind", "socket.sendto", "os.system",
            "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

events: Dict[str, List[Any]] = {"reads": [], "writes": [], "listings": [], "changes": [], "processes": [],
                                "signals": []}
recording = False


def _path(value: Any) -> str:
    return os.fsdecode(value) if isinstance(value, (str, bytes, os.PathLike)) else repr(value)


def hook(event: str, args: Tuple[Any, ...]) -> None:
    if not recording:
        return
    if event == "open":
        path, mode, flags = args
        if not isinstance(path, (str, bytes, os.PathLike)):
            return  # an already-open descriptor
        name = _path(path)
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & WRITE_FLAGS)
        if writing:
            events["writes"].append(name)
        elif not os.path.realpath(name).startswith(CODE_ROOTS) and os.path.realpath(name) not in OWN_FILES:
            events["reads"].append(name)
    elif event in ("os.listdir", "os.scandir"):
        name = _path(args[0]) if args and args[0] is not None else "."
        if not os.path.realpath(name).startswith(CODE_ROOTS):  # the import system scanning for modules
            events["listings"].append(name)
    elif event == "subprocess.Popen":
        executable, argv, cwd, env = args
        events["processes"].append({"argv": [os.fsdecode(a) for a in argv], "cwd": cwd,
                                    "env": {os.fsdecode(k): os.fsdecode(v) for k, v in (env or {}).items()}})
    elif event in ("os.kill", "os.killpg"):
        events["signals"].append([event, *[repr(a) for a in args]])
    elif event.startswith(MUTATING):
        events["changes"].append([event, repr(args)[:300]])


def digest(root: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            info = os.lstat(full)
            rel = os.path.relpath(full, root)
            if stat.S_ISLNK(info.st_mode):
                out[rel] = "link " + os.readlink(full)
            elif stat.S_ISREG(info.st_mode):
                mode = stat.S_IMODE(info.st_mode)
                if not mode & 0o444:
                    os.chmod(full, mode | 0o400)  # our own 000 fault: read it for the hash, then restore
                with open(full, "rb") as handle:
                    out[rel] = f"{oct(mode)} {info.st_mtime_ns} " + hashlib.sha256(handle.read()).hexdigest()
                os.chmod(full, mode)
            else:
                out[rel] = f"{oct(info.st_mode)} {info.st_mtime_ns}"
    return out


# -- faults ---------------------------------------------------------------------------------------
for rel in CONFIG.get("deny", []):
    assert TESTBED, "deny needs the umockdev testbed"
    os.chmod(os.path.join(TESTBED, rel.lstrip("/")), 0)

real_open = os.open
real_read = os.read
doomed_fds: Dict[int, str] = {}


def faulty_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: Any = None) -> int:
    name = _path(path)
    if any(name.endswith(p) for p in CONFIG.get("vanish", [])):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    fd = real_open(path, flags, mode, dir_fd=dir_fd)
    if any(name.endswith(p) for p in CONFIG.get("gone_on_read", [])):
        doomed_fds[fd] = name
    return fd


def faulty_read(fd: int, size: int) -> bytes:
    if fd in doomed_fds:
        raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
    return real_read(fd, size)


tree.os = type(sys)("os_with_faults")  # only the snapshot/live file reader sees the faults
tree.os.__dict__.update(os.__dict__)
tree.os.open = faulty_open
tree.os.read = faulty_read

# -- the run ----------------------------------------------------------------------------------------
before = digest(TESTBED) if TESTBED else {}
sys.addaudithook(hook)
recording = True
try:
    code = cli.main(CONFIG["argv"])
finally:
    control = CONFIG.get("control")
    if control:
        open(control, "w").close()  # proves the hook sees writes: must be the only one recorded
    recording = False
sys.stdout.flush()
after = digest(TESTBED) if TESTBED else {}
with open(CONFIG["result"], "w", encoding="utf-8") as handle:
    json.dump({"code": code, "events": events, "testbed_before": before, "testbed_after": after,
               "testbed": TESTBED}, handle)
