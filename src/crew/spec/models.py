"""The files users write, as pydantic models (DESIGN §2): `crew.yaml`, roles, playbooks.

These models check each file on its own (types, required fields, unknown keys). Checks across
files (owners, roles, step references, templates, cycles) live in `crew.spec.checks`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from crew.durations import DURATION_PATTERN, parse_duration

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "description": "Seconds, or a string like 90s, 15m, 4h, 2d",
        }
    ),
]

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


def _invalid(message: str, key: str) -> PydanticCustomError:
    """A model-level error that remembers which key is at fault, so it can be shown at its line."""
    return PydanticCustomError(
        "crew_spec", message.replace("{", "{{").replace("}", "}}"), {"key": key}
    )


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ARRAY = "array"
    OBJECT = "object"


class FieldSpec(_Spec):
    """One output field or playbook input, in crew's small JSON-Schema-like dialect."""

    type: FieldType
    description: str | None = None
    enum: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    required: bool = True
    items: FieldSpec | None = None
    properties: dict[str, FieldSpec] | None = None

    @model_validator(mode="after")
    def _check_shape(self) -> FieldSpec:
        if self.items is not None and self.type is not FieldType.ARRAY:
            raise _invalid("'items' is only allowed on a field of type array", "items")
        if self.properties is not None and self.type is not FieldType.OBJECT:
            raise _invalid("'properties' is only allowed on a field of type object", "properties")
        numeric = (FieldType.NUMBER, FieldType.INTEGER)
        if (self.minimum is not None or self.maximum is not None) and self.type not in numeric:
            key = "minimum" if self.minimum is not None else "maximum"
            raise _invalid("'minimum'/'maximum' are only allowed on number or integer fields", key)
        if self.enum is not None and not self.enum:
            raise _invalid("'enum' needs at least one value", "enum")
        return self


class StructuredOutputMethod(StrEnum):
    JSON_SCHEMA = "json_schema"
    FUNCTION_CALLING = "function_calling"
    JSON_MODE = "json_mode"


class ModelProfile(_Spec):
    """A named model profile: how to reach one model through langchain-openai."""

    provider: Literal["openai"] = "openai"
    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    structured_output: StructuredOutputMethod = StructuredOutputMethod.JSON_SCHEMA
    temperature: float | None = None
    timeout: Duration = 60.0
    max_retries: int = Field(default=2, ge=0)


class Person(_Spec):
    name: str
    email: str | None = None
    backup: str | None = None
    webhook: str | None = None
    delegates: list[str] = Field(default_factory=list)


class Settings(_Spec):
    redis_url: str | None = None
    board: Name = "default"
    sla: Duration = 4 * 3600.0


class CrewSpec(_Spec):
    """`crew.yaml`: the team."""

    schema_: str | None = Field(default=None, alias="$schema")
    name: str
    models: dict[str, ModelProfile] = Field(default_factory=dict)
    people: dict[str, Person] = Field(default_factory=dict)
    settings: Settings = Field(default_factory=Settings)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConfidenceMethod(StrEnum):
    SELF_REPORT = "self_report"
    CONSISTENCY = "consistency"
    JUDGE = "judge"


class ConfidenceSpec(_Spec):
    threshold: float = Field(default=0.7, ge=0, le=1)
    method: ConfidenceMethod = ConfidenceMethod.SELF_REPORT
    samples: int = Field(default=3, ge=1, le=20)
    judge: str | None = None

    @model_validator(mode="after")
    def _judge_named(self) -> ConfidenceSpec:
        if self.method is ConfidenceMethod.JUDGE and not self.judge:
            raise _invalid("method 'judge' needs 'judge: <role name>'", "method")
        return self


class EscalationSpec(_Spec):
    chain: list[str] | None = None
    sla: Duration | None = None


class RoleSpec(_Spec):
    """`agents/<role>.yaml`: one AI role with a named human owner."""

    schema_: str | None = Field(default=None, alias="$schema")
    name: Name
    title: str
    goal: str
    instructions: str = ""
    model: str = "default"
    owner: str
    output: dict[str, FieldSpec] = Field(min_length=1)
    confidence: ConfidenceSpec = Field(default_factory=ConfidenceSpec)
    escalation: EscalationSpec = Field(default_factory=EscalationSpec)
    tools: list[str] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CheckpointSpec(_Spec):
    owner: str
    question: str
    show: list[str] = Field(default_factory=list)
    on_reject: str | None = None
    max_revisions: int = Field(default=2, ge=0)
    allow_self_approval: bool = False


class RouteSpec(_Spec):
    field: str
    cases: dict[str, str] = Field(min_length=1)
    default: str | None = None


class StepSpec(_Spec):
    """One step: an agent step (`role` + `task`) or a human `checkpoint`, never both."""

    id: Name
    role: str | None = None
    task: str | None = None
    checkpoint: CheckpointSpec | None = None
    needs: list[str] | None = None
    for_each: str | None = None
    route: RouteSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> StepSpec:
        if self.checkpoint is not None and (self.role is not None or self.task is not None):
            raise _invalid(
                "a step is either an agent step (role + task) or a checkpoint, not both",
                "checkpoint",
            )
        if self.checkpoint is None:
            if self.role is None:
                raise _invalid("an agent step needs 'role' (or make it a 'checkpoint')", "id")
            if self.task is None:
                raise _invalid("an agent step needs 'task': what the role should do", "role")
        if self.checkpoint is not None and (self.for_each or self.route):
            raise _invalid(
                "a checkpoint step cannot have 'for_each' or 'route'",
                "for_each" if self.for_each else "route",
            )
        return self

    @property
    def is_checkpoint(self) -> bool:
        return self.checkpoint is not None


class PlaybookSpec(_Spec):
    """`playbooks/<name>.yaml`: a repeatable workflow."""

    schema_: str | None = Field(default=None, alias="$schema")
    name: Name
    description: str = ""
    inputs: dict[str, FieldSpec] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def step(self, step_id: str) -> StepSpec:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
