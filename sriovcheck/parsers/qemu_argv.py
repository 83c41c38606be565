"""QEMU command lines: from ``/proc/PID/cmdline``, libvirt ``.args`` files
(``/var/log/libvirt/qemu/<dom>.log`` has the same shape) or ``ps`` output.

Devices are read from ``-device DRIVER,key=value,...`` (``,,`` is an escaped
comma), from the JSON form libvirt uses since 7.x
(``-device '{"driver":"vfio-pci","host":"0000:03:07.1",...}'``) and from the
legacy ``-pcidevice host=BB:DD.F`` of old qemu-kvm.  ``host=`` (and
``sysfsdev=.../BDF``) is normalised to ``DDDD:BB:DD.F``.

``ps`` loses the quoting of the original argv, so :func:`parse_ps` splits
the command on whitespace.  JSON ``-device`` values have no spaces
(libvirt does not emit them) and still parse; an option value that had
spaces (``-cpu 'qemu64,hv-vendor-id=KVM Hv'``) is cut at the first space.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import FrozenMap, bdf_or_none, require_text, split_lines, to_int

__all__ = [
    "QemuDevice",
    "QemuProcess",
    "parse_ps",
    "parse_qemu_argv",
    "parse_qemu_args_file",
    "split_keyval",
    "split_proc_cmdline",
]


@dataclass(frozen=True)
class QemuDevice:
    driver: str                              # "vfio-pci", "pci-assign", "virtio-net-pci", ...
    props: FrozenMap[str]                    # every property, values as strings (JSON: on/off, numbers)
    host: Optional[str] = None               # host PCI address for assigned devices
    option: str = "-device"                  # "-device" or legacy "-pcidevice"

    @property
    def is_pci_assignment(self) -> bool:
        return self.host is not None


@dataclass(frozen=True)
class QemuProcess:
    binary: str
    name: Optional[str] = None               # guest name from -name
    machine: Optional[str] = None            # -machine/-M type
    cpu_model: Optional[str] = None          # -cpu MODEL (None: no -cpu, QEMU uses its default)
    cpu_options: Tuple[str, ...] = ()        # the ",..." parts after the model
    arch: Optional[str] = None               # from the binary name; None for qemu-kvm/kvm
    accel: Tuple[str, ...] = ()              # "kvm", "tcg" from -enable-kvm/-accel/-machine accel=
    uuid: Optional[str] = None
    devices: Tuple[QemuDevice, ...] = ()
    argv: Tuple[str, ...] = ()

    @property
    def assigned_devices(self) -> Tuple[QemuDevice, ...]:
        return tuple(d for d in self.devices if d.host is not None)


# Options that never take an argument (QEMU qemu-options.hx, old and new).
_FLAGS = frozenset("""
S s snapshot nographic daemonize no-user-config nodefaults nodefconfig no-shutdown no-reboot
enable-kvm no-kvm no-hpet no-acpi full-screen curses usb no-fd-bootchk win2k-hack rtc-td-hack
no-kvm-irqchip no-kvm-pit no-kvm-pit-reinjection enable-nesting preconfig only-migratable
no-quit localtime enable-fips alt-grab ctrl-grab no-frame no-graphic semihosting
old-param nodefconfig sdl portrait std-vga singlestep version help h
""".split())
# Options we read that always take an argument.
_WITH_ARG = frozenset("""
name machine M cpu device pcidevice accel uuid m smp object blockdev drive netdev chardev
mon rtc boot sandbox msg global audiodev display vga overcommit serial parallel numa
""".split())

_ARCH_MAP = {
    "i386": "i686", "x86_64": "x86_64", "aarch64": "aarch64", "arm": "armv7l",
    "ppc64": "ppc64", "ppc": "ppc", "s390x": "s390x", "riscv64": "riscv64", "riscv32": "riscv32",
    "mips": "mips", "mips64": "mips64", "mipsel": "mipsel", "mips64el": "mips64el",
    "sparc": "sparc", "sparc64": "sparc64", "loongarch64": "loongarch64",
}
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}=")


def split_keyval(value: str) -> List[Tuple[Optional[str], str]]:
    """QEMU ``key=value,key=value`` with ``,,`` as a literal comma.

    A part without ``=`` is returned as ``(None, part)`` (the "implied" key).
    """
    parts: List[str] = []
    buf: List[str] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c == ",":
            if i + 1 < n and value[i + 1] == ",":
                buf.append(",")
                i += 2
                continue
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(c)
        i += 1
    parts.append("".join(buf))
    out: List[Tuple[Optional[str], str]] = []
    for p in parts:
        k, eq, v = p.partition("=")
        out.append((k, v) if eq else (None, p))
    return out


def _json_value(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)) or v is None:
        return json.dumps(v)
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def _host_bdf(props: FrozenMap[str], what: str) -> Optional[str]:
    host = props.get("host")
    if host is not None:
        bdf = bdf_or_none(host)
        if bdf is None:
            raise ParseError(f"qemu argv: {what} host={host[:40]!r} is not a PCI address")
        return bdf
    sysfsdev = props.get("sysfsdev")
    if sysfsdev is not None:
        return bdf_or_none(sysfsdev.rstrip("/").rsplit("/", 1)[-1])
    return None


def _device(value: str, option: str) -> QemuDevice:
    v = value.strip()
    if option == "-device" and v.startswith("{"):
        try:
            obj = json.loads(v)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"qemu argv: -device JSON is invalid ({type(exc).__name__})",
                             text=value) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("driver"), str):
            raise ParseError("qemu argv: -device JSON without a \"driver\" string", text=value)
        props = FrozenMap({str(k): _json_value(x) for k, x in obj.items() if k != "driver"})
        driver = obj["driver"]
    else:
        kv = split_keyval(v)
        if option == "-pcidevice":
            driver = "pci-assign"
            props = FrozenMap([(k, x) for k, x in kv if k is not None])
        else:
            if not kv or kv[0][0] is not None or not kv[0][1]:
                if kv and kv[0][0] == "driver":
                    driver = kv[0][1]
                    kv = kv[1:]
                else:
                    raise ParseError("qemu argv: -device without a driver name", text=value)
            else:
                driver = kv[0][1]
                kv = kv[1:]
            props = FrozenMap([(k if k is not None else x, x if k is not None else "on")
                               for k, x in kv])
    return QemuDevice(driver=driver, props=props, host=_host_bdf(props, driver), option=option)


def parse_qemu_argv(argv: Sequence[str]) -> QemuProcess:
    """Parse a QEMU argv (leading ``NAME=value`` environment words are skipped)."""
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence):
        raise ParseError("qemu argv: expected a sequence of strings")
    args = list(argv)
    if not all(isinstance(a, str) for a in args):
        raise ParseError("qemu argv: every argument must be a string")
    i = 0
    while i < len(args) and _ENV.match(args[i]) and not args[i].startswith("-"):
        i += 1
    if i >= len(args):
        raise ParseError("qemu argv: no program")
    binary = args[i]
    if binary.startswith("-"):
        raise ParseError("qemu argv: starts with an option, not a program", text=binary)
    base = binary.rsplit("/", 1)[-1]
    arch: Optional[str] = None
    if base.startswith("qemu-system-"):
        arch = _ARCH_MAP.get(base[len("qemu-system-"):])
    f: Dict[str, Any] = {"binary": binary, "argv": tuple(args)}
    devices: List[QemuDevice] = []
    accel: List[str] = []
    i += 1
    while i < len(args):
        tok = args[i]
        i += 1
        if not tok.startswith("-") or tok == "-":
            continue  # positional (disk image) or stray word
        opt = tok[2:] if tok.startswith("--") else tok[1:]
        value: Optional[str] = None
        if "=" in opt and opt.split("=", 1)[0] in _WITH_ARG:      # --opt=value form
            opt, value = opt.split("=", 1)
        elif opt in _FLAGS:
            value = None
        elif opt in _WITH_ARG or (i < len(args) and not args[i].startswith("-")):
            if i >= len(args):
                raise ParseError(f"qemu argv: -{opt} without its argument")
            value = args[i]
            i += 1
        if opt == "enable-kvm":
            accel.append("kvm")
        if value is None:
            continue
        if opt == "name":
            kv = split_keyval(value)
            name = None
            for k, x in kv:
                if k is None and name is None:
                    name = x
                elif k == "guest":
                    name = x
            f["name"] = name
        elif opt in ("machine", "M"):
            machine = None
            for k, x in split_keyval(value):
                if k is None and machine is None:
                    machine = x
                elif k == "type":
                    machine = x
                elif k == "accel":
                    accel.extend(a for a in x.split(":") if a)
            f["machine"] = machine
        elif opt == "cpu":
            parts = split_keyval(value)
            first = parts[0]
            f["cpu_model"] = first[1] if first[0] is None else None
            rest = parts[1:] if first[0] is None else parts
            f["cpu_options"] = tuple(x if k is None else f"{k}={x}" for k, x in rest)
        elif opt == "accel":
            for k, x in split_keyval(value):
                if k is None or k == "accel":
                    accel.append(x)
        elif opt == "uuid":
            f["uuid"] = value
        elif opt in ("device", "pcidevice"):
            devices.append(_device(value, "-" + opt))
    f["devices"] = tuple(devices)
    f["accel"] = tuple(dict.fromkeys(accel))
    f["arch"] = arch
    return QemuProcess(**f)


def split_proc_cmdline(raw: Union[bytes, str]) -> Tuple[str, ...]:
    """``/proc/PID/cmdline`` (NUL-separated) -> argv.  Bytes are decoded as
    UTF-8 with replacement characters; a trailing NUL does not add an
    empty argument; an empty cmdline (kernel thread) gives ``()``."""
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", errors="replace")
    elif isinstance(raw, str):
        text = raw
    else:
        raise ParseError("split_proc_cmdline: expected bytes or str")
    if not text:
        return ()
    parts = text.split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return tuple(parts)


def parse_qemu_args_file(text: str) -> Tuple[str, ...]:
    """A libvirt ``.args`` file / log command line (shell words, ``\\`` line
    continuations, single/double quotes) -> argv.  Raises :class:`ParseError`
    on an unterminated quote."""
    require_text(text, "parse_qemu_args_file")
    out: List[str] = []
    buf: List[str] = []
    in_word = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 < n and text[i + 1] == "\n":
                i += 2
                continue
            if i + 1 < n:
                buf.append(text[i + 1])
                in_word = True
                i += 2
                continue
            i += 1
            continue
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise ParseError("qemu args: unterminated quote", text.count("\n", 0, i) + 1)
            buf.append(text[i + 1:end])
            in_word = True
            i = end + 1
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n and text[j + 1] in '"\\$`\n':
                    if text[j + 1] != "\n":
                        buf.append(text[j + 1])
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            if j >= n:
                raise ParseError("qemu args: unterminated quote", text.count("\n", 0, i) + 1)
            in_word = True
            i = j + 1
            continue
        if c in " \t\n\r":
            if in_word:
                out.append("".join(buf))
                buf, in_word = [], False
            i += 1
            continue
        buf.append(c)
        in_word = True
        i += 1
    if in_word:
        out.append("".join(buf))
    return tuple(out)


_PS_CMD_HEADERS = ("COMMAND", "CMD", "ARGS")


def parse_ps(text: str) -> Tuple[Tuple[int, Tuple[str, ...]], ...]:
    """``ps aux``/``ps auxwww``/``ps auxwwwm``/``ps -ef`` output -> ((pid, argv), ...)
    for processes whose program (argv[0]) is QEMU (basename starting with
    ``qemu`` or equal to ``kvm``).

    The header line is required (it tells where PID and the command are).
    Thread lines of ``ps m`` (PID ``-``) are skipped.
    """
    require_text(text, "parse_ps")
    lines = split_lines(text)
    hdr_idx = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if hdr_idx is None:
        return ()
    header = lines[hdr_idx].split()
    if not header or header[-1] not in _PS_CMD_HEADERS or "PID" not in header:
        raise ParseError("ps: expected a header line ending in COMMAND/CMD", hdr_idx + 1,
                         lines[hdr_idx])
    ncols = len(header) - 1
    pid_col = header.index("PID")
    out: List[Tuple[int, Tuple[str, ...]]] = []
    for line_no in range(hdr_idx + 2, len(lines) + 1):
        line = lines[line_no - 1]
        if not line.strip():
            continue
        toks = line.split(None, ncols)
        if len(toks) < ncols + 1:
            if len(toks) == ncols and toks[pid_col] == "-":
                continue
            raise ParseError("ps: fewer columns than the header", line_no, line)
        if toks[pid_col] == "-":
            continue
        pid = to_int(toks[pid_col], line_no, line, "PID")
        argv = tuple(toks[ncols].split())
        prog = argv[0].rsplit("/", 1)[-1] if argv else ""
        if prog.startswith("qemu") or prog == "kvm":
            out.append((pid, argv))
    return tuple(out)
