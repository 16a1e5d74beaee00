"""A run's inputs, checked against the playbook's `inputs` (types, enums, bounds, defaults)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from crew.exceptions import ConfigError
from crew.spec.models import FieldSpec, FieldType, PlaybookSpec
from crew.spec.suggest import did_you_mean


class Mismatch(ValueError):
    """A value does not fit its field; the message says what was expected and what came."""


def check_inputs(playbook: PlaybookSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """The run's inputs with defaults applied; ConfigError naming the first input that is wrong."""
    declared = playbook.inputs
    for name in given:
        if name not in declared:
            raise ConfigError(
                f"unknown input '{name}' for playbook '{playbook.name}'",
                hint=did_you_mean(name, declared, kind="Inputs"),
            )
    result: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given:
            try:
                result[name] = conform(spec, given[name], f"input '{name}'")
            except Mismatch as exc:
                raise ConfigError(str(exc), hint=_hint(name, spec)) from None
        elif spec.default is not None:
            result[name] = copy.deepcopy(spec.default)
        elif spec.required:
            raise ConfigError(
                f"missing input '{name}' ({type_name(spec)}) for playbook '{playbook.name}'",
                hint=f"Pass it with -i {name}=... or in --inputs FILE.",
            )
        else:
            result[name] = None
    return result


def type_name(spec: FieldSpec) -> str:
    """`a string`, `a list of strings`, `one of low, medium, high`: how to describe a field."""
    if spec.enum is not None:
        return "one of " + ", ".join(str(v) for v in spec.enum)
    if spec.type is FieldType.ARRAY:
        inner = type_name(spec.items).removeprefix("an ").removeprefix("a ") if spec.items else ""
        return f"a list of {inner}s" if inner and " " not in inner else "a list"
    return {
        FieldType.STRING: "a string",
        FieldType.NUMBER: "a number",
        FieldType.INTEGER: "an integer",
        FieldType.BOOLEAN: "true or false",
        FieldType.OBJECT: "a mapping",
    }[spec.type]


def conform(spec: FieldSpec, value: Any, where: str) -> Any:
    """`value` as `spec` wants it (numbers as text for a string field); Mismatch otherwise."""
    checked = _typed(spec, value, where)
    if spec.enum is not None and checked not in spec.enum:
        raise Mismatch(f"{where} must be {type_name(spec)}, not {value!r}")
    if isinstance(checked, int | float) and not isinstance(checked, bool):
        if spec.minimum is not None and checked < spec.minimum:
            raise Mismatch(f"{where} must be at least {spec.minimum:g}, not {checked}")
        if spec.maximum is not None and checked > spec.maximum:
            raise Mismatch(f"{where} must be at most {spec.maximum:g}, not {checked}")
    return checked


def _typed(spec: FieldSpec, value: Any, where: str) -> Any:
    wrong = Mismatch(f"{where} must be {type_name(spec)}, not {_shown(value)}")
    match spec.type:
        case FieldType.STRING:
            # `-i version=2.0` arrives as a number after YAML parsing; the author meant the text.
            if isinstance(value, str):
                return value
            if isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
            raise wrong
        case FieldType.NUMBER:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
            raise wrong
        case FieldType.INTEGER:
            if isinstance(value, bool):
                raise wrong
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise wrong
        case FieldType.BOOLEAN:
            if isinstance(value, bool):
                return value
            raise wrong
        case FieldType.ARRAY:
            if not isinstance(value, list | tuple):
                raise wrong
            if spec.items is None:
                return list(value)
            return [conform(spec.items, v, f"{where}[{i}]") for i, v in enumerate(value)]
        case FieldType.OBJECT:
            if not isinstance(value, Mapping):
                raise wrong
            if not spec.properties:
                return dict(value)
            result = dict(value)
            for key, inner in spec.properties.items():
                if key in value:
                    result[key] = conform(inner, value[key], f"{where}.{key}")
                elif inner.default is not None:
                    result[key] = copy.deepcopy(inner.default)
                elif inner.required:
                    raise Mismatch(f"{where} lacks '{key}' ({type_name(inner)})")
            return result
    raise wrong  # pragma: no cover - every FieldType is matched above


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}' (a string)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return repr(value)


def _hint(name: str, spec: FieldSpec) -> str:
    if spec.type is FieldType.ARRAY:
        return f"Pass a list, e.g. -i {name}='[a, b]'."
    if spec.type is FieldType.OBJECT:
        return f"Pass a mapping, e.g. -i {name}='{{key: value}}'."
    if spec.enum is not None:
        return f"Pass one of the values, e.g. -i {name}={spec.enum[0]}."
    return f"Pass it as -i {name}=VALUE."
