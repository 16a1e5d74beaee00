"""A role's structured output: its JSON Schema and a validator with precise messages.

Every role returns its declared `output` fields plus `confidence` (a number 0..1) and `rationale`
(a string), added by crew (DESIGN §2.2). `output_schema` builds a JSON Schema that OpenAI's strict
structured-output mode accepts: every property is listed in `required`, objects forbid extra
properties, and a field the author marked `required: false` is nullable instead of optional.

`validate_output` checks an answer in Python, because not every server enforces a schema (json_mode,
function_calling without strict mode, small local models): it returns the cleaned output or raises
`InvalidOutput` whose problems each name the field path, e.g.
`severity: 'extreme' is not one of low, medium, high`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from crew.spec.models import FieldSpec, FieldType, RoleSpec

CONFIDENCE = "confidence"
RATIONALE = "rationale"

_CONFIDENCE_FIELD = FieldSpec(
    type=FieldType.NUMBER,
    minimum=0,
    maximum=1,
    description="How sure you are that this answer is right, from 0 (a guess) to 1 (certain)",
)
_RATIONALE_FIELD = FieldSpec(
    type=FieldType.STRING,
    description="Why you answered this way and what you are unsure about, in a few sentences",
)


class InvalidOutput(ValueError):
    """An answer that does not match the role's output fields; `problems` name each field path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def output_fields(role: RoleSpec) -> dict[str, FieldSpec]:
    """The role's declared fields plus crew's `confidence` and `rationale`, in answer order."""
    fields = {
        name: spec for name, spec in role.output.items() if name not in (CONFIDENCE, RATIONALE)
    }
    fields[CONFIDENCE] = _CONFIDENCE_FIELD
    fields[RATIONALE] = _RATIONALE_FIELD
    return fields


def output_schema(role: RoleSpec) -> dict[str, Any]:
    """The JSON Schema of the role's answer, compatible with OpenAI strict structured outputs.

    `title` (the role's name) becomes the schema / tool name on the wire, `description` its goal.
    """
    schema = _object_schema(output_fields(role))
    return {"title": role.name, "description": role.goal, **schema}


def _object_schema(properties: Mapping[str, FieldSpec]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: _field_schema(spec) for name, spec in properties.items()},
        "required": list(properties),
        "additionalProperties": False,
    }


def _field_schema(spec: FieldSpec) -> dict[str, Any]:
    schema: dict[str, Any]
    if spec.type is FieldType.OBJECT:
        schema = _object_schema(spec.properties or {})
    elif spec.type is FieldType.ARRAY:
        schema = {"type": "array", "items": _field_schema(spec.items) if spec.items else {}}
    else:
        schema = {"type": spec.type.value}
    if spec.enum is not None:
        schema["enum"] = list(spec.enum)
    if spec.minimum is not None:
        schema["minimum"] = spec.minimum
    if spec.maximum is not None:
        schema["maximum"] = spec.maximum
    if spec.description:
        schema["description"] = spec.description
    if not spec.required:
        # Strict mode wants every property required: "may be absent" becomes "may be null".
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def parse_answer(answer: Any) -> Any:
    """Decode an answer that arrived as text; a dict (or anything else) is returned unchanged."""
    if not isinstance(answer, str):
        return answer
    text = answer.strip()
    if text.startswith("```"):
        # Models like to fence JSON in markdown even when asked not to.
        text = text.strip("`").removeprefix("json").strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidOutput([f"the answer is not valid JSON ({error})"]) from None


def validate_output(role: RoleSpec, answer: Any) -> dict[str, Any]:
    """Return the role's validated output (declared fields, then confidence and rationale).

    Unknown keys are dropped; an optional field that is missing or null takes its `default`
    (or None). Raise `InvalidOutput` listing every problem found.
    """
    value = parse_answer(answer)
    problems: list[str] = []
    output = _check_object(output_fields(role), value, "", problems)
    if problems:
        raise InvalidOutput(problems)
    assert output is not None
    return output


def validate_fields(fields: Mapping[str, FieldSpec], answer: Any) -> dict[str, Any]:
    """Like `validate_output`, for fields declared elsewhere (a human step's `output`): no
    `confidence` or `rationale` is added. Raise `InvalidOutput` listing every problem."""
    value = parse_answer(answer)
    problems: list[str] = []
    output = _check_object(fields, value, "", problems)
    if problems:
        raise InvalidOutput(problems)
    assert output is not None
    return output


def _check_object(
    properties: Mapping[str, FieldSpec], value: Any, path: str, problems: list[str]
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        where = f"{path}: " if path else "the answer: "
        problems.append(f"{where}expected a JSON object, got {_describe(value)}")
        return None
    result: dict[str, Any] = {}
    for name, spec in properties.items():
        field_path = f"{path}.{name}" if path else name
        if value.get(name) is None:
            if spec.required:
                state = "is null" if name in value else "is missing"
                problems.append(f"{field_path}: {state} (required {spec.type.value})")
            else:
                result[name] = spec.default
            continue
        result[name] = _check_value(spec, value[name], field_path, problems)
    return result


def _check_value(spec: FieldSpec, value: Any, path: str, problems: list[str]) -> Any:
    before = len(problems)
    checked = _check_type(spec, value, path, problems)
    if len(problems) > before:
        return value
    if spec.enum is not None and checked not in spec.enum:
        allowed = ", ".join(str(option) for option in spec.enum)
        problems.append(f"{path}: {checked!r} is not one of {allowed}")
    if spec.minimum is not None and checked < spec.minimum:
        problems.append(f"{path}: {checked!r} is below the minimum {spec.minimum:g}")
    if spec.maximum is not None and checked > spec.maximum:
        problems.append(f"{path}: {checked!r} is above the maximum {spec.maximum:g}")
    return checked


def _check_type(spec: FieldSpec, value: Any, path: str, problems: list[str]) -> Any:
    kind = spec.type
    if kind is FieldType.STRING:
        if isinstance(value, str):
            return value
    elif kind is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
    elif kind in (FieldType.NUMBER, FieldType.INTEGER):
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                # json.loads accepts NaN/Infinity, and small models do send them.
                problems.append(f"{path}: {value!r} is not a finite number")
                return value
            if kind is FieldType.NUMBER:
                return value
            if isinstance(value, int) or value.is_integer():
                return int(value)
    elif kind is FieldType.ARRAY:
        if isinstance(value, list):
            if spec.items is None:
                return list(value)
            items = spec.items
            return [
                _check_item(items, item, f"{path}[{i}]", problems) for i, item in enumerate(value)
            ]
    elif kind is FieldType.OBJECT:
        return _check_object(spec.properties or {}, value, path, problems)
    problems.append(f"{path}: expected {_article(kind.value)}, got {_describe(value)}")
    return value


def _check_item(spec: FieldSpec, value: Any, path: str, problems: list[str]) -> Any:
    if value is None:
        problems.append(f"{path}: is null (expected {_article(spec.type.value)})")
        return value
    return _check_value(spec, value, path, problems)


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _describe(value: Any) -> str:
    """The value as JSON would call it: `an object`, `a string 'x'`, `true`, `the number 3`."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"a string {_shorten(value)}"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return type(value).__name__


def _shorten(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
