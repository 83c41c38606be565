"""HostFacts lookups are indexed (hosts with thousands of VFs): same answers as a scan, invisible otherwise."""
from __future__ import annotations

import pickle
from dataclasses import replace

from sriovcheck.model import Guest, GuestDevice, HostFacts, KernelModule, NetInterface, PciFunction, SourceInfo

PF0, PF1 = "0000:10:00.0", "0000:10:00.1"


def facts() -> HostFacts:
    pci = (PciFunction(PF0, has_sriov=True), PciFunction(PF1, has_sriov=True),
           PciFunction("0000:10:10.0", is_vf=True, physfn=PF0), PciFunction("0000:10:10.1", is_vf=True, physfn=PF1),
           PciFunction("0000:10:10.2", is_vf=True, physfn=PF0), PciFunction(PF0, driver="duplicate"))
    interfaces = (NetInterface("enp16s0f0", address=PF0), NetInterface("enp16s0f0d1", address=PF0),
                  NetInterface("lo"), NetInterface("enp16s0f0", address="dup"))
    guests = (Guest("a", "a.xml", devices=(GuestDevice("0000:10:10.0"), GuestDevice("0000:10:10.0"))),
              Guest("b", "b.xml", devices=(GuestDevice("0000:10:10.1"), GuestDevice("0000:10:10.0"))),
              Guest("c", "c.xml"))
    modules = (KernelModule("ixgbe", loaded=True), KernelModule("ixgbe", loaded=False))
    return HostFacts(SourceInfo("fixture", "x"), pci=pci, interfaces=interfaces, guests=guests, modules=modules)


def test_lookups_answer_like_a_scan() -> None:
    f = facts()
    assert f.function(PF0) is f.pci[0]  # the first of two with one address, as a scan finds it
    assert f.function("0000:99:00.0") is None
    assert f.physical_functions() == f.pci[:2]
    assert f.virtual_functions() == (f.pci[2], f.pci[3], f.pci[4])
    assert f.virtual_functions(f.pci[0]) == (f.pci[2], f.pci[4])
    assert f.virtual_functions(f.pci[1]) == (f.pci[3],)
    assert f.virtual_functions(PciFunction("0000:77:00.0")) == ()
    assert f.interface("enp16s0f0") is f.interfaces[0]
    assert f.interfaces_of(PF0) == f.interfaces[:2]
    assert f.interfaces_of(None) == (f.interfaces[2],)  # type: ignore[arg-type]
    assert f.module("ixgbe") is f.modules[0]
    assert f.guests_using("0000:10:10.0") == (f.guests[0], f.guests[1])  # each guest once, in order
    assert f.guests_using("0000:10:10.1") == (f.guests[1],)
    assert f.guests_using("0000:10:10.9") == ()


def test_unknown_collections_give_empty_answers() -> None:
    empty = HostFacts(SourceInfo("fixture", "x"))
    assert empty.function(PF0) is None and empty.physical_functions() == () and empty.virtual_functions() == ()
    assert empty.interface("x") is None and empty.interfaces_of(PF0) == () and empty.module("x") is None
    assert empty.guests_using(PF0) == ()


def test_indexes_are_invisible() -> None:
    f = facts()
    g = facts()
    f.function(PF0), f.guests_using(PF0), f.virtual_functions()
    assert f == g and repr(f) == repr(g)
    moved = replace(f, pci=(PciFunction(PF1),))
    assert moved.function(PF0) is None and moved.function(PF1) is moved.pci[0]  # no stale index
    copy = pickle.loads(pickle.dumps(f))
    assert not [k for k in copy.__dict__ if k.startswith("_index_")]  # not sent between processes
    assert copy == f and copy.function(PF0) == f.function(PF0)
