"""The sos layout knowledge: file names, versions, manifest, listings, coverage."""
from __future__ import annotations

import json

import pytest
from sosbuild import corpus, new_manifest

from sriovcheck.sources.sos_layout import (
    ManifestError,
    alternatives,
    covering,
    ethtool_i_file,
    host_to_rel,
    mangle_command,
    older_than,
    parse_manifest,
    parse_plugin_selection,
    parse_version_plugins,
    parse_version_txt,
    pick_journal,
    version_major,
    virsh_files,
)
from sriovcheck.sources.sos_ls import parse_ls_recursive


@pytest.mark.parametrize("command, name", [
    # sos's own unit tests (tests/unittests/plugin_tests.py test_mangle_command)
    ("/usr/bin/foo -x", "foo_-x"),
    ("/usr/bin/foo /path/to/stuff", "foo_.path.to.stuff"),
    # names from shared/reference/sosreport.md section 1.2
    ("ip -s -d link", "ip_-s_-d_link"),
    ("ethtool --show-priv-flags eth0", "ethtool_--show-priv-flags_eth0"),
    ("ls -alZR /sys/firmware/", "ls_-alZR_.sys.firmware"),
    ("devlink dev eswitch show pci/0000:03:00.0", "devlink_dev_eswitch_show_pci.0000_03_00.0"),
    ("virsh -r nodedev-dumpxml pci_0000_03_00_0", "virsh_-r_nodedev-dumpxml_pci_0000_03_00_0"),
    # what the real sos 4.0 run on the test machine wrote
    ("lspci -nnvv", "lspci_-nnvv"),
    ("netstat -W -neopa", "netstat_-W_-neopa"),
])
def test_mangle_command_matches_sos(command: str, name: str) -> None:
    assert mangle_command(command) == name


def test_mangle_command_cuts_at_name_max() -> None:
    assert len(mangle_command("modinfo " + " ".join(f"module{i}" for i in range(100)))) == 255
    assert mangle_command("modinfo a b", name_max=64) == "modinfo_a_b"


def test_per_item_file_names() -> None:
    assert ethtool_i_file("enp6s0f0") == "sos_commands/networking/ethtool_-i_enp6s0f0"
    assert virsh_files("dumpxml", "my guest") == ("sos_commands/virsh/virsh_-r_dumpxml_my_guest",
                                                  "sos_commands/libvirt/virsh_-r_dumpxml_my_guest")


@pytest.mark.parametrize("text, version, plugins", [
    ("sos report: 4.5.6\n", "4.5.6", None),
    ("sosreport: 4.0\nkernel: unversioned\nlibvirt: unversioned\npci: unversioned", "4.0",
     ("kernel", "libvirt", "pci")),  # what Debian's sos 4.0 wrote on the test machine
    ("sosreport: 3.2\nnetworking: 3.2\n", "3.2", ("networking",)),
    ("not a sos file\n", None, None),
    ("", None, None),
])
def test_version_txt(text: str, version: str, plugins: tuple) -> None:
    assert parse_version_txt(text) == version
    assert parse_version_plugins(text) == plugins


def test_version_helpers() -> None:
    assert version_major("4.5.6") == 4 and version_major("3.9") == 3 and version_major(None) is None
    assert older_than("4.0", "4.7.1") and not older_than("4.10.0", "4.7.1")
    assert not older_than(None, "3.3") and not older_than("3.2", "")


def test_manifest_commands_and_plugins() -> None:
    doc = new_manifest("4.0", ("kernel", "pci"))
    doc["components"]["report"]["plugins"]["kernel"]["commands"] = [
        {"exec": "lsmod", "filepath": None, "return_code": 127},
        {"exec": "uname -a", "filepath": "sos_commands/kernel/uname_-a", "return_code": 0, "truncated": False},
        {"exec": "dmesg", "filepath": "/etc/shadow", "return_code": 0},
        {"exec": "evil", "filepath": "../../x", "return_code": 0},
        "not an object",
    ]
    manifest = parse_manifest(json.dumps(doc).encode())
    assert manifest.version == "4.0"
    assert manifest.plugin_ran("kernel") is True and manifest.plugin_ran("virsh") is False
    by_exec = {c.exec: c for c in manifest.commands}
    assert by_exec["lsmod"].filepath is None and not by_exec["lsmod"].ran_ok
    assert "command not found on the host" in by_exec["lsmod"].failure()
    assert manifest.by_filepath("sos_commands/kernel/uname_-a") == by_exec["uname -a"]
    # Absolute paths and '..' in an untrusted manifest are dropped, not followed.
    assert by_exec["dmesg"].filepath is None and by_exec["evil"].filepath is None


def test_manifest_without_plugin_sections_cannot_say() -> None:
    manifest = parse_manifest(json.dumps(new_manifest("4.0")).encode())
    assert manifest.plugin_ran("kernel") is None  # sos 4.0 also leaves enabled_plugins empty


@pytest.mark.parametrize("data", [b"{", b"[]", b'{"components": {}}', b"[" * 100_000])
def test_manifest_junk_is_refused(data: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(data)


def test_host_paths_map_straight_with_run_aliases() -> None:
    assert host_to_rel("/proc/cmdline") == "proc/cmdline"
    assert host_to_rel("/sos_commands/pci/lspci_-nnvv") is None  # sos's own folders are no host path
    assert host_to_rel("/etc/../../x") is None and host_to_rel("relative") is None
    assert alternatives("run/libvirt/qemu") == ("run/libvirt/qemu", "var/run/libvirt/qemu")
    assert alternatives("var/run/libvirt/qemu/a.xml") == ("var/run/libvirt/qemu/a.xml", "run/libvirt/qemu/a.xml")
    assert alternatives("etc/modprobe.d") == ("etc/modprobe.d",)


def test_coverage_names_the_plugin() -> None:
    assert covering("/etc/udev/rules.d/70-sriov.rules") == (("udev",), "")
    assert covering("/boot/config-5.14.0") == (("kernel",), "4.7.1")
    assert covering("/sys/kernel/iommu_groups") is None
    assert covering("/etc/sriov-operator") is None


def test_pick_journal_prefers_this_boot() -> None:
    names = ["journalctl_--no-pager", "journalctl_--no-pager_--boot_-1", "journalctl_--no-pager_--boot",
             "journalctl_--disk-usage"]
    assert pick_journal(names) == "journalctl_--no-pager_--boot"
    assert pick_journal(["journalctl_--no-pager_--boot_-1"]) is None


def test_recursive_listing_of_sys_firmware() -> None:
    listing = parse_ls_recursive(corpus("more/ls-alZR-sys-firmware.txt"))
    assert listing["/sys/firmware"] == {"acpi": "dir", "devicetree": "dir", "dmi": "dir", "efi": "dir",
                                        "fdt": "file"}
    assert listing["/sys/firmware/acpi"]["tables"] == "dir"
    assert listing["/sys/firmware/acpi"]["pm_profile"] == "file"


def test_recursive_listing_formats() -> None:
    text = ("/sys/firmware/acpi/tables:\ntotal 0\n"
            "drwxr-xr-x. 4 0 0 0 Sep 30 16:58 .\n"
            "-r--------. 1 0 0 128 Sep 30 16:58 DMAR\n"  # ls -lan (numeric owners), 4.1-4.7
            "-r-------- 1 root root 2.1K 2019-09-30 16:58 IVRS\n"  # ISO dates and -h sizes
            "lrwxrwxrwx 1 root root 0 Sep 30  2019 link name -> ../x\n"
            "ls: cannot open directory '/sys/firmware/efi/efivars': Permission denied\n")
    assert parse_ls_recursive(text) == {"/sys/firmware/acpi/tables": {"DMAR": "file", "IVRS": "file",
                                                                      "link name": "link"}}


@pytest.mark.parametrize("cmdline, udev, pci", [
    ("report --batch -o pci,networking,kernel,libvirt,processor --tmp-dir /tmp/x --quiet", True, False),
    ("sosreport --batch", False, False),
    ("sos report -n udev,systemd --batch", True, False),
    ("sos report --only-plugins=pci,kernel", True, False),
    ("sos report -opci", True, False),
    ("sos report -p network", None, None),
    ("sos report --preset=minimal", None, None),
])
def test_plugin_selection_from_the_command_line(cmdline: str, udev: object, pci: object) -> None:
    selection = parse_plugin_selection(cmdline)
    assert selection is not None
    assert (selection.excluded("udev"), selection.excluded("pci")) == (udev, pci)


def test_unsplittable_command_line() -> None:
    assert parse_plugin_selection('sos report -o "pci') is None
