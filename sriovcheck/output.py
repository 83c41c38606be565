"""Writing what sriovcheck produces: report files, capture archives and standard output.

Every output file goes through :func:`atomic_output` (or :func:`write_file`): the content is
written to a temporary file in the target's own folder, flushed to disk, and renamed over the
target only when complete.  A run killed midway, a full disk or an error while rendering leaves
the previous complete file in place and no partial one beside it.

A target may only be a new path or an existing regular file.  A device node (``/dev/null``), a
fifo, a socket, a directory or a symbolic link (``/dev/stdout``) is refused: renaming over it
would replace the node itself (as root, the host's ``/dev/null``).  Standard output is chosen by
giving no file (or ``-``), never through ``/dev/stdout``.

:func:`check_outputs` refuses, before any work, two outputs with the same path and an output
that is one of the run's inputs (a snapshot, a rule or waiver file).  :func:`write_stdout` turns
a failing standard output (``> /dev/full``, a closed stdout) into one error line and exit 2.

Adding an output option (``--fix-ansible FILE``...) needs nothing new here: list it among the
outputs given to :func:`check_outputs`, then write it with :func:`write_file`.
"""
from __future__ import annotations

import errno
import os
import stat
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterable, Iterator, Optional, Sequence, Tuple, Union

from .errors import SriovcheckError, UsageError


class OutputError(SriovcheckError):
    """An output could not be written (full disk, closed stdout...): one line, exit code 2."""


def _shown(path: Union[str, Path]) -> str:
    from .reporters.common import one_line

    return one_line(os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8"))


def is_stdout(path: Optional[str]) -> bool:
    """No file, or ``-``: standard output."""
    return path is None or path == "-"


def check_target(path: Union[str, Path]) -> Path:
    """``path`` if sriovcheck may write it: absent, or a regular file (links are not followed).

    Raises UsageError naming the path for a device, fifo, socket, directory or symbolic link,
    and for a folder that does not exist.
    """
    target = Path(path)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError(f"cannot write {_shown(target)}: {exc.strerror or exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISLNK(info.st_mode):
            what = "a symbolic link"
        elif stat.S_ISDIR(info.st_mode):
            what = "a directory"
        elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            what = "a device"
        elif stat.S_ISFIFO(info.st_mode):
            what = "a fifo"
        else:
            what = "a special file"
        raise UsageError(f"refusing to write {_shown(target)}: it is {what}, not a regular file "
                         "(sriovcheck replaces only regular files; give a new path, or no file for stdout)")
    parent = target.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {_shown(target)}: directory {_shown(parent)} does not exist")
    return target


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(outputs: Iterable[Tuple[str, Optional[str]]], inputs: Sequence[Optional[str]] = ()) -> None:
    """Refuse (exit 2) two outputs with one path, an output that is an input, or an unwritable target.

    ``outputs`` are (option, path) pairs (path None or ``-``: stdout, ignored); ``inputs`` the
    files and folders the run reads (snapshots, rule and waiver files).
    """
    seen: list = []
    for option, path in outputs:
        if is_stdout(path):
            continue
        assert path is not None
        for other_option, other in seen:
            if _same(path, other):
                raise UsageError(f"{other_option} and {option} both write {_shown(path)}; give each output "
                                 "its own file")
        for source in inputs:
            if source and _same(path, source):
                raise UsageError(f"{option} {_shown(path)} is also an input of this run; refusing to "
                                 "overwrite it")
        check_target(path)
        seen.append((option, path))


def _new_temp(target: Path, mode: int) -> Tuple[int, str]:
    """A new file beside ``target``, created exclusively with ``mode`` (umask applies)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        # os.urandom(4).hex() is what secrets.token_hex(4) returns; importing secrets (hmac, hashlib)
        # cost every start-up a few milliseconds.
        temp = str(target.parent / f".{target.name[:200]}.{os.urandom(4).hex()}.tmp")
        try:
            return os.open(temp, flags, mode), temp
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "no free temporary name", str(target.parent))


def _failure(target: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on device; the previous file (if any) is unchanged"
    return OutputError(f"cannot write {_shown(target)}: {reason}")


@contextmanager
def atomic_output(path: Union[str, Path], mode: int = 0o666) -> Iterator[IO[bytes]]:
    """A binary file that replaces ``path`` only when the ``with`` block completes.

    The temporary file is created beside the target (same file system, so the rename is
    atomic) with ``mode`` less the umask; an existing target keeps its permission bits.  On any
    error (including Ctrl-C) the temporary file is removed and the target is untouched; an
    OSError becomes :class:`OutputError` naming the target (ENOSPC said in words).
    """
    target = check_target(path)
    try:
        previous = os.lstat(target)
    except OSError:
        previous = None
    try:
        fd, temp = _new_temp(target, mode)
    except OSError as exc:
        raise _failure(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            if previous is not None:
                os.fchmod(handle.fileno(), stat.S_IMODE(previous.st_mode))
        check_target(target)  # still a regular file or absent (not swapped for a device meanwhile)
        os.replace(temp, target)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _failure(target, exc) from None
        raise


def encode_output(text: str) -> bytes:
    """UTF-8 that any reader accepts: a lone surrogate (a name that slipped past the sources'
    decoding) is written as its escape instead of failing the whole report."""
    return text.encode("utf-8", "backslashreplace")


def write_file(path: Union[str, Path], content: Union[str, bytes], mode: int = 0o666) -> None:
    """Write ``content`` (text as UTF-8) to ``path`` atomically (see :func:`atomic_output`)."""
    data = encode_output(content) if isinstance(content, str) else content
    with atomic_output(path, mode) as handle:
        handle.write(data)


def write_file_chunks(path: Union[str, Path], chunks: Iterable[str], mode: int = 0o666) -> None:
    """:func:`write_file` of text given in pieces (a fleet's report, host by host): still atomic."""
    with atomic_output(path, mode) as handle:
        for chunk in chunks:
            handle.write(encode_output(chunk))


def write_stdout_chunks(chunks: Iterable[str]) -> None:
    """:func:`write_stdout` of text given in pieces, each written as it comes.  When the reader goes
    away the rest is still rendered (a renderer's own errors are not hidden) but not written."""
    reading = True
    for chunk in chunks:
        if reading:
            reading = _to_stdout(chunk)


def write_stdout(text: str) -> None:
    """Print ``text`` as UTF-8 on standard output; a failure is one OutputError line (exit 2).

    A reader that went away (EPIPE, ``| head``) is not an error: the rest is dropped quietly.
    """
    _to_stdout(text)


def _to_stdout(text: str) -> bool:
    """:func:`write_stdout`; False when the reader went away (the text is dropped)."""
    stream = sys.stdout
    if stream is None:
        raise OutputError("cannot write to standard output: it is closed")
    data = encode_output(text)
    try:
        binary = getattr(stream, "buffer", None)
        if binary is not None:
            stream.flush()
            binary.write(data)
            binary.flush()
        else:  # a text-only stream (tests capture stdout this way)
            stream.write(data.decode("utf-8"))
            stream.flush()
    except BrokenPipeError:
        _silence_stdout()
        return False
    except (OSError, ValueError) as exc:  # ENOSPC, EBADF, EIO; ValueError: the stream was closed
        _silence_stdout()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise OutputError(f"cannot write to standard output: {reason}") from None
    return True


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush of what is still buffered does
    not print a second error (or a traceback) on the way out."""
    try:
        fd = sys.stdout.fileno()  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass


__all__ = ["OutputError", "atomic_output", "check_outputs", "check_target", "encode_output", "is_stdout",
           "write_file", "write_file_chunks", "write_stdout", "write_stdout_chunks"]
