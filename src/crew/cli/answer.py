"""`crew answer CARD approve|reject|edit|retry`: record a person's decision on a waiting card.

The command parses its arguments, calls `crew.people.answering.answer_card` (one atomic board
transition: a second answer is refused, naming who answered first), resumes the run in this
process when it goes on (`crew.engine.runtime.continue_run`), and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crew.cli._app import app, console, err_console, print_json
from crew.cli.board import AsOption, JsonOption, identify, open_board, open_project
from crew.cli.display import line, markup
from crew.exceptions import ConfigError

if TYPE_CHECKING:
    from crew.board import Board, Card
    from crew.spec.project import Project


@app.command("answer")
def answer_command(
    card: Annotated[
        str, typer.Argument(help="The card id (see `crew inbox`), or the step id of your card.")
    ],
    decision: Annotated[str, typer.Argument(help="approve | reject | edit | retry | submit")],
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
            help="The corrected output (YAML or JSON mapping) for edit; a tool call's "
            "arguments; a task's output for submit.",
            show_default=False,
        ),
    ] = None,
    as_person: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record your decision on a card waiting on you."""
    from crew.cli import remote
    from crew.people.answering import (
        answer_card,
        answer_json,
        card_line,
        parse_decision,
        read_output_file,
    )
    from crew.types import Decision

    if (api := remote.remote()) is not None:  # `crew login`: through the server's API
        remote.answer(api, card, decision, comment, edited, as_person, as_json)
        return
    project = open_project()
    person = identify(as_person, project)
    board = open_board(project)
    choice = parse_decision(decision)
    if choice is Decision.EDIT and edited is None:
        raise ConfigError(
            "'edit' needs the corrected output", hint="Pass --file EDITED.yaml (a mapping)."
        )
    if choice is Decision.SUBMIT and edited is None:
        raise ConfigError(
            "'submit' needs the task's output", hint="Pass --file OUT.yaml (a mapping)."
        )
    if choice not in (Decision.EDIT, Decision.SUBMIT) and edited is not None:
        raise ConfigError(
            f"--file goes with 'edit' or 'submit', not '{choice}'",
            hint="Use `crew answer CARD edit --file EDITED.yaml`, or drop --file.",
        )
    limits = project.crew.settings.limits
    output = read_output_file(edited, limits) if edited is not None else None
    answered = answer_card(
        project, board, card, person, choice, comment, output, source=str(edited)
    )
    _continue(project, board, answered, person=person, as_json=as_json)
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


def _continue(project: Project, board: Board, card: Card, *, person: str, as_json: bool) -> None:
    """Resume the card's run in this process and exit like `crew run` does; return (doing
    nothing) when the run is not there or already over."""
    from crew.engine.runtime import continue_run
    from crew.people.answering import resumable_run

    run = resumable_run(board, card)
    if run is None:
        return
    from crew.cli.results import followed_playbook
    from crew.cli.run import finish, open_session
    from crew.engine.runtime import RunBusy

    assert card.decision is not None
    if not as_json:
        goes_on = "a worker resumes" if run.meta.get("detached") else "resuming"
        err_console.print(
            f"recorded: {card.decision.decision} by {markup(person)} on card {card.id} "
            f"({markup(card.step)}); {goes_on} run {card.run}",
            highlight=False,
        )
    session = open_session(project, person, quiet=as_json)
    try:
        report = continue_run(session, card)
        playbook = followed_playbook(project, board, card.run, card.playbook)
    except RunBusy as busy:
        err_console.print(f"{markup(str(busy))}; that process will act on the answer")
        raise typer.Exit(3) from None
    except ConfigError as error:  # e.g. no API key here: the answer stays recorded
        raise ConfigError(
            f"answer recorded, but run {card.run} cannot go on in this terminal: {error.message}",
            hint=f"Fix that, then `crew resume {card.run}` (from here or any terminal).",
        ) from None
    finally:
        session.close()
    if report is not None:
        finish(report, as_json=as_json, playbook=playbook)
