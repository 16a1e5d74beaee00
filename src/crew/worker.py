"""The worker: the long-running process that keeps a board moving with nobody at a terminal.

`Worker(session).run(interval=...)` does rounds until `stopping` is set. Each round it (a)
enforces SLAs (`crew.people.sla`: overdue cards move along their chain) and attempts the board's due
webhook deliveries in the background (`crew.people.notify.Deliverer`: those queued by any process,
retried with backoff), (b) reaps expired card leases, (c) applies retention, (d) resumes runs
that can go on: waiting runs with an answer recorded on a card they wait on (the answering
process crashed, had no model key, or left it to a worker), and running runs whose driver's
lease ran out (a crashed `crew run`). A resume goes through `crew.engine.runtime.resume_run`, so it
happens under the run lease: workers on many machines never drive one run twice.

What it did is said one line at a time through `say` (the CLI prints them with a time). Setting
`stopping` ends it after the resumes in flight and the webhook attempt in flight; `run(once=True)`
does one round and waits for its resumes and for the attempts of the deliveries that are due.
Imports nothing heavy at module level.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from crew.types import DeliveryReport, RunStatus

if TYPE_CHECKING:
    from crew.board import Run
    from crew.board.outbox import OutboxEntry
    from crew.engine.runtime import Session
    from crew.people.notify import Deliverer, Sent

__all__ = ["RUNS_SCANNED", "Worker"]

logger = logging.getLogger("crew")

# How many of the newest runs a round looks at for resumable ones.
RUNS_SCANNED = 200


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
    ) -> None:
        self.session = session
        self.board = session.board
        self.say = say or (lambda line: None)
        # One deliverer for the rounds and the runs this worker resumes.
        self.deliverer = deliverer or session.deliverer
        self.deliverer.on_report = self._delivered
        self.runs_scanned = runs_scanned
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="crew-resume")
        self._in_flight: dict[str, Future[None]] = {}
        self._gave_up: dict[str, int] = {}  # run id -> run version a resume failed at

    def round(self) -> None:
        """One round of every duty (resumes are started, not waited for)."""
        self._enforce_slas()
        for card_id in self.board.reap():
            self.say(f"card {card_id}: its worker's lease expired; requeued or failed")
        self._enforce_retention()
        self._in_flight = {r: f for r, f in self._in_flight.items() if not f.done()}
        for run in self.resumable():
            if not self.stopping.is_set():
                self._in_flight[run.id] = self._pool.submit(self._resume, run)

    def _enforce_retention(self) -> None:
        from crew.engine.retention import enforce_retention

        retained = enforce_retention(self.board, self.session.project.crew.settings.retention)
        for run_id in retained.abandoned:
            self.say(f"run {run_id}: cancelled as abandoned (settings.retention.abandoned)")

    def run(self, *, interval: float, once: bool = False) -> None:
        """Rounds every `interval` seconds until `stopping` is set (one round with `once`)."""
        import redis

        from crew.exceptions import RedisUnavailable

        try:
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
                self.stopping.wait(interval)
        finally:
            self.drain(deliver=once)

    def drain(self, *, deliver: bool = False) -> None:
        """Wait for the resumes in flight; with `deliver` (`--once`), for the attempts of the
        webhook deliveries that are due (theirs too); then for the attempt in flight, at most
        one POST's timeout: the next process makes any attempt cut short again."""
        self._pool.shutdown(wait=True)
        if deliver:
            self.deliverer.kick()
            self.deliverer.flush()
        self.deliverer.close(self.deliverer.timeout + 1)

    def resumable(self) -> list[Run]:
        """Runs a round should resume: answered but not acted on, or driverless while running."""
        now = self.board.now()
        found = []
        for run in self.board.runs(self.runs_scanned):
            if run.status.finished or run.id in self._in_flight:
                continue
            if self._gave_up.get(run.id) == run.version:
                continue  # it failed at this version; a change (an answer, a resume) retries
            if run.lease_deadline is not None and run.lease_deadline > now:
                continue  # someone drives it right now
            if run.status is RunStatus.WAITING and self._has_answer(run):
                found.append(run)
            elif run.status is RunStatus.RUNNING and (
                run.lease_deadline is not None or now - run.updated > self.session.lease_seconds
            ):
                found.append(run)  # its driver's lease ran out (or it never took one)
        return found

    def _has_answer(self, run: Run) -> bool:
        from crew.exceptions import CardNotFound

        for waiting in run.waiting_on:
            try:
                card = self.board.get(str(waiting.get("card", "")))
            except CardNotFound:
                continue
            if card.decision is not None and not card.status.waits_on_person:
                return True
        return False

    def _resume(self, run: Run) -> None:
        from crew.engine.runtime import RunBusy, resume_run
        from crew.exceptions import CrewError

        why = "an answer was recorded" if run.status is RunStatus.WAITING else "its driver stopped"
        self.say(f"run {run.id} ({run.playbook}): resuming, {why}")
        try:
            report = resume_run(self.session, run.id)
        except RunBusy:
            return  # another process took it first; it carries the run on
        except CrewError as error:
            self._gave_up[run.id] = self._version(run)
            self.say(f"run {run.id}: could not resume: {error}")
            return
        except Exception as error:  # a worker outlives any one run's failure
            logger.exception("resuming run %s failed", run.id)
            self._gave_up[run.id] = self._version(run)
            self.say(f"run {run.id}: could not resume: {error}")
            return
        detail = ""
        if report.waiting_on:
            detail = ", waiting on " + ", ".join(w.assignee for w in report.waiting_on)
        elif report.reason and report.status is not RunStatus.DONE:
            detail = f": {report.reason}"
        self.say(f"run {run.id}: {report.status}{detail}")

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
