"""Rules are data: load, validate, select and override them.

A rule file is YAML with a top-level ``rules:`` list (or a bare list).  Each
rule binds a stable id to a check implementation with parameters, severity,
documentation and a fix template; see the README's "Rules" section for the
field reference.  Everything is validated here, and every problem names its
file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .api import CheckSpec
from .errors import RuleFileError, UsageError
from .kinds import FIX_PHASES as _FIX_PHASES
from .kinds import FixPhase
from .plugins import Registry
from .results import Severity
from .yamlfile import line_of, load_yaml_file

RULE_ID = re.compile(r"SRIOV\d{3}\Z")
RULE_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*\Z")
TAG = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")
FIX_PHASES = _FIX_PHASES

REQUIRED_FIELDS = ("id", "name", "check", "severity", "title", "description", "rationale", "fix")
OPTIONAL_FIELDS = ("params", "references", "tags", "fix_phase", "fix_script", "profiles", "not_applicable")
ALL_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    check: str
    severity: Severity
    title: str
    description: str
    rationale: str
    fix: str
    params: Mapping[str, Any] = field(default_factory=dict)
    references: Tuple[str, ...] = ()
    tags: Tuple[str, ...] = ()
    fix_phase: FixPhase = "runtime"
    fix_script: Optional[str] = None
    #: Profiles the rule runs in; empty means every profile.
    profiles: Tuple[str, ...] = ()
    #: The skip message when the check finds nothing to examine (e.g. "no guest has an assigned device").
    not_applicable: str = ""
    origin: str = ""  # "file:line"

    def matches(self, selector: str) -> bool:
        return selector in (self.id, self.name) or selector in self.tags


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    fail_on: str = "error"
    severity: Mapping[str, Severity] = field(default_factory=dict)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    origin: str = ""
    #: A run of this profile exits 1 when a rule at or above fail_on could not be judged.
    require_complete: bool = False


def builtin_rules_dir() -> Path:
    # The package's own directory: importlib.resources costs ~8 ms of imports per run for the
    # same answer.  The wheel and the zipapp (unpacked on first run) both put the rules on disk.
    import importlib

    module = importlib.import_module("sriovcheck.builtin_rules")
    location = getattr(module, "__file__", None)
    if location:
        return Path(location).parent
    from importlib.resources import files  # a loader without files on disk

    return Path(str(files("sriovcheck.builtin_rules")))


def _require_str(node: Mapping[str, Any], key: str, where: str, allow_empty: bool = False) -> str:
    value = node.get(key)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise RuleFileError(f"field '{key}' must be a non-empty string, got {_describe(value)}",
                            where, line_of(node, key))
    return value


def _optional_str(node: Mapping[str, Any], key: str, where: str) -> str:
    if key not in node:
        return ""
    return _require_str(node, key, where)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"[:80]


def _str_list(node: Mapping[str, Any], key: str, where: str, pattern: Optional["re.Pattern[str]"] = None) -> Tuple[str, ...]:
    value = node.get(key, [])
    if value is None:
        value = []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleFileError(f"field '{key}' must be a list of strings, got {_describe(value)}",
                            where, line_of(node, key))
    if pattern is not None:
        for item in value:
            if not pattern.match(item):
                raise RuleFileError(f"'{key}' entry {item!r} is not valid (expected {pattern.pattern})",
                                    where, line_of(node, key))
    return tuple(value)


def validate_params(given: Any, spec: CheckSpec, where: str, line: int) -> Dict[str, Any]:
    """Fill defaults and check names and types of a rule's params against its check."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise RuleFileError(f"'params' must be a mapping, got {_describe(given)}", where, line)
    params: Dict[str, Any] = {}
    for key, value in given.items():
        if key not in spec.params:
            known = ", ".join(sorted(spec.params)) or "none"
            raise RuleFileError(f"unknown param {key!r} for check {spec.name!r} (known: {known})",
                                where, line_of(given, key) or line)
        param = spec.params[key]
        if not param.accepts(value):
            raise RuleFileError(f"param {key!r} must be {param.type_name}, got {_describe(value)}",
                                where, line_of(given, key) or line)
        params[key] = value
    for key, param in spec.params.items():
        if key not in params:
            if param.required:
                raise RuleFileError(f"missing required param {key!r} for check {spec.name!r}"
                                    f"{' (' + param.help + ')' if param.help else ''}", where, line)
            default = param.default
            params[key] = list(default) if isinstance(default, list) else default
    return params


def _parse_rule(node: Any, path: Path, registry: Registry, check_shell: bool = False) -> Rule:
    where = str(path)
    if not isinstance(node, dict):
        raise RuleFileError(f"each rule must be a mapping, got {_describe(node)}", where, line_of(node))
    line = line_of(node)
    for key in node:
        if key not in ALL_FIELDS:
            raise RuleFileError(f"unknown field {key!r} (fields: {', '.join(ALL_FIELDS)})", where, line_of(node, key))
    for key in REQUIRED_FIELDS:
        if key not in node:
            raise RuleFileError(f"rule is missing required field '{key}'", where, line)
    rule_id = _require_str(node, "id", where)
    if not RULE_ID.match(rule_id):
        raise RuleFileError(f"rule id {rule_id!r} must be SRIOV followed by three digits", where, line_of(node, "id"))
    name = _require_str(node, "name", where)
    if not RULE_NAME.match(name):
        raise RuleFileError(f"rule name {name!r} must be kebab-case (a-z, 0-9, '-')", where, line_of(node, "name"))
    check_name = _require_str(node, "check", where)
    spec = registry.check(check_name)
    if spec is None:
        known = ", ".join(sorted(registry.checks)) or "none loaded"
        raise RuleFileError(f"rule {rule_id} uses unknown check {check_name!r} (known: {known})",
                            where, line_of(node, "check"))
    severity_text = _require_str(node, "severity", where)
    try:
        severity = Severity(severity_text)
    except ValueError:
        raise RuleFileError(f"severity {severity_text!r} must be one of error, warning, info",
                            where, line_of(node, "severity")) from None
    fix_phase = node.get("fix_phase", "runtime")
    if fix_phase not in FIX_PHASES:
        raise RuleFileError(f"fix_phase {fix_phase!r} must be one of {', '.join(FIX_PHASES)}",
                            where, line_of(node, "fix_phase"))
    fix_script = node.get("fix_script")
    if fix_script is not None and not isinstance(fix_script, str):
        raise RuleFileError("'fix_script' must be a string (a jinja2 template of shell lines)",
                            where, line_of(node, "fix_script"))
    if fix_script is not None and check_shell:
        _check_shell(rule_id, fix_script, where, line_of(node, "fix_script"))
    params = validate_params(node.get("params"), spec, where, line_of(node, "params") or line)
    return Rule(
        id=rule_id, name=name, check=check_name, severity=severity,
        title=_require_str(node, "title", where), description=_require_str(node, "description", where),
        rationale=_require_str(node, "rationale", where), fix=_require_str(node, "fix", where),
        params=params, references=_str_list(node, "references", where), tags=_str_list(node, "tags", where, TAG),
        fix_phase=fix_phase, fix_script=fix_script, profiles=_str_list(node, "profiles", where, RULE_NAME),
        not_applicable=_optional_str(node, "not_applicable", where),
        origin=f"{path}:{line}",
    )


def _check_shell(rule_id: str, fix_script: str, where: str, line: int) -> None:
    from .fixsyntax import FixScriptSyntaxError, check_fix_script

    try:
        check_fix_script(fix_script)
    except FixScriptSyntaxError as exc:
        raise RuleFileError(f"fix_script of {rule_id} {exc}", where, line) from None


def check_fix_scripts(rules: Iterable[Rule]) -> None:
    """Every rule's fix_script parses as a bash fragment on its own (``rules --validate``); RuleFileError if not."""
    for rule in rules:
        if rule.fix_script is not None:
            file, _, line = rule.origin.rpartition(":")
            _check_shell(rule.id, rule.fix_script, file or rule.origin, int(line) if line.isdigit() else 0)


def load_rule_file(path: Path, registry: Registry, check_shell: bool = False) -> List[Rule]:
    """The rules of one file; ``check_shell``: parse each fix_script with bash -n (every file but the
    built-in pack, which the test suite checks the same way)."""
    data = load_yaml_file(path)
    if data is None:
        return []
    if isinstance(data, dict):
        unknown = [k for k in data if k != "rules"]
        if unknown:
            raise RuleFileError(f"unknown top-level key {unknown[0]!r} (a rule file holds 'rules:')",
                                str(path), line_of(data, unknown[0]))
        line = line_of(data, "rules")
        data = data.get("rules") or []
    else:
        line = line_of(data)
    if not isinstance(data, list):
        raise RuleFileError(f"expected a list of rules, got {_describe(data)}", str(path), line)
    return [_parse_rule(node, path, registry, check_shell) for node in data]


def _rule_files(path: Path) -> List[Path]:
    if path.is_dir():
        # Regular files only (a fifo or device named *.yaml in a shared rule directory is skipped, never read).
        return sorted(p for p in path.iterdir()
                      if p.suffix in (".yaml", ".yml") and p.name != "profiles.yaml" and p.is_file())
    if not path.exists():
        raise RuleFileError("no such rule file or directory", str(path))
    return [path]


def _check_unique(rules: Iterable[Rule]) -> Dict[str, Rule]:
    by_id: Dict[str, Rule] = {}
    by_name: Dict[str, Rule] = {}
    for rule in rules:
        if rule.id in by_id:
            raise RuleFileError(f"duplicate rule id {rule.id} (also at {by_id[rule.id].origin})",
                                rule.origin)
        if rule.name in by_name:
            raise RuleFileError(f"duplicate rule name {rule.name!r} (also at {by_name[rule.name].origin})",
                                rule.origin)
        by_id[rule.id] = rule
        by_name[rule.name] = rule
    return by_id


def load_rules(registry: Registry, extra_paths: Sequence[Path] = (), builtin: bool = True) -> List[Rule]:
    """Built-in rules, then plugins' rule dirs, then ``--rules`` paths overriding by id."""
    base: List[Rule] = []
    base_paths = ([(builtin_rules_dir(), False)] if builtin else []) + [(p, True) for p in registry.rule_paths]
    for path, check_shell in base_paths:
        for file in _rule_files(path):
            base.extend(load_rule_file(file, registry, check_shell))
    merged = _check_unique(base)
    for path in extra_paths:
        user: List[Rule] = []
        for file in _rule_files(Path(path)):
            user.extend(load_rule_file(file, registry, check_shell=True))
        for rule in _check_unique(user).values():
            same_name = next((r for r in merged.values() if r.name == rule.name and r.id != rule.id), None)
            if same_name is not None:
                raise RuleFileError(f"rule name {rule.name!r} is already used by {same_name.id} "
                                    f"({same_name.origin}); override by id or choose another name", rule.origin)
            merged[rule.id] = rule  # same id: the user's rule replaces the built-in one
    return sorted(merged.values(), key=lambda r: r.id)


def load_profiles(registry: Registry, extra_paths: Sequence[Path] = ()) -> Dict[str, Profile]:
    profiles: Dict[str, Profile] = {}
    candidates = [builtin_rules_dir() / "profiles.yaml"]
    for path in extra_paths:
        path = Path(path)
        candidates.append(path / "profiles.yaml" if path.is_dir() else path.with_name("__none__"))
    for file in candidates:
        if not file.is_file():
            continue
        data = load_yaml_file(file)
        if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
            raise RuleFileError("a profiles file holds a 'profiles:' mapping", str(file), line_of(data))
        for name, node in data["profiles"].items():
            profiles[name] = _parse_profile(name, node, file)
    return profiles


def _parse_profile(name: str, node: Any, path: Path) -> Profile:
    where = str(path)
    if not RULE_NAME.match(name):
        raise RuleFileError(f"profile name {name!r} must be kebab-case", where)
    if not isinstance(node, dict):
        raise RuleFileError(f"profile {name!r} must be a mapping", where, line_of(node))
    allowed = ("description", "fail_on", "require_complete", "severity", "params", "select", "ignore")
    for key in node:
        if key not in allowed:
            raise RuleFileError(f"unknown profile field {key!r} (fields: {', '.join(allowed)})",
                                where, line_of(node, key))
    fail_on = node.get("fail_on", "error")
    if fail_on not in ("error", "warning", "info", "never"):
        raise RuleFileError(f"fail_on {fail_on!r} must be error, warning, info or never", where,
                            line_of(node, "fail_on"))
    description = node.get("description", "")
    if not isinstance(description, str):
        raise RuleFileError(f"profile {name!r} description must be a string", where, line_of(node, "description"))
    severity_map = node.get("severity") or {}
    if not isinstance(severity_map, dict):
        raise RuleFileError("profile 'severity' maps a rule id, name or tag to error, warning or info", where,
                            line_of(node, "severity"))
    require_complete = node.get("require_complete", False)
    if not isinstance(require_complete, bool):
        raise RuleFileError(f"require_complete {require_complete!r} must be true or false", where,
                            line_of(node, "require_complete"))
    severities: Dict[str, Severity] = {}
    for key, value in severity_map.items():
        try:
            severities[key] = Severity(value)
        except ValueError:
            raise RuleFileError(f"severity {value!r} for {key} must be error, warning or info", where,
                                line_of(node.get("severity"), key)) from None
    params = node.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise RuleFileError("profile 'params' maps a rule id or name to a mapping of params", where,
                            line_of(node, "params"))
    return Profile(name, description, fail_on, severities, params,
                   _str_list(node, "select", where), _str_list(node, "ignore", where), f"{path}:{line_of(node)}",
                   require_complete)


def _resolve(selector: str, rules: Sequence[Rule], option: str) -> List[Rule]:
    hits = [r for r in rules if r.matches(selector)]
    if not hits:
        raise UsageError(f"{option} {selector!r} matches no rule id, name or tag "
                         f"(see 'sriovcheck rules')")
    return hits


def select_rules(rules: Sequence[Rule], registry: Registry, profile: Profile,
                 select: Sequence[str] = (), ignore: Sequence[str] = ()) -> List[Rule]:
    """Apply the profile (membership, severity and param overrides) and --select/--ignore."""
    chosen = [r for r in rules if not r.profiles or profile.name in r.profiles]
    for key in profile.select:
        _resolve(key, rules, f"profile {profile.name} select")
    if profile.select:
        chosen = [r for r in chosen if any(r.matches(s) for s in profile.select)]
    chosen = [r for r in chosen if not any(r.matches(s) for s in profile.ignore)]
    if select:
        wanted = {r.id for s in select for r in _resolve(s, rules, "--select")}
        # An explicit --select can run a rule outside the profile.
        chosen = [r for r in rules if r.id in wanted]
    if ignore:
        dropped = {r.id for s in ignore for r in _resolve(s, rules, "--ignore")}
        chosen = [r for r in chosen if r.id not in dropped]
    out = []
    for rule in chosen:
        for key, severity in profile.severity.items():
            if rule.matches(key):
                rule = replace(rule, severity=severity)
        for key, overrides in profile.params.items():
            if rule.matches(key):
                spec = registry.check(rule.check)
                assert spec is not None
                merged = dict(rule.params)
                merged.update(overrides)
                rule = replace(rule, params=validate_params(merged, spec, profile.origin, 0))
        out.append(rule)
    return out


def find_rule(rules: Sequence[Rule], key: str) -> Optional[Rule]:
    for rule in rules:
        if key in (rule.id, rule.name) or key.upper() == rule.id:
            return rule
    return None
