"""Reading the files crew is given: project files (with the line of every key, for `file:line`
messages) and the files a user passes (`--inputs`, `crew answer ... --file`, cassettes).

A project file is parsed once into PyYAML's node tree (which keeps marks), then constructed from
it, so the data and the lines always agree; anything unreadable becomes a `Problem`, never an
exception. A user's file goes through `read_text` (its size checked before it is read, its bytes
checked as UTF-8) and `load_yaml`; every failure is a `ConfigError` of one line naming the file.

YAML aliases (`*name`) are bounded everywhere, before anything is built from them: a file may use
at most `max_aliases` of them (`settings.limits.yaml_aliases`, default 100), none may refer to a
node that contains it, and the data they expand to (counted as JSON-like text) must stay under a
size bound. A few hundred bytes of nested aliases cannot become megabytes on the board.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crew.exceptions import ConfigError, Problem
from crew.spec.sizes import format_size

Loc = Sequence[str | int]

YAML_ALIASES = 100
"""Aliases allowed in one file unless `settings.limits.yaml_aliases` says otherwise."""
EXPANDED_MAX = 64 * 1024**2
"""How large (as JSON-like text) a file's data may expand to when nothing tighter applies."""


@dataclass(frozen=True)
class Located:
    """A YAML file's data and node tree; `line(loc)` finds where a key path is written."""

    file: str
    data: Any
    node: yaml.Node | None
    problems: list[Problem] = field(default_factory=list)

    def line(self, loc: Loc) -> int:
        """1-based line of the deepest key (or list item) of `loc` present in the file."""
        node = self.node
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                pair = _find_key(node, part)
                if pair is None:
                    return line
                key, node = pair
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    def value_node(self, loc: Loc) -> yaml.Node | None:
        """The node holding the value at `loc`, if the file spells it out."""
        node = self.node
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                pair = _find_key(node, part)
                if pair is None:
                    return None
                node = pair[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return None
                node = node.value[part]
            else:
                return None
        return node

    def text_line(self, loc: Loc, offset: int) -> int:
        """The line of character `offset` inside the string value at `loc` (block scalars)."""
        node = self.value_node(loc)
        if not isinstance(node, yaml.ScalarNode):
            return self.line(loc)
        start = node.start_mark.line + 1
        if node.style in ("|", ">"):
            # A block scalar's text starts on the line after its `|` / `>` indicator.
            return start + 1 + str(node.value)[:offset].count("\n")
        return start


# libyaml's loader is ~10x faster and keeps the same marks; the pure-Python one is the fallback.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _find_key(node: yaml.MappingNode, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and str(key.value) == str(part):
            return key, value
    return None


def read_yaml(path: Path, file: str, *, max_aliases: int = YAML_ALIASES) -> Located:
    """Parse `path` (shown as `file` in problems); problems are set when it cannot be read."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        return _broken(
            file, 1, "is a directory, not a YAML file", f"Replace it with a file {file}."
        )
    except OSError as exc:
        return _broken(file, 1, f"cannot be read ({exc.strerror})", "Check the file's permissions.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return _broken(file, line, _not_utf8(raw, exc, line=False), "Save the file as UTF-8.")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        bounded = _expansion_problem(node, max_aliases, EXPANDED_MAX)
        if bounded is not None:
            return _broken(file, 1, bounded, _ALIAS_HINT)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        return _broken(file, 1, _TOO_DEEP, "Flatten the data.")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        lines = text.splitlines()
        source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        return _broken(file, line, f"YAML syntax error: {what}", _yaml_hint(what, source_line))
    except yaml.YAMLError as exc:
        return _broken(file, 1, f"YAML syntax error: {exc}", _yaml_hint(str(exc)))
    finally:
        loader.dispose()
    if node is None or data is None:
        return _broken(file, 1, "the file is empty", "Write the file's keys (see `crew new`).")
    problems = _duplicate_keys(file, node)
    return Located(file=file, data=data, node=node, problems=problems)


def _broken(file: str, line: int, message: str, hint: str) -> Located:
    return Located(file=file, data=None, node=None, problems=[Problem(file, line, message, hint)])


def _yaml_hint(what: str, source_line: str = "") -> str:
    indent = source_line[: len(source_line) - len(source_line.lstrip())]
    if "\t" in indent or "'\\t'" in what:
        return "YAML does not allow tabs for indentation; use spaces."
    if "expected a single document" in what:
        return "Keep one document per file (remove the extra '---')."
    return "Check the indentation, colons and quotes on this line and the one before."


def _duplicate_keys(file: str, node: yaml.Node) -> list[Problem]:
    problems: list[Problem] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        problems.append(
                            Problem(
                                file,
                                line,
                                f"key '{key.value}' is given twice "
                                f"(first on line {seen[key.value]})",
                                "Keep one of them; YAML would silently use the last.",
                            )
                        )
                    else:
                        seen[key.value] = line
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return problems


# -- files a user passes to crew -------------------------------------------------------------


def read_text(
    path: Path, *, what: str, max_size: int | None = None, setting: str = "inputs"
) -> str:
    """The text of a file a user passes (`what` names it: "--inputs file 'in.yaml'").

    ConfigError, one line, when it cannot be read, is larger than `max_size` bytes (checked on
    the file's size before it is read; `setting` is the `settings.limits` entry that raises it),
    or is not UTF-8 (naming the offset of the first bad byte).
    """
    from crew.spec.limits import too_large

    try:
        if max_size is not None:
            size = path.stat().st_size
            if size > max_size:
                raise too_large(what, size, max_size, setting)
        raw = path.read_bytes()
    except IsADirectoryError:
        raise ConfigError(f"{what} is a directory", hint="Pass a file.") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what}: {exc.strerror or exc}", hint="Pass an existing, readable file."
        ) from None
    if max_size is not None and len(raw) > max_size:  # it grew since stat
        raise too_large(what, len(raw), max_size, setting)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {_not_utf8(raw, exc)}", hint="Save it as UTF-8.") from None


def load_yaml(
    text: str,
    what: str,
    *,
    max_aliases: int = YAML_ALIASES,
    max_size: int | None = None,
    setting: str = "inputs",
    loader: type[yaml.SafeLoader] | None = None,
) -> Any:
    """The data of one YAML (or JSON) document a user gave (`what` names it in errors).

    Aliases are bounded (see the module doc): more than `max_aliases`, a recursive one, or data
    expanding beyond `max_size` bytes (`setting` raises it; default: a generous fixed bound) is
    refused before anything is built. Syntax errors are `ConfigError`s too, with the line.
    `loader` is a SafeLoader subclass (default: libyaml's when available).
    """
    parser = (loader or _Loader)(text)
    try:
        node = parser.get_single_node()
        bound = EXPANDED_MAX if max_size is None else max_size
        size = _expanded_size(node, max_aliases, what)
        if size > bound:
            if max_size is None:
                raise ConfigError(
                    f"{what} expands to more than {format_size(bound)} of data", hint=_ALIAS_HINT
                )
            from crew.spec.limits import too_large

            raise too_large(f"{what} (expanded)", size, bound, setting)
        return parser.construct_document(node) if node is not None else None
    except RecursionError:
        raise ConfigError(f"{what}: {_TOO_DEEP}", hint="Flatten the data.") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise NotYAML(what, str(exc.problem or exc.context or "invalid YAML"), line) from None
    except yaml.YAMLError as exc:
        raise NotYAML(what, str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None
    finally:
        parser.dispose()


class NotYAML(ConfigError):
    """`load_yaml` was given text that does not parse (as opposed to YAML it refuses):
    `problem` says what is wrong, `line` where (1-based, when known)."""

    def __init__(self, what: str, problem: str, line: int | None = None) -> None:
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"{what} is not valid YAML/JSON{where}: {problem}")
        self.problem, self.line = problem, line


_ALIAS_HINT = (
    "Write the values out instead of repeating them with aliases (*name), "
    "or raise settings.limits.yaml_aliases in crew.yaml."
)
_TOO_DEEP = "the data is nested too deeply"


def _not_utf8(raw: bytes, exc: UnicodeDecodeError, *, line: bool = True) -> str:
    where = f"byte 0x{raw[exc.start]:02x} at offset {exc.start}"
    if line:
        lines = raw[: exc.start].count(b"\n") + 1
        where += f", line {lines}"
    return f"is not UTF-8 text ({where})"


def _expansion_problem(node: yaml.Node | None, max_aliases: int, bound: int) -> str | None:
    """Why a project file's aliases are refused, or None."""
    try:
        size = _expanded_size(node, max_aliases, "the file")
    except ConfigError as refused:
        return refused.message
    if size > bound:
        return f"the file expands to more than {format_size(bound)} of data through aliases"
    return None


def _expanded_size(root: yaml.Node | None, max_aliases: int, what: str) -> int:
    """The size of the data `root` stands for once every alias is expanded (as JSON-like text),
    counted without expanding anything: a node shared through aliases is measured once. Raises
    ConfigError past `max_aliases` aliases or for an alias inside the node it names."""
    if root is None:
        return 0
    done: dict[int, int] = {}
    sizes = {id(root): _own_size(root)}
    path = {id(root)}
    stack = [(root, iter(_children(root)))]
    aliases = 0
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            path.discard(id(node))
            done[id(node)] = sizes.pop(id(node))
            if stack:
                sizes[id(stack[-1][0])] += done[id(node)]
            continue
        key = id(child)
        if key in path:
            raise ConfigError(
                f"{what} has a recursive YAML alias (line {child.start_mark.line + 1}): "
                "a value that contains itself",
                hint="Write the value out instead of referring to it from inside itself.",
            )
        if key in done:
            aliases += 1
            if aliases > max_aliases:
                raise ConfigError(
                    f"{what} uses more than {max_aliases} YAML aliases (*name); "
                    f"at most {max_aliases} are allowed (settings.limits.yaml_aliases)",
                    hint=_ALIAS_HINT,
                )
            sizes[id(node)] += done[key]
            continue
        path.add(key)
        sizes[key] = _own_size(child)
        stack.append((child, iter(_children(child))))
    return done[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _own_size(node: yaml.Node) -> int:
    """What a node adds besides its children: a scalar's text and quotes, or brackets and
    separators."""
    if isinstance(node, yaml.ScalarNode):
        return len(str(node.value)) + 2
    return 2 + 2 * len(node.value)
