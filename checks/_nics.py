"""Helpers shared by the built-in checks: naming devices, counting VFs, citing evidence, MACs.

Nothing here reads a file: every answer comes from :class:`~sriovcheck.model.HostFacts`.
Functions return ``None`` when the facts do not tell, so callers can skip with the reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from sriovcheck import derived
from sriovcheck.model import Guest, HostFacts, NetInterface, PciFunction, VfEntry
from sriovcheck.results import Evidence, Subject

ZERO_MAC = "00:00:00:00:00:00"

_BDF_FULL = re.compile(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]\Z")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
#: Characters a sysfs interface name may safely hold in a udev rule or a sed expression.
_PLAIN = re.compile(r"[A-Za-z0-9_.:@-]+\Z")


# -- wording ---------------------------------------------------------------------------------------

#: Letters whose spoken name starts with a vowel sound (ef, aitch, el, em, en, ar, es, ex): "an s390x host".
_VOWEL_NAMED_LETTERS = "fhlmnrsx"


def with_article(word: str) -> str:
    """``word`` after "a" or "an", by how it is spoken: "an aarch64", "an x86_64", "an s390x", "a ppc64le".

    A word starting with a vowel letter takes "an" (not "u" read "you": "a usb"); so does one whose
    first letter is read out as a letter whose name starts with a vowel, i.e. followed by a digit or
    an underscore ("x86", "s390x", "m68k"), and one starting with 8 ("an 8-port").  Everything else
    takes "a".
    """
    text = word.strip()
    if not text:
        return "a"
    first, rest = text[0], text[1:2]
    spelled = bool(rest) and not rest.isalpha()
    if first.lower() in "aeio" or (first.lower() == "u" and not spelled
                                   and text[:3].lower() not in ("uni", "usa", "use", "usb", "uti")):
        return f"an {text}"
    if first == "8" or (first.lower() in _VOWEL_NAMED_LETTERS and spelled):
        return f"an {text}"
    return f"a {text}"


# -- addresses and names ---------------------------------------------------------------------------

def full_bdf(address: str) -> str:
    """``06:00.0`` -> ``0000:06:00.0``; full addresses are lower-cased; anything else is returned as is."""
    return derived.bdf(address)


def is_bdf(text: str) -> bool:
    return bool(_BDF_FULL.match(text))


def is_plain(text: str) -> bool:
    """True when ``text`` holds no character that needs quoting anywhere (udev rules, sed, prose)."""
    return bool(_PLAIN.match(text))


def short_bdf(address: str) -> str:
    """``0000:06:00.0`` -> ``06:00.0`` (how lspci prints it without -D)."""
    return address[5:] if address.startswith("0000:") and is_bdf(address) else address


def iface_of(facts: HostFacts, fn: PciFunction) -> Optional[str]:
    """The network interface of a PCI function, when the source tells."""
    if fn.interfaces:
        return fn.interfaces[0]
    found = facts.interfaces_of(fn.address)
    return found[0].name if found else None


def interface_of(facts: HostFacts, fn: PciFunction) -> Optional[NetInterface]:
    name = iface_of(facts, fn)
    return facts.interface(name) if name else None


def pf_label(facts: HostFacts, fn: PciFunction) -> str:
    iface = iface_of(facts, fn)
    return f"{iface} ({fn.address})" if iface else fn.address


def pf_subject(facts: HostFacts, fn: PciFunction) -> Subject:
    return Subject("pf", fn.address, pf_label(facts, fn))


def guest_subject(guest: Guest) -> Subject:
    return Subject("guest", guest.name, f"guest {guest.name}")


def vf_address(facts: HostFacts, pf: Optional[PciFunction], index: int) -> Optional[str]:
    """The BDF of VF ``index`` of ``pf`` (one answer for every rule: :func:`sriovcheck.derived.vf_address`)."""
    return derived.vf_address(facts, pf, index)


def vf_label(pf_name: str, index: int, address: Optional[str]) -> str:
    return f"{pf_name} vf {index} ({address})" if address else f"{pf_name} vf {index}"


def pf_of_interface(facts: HostFacts, iface: NetInterface) -> Optional[PciFunction]:
    if iface.address:
        fn = facts.function(iface.address)
        if fn is not None:
            return fn
    for fn in facts.pci or ():
        if iface.name in fn.interfaces:
            return fn
    return None


def pf_of_vf(facts: HostFacts, vf: PciFunction) -> Optional[PciFunction]:
    return derived.pf_of_vf(facts, vf)


def vf_index_of(facts: HostFacts, vf: PciFunction) -> Optional[int]:
    return derived.vf_index_of(facts, vf)


def is_vf(facts: HostFacts, fn: PciFunction) -> Optional[bool]:
    """True/False when known (one answer for every rule: :func:`sriovcheck.derived.is_vf`)."""
    return derived.is_vf(facts, fn)


# -- evidence -------------------------------------------------------------------------------------

def cite(origins: Mapping[str, str], name: str, detail: str, fallback: str = "") -> Evidence:
    """Evidence naming where ``name`` was read (from an object's ``origins``)."""
    return Evidence(origins.get(name) or fallback or f"{name} (source not recorded)", detail)


def see(command: str) -> Evidence:
    """Evidence naming the command a human runs to see the fact on the host."""
    return Evidence(command, "run this on the host to see it")


def lspci_sriov(address: str) -> str:
    return f"lspci -vvv -s {address} | grep -A9 SR-IOV"


# -- device tables (from rule params) -------------------------------------------------------------

def find_model(models: Sequence[Mapping[str, Any]], fn: PciFunction) -> Optional[Mapping[str, Any]]:
    """The entry of the SR-IOV NIC table whose vendor and PF device ids match ``fn``."""
    if fn.vendor_id is None or fn.device_id is None:
        return None
    vendor, device = fn.vendor_id.lower(), fn.device_id.lower()
    for entry in models:
        if str(entry.get("vendor", "")).lower() == vendor and device in {str(d).lower() for d in entry.get("devices", ())}:
            return entry
    return None


def find_vf_model(models: Sequence[Mapping[str, Any]], fn: PciFunction) -> Optional[Mapping[str, Any]]:
    """The table entry whose VF device ids match ``fn`` (a VF)."""
    if fn.vendor_id is None or fn.device_id is None:
        return None
    vendor, device = fn.vendor_id.lower(), fn.device_id.lower()
    for entry in models:
        if str(entry.get("vendor", "")).lower() == vendor and device in {str(d).lower() for d in entry.get("vf_devices", ())}:
            return entry
    return None


@dataclass(frozen=True)
class Target:
    """A device a PF rule looks at: what the user or the table named, and the function found (if any)."""

    spec: str  # the BDF or interface name as given, or the BDF for table matches
    function: Optional[PciFunction]
    model: Optional[Mapping[str, Any]] = None
    why: str = ""  # "listed in params.devices" / "Intel I350 (8086:1521) is SR-IOV capable" / ...
    #: Why the host counts as using it for SR-IOV (:func:`sriovcheck.derived.sriov_use`); named in
    #: params.devices counts too.  A target nobody uses is judged at info severity at most.
    used: Tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return bool(self.used)


def resolve_device(facts: HostFacts, spec: str) -> Optional[PciFunction]:
    """A BDF (short or full) or an interface name -> the PCI function, when known."""
    fn = facts.function(full_bdf(spec))
    if fn is not None:
        return fn
    iface = facts.interface(spec)
    if iface is not None and iface.address:
        fn = facts.function(full_bdf(iface.address))
        if fn is not None:
            return fn
    for candidate in facts.pci or ():
        if spec in candidate.interfaces:
            return candidate
    return None


def targets(facts: HostFacts, params: Mapping[str, Any]) -> List[Target]:
    """The PFs rules SRIOV101/102 look at.

    ``params.devices`` when given; else every NIC in the table of SR-IOV capable models,
    plus any other network function that shows the SR-IOV capability (it is evidently capable).
    VFs are never targets.  Each target says whether the host uses it for SR-IOV (``used``): only
    those, and the ones params.devices names, are required to have the capability and VFs.  Requires ``facts.pci`` to be known (callers check).
    """
    models = params.get("models", ())
    devices = [str(d) for d in params.get("devices", ()) or ()]
    out: List[Target] = []
    if devices:
        for spec in devices:
            fn = resolve_device(facts, spec)
            out.append(Target(spec, fn, find_model(models, fn) if fn else None, "listed in params.devices",
                              ("listed in params.devices",)))
        return out
    for fn in facts.pci or ():
        if is_vf(facts, fn):
            continue
        model = find_model(models, fn)
        if model is not None:
            out.append(Target(fn.address, fn, model,
                              f"{model.get('name', 'a NIC')} ({fn.vendor_device}) is an SR-IOV capable model",
                              derived.sriov_use(facts, fn)))
        elif fn.has_sriov and fn.is_network is not False:
            out.append(Target(fn.address, fn, None, "it shows the SR-IOV capability", derived.sriov_use(facts, fn)))
    return out


# -- VF counts ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VfCount:
    """How many VFs a PF has enabled, and where that was read.

    ``count`` None with ``enabled`` True: VFs are on but the number is not in this source.
    """

    count: Optional[int]
    enabled: Optional[bool]
    evidence: Tuple[Evidence, ...] = ()


def module_param(facts: HostFacts, module: Optional[str], name: str) -> Optional[str]:
    mod = facts.module(module) if module else None
    if mod is None or mod.parameters is None:
        return None
    return mod.parameters.get(name)


def _per_port_value(value: str, position: int) -> Optional[int]:
    """``max_vfs=2,4``: the value for the PF at ``position`` among the driver's ports (0-based)."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        return None
    chosen = parts[position] if position < len(parts) else parts[-1] if len(parts) == 1 else None
    if chosen is None:
        return 0  # the driver applies listed values to the first ports only
    try:
        return int(chosen, 0)
    except ValueError:
        return None


def port_position(facts: HostFacts, pf: PciFunction) -> int:
    """Index of ``pf`` among the PFs bound to the same driver, in PCI order (how per-port lists apply)."""
    same = sorted(fn.address for fn in facts.pci or () if fn.driver == pf.driver and not is_vf(facts, fn))
    return same.index(pf.address) if pf.address in same else 0


def vf_count(facts: HostFacts, pf: PciFunction) -> VfCount:
    """The most direct VF count the source has: sysfs, lspci, virtfn links, ip link, VFs found, max_vfs."""
    sriov = pf.sriov
    if sriov is not None and sriov.num_vfs is not None:
        return VfCount(sriov.num_vfs, sriov.num_vfs > 0,
                       (cite(sriov.origins, "num_vfs", f"sriov_numvfs / Number of VFs = {sriov.num_vfs}"),))
    if sriov is not None and sriov.vf_enable is False:
        return VfCount(0, False, (cite(sriov.origins, "vf_enable", "IOVCtl: Enable- (VFs disabled)"),))
    if pf.virtfns is not None:
        return VfCount(len(pf.virtfns), bool(pf.virtfns),
                       (cite(pf.origins, "virtfns", f"{len(pf.virtfns)} virtfnN links"),))
    iface = interface_of(facts, pf)
    if iface is not None and iface.vfs is not None:
        return VfCount(len(iface.vfs), bool(iface.vfs),
                       (cite(iface.origins, "vfs", f"{len(iface.vfs)} 'vf N' lines in ip link show {iface.name}"),))
    found = facts.virtual_functions(pf)
    if found:
        return VfCount(len(found), True, (cite(found[0].origins, "physfn", f"{len(found)} VFs point to this PF"),))
    if sriov is not None and sriov.vf_enable:
        return VfCount(None, True, (cite(sriov.origins, "vf_enable", "IOVCtl: Enable+ (VFs enabled)"),))
    value = module_param(facts, pf.driver, "max_vfs")
    if value is not None:
        wanted = _per_port_value(value, port_position(facts, pf))
        if wanted is not None:
            mod = facts.module(pf.driver or "")
            origin = mod.origins.get("parameters", "") if mod else ""
            return VfCount(None, wanted > 0,
                           (Evidence(origin or f"/sys/module/{pf.driver}/parameters/max_vfs", f"max_vfs = {value}"),))
    return VfCount(None, None)


def vf_count_needs(pf: PciFunction, iface: Optional[str]) -> str:
    where = f"/sys/bus/pci/devices/{pf.address}/sriov_numvfs, 'lspci -vvv -s {pf.address}' as root"
    if iface:
        where += f", or 'ip link show {iface}'"
    return where


def numvfs_path(facts: HostFacts, pf: PciFunction) -> str:
    iface = iface_of(facts, pf)
    if iface:
        return f"/sys/class/net/{iface}/device/sriov_numvfs"
    return f"/sys/bus/pci/devices/{pf.address}/sriov_numvfs"


# -- MACs -----------------------------------------------------------------------------------------

@lru_cache(maxsize=65536)  # called ~26,000 times on a 4,096-VF host, on a few thousand MACs
def norm_mac(mac: Optional[str]) -> Optional[str]:
    if mac is None:
        return None
    text = mac.strip().lower()
    return text if _MAC.match(text) else None


def is_zero_mac(mac: Optional[str]) -> bool:
    return norm_mac(mac) == ZERO_MAC


def is_unicast(mac: str) -> bool:
    return not int(mac.split(":")[0], 16) & 1


def host_macs(facts: HostFacts) -> Set[str]:
    """Every MAC this host shows: interfaces (current and permanent), VF tables, guest configs."""
    taken: Set[str] = set()
    for iface in facts.interfaces or ():
        for mac in (iface.mac, iface.permanent_mac):
            if norm_mac(mac):
                taken.add(norm_mac(mac) or "")
        for entry in iface.vfs or ():
            if norm_mac(entry.mac):
                taken.add(norm_mac(entry.mac) or "")
    for guest in facts.guests or ():
        for dev in guest.devices:
            if norm_mac(dev.mac):
                taken.add(norm_mac(dev.mac) or "")
    return taken


def propose_mac(hostname: Optional[str], pf_key: str, index: int, taken: Set[str]) -> str:
    """A locally administered unicast MAC, stable for (hostname, PF, index) and unique among ``taken``.

    The first octet is 02 (locally administered, unicast) so nobody mistakes it for a vendor address;
    the other five come from SHA-256 of the identity.  On a clash a counter joins the hash input.
    The proposal is added to ``taken`` so several proposals in one run never collide.
    """
    import hashlib  # only here: most runs never need it, and importing it is ~3 ms of start-up

    counter = 0
    while True:
        seed = f"sriovcheck\0{hostname or ''}\0{pf_key}\0{index}\0{counter}".encode("utf-8", "surrogateescape")
        digest = hashlib.sha256(seed).digest()
        mac = "02:" + ":".join(f"{b:02x}" for b in digest[:5])
        if mac not in taken and mac != ZERO_MAC:
            taken.add(mac)
            return mac
        counter += 1


def vf_tables(facts: HostFacts) -> Iterable[Tuple[NetInterface, Optional[PciFunction], VfEntry]]:
    """(PF interface, PF function, VF entry) for every line of every known VF table."""
    for iface in facts.interfaces or ():
        if not iface.vfs:
            continue
        pf = pf_of_interface(facts, iface)
        for entry in iface.vfs:
            yield iface, pf, entry


def guests_of(facts: HostFacts, address: str) -> List[str]:
    return sorted({a.guest.name for a in derived.assignments_of(facts, address)})


def context_defaults(keys: Mapping[str, Any], **given: Any) -> Dict[str, Any]:
    """A fix context with every key the rule's templates use, so StrictUndefined never trips."""
    out = dict(keys)
    out.update(given)
    return out
