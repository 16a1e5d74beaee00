"""Reading one project file: YAML data plus the line of every key, for `file:line` messages.

The file is parsed once into PyYAML's node tree (which keeps marks), then constructed from it, so
the data and the lines always agree. Anything unreadable becomes a `Problem`, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crew.exceptions import Problem

Loc = Sequence[str | int]


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


def read_yaml(path: Path, file: str) -> Located:
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
        return _broken(
            file,
            line,
            f"is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
            "Save the file as UTF-8.",
        )
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
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
