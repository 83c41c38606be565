"""Reports built by hand for the reporter tests (imported by conftest.py and the tests).

The rule pack and the collectors are written separately, so these fixtures
do not run them: they build HostFacts and Results the way the engine would
(fix_script values shell-quoted by the engine's own template renderer).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional

from sriovcheck.model import (
    CollectionProblem,
    Guest,
    GuestDevice,
    HostFacts,
    KernelInfo,
    NetInterface,
    PciFunction,
    SourceInfo,
    SriovInfo,
    VfEntry,
)
from sriovcheck.reporters import RenderOptions
from sriovcheck.results import HOST, Evidence, Report, Result, Severity, Status, Subject, WaiverNote
from sriovcheck.templating import render as render_template

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / "tests"
SCHEMAS = SHARED / "schemas"
ARTIFACTS = REPO / "test-artifacts"
TIMESTAMP = "2026-02-01T12:00:00"

#: A name that is HTML, shell and Markdown at once.
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def options(**changes: Any) -> RenderOptions:
    values: Dict[str, Any] = {"timestamp": TIMESTAMP}
    values.update(changes)
    return RenderOptions(**values)


def result(rule: str, name: str, status: Status, severity: Severity, subject: Subject, message: str, *,
           evidence: tuple = (), fix: Optional[str] = None, script: Optional[str] = None,
           context: Optional[Dict[str, Any]] = None, phase: str = "runtime", waiver: Optional[str] = None,
           title: Optional[str] = None) -> Result:
    """A Result as the engine makes it: fix and fix_script rendered from templates with ``context``."""
    ctx = dict(context or {})
    fix_text = render_template(fix, ctx) if fix is not None else None
    fix_script = render_template(script, ctx, shell=True) if script is not None else None
    return Result(rule=rule, name=name, title=title or name.replace("-", " ").capitalize(), status=status,
                  severity=severity, subject=subject, message=message,
                  evidence=tuple(Evidence(*e) if isinstance(e, tuple) else Evidence(e) for e in evidence),
                  fix=fix_text, fix_script=fix_script, fix_phase=phase, waiver=waiver,
                  rule_origin=f"rules/{name}.yaml:3")


def _pci(pf_iface: str, guest_name: str) -> tuple:
    igb = PciFunction(
        address="0000:01:00.0", vendor_id="8086", device_id="1521", class_code="020000",
        vendor_name="Intel Corporation", device_name="I350 Gigabit Network Connection", driver="igb",
        numa_node=0, has_sriov=True,
        sriov=SriovInfo(total_vfs=7, num_vfs=2, vf_enable=True, in_sysfs=True, in_lspci=True),
        virtfns=((0, "0000:01:10.0"), (1, "0000:01:10.4")), interfaces=(pf_iface,))
    ixgbe = PciFunction(
        address="0000:03:00.0", vendor_id="8086", device_id="10fb", class_code="020000",
        vendor_name="Intel Corporation", device_name="82599ES 10-Gigabit SFI/SFP+", driver="ixgbe",
        numa_node=1, has_sriov=True, sriov=SriovInfo(total_vfs=63, num_vfs=0), virtfns=(),
        interfaces=("enp3s0f0",))
    mlx = PciFunction(address="0000:05:00.0", vendor_id="15b3", device_id="1017", class_code="020000",
                      driver="mlx5_core", has_sriov=True, interfaces=("enp5s0f0np0",))
    vf0 = PciFunction(address="0000:01:10.0", vendor_id="8086", device_id="1520", driver="igbvf", is_vf=True,
                      physfn="0000:01:00.0", vf_index=0, interfaces=("enp1s16",))
    vf1 = PciFunction(address="0000:01:10.4", vendor_id="8086", device_id="1520", driver="", is_vf=True,
                      physfn="0000:01:00.0", vf_index=1)
    return (igb, ixgbe, mlx, vf0, vf1)


def failing_facts(hostname: str = "web01.example.com", pf_iface: str = "enp1s0f0",
                  guest_name: str = "win2k8") -> HostFacts:
    interfaces = (
        NetInterface(name=pf_iface, address="0000:01:00.0", driver="igb", mac="a0:36:9f:00:00:01",
                     vfs=(VfEntry(0, mac="00:00:00:00:00:00", spoofchk=True, trust=False, link_state="auto"),
                          VfEntry(1, mac="52:54:00:12:34:56", vlan=100, spoofchk=True, trust=False,
                                  link_state="auto"))),
        NetInterface(name="enp3s0f0", address="0000:03:00.0", driver="ixgbe", vfs=()),
        NetInterface(name="enp1s16", address="0000:01:10.0", driver="igbvf", mac="00:00:00:00:00:00"),
    )
    guests = (
        Guest(name=guest_name, origin="/etc/libvirt/qemu/win2k8.xml", running=True,
              os_id="http://microsoft.com/win/2k8", arch="i686", cpu_default=True, cpu_model="qemu32",
              devices=(GuestDevice("0000:01:10.4", driver="vfio", managed=False),)),
        Guest(name="db01", origin="pid 4242", kind="qemu-process", running=True, arch="x86_64",
              cpu_model="host", devices=(GuestDevice("0000:01:10.0", via="qemu-device", driver="kvm"),)),
    )
    return HostFacts(
        source=SourceInfo(kind="capture", location="/srv/captures/web01.tar.gz",
                          collected_at="2026-01-31T08:15:00Z", as_root=True),
        hostname=hostname,
        kernel=KernelInfo(release="5.14.0-70.el9.x86_64", version=(5, 14, 0)),
        pci=_pci(pf_iface, guest_name), interfaces=interfaces, guests=guests,
        problems=(CollectionProblem("/sys/kernel/iommu_groups", "Permission denied", "iommu.group_count"),
                  CollectionProblem("lspci -vvv", "command timed out after 10s", "pci capabilities")),
    )


def failing_results(pf_iface: str = "enp1s0f0", guest_name: str = "win2k8") -> List[Result]:
    vf0 = Subject("vf", "0000:01:10.0", f"{pf_iface} vf 0 (0000:01:10.0)")
    vf1 = Subject("vf", "0000:01:10.4", f"{pf_iface} vf 1 (0000:01:10.4)")
    guest = Subject("guest", guest_name, f"guest {guest_name}")
    cmdline_fix = "Add intel_iommu=on iommu=pt to the kernel command line:\n    grubby --update-kernel=ALL --args='intel_iommu=on iommu=pt'\nthen reboot."
    cmdline_script = "grubby --update-kernel=ALL --args='intel_iommu=on iommu=pt'"
    return [
        result("SRIOV001", "iommu-enabled", Status.FAIL, Severity.ERROR, HOST,
               "the IOMMU is off: /sys/kernel/iommu_groups is empty and the command line has no intel_iommu=on",
               evidence=(("/sys/kernel/iommu_groups", "0 entries"), ("/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro quiet")),
               fix=cmdline_fix, script=cmdline_script, phase="kernel-cmdline"),
        result("SRIOV002", "kernel-caveats", Status.FAIL, Severity.WARNING, HOST,
               "igb VFs start with an all-zero MAC on this kernel; the IOMMU must be on for assignment",
               fix=cmdline_fix, script=cmdline_script, phase="kernel-cmdline"),
        result("SRIOV101", "sriov-capability", Status.FAIL, Severity.ERROR,
               Subject("pf", "0000:05:00.0", "enp5s0f0np0 (0000:05:00.0)"),
               "lspci shows no SR-IOV capability for this ConnectX-5: SR-IOV is off in the NIC firmware",
               evidence=(("lspci -vvv -s 0000:05:00.0", "no 'Single Root I/O Virtualization' capability"),),
               fix="Enable SR-IOV in the BIOS and in the NIC firmware:\n    mlxconfig -d 0000:05:00.0 set SRIOV_EN=1 NUM_OF_VFS=8\nthen power-cycle the host.",
               phase="firmware"),
        result("SRIOV103", "vf-config-valid", Status.FAIL, Severity.ERROR,
               Subject("file", "/etc/modprobe.d/igb.conf", "/etc/modprobe.d/igb.conf"),
               "igb has no parameter 'max_vf' (did you mean 'max_vfs'?)",
               evidence=(("/etc/modprobe.d/igb.conf:1", "options igb max_vf=7"),),
               fix="Replace max_vf with max_vfs in {{ file }}, then reload igb.",
               script="sed -i 's/max_vf=/max_vfs=/' {{ file }}\nmodprobe -r igb && modprobe igb",
               context={"file": "/etc/modprobe.d/igb.conf"}, phase="module"),
        result("SRIOV102", "vfs-enabled", Status.FAIL, Severity.WARNING,
               Subject("pf", "0000:03:00.0", "enp3s0f0 (0000:03:00.0)"),
               "no VFs enabled on enp3s0f0 (sriov_numvfs is 0 of 63)",
               evidence=(("/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "0"),),
               fix="echo {{ n }} > /sys/class/net/{{ iface }}/device/sriov_numvfs",
               script="write_value /sys/class/net/{{ iface }}/device/sriov_numvfs {{ n }}",
               context={"iface": "enp3s0f0", "n": 4}),
        result("SRIOV201", "vf-zero-mac", Status.FAIL, Severity.ERROR, vf0,
               f"VF 0 of {pf_iface} (0000:01:10.0) has MAC 00:00:00:00:00:00; guest db01 uses it",
               evidence=((f"ip link show {pf_iface}", "vf 0 link/ether 00:00:00:00:00:00"),),
               fix="ip link set {{ pf }} vf {{ index }} mac {{ mac }}\nMake it persistent in the unit that creates the VFs.",
               script="ip link set {{ pf }} vf {{ index }} mac {{ mac }}",
               context={"pf": pf_iface, "index": 0, "mac": "02:00:00:01:00:00"}),
        result("SRIOV301", "guest-cpu-msix", Status.FAIL, Severity.WARNING, guest,
               f"32-bit Windows guest {guest_name} has a VF and the default CPU model (field-reported heuristic)",
               fix="Give the guest a named CPU model: virt-xml {{ guest }} --edit --cpu host-model",
               script="virt-xml {{ guest }} --edit --cpu host-model", context={"guest": guest_name}, phase="guest"),
        result("SRIOV901", "site-naming", Status.FAIL, Severity.INFO, Subject("interface", "enp3s0f0", "enp3s0f0"),
               "interface name does not follow the site convention", fix="Rename it in the site inventory.",
               phase="none"),
        result("SRIOV902", "sample-crash", Status.ERROR, Severity.ERROR, HOST,
               "check 'sample-crash' (checks/x.py) crashed: ZeroDivisionError: division by zero",
               evidence=(("rules/site.yaml:12", "check sample-crash"),)),
        result("SRIOV303", "guest-vf-driver", Status.MANUAL, Severity.INFO, guest,
               f"check that the Intel VF driver is installed in the Windows guest {guest_name}",
               fix="Install the Intel VF driver from Intel's download center in the guest."),
        result("SRIOV203", "vf-passthrough-driver", Status.WAIVED, Severity.WARNING, vf1,
               "VF assigned without managed='yes' is not bound to vfio-pci",
               fix="driverctl set-override 0000:01:10.4 vfio-pci", waiver="lab host; accepted until 2026-06-30"),
        result("SRIOV104", "vfs-persistent", Status.SKIP, Severity.WARNING, HOST,
               "not in this snapshot: needs /etc (udev rules, NetworkManager, modprobe.d)"),
        result("SRIOV202", "vf-duplicate-mac", Status.PASS, Severity.ERROR, HOST, "no MAC is used twice"),
        result("SRIOV302", "guest-legacy-assignment", Status.PASS, Severity.ERROR, guest,
               "the guest uses vfio"),
        result("SRIOV304", "guest-vf-exists", Status.PASS, Severity.ERROR, guest, "0000:01:10.4 is a VF"),
    ]


def make_report(facts: HostFacts, results: List[Result], **kwargs: Any) -> Report:
    results = sorted(results, key=lambda r: r.sort_key)
    return Report(facts=facts, results=tuple(results), profile=kwargs.pop("profile", "default"),
                  tool_version="0.1.0", **kwargs)


def failing_report() -> Report:
    return make_report(failing_facts(), failing_results(), waiver_notes=(
        WaiverNote("SRIOV202", "0000:09:00.0", "old NIC", "matched nothing: no such subject"),))


def passing_report() -> Report:
    facts = HostFacts(source=SourceInfo(kind="root", location="/srv/roots/web02"), hostname="web02",
                      kernel=KernelInfo(release="6.1.0-18-amd64"), pci=(), guests=())
    results = [
        result("SRIOV001", "iommu-enabled", Status.PASS, Severity.ERROR, HOST, "IOMMU groups present"),
        result("SRIOV101", "sriov-capability", Status.SKIP, Severity.ERROR, HOST,
               "not applicable: no SR-IOV NIC on this host"),
    ]
    return make_report(facts, results)


def unreadable_report() -> Report:
    facts = HostFacts(source=SourceInfo(kind="unreadable", location="/srv/captures/broken.tar.gz"))
    return Report(facts=facts, results=(), tool_version="0.1.0",
                  source_error="/srv/captures/broken.tar.gz: not a gzip archive")


def hostile_report(marker: Path) -> Report:
    """Names that are HTML, shell, Markdown and terminal escapes at once; ``marker`` must never appear."""
    evil = (f"{XSS}$(touch {marker})`touch {marker}`'\"\\; touch {marker}\n"
            f"SRIOVCHECK_STEP_1\n# ```` | ** [x](http://evil.invalid) @admin #1 $x$ \x1b[31m\x00\u202e\n"
            + "\n".join(f"SRIOVCHECK_STEP_{n}" for n in range(1, 15)))
    # Lines equal to the fix script's here-document delimiters must not end them early.
    delimiters = "\n".join(f"SRIOVCHECK_STEP_{n}" for n in range(1, 15))
    iface = f"eth0$(touch {marker})`touch {marker}`'\n{XSS}\n{delimiters}\n; touch {marker}"
    guest_name = f"{XSS}' \"$(touch {marker})\nSRIOVCHECK_STEP_2"
    facts = failing_facts(hostname=XSS, pf_iface=iface, guest_name=guest_name)
    facts = HostFacts(**{**facts.__dict__, "problems": (CollectionProblem(evil, evil, evil),)})
    results = failing_results(pf_iface=iface, guest_name=guest_name)
    results.append(result("SRIOV205", "hostile", Status.FAIL, Severity.ERROR, Subject("interface", evil, evil), evil,
                          evidence=((evil, evil),), fix="fix {{ v }}\n{{ v }}", script="ip link set {{ v }} up",
                          context={"v": evil}))
    results.append(result("SRIOV206", "hostile-waived", Status.WAIVED, Severity.WARNING, Subject("vf", evil), evil,
                          waiver=evil))
    return make_report(facts, results, waiver_notes=(WaiverNote("SRIOV999", evil, evil, evil),))


def loose_interfaces_report() -> Report:
    """The failing host plus two interfaces with VF tables the PCI list does not explain: one whose PCI
    address no source told, one naming an address that is not in the PCI device list."""
    report = failing_report()
    loose = (
        NetInterface(name="ens9f0", driver="ice", mac="b4:96:91:00:00:01",
                     vfs=(VfEntry(0, mac="00:00:00:00:00:00", vlan=0, spoofchk=True, trust=False, link_state="auto"),
                          VfEntry(1, mac="02:11:22:33:44:55", vlan=42, spoofchk=False, trust=True,
                                  link_state="enable"))),
        NetInterface(name="ens10f0", address="0000:af:00.0", vfs=(VfEntry(0, mac="02:aa:bb:cc:dd:ee"),)),
        NetInterface(name="ens11f0", vfs=()),  # a known empty table: nothing to show
    )
    zero = Result(rule="SRIOV201", name="vf-zero-mac", title="t", status=Status.FAIL, severity=Severity.ERROR,
                  subject=Subject("vf", "ens9f0/vf0", "ens9f0 vf 0"), message="ens9f0 vf 0 has MAC 00:00:00:00:00:00")
    facts = replace(report.facts, interfaces=(report.facts.interfaces or ()) + loose)
    return replace(report, facts=facts, results=report.results + (zero,))


def large_host_report(where: Path) -> Report:
    """benchmarks/synth.py's LARGE host (16 PFs x 256 VFs, 512 guests) as a sos 4.x report in ``where``,
    checked with the default profile: the layout `benchmarks/run.py --only large-sos,html` uses."""
    from benchsynth import load_synth

    from sriovcheck.fleet import check_one
    from sriovcheck.plugins import load_plugins
    from sriovcheck.ruleset import load_profiles, load_rules, select_rules
    from sriovcheck.runconfig import RunConfig

    synth = load_synth()
    sosreport = synth.write_sosreport(replace(synth.LARGE, model="e810"), where)
    registry = load_plugins(entry_points=False)
    rules = select_rules(load_rules(registry), registry, load_profiles(registry)["default"], [])
    return check_one(str(sosreport), RunConfig.of(registry, rules))
