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

__all__ = ["Pinned", "Run", "RunStatus", "WorkerState", "run_event_name"]


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
    priority: int = 0
    """Its place among queued runs: higher goes first (`crew run --detach --priority N`)."""
    key: str | None = None
    """The idempotency key it was submitted with (`--key`)."""

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
            priority=int(h.get("priority") or 0),
            key=h.get("key") or None,
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


@dataclass(frozen=True)
class WorkerState:
    """A live worker as its last heartbeat told the board (`Board.workers`, `crew workers`)."""

    id: str
    host: str
    pid: int
    concurrency: int
    runs: list[str]
    """The runs it drives right now."""
    started: float
    heartbeat: float
    """When it last said it was alive (board time)."""
    draining: bool = False

    @classmethod
    def from_hash(cls, worker: str, h: dict[str, str]) -> WorkerState:
        return cls(
            id=worker,
            host=h.get("host", ""),
            pid=int(h.get("pid") or 0),
            concurrency=int(h.get("concurrency") or 0),
            runs=json.loads(h.get("runs") or "[]"),
            started=float(h.get("started") or 0.0),
            heartbeat=float(h.get("heartbeat") or 0.0),
            draining=h.get("draining") == "1",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "worker": self.id,
            "host": self.host,
            "pid": self.pid,
            "concurrency": self.concurrency,
            "runs": list(self.runs),
            "started": self.started,
            "heartbeat": self.heartbeat,
            "draining": self.draining,
        }
