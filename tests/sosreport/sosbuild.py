"""Sosreport-shaped trees built from the real outputs in tests/corpus.

Each builder writes what a given sos release writes, at the paths that
release uses (shared/reference/sosreport.md, sections 1 and 2), and fills the
files with real command outputs from the corpus.  Corpus excerpts that came
from shell transcripts (prompt lines, ``$ ip link show ...``) are cut back
to the command's raw output first, as sos stores it.

Where the corpus has no sample of a format that sos stores (``virsh -r list
--all``, a ``ps`` line for a libvirt QEMU process), the text is written here
in that tool's exact format and the docstring of the builder says so.
"""
from __future__ import annotations

import json
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from sriovcheck.parsers._text import split_transcript
from sriovcheck.parsers.qemu_argv import parse_qemu_args_file

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT / "tests" / "corpus"

_HEX_DUMP = re.compile(r"^[0-9a-f]{2,3}: ")
_ENV_WORD = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def corpus(rel: str) -> str:
    return (CORPUS / rel).read_text(encoding="utf-8")


def lspci_stanza(rel: str, bdf: Optional[str] = None) -> str:
    """One ``lspci -vvv`` stanza of the corpus without its ``-xxxx`` hex dump (sos runs plain ``-nnvv``).

    ``bdf`` renumbers the device (two corpus stanzas are both ``01:00.0``).
    """
    lines = [line for line in corpus(rel).splitlines() if not _HEX_DUMP.match(line)]
    while lines and not lines[-1].strip():
        lines.pop()
    if bdf is not None:
        lines[0] = bdf + lines[0][lines[0].index(" "):]
    return "\n".join(lines) + "\n"


def transcript_outputs(rel: str) -> List[Tuple[Optional[str], str]]:
    """(command typed, its raw output) for each command of a corpus transcript."""
    return [(block.command, block.text) for block in split_transcript(corpus(rel)) if block.text.strip()]


def transcript_output(rel: str) -> str:
    """All outputs of a transcript, concatenated (what one command file holds), blank-only lines dropped."""
    text = "".join(out for _, out in transcript_outputs(rel))
    return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"


def ps_line(pid: int, argv: List[str]) -> str:
    """A ``ps auxwww`` row for ``argv`` (procps column layout; ps prints argv joined by spaces)."""
    return (f"qemu     {pid:>7}  2.1  1.6 2390428 540200 ?      Sl   09:12   3:04 "
            + " ".join(argv) + "\n")


@dataclass
class SosTree:
    """Files and links of a sosreport root, written with :meth:`write`."""

    name: str
    files: Dict[str, str] = field(default_factory=dict)
    links: Dict[str, str] = field(default_factory=dict)
    manifest: Optional[dict] = None

    def add(self, rel: str, text: str) -> None:
        self.files[rel] = text

    def link(self, rel: str, target: str) -> None:
        self.links[rel] = target

    def command(self, plugin: str, exec_line: str, filename: str, text: Optional[str], return_code: int = 0,
                root_link: Optional[str] = None) -> None:
        """A command a plugin ran: its file (None: sos kept no output) and, for 4.x, its manifest entry."""
        rel = f"sos_commands/{plugin}/{filename}"
        if text is not None:
            self.add(rel, text)
        if root_link:
            self.link(root_link, rel)
        if self.manifest is not None:
            plugins = self.manifest["components"]["report"]["plugins"]
            plugins.setdefault(plugin, {"commands": [], "files": []})["commands"].append({
                "command": exec_line.split()[0], "parameters": exec_line.split()[1:], "exec": exec_line,
                "filepath": rel if text is not None else None, "truncated": False, "return_code": return_code,
                "priority": 10, "tags": [exec_line.split()[0]]})

    def write(self, parent: Path) -> Path:
        top = parent / self.name
        top.mkdir(parents=True)
        for rel, text in sorted(self.files.items()):
            path = top / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for rel, target in sorted(self.links.items()):
            path = top / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, path)
        if self.manifest is not None:
            (top / "sos_reports").mkdir(exist_ok=True)
            (top / "sos_reports" / "manifest.json").write_text(json.dumps(self.manifest, indent=4), encoding="utf-8")
        return top


def tar_xz(top: Path, dest: Optional[Path] = None) -> Path:
    """Pack a sosreport folder the way sos does: one top folder, ``.tar.xz``."""
    dest = dest or top.parent / f"{top.name}.tar.xz"
    with tarfile.open(dest, "w:xz") as archive:
        archive.add(top, arcname=top.name)
    return dest


#: The plugins the sos4 fixture's run selected with -o.
SOS4_PLUGINS = ("kernel", "pci", "networking", "process", "host", "date", "virsh", "boot", "libvirt")


def new_manifest(version: str, plugins_ran: Tuple[str, ...] = (), cmdline: str = "report --batch") -> dict:
    # start_time/end_time: local time, as sos's datetime.now() writes them (sos/component.py).
    return {"version": version, "cmdline": cmdline, "start_time": "2026-11-02 09:30:00.000000",
            "end_time": "2026-11-02 09:31:12.412093", "run_time": "0:01:12.412093",
            "components": {"report": {"enabled_plugins": [], "disabled_plugins": [],
                                      "plugins": {p: {"commands": [], "files": []} for p in plugins_ran}}}}


#: The two PFs of the fixture host: the pciutils 82576 dump (1 VF enabled) and the linuxhw X520 stanza
#: renumbered to 03:00.0 (both corpus stanzas are 01:00.0).
PF_82576 = "0000:01:00.0"
PF_X520 = "0000:03:00.0"
GUEST_XML = "libvirt/hostdev-vfio.xml"
GUEST_NAME = "QEMUGuest2"
QEMU_ARGS = "qemu-args/hostdev-vfio.x86_64-latest.args"
QEMU_PID = 4242


def fixture_lspci() -> str:
    return (lspci_stanza("more/lspci-vvvxxxx-intel-82576-sriov-pciutils.txt") + "\n"
            + lspci_stanza("lspci/linuxhw_Z690D4U-2L2T-G5_82599ES-X520-2_01-00.0_stanza.txt", "03:00.0"))


def fixture_ip_link() -> str:
    """``ip -s link`` of the insights-core fixture plus the two I350 PFs of developer-onizuka (raw output).

    The insights-core constant carries a hard line wrap (``n`` / ``umrxqueues``) made when it was pasted
    into the test file; ``ip`` prints that line whole, so it is joined back.
    """
    insights = corpus("more/ip-s-link-with-vf-lines-insights.txt").replace(" n\numrxqueues", " numrxqueues")
    return insights + transcript_output(
        "iplink/sriov_Intel-I350_ip_link_show_enp6s0f0_f1_vfs.txt")


def fixture_modinfo() -> str:
    return corpus("more/modinfo-igb-max_vfs.txt") + corpus("more/modinfo-ixgbe-max_vfs.txt")


def fixture_ps() -> str:
    """The insights-core ``ps aux`` sample plus a row for the libvirt test domain's QEMU command line.

    ps prints argv joined by spaces, so libvirt's JSON ``-device`` values appear without their quotes.
    """
    argv = list(parse_qemu_args_file(corpus(QEMU_ARGS)))
    while argv and _ENV_WORD.match(argv[0]):  # the environment libvirt sets is not part of argv
        argv.pop(0)
    return corpus("more/ps-aux-with-qemu-kvm.txt") + ps_line(QEMU_PID, argv)


def virsh_list(names: List[str]) -> str:
    """``virsh -r list --all`` in virsh's table format (libvirt >= 7)."""
    rows = "".join(f" {i + 1:<4} {name:<12} running\n" for i, name in enumerate(names))
    return " Id   Name         State\n-----------------------------\n" + rows + "\n"


def ethtool_outputs() -> List[Tuple[str, str]]:
    """(interface, ``ethtool -i`` output) from the sriov-cni transcript."""
    out = []
    for command, text in transcript_outputs("ethtool/github_sriov-cni_issue125_i40e_PF_and_iavf_VF.txt"):
        if command and command.startswith("ethtool -i "):
            out.append((command.split()[-1], text))
    return out


def sos4(version: str = "4.5.6", name: str = "sosreport-fixturehost-2026-11-02-abcdefg") -> SosTree:
    """A sos 4.5+ report: manifest.json, new file names, /run/libvirt, virsh nodedev files, root symlinks."""
    tree = SosTree(name, manifest=new_manifest(version, cmdline="report --batch -o " + ",".join(SOS4_PLUGINS)))
    tree.add("version.txt", f"sos report: {version}\n")
    tree.add("sos_logs/sos.log", "2026-11-02 09:30:00,000 INFO: [sos.report:setup] executing 'sos report'\n")
    uname = corpus("more/uname-a-rhel.txt").splitlines()[0] + "\n"
    tree.command("kernel", "uname -a", "uname_-a", uname, root_link="uname")
    tree.command("kernel", "lsmod", "lsmod", transcript_output("misc/cmd_handbook_lsmod_igb_igbvf.txt"),
                 root_link="lsmod")
    tree.command("kernel", "modinfo igb ixgbe", "modinfo_ALL_MODULES", fixture_modinfo())
    tree.command("kernel", "dmesg", "dmesg", corpus("more/dmesg-with-DMAR-line.txt"))
    tree.command("pci", "lspci -nnvv", "lspci_-nnvv", fixture_lspci(), root_link="lspci")
    tree.command("pci", "lspci -tv", "lspci_-tv", "-[0000:00]-+-00.0  Intel Corporation Device 0c00\n")
    tree.command("networking", "ip -s -d link", "ip_-s_-d_link", fixture_ip_link())
    for iface, text in ethtool_outputs():
        tree.command("networking", f"ethtool -i {iface}", f"ethtool_-i_{iface}", text)
    tree.command("networking", "ethtool -i enp6s0f1", "ethtool_-i_enp6s0f1",
                 "Cannot get driver information: No such device\n", return_code=71)
    tree.command("process", "ps auxwwwm", "ps_auxwwwm", fixture_ps(), root_link="ps")
    tree.command("host", "hostname", "hostname", "fixturehost\n", root_link="hostname")
    tree.command("date", "date --utc", "date_--utc", "Mon Nov  2 09:30:00 UTC 2026\n")  # GNU date's C-locale format
    tree.command("virsh", "virsh -r list --all", "virsh_-r_list_--all", virsh_list([GUEST_NAME]))
    tree.command("virsh", f"virsh -r dumpxml {GUEST_NAME}", f"virsh_-r_dumpxml_{GUEST_NAME}", corpus(GUEST_XML))
    nodedev = [out for cmd, out in transcript_outputs("more/virsh-nodedev-dumpxml-vf-82576-real.txt")
               if cmd and "nodedev-dumpxml" in cmd][0]
    tree.command("virsh", "virsh -r nodedev-dumpxml pci_0000_82_10_1", "virsh_-r_nodedev-dumpxml_pci_0000_82_10_1",
                 nodedev)
    tree.command("boot", "ls -alZR /sys/firmware/", "ls_-alZR_.sys.firmware", corpus("more/ls-alZR-sys-firmware.txt"))
    tree.add("proc/cmdline", "BOOT_IMAGE=/vmlinuz-3.10.0-327.el7.x86_64 root=/dev/mapper/rhel-root ro "
                             "intel_iommu=on iommu=pt\n")
    tree.add("etc/hostname", "fixturehost\n")
    tree.add("etc/modprobe.d/igb.conf", "options igb max_vfs=7\n")
    tree.add("sys/module/igb/parameters/max_vfs", "7\n")
    tree.add("etc/libvirt/qemu/" + GUEST_NAME + ".xml", corpus(GUEST_XML))
    tree.add("run/libvirt/qemu/guest-interface.xml", corpus("more/libvirt-domain-interface-hostdev.xml"))
    # sos copies crumbs of /sys/class/net (flags, statistics): not a sysfs the collector may trust.
    tree.add("sys/devices/pci0000:00/0000:00:03.0/net/enp6s0f0/flags", "0x1003\n")
    tree.link("sys/class/net/enp6s0f0", "../../devices/pci0000:00/0000:00:03.0/net/enp6s0f0")
    tree.add("sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n")
    return tree


def sos3(name: str = "sosreport-oldhost.12345-20160302091500") -> SosTree:
    """A sos 3.4 report: no manifest, version.txt with the plugin list, ``ip -s link``, ``general``
    hostname, the mangled many-module ``modinfo`` file name of sos <= 3.6, ``ps auxwww``."""
    tree = SosTree(name)
    tree.add("version.txt", "sosreport: 3.4\nkernel: unversioned\npci: unversioned\nnetworking: unversioned\n"
                            "general: unversioned\nprocess: unversioned\nlibvirt: unversioned\n")
    tree.add("sos_logs/sos.log", "2016-03-02 09:15:00,000 INFO: sosreport 3.4 starting\n")
    tree.add("sos_commands/kernel/uname_-a", corpus("more/uname-a-rhel.txt").splitlines()[0] + "\n")
    tree.link("uname", "sos_commands/kernel/uname_-a")
    tree.add("sos_commands/kernel/lsmod", transcript_output("misc/cmd_handbook_lsmod_igb_igbvf.txt"))
    tree.add("sos_commands/kernel/modinfo_igb_ixgbe", fixture_modinfo())
    tree.add("sos_commands/pci/lspci_-nnvv", fixture_lspci())
    tree.add("sos_commands/pci/lspci", "01:00.0 Ethernet controller: Intel Corporation Device 10c9 (rev 01)\n")
    tree.link("lspci", "sos_commands/pci/lspci")
    tree.add("sos_commands/networking/ip_-s_link", fixture_ip_link())
    tree.add("sos_commands/general/hostname", "oldhost\n")
    tree.add("sos_commands/process/ps_auxwww", fixture_ps())
    tree.link("ps", "sos_commands/process/ps_auxwww")
    tree.add("proc/cmdline", "BOOT_IMAGE=/vmlinuz-3.10.0-327.el7.x86_64 root=/dev/mapper/rhel-root ro\n")
    tree.add("etc/libvirt/qemu/" + GUEST_NAME + ".xml", corpus(GUEST_XML))
    return tree
