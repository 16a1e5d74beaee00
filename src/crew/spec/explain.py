"""Pydantic validation errors, told as `file:line: what is wrong. hint` problems."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from crew.exceptions import Problem
from crew.spec.models import NAME_PATTERN, PYTHON_TOOL_PATTERN, FieldType
from crew.spec.suggest import closest, did_you_mean
from crew.spec.yamlfile import Located

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def describe(value: Any) -> str:
    """How a YAML value looks to its author: `a string ('x')`, `a list`, `empty`."""
    if value is None:
        return "nothing (empty)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ('{shown}')"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__} ({value})"


def problems_from(error: ValidationError, source: Located, model: type[BaseModel]) -> list[Problem]:
    """One problem per pydantic error, at the line of the key it concerns.

    A missing key and an unknown key that is close to it (`ownr` for `owner`) are one typo: only
    the unknown key is reported, with the fix.
    """
    details = error.errors()
    missing = {tuple(d["loc"]) for d in details if d["type"] == "missing"}
    mistyped: set[tuple[str | int, ...]] = set()
    for detail in details:
        loc = tuple(detail["loc"])
        if detail["type"] == "extra_forbidden" and loc:
            candidates = [m[-1] for m in missing if m[:-1] == loc[:-1]]
            match = closest(str(loc[-1]), [str(c) for c in candidates])
            if match is not None:
                mistyped.add((*loc[:-1], match))
    return [
        _problem(detail, source, model)
        for detail in details
        if not (detail["type"] == "missing" and tuple(detail["loc"]) in mistyped)
    ]


def _problem(detail: ErrorDetails, source: Located, model: type[BaseModel]) -> Problem:
    loc: list[str | int] = [part for part in detail["loc"] if part != "[key]"]
    kind = detail["type"]
    value = detail.get("input")
    where = _where(loc)
    key = str(loc[-1]) if loc else ""
    if kind == "missing":
        parent = loc[:-1]
        example = _example(model, loc)
        return Problem(
            source.file,
            source.line(parent),
            f"missing required key '{key}'" + (f" in {_where(parent)}" if parent else ""),
            f"Add `{key}: {example}`.",
        )
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        match = closest(key, allowed)
        hint = f"Did you mean '{match}'? " if match else ""
        hint += f"Allowed here: {', '.join(allowed)}" if allowed else "Remove it."
        return Problem(source.file, source.line(loc), f"unknown key '{key}'", hint)
    if kind == "crew_spec":
        ctx = detail.get("ctx") or {}
        line = source.line([*loc, ctx["key"]]) if "key" in ctx else source.line(loc)
        return Problem(source.file, line, f"{where}: {detail['msg']}", _hint_for(detail["msg"]))
    line = source.line(loc)
    if kind == "enum":
        choices = [str(m.value) for m in _enum_at(model, loc) or []]
        hint = (
            did_you_mean(str(value), choices, kind="Choices")
            if choices
            else f"Use one of {detail.get('ctx', {}).get('expected', '')}"
        )
        return Problem(source.file, line, f"{where}: {_value(value)} is not allowed", hint)
    if kind == "literal_error":
        expected = (detail.get("ctx") or {}).get("expected", "")
        return Problem(
            source.file, line, f"{where}: {_value(value)} is not allowed", f"Use {expected}."
        )
    if kind == "string_pattern_mismatch":
        pattern = (detail.get("ctx") or {}).get("pattern")
        if pattern == NAME_PATTERN:
            return Problem(
                source.file,
                line,
                f"{where}: '{value}' is not a valid name",
                "Use letters, digits, '_' and '-', starting with a letter or '_' "
                "(e.g. market_research).",
            )
        if pattern == PYTHON_TOOL_PATTERN:
            return Problem(
                source.file,
                line,
                f"{where}: '{value}' is not module:function",
                "Write the module's dotted name, a colon and the function's name "
                "(e.g. tools.tickets:lookup_ticket).",
            )
    if kind in _TYPE_WORDS:
        expected = _TYPE_WORDS[kind]
        hint = _type_hint(kind, value, expected)
        return Problem(
            source.file, line, f"{where} should be {expected}, not {describe(value)}", hint
        )
    bound = _BOUNDS.get(kind)
    if bound is not None:
        word, ctx_key = bound
        raw = (detail.get("ctx") or {}).get(ctx_key)
        limit = f"{raw:g}" if isinstance(raw, int | float) else str(raw)
        return Problem(
            source.file,
            line,
            f"{where} must be {word} {limit}, not {value!r}",
            f"Use a number {word} {limit}.",
        )
    if kind == "too_short":
        return Problem(source.file, line, f"{where} is empty", _EMPTY_HINTS.get(key, "Add one."))
    if kind == "value_error":
        message = detail["msg"].removeprefix("Value error, ")
        hint = _hint_for(message)
        if not hint and "; " in message:
            # Validators say "what is wrong; how to fix it": split it into message and hint.
            message, fix = message.split("; ", 1)
            hint = fix[:1].upper() + fix[1:].rstrip(".") + "."
        return Problem(source.file, line, f"{where}: {message}", hint)
    return Problem(source.file, line, f"{where}: {detail['msg'].rstrip('.')}", "")


_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("greater than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}
_EMPTY_HINTS = {
    "steps": "Add at least one step (an agent step or a checkpoint).",
    "output": "Declare at least one output field, e.g. `summary: {type: string}`.",
    "cases": "Map each enum value to a step, e.g. `cases: {high: review, low: publish}`.",
}


def _value(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else describe(value)


def _where(loc: Sequence[str | int]) -> str:
    """`steps[2].role` style path of a key, as its author would find it."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"'{text}'" if text else "the file"


def _type_hint(kind: str, value: Any, expected: str) -> str:
    if kind == "model_type" and isinstance(value, str) and value in {t.value for t in FieldType}:
        return f"Write the field as a mapping: {{type: {value}}}."
    if kind == "list_type" and isinstance(value, str):
        return f"Write a list: [{value}]."
    if kind == "string_type" and isinstance(value, bool):
        return "Quote it if you mean the text: 'yes'."
    return f"Write {expected} here."


def _hint_for(message: str) -> str:
    if "a tool is either" in message:
        return "Keep one: `python: module:function` or `mcp: <server>`."
    if "an MCP server is either" in message:
        return "Keep one: `command:` (with `args:`) to start it, or `url:` to reach it."
    if "it needs 'mcp'" in message:
        return "Add `mcp: <server>`, or remove `tool`."
    if "for a `command:` server" in message:
        return "Remove them, or start the server with `command:` instead of `url:`."
    if "negative" in message:
        return "Use a duration like 90s, 15m, 4h or 2d."
    if "'enum' needs" in message:
        return "List the allowed values, e.g. `enum: [low, high]`, or remove `enum`."
    if "only allowed on" in message:
        return "Remove it, or change the field's type."
    if "not both" in message:
        return "Split it into two steps: one with role + task, one with checkpoint."
    if "needs 'role'" in message:
        return "Add `role: <a role in agents/>` and `task: ...`, or make it a checkpoint."
    if "needs 'task'" in message:
        return "Add `task: ...` saying what the role should do."
    if "judge" in message:
        return "Add `judge: <role name>`, or use method self_report or consistency."
    return ""


def _example(model: type[BaseModel], loc: Sequence[str | int]) -> str:
    annotation = _annotation_at(model, loc)
    target = _unwrap(annotation)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return "{...}"
    origin = typing.get_origin(target)
    if origin is list:
        return "[...]"
    if origin is dict:
        return "{...}"
    return "..."


def _allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    target = _unwrap(_annotation_at(model, loc)) if loc else model
    if isinstance(target, type) and issubclass(target, BaseModel):
        # `$schema` is accepted everywhere but is noise in a list of suggestions.
        return [info.alias or name for name, info in target.model_fields.items() if not info.alias]
    return []


def _enum_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[Enum] | None:
    target = _unwrap(_annotation_at(model, loc))
    return target if isinstance(target, type) and issubclass(target, Enum) else None


def _annotation_at(model: type[BaseModel], loc: Sequence[str | int]) -> Any:
    """The type annotation that validates the value at `loc` (None when it cannot be told)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                field = next((f for f in current.model_fields.values() if f.alias == part), None)
            if field is None:
                return None
            current = field.annotation
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin is list and args:
            current = args[0]
        elif origin is dict and len(args) == 2:
            current = args[1]
        else:
            return None
    return current


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` as X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation
