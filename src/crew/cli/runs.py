"""`crew runs` (recent runs) and `crew status RUN` (one run's step timeline).

`crew runs` reads only the board (no LangGraph), so it is instant. `crew status` also reads the
run's saved state for its outputs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from crew.cli._app import app, console, print_json
from crew.cli.display import line, markup
from crew.cli.fit import Column, fit_table, hanging
from crew.types import CardKind, CardStatus, RunStatus, Usage

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.board.cards import Card
    from crew.board.runs import Run
    from crew.spec.project import Project
    from crew.spec.snapshot import FileChange, Snapshot

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]

_STYLE = {
    "done": "green",
    "running": "cyan",
    "waiting": "yellow",
    "escalated": "yellow",
    "queued": "dim",
    "failed": "red",
    "rejected": "red",
    "cancelled": "dim",
    "skipped": "dim",
    "pending": "dim",
}


def _project() -> Project:
    from crew.cli.board import open_project

    return open_project()


def _board(project: Project) -> Board:
    from crew.cli.board import open_board  # with the SLA sweep every board command runs

    return open_board(project)


def _iso(seconds: float | None) -> str | None:
    from crew.board.cards import iso

    return iso(seconds)


def age(seconds: float, now: float | None = None) -> str:
    """How long ago `seconds` (a time) was, as `crew board` says it: 5s, 3m, 1h59m, 4d."""
    from crew.cli.board import ago

    return ago((now if now is not None else time.time()) - seconds)


def _gist(output: Any) -> str:
    """An output on one line: its fields as `key: value`, long values cut."""
    import json

    def short(value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        text = " ".join(text.split())
        return text if len(text) <= 60 else text[:59] + "…"

    if isinstance(output, dict):
        return "; ".join(f"{k}: {short(v)}" for k, v in output.items())
    if isinstance(output, list):
        return f"{len(output)} items: " + " | ".join(_gist(item) for item in output)
    return short(output)


def _item(item: Any, limit: int = 40) -> str:
    """A fan-out item beside its step: a string as it is, other values as compact JSON; cut to
    `limit` characters (an item is data, not an id; `--json` has it whole)."""
    import json

    text = item if isinstance(item, str) else json.dumps(item, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _money(cost: float | None) -> str:
    """A cost in USD, to a millionth of a dollar (token prices are per million tokens)."""
    return "" if cost is None else f"${cost:.6f}"


def usage_line(used: Usage) -> str:
    """Model usage on one line (`crew status RUN`, `crew show CARD`): calls, tokens, cost."""
    said = (
        f"usage: {used.calls} model call{'' if used.calls == 1 else 's'}, "
        f"{used.input_tokens} input + {used.output_tokens} output tokens"
    )
    return said if used.cost is None else said + f", cost {_money(used.cost)}"


def _clock(stamp: str | None) -> str:
    """The time of day of an ISO stamp (the table is narrow; --json has the full stamp)."""
    return stamp[11:19] if stamp else ""


def _waiting_names(run: Run) -> str:
    """Who a run waits on, each person once (a fan-out waits on one person for many items)."""
    names = [str(w.get("assignee", "")) for w in run.waiting_on if isinstance(w, dict)]
    return ", ".join(dict.fromkeys(n for n in names if n))


# `crew runs` at 80 columns: the run, playbook and status are always shown whole; who it waits
# on wraps (between names, never inside one); the age goes first when the terminal is too narrow.
_RUNS_COLUMNS = [
    Column("run"),
    Column("playbook"),
    Column("status"),
    Column("waiting on", wrap=True, min_width=12),
    Column("age", drop=1),
]
# `crew status RUN` at 80 columns: the step (with its fan-out item and revision, which may wrap
# under it), card, status and who are always shown; then go, first to last, the tokens, the
# cost (the usage line under the table has the totals, --json each step's), the time, the
# confidence.
_STATUS_COLUMNS = {
    "step": Column("step", wrap=True),  # its widths are the names' (below)
    "card": Column("card"),
    "status": Column("status"),
    "who": Column("who"),
    "when": Column("when", drop=2),
    "confidence": Column("confidence", drop=1, justify="right"),
    "tokens": Column("tokens", drop=4),
    "cost": Column("cost", drop=3, justify="right"),
}


def run_json(run: Run) -> dict[str, Any]:
    return {
        "run": run.id,
        "playbook": run.playbook,
        "status": str(run.status),
        "waiting_on": run.waiting_on if run.status is RunStatus.WAITING else [],
        "started_by": run.started_by,
        "created": _iso(run.created),
        "updated": _iso(run.updated),
        "reason": run.reason,
    }


@app.command("runs")
def runs(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Recent runs: playbook, status, who they wait on, age."""
    board = _board(_project())
    found = board.runs(limit=limit)
    if as_json:
        print_json([run_json(run) for run in found])
        return
    if not found:
        console.print("no runs yet on this board; start one with `crew run PLAYBOOK`")
        return
    now = board.now()
    rows: list[list[str | Text]] = []
    for run in found:
        status = str(run.status)
        rows.append(
            [
                Text(run.id),
                Text(line(run.playbook)),
                Text(status, style=_STYLE.get(status, "")),
                Text(line(_waiting_names(run)) if run.status is RunStatus.WAITING else ""),
                age(run.created, now),
            ]
        )
    console.print(fit_table(console, _RUNS_COLUMNS, rows))


def _recorded_line(run: Run, card: Card, now: float) -> str:
    """A waiting card whose answer is recorded but not yet acted on: what was decided, and who
    will move the run on."""
    assert card.decision is not None
    said = (
        f"{markup(card.step)} ({card.id}): {card.decision.decision} by "
        f"{markup(card.decision.by)} is recorded; "
    )
    if run.driver and run.lease_deadline and run.lease_deadline > now:
        return said + f"the run's driver ({markup(run.driver)}) goes on with it"
    return said + f"`crew resume {run.id}` (or a `crew worker`) goes on with it"


def _pinned(project: Project, board: Board, run: Run) -> tuple[Snapshot | None, list[FileChange]]:
    """The playbook version `run` follows and the files that say otherwise now."""
    from crew.engine.runtime import started_with

    started = started_with(board, run.id)
    return started, started.changes(project) if started else []


def _pinned_note(run: Run, changes: list[FileChange]) -> str | None:
    """One line saying the files changed since the run started, and what that means."""
    if not changes:
        return None
    said = [
        f"{', '.join(c.file for c in changes if c.change == change)} {change}"
        for change in ("changed", "deleted")
        if any(c.change == change for c in changes)
    ]
    since = f"{' and '.join(said)} since this run started"
    if run.status.finished:
        return f"{since}; it ran with the version it started with"
    note = f"{since}; it goes on with the version it started with"
    if any(c.file == f"playbooks/{run.playbook}.yaml" and c.change == "deleted" for c in changes):
        return note
    return note + f"; `crew resume {run.id} --upgrade` moves it to the current files"


@app.command("status")
def status(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run to show.")],
    as_json: JsonOption = False,
) -> None:
    """One run: its step timeline (status, who, when, confidence, decisions) and outputs."""
    from crew.cli import remote

    if (api := remote.remote()) is not None:  # `crew login`: through the server's API
        remote.status(api, run_id, as_json)
        return
    from crew.engine.run_view import pinned_json, status_json, timeline, total_usage
    from crew.engine.runtime import Session, report_of
    from crew.people.sla import enforce_slas

    project = _project()
    session = Session.open(project)
    try:
        enforce_slas(project, session.board, deliverer=session.deliverer)
        run = session.board.get_run(run_id)
        report = report_of(session, run)
        cards = session.board.cards_of_run(run_id)
        now = session.board.now()
    finally:
        session.close()
    started, changes = _pinned(project, session.board, run)  # what the run follows, changes since
    playbook = started.playbook if started else project.playbooks.get(run.playbook)
    steps = timeline(playbook, run, cards)
    used = total_usage(cards)
    if as_json:
        pinned = pinned_json(started, changes)
        print_json(status_json(report.to_json(), run, cards, playbook, pinned))
        return
    style = _STYLE.get(str(run.status), "")
    console.print(
        f"run [bold]{run.id}[/] · {markup(run.playbook)} · [{style}]{run.status}[/] · "
        f"started by {markup(run.started_by or '?')} {_iso(run.created)}",
        highlight=False,
    )
    note = _pinned_note(run, changes)
    if note:
        console.print(f"[yellow]{markup(note)}[/]", highlight=False, soft_wrap=True)
    columns = ["step", "card", "status", "who", "when", "confidence"]
    if used is not None:
        columns.append("tokens")
    if used is not None and used.cost is not None:
        columns.append("cost")
    rows: list[list[str | Text]] = []
    notes: list[str] = []
    for row in steps:
        name = row["step"] + (f" [{_item(row['item'])}]" if row["item"] is not None else "")
        if row["revision"]:
            name += f" (rev {row['revision']})"
        decision = row["decision"]
        if decision:
            said = f"{decision['decision']} by {decision['by']} at {decision['at']}"
            if decision["comment"]:
                said += f': "{decision["comment"]}"'
            notes.append(f"{name} ({row['card']}): {said}")
        elif row["reason"] and row["status"] in (CardStatus.FAILED, CardStatus.CANCELLED):
            notes.append(f"{name} ({row['card']}) {row['status']}: {row['reason']}")
        confidence = "" if row["confidence"] is None else f"{row['confidence']:.2f}"
        cells: list[str | Text] = [
            Text(line(name)),
            Text(line(row["card"] or "")),
            Text(str(row["status"]), style=_STYLE.get(row["status"], "")),
            # Who decided (a delegate, say) rather than who it was assigned to.
            Text(line(str(decision["by"] if decision else row["assignee"] or ""))),
            _clock(row["updated"]),
            confidence,
        ]
        if "tokens" in columns:
            usage = row["usage"]
            tokens = f"{usage['input_tokens']} in, {usage['output_tokens']} out" if usage else ""
            cells.append(tokens)
        if "cost" in columns:
            cells.append(_money(row["cost"]))
        rows.append(cells)
    # The step column keeps its names on one line while there are columns left to drop; then
    # an item or revision wraps under its step id, which never wraps.
    whole = max((len(cell[0]) for cell in rows if isinstance(cell[0], Text)), default=4)
    fitted = [_STATUS_COLUMNS[c] for c in columns]
    fitted[0] = Column(
        "step",
        wrap=True,
        min_width=whole,
        floor=max((len(line(row["step"])) for row in steps), default=4),
    )
    console.print(fit_table(console, fitted, rows))
    # What follows wraps at the terminal's width (between words: ids and names stay whole); a
    # command goes on a line of its own, so it is never split.
    if used is not None:
        console.print(usage_line(used), highlight=False)
    for note in notes:  # a decision's comment: 4 lines at most (all of it: crew log RUN --json)
        console.print(hanging(console, markup(note), max_lines=4), highlight=False)
    if report.outputs:
        console.print(f"[bold]outputs[/] [dim](in full: crew output {run.id})[/]", highlight=False)
        for step, output in report.outputs.items():
            console.print(
                f"  [bold]{markup(step)}[/]: {markup(_gist(output))}",
                highlight=False,
                overflow="ellipsis",
                no_wrap=True,
            )
    if report.reason:
        console.print(hanging(console, f"[red]{markup(report.reason)}[/]"), highlight=False)
    by_id = {card.id: card for card in cards}
    for waiting in report.waiting_on:
        answered = by_id.get(waiting.card)
        if answered is not None and answered.decision is not None:
            console.print(hanging(console, _recorded_line(run, answered, now)), highlight=False)
            continue
        escalation = waiting.kind is CardKind.ESCALATION
        choices = "approve|edit|retry|reject" if escalation else "approve"
        if waiting.kind is CardKind.TOOL_CALL:
            choices = "approve|edit|reject"
        if waiting.kind is CardKind.TASK:
            choices = "submit --file OUT.yaml"
        why = f" ({markup(waiting.reason)})" if escalation else ""
        said = f"waits on [bold]{markup(waiting.assignee)}[/] at {markup(waiting.step)}{why}:"
        console.print(hanging(console, said), highlight=False)
        console.print(
            f"  crew answer {waiting.card} {choices} --as {markup(waiting.assignee)}",
            highlight=False,
            soft_wrap=True,
        )
