"""Kernel: release, machine, ``uname -a`` and the SR-IOV-relevant ``CONFIG_*`` keys."""
from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional, Tuple

from ..evidence import COMMAND
from ..model import KernelInfo
from ..parsers._common import FrozenMap
from .context import MAX_CONFIG_BYTES, MAX_SMALL_BYTES, CollectContext
from .provider import Provider

#: CONFIG_* keys kept from /boot/config-RELEASE (the rest of a 10 000-line config says nothing about SR-IOV).
KERNEL_CONFIG_KEYS: Tuple[str, ...] = (
    "CONFIG_PCI_IOV", "CONFIG_PCI_ATS", "CONFIG_PCI_PRI", "CONFIG_PCI_PASID", "CONFIG_PCI_MSI",
    "CONFIG_PCI_REALLOC_ENABLE_AUTO", "CONFIG_PCI_STUB",
    "CONFIG_IOMMU_SUPPORT", "CONFIG_IOMMU_API", "CONFIG_IOMMU_DEFAULT_PASSTHROUGH", "CONFIG_IOMMU_DEFAULT_DMA_LAZY",
    "CONFIG_IOMMU_DEFAULT_DMA_STRICT", "CONFIG_INTEL_IOMMU", "CONFIG_INTEL_IOMMU_DEFAULT_ON",
    "CONFIG_INTEL_IOMMU_SVM", "CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON", "CONFIG_IRQ_REMAP",
    "CONFIG_AMD_IOMMU", "CONFIG_AMD_IOMMU_V2", "CONFIG_ARM_SMMU", "CONFIG_ARM_SMMU_V3",
    "CONFIG_VFIO", "CONFIG_VFIO_PCI", "CONFIG_VFIO_IOMMU_TYPE1", "CONFIG_VFIO_NOIOMMU", "CONFIG_VFIO_PCI_CORE",
    "CONFIG_KVM", "CONFIG_KVM_INTEL", "CONFIG_KVM_AMD",
    "CONFIG_IGB", "CONFIG_IGBVF", "CONFIG_IXGBE", "CONFIG_IXGBEVF", "CONFIG_I40E", "CONFIG_I40EVF", "CONFIG_IAVF",
    "CONFIG_ICE", "CONFIG_MLX4_CORE", "CONFIG_MLX5_CORE", "CONFIG_BNXT", "CONFIG_BNXT_SRIOV", "CONFIG_BE2NET",
    "CONFIG_CHELSIO_T4", "CONFIG_CHELSIO_T4VF", "CONFIG_QED_SRIOV", "CONFIG_SFC_SRIOV",
)

RELEASE = re.compile(r"[A-Za-z0-9._+~-]{1,128}")


def collect_kernel(ctx: CollectContext, deps: Mapping[str, Any]) -> KernelInfo:
    from ..parsers.kconfig import parse_kernel_config
    from ..parsers.uname import parse_kernel_release, parse_uname_a

    origins: Dict[str, str] = {}
    release: Optional[str] = None
    text = ctx.text("/proc/sys/kernel/osrelease", "kernel", MAX_SMALL_BYTES)
    if text and RELEASE.fullmatch(text.strip()):
        release = text.strip()
        origins["release"] = ctx.source.describe("/proc/sys/kernel/osrelease")
    uname = None
    output = ctx.run(COMMAND["uname"], "kernel")
    if output is not None:
        uname = ctx.parse_output(output, parse_uname_a, "kernel")
    line = None
    machine = None
    if uname is not None:
        line = output.stdout.strip().splitlines()[0] if output and output.stdout.strip() else None
        origins["uname"] = output.origin if output else ""
        machine = uname.machine
        origins["machine"] = origins["uname"]
        if release is None and RELEASE.fullmatch(uname.release):
            release = uname.release
            origins["release"] = origins["uname"]
    if release is None:
        version_text = ctx.text("/proc/version", "kernel", MAX_SMALL_BYTES)
        found = re.match(r"Linux version (\S{1,128})", version_text or "")
        if found and RELEASE.fullmatch(found.group(1)):
            release = found.group(1)
            origins["release"] = ctx.source.describe("/proc/version")
    if machine is None:
        arch = ctx.text("/proc/sys/kernel/arch", "kernel", MAX_SMALL_BYTES)
        if arch and re.fullmatch(r"[\w-]{1,32}", arch.strip()):
            machine = arch.strip()
            origins["machine"] = ctx.source.describe("/proc/sys/kernel/arch")
    version = parse_kernel_release(release) if release else None
    if version is not None:
        origins["version"] = origins["release"]
    config = None
    if release is not None:
        path = f"/boot/config-{release}"
        parsed = ctx.parsed(path, parse_kernel_config, "kernel config", MAX_CONFIG_BYTES)
        if parsed is not None:
            config = FrozenMap(sorted((k, v) for k, v in parsed.items() if k in KERNEL_CONFIG_KEYS))
            origins["config"] = ctx.source.describe(path)
    return KernelInfo(release=release, version=version, uname=line, machine=machine, config=config,
                      origins=FrozenMap(origins))


PROVIDER = Provider(key="kernel", compute=collect_kernel, evidence=("kernel_release", "uname", "kernel_config"),
                    default=KernelInfo)
