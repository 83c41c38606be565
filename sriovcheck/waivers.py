"""Waivers: accepted findings, with a reason and an optional expiry date.

File format (YAML)::

    waivers:
      - rule: SRIOV201            # id or name
        subject: "0000:03:10.*"   # optional fnmatch pattern on the subject id or label
        reason: "lab host, guests set their own MAC"   # required
        expires: 2027-03-31       # optional; from that day on the waiver no longer applies
"""
from __future__ import annotations

import datetime as _dt
import fnmatch
from dataclasses import dataclass, replace
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from .errors import RuleFileError
from .results import Result, Status, WaiverNote
from .ruleset import Rule
from .yamlfile import line_of, load_yaml_file

WAIVABLE = (Status.FAIL, Status.MANUAL, Status.ERROR)


@dataclass(frozen=True)
class Waiver:
    rule: str
    reason: str
    subject: Optional[str] = None
    expires: Optional[_dt.date] = None
    origin: str = ""

    def covers(self, result: Result) -> bool:
        if self.rule not in (result.rule, result.name):
            return False
        if self.subject is None:
            return True
        return any(fnmatch.fnmatchcase(text, self.subject)
                   for text in (result.subject.id, str(result.subject)))


def load_waivers(path: Path, rules: Sequence[Rule]) -> List[Waiver]:
    data = load_yaml_file(path)
    where = str(path)
    if isinstance(data, dict):
        extra = [k for k in data if k != "waivers"]
        if extra:
            raise RuleFileError(f"unknown top-level key {extra[0]!r} (a waiver file holds 'waivers:')",
                                where, line_of(data, extra[0]))
        data = data.get("waivers")
    if data is None:
        return []
    if not isinstance(data, list):
        raise RuleFileError("expected a list of waivers under 'waivers:'", where, line_of(data))
    known = {r.id for r in rules} | {r.name for r in rules}
    out = []
    for node in data:
        line = line_of(node)
        if not isinstance(node, dict):
            raise RuleFileError("each waiver must be a mapping with rule and reason", where, line)
        for key in node:
            if key not in ("rule", "subject", "reason", "expires"):
                raise RuleFileError(f"unknown waiver field {key!r} (fields: rule, subject, reason, expires)",
                                    where, line_of(node, key))
        rule = node.get("rule")
        if not isinstance(rule, str) or not rule:
            raise RuleFileError("waiver needs 'rule' (a rule id or name)", where, line)
        if rule not in known:
            raise RuleFileError(f"waiver names unknown rule {rule!r}", where, line_of(node, "rule"))
        reason = node.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise RuleFileError(f"waiver for {rule} needs a 'reason'", where, line)
        subject = node.get("subject")
        if subject is not None and not isinstance(subject, str):
            raise RuleFileError("waiver 'subject' must be a string pattern", where, line_of(node, "subject"))
        expires = node.get("expires")
        if expires is not None:
            if isinstance(expires, str):
                try:
                    expires = _dt.date.fromisoformat(expires)
                except ValueError:
                    expires = None
            if isinstance(expires, _dt.datetime):
                expires = expires.date()
            if not isinstance(expires, _dt.date):
                raise RuleFileError("waiver 'expires' must be a date like 2027-03-31", where,
                                    line_of(node, "expires"))
        out.append(Waiver(rule, reason.strip(), subject, expires, f"{where}:{line}"))
    return out


def apply_waivers(results: Sequence[Result], waivers: Sequence[Waiver],
                  today: Optional[_dt.date] = None) -> Tuple[List[Result], List[WaiverNote]]:
    today = today or _dt.date.today()
    notes: List[WaiverNote] = []
    used = set()
    out = []
    for result in results:
        if result.status in WAIVABLE:
            for index, waiver in enumerate(waivers):
                if not waiver.covers(result):
                    continue
                if waiver.expires is not None and today >= waiver.expires:
                    used.add(index)
                    result = replace(result, expired_waiver=f"{waiver.reason} (expired on "
                                                            f"{waiver.expires.isoformat()}, {waiver.origin})")
                    notes.append(WaiverNote(waiver.rule, str(result.subject), waiver.reason,
                                            f"waiver expired on {waiver.expires.isoformat()} ({waiver.origin}); "
                                            f"the finding counts again"))
                    continue
                used.add(index)
                result = replace(result, status=Status.WAIVED,
                                 waiver=waiver.reason + (f" (until {waiver.expires.isoformat()})"
                                                         if waiver.expires else ""))
                break
        out.append(result)
    for index, waiver in enumerate(waivers):
        if index not in used:
            notes.append(WaiverNote(waiver.rule, waiver.subject or "*", waiver.reason,
                                    f"waiver matched no finding ({waiver.origin})"))
    return out, notes
