"""SLAs and assignment notifications (DESIGN §5).

A card waiting on a person past its `due` time moves to the next person of its chain; past the
end of the chain it stays with the last person and is flagged overdue (once). Whoever a card is
assigned or reassigned to hears of it through their `webhook`, if they have one.

What a caller may rely on:

- `sweep` acts on at most `limit` overdue cards per call; each move is one version-checked board
  transition, so sweepers running at once (workers, every `crew` command) move a card once.
  Time is the board's clock (inject one in tests).
- The chain and the SLA come from the card (`Board.wait` / `create_card` store them). A card
  stored without them falls back to the project: an escalation of a role to the role's chain
  and SLA, anything else to its assignee alone (so it is flagged, not moved).
- `notify_assignment` never raises and never blocks: delivery runs in the notifier's background
  threads, and the outcome is recorded on the card (`notified` / `notify_failed` events,
  `card.notified`). `Notifier.flush` waits for deliveries in flight (a process about to exit).
- `enforce_slas` is the bounded sweep every board command runs first: it logs, never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from crew.board.cards import Card, CardKind, iso
from crew.durations import format_duration
from crew.exceptions import CardNotFound, WrongStatus

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.notify import Delivery, Notifier
    from crew.spec.project import Project

__all__ = ["enforce_slas", "notify_assignment", "sweep"]

logger = logging.getLogger("crew")

SWEEPER = "crew"
"""The actor of SLA moves and notification notes in the audit log."""


def sweep(
    project: Project,
    board: Board,
    *,
    notifier: Notifier | Callable[[], Notifier] | None = None,
    limit: int = 100,
) -> list[Card]:
    """Enforce SLAs on up to `limit` overdue waiting/escalated cards; return the cards changed.

    A card moves to the next person of its chain (event `reassigned`, actor `crew`, detail
    from/to/reason "no answer within 2h"), who may answer it from then on (plus the owner's
    delegates for a checkpoint) and gets the SLA again; then that person is notified. A card
    whose assignee is the last of its chain is flagged overdue instead (event `overdue`, once).
    A card answered or moved by someone else meanwhile is left alone. `notifier` may be a
    function that returns one, called at the first move (so a sweep with nothing to move does
    not even import the HTTP client); with none, deliveries run in a new one's background
    threads (nobody waits for them).
    """
    changed: list[Card] = []
    for card in board.overdue(limit):
        chain = card.chain or _fallback_chain(project, card)
        seconds = card.sla or _fallback_sla(project, card)
        reason = f"no answer within {format_duration(seconds)}"
        following = _next_in(chain, card.assignee)
        try:
            if following is None:
                flagged = board.flag_overdue(
                    card.id,
                    actor=SWEEPER,
                    reason=f"{reason}; nobody after {card.assignee} in its chain",
                    expected_version=card.version,
                )
                if flagged is not None:
                    changed.append(flagged)
                continue
            moved = board.reassign(
                card.id,
                to=following,
                actor=SWEEPER,
                reason=reason,
                allowed=_allowed(project, card, following),
                due=board.now() + seconds,
                expected_version=card.version,
                keep_reason=True,
            )
        except (WrongStatus, CardNotFound):  # answered, moved or gone meanwhile
            continue
        changed.append(moved)
        notifier = _notifier(notifier)
        notify_assignment(project, board, moved, previous=card.assignee, notifier=notifier)
    return changed


def _notifier(given: Notifier | Callable[[], Notifier] | None) -> Notifier:
    from crew.notify import Notifier

    if isinstance(given, Notifier):
        return given
    return given() if given is not None else Notifier()


def enforce_slas(
    project: Project,
    board: Board,
    *,
    notifier: Notifier | Callable[[], Notifier] | None = None,
    limit: int = 20,
) -> list[Card]:
    """`sweep`, bounded, for commands that touch the board: an error is logged, not raised.

    Cheap when nothing is overdue (one range read on the due index).
    """
    try:
        return sweep(project, board, notifier=notifier, limit=limit)
    except Exception as error:  # the command the user asked for must not fail because of it
        logger.warning("SLA sweep skipped: %s", error)
        return []


def notify_assignment(
    project: Project,
    board: Board,
    card: Card,
    *,
    previous: str | None = None,
    notifier: Notifier,
) -> None:
    """POST the assignment message to `card.assignee`'s webhook, if they have one, in the
    background; the outcome is recorded on the card. Never raises, never blocks."""
    try:
        from crew.notify import message

        person = project.crew.people.get(card.assignee)
        url = getattr(person, "webhook", None)
        if not url:
            return
        payload = message(
            person=card.assignee,
            card=card.id,
            run=card.run,
            playbook=card.playbook,
            step=card.step,
            kind=str(card.kind),
            reason=card.reason or "",
            due=iso(card.due),
            previous=previous,
        )

        def record(delivery: Delivery) -> None:
            event = "notified" if delivery.ok else "notify_failed"
            detail = {**delivery.to_dict(), "person": card.assignee}
            board.note(card.id, event=event, actor=SWEEPER, detail=detail)

        notifier.send(str(url), payload, on_done=record)
    except Exception:  # a notification must never fail a run or a command
        logger.exception("could not notify %s about card %s", card.assignee, card.id)


def _next_in(chain: list[str], assignee: str) -> str | None:
    """The person after `assignee` in `chain` (None at its end, or if they are not in it)."""
    if assignee not in chain:
        return None
    rest = chain[chain.index(assignee) + 1 :]
    return next((person for person in rest if person != assignee), None)


def _allowed(project: Project, card: Card, assignee: str) -> list[str]:
    """Who may answer once it is `assignee`'s: them, plus the owner's delegates (checkpoints)."""
    if card.kind is not CardKind.CHECKPOINT:
        return [assignee]
    delegates = project.may_answer_checkpoint(card.owner)[1:]
    return [assignee, *(d for d in delegates if d != assignee)]


def _fallback_chain(project: Project, card: Card) -> list[str]:
    if card.kind is CardKind.ESCALATION and card.role and card.role in project.roles:
        return project.escalation_chain(project.roles[card.role])
    return [card.assignee]


def _fallback_sla(project: Project, card: Card) -> float:
    if card.kind is CardKind.ESCALATION and card.role and card.role in project.roles:
        return project.sla_for(project.roles[card.role])
    return float(project.crew.settings.sla)
