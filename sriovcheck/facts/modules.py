"""Kernel modules: loaded, built in, their parameters (set and accepted) and versions."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from ..evidence import COMMAND, SYS_MODULE
from ..model import KernelInfo, KernelModule, ModuleParam, PciFunction
from ..parsers._common import FrozenMap
from ..sources.base import SourceReadError
from .context import MAX_SMALL_BYTES, CollectContext, basename, norm_module, safe_name
from .provider import Provider

#: Drivers (and helpers) whose module state and parameters matter for SR-IOV.
SRIOV_MODULES: Tuple[str, ...] = (
    "igb", "igbvf", "ixgbe", "ixgbevf", "i40e", "i40evf", "iavf", "ice", "mlx4_core", "mlx4_en", "mlx5_core",
    "bnxt_en", "be2net", "cxgb4", "cxgb4vf", "qede", "qed", "qlcnic", "sfc", "enic", "octeontx2_af",
    "vfio", "vfio_pci", "vfio_iommu_type1", "pci_stub", "kvm", "kvm_intel", "kvm_amd", "kvm_pvm",
)


def collect_modules(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[KernelModule, ...]]:
    from ..parsers.lsmod import parse_lsmod
    from ..parsers.modinfo import parse_modinfo

    kernel: KernelInfo = deps["kernel"]
    pci: Optional[Tuple[PciFunction, ...]] = deps["pci"]
    wanted: Set[str] = set(SRIOV_MODULES)
    for fn in pci or ():
        if fn.driver:
            wanted.add(norm_module(fn.driver))
    wanted = {name for name in wanted if re.fullmatch(r"[A-Za-z0-9_]{1,64}", name)}
    sys_modules = ctx.listing(SYS_MODULE, "modules")
    loaded_list: Optional[Set[str]] = None
    loaded_origin = ""
    entries = ctx.parsed("/proc/modules", parse_lsmod, "modules", 4 * 1024 * 1024)
    if entries is not None:
        loaded_list, loaded_origin = {e.name for e in entries}, ctx.source.describe("/proc/modules")
    else:
        output = ctx.run(COMMAND["lsmod"], "modules", quiet=sys_modules is not None)
        parsed = ctx.parse_output(output, parse_lsmod, "modules") if output else None
        if parsed is not None and output is not None:
            loaded_list, loaded_origin = {e.name for e in parsed}, output.origin
    builtin: Optional[Set[str]] = None
    builtin_origin = ""
    if kernel.release:
        path = f"/lib/modules/{kernel.release}/modules.builtin"
        text = ctx.text(path, "modules", 4 * 1024 * 1024)
        if text is not None:
            builtin = {norm_module(basename(line.strip()) or "").split(".ko")[0] for line in text.splitlines()}
            builtin_origin = ctx.source.describe(path)
    if sys_modules is None and loaded_list is None:
        return None
    ctx.origins["modules"] = ctx.source.describe(SYS_MODULE) if sys_modules is not None else loaded_origin
    # modinfo of every loaded module is asked for below, one module at a time: start them together.
    ctx.prefetch([COMMAND["modinfo"].format(module=name) for name in sorted(wanted)
                  if (loaded_list is not None and name in loaded_list)
                  or (sys_modules is not None and name in sys_modules) or (builtin is not None and name in builtin)])
    out: List[KernelModule] = []
    for name in sorted(wanted):
        values: Dict[str, Any] = {}
        origins: Dict[str, str] = {}
        base = f"{SYS_MODULE}/{name}"
        in_sys = sys_modules is not None and name in sys_modules
        if loaded_list is not None and name in loaded_list:
            values["loaded"], origins["loaded"] = True, loaded_origin
        elif in_sys:
            values["loaded"], origins["loaded"] = True, ctx.source.describe(base)
        elif builtin is not None and name in builtin:
            values["loaded"], origins["loaded"] = True, builtin_origin + " (built into the kernel)"
        elif loaded_list is not None or ctx.absent(base):
            values["loaded"] = False
            origins["loaded"] = loaded_origin or ctx.source.describe(SYS_MODULE)
        if in_sys:
            params = ctx.listing(f"{base}/parameters", "modules")
            if params is not None:
                got: Dict[str, str] = {}
                unreadable: List[str] = []
                for param in params:
                    if not safe_name(param):
                        continue
                    try:
                        text = ctx.source.read_text(f"{base}/parameters/{param}", 64 * 1024)
                    except SourceReadError:
                        unreadable.append(param)
                        continue
                    if text is not None:
                        got[param] = text.rstrip("\n")
                if unreadable:
                    ctx.problem(ctx.source.describe(f"{base}/parameters"),
                                 f"unreadable (run as root?): {', '.join(sorted(unreadable))}", "modules")
                values["parameters"] = FrozenMap(sorted(got.items()))
                origins["parameters"] = ctx.source.describe(f"{base}/parameters")
            version = ctx.text(f"{base}/version", "modules", MAX_SMALL_BYTES)
            if version and version.strip():
                values["version"], origins["version"] = version.strip()[:128], ctx.source.describe(f"{base}/version")
        if values.get("loaded"):
            output = ctx.run(COMMAND["modinfo"].format(module=name), "modules", quiet=True)
            infos = ctx.parse_output(output, parse_modinfo, "modules") if output else None
            if infos and output is not None:
                info = infos[0]
                values["known_parameters"] = tuple(ModuleParam(p.name, p.description, p.type)
                                                   for p in info.parameters)
                origins["known_parameters"] = output.origin
                if values.get("version") is None and info.version:
                    values["version"], origins["version"] = info.version, output.origin
        if not values:
            continue
        out.append(KernelModule(name=name, origins=FrozenMap(sorted(origins.items())), **values))
    return tuple(out)


PROVIDER = Provider(key="modules", compute=collect_modules, needs=("kernel", "pci"),
                    evidence=("sys_module", "proc_modules", "lsmod", "modules_builtin", "modinfo"))
