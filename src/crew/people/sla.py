"""SLAs (DESIGN §5).

A card waiting on a person past its `due` time moves to the next person of its chain; past the
end of the chain it stays with the last person and is flagged overdue (once). Whoever a card is
reassigned to hears of it through their `webhook`, if they have one: the move queues the
delivery on the board in the same atomic step (`crew.people.notify` makes the attempts).

What a caller may rely on:

- `sweep` acts on at most `limit` overdue cards per call; each move is one version-checked board
  transition, so sweepers running at once (workers, every `crew` command) move a card once.
  Time is the board's clock (inject one in tests).
- The chain and the SLA come from the card (`Board.wait` / `create_card` store them). A card
  stored without them falls back to the project: an escalation of a role to the role's chain
  and SLA, anything else to its assignee alone (so it is flagged, not moved).
- `enforce_slas` is the bounded sweep every board command runs first: it logs, never raises,
  and then has its deliverer attempt the board's due webhook deliveries in the background
  (those of this sweep's moves and any other process's), so every command delivers too.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from crew.board.cards import Card, CardKind
from crew.exceptions import CardNotFound, WrongStatus
from crew.spec.durations import format_duration

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.people.notify import Deliverer
    from crew.spec.project import Project

__all__ = ["enforce_slas", "sweep"]

logger = logging.getLogger("crew")

SWEEPER = "crew"
"""The actor of SLA moves in the audit log."""


def sweep(project: Project, board: Board, *, limit: int = 100) -> list[Card]:
    """Enforce SLAs on up to `limit` overdue waiting/escalated cards; return the cards changed.

    A card moves to the next person of its chain (event `reassigned`, actor `crew`, detail
    from/to/reason "no answer within 2h"), who may answer it from then on (plus the owner's
    delegates for a checkpoint) and gets the SLA again; if they have a webhook, the move
    queues its delivery on the board (see `crew.people.notify`). A card whose assignee is the last
    of
    its chain is flagged overdue instead (event `overdue`, once). A card answered or moved by
    someone else meanwhile is left alone.
    """
    from crew.people.notify import webhook_of

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
                webhook=webhook_of(project, following),
            )
        except (WrongStatus, CardNotFound):  # answered, moved or gone meanwhile
            continue
        changed.append(moved)
    return changed


def enforce_slas(
    project: Project,
    board: Board,
    *,
    deliverer: Deliverer | None = None,
    limit: int = 20,
) -> list[Card]:
    """`sweep`, bounded, for commands that touch the board: an error is logged, not raised.
    Then `deliverer` (if given) attempts the board's due webhook deliveries in the background.

    Cheap when nothing is overdue (one range read on the due index); the deliveries cost the
    caller nothing (another thread; `Deliverer.close` bounds the wait at exit).
    """
    try:
        return sweep(project, board, limit=limit)
    except Exception as error:  # the command the user asked for must not fail because of it
        logger.warning("SLA sweep skipped: %s", error)
        return []
    finally:
        if deliverer is not None:
            deliverer.kick()


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
