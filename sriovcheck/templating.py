"""Render rule fix templates safely.

Rule files may come from other teams, and the values put into templates come
from snapshots of other people's machines, so:

* templates run in jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``:
  no attribute tricks, no file access, no imports, a misspelt name is an error;
* in ``fix_script`` templates every ``{{ value }}`` is shell-quoted
  (``shlex.quote``) by the environment's ``finalize``, so an interface or
  guest name holding ``$(...)``, backticks, quotes or newlines stays data;
* in human ``fix`` text a value is quoted only when it holds characters a
  shell would interpret, so ordinary names read naturally; a :class:`FileLine`
  (a line meant for a file: a udev rule, a modprobe.d options line, a
  netplan, ifupdown or systemd-networkd line) is never quoted there: the
  reader pastes it into the file as it is.  In ``fix_script`` it is quoted
  like any value, and ``{{ line | append_line }}`` appends it to its file
  once;
* templates cannot pull in other templates (``include``, ``import``,
  ``extends`` are refused when the template is compiled);
* a template's work is bounded, so a hostile rule file cannot exhaust memory
  or hang a CI job: every render has a budget of :data:`MAX_STEPS` steps
  (loop iterations, calls, filters, arithmetic, each also paying for the
  characters and items it handles), no value or output may grow
  beyond :data:`MAX_TEXT` characters, no integer beyond :data:`MAX_INT_BITS`
  bits, and a number given to a call or filter (a width, a count) may not
  exceed :data:`MAX_TEXT`.  Breaking a limit is a :class:`TemplateError`.

jinja2 is imported on first use: a run without findings never pays for it.
"""
from __future__ import annotations

import re
import shlex
import threading
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, List, Mapping, Optional

_TEXT_SAFE = re.compile(r"[\w@%+=:,./\- \[\]]*\Z")


class ShellQuoted(str):
    """A string already quoted for the shell (output of the ``sh`` filter)."""


class FileLine(str):
    """A line meant for the file ``path`` (a udev rule, a modprobe.d ``options`` line, a netplan,
    ifupdown or systemd-networkd line).

    Fix text (prose) shows it exactly as it goes into the file, never shell-quoted; a fix_script
    quotes it as one word like any value, and ``{{ line | append_line }}`` renders the command
    that appends it to ``path`` unless the file already holds it.
    """

    path: str

    def __new__(cls, line: str, path: str) -> "FileLine":
        value = super().__new__(cls, line)
        value.path = path
        return value

    def __reduce__(self) -> Any:
        return (FileLine, (str(self), self.path))


def append_line_command(line: FileLine) -> str:
    """Shell text appending ``line`` to its file unless a line of the file equals it already."""
    text, path = shlex.quote(str(line)), shlex.quote(line.path)
    return f"grep -qxF -e {text} {path} 2>/dev/null || printf '%s\\n' {text} >> {path}"


def quote_for_text(value: Any) -> Any:
    if isinstance(value, (ShellQuoted, FileLine)):
        return str(value)
    if isinstance(value, str) and not _TEXT_SAFE.match(value):
        return shlex.quote(value)
    return value


def quote_for_shell(value: Any) -> str:
    if isinstance(value, ShellQuoted):
        return str(value)
    if value is None:
        return "''"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    return shlex.quote(str(value))


class TemplateError(Exception):
    """A fix template failed to compile or render."""


#: Steps (loop iterations, calls, filters, intercepted operators) one render may take.
MAX_STEPS = 200_000
#: Longest string, list or output (characters or items) a template may build.
MAX_TEXT = 1024 * 1024
#: Largest integer a template may compute, in bits (10**1233 or so).
MAX_INT_BITS = 4096
#: A width or precision of seven digits or more inside a format string ("%999999999d", "{:>9999999}").
_HUGE_FORMAT_NUMBER = re.compile(r"\d{7,}")
#: A format string that takes a width from its arguments ("%*d", "{:>{w}}").
_WIDTH_FROM_ARGUMENT = re.compile(r"%[-#0 +]*\*|%[-#0 +]*\d*\.\*|\{[^{}]*\{")
#: Filters and str methods whose number arguments are widths or counts (what they build grows with them).
_WIDTH_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice", "filesizeformat"})
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_LOOP_FILTER = "sriovcheck_loop_budget"
_SIZE_FILTER = "sriovcheck_size_check"


class _Budget:
    """The steps left in the render running on this thread."""

    def __init__(self) -> None:
        self.left = MAX_STEPS

    def charge(self, steps: int = 1) -> None:
        self.left -= steps
        if self.left < 0:
            raise TemplateError(f"template took more than {MAX_STEPS} steps; refused")


_CURRENT = threading.local()


def _charge(steps: int = 1) -> None:
    budget: Optional[_Budget] = getattr(_CURRENT, "budget", None)
    if budget is not None:
        budget.charge(steps)


#: Characters, and items, of data handled per step: a call or filter costs one step plus one per this
#: much of its inputs and its result (items cost more: filters such as sort call Python per item), so
#: one render handles at most ~6 MB of text or ~800,000 items.
STEP_CHARS = 32
STEP_ITEMS = 4
_SIZED_TYPES = (str, bytes, list, tuple, dict, set, frozenset)


def _weight(*values: Any) -> int:
    """Steps for handling ``values``: their sizes in units of STEP_CHARS characters or STEP_ITEMS items."""
    steps = 0
    for value in values:
        if isinstance(value, (str, bytes)):
            steps += len(value) // STEP_CHARS
        elif isinstance(value, _SIZED_TYPES):
            steps += len(value) // STEP_ITEMS
    return steps


def _sized(value: Any) -> Any:
    """``value`` when it is within the size limits (and its size paid for); TemplateError otherwise."""
    _charge(_weight(value))
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise TemplateError(f"template computed an integer larger than {MAX_INT_BITS} bits; refused")
    elif isinstance(value, _SIZED_TYPES) and len(value) > MAX_TEXT:
        raise TemplateError(f"template built a value longer than {MAX_TEXT}; refused")
    return value


def _check_widths(args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
    """Numbers given as widths or counts: refuse one that would build a huge value."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_TEXT:
            shown = value if value.bit_length() < 64 else "(huge)"
            raise TemplateError(f"template asked for a width or count of {shown} (limit {MAX_TEXT}); refused")


def _check_format(form: Any, args: Iterable[Any] = (), kwargs: Optional[Mapping[str, Any]] = None) -> None:
    """A format string (``%`` operator, ``format`` filter, ``str.format``) may not ask for a huge width."""
    if not isinstance(form, str):
        return
    if _HUGE_FORMAT_NUMBER.search(form) and ("%" in form or "{" in form):
        raise TemplateError("template used a format string with a huge width or precision; refused")
    if _WIDTH_FROM_ARGUMENT.search(form):
        values = list(args)
        for value in list(values):
            if isinstance(value, (tuple, list)) and len(value) <= 64:
                values.extend(value)
        _check_widths(values, kwargs or {})


def _check_replace(text: str = "", old: str = "", new: str = "") -> None:
    # ``replace`` multiplies: "x"|replace("", long) inserts ``long`` between every character.
    count = text.count(old) if old else len(text) + 1
    if len(text) + count * (len(new) - len(old)) > MAX_TEXT:
        raise TemplateError(f"template replace() would build a value longer than {MAX_TEXT}; refused")


def _bounded_loop(value: Any) -> Iterator[Any]:
    """Wraps the iterable of every ``{% for %}``: each iteration costs a step."""
    for item in value:
        _charge()
        yield item


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    # pass_context/pass_eval_context filters get the context first, then the filtered value.
    first_argument = 2 if hasattr(function, "jinja_pass_arg") else 1

    def bounded(*args: Any, **kwargs: Any) -> Any:
        _charge(1 + _weight(*args[first_argument - 1:], *kwargs.values()))
        value, extra = (args[first_argument - 1] if len(args) >= first_argument else None), args[first_argument:]
        if name in _WIDTH_FILTERS:
            _check_widths(extra, kwargs)
        elif name == "format":
            _check_format(value, extra, kwargs)
        elif name == "replace" and isinstance(value, str) and len(extra) >= 2:
            _check_replace(value, str(extra[0]), str(extra[1]))
        return _sized(function(*args, **kwargs))

    for attribute in ("jinja_pass_arg", "__name__", "__doc__"):
        if hasattr(function, attribute):
            setattr(bounded, attribute, getattr(function, attribute))
    return bounded


@lru_cache(maxsize=2)
def _environment(shell: bool) -> Any:
    from jinja2 import StrictUndefined, nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BoundedSandbox(ImmutableSandboxedEnvironment):  # type: ignore[misc]
        """jinja2's immutable sandbox, with every operator that can amplify checked."""

        intercepted_binops = frozenset({"*", "**", "%", "+", "//", "/"})
        intercepted_unops = frozenset({"-"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _charge(1 + _weight(left, right))
            if operator == "*":
                count, seq = (left, right) if isinstance(left, int) else (right, left)
                if isinstance(count, int) and isinstance(seq, (str, list, tuple)) and count * len(seq) > MAX_TEXT:
                    raise TemplateError(f"template repeated a value beyond {MAX_TEXT}; refused")
                if isinstance(left, int) and isinstance(right, int) and \
                        left.bit_length() + right.bit_length() > MAX_INT_BITS:
                    raise TemplateError(f"template computed an integer larger than {MAX_INT_BITS} bits; refused")
            elif operator == "**" and isinstance(left, int) and isinstance(right, int):
                if abs(left) > 1 and right > 0 and right * left.bit_length() > MAX_INT_BITS:
                    raise TemplateError(f"template computed an integer larger than {MAX_INT_BITS} bits; refused")
            elif operator == "%" and isinstance(left, str):
                _check_format(left, right if isinstance(right, tuple) else (right,))
            try:
                return _sized(super().call_binop(context, operator, left, right))
            except (ArithmeticError, ValueError, TypeError) as exc:
                raise TemplateError(f"template arithmetic failed: {type(exc).__name__}: {exc}") from None

        def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
            _charge()
            return super().call_unop(context, operator, arg)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - jinja2's signature
            # A str method: jinja2 may hand us its own wrapper of str.format; the receiver is the string.
            method = getattr(__obj, "__wrapped__", __obj)
            receiver = getattr(method, "__self__", None)
            _charge(1 + _weight(receiver, *args, *kwargs.values()))
            if isinstance(receiver, str):
                name = getattr(method, "__name__", "")
                if name in _WIDTH_METHODS:
                    _check_widths(args, kwargs)
                elif name in ("format", "format_map"):
                    _check_format(receiver, args, kwargs)
                elif name == "replace" and len(args) >= 2:
                    _check_replace(receiver, str(args[0]), str(args[1]))
            return _sized(super().call(__context, __obj, *args, **kwargs))

        def concat(self, chunks: Iterable[Any]) -> str:  # type: ignore[override]
            # Every template's output (and every macro's) is joined here: cap it while it grows.
            out: List[str] = []
            total = 0
            for chunk in chunks:
                total += len(chunk)
                if total > MAX_TEXT:
                    raise TemplateError(f"template output longer than {MAX_TEXT} characters; refused")
                out.append(chunk)
            return "".join(out)

        def _parse(self, source: str, name: Optional[str], filename: Optional[str]) -> Any:
            tree = super()._parse(source, name, filename)
            for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
                from jinja2 import TemplateSyntaxError

                raise TemplateSyntaxError("templates cannot include, import or extend other templates",
                                          node.lineno, name, filename)
            # Charge loop iterations and cap "~" concatenations (no operator hook exists for either).
            for loop in list(tree.find_all(nodes.For)):
                loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
            for parent in list(tree.find_all(nodes.Node)):
                for field_name in parent.fields:
                    child = getattr(parent, field_name, None)
                    if isinstance(child, nodes.Concat):
                        setattr(parent, field_name, nodes.Filter(child, _SIZE_FILTER, [], [], None, None,
                                                                 lineno=child.lineno))
                    elif isinstance(child, list):
                        for index, item in enumerate(child):
                            if isinstance(item, nodes.Concat):
                                child[index] = nodes.Filter(item, _SIZE_FILTER, [], [], None, None,
                                                            lineno=item.lineno)
            return tree

    env = BoundedSandbox(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        finalize=quote_for_shell if shell else quote_for_text,
    )
    env.filters["sh"] = lambda value: ShellQuoted(quote_for_shell(value))
    env.filters["append_line"] = _append_line if shell else _file_line_text
    env.filters = {name: _bounded_filter(name, function) for name, function in env.filters.items()}
    env.filters[_LOOP_FILTER] = _bounded_loop
    env.filters[_SIZE_FILTER] = _sized
    env.globals.clear()  # no range/lipsum/dict/cycler/joiner/namespace: templates only format data
    return env


def _append_line(value: Any) -> ShellQuoted:
    if not isinstance(value, FileLine):
        raise TemplateError(f"append_line needs a line meant for a file, got {type(value).__name__}")
    return ShellQuoted(append_line_command(value))


def _file_line_text(value: Any) -> Any:
    # In fix text, "{{ line | append_line }}" reads as the line itself, exactly.
    return FileLine(str(value), getattr(value, "path", "")) if isinstance(value, str) else value


@lru_cache(maxsize=1024)
def _compile(source: str, shell: bool) -> Any:
    return _environment(shell).from_string(source)


def compile_template(source: str, shell: bool = False) -> None:
    """Raise :class:`TemplateError` when ``source`` is not a valid template."""
    from jinja2 import TemplateSyntaxError

    try:
        _compile(source, shell)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template line {exc.lineno}: {exc.message}") from exc
    except RecursionError as exc:
        raise TemplateError("template nested too deeply") from exc


def render(source: str, context: Mapping[str, Any], shell: bool = False) -> str:
    if "{" not in source:
        # Plain text has nothing to render: don't pay jinja2's import on a run whose fixes are literal.
        return source.strip()
    from jinja2 import TemplateError as JinjaError
    from jinja2 import TemplateSyntaxError

    previous = getattr(_CURRENT, "budget", None)
    _CURRENT.budget = _Budget()
    try:
        return _compile(source, shell).render(**context).strip()
    except TemplateError:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template line {exc.lineno}: {exc.message}") from exc
    except JinjaError as exc:
        line = getattr(exc, "lineno", None)
        where = f"template line {line}: " if line else ""
        raise TemplateError(f"{where}{exc.message if hasattr(exc, 'message') and exc.message else exc}") from exc
    except RecursionError as exc:
        raise TemplateError("template recursed too deeply") from exc
    except MemoryError as exc:
        raise TemplateError("template ran out of memory") from exc
    except Exception as exc:  # a filter or method meeting a value it cannot handle: the template's fault
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from exc
    finally:
        _CURRENT.budget = previous
