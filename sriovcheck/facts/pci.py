"""PCI functions: sysfs attributes first, then configuration space (sysfs ``config``, or ``/proc/bus/pci`` in a
sosreport), then ``lspci -vvv``, then ``virsh nodedev-dumpxml``; PFs and VFs linked.

VF Enable is the truth: VF addresses are derived from First VF Offset and VF Stride only when the SR-IOV
control register has VF Enable set (``IOVCtl: Enable+``), and never onto the address of another real
function (that conflict is a collection problem, not invented VFs)."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from ..errors import ParseError
from ..evidence import COMMAND, IOMMU_GROUPS, SYS_PCI
from ..model import NONE, AcsInfo, Guest, KernelInfo, MsixInfo, NetInterface, PciFunction, SriovInfo
from ..parsers._common import FrozenMap, bdf_or_none
from .context import MAX_SMALL_BYTES, CollectContext, Draft, basename, safe_name
from .pci_config import merge_config, merge_proc_row, proc_inventory, sysfs_config
from .provider import Provider

#: Drivers that mean "handed to a guest or userspace", for PCI functions of any class.
PASSTHROUGH_DRIVERS = ("vfio-pci", "pci-stub", "pci_stub")

LSPCI = COMMAND["lspci_verbose"]
COMPUTED_ORIGIN = "computed from First VF Offset/VF Stride (VF Enable set)"

_VIRTFN = re.compile(r"virtfn(\d{1,5})$")
#: lspci's names of PCI class 02 (network controllers), for output without class codes.
_NETWORK_CLASS_NAMES = ("Ethernet controller", "Network controller", "Infiniband controller", "Fabric controller")


def _lspci(ctx: CollectContext) -> Tuple[Dict[str, Any], str]:
    from ..parsers.lspci import parse_lspci

    output = ctx.run(LSPCI, "pci")
    if output is None:
        return {}, ""
    devices = ctx.parse_output(output, parse_lspci, "pci")
    return ({d.address: d for d in devices} if devices else {}), output.origin


def _sysfs_function(ctx: CollectContext, bdf: str, groups_known: bool) -> Draft:
    from ..parsers.sysfs_values import parse_class, parse_hex_id, parse_int

    fn = Draft(bdf, sysfs=True)
    base = f"{SYS_PCI}/{bdf}"
    # Called once per wanted function (4,113 times on a 4,096-VF host): the context's and the draft's
    # methods are looked up once here, and each attribute is one (name, parser, key) row.
    describe, parsed, put, put_sriov = ctx.source.describe, ctx.parsed, fn.put, fn.put_sriov
    for name, parser, key in (("vendor", parse_hex_id, "vendor_id"), ("device", parse_hex_id, "device_id"),
                              ("class", parse_class, "class_code"), ("numa_node", parse_int, "numa_node")):
        path = f"{base}/{name}"
        value = parsed(path, parser, "pci", MAX_SMALL_BYTES)
        if value is not None:
            put(key, value, describe(path))
    path = f"{base}/driver_override"
    override = ctx.text(path, "pci", MAX_SMALL_BYTES)
    if override is not None:
        text = override.strip()
        put("driver_override", NONE if text in ("", "(null)") else text, describe(path))
    path = f"{base}/driver"
    driver = ctx.link(path, "pci")
    if driver or ctx.absent(path):
        put("driver", basename(driver) if driver else NONE, describe(path))
    path = f"{base}/iommu_group"
    group = ctx.link(path, "pci")
    # A partial sysfs copy without /sys/kernel/iommu_groups says nothing about groups.
    if group or (groups_known and ctx.absent(path)):
        put("iommu_group", basename(group) if group else NONE, describe(path))
    # The kernel creates sriov_totalvfs and sriov_numvfs together for a PF whose capability it accepted: either
    # one proves it (a snapshot missing one file must not turn a PF into "no SR-IOV capability").
    shown = next((f"{base}/{name}" for name in ("sriov_totalvfs", "sriov_numvfs") if ctx.exists(f"{base}/{name}")),
                 None)
    if shown is not None:
        put_sriov("in_sysfs", True, describe(shown))
        for name, parser, key in (
                ("sriov_totalvfs", parse_int, "total_vfs"), ("sriov_numvfs", parse_int, "num_vfs"),
                ("sriov_offset", parse_int, "vf_offset"), ("sriov_stride", parse_int, "vf_stride"),
                ("sriov_vf_device", parse_hex_id, "vf_device_id"),
                ("sriov_drivers_autoprobe", _autoprobe, "drivers_autoprobe")):
            path = f"{base}/{name}"
            value = parsed(path, parser, "pci", MAX_SMALL_BYTES)
            if value is not None:
                put_sriov(key, value, describe(path))
    elif ctx.absent(f"{base}/sriov_totalvfs") and ctx.absent(f"{base}/sriov_numvfs"):
        put_sriov("in_sysfs", False, describe(base))
    entries = ctx.listing(base, "pci") or []
    if "net" in entries:
        netdevs = [n for n in ctx.listing(f"{base}/net", "pci") or () if safe_name(n)]
        put("interfaces", tuple(sorted(netdevs)), describe(f"{base}/net"))
    virtfns: List[Tuple[int, str]] = []
    for entry in entries:
        if not entry.startswith("virtfn"):
            continue  # what _VIRTFN matches starts so: a VF's directory holds no virtfnN, a PF's ~20 other names
        found = _VIRTFN.match(entry)
        if not found:
            continue
        target = ctx.link(f"{base}/{entry}", "pci")
        vf = bdf_or_none(basename(target) or "")
        if vf is not None:
            virtfns.append((int(found.group(1)), vf))
    if fn.sriov.get("in_sysfs"):
        put("virtfns", tuple(sorted(virtfns)), describe(f"{base}/virtfn*"))
    path = f"{base}/physfn"
    physfn = ctx.link(path, "pci")
    where = describe(path)
    pf = bdf_or_none(basename(physfn) or "") if physfn is not None else None
    if pf:
        put("is_vf", True, where)
        put("physfn", pf, where)
    elif ctx.absent(path):
        put("is_vf", False, where)
    return fn


def _autoprobe(text: str) -> bool:
    from ..parsers.sysfs_values import parse_int

    return parse_int(text) != 0


def _merge_lspci(fn: Draft, device: Any, origin: str) -> None:
    fn.put("vendor_id", device.vendor_id, origin)
    fn.put("device_id", device.device_id, origin)
    fn.put("class_code", device.class_code, origin)
    fn.put("vendor_name", device.vendor_name, origin)
    fn.put("device_name", device.device_name or device.description, origin)
    # lspci -v / -k prints "Kernel driver in use" whenever one is bound; plain `lspci` (one line per function,
    # nothing indented under it) never does, so there no driver line says nothing.
    detailed = bool(device.driver or device.modules or device.capabilities_listed or device.subsystem is not None
                    or device.iommu_group is not None or device.numa_node is not None)
    fn.put("driver", device.driver or (NONE if detailed else None), origin)
    fn.put("modules", tuple(device.modules), origin)
    fn.put("numa_node", device.numa_node, origin)
    fn.put("iommu_group", str(device.iommu_group) if device.iommu_group is not None else None, origin)
    if device.msix is not None:
        fn.put("msix", MsixInfo(enabled=device.msix.enabled, count=device.msix.count), origin)
    if device.capabilities_listed and not device.capabilities_access_denied:
        fn.put_sriov("in_lspci", device.sriov is not None, origin)
        merge_lspci_express(fn, device, origin)
    cap = device.sriov
    if cap is not None:
        fn.put_sriov("total_vfs", cap.total_vfs, origin)
        fn.put_sriov("initial_vfs", cap.initial_vfs, origin)
        fn.put_sriov("num_vfs", cap.num_vfs, origin)
        fn.put_sriov("vf_enable", cap.vf_enable, origin)
        fn.put_sriov("vf_offset", cap.vf_offset, origin)
        fn.put_sriov("vf_stride", cap.vf_stride, origin)
        fn.put_sriov("vf_device_id", cap.vf_device_id, origin)
        fn.put_sriov("ari_hierarchy", cap.ari_hierarchy, origin)


def merge_lspci_express(fn: Draft, device: Any, origin: str) -> None:
    """PCI Express type, ARI and ACS from lspci's capability lines (ranked after configuration space, which
    ``put`` keeps when it was merged first).  An absent Express line is "not PCI Express" only in a
    capability list lspci could read; ARI and ACS are known absent only when the extended list was shown."""
    fn.put("is_express", device.express_type is not None, origin)
    if device.express_type is not None and device.express_type != "Unknown":
        fn.put("express_type", device.express_type, origin)
    if device.extended_listed or device.ari or device.acs is not None:
        fn.put("ari", device.ari, origin)
    if device.acs is not None:
        # ACS listed without its ACSCtl line (a cut stanza): present, with controls unknown; "known" would make
        # the missing ``acs`` read as "no ACS capability".
        if device.acs.control is not None:
            fn.put("acs_known", True, origin)
            fn.put("acs", AcsInfo(capability=device.acs.capability or (), control=device.acs.control), origin)
    elif device.extended_listed:
        fn.put("acs_known", True, origin)


def _merge_nodedev(ctx: CollectContext, fn: Draft) -> None:
    """Last resort for SR-IOV links (sosreports without sysfs): ``virsh nodedev-dumpxml``."""
    from ..parsers.nodedev import parse_nodedev_xml

    name = "pci_" + fn.address.replace(":", "_").replace(".", "_")
    output = ctx.run(COMMAND["libvirt_nodedev"].format(nodedev=name), "pci", quiet=True)
    if output is None:
        return
    node = ctx.parse_output(output, parse_nodedev_xml, "pci")
    if node is None:
        return
    origin = output.origin
    fn.put("driver", node.driver, origin)
    fn.put("vendor_id", node.vendor_id, origin)
    fn.put("device_id", node.product_id, origin)
    fn.put("class_code", node.class_code, origin)
    fn.put("numa_node", node.numa_node, origin)
    fn.put("iommu_group", str(node.iommu_group) if node.iommu_group is not None else None, origin)
    if node.is_vf and node.physfn_address:
        fn.put("is_vf", True, origin)
        fn.put("physfn", node.physfn_address, origin)
    if node.has_virt_functions_cap:
        fn.put_sriov("total_vfs", node.max_vfs, origin)
        fn.put_sriov("num_vfs", len(node.vf_addresses), origin)
        fn.put("virtfns", tuple(enumerate(node.vf_addresses)), origin)


def collect_pci(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[PciFunction, ...]]:
    from ..parsers.sysfs_values import parse_class

    kernel: KernelInfo = deps["kernel"]
    guests: Optional[Tuple[Guest, ...]] = deps["guests"]
    interfaces: Optional[Tuple[NetInterface, ...]] = deps["interfaces"]
    assigned = {d.address for g in guests or () for d in g.devices}
    names = ctx.listing(SYS_PCI, "pci")
    lspci, lspci_origin = _lspci(ctx)
    # Without a sysfs PCI tree (a sosreport): /proc/bus/pci's table and configuration spaces.
    proc = proc_inventory(ctx) if names is None else None
    table = proc[0] if proc else {}
    configs = proc[1] if proc else {}
    if names is None and not lspci and not table and not configs:
        return None
    functions: Dict[str, Draft] = {}
    groups_known = ctx.is_dir(IOMMU_GROUPS)
    if names is not None:
        ctx.origins["pci"] = ctx.source.describe(SYS_PCI)
        for name in names:
            bdf = bdf_or_none(name)
            if bdf is None or bdf != name:
                continue
            base = f"{SYS_PCI}/{bdf}"
            klass = ctx.parsed(f"{base}/class", parse_class, "pci", MAX_SMALL_BYTES)
            wanted = (
                (klass is not None and klass.startswith("02")) or bdf in assigned
                or ctx.exists(f"{base}/sriov_totalvfs") or ctx.exists(f"{base}/sriov_numvfs")
                or ctx.link(f"{base}/physfn", "pci") is not None
                or (lspci.get(bdf) is not None and (lspci[bdf].sriov is not None
                                                    or lspci[bdf].is_virtual_function)))
            if wanted:
                fn = functions[bdf] = _sysfs_function(ctx, bdf, groups_known)
                cfg, origin = sysfs_config(ctx, bdf)
                if cfg is not None:
                    merge_config(fn, cfg, origin)
    else:
        ctx.origins["pci"] = lspci_origin or (proc[2] if proc else "")
        # A VF's own config space reads vendor 0xffff; the table names it with its PF's VF Device ID.
        vf_ids = {cfg.sriov.vf_device_id for cfg, _ in configs.values() if cfg.sriov is not None}
        vf_ids |= {d.sriov.vf_device_id for d in lspci.values() if d.sriov is not None and d.sriov.vf_device_id}
        for bdf in sorted(set(lspci) | set(table) | set(configs)):
            device = lspci.get(bdf)
            cfg_entry = configs.get(bdf)
            cfg = cfg_entry[0] if cfg_entry else None
            row = table.get(bdf)
            klass = (cfg.class_code if cfg else None) or (device.class_code if device else None) or ""
            driver = (row.driver if row else None) or (device.driver if device else None)
            # Plain `lspci` (no -n) names the class without its code: a network class still counts.
            named = device is not None and device.class_code is None and (
                device.class_name or "") in _NETWORK_CLASS_NAMES
            if (klass.startswith("02") or named or bdf in assigned or (device is not None and (
                    device.sriov is not None or device.is_virtual_function))
                    or (cfg is not None and cfg.sriov is not None) or driver in PASSTHROUGH_DRIVERS
                    or (row is not None and row.device_id in vf_ids)):
                fn = functions[bdf] = Draft(bdf)
                if cfg_entry is not None:
                    merge_config(fn, cfg_entry[0], cfg_entry[1])
                if row is not None and proc is not None:
                    merge_proc_row(fn, row, proc[2])
    for bdf, fn in functions.items():
        if bdf in lspci:
            _merge_lspci(fn, lspci[bdf], lspci_origin)
        if not fn.sysfs and (fn.fields.get("is_vf") is None or fn.fields.get("virtfns") is None):
            _merge_nodedev(ctx, fn)
    known_ids: Dict[str, Optional[str]] = {bdf: row.device_id for bdf, row in table.items()}
    known_ids.update({bdf: d.device_id for bdf, d in lspci.items() if d.device_id})
    known_ids.update({bdf: cfg.device_id for bdf, (cfg, _) in configs.items() if cfg.device_id})
    known_ids.update({bdf: fn.fields.get("device_id") for bdf, fn in functions.items()})
    _link_vfs(ctx, functions, known_ids, {bdf for bdf, d in lspci.items() if d.is_virtual_function})
    pci_config = (kernel.config or {}).get("CONFIG_PCI_IOV")
    by_address: Dict[str, List[str]] = {}
    for iface in interfaces or ():
        if iface.address:
            by_address.setdefault(iface.address, []).append(iface.name)
    out = []
    for bdf in sorted(functions):
        out.append(_freeze(ctx, functions[bdf], kernel, pci_config, tuple(by_address.get(bdf, ()))))
    return tuple(out)


def _link_vfs(ctx: CollectContext, functions: Dict[str, Draft], known_ids: Dict[str, Any],
              named_vfs: Set[str]) -> None:
    """Make every VF know its PF and index and every PF its VFs, from whichever side told.

    Without virtfnN links (no sysfs, or the kernel did not take the capability) the VF addresses come
    from First VF Offset and VF Stride -- only when VF Enable is set: ``IOVCtl: Enable-`` with
    ``Number of VFs: 7`` means no VF exists.  A computed address where another real function lives
    (a different device id than the VF Device ID, or a PF) is a collection problem, not a VF.
    """
    from ..parsers.lspci import LspciSriov, vf_addresses

    for fn in functions.values():
        if fn.fields.get("virtfns") is not None or fn.sriov.get("vf_offset") is None:
            continue
        enable = fn.sriov.get("vf_enable")
        where = fn.sriov_origins.get("vf_enable", "")
        if enable is False:
            fn.put("virtfns", (), f"{where} (VF Enable clear: no VFs exist)")
            continue
        count = fn.sriov.get("num_vfs")
        if enable is not True or count is None:
            continue
        try:
            computed = vf_addresses(fn.address, LspciSriov(num_vfs=count, vf_offset=fn.sriov.get("vf_offset"),
                                                           vf_stride=fn.sriov.get("vf_stride")))
        except ParseError as exc:
            ctx.problem(f"{where} ({fn.address})", str(exc), "pci")
            continue
        vf_device = fn.sriov.get("vf_device_id")
        clash = [a for a in computed if a == fn.address or (
            a in known_ids and known_ids[a] is not None and vf_device is not None and known_ids[a] != vf_device)
            or (a in functions and functions[a].sriov.get("total_vfs") is not None)]
        if clash:
            ctx.problem(f"{where} ({fn.address})",
                        f"VF offset {fn.sriov.get('vf_offset')} and stride {fn.sriov.get('vf_stride')} put VFs on "
                        f"{', '.join(clash[:3])}, where another function lives: the VF addresses are not trusted",
                        "pci")
            continue
        fn.put("virtfns", tuple(enumerate(computed)), COMPUTED_ORIGIN)
    for pf in functions.values():
        origin = pf.origins.get("virtfns", "")
        for index, vf_address in pf.fields.get("virtfns") or ():
            vf = functions.get(vf_address)
            if vf is None:
                continue
            vf.put("is_vf", True, origin)
            vf.put("physfn", pf.address, origin)
            vf.put("vf_index", index, origin)
    for vf in functions.values():
        if vf.fields.get("is_vf") is None and vf.address in named_vfs:
            vf.put("is_vf", True, "lspci (device name says Virtual Function)")


def _freeze(ctx: CollectContext, fn: Draft, kernel: KernelInfo, pci_config: Optional[str],
            interfaces: Tuple[str, ...]) -> PciFunction:
    values = dict(fn.fields)
    origins = dict(fn.origins)
    sriov = fn.sriov
    if sriov.get("in_sysfs") or sriov.get("in_config") or sriov.get("in_lspci") or (
            sriov.get("total_vfs") is not None and fn.fields.get("virtfns") is not None):
        values["has_sriov"] = True
        origins["has_sriov"] = next((fn.sriov_origins[k] for k in ("in_sysfs", "in_config", "in_lspci", "total_vfs")
                                     if sriov.get(k) and k in fn.sriov_origins), "")
    elif values.get("is_vf"):
        values["has_sriov"] = False  # a VF never has the SR-IOV capability itself
        origins["has_sriov"] = origins.get("is_vf", "")
    elif sriov.get("in_config") is False:
        values["has_sriov"] = False
        origins["has_sriov"] = fn.sriov_origins.get("in_config", "")
    elif sriov.get("in_lspci") is False:
        values["has_sriov"] = False
        origins["has_sriov"] = fn.sriov_origins.get("in_lspci", "")
    elif sriov.get("in_sysfs") is False and pci_config == "y" and kernel.at_least(3, 8):
        # The kernel supports SR-IOV and shows sriov_totalvfs for every usable PF: this is none.
        values["has_sriov"] = False
        origins["has_sriov"] = f"{fn.sriov_origins.get('in_sysfs', '')} (no sriov_totalvfs; CONFIG_PCI_IOV=y)"
    if values.get("has_sriov") or any(k not in ("in_sysfs", "in_lspci", "in_config") for k in sriov):
        values["sriov"] = SriovInfo(origins=FrozenMap(sorted(fn.sriov_origins.items())), **sriov)
        origins["sriov"] = fn.sriov_origins.get("total_vfs") or fn.sriov_origins.get("in_sysfs", "")
    names = tuple(sorted(set(values.get("interfaces") or ()) | set(interfaces)))
    if names or "interfaces" in values:
        values["interfaces"] = names
        origins.setdefault("interfaces", ctx.origins.get("interfaces", ""))
    return PciFunction(address=fn.address, origins=FrozenMap(sorted(origins.items())), **values)


PROVIDER = Provider(key="pci", compute=collect_pci, needs=("kernel", "guests", "interfaces"),
                    evidence=("sysfs_pci", "pci_config", "proc_bus_pci", "iommu_groups", "lspci_verbose",
                              "libvirt_nodedev"))
