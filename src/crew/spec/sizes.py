"""Sizes as users write them: bytes as a number, or `512KB`, `1MB`, `2MiB` (1 KB = 1024 bytes)."""

from __future__ import annotations

import re

_UNITS = {"": 1, "B": 1, "KB": 1024, "KIB": 1024, "MB": 1024**2, "MIB": 1024**2, "GB": 1024**3}
_FORMS = "use bytes or a string like 512KB, 1MB"
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*$", re.IGNORECASE)
SIZE_PATTERN = r"^\s*\d+(\.\d+)?\s*([KkMmGg][Ii]?[Bb]|[Bb])?\s*$"


def parse_size(value: object) -> int:
    """Return bytes for `value`; raise ValueError with the accepted forms otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size; {_FORMS}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"size {value!r} is negative")
        return int(value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return int(float(match.group(1)) * _UNITS[(match.group(2) or "").upper()])
    raise ValueError(f"{value!r} is not a size; {_FORMS}")


def format_size(size: int) -> str:
    """A size for people: 1048576 -> '1MB', 1536 -> '1.5KB', 900 -> '900 bytes'."""
    for unit in ("GB", "MB", "KB"):
        scale = _UNITS[unit]
        if size >= scale:
            return f"{size / scale:.3g}{unit}"
    return f"{size} bytes"
