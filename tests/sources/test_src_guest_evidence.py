"""Guests as they really appear: every QEMU binary name, and a hostdev network pool's VF in the status XML."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from srchelpers import make_tree

from sriovcheck.facts.guests import is_qemu_process
from sriovcheck.model import HostFacts
from tests.parsers.test_parse_domain_network_pool import STATUS


def test_every_qemu_binary_name() -> None:
    for binary in ("qemu", "/usr/bin/qemu", "qemu-kvm", "/usr/libexec/qemu-kvm", "/usr/bin/qemu-system-x86_64",
                   "qemu-system-i386", "qemu-system-aarch64", "kvm", "/usr/bin/kvm"):
        assert is_qemu_process([binary, "-m", "1024"]), binary
    for other in ("qemu-img", "qemu-nbd", "/usr/bin/kvm-ok", "libvirtd"):
        assert not is_qemu_process([other, "info"]), other


def test_network_pool_vf_in_status_xml_is_an_assigned_device(tmp_path: Path,
                                                             facts_of: Callable[..., HostFacts]) -> None:
    root = make_tree(tmp_path / "root", {"/run/libvirt/qemu/pool-guest.xml": STATUS, "/etc/hostname": "h\n"})
    facts = facts_of(str(root))
    (guest,) = [g for g in facts.guests or () if g.name == "pool-guest"]
    assert [(d.address, d.via) for d in guest.devices] == [("0000:03:10.1", "interface")]
    assert guest.running is True and guest.bits is None  # arch x86_64 says nothing about the guest's bitness
