"""Step templates: a small mustache subset where no code runs.

    {{inputs.product}}       a value by dotted path (lists take numeric segments: {{steps.x.0}})
    {{{x}}} / {{& x}}        the same as {{x}}: nothing is ever HTML-escaped
    {{! a comment }}         dropped

A missing value renders empty; mappings and lists render as block-style YAML. Sections and partials
(`{{#x}}`, `{{^x}}`, `{{/x}}`, `{{> x}}`) are not part of the subset and are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from crew.exceptions import ConfigError

__all__ = ["Reference", "TemplateSyntaxError", "parse", "references", "render"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.([A-Za-z_][A-Za-z0-9_-]*|\d+))*$")
_UNSUPPORTED = {
    "#": "sections",
    "^": "inverted sections",
    "/": "section ends",
    ">": "partials",
    "=": "delimiter changes",
}


class TemplateSyntaxError(ConfigError):
    """A template is malformed; `offset` is where in the template text the problem starts."""

    def __init__(self, message: str, *, offset: int, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.offset = offset


@dataclass(frozen=True)
class Reference:
    """One `{{name}}` in a template: the dotted name and its offset in the template text."""

    name: str
    offset: int


def parse(template: str) -> list[str | Reference]:
    """The template as literal text and references, in order; raise TemplateSyntaxError."""
    parts: list[str | Reference] = []
    position = 0
    while True:
        start = template.find("{{", position)
        if start < 0:
            if position < len(template):
                parts.append(template[position:])
            return parts
        if start > position:
            parts.append(template[position:start])
        triple = template.startswith("{{{", start)
        closer = "}}}" if triple else "}}"
        end = template.find(closer, start + len(closer))
        if end < 0:
            raise TemplateSyntaxError(
                f"'{_snippet(template, start)}' is never closed",
                offset=start,
                hint=f"Close it with '{closer}', e.g. {{{{inputs.name}}}}.",
            )
        inner = template[start + len(closer) : end].strip()
        position = end + len(closer)
        if inner.startswith("!"):
            continue
        sigil = inner[:1]
        if sigil in _UNSUPPORTED:
            raise TemplateSyntaxError(
                f"'{{{{{inner}}}}}': {_UNSUPPORTED[sigil]} are not supported in crew templates",
                offset=start,
                hint="Use plain references like {{steps.draft.brief}}; no logic runs in templates.",
            )
        if sigil == "&":
            inner = inner[1:].strip()
        if not _NAME.match(inner):
            raise TemplateSyntaxError(
                f"'{template[start:position]}' is not a valid reference",
                offset=start,
                hint="Use a dotted name such as {{inputs.product}}, {{steps.draft.brief}} "
                "or {{item}}.",
            )
        parts.append(Reference(inner, start))


def _snippet(template: str, start: int) -> str:
    text = template[start:].split("\n", 1)[0]
    return text if len(text) <= 30 else text[:27] + "..."


def references(template: str) -> list[str]:
    """The dotted names the template uses, in order of appearance (duplicates kept once)."""
    seen: dict[str, None] = {}
    for part in parse(template):
        if isinstance(part, Reference):
            seen.setdefault(part.name, None)
    return list(seen)


def render(template: str, context: Mapping[str, Any]) -> str:
    """Fill `template` from `context` by dotted paths; missing values render empty."""
    out: list[str] = []
    for part in parse(template):
        out.append(part if isinstance(part, str) else _text(_lookup(context, part.name)))
    return "".join(out)


def _lookup(context: Mapping[str, Any], name: str) -> Any:
    value: Any = context
    for segment in name.split("."):
        if isinstance(value, Mapping):
            value = value.get(segment)
        elif (
            isinstance(value, Sequence)
            and not isinstance(value, str | bytes)
            and segment.isdigit()
            and int(segment) < len(value)
        ):
            value = value[int(segment)]
        else:
            return None
        if value is None:
            return None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return yaml.safe_dump(
            _plain(value), default_flow_style=False, sort_keys=False, allow_unicode=True, width=100
        ).rstrip("\n")
    return str(value)


def _plain(value: Any) -> Any:
    """Mappings and sequences as dicts and lists, so safe_dump accepts them."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
