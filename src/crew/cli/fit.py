"""Listings that fit the terminal: columns dropped by priority, free text wrapped, ids never cut.

A listing (`crew board`, `log`, `runs`, `status`, ...) declares its columns with a priority: the
ones a person needs to act (ids, names, status) are always shown, whole, on one line; the others
are dropped, lowest priority first, when the terminal is too narrow for them (`--json` always has
everything). A free-text column (a detail, a reason) wraps within what is left, and may be capped
to a few lines so one row never fills the screen. Nothing is ever cut to `…` except free text
past its cap. Tables are borderless (a box costs three columns per column).

`fit_table` measures the cells itself rather than leaving it to rich, which squeezes every column
(`assig…`, `own…`) before it would drop one.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["Column", "capped", "fit_table", "hanging", "width_of", "wrapped"]

GAP = 2  # between two columns of a borderless table (padding 1 on each side)


@dataclass(frozen=True)
class Column:
    """One column of a listing.

    `drop`: 0 for a column that is always shown; otherwise, when the table is too wide, the
    column with the highest `drop` goes first (and one with nothing in it goes at once).
    `wrap`: free text that may wrap (at least `min_width` wide, at most `max_lines` lines a
    row, then `…`); a column that does not wrap (ids, names, times) is shown whole on one line.
    """

    header: str
    drop: int = 0
    wrap: bool = False
    min_width: int = 16
    max_lines: int | None = None
    floor: int | None = None
    """The narrowest a wrapping column gets when nothing is left to drop (default: min_width)."""
    justify: Literal["left", "right"] = "left"
    style: str | None = None


def width_of(cell: Text) -> int:
    """The widest line of a cell, in terminal cells."""
    return max((len(part) for part in cell.plain.split("\n")), default=0)


def _text(cell: str | Text) -> Text:
    return cell if isinstance(cell, Text) else Text.from_markup(cell)


def fit_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str | Text]],
    *,
    title: str | Text | None = None,
    title_style: str | None = None,
    width: int | None = None,
) -> Table:
    """A borderless table of `rows` (cells: rich markup strings or Text) within `width` (default:
    the console's): low-priority columns dropped until the rest fit, free text wrapped."""
    width = width or console.width
    cells = [[_text(cell) for cell in row] for row in rows]
    natural = [
        max([len(column.header), *(width_of(row[i]) for row in cells)])
        for i, column in enumerate(columns)
    ]

    def need(i: int) -> int:
        column = columns[i]
        if column.wrap:
            return min(natural[i], max(column.min_width, len(column.header)))
        return natural[i]

    # A column that may be dropped and has nothing to show in any row is left out at once.
    shown = [
        i
        for i, column in enumerate(columns)
        if column.drop == 0 or any(row[i].plain.strip() for row in cells)
    ]

    def total(indexes: list[int]) -> int:
        return sum(need(i) for i in indexes) + GAP * (len(indexes) - 1)

    while total(shown) > width:
        droppable = [i for i in shown if columns[i].drop > 0]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (columns[i].drop, i)))

    # What is left after the fixed columns goes to the wrapping ones, shared by their widths.
    wrapping = [i for i in shown if columns[i].wrap]
    fixed = sum(natural[i] for i in shown if not columns[i].wrap) + GAP * (len(shown) - 1)
    room = max(0, width - fixed)
    wanted = sum(natural[i] for i in wrapping) or 1
    widths: dict[int, int] = {}
    for i in wrapping:
        share = room * natural[i] // wanted if len(wrapping) > 1 else room
        floor = columns[i].floor
        least = need(i) if floor is None else min(need(i), max(floor, len(columns[i].header)))
        widths[i] = max(least, min(natural[i], share))

    table = Table(
        box=None,
        pad_edge=False,
        title=title,
        title_style=title_style,
        title_justify="left",
        header_style="bold",
        show_edge=False,
    )
    for i in shown:
        column = columns[i]
        table.add_column(
            column.header,
            justify=column.justify,
            style=column.style,
            # Never "…": on a terminal too narrow for the columns that are always shown, a cell
            # folds onto the next line, whole, rather than being cut.
            overflow="fold",
            width=widths.get(i),
        )
    for row in cells:
        table.add_row(*(_capped(console, row[i], columns[i], widths.get(i)) for i in shown))
    return table


def _capped(console: Console, cell: Text, column: Column, width: int | None) -> Text:
    if not column.wrap or column.max_lines is None or width is None:
        return cell
    return capped(console, cell, width, column.max_lines)


def capped(console: Console, text: Text, width: int, max_lines: int) -> Text:
    """`text` wrapped at `width`, cut to `max_lines` lines when longer (the last ends in …)."""
    if width < 2:
        return text
    lines = text.wrap(console, width, overflow="fold")
    if len(lines) <= max_lines:
        return text
    kept = lines[:max_lines]
    last = kept[-1]
    last.rstrip()
    if len(last) >= width:
        last.right_crop(len(last) - width + 1)
    last.append("…")
    return Text("\n").join(kept)


def hanging(
    console: Console, text: str | Text, indent: int = 2, max_lines: int | None = None
) -> Text:
    """`text` (rich markup, or Text) wrapped at the console's width between words, its
    continuation lines indented: a line of crew's own that wraps never starts at the margin
    with the rest of a sentence (or text quoted from someone). At most `max_lines` lines."""
    body = _text(text)
    width = max(10, console.width - indent)
    if max_lines is not None:
        body = capped(console, body, width, max_lines)
    lines = body.wrap(console, width, overflow="fold")
    pad = Text(" " * indent)
    return Text("\n").join(line if i == 0 else pad + line for i, line in enumerate(lines))


def wrapped(text: str, width: int, hang: int = 4) -> str:
    """Plain `text` wrapped between words at `width`, its continuation lines indented `hang` more
    than its first. A word longer than a line (a key, a URL, an id) is never split."""
    indent = text[: len(text) - len(text.lstrip(" "))]
    return textwrap.fill(
        text.lstrip(" "),
        width=max(20, width),
        initial_indent=indent,
        subsequent_indent=indent + " " * hang,
        break_long_words=False,
        break_on_hyphens=False,
    )
