"""An Ansible playbook with the fixes, beside the bash fix script (``--fix-ansible FILE``, ``-f ansible``).

The same steps as the fix script (:func:`sriovcheck.reporters.fixscript._steps`: failures only, identical
commands merged), grouped by the same disruption phases, in the same order: one play per host, one block per
phase, tagged with the phase name (``--tags runtime`` runs one phase, as the script's ``--phase``).

* **check mode friendly**: a runnable step is an ``ansible.builtin.shell`` task, which Ansible skips in
  check mode (``--check``), so a check run changes nothing and lists what would run; by-hand steps
  (firmware, no automatic fix) are ``debug`` tasks that print the instructions;
* **idempotent** as far as the rules' commands are: each task gets the fix script's helpers
  (``write_value`` writes a sysfs value only when it differs, ``kernel_arg_active`` tells whether the
  running kernel has an argument), and a task reports ``changed`` only when a helper wrote something or the
  step ran a command that is not a helper;
* **safe with hostile snapshots**: every value from the report (host names, messages, commands) is written
  as a YAML ``!unsafe`` string, so Ansible never evaluates a Jinja2 expression planted in a snapshot, and it
  is quoted by the YAML emitter;
* each play acts only on the host the report is about: its full name compared in full (a report that
  knows only a short name matches a full name starting with it), or ``-e sriovcheck_host=NAME`` to name
  the section for this machine, which a report without a host name needs; a kernel command line change notifies a handler that says a reboot
  is needed (sriovcheck never reboots anything).

sriovcheck itself never runs the playbook.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

import yaml

from ..results import Report, Status
from .common import PHASE_ORDER, PHASE_TITLES, host_labels, one_line, run_timestamp
from .fixscript import Step, _step_title, _steps

#: The fix script's helpers, for the fix_script templates that use them; a write prints the marker.
HELPERS = r'''write_value() {
    local file=$1 value=$2 current=""
    if [ -r "$file" ]; then
        current=$(< "$file")
    fi
    if [ "$current" = "$value" ]; then
        printf '%s already holds %s\n' "$file" "$value"
        return 0
    fi
    printf '%s\n' "$value" > "$file"
    echo "SRIOVCHECK-CHANGED: $file"
}
kernel_arg_active() {
    local cmdline
    cmdline=" $(< /proc/cmdline) "
    [[ "$cmdline" == *" $1 "* ]]
}
'''

#: Lines that only call a helper or print: the step changed something only if a helper said so.
_QUIET_PREFIXES = ("write_value ", "echo ", "printf ", "kernel_arg_active ", "if ", "fi", "then", "else", "#")


class Unsafe(str):
    """A string Ansible must not template: emitted with the ``!unsafe`` tag."""


class _Dumper(yaml.SafeDumper):
    pass


def _represent_unsafe(dumper: yaml.SafeDumper, value: Unsafe) -> Any:
    style = "|" if "\n" in value and not any(ord(c) < 32 and c not in "\n\t" for c in value) else "'"
    return dumper.represent_scalar("!unsafe", str(value), style=style)


_Dumper.add_representer(Unsafe, _represent_unsafe)


def _only_helpers(script: str) -> bool:
    lines = [line.strip() for line in script.splitlines() if line.strip()]
    return bool(lines) and all(line.startswith(_QUIET_PREFIXES) for line in lines)


def _task(step: Step) -> Dict[str, Any]:
    name = Unsafe(f"[{step.phase}] {_step_title(step)}")
    if step.script is None:
        return {"name": name, "ansible.builtin.debug": {"msg": Unsafe(f"by hand: {step.text}")}}
    task: Dict[str, Any] = {
        "name": name,
        "ansible.builtin.shell": {"cmd": Unsafe(HELPERS + "set -e\n" + step.script + "\n"),
                                  "executable": "/bin/bash"},
        "register": "sriovcheck_step",
        "changed_when": ("'SRIOVCHECK-CHANGED:' in sriovcheck_step.stdout" if _only_helpers(step.script)
                         else True),
    }
    if step.phase == "kernel-cmdline":
        task["notify"] = "sriovcheck reboot needed"
    elif step.phase == "module":
        task["notify"] = "sriovcheck driver reload needed"
    return task


#: Like the fix script's host guard: the report's full name is compared in full (compute-07.lab.example
#: never acts on compute-07.prod.example); a report that knows only a short name matches a full name
#: starting with it; -e sriovcheck_host=NAME names the target by hand.
_OTHER_HOST = ("not ((sriovcheck_host | default(inventory_hostname) | lower) == (sriovcheck_report_host | lower) or "
               "('.' not in sriovcheck_report_host and "
               "(sriovcheck_host | default(inventory_hostname) | lower).split('.')[0] == "
               "(sriovcheck_report_host | lower)))")
#: A report whose host name is unknown acts only where -e sriovcheck_host=LABEL says so.
_UNNAMED_HOST = "sriovcheck_host is not defined or sriovcheck_host != sriovcheck_report_host"


def _play(report: Report, label: str) -> Dict[str, Any]:
    known = bool(report.facts.hostname)
    name = one_line(report.facts.hostname or label)
    steps = _steps(report) if not report.source_error else []
    tasks: List[Dict[str, Any]] = [{
        "name": ("act only on the host this report is about" if known else
                 Unsafe("the report does not say which host it is: act only with -e sriovcheck_host=" + name)),
        "ansible.builtin.meta": "end_host",
        "when": _OTHER_HOST if known else _UNNAMED_HOST,
    }]
    if report.source_error:
        tasks.append({"name": "nothing to fix: the source could not be read",
                      "ansible.builtin.debug": {"msg": Unsafe(report.source_error)}})
    elif not steps:
        tasks.append({"name": "nothing to fix on this host", "ansible.builtin.debug": {"msg": "no failures"}})
    for phase in PHASE_ORDER:
        in_phase = [s for s in steps if s.phase == phase]
        if in_phase:
            tasks.append({"name": PHASE_TITLES[phase], "tags": [phase], "block": [_task(s) for s in in_phase]})
    waived = sum(1 for r in report.results if r.status == Status.WAIVED)
    return {
        "name": Unsafe(f"sriovcheck fixes for {name}"
                       + (f" ({waived} waived findings left out)" if waived else "")),
        "hosts": "all",
        "become": True,
        "gather_facts": False,
        "vars": {"sriovcheck_report_host": Unsafe(name)},
        "tasks": tasks,
        "handlers": [
            {"name": "sriovcheck reboot needed",
             "ansible.builtin.debug": {"msg": "The kernel command line changed: reboot for it to take effect, "
                                              "then run 'sriovcheck check' again."}},
            {"name": "sriovcheck driver reload needed",
             "ansible.builtin.debug": {"msg": "Module options changed: they apply when the driver is next "
                                              "loaded."}},
        ],
    }


def render(reports: Sequence[Report], options: Any = None) -> str:
    labels = host_labels(reports)
    version = next((r.tool_version for r in reports if r.tool_version), "")
    header = [
        "---",
        f"# SR-IOV fixes written by sriovcheck {version} at {run_timestamp(options, reports)} UTC for: "
        + one_line(", ".join(labels)),
        "# Review every task before you run it. sriovcheck itself never runs this playbook.",
        "#   ansible-playbook -i INVENTORY THIS-FILE --check --diff    # changes nothing, lists the steps",
        "#   ansible-playbook -i INVENTORY THIS-FILE                   # applies them, by disruption phase",
        "#   ... --tags runtime                                        # one phase: " + ", ".join(PHASE_ORDER),
        "#   ... -e sriovcheck_host=NAME                               # treat the target as host NAME",
    ]
    plays = [_play(report, label) for report, label in zip(reports, labels)]
    body = yaml.dump(plays, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000,
                     default_flow_style=False)
    return "\n".join(header) + "\n" + body
