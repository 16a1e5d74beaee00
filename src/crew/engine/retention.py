"""Retention: what the board keeps, and for how long (`settings.retention` in crew.yaml).

- A run still waiting on a person `abandoned` after its last change (null: never) is cancelled
  by crew, with the reason in its audit trail; its open cards are cancelled with it.
- Finished cards and runs (with their events and LangGraph state) are deleted `finished` after
  they finished: the board purges its part (`Board.purge`), then the saver's own keys of each
  purged run are deleted (`crew.persistence.delete_threads`, what `delete_thread` does).

`enforce_retention` does one bounded batch of each; `crew board` and `crew worker` call it. It
never imports LangGraph.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crew.board.runs import RunStatus
from crew.exceptions import BoardError
from crew.persistence import delete_threads
from crew.spec.durations import format_duration

if TYPE_CHECKING:
    from crew.board import Board
    from crew.spec.models import Retention

__all__ = ["Retained", "enforce_retention"]

logger = logging.getLogger("crew")


@dataclass(frozen=True)
class Retained:
    """What one batch did."""

    abandoned: list[str]
    """Runs cancelled as abandoned."""
    cards_deleted: int
    runs_deleted: int


def enforce_retention(board: Board, retention: Retention, *, limit: int = 100) -> Retained:
    """Cancel abandoned waiting runs and delete long-finished ones: at most `limit` of each."""
    abandoned = _cancel_abandoned(board, retention, limit)
    purged = board.purge(limit, older_than=retention.finished)
    # A finished run's state is never written again. Were this process to stop right here,
    # the state would stay, and no new run would take the id (`Board.create_run` checks).
    if purged.runs:
        delete_threads(board.client, board.keys.run_state_namespace(), purged.runs)
    return Retained(abandoned=abandoned, cards_deleted=purged.cards, runs_deleted=len(purged.runs))


def _cancel_abandoned(board: Board, retention: Retention, limit: int) -> list[str]:
    if retention.abandoned is None:
        return []
    cutoff = board.now() - retention.abandoned
    cancelled: list[str] = []
    # A run's last change comes after its start: only runs started before the cutoff qualify.
    for run in board.runs_started_before(cutoff, limit=limit):
        if run.status is not RunStatus.WAITING or run.updated >= cutoff:
            continue
        reason = (
            f"abandoned: waited on a person for more than "
            f"{format_duration(retention.abandoned)} (settings.retention.abandoned)"
        )
        try:
            board.cancel_run(run.id, actor="crew", reason=reason)
        except BoardError as error:  # answered or cancelled meanwhile
            logger.info("run %s not cancelled as abandoned: %s", run.id, error)
            continue
        cancelled.append(run.id)
    return cancelled
