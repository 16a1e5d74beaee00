"""The files users write, as pydantic models (DESIGN §2): `crew.yaml`, roles, playbooks.

These models check each file on its own (types, required fields, unknown keys). Checks across
files (owners, roles, step references, templates, cycles) live in `crew.spec.checks`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from crew.spec.durations import DURATION_PATTERN, parse_duration
from crew.spec.sizes import SIZE_PATTERN, parse_size

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

Size = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": SIZE_PATTERN},
            ],
            "description": "Bytes, or a string like 512KB, 1MB",
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

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # `people:` with every entry commented out is YAML null; the author meant "none".
        if not isinstance(data, dict):
            return data
        empty = [
            key
            for key, value in data.items()
            if value is None
            and isinstance(key, str)
            and key in cls.model_fields
            and cls.model_fields[key].default_factory is not None
        ]
        return {k: v for k, v in data.items() if k not in empty} if empty else data


class FieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ARRAY = "array"
    OBJECT = "object"


class FieldSpec(_Spec):
    """One output field or playbook input, in crew's small JSON-Schema-like dialect."""

    type: FieldType = Field(description="string, number, integer, boolean, array or object")
    description: str | None = Field(
        default=None, description="What the value means (the model sees it)"
    )
    enum: list[Any] | None = Field(default=None, description="The only values allowed")
    minimum: float | None = Field(default=None, description="Smallest allowed number")
    maximum: float | None = Field(default=None, description="Largest allowed number")
    default: Any = Field(default=None, description="Used when no value is given")
    required: bool = Field(default=True, description="Fields are required unless false")
    items: FieldSpec | None = Field(default=None, description="The type of each item of an array")
    properties: dict[str, FieldSpec] | None = Field(
        default=None, description="The fields of an object"
    )

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


class Price(_Spec):
    """What a model's tokens cost, in USD per million tokens (for `cost` on cards and in status)."""

    input: float = Field(ge=0, description="USD per million input (prompt) tokens")
    output: float = Field(ge=0, description="USD per million output (completion) tokens")

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The cost in USD of that many tokens."""
        return (input_tokens * self.input + output_tokens * self.output) / 1e6


class ModelProfile(_Spec):
    """A named model profile: how to reach one model through langchain-openai."""

    provider: Literal["openai"] = Field(default="openai", description="langchain-openai ChatOpenAI")
    model: str = Field(description="The model name, e.g. gpt-4.1-mini")
    base_url: str | None = Field(
        default=None, description="Any OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1"
    )
    api_key_env: str = Field(
        default="OPENAI_API_KEY", description="The environment variable holding the API key"
    )
    structured_output: StructuredOutputMethod = Field(
        default=StructuredOutputMethod.JSON_SCHEMA,
        description="How to ask for structured output: json_schema, function_calling or json_mode",
    )
    temperature: float | None = None
    timeout: Duration = Field(default=60.0, description="Per call: seconds, or 90s, 2m, ...")
    max_retries: int = Field(default=2, ge=0, description="Retries of a failed call")
    price: Price | None = Field(
        default=None,
        description="USD per million tokens, e.g. {input: 0.40, output: 1.60}; then cards and "
        "crew status show cost",
    )


class Person(_Spec):
    """A person of the team (the key under `people` is how crew names them)."""

    name: str = Field(description="Full name, for display")
    email: str | None = None
    backup: str | None = Field(
        default=None, description="Who hears of escalations after this person (a key of people)"
    )
    webhook: str | None = Field(
        default=None, description="URL that receives a POST when a card is assigned to them"
    )
    delegates: list[str] = Field(
        default_factory=list, description="People who may answer this person's checkpoints"
    )
    keys: list[str] = Field(
        default_factory=list,
        description="OpenSSH public keys this person signs decisions with "
        '(e.g. "ssh-ed25519 AAAA... carol@laptop"; ssh-ed25519 or ssh-rsa)',
    )


class Limits(_Spec):
    """The largest text crew accepts, so a mistake (or an attack) cannot flood the board or a
    model. The defaults are far above what a person writes by hand."""

    inputs: Size = Field(default=1024**2, description="A run's inputs, as JSON")
    task: Size = Field(default=256 * 1024, description="One rendered task sent to a model")
    output: Size = Field(default=256 * 1024, description="One step's output, as JSON")
    edit: Size = Field(default=256 * 1024, description="An edited output or a submitted file")
    comment: Size = Field(default=16 * 1024, description="A decision's comment")
    yaml_aliases: int = Field(
        default=100, ge=0, description="YAML aliases (*name) allowed in one inputs or edit file"
    )


class Retention(_Spec):
    """How long the board keeps what is over."""

    finished: Duration = Field(
        default=7 * 86400.0,
        description="Finished runs and cards are deleted this long after they finished",
    )
    abandoned: Duration | None = Field(
        default=None,
        description="A run still waiting on a person after this long is cancelled "
        "(null: never), then deleted like a finished one",
    )


class Smtp(_Spec):
    """E-mail notifications (DESIGN §8): a person with an `email` and no `webhook` is told of a
    card waiting on them by e-mail, through this SMTP server (the password from the environment)."""

    host: str = Field(description="The SMTP server's host name")
    port: int = Field(default=587, ge=1, le=65535, description="Its port (587: submission)")
    sender: str = Field(description="The From address, e.g. crew@example.com")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS")
    username_env: str | None = Field(
        default=None, description="The environment variable holding the SMTP user name"
    )
    password_env: str | None = Field(
        default=None, description="The environment variable holding the SMTP password"
    )


class Settings(_Spec):
    """Settings shared by the team's runs."""

    redis_url: str | None = Field(
        default=None,
        description="null: an embedded Redis kept in .crew/; or redis://host:6379/0 "
        "(CREW_REDIS_URL wins)",
    )
    board: Name = Field(default="default", description="The board name (CREW_BOARD wins)")
    sla: Duration = Field(
        default=4 * 3600.0, description="Time a person has to answer before escalating further"
    )
    admins: list[str] = Field(
        default_factory=list,
        description="People who may cancel any run (besides its starter and its owners)",
    )
    limits: Limits = Field(default_factory=Limits)
    retention: Retention = Field(default_factory=Retention)
    allow_eviction: bool = Field(
        default=False,
        description="Use a Redis whose maxmemory-policy may evict keys (warns instead of "
        "refusing; evicted keys lose runs)",
    )
    require_signed: bool = Field(
        default=False,
        description="A run goes on from a person's decision only when its signature verifies "
        "against the keys in crew.yaml (people.<p>.keys or an authority)",
    )
    smtp: Smtp | None = Field(
        default=None,
        description="E-mail notifications for people with an email and no webhook "
        "(host, port, sender, starttls, username_env, password_env)",
    )


PYTHON_TOOL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"


class ToolSpec(_Spec):
    """One tool of the registry (DESIGN §7): a Python function or a tool of an MCP server."""

    python: str | None = Field(
        default=None,
        pattern=PYTHON_TOOL_PATTERN,
        description="module:function, imported with the project root on sys.path",
    )
    mcp: str | None = Field(default=None, description="An MCP server of `mcp_servers`")
    tool: str | None = Field(
        default=None, description="The tool's name on the MCP server (default: this tool's name)"
    )
    approval: str = Field(
        default="none",
        description="Who approves each call first: none, owner (the role's owner), "
        "chain (the role's escalation chain) or a person of `people`",
    )
    approve_when: str | None = Field(
        default=None,
        description='Only calls whose arguments match need approval, e.g. "amount > 100"',
    )
    idempotent: bool = Field(
        default=False, description="May a call cut short by a crash run again?"
    )
    timeout: Duration = Field(default=30.0, description="Per call: seconds, or 30s, 2m, ...")

    @model_validator(mode="after")
    def _one_source(self) -> ToolSpec:
        if (self.python is None) == (self.mcp is None):
            raise _invalid(
                "a tool is either `python: module:function` or `mcp: <server>`, exactly one",
                "mcp" if self.mcp is not None else "python",
            )
        if self.tool is not None and self.mcp is None:
            raise _invalid("'tool' names a tool of an MCP server: it needs 'mcp'", "tool")
        return self

    @property
    def source(self) -> str:
        """`python: module:function` or `mcp: server/tool`, as `crew tools` shows it."""
        if self.python is not None:
            return f"python: {self.python}"
        return f"mcp: {self.mcp}" + (f"/{self.tool}" if self.tool else "")


class McpServerSpec(_Spec):
    """An MCP server: a command crew starts (stdio) or a URL (streamable HTTP)."""

    command: str | None = Field(default=None, description="The program to start (stdio)")
    args: list[str] = Field(default_factory=list, description="Its arguments (stdio)")
    env: dict[str, str] | None = Field(
        default=None, description="Environment variables for the command (stdio)"
    )
    url: str | None = Field(
        default=None, description="A streamable HTTP endpoint, e.g. http://127.0.0.1:9000/mcp"
    )

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSpec:
        if (self.command is None) == (self.url is None):
            raise _invalid(
                "an MCP server is either `command:` (stdio) or `url:` (streamable HTTP), "
                "exactly one",
                "url" if self.url is not None else "command",
            )
        if self.url is not None and (self.args or self.env is not None):
            raise _invalid("'args' and 'env' are for a `command:` server", "url")
        return self


class CrewSpec(_Spec):
    """`crew.yaml`: the team."""

    schema_: str | None = Field(default=None, alias="$schema")
    name: str = Field(description="The team's or project's name")
    models: dict[str, ModelProfile] = Field(
        default_factory=dict, description="Named model profiles a role's `model:` can name"
    )
    people: dict[str, Person] = Field(default_factory=dict, description="The team, by short name")
    authorities: dict[Name, str] = Field(
        default_factory=dict,
        description="Keys of servers that sign for people they authenticated "
        '(name -> "ssh-ed25519 AAAA..."); recorded as verified_by: <name>',
    )
    settings: Settings = Field(default_factory=Settings)
    tools: dict[Name, ToolSpec] = Field(
        default_factory=dict, description="The project's tool registry, by name"
    )
    mcp_servers: dict[Name, McpServerSpec] = Field(
        default_factory=dict, description="MCP servers the registry's `mcp:` tools name"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConfidenceMethod(StrEnum):
    SELF_REPORT = "self_report"
    CONSISTENCY = "consistency"
    JUDGE = "judge"


class ConfidenceSpec(_Spec):
    """How sure a role's output must be to flow on without a person looking."""

    threshold: float = Field(
        default=0.7, ge=0, le=1, description="Below this the output is escalated to the owner"
    )
    method: ConfidenceMethod = Field(
        default=ConfidenceMethod.SELF_REPORT, description="self_report, consistency or judge"
    )
    samples: int = Field(default=3, ge=1, le=20, description="Samples compared, for consistency")
    judge: str | None = Field(default=None, description="The role that scores outputs, for judge")

    @model_validator(mode="after")
    def _judge_named(self) -> ConfidenceSpec:
        if self.method is ConfidenceMethod.JUDGE and not self.judge:
            raise _invalid("method 'judge' needs 'judge: <role name>'", "method")
        return self


class EscalationSpec(_Spec):
    """Who hears of the role's escalations, and how long each has to answer."""

    chain: list[str] | None = Field(
        default=None, description="People in order; default: the owner, then the owner's backup"
    )
    sla: Duration | None = Field(default=None, description="Default: settings.sla in crew.yaml")


class RoleSpec(_Spec):
    """`agents/<role>.yaml`: one AI role with a named human owner."""

    schema_: str | None = Field(default=None, alias="$schema")
    name: Name = Field(description="Must equal the file's stem")
    title: str = Field(description="The role's job title, e.g. Market Researcher")
    goal: str = Field(description="What the role is for, in one sentence")
    instructions: str = Field(default="", description="How the role should work (the prompt)")
    model: str = Field(
        default="default", description='A profile from crew.yaml `models`, or "openai:<model>"'
    )
    owner: str = Field(description="The accountable person (a key of crew.yaml people)")
    output: dict[str, FieldSpec] = Field(
        min_length=1,
        description="The fields the role returns (crew adds confidence and rationale)",
    )
    confidence: ConfidenceSpec = Field(default_factory=ConfidenceSpec)
    escalation: EscalationSpec = Field(default_factory=EscalationSpec)
    tools: list[str] = Field(default_factory=list, description="Names from the tool registry")
    max_tool_calls: int = Field(
        default=10, ge=0, description="Tool calls per execution; past it the output is escalated"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CheckpointSpec(_Spec):
    """A human checkpoint: a person approves, edits or rejects before the run goes on."""

    owner: str = Field(description="Who answers (a key of crew.yaml people; or a delegate)")
    question: str = Field(description="What the person is asked (a template)")
    show: list[str] = Field(default_factory=list, description="Steps whose outputs are shown")
    on_reject: str | None = Field(
        default=None, description="An earlier step to revise with the rejection's comment"
    )
    max_revisions: int = Field(
        default=2, ge=0, description="After this many revisions a rejection fails the run"
    )
    allow_self_approval: bool = False


class HumanStepSpec(_Spec):
    """A human work step (DESIGN §8): a person does the task and submits the output fields."""

    owner: str = Field(description="Who does it (a key of crew.yaml people; or a delegate)")
    task: str = Field(
        description="What the person should do: a template with inputs.*, steps.<id>, item, ..."
    )
    output: dict[Name, FieldSpec] = Field(
        min_length=1, description="The fields the person submits (the role output dialect)"
    )
    sla: Duration | None = Field(
        default=None,
        description="Time to submit before the task moves to the owner's backup "
        "(default settings.sla)",
    )


class RouteSpec(_Spec):
    """Choose the next step by an enum field of this step's output."""

    field: str = Field(description="An output field of the step's role that has an enum")
    cases: dict[str, str] = Field(min_length=1, description="Enum value -> the step to run")
    default: str | None = Field(default=None, description="The step for values with no case")


class StepSpec(_Spec):
    """One step: an agent step (`role` + `task`), a human `checkpoint`, or a human work step
    (`human`), exactly one."""

    id: Name = Field(description="Unique in the playbook; templates use it as steps.<id>")
    role: str | None = Field(default=None, description="A role from agents/ (an agent step)")
    task: str | None = Field(
        default=None,
        description="What the role should do: a template with inputs.*, steps.<id>, "
        "steps.<id>.<field>, item, index, feedback",
    )
    checkpoint: CheckpointSpec | None = None
    human: HumanStepSpec | None = Field(
        default=None, description="A human work step: a person does the task (DESIGN §8)"
    )
    run: str | None = Field(
        default=None,
        pattern=PYTHON_TOOL_PATTERN,
        description="An automated step: module:function from the project, called with the "
        "inputs and step outputs its parameters name; its return value is the step's output",
    )
    output: dict[Name, FieldSpec] | None = Field(
        default=None,
        description="An automated step's output fields (the role output dialect), checked "
        "against what the function returns",
    )
    idempotent: bool = Field(
        default=False,
        description="An automated step: may a call cut short by a crash run again?",
    )
    timeout: Duration = Field(
        default=60.0, description="An automated step: seconds (or 30s, 2m) before it fails"
    )
    needs: list[str] | None = Field(
        default=None,
        description="Steps that must finish first; default: the step listed before; [] = at start",
    )
    for_each: str | None = Field(
        default=None,
        description="Fan out over inputs.<array> or steps.<id>.<array field>, one task per item",
    )
    route: RouteSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> StepSpec:
        if self.run is not None:
            if any(v is not None for v in (self.role, self.task, self.checkpoint, self.human)):
                raise _invalid(
                    "an automated step ('run: module:function') has no 'role', 'task', "
                    "'checkpoint' or 'human'",
                    "run",
                )
            return self
        if self.output is not None:
            raise _invalid(
                "'output' declares an automated step's fields: it goes with 'run' (a role "
                "declares its own in agents/)",
                "output",
            )
        if self.human is not None:
            if self.role is not None or self.task is not None or self.checkpoint is not None:
                raise _invalid(
                    "a human step has its task under 'human:'; it has no 'role', 'task' or "
                    "'checkpoint'",
                    "human",
                )
            return self
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

    @property
    def work(self) -> str | None:
        """The task template of an agent step or a human step (None for a checkpoint or an
        automated step)."""
        return self.human.task if self.human is not None else self.task


class PlaybookSpec(_Spec):
    """`playbooks/<name>.yaml`: a repeatable workflow."""

    schema_: str | None = Field(default=None, alias="$schema")
    name: Name = Field(description="Must equal the file's stem")
    description: str = ""
    inputs: dict[str, FieldSpec] = Field(
        default_factory=dict, description="What a run must pass (-i key=value), with types"
    )
    owner: str | None = Field(
        default=None,
        description="Who answers for the playbook's automated steps when one fails (a person "
        "of crew.yaml); default: the person who started the run",
    )
    steps: list[StepSpec] = Field(min_length=1, description="Agent steps and human checkpoints")
    outputs: list[str] | None = Field(
        default=None,
        description="The steps whose outputs are the run's results (shown when it finishes); "
        "default: the steps no other step uses",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def step(self, step_id: str) -> StepSpec:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
