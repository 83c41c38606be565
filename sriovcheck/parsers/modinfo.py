"""``modinfo`` output: one module, or many concatenated (sos
``sos_commands/kernel/modinfo_ALL_MODULES``).

kmod prints ``"%-16s%s"``: a key, a colon, padding to column 16, the value.
A line that does not look like that continues the previous field (kmod
prints multi-line ``parm`` descriptions and ``signature``/``sig_key`` hex
blocks that way).  A new module starts at a ``filename:`` line when the
current one already has a filename, or at a ``name:`` line when it already
has a name (built-in modules print ``name:`` before ``filename: (builtin)``).

``parm:`` values are ``NAME:DESCRIPTION (TYPE)``; the ``(TYPE)`` suffix is
split off only when it is a kernel parameter type (``int``, ``uint``,
``charp``, ``array of int``, ...), so a description that merely ends in
parentheses is not mistaken for a type.

``modinfo: ERROR: Module X not found.`` lines (stderr mixed into the
capture) are skipped: they say a module is absent, not what it contains.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import require_text, split_lines

__all__ = ["ModInfo", "ModParam", "parse_modinfo"]


@dataclass(frozen=True)
class ModParam:
    name: str
    description: Optional[str]
    type: Optional[str]          # "uint", "int", "charp", "array of byte", ... or None


@dataclass(frozen=True)
class ModInfo:
    name: str                    # module name ("-" in a file name becomes "_")
    filename: Optional[str] = None
    version: Optional[str] = None
    description: Optional[str] = None
    license: Optional[str] = None
    author: Optional[str] = None
    srcversion: Optional[str] = None
    vermagic: Optional[str] = None
    intree: Optional[bool] = None
    signer: Optional[str] = None
    parameters: Tuple[ModParam, ...] = ()
    aliases: Tuple[str, ...] = ()
    depends: Tuple[str, ...] = ()
    firmware: Tuple[str, ...] = ()
    fields: Tuple[Tuple[str, str], ...] = ()   # every (key, value) in order, verbatim
    line: int = 0                              # 1-based line where this module starts

    def parameter(self, name: str) -> Optional[ModParam]:
        """The parameter called ``name`` (dashes and underscores are equivalent)."""
        want = name.replace("-", "_")
        for p in self.parameters:
            if p.name.replace("-", "_") == want:
                return p
        return None


_KNOWN_KEYS = frozenset({
    "filename", "name", "alias", "author", "description", "license", "version", "srcversion",
    "depends", "retpoline", "intree", "vermagic", "sig_id", "signer", "sig_key",
    "sig_hashalgo", "signature", "parm", "firmware", "softdep", "rhelversion", "import_ns",
    "staging", "supported", "suserelease", "livepatch", "scmversion", "weakdep", "file",
})
_KEY_LINE = re.compile(r"([a-z][a-z0-9_]{0,31}):( *)(.*)$")
_PARAM_TYPES = re.compile(
    r"(?:array of )?(?:byte|hexint|short|ushort|int|uint|long|ulong|ullong|charp|bool|invbool|string)"
)
_MOD_SUFFIX = re.compile(r"\.ko(?:\.(?:xz|zst|gz|bz2))?$")


def _is_key_line(m: "re.Match[str]") -> bool:
    key, pad, value = m.group(1), m.group(2), m.group(3)
    if key in _KNOWN_KEYS:
        return True
    # unknown key: accept only the exact "%-16s" layout
    return len(key) + 1 + len(pad) == 16 if value else True


def _parse_parm(value: str) -> ModParam:
    name, sep, rest = value.partition(":")
    if not sep:
        return ModParam(name=name.strip(), description=None, type=None)
    desc = rest.strip()
    ptype: Optional[str] = None
    if desc.endswith(")"):
        idx = desc.rfind("(")
        if idx >= 0 and _PARAM_TYPES.fullmatch(desc[idx + 1:-1]):
            ptype = desc[idx + 1:-1]
            desc = desc[:idx].rstrip()
    return ModParam(name=name.strip(), description=desc or None, type=ptype)


def _module_name(fields: List[Tuple[str, str]], line_no: int) -> str:
    for k, v in fields:
        if k == "name" and v:
            return v
    for k, v in fields:
        if k == "filename" and v and v != "(builtin)":
            base = v.rsplit("/", 1)[-1]
            base = _MOD_SUFFIX.sub("", base)
            if base:
                return base.replace("-", "_")
    raise ParseError("modinfo: module without a name or file name", line_no)


def _build(fields: List[Tuple[str, str]], line_no: int) -> ModInfo:
    one: Dict[str, str] = {}
    for k, v in fields:
        one.setdefault(k, v)

    def get(k: str) -> Optional[str]:
        v = one.get(k)
        return v if v else None

    def many(k: str) -> Tuple[str, ...]:
        return tuple(v for kk, v in fields if kk == k and v)

    depends: List[str] = []
    for v in many("depends"):
        depends.extend(x.strip() for x in v.split(",") if x.strip())
    intree = get("intree")
    return ModInfo(
        name=_module_name(fields, line_no),
        filename=get("filename"), version=get("version"), description=get("description"),
        license=get("license"), author=get("author"), srcversion=get("srcversion"),
        vermagic=get("vermagic"), signer=get("signer"),
        intree=None if intree is None else intree == "Y",
        parameters=tuple(_parse_parm(v) for v in many("parm")),
        aliases=many("alias"), depends=tuple(depends), firmware=many("firmware"),
        fields=tuple(fields), line=line_no,
    )


def parse_modinfo(text: str) -> Tuple[ModInfo, ...]:
    """Parse modinfo output; raises :class:`ParseError` on text before the first
    field or a module block with neither ``name:`` nor ``filename:``."""
    require_text(text, "parse_modinfo")
    modules: List[ModInfo] = []
    # (key, value parts) -- parts are joined once at the end (linear time)
    cur: List[Tuple[str, List[str]]] = []
    keys_in_cur: set = set()
    cur_line = 0

    def flush() -> None:
        if cur:
            modules.append(_build([(k, "\n".join(p for p in parts if p)) for k, parts in cur],
                                  cur_line))

    for line_no, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        if line.startswith("modinfo: ERROR:"):
            continue
        m = _KEY_LINE.match(line.rstrip())
        if m and _is_key_line(m):
            key, value = m.group(1), m.group(3).strip()
            if key in ("filename", "name") and key in keys_in_cur:
                flush()
                cur, keys_in_cur = [], set()
            if not cur:
                cur_line = line_no
            cur.append((key, [value]))
            keys_in_cur.add(key)
            continue
        if not cur:
            raise ParseError("modinfo: expected 'key:   value'", line_no, line)
        cur[-1][1].append(line.strip())
    flush()
    return tuple(modules)
