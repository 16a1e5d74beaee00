"""`crew board`, `crew inbox`, `crew log`: what is on the board, what waits on me, who did what.

These read bounded index ranges (per status, per person, per run), never the whole board, and
import nothing heavy: they must answer instantly on a board of any size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from crew.cli._app import app, console, current_person, print_json, project_option
from crew.cli.display import line, markup
from crew.cli.fit import Column, fit_table, hanging

if TYPE_CHECKING:
    from crew.board import Board, Event
    from crew.spec.project import Project

# Finished cards stay on `crew board` this long; `--all` shows older ones too.
RECENT_SECONDS = 86400
_STATUS_STYLE = {
    "queued": "cyan",
    "running": "blue",
    "waiting": "yellow",
    "escalated": "bold red",
    "done": "green",
    "rejected": "magenta",
    "failed": "red",
    "cancelled": "dim",
}

# `crew board` at 80 columns: who has which card is always shown whole (card, run, step, kind,
# assignee) and so is when a waiting card is due; the rest goes when the terminal is too narrow,
# first the due time's ISO stamp, then the confidence, the owner, and the time since the last
# change (`--json` has all of it). A column with nothing in it (no card of the group is due) is
# left out.
_BOARD_COLUMNS = [
    Column("card"),
    Column("run"),
    Column("step"),
    Column("kind"),
    Column("assignee"),
    Column("owner", drop=3),
    Column("conf", drop=4, justify="right"),
    Column("since", drop=2),
    Column("due", drop=1),
    Column("due at", drop=5),
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout for scripts.")]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as", help="Who you are (default: CREW_USER, else your login).", show_default=False
    ),
]


def open_project(*, code: bool = False) -> Project:
    """The project found from --project / CREW_PROJECT / the current directory. `code`: also
    import and check its Python (tools, automated steps), for the commands that drive runs;
    the others stay fast and never run the project's code just to read the board."""
    from crew.spec.loader import find_project_root, load_project

    return load_project(find_project_root(project_option()), code=code)


def open_board(project: Project) -> Board:
    """The project's board (CREW_BOARD / settings.board) on its Redis, after a bounded SLA sweep
    (DESIGN §5: every command that touches the board enforces SLAs; a sweep error is logged)."""
    from crew.board import Board
    from crew.people.notify import shared_deliverer
    from crew.people.sla import enforce_slas

    board = Board.from_url(
        project.redis_url(),
        project.board_name,
        allow_eviction=project.crew.settings.allow_eviction,
    )
    enforce_slas(project, board, deliverer=shared_deliverer(board))
    return board


def identify(explicit: str | None, project: Project) -> str:
    """The acting person: --as, CREW_USER or the login; one clear error if unknown."""
    from crew.exceptions import ConfigError
    from crew.spec.suggest import did_you_mean

    people = project.crew.people
    person = current_person(explicit, people)
    if person is None:
        raise ConfigError(
            "who are you? crew could not tell which person of crew.yaml you are",
            hint="Pass --as PERSON or set CREW_USER.",
        )
    if people and person not in people:
        raise ConfigError(
            f"unknown person '{person}' (from {'--as' if explicit else 'CREW_USER'})",
            hint=did_you_mean(person, people, kind="People"),
        )
    return person


@app.command("board")
def board_command(
    run: Annotated[
        str | None, typer.Option("--run", help="Only the cards of this run.", show_default=False)
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also show cards that finished more than a day ago.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most this many cards per status.")
    ] = 50,
    as_json: JsonOption = False,
) -> None:
    """The board: cards grouped by status, one row per card."""
    from crew.board import CardStatus
    from crew.engine.retention import enforce_retention

    project = open_project()
    board = open_board(project)
    # Retention: a bounded batch of abandoned runs to cancel and long-finished ones to delete.
    enforce_retention(board, project.crew.settings.retention)
    since = None if show_all or run is not None else board.now() - RECENT_SECONDS
    cards = board.cards(run=run, limit=limit if run is None else 100_000, finished_since=since)
    if as_json:
        print_json([card.to_json() for card in cards])
        return
    if run is not None and not cards:
        board.get_run(run)  # an unknown run is an error, a run with no cards yet is not
    counts = board.counts(run) if run is not None else board.counts()
    now = board.now()
    shown = 0
    for status in CardStatus:
        group = [c for c in cards if c.status is status]
        if not group:
            continue
        shown += len(group)
        more = counts[status] - len(group)
        title = f"{status} ({counts[status]})" if more <= 0 or since else f"{status}"
        waits = status.waits_on_person
        rows: list[list[str | Text]] = [
            [
                Text(line(card.id), style="bold"),
                Text(line(card.run)),
                Text(line(card.step)),
                str(card.kind),
                Text(line(card.assignee)),
                Text(line(card.owner)),
                "" if card.confidence is None else f"{card.confidence:.2f}",
                ago(now - card.updated),
                _due_in(card.due, now) if waits else "",
                iso(card.due) or "" if waits else "",
            ]
            for card in group
        ]
        style = _STATUS_STYLE[status]
        console.print(fit_table(console, _BOARD_COLUMNS, rows, title=title, title_style=style))
        if more > 0 and not status.finished:
            console.print(f"  … and {more} more {status} (use --limit to see more)")
    if not shown:
        console.print("The board is empty." if run is None else f"Run {run} has no cards yet.")


@app.command("inbox")
def inbox_command(as_person: AsOption = None, as_json: JsonOption = False) -> None:
    """Cards waiting on me (checkpoints, escalations, tool calls, tasks), oldest first."""
    from crew.cli import remote

    if (api := remote.remote()) is not None:  # `crew login`: through the server's API
        remote.inbox(api, as_person, as_json)
        return
    project = open_project()
    person = identify(as_person, project)
    board = open_board(project)
    cards = board.inbox(person)
    if as_json:
        print_json([card.to_json() for card in cards])
        return
    if not cards:
        console.print(f"Nothing waiting on {markup(person)}.")
        return
    now = board.now()
    who = f" --as {person}" if as_person else ""
    console.print(Text(f"waiting on {line(person)} ({len(cards)}), oldest first", style="bold"))
    for card in cards:
        # A block per card rather than a table: the reason and the command stay readable in
        # any terminal width.
        head = Text.assemble(
            (line(card.id), "bold"),
            f"  {card.kind}  ",
            (line(card.step), "cyan"),
            f"  run {line(card.run)} ({line(card.playbook)})",
        )
        if card.assignee != person:
            head.append(f"  assigned to {line(card.assignee)}")
        timing = f"waiting {ago(now - (card.waiting_since or card.updated))}"
        timing += f" · due {due_text(card.due, now)}" if card.due else ""
        console.print()
        console.print(head)
        console.print(Text(f"    {timing}", style="dim"))
        if card.reason:  # at most 3 lines here; `crew show CARD` has all of it
            reason = hanging(console, Text(line(card.reason)), indent=4, max_lines=3)
            console.print(Text("    ") + reason)
        console.print(Text(f"    crew show {line(card.id)}", style="cyan"), soft_wrap=True)
        decisions = "|".join(card.kind.decisions)
        console.print(
            Text(f"    crew answer {card.id} {decisions}{who}", style="green"), soft_wrap=True
        )


@app.command("log")
def log_command(
    run: Annotated[str, typer.Argument(help="The run id (see `crew runs`).")],
    as_json: JsonOption = False,
) -> None:
    """The audit trail of a run: every transition, who, what, when."""
    from crew.board import RUN_EVENTS_MAXLEN

    board = open_board(open_project())
    events = board.events(run, limit=RUN_EVENTS_MAXLEN)
    if not events:
        board.get_run(run)  # no such run: one clear error
    if as_json:
        print_json([event.to_json() for event in events])
        return
    # At 80 columns: the time, card, event and actor are what a person scans for, always shown
    # whole; the detail is the low-priority part: it wraps in what is left, at most 6 lines an
    # event (then …). Times are the time of day (UTC), the day in the title and on a row of its
    # own when it changes; `--json` has the full stamps and every detail.
    columns = [
        Column("at"),
        Column("card"),
        Column("event"),
        Column("actor"),
        Column("detail", wrap=True, min_width=24, max_lines=6),
    ]
    rows: list[list[str | Text]] = []
    day = _iso(events[0])[:10] if events else ""
    for event in events:
        stamp = _iso(event)
        if stamp[:10] != day:
            day = stamp[:10]
            rows.append([Text(day, style="bold"), "", "", "", ""])
        rows.append(
            [
                stamp[11:19],
                Text(line(event.card or "")),
                Text(line(event.event)),
                Text(line(event.actor)),
                Text(line(_detail(event))),
            ]
        )
    title = Text(f"run {line(run)}" + (f" · {_iso(events[0])[:10]} (UTC)" if events else ""))
    console.print(fit_table(console, columns, rows, title=title, title_style="bold"))


def ago(seconds: float) -> str:
    """A short age: 42s, 5m, 3h, 2d; with the next unit when it says more: 1h59m, 2d3h."""
    seconds = max(0.0, seconds)
    units = (("d", 86400), ("h", 3600), ("m", 60))
    for index, (unit, size) in enumerate(units):
        if seconds >= size:
            whole, rest = divmod(int(seconds), size)
            text = f"{whole}{unit}"
            if index + 1 < len(units) and whole < 10:
                smaller, small_size = units[index + 1]
                if rest >= small_size:
                    text += f"{rest // small_size}{smaller}"
            return text
    return f"{int(seconds)}s"


def _due_in(due: float | None, now: float) -> str:
    """When a card is due, relative to now: `in 1h59m`, `overdue 3h`."""
    if due is None:
        return ""
    left = due - now
    return f"overdue {ago(-left)}" if left < 0 else f"in {ago(left)}"


def due_text(due: float | None, now: float) -> str:
    if due is None:
        return ""
    return f"{_due_in(due, now)} ({iso(due)})"


def iso(seconds: float | None) -> str | None:
    from crew.board import iso

    return iso(seconds)


def _iso(event: Event) -> str:
    from crew.board import iso

    return iso(event.at) or ""


# Free text goes last in a detail, so the line cap of `crew log` cuts text, never an id or a name.
_FREE_TEXT = ("reason", "comment", "guidance", "question", "inputs", "error", "text")


def _detail(event: Event) -> str:
    """An event's detail on one line for `crew log` (`--json` has all of it): what repeats the
    row or is lease mechanics is left out (a `worker`/`holder` that is the actor, a `role` that
    is the assignee, `allowed` when only the assignee, `lease_seconds`), a measured confidence
    shows its method (the score is the card's confidence), hashes their short form."""
    detail = _verified(event.event, dict(event.detail))
    for key in ("worker", "holder"):
        if detail.get(key) == event.actor:
            detail.pop(key)
    if detail.get("role") is not None and detail.get("role") == detail.get("assignee"):
        detail.pop("role")
    assignee = detail.get("assignee")
    if "allowed" in detail and detail["allowed"] in ([assignee], assignee):
        detail.pop("allowed")
    detail.pop("lease_seconds", None)
    measured = detail.get("measured")
    if isinstance(measured, dict) and measured.get("method"):
        detail["measured"] = measured["method"]
    for key in ("pinned", "old", "new", "hash"):
        value = detail.get(key)
        if isinstance(value, str) and value.startswith("sha256:"):
            detail[key] = value.removeprefix("sha256:")[:12]
    ordered = [k for k in detail if k not in _FREE_TEXT] + [k for k in detail if k in _FREE_TEXT]
    return ", ".join(
        f"{k}={_show(detail[k])}" for k in ordered if detail[k] not in (None, "", [], {})
    )


def _verified(name: str, detail: dict[str, Any]) -> dict[str, Any]:
    """An answer's proof as how its decider was verified, first: `verified=signed` (their own
    key), `verified=web` (an authority's name) or `verified=self-declared`; the signature and
    the signed payload are for `--json` and `crew audit`."""
    if name != "answered":
        return detail
    by = detail.pop("verified_by", None)
    verified = detail.pop("verified", None)
    signed = detail.pop("signed", None) is not None
    detail.pop("signature", None)
    how = by if verified and by else ("signed, unverified" if signed else "self-declared")
    return {"verified": how, **detail}


def _show(value: Any) -> str:
    """A detail value on one short line: lists joined, waiting-on entries by their card."""
    if isinstance(value, list):
        return ",".join(str(v.get("card", v)) if isinstance(v, dict) else _show(v) for v in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)
