"""`crew answer CARD approve|reject|edit|retry`: record a person's decision on a waiting card.

Recording is one atomic board transition (a second answer is refused, naming who answered
first). `record_answer` is the part the runtime calls before resuming the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crew.cli._app import app, console, print_json
from crew.cli.board import AsOption, JsonOption, card_line, identify, open_board, open_project
from crew.display import line
from crew.exceptions import AlreadyDecided, BoardError, CardNotFound, ConfigError, NotAllowed

if TYPE_CHECKING:
    from crew.board import Board, Card
    from crew.spec.models import Limits
    from crew.spec.project import Project

DECISIONS = ("approve", "reject", "edit", "retry")


@app.command("answer")
def answer_command(
    card: Annotated[
        str, typer.Argument(help="The card id (see `crew inbox`), or the step id of your card.")
    ],
    decision: Annotated[str, typer.Argument(help="approve | reject | edit | retry")],
    comment: Annotated[
        str | None,
        typer.Option(
            "-m", "--comment", help="Why (feedback for a retry or a revision).", show_default=False
        ),
    ] = None,
    edited: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="The corrected output (YAML or JSON mapping), for edit.",
            show_default=False,
        ),
    ] = None,
    as_person: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record your decision on a card waiting on you."""
    project = open_project()
    person = identify(as_person, project)
    board = open_board(project)
    answered = record_answer(project, board, card, person, decision, comment, edited)
    from crew.cli.run import continue_after_answer  # resumes the run here, then exits

    continue_after_answer(project, answered, person=person, as_json=as_json)
    if as_json:
        print_json(answer_json(board, answered))
        return
    assert answered.decision is not None
    console.print(
        line(
            f"Recorded: {answered.decision.decision} by {person} on card {answered.id} "
            f"({card_line(answered)}); the card is now {answered.status}."
        ),
        highlight=False,
        markup=False,
    )


def record_answer(
    project: Project,
    board: Board,
    card_ref: str,
    person: str,
    decision: str,
    comment: str | None,
    edited_file: Path | None,
) -> Card:
    """Check the input, then record `person`'s decision atomically; return the answered card.

    `card_ref` is a card id, or a step id when exactly one waiting card of that step is in
    `person`'s inbox. Raises ConfigError for bad input and BoardError subclasses for refusals
    (unknown card, not allowed, already answered, not waiting); nothing changes in either case.
    """
    from crew.limits import check_size, text_size

    if decision not in DECISIONS:
        raise ConfigError(
            f"unknown decision '{decision}'", hint=f"Use one of: {', '.join(DECISIONS)}."
        )
    if decision == "edit" and edited_file is None:
        raise ConfigError(
            "'edit' needs the corrected output", hint="Pass --file EDITED.yaml (a mapping)."
        )
    if decision != "edit" and edited_file is not None:
        raise ConfigError(
            f"--file goes with 'edit', not '{decision}'",
            hint="Use `crew answer CARD edit --file EDITED.yaml`, or drop --file.",
        )
    limits = project.crew.settings.limits
    if comment is not None:
        check_size("the comment (-m)", text_size(comment), limits.comment, "comment")
    edited_output = read_edited(edited_file, limits) if edited_file is not None else None
    card = find_card(board, card_ref, person)
    from crew.decisions import check_decision

    edited_output = check_decision(
        project, board, card, person, decision, edited_output, source=str(edited_file)
    )
    return board.answer(
        card.id, person=person, decision=decision, comment=comment, edited_output=edited_output
    )


def find_card(board: Board, card_ref: str, person: str) -> Card:
    """The card with id `card_ref`, else the one card of step `card_ref` waiting on `person`."""
    try:
        return board.get(card_ref)
    except CardNotFound as not_found:
        matches = [c for c in board.inbox(person) if c.step == card_ref]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(c.id for c in matches)
            raise ConfigError(
                f"several cards of step '{card_ref}' wait on {person}: {ids}",
                hint="Name one card id.",
            ) from None
        raise _step_refusal(board, card_ref, person) or not_found from None


# How many of the newest cards per status the step-id fallback looks at.
_STEP_LOOKUP_LIMIT = 200


def _step_refusal(board: Board, step: str, person: str) -> BoardError | None:
    """Why `person` has no card of step `step` to answer, when the board can tell: it waits on
    someone else (NotAllowed), or it was answered already (AlreadyDecided: who first, when)."""
    from crew.board import iso

    cards = [
        c for c in board.cards(limit=_STEP_LOOKUP_LIMIT) if c.step == step and c.kind != "agent"
    ]
    answered = [c for c in cards if c.decision is not None and not c.status.waits_on_person]
    mine = [c for c in answered if person in c.may_answer]
    waiting = [c for c in cards if c.status.waits_on_person]
    if waiting and not mine:
        card = waiting[-1]
        return NotAllowed(
            f"{person} may not answer card {card.id} ({card_line(card)}): only "
            f"{' or '.join(card.may_answer)} may",
            hint="Ask them, or answer as one of them with --as PERSON.",
        )
    if not answered:
        return None
    card = max(mine or answered, key=lambda c: c.decision.at if c.decision else 0.0)
    assert card.decision is not None
    return AlreadyDecided(
        f"card {card.id} ({card_line(card)}) was already answered: {card.decision.decision} "
        f"by {card.decision.by} at {iso(card.decision.at)} (card version {card.decision.version})",
        hint="Nothing changed.",
    )


def read_edited(path: Path, limits: Limits | None = None) -> dict[str, Any]:
    """The edited output from a YAML or JSON file; it must be a mapping. Bounded by `limits`
    (default: crew's defaults): the file's size before it is read, its YAML aliases, and the
    output as JSON (`settings.limits.edit`)."""
    from crew.limits import check_size, json_size
    from crew.spec.models import Limits
    from crew.spec.yamlfile import NotYAML, load_yaml, read_text

    limits = limits or Limits()
    what = f"--file {path}"
    try:
        text = read_text(path, what=what, max_size=limits.edit, setting="edit")
    except ConfigError as error:
        if error.message.startswith("cannot read"):
            raise ConfigError(error.message, hint="Pass an existing YAML or JSON file.") from None
        raise
    try:
        data = load_yaml(
            text, what, max_aliases=limits.yaml_aliases, max_size=limits.edit, setting="edit"
        )
    except NotYAML as exc:
        line = f":{exc.line}" if exc.line is not None else ""
        raise ConfigError(
            f"{path}{line}: {exc.problem}", hint="--file must hold a YAML or JSON mapping."
        ) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise ConfigError(
            f"{path}: the edited output must be a mapping of output fields, not {kind}",
            hint="Write it as `field: value` lines (YAML) or a JSON object.",
        )
    check_size(f"the edited output in {path} (as JSON)", json_size(data), limits.edit, "edit")
    return data


def answer_json(board: Board, card: Card) -> dict[str, Any]:
    """DESIGN §3's run shape as far as the board knows it, plus the answered card."""
    from crew.exceptions import BoardError

    try:
        run = board.get_run(card.run)
    except BoardError:
        return {
            "run": card.run,
            "playbook": card.playbook,
            "status": None,
            "waiting_on": [],
            "outputs": {},
            "card": card.to_json(),
        }
    return {
        "run": run.id,
        "playbook": run.playbook,
        "status": str(run.status),
        "waiting_on": [w for w in run.waiting_on if w.get("card") != card.id],
        "outputs": {},
        "card": card.to_json(),
    }
