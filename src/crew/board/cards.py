"""Cards: the value types of the board (DESIGN §4).

A card is one agent step execution or one human decision. `Card.from_hash` reads the Redis hash
the scripts write; `Card.to_json` is the stable JSON of `crew board --json` / `crew inbox --json`.
Its kind, status and decision are `crew.types` values (re-exported here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crew.types import CardKind, CardStatus, Decision, Usage

__all__ = [
    "ACTIVE",
    "FINISHED",
    "Answer",
    "Card",
    "CardKind",
    "CardStatus",
    "Decision",
    "Lease",
    "card_id",
    "iso",
]


FINISHED = frozenset(status for status in CardStatus if status.finished)
ACTIVE = (CardStatus.QUEUED, CardStatus.RUNNING, CardStatus.WAITING, CardStatus.ESCALATED)


@dataclass(frozen=True)
class Answer:
    """A recorded decision: who answered what, when, to which card version."""

    by: str
    decision: Decision
    comment: str | None
    at: float
    version: int
    edited_output: Any = None
    signature: str | None = None
    """The SSH signature (armored SSHSIG, namespace crew) over `signed`, if it was signed."""
    signed: dict[str, Any] | None = None
    """The payload signed (crew.people.signing.Payload's JSON)."""
    verified: bool = False
    """Whether the answering process verified it against crew.yaml (the driver checks again)."""
    verified_by: str | None = None
    """`signed` (the person's own key), an authority's name (e.g. web), or None."""


@dataclass(frozen=True)
class Lease:
    """A claim on a running card: pass `token` to heartbeat/complete/fail/wait (the fence)."""

    card: str
    token: str
    deadline: float
    version: int


@dataclass(frozen=True)
class Card:
    id: str
    run: str
    playbook: str
    step: str
    kind: CardKind
    status: CardStatus
    assignee: str
    owner: str
    version: int
    created: float
    updated: float
    role: str | None = None
    attempt: int = 0
    max_attempts: int = 3
    confidence: float | None = None
    output: Any = None
    decision: Answer | None = None
    due: float | None = None
    item: Any = None
    revision: int = 0
    detail: dict[str, Any] = field(default_factory=dict)
    allowed: list[str] = field(default_factory=list)
    reason: str | None = None
    reason_kind: str | None = None
    """An escalation's kind of reason (`crew.types.EscalationReason`), when the step said it."""
    worker: str | None = None
    lease_deadline: float | None = None
    waiting_since: float | None = None
    finished: float | None = None
    created_by: str | None = None
    chain: list[str] = field(default_factory=list)
    """Who the card moves to, in order, when nobody answers by `due` (SLA)."""
    sla: float | None = None
    """Seconds each next person of the chain gets."""
    overdue: float | None = None
    """When it was flagged overdue: past due with nobody left in its chain."""
    notified: dict[str, Any] | None = None
    """The last webhook delivery about it: {event, actor, at, detail: {url, ok, status, ...}}."""
    usage: Usage | None = None
    """The model tokens (and cost, when the profile has a price) its execution used."""

    @property
    def may_answer(self) -> list[str]:
        """Who may answer this card: everyone allowed, else the assignee."""
        return self.allowed or [self.assignee]

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> Card:
        answer = None
        if h.get("decided_by"):
            answer = Answer(
                by=h["decided_by"],
                decision=Decision(h["decision"]),
                comment=h.get("comment") or None,
                # Written by answer.lua together; a hand-written decision may lack them.
                at=float(h.get("decided_at") or 0.0),
                version=int(h.get("decided_version") or 0),
                edited_output=_json(h.get("edited_output")),
                signature=h.get("signature") or None,
                signed=_signed(h.get("signed")),
                verified=h.get("verified") == "1",
                verified_by=h.get("verified_by") or None,
            )
        return cls(
            id=h["id"],
            run=h["run"],
            playbook=h["playbook"],
            step=h["step"],
            kind=CardKind(h["kind"]),
            status=CardStatus(h["status"]),
            assignee=h.get("assignee", ""),
            owner=h.get("owner", ""),
            version=int(h["version"]),
            created=float(h["created"]),
            updated=float(h["updated"]),
            role=h.get("role") or None,
            attempt=int(h.get("attempt") or 0),
            max_attempts=int(h.get("max_attempts") or 1),
            confidence=_float(h.get("confidence")),
            output=_json(h.get("output")),
            decision=answer,
            due=_float(h.get("due")),
            item=_json(h.get("item")),
            revision=int(h.get("revision") or 0),
            detail=_json(h.get("detail")) or {},
            allowed=_json(h.get("allowed")) or [],
            reason=h.get("reason") or None,
            reason_kind=h.get("reason_kind") or None,
            worker=h.get("worker") or None,
            lease_deadline=_float(h.get("lease_deadline")),
            waiting_since=_float(h.get("waiting_since")),
            finished=_float(h.get("finished")),
            created_by=h.get("created_by") or None,
            chain=_json(h.get("chain")) or [],
            sla=_float(h.get("sla")),
            overdue=_float(h.get("overdue")),
            notified=_note(h.get("notified")),
            usage=Usage.from_dict(_json(h.get("usage"))),
        )

    def to_json(self) -> dict[str, Any]:
        """DESIGN §3's card shape, extended with attempt, version, times and the decision."""
        return {
            "card": self.id,
            "run": self.run,
            "playbook": self.playbook,
            "step": self.step,
            "kind": str(self.kind),
            "status": str(self.status),
            "assignee": self.assignee,
            "owner": self.owner,
            "confidence": self.confidence,
            "due": iso(self.due),
            "role": self.role,
            "allowed": self.may_answer if self.status.waits_on_person else [],
            "reason": self.reason,
            "attempt": self.attempt,
            "version": self.version,
            "created": iso(self.created),
            "updated": iso(self.updated),
            "decision": None
            if self.decision is None
            else {
                "by": self.decision.by,
                "decision": str(self.decision.decision),
                "comment": self.decision.comment,
                "at": iso(self.decision.at),
                "version": self.decision.version,
                "verified": self.decision.verified,
                "verified_by": self.decision.verified_by,
                "signature": self.decision.signature,
            },
            "chain": self.chain,
            "overdue": iso(self.overdue),
            "notified": None
            if self.notified is None
            else {**self.notified, "at": iso(self.notified.get("at"))},
            "usage": None if self.usage is None else self.usage.counts(),
            "cost": None if self.usage is None else self.usage.cost,
        }


def card_id(number: int) -> str:
    """The id of card number `number`, as the scripts make them (next_card_id in _common.lua):
    c + the number in base 36, 1 -> c1, 36 -> c10."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if number == 0:
            return "c" + text


def iso(seconds: float | None) -> str | None:
    """ISO 8601 in UTC, to the second: 2026-11-23T14:03:00Z."""
    if seconds is None:
        return None
    stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
    return stamp.replace("+00:00", "Z")


def _float(value: str | None) -> float | None:
    return float(value) if value else None


def _note(value: str | None) -> dict[str, Any] | None:
    note = _json(value)
    if not isinstance(note, dict):
        return None
    if note.get("at"):
        note["at"] = float(note["at"])
    return note


def _signed(value: str | None) -> dict[str, Any] | None:
    """A signed payload as stored; None when it is not a JSON object (a garbled field then
    does not verify, rather than breaking every read of the card)."""
    try:
        payload = _json(value)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _json(value: str | None) -> Any:
    return json.loads(value) if value else None
