"""Network interfaces: ``/sys/class/net``, ``ip -d link`` (per-VF tables), ``ethtool -i`` for snapshots."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import ParseError
from ..evidence import COMMAND, SYS_NET
from ..model import NONE, KernelLogEvent, KernelLogFacts, NetInterface, VfEntry
from ..parsers._common import FrozenMap, bdf_or_none, mac_or_none
from .context import MAX_SMALL_BYTES, CollectContext, Draft, basename, safe_name
from .provider import Provider


def _ip_links(ctx: CollectContext) -> Tuple[Optional[Dict[str, Any]], str]:
    from ..parsers.iplink import parse_ip_link, parse_ip_link_json

    json_form, text_form = COMMAND["ip_link_json"], COMMAND["ip_link_details"]
    output = ctx.run(json_form, "interfaces", quiet=True)
    if output is not None:
        try:
            return {link.name: link for link in parse_ip_link_json(output.stdout)}, output.origin
        except ParseError:
            pass  # an iproute2 without JSON: the text form below says the same
    output = ctx.run(text_form, "interfaces", quiet=True)
    if output is None:
        # Neither ran: report why (the JSON attempt's failure alone is noise when text works).
        ctx.run(json_form, "interfaces")
        ctx.run(text_form, "interfaces")
        return None, ""
    links = ctx.parse_output(output, parse_ip_link, "interfaces")
    return ({link.name: link for link in links} if links is not None else None), output.origin


def _not_a_bus_device(error: Optional[str], link: Any) -> bool:
    """Whether ``ethtool -i IFACE`` failed because the interface is no device on a bus.

    The kernel answers ETHTOOL_GDRVINFO from the driver's get_drvinfo, else from the parent device's
    driver, else from the link kind (``rtnl_link_ops``), and only failing all three with EOPNOTSUPP
    ("Operation not supported"; net/ethtool/ioctl.c ``ethtool_get_drvinfo``): the loopback and
    similar virtual interfaces.  A PCI function's netdev always has a parent bound to a driver, so
    that answer says "not a PCI device", not "could not tell".
    """
    if link is not None and (link.link_type == "loopback" or "LOOPBACK" in link.flags):
        return link.pci_address is None
    return error is not None and "Operation not supported" in error


def collect_interfaces(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[NetInterface, ...]]:
    from ..parsers.ethtool import parse_ethtool_i
    from ..parsers.sysfs_values import parse_int

    names = ctx.listing(SYS_NET, "interfaces")
    links, ip_origin = _ip_links(ctx)
    if names is None and links is None:
        return None
    ctx.origins["interfaces"] = ctx.source.describe(SYS_NET) if names is not None else ip_origin
    all_names = names if names is not None else sorted(links or {})
    out: List[NetInterface] = []
    for name in all_names:
        if not safe_name(name) or name == "bonding_masters":
            continue
        draft = Draft(name)  # same set-once-by-priority bookkeeping as PCI functions
        values, origins, put = draft.fields, draft.origins, draft.put
        base = f"{SYS_NET}/{name}"
        if names is not None:
            whole = ctx.link(base, "interfaces")
            if whole is not None:  # ../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0
                # The last component that is a PCI address (the function's own, under any bridges).
                pci = next((found for found in map(bdf_or_none, reversed(whole.split("/"))) if found), None)
                put("address", pci, ctx.source.describe(base))
            device = ctx.link(f"{base}/device", "interfaces")
            if device is None:
                if whole is not None and ctx.absent(f"{base}/device"):  # a virtual interface
                    put("driver", NONE, ctx.source.describe(f"{base}/device"))
            else:
                put("address", bdf_or_none(basename(device) or ""), ctx.source.describe(f"{base}/device"))
                driver = ctx.link(f"{base}/device/driver", "interfaces")
                if driver or ctx.absent(f"{base}/device/driver"):
                    put("driver", basename(driver) if driver else NONE,
                        ctx.source.describe(f"{base}/device/driver"))
            mac = ctx.text(f"{base}/address", "interfaces", MAX_SMALL_BYTES)
            put("mac", mac_or_none(mac or ""), ctx.source.describe(f"{base}/address"))
            state = ctx.text(f"{base}/operstate", "interfaces", MAX_SMALL_BYTES)
            if state and state.strip():
                put("operstate", state.strip().upper()[:32], ctx.source.describe(f"{base}/operstate"))
            mtu = ctx.parsed(f"{base}/mtu", parse_int, "interfaces", MAX_SMALL_BYTES)
            put("mtu", mtu, ctx.source.describe(f"{base}/mtu"))
        link = (links or {}).get(name)
        if link is not None:
            put("mac", mac_or_none(link.mac or ""), ip_origin)
            put("permanent_mac", link.permaddr, ip_origin)
            put("operstate", link.state, ip_origin)
            put("mtu", link.mtu, ip_origin)
            put("address", link.pci_address, ip_origin)
            values["vfs"] = tuple(
                VfEntry(index=vf.index, mac=vf.mac, vlan=vf.vlan, qos=vf.qos, spoofchk=vf.spoofchk,
                        trust=vf.trust, link_state=vf.link_state, max_tx_rate=vf.max_tx_rate,
                        min_tx_rate=vf.min_tx_rate) for vf in link.vfs)
            origins["vfs"] = ip_origin
        if names is None and (values.get("driver") is None or values.get("address") is None):
            command = COMMAND["ethtool_driver"].format(iface=name)
            output = ctx.run(command, "interfaces", quiet=True)
            if output is None:
                if _not_a_bus_device(ctx.command_error(command), link):
                    # Loopback and other driverless virtual interfaces: no driver, not a PCI device.
                    put("driver", NONE, f"{command}: {ctx.command_error(command) or 'loopback, no driver'}")
                else:
                    ctx.run(command, "interfaces")  # a real failure: recorded as a collection problem
            info = ctx.parse_output(output, parse_ethtool_i, "interfaces") if output else None
            if info is not None and output is not None:
                put("driver", info.driver or None, output.origin)
                put("address", bdf_or_none(info.bus_info or ""), output.origin)
            renamed = _renamed_to(deps.get("kernel_events"), name)
            if renamed is not None:
                # "ixgbe 0000:5f:00.0 ens5f0: renamed from eth0": the kernel named the device and its driver.
                where = f"{deps['kernel_events'].origin} line {renamed.line}"
                put("address", renamed.address, where)
                put("driver", renamed.driver, where)
        out.append(NetInterface(name=name, origins=FrozenMap(origins), **values))
    return tuple(out)


def _renamed_to(log: Optional[KernelLogFacts], name: str) -> Optional[KernelLogEvent]:
    """The kernel log's last rename *to* ``name`` that names a PCI device, unless the name was renamed away
    after it (net/core/dev.c ``netdev_info(dev, "renamed from %s")`` with the dev_printk prefix)."""
    found: Optional[KernelLogEvent] = None
    for event in log.of_kind("interface_renamed") if log is not None else ():
        if event.interface == name:
            found = event if event.address is not None else None
        elif event.old_name == name:
            found = None
    return found


PROVIDER = Provider(key="interfaces", compute=collect_interfaces, needs=("kernel_events",),
                    evidence=("sysfs_net", "ip_link_json", "ip_link_details", "ethtool_driver", "kernel_log"))
