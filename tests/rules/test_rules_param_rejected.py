"""SRIOV103 and the kernel's own word on module parameters (issue 11 section 3): a parameter the kernel log shows
refused is a fail with that line; a log without such a line invents none; no log decides nothing.

The lines are the kernel's: kernel/module/main.c unknown_module_param_cb()
``pr_warn("%s: unknown parameter '%s' ignored\\n", modname, param)`` and kernel/params.c parse_args()
``pr_err("%s: `%s' invalid for parameter `%s'\\n", doing, val ?: "", param)``; the i915 log is a real one
(tests/corpus/dmesg, strongtz/i915-sriov-dkms #96).
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import List

from field_cases import I915_PF, i915_pf
from rule_hosts import add_functions, healthy

from sriovcheck.model import CmdlineInfo, KernelLogEvent, KernelLogFacts, ModprobeOption
from sriovcheck.parsers.cmdline import parse_cmdline
from sriovcheck.parsers.kernel_events import parse_kernel_events
from sriovcheck.results import Result, Status

DMESG = Path(__file__).resolve().parents[1] / "corpus" / "dmesg"
I915_LOG = "github_strongtz_i915-sriov-dkms_issue96_unknown_parameter_max_vfs.txt"


def _log(text: str, origin: str = "dmesg") -> KernelLogFacts:
    parsed = parse_kernel_events(text)
    return KernelLogFacts(origin=origin, events=tuple(KernelLogEvent(**vars(e)) for e in parsed.events),
                          first_timestamp=parsed.first_timestamp, covers_boot=parsed.covers_boot)


def _line(module: str, raw: str, file: str = "/etc/modprobe.d/sriov.conf", number: int = 2) -> ModprobeOption:
    params = tuple(tuple(p.split("=", 1)) if "=" in p else (p, "") for p in raw.split()[2:])
    return ModprobeOption(file, number, module, params, raw)  # type: ignore[arg-type]


def _file_result(results: List[Result], file: str = "/etc/modprobe.d/sriov.conf:2") -> Result:
    return next(r for r in results if r.subject.id == file)


# A boot log of the current boot (the kernel's format, [seconds] stamps), with the refusal at module load.
BOOT = """[    0.000000] Linux version 5.15.0-91-generic (buildd@lcy02-amd64-045) (gcc 11.4.0) #101-Ubuntu SMP
[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-5.15.0-91-generic root=/dev/sda1 ro intel_iommu=on
[    2.104512] igb: Intel(R) Gigabit Ethernet Network Driver
[    2.104513] {refusal}
[    2.130020] igb 0000:06:00.0: Intel(R) Gigabit Ethernet Network Connection
"""


def _boot(refusal: str) -> KernelLogFacts:
    return _log(BOOT.replace("{refusal}", refusal) if refusal else BOOT.replace("[    2.104513] {refusal}\n", ""))


def test_unknown_parameter_in_modprobe_d_is_a_fail_with_the_log_line(run_rules) -> None:
    facts = replace(healthy(), modprobe=(_line("igb", "options igb max_vf=7"),),
                    kernel_events=_boot("igb: unknown parameter 'max_vf' ignored"))
    line = _file_result(run_rules(facts, "SRIOV103"))
    assert line.status is Status.FAIL, line.message
    assert "'igb: unknown parameter 'max_vf' ignored' (dmesg line 4)" in line.message
    assert "igb has no parameter 'max_vf'; it has 'max_vfs'" in line.message
    assert ("dmesg", "line 4: igb: unknown parameter 'max_vf' ignored") in [(e.source, e.detail) for e in line.evidence]
    assert ("/etc/modprobe.d/sriov.conf:2", "options igb max_vf=7") in [(e.source, e.detail) for e in line.evidence]
    assert "options igb max_vfs=7" in (line.fix or "")
    assert "sed -i '2s/.*/options igb max_vfs=7/' /etc/modprobe.d/sriov.conf" in (line.fix_script or "")


def test_value_the_kernel_refused_decides_what_modinfo_could_not(run_rules) -> None:
    """Without modinfo the type of igb's max_vfs is unknown (a skip); the kernel's refusal of '2,4' decides it."""
    facts = replace(healthy(), modprobe=(_line("igb", "options igb max_vfs=2,4"),),
                    modules=tuple(m for m in healthy().modules or () if m.name != "igb"))
    assert _file_result(run_rules(facts, "SRIOV103")).status is Status.SKIP
    refused = replace(facts, kernel_events=_boot("igb: `2,4' invalid for parameter `max_vfs'"))
    line = _file_result(run_rules(refused, "SRIOV103"))
    assert line.status is Status.FAIL and "refused the value '2,4'" in line.message, line.message
    assert "the module did not load" in line.message
    assert "replace line 2" in (line.fix or "") and "options igb max_vfs=2\n" in (line.fix or "")
    # A line edited since that boot (another value) is not blamed for the old one.
    edited = replace(refused, modprobe=(_line("igb", "options igb max_vfs=2,4,6"),))
    assert _file_result(run_rules(edited, "SRIOV103")).status is Status.SKIP


def test_i40e_has_no_vf_parameter_the_fix_is_sysfs(run_rules) -> None:
    facts = add_functions(replace(healthy(), modprobe=(_line("i40e", "options i40e max_vfs=8"),)))
    # No modinfo, no log: not judged (a skip that names both), never a pass.
    line = _file_result(run_rules(facts, "SRIOV103"))
    assert line.status is Status.SKIP and "modinfo -p i40e" in line.message and "kernel log" in line.message
    refused = replace(facts, kernel_events=_boot("i40e: unknown parameter 'max_vfs' ignored"))
    line = _file_result(run_rules(refused, "SRIOV103"))
    assert line.status is Status.FAIL and "i40e has no VF-count parameter at all" in line.message, line.message
    fix = line.fix or ""
    assert "delete line 2" in fix and "sriov_numvfs" in fix and "SRIOV104" in fix
    assert "sed -i '2s/^/# rejected by the kernel: /' /etc/modprobe.d/sriov.conf" in (line.fix_script or "")


def test_ixgbe_rejection_names_max_vfs_and_says_it_is_deprecated(run_rules) -> None:
    facts = replace(healthy(), modprobe=(_line("ixgbe", "options ixgbe max_vf=4"),),
                    kernel_events=_boot("ixgbe: unknown parameter 'max_vf' ignored"))
    line = _file_result(run_rules(facts, "SRIOV103"))
    assert line.status is Status.FAIL
    assert "it has 'max_vfs'" in line.message and "deprecated" in line.message and "sysfs" in line.message
    assert "options ixgbe max_vfs=4" in (line.fix or "")


def test_a_log_without_a_refusal_invents_none(run_rules) -> None:
    """The healthy igb line passes with or without a boot log that has no refusal; the result is the same."""
    without = run_rules(healthy(), "SRIOV103")
    with_log = run_rules(replace(healthy(), kernel_events=_boot("")), "SRIOV103")
    assert [(r.subject.id, r.status) for r in with_log] == [(r.subject.id, r.status) for r in without]
    assert not [r for r in with_log if r.status is Status.FAIL]
    # A line neither modinfo nor the table knows stays unjudged: the log's silence is no acceptance.
    i40e = replace(healthy(), modprobe=(_line("i40e", "options i40e max_vfs=8"),), kernel_events=_boot(""))
    line = _file_result(run_rules(i40e, "SRIOV103"))
    assert line.status is Status.SKIP and "this log has no 'i40e: unknown parameter'" in line.message


def test_refusal_of_a_parameter_on_the_kernel_command_line(run_rules) -> None:
    """i915-sriov-dkms #96: i915.max_vfs=7 on the command line of a stock i915: 'unknown parameter ignored'."""
    text = (DMESG / I915_LOG).read_text(encoding="utf-8")
    match = re.search(r"\] Command line: (.*)$", text, re.M)
    assert match is not None
    cmdline = CmdlineInfo(raw=match.group(1), args=tuple(parse_cmdline(match.group(1)).args))
    facts = add_functions(replace(healthy(), cmdline=cmdline, kernel_events=_log(text)), i915_pf(0))
    results = run_rules(facts, "SRIOV103")
    (result,) = [r for r in results if r.subject.id == "/proc/cmdline:i915.max_vfs"]
    assert result.status is Status.FAIL
    assert "given by the kernel command line (i915.max_vfs=...)" in result.message
    assert "'i915: unknown parameter 'max_vfs' ignored' (dmesg line 4)" in result.message
    assert "No VFs came from it" in result.message
    # Typed at a prompt instead (the command line does not carry it): the module is the subject.
    prompt = replace(facts, cmdline=CmdlineInfo(raw="ro quiet", args=(("ro", None), ("quiet", None))))
    (result,) = [r for r in run_rules(prompt, "SRIOV103") if r.subject.id == "module i915"]
    assert result.status is Status.FAIL and "'modprobe i915 ...' command" in result.message
    assert "(no /etc/modprobe.d line sets it)" in result.message
    # The PF has its VFs all the same (made another way): the old refusal is told, not failed.
    made = add_functions(replace(prompt, pci=tuple(f for f in prompt.pci or () if f.address != I915_PF)),
                         replace(i915_pf(2), virtfns=((0, "0000:00:02.1"), (1, "0000:00:02.2"))))
    (result,) = [r for r in run_rules(made, "SRIOV103") if r.subject.id == "module i915"]
    assert result.status is Status.PASS, result.message


def test_another_modules_refusal_is_not_sriov_business(run_rules) -> None:
    """A real ath9k refusal (wifi, not SR-IOV) given outside modprobe.d gives SRIOV103 nothing to say."""
    text = (DMESG / "code_index_wireless_info_ath9k_invalid_for_parameter_nohwcrypt.txt").read_text(encoding="utf-8")
    log = _log(text)
    assert [(e.kind, e.module, e.parameter, e.value) for e in log.events] == [
        ("module_param_invalid", "ath9k", "nohwcrypt", "")] * 2
    results = run_rules(replace(healthy(), kernel_events=log), "SRIOV103")
    assert not [r for r in results if "ath9k" in r.message]
    # In a modprobe.d line, SRIOV103 judges it like any line of that file: the kernel refused it.
    line = _file_result(run_rules(replace(healthy(), kernel_events=log,
                                          modprobe=(_line("ath9k", "options ath9k nohwcrypt"),)), "SRIOV103"))
    assert line.status is Status.FAIL and "(dmesg line 3)" in line.message
