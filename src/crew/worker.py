"""The worker: the long-running process that drives a board's runs with nobody at a terminal.

`Worker(session, concurrency=N).run(interval=...)` drives up to N runs at once, each on a thread
of its own (runs spend their time waiting on models and people: N in the tens is normal on one
core; threads, not asyncio, because a run is a LangGraph graph run synchronously, and a thread
waiting on an HTTP reply costs no CPU: `bench/throughput.py` measures it). Between rounds it takes
queued runs (`crew run --detach`, answers left for a worker, leases handed back) as soon as it has
a free slot: `Board.take_run` hands out the first in line (priority, then first in first out)
with its run lease, atomically, so workers on many machines never drive one run twice.

Each round (every `interval` seconds) it also (a) says it is alive (`crew workers`: its host, pid
and the runs in hand), (b) enforces SLAs (`crew.people.sla`: overdue cards move along their
chain) and attempts the board's due webhook deliveries in the background
(`crew.people.notify.Deliverer`), (c) reaps expired card leases, (d) applies retention, (e)
takes over runs whose driver's lease ran out (a crashed `crew run` or worker: the takeover
index), and (f) resumes waiting runs with an answer recorded that nobody acted on (the answering
process crashed), reading a bounded window of the waiting runs' index per round, in turn. Every
read is a bounded range of an index: nothing scans the board's runs.

What it did is said one line at a time through `say` (the CLI prints them with a time). `stop()`
drains: no new runs; each run in flight finishes the step it is in and hands its lease back
(queued again, so another worker continues it at once); `run` returns once they did.
`run(once=True)` does one round (taking queued runs too) and waits for the runs it started to
finish or wait, and for the attempts of the deliveries that are due.
Imports nothing heavy at module level.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from crew.types import DeliveryReport, RunStatus

if TYPE_CHECKING:
    from crew.board import Run
    from crew.board.outbox import OutboxEntry
    from crew.engine.runtime import Session
    from crew.people.notify import Deliverer, Sent

__all__ = ["POLL_SECONDS", "RUNS_SCANNED", "Worker"]

logger = logging.getLogger("crew")

# How many runs of each index a round reads at most (expired leases, a window of waiting runs).
RUNS_SCANNED = 200
# How often a worker with a free slot looks for queued runs between rounds.
POLL_SECONDS = 0.1


class Worker:
    """One worker process's duties over one session (its board, run state and lease holder)."""

    def __init__(
        self,
        session: Session,
        *,
        concurrency: int = 1,
        say: Callable[[str], None] | None = None,
        deliverer: Deliverer | None = None,
        runs_scanned: int = RUNS_SCANNED,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.session = session
        self.board = session.board
        self.say = say or (lambda line: None)
        # One deliverer for the rounds and the runs this worker drives.
        self.deliverer = deliverer or session.deliverer
        self.deliverer.on_report = self._delivered
        self.runs_scanned = runs_scanned
        self.poll = poll
        self.concurrency = max(1, concurrency)
        self.stopping = threading.Event()
        # The runs this worker drives stop between steps once it is set (`stop`).
        self.draining = threading.Event()
        session.draining = self.draining
        self.id = session.holder  # host:pid:random, one per process (`Session`)
        self.started = time.time()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="crew-run")
        self._lock = threading.Lock()
        self._in_flight: dict[str, Future[None]] = {}
        self._slot_freed = threading.Event()
        self._gave_up: dict[str, int] = {}  # run id -> run version a resume failed at
        self._waiting_offset = 0  # where the next round's window of waiting runs starts
        self._last_beat = 0.0

    # -- what a round does -------------------------------------------------------------------

    def round(self) -> None:
        """One round of every duty (runs are started, not waited for)."""
        self.beat()
        self._enforce_slas()
        for card_id in self.board.reap():
            self.say(f"card {card_id}: its worker's lease expired; requeued or failed")
        self._enforce_retention()
        # Resumes are not held back by the slots (they wait in the pool's line if need be):
        # a run someone answered or whose driver died goes on before new work starts.
        for run in self.resumable():
            if self.stopping.is_set():
                break
            why = (
                "an answer was recorded"
                if run.status is RunStatus.WAITING
                else "its driver stopped"
            )
            self._start(run, why, None)
        self.take()

    def take(self) -> int:
        """Take queued runs while this worker has free slots; return how many it started."""
        started = 0
        while not self.stopping.is_set() and self._free():
            taken = self.board.take_run(self.id, self.session.lease_seconds)
            if taken is None:
                break
            run_id, token = taken
            try:
                run = self.board.get_run(run_id)
            except Exception:
                continue  # purged meanwhile: its lease goes with it
            self._start(run, "taken from the queue", token)
            started += 1
        return started

    def beat(self, *, force: bool = True) -> None:
        """Tell the board this worker is alive and which runs it drives (`crew workers`)."""
        from crew.board.runs import WorkerState

        now = time.monotonic()
        if not force and now - self._last_beat < 1.0:
            return
        self._last_beat = now
        self.board.beat_worker(
            WorkerState(
                id=self.id,
                host=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self.concurrency,
                runs=self.in_hand(),
                started=self.started,
                heartbeat=0.0,
                draining=self.draining.is_set(),
            ),
            ttl=self._beat_ttl,
        )

    def in_hand(self) -> list[str]:
        """The runs this worker drives right now."""
        with self._lock:
            return sorted(r for r, f in self._in_flight.items() if not f.done())

    def _enforce_retention(self) -> None:
        from crew.engine.retention import enforce_retention

        retained = enforce_retention(self.board, self.session.project.crew.settings.retention)
        for run_id in retained.abandoned:
            self.say(f"run {run_id}: cancelled as abandoned (settings.retention.abandoned)")

    # -- the loop ----------------------------------------------------------------------------

    def run(self, *, interval: float, once: bool = False) -> None:
        """Rounds every `interval` seconds until stopped (one round with `once`); between
        rounds, queued runs are taken as soon as a slot is free."""
        import redis

        from crew.exceptions import RedisUnavailable

        self._beat_ttl = max(15.0, 3 * interval)
        if not once:  # a cron round has no first runs to spare the imports
            self._prepare_models()
        try:
            try:
                older = self.board.index_older_runs()
                if older:
                    self.say(f"indexed {older} run(s) recorded by an older crew")
            except redis.RedisError:
                pass  # the first round says Redis is away
            while not self.stopping.is_set():
                try:
                    self.round()
                except redis.RedisError as error:  # a blip: the next round tries again
                    if once:
                        raise RedisUnavailable(
                            f"worker round failed: {error}", hint="Check that Redis is up."
                        ) from None
                    self.say(f"round failed, trying again in {interval:g}s: Redis: {error}")
                if once:
                    break
                self._between_rounds(interval)
        finally:
            self.drain(deliver=once)

    _beat_ttl = 15.0

    def _prepare_models(self) -> None:
        """Make the live model clients of the project's roles before taking runs (LangChain's
        imports take a second of CPU: otherwise the first runs of every worker wait on them).
        A profile that cannot be made is left to the first call, which reports why."""
        from crew.exceptions import ConfigError

        project = self.session.project
        models = self.session.models
        if models is None:
            return
        profiles = []
        for role in project.roles.values():
            try:
                profiles.append(project.profile_for(role))
            except ConfigError:  # an unknown profile: the run that needs it says so
                continue
        try:
            models.prepare(profiles)
        except Exception as error:  # a warm-up: the first call reports what is wrong
            logger.debug("could not prepare the model clients: %s", error)

    def _between_rounds(self, interval: float) -> None:
        import redis

        next_round = time.monotonic() + interval
        failed = False
        while not self.stopping.is_set():
            left = next_round - time.monotonic()
            if left <= 0:
                return
            if not failed and self._free():
                try:
                    if self.take():
                        self.beat(force=False)
                except redis.RedisError:
                    failed = True  # the next round says so (and tries again)
            self._slot_freed.wait(min(left, self.poll))
            self._slot_freed.clear()

    def stop(self) -> None:
        """Drain: take no new runs; the runs in flight finish their step and hand their lease
        back (queued again for another worker). `run` returns once they did."""
        self.draining.set()
        self.stopping.set()
        self._slot_freed.set()

    def drain(self, *, deliver: bool = False) -> None:
        """Wait for the runs in flight; with `deliver` (`--once`), for the attempts of the
        webhook deliveries that are due (theirs too); then for the attempt in flight, at most
        one POST's timeout: the next process makes any attempt cut short again."""
        self._pool.shutdown(wait=True)
        try:
            self.board.leave_worker(self.id)
        except Exception:  # Redis gone: the entry runs out by itself
            logger.debug("worker %s could not leave the board", self.id, exc_info=True)
        if deliver:
            self.deliverer.kick()
            self.deliverer.flush()
        self.deliverer.close(self.deliverer.timeout + 1)

    # -- which runs ------------------------------------------------------------------------------

    def resumable(self) -> list[Run]:
        """Runs a round should resume: those whose driver's lease ran out, and waiting runs with
        an answer nobody acted on (a window of `runs_scanned` of them, the next window next
        round). Bounded reads of the takeover and status indexes."""
        found: list[Run] = []
        for run in self.board.runs_lease_expired(self.runs_scanned):
            if self._skip(run):
                continue
            found.append(run)
        window = self.board.runs_in(
            RunStatus.WAITING, self.runs_scanned, offset=self._waiting_offset
        )
        self._waiting_offset = (
            0 if len(window) < self.runs_scanned else self._waiting_offset + len(window)
        )
        now = self.board.now()
        candidates = [
            run
            for run in window
            if not self._skip(run)
            and not any(r.id == run.id for r in found)
            # someone drives it right now when its lease runs
            and not (run.lease_deadline is not None and run.lease_deadline > now)
        ]
        answered = self._answered_cards(candidates)
        found += [
            run for run in candidates if any(w.get("card") in answered for w in run.waiting_on)
        ]
        return found

    def _skip(self, run: Run) -> bool:
        with self._lock:
            if run.id in self._in_flight:
                return True
        if run.status.finished:
            return True
        # it failed at this version; a change (an answer, a resume) retries
        return self._gave_up.get(run.id) == run.version

    def _free(self) -> bool:
        with self._lock:
            self._in_flight = {r: f for r, f in self._in_flight.items() if not f.done()}
            return len(self._in_flight) < self.concurrency

    def _start(self, run: Run, why: str, token: str | None) -> None:
        with self._lock:
            future = self._pool.submit(self._resume, run, why, token)
            self._in_flight[run.id] = future
        future.add_done_callback(lambda _: self._slot_freed.set())

    def _answered_cards(self, runs: list[Run]) -> set[str]:
        """The cards these runs wait on that have an answer nobody acted on yet: every card
        read in one round trip (a window holds up to `runs_scanned` runs)."""
        ids = [str(w.get("card", "")) for run in runs for w in run.waiting_on if w.get("card")]
        if not ids:
            return set()
        return {
            card.id
            for card in self.board.get_many(ids)
            if card.decision is not None and not card.status.waits_on_person
        }

    def _resume(self, run: Run, why: str, token: str | None) -> None:
        from crew.engine.lease import Drained
        from crew.engine.runtime import RunBusy, resume_run
        from crew.exceptions import CrewError, LeaseLost, RedisUnavailable

        if token is None:
            self.say(f"run {run.id} ({run.playbook}): resuming, {why}")
        else:
            self.say(f"run {run.id} ({run.playbook}): started, {why}")
        try:
            # a run just taken was read under its lease: the driver need not read it again
            report = resume_run(self.session, run.id, lease=token, record=run if token else None)
        except RunBusy:
            return  # another process took it first; it carries the run on
        except Drained:
            self.say(f"run {run.id}: handed back (this worker is stopping)")
            return
        except RedisUnavailable as error:  # not the run's fault: it goes on once Redis is back
            self.say(f"run {run.id}: {error.message}")
            return
        except LeaseLost as error:
            self.say(f"run {run.id}: another process drives it now: {error}")
            return
        except CrewError as error:
            self._gave_up[run.id] = self._version(run)
            self.say(f"run {run.id}: could not resume: {error}")
            return
        except Exception as error:  # a worker outlives any one run's failure
            logger.exception("resuming run %s failed", run.id)
            self._gave_up[run.id] = self._version(run)
            self.say(f"run {run.id}: could not resume: {error}")
            self._fail(run, error)
            return
        detail = ""
        if report.waiting_on:
            detail = ", waiting on " + ", ".join(w.assignee for w in report.waiting_on)
        elif report.reason and report.status is not RunStatus.DONE:
            detail = f": {report.reason}"
        self.say(f"run {run.id}: {report.status}{detail}")

    def _fail(self, run: Run, error: Exception) -> None:
        """An unexpected error (a bug, not the run's inputs or a lost Redis) ends the run
        failed: handed back, it would go round the workers forever."""
        from crew.exceptions import BoardError

        reason = f"crew worker {self.id}: unexpected {type(error).__name__}: {error}"
        try:
            self.board.set_run_status(run.id, RunStatus.FAILED, actor=self.id, reason=reason)
        except BoardError:
            return  # it finished meanwhile
        except Exception:  # Redis gone: the lease runs out, and it is tried again
            return

    def _version(self, run: Run) -> int:
        try:
            return self.board.get_run(run.id).version
        except Exception:
            return run.version

    def _delivered(self, entry: OutboxEntry, sent: Sent, reported: DeliveryReport) -> None:
        whose = f"card {entry.card}: {entry.person}'s webhook"
        if reported == DeliveryReport.NOTIFIED:
            self.say(f"{whose} notified (attempt {entry.attempts})")
        elif reported == DeliveryReport.NOTIFY_FAILED:
            self.say(f"{whose} failed after {entry.attempts} attempts: {sent.error}")
        elif reported == DeliveryReport.RETRY:
            self.say(f"{whose} failed (attempt {entry.attempts}: {sent.error}); tried again later")

    def _enforce_slas(self) -> None:
        from crew.people.sla import enforce_slas

        for card in enforce_slas(
            self.session.project, self.board, deliverer=self.deliverer, limit=100
        ):
            where = f"{card.kind} {card.step} of run {card.run}"
            if card.overdue is not None:  # a move clears the flag: this one was flagged
                self.say(f"card {card.id} ({where}): overdue, nobody after {card.assignee}")
            else:
                self.say(
                    f"card {card.id} ({where}): not answered in time, now waits on {card.assignee}"
                )
