"""Checks across files (DESIGN §2): people, profiles, roles, steps, routes, templates, cycles.

Each file has already been validated on its own; here every reference from one file to another
(or from one step to another) is resolved, and each one that does not resolve is a `Problem` at
the line where it is written, with the names that would have worked.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crew.exceptions import Problem
from crew.spec import expressions, flow, templates
from crew.spec.inputs import Mismatch, conform
from crew.spec.models import (
    NAME_PATTERN,
    ConfidenceMethod,
    CrewSpec,
    FieldSpec,
    FieldType,
    PlaybookSpec,
    RoleSpec,
    StepSpec,
    ToolSpec,
)
from crew.spec.project import OPENAI_PREFIX
from crew.spec.suggest import did_you_mean
from crew.spec.yamlfile import Loc, Located

if TYPE_CHECKING:
    from crew.spec.loaded import Loaded, Sourced

# Every role's output carries these; crew adds them, authors must not declare them.
ADDED_FIELDS = ("confidence", "rationale")
TEMPLATE_NAMES = "inputs.<name>, steps.<id>, steps.<id>.<field>, item, index or feedback"


def check_project(loaded: Loaded, *, code: bool = True) -> list[Problem]:
    """Every cross-file problem of the files that parsed on their own. With `code`, the
    project's Python too: each tool's and automated step's module is imported (afresh) and its
    function checked. That is user code, possibly slow or heavy to import: `crew validate` and
    the commands that drive runs ask for it, the ones that only read or answer the board don't
    (a run still imports its tools when a step needs them, and fails that step clearly)."""
    root = loaded.root if code else None
    problems: list[Problem] = []
    crew = loaded.crew
    if crew is not None:
        problems.extend(_check_people(crew.spec, crew.source))
        problems.extend(_check_keys(crew.spec, crew.source))
        problems.extend(_check_tools(crew.spec, crew.source, root))
    role_names = set(loaded.roles) | loaded.broken_roles
    for stem, role in loaded.roles.items():
        problems.extend(_check_role(role, stem, crew.spec if crew else None, role_names))
    for stem, playbook in loaded.playbooks.items():
        context = _PlaybookContext(
            playbook=playbook.spec,
            source=playbook.source,
            crew=crew.spec if crew else None,
            roles={name: r.spec for name, r in loaded.roles.items()},
            role_names=role_names,
            root=root,
        )
        problems.extend(context.check(stem))
    return problems


def _problem(source: Located, loc: Loc, message: str, hint: str = "") -> Problem:
    return Problem(source.file, source.line(loc), message, hint)


def _check_people(crew: CrewSpec, source: Located) -> Iterator[Problem]:
    people = crew.people
    for key, person in people.items():
        if person.backup is not None:
            if person.backup not in people:
                yield _problem(
                    source,
                    ("people", key, "backup"),
                    f"backup of '{key}' is unknown person '{person.backup}'",
                    did_you_mean(person.backup, people, kind="People"),
                )
            elif person.backup == key:
                yield _problem(
                    source,
                    ("people", key, "backup"),
                    f"'{key}' is their own backup",
                    "Name someone else, or remove `backup`.",
                )
        for index, delegate in enumerate(person.delegates):
            if delegate not in people:
                yield _problem(
                    source,
                    ("people", key, "delegates", index),
                    f"delegate of '{key}' is unknown person '{delegate}'",
                    did_you_mean(delegate, people, kind="People"),
                )
    for index, admin in enumerate(crew.settings.admins):
        if admin not in people:
            yield _problem(
                source,
                ("settings", "admins", index),
                f"admin '{admin}' is not a person of crew.yaml",
                did_you_mean(admin, people, kind="People"),
            )


def _check_keys(crew: CrewSpec, source: Located) -> Iterator[Problem]:
    """Every key of `people.<p>.keys` and `authorities` parses, and no key stands for two."""
    if not crew.authorities and not any(p.keys for p in crew.people.values()):
        return  # no keys: nothing to import
    from crew.spec.sshkeys import KeyLineError, parse_public_key

    hint = (
        "Paste the whole line of the public key file (e.g. ~/.ssh/id_ed25519.pub: "
        "'ssh-ed25519 AAAA... you@host'); `crew keys` prints yours."
    )
    owners: dict[str, str] = {}
    listed: list[tuple[Loc, str, str]] = [
        (("people", key, "keys", index), f"'{key}'", line)
        for key, person in crew.people.items()
        for index, line in enumerate(person.keys)
    ]
    listed += [
        (("authorities", name), f"authority '{name}'", line)
        for name, line in crew.authorities.items()
    ]
    for loc, who, line in listed:
        try:
            key = parse_public_key(line)
        except KeyLineError as error:
            yield _problem(source, loc, f"key of {who}: {error}", hint)
            continue
        first = owners.setdefault(key.line, who)
        if first != who:
            yield _problem(
                source,
                loc,
                f"key {key.fingerprint} of {who} is also listed for {first}",
                "A key stands for one person or one authority: give each their own key.",
            )


def _check_role(
    sourced: Sourced[RoleSpec], stem: str, crew: CrewSpec | None, role_names: set[str]
) -> Iterator[Problem]:
    role, source = sourced.spec, sourced.source
    if role.name != stem:
        yield _problem(
            source,
            ("name",),
            f"name '{role.name}' does not match the file name {stem}.yaml",
            f"Set `name: {stem}`, or rename the file to {role.name}.yaml.",
        )
    yield from _check_field_names(source, ("output",), role.output, "output field")
    for field_name in role.output:
        if field_name in ADDED_FIELDS:
            yield _problem(
                source,
                ("output", field_name),
                f"output field '{field_name}' is added by crew to every role",
                "Remove it: every output already carries confidence and rationale.",
            )
    yield from _check_defaults(source, ("output",), role.output, "output field")
    confidence = role.confidence
    judge = confidence.judge
    if judge == role.name:
        yield _problem(
            source,
            ("confidence", "judge"),
            f"role '{role.name}' cannot judge its own output",
            "Name another role as judge.",
        )
    if confidence.method is ConfidenceMethod.JUDGE and judge and judge not in role_names:
        yield _problem(
            source,
            ("confidence", "judge"),
            f"judge '{judge}' is not a role",
            did_you_mean(judge, role_names, kind="Roles"),
        )
    if crew is None:
        return  # crew.yaml is broken: its own problems are reported; people are unknown
    people = crew.people
    if role.owner not in people:
        yield _problem(
            source,
            ("owner",),
            f"unknown owner '{role.owner}'",
            did_you_mean(role.owner, people, kind="People"),
        )
    if role.escalation.chain == []:
        yield _problem(
            source,
            ("escalation", "chain"),
            "the escalation chain is empty, so nobody would hear of an escalation",
            f"Name at least one person (e.g. [{role.owner}]), or remove `chain` for the default.",
        )
    for index, person in enumerate(role.escalation.chain or []):
        if person not in people:
            yield _problem(
                source,
                ("escalation", "chain", index),
                f"unknown person '{person}' in the escalation chain",
                did_you_mean(person, people, kind="People"),
            )
    for index, tool in enumerate(role.tools):
        if tool not in crew.tools:
            yield _problem(
                source,
                ("tools", index),
                f"unknown tool '{tool}'",
                did_you_mean(tool, crew.tools, kind="Tools (crew.yaml tools)"),
            )
    if role.tools and role.confidence.method == "consistency":
        yield _problem(
            source,
            ("confidence", "method"),
            f"a role with tools cannot be measured by 'consistency': its "
            f"{role.confidence.samples} samples would each call the tools",
            "Use method self_report or judge, or remove the role's tools.",
        )
    model = role.model
    if model not in crew.models:
        if model.startswith(OPENAI_PREFIX):
            if not model[len(OPENAI_PREFIX) :]:
                yield _problem(
                    source, ("model",), "'openai:' names no model", "Write openai:<model>."
                )
        else:
            yield _problem(
                source,
                ("model",),
                f"unknown model profile '{model}'",
                did_you_mean(model, crew.models, kind="Profiles (crew.yaml models)")
                + "; or write openai:<model>",
            )


# `approval:` values that are not people's names.
APPROVALS = ("none", "owner", "chain")


def _check_tools(crew: CrewSpec, source: Located, root: Path | None) -> Iterator[Problem]:
    """`root`: where the tools' modules are imported from (None: they are not)."""
    for name, tool in crew.tools.items():
        here = ("tools", name)
        if tool.approval not in APPROVALS and tool.approval not in crew.people:
            yield _problem(
                source,
                (*here, "approval"),
                f"approval of tool '{name}' names unknown person '{tool.approval}'",
                did_you_mean(tool.approval, crew.people, kind="People") + "; or none, owner, chain",
            )
        if tool.mcp is not None and tool.mcp not in crew.mcp_servers:
            yield _problem(
                source,
                (*here, "mcp"),
                f"tool '{name}' names unknown MCP server '{tool.mcp}'",
                did_you_mean(tool.mcp, crew.mcp_servers, kind="MCP servers (crew.yaml)"),
            )
        parameters: list[str] | None = None
        if tool.python is not None and root is not None:
            problems, parameters = _check_python_tool(name, tool, source, root)
            yield from problems
        if tool.approve_when is not None:
            yield from _check_approve_when(name, tool.approve_when, parameters, source)


def _check_python_tool(
    name: str, tool: ToolSpec, source: Located, root: Path
) -> tuple[list[Problem], list[str] | None]:
    """The tool's problems, and the names of its arguments when it could be imported."""
    from crew.spec.tools import ToolImportError, call_parameters, import_tool, signature_problems

    assert tool.python is not None
    loc = ("tools", name, "python")
    try:
        function = import_tool(root, tool.python)
    except ToolImportError as exc:
        return [_problem(source, loc, f"tool '{name}': {exc.message}", exc.hint)], None
    problems = [
        _problem(
            source,
            loc,
            f"tool '{name}' ({tool.python}): {reason}",
            "A tool is a function with a type hint on every parameter and a docstring: "
            "the model reads its schema and description from them.",
        )
        for reason in signature_problems(function)
    ]
    crews = set(call_parameters(function))
    names = [p for p in inspect.signature(function).parameters if p not in crews]
    return problems, names


def _check_approve_when(
    name: str, text: str, parameters: list[str] | None, source: Located
) -> Iterator[Problem]:
    loc = ("tools", name, "approve_when")
    try:
        parsed = expressions.parse(text)
    except expressions.ExpressionError as exc:
        yield _problem(
            source,
            loc,
            f"approve_when of tool '{name}': {exc.message}",
            f'Use {expressions.ALLOWED}, e.g. "amount > 100".',
        )
        return
    if parameters is None:
        return  # an MCP tool (its arguments are known once the server runs) or a broken import
    for unknown in sorted(parsed.names - set(parameters)):
        yield _problem(
            source,
            loc,
            f"approve_when of tool '{name}' reads '{unknown}', which is not one of its arguments",
            did_you_mean(unknown, parameters, kind="Arguments"),
        )


def _check_field_names(
    source: Located, loc: tuple[str | int, ...], fields: dict[str, FieldSpec], what: str
) -> Iterator[Problem]:
    # Templates reach fields by dotted names, so a field must be a name a template can spell.
    for name in fields:
        if not re.match(NAME_PATTERN, name):
            yield _problem(
                source,
                (*loc, name),
                f"{what} '{name}' is not a valid name",
                "Use letters, digits, '_' and '-', starting with a letter or '_'.",
            )


def _check_defaults(
    source: Located, loc: tuple[str | int, ...], fields: dict[str, FieldSpec], what: str
) -> Iterator[Problem]:
    for name, spec in fields.items():
        if spec.default is None:
            continue
        try:
            conform(spec, spec.default, f"the default of {what} '{name}'")
        except Mismatch as exc:
            yield _problem(source, (*loc, name, "default"), str(exc), "Fix the default value.")


@dataclass
class _PlaybookContext:
    playbook: PlaybookSpec
    source: Located
    crew: CrewSpec | None
    roles: dict[str, RoleSpec]
    role_names: set[str]
    root: Path | None = None
    ids: set[str] = field(default_factory=set)

    def check(self, stem: str) -> Iterator[Problem]:
        playbook = self.playbook
        if playbook.name != stem:
            yield self._at(
                ("name",),
                f"name '{playbook.name}' does not match the file name {stem}.yaml",
                f"Set `name: {stem}`, or rename the file to {playbook.name}.yaml.",
            )
        yield from _check_field_names(self.source, ("inputs",), playbook.inputs, "input")
        yield from _check_defaults(self.source, ("inputs",), playbook.inputs, "input")
        self.ids = {step.id for step in playbook.steps}
        yield from self._check_unique_ids()
        for index, step in enumerate(playbook.steps):
            yield from self._check_step(index, step)
        crew = self.crew
        if playbook.owner is not None and crew is not None and playbook.owner not in crew.people:
            yield self._at(
                ("owner",),
                f"unknown owner '{playbook.owner}'",
                did_you_mean(playbook.owner, crew.people, kind="People"),
            )
        for index, output in enumerate(playbook.outputs or ()):
            if output not in self.ids:
                yield self._unknown_step(("outputs", index), output, "outputs:")
        yield from self._check_cycles()

    # -- helpers ---------------------------------------------------------------------------

    def _at(self, loc: Loc, message: str, hint: str = "") -> Problem:
        return _problem(self.source, loc, message, hint)

    def _unknown_step(self, loc: Loc, name: str, what: str, exclude: str = "") -> Problem:
        return self._at(
            loc,
            f"{what} '{name}' is not a step of this playbook",
            did_you_mean(name, self.ids - {exclude}, kind="Steps"),
        )

    def _role_of(self, step: StepSpec) -> RoleSpec | None:
        """The role whose output fields the step produces; a human step's own fields stand in
        as an (unchecked) role named after the step, so templates and routes check the same."""
        if step.human is not None:
            return RoleSpec.model_construct(
                name=f"{step.id} (a human step)", output=step.human.output
            )
        if step.run is not None:  # its declared fields; nothing to check without them
            if step.output is None:
                return None
            return RoleSpec.model_construct(
                name=f"{step.id} (an automated step)", output=step.output
            )
        return self.roles.get(step.role) if step.role is not None else None

    def _step(self, step_id: str) -> StepSpec | None:
        return next((s for s in self.playbook.steps if s.id == step_id), None)

    # -- checks ----------------------------------------------------------------------------

    def _check_unique_ids(self) -> Iterator[Problem]:
        first: dict[str, int] = {}
        for index, step in enumerate(self.playbook.steps):
            line = self.source.line(("steps", index, "id"))
            if step.id in first:
                yield Problem(
                    self.source.file,
                    line,
                    f"step id '{step.id}' is used twice (first on line {first[step.id]})",
                    "Give every step its own id.",
                )
            else:
                first[step.id] = line

    def _check_step(self, index: int, step: StepSpec) -> Iterator[Problem]:
        here: tuple[str | int, ...] = ("steps", index)
        if step.role is not None and step.role not in self.role_names:
            yield self._at(
                (*here, "role"),
                f"unknown role '{step.role}' in step '{step.id}'",
                did_you_mean(step.role, self.role_names, kind="Roles (agents/)"),
            )
        for i, need in enumerate(step.needs or []):
            if need == step.id:
                yield self._at(
                    (*here, "needs", i), f"step '{step.id}' needs itself", "Remove it from needs."
                )
            elif need not in self.ids:
                yield self._unknown_step((*here, "needs", i), need, "needs:", exclude=step.id)
        if step.for_each is not None:
            yield from self._check_for_each(here, step)
        if step.route is not None:
            yield from self._check_route(here, step)
        if step.checkpoint is not None:
            yield from self._check_checkpoint(here, step)
        if step.task is not None:
            yield from self._check_template((*here, "task"), step.task, step)
        if step.human is not None:
            yield from self._check_human(here, step)
        if step.run is not None:
            yield from self._check_automated(here, step)
        if step.checkpoint is not None:
            yield from self._check_template(
                (*here, "checkpoint", "question"), step.checkpoint.question, step
            )

    def _check_automated(self, here: Loc, step: StepSpec) -> Iterator[Problem]:
        """`run: module:function` imports, every parameter has a type hint, and each names an
        input, a step, `item`/`index` (in a fan-out) or has a default."""
        from crew.spec.tools import ToolImportError, import_tool, signature_problems

        assert step.run is not None
        loc = (*here, "run")
        if step.output is not None:
            yield from _check_field_names(self.source, (*here, "output"), step.output, "field")
        if self.root is None:
            return
        try:
            function = import_tool(self.root, step.run)
        except ToolImportError as exc:
            yield self._at(loc, f"step '{step.id}': {exc.message}", exc.hint)
            return
        for reason in signature_problems(function):
            if "docstring" in reason:
                continue  # no model reads it
            yield self._at(
                loc,
                f"step '{step.id}' ({step.run}): {reason}",
                "An automated step is a function with a type hint on every parameter.",
            )
        from crew.spec.tools import call_parameters

        names = {*self.playbook.inputs, *self.ids} - {step.id}
        if step.for_each is not None:
            names |= {"item", "index"}
        crews = set(call_parameters(function))
        for parameter in inspect.signature(function).parameters.values():
            if parameter.name in crews or parameter.name in names:
                continue
            if parameter.default is parameter.empty:
                yield self._at(
                    loc,
                    f"step '{step.id}' ({step.run}): parameter '{parameter.name}' names no "
                    "input or step of the playbook",
                    did_you_mean(parameter.name, names, kind="Inputs and steps")
                    + "; or give it a default",
                )

    def _check_human(self, here: Loc, step: StepSpec) -> Iterator[Problem]:
        human = step.human
        assert human is not None
        loc = (*here, "human")
        if self.crew is not None and human.owner not in self.crew.people:
            yield self._at(
                (*loc, "owner"),
                f"unknown owner '{human.owner}' of human step '{step.id}'",
                did_you_mean(human.owner, self.crew.people, kind="People"),
            )
        yield from _check_field_names(self.source, (*loc, "output"), human.output, "field")
        yield from _check_defaults(self.source, (*loc, "output"), human.output, "field")
        yield from self._check_template((*loc, "task"), human.task, step)

    def _check_for_each(self, here: Loc, step: StepSpec) -> Iterator[Problem]:
        loc = (*here, "for_each")
        source = step.for_each or ""
        parts = source.split(".")
        usage = "Fan out over inputs.<array input> or steps.<id>.<array field>."
        if parts[0] == "inputs" and len(parts) == 2:
            spec = self.playbook.inputs.get(parts[1])
            if spec is None:
                yield self._at(
                    loc,
                    f"for_each names unknown input '{parts[1]}'",
                    did_you_mean(parts[1], self.playbook.inputs, kind="Inputs"),
                )
            elif spec.type is not FieldType.ARRAY:
                yield self._at(
                    loc,
                    f"for_each over input '{parts[1]}', which is a {spec.type.value}, not an array",
                    f"Declare it `{parts[1]}: {{type: array, items: {{type: string}}}}`.",
                )
            return
        if parts[0] != "steps" or len(parts) not in (2, 3):
            yield self._at(loc, f"for_each '{source}' is not a list crew can fan out over", usage)
            return
        producer = self._step(parts[1])
        if producer is None or producer.id == step.id:
            yield self._unknown_step(loc, parts[1], "for_each:", exclude=step.id)
            return
        if producer.id not in flow.ancestors(self.playbook, step.id):
            yield self._at(
                loc,
                f"for_each reads step '{producer.id}', which does not run before '{step.id}'",
                f"Add `needs: [{producer.id}]` to step '{step.id}'.",
            )
        if len(parts) == 2:
            if producer.for_each is None:
                yield self._at(
                    loc,
                    f"for_each over step '{producer.id}', whose output is a mapping, not a list",
                    f"Name an array field: steps.{producer.id}.<field>.",
                )
            return
        if producer.for_each is not None:
            yield self._at(
                loc,
                f"step '{producer.id}' runs for_each: its output is a list of outputs",
                f"Fan out over steps.{producer.id} itself.",
            )
            return
        role = self._role_of(producer)
        if role is None:
            return  # a checkpoint or an unknown/broken role: reported elsewhere
        field = role.output.get(parts[2])
        if field is None:
            yield self._at(
                loc,
                f"role '{role.name}' (step '{producer.id}') has no output field '{parts[2]}'",
                did_you_mean(parts[2], role.output, kind="Fields"),
            )
        elif field.type is not FieldType.ARRAY:
            yield self._at(
                loc,
                f"for_each over '{source}', which is a {field.type.value}, not an array",
                usage,
            )

    def _check_route(self, here: Loc, step: StepSpec) -> Iterator[Problem]:
        route = step.route
        assert route is not None
        loc = (*here, "route")
        for key, target in [*route.cases.items(), ("default", route.default)]:
            if target is None:
                continue
            where = (*loc, "cases", key) if key != "default" else (*loc, "default")
            if target == step.id:
                yield self._at(
                    where, f"step '{step.id}' routes to itself", "Route to another step."
                )
            elif target not in self.ids:
                yield self._unknown_step(where, target, "route target", exclude=step.id)
        if step.for_each is not None:
            yield self._at(
                loc,
                f"step '{step.id}' runs for_each, so it has no single output to route on",
                "Route from a step after it.",
            )
            return
        role = self._role_of(step)
        if role is None:
            return
        field = role.output.get(route.field)
        if field is None:
            yield self._at(
                (*loc, "field"),
                f"role '{role.name}' has no output field '{route.field}' to route on",
                did_you_mean(route.field, role.output, kind="Fields"),
            )
            return
        if field.enum is None:
            yield self._at(
                (*loc, "field"),
                f"route field '{route.field}' of role '{role.name}' has no enum",
                f"Route on a field with `enum: [...]`, or add one to {route.field}.",
            )
            return
        values = [str(v) for v in field.enum]
        for key in route.cases:
            if key not in values:
                yield self._at(
                    (*loc, "cases", key),
                    f"route case '{key}' is not a value of {role.name}.{route.field}",
                    did_you_mean(key, values, kind="Values"),
                )
        missing = [v for v in values if v not in route.cases]
        if missing and route.default is None:
            listed = ", ".join(missing)
            yield self._at(
                (*loc, "cases"),
                f"route does not cover {route.field} value(s) {listed}",
                f"Add a case for {listed}, or `default: <step>` under route.",
            )

    def _check_checkpoint(self, here: Loc, step: StepSpec) -> Iterator[Problem]:
        checkpoint = step.checkpoint
        assert checkpoint is not None
        loc = (*here, "checkpoint")
        if self.crew is not None and checkpoint.owner not in self.crew.people:
            yield self._at(
                (*loc, "owner"),
                f"unknown checkpoint owner '{checkpoint.owner}'",
                did_you_mean(checkpoint.owner, self.crew.people, kind="People"),
            )
        for i, shown in enumerate(checkpoint.show):
            if shown == step.id:
                yield self._at(
                    (*loc, "show", i),
                    f"checkpoint '{step.id}' cannot show itself",
                    "List the steps whose outputs the person should see.",
                )
            elif shown not in self.ids:
                yield self._unknown_step((*loc, "show", i), shown, "show:", exclude=step.id)
        target = checkpoint.on_reject
        if target is None:
            return
        if target not in self.ids:
            yield self._unknown_step((*loc, "on_reject"), target, "on_reject:", exclude=step.id)
            return
        before = flow.ancestors(self.playbook, step.id)
        if target not in before:
            earlier = ", ".join(s.id for s in self.playbook.steps if s.id in before) or "none"
            yield self._at(
                (*loc, "on_reject"),
                f"on_reject '{target}' is not a step that runs before '{step.id}'",
                f"Name a step the checkpoint follows (earlier steps: {earlier}).",
            )

    def _check_template(self, loc: Loc, text: str, step: StepSpec) -> Iterator[Problem]:
        try:
            parts = templates.parse(text)
        except templates.TemplateSyntaxError as exc:
            yield Problem(
                self.source.file, self.source.text_line(loc, exc.offset), exc.message, exc.hint
            )
            return
        for part in parts:
            if isinstance(part, templates.Reference):
                problem = self._check_reference(part.name, step)
                if problem is not None:
                    message, hint = problem
                    line = self.source.text_line(loc, part.offset)
                    yield Problem(self.source.file, line, message, hint)

    def _check_reference(self, name: str, step: StepSpec) -> tuple[str, str] | None:
        parts = name.split(".")
        head = parts[0]
        shown = "{{" + name + "}}"
        if head == "inputs":
            inputs = self.playbook.inputs
            if len(parts) < 2:
                return f"{shown} names no input", did_you_mean("", inputs, kind="Use inputs.<name>")
            if parts[1] not in inputs:
                return (
                    f"template uses unknown input '{parts[1]}' ({shown})",
                    did_you_mean(parts[1], inputs, kind="Inputs"),
                )
            return None
        if head == "steps":
            return self._check_step_reference(parts, shown)
        if head in ("item", "index"):
            if step.for_each is None:
                return (
                    f"{shown} is only defined in a for_each step, and '{step.id}' has no for_each",
                    "Add `for_each: inputs.<array input>` or remove the reference.",
                )
            if head == "index" and len(parts) > 1:
                return f"{shown}: index is a number and has no fields", "Use {{index}}."
            return None
        if head == "feedback" and len(parts) == 1:
            return None
        return f"template uses unknown name {shown}", f"Use {TEMPLATE_NAMES}."

    def _check_step_reference(self, parts: list[str], shown: str) -> tuple[str, str] | None:
        if len(parts) < 2:
            return f"{shown} names no step", did_you_mean("", self.ids, kind="Use steps.<id>")
        target = self._step(parts[1])
        if target is None:
            return (
                f"template uses unknown step '{parts[1]}' ({shown})",
                did_you_mean(parts[1], self.ids, kind="Steps"),
            )
        if len(parts) == 2:
            return None
        if target.for_each is not None:
            return (
                f"{shown}: step '{target.id}' runs for_each, so its output is a list",
                f"Use {{{{steps.{target.id}}}}} (the whole list, rendered as YAML).",
            )
        role = self._role_of(target)
        if role is None:
            return None  # a checkpoint's decision, or a role reported elsewhere
        fields = [*role.output, *ADDED_FIELDS]
        if parts[2] not in fields:
            return (
                f"template uses unknown field '{parts[2]}' of step '{target.id}' ({shown})",
                did_you_mean(parts[2], fields, kind=f"Fields of role {role.name}"),
            )
        return None

    def _check_cycles(self) -> Iterator[Problem]:
        if len(self.ids) != len(self.playbook.steps):
            return  # duplicate ids make the order ambiguous; they are reported first
        positions = {step.id: i for i, step in enumerate(self.playbook.steps)}
        for loop in flow.cycles(self.playbook):
            if len(loop) == 2:
                continue  # a step that needs itself is reported with its needs
            index = positions[loop[0]]
            step = self.playbook.steps[index]
            key = "needs" if step.needs is not None else "id"
            yield self._at(
                ("steps", index, key),
                f"steps form a cycle: {' -> '.join(loop)}",
                "Steps may only go back through a checkpoint's on_reject; "
                "remove one of these needs or route targets.",
            )
