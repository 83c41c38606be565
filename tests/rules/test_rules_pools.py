"""libvirt network pools (<forward mode='hostdev'>) and assumed-vs-seen facts in the guest and VF rules.

The pools are libvirt's own test networks (tests/corpus/libvirt/networkxml2xml*_hostdev*.xml) pointed at a PF or at
VFs of the corpus-built healthy host; the pool guest is libvirt's net-virtio-network-portgroup test domain, turned
into a model Guest by the real provider code."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Tuple

from rule_hosts import I350_PF1, add_guest, corpus, healthy, with_function, with_guest, with_interface

from sriovcheck.facts.guests import _guest_from_domain
from sriovcheck.model import Guest, GuestDevice, HostFacts, LibvirtNetwork
from sriovcheck.parsers.libvirt_domain import parse_domain_xml
from sriovcheck.parsers.libvirt_network import parse_network_xml
from sriovcheck.results import Status

ZERO = "00:00:00:00:00:00"


def pool(corpus_name: str, name: str, **changes: object) -> LibvirtNetwork:
    """A model network from a corpus network file, renamed (and pointed at this host) with ``changes``."""
    net = parse_network_xml(corpus(f"libvirt/{corpus_name}"))
    model = LibvirtNetwork(name=name, origin=f"/etc/libvirt/qemu/networks/{name}.xml", forward_mode=net.forward_mode,
                           managed=net.managed, pf=net.pf, addresses=net.addresses)
    return replace(model, **changes)  # type: ignore[arg-type]


def pf_pool(name: str = "rednet", pf: str = "ens1f0") -> LibvirtNetwork:
    return pool("networkxml2xmlout_hostdev-pf.xml", name, pf=pf)


def portgroup_guest() -> Guest:
    """libvirt's test domain with three <interface type='network'> (rednet, blue, blue), as the provider reads it."""
    domain = parse_domain_xml(corpus("libvirt/net-virtio-network-portgroup.xml"))
    return replace(_guest_from_domain(domain, "/etc/libvirt/qemu/QEMUGuest1.xml", None), name="pool-vm")


def zero_ens1f0(facts: HostFacts, *, keep_db01: bool = False) -> HostFacts:
    """ens1f0's two VFs with the all-zero MAC; db01 (which assigns vf 0 as <interface type='hostdev'>) removed."""
    ens = facts.interface("ens1f0")
    assert ens is not None and ens.vfs is not None
    facts = with_interface(facts, "ens1f0", vfs=tuple(replace(e, mac=ZERO) for e in ens.vfs))
    if not keep_db01:
        facts = replace(facts, guests=tuple(g for g in facts.guests or () if g.name != "db01"))
    return facts


def by_subject(results) -> dict:  # type: ignore[no-untyped-def]
    return {r.subject.id: r for r in results}


# -- SRIOV201 and pools ----------------------------------------------------------------------------

def test_a_vf_of_a_pf_pool_known_only_from_the_definitions_passes(run_rules) -> None:
    facts = replace(zero_ens1f0(healthy()), libvirt_networks=(pf_pool(),))
    results = by_subject(run_rules(facts, "SRIOV201"))
    for vf in ("0000:3b:02.0", "0000:3b:02.1"):
        assert results[vf].status is Status.PASS, results[vf].message
        assert "libvirt network pool rednet" in results[vf].message
        assert any(e.source == "/etc/libvirt/qemu/networks/rednet.xml" and "<pf dev='ens1f0'/>" in e.detail
                   for e in results[vf].evidence)
    # Without the pool the same VFs are unassigned: a warning each.
    plain = by_subject(run_rules(replace(facts, libvirt_networks=()), "SRIOV201"))
    assert {plain[v].severity.value for v in ("0000:3b:02.0", "0000:3b:02.1")} == {"warning"}


def test_a_pool_vf_without_its_address_passes_by_its_pf(run_rules) -> None:
    """No virtfn links and no lspci: the VF table line still knows its PF, and the pool is 'every VF of that PF'."""
    facts = replace(zero_ens1f0(healthy()), libvirt_networks=(pf_pool(),))
    facts = with_function(facts, "0000:3b:00.0", virtfns=None)
    facts = replace(facts, pci=tuple(fn for fn in facts.pci or () if fn.physfn != "0000:3b:00.0"))
    results = [r for r in run_rules(facts, "SRIOV201") if r.subject.label.startswith("ens1f0 vf")]
    assert len(results) == 2 and all(r.status is Status.PASS for r in results)
    assert all("pool rednet" in r.message for r in results)


def test_the_guest_on_the_pool_is_named_but_never_given_a_vf(run_rules) -> None:
    guest = replace(portgroup_guest(), network_interfaces=portgroup_guest().network_interfaces[:1])
    facts = add_guest(replace(zero_ens1f0(healthy()), libvirt_networks=(pf_pool(),)), guest)
    results = by_subject(run_rules(facts, "SRIOV201"))
    for vf in ("0000:3b:02.0", "0000:3b:02.1"):
        message = results[vf].message
        assert results[vf].status is Status.PASS
        assert "guest pool-vm uses a VF of this pool (which one is decided when it starts)" in message


def test_an_explicit_address_pool_covers_only_its_vfs(run_rules) -> None:
    facts = healthy()
    enp1 = facts.interface("enp6s0f1")
    assert enp1 is not None and enp1.vfs is not None
    facts = with_interface(facts, "enp6s0f1", vfs=tuple(replace(e, mac=ZERO) for e in enp1.vfs))
    vf_addresses = [a for _, a in next(fn for fn in facts.pci or () if fn.address == I350_PF1).virtfns or ()]
    listed = pool("networkxml2xmlin_hostdev.xml", "vf-list")
    assert len(listed.addresses) == 4  # the real file lists four VFs; this host's first two take their place
    facts = replace(facts, libvirt_networks=(replace(listed, addresses=tuple(vf_addresses[:2])),))
    results = by_subject(run_rules(facts, "SRIOV201"))
    assert [results[a].status for a in vf_addresses[:2]] == [Status.PASS, Status.PASS]
    assert {results[a].severity.value for a in vf_addresses[2:]} == {"warning"}
    assert all(results[a].status is Status.FAIL for a in vf_addresses[2:])


def test_a_pool_does_not_pass_when_the_guests_are_unknown(run_rules) -> None:
    facts = replace(zero_ens1f0(healthy()), libvirt_networks=(pf_pool(),), guests=None)
    result = by_subject(run_rules(facts, "SRIOV201"))["0000:3b:02.0"]
    assert result.status is Status.FAIL and result.severity.value == "warning"
    assert "not in this snapshot" in result.message and "(it is in libvirt network pool rednet)" in result.message


def test_a_vf_named_by_the_status_xml_passes_as_a_pool_vf(run_rules) -> None:
    running = Guest("pool-vm", origin="/run/libvirt/qemu/pool-vm.xml", running=True,
                    devices=(GuestDevice("0000:3b:02.1", driver="vfio", via="interface", managed=True,
                                         mac="52:54:00:6d:90:02", network="rednet"),))
    facts = add_guest(replace(zero_ens1f0(healthy()), libvirt_networks=(pf_pool(),)), running)
    result = by_subject(run_rules(facts, "SRIOV201"))["0000:3b:02.1"]
    assert result.status is Status.PASS
    assert "guest pool-vm gets it from libvirt network pool rednet" in result.message


def test_hostdev_stays_an_error_and_names_what_the_guest_driver_does(run_rules) -> None:
    """web01 assigns enp6s0f0 vf 0 as <hostdev>; the I350's VF driver igbvf picks a random MAC (cited)."""
    facts = healthy()
    enp0 = facts.interface("enp6s0f0")
    assert enp0 is not None and enp0.vfs is not None
    facts = with_interface(facts, "enp6s0f0", vfs=tuple(replace(e, mac=ZERO) if e.index == 0 else e
                                                        for e in enp0.vfs))
    result = by_subject(run_rules(facts, "SRIOV201"))["0000:06:10.0"]
    assert result.status is Status.FAIL and result.severity.value == "error"
    assert "guest web01 assigns it as <hostdev>" in result.message
    assert "the guest's VF driver igbvf then picks a random MAC (Linux commit 2c6952dfdda2" in result.message
    fix = result.fix or ""
    assert "<interface type='hostdev' managed='yes'> with <mac address=" in fix
    assert "<interface type='network'><source network='NAME'/> on a network with <forward mode='hostdev' " \
           "managed='yes'><pf dev='enp6s0f0'/></forward>" in fix
    assert re.search(r"ip link set enp6s0f0 vf 0 mac 02:", fix)


def test_the_fix_names_an_existing_pool_of_the_pf(run_rules) -> None:
    facts = healthy()
    enp0 = facts.interface("enp6s0f0")
    assert enp0 is not None and enp0.vfs is not None
    facts = with_interface(facts, "enp6s0f0", vfs=tuple(replace(e, mac=ZERO) if e.index == 0 else e
                                                        for e in enp0.vfs))
    facts = replace(facts, libvirt_networks=(pf_pool("igb-pool", "enp6s0f0"),))
    result = by_subject(run_rules(facts, "SRIOV201"))["0000:06:10.0"]
    # A direct <hostdev> is not made safe by a pool of the same PF: still the error.
    assert result.status is Status.FAIL and result.severity.value == "error"
    assert "<interface type='network'><source network='igb-pool'/>)" in (result.fix or "")


def test_a_vf_driver_known_to_need_a_mac_is_said_so(run_rules) -> None:
    """The rule's admin_mac_drivers table (ionic, cited): the unassigned VF stays a warning, with the reason."""
    facts = zero_ens1f0(healthy())
    facts = with_function(facts, "0000:3b:00.0", driver="ionic")
    for vf in ("0000:3b:02.0", "0000:3b:02.1"):
        facts = with_function(facts, vf, modules=())
    result = by_subject(run_rules(facts, "SRIOV201"))["0000:3b:02.1"]
    assert result.status is Status.FAIL and result.severity.value == "warning"
    assert "the guest's VF driver ionic is known to need an administrative MAC (ionic VFs kept the all-zero MAC " \
           "until Linux commit 19058be7c48c" in result.message
    assert "(its VF driver needs one)" in (result.fix or "")


def test_references_cite_the_driver_commits(registry, builtin_rules) -> None:  # type: ignore[no-untyped-def]
    rule = next(r for r in builtin_rules if r.id == "SRIOV201")
    refs = " ".join(rule.references)
    for sha in ("2c6952dfdda2", "465fc643c2dc", "efd8e39acc51", "108805fc196e", "3874d6a8b619", "19058be7c48c"):
        assert sha in refs
    cited = {**rule.params["random_mac_drivers"], **rule.params["admin_mac_drivers"]}
    for driver, text in cited.items():
        sha = re.search(r"commit ([0-9a-f]{12})", text)
        assert sha and sha.group(1) in refs, driver


# -- assumed versus seen -----------------------------------------------------------------------------

def test_vfio_assumed_from_libvirts_default_is_worded_as_an_assumption(run_rules) -> None:
    facts = healthy()
    results = {r.subject.id: r for r in run_rules(facts, "SRIOV302")}
    # web01 names <driver name='vfio'/>: seen.
    assert results["web01"].message == "guest web01 assigns its 1 devices through VFIO (<driver name='vfio'/>)"
    # db01's definition names no driver: VFIO is libvirt's default, an assumption, and the pass says so.
    assert results["db01"].status is Status.PASS
    assert "VFIO is assumed from libvirt's default, not seen" in results["db01"].message
    assert "through VFIO" not in results["db01"].message


def test_managed_passthrough_says_when_vfio_is_assumed(run_rules) -> None:
    results = {r.subject.id: r for r in run_rules(healthy(), "SRIOV203")}
    assert "VFIO assumed" in results["0000:3b:02.0"].message  # db01: no <driver>
    assert "assumed" not in results["0000:06:10.0"].message  # web01: <driver name='vfio'/>


def test_a_windows_pool_guest_is_judged_without_naming_a_vf(run_rules) -> None:
    guest = replace(portgroup_guest(), os_id="http://microsoft.com/win/2k8",
                    network_interfaces=portgroup_guest().network_interfaces[:1])
    assert guest.devices == () and guest.bits == 32 and guest.cpu_default
    facts = add_guest(replace(healthy(), libvirt_networks=(pf_pool(),)), guest)
    (result,) = [r for r in run_rules(facts, "SRIOV301") if r.subject.id == "pool-vm"]
    assert result.status is Status.FAIL
    assert "with a VF of pool rednet (PF ens1f0) (which one is decided when it starts)" in result.message
    assert not re.search(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]", result.message)
    # On a network that is not a hostdev pool the guest assigns nothing: not judged here.
    bridge = replace(pf_pool(), forward_mode="bridge")
    quiet = add_guest(replace(healthy(), libvirt_networks=(bridge,)), guest)
    assert not [r for r in run_rules(quiet, "SRIOV301") if r.subject.id == "pool-vm"]


def test_a_pool_guest_gets_its_vf_driver_named_from_the_pools_pf(run_rules) -> None:
    guest = replace(portgroup_guest(), os_id="http://redhat.com/rhel/9.2")
    facts = add_guest(replace(healthy(), libvirt_networks=(pf_pool(),)), guest)
    (result,) = [r for r in run_rules(facts, "SRIOV303") if r.subject.id == "pool-vm"]
    assert result.status is Status.MANUAL
    assert "gets a VF of pool rednet (PF ens1f0) when it starts (which VF is decided then)" in result.message
    assert "the iavf driver" in result.message
    # The pool's PF is not on this host: which driver the guest needs is not known.
    gone = add_guest(replace(healthy(), libvirt_networks=(pf_pool(pf="eth9"),)), guest)
    (unknown,) = [r for r in run_rules(gone, "SRIOV303") if r.subject.id == "pool-vm"]
    assert unknown.status is Status.SKIP and "pool rednet (PF eth9)" in unknown.message


def _pool_requests(facts: HostFacts) -> Tuple[str, ...]:
    from sriovcheck import derived

    return tuple(f"{r.guest.name}:{r.network.name}" for r in derived.pool_requests(facts))


def test_only_unnamed_hostdev_pool_interfaces_are_requests() -> None:
    guest = portgroup_guest()  # rednet once, blue twice
    facts = add_guest(replace(healthy(), libvirt_networks=(pf_pool(), pf_pool("blue", "enp6s0f1"))), guest)
    assert _pool_requests(facts) == ("pool-vm:rednet", "pool-vm:blue", "pool-vm:blue")
    # A running domain whose status XML says what it got (<actual>) is no request any more.
    seen = with_guest(facts, "pool-vm", network_interfaces=tuple(replace(i, actual="bridge")
                                                                 for i in guest.network_interfaces))
    assert _pool_requests(seen) == ()
    assert _pool_requests(replace(facts, libvirt_networks=None)) == ()


# -- SRIOV304: the pool a guest takes its VF from has VFs on this host ------------------------------

def _pool_result(facts: HostFacts, run_rules):  # type: ignore[no-untyped-def]
    (result,) = [r for r in run_rules(facts, "SRIOV304") if r.subject.id == "pool-vm/rednet"]
    return result


def test_a_pool_guest_passes_when_the_pools_pf_has_vfs(run_rules) -> None:
    guest = replace(portgroup_guest(), network_interfaces=portgroup_guest().network_interfaces[:1])
    facts = add_guest(replace(healthy(), libvirt_networks=(pf_pool(),)), guest)
    result = _pool_result(facts, run_rules)
    assert result.status is Status.PASS
    assert "pool rednet's PF ens1f0 is on this host with 2 VFs; guest pool-vm gets one of them when it starts " \
           "(which one is decided then)" == result.message
    assert str(result.subject) == "guest pool-vm: a VF of pool rednet (PF ens1f0)"


def test_a_pool_guest_fails_when_the_pools_pf_is_not_here_or_has_no_vfs(run_rules) -> None:
    guest = replace(portgroup_guest(), network_interfaces=portgroup_guest().network_interfaces[:1])
    # libvirt's test network names eth2: no such interface on this host.
    gone = add_guest(replace(healthy(), libvirt_networks=(pool("networkxml2xmlout_hostdev-pf.xml", "rednet"),)),
                     guest)
    result = _pool_result(gone, run_rules)
    assert result.status is Status.FAIL and "eth2, which is not an interface of this host" in result.message
    assert "virsh net-edit rednet" in (result.fix or "")
    # The PF is here but has no VF enabled.
    empty = with_function(add_guest(replace(healthy(), libvirt_networks=(pf_pool(),)), guest), "0000:3b:00.0",
                          sriov=None, virtfns=())
    empty = with_interface(empty, "ens1f0", vfs=())
    empty = replace(empty, pci=tuple(fn for fn in empty.pci or () if fn.physfn != "0000:3b:00.0"))
    result = _pool_result(empty, run_rules)
    assert result.status is Status.FAIL and "which has none enabled" in result.message
    assert "echo N > /sys/class/net/ens1f0/device/sriov_numvfs" in (result.fix or "")
    # Interfaces unknown: whether the PF is here is not judged.
    unknown = add_guest(replace(healthy(), libvirt_networks=(pf_pool(),), interfaces=None), guest)
    assert _pool_result(unknown, run_rules).status is Status.SKIP


def test_an_address_pool_needs_one_of_its_vfs_here(run_rules) -> None:
    guest = replace(portgroup_guest(), network_interfaces=portgroup_guest().network_interfaces[:1])
    listed = pool("networkxml2xmlin_hostdev.xml", "rednet")  # 0000:03:00.1-.4: not on this host
    result = _pool_result(add_guest(replace(healthy(), libvirt_networks=(listed,)), guest), run_rules)
    assert result.status is Status.FAIL and "none of the 4 VFs that pool rednet lists is on this host" in result.message
    here = replace(listed, addresses=listed.addresses[:3] + ("0000:3b:02.1",))
    result = _pool_result(add_guest(replace(healthy(), libvirt_networks=(here,)), guest), run_rules)
    assert result.status is Status.PASS and "1 of them on this host" in result.message


def test_placement_passes_say_what_was_seen(run_rules) -> None:
    """SRIOV305/306 passes rest on the definition: 'bound to', and a limit libvirt derives, never 'runs' or a
    limit read from the process."""
    from rule_hosts import with_function as set_fn

    facts = with_guest(healthy(), "web01", numa_placement="static", numa_nodes=(0,), memory_kib=4194304,
                       memory_locked=False, hard_limit_kib=None)
    facts = set_fn(facts, "0000:06:10.0", numa_node=0)
    (numa,) = [r for r in run_rules(facts, "SRIOV305", profile="audit") if r.subject.id == "web01/0000:06:10.0"]
    assert numa.status is Status.PASS and "a node guest web01 is bound to" in numa.message
    (lock,) = [r for r in run_rules(facts, "SRIOV306") if r.subject.id == "web01"]
    assert lock.status is Status.PASS and "not read from the process" in lock.message


def test_a_port_a_hostdev_pool_names_is_used_for_sriov(run_rules) -> None:
    """SRIOV101/102 require VFs only on ports the host uses for SR-IOV: a <forward mode='hostdev'><pf dev> naming
    the port is such a use (issue 12 1.10), so its missing VFs are an error, not information."""
    from rule_hosts import only, x520_pf

    facts = only(healthy(), x520_pf())
    (unused,) = run_rules(facts, "SRIOV102")
    assert unused.status is Status.SKIP and "libvirt network pools" in unused.message
    pooled = replace(facts, libvirt_networks=(pf_pool("x520-pool", "enp1s0f0"),))
    (result,) = run_rules(pooled, "SRIOV102")
    assert result.status is Status.FAIL and "has 0 VFs enabled" in result.message


# -- SRIOV203: the VF a pool hands out is bound to vfio-pci -------------------------------------------

def test_an_unmanaged_pool_needs_every_vf_bound_to_vfio(run_rules) -> None:
    """ens1f0's VFs are bound to iavf; db01 (which assigns vf 0 directly) removed so the pool hands out both."""
    guest = replace(portgroup_guest(), network_interfaces=portgroup_guest().network_interfaces[:1])
    unmanaged = replace(pf_pool(), managed=False)
    facts = add_guest(replace(zero_ens1f0(healthy()), libvirt_networks=(unmanaged,)), guest)
    results = {r.subject.id: r for r in run_rules(facts, "SRIOV203")}
    for vf in ("0000:3b:02.0", "0000:3b:02.1"):
        assert results[vf].status is Status.FAIL, results[vf].message
        assert "a VF of libvirt network pool rednet, which has no managed='yes'" in results[vf].message
        assert "which VF it picks is decided at start" in results[vf].message
        assert "virsh net-edit rednet" in (results[vf].fix or "")
    bound = facts
    for vf in ("0000:3b:02.0", "0000:3b:02.1"):
        bound = with_function(bound, vf, driver="vfio-pci")
    assert {r.status for r in run_rules(bound, "SRIOV203") if r.subject.id.startswith("0000:3b:02")} == {Status.PASS}
    # The real test network has managed='yes': libvirt binds the VF it hands out.
    managed = add_guest(replace(zero_ens1f0(healthy()), libvirt_networks=(pf_pool(),)), guest)
    passes = [r for r in run_rules(managed, "SRIOV203") if r.subject.id.startswith("0000:3b:02")]
    assert len(passes) == 2 and all(r.status is Status.PASS and "managed='yes'" in r.message for r in passes)
    # The pool's PF is not known here: which VFs it hands out, and their drivers, are not judged.
    unknown = add_guest(replace(healthy(), libvirt_networks=(replace(unmanaged, pf="eth9"),)), guest)
    (skip,) = [r for r in run_rules(unknown, "SRIOV203") if r.subject.id == "pool rednet"]
    assert skip.status is Status.SKIP
