"""Which machine a snapshot is of: host name, machine id, DMI serial and UUID, when the snapshot holds them.

``sriovcheck diff`` compares two snapshots of one host; given two different machines it would list
every difference between them as "changes".  These identifiers tell it to warn.  They are read from
what the snapshot already holds -- a root directory's ``etc/machine-id``, a sosreport's copy of
``/sys/class/dmi/id`` (sos's ``hardware`` plugin copies it), a capture's copies of the same files
(``sriovcheck capture`` reads them besides what the checks read; ``--redact`` removes their values) --
and are not part of the host model.  An identifier one side lacks, or a placeholder a vendor left in
the firmware ("To Be Filled By O.E.M."), is unknown and compared with nothing: unknown is not "different".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, FrozenSet, Optional, Tuple

if TYPE_CHECKING:
    from .model import HostFacts
    from .runconfig import RunConfig

#: (field, label, host paths in order of preference).
IDENTITY_FILES: Tuple[Tuple[str, str, Tuple[str, ...]], ...] = (
    ("machine_id", "machine id", ("/etc/machine-id", "/var/lib/dbus/machine-id")),
    ("dmi_serial", "DMI serial", ("/sys/class/dmi/id/product_serial",)),
    ("dmi_uuid", "DMI UUID", ("/sys/class/dmi/id/product_uuid",)),
)

#: Every host path an identifier is read from.
IDENTITY_PATHS: FrozenSet[str] = frozenset(path for _, _, paths in IDENTITY_FILES for path in paths)

def is_identity_file(path: str) -> bool:
    """Whether a host path holds a machine identifier (also where sysfs's ``class/dmi/id`` link leads)."""
    return path in IDENTITY_PATHS or (path.startswith("/sys/")
                                      and path.endswith(("/dmi/id/product_serial", "/dmi/id/product_uuid")))


_MACHINE_ID = re.compile(r"[0-9a-f]{32}\Z")
#: Firmware placeholders, not identities (compared case-insensitively, spaces squeezed).
_PLACEHOLDERS = frozenset({
    "", "0", "none", "n/a", "na", "null", "default string", "not specified", "not applicable", "not available",
    "to be filled by o.e.m.", "to be filled by oem", "system serial number", "chassis serial number",
    "0123456789", "123456789", "serial", "oem", "invalid",
    "03000200-0400-0500-0006-000700080009", "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
})
_MAX_BYTES = 4096


@dataclass(frozen=True)
class HostIdentity:
    hostname: Optional[str] = None
    machine_id: Optional[str] = None
    dmi_serial: Optional[str] = None
    dmi_uuid: Optional[str] = None


def identity_value(field: str, text: Optional[str]) -> Optional[str]:
    """The identifier in a file's text, or None for an empty, malformed or placeholder value."""
    from .redact import REMOVED

    if text is None:
        return None
    value = " ".join(text.strip().split())
    if value == REMOVED:
        return None  # a redacted capture's copy
    if field == "machine_id":
        value = value.lower()
        return value if _MACHINE_ID.match(value) and value != "0" * 32 else None
    if len(value) > 128 or value.lower() in _PLACEHOLDERS or not value.isprintable():
        return None
    return value.lower() if field == "dmi_uuid" else value


def read_identity(source: Any, hostname: Optional[str],
                  allowed: Optional[Callable[[str], bool]] = None) -> HostIdentity:
    """The identifiers ``source`` holds (a :class:`~sriovcheck.sources.base.Source`); None for each it lacks.

    ``allowed``: only paths it accepts are read (capture reads only what live mode may read).
    """
    from .sources.base import SourceReadError

    found = {}
    for field, _, paths in IDENTITY_FILES:
        for path in paths:
            if allowed is not None and not allowed(path):
                continue
            try:
                value = identity_value(field, source.read_text(path, _MAX_BYTES))
            except (SourceReadError, OSError, ValueError):
                value = None
            if value is not None:
                found[field] = value
                break
    return HostIdentity(hostname=hostname, **found)


def different_hosts(old: HostIdentity, new: HostIdentity) -> Optional[str]:
    """A warning when OLD and NEW look like two machines, else None.

    A machine id, DMI serial or DMI UUID both snapshots have decides: any that differs means two
    machines; all that are known being equal means one machine (a changed host name is then just a
    rename, which the diff lists as a fact).  Without any of them, different host names decide.
    """
    strong = [(label, getattr(old, field), getattr(new, field)) for field, label, _ in IDENTITY_FILES]
    known = [(label, before, after) for label, before, after in strong if before and after]
    reasons = [f"{label} {before!r} in OLD, {after!r} in NEW" for label, before, after in known if before != after]
    if known and not reasons:
        return None
    if old.hostname and new.hostname and old.hostname != new.hostname:
        reasons.insert(0, f"OLD is host {old.hostname!r} and NEW is host {new.hostname!r}")
    if not reasons:
        return None
    return "OLD and NEW look like two machines (" + "; ".join(reasons) + "): a diff compares two snapshots of one host"


def collect_identified(location: Optional[str], config: "RunConfig") -> Tuple["HostFacts", HostIdentity]:
    """All of a source's facts (as :func:`sriovcheck.fleet.collect`) and its identity, in one opening."""
    from .facts import Orchestrator
    from .fleet import _providers, _reading
    from .sources import open_source

    with open_source(location, config.registry, config.source_kind, config.source_options) as source:
        facts = Orchestrator(_reading(location, source), _providers(config.registry)).facts()
        return facts, read_identity(source, facts.hostname)
