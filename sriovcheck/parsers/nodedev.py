"""``virsh nodedev-dumpxml`` (libvirt node device XML) for PCI devices.

A VF has ``<capability type='phys_function'>`` with its PF's address; a PF
has ``<capability type='virt_functions' maxCount='N'>`` (``maxCount`` is the
total VFs; the addresses listed are the VFs that exist now).  ``<iommuGroup
number='N'>`` lists, as ``<address>`` children, every device of the group
(libvirt's virNodeDevCapPCIDevFormat writes them all, this device included).  Parsed with
defusedxml only.  Non-PCI node devices parse too, with the PCI fields
``None``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import format_bdf, to_hex_int, to_int
from sriovcheck.parsers._xml import Element, load_xml, local, pci_address, text_of

__all__ = ["NodeDevice", "parse_nodedev_xml"]


@dataclass(frozen=True)
class NodeDevice:
    name: Optional[str]                     # "pci_0000_82_10_1"
    path: Optional[str] = None              # sysfs path
    parent: Optional[str] = None
    driver: Optional[str] = None
    address: Optional[str] = None           # DDDD:BB:DD.F
    vendor_id: Optional[str] = None         # "8086"
    vendor_name: Optional[str] = None
    product_id: Optional[str] = None        # "10ca"
    product_name: Optional[str] = None
    class_code: Optional[str] = None        # "020000"
    iommu_group: Optional[int] = None
    #: Every device of the IOMMU group (libvirt lists them all, this one included); () when not listed.
    iommu_group_members: Tuple[str, ...] = ()
    numa_node: Optional[int] = None
    is_vf: bool = False                     # has a phys_function capability with an address
    physfn_address: Optional[str] = None
    max_vfs: Optional[int] = None           # virt_functions maxCount
    vf_addresses: Tuple[str, ...] = ()
    has_virt_functions_cap: bool = False


def _num(text: Optional[str], what: str) -> Optional[int]:
    """Element text: decimal, or 0x-hex."""
    if text is None:
        return None
    t = text.strip()
    if t[:2] in ("0x", "0X"):
        return to_hex_int(t, what=what)
    return to_int(t, what=what)


def _hex_id(raw: Optional[str], width: int, what: str) -> Optional[str]:
    if raw is None:
        return None
    v = to_hex_int(raw.strip(), what=what)
    out = f"{v:0{width}x}"
    if len(out) > width:
        raise ParseError(f"nodedev XML: {what} {raw[:20]!r} too large")
    return out


def _caps(el: Element, kind: str) -> List[Element]:
    return [c for c in el.findall("capability") if c.get("type") == kind]


def parse_nodedev_xml(text: str) -> NodeDevice:
    root = load_xml(text, "nodedev XML")
    if local(root.tag) != "device":
        raise ParseError(f"nodedev XML: root element is <{local(root.tag)[:40]}>, not <device>")
    drv = root.find("driver")
    out: Dict[str, Any] = {
        "name": text_of(root.find("name")), "path": text_of(root.find("path")),
        "parent": text_of(root.find("parent")),
        "driver": text_of(drv.find("name")) if drv is not None else None,
    }
    pcis = _caps(root, "pci")
    if len(pcis) > 1:
        raise ParseError("nodedev XML: more than one PCI capability")
    if pcis:
        cap = pcis[0]
        parts = [_num(text_of(cap.find(t)), f"PCI {t}") for t in ("domain", "bus", "slot", "function")]
        d, b, s, f = parts
        if d is not None and b is not None and s is not None and f is not None:
            if not (0 <= d <= 0xFFFF and 0 <= b <= 0xFF and 0 <= s <= 0x1F and 0 <= f <= 7):
                raise ParseError("nodedev XML: PCI address out of range")
            out["address"] = format_bdf(d, b, s, f)
        elif any(p is not None for p in parts):
            raise ParseError("nodedev XML: incomplete PCI address")
        prod, vend = cap.find("product"), cap.find("vendor")
        if prod is not None:
            out["product_id"] = _hex_id(prod.get("id"), 4, "product id")
            out["product_name"] = text_of(prod)
        if vend is not None:
            out["vendor_id"] = _hex_id(vend.get("id"), 4, "vendor id")
            out["vendor_name"] = text_of(vend)
        cls = text_of(cap.find("class"))
        if cls is not None:
            out["class_code"] = _hex_id(cls, 6, "class")
        grp = cap.find("iommuGroup")
        if grp is not None and grp.get("number") is not None:
            out["iommu_group"] = _num(grp.get("number"), "iommuGroup number")
            out["iommu_group_members"] = tuple(dict.fromkeys(
                pci_address(a, "nodedev iommuGroup") for a in grp.findall("address")))
        numa = cap.find("numa")
        if numa is not None and numa.get("node") is not None:
            raw = (numa.get("node") or "").strip()
            if not re.fullmatch(r"-?\d{1,6}", raw):
                raise ParseError("nodedev XML: bad numa node")
            out["numa_node"] = int(raw)
        pf = _caps(cap, "phys_function")
        if pf:
            addr = pf[0].find("address")
            if addr is not None:
                out["is_vf"] = True
                out["physfn_address"] = pci_address(addr, "nodedev phys_function")
        vfc = _caps(cap, "virt_functions")
        if vfc:
            out["has_virt_functions_cap"] = True
            mc = vfc[0].get("maxCount")
            out["max_vfs"] = _num(mc, "maxCount") if mc is not None else None
            out["vf_addresses"] = tuple(pci_address(a, "nodedev virt_functions")
                                        for a in vfc[0].findall("address"))
    return NodeDevice(**out)
