"""What recreates VFs at boot: pure readers of the configuration files that set ``sriov_numvfs``.

Each function takes one file's text and its path and returns the
:class:`~sriovcheck.model.PersistenceConfig` entries it finds (none is
normal: most files configure something else).  They extract only the
SR-IOV part of formats whose full parsers live elsewhere (udev, systemd,
NetworkManager, netplan); a file too broken to read raises
:class:`~sriovcheck.errors.ParseError`.  Background: shared/reference/sriov-facts.md §7.
"""
from __future__ import annotations

import configparser
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import ParseError
from ..model import ModprobeOption, PersistenceConfig

__all__ = [
    "VF_MODULE_PARAMS", "from_ifcfg", "from_ifupdown", "from_modprobe", "from_netplan", "from_networkd_link",
    "from_nm_keyfile", "from_shell_lines", "from_systemd_unit", "from_udev_rules", "target_of_path",
]

#: Module parameters that create VFs at load time (sriov-facts.md §2).
VF_MODULE_PARAMS = ("max_vfs", "num_vfs", "num_vf")

_DETAIL_MAX = 300
_ECHO = re.compile(r"echo\s+(?:-n\s+)?['\"]?(\d{1,6})['\"]?\s*(?:>|\|\s*(?:sudo\s+)?tee\s+(?:-a\s+)?)\s*['\"]?([^\s'\";|&]{0,1024}sriov_numvfs)")
_UDEV_ATTR = re.compile(r"ATTRS?\{([^}]{0,256}sriov_numvfs)\}\s*(==|!=|:=|\+=|=)\s*\"([^\"]{0,64})\"")
_UDEV_MATCH = re.compile(r"\b(KERNELS?|NAME|ENV\{INTERFACE\})\s*==\s*\"([^\"]{1,256})\"")
_NET_PATH = re.compile(r"/sys/class/net/([^/\s%*?]{1,64})/device/sriov_numvfs")
_PCI_PATH = re.compile(r"/sys/bus/pci/devices/([0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])/sriov_numvfs")


def _detail(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 3] + "..."


def target_of_path(path: str) -> Optional[str]:
    """``/sys/class/net/ens1f0/device/sriov_numvfs`` -> ``ens1f0``; a PCI path -> its BDF; else None."""
    found = _NET_PATH.search(path)
    if found:
        return found.group(1)
    found = _PCI_PATH.search(path)
    return found.group(1).lower() if found else None


def _logical_lines(text: str) -> List[Tuple[int, str]]:
    """Lines with backslash continuations joined, comments dropped: (first line number, text)."""
    out: List[Tuple[int, str]] = []
    buf: List[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not buf:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        joined = " ".join(part.strip() for part in buf)
        buf = []
        if joined and not joined.startswith("#"):
            out.append((start, joined))
    if buf:
        out.append((start, " ".join(part.strip() for part in buf)))
    return out


def from_shell_lines(text: str, file: str, kind: str) -> Tuple[PersistenceConfig, ...]:
    """``echo N > .../sriov_numvfs`` in any shell-like text (rc.local, scripts, ExecStart lines)."""
    out: List[PersistenceConfig] = []
    for number, line in _logical_lines(text):
        for found in _ECHO.finditer(line):
            out.append(PersistenceConfig(kind=kind, file=f"{file}:{number}", target=target_of_path(found.group(2)),
                                         num_vfs=int(found.group(1)), detail=_detail(line)))
    return tuple(out)


def from_udev_rules(text: str, file: str) -> Tuple[PersistenceConfig, ...]:
    """Rules assigning ``ATTR{...sriov_numvfs}="N"`` or running ``echo N > .../sriov_numvfs``.

    The target is the rule's ``KERNEL``/``KERNELS``/``NAME``/``ENV{INTERFACE}``
    match (an interface name or a BDF), else what the written path names.
    """
    out: List[PersistenceConfig] = []
    for number, line in _logical_lines(text):
        if "sriov_numvfs" not in line:
            continue
        matches = {key: value for key, value in _UDEV_MATCH.findall(line)}
        rule_target = (matches.get("KERNEL") or matches.get("KERNELS") or matches.get("ENV{INTERFACE}")
                       or matches.get("NAME"))
        found_any = False
        for attr, op, value in _UDEV_ATTR.findall(line):
            if op not in ("=", ":="):
                continue  # a match on the current value, not an assignment
            found_any = True
            out.append(PersistenceConfig(kind="udev", file=f"{file}:{number}",
                                         target=rule_target or target_of_path(attr),
                                         num_vfs=int(value) if value.isdigit() else None, detail=_detail(line)))
        for echo in _ECHO.finditer(line):
            found_any = True
            path_target = target_of_path(echo.group(2))
            out.append(PersistenceConfig(kind="udev", file=f"{file}:{number}",
                                         target=path_target or rule_target, num_vfs=int(echo.group(1)),
                                         detail=_detail(line)))
        if not found_any and "RUN" in line:
            out.append(PersistenceConfig(kind="udev", file=f"{file}:{number}", target=rule_target, num_vfs=None,
                                         detail=_detail(line)))
    return tuple(out)


_EXEC = re.compile(r"\s*(ExecStart|ExecStartPre|ExecStartPost|ExecReload)\s*=\s*(.*)$")


def from_systemd_unit(text: str, file: str, enabled: Optional[bool] = None, unit: Optional[str] = None,
                      masked: bool = False) -> Tuple[PersistenceConfig, ...]:
    """``Exec*=`` lines of a unit that write ``sriov_numvfs``.

    ``enabled``: whether a ``*.wants``/``*.requires`` directory of /etc/systemd/system links the unit (None:
    the source cannot tell).  A unit that is not enabled, or is ``masked`` (its name in /etc/systemd/system
    links to /dev/null), is there but never runs at boot: ``not_applied`` says so, with the command that fixes it.
    """
    out: List[PersistenceConfig] = []
    name = unit or file.rsplit("/", 1)[-1].split(":", 1)[0]
    if masked:
        enabled = False
        state = "; masked (links to /dev/null in /etc/systemd/system)"
        never = f"present but masked: systemctl unmask {name} && systemctl enable {name}"
    else:
        state = "" if enabled is None else ("; enabled" if enabled else "; not enabled (no .wants link found)")
        never = "" if enabled is not False else (f"present but not enabled (no link to it in a *.wants or *.requires "
                                                 f"directory of /etc/systemd/system): systemctl enable {name}")
    for number, line in _logical_lines(text):
        found = _EXEC.match(line)
        if not found or "sriov_numvfs" not in found.group(2):
            continue
        echoes = list(_ECHO.finditer(found.group(2)))
        if not echoes:
            out.append(PersistenceConfig(kind="systemd", file=f"{file}:{number}",
                                         target=target_of_path(found.group(2)), num_vfs=None,
                                         detail=_detail(line) + state, not_applied=never, enabled=enabled))
        for echo in echoes:
            out.append(PersistenceConfig(kind="systemd", file=f"{file}:{number}", target=target_of_path(echo.group(2)),
                                         num_vfs=int(echo.group(1)), detail=_detail(line) + state,
                                         not_applied=never, enabled=enabled))
    return tuple(out)


def from_nm_keyfile(text: str, file: str) -> Tuple[PersistenceConfig, ...]:
    """A NetworkManager keyfile with ``[sriov] total-vfs=N`` (NM >= 1.14)."""
    if "[sriov]" not in text:
        return ()
    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",),
                                       comment_prefixes=("#", ";"), inline_comment_prefixes=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    try:
        parser.read_string(text, source=file)
    except configparser.Error as exc:
        raise ParseError(f"NetworkManager keyfile: {exc.message if hasattr(exc, 'message') else exc}".splitlines()[0],
                         source=file) from None
    if not parser.has_section("sriov"):
        return ()
    sriov = parser["sriov"]
    total = sriov.get("total-vfs")
    target = None
    if parser.has_section("connection"):
        target = parser["connection"].get("interface-name")
    if target is None and parser.has_section("match"):
        target = parser["match"].get("interface-name")
    if target is None and parser.has_section("ethernet"):
        target = parser["ethernet"].get("mac-address")
    num = int(total) if total is not None and total.strip().isdigit() else None
    parts = [f"total-vfs={total}" if total is not None else "no total-vfs"]
    if sriov.get("vfs"):
        parts.append(f"vfs={sriov.get('vfs')}")
    if sriov.get("autoprobe-drivers"):
        parts.append(f"autoprobe-drivers={sriov.get('autoprobe-drivers')}")
    return (PersistenceConfig(kind="networkmanager", file=file, target=target, num_vfs=num,
                              detail=_detail("[sriov] " + ", ".join(parts))),)


_IFCFG = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]{0,63})=(.*)$")


def from_ifcfg(text: str, file: str) -> Tuple[PersistenceConfig, ...]:
    """An ifcfg-rh file with ``SRIOV_TOTAL_VFS=N`` (NetworkManager's ifcfg-rh plugin)."""
    values: Dict[str, str] = {}
    for line in text.splitlines():
        found = _IFCFG.match(line)
        if found:
            values[found.group(1)] = found.group(2).strip().strip("'\"")
    total = values.get("SRIOV_TOTAL_VFS")
    if total is None:
        return ()
    target = values.get("DEVICE") or values.get("NAME") or values.get("HWADDR")
    return (PersistenceConfig(kind="networkmanager", file=file, target=target,
                              num_vfs=int(total) if total.isdigit() else None,
                              detail=_detail(f"SRIOV_TOTAL_VFS={total}")),)


def from_netplan(text: str, file: str) -> Tuple[PersistenceConfig, ...]:
    """netplan ``ethernets`` with ``virtual-function-count: N``, or VFs declared with ``link: PF``.

    netplan creates as many VFs as are declared when no count is given.
    """
    import yaml  # only here: a host without netplan files never pays for importing it

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ParseError(f"netplan YAML: {getattr(exc, 'problem', None) or 'invalid YAML'}",
                         mark.line + 1 if mark is not None else None, source=file) from None
    except RecursionError:
        raise ParseError("netplan YAML: nested too deeply", source=file) from None
    except ValueError as exc:  # e.g. an integer longer than Python converts (int_max_str_digits)
        raise ParseError(f"netplan YAML: a value that cannot be read ({str(exc)[:100]})", source=file) from None
    network = doc.get("network") if isinstance(doc, dict) else None
    ethernets = network.get("ethernets") if isinstance(network, dict) else None
    if not isinstance(ethernets, dict):
        return ()
    counts: Dict[str, Optional[int]] = {}
    links: Dict[str, int] = {}
    for ident, conf in ethernets.items():
        if not isinstance(conf, dict):
            continue
        if "virtual-function-count" in conf:
            value = conf["virtual-function-count"]
            counts[str(ident)] = value if isinstance(value, int) and not isinstance(value, bool) else None
        link = conf.get("link")
        if isinstance(link, str):
            links[link] = links.get(link, 0) + 1
    out: List[PersistenceConfig] = []
    for ident in sorted(set(counts) | set(links)):
        conf = ethernets.get(ident) if isinstance(ethernets.get(ident), dict) else {}
        target = _netplan_name(conf) or ident
        if ident in counts:
            out.append(PersistenceConfig(kind="netplan", file=file, target=target, num_vfs=counts[ident],
                                         detail=f"{ident}: virtual-function-count: {counts[ident]}"))
        else:
            out.append(PersistenceConfig(kind="netplan", file=file, target=target, num_vfs=links[ident],
                                         detail=f"{ident}: {links[ident]} VF(s) declared with 'link: {ident}'"))
    return tuple(out)


def _netplan_name(conf: Any) -> Optional[str]:
    if not isinstance(conf, dict):
        return None
    if isinstance(conf.get("set-name"), str):
        return conf["set-name"]
    match = conf.get("match")
    if isinstance(match, dict) and isinstance(match.get("name"), str):
        return match["name"]
    return None


def from_modprobe(options: Sequence[ModprobeOption]) -> Tuple[PersistenceConfig, ...]:
    """``options igb max_vfs=4`` (and num_vfs/num_vf): VFs created when the module loads."""
    out: List[PersistenceConfig] = []
    for option in options:
        for name, value in option.params:
            if name not in VF_MODULE_PARAMS:
                continue
            numbers = [int(v) for v in re.split(r"[,\s]+", value.strip()) if v.isdigit()]
            out.append(PersistenceConfig(kind="modprobe", file=f"{option.file}:{option.line}", target=option.module,
                                         num_vfs=max(numbers) if numbers else None,
                                         detail=_detail(f"options {option.module} {name}={value}")))
    return tuple(out)


_IFACE_STANZA = re.compile(r"(?:iface|interface)\s+(\S{1,64})\s")
_IFUPDOWN_HOOK = re.compile(r"(pre-up|up|post-up)\s+(.*)$")
_IFACE_VARIABLE = re.compile(r"\$\{?IFACE\}?")


def from_ifupdown(text: str, file: str) -> Tuple[PersistenceConfig, ...]:
    """ifupdown's ``/etc/network/interfaces`` (and ``interfaces.d``): ``post-up echo N > .../sriov_numvfs``.

    ``up``, ``pre-up`` and ``post-up`` lines of an ``iface NAME`` stanza run when the interface comes
    up at boot (Debian, Proxmox).  The target is the interface the written path names; a path built
    from ``$IFACE`` means the stanza's own interface.
    """
    out: List[PersistenceConfig] = []
    stanza: Optional[str] = None
    for number, line in _logical_lines(text):
        stripped = line.strip()
        head = _IFACE_STANZA.match(stripped + " ")
        if head:
            stanza = head.group(1)
            continue
        first = stripped.split(" ", 1)[0]
        if first in ("auto", "mapping", "source", "source-directory") or first.startswith("allow-"):
            stanza = None  # another stanza begins: options below it no longer belong to the iface above
            continue
        hook = _IFUPDOWN_HOOK.match(stripped)
        if not hook or "sriov_numvfs" not in hook.group(2):
            continue
        command = _IFACE_VARIABLE.sub(stanza or "IFACE", hook.group(2))
        for echo in _ECHO.finditer(command):
            target = target_of_path(echo.group(2))
            out.append(PersistenceConfig(kind="ifupdown", file=f"{file}:{number}", target=target or stanza,
                                         num_vfs=int(echo.group(1)),
                                         detail=_detail(f"iface {stanza}: {stripped}" if stanza else stripped)))
    return tuple(out)


_PCI_MATCH_PATH = re.compile(r"pci-([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\Z")


def from_networkd_link(text: str, file: str) -> Tuple[PersistenceConfig, ...]:
    """A systemd ``.link`` file creating VFs (systemd 251+): ``[Link] SR-IOVVirtualFunctions=N``, or, when
    that is unset, as many VFs as its ``[SR-IOV] VirtualFunction=`` sections need (systemd.link(5)).

    The target comes from ``[Match]``: ``OriginalName=`` (one name, no glob), ``Path=pci-BDF``, or
    ``Driver=`` (every PF of that driver, like a module option); other matches (MAC address, globs)
    leave it as written: a PF whose name it is, or, for ``MACAddress=`` / ``PermanentMACAddress=``, the PF
    with that address (:func:`sriovcheck.derived.matches_by_mac`).
    """
    if "SR-IOV" not in text:
        return ()
    sections: List[Tuple[str, Dict[str, str]]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1].strip(), {}))
            continue
        if "=" not in line:
            raise ParseError(f"systemd .link file: expected KEY=VALUE or [Section], got {line[:80]!r}", number,
                             source=file)
        if not sections:
            raise ParseError("systemd .link file: a setting before the first [Section]", number, source=file)
        key, _, value = line.partition("=")
        sections[-1][1][key.strip()] = value.strip()  # systemd: a later assignment of a key wins
    link: Dict[str, str] = {}
    match: Dict[str, str] = {}
    vf_indexes: List[int] = []
    for name, values in sections:
        if name == "Link":
            link.update(values)
        elif name == "Match":
            match.update(values)
        elif name == "SR-IOV" and values.get("VirtualFunction", "").isdigit():
            vf_indexes.append(int(values["VirtualFunction"]))
    count_text = link.get("SR-IOVVirtualFunctions")
    if count_text:
        if not count_text.isdigit():
            raise ParseError(f"systemd .link file: SR-IOVVirtualFunctions={count_text!r} is not a number",
                             source=file)
        count: Optional[int] = int(count_text)
        how = f"SR-IOVVirtualFunctions={count_text}"
    elif vf_indexes:
        count = max(vf_indexes) + 1
        how = f"{len(vf_indexes)} [SR-IOV] sections (VirtualFunction up to {max(vf_indexes)})"
    else:
        return ()
    target: Optional[str] = None
    names = match.get("OriginalName", "").split()
    path = _PCI_MATCH_PATH.match(match.get("Path", ""))
    drivers = match.get("Driver", "").split()
    if len(names) == 1 and not any(c in names[0] for c in "*?["):
        target = names[0]
    elif path:
        target = path.group(1).lower()
    elif len(drivers) == 1 and not any(c in drivers[0] for c in "*?["):
        target = drivers[0]
    else:
        target = " ".join(f"{k}={v}" for k, v in sorted(match.items())) or "(no [Match])"
    return (PersistenceConfig(kind="networkd", file=file, target=target, num_vfs=count,
                              detail=_detail(f"[Match] {' '.join(f'{k}={v}' for k, v in sorted(match.items()))}; "
                                             f"[Link] {how}")),)
