"""Text from people and models, made safe to show on a terminal.

Inputs, comments, model outputs and error messages reach crew's terminal output from outside. Raw,
an escape sequence in them clears the screen or sets the window title, and an embedded newline
starts a line that can pass for one of crew's own ("legal_review (c9): approve by carol").
`rich.markup.escape` escapes markup only, not control characters; these functions do the rest.

What a caller may rely on:
- `line(text)` never contains a character below U+0020 (a newline shows as the two characters
  `\\n`, a tab as a space), nor DEL, C1 controls, bidirectional overrides or line separators: each
  shows as a visible escape like `\\x1b` or `\\u202e`, so the text stays readable and nothing is
  lost silently.
- `block(text)` is the same but keeps newlines and tabs, for text shown in a frame (a panel, an
  indented block) where its lines cannot pass for crew's own.
- `markup(text)` is `line(text)` escaped for rich markup, for interpolating into a markup string.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

__all__ = ["block", "line", "markup"]

# Formatting characters that reorder or break text without showing themselves ("Trojan Source").
_INVISIBLE = (
    0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)
)


def _table(keep_lines: bool) -> dict[int, str]:
    table: dict[int, str] = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)}
    table.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
    table.update({code: f"\\u{code:04x}" for code in _INVISIBLE})
    if keep_lines:
        table.update({0x0A: "\n", 0x09: "\t"})
    else:
        table.update({0x0A: "\\n", 0x09: " "})
    return table


_LINE = _table(keep_lines=False)
_BLOCK = _table(keep_lines=True)


def line(text: Any) -> str:
    """`text` (any value, as `str()`) on one line with every control character made visible."""
    return str(text).translate(_LINE)


def block(text: Any) -> str:
    """`text` with its newlines and tabs kept and every other control character made visible."""
    return str(text).replace("\r\n", "\n").translate(_BLOCK)


def markup(text: Any) -> str:
    """`line(text)`, escaped to be interpolated into rich markup."""
    return escape(line(text))
