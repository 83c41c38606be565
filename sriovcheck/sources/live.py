"""The host sriovcheck runs on, read-only.

Files are read only under :data:`ALLOWED_PREFIXES` (checked on the path asked
*and* on where its symbolic links lead), opened read-only and non-blocking,
only regular files, each capped in size.  Commands are only those in
:data:`COMMANDS`, run without a shell, with ``LC_ALL=C``, a fixed ``PATH``
(:data:`SAFE_PATH`), stdin from ``/dev/null``, in their own session and
killed after ``SourceOptions.command_timeout`` seconds.  A missing binary, a
timeout, a non-zero exit or a denied permission becomes a collection problem
and leaves its facts unknown.  PCI devices and network interfaces are
enumerated through pyudev (subsystems ``pci`` and ``net``), falling back to
listing ``/sys`` where libudev is absent (containers).

docs/live-mode.md lists all of this for reviewers; its tables are generated from
sriovcheck/evidence.py, the one place commands and prefixes are stated.
"""
from __future__ import annotations

import datetime as _dt
import os
import posixpath
import re
import shutil
import signal
import subprocess
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Pattern, Sequence, Tuple

from .. import __version__, evidence
from ..model import SourceInfo
from .base import MAX_FILE_BYTES, CommandOutput, Source, SourceReadError
from .names import decode_name, decode_text, os_name
from .tree import read_regular_file

if TYPE_CHECKING:
    from concurrent.futures import Future

    from . import SourceOptions

#: Paths live mode may read (files, listings, links).  Anything else is refused.  Stated, with what each
#: is read for, in sriovcheck/evidence.py (LIVE_PREFIXES), which docs/live-mode.md shows.
ALLOWED_PREFIXES: Tuple[str, ...] = evidence.ALLOWED_PREFIXES

#: The only PATH commands are looked up in and run with.
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Canonical command name -> argv, from the command evidence specs (sriovcheck/evidence.py).
#: ``{name}`` placeholders are filled from the canonical name after checking them against
#: :data:`PLACEHOLDERS`.
#: Commands :meth:`LiveSource.prefetch` runs at once (the rest wait for a free slot).
PREFETCH_WORKERS = 4

#: Commands every collection asks for (their evidence specs say "always"): capture starts them together.
ALWAYS_ASKED: Tuple[str, ...] = tuple(spec.command for spec in evidence.command_specs()
                                      if spec.asked_when.startswith("always") and spec.command)

COMMANDS: Dict[str, Tuple[str, ...]] = {spec.command: spec.argv for spec in evidence.command_specs()
                                        if spec.command is not None}

#: What a placeholder may hold: never a leading '-' (no option injection), no '/', no control characters.
PLACEHOLDERS: Dict[str, str] = {
    "iface": r"[A-Za-z0-9_.:@+][A-Za-z0-9_.:@+-]{0,14}",
    "module": r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}",
    "domain": r"[^-/\x00-\x1f\x7f][^/\x00-\x1f\x7f]{0,199}",
    "nodedev": r"pci_[0-9a-f]{4,8}_[0-9a-f]{2}_[0-9a-f]{2}_[0-7]",
}

#: Commands whose absence is normal (no libvirt on the host) and is not a collection problem.
OPTIONAL_BINARIES = frozenset({"virsh"})

#: Largest command output kept.
MAX_OUTPUT_BYTES = 32 * 1024 * 1024

#: Directories enumerated through udev rather than listed.
UDEV_ENUMERATED = {"/sys/bus/pci/devices": "pci", "/sys/class/net": "net"}


def _template_regex(template: str) -> Pattern[str]:
    out = ""
    for piece in re.split(r"(\{[a-z]+\})", template):
        if piece.startswith("{") and piece.endswith("}"):
            key = piece[1:-1]
            out += f"(?P<{key}>{PLACEHOLDERS[key]})"
        else:
            out += re.escape(piece)
    return re.compile(out)


_TEMPLATES: List[Tuple[Pattern[str], Tuple[str, ...]]] = [
    (_template_regex(name), argv) for name, argv in COMMANDS.items()
]


def command_argv(name: str, extra: Sequence[Tuple[Pattern[str], Tuple[str, ...]]] = ()) -> Optional[Tuple[str, ...]]:
    """The argv for canonical command ``name``; None when it is not an allowed command.

    ``extra`` (from :func:`compile_commands`) adds the commands of plugins' evidence specs.
    """
    if not isinstance(name, str):
        return None
    for regex, argv in (*_TEMPLATES, *extra):
        found = regex.fullmatch(name)
        if found:
            values = found.groupdict()
            return tuple(values[a[1:-1]] if a.startswith("{") else a for a in argv)
    return None


def compile_commands(commands: Sequence[Tuple[str, Tuple[str, ...]]]) -> Tuple[Tuple[Pattern[str], Tuple[str, ...]], ...]:
    """(canonical name, argv) pairs as command_argv's ``extra`` templates."""
    return tuple((_template_regex(name), tuple(argv)) for name, argv in commands)


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _under_allowed(path: str) -> bool:
    return any((path + "/").startswith(prefix) for prefix in ALLOWED_PREFIXES)


def _allowed(path: str, real: Optional[str] = None) -> bool:
    """Both the path asked and the file its links lead to (``real``: its realpath, when already known)
    are under ALLOWED_PREFIXES."""
    if not isinstance(path, str) or not path.startswith("/") or "\x00" in path:
        return False
    return _under_allowed(os.path.normpath(path)) and _under_allowed(
        os.path.realpath(path) if real is None else real)


#: libudev by soname, loaded by the dynamic linker.  pyudev itself would look for it with
#: ctypes.util.find_library, which runs ``/sbin/ldconfig -p`` (and, when that finds nothing, ``gcc`` or
#: ``ld``, writing temporary files): commands live mode neither documents nor needs.
LIBUDEV_SONAMES = ("libudev.so.1", "libudev.so.0")


def _pyudev_without_helpers() -> Any:
    """pyudev, made to load libudev without running any program; None when that cannot be ensured."""
    import ctypes

    try:
        import pyudev
        from pyudev._ctypeslib import utils
    except ImportError:
        return None
    if not hasattr(utils, "find_library"):
        return None  # a pyudev we do not know: better list sysfs than let it run helpers

    def find_library(name: str) -> Optional[str]:
        for soname in LIBUDEV_SONAMES if name == "udev" else ():
            try:
                ctypes.CDLL(soname)
            except OSError:
                continue
            return soname
        return None

    utils.find_library = find_library
    return pyudev


class LiveSource(Source):
    kind = "live"

    def __init__(self, options: "SourceOptions",
                 plugin_commands: Sequence[Tuple[str, Tuple[str, ...]]] = ()) -> None:
        super().__init__("live host")
        self.options = options
        #: Commands of evidence specs plugins registered (sriovcheck_register_facts), allowed like COMMANDS.
        self.plugin_commands = compile_commands(plugin_commands)
        self.started = utc_now()
        self._enumerated_by: Dict[str, str] = {}
        #: Commands started ahead by :meth:`prefetch` (name -> its result to come) and the processes
        #: still running, so close() can kill their process groups.
        self._prefetched: Dict[str, "Future[Optional[CommandOutput]]"] = {}
        self._running: Dict[int, "subprocess.Popen[bytes]"] = {}
        self._lock = threading.Lock()
        self._closed = False

    def info(self) -> SourceInfo:
        return SourceInfo(kind=self.kind, location=self.location, collected_at=self.started,
                          as_root=os.geteuid() == 0, tool_version=__version__)

    def _check(self, path: str, real: Optional[str] = None) -> None:
        if not _allowed(path, real):
            raise SourceReadError(path, "outside the paths live mode reads (see docs/live-mode.md); refused")

    # -- files --------------------------------------------------------------------------------
    def read_bytes(self, path: str, max_bytes: int = MAX_FILE_BYTES) -> Optional[bytes]:
        shown, path = path, os_name(path)  # names are in decoded form (names.py): back to the real bytes
        # Resolved once: the destination vetted is the one opened (sysfs paths are deep: each resolution
        # is an lstat per component).
        real = os.path.realpath(path)
        if real == "/dev/null" and os.path.islink(path) and _under_allowed(os.path.normpath(path)):
            return b""  # a masked udev rule or systemd unit: empty by design, and nothing is opened
        self._check(path, real)
        if not os.path.lexists(path):
            return None
        # Follow links as the host does (sysfs is made of them); _check vetted the destination.
        if not os.path.exists(real):
            return None
        try:
            return read_regular_file(real, max_bytes)
        except SourceReadError as exc:
            raise SourceReadError(shown, exc.message) from None

    def list_dir(self, path: str) -> Optional[List[str]]:
        self._check(path)
        subsystem = UDEV_ENUMERATED.get(path.rstrip("/"))
        if subsystem is not None:
            names = self._udev_names(subsystem)
            if names:
                self._enumerated_by[path.rstrip("/")] = f"enumerated by udev, subsystem {subsystem}"
                return names
            self._enumerated_by[path.rstrip("/")] = "listed from sysfs: libudev unavailable"
        real = os_name(path)
        if not os.path.isdir(real):
            return None
        try:
            return sorted(decode_name(name) for name in os.listdir(os.fsencode(real)))
        except OSError as exc:
            raise SourceReadError(path, exc.strerror or str(exc)) from None

    @staticmethod
    def _udev_names(subsystem: str) -> Optional[List[str]]:
        """sys_name of every udev device in ``subsystem``; None when libudev/pyudev is unusable."""
        try:
            pyudev = _pyudev_without_helpers()
            if pyudev is None:
                return None
            context = pyudev.Context()
            return sorted({decode_name(device.sys_name) for device in context.list_devices(subsystem=subsystem)})
        except Exception:  # ImportError, OSError (no libudev.so), pyudev errors: use sysfs instead
            return None

    def read_link(self, path: str) -> Optional[str]:
        # Only the link's own path is judged (its target is just text): a path under the allowed
        # prefixes, or a directory on the way to one ("/lib" may be a link to "usr/lib").
        norm = os.path.normpath(path) if isinstance(path, str) and path.startswith("/") else ""
        if not norm or not (_under_allowed(norm) or any(p.startswith(norm + "/") for p in ALLOWED_PREFIXES)):
            raise SourceReadError(str(path), "outside the paths live mode reads (see docs/live-mode.md); refused")
        real = os_name(path)
        if not os.path.islink(real):
            return None
        try:
            return decode_name(os.readlink(os.fsencode(real)))
        except OSError as exc:
            raise SourceReadError(path, exc.strerror or str(exc)) from None

    def exists(self, path: str) -> bool:
        return _allowed(path) and os.path.exists(os_name(path))

    def is_dir(self, path: str) -> bool:
        return _allowed(path) and os.path.isdir(os_name(path))

    def child_is_dir(self, path: str) -> Callable[[str], bool]:
        """``is_dir(path/name)`` for the names a listing of ``path`` gave (no '/', not '.' or '..'), with the
        same answers and checks, ``path`` resolved once: realpath(path/name) is realpath(path) joined with
        ``name`` unless ``name`` is itself a link (then resolved in full).  ``capture`` asks it of every
        entry of every listing it records."""
        if not isinstance(path, str) or not path.startswith("/") or "\x00" in path:
            return lambda name: self.is_dir(posixpath.join(path, name))
        real_dir = os.path.realpath(path)

        def child_is_dir(name: str) -> bool:
            child = posixpath.join(path, name)
            real = os.path.realpath(child) if os.path.islink(child) else posixpath.join(real_dir, name)
            return _allowed(child, real) and os.path.isdir(os_name(child))

        return child_is_dir

    # -- commands -------------------------------------------------------------------------------
    def prefetch(self, commands: Sequence[str], workers: int = PREFETCH_WORKERS) -> None:
        """Start these commands now, at most ``workers`` at a time, each exactly as :meth:`command` runs it
        (same allowlist, environment, timeout and process-group kill); :meth:`command` then waits for
        the result instead of starting the command again.  ``capture`` uses it so that lspci, dmesg,
        ip and uname run side by side while the files are read."""
        if not self.options.run_commands or os.environ.get("LD_PRELOAD"):
            # A preloaded library (umockdev, a tracer) wraps libc calls with locks of its own: a fork from
            # a worker thread while another thread holds one leaves the child stuck before exec, and Popen
            # waits for it forever.  Such a process runs its commands one by one, as command() does.
            return
        todo = [name for name in dict.fromkeys(commands) if name not in self._prefetched]
        if not todo:
            return
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo))), thread_name_prefix="sriovcheck-command")
        for name in todo:
            self._prefetched[name] = pool.submit(self._run, name)
        pool.shutdown(wait=False)  # the threads end with their commands (each has a timeout)

    def command(self, command: str) -> Optional[CommandOutput]:
        future = self._prefetched.pop(command, None)
        if future is not None:
            return future.result()  # its SourceReadError, if any, is raised here
        return self._run(command)

    def close(self) -> None:
        """Kill what is still running of the prefetched commands (never asked for, or interrupted)."""
        for future in self._prefetched.values():
            future.cancel()
        with self._lock:
            # A command whose Popen returns after this point sees the flag and is killed by its own
            # thread: without it, one started just before close() but not yet registered ran on.
            self._closed = True
            running = list(self._running.values())
        for proc in running:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        self._prefetched.clear()

    def _run(self, command: str) -> Optional[CommandOutput]:
        if not self.options.run_commands:
            return None
        argv = command_argv(command, self.plugin_commands)
        if argv is None:
            raise SourceReadError(command, "not one of the read-only commands live mode may run; refused")
        binary = shutil.which(argv[0], path=SAFE_PATH)
        if binary is None:
            if argv[0] in OPTIONAL_BINARIES:
                return None
            raise SourceReadError(f"command: {command}", f"{argv[0]}: command not found (looked in {SAFE_PATH})")
        env = {"LC_ALL": "C", "LANG": "C", "PATH": SAFE_PATH}
        timeout = self.options.command_timeout
        try:
            proc = subprocess.Popen([binary, *argv[1:]], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, cwd="/", close_fds=True,
                                    start_new_session=True)
        except OSError as exc:
            raise SourceReadError(f"command: {command}", exc.strerror or str(exc)) from None
        with self._lock:
            self._running[proc.pid] = proc
            closed = self._closed
        if closed:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.communicate()
            with self._lock:
                self._running.pop(proc.pid, None)
            raise SourceReadError(f"command: {command}", "the source was closed while it started; killed")
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.communicate()
            raise SourceReadError(f"command: {command}", f"timed out after {timeout:g} s; killed") from None
        finally:
            with self._lock:
                self._running.pop(proc.pid, None)
        if len(out) > MAX_OUTPUT_BYTES:
            raise SourceReadError(f"command: {command}", f"printed more than {MAX_OUTPUT_BYTES} bytes")
        return CommandOutput(command=command, stdout=decode_text(out),
                             origin=f"command: {command}", exit_status=proc.returncode,
                             stderr=decode_text(err[:64 * 1024]))

    def processes(self) -> Optional[List[Tuple[int, List[str]]]]:
        try:
            names = os.listdir("/proc")
        except OSError:
            return None
        out: List[Tuple[int, List[str]]] = []
        for name in names:
            if not name.isdigit():
                continue
            try:
                raw = read_regular_file(f"/proc/{name}/cmdline", 1 << 20)
            except SourceReadError:
                continue  # exited meanwhile, or hidden (hidepid)
            argv = [decode_text(part) for part in raw.split(b"\x00")]
            while argv and argv[-1] == "":
                argv.pop()
            if argv:
                out.append((int(name), argv))
        return sorted(out)

    # -- provenance ---------------------------------------------------------------------------
    def describe(self, path: str) -> str:
        how = self._enumerated_by.get(path.rstrip("/"))
        return f"{path} ({how})" if how else path
