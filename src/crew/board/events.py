"""The audit trail: one stream entry per transition (who, what, when, which card version).

Every transition script appends an event to the board's stream and, for events of a run, to the
run's own stream, in the same atomic step. Card events: created, claimed, completed, failed,
requeued, waiting, escalated, answered, reassigned, cancelled, lease_expired; and, not
transitions (the card's status and version stay), overdue, notified, notify_failed. Run events:
run_started, run_resumed, run_waiting, run_done, run_failed, run_rejected, run_cancelled,
run_driver (a process took the run's lease). Heartbeats are not transitions and are not logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from crew.board.cards import iso


@dataclass(frozen=True)
class Event:
    id: str  # the stream entry id; pass it as `after=` to read newer events
    at: float
    card: str | None
    run: str | None
    event: str
    actor: str
    version: int
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, entry_id: str, fields: dict[str, str]) -> Event:
        return cls(
            id=entry_id,
            at=float(fields["at"]),
            card=fields.get("card") or None,
            run=fields.get("run") or None,
            event=fields["event"],
            actor=fields.get("actor", ""),
            version=int(fields.get("version") or 0),
            detail=json.loads(fields.get("detail") or "{}") or {},
        )

    def to_json(self) -> dict[str, Any]:
        """DESIGN §3's `crew log --json` shape, extended with run, version and the entry id."""
        return {
            "at": iso(self.at),
            "card": self.card,
            "event": self.event,
            "actor": self.actor,
            "detail": self.detail,
            "run": self.run,
            "version": self.version,
            "id": self.id,
        }
