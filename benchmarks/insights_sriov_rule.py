"""The insights-core side of the sosreport benchmark (run by benchmarks/run.py in its own venv).

One rule reading the three parsers an SR-IOV check needs from a sosreport
(LsPci for the functions, IpLinkInfo for the PFs with VF tables, CmdLine for
the IOMMU switches), i.e. the least insights-core must do to answer the same
first question sriovcheck answers: VFs exist, is the IOMMU on?
"""
from insights import make_fail, make_pass, rule
from insights.parsers.cmdline import CmdLine
from insights.parsers.ip import IpLinkInfo
from insights.parsers.lspci import LsPci

ERROR_KEY = "SRIOV_VFS_WITHOUT_IOMMU"
CONTENT = {
    make_fail: "{{ vfs|length }} VFs on {{ pfs|join(', ') }} but the IOMMU is not enabled on the kernel command line",
    make_pass: "{{ vfs|length }} VFs on {{ pfs|join(', ') }}; IOMMU enabled",
}


@rule(LsPci, IpLinkInfo, CmdLine)
def report(lspci, links, cmdline):
    vfs = sorted(slot for slot, dev in lspci.data.items() if "Virtual Function" in dev.get("Dev_Details", ""))
    pfs = sorted(link["name"] for link in links if link.data.get("vf_enabled"))
    iommu = "on" in (cmdline.get("intel_iommu") or []) or "pt" in (cmdline.get("iommu") or [])
    if vfs and not iommu:
        return make_fail(ERROR_KEY, vfs=vfs, pfs=pfs)
    return make_pass(ERROR_KEY, vfs=vfs, pfs=pfs)
