"""Held-out sosreports: hosts assembled from public material that no other test uses (tests/corpus/heldout).

Each builder writes a sos 4.5 report (the layout of sosbuild.sos4) from the files named in its docstring and
says what a support engineer would conclude from that material: the healthy parts that must not fail and the
problems that must be found.  Where sos stores a file the corpus has no sample of (``proc/cmdline`` built from
the GRUB line the host's owner showed, the uname of another host of the same kind), the docstring says so.
"""
from __future__ import annotations

from sosbuild import SosTree, corpus, new_manifest

HELDOUT = "heldout/"

#: The OpenStack compute node of rarebreed/smog docs/pci.rst (RHEL 7.1, Kilo, 2015).
RHOS_PF = "0000:06:00.0"
RHOS_VF = "0000:07:10.7"
RHOS_GUEST = "instance-00000001"
#: The HiSilicon hns3 PF and the X722 PF of Danny5487401's SR-IOV notes.
HNS3_PF = "0000:7d:00.0"


#: The plugins a plain ``sos report`` runs on a RHEL 7 libvirt host that matter here (no ``-o``).
FULL_RUN = ("kernel", "pci", "networking", "virsh", "libvirt", "host", "udev", "systemd", "networkmanager",
            "system", "services", "boot", "processor")


def _base(name: str, hostname: str, uname: str, plugins: tuple, full: bool = False) -> SosTree:
    cmdline = "report --batch" if full else "report --batch -o " + ",".join(plugins)
    tree = SosTree(name, manifest=new_manifest("4.5.6", plugins, cmdline))
    tree.add("version.txt", "sos report: 4.5.6\n")
    tree.add("sos_logs/sos.log", "2026-11-02 09:30:00,000 INFO: [sos.report:setup] executing 'sos report'\n")
    tree.command("kernel", "uname -a", "uname_-a", uname, root_link="uname")
    tree.command("host", "hostname", "hostname", hostname + "\n", root_link="hostname")
    tree.add("etc/hostname", hostname + "\n")
    return tree


def rhos_compute() -> SosTree:
    """rhos-compute-node-10: igb I350 PF with VFs, guest instance-00000001 assigned VF 07:10.7 through VFIO.

    From rarebreed/smog docs/pci.rst: the I350 ``lspci -nnvvv`` stanza of PF 06:00.0 (VF Enable+, 1 VF),
    ``virsh dumpxml`` of the running nova guest (``<hostdev managed='yes'>`` with ``<driver name='vfio'/>``,
    ``cpu mode='host-model'``), ``virsh nodedev-dumpxml pci_0000_07_10_7`` (VF of 06:00.3, vfio-pci, IOMMU
    group 40 alone, NUMA node 0), and the GRUB line with ``intel_iommu=on`` (written as ``/proc/cmdline``
    after the kernel image the RHEL 7.1 host booted).  The VFs were made by ``modprobe igb max_vfs=1`` at a
    prompt: ``/sys/module/igb/parameters/max_vfs`` reads 1 and nothing under /etc recreates them.

    Healthy: IOMMU on, SR-IOV capability and VFs on 06:00.0, the guest's VF exists, is a VF, is bound to
    vfio-pci and alone in its group, VFIO assignment, CPU model.  Problem: the VFs are not persistent
    (SRIOV104, a warning).
    """
    tree = _base("sosreport-rhos-compute-node-10-2015-06-03-smogpci", "rhos-compute-node-10",
                 "Linux rhos-compute-node-10 3.10.0-229.el7.x86_64 #1 SMP Thu Jan 29 18:37:38 EST 2015 "
                 "x86_64 x86_64 x86_64 GNU/Linux\n", FULL_RUN, full=True)
    grub = corpus(HELDOUT + "smog_pci-rst_grub_cmdline_and_modprobe_igb_max_vfs.txt").splitlines()[0]
    args = grub.split("=", 1)[1].strip('"')
    tree.add("proc/cmdline", "BOOT_IMAGE=/vmlinuz-3.10.0-229.el7.x86_64 root=/dev/mapper/rhel-root ro "
                             + args + "\n")
    vf_headers = corpus(HELDOUT + "smog_pci-rst_lspci_grep_Virtual_Function_07-10.txt").splitlines()
    tree.command("pci", "lspci -nnvv", "lspci_-nnvv",
                 corpus(HELDOUT + "smog_pci-rst_I350_lspci-nnvvv_06-00.0.txt") + "".join(
                     "\n" + line + "\n" for line in vf_headers), root_link="lspci")
    tree.add("sys/module/igb/parameters/max_vfs", "1\n")
    xml = corpus(HELDOUT + "smog_pci-rst_virsh_dumpxml_instance-00000001.xml")
    tree.add(f"run/libvirt/qemu/{RHOS_GUEST}.xml", xml)
    tree.add(f"etc/libvirt/qemu/{RHOS_GUEST}.xml", xml)
    tree.command("virsh", "virsh -r nodedev-dumpxml pci_0000_07_10_7", "virsh_-r_nodedev-dumpxml_pci_0000_07_10_7",
                 corpus(HELDOUT + "smog_pci-rst_virsh_nodedev-dumpxml_pci_0000_07_10_7.xml"))
    return tree


def hns3_kunpeng() -> SosTree:
    """An ARM (aarch64) host with a HiSilicon hns3 PF, 127 VFs enabled, and an Intel X722 PF (eth0, down).

    From Danny5487401's SR-IOV notes: ``lspci -vv`` of hns3 PF 7d:00.0 (VF Enable+, 127 of 127 VFs,
    ARIHierarchy+, ARI capability) and ``ip link show eth0`` of an X722 PF (8086:37d1, i40e) state DOWN with
    two VFs that have MACs.  The uname line is an openEuler 20.03 Kunpeng host's (another host of the kind:
    the notes show none); no kernel command line, no kernel log.

    Healthy: SR-IOV capability and 127 VFs with ARI on 7d:00.0, VF MACs set.  Must not happen: VT-d advice on
    an ARM host (IOMMU is unknown without groups or a log).  Problem: eth0 carries VFs and is down
    (SRIOV105, audit).
    """
    plugins = ("kernel", "pci", "networking", "host")
    tree = _base("sosreport-kunpeng-2025-02-17-dannysriov", "kunpeng-sriov",
                 "Linux openGauss36 4.19.90-2003.4.0.0036.oe1.aarch64 #1 SMP Mon Mar 23 19:06:43 UTC 2020 "
                 "aarch64 aarch64 aarch64 GNU/Linux\n", plugins)
    tree.command("pci", "lspci -nnvv", "lspci_-nnvv", corpus(HELDOUT + "danny5487401_sriov_hns3_lspci-vv_7d-00.0.txt"),
                 root_link="lspci")
    tree.command("networking", "ip -s -d link", "ip_-s_-d_link",
                 corpus(HELDOUT + "danny5487401_sriov_ip_link_show_eth0_X722_2vfs_down.txt"))
    return tree
