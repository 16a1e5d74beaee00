"""A run as a surface shows it: its steps in order, from the cards it made and its playbook.

`timeline` is what `crew status RUN` (and any other surface) lists; `status_json` the whole
`crew status RUN --json` shape, which the web API returns too. They read what they are given
(no Redis, no LangGraph).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crew.board.cards import iso as _iso
from crew.types import CardKind, Usage

if TYPE_CHECKING:
    from crew.board.cards import Card
    from crew.board.runs import Run
    from crew.spec.models import PlaybookSpec
    from crew.spec.snapshot import FileChange, Snapshot

__all__ = ["pinned_json", "status_json", "timeline", "total_usage"]


def timeline(playbook: PlaybookSpec | None, run: Run, cards: list[Card]) -> list[dict[str, Any]]:
    """Every card of the run in order, then the playbook's steps that have no card: `pending`
    while the run goes on, `skipped` once it has ended."""
    rows: list[dict[str, Any]] = []
    for card in cards:
        decision = card.decision
        rows.append(
            {
                "step": card.step,
                "card": card.id,
                "kind": str(card.kind),
                "status": str(card.status),
                "item": card.item,
                "revision": card.revision,
                "role": card.role,
                "assignee": card.assignee,
                "owner": card.owner,
                "confidence": card.confidence,
                "reason": card.reason,
                "created": _iso(card.created),
                "updated": _iso(card.updated),
                "decision": None
                if decision is None
                else {
                    "by": decision.by,
                    "decision": str(decision.decision),
                    "comment": decision.comment,
                    "at": _iso(decision.at),
                    "verified_by": decision.verified_by if decision.verified else None,
                },
                "usage": None if card.usage is None else card.usage.counts(),
                "cost": None if card.usage is None else card.usage.cost,
            }
        )
    seen = {card.step for card in cards}
    rest = "skipped" if run.status.finished else "pending"
    for step in playbook.steps if playbook else []:
        if step.id not in seen:
            rows.append(
                {
                    "step": step.id,
                    "card": None,
                    "kind": str(
                        CardKind.CHECKPOINT
                        if step.checkpoint
                        else CardKind.TASK
                        if step.human
                        else CardKind.AGENT
                    ),
                    "status": rest,
                    "item": None,
                    "revision": 0,
                    "role": step.role,
                    "assignee": step.checkpoint.owner
                    if step.checkpoint
                    else step.human.owner
                    if step.human
                    else step.role,
                    "owner": None,
                    "confidence": None,
                    "reason": None,
                    "created": None,
                    "updated": None,
                    "decision": None,
                    "usage": None,
                    "cost": None,
                }
            )
    return rows


def status_json(
    report: dict[str, Any],
    run: Run,
    cards: list[Card],
    playbook: PlaybookSpec | None,
    pinned: dict[str, Any] | None,
) -> dict[str, Any]:
    """`crew status RUN --json`: the run's report (`RunReport.to_json`), its record's facts, its
    `timeline`, what it is pinned to (`{hash, changed}`; None for a run from before pinning)
    and its usage."""
    used = total_usage(cards)
    return {
        **report,
        "started_by": run.started_by,
        "created": _iso(run.created),
        "updated": _iso(run.updated),
        "inputs": run.inputs,
        "steps": timeline(playbook, run, cards),
        "pinned": pinned,
        "usage": None if used is None else used.counts(),
        "cost": None if used is None else used.cost,
    }


def pinned_json(started: Snapshot | None, changes: list[FileChange]) -> dict[str, Any] | None:
    """What a run is pinned to, for `status_json`: the playbook version it follows and the files
    that say otherwise now (None for a run from before runs were pinned)."""
    if started is None:
        return None
    return {"hash": started.hash, "changed": [change.to_json() for change in changes]}


def total_usage(cards: list[Card]) -> Usage | None:
    """The model usage of every card of a run, summed; None when no card recorded any."""
    used = [card.usage for card in cards if card.usage is not None]
    return sum(used, Usage()) if used else None
