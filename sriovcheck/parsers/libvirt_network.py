"""libvirt network XML: the persistent definitions (``/etc/libvirt/qemu/networks/NAME.xml``) and the
status files of active networks (``/run/libvirt/network/NAME.xml``: ``<networkstatus>`` wrapping the
live ``<network>``).

What matters here is the pool of a ``<forward mode='hostdev'>`` network (libvirt formatnetwork.html,
"Connectivity"): either ``<pf dev='IFACE'/>`` (every VF of that PF; libvirt lists them when it starts
the network) or explicit ``<address type='pci' .../>`` entries, one per VF.  A guest's
``<interface type='network'>`` on such a network gets one VF of the pool when it starts, and libvirt
programs the interface's MAC (and VLAN) into that VF through the PF.  Other forward modes (nat,
route, bridge, passthrough/private/vepa macvtap pools of ``<interface dev=...>``) are read only for
their mode.

Parsed with defusedxml only, like the domain XML.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._xml import Element, load_xml, local, pci_address, text_of

__all__ = ["Network", "parse_network_xml"]


@dataclass(frozen=True)
class Network:
    name: Optional[str]
    #: <forward mode=...>: "hostdev", "passthrough", "nat" (the default of a bare <forward/>), ...;
    #: None without <forward> (an isolated network).
    forward_mode: Optional[str] = None
    #: <forward managed='yes'>: libvirt binds the pool's VFs to vfio-pci itself.
    managed: Optional[bool] = None
    #: <forward><driver name=...>: "vfio", legacy "kvm"; None = libvirt's default (vfio).
    driver: Optional[str] = None
    #: <pf dev='IFACE'/>: the pool is every VF of this PF (libvirt accepts one).
    pf: Optional[str] = None
    #: <address type='pci' .../> entries of <forward>, in document order (full BDF form).
    addresses: Tuple[str, ...] = ()
    #: <interface dev='IFACE'/> entries of <forward> (macvtap and bridge pools).
    interface_devs: Tuple[str, ...] = ()
    #: The XML was a <networkstatus> (libvirt's state file of an active network).
    is_status_file: bool = False


def _managed(el: Element) -> Optional[bool]:
    value = el.get("managed")
    if value is None:
        return None
    if value in ("yes", "on"):
        return True
    if value in ("no", "off"):
        return False
    raise ParseError(f"network XML: <forward managed={value[:40]!r}> is not yes/no")


def parse_network_xml(text: str) -> Network:
    """Parse one libvirt network (or networkstatus) XML document."""
    root = load_xml(text, "network XML")
    status = False
    if local(root.tag) == "networkstatus":
        status = True
        inner = root.find("network")
        if inner is None:
            raise ParseError("network XML: <networkstatus> without <network>")
        root = inner
    if local(root.tag) != "network":
        raise ParseError(f"network XML: root element is <{local(root.tag)[:40]}>, not <network>")
    name = text_of(root.find("name"))
    forward = root.find("forward")
    if forward is None:
        return Network(name=name, is_status_file=status)
    mode = forward.get("mode") or "nat"
    addresses: List[str] = []
    devs: List[str] = []
    for idx, addr in enumerate(forward.findall("address")):
        if addr.get("type") not in (None, "pci"):
            continue
        addresses.append(pci_address(addr, f"network XML <forward><address> #{idx}"))
    for iface in forward.findall("interface"):
        dev = iface.get("dev")
        if dev:
            devs.append(dev)
    pf_el = forward.find("pf")
    driver_el = forward.find("driver")
    return Network(
        name=name, forward_mode=mode, managed=_managed(forward),
        driver=driver_el.get("name") if driver_el is not None else None,
        pf=pf_el.get("dev") if pf_el is not None else None,
        addresses=tuple(addresses), interface_devs=tuple(devs), is_status_file=status,
    )
