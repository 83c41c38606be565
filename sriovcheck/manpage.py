"""The man page (``sriovcheck.1``) and the bash and zsh completion scripts, generated from the argparse parser.

``setup.py`` runs this at build time and ships the results as the wheel's data files
(``share/man/man1/sriovcheck.1``, ``share/bash-completion/completions/sriovcheck``,
``share/zsh/site-functions/_sriovcheck``), so they always describe the parser they were built with::

    python -m sriovcheck.manpage -o DIR      # write DIR/sriovcheck.1, DIR/sriovcheck.bash, DIR/_sriovcheck

Only the standard library and :mod:`sriovcheck.cli` are imported (a build environment has nothing else).
Rule ids and names are completed from ``sriovcheck rules`` when the user presses TAB, so the scripts never
go stale when rules are added or a site's ``--rules`` are used.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from . import __version__
from .cli import EXIT_CODES_HELP, build_parser

#: Values of options whose set is open (plugins add formats, rule directories add profiles): the built-in
#: ones, offered for completion.  tests/engine/test_manpage.py checks them against the registry.
KNOWN_VALUES: Dict[Tuple[str, str], Tuple[str, ...]] = {
    ("check", "--format"): ("text", "json", "junit", "html", "markdown", "fix-script", "ansible"),
    ("*", "--profile"): ("default", "audit"),
    ("*", "--source-kind"): ("live", "root", "capture", "sosreport"),
}
#: Options (and positionals) whose values are rule ids or names.
RULE_OPTIONS = ("--select", "--ignore")
RULE_POSITIONALS = ("rule",)
#: Metavars naming a directory; other values that look like paths complete as files.
DIR_METAVARS = ("DIR", "PATH")
FILE_METAVARS = ("FILE", "SOURCE", "OLD", "NEW", "PATH", "DIR")

FILES = {"man": "sriovcheck.1", "bash": "sriovcheck.bash", "zsh": "_sriovcheck"}


# -- the parser, walked ---------------------------------------------------------------------------------

def _subcommands(parser: argparse.ArgumentParser) -> List[Tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def _visible(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        yield action


def _takes_value(action: argparse.Action) -> bool:
    return action.option_strings != [] and action.nargs != 0


def _values(command: str, action: argparse.Action) -> Optional[Tuple[str, ...]]:
    if action.choices:
        return tuple(str(c) for c in action.choices)
    for option in action.option_strings:
        for key in ((command, option), ("*", option)):
            if key in KNOWN_VALUES:
                return KNOWN_VALUES[key]
    return None


def _help(action: argparse.Action) -> str:
    text = action.help or ""
    if "%(" in text:
        text = text % {"default": action.default, "prog": "sriovcheck", "choices": ", ".join(map(str, action.choices or ()))}
    return " ".join(text.split())


def _metavar(action: argparse.Action) -> str:
    if action.metavar:
        return str(action.metavar)
    if action.choices:
        return "{" + ",".join(map(str, action.choices)) + "}"
    return action.dest.upper()


# -- man page -------------------------------------------------------------------------------------------

def _roff(text: str) -> str:
    """Text safe inside a roff line: backslashes escaped, no line starting as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def _option_lines(action: argparse.Action) -> List[str]:
    if action.option_strings:
        names = ", ".join(f"\\fB{_roff(o)}\\fR" for o in action.option_strings)
        if _takes_value(action):
            names += f" \\fI{_roff(_metavar(action))}\\fR"
    else:
        names = f"\\fI{_roff(_metavar(action))}\\fR" + (" ..." if action.nargs in ("*", "+") else "")
    return [".TP", names, _roff(_help(action)) or "\\&"]


def _block(text: str) -> List[str]:
    return [".PP", ".nf", *(_roff(line) if line.strip() else "" for line in text.strip("\n").splitlines()), ".fi"]


def render_man(parser: Optional[argparse.ArgumentParser] = None) -> str:
    parser = parser or build_parser()
    commands = _subcommands(parser)
    out = [
        '.\\" Generated from the argparse parser by python -m sriovcheck.manpage: do not edit.',
        f'.TH SRIOVCHECK 1 "" "sriovcheck {_roff(__version__)}" "User Commands"',
        ".SH NAME",
        "sriovcheck \\- SR\\-IOV diagnostic and compliance checker for Linux/KVM hosts",
        ".SH SYNOPSIS",
        ".B sriovcheck",
        "[\\fB\\-\\-version\\fR] [\\fB\\-\\-debug\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]",
        ".SH DESCRIPTION",
        _roff(" ".join((parser.description or "").split())),
        ".PP",
        "Commands: " + ", ".join(f"\\fB{_roff(name)}\\fR" for name, _, _ in commands) + ".",
        ".SH OPTIONS",
    ]
    for action in _visible(parser):
        out += _option_lines(action)
    out.append(".SH COMMANDS")
    for name, help_text, sub in commands:
        out += [f'.SS "sriovcheck {_roff(name)}"', _roff(" ".join((sub.description or help_text).split()))]
        for action in _visible(sub):
            out += _option_lines(action)
        if sub.epilog:
            epilog = sub.epilog.replace(EXIT_CODES_HELP, "").strip("\n")
            if epilog:
                out += _block(epilog)
    out += [".SH EXIT STATUS", *_block(EXIT_CODES_HELP.split("\n", 1)[1]),
            ".PP", "\\fBsriovcheck diff\\fR: 0 nothing changed, 1 something changed, 2 usage or input error."]
    out += [
        ".SH ENVIRONMENT",
        ".TP", "\\fBSOURCE_DATE_EPOCH\\fR",
        "Timestamp of JUnit reports (unless \\fB\\-\\-timestamp\\fR is given), for byte\\-identical output.",
        ".TP", "\\fBNO_COLOR\\fR", "When set, the text report is never coloured.",
        ".TP", "\\fBTMPDIR\\fR", "Where archives are unpacked while they are read.",
        ".SH FILES",
        "Rule files are YAML (\\fB\\-\\-rules\\fR), waivers are YAML (\\fB\\-\\-waivers\\fR); their JSON Schemas, and "
        "those of every JSON output, ship in the package under \\fIsriovcheck/schemas/\\fR.",
        ".SH SECURITY",
        "sriovcheck never changes the host: live mode only reads, \\fBcapture\\fR writes only its archive, and fixes "
        "are printed or written as a script (\\fB\\-\\-fix\\-script\\fR) that sriovcheck never runs.",
        ".SH SEE ALSO",
        "\\fBlspci\\fR(8), \\fBip\\fR(8), \\fBsos\\fR(1), \\fBvirsh\\fR(1), \\fBansible\\-playbook\\fR(1)",
    ]
    return "\n".join(out) + "\n"


# -- completion -----------------------------------------------------------------------------------------

def _words(values: Iterable[str]) -> str:
    return " ".join(values)


def _value_kind(command: str, action: argparse.Action) -> Tuple[str, Sequence[str]]:
    """How an option's value (or a positional) completes: rules, words, dirs, files or nothing."""
    if any(o in RULE_OPTIONS for o in action.option_strings) or (not action.option_strings
                                                                  and action.dest in RULE_POSITIONALS):
        return "rules", ()
    values = _values(command, action)
    if values:
        return "words", values
    metavar = _metavar(action)
    if metavar in ("DIR",):
        return "dirs", ()
    if metavar in FILE_METAVARS or not action.option_strings:
        return "files", ()
    return "none", ()


def render_bash(parser: Optional[argparse.ArgumentParser] = None) -> str:
    parser = parser or build_parser()
    commands = _subcommands(parser)
    top = [o for a in _visible(parser) for o in a.option_strings]
    lines = [
        "# bash completion for sriovcheck. Generated from the argparse parser by python -m sriovcheck.manpage.",
        "# Rule ids and names come from 'sriovcheck rules' when TAB is pressed.",
        "",
        "_sriovcheck_rules() {",
        "    command sriovcheck rules 2>/dev/null | awk '$1 ~ /^SRIOV[0-9]+$/ { print $1; print $2 }'",
        "}",
        "",
        "_sriovcheck() {",
        "    local cur prev cmd i",
        '    cur="${COMP_WORDS[COMP_CWORD]}"',
        '    prev=""',
        '    [ "$COMP_CWORD" -gt 0 ] && prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    cmd=""',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in',
        f"            {'|'.join(name for name, _, _ in commands)}) cmd=\"${{COMP_WORDS[i]}}\"; break ;;",
        "        esac",
        "    done",
        "    COMPREPLY=()",
        '    case "$cmd" in',
        '        "")',
        '            if [[ "$cur" == -* ]]; then',
        f'                mapfile -t COMPREPLY < <(compgen -W "{_words(top)}" -- "$cur")',
        "            else",
        f'                mapfile -t COMPREPLY < <(compgen -W "{_words(name for name, _, _ in commands)}" -- "$cur")',
        "            fi",
        "            ;;",
    ]
    for name, _, sub in commands:
        options = [o for a in _visible(sub) for o in a.option_strings]
        lines.append(f"        {name})")
        lines.append('            case "$prev" in')
        for action in _visible(sub):
            if not _takes_value(action):
                continue
            kind, values = _value_kind(name, action)
            pattern = "|".join(action.option_strings)
            if kind == "rules":
                body = 'mapfile -t COMPREPLY < <(compgen -W "$(_sriovcheck_rules)" -- "$cur")'
            elif kind == "words":
                body = f'mapfile -t COMPREPLY < <(compgen -W "{_words(values)}" -- "$cur")'
            elif kind == "dirs":
                body = 'mapfile -t COMPREPLY < <(compgen -d -- "$cur")'
            elif kind == "files":
                body = 'mapfile -t COMPREPLY < <(compgen -f -- "$cur")'
            else:
                body = ":"
            lines.append(f"                {pattern}) {body}; return 0 ;;")
        lines.append("            esac")
        positionals = [a for a in _visible(sub) if not a.option_strings]
        lines.append('            if [[ "$cur" == -* ]]; then')
        lines.append(f'                mapfile -t COMPREPLY < <(compgen -W "{_words(options)}" -- "$cur")')
        if positionals and _value_kind(name, positionals[0])[0] == "rules":
            lines.append("            else")
            lines.append('                mapfile -t COMPREPLY < <(compgen -W "$(_sriovcheck_rules)" -- "$cur")')
        elif positionals:
            lines.append("            else")
            lines.append('                mapfile -t COMPREPLY < <(compgen -f -- "$cur")')
        lines.append("            fi")
        lines.append("            ;;")
    lines += ["    esac", "    return 0", "}", "", "complete -o filenames -o bashdefault -F _sriovcheck sriovcheck", ""]
    return "\n".join(lines)


def _zsh_text(text: str) -> str:
    """Help text inside a single-quoted _arguments spec: no brackets, colons or single quotes."""
    text = " ".join(text.split()).replace("[", "(").replace("]", ")").replace(":", " -")
    return text.replace("'", "'\\''").replace("\\", "\\\\") if "\\" in text else text.replace("'", "'\\''")


def render_zsh(parser: Optional[argparse.ArgumentParser] = None) -> str:
    parser = parser or build_parser()
    commands = _subcommands(parser)
    lines = [
        "#compdef sriovcheck",
        "# zsh completion for sriovcheck. Generated from the argparse parser by python -m sriovcheck.manpage.",
        "# Rule ids and names come from 'sriovcheck rules' when TAB is pressed.",
        "",
        "_sriovcheck_rules() {",
        "  local -a rules",
        "  rules=(${(f)\"$(command sriovcheck rules 2>/dev/null | awk '$1 ~ /^SRIOV[0-9]+$/ { print $1; print $2 }')\"})",
        "  compadd -a rules",
        "}",
        "",
        "_sriovcheck() {",
        '  local curcontext="$curcontext" state line',
        "  typeset -A opt_args",
        "  _arguments -C \\",
    ]
    for action in _visible(parser):
        for option in action.option_strings:
            lines.append(f"    '{option}[{_zsh_text(_help(action))}]' \\")
    lines += ["    '1:command:->command' \\", "    '*::argument:->argument'", "  case $state in", "    command)",
              "      local -a commands", "      commands=("]
    for name, help_text, _ in commands:
        lines.append(f"        '{name}:{_zsh_text(help_text)}'")
    lines += ["      )", "      _describe -t commands 'sriovcheck command' commands", "      ;;", "    argument)",
              "      case $words[1] in"]
    for name, _, sub in commands:
        specs: List[str] = []
        for action in _visible(sub):
            kind, values = _value_kind(name, action)
            action_text = {"rules": "_sriovcheck_rules", "words": f"({' '.join(values)})", "dirs": "_directories",
                           "files": "_files", "none": " "}[kind]
            if action.option_strings:
                repeat = "*" if isinstance(action, (argparse._AppendAction, argparse._CountAction)) else ""
                for option in action.option_strings:
                    spec = f"{repeat}{option}[{_zsh_text(_help(action))}]"
                    if _takes_value(action):
                        spec += f":{_zsh_text(_metavar(action)).lower()}:{action_text}"
                    specs.append(spec)
            else:
                many = "*" if action.nargs in ("*", "+") else ""
                spec = f"{many}:{_zsh_text(_metavar(action)).lower()}:{action_text}"
                specs.append(spec)
        lines.append(f"        {name})")
        lines.append("          _arguments \\")
        lines += [f"            '{spec}' \\" for spec in specs[:-1]]
        if specs:
            lines.append(f"            '{specs[-1]}'")
        lines.append("          ;;")
    lines += ["      esac", "      ;;", "  esac", "}", "", '_sriovcheck "$@"', ""]
    return "\n".join(lines)


def write_all(directory: Path) -> Dict[str, Path]:
    """Write the man page and both completion scripts into ``directory``; returns kind -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    parser = build_parser()
    written = {}
    for kind, render in (("man", render_man), ("bash", render_bash), ("zsh", render_zsh)):
        path = directory / FILES[kind]
        text = render(parser)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written[kind] = path
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m sriovcheck.manpage",
                                  description="write sriovcheck.1 and the bash and zsh completion scripts")
    cli.add_argument("-o", "--output-dir", type=Path, default=Path("."), metavar="DIR")
    args = cli.parse_args(argv)
    for path in write_all(args.output_dir).values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
