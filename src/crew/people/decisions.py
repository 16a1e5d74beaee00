"""What a person may answer to a card, checked before anything is recorded (DESIGN §5).

`check_decision` is called by `crew answer` (and the interactive prompt) after the card is found
and before the board records the answer; a refusal raises and the board is unchanged.
`edit_fields` says, by the same rules, which fields an edit fills in (a form a surface shows).

- An escalation takes approve, edit, retry or reject; a checkpoint takes approve, edit or reject.
- Approving an escalation accepts the output it holds: an escalation whose output stayed invalid,
  or whose model call failed, has none, so approve is refused (edit, retry or reject it).
- An edit must be a valid output of the role of the step it replaces (an escalation's step; a
  checkpoint's first shown step, when that is a plain agent step): its declared fields are
  checked like a model's answer. `confidence` and `rationale` may be left out: a person's edit is
  recorded with confidence 1.0 and the rationale "edited by <person>".
- Separation of duties: a person who edited an output a checkpoint shows (answering an escalation
  or another checkpoint with `edit`) may not approve that checkpoint, unless the checkpoint says
  `allow_self_approval: true`. The refusal names who else may approve.

Who is the assignee (or a delegate) is the board's check, made atomically with the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crew.agents.outputs import CONFIDENCE, RATIONALE, InvalidOutput, validate_output
from crew.board.cards import Card, CardKind, Decision
from crew.exceptions import ConfigError, NotAllowed
from crew.spec import flow

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.spec.models import FieldSpec, PlaybookSpec, RoleSpec
    from crew.spec.project import Project

__all__ = ["check_decision", "edit_fields", "edited_steps"]


def check_decision(
    project: Project,
    board: Board,
    card: Card,
    person: str,
    decision: Decision,
    edited: dict[str, Any] | None,
    *,
    source: str = "--file",
) -> dict[str, Any] | None:
    """Refuse a decision the card cannot take; return the edited output to record (completed
    with confidence and rationale for an escalation). `source` names the edit in errors."""
    if person not in card.may_answer or not card.status.waits_on_person:
        return edited  # the board refuses it, naming who may or who answered first
    if card.detail.get("tool_call"):
        return _tool_call_decision(card, decision, edited, source)
    if card.kind is CardKind.TASK:
        return _task_decision(card, decision, edited, source)
    project = _as_run_follows(project, board, card.run)
    if card.kind is CardKind.ESCALATION:
        if decision == Decision.APPROVE and card.output is None:
            raise ConfigError(
                f"card {card.id} ({card.step}) has no valid output to approve: {card.reason}",
                hint=f"Use `crew answer {card.id} edit --file FIXED.yaml`, "
                f'`crew answer {card.id} retry -m "guidance"` or `crew answer {card.id} reject`.',
            )
        if decision == Decision.EDIT and edited is not None and card.role in project.roles:
            return _valid_edit(project, card, person, edited, source)
        return edited
    if card.kind is CardKind.CHECKPOINT:
        if decision not in CardKind.CHECKPOINT.decisions:
            raise ConfigError(
                f"card {card.id} is a checkpoint: it takes approve, reject or edit, not {decision}",
                hint=f'To have a step run again, `crew answer {card.id} reject -m "why"`.',
            )
        if decision == Decision.APPROVE:
            _check_separation(project, board, card, person)
        if decision == Decision.EDIT and edited is not None:
            found = _edited_role(project, card)
            if found is not None:
                return _valid_edit(project, card, person, edited, source, found[1])
    return edited


def edit_fields(
    project: Project, board: Board, card: Card
) -> tuple[str | None, dict[str, FieldSpec] | None]:
    """What an edit (or a task's submit) on `card` fills in, as `check_decision` checks it: the
    step whose output it replaces and that output's fields (the version the run follows). No
    fields when nothing declares them: a tool call's arguments (checked against the tool's
    schema), a checkpoint whose edited step is no plain agent step, a task without `output`."""
    if card.detail.get("tool_call"):
        return None, None
    if card.kind is CardKind.TASK:
        return card.step, _task_fields(card)
    project = _as_run_follows(project, board, card.run)
    if card.kind is CardKind.ESCALATION:
        role = project.roles.get(card.role or "")
        return card.step, (dict(role.output) if role is not None else None)
    found = _edited_role(project, card) if card.kind is CardKind.CHECKPOINT else None
    if found is None:
        return None, None
    return found[0], dict(found[1].output)


def _task_fields(card: Card) -> dict[str, FieldSpec] | None:
    """A human step's `output` fields, as its card carries them."""
    from crew.spec.models import FieldSpec

    declared = card.detail.get("output")
    if not isinstance(declared, dict):
        return None
    return {name: FieldSpec.model_validate(spec) for name, spec in declared.items()}


def _task_decision(
    card: Card, decision: Decision, edited: dict[str, Any] | None, source: str
) -> dict[str, Any] | None:
    """A human step's task takes submit (its output, validated against the step's `output`
    fields like an agent's answer; refused with every problem otherwise) or reject."""
    if decision not in CardKind.TASK.decisions:
        raise ConfigError(
            f"card {card.id} is a task ({card.step}): it takes submit or reject, not {decision}",
            hint=f"Hand in its output: crew answer {card.id} submit --file OUT.yaml",
        )
    if decision != Decision.SUBMIT:
        return edited
    from crew.agents.outputs import validate_fields

    fields = _task_fields(card)
    if fields is None or edited is None:
        return edited
    try:
        return validate_fields(fields, edited)
    except InvalidOutput as invalid:
        raise ConfigError(
            f"{source} is not a valid output of step '{card.step}': "
            + "; ".join(invalid.problems)
            + " (nothing was recorded)",
            hint="Its fields: "
            + ", ".join(f"{name} ({spec.type.value})" for name, spec in fields.items()),
        ) from None


def _tool_call_decision(
    card: Card, decision: Decision, edited: dict[str, Any] | None, source: str
) -> dict[str, Any] | None:
    """A decision on a tool call (DESIGN §7): approve runs it, edit runs it with the arguments
    given (checked against the tool's schema first; nothing is recorded when they do not fit),
    reject tells the model why. For a call that may or may not have run, an edit is its result
    (any JSON) and a retry runs it again, like approve."""
    call = card.detail.get("tool_call") or {}
    tool = call.get("tool", "the tool")
    if call.get("uncertain"):
        return edited
    if decision not in CardKind.TOOL_CALL.decisions:
        raise ConfigError(
            f"card {card.id} asks to call {tool}: it takes approve, edit or reject, not {decision}",
            hint=f'Reject it with a reason the model reads: crew answer {card.id} reject -m "why"',
        )
    if decision == Decision.EDIT and edited is not None:
        from crew.agents.tool import json_schema_problems

        schema = card.detail.get("schema")
        problems = json_schema_problems(schema, edited) if isinstance(schema, dict) else None
        if problems:
            raise ConfigError(
                f"{source}: the arguments do not fit {tool}'s schema: {problems} (nothing was "
                "recorded)",
                hint=f"`crew show {card.id}` shows the arguments it takes.",
            )
    return edited


def _as_run_follows(project: Project, board: Board, run: str) -> Project:
    """The project with the playbook and roles the card's run is pinned to (an edit is checked
    against the role the run goes on with, not a newer file)."""
    from crew.spec.snapshot import Snapshot

    pinned = board.pinned_of(run)
    return Snapshot.from_text(pinned.text, run=run).project(project) if pinned else project


def _edited_role(project: Project, card: Card) -> tuple[str, RoleSpec] | None:
    """The step whose output a checkpoint's edit replaces (a plain agent step) and its role,
    if any."""
    playbook = project.playbooks.get(card.playbook)
    if playbook is None or card.step not in {s.id for s in playbook.steps}:
        return None
    for step_id in edited_steps(playbook, card):
        step = playbook.step(step_id)
        if step.role and not step.for_each and step.role in project.roles:
            return step_id, project.roles[step.role]
    return None


def _valid_edit(
    project: Project,
    card: Card,
    person: str,
    edited: dict[str, Any],
    source: str,
    role: RoleSpec | None = None,
) -> dict[str, Any]:
    role = role or project.role(card.role or "")
    completed = {CONFIDENCE: 1.0, RATIONALE: f"edited by {person}", **edited}
    try:
        return validate_output(role, completed)
    except InvalidOutput as invalid:
        raise ConfigError(
            f"{source}: not a valid output of role '{role.name}': {'; '.join(invalid.problems)}",
            hint=f"Fields: {', '.join(role.output)}. Nothing was recorded.",
        ) from None


def edited_steps(playbook: PlaybookSpec, card: Card) -> list[str]:
    """The steps whose output an edit on `card` replaced (a checkpoint's first shown step, or
    the step before it; an escalation's own step)."""
    if card.kind is not CardKind.CHECKPOINT:
        return [card.step]
    edited = flow.edited_step(playbook, card.step)
    return [edited] if edited is not None else []


def _check_separation(project: Project, board: Board, card: Card, person: str) -> None:
    playbook = project.playbooks.get(card.playbook)
    if playbook is None or card.step not in {s.id for s in playbook.steps}:
        return  # a card of a playbook this project no longer has: no rule to apply
    spec = playbook.step(card.step).checkpoint
    if spec is None or spec.allow_self_approval:
        return
    shown = set(spec.show) or set(edited_steps(playbook, card))
    cards = board.cards_of_run(card.run)
    for other in cards:
        answer = other.decision
        if other.id == card.id or answer is None or answer.by != person:
            continue
        if answer.decision is not Decision.EDIT:
            continue
        steps = [s for s in edited_steps(playbook, other) if s in shown]
        # An output edited, then produced again by a later execution, is no longer the edit.
        current = [
            s
            for s in steps
            if not any(
                c.step == s and c.kind is not CardKind.CHECKPOINT and c.created > answer.at
                for c in cards
            )
        ]
        if not current:
            continue
        others = [p for p in card.may_answer if p != person]
        who = " or ".join(others) if others else "nobody else (add a delegate in crew.yaml)"
        raise NotAllowed(
            f"{person} may not approve checkpoint {card.step} (card {card.id}): {person} edited "
            f"the output of {current[0]} it shows (card {other.id}); separation of duties: "
            f"only {who} may approve it",
            hint="Ask them, or set `allow_self_approval: true` on the checkpoint "
            f"in playbooks/{playbook.name}.yaml.",
        )
