"""What the pages and the JSON API show and do, in the CLI's shapes: one place for both surfaces.

Each function takes the server's state and the signed-in person (or a run `visible_run` found
for them), calls the library's use cases (`answer_card`, `view_card`, `report_of`, `timeline`,
`submit_run`) and returns plain data, or raises the library's errors (`NotAllowed` for what
the person may not see, `CardNotFound` / `RunNotFound` for what is not there); the surfaces turn
those into pages or JSON errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crew.exceptions import BoardError, ConfigError, NotAllowed
from crew.web.access import may_see_card, may_see_run

if TYPE_CHECKING:
    from collections.abc import Callable

    from crew.board.cards import Card
    from crew.board.runs import Run
    from crew.people.card_view import CardView
    from crew.web.state import WebState

__all__ = [
    "RunNotFound",
    "answer",
    "card_view",
    "find",
    "inbox",
    "run_log",
    "run_status",
    "runs",
    "submit",
    "visible_run",
]

INBOX_LIMIT = 200
RUNS_LIMIT = 200


class RunNotFound(BoardError):
    """No run with that id on this board."""


def inbox(state: WebState, person: str) -> list[Card]:
    """The cards waiting on `person`, oldest first (a bounded range of their inbox index)."""
    state.sweep()
    return state.board.inbox(person, limit=INBOX_LIMIT)


def _check_may_see(
    state: WebState, person: str, card: Card, run: Run | Callable[[], Run | None] | None
) -> None:
    if not may_see_card(state.project, person, card, run):
        raise NotAllowed(
            f"{person} may not see card {card.id}: it waits on {' or '.join(card.may_answer)}"
            f" in a run of {card.playbook}, which {person} takes no part in"
        )


def _run_or_none(state: WebState, run_id: str) -> Run | None:
    try:
        return state.board.get_run(run_id)
    except BoardError:
        return None


def find(state: WebState, person: str, ref: str) -> str:
    """The id of the card `ref` names for `person`, as `crew answer` finds it: a card id, or the
    step id of the one card of that step waiting on them; NotAllowed when `person` may not see
    it (before an answer is checked, so its errors tell nothing of a card they may not see)."""
    from crew.people.answering import find_card

    state.sweep()
    card = find_card(state.board, ref, person)
    _check_may_see(state, person, card, lambda: _run_or_none(state, card.run))
    return card.id


def card_view(state: WebState, person: str, card_id: str) -> CardView:
    """The card as `crew show` sees it; NotAllowed when `person` may not see it."""
    from crew.people.card_view import view_card

    state.sweep()
    view = view_card(state.board, card_id)
    _check_may_see(state, person, view.card, view.run)
    return view


def answer(
    state: WebState,
    person: str,
    card_id: str,
    decision: str,
    comment: str | None,
    output: dict[str, Any] | None,
    *,
    shown_version: int | None,
    source: str,
) -> Card:
    """Record `person`'s answer exactly as `crew answer` does (signed by the server's key where
    crew.yaml lists it as an authority), then let the run go on in the background."""
    from crew.people.answering import answer_card

    card = state.board.get(card_id)  # CardNotFound; the step-id lookup is the CLI's
    answered = answer_card(
        state.project,
        state.board,
        card.id,
        person,
        decision,
        comment or None,
        output,
        source=source,
        shown_version=shown_version,
    )
    state.go_on(answered, person)
    return answered


def runs(
    state: WebState, person: str, *, status: str | None = None, playbook: str | None = None
) -> list[Run]:
    """The newest runs `person` may see, optionally of one status and playbook."""
    found = state.board.runs(limit=RUNS_LIMIT)
    return [
        run
        for run in found
        if may_see_run(state.project, person, run)
        and (not status or str(run.status) == status)
        and (not playbook or run.playbook == playbook)
    ]


def visible_run(state: WebState, person: str, run_id: str) -> Run:
    """The run `run_id`: RunNotFound when there is none, NotAllowed when `person` may not see it."""
    run = _run_or_none(state, run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id!r} on this board", hint="See the runs page.")
    if not may_see_run(state.project, person, run):
        raise NotAllowed(f"{person} may not see run {run_id}: they take no part in {run.playbook}")
    return run


def run_status(state: WebState, run: Run) -> dict[str, Any]:
    """`crew status RUN --json`'s shape (of a `visible_run`)."""
    from crew.engine.run_view import pinned_json, status_json
    from crew.engine.runtime import report_of, started_with

    report = report_of(state.session, run)
    cards = state.board.cards_of_run(run.id)
    started = started_with(state.board, run.id)
    playbook = started.playbook if started else state.project.playbooks.get(run.playbook)
    changes = started.changes(state.project) if started else []
    return status_json(report.to_json(), run, cards, playbook, pinned_json(started, changes))


def run_log(state: WebState, run: Run, *, newest: int | None = None) -> list[dict[str, Any]]:
    """`crew log RUN --json`'s shape (of a `visible_run`): every event the run keeps, or only
    the `newest` ones."""
    from crew.board.scripts import RUN_EVENTS_MAXLEN

    if newest is not None:
        events = state.board.last_events(run.id, limit=newest)
    else:
        events = state.board.events(run.id, limit=RUN_EVENTS_MAXLEN)
    return [event.to_json() for event in events]


def submit(state: WebState, person: str, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /api/runs`: queue a run for a worker (`crew run --detach --json`'s shape back)."""
    import dataclasses

    from crew.engine.runtime import LIVE, REPLAY, submit_run
    from crew.spec.inputs import check_inputs

    name = body.get("playbook")
    inputs = body.get("inputs") or {}
    key = body.get("key")
    mode = body.get("mode") or LIVE
    if not isinstance(name, str) or not name:
        raise ConfigError("'playbook' is required: the name of a playbook")
    if not isinstance(inputs, dict):
        raise ConfigError("'inputs' must be an object of input names to values")
    if key is not None and not isinstance(key, str):
        raise ConfigError("'key' must be a string")
    if mode not in (LIVE, REPLAY):
        raise ConfigError(f"'mode' must be {LIVE} or {REPLAY}, not {mode!r}")
    if name not in state.project.playbooks:
        raise ConfigError(f"unknown playbook {name!r}")
    spec = state.project.playbook(name)
    given = check_inputs(spec, inputs)
    session = dataclasses.replace(state.session, person=person)
    return submit_run(session, spec, given, mode=mode, key=key).to_json()
