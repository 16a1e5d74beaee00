"""Forms generated from output fields (a role's `output`, a human step's `output`), and the
mapping a submitted form stands for.

A form has one control per field: a text area for a string, a text box for a number (so a
wrong number reaches crew's own validation and its message, the CLI's), a select for a boolean
or an enum, and a text area of YAML for an array or an object. `output_of_form` turns what was
posted back into the mapping `crew.people.answering.answer_card` checks: a number that does not
parse stays the text typed (crew's check then names the field and its type, as for a file), an
empty optional field is left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crew.exceptions import ConfigError

if TYPE_CHECKING:
    from crew.spec.models import FieldSpec, Limits

__all__ = ["PREFIX", "FormField", "form_fields", "output_of_form"]

PREFIX = "field."
"""Form control names are `field.<name>`, apart from the form's own controls."""


@dataclass(frozen=True)
class FormField:
    """One control of a generated form."""

    name: str
    type: str
    control: str
    """textarea | number | select | yaml"""
    required: bool
    description: str | None
    choices: list[str]
    value: str
    """What the control holds at first (the output under review, as text)."""


def _text(value: Any, control: str) -> str:
    if value is None:
        return ""
    if control == "yaml":
        import yaml

        return str(yaml.safe_dump(value, sort_keys=False, allow_unicode=True)).strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value) if not isinstance(value, int | float) else str(value)


def form_fields(
    fields: Mapping[str, FieldSpec], current: Mapping[str, Any] | None = None
) -> list[FormField]:
    """The controls for `fields`, filled with `current` (an output to edit) where given."""
    from crew.agents.outputs import CONFIDENCE, RATIONALE

    current = current or {}
    made: list[FormField] = []
    for name, spec in fields.items():
        if name in (CONFIDENCE, RATIONALE):
            continue
        kind = str(spec.type)
        if spec.enum:
            control, choices = "select", [_text(v, "select") for v in spec.enum]
        elif kind == "boolean":
            control, choices = "select", ["true", "false"]
        elif kind in ("number", "integer"):
            control, choices = "number", []
        elif kind in ("array", "object"):
            control, choices = "yaml", []
        else:
            control, choices = "textarea", []
        made.append(
            FormField(
                name=name,
                type=kind,
                control=control,
                required=spec.required,
                description=spec.description,
                choices=choices,
                value=_text(current.get(name), control),
            )
        )
    return made


def output_of_form(
    fields: Mapping[str, FieldSpec], form: Mapping[str, str], limits: Limits
) -> dict[str, Any]:
    """The output a submitted form stands for (see the module docstring). ConfigError naming
    the field when an array or object field is not YAML."""
    from crew.spec.yamlfile import NotYAML, load_yaml

    output: dict[str, Any] = {}
    for made in form_fields(fields):
        raw = form.get(PREFIX + made.name)
        if raw is None or (raw.strip() == "" and made.type != "string"):
            continue
        if raw == "" and not made.required:
            continue
        value: Any = raw
        if fields[made.name].enum:
            value = _enum_value(fields[made.name], raw)
        elif made.type in ("number", "integer"):
            value = _number(raw.strip())
        elif made.type == "boolean":
            value = {"true": True, "false": False}.get(raw.strip().lower(), raw)
        elif made.control == "yaml":
            try:
                value = load_yaml(
                    raw, f"field {made.name}", max_aliases=limits.yaml_aliases, max_size=limits.edit
                )
            except NotYAML as error:
                raise ConfigError(
                    f"field {made.name}: {error.problem}",
                    hint=f"Write {made.type} {made.name} as YAML (e.g. a '- item' per line).",
                ) from None
        output[made.name] = value
    return output


def _number(raw: str) -> Any:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw  # crew's check names the field and the type it wants


def _enum_value(spec: FieldSpec, raw: str) -> Any:
    for choice in spec.enum or []:
        if _text(choice, "select") == raw:
            return choice
    return raw
