"""Webhook deliveries waiting on the board (its outbox), as `Board.outbox` and
`Board.claim_delivery` return them.

A transition that puts a card in front of a person with a webhook (`Board.wait`, `reassign`, or
`create_card` of a card that waits from the start, each given `webhook=`) queues a delivery in
the same atomic step, so an assignment is never on the board without its notification. Any
process may then make the attempts (`crew.people.notify.Deliverer`): a claim takes one attempt
under a
lease, a report records its outcome; see the scripts `outbox_claim.lua` and `outbox_report.lua`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from crew.types import DeliveryOutcome, DeliveryReport

__all__ = ["OutboxEntry", "Outcome", "Reported"]

Outcome = DeliveryOutcome
"""What one attempt did: delivered; failed but may be tried again (no answer, a server error,
429); refused for good (another client error)."""

Reported = DeliveryReport
"""What a report did: finished the delivery (the card's audit event), scheduled the next attempt,
or nothing: the delivery was finished meanwhile (gone), or a later claim took it over (stale)."""


@dataclass(frozen=True)
class OutboxEntry:
    """One webhook delivery not finished yet: what its message says, where it goes, how far it
    got. `attempts` counts the attempts made, including one being made right now."""

    id: str
    """The outbox member: "<card>:<n>", n being the card's version when it was assigned."""
    card: str
    run: str
    playbook: str
    step: str
    kind: str
    person: str
    """Who the card was put in front of (the webhook's owner)."""
    previous: str | None
    """Who had the card before (an SLA move), else None."""
    reason: str
    due: float | None
    url: str
    attempts: int
    queued: float
    holder: str | None = None
    """Who is making an attempt right now (until its lease runs out), else None."""
    next: float | None = None
    """When it is due (while an attempt is being made: when its lease runs out)."""
    status: int | None = None
    """The last attempt's HTTP status, if it got one."""
    error: str | None = None
    """Why the last attempt failed."""

    @classmethod
    def from_json(cls, member: str, raw: str, score: float | None = None) -> OutboxEntry:
        d: dict[str, Any] = json.loads(raw)
        status = d.get("status")
        return cls(
            id=member,
            card=str(d["card"]),
            run=str(d.get("run") or ""),
            playbook=str(d.get("playbook") or ""),
            step=str(d.get("step") or ""),
            kind=str(d.get("kind") or ""),
            person=str(d["person"]),
            previous=d.get("previous") or None,
            reason=str(d.get("reason") or ""),
            due=float(d["due"]) if d.get("due") else None,
            url=str(d["url"]),
            attempts=int(d.get("attempts") or 0),
            queued=float(d.get("queued") or 0.0),
            holder=d.get("holder") or None,
            next=score if score is not None else (float(d["next"]) if d.get("next") else None),
            status=int(status) if isinstance(status, int | float) else None,
            error=d.get("error") or None,
        )
