"""Persistence: what recreates VFs at boot (udev, systemd, NetworkManager, ifcfg, netplan, ifupdown,
systemd-networkd .link files, rc.local, modprobe)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, List, Mapping, Optional, Set, Tuple

from ..errors import ParseError
from ..evidence import (
    IFCFG_DIR,
    IFUPDOWN_DIRS,
    IFUPDOWN_FILES,
    MODPROBE_DIRS,
    NETPLAN_DIRS,
    NETWORKD_DIRS,
    NM_DIRS,
    RC_LOCAL,
    SRIOV_OPERATOR,
    SYSTEMD_DIRS,
    UDEV_DIRS,
)
from ..model import ModprobeOption, PersistenceConfig
from .context import MAX_SMALL_BYTES, CollectContext, safe_name
from .provider import Provider

#: The .link file systemd ships in /usr/lib/systemd/network, matching every interface (OriginalName=*).
DEFAULT_LINK = "99-default.link"

#: Where a whole snapshot would show VF persistence; a partial one lacking any of them cannot say "none".
PERSISTENCE_PLACES = (MODPROBE_DIRS[0], UDEV_DIRS[0], SYSTEMD_DIRS[0], NM_DIRS[0], IFCFG_DIR, NETPLAN_DIRS[0],
                      RC_LOCAL[0])


def collect_persistence(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[PersistenceConfig, ...]]:
    from ..parsers import persistence as p

    modprobe: Optional[Tuple[ModprobeOption, ...]] = deps["modprobe"]
    if not ctx.has_etc():
        return None
    ctx.origins["persistence"] = ctx.source.describe("/etc")
    out: List[PersistenceConfig] = []

    def each(paths: Optional[List[str]], reader: Callable[[str, str], Tuple[PersistenceConfig, ...]]) -> None:
        for path in paths or ():
            text = ctx.text(path, "persistence", MAX_SMALL_BYTES)
            if text is None:
                continue
            try:
                out.extend(reader(text, ctx.source.describe(path)))
            except ParseError as exc:
                ctx.problem(ctx.source.describe(path), str(exc), "persistence")

    each(ctx.config_files(UDEV_DIRS, "persistence", (".rules",)), p.from_udev_rules)
    enabled = _enabled_units(ctx)
    for path in ctx.config_files(SYSTEMD_DIRS, "persistence", (".service",)) or ():
        unit = path.rsplit("/", 1)[-1]
        masked = path.startswith(SYSTEMD_DIRS[0] + "/") and _is_mask(ctx, path)
        if masked:
            # `systemctl mask` puts a /dev/null link in /etc over the unit: read the copy it hides, if any.
            path = next((f"{d}/{unit}" for d in SYSTEMD_DIRS[1:] if ctx.exists(f"{d}/{unit}")), "")
            if not path:
                continue
        text = ctx.text(path, "persistence", MAX_SMALL_BYTES)
        if text is not None and "sriov_numvfs" in text:
            out.extend(p.from_systemd_unit(text, ctx.source.describe(path), unit=unit, masked=masked,
                                           enabled=None if enabled is None else unit in enabled))
    each(ctx.config_files(NM_DIRS, "persistence"), p.from_nm_keyfile)
    each(ctx.config_files((IFCFG_DIR,), "persistence", prefix="ifcfg-"), p.from_ifcfg)
    each(ctx.config_files(NETPLAN_DIRS, "persistence", (".yaml", ".yml")), p.from_netplan)
    each([path for path in IFUPDOWN_FILES if ctx.exists(path) and not ctx.is_dir(path)], p.from_ifupdown)
    each(ctx.config_files(IFUPDOWN_DIRS, "persistence"), p.from_ifupdown)
    links = ctx.config_files(NETWORKD_DIRS, "persistence", (".link",)) or []
    # systemd ships 99-default.link matching every interface, and udev applies only the first matching .link
    # file in lexical order of the file names (systemd.link(5)): a file named after it never applies, unless
    # /etc or /run replaces 99-default.link itself.
    default_replaced = any(path.rsplit("/", 1)[-1] == DEFAULT_LINK for path in links)
    for path in links:
        before = len(out)
        each([path], p.from_networkd_link)
        name = path.rsplit("/", 1)[-1]
        if not default_replaced and name > DEFAULT_LINK:
            out[before:] = [replace(c, not_applied=f"its name sorts after {DEFAULT_LINK}, which systemd ships "
                                                  f"matching every interface, and udev applies only the first "
                                                  f"matching .link file: rename it, e.g. 10-{name}")
                            for c in out[before:]]
    each([path for path in RC_LOCAL if ctx.exists(path) and not ctx.is_dir(path)],
         lambda text, file: p.from_shell_lines(text, file, "other"))
    if ctx.is_dir(SRIOV_OPERATOR):
        out.append(PersistenceConfig(kind="sriov-operator", file=ctx.source.describe(SRIOV_OPERATOR),
                                     detail="SR-IOV network operator configuration (systemd mode) present"))
    out.extend(p.from_modprobe(modprobe or ()))
    if not out and not all(ctx.source.collected(place) for place in PERSISTENCE_PLACES):
        # A partial snapshot (a sosreport whose udev/systemd/NetworkManager plugins did not run)
        # cannot tell "nothing recreates the VFs": unknown, not known-empty.
        return None
    return tuple(out)

def _enabled_units(ctx: CollectContext) -> Optional[Set[str]]:
    """Unit names linked from some ``*.wants``/``*.requires`` directory of /etc/systemd/system (where
    ``systemctl enable`` puts them); None when the source cannot list them all (enablement unknown)."""
    names = ctx.listing(SYSTEMD_DIRS[0], "persistence")
    if names is None:
        return None
    enabled: Set[str] = set()
    for name in names:
        if name.endswith((".wants", ".requires")) and safe_name(name):
            linked = ctx.listing(f"{SYSTEMD_DIRS[0]}/{name}", "persistence")
            if linked is None:
                return None  # a .wants directory this source cannot list: it may hold the unit
            enabled.update(linked)
    return enabled


def _is_mask(ctx: CollectContext, path: str) -> bool:
    """``systemctl mask UNIT``: /etc/systemd/system/UNIT is a link to /dev/null."""
    return ctx.link(path, "persistence") == "/dev/null"


PROVIDER = Provider(key="persistence", compute=collect_persistence, needs=("modprobe",),
                    evidence=("udev_rules", "systemd_units", "nm_connections", "ifcfg", "netplan", "rc_local",
                              "ifupdown", "networkd_links", "sriov_operator", "modprobe_d"))
