"""Run records and the run lease: one process at a time drives a run.

A run record lives on the board next to its cards (same hash tag, same script discipline, its
events in the same streams). The run lease is a fencing token: `acquire_run` hands out a new,
larger token each time the lease changes hands, `renew_run` refuses a stale token (LeaseLost),
and an expired lease may be taken over by another process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from crew.types import RunStatus

__all__ = ["Pinned", "Run", "RunStatus", "run_event_name"]


@dataclass(frozen=True)
class Run:
    id: str
    playbook: str
    status: RunStatus
    started_by: str
    created: float
    updated: float
    version: int
    inputs: dict[str, Any] = field(default_factory=dict)
    waiting_on: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    finished: float | None = None
    driver: str | None = None  # who holds the run lease (may have expired)
    lease_deadline: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. {"mode": "replay"}
    pinned: str | None = None
    """The hash of the playbook version the run is pinned to (None: a run from before pins)."""

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> Run:
        return cls(
            id=h["id"],
            playbook=h["playbook"],
            status=RunStatus(h["status"]),
            started_by=h.get("started_by", ""),
            created=float(h["created"]),
            updated=float(h["updated"]),
            version=int(h["version"]),
            inputs=json.loads(h.get("inputs") or "{}"),
            waiting_on=json.loads(h.get("waiting_on") or "[]"),
            reason=h.get("reason") or None,
            finished=float(h["finished"]) if h.get("finished") else None,
            driver=h.get("lease_holder") or None,
            lease_deadline=float(h["lease_deadline"]) if h.get("lease_deadline") else None,
            meta=json.loads(h.get("meta") or "{}"),
            pinned=h.get("pinned") or None,
        )


@dataclass(frozen=True)
class Pinned:
    """What a run is pinned to, as the board stores it once per run: a snapshot's text and its
    hash (`crew.spec.snapshot.Snapshot` makes and reads them; the board does not look inside)."""

    hash: str
    text: str


def run_event_name(status: RunStatus) -> str:
    """The audit event for a run entering `status` (running again means resumed)."""
    return "run_resumed" if status is RunStatus.RUNNING else f"run_{status}"
