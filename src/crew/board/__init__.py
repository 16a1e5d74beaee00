"""The shared Redis task board: cards, their transitions, runs, and the audit trail.

The only code that talks to Redis for the board. `Board` is the API; the value types are
`Card`, `Lease`, `Answer`, `Event`, `Run`, `Pinned` and `OutboxEntry` (a webhook delivery
not finished yet). Statuses, kinds and decisions are the `StrEnum`s of `crew.types`, re-exported
here.
"""

from crew.board.board import RETENTION_SECONDS, Board, Purged
from crew.board.cards import Answer, Card, CardKind, CardStatus, Decision, Lease, iso
from crew.board.events import Event
from crew.board.keys import BoardKeys
from crew.board.outbox import OutboxEntry
from crew.board.runs import Pinned, Run, RunStatus, WorkerState
from crew.board.scripts import EVENTS_MAXLEN, RUN_EVENTS_MAXLEN

__all__ = [
    "EVENTS_MAXLEN",
    "RETENTION_SECONDS",
    "RUN_EVENTS_MAXLEN",
    "Answer",
    "Board",
    "BoardKeys",
    "Card",
    "CardKind",
    "CardStatus",
    "Decision",
    "Event",
    "Lease",
    "OutboxEntry",
    "Pinned",
    "Purged",
    "Run",
    "RunStatus",
    "WorkerState",
    "iso",
]
