"""A bash script with the fixes of all failures, ordered by how disruptive they are.

Phases, in order: firmware/BIOS (instructions only), kernel command line
(then a reboot), module options and driver reload, runtime changes (sysfs,
``ip link``, driver binding), guest configuration, then findings with no
automatic fix.  Each step is commented with its rule id and subject.

Safety, because the values come from snapshots of other people's machines:

* the script only prints what it would do unless run with ``--apply``; in
  that dry run no step's commands are executed at all.  Each step's exact
  shell text is *data*: a quoted here-document (no expansion) under a
  delimiter no line of the text equals (``SRIOVCHECK_STEP_N_<hash>``), read
  into a variable, printed, and given to ``eval`` in a subshell only when
  ``--apply`` chose the step.  A rule's ``fix_script`` therefore cannot close
  a function or an ``if`` of the script around it: whatever it holds, it is
  never parsed as part of the script;
* step commands are the rules' ``fix_script`` lines, whose values the engine
  already shell-quoted; a step whose text holds control characters is shown,
  never run;
* everything else from the snapshot (subjects, messages, fix text) is put
  only into comments made single-line (a newline cannot end a comment), into
  quoted here-documents with a delimiter no line of the text equals, or into
  ``shlex.quote``-d arguments;
* identical commands found by several rules on one host become one step (so
  a kernel argument is not added twice); whether a step is idempotent is up
  to its rule -- the ``write_value`` and ``kernel_arg_active`` helpers exist
  so ``fix_script`` templates can check before they write;
* the host guard: a section runs only on the host its snapshot names.  A
  full name (``compute-07.lab.example``) is compared in full with this
  machine's names (``uname -n``, and ``hostname -f`` when that is a short
  name), so it never applies on
  ``compute-07.prod.example``; a snapshot that knows only a short name
  matches a machine whose full name starts with it.  ``--host NAME`` says
  which host this is instead (compared the same way).  When the snapshot's
  host name is unknown, the dry run shows the steps but ``--apply`` refuses
  without ``--host NAME`` (NAME: the section's label).

sriovcheck itself never runs the script.
"""
from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..results import Report, Result, Status
from .common import PHASE_ORDER, PHASE_TITLES, host_labels, one_line, printable, run_timestamp

#: Anything but tab and newline that a terminal or bash could trip over.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_RUNNABLE_PHASES = ("kernel-cmdline", "module", "runtime", "guest")


@dataclass(frozen=True)
class Step:
    phase: str
    results: Tuple[Result, ...]
    #: Shell text to run with --apply; None for a step the operator does by hand.
    script: Optional[str]
    #: What the operator reads: the fix text (by hand) or the commands.
    text: str


def _phase(result: Result) -> str:
    return result.fix_phase if result.fix_phase in PHASE_ORDER else "none"


def _steps(report: Report) -> List[Step]:
    """A host's failures as steps, in phase order; identical commands merged into one step."""
    fails = [r for r in report.results if r.status == Status.FAIL]
    fails.sort(key=lambda r: (PHASE_ORDER.index(_phase(r)), -r.severity.rank, r.rule, r.subject.kind, r.subject.id))
    steps: List[Step] = []
    merged: Dict[Tuple[str, str], int] = {}
    for result in fails:
        phase = _phase(result)
        script = (result.fix_script or "").strip("\n")
        runnable = (phase in _RUNNABLE_PHASES and script.strip() != "" and not _CONTROL.search(script)
                    and printable(script) == script)
        if runnable:
            key = (phase, script)
            if key in merged:
                old = steps[merged[key]]
                steps[merged[key]] = Step(phase, old.results + (result,), old.script, old.text)
                continue
            merged[key] = len(steps)
            steps.append(Step(phase, (result,), script, script))
            continue
        text = result.fix or "no fix text was given for this finding"
        if script.strip() and phase in _RUNNABLE_PHASES:
            text += "\n\n(the suggested commands hold control characters, so they are not run:)\n" + script
        elif script.strip() and phase in ("firmware", "none"):
            text += "\n\nsuggested commands:\n" + script
        steps.append(Step(phase, (result,), None, text))
    return steps


def _comment(text: Any, prefix: str = "# ") -> List[str]:
    """Comment lines: each source line made single-line-safe, so nothing ends the comment early."""
    lines = str(text).split("\n")
    return [(prefix + one_line(line)).rstrip() for line in lines]


def _heredoc(text: str, tag: str) -> Tuple[str, List[str]]:
    """A quoted here-document delimiter no line of ``text`` equals, and the body lines.

    The delimiter carries a hash of the text, and is checked against every line anyway (and changed
    until no line equals it): bash ends a quoted here-document only at a line equal to its delimiter,
    so the body cannot end early whatever it holds.
    """
    lines = printable(text).split("\n")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    taken = set(lines)
    delimiter = f"{tag}_{digest[:12]}"
    n = 1
    while delimiter in taken:
        n += 1
        delimiter = f"{tag}_{digest[:12]}_{n}"
    return delimiter, lines


_PREAMBLE = r'''set -euo pipefail

usage() {
    printf '%s\n' \
        "Usage: bash SCRIPT [--apply] [--phase PHASE] [--host NAME]" \
        "" \
        "Without --apply nothing is changed: every step is printed with the exact" \
        "commands it would run.  Review them, then run again with --apply." \
        "" \
        "  --apply        make the changes (as root)" \
        "  --phase PHASE  only the steps of one phase:" \
        "                 firmware, kernel-cmdline, module, runtime, guest, none" \
        "  --host NAME    this machine is host NAME: use its section (default: this" \
        "                 machine's names, uname -n and hostname -f). Needed with" \
        "                 --apply when the snapshot did not say which host it is."
}

APPLY=0
ONLY_PHASE=""
HOST_NAME=""
HOST_GIVEN=0
while [ "$#" -gt 0 ]; do
    case "$1" in
        --apply) APPLY=1 ;;
        --dry-run) APPLY=0 ;;
        --phase)
            [ "$#" -ge 2 ] || { echo "--phase needs a value" >&2; exit 2; }
            ONLY_PHASE=$2
            shift ;;
        --host)
            [ "$#" -ge 2 ] || { echo "--host needs a value" >&2; exit 2; }
            HOST_NAME=$2
            HOST_GIVEN=1
            shift ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'unknown argument: %s\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case "$ONLY_PHASE" in
    ""|firmware|kernel-cmdline|module|runtime|guest|none) ;;
    *) printf 'unknown phase: %s\n' "$ONLY_PHASE" >&2; exit 2 ;;
esac
# This machine's names: the one given with --host, else the kernel's node name and the full name.
MACHINE_NAMES=()
if [ "$HOST_GIVEN" -eq 1 ]; then
    MACHINE_NAMES=("$HOST_NAME")
else
    HOST_NAME=$(uname -n)
    MACHINE_NAMES=("$HOST_NAME")
    if [[ "$HOST_NAME" != *.* ]]; then
        # The kernel knows only a short name: the full one comes from the resolver (hostname -f).
        FULL_NAME=$(hostname -f 2>/dev/null || true)
        if [ -n "$FULL_NAME" ] && [ "$FULL_NAME" != "$HOST_NAME" ]; then
            MACHINE_NAMES+=("$FULL_NAME")
            HOST_NAME="$HOST_NAME ($FULL_NAME)"
        fi
    fi
fi

STEP_SELECTED=0
CURRENT_STEP=""
HOST_MATCHED=0
RUN_COUNT=0
HAND_COUNT=0
REBOOT_NEEDED=0
RELOAD_NEEDED=0
UNNAMED_REFUSED=0
STEP_TEXT=""

on_exit() {
    local status=$?
    if [ "$status" -ne 0 ] && [ -n "$CURRENT_STEP" ]; then
        printf '\nstep %s failed (exit status %s); the steps after it were not run.\n' "$CURRENT_STEP" "$status" >&2
    fi
}
trap on_exit EXIT

# Helpers for fix_script templates: check before writing, so a second run changes nothing.
# write_value FILE VALUE: write VALUE to FILE (e.g. a sysfs attribute) unless it already holds it.
write_value() {
    local file=$1 value=$2 current=""
    if [ -r "$file" ]; then
        current=$(< "$file")
    fi
    if [ "$current" = "$value" ]; then
        printf '    %s already holds %s\n' "$file" "$value"
        return 0
    fi
    printf '%s\n' "$value" > "$file"
}

# kernel_arg_active ARG: true when the running kernel was booted with ARG (e.g. intel_iommu=on).
kernel_arg_active() {
    local cmdline
    cmdline=" $(< /proc/cmdline) "
    [[ "$cmdline" == *" $1 "* ]]
}

# name_matches NAME: true when NAME (a snapshot's host name) is this machine.  Names are compared in
# full (compute-07.lab.example never matches compute-07.prod.example, nor a machine that only knows
# itself as compute-07); a snapshot that knows only a short name matches a full name starting with it.
name_matches() {
    local want=${1,,} have
    for have in "${MACHINE_NAMES[@]}"; do
        have=${have,,}
        [ -n "$have" ] || continue
        if [ "$have" = "$want" ]; then
            return 0
        fi
        if [[ "$want" != *.* ]] && [ "${have%%.*}" = "$want" ]; then
            return 0
        fi
    done
    return 1
}

# host_section NAME: true when this section is for the host being fixed.
host_section() {
    if name_matches "$1"; then
        HOST_MATCHED=1
        host_banner "$1"
        return 0
    fi
    return 1
}

# unnamed_section LABEL ONLY: a section whose snapshot did not say which host it is (LABEL: where it
# was read from).  It applies only with --host LABEL; a script with no other section shows its dry run.
unnamed_section() {
    if [ "$HOST_GIVEN" -eq 1 ] && [ "$HOST_NAME" = "$1" ]; then
        HOST_MATCHED=1
        host_banner "$1"
        return 0
    fi
    if [ "$2" = only ] && [ "$HOST_GIVEN" -eq 0 ]; then
        HOST_MATCHED=1
        if [ "$APPLY" -eq 1 ]; then
            UNNAMED_REFUSED=1
            printf '\nThe snapshot of %s does not say which host it is, so nothing is applied.\n' "$1" >&2
            printf 'Run it on the host it was taken from with --apply --host %q to apply it there.\n' "$1" >&2
            return 1
        fi
        host_banner "$1"
        printf '    (the snapshot does not say which host it is: --apply needs --host %q)\n' "$1"
        return 0
    fi
    return 1
}

host_banner() {
    if [ "$APPLY" -eq 1 ]; then
        printf '\n######## host %s: applying changes\n' "$1"
    else
        printf '\n######## host %s: dry run, nothing is changed\n' "$1"
    fi
}

phase_selected() {
    [ -z "$ONLY_PHASE" ] || [ "$ONLY_PHASE" = "$1" ]
}

phase_header() {
    if phase_selected "$1"; then
        printf '\n==== %s\n' "$2"
    fi
}

print_lines() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do
        printf '      %s\n' "$line"
    done
}

# begin_step N PHASE KIND TITLE, with the step's text on stdin (KIND: run or hand).  The text is kept
# in STEP_TEXT as data: it is printed here and run only by run_step, only under --apply.
begin_step() {
    STEP_SELECTED=0
    STEP_TEXT=""
    IFS= read -r -d '' STEP_TEXT || true
    if ! phase_selected "$2"; then
        return 0
    fi
    STEP_SELECTED=1
    CURRENT_STEP=$1
    printf '\n[%s] %s\n' "$1" "$4"
    if [ "$3" = hand ]; then
        HAND_COUNT=$((HAND_COUNT + 1))
        printf '    by hand:\n'
    elif [ "$APPLY" -eq 1 ]; then
        RUN_COUNT=$((RUN_COUNT + 1))
        printf '    running:\n'
        if [ "$2" = kernel-cmdline ]; then
            REBOOT_NEEDED=1
        elif [ "$2" = module ]; then
            RELOAD_NEEDED=1
        fi
    else
        RUN_COUNT=$((RUN_COUNT + 1))
        printf '    would run:\n'
    fi
    printf '%s' "$STEP_TEXT" | print_lines
}

step_applies() {
    [ "$APPLY" -eq 1 ] && [ "$STEP_SELECTED" -eq 1 ]
}

# run_step: the step's text, in a subshell (it cannot change this script's state); errexit stops
# the script at the first failing command.  A text that does not parse on its own is refused before
# any of it runs (sriovcheck's rule loader refuses such a fix_script already).
run_step() {
    local complaint
    if ! complaint=$("$BASH" -n 2>&1 <<< "$STEP_TEXT") || [ -n "$complaint" ]; then
        printf 'step %s is not a complete bash fragment, so none of it was run: %s\n' "$CURRENT_STEP" "$complaint" >&2
        return 1
    fi
    ( eval "$STEP_TEXT" )
}
'''

_EPILOGUE = r'''
CURRENT_STEP=""
if [ "$UNNAMED_REFUSED" -eq 1 ]; then
    exit 1
fi
if [ "$HOST_MATCHED" -eq 0 ]; then
    printf 'This script has no section for host %s. Its hosts: %s\n' "$HOST_NAME" "$SRIOVCHECK_HOSTS" >&2
    printf 'Run it on one of them, or choose a section with --host NAME.\n' >&2
    exit 1
fi
echo
if [ "$APPLY" -eq 1 ]; then
    printf 'Done: %s steps run, %s to do by hand.\n' "$RUN_COUNT" "$HAND_COUNT"
    if [ "$RELOAD_NEEDED" -eq 1 ]; then
        echo "Module options changed: they apply when the driver is next loaded (see the steps above)."
    fi
    if [ "$REBOOT_NEEDED" -eq 1 ]; then
        echo "The kernel command line changed: reboot for it to take effect, then run 'sriovcheck check' again."
    fi
else
    printf 'Dry run: %s steps would run, %s are to do by hand. Nothing was changed.\n' "$RUN_COUNT" "$HAND_COUNT"
    echo "Review the commands above, then run this script again with --apply (as root) to make the changes."
fi
'''


def _step_title(step: Step) -> str:
    first = step.results[0]
    title = f"{first.rule} {first.name} ({first.severity.value}): {one_line(first.subject)}"
    if len(step.results) > 1:
        title += f" (+{len(step.results) - 1} more)"
    return title


def _render_step(number: int, step: Step) -> List[str]:
    lines = [""]
    for result in step.results:
        lines += _comment(f"[{number}] {result.rule} {result.name} ({result.severity.value}): {result.subject}")
        lines += _comment(result.message, "#     ")
    if step.script is None:
        lines += ["#   by hand:"]
        lines += _comment(step.text, "#     ")
    # The step's text is data here (a quoted here-document); run_step evaluates it only under --apply.
    delimiter, body = _heredoc(step.text, f"SRIOVCHECK_STEP_{number}")
    kind = "run" if step.script is not None else "hand"
    lines.append(f"begin_step {number} {step.phase} {kind} {shlex.quote(_step_title(step))} <<'{delimiter}'")
    lines += body
    lines.append(delimiter)
    if step.script is not None:
        lines.append("if step_applies; then")
        lines.append("    run_step")
        lines.append("fi")
    return lines


def _host_section(report: Report, label: str, first_step: int, only: bool) -> Tuple[List[str], int]:
    facts = report.facts
    lines = ["", "#" * 78]
    lines += _comment(f"host {label}: kernel {facts.kernel.release or 'unknown'}; "
                      f"source {facts.source.kind} {facts.source.location}")
    steps = _steps(report) if not report.source_error else []
    waived = sum(1 for r in report.results if r.status == Status.WAIVED)
    if report.source_error:
        lines += _comment(f"the source could not be read, so there is nothing to fix here: {report.source_error}")
    else:
        lines += _comment(f"{len(steps)} steps for {sum(len(s.results) for s in steps)} failures"
                          + (f"; {waived} waived findings are left out" if waived else ""))
    lines.append("#" * 78)
    if facts.hostname:
        lines.append(f"if host_section {shlex.quote(one_line(facts.hostname))}; then")
    else:
        # The snapshot does not say which host it is: applied only with --host LABEL.
        lines.append(f"if unnamed_section {shlex.quote(one_line(label))} {'only' if only else 'fleet'}; then")
    number = first_step
    if not steps:
        lines.append('echo "    nothing to fix on this host"')
    for phase in PHASE_ORDER:
        in_phase = [s for s in steps if s.phase == phase]
        if not in_phase:
            continue
        lines += ["", f"# ==== {PHASE_TITLES[phase]}"]
        lines.append(f"phase_header {phase} {shlex.quote(PHASE_TITLES[phase])}")
        for step in in_phase:
            lines += _render_step(number, step)
            number += 1
    lines += ["", "fi"]
    return lines, number


def render(reports: Sequence[Report], options: Any = None) -> str:
    labels = host_labels(reports)
    version = next((r.tool_version for r in reports if r.tool_version), "")
    timestamp = run_timestamp(options, reports)
    names = [one_line(r.facts.hostname or label) for r, label in zip(reports, labels)]
    lines = ["#!/usr/bin/env bash"]
    lines += _comment(f"SR-IOV fixes written by sriovcheck {version} at {timestamp} UTC for: {', '.join(labels)}")
    lines += [
        "#",
        "# Review every step before you run it. Without --apply this script changes nothing:",
        "# it prints each step and the exact commands it would run. With --apply (as root) it",
        "# runs them in order of disruption: firmware (by hand), kernel command line (reboot),",
        "# module options (driver reload), runtime, guest configuration. It stops at the first",
        "# failing command. sriovcheck itself never runs this script.",
        "#",
        "# Usage: bash THIS-SCRIPT [--apply] [--phase PHASE] [--host NAME]",
        "#",
        "# Values from the snapshot are single-quoted on purpose (they must never expand):",
        "# shellcheck disable=SC2016",
        "",
        _PREAMBLE.rstrip("\n"),
        "",
        f"SRIOVCHECK_HOSTS={shlex.quote(', '.join(names))}",
    ]
    number = 1
    for report, label in zip(reports, labels):
        section, number = _host_section(report, label, number, len(reports) == 1)
        lines += section
    lines.append(_EPILOGUE.rstrip("\n"))
    return "\n".join(lines) + "\n"
