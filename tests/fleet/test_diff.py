"""sriovcheck diff: results that changed status and facts that changed, in text, JSON and Markdown."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Tuple

import pytest

from sriovcheck.diff import ABSENT, compare, render_json, render_markdown, render_text
from sriovcheck.model import (
    CmdlineInfo,
    Guest,
    GuestDevice,
    HostFacts,
    NetInterface,
    PciFunction,
    SourceInfo,
    SriovInfo,
    VfEntry,
)
from sriovcheck.results import HOST, Report, Result, Severity, Status, Subject

PF = "0000:10:00.0"
VF0, VF1, VF2 = "0000:10:10.0", "0000:10:10.2", "0000:10:10.4"


def host(location: str, num_vfs: int = 3, vf0_mac: str = "52:54:00:6f:47:90", vf1_driver: str = "vfio-pci",
         cmdline: str = "ro intel_iommu=on iommu=pt", guests: Tuple[str, ...] = ("vm-0000", "vm-0001")) -> HostFacts:
    vfs = [PciFunction(VF0, driver="vfio-pci", is_vf=True, physfn=PF, vf_index=0),
           PciFunction(VF1, driver=vf1_driver, is_vf=True, physfn=PF, vf_index=1),
           PciFunction(VF2, driver="ixgbevf", is_vf=True, physfn=PF, vf_index=2)][:num_vfs]
    pf = PciFunction(PF, vendor_id="8086", device_id="10fb", driver="ixgbe", has_sriov=True,
                     sriov=SriovInfo(total_vfs=63, num_vfs=num_vfs, vf_offset=128, vf_stride=2),
                     virtfns=tuple((i, fn.address) for i, fn in enumerate(vfs)))
    table = tuple(VfEntry(i, mac=(vf0_mac if i == 0 else "00:00:00:00:00:00"), spoofchk=True)
                  for i in range(num_vfs))
    args = tuple((t.split("=", 1)[0], t.split("=", 1)[1] if "=" in t else None) for t in cmdline.split())
    return HostFacts(
        source=SourceInfo("sosreport", location, collected_at=f"{location}-time"),
        hostname="compute-07",
        cmdline=CmdlineInfo(raw=cmdline, args=args, origins={"raw": "proc/cmdline"}),
        pci=(pf, *vfs),
        interfaces=(NetInterface("enp16s0f0", address=PF, driver="ixgbe", mac="a0:36:9f:84:f8:cf", vfs=table),),
        guests=tuple(Guest(name, f"etc/libvirt/qemu/{name}.xml", arch="x86_64",
                           devices=(GuestDevice(VF0 if n == 0 else VF1, driver="vfio"),))
                     for n, name in enumerate(guests)),
    )


def report(facts: HostFacts, zero_mac_status: Status = Status.FAIL, extra: Tuple[Result, ...] = ()) -> Report:
    vf1 = Subject("vf", VF1, "enp16s0f0 vf 1")
    results = (
        Result("SRIOV001", "iommu-enabled", "IOMMU enabled", Status.PASS, Severity.ERROR, HOST, "IOMMU is on"),
        Result("SRIOV201", "vf-zero-mac", "VF MAC", zero_mac_status, Severity.WARNING, vf1, "vf 1 has MAC zero"),
    ) + extra
    return Report(facts, results, tool_version="test")


def test_identical_snapshots_show_no_change() -> None:
    # Different locations and collection times are not changes of the host.
    diff = compare(report(host("before.tar.gz")), report(host("after.tar.gz")))
    assert diff.empty
    assert render_text(diff).endswith("no changes in results or facts\n")
    assert json.loads(render_json(diff))["facts"] == []
    assert "No changes in results or facts." in render_markdown(diff)


def test_changed_facts_vf_count_mac_driver_cmdline_and_guests() -> None:
    old = host("before.tar.gz")
    new = host("after.tar.gz", num_vfs=2, vf0_mac="52:54:00:00:00:01", vf1_driver="ixgbevf",
               cmdline="ro iommu=pt", guests=("vm-0000", "vm-0002"))
    diff = compare(report(old), report(new))
    changes = {c.path: (c.old, c.new) for c in diff.facts}
    assert changes[f"pci.[{PF}].sriov.num_vfs"] == (3, 2)
    assert changes["interfaces.[enp16s0f0].vfs.[0].mac"] == ("52:54:00:6f:47:90", "52:54:00:00:00:01")
    assert changes[f"pci.[{VF1}].driver"] == ("vfio-pci", "ixgbevf")
    assert changes["cmdline.raw"] == ("ro intel_iommu=on iommu=pt", "ro iommu=pt")
    # A VF and a guest that are gone are one change each, "absent", not a list of unknown fields.
    assert changes[f"pci.[{VF2}]"] == ("present", ABSENT)
    assert changes["interfaces.[enp16s0f0].vfs.[2]"] == ("present", ABSENT)
    assert changes["guests.[vm-0001]"] == ("present", ABSENT)
    assert changes["guests.[vm-0002]"] == (ABSENT, "present")
    assert not any(path.startswith(f"pci.[{VF2}].") or path.startswith("guests.[vm-0001].") for path in changes)
    assert not any(path.startswith("source.") for path in changes)

    text = render_text(diff)
    assert f"pci.[{PF}].sriov.num_vfs: 3 -> 2" in text
    assert "interfaces.[enp16s0f0].vfs.[0].mac: 52:54:00:6f:47:90 -> 52:54:00:00:00:01" in text
    assert f"pci.[{VF1}].driver: vfio-pci -> ixgbevf" in text
    assert "cmdline.raw: ro intel_iommu=on iommu=pt -> ro iommu=pt" in text
    assert "guests.[vm-0001]: removed" in text and "guests.[vm-0002]: added" in text

    data = json.loads(render_json(diff))
    assert data["schema"] == "sriovcheck.diff/1"
    assert (data["old"], data["new"], data["hostname"]) == ("before.tar.gz", "after.tar.gz", "compute-07")
    by_path = {f["path"]: f for f in data["facts"]}
    assert by_path[f"pci.[{PF}].sriov.num_vfs"] == {"path": f"pci.[{PF}].sriov.num_vfs", "change": "changed",
                                                  "old": 3, "new": 2}
    assert by_path["guests.[vm-0001]"]["change"] == "removed"
    assert by_path["guests.[vm-0002]"]["change"] == "added"
    assert by_path["cmdline.args"]["old"] == [["ro", None], ["intel_iommu", "on"], ["iommu", "pt"]]

    md = render_markdown(diff)
    assert "| fact | before | after |" in md
    assert f"| `pci.[{PF}].sriov.num_vfs` | `3` | `2` |" in md
    assert f"| `pci.[{VF1}].driver` | `vfio-pci` | `ixgbevf` |" in md
    assert "| `interfaces.[enp16s0f0].vfs.[0].mac` | `52:54:00:6f:47:90` | `52:54:00:00:00:01` |" in md
    assert "| `guests.[vm-0002]` | — | `added` |" in md


def test_a_collection_that_became_unknown_is_not_shown_as_removed() -> None:
    new = replace(host("after"), guests=None)  # the new snapshot has no libvirt configuration at all
    diff = compare(report(host("before")), report(new))
    assert [(c.path, c.old, c.new) for c in diff.facts] == [("guests", "2 items", None)]
    assert "guests: 2 items -> (unknown)" in render_text(diff)
    back = compare(report(new), report(host("before")))
    assert [(c.path, c.old, c.new, c.change) for c in back.facts] == [("guests", None, "2 items", "changed")]


def test_results_that_changed_status() -> None:
    extra = (Result("SRIOV301", "guest-vf-driver", "Guest", Status.FAIL, Severity.ERROR,
                    Subject("guest", "vm-0001"), "vm-0001 uses pci-assign"),)
    diff = compare(report(host("a"), Status.FAIL, extra), report(host("b"), Status.PASS))
    assert [(c.rule, c.subject, c.old, c.new) for c in diff.results] == [
        ("SRIOV201", "enp16s0f0 vf 1", "fail", "pass"),
        ("SRIOV301", "guest vm-0001", "fail", None),
    ]
    text = render_text(diff)
    assert "== RESULTS THAT CHANGED (2) ==" in text
    assert "SRIOV201 vf-zero-mac enp16s0f0 vf 1: fail -> pass" in text
    assert "SRIOV301 guest-vf-driver guest vm-0001: removed (was fail)" in text
    data = json.loads(render_json(diff))
    assert data["results"][0] == {"rule": "SRIOV201", "name": "vf-zero-mac", "subject": "enp16s0f0 vf 1",
                                  "change": "changed", "old": "fail", "new": "pass", "message": "vf 1 has MAC zero"}
    assert "| SRIOV201 vf-zero-mac | `enp16s0f0 vf 1` | fail | pass |" in render_markdown(diff)


@pytest.mark.parametrize("render", [render_text, render_markdown, render_json])
def test_hostile_values_stay_inert(render) -> None:
    # Snapshot contents are untrusted: control characters and Markdown/HTML must not pass through raw.
    old = host("a")
    new = replace(host("b"), hostname="evil\x1b[31m|<b>")
    out = render(compare(report(old), report(new)))
    assert "\x1b" not in out
    if render is render_markdown:
        # The pipe cannot end the table cell early; the tag sits inside a code span.
        assert "`evil [31m\\|<b>`" in out


# -- issue 13 §6: renames, added/removed subjects ------------------------------------------------------

def test_a_renamed_interface_is_one_name_change_not_noise() -> None:
    before = host("before")
    renamed = replace(before.interfaces[0], name="ens1f0")
    after = replace(host("after"), interfaces=(renamed,),
                    pci=tuple(replace(fn, interfaces=("ens1f0",)) if fn.address == PF else fn for fn in before.pci))
    before = replace(before, pci=tuple(replace(fn, interfaces=("enp16s0f0",)) if fn.address == PF else fn
                                       for fn in before.pci))
    # A subject named after the interface (a VF whose address was not known): a skip on both sides.
    unknown_vf = (Result("SRIOV205", "vf-mtu", "VF MTU", Status.SKIP, Severity.WARNING,
                         Subject("vf", "enp16s0f0 vf 2", "enp16s0f0 vf 2"), "not judged"),)
    renamed_vf = (Result("SRIOV205", "vf-mtu", "VF MTU", Status.SKIP, Severity.WARNING,
                         Subject("vf", "ens1f0 vf 2", "ens1f0 vf 2"), "not judged"),)
    diff = compare(report(before, extra=unknown_vf), report(after, extra=renamed_vf))
    assert diff.results == ()  # no "skip -> absent" / "absent -> skip" pair
    assert [(r.old, r.new, r.key) for r in diff.renamed] == [("enp16s0f0", "ens1f0", f"PCI function {PF}")]
    assert [(c.path, c.old, c.new) for c in diff.facts] == [("interfaces.[ens1f0].name", "enp16s0f0", "ens1f0")]
    text = render_text(diff)
    assert f"renamed: interface enp16s0f0 is ens1f0 in NEW (same PCI function {PF})" in text
    assert json.loads(render_json(diff))["renamed"] == [
        {"kind": "interface", "old": "enp16s0f0", "new": "ens1f0", "key": f"PCI function {PF}"}]
    # A real change on the renamed interface still shows, under its new name.
    after_mac = replace(after, interfaces=(replace(renamed, mac="a0:36:9f:00:00:01"),))
    paths = {c.path for c in compare(report(before), report(after_mac)).facts}
    assert "interfaces.[ens1f0].mac" in paths and not any("enp16s0f0]" in p for p in paths)


def test_two_interfaces_on_one_function_are_not_guessed_as_renames() -> None:
    # Multi-port NICs can show two netdevs on one PCI function: no stable key, so no rename.
    before = replace(host("before"), interfaces=(NetInterface("p1", address=PF), NetInterface("p2", address=PF)))
    after = replace(host("after"), interfaces=(NetInterface("q1", address=PF), NetInterface("q2", address=PF)))
    diff = compare(report(before), report(after))
    assert diff.renamed == ()
    assert {c.change for c in diff.facts if c.path.startswith("interfaces.")} == {"added", "removed"}


def test_a_guest_that_appeared_is_added_and_the_host_placeholder_is_not_noise() -> None:
    before = host("before", guests=())
    after = host("after", guests=("vm-0000",))
    placeholder = (Result("SRIOV302", "guest-legacy-assignment", "Legacy", Status.SKIP, Severity.ERROR, HOST,
                          "not applicable: no guest on this host has an assigned PCI device",
                          skip_reason="not-applicable"),)
    judged = (Result("SRIOV302", "guest-legacy-assignment", "Legacy", Status.PASS, Severity.ERROR,
                     Subject("guest", "vm-0000", "guest vm-0000"), "guest vm-0000 assigns through VFIO"),)
    diff = compare(report(before, extra=placeholder), report(after, extra=judged))
    assert [(c.rule, c.subject, c.change, c.old, c.new) for c in diff.results] == [
        ("SRIOV302", "guest vm-0000", "added", None, "pass")]
    assert [(c.path, c.change) for c in diff.facts] == [("guests.[vm-0000]", "added")]
    text = render_text(diff)
    assert "SRIOV302 guest-legacy-assignment guest vm-0000: added (pass)" in text
    assert "guests.[vm-0000]: added" in text
    assert "(none) -> (absent)" not in text and "skip -> absent" not in text
    assert "| SRIOV302 guest-legacy-assignment | `guest vm-0000` | — | pass (added) |" in render_markdown(diff)
    back = compare(report(after, extra=judged), report(before, extra=placeholder))
    assert [(c.change, c.old, c.new) for c in back.results] == [("removed", "pass", None)]
    assert "guests.[vm-0000]: removed" in render_text(back)


def test_a_port_tied_to_no_pci_address_is_matched_by_its_mac() -> None:
    """A sosreport without ``ethtool -i``/``-P`` for a port knows it only by name and MAC (its VF table from
    ``ip link``): after a rename its VFs -- subjects named after the port -- are the same VFs, not noise."""
    table = tuple(VfEntry(i, mac="00:00:00:00:00:00") for i in range(2))

    def facts(location: str, name: str) -> HostFacts:
        return replace(host(location, guests=()), pci=(),
                       interfaces=(NetInterface(name, mac="a0:36:9f:84:f8:ce", vfs=table),
                                   NetInterface("bond0", mac="a0:36:9f:00:00:01"),
                                   NetInterface("eno1" if name == "enp16s0f1" else "eno9", mac="a0:36:9f:00:00:01")))

    def vf_results(name: str) -> Tuple[Result, ...]:
        return tuple(Result("SRIOV201", "vf-zero-mac", "VF MAC", Status.SKIP, Severity.ERROR,
                            Subject("vf", f"{name} vf {i}", f"{name} vf {i}"), "not judged: no PCI address")
                     for i in range(2))

    diff = compare(report(facts("before", "enp16s0f1"), extra=vf_results("enp16s0f1")),
                   report(facts("after", "ens2f1"), extra=vf_results("ens2f1")))
    assert [(r.old, r.new, r.key) for r in diff.renamed] == [("enp16s0f1", "ens2f1", "MAC a0:36:9f:84:f8:ce")]
    assert diff.results == ()
    # eno1 -> eno9 share their MAC with bond0: nothing ties them, so they are one removed and one added.
    assert [(c.path, c.change) for c in diff.facts] == [
        ("interfaces.[eno1]", "removed"), ("interfaces.[eno9]", "added"), ("interfaces.[ens2f1].name", "changed")]
    # A zero MAC ties nothing either.
    zero = compare(report(replace(facts("before", "p1"), interfaces=(NetInterface("p1", mac="00:00:00:00:00:00"),))),
                   report(replace(facts("after", "p2"), interfaces=(NetInterface("p2", mac="00:00:00:00:00:00"),))))
    assert zero.renamed == ()
