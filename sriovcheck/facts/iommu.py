"""IOMMU: groups in sysfs, DMAR/IVRS ACPI tables, and what the kernel log says."""
from __future__ import annotations

from typing import Any, Dict, Mapping

from ..evidence import ACPI_TABLES, IOMMU_GROUPS
from ..model import IommuInfo
from ..parsers._common import FrozenMap
from .context import CollectContext
from .provider import Provider


def collect_iommu(ctx: CollectContext, deps: Mapping[str, Any]) -> IommuInfo:
    dmesg = deps["dmesg"]
    origins: Dict[str, str] = {}
    values: Dict[str, Any] = {}
    groups = ctx.listing(IOMMU_GROUPS, "iommu")
    if groups is not None:
        values["group_count"] = sum(1 for g in groups if g.isdigit())
        origins["group_count"] = ctx.source.describe(IOMMU_GROUPS)
    elif ctx.is_dir("/sys/kernel") and ctx.absent(IOMMU_GROUPS):
        # sysfs is there but the kernel made no iommu_groups directory: no IOMMU API, zero groups.
        values["group_count"] = 0
        origins["group_count"] = ctx.source.describe("/sys/kernel") + " (no iommu_groups directory)"
    tables = ACPI_TABLES
    if ctx.is_dir(tables):
        values["acpi_tables_visible"] = True
        origins["acpi_tables_visible"] = ctx.source.describe(tables)
        for key, name in (("dmar_table", "DMAR"), ("ivrs_table", "IVRS")):
            path = f"{tables}/{name}"
            values[key] = True if ctx.exists(path) else (False if ctx.absent(path) else None)
            if values[key] is not None:
                origins[key] = ctx.source.describe(path)
    elif ctx.is_dir("/sys/firmware") and ctx.absent(tables):
        values["acpi_tables_visible"] = False
        origins["acpi_tables_visible"] = ctx.source.describe("/sys/firmware") + " (no acpi/tables)"
    if dmesg is not None:
        parsed, origin = dmesg
        values["dmesg_enabled"] = parsed.iommu_enabled
        values["dmesg_lines"] = tuple(parsed.lines)
        origins["dmesg_enabled"] = origins["dmesg_lines"] = origin
    return IommuInfo(origins=FrozenMap(origins), **values)


PROVIDER = Provider(key="iommu", compute=collect_iommu, needs=("dmesg",),
                    evidence=("iommu_groups", "acpi_tables", "kernel_log"), default=IommuInfo)
