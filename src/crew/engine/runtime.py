"""Drive runs: start, resume and cancel them, keeping the board in step with the run's state.

A run is a LangGraph thread (the run id is the thread id) whose state lives in Redis next to the
board (`RedisCheckpointSaver`, namespace `crew:{<board>}:lg`), so any process reaching the same
Redis can resume it. What a caller may rely on:

- **One driver at a time.** A process drives a run only while it holds the board's run lease; a
  thread renews it (and the leases of the cards being worked on) every third of its length.
  When the lease is lost, the driver stops before its next step (`LeaseLost`). A crashed driver's
  lease expires after `lease_seconds` (env `CREW_RUN_LEASE`, default 30s); then any process may
  `resume` the run from its last checkpoint.
- **Every step execution is a card.** An agent step (or fan-out item) is a card created queued,
  claimed, then completed with its output and confidence, or failed with the reason. A checkpoint
  is a card waiting on its owner (and the owner's delegates). Cards are looked up by (step,
  revision, item) before they are created, so a node LangGraph runs again after a crash never
  makes a second card, and a step whose card is already done is not executed again.
- **Nothing finished is lost.** The board is the record of finished work: a step's card holds
  its output the moment it is done. LangGraph's state is saved at every human gate and at the
  end (`durability="exit"`; a checkpoint write per step cost more than the rest of the step).
  A resume after a crash goes on from the last saved state (or from the top, with the run's
  recorded inputs), and every step whose card is done returns that card's output instead of
  running: finished steps never call the model again, unfinished ones run again.
- **Waiting.** At a checkpoint the run is `waiting`; `RunReport.waiting_on` says on whom. An
  answer recorded on the card (from any process) is acted on by the next `resume` (which
  `crew answer` calls), through `Command(resume={interrupt id: decision})`. An escalated agent
  step waits the same way.
- **Pinned to what it started with.** A run records the playbook, the roles it uses and their
  model profiles when it is created (`crew.spec.snapshot`, stored once beside the run record);
  every resume, in any process, drives it with that version, not the files as they are now.
  `resume_run(..., upgrade=True)` moves it to the current files, only when every step it has
  finished (or waits on) is still in the current playbook, as the same kind of step; the audit
  trail gets an `upgraded` event (old and new hash, the files that changed, who).
- **Escalation** and the cards of agent steps and checkpoints: `crew.engine.steps` (the step
  executor the graph calls).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis

from crew.board.board import Board
from crew.board.cards import Card
from crew.board.runs import Pinned, Run
from crew.engine.lease import Heartbeat
from crew.engine.observer import Observer
from crew.exceptions import (
    BoardError,
    ConfigError,
    CrewError,
    LeaseLost,
    NotAllowed,
    RedisUnavailable,
    RunError,
    RunExists,
    WrongStatus,
)
from crew.people.notify import EXIT_GRACE, Deliverer, webhook_of
from crew.spec.models import PlaybookSpec
from crew.spec.project import Project
from crew.spec.snapshot import Snapshot
from crew.types import CardKind, CardStatus, Resume, ResumeValue, RunStatus

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from crew.agents.responders import OpenAIResponder, Responder
    from crew.persistence import RedisCheckpointSaver

__all__ = [
    "LEASE_ENV",
    "Observer",
    "RunBusy",
    "RunReport",
    "Session",
    "Waiting",
    "cancel_run",
    "continue_run",
    "lease_seconds",
    "read_outputs",
    "resume_run",
    "start_run",
    "started_with",
    "submit_run",
]

LEASE_ENV = "CREW_RUN_LEASE"
DEFAULT_LEASE_SECONDS = 30.0
REPLAY, RECORD, LIVE = "replay", "record", "live"


def lease_seconds() -> float:
    """How long a driver's run lease lasts without renewal (env CREW_RUN_LEASE, seconds)."""
    raw = os.environ.get(LEASE_ENV)
    if not raw:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(
            f"{LEASE_ENV}={raw!r} is not a number of seconds", hint="Unset it or use e.g. 30."
        ) from None
    if value <= 0:
        raise ConfigError(f"{LEASE_ENV}={raw!r} must be positive", hint="Use e.g. 30.")
    return value


# --- what a run reports ----------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """A card a run waits on (DESIGN §3's `waiting_on` entries)."""

    card: str
    step: str
    kind: CardKind
    assignee: str
    reason: str
    allowed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "card": self.card,
            "step": self.step,
            "kind": str(self.kind),
            "assignee": self.assignee,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RunReport:
    """Where a run stands after driving it (or reading it)."""

    run: str
    playbook: str
    status: RunStatus
    waiting_on: list[Waiting] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    step: str | None = None
    """The step that failed or was rejected, when the run ended that way."""

    @property
    def exit_code(self) -> int:
        """DESIGN §3: 0 finished (or queued for a worker), 1 failed/rejected/cancelled, 3 waiting
        on a human."""
        if self.status in (RunStatus.DONE, RunStatus.QUEUED):
            return 0
        if self.status in (RunStatus.WAITING, RunStatus.RUNNING):
            return 3
        return 1

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run": self.run,
            "playbook": self.playbook,
            "status": str(self.status),
            "waiting_on": [w.to_json() for w in self.waiting_on],
            "outputs": self.outputs,
        }
        if self.reason:
            data["reason"] = self.reason
        return data


Ask = Callable[[Card, dict[str, Any]], bool]
"""The interactive hook: shown a waiting card the current person may answer (and its
interrupt payload), record an answer on the board and return True, or return False."""


# --- a session: one project's board, run state and identity -----------------------------------


@dataclass
class Session:
    """What driving runs of one project needs: its board, its run-state saver, who acts."""

    project: Project
    board: Board
    saver: RedisCheckpointSaver
    person: str | None = None
    observer: Observer = field(default_factory=Observer)
    ask: Ask | None = None
    lease_seconds: float = field(default_factory=lease_seconds)
    holder: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"
    )
    webhooks: Deliverer | None = None
    """Makes the attempts of the board's webhook deliveries in the background
    (`crew.people.notify`);
    default: one of this session's own. A copy of the session (`dataclasses.replace`) shares
    it, so closing the session bounds every attempt its runs started."""
    draining: threading.Event | None = None
    """Set (by a worker told to stop): each run this session drives finishes the step it is in,
    then hands its lease back, queued again for another worker."""
    models: OpenAIResponder | None = None
    """The live model clients of every run this session drives (made on the first live run;
    a copy of the session shares them): one `ChatOpenAI`, one HTTP connection pool, per model
    profile for the whole process, not one per run."""

    def __post_init__(self) -> None:
        if self.webhooks is None:
            self.webhooks = Deliverer(self.board, holder=self.holder)
        if self.models is None:
            from crew.agents.responders import OpenAIResponder

            self.models = OpenAIResponder()

    @property
    def deliverer(self) -> Deliverer:
        assert self.webhooks is not None  # made in __post_init__
        return self.webhooks

    @classmethod
    def open(cls, project: Project, *, person: str | None = None, **options: Any) -> Session:
        """Connect to the project's Redis (the embedded one when none is configured)."""
        from crew.persistence import RedisCheckpointSaver

        url = project.redis_url()
        board = Board.from_url(
            url, project.board_name, allow_eviction=project.crew.settings.allow_eviction
        )
        saver = RedisCheckpointSaver.from_url(url, namespace=board.keys.run_state_namespace())
        return cls(project=project, board=board, saver=saver, person=person, **options)

    def close(self) -> None:
        # A webhook attempt in flight gets a moment; one cut short is made again by the next
        # process (its lease runs out), so a dead webhook never holds the process.
        self.deliverer.close(EXIT_GRACE)
        self.saver.close()

    def webhook(self, person: str) -> str | None:
        """`person`'s webhook URL (crew.yaml): what a transition assigning them a card needs
        to queue its delivery in the same step."""
        return webhook_of(self.project, person)

    def notify(self, card: Card) -> None:
        """The transition that put `card` in front of its assignee queued the delivery to
        their webhook (if they have one): start attempting it now, in the background. Never
        raises or blocks; the outcome is recorded on the card."""
        if self.webhook(card.assignee):
            self.deliverer.kick()

    @property
    def actor(self) -> str:
        return self.person or "crew"


# --- public entry points -------------------------------------------------------------------------


def start_run(
    session: Session,
    playbook: PlaybookSpec,
    inputs: dict[str, Any],
    *,
    mode: str = LIVE,
    run_id: str | None = None,
    responder: Responder | None = None,
) -> RunReport:
    """Start a new run of `playbook` (inputs already checked) and drive it until it finishes or
    waits. `mode` is live, replay (answers from the cassette) or record (live, written to it);
    `responder` overrides it (tests, embedding). Only people of the project may start runs
    (`crew.people.access`); the inputs are bounded by `settings.limits.inputs` (as JSON)."""
    from crew.engine.graph import initial_state

    _check_start(session, inputs)
    snapshot = Snapshot.of(session.project, playbook)
    session = dataclasses.replace(session, project=snapshot.project(session.project))
    responder = responder or _responder(session, playbook, mode)
    run_id = _new_run(
        session.board,
        playbook.name,
        inputs,
        session.actor,
        {"mode": mode},
        Pinned(snapshot.hash, snapshot.text),
        run_id=run_id,
        takeover=session.lease_seconds,
    ).id

    first = initial_state(inputs, {"mode": mode, "playbook": playbook.name})
    return _Driver(session, playbook, run_id, responder).drive(first)


def submit_run(
    session: Session,
    playbook: PlaybookSpec,
    inputs: dict[str, Any],
    *,
    mode: str = LIVE,
    key: str | None = None,
    priority: int = 0,
) -> RunReport:
    """Queue a new run of `playbook` (inputs already checked) for a worker (`crew.worker`) and
    return at once: its report says `queued`. Workers take queued runs by `priority` (higher
    first; -1000 to 1000), then first in first out. With `key`, a run submitted with the same key
    and still kept on the board (`settings.retention`) is returned instead of a new one, so a
    retried trigger never starts the same work twice. Checked here, like `start_run`: who may
    start runs, the inputs' size, and for replay that the cassette exists (live model keys are
    the worker's business). A recording (`record`) is refused: the cassette would be written on
    whichever machine drives the run."""
    from crew.board.board import check_priority, check_run_key

    check_priority(priority)
    if key is not None:
        check_run_key(key)
    if mode == RECORD:
        raise ConfigError(
            "a submitted run cannot record a cassette: a worker on any machine drives it",
            hint="Record in this process (`crew run --record` without --detach).",
        )
    _check_start(session, inputs)
    if mode == REPLAY:
        path = session.project.cassette_path(playbook.name)
        if not path.is_file():
            raise ConfigError(
                f"no cassette for playbook '{playbook.name}' ({path})",
                hint="Record one with `crew run --record`, or submit it live without --replay.",
            )
    snapshot = Snapshot.of(session.project, playbook)
    run = _new_run(
        session.board,
        playbook.name,
        inputs,
        session.actor,
        {"mode": mode, "detached": True},
        Pinned(snapshot.hash, snapshot.text),
        queued=True,
        priority=priority,
        key=key,
    )
    return report_of(session, run)


def _check_start(session: Session, inputs: dict[str, Any]) -> None:
    """Only people of the project may start runs (`crew.people.access`); the inputs are bounded
    by `settings.limits.inputs` (as JSON)."""
    from crew.people.access import check_may_start
    from crew.spec.limits import check_size, json_size

    check_may_start(session.project, session.person)
    limit = session.project.crew.settings.limits.inputs
    check_size("the run's inputs (as JSON)", json_size(inputs), limit, "inputs")


def resume_run(
    session: Session,
    run_id: str,
    *,
    responder: Responder | None = None,
    wait: float = 0.0,
    upgrade: bool = False,
    lease: str | None = None,
    record: Run | None = None,
) -> RunReport:
    """Continue a run: act on answers recorded on its checkpoint cards, or carry on from the last
    checkpoint after a crash. A run that still waits with no answer just reports waiting. The
    model calls go the way the run started (live, replay, record) unless `responder` is given.
    With `wait` (seconds), a lease still held by another driver is waited for: a crashed driver's
    lease runs out and this process takes over; a live driver keeps renewing it (RunBusy).

    The run goes on with the playbook version it started with (`started_with`), whatever the
    files say now. `lease` is the token of the run lease this process already holds (a worker's
    `Board.take_run`): it drives under that one, and `record` may be the run's record as the
    caller read it under that lease (not read again). With `upgrade`, it moves to the current files
    first, under its lease, if every
    step it finished or waits on is still in the current playbook as the same kind of step
    (else ConfigError naming them, and nothing changes); `session.observer.run_upgraded` and the
    run's `upgraded` audit event say so."""
    run = record if record is not None and lease is not None else session.board.get_run(run_id)
    if run.status.finished:
        if upgrade:
            raise WrongStatus(
                f"run {run_id} is already {run.status}; only a run that goes on can be upgraded"
            )
        return report_of(session, run)
    started = started_with(session.board, run_id)
    move: _Upgrade | None = None
    if upgrade:
        _check_may_upgrade(session, run, started)
        move = _Upgrade(started, _current(session.project, run))
        target: Snapshot | None = move.new
    else:
        target = started
    if target is not None:
        session = dataclasses.replace(session, project=target.project(session.project))
    playbook = session.project.playbook(run.playbook)
    responder = responder or _responder(session, playbook, _mode(session, run), resume=True)
    driver = _Driver(session, playbook, run_id, responder, upgrade=move, record=run)
    return driver.drive(None, wait=wait, token=lease)


def started_with(board: Board, run_id: str) -> Snapshot | None:
    """The playbook version `run_id` follows (None for a run started before runs were pinned)."""
    pinned = board.pinned_of(run_id)
    return None if pinned is None else Snapshot.from_text(pinned.text, run=run_id)


def cancel_run(session: Session, run_id: str, reason: str | None = None) -> RunReport:
    """Cancel a run and its open cards. A driver holding it stops before its next step.
    The session's person must be allowed to (`crew.people.access`); NotAllowed names who may. The
    reason is bounded like a comment (`settings.limits.comment`)."""
    from crew.people.access import check_may_cancel
    from crew.spec.limits import check_size, text_size

    if reason is not None:
        limit = session.project.crew.settings.limits.comment
        check_size("the reason (-m)", text_size(reason), limit, "comment")
    run = session.board.get_run(run_id)
    # The owners of the version the run follows, not of today's files (a step may be gone).
    started = started_with(session.board, run_id)
    project = started.project(session.project) if started else session.project
    check_may_cancel(project, run, project.playbooks.get(run.playbook), session.person)
    if run.status.finished:
        raise WrongStatus(
            f"run {run_id} is already {run.status}; only a running or waiting run can be cancelled"
        )
    why = reason or f"cancelled by {session.actor}"
    session.board.cancel_run(run_id, actor=session.actor, reason=why)
    return RunReport(
        run=run_id,
        playbook=run.playbook,
        status=RunStatus.CANCELLED,
        outputs=read_outputs(session, run_id),
        reason=why,
    )


def read_outputs(session: Session, run_id: str) -> dict[str, Any]:
    """The outputs of a run's steps so far, from its saved state (empty before the first step)."""
    return dict(_values(session, run_id).get("outputs") or {})


def report_of(session: Session, run: Run) -> RunReport:
    """A run's report as the board and its saved state tell it, without driving it."""
    values = _values(session, run.id)
    outcome = values.get("outcome") or {}
    waiting = [
        _waiting_of(session.board.get(w["card"]))
        for w in run.waiting_on
        if isinstance(w, dict) and w.get("card")
    ]
    return RunReport(
        run=run.id,
        playbook=run.playbook,
        status=run.status,
        waiting_on=waiting if run.status is RunStatus.WAITING else [],
        outputs=dict(values.get("outputs") or {}),
        reason=run.reason or outcome.get("reason"),
        step=outcome.get("step"),
    )


# --- internals -------------------------------------------------------------------------------


def _new_run(
    board: Board,
    playbook: str,
    inputs: dict[str, Any],
    actor: str,
    meta: dict[str, Any],
    pinned: Pinned | None = None,
    *,
    run_id: str | None = None,
    **options: Any,
) -> Run:
    """A new run recorded on the board under `run_id`, or a short, typeable id (retried on the
    rare collision); with a `key` option, the run already submitted with it, if any
    (`Board.create_run`)."""
    for _ in range(20):
        try:
            run = board.create_run(
                run_id or "r" + secrets.token_hex(3),
                playbook=playbook,
                inputs=inputs,
                started_by=actor,
                meta=meta,
                pinned=pinned,
                **options,
            )
        except RunExists:
            if run_id is not None:
                raise
            continue
        return run
    raise RunError("could not find a free run id after 20 tries")


def _config(run_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": run_id, "checkpoint_ns": ""}}


def _values(session: Session, run_id: str) -> dict[str, Any]:
    saved = session.saver.get_tuple(_config(run_id))
    if saved is None:
        return {}
    return dict(saved.checkpoint.get("channel_values") or {})


def _mode(session: Session, run: Run) -> str:
    """How the run's model calls go (live, replay, record): its record says; a run recorded
    before records kept it, its saved state."""
    mode = run.meta.get("mode") or (_values(session, run.id).get("meta") or {}).get("mode")
    return str(mode or LIVE)


def _responder(session: Session, playbook: PlaybookSpec, mode: str, *, resume: bool = False) -> Any:
    from crew.agents.cassettes import CassetteRecorder, CassetteReplay
    from crew.agents.responders import require_api_keys

    project = session.project
    path = project.cassette_path(playbook.name)
    if mode == REPLAY:
        if not path.is_file():
            raise ConfigError(
                f"no cassette for playbook '{playbook.name}' ({path})",
                hint="Record one with `crew run --record`, or run live without --replay.",
            )
        return CassetteReplay(path)
    roles = [project.role(s.role) for s in playbook.steps if s.role]
    profiles = {role.model: project.profile_for(role) for role in roles}
    require_api_keys(profiles)
    live = session.models
    assert live is not None  # made in __post_init__
    if mode == RECORD:
        return CassetteRecorder(live, path, resume=resume)
    return live


class RunBusy(BoardError):
    """Another process holds the run's lease (it drives the run right now)."""


@dataclass(frozen=True)
class _Upgrade:
    """A move of a run from the version it follows (`old`; None: unpinned) to `new`."""

    old: Snapshot | None
    new: Snapshot


def _check_may_upgrade(session: Session, run: Run, started: Snapshot | None) -> None:
    """Changing what a run does is for those who may stop it (`crew.people.access.may_cancel`)."""
    from crew.people.access import may_cancel

    if session.person is None:
        return  # crew itself (a Python caller inside the trust boundary)
    project = started.project(session.project) if started else session.project
    allowed = may_cancel(project, run, project.playbooks.get(run.playbook))
    if session.person not in allowed:
        raise NotAllowed(
            f"{session.person} may not upgrade run {run.id}; who may: "
            f"{', '.join(allowed) or 'nobody'}",
            hint="The run's starter, the owners of its playbook's steps, or settings.admins "
            "in crew.yaml.",
        )


def _current(project: Project, run: Run) -> Snapshot:
    """The current files' version of the run's playbook (ConfigError when it is gone)."""
    playbook = project.playbooks.get(run.playbook)
    if playbook is None:
        raise ConfigError(
            f"run {run.id} cannot move to the current files: playbooks/{run.playbook}.yaml is gone",
            hint=f"`crew resume {run.id}` goes on with the version it started with.",
        )
    return Snapshot.of(project, playbook)


def _waiting_of(card: Card) -> Waiting:
    return Waiting(
        card=card.id,
        step=card.step,
        kind=card.kind,
        assignee=card.assignee,
        reason=card.reason or "",
        allowed=card.may_answer,
    )


def _resume_of(card: Card) -> ResumeValue | None:
    """What resumes the gate waiting on `card`, from the answer recorded on it (None: none yet)."""
    answer = card.decision
    if answer is None:
        return None
    return Resume(
        answer.decision,
        comment=answer.comment or "",
        by=answer.by,
        card=card.id,
        output=answer.edited_output,
    ).to_value()


class _Driver:
    """Drives one run under its lease until it finishes or waits with nothing to act on."""

    def __init__(
        self,
        session: Session,
        playbook: PlaybookSpec,
        run_id: str,
        responder: Responder,
        *,
        upgrade: _Upgrade | None = None,
        record: Run | None = None,
    ) -> None:
        self.session, self.board = session, session.board
        self.playbook, self.run_id, self.responder = playbook, run_id, responder
        self.upgrade = upgrade
        # The run's record as the caller read it, for what never changes (inputs, meta).
        self.record = record

    def _acquire(self, wait: float) -> str | None:
        give_up = time.monotonic() + wait
        while True:
            token = self.board.acquire_run(
                self.run_id, self.session.holder, self.session.lease_seconds
            )
            if token is not None:
                return token
            run = self.board.get_run(self.run_id)
            left = max(0.0, (run.lease_deadline or 0.0) - self.board.now())
            if time.monotonic() + left > give_up:
                return None
            # Sleeping until the other driver's lease deadline is the point: only its expiry
            # (or its release) lets this process take over.
            time.sleep(left + 0.01)

    def drive(self, first: Any, *, wait: float = 0.0, token: str | None = None) -> RunReport:
        handed_in = token is not None
        if token is None:
            token = self._acquire(wait)
        if token is None:
            run = self.board.get_run(self.run_id)
            left = max(0.0, (run.lease_deadline or 0.0) - self.board.now())
            raise RunBusy(
                f"run {self.run_id} is being driven by {run.driver or 'another process'} "
                f"(its lease runs {left:.0f}s more)",
                hint=f"If that process is gone, `crew resume {self.run_id} --wait "
                f"{self.session.lease_seconds:.0f}` takes over when its lease runs out.",
            )
        heartbeat = Heartbeat(
            self.board,
            self.run_id,
            token,
            self.session.lease_seconds,
            draining=self.session.draining,
        )
        heartbeat.start()
        try:
            if self.upgrade is not None:
                self._upgrade(self.upgrade, token)
            # With a lease handed in, the record was read under it: its status is still true.
            return self._drive(first, heartbeat, read=self.record if handed_in else None)
        except redis.RedisError as error:
            raise RedisUnavailable(
                f"lost Redis while driving run {self.run_id}: {error}",
                hint=f"Its finished steps are saved; `crew resume {self.run_id}` continues it "
                "once Redis is back.",
            ) from None
        finally:
            heartbeat.stop()
            with contextlib.suppress(Exception):
                self.board.release_run(self.run_id, token)
            close = getattr(self.responder, "close", None)
            if callable(close):
                close()

    def _drive(self, first: Any, heartbeat: Heartbeat, *, read: Run | None = None) -> RunReport:
        """Drive until the run finishes or waits with nothing to act on; `read`: the run's
        record as just read under this lease (the first look at its status)."""
        from langgraph.types import Command

        from crew.engine.graph import compile_playbook
        from crew.engine.steps import Steps

        steps = Steps(self.session, self.playbook, self.run_id, self.responder, heartbeat)
        graph = compile_playbook(self.playbook, steps, self.session.saver)
        config = _config(self.run_id)
        payload: Any = first
        mid_step = False
        if payload is None:
            state = graph.get_state(config)
            payload = self._pending_answers(state)
            # Steps were left unfinished (a crashed driver), none of them waiting on a person.
            mid_step = payload is None and bool(state.next) and not state.interrupts
        while True:
            run = read or self.board.get_run(self.run_id)
            read = None
            if run.status.finished:
                return report_of(self.session, run)
            if run.status is not RunStatus.RUNNING and payload is not None:
                self.board.set_run_status(self.run_id, RunStatus.RUNNING, actor=self.session.actor)
            try:
                if payload is not None or mid_step:
                    graph.invoke(payload, config, durability="exit")
                heartbeat.check()
            except CrewError as error:
                run = self.board.get_run(self.run_id)
                if run.status is RunStatus.CANCELLED:
                    # Cancelled from elsewhere while a step ran: its card refused the result.
                    return report_of(self.session, run)
                if not isinstance(error, LeaseLost):  # else another driver carries the run on
                    self._end(RunStatus.FAILED, str(error))
                raise
            state = graph.get_state(config)
            report = self._settle(state)
            if report.status != RunStatus.WAITING:
                return report
            answers = self._answers(state)
            if not answers and self.session.ask is not None:
                answers = self._ask(state)
            if not answers:
                return report
            payload = Command(resume=answers)

    def _upgrade(self, move: _Upgrade, token: str) -> None:
        """Pin the run to `move.new`, checked under the lease (no step finishes meanwhile)."""
        old, new = move.old, move.new
        if old is not None and old.hash == new.hash:
            return  # it already follows the current files
        from crew.spec.inputs import check_inputs

        run = self.board.get_run(self.run_id)
        lost = _lost_steps(new.playbook, self.board.cards_of_run(self.run_id))
        where = f"playbooks/{run.playbook}.yaml"
        if lost:
            raise ConfigError(
                f"run {self.run_id} cannot move to the current {where}: "
                + "; ".join(lost)
                + " (nothing changed)",
                hint=f"Put them back, or let the run go on with the version it started with: "
                f"`crew resume {self.run_id}`.",
            )
        try:
            check_inputs(new.playbook, run.inputs)
        except ConfigError as error:
            raise ConfigError(
                f"run {self.run_id} cannot move to the current {where}: its inputs do not fit "
                f"it: {error.message} (nothing changed)",
                hint=f"`crew resume {self.run_id}` goes on with the version it started with.",
            ) from None
        changes = old.changes(self.session.project) if old is not None else []
        self.board.upgrade_run(
            self.run_id,
            token,
            expected=old.hash if old is not None else None,
            pinned=Pinned(new.hash, new.text),
            actor=self.session.actor,
            detail={
                "from": old.hash if old is not None else None,
                "to": new.hash,
                "files": [change.to_json() for change in changes],
            },
        )
        self.session.observer.run_upgraded(
            self.run_id, old.hash if old is not None else None, new.hash, changes
        )

    def _pending_answers(self, state: Any) -> Any:
        """What resuming from the saved `state` starts with: the run's first input when nothing
        was saved, the answers recorded on its gates, or None (nothing to act on)."""
        from langgraph.types import Command

        if not state.values:
            # The driver stopped before LangGraph saved anything (state is saved at human gates
            # and at the end): run from the top. Every step whose card is done returns the
            # card's output without a model call, so only unfinished work runs again.
            from crew.engine.graph import initial_state

            run = self.record or self.board.get_run(self.run_id)
            meta = {"playbook": self.playbook.name, **run.meta}
            return initial_state(run.inputs, meta)
        answers = self._answers(state)
        return Command(resume=answers) if answers else None

    def _answers(self, state: Any) -> dict[str, ResumeValue]:
        """Interrupt id → what resumes it, for every pending gate whose card has an answer."""
        answers: dict[str, ResumeValue] = {}
        for pending in state.interrupts:
            card_id = (pending.value or {}).get("card")
            if not card_id:
                continue
            card = self.board.get(card_id)
            resume = _resume_of(card)
            if resume is not None and self._trusted(card):
                answers[pending.id] = resume
        return answers

    def _trusted(self, card: Card) -> bool:
        """With settings.require_signed, act on `card`'s decision only when its signature
        verifies against crew.yaml for the person recorded (or an authority); otherwise refuse it
        (the card waits on the same people again; the audit trail says why)."""
        crew = self.session.project.crew
        if card.decision is None or not crew.settings.require_signed:
            return True
        from crew.people.signing import verify_answer

        verdict = verify_answer(crew, self.board.name, card)
        if verdict.verified:
            return True
        answer = card.decision
        with contextlib.suppress(BoardError):  # changed meanwhile: the next look decides
            waiting = self.board.refuse_decision(
                card.id,
                version=card.version,
                actor=self.session.actor,
                detail={
                    "why": verdict.why,
                    "by": answer.by,
                    "decision": str(answer.decision),
                    "comment": answer.comment,
                    "signed": answer.signature is not None,
                    "key": verdict.key,
                },
                webhook=self.session.webhook(card.assignee),
            )
            self.session.notify(waiting)
        return False

    def _ask(self, state: Any) -> dict[str, ResumeValue]:
        ask = self.session.ask
        person = self.session.person
        if ask is None or person is None:
            return {}
        for pending in state.interrupts:
            card_id = (pending.value or {}).get("card")
            if not card_id:
                continue
            card = self.board.get(card_id)
            if card.status.waits_on_person and person in card.may_answer:
                with contextlib.suppress(BoardError):  # e.g. someone else answered first
                    ask(card, dict(pending.value))
                return self._answers(state)
        return {}

    def _settle(self, state: Any) -> RunReport:
        """Bring the run record in line with the graph's state after `invoke` returned."""
        values = state.values
        outputs = dict(values.get("outputs") or {})
        outcome = values.get("outcome") or {}
        if outcome:
            status = RunStatus(outcome.get("status") or RunStatus.FAILED)
            reason = str(outcome.get("reason") or status)
            self._end(status, reason)
            return RunReport(
                self.run_id,
                self.playbook.name,
                status,
                [],
                outputs,
                reason,
                outcome.get("step"),
            )
        if state.interrupts:
            waiting = []
            for pending in state.interrupts:
                card_id = (pending.value or {}).get("card")
                if card_id:
                    waiting.append(_waiting_of(self.board.get(card_id)))
            waiting.sort(key=lambda w: w.card)
            run = self.board.get_run(self.run_id)
            if run.status is not RunStatus.WAITING or run.waiting_on != [
                w.to_json() for w in waiting
            ]:
                self.board.set_run_status(
                    self.run_id,
                    RunStatus.WAITING,
                    waiting_on=[w.to_json() for w in waiting],
                    actor=self.session.actor,
                )
            return RunReport(self.run_id, self.playbook.name, RunStatus.WAITING, waiting, outputs)
        if state.next:
            raise RunError(f"run {self.run_id} stopped before its end (next: {state.next})")
        self._end(RunStatus.DONE, None)
        return RunReport(self.run_id, self.playbook.name, RunStatus.DONE, [], outputs)

    def _end(self, status: RunStatus, reason: str | None) -> None:
        with contextlib.suppress(WrongStatus):
            self.board.set_run_status(self.run_id, status, actor=self.session.actor, reason=reason)
        if status is not RunStatus.DONE:
            # Nothing of a run that ended stays open on anyone's board.
            for card in self.board.cards_of_run(self.run_id):
                if not card.status.finished:
                    with contextlib.suppress(BoardError):
                        self.board.cancel(card.id, actor=self.session.actor, reason=f"run {status}")


def _lost_steps(playbook: PlaybookSpec, cards: list[Card]) -> list[str]:
    """Why `playbook` cannot carry on a run whose cards are `cards`: the steps the run finished
    or waits on that it lacks, or has as another kind of step (checkpoint / agent step)."""
    kept = {CardStatus.DONE, CardStatus.WAITING, CardStatus.ESCALATED}
    steps = {step.id: step for step in playbook.steps}
    missing: dict[str, None] = {}
    other_kind: dict[str, None] = {}
    for card in cards:
        if card.status not in kept:
            continue
        step = steps.get(card.step)
        if step is None:
            missing[card.step] = None
        elif step.is_checkpoint != (card.kind is CardKind.CHECKPOINT):
            other_kind[card.step] = None
    lost = []
    if missing:
        lost.append(f"steps the run has done or waits on are not in it: {', '.join(missing)}")
    if other_kind:
        lost.append(f"steps are now of another kind (checkpoint/agent): {', '.join(other_kind)}")
    return lost


def continue_run(
    session: Session, card: Card, *, responder: Responder | None = None
) -> RunReport | None:
    """After an answer was recorded on `card`: resume its run in this process (under the run's
    lease, as `session.person`) until it finishes or waits again, and return its report. None
    when there is nothing to resume (the run is gone or already over). The model calls go the
    way the run started (live, replay, record) unless `responder` is given (tests, embedding).

    A run submitted to workers (`submit_run`) is not driven here: it is queued for a worker,
    and the report says so (unless `responder` is given).

    `RunBusy` when another process drives the run right now (that process acts on the answer);
    `ConfigError` when the run cannot go on here (e.g. no model API key). Either way the answer
    stays recorded, and a later `resume_run` (or a `crew worker`) acts on it."""
    from crew.people.answering import resumable_run

    run = resumable_run(session.board, card)
    if run is None:
        return None
    if run.meta.get("detached") and responder is None:
        # Submitted to workers: one of them acts on the answer (DESIGN §3 `crew answer`).
        with contextlib.suppress(WrongStatus):  # it finished meanwhile
            run = session.board.enqueue_run(
                run.id, actor=session.actor, reason=f"answer on card {card.id} left for a worker"
            )
        return report_of(session, run)
    return resume_run(session, card.run, responder=responder)
