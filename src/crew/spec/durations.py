"""Durations as users write them: seconds as a number, or `90s`, `15m`, `4h`, `2d`."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_FORMS = "use seconds or a string like 90s, 15m, 4h, 2d"
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*[smhd]?\s*$"


def parse_duration(value: object) -> float:
    """Return seconds for `value`; raise ValueError with the accepted forms otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; {_FORMS}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration {value!r} is negative")
        return float(value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    raise ValueError(f"{value!r} is not a duration; {_FORMS}")


def format_duration(seconds: float) -> str:
    """The shortest exact form: 7200 -> '2h', 90 -> '90s'."""
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
