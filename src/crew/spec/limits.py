"""The size limits of `settings.limits` in crew.yaml: how large a value counts, and the refusal.

What a caller may rely on:

- Sizes are bytes of UTF-8: `text_size` for text, `json_size` for a value as compact JSON (the
  way the board stores it).
- `too_large` builds the one refusal every limit uses: what was too large, its size, the limit,
  and the setting that raises it, e.g. "--inputs file 'big.json' is 20MB, above the 1MB limit for
  a run's inputs. Make it smaller, or raise settings.limits.inputs in crew.yaml (e.g.
  `limits: {inputs: 40MB}` under `settings:`)." It is a `ConfigError` (exit code 2), raised
  before anything is recorded; `exceeds` gives the same sentence for a step's card.
"""

from __future__ import annotations

import json
from typing import Any

from crew.exceptions import ConfigError
from crew.spec.sizes import format_size

__all__ = [
    "LIMITS",
    "check_size",
    "exceeds",
    "how_to_raise",
    "json_size",
    "text_size",
    "too_large",
]

LIMITS = {
    "inputs": "a run's inputs",
    "task": "one rendered task",
    "output": "one step's output",
    "edit": "an edited output",
    "comment": "a comment",
}
"""The size settings of `settings.limits`, and what each one bounds."""


def text_size(text: str) -> int:
    """Bytes of `text` as UTF-8 (a lone surrogate counts as the 3 bytes it would take)."""
    return len(text.encode("utf-8", "surrogatepass"))


def json_size(value: Any) -> int:
    """Bytes of `value` as compact JSON, the way the board stores it."""
    return text_size(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str))


def exceeds(what: str, size: int, limit: int, setting: str) -> str:
    """`what` is SIZE, above the LIMIT limit for ...: the first half of every refusal."""
    return (
        f"{what} is {format_size(size)}, above the {format_size(limit)} limit for "
        f"{LIMITS[setting]} (settings.limits.{setting})"
    )


def how_to_raise(setting: str, limit: int, size: int = 0) -> str:
    """The hint of every refusal: how to raise the limit in crew.yaml (to fit `size`)."""
    return (
        f"Make it smaller, or raise settings.limits.{setting} in crew.yaml "
        f"(e.g. `limits: {{{setting}: {_round_up(max(limit * 2, size))}}}` under `settings:`)."
    )


def too_large(what: str, size: int, limit: int, setting: str) -> ConfigError:
    """The refusal of a value over its limit: one line, with how to raise the limit."""
    return ConfigError(exceeds(what, size, limit, setting), hint=how_to_raise(setting, limit, size))


def check_size(what: str, size: int, limit: int, setting: str) -> None:
    """Raise `too_large` when `size` is over `limit`."""
    if size > limit:
        raise too_large(what, size, limit, setting)


def _round_up(size: int) -> str:
    """A size a person would write, at least `size`: 20.3MB -> 21MB, 1500 -> 2KB."""
    for unit, scale in (("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{-(-size // scale)}{unit}"
    return f"{size}B"
