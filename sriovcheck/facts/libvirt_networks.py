"""libvirt networks: the definitions in ``/etc/libvirt/qemu/networks`` and, for active networks, their
status files in ``/run/libvirt/network`` (``/var/run/libvirt/network`` on hosts and sosreports where
``/var/run`` is its own directory).

A ``<forward mode='hostdev'>`` network is a pool of VFs: a guest's ``<interface type='network'>`` on it
gets one of them at start.  The status file of an active ``<pf dev=...>`` network lists the PF's VFs
as addresses, so it is preferred to the definition for the pool's members.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..evidence import LIBVIRT_NETWORK_STATUS, LIBVIRT_NETWORKS
from ..model import LibvirtNetwork
from .context import CollectContext, safe_name
from .provider import Provider

_MAX_XML = 4 * 1024 * 1024


def _xml_files(ctx: CollectContext, directory: str) -> Optional[List[str]]:
    names = ctx.listing(directory, "libvirt_networks")
    if names is None:
        return None
    return [f"{directory}/{n}" for n in names if n.endswith(".xml") and safe_name(n)
            and not ctx.is_dir(f"{directory}/{n}")]


def parse_network_xml(text: str) -> Any:
    """:func:`sriovcheck.parsers.libvirt_network.parse_network_xml`, imported when there is a network to parse
    (the XML parsers cost a host without libvirt, and every capture of one, several milliseconds)."""
    from ..parsers.libvirt_network import parse_network_xml as parse

    return parse(text)


def collect_libvirt_networks(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[LibvirtNetwork, ...]]:
    defined = _xml_files(ctx, LIBVIRT_NETWORKS)
    status_dir, status_files = None, None
    for directory in LIBVIRT_NETWORK_STATUS:
        status_files = _xml_files(ctx, directory)
        if status_files is not None:
            status_dir = directory
            break
    if defined is None and ctx.has_etc() and ctx.absent(LIBVIRT_NETWORKS):
        defined = []  # known: libvirt defines no network here (or is not installed)
    if defined is None and status_files is None:
        return None
    networks: Dict[str, LibvirtNetwork] = {}
    for path in defined or ():
        net = ctx.parsed(path, parse_network_xml, "libvirt_networks", _MAX_XML)
        if net is not None and net.name:
            networks[net.name] = LibvirtNetwork(
                name=net.name, origin=ctx.source.describe(path), forward_mode=net.forward_mode,
                managed=net.managed, pf=net.pf, addresses=net.addresses,
                active=None if status_files is None else False)
    for path in status_files or ():
        net = ctx.parsed(path, parse_network_xml, "libvirt_networks", _MAX_XML)
        if net is None or not net.name:
            continue
        known = networks.get(net.name)
        networks[net.name] = LibvirtNetwork(
            name=net.name, origin=ctx.source.describe(path), forward_mode=net.forward_mode,
            managed=net.managed if net.managed is not None else (known.managed if known else None),
            pf=net.pf or (known.pf if known else None),
            addresses=net.addresses or (known.addresses if known else ()), active=True)
    ctx.origins["libvirt_networks"] = ", ".join(
        ctx.source.describe(d) for d, files in ((LIBVIRT_NETWORKS, defined), (status_dir, status_files))
        if d is not None and files is not None)
    return tuple(networks[name] for name in sorted(networks))


PROVIDER = Provider(key="libvirt_networks", compute=collect_libvirt_networks, evidence=("libvirt_networks",))
