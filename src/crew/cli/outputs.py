"""A step's output rendered for a person (`crew show`, a finished run's results, `crew output`).

What a caller may rely on: a string field that is long (over 80 characters) or has a line break
is shown as Markdown under its name in bold; a list of strings as bullets under its name; every
other field as a row of a compact two-column table (name, value on one line), rows kept in the
output's order. A value that is not a mapping is shown whole (a string as Markdown, anything else
as indented JSON). Every piece of text passes through `crew.cli.display`, so no control
character from a model or a person reaches the terminal.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from crew.cli.display import block, line

__all__ = ["flat", "markdown", "render_output"]

# A string field longer than this (or with a newline) is shown as Markdown in its own block.
_LONG = 80


def render_output(output: Any) -> RenderableType:
    """`output` (a step's output) for a terminal; None says the step has no output."""
    if output is None:
        return Text("(no output: the step was skipped or has not run)", style="dim")
    if not isinstance(output, dict):
        return _value(output)
    parts: list[RenderableType] = []
    rows: Table | None = None
    for key, value in output.items():
        if isinstance(value, str) and (len(value) > _LONG or "\n" in value):
            rows = None
            parts.append(Text(line(key), style="bold"))
            parts.append(markdown(value))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            rows = None
            parts.append(Text(line(key), style="bold"))
            parts.extend(Text(f"  • {line(v)}") for v in value)
        else:
            if rows is None:
                rows = Table.grid(padding=(0, 2))
                rows.add_column(style="bold", no_wrap=True)
                rows.add_column()
                parts.append(rows)
            rows.add_row(Text(line(key)), Text(line(flat(value))))
    return Group(*parts)


def markdown(text: str) -> Markdown:
    """`text` as Markdown, its control characters made visible and its line breaks kept."""
    # A model's (or person's) line break is meant as one: keep it (two trailing spaces are a
    # hard break in Markdown), instead of joining the lines into one paragraph.
    return Markdown(
        "\n".join(f"{row}  " if row.strip() else row for row in block(text).split("\n"))
    )


def flat(value: Any) -> str:
    """`value` on one line: a string as it is, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _value(value: Any) -> RenderableType:
    if isinstance(value, str):
        return markdown(value)
    return Text(block(json.dumps(value, indent=2, ensure_ascii=False, default=str)))
