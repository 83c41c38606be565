"""PCI facts from configuration space bytes and ``/proc/bus/pci``: an inventory that needs no lspci.

Ranked after the sysfs attributes and before lspci's text (sysfs attributes > config space > lspci >
nodedev): :class:`~sriovcheck.facts.context.Draft.put` keeps the first value, so the PCI provider merges
these right after sysfs.  Where the bytes come from:

* live host, root directory, capture: ``/sys/bus/pci/devices/BDF/config`` (the capture records it);
* sosreport (sos's ``pci`` plugin copies ``/proc/bus/pci`` whole): the table ``/proc/bus/pci/devices``
  (every function, its ids and bound driver) and ``/proc/bus/pci/BB/DD.F`` (its configuration space).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..errors import ParseError
from ..evidence import SYS_PCI
from ..model import NONE, AcsInfo, MsixInfo
from ..parsers.pci_config import PciConfig, parse_pci_config
from ..parsers.proc_bus_pci import (
    ProcPciDevice,
    parse_proc_bus_pci_devices,
    proc_bus_dir_domain_bus,
    proc_config_address,
)
from .context import CollectContext, Draft

PROC_BUS_PCI = "/proc/bus/pci"
PROC_DEVICES = f"{PROC_BUS_PCI}/devices"
#: A config file is at most 4096 bytes; one more byte read shows a file that lies about its length.
CONFIG_READ = 4097


def read_config(ctx: CollectContext, path: str, area: str = "pci") -> Optional[PciConfig]:
    """Decode one configuration space file; None (and a collection problem of ``area``) when unreadable or
    malformed."""
    data = ctx.guard(area, path, lambda: ctx.source.read_bytes(path, CONFIG_READ))
    if data is None:
        return None
    try:
        return parse_pci_config(data)
    except ParseError as exc:
        ctx.problem(ctx.source.describe(path), str(exc), area)
        return None


def sysfs_config(ctx: CollectContext, bdf: str, area: str = "pci") -> Tuple[Optional[PciConfig], str]:
    path = f"{SYS_PCI}/{bdf}/config"
    if not ctx.exists(path):
        return None, ""
    return read_config(ctx, path, area), ctx.source.describe(path)


def proc_inventory(ctx: CollectContext) -> Optional[Tuple[Dict[str, ProcPciDevice], Dict[str, Tuple[PciConfig, str]], str]]:
    """(table rows by address, config spaces by address, table origin), or None without ``/proc/bus/pci/devices``.

    The table has no PCI domain: a row gets the domain of the one ``/proc/bus/pci`` folder holding its
    bus number; a bus number found in two domains leaves those rows without the table's driver.
    """
    text = ctx.text(PROC_DEVICES, "pci")
    if text is None:
        return None
    try:
        rows = parse_proc_bus_pci_devices(text)
    except ParseError as exc:
        ctx.problem(ctx.source.describe(PROC_DEVICES), str(exc), "pci")
        return None
    configs: Dict[str, Tuple[PciConfig, str]] = {}
    domains_of_bus: Dict[int, List[int]] = {}
    for folder in ctx.listing(PROC_BUS_PCI, "pci") or ():
        found = proc_bus_dir_domain_bus(folder)
        if found is None:
            continue
        domain, bus = found
        domains_of_bus.setdefault(bus, []).append(domain)
        for name in ctx.listing(f"{PROC_BUS_PCI}/{folder}", "pci") or ():
            address = proc_config_address(folder, name)
            if address is None:
                continue
            path = f"{PROC_BUS_PCI}/{folder}/{name}"
            cfg = read_config(ctx, path)
            if cfg is not None:
                configs[address] = (cfg, ctx.source.describe(path))
    table: Dict[str, ProcPciDevice] = {}
    for row in rows:
        domains = domains_of_bus.get(row.bus, [0])
        if len(domains) != 1:
            continue
        table[row.address(domains[0])] = row
    return table, configs, ctx.source.describe(PROC_DEVICES)


def merge_proc_row(fn: Draft, row: ProcPciDevice, origin: str) -> None:
    fn.put("vendor_id", row.vendor_id, origin)
    fn.put("device_id", row.device_id, origin)
    if row.driver is not None:  # the last column: "" when no driver is bound
        fn.put("driver", row.driver or NONE, origin)


def merge_config(fn: Draft, cfg: PciConfig, origin: str) -> None:
    """Config space facts into a function being assembled (after sysfs, before lspci)."""
    if not cfg.vendor_reads_ffff:
        fn.put("vendor_id", cfg.vendor_id, origin)
        fn.put("device_id", cfg.device_id, origin)
    fn.put("class_code", cfg.class_code, origin)
    if cfg.capabilities is not None:
        fn.put("is_express", cfg.express is not None, origin)
        if cfg.express is not None:
            fn.put("express_type", cfg.express.device_type_name, origin)
    if cfg.msix is not None:
        fn.put("msix", MsixInfo(enabled=cfg.msix.enabled, count=cfg.msix.table_size), origin)
    if cfg.extended is not None:
        fn.put("ari", cfg.ari is not None, origin)
        fn.put("acs_known", True, origin)
        if cfg.acs is not None:
            fn.put("acs", AcsInfo(capability=tuple(k for k, v in cfg.acs.capability_flags.items() if v),
                                  control=tuple(k for k, v in cfg.acs.control_flags.items() if v)), origin)
    has = cfg.has_sriov
    if has is not None:
        fn.put_sriov("in_config", has, origin)
    s = cfg.sriov
    if s is None:
        return
    fn.put_sriov("total_vfs", s.total_vfs, origin)
    fn.put_sriov("initial_vfs", s.initial_vfs, origin)
    fn.put_sriov("vf_enable", s.vf_enable, origin)
    fn.put_sriov("vf_mse", s.vf_mse, origin)
    fn.put_sriov("ari_hierarchy", s.ari_hierarchy, origin)
    fn.put_sriov("vf_offset", s.vf_offset, origin)
    fn.put_sriov("vf_stride", s.vf_stride, origin)
    fn.put_sriov("vf_device_id", s.vf_device_id, origin)
    # NumVFs is what was last written; VFs exist only with VF Enable set.
    fn.put_sriov("num_vfs", s.num_vfs if s.vf_enable else 0, origin if s.vf_enable else
                 f"{origin} (VF Enable clear: NumVFs {s.num_vfs} is not in effect)")
