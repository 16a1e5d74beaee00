"""`crew show CARD`: everything needed to decide on a card, in full, before answering it.

The question or reason, the task the model was given, the output under review (rendered for a
terminal by `crew.cli.outputs`: long text as Markdown, other fields as a compact table), confidence
and how it was measured, the run's inputs, the card's history, who may answer and the exact
commands. Reads only the board.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from crew.cli._app import app, console, current_person, print_json
from crew.cli.board import AsOption, JsonOption, ago, due_text, open_board, open_project
from crew.cli.display import block, line
from crew.cli.outputs import flat as _flat
from crew.cli.outputs import render_output as _output
from crew.cli.runs import usage_line
from crew.types import CardKind

if TYPE_CHECKING:
    from crew.people.card_view import CardView


@app.command("show")
def show_command(
    card: Annotated[
        str,
        typer.Argument(
            metavar="CARD",
            help="A card id, or a step id when exactly one card of that step waits on you.",
        ),
    ],
    as_person: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everything needed to decide on a card, in full, before answering it.

    The question or reason, the task, the output under review, confidence and how it was
    measured, the run's inputs, the card's history, who may answer and the exact commands."""
    from crew.people.answering import find_card
    from crew.people.card_view import view_card

    project = open_project()
    board = open_board(project)
    person = current_person(as_person, dict(project.crew.people))
    card_id = find_card(board, card, person).id if person else card
    view = view_card(board, card_id)
    if as_json:
        print_json(view.to_json())
        return
    _render(view, board.now(), person)


def _render(view: CardView, now: float, person: str | None) -> None:
    card = view.card
    name = card.step + (f" [{line(_flat(card.item))}]" if card.item is not None else "")
    head = Text.assemble(
        (f"card {line(card.id)}", "bold"),
        f" · {card.kind} · {card.status} · ",
        (line(name), "cyan"),
        f" · run {line(card.run)} ({line(card.playbook)})",
    )
    if card.revision:
        head.append(f" · revision {card.revision}")
    console.print(head, soft_wrap=True)
    if view.waiting:
        waited = ago(now - (card.waiting_since or card.updated))
        timing = f"waiting on {line(card.assignee)} for {waited}"
        if card.due:
            timing += f" · due {due_text(card.due, now)}"
        console.print(Text(timing, style="dim"))
    if view.question:
        title = "question" if card.kind is CardKind.CHECKPOINT else "reason"
        console.print(
            Panel(Text(block(view.question), style="bold"), title=title, title_align="left")
        )
    if view.task:
        console.print(Panel(Text(block(view.task)), title="task", title_align="left"))
    for step, output in view.under_review.items():
        body = _output(output)
        what = "the output under review" if view.waiting else "output"
        if card.detail.get("tool_call"):
            what = "the call to decide on" if view.waiting else "the call"
        heading = Text.assemble((line(step), "bold"), f" · {what}")
        console.print(Panel(body, title=heading, title_align="left", border_style="blue"))
    if card.kind is CardKind.TASK:
        fields = card.detail.get("output") or {}
        said = ", ".join(
            f"{name} ({spec.get('type')}{'' if spec.get('required', True) else ', optional'})"
            for name, spec in fields.items()
            if isinstance(spec, dict)
        )
        console.print(Text(f"submit: {line(said)}", style="bold"), soft_wrap=True)
    elif card.kind is not CardKind.CHECKPOINT and view.waiting and not view.under_review:
        console.print(Text("no valid output to review: edit gives one, or retry", style="yellow"))
    _confidence(view)
    if card.usage is not None:
        console.print(Text(usage_line(card.usage), style="dim"), soft_wrap=True)
    if view.run is not None and view.run.inputs:
        console.print(Text("inputs", style="bold"))
        for key, value in view.run.inputs.items():
            console.print(Text(f"  {line(key)}: {line(_flat(value))}"), soft_wrap=True)
    _history(view)
    if view.waiting:
        console.print(Text(f"who may answer: {line(', '.join(card.may_answer))}", style="bold"))
        who = person if person in card.may_answer else None
        for command in view.commands(who):
            console.print(Text(f"  {line(command)}", style="green"), soft_wrap=True)
    elif card.decision is not None:
        decision = card.decision
        how = "self-declared"  # what the answering process recorded; crew audit verify checks
        if decision.verified and decision.verified_by:
            signed = decision.verified_by == "signed"
            how = "signed" if signed else f"verified by {decision.verified_by}"
        said = f"{decision.decision} by {decision.by} ({how})"
        if decision.comment:
            said += f': "{decision.comment}"'
        console.print(Text(f"decided: {line(said)}", style="bold"), soft_wrap=True)


def _confidence(view: CardView) -> None:
    card = view.card
    if card.confidence is None and not view.measured:
        return
    method = card.detail.get("confidence") or {}
    said = "confidence " + ("?" if card.confidence is None else f"{card.confidence:.2f}")
    how = [str(method["method"])] if method.get("method") else []
    if method.get("threshold") is not None:
        how.append(f"threshold {method['threshold']}")
    if how:
        said += f" ({'; '.join(how)})"
    parts = (view.measured or {}).get("parts") or {}
    if parts:
        said += " · " + ", ".join(f"{k}: {_flat(v)}" for k, v in parts.items())
    console.print(Text(line(said)), soft_wrap=True)


def _history(view: CardView) -> None:
    if not view.history:
        return
    from crew.board import iso

    table = Table(title="history", title_justify="left", box=None, pad_edge=False)
    for column in ("at", "event", "actor", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for event in view.history:
        detail = ", ".join(
            f"{k}={_flat(v)}" for k, v in event.detail.items() if v not in (None, "", [], {})
        )
        table.add_row(
            Text(iso(event.at) or ""),
            Text(line(event.event)),
            Text(line(event.actor)),
            Text(line(detail)),
        )
    console.print(table)
