"""The ``sriovcheck`` command line."""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from . import __version__
from .errors import SriovcheckError, UsageError
from .signals import Terminated, terminate_on_signals

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

OUTPUT_FILES_HELP = """\
output files: every FILE (-o, --json, --junit-xml, --html, --markdown, --fix-script, capture's -o) is
  written to a temporary file beside it and renamed into place when complete, so the previous file stays
  whole if the run fails or the disk is full.  FILE must be a new path or a regular file: a device,
  fifo, directory or symbolic link (e.g. /dev/null, /dev/stdout) is refused (exit 2); for standard
  output give no FILE (or -).  Two outputs on one path, or an output that is an input, are refused.
"""

EXIT_CODES_HELP = """\
exit codes:
  0  verdict pass, warn or incomplete: no fail (and no check error) at or above --fail-on
  1  verdict fail or error: a fail or a check error at or above --fail-on; also verdict
     incomplete with --require-complete (implied by --profile audit)
  2  usage error, or input that cannot be used (bad rule/waiver file, unreadable SOURCE;
     with several SOURCEs, or an archive of a SOURCE folder that cannot be read, the readable
     ones are still checked and reported; entries of a folder that are no snapshot are listed
     as skipped and do not count), or an output that cannot be written (refused path, full
     disk, failing standard output)
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM), 129 hung up (SIGHUP): workers stopped,
       temporary files removed, no half-written output
"""

CHECK_EPILOG = EXIT_CODES_HELP + "\n" + OUTPUT_FILES_HELP + """
SOURCE is one of (detected, or forced with --source-kind):
  (nothing)           the host sriovcheck runs on, read-only
  DIR                 a copy of a host's root: DIR/sys, DIR/proc, DIR/etc ...
  FILE.tar.gz | DIR   an archive or directory written by 'sriovcheck capture'
  sosreport-*.tar.xz  a sosreport (sos 3.x/4.x), or its extracted directory

examples:
  sriovcheck check                                  audit this host
  sriovcheck check --profile audit --fail-on warning
  sriovcheck check capture.tar.gz --junit-xml sriov.xml --html sriov.html
  sriovcheck check sosreport-host1-2026.tar.xz --select SRIOV201,iommu-enabled
  sriovcheck check --waivers waivers.yaml --rules site-rules/ -f json -o report.json
"""

#: --OPTION FILE  ->  output format written to FILE alongside the console output.
FILE_OUTPUTS: Tuple[Tuple[str, str], ...] = (
    ("json", "json"), ("junit_xml", "junit"), ("html", "html"), ("markdown", "markdown"),
    ("fix_script", "fix-script"), ("fix_ansible", "ansible"),
)


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line and exit 2."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_log_options(p: argparse.ArgumentParser, top: bool = False) -> None:
    """-v/-vv/-q: diagnostics on stderr (sriovcheck/log.py), never mixed with the report on stdout."""
    default: Any = 0 if top else argparse.SUPPRESS
    p.add_argument("-v", "--verbose", action="count", default=default,
                   help="log on stderr what was read from where and how long each phase took (-vv: every read)")
    p.add_argument("-q", "--quiet", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="log only errors on stderr")


def _split(values: Optional[Sequence[str]]) -> List[str]:
    out: List[str] = []
    for value in values or ():
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _add_rule_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("rules and plugins")
    g.add_argument("--rules", action="append", default=[], metavar="PATH",
                   help="extra rule file or directory (repeatable); a rule with a built-in id replaces it")
    g.add_argument("--checks-dir", action="append", default=[], metavar="DIR",
                   help="load check plugins from DIR/*.py (repeatable)")
    g.add_argument("--no-entry-points", action="store_true",
                   help="do not load installed plugins (entry-point group 'sriovcheck')")


def _add_source_options(p: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        p.add_argument("sources", nargs="*", metavar="SOURCE",
                       help="what to check (default: this host); several, or a directory of archives")
    else:
        p.add_argument("source", nargs="?", metavar="SOURCE", help="what to read (default: this host)")
    p.add_argument("--source-kind", metavar="KIND",
                   help="force the source kind: live, root, capture, sosreport")
    p.add_argument("--no-commands", action="store_true",
                   help="live host: read files only, run no commands (lspci, ip, ethtool...)")
    g = p.add_argument_group("limits (untrusted input; see SECURITY.md)")
    g.add_argument("--command-timeout", type=_seconds, default=None, metavar="SECONDS",
                   help="live host: kill a command after this long (default: 10)")
    g.add_argument("--max-member-size", type=_size, default=None, metavar="SIZE",
                   help="archives: largest file read from one, e.g. 64M (default: 64M)")
    g.add_argument("--max-archive-size", type=_size, default=None, metavar="SIZE",
                   help="archives: most content kept from one, e.g. 2G (default: 2G)")
    g.add_argument("--max-members", type=_count, default=None, metavar="N",
                   help="archives: most members one may hold (default: 200000)")
    g.add_argument("--max-ratio", type=_count, default=None, metavar="N",
                   help="archives: refuse one that expands more than N times its size (default: 200)")


_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


def _size(text: str) -> int:
    """``65536``, ``64K``, ``64M``, ``2G`` (powers of 1024; a trailing ``B``/``iB`` is allowed)."""
    value = text.strip().upper().replace("IB", "").rstrip("B")
    unit = value[-1:] if value[-1:] in _UNITS and value[-1:] else ""
    number = value[:-1] if unit else value
    if not number.isdigit() or int(number) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 64M or 2G")
    return int(number) * _UNITS[unit]


def _count(text: str) -> int:
    if not text.strip().isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 < SECONDS <= 86400)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sriovcheck",
        description="SR-IOV diagnostic and compliance checker for Linux/KVM hosts. It reads the host (or a "
                    "snapshot of one), checks the whole SR-IOV chain from firmware to guest, and gives every "
                    "failure a concrete fix. It never changes the host.",
        epilog=EXIT_CODES_HELP + "\nRun 'sriovcheck COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sriovcheck {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    _add_log_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str, epilog: str = "") -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if name != "check":  # check's -v also details the report (below)
            _add_log_options(p)
        return p

    p = command("check", "check a host or snapshot against the SR-IOV rules", CHECK_EPILOG)
    _add_source_options(p, many=True)
    _add_rule_options(p)
    g = p.add_argument_group("selection")
    g.add_argument("--profile", default=None, help="rule profile: default, or audit (stricter, pre-deployment)")
    g.add_argument("--select", action="append", metavar="RULES",
                   help="run only these rules: ids, names or tags, comma-separated (repeatable)")
    g.add_argument("--ignore", action="append", metavar="RULES", help="skip these rules: ids, names or tags")
    g.add_argument("--waivers", metavar="FILE", help="YAML file of accepted findings (rule, subject, reason, expires)")
    g.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default=None,
                   help="lowest severity whose fail gives exit code 1 (default: the profile's, 'error')")
    g.add_argument("--require-complete", action="store_true", default=None,
                   help="exit 1 when a rule at or above --fail-on could not be judged (verdict incomplete); "
                        "implied by --profile audit")
    g.add_argument("--today", metavar="YYYY-MM-DD", help=argparse.SUPPRESS)
    o = p.add_argument_group("output")
    o.add_argument("-f", "--format", default="text",
                   help="format on stdout (or -o FILE): text, json, junit, html, markdown, fix-script, ansible")
    o.add_argument("-o", "--output", metavar="FILE",
                   help="write the --format output to FILE instead of stdout (a new path or a regular file; "
                        "see 'output files' below)")
    o.add_argument("--json", metavar="FILE", help="also write JSON to FILE")
    o.add_argument("--junit-xml", metavar="FILE", help="also write JUnit XML to FILE")
    o.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report to FILE")
    o.add_argument("--markdown", metavar="FILE", help="also write a Markdown summary to FILE")
    o.add_argument("--fix-script", metavar="FILE", help="also write a bash fix script to FILE (never run by sriovcheck)")
    o.add_argument("--fix-ansible", metavar="FILE",
                   help="also write an Ansible playbook of the fixes to FILE (by phase; never run by sriovcheck)")
    o.add_argument("--timestamp", metavar="ISO8601",
                   help="timestamp for JUnit (default: SOURCE_DATE_EPOCH, else now) for reproducible output")
    o.add_argument("--junit-warnings", choices=("failure", "skipped", "pass"), default="failure",
                   help="how a warning-severity fail appears in JUnit (default: failure)")
    o.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the text output")
    o.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                   help="list passing results and all evidence; on stderr, what was read from where and how long "
                        "each phase took (-vv: every file and command read)")
    o.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="log only errors on stderr")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="check N sources in parallel (default: all cores)")

    p = command("facts", "show what sriovcheck knows about a host and where each fact came from")
    _add_source_options(p)
    p.add_argument("-f", "--format", choices=("text", "json"), default="text",
                   help="text for people (default), or json (sriovcheck.facts/1)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")

    p = command("capture", "write a snapshot archive of this host's SR-IOV evidence (read-only on the host)",
                OUTPUT_FILES_HELP)
    p.add_argument("-o", "--output", metavar="FILE",
                   help="archive to write (default: sriovcheck-HOST-UTCTIME.tar.gz in the current directory); "
                        "an existing DIR gets the default name inside it; a device, fifo or symbolic link "
                        "(/dev/stdout) is refused: the archive is never streamed")
    p.add_argument("--redact", action="store_true",
                   help="replace hostnames, IP addresses and serial numbers consistently and remove the machine "
                        "id and DMI serial/UUID (MACs are kept)")
    p.add_argument("--root", metavar="DIR", help=argparse.SUPPRESS)  # capture a root directory (tests)
    p.add_argument("--no-commands", action="store_true", help="read files only, run no commands")

    p = command("rules", "list the rules")
    _add_rule_options(p)
    p.add_argument("-f", "--format", choices=("text", "json"), default="text",
                   help="text table (default; a PROFILES column says which profiles run each rule), or json")
    p.add_argument("--profile", default=None, help="list the rules of this profile only")
    p.add_argument("--validate", action="store_true", help="also compile every fix template (exit 2 on error)")

    p = command("explain", "show a rule's description, rationale, fix template and references")
    p.add_argument("rule", metavar="ID|NAME", help="a rule id (SRIOV201) or name (vf-zero-mac)")
    _add_rule_options(p)

    p = command("plugins", "list loaded plugins, their checks, output formats and source kinds")
    _add_rule_options(p)

    p = command("fix-script", "write a bash script with the fixes for a host's failures (never run by sriovcheck)")
    _add_source_options(p)
    _add_rule_options(p)
    p.add_argument("--profile", default=None, help="rule profile: default, or audit (stricter, pre-deployment)")
    p.add_argument("--select", action="append", metavar="RULES",
                   help="fix only these rules: ids, names or tags, comma-separated (repeatable)")
    p.add_argument("--ignore", action="append", metavar="RULES", help="leave these rules out: ids, names or tags")
    p.add_argument("--waivers", metavar="FILE",
                   help="YAML file of accepted findings: a waived finding gets no fix")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")

    p = command("diff", "compare two snapshots of one host: results and facts that changed",
                "exit codes: 0 nothing changed, 1 something changed (like diff(1)), 2 usage or input error\n\n"
                "example:\n  sriovcheck diff before.tar.gz after.tar.gz -f markdown")
    p.add_argument("old", metavar="OLD", help="the earlier snapshot (capture, sosreport or root directory)")
    p.add_argument("new", metavar="NEW", help="the later snapshot of the same host")
    p.add_argument("--source-kind", metavar="KIND",
                   help="force the kind of both snapshots: root, capture, sosreport")
    _add_rule_options(p)
    p.add_argument("--profile", default=None, help="rule profile both are checked with: default, or audit")
    p.add_argument("--waivers", metavar="FILE",
                   help="YAML file of accepted findings, applied to both snapshots as in 'check'")
    p.add_argument("-f", "--format", choices=("text", "json", "markdown"), default="text",
                   help="text (default), json or markdown")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    return parser


# -- shared steps ----------------------------------------------------------------------------------

def _registry(args: argparse.Namespace, judging: bool = True) -> Any:
    """The plugins; ``judging=False`` (capture, facts): the built-in checks and formats are not loaded."""
    from .log import LOG, phase
    from .plugins import load_plugins

    with phase("loading plugins"):
        registry = load_plugins([Path(d) for d in getattr(args, "checks_dir", [])],
                                entry_points=not getattr(args, "no_entry_points", False), judging=judging)
    LOG.info("%d plugins: %d checks, %d output formats", len(registry.plugins), len(registry.checks),
             len(registry.reporters))
    return registry


def _rules_and_profile(args: argparse.Namespace, registry: Any) -> Tuple[List[Any], Any, List[Any]]:
    from .log import LOG, phase
    from .ruleset import load_profiles, load_rules

    extra = [Path(p) for p in getattr(args, "rules", [])]
    with phase("loading rules"):
        all_rules = load_rules(registry, extra)
        profiles = load_profiles(registry, extra)
    LOG.info("%d rules (built in%s), %d profiles", len(all_rules),
             "".join(f", {p}" for p in extra), len(profiles))
    name = getattr(args, "profile", None) or "default"
    if name not in profiles:
        raise UsageError(f"unknown --profile {name!r} (known: {', '.join(sorted(profiles))})")
    return all_rules, profiles[name], all_rules


def _one_line(message: object) -> str:
    """An error message as one terminal-safe line: it may quote names from a hostile snapshot or
    rule file, so newlines, escape sequences and bidi controls are shown escaped."""
    from .reporters.common import one_line

    return one_line(message)


def _write(path: Optional[str], text: str) -> None:
    from .log import LOG

    LOG.info("writing %d characters to %s", len(text), "stdout" if path in (None, "-") else path)
    from .output import is_stdout, write_file, write_stdout

    if is_stdout(path):
        write_stdout(text)
    else:
        assert path is not None
        write_file(path, text)


def _write_chunks(path: Optional[str], chunks: Iterator[str]) -> None:
    from .log import LOG
    from .output import is_stdout, write_file_chunks, write_stdout_chunks

    LOG.info("writing to %s as it is rendered", "stdout" if path in (None, "-") else path)
    if is_stdout(path):
        write_stdout_chunks(chunks)
    else:
        assert path is not None
        write_file_chunks(path, chunks)


def _check_outputs(outputs: Sequence[Tuple[str, Optional[str]]], args: argparse.Namespace,
                   sources: Sequence[Optional[str]] = ()) -> None:
    """Before any work: no two outputs on one path, no output over an input, only regular files replaced."""
    from .output import check_outputs

    inputs: List[Optional[str]] = list(sources)
    inputs += list(getattr(args, "rules", None) or ())
    inputs.append(getattr(args, "waivers", None))
    check_outputs(outputs, inputs)


def _timestamp(args: argparse.Namespace) -> str:
    given = getattr(args, "timestamp", None)
    if given:
        try:
            moment = _dt.datetime.fromisoformat(given.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"--timestamp {given!r} is not ISO 8601 (e.g. 2026-01-31T12:00:00)") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return moment.replace(microsecond=0).isoformat()
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc).replace(tzinfo=None).isoformat()
        except (ValueError, OverflowError, OSError):
            raise UsageError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds") from None
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0, tzinfo=None).isoformat()


def _today(args: argparse.Namespace) -> Optional[_dt.date]:
    if getattr(args, "today", None):
        try:
            return _dt.date.fromisoformat(args.today)
        except ValueError:
            raise UsageError(f"--today {args.today!r} is not a date like 2026-01-31") from None
    return None


def _source_options(args: argparse.Namespace) -> Any:
    from .sources import SourceOptions

    given = {"command_timeout": getattr(args, "command_timeout", None),
             "max_member_bytes": getattr(args, "max_member_size", None),
             "max_total_bytes": getattr(args, "max_archive_size", None),
             "max_members": getattr(args, "max_members", None),
             "max_ratio": getattr(args, "max_ratio", None)}
    return SourceOptions(run_commands=not getattr(args, "no_commands", False),
                         **{key: value for key, value in given.items() if value is not None})


# -- commands --------------------------------------------------------------------------------------

def _run_config(args: argparse.Namespace, registry: Any, rules: Sequence[Any] = (), profile: str = "default",
                waivers: Sequence[Any] = ()) -> Any:
    """The one RunConfig of this command line (rules, profile, waivers, source options, dates, jobs)."""
    from .runconfig import RunConfig

    return RunConfig.of(registry, rules, profile=profile, waivers=waivers, today=_today(args),
                        source_kind=getattr(args, "source_kind", None), source_options=_source_options(args),
                        jobs=getattr(args, "jobs", 0) or 0)


def cmd_check(args: argparse.Namespace) -> int:
    from .reporters import RenderOptions
    from .ruleset import select_rules
    from .waivers import load_waivers

    registry = _registry(args)
    all_rules, profile, _ = _rules_and_profile(args, registry)
    rules = select_rules(all_rules, registry, profile, _split(args.select), _split(args.ignore))
    waivers = load_waivers(Path(args.waivers), all_rules) if args.waivers else []
    fail_on = args.fail_on or profile.fail_on
    require_complete = bool(args.require_complete or profile.require_complete)

    wanted: List[Tuple[str, Optional[str]]] = [(args.format, args.output)]
    given: List[Tuple[str, Optional[str]]] = [("-o", args.output)]
    for option, fmt in FILE_OUTPUTS:
        if getattr(args, option, None):
            wanted.append((fmt, getattr(args, option)))
            given.append(("--" + option.replace("_", "-"), getattr(args, option)))
    for fmt, _ in wanted:
        if fmt not in registry.reporters:
            raise UsageError(f"unknown output format {fmt!r} (known: {', '.join(sorted(registry.reporters))})")
    timestamp = _timestamp(args)
    config = _run_config(args, registry, rules, profile.name, waivers)
    color = args.color == "always" or (args.color == "auto" and args.output in (None, "-")
                                       and sys.stdout is not None and sys.stdout.isatty()
                                       and os.environ.get("NO_COLOR") is None)

    from .discovery import discover
    from .fleet import check_many, map_reports

    found = discover(args.sources, registry, args.source_kind)
    sources = list(found.sources)
    from .log import LOG, phase

    _check_outputs(given, args, list(args.sources) + list(sources))
    for entry in found.skipped:  # also listed in the reports; the exit code does not change
        LOG.warning("skipped %s (%s)", entry.path, entry.reason)
    LOG.info("checking %d source(s) with %d rules, profile %s", len(sources), len(rules), profile.name)
    # The gate travels with each report: its verdict and every format's banner follow it.  A fleet's
    # workers apply it before they pack and summarise each report (and render its text section, when
    # text is written), so the parent writes the text output and finds the exit code without unpacking.
    def gate(report: Any) -> Any:
        return replace(report, fail_on=fail_on, require_complete=require_complete)

    text_options = next(((color and path in (None, "-"), bool(args.verbose)) for fmt, path in wanted
                         if fmt == "text"), None)
    with phase("reading and checking"):
        reports = check_many(sources, config, formats=[fmt for fmt, _ in wanted], prepare=gate,
                             text_options=text_options)
    reports = map_reports(reports, gate)  # a fleet's: already applied, nothing changes
    # Files first, standard output last: a failing stdout (exit 2) still leaves every report file.
    for fmt, path in sorted(wanted, key=lambda item: item[1] in (None, "-")):
        options = RenderOptions(color=color and fmt == "text" and path in (None, "-"), verbose=bool(args.verbose),
                                timestamp=timestamp, junit_warnings=args.junit_warnings, fail_on=fail_on,
                                skipped_entries=found.skipped)
        render = registry.reporters[fmt].render
        with phase(f"rendering {fmt}"):
            if len(reports) > 1 or fmt == "json":
                # A fleet: written host by host as it is rendered (the parent's memory stays flat);
                # one host's JSON: written piece by piece (a 4,096-VF report is 14 MB of text).
                from .reporters.stream import chunks_for

                chunks = chunks_for(render)
                if chunks is not None:
                    _write_chunks(path, chunks(reports, options))
                    continue
            rendered = render(reports, options)
        _write(path, rendered)
    errors, gate_failed = [], False
    summaries = getattr(reports, "summaries", None)
    if summaries is not None:  # a fleet: each host's summary says it, no report is unpacked
        errors = [s.source_error for s in summaries if s.source_error]
        gate_failed = any(s.gate_failed for s in summaries if not s.source_error)
    for report in reports if summaries is None else ():  # one pass: packed reports are unpacked one at a time
        if report.source_error:
            errors.append(report.source_error)
        elif not gate_failed:
            gate_failed = report.gate_failed()
    if errors:
        for error in errors:
            print(f"sriovcheck: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FINDINGS if gate_failed else EXIT_OK


def cmd_facts(args: argparse.Namespace) -> int:
    from .factsview import render_facts
    from .fleet import collect

    registry = _registry(args, judging=False)
    _check_outputs([("-o", args.output)], args, [args.source])
    facts = collect(args.source, _run_config(args, registry))
    _write(args.output, render_facts(facts, args.format))
    return EXIT_OK


def cmd_capture(args: argparse.Namespace) -> int:
    from .capture import write_capture
    from .log import LOG, phase
    from .output import write_stdout

    if args.output is not None and not Path(args.output).is_dir():  # a folder gets the default name inside
        _check_outputs([("-o", args.output)], args, [args.root])
    LOG.info("capturing %s%s", args.root or "this host", " (redacted)" if args.redact else "")
    with phase("capture"):
        path = write_capture(args.output, redact=args.redact, root=args.root, run_commands=not args.no_commands,
                             progress=sys.stderr is not None and sys.stderr.isatty(), registry=_registry(args, judging=False))
    LOG.info("wrote %s", path)
    write_stdout(path + "\n")
    return EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    import json

    from .ruleset import select_rules

    registry = _registry(args)
    all_rules, profile, _ = _rules_and_profile(args, registry)
    rules = select_rules(all_rules, registry, profile) if args.profile else all_rules
    if args.validate:
        from .templating import TemplateError, compile_template

        for rule in rules:
            for field_name, shell in (("fix", False), ("fix_script", True)):
                source = getattr(rule, field_name)
                if source is None:
                    continue
                try:
                    compile_template(source, shell=shell)
                except TemplateError as exc:
                    raise UsageError(f"{rule.origin}: {rule.id} {field_name}: {exc}") from exc
        # Every fix_script, the built-in ones included, parses as a bash fragment on its own.
        from .ruleset import check_fix_scripts

        check_fix_scripts(rules)
    if args.format == "json":
        data = [{"id": r.id, "name": r.name, "severity": r.severity.value, "title": r.title, "check": r.check,
                 "tags": list(r.tags), "profiles": list(r.profiles), "origin": r.origin} for r in rules]
        _write(None, json.dumps(data, indent=2) + "\n")
        return EXIT_OK
    from .ruleset import load_profiles

    # Which profiles run each rule: a rule can be limited to some (audit-only), or a profile can select.
    runs_in: dict[str, list[str]] = {}
    for name, each in sorted(load_profiles(registry, [Path(p) for p in args.rules]).items()):
        for chosen in select_rules(all_rules, registry, each):
            runs_in.setdefault(chosen.id, []).append(name)
    width = max((len(r.name) for r in rules), default=10)
    lines = [f"{'ID':<9} {'NAME':<{width}} {'SEVERITY':<8} {'PROFILES':<16} {'CHECK':<24} TITLE"]
    for r in rules:
        profiles = ",".join(runs_in.get(r.id, [])) or "(none)"
        lines.append(f"{r.id:<9} {r.name:<{width}} {r.severity.value:<8} {profiles:<16} {r.check:<24} {r.title}")
    lines.append(f"{len(rules)} rules; 'sriovcheck explain ID' for details")
    _write(None, "\n".join(lines) + "\n")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from .ruleset import find_rule, load_rules

    registry = _registry(args)
    rules = load_rules(registry, [Path(p) for p in args.rules])
    rule = find_rule(rules, args.rule)
    if rule is None:
        import difflib

        names = [r.id for r in rules] + [r.name for r in rules]
        close = difflib.get_close_matches(args.rule, names, n=1, cutoff=0.6) or difflib.get_close_matches(
            args.rule.upper(), [r.id for r in rules], n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"no rule with id or name {args.rule!r}{hint} (see 'sriovcheck rules')")
    spec = registry.check(rule.check)
    out = [f"{rule.id} {rule.name} [{rule.severity.value}]: {rule.title}", ""]
    out += ["Description:", *("  " + line for line in rule.description.strip().splitlines()), ""]
    out += ["Rationale:", *("  " + line for line in rule.rationale.strip().splitlines()), ""]
    out += [f"Check: {rule.check} ({spec.origin if spec else 'not loaded'})"]
    if rule.params:
        out.append("Params:")
        for key, value in sorted(rule.params.items()):
            helptext = spec.params[key].help if spec and key in spec.params else ""
            shown = repr(value)
            if len(shown) > 100:
                # Data tables (NIC models, caveats) are long: point at them instead of flooding the terminal.
                size = f"{len(value)} entries" if isinstance(value, (list, dict)) else f"{len(shown)} characters"
                shown = f"<table of {size}; see {rule.origin}>"
            out.append(f"  {key} = {shown}" + (f"  -- {helptext}" if helptext else ""))
    out += ["", f"Fix ({rule.fix_phase}), a template filled in for each finding:",
            *("  " + line for line in rule.fix.strip().splitlines())]
    if rule.references:
        out += ["", "References:", *(f"  - {ref}" for ref in rule.references)]
    if rule.tags:
        out += ["", f"Tags: {', '.join(rule.tags)}"]
    out += [f"Defined at: {rule.origin}"]
    _write(None, "\n".join(out) + "\n")
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    registry = _registry(args)
    lines = []
    for info in registry.plugins:
        lines.append(f"{info.name}  [{info.origin}]")
        for label, names in (("checks", info.checks), ("formats", info.reporters), ("sources", info.sources)):
            if names:
                lines.append(f"    {label}: {', '.join(sorted(names))}")
    lines.append(f"{len(registry.checks)} checks, {len(registry.reporters)} output formats, "
                 f"{len(registry.sources) + 1} source kinds (live included)")
    _write(None, "\n".join(lines) + "\n")
    return EXIT_OK


def cmd_fix_script(args: argparse.Namespace) -> int:
    from .engine import run
    from .fleet import collect
    from .reporters import RenderOptions
    from .ruleset import select_rules
    from .waivers import load_waivers

    registry = _registry(args)
    all_rules, profile, _ = _rules_and_profile(args, registry)
    rules = select_rules(all_rules, registry, profile, _split(args.select), _split(args.ignore))
    waivers = load_waivers(Path(args.waivers), all_rules) if args.waivers else []
    _check_outputs([("-o", args.output)], args, [args.source])
    config = _run_config(args, registry, rules, profile.name, waivers)
    facts = collect(args.source, config)
    report = run(facts, config.rules, registry, profile=config.profile, waivers=config.waivers)
    if "fix-script" not in registry.reporters:
        raise UsageError("the fix-script output format is not available")
    _write(args.output, registry.reporters["fix-script"].render([report], RenderOptions()))
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import RENDERERS, compare
    from .engine import run
    from .ruleset import select_rules

    registry = _registry(args)
    all_rules, profile, _ = _rules_and_profile(args, registry)
    rules = select_rules(all_rules, registry, profile)
    _check_outputs([("-o", args.output)], args, [args.old, args.new])
    from .waivers import load_waivers

    waivers = load_waivers(Path(args.waivers), all_rules) if args.waivers else []
    config = _run_config(args, registry, rules, profile.name, waivers)
    from .identity import collect_identified, different_hosts

    (old_facts, old_id), (new_facts, new_id) = (collect_identified(location, config)
                                                for location in (args.old, args.new))
    old, new = (run(facts, config.rules, registry, profile=config.profile, waivers=waivers, today=config.today)
                for facts in (old_facts, new_facts))
    warning = different_hosts(old_id, new_id)
    if warning:  # on stderr, and in the diff itself (text, Markdown, JSON "warnings")
        print(f"sriovcheck: warning: {_one_line(warning)}", file=sys.stderr)
    diff = compare(old, new, warnings=(warning,) if warning else ())
    _write(args.output, RENDERERS[args.format](diff))
    return EXIT_OK if diff.empty else EXIT_FINDINGS


COMMANDS = {
    "check": cmd_check, "facts": cmd_facts, "capture": cmd_capture, "rules": cmd_rules,
    "explain": cmd_explain, "plugins": cmd_plugins, "fix-script": cmd_fix_script, "diff": cmd_diff,
}


#: The cyclic garbage collector's first-generation threshold for a command-line run (CPython's default
#: is 700).  A run allocates hundreds of thousands of objects that live to its end (facts, results,
#: rendered pieces) and makes few reference cycles: at the default, collections that find nothing
#: took about a sixth of the CPU time of a 4,096-VF host's check.  Peak memory did not change.
GC_THRESHOLD = 10_000


@contextmanager
def command_line_collector() -> Iterator[None]:
    """The garbage collector as a command-line run sets it (GC_THRESHOLD), restored on leaving: main()
    runs in it, and benchmarks/ measure pieces of a run in it too."""
    thresholds = gc.get_threshold()
    if thresholds[0] < GC_THRESHOLD:
        gc.set_threshold(GC_THRESHOLD, 50, 100)
    try:
        yield
    finally:  # called in-process (tests, scripts): the caller's collector as it was
        gc.set_threshold(*thresholds)


def main(argv: Optional[Sequence[str]] = None) -> int:
    with command_line_collector():
        return _main(argv)


def _main(argv: Optional[Sequence[str]]) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = parser.parse_args(argv)
        from .log import configure

        configure(getattr(args, "verbose", 0) or 0, getattr(args, "quiet", False))
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        started = time.perf_counter()
        with terminate_on_signals():  # SIGTERM/SIGHUP clean up like Ctrl-C, then exit 143/129
            code = COMMANDS[args.command](args)
        if debug:
            print(f"sriovcheck: {args.command} took {time.perf_counter() - started:.3f}s", file=sys.stderr)
        return code
    except SriovcheckError as exc:
        if debug:  # the traceback, but the documented exit code all the same
            import traceback

            traceback.print_exc(file=sys.stderr)
        print(f"sriovcheck: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sriovcheck: interrupted", file=sys.stderr)
        return 130
    except Terminated as stop:
        print(f"sriovcheck: terminated by {stop.name}", file=sys.stderr)
        return stop.exit_code
    except BrokenPipeError:
        return EXIT_OK
