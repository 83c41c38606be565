"""Every real sample in tests/corpus (the repository's copy of the shared corpus) goes through the parser for its format.

Each corpus file has an entry in ``PLAN`` saying how it is fed:

* ``raw``: the file as is;
* ``clean``: after ``strip_transcript_noise`` (prompts, markdown quotes/bold);
* ``blocks``: cut at shell prompts with ``split_transcript`` and only the
  output of the matching commands is fed;
* ``custom``: a small documented extraction (e.g. the heredoc of a
  transcript, or an XML fragment wrapped into a domain).

An entry either expects success, or expects ``ParseError`` and says why the
text is genuinely not the format (a fragment, an elided listing, ...).
``test_plan_covers_every_corpus_file`` fails when a new corpus file has no
entry, and ``test_every_parser_on_every_file`` feeds every file to every
parser to check that nothing but ``ParseError`` ever escapes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import pytest

from sriovcheck.errors import ParseError
from sriovcheck.parsers import (
    cmdline,
    cpuinfo,
    dmesg,
    ethtool,
    iplink,
    kernel_events,
    libvirt_domain,
    libvirt_network,
    lsmod,
    lspci,
    modinfo,
    modprobe,
    nodedev,
    pci_config,
    persistence,
    proc_bus_pci,
    qemu_argv,
    sysfs_values,
    syslog,
    uname,
)
from sriovcheck.parsers._text import drop_leading_prose, split_transcript, strip_transcript_noise

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT / "tests" / "corpus"
if not CORPUS.is_dir():
    raise RuntimeError(f"CORPUS MISSING: {CORPUS} does not exist: the repository carries it (tests/corpus)")


def read(rel: str) -> str:
    return (CORPUS / rel).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- feeding plan

Feeder = Callable[[str], List[Any]]


@dataclass(frozen=True)
class Plan:
    feed: Optional[Feeder]            # None: no parser for this format (see `why`)
    error: bool = False               # True: ParseError is the correct outcome
    why: str = ""


def raw(fn: Callable[[str], Any]) -> Feeder:
    return lambda text: [fn(text)]


def clean(fn: Callable[[str], Any], prose_lines: int = 0) -> Feeder:
    return lambda text: [fn(strip_transcript_noise(drop_leading_prose(text, prose_lines)))]


def blocks(fn: Callable[[str], Any], command: str) -> Feeder:
    """Feed the output of every command matching the regex ``command``."""
    rx = re.compile(command)

    def run(text: str) -> List[Any]:
        out = []
        for b in split_transcript(text):
            cmd = re.sub(r"^sudo\s+", "", b.command or "")
            if b.command is not None and rx.match(cmd):
                out.append(fn(b.text))
        assert out, f"no block for command {command!r}"
        return out
    return run


def qemu_args(text: str) -> List[Any]:
    return [qemu_argv.parse_qemu_argv(qemu_argv.parse_qemu_args_file(text))]


def netbsd_commands(text: str) -> List[Any]:
    """The page quotes hand-run QEMU commands as ``command: /usr/bin/qemu-system-x86_64 ...``."""
    lines = [ln[len("command: "):] for ln in text.splitlines() if ln.startswith("command: ")]
    assert lines
    return [qemu_argv.parse_qemu_argv(tuple(ln.split())) for ln in lines]


def each_line(fn: Callable[[str], Any]) -> Feeder:
    return lambda text: [fn(ln) for ln in text.splitlines() if ln.strip()]


def repair_insights_wrap(text: str) -> str:
    """The insights-core fixture has a hard wrap inside 'numrxqueues' (present in the source)."""
    assert "numtxqueues 112 n\numrxqueues" in text
    return text.replace("numtxqueues 112 n\numrxqueues", "numtxqueues 112 numrxqueues")


def wrap_devices(fragment: str) -> str:
    return f"<domain type='kvm'><name>fragment</name><devices>{fragment}</devices></domain>"


def xcat_hostdev(text: str) -> List[Any]:
    """The poster elided the rest of the XML with dots; take the complete <hostdev> element."""
    frag = text[text.index("<hostdev"):text.index("</hostdev>") + len("</hostdev>")]
    return [libvirt_domain.parse_domain_xml(wrap_devices(frag))]


def terraform_interface(text: str) -> List[Any]:
    """virsh domiflist table followed by an <interface> fragment: wrap the fragment."""
    frag = text[text.index("<interface"):text.index("</interface>") + len("</interface>")]
    return [libvirt_domain.parse_domain_xml(wrap_devices(frag))]


def grub_and_modprobe(text: str) -> List[Any]:
    """GRUB_CMDLINE_LINUX_DEFAULT's value is a kernel command line; the heredoc is igb.conf."""
    m = re.search(r'^GRUB_CMDLINE_LINUX_DEFAULT="([^"]*)"$', text, re.M)
    assert m
    heredoc = text.split("<<EOF", 1)[1].split("\n", 1)[1].split("\nEOF", 1)[0]
    return [cmdline.parse_cmdline(m.group(1)), modprobe.parse_modprobe_conf(heredoc)]


def trex_two_outputs(text: str) -> List[Any]:
    """'1) **HOST:**' and '**VM:**' are the poster's headings above two ethtool -i outputs."""
    host, vm = text.split("**VM:**")
    return [ethtool.parse_ethtool_i(drop_leading_prose(host, 1)), ethtool.parse_ethtool_i(vm)]


def cpuinfo_flags_lines(text: str) -> List[Any]:
    """'grep vmx /proc/cpuinfo' printed only the flags lines (the prompt before it carries an exit code)."""
    lines = [ln for ln in text.splitlines() if ln.startswith("flags")]
    assert lines
    return [cpuinfo.parse_cpuinfo("\n".join(lines) + "\n")]


NUMVFS = r"cat /sys/bus/pci/devices/.*sriov_numvfs"
LSPCI = r"lspci\b"
IPLINK = r"ip (-\S+ )*(l|link)( show.*)?$"

PLAN = {
    # lspci/
    "lspci/cmd_handbook_lspci-nn_I350_82576_VFs.txt": Plan(blocks(lspci.parse_lspci, LSPCI)),
    "lspci/cmd_handbook_lspci-vvv_grep_initial_vf.txt": Plan(
        blocks(lspci.parse_lspci, LSPCI), error=True,
        why="'lspci -vvv | grep' kept only SR-IOV sub-lines: no device line to attach them to"),
    "lspci/dpdk_playground_ConnectX-4Lx_lspci-vvs_08-00.0.txt": Plan(blocks(lspci.parse_lspci, LSPCI)),
    "lspci/dpdk_playground_E810-XXV_lspci-vv_01-00.0.txt": Plan(blocks(lspci.parse_lspci, LSPCI)),
    "lspci/dpdk_playground_X550-T2_lspci-vv_05-00.0.txt": Plan(blocks(lspci.parse_lspci, LSPCI)),
    "lspci/github_TobleMiner_HPE-FlexibleLOM_issue4_BCM57810_530FLR_fragmentA.txt": Plan(
        raw(lspci.parse_lspci), error=True, why="fragment starts mid-stanza, no device line"),
    "lspci/github_TobleMiner_HPE-FlexibleLOM_issue4_BCM57810_530FLR_fragmentB.txt": Plan(
        raw(lspci.parse_lspci), error=True, why="fragment starts mid-stanza, no device line"),
    "lspci/github_sriov-network-operator_issue672_XXV710_lspci-vmmnnk.txt": Plan(
        blocks(lspci.parse_lspci, LSPCI)),
    "lspci/linuxhw_B650D4U-2L2T-BCM_BCM57416_09-00.0_stanza_noSRIOV.txt": Plan(raw(lspci.parse_lspci)),
    "lspci/linuxhw_H8DG6_82576_02-00.x_stanzas_nonroot_access_denied.txt": Plan(raw(lspci.parse_lspci)),
    "lspci/linuxhw_X570D4U-2L2T_X550_24-00.1_stanza_newfmt.txt": Plan(raw(lspci.parse_lspci)),
    "lspci/linuxhw_Z690D4U-2L2T-G5_82599ES-X520-2_01-00.0_stanza.txt": Plan(raw(lspci.parse_lspci)),
    # iplink/
    "iplink/dpdk_playground_X550_ip_l_noVFs.txt": Plan(blocks(iplink.parse_ip_link, IPLINK)),
    "iplink/github_canonical_lxd_issue14879_vf_linkether_vlan.txt": Plan(
        raw(iplink.parse_ip_link), error=True,
        why="excerpt starts at 'vf 1': VF lines without their interface line"),
    "iplink/github_danm-cni_danm_issue246_mlx5_vf_lines.txt": Plan(clean(iplink.parse_ip_link, 1)),
    "iplink/github_kata-containers_agent_pr414_vf0_mac_zero.txt": Plan(clean(iplink.parse_ip_link, 1)),
    "iplink/github_sriov-network-device-plugin_issue189_ip_link_show_vf_lines.txt": Plan(
        blocks(iplink.parse_ip_link, IPLINK)),
    "iplink/insights-core_test_ip_IP_S_LINK_ALL_4.txt": Plan(
        raw(iplink.parse_ip_link), error=True,
        why="hard line wrap 'n\\numrxqueues' in the insights fixture (see test_insights_*)"),
    "iplink/sriov_Intel-I350_ip_link_show_enp6s0f0_f1_vfs.txt": Plan(blocks(iplink.parse_ip_link, IPLINK)),
    # ethtool/
    "ethtool/github_RHsyseng_openshift-checks_issue22_i40e_XXV710.txt": Plan(
        lambda t: [ethtool.parse_ethtool_i(drop_leading_prose(t, 1))]),  # first line: command, no prompt
    "ethtool/github_isc-projects_ethq_issue27_ice_PF_and_iavf_VF.txt": Plan(
        blocks(ethtool.parse_ethtool_i, r"ethtool -i ")),
    "ethtool/github_sriov-cni_issue125_i40e_PF_and_iavf_VF.txt": Plan(
        blocks(ethtool.parse_ethtool_i, r"ethtool -i ")),
    "ethtool/github_trex-core_issue148_i40e_host_i40evf_vm.txt": Plan(trex_two_outputs),
    # modinfo/
    "modinfo/github_intel_ethernet-linux-iavf_issue7_modinfo_iavf_ubuntu2204.txt": Plan(
        blocks(modinfo.parse_modinfo, r"modinfo ")),
    "modinfo/insights-core_test_modinfo_MODINFO_BNX2X.txt": Plan(raw(modinfo.parse_modinfo)),
    "modinfo/insights-core_test_modinfo_MODINFO_I40E.txt": Plan(raw(modinfo.parse_modinfo)),
    "modinfo/insights-core_test_modinfo_MODINFO_IGB.txt": Plan(raw(modinfo.parse_modinfo)),
    "modinfo/insights-core_test_modinfo_MODINFO_IXGBE.txt": Plan(raw(modinfo.parse_modinfo)),
    # dmesg/ (any text is a log; the prompt lines are just unmatched lines)
    **{f"dmesg/{name}": Plan(raw(dmesg.parse_dmesg_iommu)) for name in (
        "github_canonical_lxd_issue5041_ixgbevf_PF_still_in_reset.txt",
        "github_intel_ethernet-linux-ice_issue31_iavf_reset_PF_errors.txt",
        "github_k8snetworkplumbingwg_bond-cni_issue5_ixgbe_VF_override_admin_MAC.txt",
        "github_k8snetworkplumbingwg_bond-cni_issue5_ixgbe_VF_reset_setting_MAC.txt",
        "github_ntop_PF_RING_issue277_i40e_PF_VFs64_features.txt",
        "github_ntop_PF_RING_issue780_i40e_journalctl_VFs32.txt",
        "github_nvandamme_systemd-networkd-i40e_issue1_i40e_VF_not_trusted.txt",
        "github_pocopico_rp-ext_issue25_igbvf_I350_VF_guest.txt",
        "github_platform9_express_issue206_kvm_disabled_by_bios_kvm-ok.txt",
        "github_proxmox_note_vfio_no_interrupt_remapping_support.txt",
    )},
    # iommu/ (issue 12 section 2: IOMMU group viability)
    "iommu/github_64kramsystem_vga-passthrough_issue15_group1_not_viable.txt": Plan(
        None, why="an 'IOMMU group N' listing script's output (lspci -nn lines per group): no parser for this format"),
    "iommu/github_usnistgov_ndn-dpdk_issue63_X710_vfio_group_not_viable.txt": Plan(
        None, why="DPDK JSON log lines and dpdk-devbind.py status: no parser for these formats"),
    "iommu/github_VoltCyclone_PCILeechFWGenerator_issue77_group15_bridge_and_endpoint.txt": Plan(
        None, why="ls -la of /sys/kernel/iommu_groups/15/devices: no parser for this format"),
    # dmesg/ added for the kernel-log events (their values: tests/parsers/test_parse_kernel_events.py)
    **{f"dmesg/{name}": Plan(lambda t: [dmesg.parse_dmesg_iommu(t), kernel_events.parse_kernel_events(t)])
       for name in (
        "github_strongtz_i915-sriov-dkms_issue246_not_enough_MMIO_ENOMEM.txt",
        "github_strongtz_i915-sriov-dkms_issue96_unknown_parameter_max_vfs.txt",
        "github_strongtz_i915-sriov-dkms_issue96_title_no_sriov_configure.txt",
        "github_Xilinx_dma_ip_drivers_issue115_DMAR_RMRR_IRQ_remapping_x2apic.txt",
        "github_larixer_hid-asus-dkms_issue33_DMAR-IR_xapic_mode.txt",
        "github_opencomputeproject_OpenNetworkLinux_issue739_ixgbe_renamed_from_eth.txt",
        "github_systemd_issue14879_journal_igb_renamed_from_eth.txt",
        "code_index_hp_i5-4460_dmesg_vmx_outside_TXT_disabled_by_BIOS.txt",
        "code_index_forum_ryzen5600x_dmesg_kvm_amd_SVM_disabled_by_BIOS.txt",
        "code_index_wireless_info_ath9k_invalid_for_parameter_nohwcrypt.txt",
    )},
    # dmesg/ syslog files (their values: tests/sosreport/test_sos_syslog.py)
    **{f"dmesg/{name}": Plan(lambda t: [syslog.last_boot_kernel_lines(t),
                                        kernel_events.parse_kernel_events(syslog.last_boot_kernel_lines(t).text)])
       for name in (
        "github_storpool_ixgbevf-udevhelper_README_syslog_ixgbe_MMIO_ENOMEM.txt",
        "code_index_rocky9_var_log_messages_head_tail.txt",
        "code_index_lkml_xeon4310_syslog_VMX_and_SGX_disabled_by_BIOS.txt",
    )},
    # procbuspci/ (values: tests/parsers/test_parse_proc_bus_pci.py)
    "procbuspci/build-vm_virtio_proc_bus_pci_devices.txt": Plan(raw(proc_bus_pci.parse_proc_bus_pci_devices)),
    "procbuspci/build-vm_virtio_lspci-xxxx-D.txt": Plan(
        lambda t: [pci_config.parse_pci_config(data) for _, data in pci_config.parse_config_hex_dump(t)]),
    # libvirt/
    "libvirt/cmd_handbook_virsh_nodedev-dumpxml_82576_VF.txt": Plan(
        blocks(nodedev.parse_nodedev_xml, r"virsh nodedev-dumpxml ")),
    "libvirt/github_terraform-provider-libvirt_issue783_interface_hostdev_domiflist.txt": Plan(
        terraform_interface),
    "libvirt/github_xcat2_xcat-core_issue3893_hostdev_cx4_vf_snippet.txt": Plan(xcat_hostdev),
    **{f"libvirt/{name}": Plan(raw(libvirt_domain.parse_domain_xml)) for name in (
        "hostdev-pci-address.xml", "hostdev-vfio-multidomain.xml", "hostdev-vfio.xml", "hyperv.xml",
        "net-hostdev-multidomain.xml", "net-hostdev-vfio.xml", "net-hostdev.xml",
        "net-virtio-teaming-hostdev.xml", "numatune-memory.xml", "cputune.xml", "qemumemlock-pc-hostdev.xml",
        "qemumemlock-pc-hardlimit+hostdev.xml", "qemumemlock-pc-locked+hostdev.xml",
        "net-virtio-network-portgroup.xml",
    )},
    **{f"libvirt/{name}": Plan(raw(libvirt_network.parse_network_xml)) for name in (
        "networkxml2xmlin_hostdev.xml", "networkxml2xmlout_hostdev-pf.xml", "networkxml2xmlin_passthrough-pf.xml",
    )},
    "libvirt/nodedev_pci_0000_02_10_7_sriov_pf_vfs_all.xml": Plan(raw(nodedev.parse_nodedev_xml)),
    "libvirt/nodedev_pci_0000_02_10_7_sriov_zero_vfs_max_count.xml": Plan(raw(nodedev.parse_nodedev_xml)),
    # qemu-args/
    **{f"qemu-args/{name}": Plan(qemu_args) for name in (
        "hostdev-pci-address.x86_64-latest.args", "hostdev-vfio.x86_64-latest.args",
        "hyperv.x86_64-latest.args", "net-hostdev-multidomain.x86_64-latest.args",
        "net-hostdev-vfio.x86_64-latest.args", "net-hostdev.x86_64-latest.args",
    )},
    "qemu-args/netbsd_itsx_sr-iov_resources_qemu_vfio-pci_X540_VF.txt": Plan(netbsd_commands),
    # misc/
    "misc/cmd_handbook_82576_echo_sriov_numvfs_lspci.txt": Plan(blocks(lspci.parse_lspci, LSPCI)),
    "misc/cmd_handbook_lsmod_igb_igbvf.txt": Plan(blocks(lsmod.parse_lsmod, r"lsmod")),
    "misc/dpdk_playground_ConnectX-4Lx_create_VFs_lspci.txt": Plan(blocks(lspci.parse_lspci, LSPCI)),
    "misc/dpdk_playground_ConnectX-4Lx_dpdk-devbind_status_after_vfio.txt": Plan(
        None, why="dpdk-devbind.py status: no parser for this format"),
    "misc/dpdk_playground_ConnectX-4Lx_dpdk-devbind_status_before.txt": Plan(
        None, why="dpdk-devbind.py status: no parser for this format"),
    "misc/dpdk_playground_X550_VF_dpdk-devbind_igb_uio.txt": Plan(
        None, why="dpdk-devbind.py status: no parser for this format"),
    "misc/dpdk_playground_X550_create_VFs_lspci_VF_ixgbevf.txt": Plan(
        lambda t: blocks(lspci.parse_lspci, LSPCI)(t) + blocks(sysfs_values.parse_int, NUMVFS)(t)),
    "misc/github_xcp-ng_xcp_issue544_lspci_ConnectX-3_Pro_VFs.txt": Plan(raw(lspci.parse_lspci)),
    "misc/github_canonical_multipass_issue322_grep_vmx_proc_cpuinfo.txt": Plan(cpuinfo_flags_lines),
    "misc/sriovcheck_bench_vm_pvm_proc_cpuinfo_processor0.txt": Plan(raw(cpuinfo.parse_cpuinfo)),
    "misc/github_nmstate_nmstate_issue1214_VF_MTU_above_PF.txt": Plan(
        None, why="issue prose describing the failure (VF MTU above the PF's); no command output"),
    "misc/sriov-network-device-plugin_vf-setup_mlx5_ibdev2netdev_lspci_iplink.txt": Plan(
        blocks(lspci.parse_lspci, LSPCI)),
    "misc/sriov_Intel-I350_grub_cmdline_modprobe_igb_max_vfs.txt": Plan(grub_and_modprobe),
    "misc/sriov_Intel-I350_sriov_numvfs_lspci_VFs_lspci-nnk.txt": Plan(
        lambda t: blocks(sysfs_values.parse_int, NUMVFS)(t) + blocks(lspci.parse_lspci, LSPCI)(t)),
    "misc/sriov_Intel-I350_uname_os-release.txt": Plan(
        blocks(lambda s: uname.parse_kernel_release(s.strip()), r"uname -r")),
    # more/
    "more/dmesg-with-DMAR-line.txt": Plan(raw(dmesg.parse_dmesg_iommu)),
    "more/ethtool-i-virtio_net.txt": Plan(raw(ethtool.parse_ethtool_i)),
    "more/ip-s-link-with-vf-lines-insights.txt": Plan(
        raw(iplink.parse_ip_link), error=True, why="same hard line wrap as the iplink/ copy"),
    "more/libvirt-domain-hostdev-vfio.xml": Plan(raw(libvirt_domain.parse_domain_xml)),
    "more/libvirt-domain-interface-hostdev.xml": Plan(raw(libvirt_domain.parse_domain_xml)),
    "more/ls-alZR-sys-firmware.txt": Plan(None, why="ls -alZR listing: no parser for this format"),
    "more/lsmod-grep-igb-igbvf-real.txt": Plan(blocks(lsmod.parse_lsmod, r"lsmod")),
    "more/lspci-k-with-mlx5-vf-insights.txt": Plan(raw(lspci.parse_lspci)),
    "more/lspci-vvvxxxx-cavium-thunderx-sriov-128vfs-pciutils.txt": Plan(raw(lspci.parse_lspci)),
    "more/lspci-vvvxxxx-intel-82576-sriov-pciutils.txt": Plan(raw(lspci.parse_lspci)),
    "more/modinfo-igb-max_vfs.txt": Plan(raw(modinfo.parse_modinfo)),
    "persistence/github_canonical_lxd_issue8162_ifupdown_post-up_sriov_numvfs.txt": Plan(
        lambda text: persistence.from_ifupdown("auto eno1\niface eno1 inet manual\n" + text, "/etc/network/interfaces")),
    "persistence/systemd_test-network_25-sriov.link": Plan(
        lambda text: persistence.from_networkd_link(text, "/etc/systemd/network/25-sriov.link")),
    "modinfo/ubuntuforums_lost-network-interfaces_igb_out-of-tree_parm_array.txt": Plan(raw(modinfo.parse_modinfo)),
    "more/modinfo-ixgbe-max_vfs.txt": Plan(raw(modinfo.parse_modinfo)),
    "more/ps-aux-with-qemu-kvm.txt": Plan(raw(qemu_argv.parse_ps)),
    "more/qemu-cmdline-vfio-pci-json-libvirt.args": Plan(qemu_args),
    "more/uname-a-rhel.txt": Plan(each_line(uname.parse_uname_a)),
    "more/virsh-nodedev-dumpxml-pf-virt_functions-libvirt-test.xml": Plan(raw(nodedev.parse_nodedev_xml)),
    "more/virsh-nodedev-dumpxml-vf-82576-real.txt": Plan(
        blocks(nodedev.parse_nodedev_xml, r"virsh nodedev-dumpxml ")),
    "persistence/github_systemd_issue37275_i350_10-enp3s0f0.link": Plan(
        raw(lambda text: persistence.from_networkd_link(text, "10-enp3s0f0.link"))),
    "persistence/github_systemd_pr16219_daiaji_sr-iov.link": Plan(
        raw(lambda text: persistence.from_networkd_link(text, "sr-iov.link"))),
    "persistence/xtremeownage_proxmox-sriov_sriov-vfs.service": Plan(
        raw(lambda text: persistence.from_systemd_unit(text, "/etc/systemd/system/sriov-vfs.service"))),
    "libvirt/formatnode_rst_nodedev_pci_0000_02_00_0_iommu_group_12.xml": Plan(raw(nodedev.parse_nodedev_xml)),
    "libvirt/opennebula_vgpu_nodedev_pci_0000_41_00_0_iommu_group_44.xml": Plan(raw(nodedev.parse_nodedev_xml)),
    "lspci/lkml_williamson_acs_raphael_root_ports_00-01.x_edited.txt": Plan(raw(lspci.parse_lspci)),
    "lspci/ubuntuforums_asmedia1184_downstream_port_05-07.0_and_08-00.0_lspci-v.txt": Plan(raw(lspci.parse_lspci)),
    # heldout/ (judged end to end in tests/sosreport/test_sos_heldout.py)
    "heldout/smog_pci-rst_I350_lspci-nnvvv_06-00.0.txt": Plan(raw(lspci.parse_lspci)),
    "heldout/smog_pci-rst_lspci_grep_Virtual_Function_07-10.txt": Plan(raw(lspci.parse_lspci)),
    "heldout/smog_pci-rst_virsh_dumpxml_instance-00000001.xml": Plan(raw(libvirt_domain.parse_domain_xml)),
    "heldout/smog_pci-rst_virsh_nodedev-dumpxml_pci_0000_07_10_7.xml": Plan(raw(nodedev.parse_nodedev_xml)),
    "heldout/smog_pci-rst_grub_cmdline_and_modprobe_igb_max_vfs.txt": Plan(
        None, why="a GRUB variable and two commands typed at a prompt: the builder takes the GRUB line"),
    "heldout/danny5487401_sriov_hns3_lspci-vv_7d-00.0.txt": Plan(raw(lspci.parse_lspci)),
    "heldout/danny5487401_sriov_ip_link_show_eth0_X722_2vfs_down.txt": Plan(raw(iplink.parse_ip_link)),
    # sysfs/ (the ghw tree is covered value by value in test_ghw_sysfs_values)
    "sysfs/dpdk_playground_X550_PF_VF_resource_and_driver_links.txt": Plan(
        None, why="'cat resource' and 'ls -al' transcript: no parser for these formats"),
}


def _corpus_files() -> List[str]:
    out = []
    for p in sorted(CORPUS.rglob("*")):
        rel = p.relative_to(CORPUS).as_posix()
        if (p.is_file() and not rel.startswith("sysfs/ghw-") and not p.name.startswith("PROVENANCE")
                and rel != "sync.py" and "__pycache__" not in p.parts):
            out.append(rel)
    return out


def test_plan_covers_every_corpus_file() -> None:
    missing = [f for f in _corpus_files() if f not in PLAN]
    assert not missing, f"corpus files without a feeding plan: {missing}"
    stale = [f for f in PLAN if not (CORPUS / f).is_file()]
    assert not stale, f"plan entries for files that are gone: {stale}"


@pytest.mark.parametrize("rel", sorted(PLAN))
def test_corpus_file_through_its_parser(rel: str) -> None:
    plan = PLAN[rel]
    if plan.feed is None:
        pytest.skip(f"not applicable: {plan.why}")
    text = read(rel)
    if plan.error:
        with pytest.raises(ParseError):
            plan.feed(text)
    else:
        results = plan.feed(text)
        assert results and all(r is not None for r in results)


ALL_PARSERS: Tuple[Tuple[str, Callable[[str], Any]], ...] = (
    ("lspci", lspci.parse_lspci),
    ("ip_link", iplink.parse_ip_link),
    ("ip_link_json", iplink.parse_ip_link_json),
    ("ethtool", ethtool.parse_ethtool_i),
    ("uname", uname.parse_uname_a),
    ("cmdline", cmdline.parse_cmdline),
    ("cpuinfo", cpuinfo.parse_cpuinfo),
    ("modinfo", modinfo.parse_modinfo),
    ("modprobe", modprobe.parse_modprobe_conf),
    ("lsmod", lsmod.parse_lsmod),
    ("domain", libvirt_domain.parse_domain_xml),
    ("nodedev", nodedev.parse_nodedev_xml),
    ("qemu_args_file", qemu_argv.parse_qemu_args_file),
    ("qemu_argv_words", lambda t: qemu_argv.parse_qemu_argv(t.split())),
    ("ps", qemu_argv.parse_ps),
    ("dmesg", dmesg.parse_dmesg_iommu),
    ("kernel_events", kernel_events.parse_kernel_events),
    ("proc_bus_pci", proc_bus_pci.parse_proc_bus_pci_devices),
    ("config_hex_dump", pci_config.parse_config_hex_dump),
    ("sysfs_int", sysfs_values.parse_int),
    ("sysfs_bdf", sysfs_values.normalise_bdf),
)


@pytest.mark.parametrize("rel", _corpus_files() if CORPUS.is_dir() else [])
def test_every_parser_on_every_file(rel: str) -> None:
    """Whatever the format, a parser returns or raises ParseError -- nothing else."""
    text = read(rel)
    for variant in (text, strip_transcript_noise(text)):
        for _name, fn in ALL_PARSERS:
            try:
                fn(variant)
            except ParseError:
                pass


# --------------------------------------------------------------------------- values: lspci

def _one(devs: Tuple[lspci.LspciDevice, ...], address: str) -> lspci.LspciDevice:
    found = [d for d in devs if d.address == address]
    assert len(found) == 1, [d.address for d in devs]
    return found[0]


def test_x550_newfmt_stanza() -> None:
    (d,) = lspci.parse_lspci(read("lspci/linuxhw_X570D4U-2L2T_X550_24-00.1_stanza_newfmt.txt"))
    assert d.address == "0000:24:00.1"
    assert (d.class_name, d.class_code, d.vendor_id, d.device_id, d.revision) == (
        "Ethernet controller", "0200", "8086", "1563", "01")
    assert d.driver == "ixgbe" and d.modules == ("ixgbe",)
    assert d.iommu_group == 26 and d.numa_node is None
    assert d.subsystem_vendor_id == "1849"
    s = d.sriov
    assert s is not None
    assert (s.initial_vfs, s.total_vfs, s.num_vfs) == (64, 64, 0)
    assert (s.vf_offset, s.vf_stride, s.vf_device_id) == (384, 2, "1565")
    assert s.function_dependency_link == 1
    assert s.vf_enable is False and s.ari_hierarchy is False
    assert s.interrupt_message_number == 0          # new "IntMsgNum 0" form
    assert d.msix == lspci.LspciMsix(enabled=True, count=64, masked=False)
    assert d.capabilities_listed and not d.capabilities_access_denied
    assert not d.is_virtual_function


def test_82576_pciutils_dump_vfs_enabled() -> None:
    (d,) = lspci.parse_lspci(read("more/lspci-vvvxxxx-intel-82576-sriov-pciutils.txt"))
    assert d.address == "0000:01:00.0"
    assert d.vendor_name == "Intel Corporation" and d.device_id == "10c9"   # "Intel Corporation Device 10c9"
    assert d.driver == "igb"
    s = d.sriov
    assert s is not None
    assert s.num_vfs == 1 and s.vf_enable is True and s.total_vfs == 8
    assert (s.vf_offset, s.vf_stride, s.vf_device_id) == (384, 2, "10ca")
    assert d.msix == lspci.LspciMsix(enabled=True, count=10, masked=False)  # old TabSize= form
    # ARIHierarchy- here, and the 82576 then reports First VF Offset 0x180: RID 0x0180 puts VF 0
    # on the next bus (with ARI the device reports 128 and VFs sit at 01:10.x, as most hosts show)
    assert s.ari_hierarchy is False
    assert lspci.vf_addresses(d.address, s) == ("0000:02:10.0",)


def test_cavium_nonzero_domain_128_vfs() -> None:
    (d,) = lspci.parse_lspci(read("more/lspci-vvvxxxx-cavium-thunderx-sriov-128vfs-pciutils.txt"))
    assert d.address == "0002:01:00.0" and d.driver == "thunder-nic"
    s = d.sriov
    assert s is not None and s.num_vfs == 128 and s.ari_hierarchy is True and s.vf_enable is True
    vfs = lspci.vf_addresses(d.address, s)
    assert len(vfs) == 128 and vfs[0] == "0002:01:00.1" and vfs[-1] == "0002:01:10.0"


def test_h8dg6_access_denied() -> None:
    devs = lspci.parse_lspci(read("lspci/linuxhw_H8DG6_82576_02-00.x_stanzas_nonroot_access_denied.txt"))
    assert [d.address for d in devs] == ["0000:02:00.0", "0000:02:00.1"]
    for d in devs:
        assert d.capabilities_access_denied and not d.capabilities_listed
        assert d.sriov is None and d.msix is None   # unknown: not shown, not "absent"
        assert d.driver == "igb" and d.numa_node == 0 and (d.vendor_id, d.device_id) == ("8086", "10c9")


def test_bcm57416_no_sriov() -> None:
    (d,) = lspci.parse_lspci(read("lspci/linuxhw_B650D4U-2L2T-BCM_BCM57416_09-00.0_stanza_noSRIOV.txt"))
    assert d.capabilities_listed and not d.capabilities_access_denied
    assert d.sriov is None and d.ari
    assert d.driver == "bnxt_en" and (d.vendor_id, d.device_id) == ("14e4", "16d8")


def test_82599_and_spaces_indent_connectx() -> None:
    (d,) = lspci.parse_lspci(read("lspci/linuxhw_Z690D4U-2L2T-G5_82599ES-X520-2_01-00.0_stanza.txt"))
    assert d.sriov is not None and d.sriov.vf_device_id == "10ed" and d.sriov.ari_hierarchy is True
    assert d.sriov.interrupt_message_number == 0     # old "Interrupt Message Number: 000" form
    (x,) = blocks(lspci.parse_lspci, LSPCI)(read("lspci/dpdk_playground_X550-T2_lspci-vv_05-00.0.txt"))
    (x,) = x
    assert x.sriov is not None and x.sriov.total_vfs == 64 and x.iommu_group == 23   # 8-space indent
    (c,) = blocks(lspci.parse_lspci, LSPCI)(read("lspci/dpdk_playground_ConnectX-4Lx_lspci-vvs_08-00.0.txt"))
    (c,) = c
    assert c.driver == "vfio-pci" and c.modules == ("mlx5_core",)
    assert c.sriov is not None and (c.sriov.vf_offset, c.sriov.vf_stride, c.sriov.vf_device_id) == (2, 1, "1016")


def test_e810_bound_to_vfio_without_sriov_cap() -> None:
    (r,) = blocks(lspci.parse_lspci, LSPCI)(read("lspci/dpdk_playground_E810-XXV_lspci-vv_01-00.0.txt"))
    (d,) = r
    assert d.sriov is None and d.capabilities_listed and d.driver == "vfio-pci" and d.modules == ("ice",)


def test_vmm_record() -> None:
    (r,) = blocks(lspci.parse_lspci, LSPCI)(
        read("lspci/github_sriov-network-operator_issue672_XXV710_lspci-vmmnnk.txt"))
    (d,) = r
    assert d.address == "0000:3b:00.0"
    assert (d.class_name, d.class_code) == ("Ethernet controller", "0200")
    assert (d.vendor_name, d.vendor_id) == ("Intel Corporation", "8086")
    assert (d.device_name, d.device_id) == ("Ethernet Controller XXV710 for 25GbE backplane", "158a")
    assert d.driver == "i40e" and d.modules == ("i40e",) and d.numa_node == 0 and d.revision == "02"
    assert d.sriov is None and not d.capabilities_listed


def test_terse_listings_and_vf_names() -> None:
    (r,) = blocks(lspci.parse_lspci, LSPCI)(read("lspci/cmd_handbook_lspci-nn_I350_82576_VFs.txt"))
    vfs = [d.address for d in r if d.is_virtual_function]
    assert vfs == ["0000:82:10.0", "0000:82:10.2"]
    assert _one(r, "0000:82:10.0").device_id == "10ca"
    devs = lspci.parse_lspci(read("misc/github_xcp-ng_xcp_issue544_lspci_ConnectX-3_Pro_VFs.txt"))
    assert sum(d.is_virtual_function for d in devs) == 11
    k = lspci.parse_lspci(read("more/lspci-k-with-mlx5-vf-insights.txt"))
    vf = _one(k, "1a06:00:02.0")
    assert vf.is_virtual_function and vf.driver == "mlx5_core" and vf.revision == "80"
    assert _one(k, "0000:00:07.1").modules == ("ata_piix", "pata_acpi", "ata_generic")


def test_i350_lspci_nnk_vfs_without_driver() -> None:
    res = blocks(lspci.parse_lspci, LSPCI)(read("misc/sriov_Intel-I350_sriov_numvfs_lspci_VFs_lspci-nnk.txt"))
    nnk = res[-1]
    assert len(nnk) == 8
    assert all(d.driver is None and d.modules == ("igbvf",) and d.device_id == "1520" for d in nnk)
    numvfs = blocks(sysfs_values.parse_int, NUMVFS)(read("misc/sriov_Intel-I350_sriov_numvfs_lspci_VFs_lspci-nnk.txt"))
    assert numvfs == [4, 4]


def test_lspci_v_flags_line_iommu_group() -> None:
    res = blocks(lspci.parse_lspci, LSPCI)(read("misc/dpdk_playground_X550_create_VFs_lspci_VF_ixgbevf.txt"))
    verbose = res[-1]
    (d,) = verbose
    assert d.address == "0000:05:10.0" and d.iommu_group == 27 and d.driver == "ixgbevf"
    assert d.is_virtual_function and d.msix == lspci.LspciMsix(True, 3, False)


def test_fragments_and_grep_are_parse_errors_with_line() -> None:
    with pytest.raises(ParseError) as ei:
        lspci.parse_lspci(read("lspci/github_TobleMiner_HPE-FlexibleLOM_issue4_BCM57810_530FLR_fragmentB.txt"))
    assert ei.value.line == 1 and "IOVCap" in (ei.value.text or "")


def test_ghw_sysfs_values_and_vf_addresses() -> None:
    """Real sysfs files of an I350 with 4 VFs per PF; the computed VF BDFs match the virtfn links."""
    base = next((CORPUS / "sysfs").glob("ghw-*")) / "sys" / "devices" / "pci0000:00" / "0000:00:09.0"
    links = (next((CORPUS / "sysfs").glob("ghw-*")) / "LINKS.txt").read_text()
    # NB: the snapshot gives functions .0 and .1 of the same NIC NUMA nodes 0 and 1 (root port -1),
    # which real hardware cannot do: ghw's SR-IOV test data looks hand-edited.  Parsed as written.
    for pf, numa in (("0000:05:00.0", 0), ("0000:05:00.1", 1)):
        d = base / pf
        assert sysfs_values.parse_hex_id((d / "vendor").read_text()) == "8086"
        assert sysfs_values.parse_hex_id((d / "device").read_text()) == "1521"
        assert sysfs_values.parse_class((d / "class").read_text()) == "020000"
        assert sysfs_values.parse_int((d / "numa_node").read_text()) == numa
        assert sysfs_values.parse_hex_id((d / "sriov_vf_device").read_text()) == "1520"   # no 0x
        total = sysfs_values.parse_int((d / "sriov_totalvfs").read_text())
        num = sysfs_values.parse_int((d / "sriov_numvfs").read_text())
        sr = lspci.LspciSriov(total_vfs=total, num_vfs=num,
                              vf_offset=sysfs_values.parse_int((d / "sriov_offset").read_text()),
                              vf_stride=sysfs_values.parse_int((d / "sriov_stride").read_text()))
        assert (total, num) == (7, 4)
        computed = lspci.vf_addresses(pf, sr)
        linked = tuple(sysfs_values.normalise_bdf(m.group(1)) for m in re.finditer(
            rf"{re.escape(pf)}/virtfn\d+ -> \.\./(\S+)", links))
        assert computed == linked and len(computed) == 4
    # every single-value file of the snapshot goes through the matching helper
    for f in (next((CORPUS / "sysfs").glob("ghw-*")) / "sys").rglob("*"):
        if f.name in ("vendor", "device", "sriov_vf_device"):
            sysfs_values.parse_hex_id(f.read_text())
        elif f.name == "class" and (f.parent / "vendor").exists():
            sysfs_values.parse_class(f.read_text())
        elif f.name in ("numa_node", "sriov_numvfs", "sriov_totalvfs", "sriov_offset", "sriov_stride",
                        "sriov_drivers_autoprobe", "sriov_vf_total_msix", "irq"):
            sysfs_values.parse_int(f.read_text())


# --------------------------------------------------------------------------- values: ip link

def test_insights_ip_s_link_vfs() -> None:
    for rel in ("iplink/insights-core_test_ip_IP_S_LINK_ALL_4.txt", "more/ip-s-link-with-vf-lines-insights.txt"):
        with pytest.raises(ParseError) as ei:
            iplink.parse_ip_link(read(rel))
        assert ei.value.line == 16 and (ei.value.text or "").startswith("umrxqueues")
        links = iplink.parse_ip_link(repair_insights_wrap(read(rel)))
        by = {x.name: x for x in links}
        assert list(by) == ["lo", "ens1f0", "ens1f1", "ens1f1v64"]
        pf = by["ens1f1"]
        assert pf.num_vf == 4 and pf.index == 7 and pf.mac == "b4:96:91:e5:c8:a9"
        assert [v.mac for v in pf.vfs] == [
            "6e:cc:c3:fe:ad:7f", "c6:5b:b6:3c:db:f1", "f6:a4:d0:2d:a5:a1", "92:50:97:c4:9d:f0"]
        for i, v in enumerate(pf.vfs):
            assert v.index == i and v.spoofchk is True and v.trust is False and v.link_state == "auto"
            assert v.query_rss is None and v.vlan == 0 and v.link_type == "ether"
            assert v.broadcast == "ff:ff:ff:ff:ff:ff"
            assert v.stats == iplink.VfStats(14069717, 192865, 0, 192865, 192865, 0, 0, 0)
        assert pf.stats is not None and pf.stats.rx_dropped == 67
        assert by["ens1f0"].master == "bond1" and "SLAVE" in by["ens1f0"].flags
        assert by["ens1f1v64"].num_vf is None and by["ens1f1v64"].state == "DOWN"


def test_danm_old_format_vlan() -> None:
    (links,) = clean(iplink.parse_ip_link, 1)(read("iplink/github_danm-cni_danm_issue246_mlx5_vf_lines.txt"))
    (pf,) = links
    assert pf.name == "enp101s0f0" and pf.num_vf == 11
    assert pf.vfs[0].vlan == 10 and pf.vfs[0].spoofchk is False
    assert pf.vfs[9].vlan == 10 and pf.vfs[9].spoofchk is True
    assert all(v.vlan == 0 for i, v in enumerate(pf.vfs) if i not in (0, 9))
    assert all(v.mac == "00:00:00:00:00:00" and v.query_rss is False and v.trust is False
               and v.link_type is None and v.broadcast is None for v in pf.vfs)


def test_kata_vf0_zero_mac() -> None:
    (links,) = clean(iplink.parse_ip_link, 1)(read("iplink/github_kata-containers_agent_pr414_vf0_mac_zero.txt"))
    pf, vf_netdev = links
    assert pf.name == "enp137s0f0" and pf.state == "DOWN" and pf.num_vf == 1
    assert pf.vfs[0].index == 0 and sysfs_values.is_zero_mac(pf.vfs[0].mac)
    assert vf_netdev.name == "enp137s0f2" and vf_netdev.mac == "e0:d5:5e:cf:57:01"


def test_lxd_new_format_vlan_lines() -> None:
    lines = [ln for ln in read("iplink/github_canonical_lxd_issue14879_vf_linkether_vlan.txt").splitlines() if ln]
    vfs = [iplink.parse_vf_line(ln) for ln in lines]
    assert [v.index for v in vfs] == list(range(1, 12))
    assert vfs[0].vlan == 128 and vfs[0].spoofchk is False and vfs[0].mac == "02:00:01:01:28:13"
    assert vfs[2].vlan == 0 and vfs[2].spoofchk is True


def test_i350_two_pfs_and_old_centos_line() -> None:
    (first, second) = blocks(iplink.parse_ip_link, IPLINK)(
        read("iplink/sriov_Intel-I350_ip_link_show_enp6s0f0_f1_vfs.txt"))
    (f0,), (f1,) = first, second
    assert [sysfs_values.is_zero_mac(v.mac) for v in f0.vfs] == [False, False, True, True]
    assert f1.num_vf == 4 and all(sysfs_values.is_zero_mac(v.mac) for v in f1.vfs)
    (links,) = blocks(iplink.parse_ip_link, IPLINK)(
        read("iplink/github_sriov-network-device-plugin_issue189_ip_link_show_vf_lines.txt"))
    pf = links[-1]
    assert pf.vfs[0].mac == "de:02:82:b8:5e:3e" and pf.vfs[0].query_rss is None
    assert sysfs_values.is_valid_unicast_mac(pf.vfs[0].mac)


# --------------------------------------------------------------------------- values: other formats

def test_ethtool_corpus() -> None:
    host, vm = trex_two_outputs(read("ethtool/github_trex-core_issue148_i40e_host_i40evf_vm.txt"))
    assert (host.driver, host.version, host.bus_info) == ("i40e", "2.3.6", "0000:05:00.0")
    assert host.expansion_rom_version is None
    assert vm.driver == "i40evf" and vm.firmware_version == "N/A" and vm.supports["priv-flags"] is False
    pf, vf = blocks(ethtool.parse_ethtool_i, r"ethtool -i ")(
        read("ethtool/github_sriov-cni_issue125_i40e_PF_and_iavf_VF.txt"))
    assert vf.driver == "iavf" and vf.pci_address == "0000:af:0d.7" and vf.supports["statistics"] is True
    assert pf.firmware_version == "6.80 0x8000414f 1.1937.0"
    v = ethtool.parse_ethtool_i(read("more/ethtool-i-virtio_net.txt"))
    assert v.driver == "virtio_net" and v.firmware_version is None and v.expansion_rom_version is None


def test_modinfo_corpus() -> None:
    (igb,) = modinfo.parse_modinfo(read("more/modinfo-igb-max_vfs.txt"))
    assert igb.name == "igb" and igb.version == "5.2.15-k" and igb.intree is True
    p = igb.parameter("max_vfs")
    assert p == modinfo.ModParam(
        "max_vfs", "Maximum number of virtual functions to allocate per physical function", "uint")
    assert igb.depends == ("i2c-core", "ptp", "dca", "i2c-algo-bit")
    (i40e,) = modinfo.parse_modinfo(read("modinfo/insights-core_test_modinfo_MODINFO_I40E.txt"))
    assert i40e.name == "i40e"                      # from i40e.ko.xz
    assert i40e.parameter("debug").description == "Debug level (0=none,...,16=all), Debug mask (0x8XXXXXXX)"
    (bnx2x,) = modinfo.parse_modinfo(read("modinfo/insights-core_test_modinfo_MODINFO_BNX2X.txt"))
    assert bnx2x.parameter("num_queues").description.startswith("Set number of queues")
    assert len(bnx2x.firmware) == 3 and len(bnx2x.aliases) == 24
    ((iavf,),) = blocks(modinfo.parse_modinfo, r"modinfo ")(
        read("modinfo/github_intel_ethernet-linux-iavf_issue7_modinfo_iavf_ubuntu2204.txt"))
    assert iavf.name == "iavf" and iavf.version is None and "i40evf" in iavf.aliases
    assert iavf.depends == ()


def test_libvirt_hostdev_vfio() -> None:
    dom = libvirt_domain.parse_domain_xml(read("libvirt/hostdev-vfio.xml"))
    assert dom.name == "QEMUGuest2" and dom.os_arch == "x86_64" and dom.cpu_present is False
    assert [(h.address, h.driver_name, h.driver_model) for h in dom.hostdevs] == [
        ("0000:06:12.1", None, None), ("0000:06:12.2", "vfio", None),
        ("0000:06:12.3", None, "vfio-pci-igb"), ("0000:06:12.4", "vfio", "vfio-pci-igb")]
    assert all(h.via == "hostdev" and h.managed is True and h.mode == "subsystem" for h in dom.hostdevs)
    assert libvirt_domain.parse_domain_xml(read("more/libvirt-domain-hostdev-vfio.xml")) == dom


def test_libvirt_net_hostdev_interface() -> None:
    dom = libvirt_domain.parse_domain_xml(read("libvirt/net-hostdev.xml"))
    (h,) = dom.hostdevs
    assert h.via == "interface" and h.address == "0000:03:07.1" and h.mac == "00:11:22:33:44:55"
    assert h.vlan == 42 and h.managed is True and h.driver_name is None
    assert dom.os_arch == "i686" and dom.emulator == "/usr/bin/qemu-system-i386"
    (v,) = libvirt_domain.parse_domain_xml(read("libvirt/net-hostdev-vfio.xml")).hostdevs
    assert v.driver_name == "vfio" and v.address == "0000:06:12.1"
    (m,) = libvirt_domain.parse_domain_xml(read("libvirt/net-hostdev-multidomain.xml")).hostdevs
    assert m.address == "2424:21:1c.6"


def test_libvirt_decimal_addresses_and_fragments() -> None:
    (h,) = libvirt_domain.parse_domain_xml(read("libvirt/hostdev-vfio-multidomain.xml")).hostdevs
    assert h.address == "0021:de:1f.1"          # bus='222' slot='31' function='1' are decimal
    (dom,) = terraform_interface(read(
        "libvirt/github_terraform-provider-libvirt_issue783_interface_hostdev_domiflist.txt"))
    assert dom.hostdevs[0].address == "0000:21:03.1" and dom.hostdevs[0].via == "interface"
    (x,) = xcat_hostdev(read("libvirt/github_xcat2_xcat-core_issue3893_hostdev_cx4_vf_snippet.txt"))
    (hd,) = x.hostdevs
    assert (hd.address, hd.driver_name, hd.alias, hd.guest_address) == (
        "0000:01:00.1", "vfio", "hostdev0", "0000:00:05.0")
    with pytest.raises(ParseError):
        libvirt_domain.parse_domain_xml(read("libvirt/github_xcat2_xcat-core_issue3893_hostdev_cx4_vf_snippet.txt"))


def test_insights_domain_interface_hostdev() -> None:
    dom = libvirt_domain.parse_domain_xml(read("more/libvirt-domain-interface-hostdev.xml"))
    assert dom.type == "kvm" and dom.os_machine == "pc-i440fx-rhel7.0.0"
    assert dom.cpu_present is True and dom.cpu_mode is None and dom.cpu_model is None
    assert [(h.address, h.mac) for h in dom.hostdevs] == [
        ("0000:04:10.0", "aa:ss:bb:cc:dd:ee"), ("0000:04:10.1", "bb:55:77:11:00:00")]
    assert not sysfs_values.is_valid_unicast_mac(dom.hostdevs[0].mac)   # anonymised in the source


def test_nodedev_pf_vfs_all() -> None:
    n = nodedev.parse_nodedev_xml(read("libvirt/nodedev_pci_0000_02_10_7_sriov_pf_vfs_all.xml"))
    assert n.address == "0000:02:10.7" and (n.vendor_id, n.product_id) == ("8086", "10ca")
    assert n.max_vfs == 7
    assert n.vf_addresses == ("0000:02:00.2", "0000:02:00.3", "0000:02:00.4", "0000:02:00.5")
    assert n.is_vf and n.physfn_address == "0000:02:00.1"     # the schema sample is both (inconsistent)
    assert n.iommu_group == 31 and n.numa_node == 0 and n.class_code == "ffffff"
    z = nodedev.parse_nodedev_xml(read("libvirt/nodedev_pci_0000_02_10_7_sriov_zero_vfs_max_count.xml"))
    assert z.max_vfs == 3 and z.vf_addresses == () and not z.is_vf and z.has_virt_functions_cap
    ((real,),) = [blocks(nodedev.parse_nodedev_xml, r"virsh nodedev-dumpxml ")(
        read("more/virsh-nodedev-dumpxml-vf-82576-real.txt"))]
    assert real.driver == "igbvf" and real.address == "0000:82:10.1" and real.physfn_address == "0000:82:00.1"
    assert real.path == "/sys/devices/pci0000:80/0000:80:01.0/0000:82:10.1" and real.max_vfs is None


def test_qemu_args_json_vfio() -> None:
    (p,) = qemu_args(read("qemu-args/net-hostdev.x86_64-latest.args"))
    assert p.binary == "/usr/bin/qemu-system-x86_64" and p.arch == "x86_64"
    assert p.name == "QEMUGuest1" and p.machine == "pc" and p.cpu_model == "qemu64"
    (dev,) = p.assigned_devices
    assert dev.driver == "vfio-pci" and dev.host == "0000:03:07.1" and dev.props["id"] == "hostdev0"
    (same,) = qemu_args(read("more/qemu-cmdline-vfio-pci-json-libvirt.args"))
    assert same.assigned_devices == p.assigned_devices
    (hv,) = qemu_args(read("qemu-args/hyperv.x86_64-latest.args"))
    assert hv.cpu_model == "qemu64" and "hv-vendor-id=KVM Hv" in hv.cpu_options   # quoted value with a space
    (multi,) = qemu_args(read("qemu-args/net-hostdev-multidomain.x86_64-latest.args"))
    assert multi.assigned_devices[0].host == "2424:21:1c.6"


def test_qemu_hand_run_and_ps() -> None:
    a, b = netbsd_commands(read("qemu-args/netbsd_itsx_sr-iov_resources_qemu_vfio-pci_X540_VF.txt"))
    assert [d.host for d in a.assigned_devices] == ["0000:05:10.2"]
    assert [d.host for d in b.assigned_devices] == ["0000:05:10.3"]
    assert a.cpu_model is None and "kvm" in a.accel               # --enable-kvm
    ((pid, argv),) = qemu_argv.parse_ps(read("more/ps-aux-with-qemu-kvm.txt"))
    assert pid == 22673 and argv[0] == "/usr/libexec/qemu-kvm"
    p = qemu_argv.parse_qemu_argv(argv)
    assert p.name == "rhel7" and p.machine == "rhel6.5.0" and p.arch is None and p.cpu_model is None


def test_dmesg_corpus() -> None:
    d = dmesg.parse_dmesg_iommu(read("more/dmesg-with-DMAR-line.txt"))
    assert d.dmar_table_present is True and d.iommu_enabled is None
    assert "DMAR: Host address width 39" in d.lines
    r = dmesg.parse_dmesg_iommu(read("dmesg/github_canonical_lxd_issue5041_ixgbevf_PF_still_in_reset.txt"))
    kinds = {m.kind for m in r.sriov_messages}
    assert {"pf_still_in_reset", "random_mac"} <= kinds
    first = next(m for m in r.sriov_messages if m.kind == "pf_still_in_reset")
    assert (first.driver, first.address, first.line_no) == ("ixgbevf", "0000:04:12.4", 3)
    t = dmesg.parse_dmesg_iommu(read("dmesg/github_nvandamme_systemd-networkd-i40e_issue1_i40e_VF_not_trusted.txt"))
    assert [(m.kind, m.driver, m.address) for m in t.sriov_messages] == [("vf_not_trusted", "i40e", "0000:c2:00.0")]
    o = dmesg.parse_dmesg_iommu(read("dmesg/github_k8snetworkplumbingwg_bond-cni_issue5_ixgbe_VF_override_admin_MAC.txt"))
    assert [m.kind for m in o.sriov_messages] == ["override_admin_mac"]
    # The firmware keeps VT-x / AMD-V off: feat_ctl.c, kvm_intel and kvm_amd lines; SGX's line is not one.
    v = dmesg.parse_dmesg_iommu(read("dmesg/code_index_hp_i5-4460_dmesg_vmx_outside_TXT_disabled_by_BIOS.txt"))
    assert [(m.kind, m.line_no) for m in v.sriov_messages] == [("vmx_disabled_by_bios", 2), ("vmx_disabled_by_bios", 3)]
    a = dmesg.parse_dmesg_iommu(read("dmesg/code_index_forum_ryzen5600x_dmesg_kvm_amd_SVM_disabled_by_BIOS.txt"))
    assert [m.kind for m in a.sriov_messages] == ["svm_disabled_by_bios"]
    g = dmesg.parse_dmesg_iommu(read("dmesg/code_index_lkml_xeon4310_syslog_VMX_and_SGX_disabled_by_BIOS.txt"))
    assert [m.text for m in g.sriov_messages] == ["x86/cpu: VMX (outside TXT) disabled by BIOS"]


def test_misc_small_formats() -> None:
    ((igbvf, igb, dca, algo, ptp, i2c),) = blocks(lsmod.parse_lsmod, r"lsmod")(
        read("more/lsmod-grep-igb-igbvf-real.txt"))
    assert (igbvf.name, igbvf.size, igbvf.used_by_count, igbvf.used_by) == ("igbvf", 34514, 0, ())
    assert i2c.used_by == ("igb", "i2c_algo_bit", "i2c_i801") and i2c.used_by_count == 3
    cmd, conf = grub_and_modprobe(read("misc/sriov_Intel-I350_grub_cmdline_modprobe_igb_max_vfs.txt"))
    assert cmd.get("intel_iommu") == "on" and cmd.get("iommu") == "pt" and cmd.has("quiet")
    assert cmd.get("vfio_iommu_type1.allow_unsafe_interrupts") == "1"
    opts, bl = conf
    assert (opts.kind, opts.module, opts.param("max_vfs")) == ("options", "igb", "4")
    assert (bl.kind, bl.module, bl.line_no) == ("blacklist", "igbvf", 2)
    assert blocks(lambda s: uname.parse_kernel_release(s.strip()), r"uname -r")(
        read("misc/sriov_Intel-I350_uname_os-release.txt")) == [(5, 4, 0)]
    rt = uname.parse_uname_a(read("more/uname-a-rhel.txt").splitlines()[2])
    assert rt.release == "3.10.0-327.rt56.204.el7.x86_64" and rt.kernel_version == (3, 10, 0)
    assert rt.version == "#1 SMP PREEMPT RT Thu Oct 29 21:54:23 EDT 2015" and rt.machine == "x86_64"
    numvfs = blocks(sysfs_values.parse_int, NUMVFS)(read("misc/dpdk_playground_X550_create_VFs_lspci_VF_ixgbevf.txt"))
    assert numvfs == [2]   # 'cat !$' echoes the expanded command into the output: not a numvfs block


def test_elided_doc_ip_link_is_a_parse_error() -> None:
    """The vf-setup doc elided ip link output ('...', headers without 'N: '): not the format."""
    text = read("misc/sriov-network-device-plugin_vf-setup_mlx5_ibdev2netdev_lspci_iplink.txt")
    with pytest.raises(ParseError):
        blocks(iplink.parse_ip_link, IPLINK)(text)
    (devs,) = blocks(lspci.parse_lspci, LSPCI)(text)
    assert [d.address for d in devs if d.is_virtual_function] == [
        "0000:02:00.2", "0000:02:00.3", "0000:02:00.4", "0000:02:00.5"]

